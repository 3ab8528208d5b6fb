//! F6 (signed cookies): any cookie a client sends, under any
//! `SESSION_COOKIE_AGE` the configuration accepts, loads as a session or as a
//! fresh one, never a panic (finding L2a).
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sessionkit::store::signed_cookies::SignedCookieStore;
use sessionkit::store::SessionStore;
use sessionkit::SessionConfig;

const SECRET: &str = "fuzz-current-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

static CONFIG: LazyLock<SessionConfig> =
    LazyLock::new(|| SessionConfig::new(SECRET).expect("a valid config"));

static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
});

#[derive(Arbitrary, Debug)]
struct Input {
    cookie_age: i64,
    cookie: String,
    /// Sign the cookie ourselves (with a fuzzed signing time) first.
    signed_at: Option<i64>,
}

fuzz_target!(|input: Input| {
    let mut config = CONFIG.clone();
    config.cookie_age = input.cookie_age;
    let store = SignedCookieStore::new().with_config(&config);
    let cookie = match input.signed_at {
        Some(ts) => config
            .signed_cookies_codec()
            .signer()
            .sign(&input.cookie, ts),
        None => input.cookie,
    };
    if store.accepts(&cookie) {
        let loaded = RT.block_on(store.load(&cookie, common::now()));
        assert!(
            matches!(loaded, Ok(Some(_))),
            "a signed cookie always loads"
        );
    }
});
