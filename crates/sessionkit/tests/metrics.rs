//! The `metrics` feature over HTTP, on SQLite, the in-process engine and
//! `cached_db` (SQLite behind the in-process cache, counted as one engine):
//! what a request does to its session shows in the metrics an application's
//! recorder receives (created, store latency, conflicts and retries, gone,
//! logout, store errors), labelled with the engine.
//!
//! Each test installs its own `DebuggingRecorder` as the thread's recorder
//! and runs on a current-thread runtime, so the app (served in-process by
//! tower's `oneshot`) records into it alone, whatever runs beside it.
#![cfg(all(
    feature = "metrics",
    feature = "sqlite",
    feature = "memory",
    feature = "axum"
))]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::app::{config, stores, Adapter, App, Reply, View};
use common::faulty::{Fault, Faulty, Op};
use common::http::get_with;
use common::interleave::{Before, Interleave};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::MetricKind;
use sessionkit::metrics as names;
use sessionkit::store::memory::MemoryStore;
use sessionkit::{auth, SessionConfig, SessionStore};

/// The engines these tests run on: the store, and the directory it lives in.
#[derive(Clone, Copy, Debug)]
enum Engine {
    Memory,
    Sqlite,
    /// SQLite behind the in-process cache: counted once, as `cached_db`.
    CachedDb,
}

impl Engine {
    const ALL: [Engine; 3] = [Engine::Memory, Engine::Sqlite, Engine::CachedDb];

    async fn open(self, dir: &tempfile::TempDir) -> Arc<dyn SessionStore> {
        match self {
            Engine::Memory => Arc::new(MemoryStore::new()),
            Engine::Sqlite => stores::sqlite(&dir.path().join("m.sqlite3"), &config()).await,
            Engine::CachedDb => {
                let url = format!("sqlite://{}", dir.path().join("c.sqlite3").display());
                let vars = [
                    ("SESSION_ENGINE", "cached_db".to_owned()),
                    ("SESSION_DB_URL", url),
                    ("SESSION_CACHE_URL", "memory://".to_owned()),
                    ("SESSION_CACHE_SINGLE_PROCESS", "true".to_owned()),
                ];
                stores::open(&vars, &config()).await
            }
        }
    }

    fn label(self) -> &'static str {
        match self {
            Engine::Memory => "memory",
            Engine::Sqlite => "sqlite",
            Engine::CachedDb => "cached_db",
        }
    }
}

/// A metric's name and its labels, sorted.
type Id = (String, Vec<(String, String)>);

/// What the recorder received since the last look: counter increments and
/// histogram samples, by name and sorted labels.
#[derive(Debug, Default)]
struct Seen {
    counters: HashMap<Id, u64>,
    samples: HashMap<Id, Vec<f64>>,
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    v.sort();
    v
}

impl Seen {
    fn counter(&self, name: &str, pairs: &[(&str, &str)]) -> u64 {
        let key = (name.to_owned(), labels(pairs));
        self.counters.get(&key).copied().unwrap_or(0)
    }
    /// Samples of the store duration histogram for `op` on `engine`.
    fn durations(&self, op: &str, engine: &str) -> &[f64] {
        let key = (
            names::STORE_DURATION.to_owned(),
            labels(&[("op", op), ("engine", engine)]),
        );
        self.samples.get(&key).map_or(&[], Vec::as_slice)
    }
    /// Every counter that moved, for assertion messages.
    fn moved(&self) -> Vec<String> {
        let mut v: Vec<_> = self
            .counters
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|((name, l), n)| format!("{name}{l:?}={n}"))
            .collect();
        v.sort();
        v
    }
}

/// A recorder of the test's own.
struct Recorded {
    snapshotter: Snapshotter,
}

impl Recorded {
    /// What was recorded since the last call (a snapshot drains counters
    /// and histograms alike).
    fn since(&mut self) -> Seen {
        let mut seen = Seen::default();
        for (key, _, _, value) in self.snapshotter.snapshot().into_vec() {
            let (kind, key) = key.into_parts();
            let pairs: Vec<_> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            let mut pairs = pairs;
            pairs.sort();
            let id = (key.name().to_owned(), pairs);
            match (kind, value) {
                (MetricKind::Counter, DebugValue::Counter(n)) => {
                    seen.counters.insert(id, n);
                }
                (MetricKind::Histogram, DebugValue::Histogram(values)) => {
                    seen.samples
                        .insert(id, values.into_iter().map(|v| v.into_inner()).collect());
                }
                other => panic!("unexpected metric {other:?}"),
            }
        }
        seen
    }
}

/// Runs `test` with a fresh recorder as this thread's.
async fn recorded<F, Fut>(test: F)
where
    F: FnOnce(Recorded) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = metrics::set_default_local_recorder(&recorder);
    test(Recorded { snapshotter }).await;
}

fn counting_app(store: Arc<dyn SessionStore>, config: SessionConfig) -> App {
    let count = View::sync(|s| Ok(Reply::text(s.increment("n", 1)?)));
    let login = View::sync(|s| {
        s.insert("_auth_user_id", "42")?;
        Ok(Reply::text("in"))
    });
    let logout = View::sync(|s| {
        auth::logout(s);
        Ok(Reply::text("out"))
    });
    let routes = vec![("/count", count), ("/login", login), ("/logout", logout)];
    App::serve(Adapter::Axum, store, config, routes)
}

