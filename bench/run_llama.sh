#!/bin/sh
# bench/run_llama.sh - mmgen's inference beside llama.cpp's on the same model,
# in one run on this machine with the same thread counts.
#
#   sh bench/run_llama.sh [BUILD_DIR] [LLAMA_CPP]
#
# LLAMA_CPP (or $LLAMA_CPP_SRC) is llama.cpp's source: a bare git directory
# (such as a mirror from `git clone --mirror https://github.com/ggml-org/llama.cpp`)
# or a checkout. From a git directory the pinned tag b4748 (or its commit,
# c392e50, when the tag is absent) is built when the repository has it, else
# its HEAD; the commit is recorded either way. The
# build goes to $LLAMA_BUILD_DIR (default build-llama/ in the repository, which
# git ignores): llama-bench and libllama only, static, -DGGML_NATIVE=ON, plus
# bench_llama_logits.c compiled against libllama. A finished build is reused.
# Without llama.cpp's source the script says how to get it and exits 0
# ("skipped").
#
# The model: GPT-2-small's shape (vocab 50257, d 768, 12 layers, 12 heads,
# ctx 1024; pre-LN, gelu_tanh, learned positions, tied output) with random
# weights from a seed (`bench_llama create`), carrying GPT-2's tokenizer when
# ../shared/data/gpt2 has its files. `mmgen convert` writes it as GGUF F32
# and F16 (kept in $LLAMA_BUILD_DIR/work). Then, per thread count in $THREADS
# (default "1 2"), in ROUNDS (default 3) alternating rounds:
#   llama-bench -m F32.gguf,F16.gguf,Q8_0.gguf,Q4_0.gguf -p 128 -n 64 -t T -r 1
#   bench_llama speed: mmgen's 128-token prompt and 64 decoded tokens,
#   measured as llama-bench does (bench_llama.c), on the safetensors model
#   on the F16 GGUF file read back (an F16 model: `mmgen convert` keeps the
#   halves) and on its Q8_0 and Q4_0 forms (`mmgen quantize --type q8_0|q4_0
#   --embedding`, the token embedding quantized too, as llama.cpp's files have it; the
#   quantized GGUF files come from llama-quantize on the F32 GGUF, Q4_0 with
#   --pure so that every matrix is Q4_0 there too, the output projection
#   included). bench/same_weights.py checks that both quantizers wrote the
#   same blocks, byte for byte.
# Every number is the median of the rounds (llama-bench's samples_ts).
# llama.cpp runs with its defaults (F16 KV cache, its own thread pool), mmgen
# with its own (F32 KV cache). The logits check decodes a fixed prompt of 24
# token ids with both on the same GGUF file (mmgen reads it back through
# `mmgen convert`): max |difference| and argmax agreement, every type; and
# llama.cpp on the Q8_0 / Q4_0 GGUF files `mmgen convert` writes from mmgen's
# quantized models vs mmgen on those models.
# Prints the table and appends JSON lines to bench/results/llama.jsonl
# (or $RESULTS).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${1:-$root/build}
llsrc=${2:-${LLAMA_CPP_SRC:-}}
llb=${LLAMA_BUILD_DIR:-$root/build-llama}
threads=${THREADS:-"1 2"}
rounds=${ROUNDS:-3}
pin=b4748
pin_commit=c392e5094deaf2d1a7c18683214f007fad3fe42b # the commit tag b4748 names
data=${MMGEN_DATA:-$root/../shared/data}

