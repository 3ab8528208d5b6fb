//! A store decorator for layer tests: counts calls and can be switched "down",
//! or made to fail or hang on one kind of call only. It wraps a real engine;
//! only the fault is injected.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sessionkit::store::{Loaded, Record, SaveOutcome, Saved, SessionStore, Version};
use sessionkit::StoreError;
use time::OffsetDateTime;

/// A kind of store call a fault can target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Load,
    Create,
    Save,
    /// `delete` and `delete_if`.
    Delete,
}

/// What a targeted call does instead of reaching the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Answers `StoreError::Unavailable` at once.
    Fail,
    /// Never answers (a half-open connection, a stalled server).
    Hang,
}

#[derive(Debug)]
pub(crate) struct Faulty {
    inner: Arc<dyn SessionStore>,
    down: AtomicBool,
    faults: Mutex<Vec<(Op, Fault)>>,
    calls: AtomicUsize,
}

impl Faulty {
    pub(crate) fn new(inner: Arc<dyn SessionStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            down: AtomicBool::new(false),
            faults: Mutex::new(Vec::new()),
            calls: AtomicUsize::new(0),
        })
    }
    pub(crate) fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
    /// Makes every `op` call do `fault` (`None`: behave again).
    pub(crate) fn set_fault(&self, op: Op, fault: Option<Fault>) {
        let mut faults = self.faults.lock().unwrap();
        faults.retain(|(o, _)| *o != op);
        if let Some(f) = fault {
            faults.push((op, f));
        }
    }
    /// Store calls so far (load, create, save, delete, …).
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    fn unavailable() -> StoreError {
        let e = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        StoreError::Unavailable(Box::new(e))
    }
    async fn check(&self, op: Option<Op>) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(Self::unavailable());
        }
        let fault = op.and_then(|op| {
            let faults = self.faults.lock().unwrap();
            faults.iter().find(|(o, _)| *o == op).map(|(_, f)| *f)
        });
        match fault {
            None => Ok(()),
            Some(Fault::Fail) => Err(Self::unavailable()),
            Some(Fault::Hang) => std::future::pending().await,
        }
    }
}

#[async_trait]
impl SessionStore for Faulty {
    fn accepts(&self, cookie_value: &str) -> bool {
        self.inner.accepts(cookie_value)
    }
    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        self.check(Some(Op::Load)).await?;
        self.inner.load(key, now).await
    }
    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        self.check(Some(Op::Create)).await?;
        self.inner.create(record, now).await
    }
    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        self.check(Some(Op::Save)).await?;
        self.inner.save(key, record, expected, now).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check(Some(Op::Delete)).await?;
        self.inner.delete(key).await
    }
    async fn delete_if(
        &self,
        key: &str,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.check(Some(Op::Delete)).await?;
        self.inner.delete_if(key, expected, now).await
    }
    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.check(None).await?;
        self.inner.clear_expired(now).await
    }
    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.check(None).await?;
        self.inner.touch(key, expires_at, now).await
    }
    fn saves_can_conflict(&self) -> bool {
        self.inner.saves_can_conflict()
    }
    fn attach(&self, config: &sessionkit::SessionConfig) {
        self.inner.attach(config)
    }
    fn engine_name(&self) -> &'static str {
        self.inner.engine_name()
    }
}
