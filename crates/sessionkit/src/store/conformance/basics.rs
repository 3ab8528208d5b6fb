//! Data round trips, expiry precision, which cookie values a store accepts,
//! and what its `Debug` shows.

use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::util::{self, cleanup, create, load_live, map, marked, micros, save_ok};
use crate::key;
use crate::store::{Record, SaveOutcome, SessionMap, SessionStore};

/// A session dict with everything a JSON round trip can get wrong.
fn tricky_data() -> SessionMap {
    map(json!({
        "z_first": "insertion order is kept, not sorted",
        "a_second": 1,
        "m_third": null,
        "": "the empty key",
        "unicode": "héllo wörld ✓ 日本語 😀 \u{2028}\u{0} \"quoted\" back\\slash \n\t",
        "numbers": [
            0, -1, 42, i64::MAX, i64::MIN, u64::MAX,
            1.5, -0.25, 1e-7, 1.797_693_134_862_315_7e308
        ],
        "nested": {
            "zz": [1, [2, [3, { "deep": true, "aa": "order inside too" }]]],
            "empty_object": {},
            "empty_list": [],
            "flag": false
        },
        "_auth_user_id": "42",
        "_auth_user_backend": "django.contrib.auth.backends.ModelBackend"
    }))
}

/// Asserts two session dicts are equal, including the order of keys at every
/// depth (map equality alone ignores order).
fn assert_same_data(loaded: &SessionMap, expected: &SessionMap, what: &str) {
    assert_eq!(loaded, expected, "{what}: data changed in the store");
    let loaded_text = serde_json::to_string(loaded).unwrap_or_default();
    let expected_text = serde_json::to_string(expected).unwrap_or_default();
    assert_eq!(
        loaded_text, expected_text,
        "{what}: key order changed in the store"
    );
}

/// `create` then `load` gives back the data exactly (insertion order, nested
/// values, unicode, numbers, an empty dict); a save's data loads back too; two
/// creates give two different cookie values, both accepted by the store.
pub async fn round_trip(store: &dyn SessionStore, now: OffsetDateTime) {
    let now = micros(now);
    let expires_at = now + Duration::weeks(2);
    let data = tricky_data();

    let first = create(store, &Record::new(data.clone(), expires_at), now).await;
    let loaded = load_live(store, &first.cookie_value, now, "round trip").await;
    assert_same_data(&loaded.record.data, &data, "create then load");
    assert!(
        loaded.record.expires_at > now,
        "create then load: expires_at moved into the past"
    );

    let empty = create(store, &Record::new(SessionMap::new(), expires_at), now).await;
    let loaded_empty = load_live(store, &empty.cookie_value, now, "empty dict").await;
    assert!(
        loaded_empty.record.data.is_empty(),
        "an empty dict did not load empty"
    );

    assert_ne!(
        first.cookie_value, empty.cookie_value,
        "two creates returned the same cookie value"
    );
    for saved in [&first, &empty] {
        assert!(
            store.accepts(&saved.cookie_value),
            "the store does not accept a cookie value it issued itself"
        );
    }

    let mut changed = data.clone();
    changed.shift_remove("a_second");
    changed.insert("added_last".into(), json!({ "b": 2, "a": 1 }));
    let saved = save_ok(
        store,
        &first.cookie_value,
        &Record::new(changed.clone(), expires_at),
        &loaded.version,
        now,
        "save of a freshly loaded record",
    )
    .await;
    let reloaded = load_live(store, &saved.cookie_value, now, "after save").await;
    assert_same_data(&reloaded.record.data, &changed, "save then load");

    cleanup(
        store,
        [
            &*first.cookie_value,
            &*saved.cookie_value,
            &*empty.cookie_value,
        ],
    )
    .await;
}

