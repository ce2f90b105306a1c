"""Tests of the mmgen Python package against a build of libmmgen.

Environment: MMGEN_LIB (the library), MMGEN_PLUGIN_PATH (its plugins) and
MMGEN_BIN (the build directory, for the `mmgen` CLI that trains the tiny
model these tests load). tests/check_python_bindings.sh sets all three;
without them the tests look for ../../build.
"""
import array
import ctypes
import math
import os
import pathlib
import shutil
import subprocess
import sys

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
    """Every mirrored struct has the C compiler's field offsets, and is the
    C struct or a prefix of it (the header may have appended fields this
    package does not use: the mirror then stays at the older size, so older
    libraries still pass the load-time check)."""
    cc = shutil.which(os.environ.get("CC", "cc"))
    if not cc or not (ROOT / "include" / "mmgen").is_dir():
        pytest.skip("no C compiler or no headers")
    lines = ["#include <stdio.h>", "#include <stddef.h>"]
    lines += sorted({"#include <%s>" % h for _, h in _structs.MIRRORS.values()})
    lines.append("int main(void) {")
    expected = []
    for cname, (mirror, _) in _structs.MIRRORS.items():
        lines.append('printf("%%d\\n", (int)(sizeof(%s) >= %d));' % (cname, ctypes.sizeof(mirror)))
        expected.append(1)
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


def test_every_mirror_is_a_struct_the_library_describes():
    lib = mmgen.library()
    names = _lib.library_struct_names(lib)
    assert "mmg_context_options" in names and "mmg_param_info" in names
    assert sorted(set(_structs.MIRRORS) - set(names)) == []
    mmgen.check_layouts(lib)  # what loading did


class _MovedField(ctypes.Structure):  # mmg_context_options with n_slots 4 bytes later
    _fields_ = [("struct_size", ctypes.c_size_t),
                ("n_threads", ctypes.c_int32),
                ("padding", ctypes.c_int32),
                ("n_slots", ctypes.c_int32)]


class _TooBig(ctypes.Structure):  # mmg_model_options with a field from the future
    _fields_ = _structs.ModelOptions._fields_ + [("future", ctypes.c_uint64 * 8)]


class _Renamed(ctypes.Structure):  # mmg_sampling_options whose 2nd field has another name
    _fields_ = [("struct_size", ctypes.c_size_t), ("temp", ctypes.c_float)]


@pytest.mark.parametrize("cname,mirror,words", [
    ("mmg_context_options", _MovedField, ["field padding", "offset 12"]),
    ("mmg_sampling_options", _Renamed, ["field temp", "has no such field"]),
    ("mmg_model_options", _TooBig, ["mirror has %d bytes" % ctypes.sizeof(_TooBig)]),
    ("mmg_no_such_struct", _structs.ModelOptions, ["does not know it"]),
])
def test_layout_check_refuses_a_wrong_mirror(cname, mirror, words):
    with pytest.raises(mmgen.MmgenError) as e:
        mmgen.check_layouts(mmgen.library(), {cname: (mirror, "mmgen/mmgen.h")})
    assert e.value.status == mmgen.MMG_ERR_ABI
    assert ("struct %s" % cname) in str(e.value)
    for w in words:
        assert w in str(e.value)


def test_loading_refuses_a_wrong_mirror(monkeypatch):
    class Moved(ctypes.Structure):  # n_slots where the library has max_seq_len
        _fields_ = [("struct_size", ctypes.c_size_t), ("n_threads", ctypes.c_int32),
                    ("unused", ctypes.c_int32), ("n_slots", ctypes.c_int32)]
    monkeypatch.setitem(_structs.MIRRORS, "mmg_context_options", (Moved, "mmgen/context.h"))
    with pytest.raises(mmgen.MmgenError) as e:
        _lib.open_library()
    assert e.value.status == mmgen.MMG_ERR_ABI
    assert "struct mmg_context_options, field unused" in str(e.value)


# ---- parameters (ABI 1.3) ------------------------------------------------------

def _shape_text(shape):
    return "(%s)" % ", ".join(map(str, shape))


def test_parameters_list_and_shapes(model_path):
    with mmgen.Model.load(model_path) as m:
        params = m.parameters()
        assert list(params)[0] == "tok_emb.weight"
        assert params["tok_emb.weight"] == (300, 32)
        assert all(isinstance(s, tuple) and 1 <= len(s) <= 4 for s in params.values())
        assert sum(math.prod(s) for s in params.values()) == m.n_params
        for name, shape in params.items():
            assert len(m.read_param(name)) == math.prod(shape)


