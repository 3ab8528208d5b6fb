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

pub(crate) mod hardening;
#[cfg(feature = "mysql")]
pub(crate) mod mysql;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
pub(crate) mod server;
pub(crate) mod shells;

/// The MySQL pool of a store opened on MySQL or MariaDB.
#[cfg(feature = "mysql")]
pub(crate) fn mysql_pool(store: &sessionkit::store::db::DbStore) -> &sqlx::MySqlPool {
    let sessionkit::store::db::DbPool::MySql(pool) = store.pool() else {
        panic!("{store:?} is not on MySQL");
    };
    pool
}

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
        Codec::sessions(&Keys::new(secret("secret_key"), fallbacks).unwrap())
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

/// Many saves at once, so they queue and go to the server in batches: each
/// keeps its own outcome. Every session saved once with its current version
/// is saved; of 16 saves of one version of a contested session exactly one
/// wins and the rest conflict; a stale version (or one that is not even
/// text) conflicts; a deleted
/// session's save finds it gone, as does one under a key with a quote in it
/// (bound as a parameter like every other value).
pub(crate) async fn queued_saves_each_get_their_own_outcome(
    store: std::sync::Arc<impl SessionStore + 'static>,
    now: OffsetDateTime,
) {
    use sessionkit::store::Version;

    let expires = now + Duration::weeks(2);
    let create = |value: Value| {
        let store = store.clone();
        async move {
            store
                .create(&Record::new(data(value), expires), now)
                .await
                .expect("create a session")
        }
    };
    let mut plain = Vec::new();
    for i in 0..40 {
        plain.push(create(json!({ "plain": i })).await);
    }
    let contested = create(json!({ "n": 0 })).await;
    let stale = create(json!({ "stale": 0 })).await;
    let deleted = create(json!({ "deleted": 0 })).await;
    store.delete(&deleted.cookie_value).await.expect("delete");

    #[derive(Debug)]
    enum Kind {
        Plain(usize),
        Contested(usize),
        Stale,
        Deleted,
        Quoted,
    }
    let mut saves = tokio::task::JoinSet::new();
    let mut spawn = |kind: Kind, key: String, version: Version, value: Value| {
        let store = store.clone();
        saves.spawn(async move {
            let record = Record::new(data(value), expires);
            let outcome = store.save(&key, &record, &version, now).await;
            (kind, outcome.expect("save runs"))
        });
    };
    for (i, saved) in plain.iter().enumerate() {
        let value = json!({ "plain": i, "saved": true });
        spawn(
            Kind::Plain(i),
            saved.cookie_value.clone(),
            saved.version.clone(),
            value,
        );
        if i % 3 == 0 {
            let (key, version) = (contested.cookie_value.clone(), contested.version.clone());
            spawn(Kind::Contested(i), key, version, json!({ "n": i + 1 }));
        }
    }
    let stale_version = Version::new(b"not what is stored".to_vec());
    spawn(
        Kind::Stale,
        stale.cookie_value.clone(),
        stale_version,
        json!({ "stale": 1 }),
    );
    // Not text at all (invalid UTF-8, a NUL, a quote): nothing a row holds.
    let binary_version = Version::new(b"\xff\x00'".to_vec());
    spawn(
        Kind::Stale,
        stale.cookie_value.clone(),
        binary_version,
        json!({ "stale": 2 }),
    );
    let (key, version) = (deleted.cookie_value.clone(), deleted.version.clone());
    spawn(Kind::Deleted, key, version.clone(), json!({ "deleted": 1 }));
    spawn(
        Kind::Quoted,
        "it's; --".to_owned(),
        version,
        json!({ "quoted": 1 }),
    );

    let mut winners = Vec::new();
    while let Some(joined) = saves.join_next().await {
        match joined.expect("save task") {
            (Kind::Plain(_), SaveOutcome::Saved(_)) => {}
            (Kind::Contested(i), SaveOutcome::Saved(_)) => winners.push(i),
            (Kind::Contested(_), SaveOutcome::Conflict) => {}
            (Kind::Stale, SaveOutcome::Conflict) => {}
            (Kind::Deleted | Kind::Quoted, SaveOutcome::Gone) => {}
            (kind, outcome) => panic!("{kind:?} save: unexpected {outcome:?}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one save of the contested version wins"
    );

    let load = |key: String| {
        let store = store.clone();
        async move { store.load(&key, now).await.expect("load") }
    };
    for (i, saved) in plain.iter().enumerate() {
        let loaded = load(saved.cookie_value.clone()).await.expect("live");
        assert_eq!(
            loaded.record.data,
            data(json!({ "plain": i, "saved": true }))
        );
    }
    let loaded = load(contested.cookie_value.clone()).await.expect("live");
    assert_eq!(loaded.record.data, data(json!({ "n": winners[0] + 1 })));
    let loaded = load(stale.cookie_value.clone()).await.expect("live");
    assert_eq!(loaded.record.data, data(json!({ "stale": 0 })));
    assert!(load(deleted.cookie_value.clone()).await.is_none());
}
