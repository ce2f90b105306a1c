//! The ABI check: versions, and every #[repr(C)] mirror against the
//! library's layout table (mmgen/layout.h), including a wrong one.
mod common;

use mmgen::layout::{self, Mirror};
use mmgen::{offset_of, Status};

#[test]
fn init_accepts_this_library() {
    common::setup();
    mmgen::init().unwrap();
    assert!(mmgen::version().starts_with("1."), "{}", mmgen::version());
    let (major, minor) = mmgen::abi_version();
    assert_eq!(major, 1);
    assert!(minor >= 3);
}

#[test]
fn abi_check_refuses_incompatible_versions() {
    common::setup();
    mmgen::check_abi(1, 0).unwrap();
    mmgen::check_abi(mmgen::ABI_MAJOR, mmgen::ABI_MINOR).unwrap();
    for (major, minor) in [(2, 0), (0, 9), (1, 999)] {
        let e = mmgen::check_abi(major, minor).unwrap_err();
        assert_eq!(e.status(), Status::ABI);
        assert_eq!(e.status_name(), "MMG_ERR_ABI");
        let want = format!("cannot serve this binding (ABI {}.{})", major, minor);
        assert!(e.to_string().contains(&want), "{}", e);
    }
}

#[test]
fn every_mirror_matches_the_library() {
    common::setup();
    let known = layout::library_struct_names();
    assert!(known.iter().any(|n| n == "mmg_model_config"), "{:?}", known);
    for m in layout::mirrors() {
        assert!(known.iter().any(|n| n == m.name), "{} is not in the library's table {:?}", m.name, known);
        layout::check_mirror(&m).unwrap_or_else(|e| panic!("{}", e));
        assert!(m.fields.len() >= 2);
    }
    layout::check_all().unwrap();
}

// mmg_sampling_options with top_p and top_k swapped: a mirror gone wrong.
#[repr(C)]
#[allow(dead_code)]
struct BadSamplingOptions {
    struct_size: usize,
    temperature: f32,
    top_p: f32,
    top_k: i32,
    min_p: f32,
    repetition_penalty: f32,
    repetition_window: i32,
    seed: u64,
}

// mmg_context_options with a field the library does not have, making it larger.
#[repr(C)]
#[allow(dead_code)]
struct GrownContextOptions {
    struct_size: usize,
    n_threads: i32,
    n_slots: i32,
    max_seq_len: i32,
    memory_limit: u64,
    check_finite: i32,
    from_the_future: [u64; 4],
}

#[test]
fn a_wrong_mirror_is_refused_naming_struct_and_field() {
    common::setup();
    let bad = Mirror {
        name: "mmg_sampling_options",
        size: std::mem::size_of::<BadSamplingOptions>(),
        fields: vec![
            ("struct_size", offset_of!(BadSamplingOptions, struct_size)),
            ("temperature", offset_of!(BadSamplingOptions, temperature)),
            ("top_k", offset_of!(BadSamplingOptions, top_k)),
            ("top_p", offset_of!(BadSamplingOptions, top_p)),
            ("seed", offset_of!(BadSamplingOptions, seed)),
        ],
    };
    let e = layout::check_mirror(&bad).unwrap_err();
    assert_eq!(e.status(), Status::ABI);
    assert!(e.message().contains("mmg_sampling_options.top_k"), "{}", e);
    assert!(e.message().contains("offset 16") && e.message().contains("offset 12"), "{}", e);

    let grown = Mirror {
        name: "mmg_context_options",
        size: std::mem::size_of::<GrownContextOptions>(),
        fields: vec![("struct_size", 0)],
    };
    let e = layout::check_mirror(&grown).unwrap_err();
    assert_eq!(e.status(), Status::ABI);
    assert!(e.message().starts_with("mmg_context_options: the Rust mirror is"), "{}", e);

    let unknown_field = Mirror { name: "mmg_context_options", size: 8, fields: vec![("from_the_future", 40)] };
    let e = layout::check_mirror(&unknown_field).unwrap_err();
    assert!(e.message().contains("mmg_context_options.from_the_future"), "{}", e);

    let unknown_struct = Mirror { name: "mmg_no_such_struct", size: 8, fields: vec![] };
    let e = layout::check_mirror(&unknown_struct).unwrap_err();
    assert!(e.message().contains("mmg_no_such_struct"), "{}", e);
}

#[test]
fn offset_of_matches_repr_c() {
    #[repr(C)]
    #[allow(dead_code)]
    struct S {
        a: u8,
        b: u32,
        c: u64,
        d: [i64; 2],
        e: u16,
    }
    assert_eq!(offset_of!(S, a), 0);
    assert_eq!(offset_of!(S, b), 4);
    assert_eq!(offset_of!(S, c), 8);
    assert_eq!(offset_of!(S, d), 16);
    assert_eq!(offset_of!(S, e), 32);
    assert_eq!(std::mem::size_of::<S>(), 40);
}

#[test]
fn rust_defaults_are_the_library_defaults() {
    use mmgen::sys;
    use std::mem::{size_of, zeroed};
    common::setup();
    mmgen::init().unwrap();
    let s = mmgen::Sampling::default();
    let (so, lo, to) = unsafe {
        let mut so: sys::mmg_sampling_options = zeroed();
        sys::mmg_sampling_options_init(&mut so, size_of::<sys::mmg_sampling_options>());
        let mut lo: sys::mmg_loader_options = zeroed();
        sys::mmg_loader_options_init(&mut lo, size_of::<sys::mmg_loader_options>());
        let mut to: sys::mmg_train_options = zeroed();
        sys::mmg_train_options_init(&mut to, size_of::<sys::mmg_train_options>());
        (so, lo, to)
    };
    assert_eq!(so.struct_size, size_of::<sys::mmg_sampling_options>());
    assert_eq!(
        (s.temperature, s.top_k, s.top_p, s.min_p, s.repetition_penalty, s.repetition_window, s.seed),
        (so.temperature, so.top_k, so.top_p, so.min_p, so.repetition_penalty, so.repetition_window, so.seed)
    );
    let t = mmgen::TrainOptions::default();
    assert_eq!((t.batch_size, t.seq_len, t.seed), (lo.batch_size, lo.seq_len, lo.seed));
    assert_eq!(
        (t.learning_rate, t.warmup_steps, t.decay_steps, t.weight_decay, t.grad_clip),
        (to.learning_rate, to.warmup_steps, to.decay_steps, to.weight_decay, to.grad_clip)
    );
    assert_eq!((t.grad_accum_steps, t.dropout, t.n_threads), (to.grad_accum_steps, to.dropout, to.n_threads));
    let c = mmgen::ContextOptions::default();
    let co = unsafe {
        let mut co: sys::mmg_context_options = zeroed();
        sys::mmg_context_options_init(&mut co, size_of::<sys::mmg_context_options>());
        co
    };
    assert_eq!(
        (c.n_threads, c.max_seq_len, c.memory_limit, c.check_finite as i32),
        (co.n_threads, co.max_seq_len, co.memory_limit, co.check_finite)
    );
}
