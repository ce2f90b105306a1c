//! Models: generation equal to the CLI's, loading from memory, parameters,
//! check_finite, metadata, training and the error paths.
mod common;

use mmgen::{ContextOptions, GenerateOptions, Model, ModelConfig, Status, TrainOptions, Trainer, Weights};

const PROMPT: [i32; 4] = [1, 2, 3, 40];

fn options(seed: u64, eos: i32) -> GenerateOptions<'static> {
    GenerateOptions::new(20).seed(seed).temperature(0.8).top_p(0.95).top_k(0).end_token(eos)
}

fn eos_of(m: &Model) -> i32 {
    m.tokenizer().unwrap().unwrap().special_token("eos").unwrap().unwrap()
}

#[test]
fn generate_matches_cli() {
    let path = common::model_path();
    let m = Model::load(&path).unwrap();
    let eos = eos_of(&m);
    for seed in [5u64, 1234] {
        let prompt = PROMPT.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" ");
        let printed = common::cli(&[
            "generate",
            "-m",
            path.to_str().unwrap(),
            "--prompt-ids",
            &prompt,
            "--ids",
            "--seed",
            &seed.to_string(),
            "-n",
            "20",
            "--no-constraint",
            "-T",
            "0.8",
            "--top-p",
            "0.95",
        ]);
        let expected: Vec<i32> = printed.split_whitespace().map(|t| t.parse().unwrap()).collect();
        let ids = m.generate(&PROMPT, &options(seed, eos)).unwrap();
        assert!(!ids.is_empty());
        // the CLI prints the prompt and the new tokens, without a final end token
        let mut got = PROMPT.to_vec();
        got.extend(ids.iter().copied().filter(|&t| t != eos));
        assert_eq!(got, expected, "seed {}", seed);

        // the same again in one context, and streamed
        let mut ctx = m.context(&ContextOptions::default()).unwrap();
        assert_eq!(ctx.generate(&PROMPT, &options(seed, eos)).unwrap(), ids);
        let mut streamed = Vec::new();
        let all = ctx.generate_with(&PROMPT, &options(seed, eos), |t| {
            streamed.push(t);
            true
        });
        assert_eq!(all.unwrap(), ids);
        assert_eq!(streamed, ids);
    }
}

#[test]
fn stopping_a_stream_early_and_panics_in_the_callback() {
    let m = Model::load(common::model_path()).unwrap();
    let opts = GenerateOptions::new(12).seed(3).temperature(0.8).top_p(0.95);
    let full = m.generate(&[1, 2], &opts).unwrap();
    assert_eq!(full.len(), 12);
    let mut ctx = m.context(&ContextOptions { n_threads: 1, ..Default::default() }).unwrap();
    assert_eq!(ctx.n_threads(), 1);
    assert_eq!(ctx.max_seq_len(), 32);
    let mut n = 0;
    let part = ctx
        .generate_with(&[1, 2], &opts, |_| {
            n += 1;
            n < 4
        })
        .unwrap();
    assert_eq!(part, full[..4].to_vec());
    // the context works again after that
    assert_eq!(ctx.generate(&[1, 2], &opts).unwrap(), full);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = ctx.generate_with(&[1, 2], &opts, |_| panic!("from the callback"));
    }));
    assert!(r.is_err());
    assert_eq!(ctx.generate(&[1, 2], &opts).unwrap(), full);
    let e = ctx.generate(&[1, 2], &GenerateOptions::new(0)).unwrap_err();
    assert_eq!(e.status(), Status::INVALID_ARG);
    let e = ctx.generate(&[1, 100000], &opts).unwrap_err();
    assert_eq!(e.status(), Status::RANGE);
}

#[test]
fn generation_with_the_tokenizer_constraint() {
    let m = Model::load(common::model_path()).unwrap();
    let tok = m.tokenizer().unwrap().unwrap();
    let bos = tok.special_token("bos").unwrap().unwrap();
    let opts = GenerateOptions::new(16).seed(9).start_token(bos).constraint(&tok);
    let ids = m.generate(&[], &opts).unwrap();
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|&t| t >= 0 && t < tok.vocab_size()));
}