def test_read_write_round_trip(model_path):
    with mmgen.Model.load(model_path) as m:
        name = "decoder.layers.0.ff.fc1.weight"
        w = m.read_param(name)
        assert isinstance(w, array.array) and w.typecode == "f"
        assert len(w) == math.prod(m.parameters()[name]) and any(w)
        edited = array.array("f", [x * 0.5 + 0.25 for x in w])
        m.write_param(name, edited)
        assert m.read_param(name) == edited
        m.write_param(name, list(w))  # any sequence of numbers
        assert m.read_param(name) == w
        m.write_param(name, memoryview(edited))
        assert m.read_param(name) == edited
        with pytest.raises(mmgen.MmgenError) as e:
            m.read_param("no.such.weight")
        assert e.value.status == mmgen.MMG_ERR_NOT_FOUND and "no.such.weight" in e.value.message
        with pytest.raises(mmgen.MmgenError) as e:
            m.write_param("no.such.weight", [1.0])
        assert e.value.status == mmgen.MMG_ERR_NOT_FOUND


def test_numpy_stays_optional(model_path, monkeypatch):
    """The package never imports numpy unless numpy=True asks for it, and
    then says that it is missing."""
    code = ("import sys, mmgen\n"
            "m = mmgen.Model.load(sys.argv[1])\n"
            "m.write_param('tok_emb.weight', m.read_param('tok_emb.weight'))\n"
            "m.generate([1], max_tokens=2)\n"
            "assert 'numpy' not in sys.modules, 'numpy was imported'\n")
    env = dict(os.environ, PYTHONPATH=str(pathlib.Path(mmgen.__file__).parents[1]))
    subprocess.run([sys.executable, "-c", code, str(model_path)], check=True, env=env)
    monkeypatch.setitem(sys.modules, "numpy", None)  # as if not installed
    with mmgen.Model.load(model_path) as m:
        with pytest.raises(ImportError, match="numpy"):
            m.read_param("tok_emb.weight", numpy=True)
        assert len(m.read_param("tok_emb.weight")) == 300 * 32


def test_read_write_numpy(model_path):
    """With numpy, numpy=True gives a float32 array of the parameter's shape
    and write_param takes any numpy array."""
    np = pytest.importorskip("numpy")
    with mmgen.Model.load(model_path) as m:
        w = m.read_param("tok_emb.weight", numpy=True)
        assert w.dtype == np.float32 and w.shape == (300, 32)
        assert w.ravel().tolist() == m.read_param("tok_emb.weight").tolist()
        m.write_param("tok_emb.weight", (w * 2).astype(np.float64))  # converted to float32
        assert (m.read_param("tok_emb.weight", numpy=True) == w * 2).all()
        m.write_param("tok_emb.weight", np.asfortranarray(w))  # made contiguous first
        assert (m.read_param("tok_emb.weight", numpy=True) == w).all()


def test_write_wrong_size_is_range_error_naming_the_shape(model_path):
    with mmgen.Model.load(model_path) as m:
        shape = m.parameters()["tok_emb.weight"]
        before = m.read_param("tok_emb.weight")
        for bad in ([1.0, 2.0], before[:-1], before + array.array("f", [0.0]), []):
            with pytest.raises(mmgen.MmgenError) as e:
                m.write_param("tok_emb.weight", bad)
            assert e.value.status == mmgen.MMG_ERR_RANGE
            assert _shape_text(shape) in e.value.message, e.value.message
            assert str(len(bad)) in e.value.message
        assert m.read_param("tok_emb.weight") == before  # unchanged


def test_copying_every_parameter_copies_the_model(model_path):
    prompt = [1, 2, 3, 40]
    with mmgen.Model.load(model_path) as a, mmgen.Model.create(a.config, seed=99) as b:
        assert b.parameters() == a.parameters()
        want = a.generate(prompt, max_tokens=16, seed=4, **SAMPLING)
        assert b.generate(prompt, max_tokens=16, seed=4, **SAMPLING) != want
        for name in a.parameters():
            b.write_param(name, a.read_param(name))
        assert b.generate(prompt, max_tokens=16, seed=4, **SAMPLING) == want
        for name in a.parameters():
            assert b.read_param(name) == a.read_param(name)


def test_load_memory_gives_the_same_tokens(model_path):
    data = model_path.read_bytes()
    with mmgen.Model.load(model_path) as m:
        want = m.generate([1, 2, 3], max_tokens=16, seed=9, end_token="eos", **SAMPLING)
    for form in (data, bytearray(data), memoryview(data)):
        with mmgen.Model.load_memory(form) as m:
            assert m.tokenizer.vocab_size == 300  # the metadata came along
            assert m.generate([1, 2, 3], max_tokens=16, seed=9, end_token="eos", **SAMPLING) == want
    with pytest.raises(mmgen.MmgenError) as e:
        mmgen.Model.load_memory(data[:100])
    assert e.value.status == mmgen.MMG_ERR_FORMAT and "<memory>" in e.value.message


