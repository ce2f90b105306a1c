//! Tokenizers: round trips, state and JSON documents, decode streams, errors.
mod common;

use mmgen::{Plugin, Status, Tokenizer};

fn text_tokenizer() -> Tokenizer {
    common::setup();
    let corpus = common::corpus();
    let mut tok = Tokenizer::create("text", Some(r#"{"vocab_size": 280}"#)).unwrap();
    tok.fit(&[&corpus[..20000.min(corpus.len())], "héllo wörld, ünïcode ✓".as_bytes()]).unwrap();
    tok
}

#[test]
fn round_trip_is_byte_exact() {
    let tok = text_tokenizer();
    assert_eq!(tok.vocab_size(), 280);
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let docs: [&[u8]; 4] = [b"", b"The ABI is a contract.", "héllo wörld ✓".as_bytes(), &all_bytes];
    for doc in docs {
        let ids = tok.encode(doc).unwrap();
        assert!(ids.iter().all(|&i| i >= 0 && i < tok.vocab_size()), "{:?}", ids);
        assert_eq!(tok.decode(&ids).unwrap(), doc);
    }
    assert_eq!(tok.config().as_deref(), Some(r#"{"vocab_size": 280}"#));
    assert_eq!(tok.plugin_name(), "text");
}

#[test]
fn json_and_state_restore_the_same_tokenizer() {
    let tok = text_tokenizer();
    let corpus = common::corpus();
    let doc = &corpus[..3000];
    let ids = tok.encode(doc).unwrap();

    let again = Tokenizer::from_json(&tok.to_json().unwrap()).unwrap();
    assert_eq!(again.encode(doc).unwrap(), ids);
    assert_eq!(again.vocab_size(), tok.vocab_size());
    assert_eq!(again.special_token("eos").unwrap(), tok.special_token("eos").unwrap());
    assert!(tok.special_token("eos").unwrap().is_some());

    let plugin = Plugin::open("text").unwrap();
    assert_eq!(plugin.name(), "text");
    assert_eq!(plugin.modality(), "text");
    assert!(plugin.path().ends_with("mmgen-text.so"), "{}", plugin.path());
    let mut fresh = plugin.tokenizer(Some(r#"{"vocab_size": 280}"#)).unwrap();
    drop(plugin); // the tokenizer keeps the module loaded
    fresh.load_state(&tok.save_state().unwrap()).unwrap();
    assert_eq!(fresh.encode(doc).unwrap(), ids);

    assert_eq!(tok.special_token("no-such-token").unwrap(), None);
    assert!(!tok.describe_token(ids[0]).unwrap().is_empty());
    assert!(tok.has_extension("mmgen.constraint/1"));
    assert!(!tok.has_extension("mmgen.no-such-extension/1"));
}

#[test]
fn decode_stream_gives_the_same_bytes() {
    let tok = text_tokenizer();
    let doc = "héllo wörld ✓ — streamed".as_bytes();
    let ids = tok.encode(doc).unwrap();
    let mut stream = tok.decode_stream().unwrap();
    let mut out = Vec::new();
    for id in &ids {
        let part = stream.feed(&[*id]).unwrap();
        assert!(std::str::from_utf8(&part).is_ok(), "a character was split: {:?}", part);
        out.extend(part);
    }
    out.extend(stream.flush().unwrap());
    assert_eq!(out, doc);
}

#[test]
fn decoding_an_id_outside_the_vocabulary_is_a_range_error() {
    let tok = text_tokenizer();
    let bad = tok.vocab_size();
    let e = tok.decode(&[1, bad]).unwrap_err();
    assert_eq!(e.status(), Status::RANGE);
    assert_eq!(e.status_name(), "MMG_ERR_RANGE");
    assert_eq!(e.code(), 8);
    assert!(e.message().contains(&bad.to_string()), "{}", e);
    assert!(e.to_string().contains("MMG_ERR_RANGE"), "{}", e);
    let e = tok.decode(&[-1]).unwrap_err();
    assert_eq!(e.status(), Status::RANGE);
}

#[test]
fn missing_plugin_bad_config_and_bad_documents() {
    common::setup();
    let e = Plugin::open("no-such-plugin").err().unwrap();
    assert_eq!(e.status(), Status::NOT_FOUND);
    assert!(e.to_string().contains("no-such-plugin"), "{}", e);
    assert!(Tokenizer::create("text", Some(r#"{"vocab_size": "big"}"#)).is_err());
    let e = Tokenizer::from_json("{}").err().unwrap();
    assert_eq!(e.status(), Status::FORMAT);
    let mut tok = text_tokenizer();
    let e = tok.load_state(b"not a state").unwrap_err();
    assert_eq!(e.status(), Status::FORMAT);
    assert!(!e.message().is_empty());
}