#[test]
fn config_metadata_and_tokenizer() {
    let path = common::model_path();
    let mut m = Model::load(&path).unwrap();
    let c = m.config().unwrap();
    assert_eq!((c.vocab_size, c.d_model, c.n_heads, c.n_encoder_layers, c.n_decoder_layers), (300, 32, 2, 0, 1));
    assert_eq!(c.max_seq_len, 32);
    assert!(m.n_params() > 0);
    let tok = m.tokenizer().unwrap().unwrap();
    assert_eq!(tok.plugin_name(), "text");
    assert_eq!(tok.vocab_size(), 300);
    assert_eq!(tok.decode(&tok.encode(b"The ABI").unwrap()).unwrap(), b"The ABI");
    assert!(m.source_tokenizer().unwrap().is_none());

    assert!(m.metadata_keys().iter().any(|k| k == "mmgen.tokenizer"));
    assert_eq!(m.metadata("no.such.key").unwrap(), None);
    m.set_metadata("rust.test", Some("héllo")).unwrap();
    let e = m.set_metadata("mmgen.config", Some("{}")).unwrap_err();
    assert_eq!(e.status(), Status::INVALID_ARG);
    let out = common::tmp_dir("metadata").join("m2.safetensors");
    m.save(&out).unwrap();
    let again = Model::load(&out).unwrap();
    assert_eq!(again.metadata("rust.test").unwrap().as_deref(), Some("héllo"));
    assert_eq!(again.config().unwrap(), c);

    let json = c.to_json().unwrap();
    assert_eq!(ModelConfig::from_json(&json).unwrap(), c);
    c.validate().unwrap();
    let e = ModelConfig::from_json(r#"{"d_model": "big"}"#).unwrap_err();
    assert_eq!(e.status(), Status::CONFIG);
    assert!(e.message().contains("d_model"), "{}", e);
}

#[test]
fn load_from_memory_equals_load() {
    let path = common::model_path();
    let bytes = std::fs::read(&path).unwrap();
    let a = Model::load(&path).unwrap();
    let b = Model::load_from_memory(&bytes).unwrap();
    let truncated = bytes[..bytes.len() / 2].to_vec();
    drop(bytes); // the model keeps no reference to them
    assert_eq!(a.config().unwrap(), b.config().unwrap());
    assert_eq!(a.n_params(), b.n_params());
    let params = a.params().unwrap();
    assert_eq!(params, b.params().unwrap());
    for p in &params {
        assert_eq!(a.read_param(&p.name).unwrap(), b.read_param(&p.name).unwrap(), "{}", p.name);
    }
    assert_eq!(a.metadata("mmgen.tokenizer").unwrap(), b.metadata("mmgen.tokenizer").unwrap());
    let eos = eos_of(&a);
    assert_eq!(a.generate(&PROMPT, &options(7, eos)).unwrap(), b.generate(&PROMPT, &options(7, eos)).unwrap());

    let e = Model::load_from_memory(&truncated).unwrap_err();
    assert_eq!(e.status(), Status::FORMAT);
    assert!(e.message().contains("<memory>"), "{}", e);
}

#[test]
fn parameters_list_read_and_write() {
    let mut m = Model::load(common::model_path()).unwrap();
    let params = m.params().unwrap();
    assert_eq!(params.len(), m.param_count());
    assert_eq!(params.iter().map(|p| p.n_elements as u64).sum::<u64>(), m.n_params());
    for p in &params {
        assert_eq!(p.shape.iter().product::<i64>() as usize, p.n_elements, "{}", p.name);
        assert!(p.shape.len() == 1 || p.shape.len() == 2, "{:?}", p);
    }
    let emb = &params[m.find_param("tok_emb.weight").unwrap()];
    assert_eq!(emb.name, "tok_emb.weight");
    assert_eq!(emb.shape, vec![300, 32]);
    assert!(params.iter().any(|p| p.name == "decoder.layers.0.ff.fc1.weight"));

    let w = m.read_param("decoder.layers.0.ff.fc1.weight").unwrap();
    assert!(w.iter().all(|x| x.is_finite()) && w.iter().any(|&x| x != 0.0));
    let changed: Vec<f32> = w.iter().map(|x| x * 0.5 + 0.25).collect();
    m.write_param("decoder.layers.0.ff.fc1.weight", &changed).unwrap();
    assert_eq!(m.read_param("decoder.layers.0.ff.fc1.weight").unwrap(), changed);
    let mut buf = vec![0f32; w.len()];
    m.read_param_into("decoder.layers.0.ff.fc1.weight", &mut buf).unwrap();
    assert_eq!(buf, changed);
}

#[test]
fn wrong_sizes_and_unknown_names() {
    let mut m = Model::load(common::model_path()).unwrap();
    let before = m.read_param("tok_emb.weight").unwrap();
    let e = m.write_param("tok_emb.weight", &[1.0; 10]).unwrap_err();
    assert_eq!(e.status(), Status::RANGE);
    assert!(e.message().contains("(300, 32)"), "{}", e);
    assert_eq!(m.read_param("tok_emb.weight").unwrap(), before, "the model changed on error");
    let mut small = vec![0f32; 5];
    let e = m.read_param_into("tok_emb.weight", &mut small).unwrap_err();
    assert_eq!(e.status(), Status::RANGE);
    let e = m.read_param("no.such.weight").unwrap_err();
    assert_eq!(e.status(), Status::NOT_FOUND);
    assert!(e.message().contains("no.such.weight"), "{}", e);
    let e = m.param_info(m.param_count()).unwrap_err();
    assert_eq!(e.status(), Status::RANGE);
}

#[test]
fn check_finite_reports_nan_logits() {
    let mut m = Model::load(common::model_path()).unwrap();
    let name = "decoder.norm.weight";
    let n = m.read_param(name).unwrap().len();
    m.write_param(name, &vec![f32::NAN; n]).unwrap();
    let mut ctx = m.context(&ContextOptions { check_finite: true, ..Default::default() }).unwrap();
    let e = ctx.generate(&PROMPT, &GenerateOptions::new(4).seed(1)).unwrap_err();
    assert_eq!(e.status(), Status::NUMERIC);
    assert!(e.message().contains("slot"), "{}", e);
}

#[test]
fn missing_model_file_is_an_io_error_naming_it() {
    common::setup();
    let missing = common::tmp_dir("missing").join("nope.safetensors");
    let e = Model::load(&missing).unwrap_err();
    assert_eq!(e.status(), Status::IO);
    assert_eq!(e.status_name(), "MMG_ERR_IO");
    assert!(e.message().contains(missing.to_str().unwrap()), "{}", e);
    let text = e.to_string();
    assert!(text.contains("MMG_ERR_IO") && text.contains(missing.to_str().unwrap()), "{}", text);
}

#[test]
fn trainer_steps_and_gradients() {
    let fixture = Model::load(common::model_path()).unwrap();
    let tok = fixture.tokenizer().unwrap().unwrap();
    let tokens = tok.encode(&common::corpus()[..4000]).unwrap();
    let config = ModelConfig::from_json(
        r#"{"vocab_size": 300, "d_model": 16, "n_heads": 2, "n_encoder_layers": 0,
            "n_decoder_layers": 1, "d_ff": 32, "max_seq_len": 16}"#,
    )
    .unwrap();
    let mut m = Model::create(&config, 1).unwrap();
    let initial = m.read_param("tok_emb.weight").unwrap();
    {
        let opts = TrainOptions { batch_size: 2, seq_len: 16, learning_rate: 1e-2, seed: 1, ..Default::default() };
        let mut tr = Trainer::new(&mut m, &tokens, &opts).unwrap();
        assert!(tr.read_grad("tok_emb.weight").unwrap().iter().all(|&g| g == 0.0));
        let losses: Vec<f32> = (0..3).map(|_| tr.step().unwrap()).collect();
        assert!(losses.iter().all(|l| l.is_finite() && *l > 0.0), "{:?}", losses);
        assert_eq!(tr.steps_done(), 3);
        assert!(tr.last_grad_norm() > 0.0);
        let g = tr.read_grad("tok_emb.weight").unwrap();
        assert_eq!(g.len(), 300 * 16);
        assert!(g.iter().all(|x| x.is_finite()) && g.iter().any(|&x| x != 0.0));
        let e = tr.read_grad_into("tok_emb.weight", &mut [0.0; 3]).unwrap_err();
        assert_eq!(e.status(), Status::RANGE);
        assert_ne!(tr.model().read_param("tok_emb.weight").unwrap(), initial);
    }
    // the model keeps its trained weights after the trainer is gone
    assert_ne!(m.read_param("tok_emb.weight").unwrap(), initial);
    let bad = TrainOptions { learning_rate: 0.0, ..Default::default() };
    let e = Trainer::new(&mut m, &tokens, &bad).err().unwrap();
    assert_eq!(e.status(), Status::INVALID_ARG);
}