def _output_weight(m):
    """The output projection's name: lm_head.weight, or tok_emb.weight when tied."""
    params = m.parameters()
    return "lm_head.weight" if "lm_head.weight" in params else "tok_emb.weight"


def test_check_finite_reports_nan_logits(model_path):
    with mmgen.Model.load(model_path) as m:
        name = _output_weight(m)
        w = m.read_param(name)
        m.write_param(name, array.array("f", [math.nan]) * len(w))
        # The sampler refuses NaN logits either way; check_finite catches
        # them where they are computed and names the token id and position.
        with pytest.raises(mmgen.MmgenError) as e:
            m.generate([1, 2, 3], max_tokens=4, seed=1, check_finite=True)
        assert e.value.status == mmgen.MMG_ERR_NUMERIC
        assert "token id 0 is NaN at position 2" in e.value.message, e.value.message
        m.check_finite = True  # the model's setting, used when generate() leaves it None
        with pytest.raises(mmgen.MmgenError) as e:
            m.generate([1, 2, 3], max_tokens=4, seed=1)
        assert "token id 0 is NaN" in e.value.message
        m.check_finite = False
        with pytest.raises(mmgen.MmgenError) as e:
            m.generate([1, 2, 3], max_tokens=4, seed=1)
        assert e.value.status == mmgen.MMG_ERR_NUMERIC and "token id" not in e.value.message


def test_check_finite_catches_what_sampling_accepts(model_path):
    """A -inf logit samples as "impossible"; check_finite refuses it. The
    final norm is made to output e_0 (weight 0, bias one-hot), so every
    logit is column 0 of the output projection, and token 7's is -inf."""
    with mmgen.Model.load(model_path) as m:
        params, name = m.parameters(), _output_weight(m)
        (c,) = params["decoder.norm.weight"]
        m.write_param("decoder.norm.weight", [0.0] * c)
        m.write_param("decoder.norm.bias", [1.0] + [0.0] * (c - 1))
        w = m.read_param(name)
        w[7 * c] = -math.inf
        m.write_param(name, w)
        ids = m.generate([1, 2, 3], max_tokens=12, seed=1, **SAMPLING)
        assert len(ids) == 12 and 7 not in ids
        with pytest.raises(mmgen.MmgenError) as e:
            m.generate([1, 2, 3], max_tokens=12, seed=1, check_finite=True, **SAMPLING)
        assert e.value.status == mmgen.MMG_ERR_NUMERIC
        assert "token id 7 is infinite at position 2 of slot 0" in e.value.message, e.value.message
        assert m.generate([1, 2, 3], max_tokens=12, seed=1, **SAMPLING) == ids
    with mmgen.Model.load(model_path, check_finite=True) as m:
        assert m.check_finite
        m.generate([1, 2, 3], max_tokens=4, seed=1)  # a healthy model passes the check


# ---- training ------------------------------------------------------------------

def test_trainer_steps(text_tokenizer):
    tokens = text_tokenizer.encode(CORPUS[:4000])
    config = {"vocab_size": text_tokenizer.vocab_size, "d_model": 16, "n_heads": 2,
              "n_encoder_layers": 0, "n_decoder_layers": 1, "d_ff": 32, "max_seq_len": 16}
    with mmgen.Model.create(config, seed=1) as m:
        tr = mmgen.Trainer(m, tokens, batch_size=2, seq_len=16, learning_rate=1e-2)
        assert not any(tr.read_grad("tok_emb.weight"))  # zeros before the first step
        losses = [tr.step() for _ in range(3)]
        assert all(math.isfinite(x) and x > 0 for x in losses)
        assert tr.steps_done == 3
        for name, shape in m.parameters().items():
            g = tr.read_grad(name)
            assert isinstance(g, array.array) and len(g) == math.prod(shape)
            assert all(math.isfinite(x) for x in g)
        g = tr.read_grad("tok_emb.weight")
        assert any(g) and len(g) == math.prod(m.parameters()["tok_emb.weight"])
        with pytest.raises(mmgen.MmgenError) as e:
            tr.read_grad("no.such.weight")
        assert e.value.status == mmgen.MMG_ERR_NOT_FOUND
        with pytest.raises(TypeError):
            mmgen.Trainer(m, tokens, no_such_option=1)
    assert tr.closed  # closed with its model


