//! Property tests of whole sessions (issue 11, F10): random rounds of 1–4
//! concurrent requests of one browser, through two layers ("processes") on
//! one store, with increments, other keys, `cycle_key`, `flush`, expiry
//! changes, stale and client-chosen cookies, and a store that fails at random.
//!
//! Checked after every case, against a model of the browser's cookie jar:
//! - the counter equals the number of increments answered 2xx on the jar's
//!   session (an increment that landed on a fresh session, because its key
//!   was gone by then, is another session and is not counted);
//! - a key whose `flush` was answered 2xx never loads again;
//! - a key the client chose (unknown or flushed) is never issued;
//! - nothing panics (a panic in a request fails the case).
//!
//! Faults fail a store call *before* it reaches the store, so a failed call
//! changed nothing and the count is exact. Interleavings come from
//! `yield_now` points in the handler, on a current-thread runtime, so a
//! memory-store case replays the same way when proptest shrinks it.
#![cfg(all(feature = "sqlite", feature = "memory", feature = "axum"))]

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode, Uri};
use axum::routing::get;
use axum::Router;
use proptest::prelude::*;
use sessionkit::store::db::DbStore;
use sessionkit::store::memory::MemoryStore;
use sessionkit::store::{Loaded, Record, SaveOutcome, Saved, SessionStore, Version};
use sessionkit::{Expiry, Session, SessionConfig, SessionError, SessionLayer, StoreError};
use time::OffsetDateTime;
use tower::ServiceExt;

// ---------------------------------------------------------------- the store

/// Wraps a real store and fails the calls its schedule marks, before they
/// reach the store. Switched off for the final checks.
#[derive(Debug)]
struct Flaky {
    inner: Arc<dyn SessionStore>,
    schedule: Vec<bool>,
    next: AtomicUsize,
    on: AtomicBool,
}

impl Flaky {
    fn check(&self) -> Result<(), StoreError> {
        let i = self.next.fetch_add(1, Ordering::SeqCst);
        let fail = self.on.load(Ordering::SeqCst)
            && !self.schedule.is_empty()
            && self.schedule[i % self.schedule.len()];
        if fail {
            let e = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected fault");
            Err(StoreError::Unavailable(Box::new(e)))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl SessionStore for Flaky {
    fn accepts(&self, cookie_value: &str) -> bool {
        self.inner.accepts(cookie_value)
    }
    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        self.check()?;
        self.inner.load(key, now).await
    }
    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        self.check()?;
        self.inner.create(record, now).await
    }
    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        self.check()?;
        self.inner.save(key, record, expected, now).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.delete(key).await
    }
    async fn delete_if(
        &self,
        key: &str,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.delete_if(key, expected, now).await
    }
    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.check()?;
        self.inner.clear_expired(now).await
    }
    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.touch(key, expires_at, now).await
    }
    fn saves_can_conflict(&self) -> bool {
        self.inner.saves_can_conflict()
    }
    fn attach(&self, config: &sessionkit::SessionConfig) {
        self.inner.attach(config)
    }
}

// ------------------------------------------------------------------ the app

/// What one request does to its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Inc,
    Read,
    Put(u8),
    Del(u8),
    Expiry,
    Cycle,
    Flush,
}

impl Op {
    fn query(self) -> String {
        match self {
            Op::Inc => "inc".into(),
            Op::Read => "read".into(),
            Op::Put(k) => format!("put{k}"),
            Op::Del(k) => format!("del{k}"),
            Op::Expiry => "expiry".into(),
            Op::Cycle => "cycle".into(),
            Op::Flush => "flush".into(),
        }
    }
}

/// `/?<op>&<yields before>&<yields after>`: yields let the other requests of
/// the round load, or save, in between.
async fn handle(session: Session, uri: Uri) -> Result<String, SessionError> {
    let query = uri.query().unwrap_or_default().to_owned();
    let mut parts = query.split('&');
    let op = parts.next().unwrap_or_default().to_owned();
    let before: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let after: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    for _ in 0..before {
        tokio::task::yield_now().await;
    }
    match op.as_str() {
        "inc" => {
            session.increment("n", 1)?;
        }
        "expiry" => session.set_expiry(Expiry::Seconds(3600)),
        "cycle" => session.cycle_key(),
        "flush" => session.flush(),
        "read" => {}
        other if other.starts_with("put") => session.insert(other[3..].to_owned(), &true)?,
        other if other.starts_with("del") => {
            session.remove(&other[3..]);
        }
        other => panic!("unknown op {other}"),
    }
    for _ in 0..after {
        tokio::task::yield_now().await;
    }
    Ok(session.get::<i64>("n")?.unwrap_or(0).to_string())
}