/// `expires_at` loads back exactly as written, to the microsecond, through
/// create, save and whole seconds (SQLite's text drops `.000000`); a record
/// one microsecond from expiry is still live.
pub async fn expiry_to_the_microsecond(store: &dyn SessionStore, now: OffsetDateTime) {
    let now = micros(now);
    let base = now.replace_microsecond(0).unwrap_or(now) + Duration::weeks(2);
    let mut keys = Vec::new();
    for (i, expires_at) in [
        base + Duration::microseconds(123_456),
        base,
        base + Duration::microseconds(999_999),
        base + Duration::microseconds(1),
        now + Duration::microseconds(1),
    ]
    .into_iter()
    .enumerate()
    {
        let what = format!("expiry #{i} ({expires_at})");
        let saved = create(store, &marked("expiry", expires_at), now).await;
        let loaded = load_live(store, &saved.cookie_value, now, &what).await;
        assert_eq!(
            loaded.record.expires_at, expires_at,
            "{what}: create then load"
        );

        let later = expires_at + Duration::microseconds(654_321);
        let resaved = save_ok(
            store,
            &saved.cookie_value,
            &marked("expiry", later),
            &loaded.version,
            now,
            &what,
        )
        .await;
        let reloaded = load_live(store, &resaved.cookie_value, now, &what).await;
        assert_eq!(reloaded.record.expires_at, later, "{what}: save then load");
        keys.push(saved.cookie_value);
        keys.push(resaved.cookie_value);
    }
    cleanup(store, keys.iter().map(String::as_str)).await;
}

/// Values no store may accept: they must never reach a query, a file path or
/// a cache key. (Cookie values a store issued are checked by [`round_trip`].)
pub async fn rejects_foreign_values(store: &dyn SessionStore, _now: OffsetDateTime) {
    let long = "a".repeat(4097);
    let very_long = "a".repeat(8192);
    for value in [
        "",
        "../../etc/passwd",
        "..\\..\\windows",
        "abcdefgh/ijklmnop",
        "sessionkéyabcdef",
        "ключсессииабвгде",
        "abcdefgh ijklmnop",
        "abcdefgh\0ijklmnop",
        "abcdefgh\r\nset-cookie",
        "abcdefgh;ijklmnop",
        "abcdefgh\"ijklmnop",
        &long,
        &very_long,
    ] {
        assert!(
            !store.accepts(value),
            "the store accepts a foreign cookie value ({} bytes, starting {:?})",
            value.len(),
            value.chars().take(16).collect::<String>()
        );
    }
}