# ---- llama.cpp ---------------------------------------------------------------
build_llama() {
  if [ -x "$llb/build/bin/llama-bench" ] && [ -x "$llb/build/bin/llama-quantize" ] && [ -f "$llb/build/src/libllama.a" ]; then
    return 0
  fi
  if [ -z "$llsrc" ]; then
    cat <<EOF
skipped: llama.cpp's source was not given and no build is in $llb.
Get it, e.g.
  git clone --mirror https://github.com/ggml-org/llama.cpp llama.cpp.git
and run
  sh bench/run_llama.sh ${1:-BUILD_DIR} llama.cpp.git     # or LLAMA_CPP_SRC=llama.cpp.git
(a checkout works too; tag $pin is built when the repository has it).
EOF
    exit 0
  fi
  gitdir= srcdir=
  if [ ! -f "$llsrc/CMakeLists.txt" ] && git --git-dir="$llsrc" rev-parse -q --verify HEAD > /dev/null 2>&1; then
    rev=HEAD
    # the tag, or its commit (a snapshot without tags may still hold it)
    git --git-dir="$llsrc" rev-parse -q --verify "$pin_commit^{commit}" > /dev/null && rev=$pin_commit
    git --git-dir="$llsrc" rev-parse -q --verify "refs/tags/$pin" > /dev/null && rev=$pin
    echo "llama.cpp: extracting $rev of $llsrc into $llb/src" >&2
    mkdir -p "$llb"
    rm -rf "$llb/src"
    mkdir -p "$llb/src"
    # the model and media folders are large files the build does not need (a
    # partial mirror may lack them: git then warns but succeeds)
    git --git-dir="$llsrc" archive -o "$llb/src.tar" "$rev" -- . ':(exclude)models' ':(exclude)media' \
      2> "$llb/archive.log" || { cat "$llb/archive.log"; exit 1; }
    tar -xf "$llb/src.tar" -C "$llb/src"
    rm -f "$llb/src.tar"
    gitdir=$(cd "$llsrc" && pwd) srcdir=$llb/src
  elif [ -f "$llsrc/CMakeLists.txt" ] && [ -f "$llsrc/include/llama.h" ]; then
    rev=HEAD srcdir=$(cd "$llsrc" && pwd)
    mkdir -p "$llb"
    gitdir=$(git -C "$srcdir" rev-parse --absolute-git-dir 2>/dev/null || true)
  else
    echo "skipped: $llsrc is neither a llama.cpp checkout nor a git directory holding it"
    exit 0
  fi
  commit=unknown count=0
  if [ -n "$gitdir" ]; then
    commit=$(git --git-dir="$gitdir" rev-parse "$rev^{commit}")
    count=$(git --git-dir="$gitdir" rev-list --count "$rev")
  fi
  echo "$commit $count $rev" > "$llb/VERSION"
  echo "llama.cpp: building $rev ($commit, build $count) in $llb/build" >&2
  # GIT_DIR lets llama.cpp's build-info name the commit of an extracted tree
  env ${gitdir:+GIT_DIR="$gitdir"} cmake -S "$srcdir" -B "$llb/build" -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_SERVER=OFF > "$llb/configure.log"
  env ${gitdir:+GIT_DIR="$gitdir"} cmake --build "$llb/build" -j"$(nproc)" --target llama-bench llama-quantize llama \
    > "$llb/build.log" || { tail -20 "$llb/build.log"; exit 1; }
  echo "$srcdir" > "$llb/SOURCE"
}
build_llama "$bin"
llsrcdir=$(cat "$llb/SOURCE" 2>/dev/null || echo "$llb/src")
logits_exe=$llb/bin/llama-logits
if [ ! -x "$logits_exe" ] || [ "$here/bench_llama_logits.c" -nt "$logits_exe" ]; then
  mkdir -p "$llb/bin"
  a=$llb/build
  g++ -x c -O2 -DMMGEN_WITH_LLAMA -I"$llsrcdir/include" -I"$llsrcdir/ggml/include" "$here/bench_llama_logits.c" -x none \
    "$a/src/libllama.a" "$a/ggml/src/libggml.a" "$a/ggml/src/libggml-cpu.a" "$a/ggml/src/libggml-base.a" \
    -fopenmp -lpthread -lm -o "$logits_exe"
fi
version=$(cat "$llb/VERSION" 2>/dev/null || echo "unknown 0 unknown")

# ---- mmgen -------------------------------------------------------------------
cmake --build "$bin" -j2 --target mmgen_cli bench_llama > "$llb/mmgen-build.log" 2>&1 ||
  { tail -20 "$llb/mmgen-build.log"; exit 1; }
mmgen=$bin/bin/mmgen exe=$bin/bin/bench_llama
work=$llb/work
mkdir -p "$work" "$root/bench/results"
out=${RESULTS:-$root/bench/results/llama.jsonl}

model=$work/gpt2-small-seed1.safetensors
if [ ! -f "$model" ]; then
  tok=
  if [ -f "$data/gpt2/encoder.json" ] && [ -f "$data/gpt2/vocab.bpe" ]; then
    "$mmgen" tokenizer new --plugin text -o "$work/gpt2-tokenizer.json" \
      --config "{\"vocab\": \"gpt2\", \"encoder_json\": \"$data/gpt2/encoder.json\", \"vocab_bpe\": \"$data/gpt2/vocab.bpe\"}" > /dev/null
    tok="--tokenizer $work/gpt2-tokenizer.json"
  fi
  "$exe" create -o "$model" --seed 1 $tok
