//! F3: decoding after a valid signature, the part only a key holder (or
//! Django) can reach: base64, zlib with its output cap, JSON (serde_json and
//! the Python-JSON slow path with its nesting cap) and the raw markers.
//! Oracles: no panic; decompression never exceeds the cap and round-trips;
//! whatever loads, re-signs and loads to the same value; what the Python-JSON
//! reader accepts, the writer writes back to text that reads the same.
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use sessionkit::__fuzz;
use sessionkit::signing::json::to_python_json;
use sessionkit::signing::{Codec, Keys, SecretKey, Signer, SESSION_SALT};

const SECRET: &str = "fuzz-current-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

static KEYS: LazyLock<Keys> =
    LazyLock::new(|| Keys::new(SecretKey::new(SECRET), vec![]).expect("a non-empty key"));
static SIGNER: LazyLock<Signer> = LazyLock::new(|| Signer::new(&KEYS, SESSION_SALT));
static CODEC: LazyLock<Codec> = LazyLock::new(|| Codec::sessions(&KEYS));

#[derive(Arbitrary, Debug)]
enum Input {
    /// A signed payload whose bytes the fuzzer chose: `.`-flagged ones are
    /// zlib streams, the others JSON text.
    Signed { compressed: bool, payload: Vec<u8> },
    /// Text compressed by us: must come back whole.
    Compress(Vec<u8>),
}

fn signed_payload(compressed: bool, payload: &[u8]) {
    let flag = if compressed { "." } else { "" };
    let signed = SIGNER.sign(
        &format!("{flag}{}", URL_SAFE_NO_PAD.encode(payload)),
        1_780_000_000,
    );
    let now = common::now();
    if let Ok(v) = SIGNER.loads(&signed, None, now) {
        let again = SIGNER.dumps(&v.value, compressed, now);
        let back = SIGNER.loads(&again, None, now).expect("what we sign loads");
        assert_eq!(back.value, v.value, "a loaded value changed on re-signing");
    }
    if let Ok(d) = CODEC.decode(&signed, None, now) {
        let again = CODEC.encode(&d.data, now);
        let back = CODEC
            .decode(&again, None, now)
            .expect("what we encode decodes");
        assert_eq!(back.data, d.data, "a session changed on re-encoding");
    }
    if compressed {
        if let Ok(out) = __fuzz::decompress_capped(payload) {
            assert!(out.len() <= __fuzz::MAX_DECOMPRESSED);
        }
    } else if let Some(v) = __fuzz::python_json_parse(payload) {
        let text = to_python_json(&v);
        let back = __fuzz::python_json_parse(text.as_bytes()).expect("what we write parses");
        assert_eq!(back, v, "Python-JSON changed on a write/read round trip");
    }
}

fuzz_target!(|input: Input| match input {
    Input::Signed {
        compressed,
        payload,
    } => signed_payload(compressed, &payload),
    Input::Compress(raw) => {
        if let Some(z) = __fuzz::compress_if_smaller(&raw) {
            assert!(z.len() < raw.len());
            assert_eq!(__fuzz::decompress_capped(&z).expect("our own stream"), raw);
        }
    }
});
