//! A store decorator for races that timing cannot pin down: just before
//! this request's save (or delete) of an armed session reaches the real
//! engine, "another request" loads that session, sets one key and saves it
//! with compare-and-set, landing exactly between this request's load and
//! its write.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;
use sessionkit::store::{Loaded, Record, SaveOutcome, Saved, SessionStore, Version};
use sessionkit::{SessionConfig, StoreError};
use time::OffsetDateTime;

/// The call the other request's write goes before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Before {
    Save,
    /// `delete` and `delete_if`.
    Delete,
}

#[derive(Debug)]
struct Plan {
    before: Before,
    session: String,
    key: String,
    value: Value,
    /// Writes still to make; `usize::MAX`: every time.
    times: usize,
    /// Writes made so far, to make each one a new version.
    made: u64,
}

#[derive(Debug)]
pub(crate) struct Interleave {
    inner: Arc<dyn SessionStore>,
    plan: Mutex<Option<Plan>>,
}

impl Interleave {
    pub(crate) fn new(inner: Arc<dyn SessionStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            plan: Mutex::new(None),
        })
    }

    /// Before the next `before` call on `session`, another request sets
    /// `key = value`.
    pub(crate) fn once(&self, before: Before, session: &str, key: &str, value: Value) {
        self.arm(before, session, key, value, 1);
    }

    /// Before every `before` call on `session`, another request sets `key`
    /// (to a new number each time): this request's saves always conflict.
    pub(crate) fn always(&self, before: Before, session: &str, key: &str) {
        self.arm(before, session, key, Value::Null, usize::MAX);
    }

    fn arm(&self, before: Before, session: &str, key: &str, value: Value, times: usize) {
        *self.plan.lock().unwrap() = Some(Plan {
            before,
            session: session.to_owned(),
            key: key.to_owned(),
            value,
            times,
            made: 0,
        });
    }

    /// The other request: load, change one key, compare-and-set save.
    async fn interleave(&self, before: Before, session: &str) {
        let write = {
            let mut plan = self.plan.lock().unwrap();
            match plan.as_mut() {
                Some(p) if p.before == before && p.session == session && p.times > 0 => {
                    if p.times != usize::MAX {
                        p.times -= 1;
                    }
                    p.made += 1;
                    let value = match &p.value {
                        Value::Null => Value::from(p.made),
                        v => v.clone(),
                    };
                    Some((p.key.clone(), value))
                }
                _ => None,
            }
        };
        let Some((key, value)) = write else {
            return;
        };
        let now = OffsetDateTime::now_utc();
        let loaded = self.inner.load(session, now).await.unwrap().unwrap();
        let mut data = loaded.record.data;
        data.insert(key, value);
        let record = Record::new(data, loaded.record.expires_at);
        let outcome = self
            .inner
            .save(session, &record, &loaded.version, now)
            .await
            .unwrap();
        assert!(matches!(outcome, SaveOutcome::Saved(_)), "{outcome:?}");
    }
}

#[async_trait]
impl SessionStore for Interleave {
    fn accepts(&self, cookie_value: &str) -> bool {
        self.inner.accepts(cookie_value)
    }
    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        self.inner.load(key, now).await
    }
    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        self.inner.create(record, now).await
    }
    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        self.interleave(Before::Save, key).await;
        self.inner.save(key, record, expected, now).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.interleave(Before::Delete, key).await;
        self.inner.delete(key).await
    }
    async fn delete_if(
        &self,
        key: &str,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.interleave(Before::Delete, key).await;
        self.inner.delete_if(key, expected, now).await
    }
    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.inner.clear_expired(now).await
    }
    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.inner.touch(key, expires_at, now).await
    }
    fn saves_can_conflict(&self) -> bool {
        self.inner.saves_can_conflict()
    }
    fn attach(&self, config: &SessionConfig) {
        self.inner.attach(config)
    }
    fn engine_name(&self) -> &'static str {
        self.inner.engine_name()
    }
}