fn app(store: Arc<dyn SessionStore>) -> Router {
    let config = SessionConfig::new(common::SECRET).expect("a valid config");
    Router::new()
        .route("/", get(handle))
        .layer(SessionLayer::from_arc(store, config))
}

/// What came back: status, the `sessionid` value set (`Some("")` for a
/// deletion), and the body.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    set: Option<String>,
    body: String,
}

async fn send(app: Router, uri: String, cookie: Option<String>) -> Reply {
    let mut req = Request::get(uri);
    if let Some(c) = cookie {
        req = req.header("cookie", format!("sessionid={c}"));
    }
    let res = app
        .oneshot(req.body(Body::empty()).expect("a request"))
        .await
        .expect("infallible");
    let status = res.status();
    let set = res.headers().get("set-cookie").map(|v| {
        let text = v.to_str().expect("ASCII");
        let value = text.strip_prefix("sessionid=").expect("the session cookie");
        let value = value.split(';').next().unwrap_or_default();
        if value == "\"\"" { "" } else { value }.to_owned()
    });
    let body = axum::body::to_bytes(res.into_body(), 1 << 16)
        .await
        .expect("a body");
    Reply {
        status,
        set,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

// ---------------------------------------------------------------- the model

/// Which cookie a request sends.
#[derive(Clone, Debug)]
enum Cookie {
    /// The browser's current one.
    Jar,
    /// A well-formed key nobody issued.
    Unknown(String),
    /// A key flushed earlier (an unknown one when none was).
    Flushed(String),
}

#[derive(Clone, Debug)]
struct Req {
    op: Op,
    cookie: Cookie,
    process: usize,
    before: u8,
    after: u8,
}

/// Which session-ending operations a property mixes in.
#[derive(Clone, Copy, Debug)]
enum Mix {
    /// Increments, other keys, expiry changes.
    Plain,
    /// Plus `flush` (logout).
    Flush,
    /// Plus `flush` and `cycle_key` (login).
    CycleAndFlush,
}

fn op(mix: Mix) -> BoxedStrategy<Op> {
    let base = prop_oneof![
        6 => Just(Op::Inc),
        2 => Just(Op::Read),
        1 => (0u8..3).prop_map(Op::Put),
        1 => (0u8..3).prop_map(Op::Del),
        1 => Just(Op::Expiry),
    ];
    match mix {
        Mix::Plain => base.boxed(),
        Mix::Flush => prop_oneof![10 => base, 1 => Just(Op::Flush)].boxed(),
        Mix::CycleAndFlush => {
            prop_oneof![10 => base, 1 => Just(Op::Cycle), 1 => Just(Op::Flush)].boxed()
        }
    }
}

fn req(mix: Mix) -> impl Strategy<Value = Req> {
    let cookie = prop_oneof![
        8 => Just(Cookie::Jar),
        1 => "[a-z0-9]{32}".prop_map(Cookie::Unknown),
        1 => "[a-z0-9]{32}".prop_map(Cookie::Flushed),
    ];
    (op(mix), cookie, 0usize..2, 0u8..3, 0u8..3).prop_map(|(op, cookie, process, before, after)| {
        Req {
            op,
            cookie,
            process,
            before,
            after,
        }
    })
}

/// Rounds of 1–4 concurrent requests; at most one `cycle_key` or `flush` per
/// round (two would fork the session, which no browser can follow).
fn rounds(mix: Mix) -> impl Strategy<Value = Vec<Vec<Req>>> {
    prop::collection::vec(prop::collection::vec(req(mix), 1..=4), 1..=8).prop_map(|mut rounds| {
        for round in &mut rounds {
            let mut seen = false;
            for r in round.iter_mut() {
                if matches!(r.op, Op::Cycle | Op::Flush) {
                    if seen {
                        r.op = Op::Inc;
                    }
                    seen = true;
                }
            }
        }
        rounds
    })
}

/// The browser and what the server owes it.
#[derive(Default)]
struct Browser {
    jar: Option<String>,
    /// 2xx increments on the jar's session since it began.
    count: i64,
    flushed: Vec<String>,
    /// Every round's requests and replies, shown when a property fails.
    trace: String,
}

/// Runs one case; `Err` is a property violation (proptest shrinks it).
async fn run_case(
    stores: [Arc<dyn SessionStore>; 2],
    flaky: [Arc<Flaky>; 2],
    rounds: Vec<Vec<Req>>,
) -> Result<(), TestCaseError> {
    let apps = [app(flaky[0].clone()), app(flaky[1].clone())];
    let mut b = Browser::default();
    for mut round in rounds {
        if b.jar.is_none() {
            // A browser without a cookie sends one request at a time.
            round.truncate(1);
            round[0].cookie = Cookie::Jar;
        }
        let start = b.jar.clone();
        let mut tasks = Vec::new();
        for r in &round {
            let cookie = match &r.cookie {
                Cookie::Jar => start.clone(),
                Cookie::Unknown(k) => Some(k.clone()),
                Cookie::Flushed(k) => Some(b.flushed.last().cloned().unwrap_or(k.clone())),
            };
            let uri = format!("/?{}&{}&{}", r.op.query(), r.before, r.after);
            let app = apps[r.process].clone();
            let sent = cookie.clone();
            tasks.push(tokio::spawn(
                async move { (sent, send(app, uri, cookie).await) },
            ));
        }
        let mut replies = Vec::new();
        for t in tasks {
            replies.push(
                t.await
                    .map_err(|e| TestCaseError::fail(format!("panic: {e}")))?,
            );
        }
        b.trace.push_str(&format!("round from {start:?}:\n"));
        for (r, (sent, reply)) in round.iter().zip(&replies) {
            b.trace
                .push_str(&format!("  {r:?} sent {sent:?} -> {reply:?}\n"));
        }
        let mut next_jar = start.clone();
        let mut flushed = false;
        for (r, (sent, reply)) in round.iter().zip(&replies) {
            let ok = reply.status.is_success();
            // Never adopt a key the client chose.
            if let (Some(sent), Some(set)) = (sent, &reply.set) {
                if !matches!(r.cookie, Cookie::Jar) {
                    prop_assert_ne!(set, sent, "issued a client-chosen key: {:?}", r);
                }
            }
            if let Some(set) = &reply.set {
                prop_assert!(
                    set.is_empty() || !b.flushed.contains(set),
                    "re-issued a flushed key: {:?} -> {:?}",
                    r,
                    reply
                );
            }
            if !matches!(r.cookie, Cookie::Jar) || !ok {
                continue;
            }
            match (&start, r.op) {
                (None, _) => {
                    // The first request: whatever it issued starts the session.
                    if let Some(set) = reply.set.as_ref().filter(|s| !s.is_empty()) {
                        next_jar = Some(set.clone());
                        b.count = i64::from(r.op == Op::Inc);
                    }
                }
                // Counted only on the jar's session: an increment whose key
                // was gone by then started a fresh one.
                (Some(jar), Op::Inc) if reply.set.as_deref() == Some(jar.as_str()) => {
                    b.count += 1;
                }
                (Some(_), Op::Cycle) => {
                    if let Some(set) = reply.set.as_ref().filter(|s| !s.is_empty()) {
                        next_jar = Some(set.clone());
                    }
                }
                (Some(_), Op::Flush) => flushed = true,
                _ => {}
            }
        }
        if flushed {
            b.flushed.extend(start.clone());
            next_jar = None;
            b.count = 0;
        }
        b.jar = next_jar;
        // A flushed key never loads again (checked with the faults off).
        let now = OffsetDateTime::now_utc();
        for key in &b.flushed {
            let loaded = stores[0].load(key, now).await.expect("the real store");
            prop_assert!(
                loaded.is_none(),
                "a flushed key loads again; the rounds:\n{}",
                b.trace
            );
        }
    }
    for f in &flaky {
        f.on.store(false, Ordering::SeqCst);
    }
    let n = match &b.jar {
        Some(jar) => {
            let reply = send(apps[0].clone(), "/?read".into(), Some(jar.clone())).await;
            prop_assert_eq!(reply.status, StatusCode::OK);
            prop_assert!(reply.set.is_none() || reply.set.as_deref() == Some(jar.as_str()));
            reply.body.parse::<i64>().expect("a count")
        }
        None => 0,
    };
    prop_assert_eq!(
        n,
        b.count,
        "final count != 2xx increments; the rounds:\n{}",
        b.trace
    );
    Ok(())
}

fn flaky(inner: Arc<dyn SessionStore>, schedule: &[bool]) -> Arc<Flaky> {
    Arc::new(Flaky {
        inner,
        schedule: schedule.to_vec(),
        next: AtomicUsize::new(0),
        on: AtomicBool::new(true),
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn memory_case(rounds: Vec<Vec<Req>>, faults: Vec<bool>) -> Result<(), TestCaseError> {
    runtime().block_on(async {
        // Two handles on one cache: two processes, each with its own layer.
        let store = MemoryStore::new();
        let stores: [Arc<dyn SessionStore>; 2] = [Arc::new(store.clone()), Arc::new(store)];
        let flakies = [
            flaky(stores[0].clone(), &faults),
            flaky(stores[1].clone(), &faults),
        ];
        run_case(stores, flakies, rounds).await
    })
}

fn sqlite_case(rounds: Vec<Vec<Req>>, faults: Vec<bool>) -> Result<(), TestCaseError> {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("a temp dir");
        let url = format!("sqlite://{}", dir.path().join("p.sqlite3").display());
        let open = || async {
            let store = DbStore::sqlite(&url, common::codec())
                .await
                .expect("sqlite");
            Arc::new(store) as Arc<dyn SessionStore>
        };
        let stores = [open().await, open().await];
        let flakies = [
            flaky(stores[0].clone(), &faults),
            flaky(stores[1].clone(), &faults),
        ];
        run_case(stores, flakies, rounds).await
    })
}

/// Fault schedules: mostly healthy, sometimes a burst.
fn faults() -> impl Strategy<Value = Vec<bool>> {
    prop::collection::vec(prop::bool::weighted(0.15), 1..24)
}

// Why the `cycle_key` properties are ignored on this branch: they fail on
// the base code, as the security review's L7 (a) predicts. `cycle_key`
// deletes the old key without compare-and-set, so an increment answered 2xx
// on the old key between the copy and the delete is lost (minimal case:
// round 1 `Inc`; round 2 `Cycle` (yields after) ‖ `Inc`: final count 1, 2xx
// increments 2). Un-ignore them once the L7 fix is merged.
//
// The logout properties *with faults* fail on the base code as M5 predicts:
// a `flush` whose delete fails is still answered 2xx and the old key keeps
// loading (minimal case: `Inc`; `Inc` → 503; `Flush` with its delete failing
// → 200, the key still loads). Un-ignore them once the M5 fix is merged.

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Conflicts, other keys and expiry changes, no store faults: every 2xx
    /// increment is kept, exactly once.
    #[test]
    fn memory_counts_every_2xx_increment(rounds in rounds(Mix::Plain)) {
        memory_case(rounds, vec![false])?;
    }

    /// The same with a store that fails at random: failed requests change
    /// nothing, so the count stays exact.
    #[test]
    fn memory_counts_every_2xx_increment_under_faults(
        rounds in rounds(Mix::Plain),
        faults in faults(),
    ) {
        memory_case(rounds, faults)?;
    }

    /// Logouts racing increments: a logout answered 2xx is final.
    #[test]
    fn memory_flush(rounds in rounds(Mix::Flush)) {
        memory_case(rounds, vec![false])?;
    }

    /// The same with faults.
    #[test]
    fn memory_flush_under_faults(rounds in rounds(Mix::Flush), faults in faults()) {
        memory_case(rounds, faults)?;
    }

    /// Logins (`cycle_key`) and logouts racing increments, with faults.
    #[test]
    fn memory_cycle_and_flush_under_faults(
        rounds in rounds(Mix::CycleAndFlush),
        faults in faults(),
    ) {
        memory_case(rounds, faults)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// SQLite, two stores on one file (two processes), logouts.
    #[test]
    fn sqlite_flush(rounds in rounds(Mix::Flush)) {
        sqlite_case(rounds, vec![false])?;
    }

    /// SQLite with logins and faults too.
    #[test]
    fn sqlite_cycle_and_flush_under_faults(
        rounds in rounds(Mix::CycleAndFlush),
        faults in faults(),
    ) {
        sqlite_case(rounds, faults)?;
    }
}
