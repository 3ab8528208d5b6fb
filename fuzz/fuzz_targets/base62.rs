//! F5: base62 timestamps. `decode` never panics; whatever it reads, `encode`
//! writes back to text that decodes to the same number; every `i64`
//! round-trips.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sessionkit::signing::base62;

#[derive(Arbitrary, Debug)]
enum Input {
    Text(String),
    Number(i64),
}

fuzz_target!(|input: Input| match input {
    Input::Text(s) => {
        if let Some(n) = base62::decode(&s) {
            assert_eq!(base62::decode(&base62::encode(n)), Some(n));
        }
    }
    Input::Number(n) => assert_eq!(base62::decode(&base62::encode(n)), Some(n)),
});