#[test]
fn load_with_weights_quantizes_as_the_cli_does() {
    let path = common::model_path();
    let dir = common::tmp_dir("weights");
    let linear = "decoder.layers.0.ff.fc1.weight";
    let reference = Model::load(&path).unwrap().read_param(linear).unwrap();
    for (ty, weights) in [("q8_0", Weights::Q8_0), ("q4_0", Weights::Q4_0), ("f16", Weights::F16)] {
        let file = dir.join(format!("m-{}.safetensors", ty));
        common::cli(&["quantize", path.to_str().unwrap(), file.to_str().unwrap(), "--type", ty]);
        let mut a = Model::load_with_weights(&path, weights).unwrap();
        let b = Model::load(&file).unwrap();
        let eos = eos_of(&a);
        assert_eq!(
            a.generate(&PROMPT, &options(3, eos)).unwrap(),
            b.generate(&PROMPT, &options(3, eos)).unwrap(),
            "{}",
            ty
        );
        assert_eq!(a.read_param(linear).unwrap(), b.read_param(linear).unwrap(), "{}", ty);
        assert_ne!(a.read_param(linear).unwrap(), reference, "{}: still the F32 weights", ty);
        let e = a.write_param(linear, &reference).unwrap_err();
        assert_eq!(e.status(), Status::UNSUPPORTED);
        assert!(e.message().contains(linear), "{}", e);
        // dequantized: writable again
        let mut c = Model::load_with_weights(&file, Weights::F32).unwrap();
        c.write_param(linear, &reference).unwrap();
    }
    let same = Model::load_with_weights(&path, Weights::AsStored).unwrap();
    assert_eq!(same.read_param(linear).unwrap(), reference);
}