/// Keys no session store issues, fed straight to the store API (as app code
/// or tooling might, bypassing [`accepts`](SessionStore::accepts)), each
/// with a label that never shows the key: bytes a text protocol reads as
/// commands, a path, NUL, a huge key, and the live canary's own key changed
/// a little (a store that truncates, trims or folds keys would reach it).
fn hostile_keys(canary: &str) -> Vec<(&'static str, String)> {
    let fixed = [
        ("empty", ""),
        ("CR LF command", "x\r\nflush_all"),
        (
            "two CR LF commands",
            "abcdefgh\r\nflush_all\r\nget abcdefgh",
        ),
        ("space", "abcdefgh ijklmnop"),
        ("tab", "abcdefgh\tijklmnop"),
        ("NUL", "abcdefgh\0ijklmnop"),
        ("relative path", "../../etc/passwd"),
        ("windows path", "..\\..\\windows"),
        ("slash", "abcdefgh/ijklmnop"),
        ("cyrillic", "ключсессииабвгде"),
        ("SQL", "abcdefgh'; DROP TABLE django_session; --"),
        ("hash tag", "abcdefgh{slot}"),
        ("glob", "*"),
    ];
    let mut keys: Vec<(&'static str, String)> = fixed
        .into_iter()
        .map(|(label, key)| (label, key.to_owned()))
        .collect();
    keys.push(("8 KiB", "a".repeat(8192)));
    keys.push(("canary upper-cased", canary.to_uppercase()));
    keys.push(("canary + NUL", format!("{canary}\0")));
    keys.push(("canary + CR LF", format!("{canary}\r\n")));
    keys.push(("canary + space", format!("{canary} ")));
    keys.push(("canary + CR LF command", format!("{canary}\r\nflush_all")));
    keys.push(("canary + path", format!("{canary}/../x")));
    keys.push(("canary + a letter", format!("{canary}a")));
    keys.push(("command deleting the canary", format!("x\r\nmd {canary}")));
    keys
}

/// Every store call with a hostile key (a key no store issues: CR LF
/// commands, spaces, NUL, paths, 8 KiB, and a live session's key upper-cased
/// or with something after it) answers as for a key that holds nothing — `load` nothing, `save` gone, `touch` false,
/// `delete_if` true, `delete` fine — and no other session changes: a canary
/// session still loads, with its data and version, after each of them.
/// Every failure is collected, so one run names them all.
pub async fn hostile_keys_reach_nothing(store: &dyn SessionStore, now: OffsetDateTime) {
    let now = micros(now);
    let expires_at = now + Duration::hours(1);
    let overwrite = marked("overwritten", expires_at);
    let mut failures = Vec::new();
    let count = hostile_keys("canary").len();
    for index in 0..count {
        // A canary of its own for each key, so one that reached it does not
        // spoil the checks of the next.
        let canary = create(store, &marked("canary", expires_at), now).await;
        let before = load_live(store, &canary.cookie_value, now, "canary").await;
        let (label, hostile) = hostile_keys(&canary.cookie_value).swap_remove(index);
        let mut fail =
            |call: &str, got: String| failures.push(format!("{label}: {call} gave {got}"));

        let loaded = store.load(&hostile, now).await;
        if !matches!(loaded, Ok(None)) {
            fail("load", format!("{loaded:?}"));
        }
        let saved = store.save(&hostile, &overwrite, &before.version, now).await;
        if !matches!(saved, Ok(SaveOutcome::Gone)) {
            fail("save", format!("{saved:?}"));
        }
        let touched = store.touch(&hostile, expires_at, now).await;
        if !matches!(touched, Ok(false)) {
            fail("touch", format!("{touched:?}"));
        }
        let gone = store.delete_if(&hostile, &before.version, now).await;
        if !matches!(gone, Ok(true)) {
            fail("delete_if", format!("{gone:?}"));
        }
        let deleted = store.delete(&hostile).await;
        if deleted.is_err() {
            fail("delete", format!("{deleted:?}"));
        }
        // Several loads: a stray reply left on a pooled connection would
        // answer one of them.
        for _ in 0..3 {
            match store.load(&canary.cookie_value, now).await {
                Ok(Some(after))
                    if after.record == before.record && after.version == before.version => {}
                other => {
                    fail("the canary's load afterwards", format!("{other:?}"));
                    break;
                }
            }
        }
        cleanup(store, [&*canary.cookie_value]).await;
    }
    assert!(
        failures.is_empty(),
        "hostile keys reached the store:\n{}",
        failures.join("\n")
    );
}

/// Server stores accept exactly session keys: `[a-z0-9]{8,40}` (every key
/// Django issues); their `create` issues valid, distinct keys.
pub async fn session_keys(store: &dyn SessionStore, now: OffsetDateTime) {
    let now = micros(now);
    let a = create(store, &marked("a", now + Duration::hours(1)), now).await;
    let b = create(store, &marked("b", now + Duration::hours(1)), now).await;
    for saved in [&a, &b] {
        assert!(
            key::is_valid_key(&saved.cookie_value),
            "create issued a key outside [a-z0-9]{{8,40}} ({} chars)",
            saved.cookie_value.len()
        );
    }
    assert_ne!(a.cookie_value, b.cookie_value, "two creates gave one key");

    let generated = key::generate_key();
    let forty = "a".repeat(40);
    for value in ["abcdefgh", "0123456789", &forty, &generated] {
        assert!(
            store.accepts(value),
            "the store rejects the session key {value:?}"
        );
    }
    let four_kb = "a".repeat(4096);
    let forty_one = "a".repeat(41);
    for value in [
        "short",
        "abcdefg",
        "ABCDEFGHIJ",
        "abcdEFGHijkl",
        "abcd-efgh",
        "abcd_efgh",
        "abcd.efgh",
        &forty_one,
        &four_kb,
    ] {
        assert!(
            !store.accepts(value),
            "the store accepts {:?} ({} chars), which is not a session key",
            value.chars().take(16).collect::<String>(),
            value.len()
        );
    }
    cleanup(store, [&*a.cookie_value, &*b.cookie_value]).await;
}

/// The store's `Debug` never shows a session key: keys are credentials.
pub async fn debug_hides_keys(store: &dyn SessionStore, now: OffsetDateTime) {
    let now = micros(now);
    let saved = create(store, &marked("debug", now + Duration::hours(1)), now).await;
    let _ = util::load(store, &saved.cookie_value, now).await;
    let shown = format!("{store:?} {store:#?}");
    assert!(
        !shown.contains(&saved.cookie_value),
        "the store's Debug output contains a session key"
    );
    cleanup(store, [&*saved.cookie_value]).await;
}