fi
for ty in f32 f16; do
  t0=$(date +%s.%N)
  "$mmgen" convert "$model" "$work/gpt2-$ty.gguf" --type "$ty" > "$work/convert-$ty.log"
  t1=$(date +%s.%N)
  echo "mmgen convert --type $ty: $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s: $(cat "$work/convert-$ty.log")" >&2
  # mmgen reads the GGUF file back, so both sides compute with its weights
  "$mmgen" convert "$work/gpt2-$ty.gguf" "$work/gpt2-$ty.back.safetensors" > /dev/null
done
identical=false
cmp -s "$model" "$work/gpt2-f32.back.safetensors" && identical=true
# Q8_0 on both sides from the same F32 weights: llama.cpp's quantizer on its
# GGUF file, mmgen's (the same blocks, ABI.md "Quantized weights") on its own
[ -f "$work/gpt2-q8_0.gguf" ] ||
  "$llb/build/bin/llama-quantize" "$work/gpt2-f32.gguf" "$work/gpt2-q8_0.gguf" q8_0 > "$work/quantize.log" 2>&1 ||
  { tail -5 "$work/quantize.log"; exit 1; }
# (--embedding: the token embedding quantized too, as llama-quantize does)
[ -f "$work/gpt2-q8_0-emb.safetensors" ] ||
  "$mmgen" quantize "$model" "$work/gpt2-q8_0-emb.safetensors" --embedding > /dev/null
[ -f "$work/gpt2-q4_0.gguf" ] ||
  "$llb/build/bin/llama-quantize" --pure "$work/gpt2-f32.gguf" "$work/gpt2-q4_0.gguf" q4_0 > "$work/quantize-q4.log" 2>&1 ||
  { tail -5 "$work/quantize-q4.log"; exit 1; }
[ -f "$work/gpt2-q4_0-emb.safetensors" ] ||
  "$mmgen" quantize "$model" "$work/gpt2-q4_0-emb.safetensors" --type q4_0 --embedding > /dev/null

# ---- logits on the same file ---------------------------------------------------
# "The quick brown fox jumps over the lazy dog. It was a bright cold day in April,
# and the clocks were striking" in GPT-2's ids
ids=464,2068,7586,21831,18045,625,262,16931,3290,13,632,373,257,6016,4692,1110,287,3035,11,290,262,29906,547,8871
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp".*' EXIT
for ty in q8_0 q4_0; do # read back as they are (mmgen convert keeps the blocks)
  "$mmgen" convert "$work/gpt2-$ty.gguf" "$work/gpt2-$ty.back.safetensors" > /dev/null
done
for ty in f32 f16 q8_0 q4_0; do
  "$exe" logits --model "$work/gpt2-$ty.back.safetensors" --ids "$ids" -o "$tmp.mm.$ty"
  "$logits_exe" "$work/gpt2-$ty.gguf" "$ids" "$tmp.ll.$ty" 2 > /dev/null
  printf '{"check": "logits", "type": "%s", ' "$ty" >> "$tmp"
  "$exe" compare "$tmp.mm.$ty" "$tmp.ll.$ty" --vocab 50257 | sed 's/^{//' >> "$tmp"
done

# quantized GGUF files written by mmgen (its blocks as they are): llama.cpp on
# them vs mmgen on the model files they came from
for ty in q8_0 q4_0; do
  "$mmgen" convert "$work/gpt2-$ty-emb.safetensors" "$work/gpt2-$ty.mmgen.gguf" > /dev/null
  "$exe" logits --model "$work/gpt2-$ty-emb.safetensors" --ids "$ids" -o "$tmp.mm.$ty.w"
  "$logits_exe" "$work/gpt2-$ty.mmgen.gguf" "$ids" "$tmp.ll.$ty.w" 2 > /dev/null
  printf '{"check": "logits", "type": "%s, GGUF written by mmgen convert", ' "$ty" >> "$tmp"
  "$exe" compare "$tmp.mm.$ty.w" "$tmp.ll.$ty.w" --vocab 50257 | sed 's/^{//' >> "$tmp"
done

