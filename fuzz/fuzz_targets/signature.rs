//! F2: the signature check. Whatever `unsign` accepts is exactly what the key
//! that verified it would sign (no malleable encoding of the signature or the
//! timestamp is accepted); a fresh signature round-trips; a signature altered
//! anywhere fails. `signing::loads` never panics.
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sessionkit::signing::{Keys, SecretKey, Signer, DEFAULT_SALT};

const CURRENT: &str = "fuzz-current-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
const FALLBACK: &str = "fuzz-fallback-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    Keys::new(SecretKey::new(CURRENT), vec![SecretKey::new(FALLBACK)]).expect("non-empty keys")
});
static SIGNER: LazyLock<Signer> = LazyLock::new(|| Signer::new(&KEYS, DEFAULT_SALT));
static OLD: LazyLock<Signer> = LazyLock::new(|| {
    Signer::new(
        &Keys::new(SecretKey::new(FALLBACK), vec![]).expect("a non-empty key"),
        DEFAULT_SALT,
    )
});

#[derive(Arbitrary, Debug)]
enum Input {
    /// Attacker-shaped text.
    Raw(String),
    /// A real signature, optionally altered at one byte.
    Signed {
        value: String,
        timestamp: i64,
        old_key: bool,
        flip: Option<(usize, u8)>,
    },
}

fn check(signed: &str) {
    if let Ok(u) = SIGNER.unsign(signed, None, common::now()) {
        let by = if u.fallback { &*OLD } else { &*SIGNER };
        assert_eq!(
            by.sign(u.value, u.timestamp),
            signed,
            "accepted a non-canonical signature"
        );
    }
    let _ = SIGNER.loads(signed, None, common::now());
}

fuzz_target!(|input: Input| match input {
    Input::Raw(text) => check(&text),
    Input::Signed {
        value,
        timestamp,
        old_key,
        flip,
    } => {
        let signer = if old_key { &*OLD } else { &*SIGNER };
        let signed = signer.sign(&value, timestamp);
        let u = SIGNER
            .unsign(&signed, None, common::now())
            .expect("a fresh signature verifies");
        assert_eq!(
            (u.value, u.timestamp, u.fallback),
            (value.as_str(), timestamp, old_key)
        );
        if let Some((at, byte)) = flip {
            let mut bytes = signed.clone().into_bytes();
            let at = at % bytes.len();
            bytes[at] = byte;
            if let Ok(altered) = String::from_utf8(bytes) {
                if altered != signed {
                    check(&altered);
                }
            }
        }
    }
});
