//! A store decorator for layer tests: counts calls and can be switched "down".
//! It wraps a real engine; only the fault is injected.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use sessionkit::store::{Loaded, Record, SaveOutcome, Saved, SessionStore, Version};
use sessionkit::StoreError;
use time::OffsetDateTime;

#[derive(Debug)]
pub(crate) struct Faulty {
    inner: Arc<dyn SessionStore>,
    down: AtomicBool,
    calls: AtomicUsize,
}

impl Faulty {
    pub(crate) fn new(inner: Arc<dyn SessionStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            down: AtomicBool::new(false),
            calls: AtomicUsize::new(0),
        })
    }
    pub(crate) fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
    /// Store calls so far (load, create, save, delete, …).
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    fn check(&self) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            let e =
                std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
            Err(StoreError::Unavailable(Box::new(e)))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl SessionStore for Faulty {
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
}