# the same blocks from both quantizers?
for ty in q8_0 q4_0; do
  /usr/bin/python3 "$here/same_weights.py" "$work/gpt2-$ty-emb.safetensors" "$work/gpt2-$ty.back.safetensors" "$ty" >> "$tmp"
done

# ---- speed ------------------------------------------------------------------------
# Rounds alternate llama.cpp and mmgen (each round its own process: load,
# warm-up, one timed run of each test), so a burst of load from elsewhere on
# a shared machine hits both; ROUNDS rounds give each side ROUNDS samples, as
# llama-bench -r ROUNDS would.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for t in $threads; do
  r=0
  while [ "$r" -lt "$rounds" ]; do
    "$llb/build/bin/llama-bench" -m "$work/gpt2-f32.gguf,$work/gpt2-f16.gguf,$work/gpt2-q8_0.gguf,$work/gpt2-q4_0.gguf" -p 128 -n 64 \
      -t "$t" -r 1 -o jsonl 2> /dev/null | sed 's/^{/{"impl": "llama.cpp", /' >> "$tmp"
    "$exe" speed --model "$model" --threads "$t" --prefill 128 --decode 64 --rounds 1 |
      sed 's/^{/{"weights": "F32", /' >> "$tmp"
    "$exe" speed --model "$work/gpt2-q8_0-emb.safetensors" --threads "$t" --prefill 128 --decode 64 --rounds 1 |
      sed 's/^{/{"weights": "Q8_0", /' >> "$tmp"
    "$exe" speed --model "$work/gpt2-q4_0-emb.safetensors" --threads "$t" --prefill 128 --decode 64 --rounds 1 |
      sed 's/^{/{"weights": "Q4_0", /' >> "$tmp"
    "$exe" speed --model "$work/gpt2-f16.back.safetensors" --threads "$t" --prefill 128 --decode 64 --rounds 1 |
      sed 's/^{/{"weights": "F16", /' >> "$tmp"
    r=$((r + 1))
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

/usr/bin/python3 - "$tmp" "$out" "$version" "$load_before" "$load_after" "$identical" "$rounds" <<'EOF'
import json, os, statistics, sys, time
raw = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
commit, count, rev = sys.argv[3].split()
load_before, load_after, identical, rounds = sys.argv[4], sys.argv[5], sys.argv[6] == "true", int(sys.argv[7])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
cores = sorted({r["openblas_core"] for r in raw if r.get("impl") == "mmgen" and "openblas_core" in r})
env_core = os.environ.get("OPENBLAS_CORETYPE")
print(f"\n{time.strftime('%Y-%m-%d %H:%M')}, {cpu}, {os.cpu_count()} cores; load average {load_before} before, "
      f"{load_after} after; llama.cpp {rev} ({commit[:10]}, build {count}); medians of {rounds} rounds, tokens/s; "
      f"mmgen's prompts on OpenBLAS's {'/'.join(cores) or '?'} kernels "
      f"({'OPENBLAS_CORETYPE=' + env_core if env_core else 'its own choice: OPENBLAS_CORETYPE unset'})\n")
samples = {}  # (threads, test, who) -> tokens/s of every round
def add(key, values):
    samples.setdefault(key, []).extend(values)
for r in raw:
    if r.get("impl") == "llama.cpp":
        base = os.path.basename(r["model_filename"])
        ty = "F16" if "f16" in base else "Q8_0" if "q8_0" in base else "Q4_0" if "q4_0" in base else "F32"
        test = f"pp{r['n_prompt']}" if r["n_prompt"] else f"tg{r['n_gen']}"
        add((r["n_threads"], test, "llama.cpp " + ty), r["samples_ts"])
    elif r.get("impl") == "mmgen":
        who = "mmgen " + r.get("weights", "F32")
        add((r["threads"], f"pp{r['n_prompt']}", who), r["pp_samples_ts"])
        add((r["threads"], f"tg{r['n_gen']}", who), r["tg_samples_ts"])
speeds = {k: statistics.median(v) for k, v in samples.items()}
hdr = (f"{'threads':>7} | {'test':6} | {'llama.cpp F32':>13} | {'F16':>8} | {'Q8_0':>8} | {'Q4_0':>8} | "
       f"{'mmgen F32':>9} | {'F16':>8} | {'Q8_0':>8} | {'Q4_0':>8} | {'mmgen/llama F32':>15} | {'F16':>6} | "
       f"{'Q8_0':>6} | {'Q4_0':>6}")
