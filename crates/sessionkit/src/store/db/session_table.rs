//! The db engine on one database: everything that is the same whatever the
//! database, written once over a [`DbBackend`].

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::error::StoreError;
use crate::key;
use crate::store::engine::{decode_or_empty, with_fresh_key};
use crate::store::{Loaded, Record, SaveOutcome, Saved, SessionStore, Version};

use super::backend::DbBackend;
use super::error::from_sqlx;
use super::Shared;

/// The engine's name in its errors and log lines.
const ENGINE: &str = "db";
/// Rows deleted per statement by `clear_expired`, so a large purge never
/// holds the write lock for long.
const CLEAR_BATCH: u32 = 1000;

/// Django's `django_session` table on the database behind `B`.
pub(super) struct SessionTable<B> {
    pub(super) backend: B,
    /// The keys and table, shared with the [`DbStore`](super::DbStore)
    /// handles, which set the keys.
    pub(super) shared: Arc<Shared>,
}

impl<B: DbBackend> std::fmt::Debug for SessionTable<B> {
    // No keys, data or secrets: only what identifies the table.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTable")
            .field("backend", &B::NAME)
            .field("table", &self.shared.table.name())
            .finish_non_exhaustive()
    }
}

// Every key-taking call checks the key again: the public store API can be
// called with any string (an admin tool, a query parameter), and MySQL's
// case- and trailing-space-insensitive collations or PostgreSQL's refusal of
// NUL would otherwise reach, or fail on, a real session's row.
#[async_trait]
impl<B: DbBackend> SessionStore for SessionTable<B> {
    fn engine_name(&self) -> &'static str {
        B::NAME
    }

    fn accepts(&self, cookie_value: &str) -> bool {
        key::is_valid_key(cookie_value)
    }

    async fn load(&self, key: &str, now: OffsetDateTime) -> Result<Option<Loaded>, StoreError> {
        if !key::is_valid_key(key) {
            return Ok(None);
        }
        let codec = self.shared.keys.codec(ENGINE)?;
        let Some(row) = self.backend.fetch_live(key, now).await.map_err(from_sqlx)? else {
            return Ok(None);
        };
        let Some(expires_at) = row.expires_at else {
            // Without a readable expiry nothing says the session is still
            // valid: fail closed. The row stays for an operator to inspect.
            tracing::warn!(
                session = %key::log_tag(key),
                table = %self.shared.table.name(),
                "session expire_date unreadable: treating the session as expired"
            );
            return Ok(None);
        };
        // No max_age on the signature: `expire_date` decides, as in Django.
        let data = decode_or_empty(codec, ENGINE, key, &row.data, None, now);
        Ok(Some(Loaded {
            record: Record::new(data, expires_at),
            version: Version::new(row.data),
        }))
    }

    async fn create(&self, record: &Record, now: OffsetDateTime) -> Result<Saved, StoreError> {
        let data = self.shared.keys.codec(ENGINE)?.encode(&record.data, now);
        with_fresh_key(|key| {
            let data = &data;
            async move {
                let inserted = self
                    .backend
                    .insert(&key, data, record.expires_at)
                    .await
                    .map_err(from_sqlx)?;
                Ok(inserted.then(|| Saved {
                    cookie_value: key,
                    version: Version::new(data.clone()),
                }))
            }
        })
        .await
    }

    async fn save(
        &self,
        key: &str,
        record: &Record,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        if !key::is_valid_key(key) {
            return Ok(SaveOutcome::Gone);
        }
        let data = self.shared.keys.codec(ENGINE)?.encode(&record.data, now);
        let written = self
            .backend
            .update_if(key, &data, record.expires_at, expected.as_bytes(), now)
            .await?;
        if written {
            return Ok(SaveOutcome::Saved(Saved {
                cookie_value: key.to_owned(),
                version: Version::new(data),
            }));
        }
        // Only on the rare miss: was it a newer version, or no live row?
        let live = self.backend.is_live(key, now).await.map_err(from_sqlx)?;
        Ok(if live {
            SaveOutcome::Conflict
        } else {
            SaveOutcome::Gone
        })
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        if !key::is_valid_key(key) {
            return Ok(());
        }
        self.backend.delete(key).await.map_err(from_sqlx)
    }

    /// One `DELETE … WHERE session_key = ? AND session_data = ?`: no save can
    /// land between the comparison and the delete. When it deletes nothing,
    /// a live row means a newer version (`false`); none means gone (`true`).
    async fn delete_if(
        &self,
        key: &str,
        expected: &Version,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        if !key::is_valid_key(key) {
            return Ok(true);
        }
        let deleted = self
            .backend
            .delete_if(key, expected.as_bytes())
            .await
            .map_err(from_sqlx)?;
        if deleted {
            return Ok(true);
        }
        let live = self.backend.is_live(key, now).await.map_err(from_sqlx)?;
        Ok(!live)
    }

    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let deleted = self
                .backend
                .clear_expired_batch(now, CLEAR_BATCH)
                .await
                .map_err(from_sqlx)?;
            total += deleted;
            if deleted < u64::from(CLEAR_BATCH) {
                return Ok(total);
            }
        }
    }

    async fn touch(
        &self,
        key: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        if !key::is_valid_key(key) {
            return Ok(false);
        }
        self.backend
            .touch(key, expires_at, now)
            .await
            .map_err(from_sqlx)
    }

    fn attach(&self, config: &crate::config::SessionConfig) {
        self.shared.keys.attach(config);
    }
}