def test_load_with_weights_matches_the_quantized_file(model_path, tmp_path):
    """Model.load(weights=...) quantizes as `mmgen quantize` does: the same
    tokens and the same dequantized weights as loading the CLI's file."""
    prompt = [1, 2, 3, 40]
    linear = "decoder.layers.0.ff.fc1.weight"
    with mmgen.Model.load(model_path) as f32:
        reference = f32.read_param(linear)
    for ty in ("q8_0", "q4_0", "f16"):
        path = tmp_path / ("m-%s.safetensors" % ty)
        cli("quantize", model_path, path, "--type", ty)
        with mmgen.Model.load(model_path, weights=ty) as a, mmgen.Model.load(path) as b:
            assert a.generate(prompt, max_tokens=12, seed=3, **SAMPLING) == \
                b.generate(prompt, max_tokens=12, seed=3, **SAMPLING)
            assert a.read_param(linear) == b.read_param(linear)
            assert a.read_param(linear) != reference  # rounded: it is not the F32 model
            with pytest.raises(mmgen.MmgenError) as e:
                a.write_param(linear, reference)
            assert e.value.status == mmgen.MMG_ERR_UNSUPPORTED and linear in e.value.message
        with mmgen.Model.load(path, weights="f32") as c:  # dequantized: writable again
            c.write_param(linear, reference)
    with pytest.raises(ValueError, match="'q5_1'"):
        mmgen.Model.load(model_path, weights="q5_1")


def test_weights_as_bytes(model_path):
    """read_param_data gives a quantized model's blocks, which quantize()
    makes from the F32 weights and dequantize() turns back into the floats
    read_param gives (ABI 1.6)."""
    linear = "decoder.layers.0.ff.fc1.weight"
    with mmgen.Model.load(model_path) as f32, mmgen.Model.load(model_path, weights="q4_0") as q4:
        w = f32.read_param(linear)
        fmt, data = q4.read_param_data(linear)
        assert fmt == "q4_0" and len(data) == len(w) // 32 * 18 == mmgen.weights_size("q4_0", len(w))
        assert mmgen.quantize(w, "q4_0") == data
        assert mmgen.dequantize(data, "q4_0", len(w)) == q4.read_param(linear)
        fmt, data = f32.read_param_data("tok_emb.weight")
        assert fmt == "f32" and data == f32.read_param("tok_emb.weight").tobytes()
    halves = mmgen.quantize([1.0, -2.5, 65504.0], "f16")
    assert halves == bytes.fromhex("003c00c1ff7b")
    assert list(mmgen.dequantize(halves, "f16", 3)) == [1.0, -2.5, 65504.0]
    for args, status, text in [(([1.0] * 33, "q8_0"), mmgen.MMG_ERR_INVALID_ARG, "33 elements"),
                               (([math.nan] * 32, "q8_0"), mmgen.MMG_ERR_NUMERIC, "elements 0..31")]:
        with pytest.raises(mmgen.MmgenError) as e:
            mmgen.quantize(*args)
        assert e.value.status == status and text in e.value.message, e.value.message
    with pytest.raises(mmgen.MmgenError) as e:
        mmgen.dequantize(b"abc", "q8_0", 32)
    assert e.value.status == mmgen.MMG_ERR_RANGE
    with pytest.raises(ValueError, match="'q5_1'"):
        mmgen.quantize([1.0] * 32, "q5_1")


def test_quantize_embedding(model_path):
    """Model.load(weights=..., quantize_embedding=True) keeps the token
    embedding in the weights' type too (ABI 1.6): its bytes are the library's
    quantizer's on the F32 table, and the model still generates; an F32
    model ignores the option."""
    prompt = [1, 2, 3, 40]
    with mmgen.Model.load(model_path) as f32:
        table = f32.read_param("tok_emb.weight")
        with mmgen.Model.load(model_path, quantize_embedding=True) as same:
            assert same.read_param_data("tok_emb.weight") == ("f32", table.tobytes())
    for ty in ("q8_0", "q4_0", "f16"):
        with mmgen.Model.load(model_path, weights=ty, quantize_embedding=True) as q, \
                mmgen.Model.load(model_path, weights=ty) as plain:
            assert q.read_param_data("tok_emb.weight") == (ty, mmgen.quantize(table, ty))
            assert plain.read_param_data("tok_emb.weight") == ("f32", table.tobytes())
            assert q.read_param("tok_emb.weight") == mmgen.dequantize(mmgen.quantize(table, ty), ty, len(table))
            out = q.generate(prompt, max_tokens=8, seed=3, **SAMPLING)
            assert len(out) == 8 and all(0 <= t < q.config["vocab_size"] for t in out)
