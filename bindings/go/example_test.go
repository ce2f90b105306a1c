package mmgen_test

import (
	"errors"
	"fmt"
	"log"

	"mmgen.dev/mmgen"
)

// Loading a model trained by `mmgen train`, generating from a text prompt
// and decoding the result (compiled, not run: it needs a model file).
func Example() {
	m, err := mmgen.LoadModel("m.safetensors")
	if errors.Is(err, mmgen.StatusIO) {
		log.Fatal("no model file: ", err)
	} else if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	tok, err := m.Tokenizer() // the tokenizer stored in the model file
	if err != nil {
		log.Fatal(err)
	}
	defer tok.Close()
	bos, _ := tok.SpecialToken("bos")
	eos, _ := tok.SpecialToken("eos")
	ids, err := tok.Encode([]byte("ROMEO:"))
	if err != nil {
		log.Fatal(err)
	}
	prompt := append([]int32{bos}, ids...)
	out, err := m.Generate(prompt, mmgen.MaxTokens(200), mmgen.Seed(7),
		mmgen.Temperature(0.8), mmgen.TopP(0.95), mmgen.EndToken(eos))
	if err != nil {
		log.Fatal(err)
	}
	if len(out) > 0 && out[len(out)-1] == eos {
		out = out[:len(out)-1]
	}
	text, err := tok.Decode(append(ids, out...))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", text)
}
