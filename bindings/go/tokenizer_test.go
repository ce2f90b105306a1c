package mmgen

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
)

func TestTokenizerRoundTrip(t *testing.T) {
	tok := fittedTokenizer(t)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, doc := range [][]byte{{}, []byte("The ABI is a contract."), []byte("héllo wörld ✓"), all, corpus[:5000]} {
		ids, err := tok.Encode(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if id < 0 || int(id) >= tok.VocabSize() {
				t.Fatalf("id %d outside [0, %d)", id, tok.VocabSize())
			}
		}
		back, err := tok.Decode(ids)
		if err != nil || !bytes.Equal(back, doc) {
			t.Fatalf("%q came back as %q (%v)", doc, back, err)
		}
	}
	if tok.VocabSize() != 280 || tok.Config() != `{"vocab_size": 280}` {
		t.Fatal(tok.VocabSize(), tok.Config())
	}
	if !tok.HasExtension("mmgen.stream_decode/1") || tok.HasExtension("no.such/1") {
		t.Fatal("HasExtension")
	}
}

func TestTokenizerStateAndJSON(t *testing.T) {
	tok := fittedTokenizer(t)
	doc := corpus[:3000]
	ids, err := tok.Encode(doc)
	if err != nil {
		t.Fatal(err)
	}
	js, err := tok.ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	again, err := TokenizerFromJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got, err := again.Encode(doc); err != nil || !reflect.DeepEqual(got, ids) {
		t.Fatal("the restored tokenizer encodes differently", err)
	}
	state, err := tok.SaveState()
	if err != nil || len(state) == 0 {
		t.Fatal(len(state), err)
	}
	fresh, err := NewTokenizer("text", `{"vocab_size": 280}`)
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if err := fresh.LoadState(state); err != nil {
		t.Fatal(err)
	}
	if got, err := fresh.Encode(doc); err != nil || !reflect.DeepEqual(got, ids) {
		t.Fatal("the state did not carry over", err)
	}
	eos, err := tok.SpecialToken("eos")
	if err != nil {
		t.Fatal(err)
	}
	if e2, _ := fresh.SpecialToken("eos"); e2 != eos {
		t.Fatal(eos, e2)
	}
	_, err = tok.SpecialToken("no-such-token")
	wantError(t, err, StatusNotFound)
	if d, err := tok.DescribeToken(ids[0]); err != nil || d == "" {
		t.Fatal(d, err)
	}
	err = fresh.LoadState([]byte("not a state"))
	wantError(t, err, StatusFormat)
}

func TestDecodeOutOfRange(t *testing.T) {
	tok := fittedTokenizer(t)
	bad := int32(tok.VocabSize())
	_, err := tok.Decode([]int32{1, bad})
	wantError(t, err, StatusRange, fmt.Sprint(bad))
	_, err = tok.Decode([]int32{-1})
	wantError(t, err, StatusRange)
	_, err = tok.DescribeToken(bad)
	wantError(t, err, StatusRange)
}

func TestTokenizerErrors(t *testing.T) {
	_, err := NewTokenizer("no-such-plugin", "")
	wantError(t, err, StatusNotFound, "no-such-plugin")
	_, err = NewTokenizer("text", `{"vocab_size": "big"}`)
	if err == nil {
		t.Fatal("a bad config was accepted")
	}
	_, err = TokenizerFromJSON("{}")
	wantError(t, err, StatusFormat)
	tok, err := NewTokenizer("text", "")
	if err != nil {
		t.Fatal(err)
	}
	tok.Close()
	tok.Close()
	_, err = tok.Encode([]byte("x"))
	wantError(t, err, StatusState)
}