print(hdr)
print("-" * len(hdr))
rows = []
for t, test in sorted({(k[0], k[1]) for k in speeds}, key=lambda x: (x[0], x[1][:2] != "pp")):
    l32, l16, l8, l4, mm, mm16, mm8, mm4 = (speeds.get((t, test, w)) for w in
                                            ("llama.cpp F32", "llama.cpp F16", "llama.cpp Q8_0", "llama.cpp Q4_0",
                                             "mmgen F32", "mmgen F16", "mmgen Q8_0", "mmgen Q4_0"))
    ratio = mm / l32 if mm and l32 else None
    ratio16 = mm16 / l16 if mm16 and l16 else None
    ratio8 = mm8 / l8 if mm8 and l8 else None
    ratio4 = mm4 / l4 if mm4 and l4 else None
    f = lambda x, w: f"{x:{w}.1f}" if x else f"{'-':>{w}}"
    g = lambda x, w: f"{f'{x:.2f}x' if x else '-':>{w}}"
    print(f"{t:>7} | {test:6} | {f(l32, 13)} | {f(l16, 8)} | {f(l8, 8)} | {f(l4, 8)} | {f(mm, 9)} | {f(mm16, 8)} | "
          f"{f(mm8, 8)} | {f(mm4, 8)} | {g(ratio, 15)} | {g(ratio16, 6)} | {g(ratio8, 6)} | {g(ratio4, 6)}")
    rows.append(dict(bench="llama", threads=t, test=test, llama_f32_tok_s=l32, llama_f16_tok_s=l16,
                     llama_q8_0_tok_s=l8, llama_q4_0_tok_s=l4, mmgen_f32_tok_s=mm, mmgen_f16_tok_s=mm16,
                     mmgen_q8_0_tok_s=mm8, mmgen_q4_0_tok_s=mm4, ratio_mmgen_llama_f32=ratio,
                     ratio_mmgen_llama_f16=ratio16, ratio_mmgen_llama_q8_0=ratio8, ratio_mmgen_llama_q4_0=ratio4,
                     samples={w: samples.get((t, test, w)) for w in
                              ("llama.cpp F32", "llama.cpp F16", "llama.cpp Q8_0", "llama.cpp Q4_0", "mmgen F32",
                               "mmgen F16", "mmgen Q8_0", "mmgen Q4_0")}))
print("\nlogits, 24-token prompt, all positions (mmgen on the GGUF file read back by `mmgen convert` vs llama.cpp, "
      "F32 KV cache):")
for r in raw:
    if r.get("check") == "logits":
        print(f"  {r['type']}: max |diff| {r['max_abs_diff']:.3g} (rms {r['rms_diff']:.3g}; largest |logit| "
              f"{r['max_abs_logit']:.3g}), argmax agrees at {r['argmax_agree']}/{r['positions']} positions")
        rows.append(dict(bench="llama", **r))
print(f"  safetensors -> GGUF F32 -> safetensors identical: {'yes' if identical else 'NO'}")
for r in raw:
    if r.get("check") == "blocks":
        print(f"  {r['type']} blocks, mmgen quantize vs llama-quantize (read back by mmgen convert): "
              f"{r['tensors_identical']} of {r['tensors']} matrices byte-identical ({r['blocks_differing']} of "
              f"{r['blocks']} blocks differ; {r['tensors_not_kept']} not kept quantized)")
        rows.append(dict(bench="llama", **r))
with open(sys.argv[2], "a") as f:
    for r in rows + [dict(bench="llama", raw=x) for x in raw if "check" not in x]:
        r.update(time=stamp, loadavg_before=load_before, loadavg_after=load_after, cores=os.cpu_count(), cpu=cpu,
                 llama_cpp_commit=commit, llama_cpp_build=count, llama_cpp_rev=rev, rounds=rounds)
        f.write(json.dumps(r) + "\n")
if float(load_before.split()[0]) > 0.5 * os.cpu_count():
    print(f"\nnote: the load average was {load_before.split()[0]} on {os.cpu_count()} cores: other work shared the "
          "cores, which hurts most the runs that use all of them (both programs spin-wait in OpenMP)")
print(f"\nappended {len(rows) + sum('check' not in x for x in raw)} JSON lines to {sys.argv[2]}")
EOF
