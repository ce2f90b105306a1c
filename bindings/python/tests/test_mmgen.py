"""Tests of the mmgen Python package against a build of libmmgen.

Environment: MMGEN_LIB (the library), MMGEN_PLUGIN_PATH (its plugins) and
MMGEN_BIN (the build directory, for the `mmgen` CLI that trains the tiny
model these tests load). tests/check_python_bindings.sh sets all three;
without them the tests look for ../../build.
"""
import ctypes
import math
import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
BIN = pathlib.Path(os.environ.get("MMGEN_BIN") or ROOT / "build")
os.environ.setdefault("MMGEN_LIB", str(BIN / "lib" / "libmmgen.so"))
os.environ.setdefault("MMGEN_PLUGIN_PATH", str(BIN / "plugins"))
os.environ.setdefault("MMGEN_NUM_THREADS", "1")

import mmgen  # noqa: E402  (after the environment it reads)
from mmgen import _lib, _structs  # noqa: E402

CORPUS = (ROOT / "README.md").read_bytes() + (ROOT / "ABI.md").read_bytes()
SAMPLING = dict(temperature=0.8, top_p=0.95, top_k=0)


def cli(*args):
    return subprocess.run([str(BIN / "bin" / "mmgen")] + [str(a) for a in args], check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout.decode()


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    """A tiny model trained here by the CLI (3 steps), carrying its tokenizer."""
    d = tmp_path_factory.mktemp("model")
    (d / "corpus.txt").write_bytes(CORPUS)
    cli("tokenizer", "fit", "--plugin", "text", "--config", '{"vocab_size": 300}', "-o",
        d / "tok.json", d / "corpus.txt")
    cli("train", "-t", d / "tok.json", "-o", d / "m.safetensors", "--steps", 3, "--d-model", 32,
        "--heads", 2, "--layers", 1, "--seq-len", 32, "--batch", 4, "--val-fraction", 0,
        d / "corpus.txt")
    return d / "m.safetensors"


@pytest.fixture()
def text_tokenizer():
    with mmgen.Tokenizer.create("text", {"vocab_size": 280}) as tok:
        tok.fit([CORPUS[:20000], "héllo wörld, ünïcode ✓"])
        yield tok


# ---- (1) generation gives exactly the CLI's tokens ---------------------------

@pytest.mark.parametrize("seed", [5, 1234])
def test_generate_matches_cli(model_path, seed):
    prompt = [1, 2, 3, 40]
    printed = cli("generate", "-m", model_path, "--prompt-ids", " ".join(map(str, prompt)), "--ids",
                  "--seed", seed, "-n", 20, "--no-constraint", "-T", 0.8, "--top-p", 0.95)
    expected = [int(t) for t in printed.split()]
    with mmgen.Model.load(model_path) as m:
        ids = m.generate(prompt, max_tokens=20, seed=seed, end_token="eos", **SAMPLING)
        streamed = list(m.stream(prompt, max_tokens=20, seed=seed, end_token="eos", **SAMPLING))
        eos = m.tokenizer.special_token("eos")
    assert ids == streamed
    # the CLI prints the prompt and the new tokens, without a final end token
    assert prompt + [t for t in ids if t != eos] == expected
    assert len(ids) >= 1


def test_model_config_and_tokenizer(model_path):
    with mmgen.Model.load(model_path) as m:
        c = m.config
        assert (c["vocab_size"], c["d_model"], c["n_heads"], c["n_decoder_layers"]) == (300, 32, 2, 1)
        assert m.n_params > 0
        tok = m.tokenizer
        assert tok is m.tokenizer  # one instance per model
        assert tok.plugin_name == "text" and tok.vocab_size == 300
        assert m.source_tokenizer is None
        assert tok.decode(tok.encode(b"The ABI")) == b"The ABI"
        assert m.context_length == 32
    assert tok.closed and m.closed


def test_stream_stops_early_and_callbacks(model_path):
    with mmgen.Model.load(model_path) as m:
        full = m.generate([1, 2], max_tokens=12, seed=3, **SAMPLING)
        got = []
        for t in m.stream([1, 2], max_tokens=12, seed=3, **SAMPLING):
            got.append(t)
            if len(got) == 4:
                break
        assert got == full[:4]
        # the context is free again after an abandoned stream
        assert m.generate([1, 2], max_tokens=12, seed=3, **SAMPLING) == full
        seen = []
        part = m.generate([1, 2], max_tokens=12, seed=3, on_token=lambda i, t: seen.append(t) or i == 2,
                          **SAMPLING)
        assert part == seen == full[:3]

        def boom(i, t):
            raise KeyError("from the callback")
        with pytest.raises(KeyError):
            m.generate([1, 2], max_tokens=5, seed=3, on_token=boom)


def test_close_exactly_once(model_path):
    m = mmgen.Model.load(model_path)
    m.generate([1], max_tokens=2, seed=0)
    m.close()
    m.close()
    with pytest.raises(mmgen.MmgenError) as e:
        m.generate([1], max_tokens=2)
    assert e.value.status == mmgen.MMG_ERR_STATE


# ---- (2) tokenizer round trips -------------------------------------------------

def test_tokenizer_round_trip(text_tokenizer):
    tok = text_tokenizer
    for doc in [b"", b"The ABI is a contract.", "héllo wörld ✓".encode(), bytes(range(256))]:
        ids = tok.encode(doc)
        assert all(0 <= i < tok.vocab_size for i in ids)
        assert tok.decode(ids) == doc
    assert tok.encode("text as str") == tok.encode(b"text as str")
    assert tok.config == {"vocab_size": 280}


def test_tokenizer_json_and_state(text_tokenizer):
    doc = CORPUS[:3000]
    ids = text_tokenizer.encode(doc)
    with mmgen.Tokenizer.from_json(text_tokenizer.to_json()) as again:
        assert again.encode(doc) == ids
        assert again.vocab_size == text_tokenizer.vocab_size
        assert again.special_token("eos") == text_tokenizer.special_token("eos")
    with mmgen.Plugin.open("text") as p:
        assert p.name == "text" and p.modality == "text"
        with p.tokenizer({"vocab_size": 280}) as fresh:
            fresh.load_state(text_tokenizer.save_state())
            assert fresh.encode(doc) == ids
    assert text_tokenizer.special_token("no-such-token") is None
    assert isinstance(text_tokenizer.describe_token(ids[0]), str)


# ---- (3) errors ----------------------------------------------------------------

def test_missing_model_file(tmp_path):
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(mmgen.MmgenError) as e:
        mmgen.Model.load(missing)
    assert e.value.status == mmgen.MMG_ERR_IO
    assert e.value.status_name == "MMG_ERR_IO"
    assert str(missing) in str(e.value) and "MMG_ERR_IO" in str(e.value)
    assert e.value.message  # mmg_last_error's text


def test_decode_bad_id(text_tokenizer):
    bad = text_tokenizer.vocab_size
    with pytest.raises(mmgen.MmgenError) as e:
        text_tokenizer.decode([1, bad])
    assert e.value.status == mmgen.MMG_ERR_RANGE and e.value.status_name == "MMG_ERR_RANGE"
    assert str(bad) in e.value.message
    with pytest.raises(mmgen.MmgenError) as e:
        text_tokenizer.decode([1 << 40])
    assert e.value.status == mmgen.MMG_ERR_RANGE


def test_missing_plugin_and_bad_config():
    with pytest.raises(mmgen.MmgenError) as e:
        mmgen.Plugin.open("no-such-plugin")
    assert e.value.status == mmgen.MMG_ERR_NOT_FOUND
    with pytest.raises(mmgen.MmgenError):
        mmgen.Tokenizer.create("text", {"vocab_size": "big"})
    with pytest.raises(mmgen.MmgenError) as e:
        mmgen.Tokenizer.from_json("{}")
    assert e.value.status == mmgen.MMG_ERR_FORMAT


# ---- (4) the ABI check ---------------------------------------------------------

def test_abi_check_refuses_incompatible_versions():
    lib = mmgen.library()
    _lib.check_abi(lib, 1, 0)
    _lib.check_abi(lib)  # what this package needs
    for major, minor in [(2, 0), (0, 9), (1, 999)]:
        with pytest.raises(mmgen.MmgenError) as e:
            _lib.check_abi(lib, major=major, minor=minor)
        assert e.value.status == mmgen.MMG_ERR_ABI
        assert "cannot serve this binding (ABI %d.%d)" % (major, minor) in str(e.value)


def test_library_not_found(tmp_path):
    with pytest.raises(mmgen.MmgenError) as e:
        _lib.open_library(tmp_path / "libmissing.so")
    assert "MMGEN_LIB" in str(e.value)


def test_struct_layouts_match_the_headers(tmp_path):
    """Every mirrored struct has the C compiler's size and field offsets."""
    cc = shutil.which(os.environ.get("CC", "cc"))
    if not cc or not (ROOT / "include" / "mmgen").is_dir():
        pytest.skip("no C compiler or no headers")
    lines = ["#include <stdio.h>", "#include <stddef.h>"]
    lines += sorted({"#include <%s>" % h for _, h in _structs.MIRRORS.values()})
    lines.append("int main(void) {")
    expected = []
    for cname, (mirror, _) in _structs.MIRRORS.items():
        lines.append('printf("%%zu\\n", sizeof(%s));' % cname)
        expected.append(ctypes.sizeof(mirror))
        for field, _ in mirror._fields_:
            lines.append('printf("%%zu\\n", offsetof(%s, %s));' % (cname, field))
            expected.append(getattr(mirror, field).offset)
    lines.append("return 0; }")
    (tmp_path / "layout.c").write_text("\n".join(lines))
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    subprocess.run([cc, "-I", str(ROOT / "include"), "-o", str(tmp_path / "layout"),
                    str(tmp_path / "layout.c")], check=True, env=env)
    out = subprocess.run([str(tmp_path / "layout")], check=True, stdout=subprocess.PIPE, env=env)
    assert [int(x) for x in out.stdout.split()] == expected


# ---- training ------------------------------------------------------------------

def test_trainer_steps(text_tokenizer):
    tokens = text_tokenizer.encode(CORPUS[:4000])
    config = {"vocab_size": text_tokenizer.vocab_size, "d_model": 16, "n_heads": 2,
              "n_encoder_layers": 0, "n_decoder_layers": 1, "d_ff": 32, "max_seq_len": 16}
    with mmgen.Model.create(config, seed=1) as m:
        tr = mmgen.Trainer(m, tokens, batch_size=2, seq_len=16, learning_rate=1e-2)
        losses = [tr.step() for _ in range(3)]
        assert all(math.isfinite(x) and x > 0 for x in losses)
        assert tr.steps_done == 3
        with pytest.raises(TypeError):
            mmgen.Trainer(m, tokens, no_such_option=1)
    assert tr.closed  # closed with its model