#[test]
fn weights_as_bytes() {
    let path = common::model_path();
    let linear = "decoder.layers.0.ff.fc1.weight";
    let f32_model = Model::load(&path).unwrap();
    let w = f32_model.read_param(linear).unwrap();
    let q4 = Model::load_with_weights(&path, Weights::Q4_0).unwrap();
    let (format, data) = q4.read_param_data(linear).unwrap();
    assert_eq!(format, Weights::Q4_0);
    assert_eq!(data.len(), w.len() / 32 * 18);
    assert_eq!(mmgen::weights_size(Weights::Q4_0, w.len() as u64).unwrap(), data.len() as u64);
    assert_eq!(mmgen::quantize(&w, Weights::Q4_0).unwrap(), data);
    assert_eq!(mmgen::dequantize(&data, Weights::Q4_0, w.len()).unwrap(), q4.read_param(linear).unwrap());
    let (format, data) = f32_model.read_param_data("tok_emb.weight").unwrap();
    let table = f32_model.read_param("tok_emb.weight").unwrap();
    assert_eq!(format, Weights::F32);
    assert_eq!(data, table.iter().flat_map(|x| x.to_ne_bytes()).collect::<Vec<u8>>());
    let halves = mmgen::quantize(&[1.0, -2.5, 65504.0], Weights::F16).unwrap();
    assert_eq!(halves, [0x00, 0x3c, 0x00, 0xc1, 0xff, 0x7b]);
    assert_eq!(mmgen::dequantize(&halves, Weights::F16, 3).unwrap(), [1.0, -2.5, 65504.0]);
    let e = mmgen::quantize(&[1.0; 33], Weights::Q8_0).unwrap_err();
    assert_eq!(e.status(), Status::INVALID_ARG);
    assert!(e.message().contains("33 elements"), "{}", e);
    let e = mmgen::quantize(&[f32::NAN; 32], Weights::Q8_0).unwrap_err();
    assert_eq!(e.status(), Status::NUMERIC);
    assert_eq!(mmgen::dequantize(b"abc", Weights::Q8_0, 32).unwrap_err().status(), Status::RANGE);
    assert_eq!(mmgen::quantize(&[1.0; 32], Weights::AsStored).unwrap_err().status(), Status::INVALID_ARG);
    assert_eq!(q4.read_param_data("no.such.weight").unwrap_err().status(), Status::NOT_FOUND);
}

#[test]
fn load_quantized_keeps_the_token_embedding_quantized() {
    let path = common::model_path();
    let table = Model::load(&path).unwrap().read_param("tok_emb.weight").unwrap();
    let table_bytes: Vec<u8> = table.iter().flat_map(|x| x.to_ne_bytes()).collect();
    // ignored for F32 models
    let same = Model::load_quantized(&path, Weights::AsStored, true).unwrap();
    assert_eq!(same.read_param_data("tok_emb.weight").unwrap(), (Weights::F32, table_bytes.clone()));
    for weights in [Weights::Q8_0, Weights::Q4_0, Weights::F16] {
        let q = Model::load_quantized(&path, weights, true).unwrap();
        let plain = Model::load_with_weights(&path, weights).unwrap();
        let blocks = mmgen::quantize(&table, weights).unwrap();
        assert_eq!(q.read_param_data("tok_emb.weight").unwrap(), (weights, blocks.clone()), "{:?}", weights);
        assert_eq!(plain.read_param_data("tok_emb.weight").unwrap().0, Weights::F32);
        assert_eq!(q.read_param("tok_emb.weight").unwrap(), mmgen::dequantize(&blocks, weights, table.len()).unwrap());
        let eos = eos_of(&q);
        assert!(!q.generate(&PROMPT, &options(3, eos)).unwrap().is_empty(), "{:?}", weights);
    }
}
