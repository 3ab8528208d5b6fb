//! What the db engine must show alike on PostgreSQL and MySQL, written once:
//! Django's rows from the vectors loading as Django loads them, a strict
//! `clear_expired`, and a dead server reported unavailable within seconds.
//! Each server's file keeps what differs: DDL, quoting, how it writes the
//! rows, and which constructor opens a store.

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration as StdDuration, Instant};

use serde_json::{json, Value};
use sessionkit::error::StoreError;
use sessionkit::key;
use sessionkit::signing::{Codec, Keys, SecretKey};
use sessionkit::store::{Record, SaveOutcome, SessionMap, SessionStore};
use time::{Duration, OffsetDateTime};

use super::data;
use super::proxy::Proxy;

/// Django's vectors: `SECRET_KEY` and its fallback, `reference_now`, rows.
pub(crate) struct Vectors {
    json: Value,
    /// The time the vectors' expectations hold at.
    pub(crate) reference_now: OffsetDateTime,
}

impl Vectors {
    /// `sessions.json` of the vectors.
    pub(crate) fn load() -> Self {
        let json = super::vectors("sessions.json");
        let reference_now = super::iso(json["reference_now"].as_str().expect("reference_now"));
        Self {
            json,
            reference_now,
        }
    }

    /// Django's session rows, with what loading each must give.
    pub(crate) fn sessions(&self) -> &[Value] {
        self.json["sessions"].as_array().expect("sessions")
    }

    /// Django's codec: `SECRET_KEY`, plus the old key as a fallback if asked.
    pub(crate) fn codec(&self, with_fallback: bool) -> Codec {
        let secret = |name: &str| SecretKey::new(self.json[name].as_str().expect("a secret"));
        let fallbacks = if with_fallback {
            vec![secret("old_secret_key")]
        } else {
            vec![]
        };
        Codec::sessions(&Keys::new(secret("secret_key"), fallbacks))
    }
}

/// A string field of a vectors row.
pub(crate) fn s<'a>(session: &'a Value, field: &str) -> &'a str {
    session[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing"))
}

/// With every row of `v` written into the table as Django writes it,
/// `current` (Django's secret) and `rotated` (plus the old one as a fallback)
/// load each as Django does; the corrupt row loads empty and a save
/// overwrites it under its key.
pub(crate) async fn djangos_rows_load_as_django_loads_them(
    current: &dyn SessionStore,
    rotated: &dyn SessionStore,
    v: &Vectors,
) {
    for row in v.sessions() {
        let (name, key) = (s(row, "name"), s(row, "session_key"));
        for (store, field) in [
            (current, "load_at_ref_now"),
            (rotated, "load_at_ref_now_with_old_key_fallback"),
        ] {
            let loaded = store.load(key, v.reference_now).await.expect("load");
            if row["expired_at_ref_now"] == Value::Bool(true) {
                assert!(loaded.is_none(), "{name}: an expired row loaded");
                continue;
            }
            let loaded = loaded.unwrap_or_else(|| panic!("{name}: a live row did not load"));
            assert_eq!(
                loaded.record.data,
                data(row[field].clone()),
                "{name}: {field}"
            );
            let expected_expiry = super::iso(&format!(
                "{}Z",
                s(row, "expire_date_raw").replacen(' ', "T", 1)
            ));
            assert_eq!(loaded.record.expires_at, expected_expiry, "{name}: expiry");
            assert_eq!(
                loaded.version.as_bytes(),
                s(row, "session_data").as_bytes(),
                "{name}: version"
            );
        }
    }
    // The corrupt row loads empty and keeps its key: a save overwrites it.
    let corrupt = v
        .sessions()
        .iter()
        .find(|row| s(row, "name") == "corrupted_signature")
        .expect("corrupted_signature");
    let key = s(corrupt, "session_key");
    let loaded = current
        .load(key, v.reference_now)
        .await
        .expect("load")
        .expect("live");
    assert!(loaded.record.data.is_empty());
    let record = Record::new(
        data(json!({"fresh": 1})),
        v.reference_now + Duration::hours(1),
    );
    let outcome = current
        .save(key, &record, &loaded.version, v.reference_now)
        .await
        .expect("save");
    assert!(matches!(outcome, SaveOutcome::Saved(ref saved) if saved.cookie_value == key));
}

/// With `expired` rows of `store`'s table expired before `now`:
/// `clear_expired` deletes exactly those, batch after batch, and then none;
/// a row expiring exactly at `now` stays (`rows_left` counts the table), as
/// in Django, and goes a microsecond later.
pub(crate) async fn clear_expired_is_strict<F, Fut>(
    store: &dyn SessionStore,
    now: OffsetDateTime,
    expired: u64,
    rows_left: F,
) where
    F: FnOnce() -> Fut,
    Fut: Future<Output = i64>,
{
    let on_the_dot = store
        .create(&Record::new(SessionMap::new(), now), now)
        .await
        .expect("create");

    assert_eq!(store.clear_expired(now).await.expect("clear"), expired);
    assert_eq!(store.clear_expired(now).await.expect("clear"), 0);
    assert_eq!(
        rows_left().await,
        1,
        "the row expiring exactly now stays, as in Django"
    );
    assert!(store
        .load(&on_the_dot.cookie_value, now)
        .await
        .expect("load")
        .is_none());
    assert_eq!(
        store
            .clear_expired(now + Duration::microseconds(1))
            .await
            .expect("clear"),
        1
    );
}

/// `store` reaches its server through `proxy`. Once the proxy is cut, a load
/// fails as unavailable within seconds, and so does opening a store through
/// it: `reopen`, which only starts when awaited, after the cut.
pub(crate) async fn a_dead_server_is_unavailable_within_seconds<T: Debug>(
    store: &dyn SessionStore,
    proxy: &Proxy,
    now: OffsetDateTime,
    reopen: impl Future<Output = Result<T, StoreError>>,
) {
    proxy.cut();
    let started = Instant::now();
    let result = store.load(&key::generate_key(), now).await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert!(
        started.elapsed() < StdDuration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let opened = reopen.await;
    assert!(
        matches!(opened, Err(StoreError::Unavailable(_))),
        "{opened:?}"
    );
}