#[tokio::test(flavor = "current_thread")]
async fn a_new_session_counts_created_and_a_create_and_a_returning_one_a_load() {
    for engine in Engine::ALL {
        let dir = tempfile::tempdir().unwrap();
        let store = engine.open(&dir).await;
        recorded(|mut rec| async move {
            let e = engine.label();
            let app = counting_app(store, config());
            let (status, key, _) = get_with(&app, "/count", None).await;
            assert_eq!(status, 200);
            let key = key.expect("a new session");
            let seen = rec.since();
            assert_eq!(
                seen.counter(names::SESSIONS_CREATED, &[("engine", e)]),
                1,
                "{engine:?}: {:?}",
                seen.moved()
            );
            assert_eq!(seen.durations("create", e).len(), 1, "{engine:?}: {seen:?}");
            assert!(seen.durations("create", e)[0] >= 0.0);
            assert!(
                seen.durations("load", e).is_empty(),
                "no key: nothing to load"
            );

            let (status, _, body) = get_with(&app, "/count", Some(&key)).await;
            assert_eq!((status.as_u16(), body.as_str()), (200, "2"));
            let seen = rec.since();
            assert_eq!(seen.durations("load", e).len(), 1, "{engine:?}: {seen:?}");
            assert_eq!(seen.durations("save", e).len(), 1, "{engine:?}: {seen:?}");
            assert_eq!(seen.counter(names::SESSIONS_CREATED, &[("engine", e)]), 0);
            assert_eq!(
                seen.moved(),
                Vec::<String>::new(),
                "{engine:?}: no errors, no conflicts"
            );
        })
        .await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_conflict_counts_a_conflict_and_a_retry_and_running_out_counts_exhausted() {
    for engine in Engine::ALL {
        let dir = tempfile::tempdir().unwrap();
        let store = Interleave::new(engine.open(&dir).await);
        recorded(|mut rec| async move {
            let e = engine.label();
            let mut config = config();
            config.max_save_retries = 2;
            let app = counting_app(store.clone(), config);
            let (_, key, _) = get_with(&app, "/count", None).await;
            let key = key.unwrap();
            rec.since();

            store.once(Before::Save, &key, "other", serde_json::json!("theirs"));
            let (status, _, body) = get_with(&app, "/count", Some(&key)).await;
            assert_eq!((status.as_u16(), body.as_str()), (200, "2"));
            let seen = rec.since();
            assert_eq!(
                seen.counter(names::SAVE_CONFLICTS, &[("engine", e)]),
                1,
                "{engine:?}: {:?}",
                seen.moved()
            );
            assert_eq!(
                seen.counter(names::SAVE_RETRIES, &[("engine", e)]),
                1,
                "{engine:?}"
            );
            assert_eq!(
                seen.counter(names::SAVE_RETRIES_EXHAUSTED, &[("engine", e)]),
                0
            );
            // The request's load, and the reload after the conflict.
            assert_eq!(seen.durations("load", e).len(), 2, "{engine:?}: {seen:?}");
            assert_eq!(seen.durations("save", e).len(), 2, "{engine:?}: {seen:?}");

            store.always(Before::Save, &key, "other");
            let (status, _, _) = get_with(&app, "/count", Some(&key)).await;
            assert_eq!(status, 503);
            let seen = rec.since();
            assert_eq!(
                seen.counter(names::SAVE_CONFLICTS, &[("engine", e)]),
                3,
                "{engine:?}: {:?}",
                seen.moved()
            );
            assert_eq!(
                seen.counter(names::SAVE_RETRIES, &[("engine", e)]),
                2,
                "{engine:?}"
            );
            assert_eq!(
                seen.counter(names::SAVE_RETRIES_EXHAUSTED, &[("engine", e)]),
                1,
                "{engine:?}"
            );
        })
        .await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_session_deleted_during_the_request_counts_gone() {
    for engine in Engine::ALL {
        let dir = tempfile::tempdir().unwrap();
        let store = engine.open(&dir).await;
        recorded(|mut rec| async move {
            let e = engine.label();
            let other_tab = store.clone();
            // Another tab logs out while this request runs.
            let deleting = View::new(move |s| {
                let other_tab = other_tab.clone();
                async move {
                    let key = s.session_key().expect("a loaded session");
                    other_tab.delete(&key).await.unwrap();
                    s.increment("n", 1)?;
                    Ok(Reply::text("late"))
                }
            });
            let count = View::sync(|s| Ok(Reply::text(s.increment("n", 1)?)));
            let app = App::serve(
                Adapter::Axum,
                store,
                config(),
                vec![("/count", count), ("/deleting", deleting)],
            );
            let (_, key, _) = get_with(&app, "/count", None).await;
            rec.since();
            let (status, cookie, _) = get_with(&app, "/deleting", key.as_deref()).await;
            assert_eq!((status.as_u16(), cookie), (400, None));
            let seen = rec.since();
            assert_eq!(
                seen.counter(names::SESSIONS_GONE, &[("engine", e)]),
                1,
                "{engine:?}: {:?}",
                seen.moved()
            );
            assert_eq!(
                seen.counter(names::SESSIONS_CREATED, &[("engine", e)]),
                0,
                "not recreated"
            );
        })
        .await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_logout_counts_a_deleted_session() {
    for engine in Engine::ALL {
        let dir = tempfile::tempdir().unwrap();
        let store = engine.open(&dir).await;
        recorded(|mut rec| async move {
            let e = engine.label();
            let app = counting_app(store, config());
            let (_, key, _) = get_with(&app, "/login", None).await;
            rec.since();
            let (status, _, _) = get_with(&app, "/logout", key.as_deref()).await;
            assert_eq!(status, 200);
            let seen = rec.since();
            assert_eq!(
                seen.counter(names::SESSIONS_DELETED, &[("engine", e)]),
                1,
                "{engine:?}: {:?}",
                seen.moved()
            );
            assert_eq!(seen.durations("delete", e).len(), 1, "{engine:?}: {seen:?}");
        })
        .await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_store_outage_counts_an_error_and_a_timeout_its_own_kind() {
    for engine in Engine::ALL {
        let dir = tempfile::tempdir().unwrap();
        let store = Faulty::new(engine.open(&dir).await);
        recorded(|mut rec| async move {
            let e = engine.label();
            let mut config = config();
            config.store_timeout = Duration::from_millis(100);
            let app = counting_app(store.clone(), config);
            let (_, key, _) = get_with(&app, "/count", None).await;
            rec.since();

            store.set_fault(Op::Load, Some(Fault::Fail));
            let (status, _, _) = get_with(&app, "/count", key.as_deref()).await;
            assert_eq!(status, 503);
            let seen = rec.since();
            let unavailable = [("op", "load"), ("engine", e), ("kind", "unavailable")];
            assert_eq!(
                seen.counter(names::STORE_ERRORS, &unavailable),
                1,
                "{engine:?}: {:?}",
                seen.moved()
            );
            assert_eq!(
                seen.durations("load", e).len(),
                1,
                "a failed call is timed too"
            );

            store.set_fault(Op::Load, Some(Fault::Hang));
            let (status, _, _) = get_with(&app, "/count", key.as_deref()).await;
            assert_eq!(status, 503);
            let seen = rec.since();
            let timeout = [("op", "load"), ("engine", e), ("kind", "timeout")];
            assert_eq!(
                seen.counter(names::STORE_ERRORS, &timeout),
                1,
                "{engine:?}: {:?}",
                seen.moved()
            );
            assert_eq!(seen.counter(names::STORE_ERRORS, &unavailable), 0);
            assert_eq!(
                seen.durations("load", e),
                [0.1],
                "a timed-out call counts its deadline"
            );

            store.set_fault(Op::Load, None);
            store.set_fault(Op::Save, Some(Fault::Fail));
            let (status, _, _) = get_with(&app, "/count", key.as_deref()).await;
            assert_eq!(status, 503);
            let seen = rec.since();
            let save_failed = [("op", "save"), ("engine", e), ("kind", "unavailable")];
            assert_eq!(
                seen.counter(names::STORE_ERRORS, &save_failed),
                1,
                "{engine:?}: {:?}",
                seen.moved()
            );
        })
        .await;
    }
}

/// The Redis engine behind a TCP proxy the test cuts: a real outage, not an
/// injected error, shows as load errors of the `redis` engine.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "current_thread")]
async fn a_redis_outage_counts_load_errors() {
    use common::proxy::Proxy;
    use common::services::{available, host_port, redis_url, unique};

    if !available("Redis", &redis_url()).await {
        return;
    }
    let prefix = unique("sk_metrics");
    let proxy = Proxy::start(&host_port(&redis_url())).await;
    let store: Arc<dyn SessionStore> =
        Arc::new(common::redis::store_through(&proxy, &prefix).await);
    recorded(|mut rec| async move {
        let mut config = config();
        config.store_timeout = Duration::from_secs(2);
        let app = counting_app(store, config);
        let (_, key, _) = get_with(&app, "/count", None).await;
        let seen = rec.since();
        assert_eq!(
            seen.counter(names::SESSIONS_CREATED, &[("engine", "redis")]),
            1,
            "{:?}",
            seen.moved()
        );

        proxy.cut();
        let (status, _, _) = get_with(&app, "/count", key.as_deref()).await;
        assert_eq!(status, 503);
        let seen = rec.since();
        let errors: u64 = ["unavailable", "timeout", "error"]
            .iter()
            .map(|kind| {
                seen.counter(
                    names::STORE_ERRORS,
                    &[("op", "load"), ("engine", "redis"), ("kind", kind)],
                )
            })
            .sum();
        assert_eq!(errors, 1, "{:?}", seen.moved());
        assert_eq!(seen.durations("load", "redis").len(), 1, "{seen:?}");
        proxy.restore();
        common::redis::purge(&prefix).await;
    })
    .await;
}
