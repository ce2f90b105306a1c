//! What the integration tests share: the environment, the `mmgen` CLI and
//! a tiny model it trains once per test binary.
//!
//! Environment (tests/check_rust_bindings.sh sets all of it): MMGEN_BIN, the
//! build directory (default: ../../build from this crate), whose bin/mmgen
//! trains the model; MMGEN_PLUGIN_PATH (default: $MMGEN_BIN/plugins);
//! MMGEN_NUM_THREADS (default 1). Files go under cargo's
//! CARGO_TARGET_TMPDIR, never into the source tree.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, Once};

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn bin_dir() -> PathBuf {
    match std::env::var_os("MMGEN_BIN") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => root().join("build"),
    }
}

static SETUP: Once = Once::new();

/// Sets the library's environment before any test calls into it (every
/// test calls this first, so nothing reads the environment meanwhile).
pub fn setup() {
    SETUP.call_once(|| {
        if std::env::var_os("MMGEN_PLUGIN_PATH").is_none() {
            std::env::set_var("MMGEN_PLUGIN_PATH", bin_dir().join("plugins"));
        }
        if std::env::var_os("MMGEN_NUM_THREADS").is_none() {
            std::env::set_var("MMGEN_NUM_THREADS", "1");
        }
    });
}

/// A fresh directory for one test's files.
pub fn tmp_dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("mmgen-{}-{}", name, std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `mmgen ARGS...` and returns its standard output; panics with its
/// standard error when it fails.
pub fn cli(args: &[&str]) -> String {
    setup();
    let exe = bin_dir().join("bin").join("mmgen");
    let out = Command::new(&exe).args(args).output().unwrap_or_else(|e| panic!("cannot run {}: {}", exe.display(), e));
    assert!(
        out.status.success(),
        "mmgen {:?} failed ({}):\n{}",
        args,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The training text: the project's README.md and ABI.md.
pub fn corpus() -> Vec<u8> {
    let mut c = std::fs::read(root().join("README.md")).unwrap();
    c.extend(std::fs::read(root().join("ABI.md")).unwrap());
    c
}

static MODEL: Mutex<Option<PathBuf>> = Mutex::new(None);

/// A tiny model trained by the CLI (3 steps) carrying its text tokenizer,
/// made once per test binary, as bindings/python's fixture does.
pub fn model_path() -> PathBuf {
    setup();
    let mut m = MODEL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = m.as_ref() {
        return p.clone();
    }
    let d = tmp_dir("model");
    let text = d.join("corpus.txt");
    std::fs::write(&text, corpus()).unwrap();
    let (tok, model) = (d.join("tok.json"), d.join("m.safetensors"));
    let s = |p: &Path| p.to_str().unwrap().to_string();
    cli(&["tokenizer", "fit", "--plugin", "text", "--config", r#"{"vocab_size": 300}"#, "-o", &s(&tok), &s(&text)]);
    cli(&[
        "train",
        "-t",
        &s(&tok),
        "-o",
        &s(&model),
        "--steps",
        "3",
        "--d-model",
        "32",
        "--heads",
        "2",
        "--layers",
        "1",
        "--seq-len",
        "32",
        "--batch",
        "4",
        "--val-fraction",
        "0",
        &s(&text),
    ]);
    *m = Some(model.clone());
    model
}
