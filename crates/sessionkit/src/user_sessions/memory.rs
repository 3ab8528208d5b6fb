//! [`MemoryIndex`]: the index in process memory, for the in-process engine,
//! one-process deployments and tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::StoreError;

use super::index::live;
use super::{IndexEntry, SessionIndex};

/// entries by user, then by public id.
type Users = HashMap<String, HashMap<String, IndexEntry>>;

/// The index in this process's memory. Cheap to clone; clones share entries.
///
/// Lost on restart and not seen by other processes: pair it with the
/// in-process session engine (`MemoryStore`), or a single process.
#[derive(Clone, Debug, Default)]
pub struct MemoryIndex {
    users: Arc<Mutex<Users>>,
}

impl MemoryIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    fn users(&self) -> MutexGuard<'_, Users> {
        // Every change is one map operation: a poisoned lock holds whole data.
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl SessionIndex for MemoryIndex {
    async fn put(&self, entry: &IndexEntry) -> Result<(), StoreError> {
        self.users()
            .entry(entry.user_id.clone())
            .or_default()
            .insert(entry.id.clone(), entry.clone());
        Ok(())
    }

    async fn get(
        &self,
        user_id: &str,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<IndexEntry>, StoreError> {
        Ok(self
            .users()
            .get(user_id)
            .and_then(|m| m.get(id))
            .filter(|e| live(e.expires_at, now))
            .cloned())
    }

    async fn list(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<IndexEntry>, StoreError> {
        Ok(self
            .users()
            .get(user_id)
            .map(|m| {
                m.values()
                    .filter(|e| live(e.expires_at, now))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn seen(
        &self,
        user_id: &str,
        id: &str,
        last_seen: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut users = self.users();
        match users.get_mut(user_id).and_then(|m| m.get_mut(id)) {
            Some(e) => {
                e.last_seen = last_seen;
                e.expires_at = expires_at;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn remove(&self, user_id: &str, id: &str) -> Result<(), StoreError> {
        let mut users = self.users();
        if let Some(m) = users.get_mut(user_id) {
            m.remove(id);
            if m.is_empty() {
                users.remove(user_id);
            }
        }
        Ok(())
    }

    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let mut users = self.users();
        let mut gone = 0;
        users.retain(|_, m| {
            let before = m.len();
            m.retain(|_, e| live(e.expires_at, now));
            gone += (before - m.len()) as u64;
            !m.is_empty()
        });
        Ok(gone)
    }
}
