//! A `cached_db` store over SQLite whose in-process cache can fail or
//! stall on demand ([`FaultyCache`]), with handles on both sides ([`Rig`]).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sessionkit::store::cached_db::{CacheEntry, CachedDbStore, MemoryCache, SessionCache};
use sessionkit::store::{Record, SessionStore, Version};
use sessionkit::{SessionConfig, StoreError};
use tempfile::TempDir;
use time::OffsetDateTime;
use tokio::sync::oneshot;

use super::cached_db::sqlite;
use super::faulty::Faulty;

/// A real [`MemoryCache`] with faults injected: counts calls, can fail every
/// call or only writes and deletes, and can hold the next `set` until told.
#[derive(Debug, Default)]
pub(crate) struct FaultyCache {
    /// The real cache behind the faults.
    pub(crate) inner: MemoryCache,
    down: AtomicBool,
    writes_fail: AtomicBool,
    calls: AtomicUsize,
    gate: Mutex<Option<Gate>>,
    attached: AtomicBool,
}

#[derive(Debug)]
struct Gate {
    entered: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

impl FaultyCache {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub(crate) fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub(crate) fn set_writes_fail(&self, fail: bool) {
        self.writes_fail.store(fail, Ordering::SeqCst);
    }

    /// How many calls reached the cache.
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Whether the store in front of it passed the layer's settings on.
    pub(crate) fn attached(&self) -> bool {
        self.attached.load(Ordering::SeqCst)
    }

    /// The next `set` waits for `release`; `entered` fires when it starts.
    pub(crate) fn hold_next_set(&self) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
        let (entered_tx, entered_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        *self.gate.lock().unwrap() = Some(Gate {
            entered: entered_tx,
            release: release_rx,
        });
        (entered_rx, release_tx)
    }

    fn check(&self, write: bool) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let failing =
            self.down.load(Ordering::SeqCst) || (write && self.writes_fail.load(Ordering::SeqCst));
        if failing {
            let e = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cache gone");
            Err(StoreError::Unavailable(Box::new(e)))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl SessionCache for FaultyCache {
    async fn get(&self, key: &str, now: OffsetDateTime) -> Result<Option<CacheEntry>, StoreError> {
        self.check(false)?;
        self.inner.get(key, now).await
    }
    async fn set(
        &self,
        key: &str,
        record: &Record,
        db_version: &Version,
        now: OffsetDateTime,
        max_age: std::time::Duration,
    ) -> Result<(), StoreError> {
        let gate = self.gate.lock().unwrap().take();
        if let Some(gate) = gate {
            let _ = gate.entered.send(());
            let _ = gate.release.await;
        }
        self.check(true)?;
        self.inner.set(key, record, db_version, now, max_age).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check(true)?;
        self.inner.delete(key).await
    }
    fn attach(&self, config: &SessionConfig) {
        let _ = config;
        self.attached.store(true, Ordering::SeqCst);
    }
}

/// A cached store over a fresh SQLite file, with handles on both sides.
pub(crate) struct Rig {
    _dir: TempDir,
    pub(crate) cache: Arc<FaultyCache>,
    pub(crate) db: Arc<Faulty>,
    /// The same database without the cache: a write "behind the cache's back".
    pub(crate) plain: Arc<dyn SessionStore>,
    pub(crate) store: CachedDbStore,
}

/// A [`Rig`] on a fresh SQLite file.
pub(crate) async fn rig() -> Rig {
    let dir = TempDir::new().unwrap();
    let plain = sqlite(&dir).await;
    let db = Faulty::new(plain.clone());
    let cache = FaultyCache::new();
    let store = CachedDbStore::new(cache.clone(), db.clone());
    Rig {
        _dir: dir,
        cache,
        db,
        plain,
        store,
    }
}
