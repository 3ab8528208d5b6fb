//! One engine's test bed: its own database (or directory), the settings both
//! sides share, Django's tables, and helpers to reach the store from each side.

use std::sync::Arc;

use serde_json::{json, Value};
use sessionkit::error::StoreError;
use sessionkit::{SessionConfig, SessionStore, StoreConfig};
use time::OffsetDateTime;

use crate::app::{describe_map, RustApp, Users};
use crate::database::{DbKind, TestDatabase};
use crate::django::{Django, DjangoServer, Settings};
use crate::skip;

/// The secret both sides sign with (a strong one: no weak-key warnings).
pub const SECRET: &str = "interop-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ";
/// The previous secret, for key rotation.
pub const OLD_SECRET: &str = "interop-old-secret-before-rotation-!@#%^&*()-0123456789-abcdefghij";

/// An engine, and for `db` the database server, as a test file names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `db` on SQLite.
    DbSqlite,
    /// `db` on PostgreSQL.
    DbPostgres,
    /// `db` on MySQL/MariaDB.
    DbMysql,
    /// `file`, in a temp directory.
    File,
    /// `signed_cookies`.
    SignedCookies,
}

impl Backend {
    /// Django's short `SESSION_ENGINE` name.
    pub fn engine(self) -> &'static str {
        match self {
            Self::DbSqlite | Self::DbPostgres | Self::DbMysql => "db",
            Self::File => "file",
            Self::SignedCookies => "signed_cookies",
        }
    }

    /// Whether sessions live in `django_session`.
    pub fn is_db(self) -> bool {
        self.engine() == "db"
    }

    /// Whether the server keeps a copy that a flush or cycle can delete.
    pub fn has_server_copy(self) -> bool {
        self != Self::SignedCookies
    }
}

/// Who creates `django_session` first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableOrder {
    /// `manage.py migrate`, then sessionkit opens the existing table.
    DjangoFirst,
    /// sessionkit creates `django_session`, then `manage.py migrate
    /// --fake-initial` records Django's migration without re-creating it.
    SessionkitFirst,
}

/// One engine's test bed. Fields drop in order: the database last.
#[derive(Debug)]
pub struct Harness {
    /// The engine under test.
    pub backend: Backend,
    /// The Django project.
    pub django: Django,
    /// Django's users as the Rust app knows them.
    pub users: Users,
    settings: Settings,
    _db: TestDatabase,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// Sets the bed up, or returns `None` after printing why it is skipped
    /// (no venv, no server, or an engine sessionkit does not serve yet).
    pub async fn new(backend: Backend, order: TableOrder) -> Option<Self> {
        Self::with_settings(backend, order, &[]).await
    }

    /// [`Harness::new`] with more settings for both sides (`SESSION_*` by
    /// Django's names).
    pub async fn with_settings(
        backend: Backend,
        order: TableOrder,
        extra: &[(&str, &str)],
    ) -> Option<Self> {
        let django = Django::find()?;
        let dir = tempfile::tempdir().expect("a temp dir");
        // Django's own tables (auth, …) live in the session database for
        // `db`, in SQLite for the other engines.
        let db = match backend {
            Backend::DbPostgres => TestDatabase::create(DbKind::Postgres).await?,
            Backend::DbMysql => TestDatabase::create(DbKind::Mysql).await?,
            _ => TestDatabase::sqlite(dir.path()),
        };
        let mut settings = Settings::default()
            .with_keys(SECRET, &[])
            .with("SESSION_ENGINE", backend.engine())
            .with("DATABASE_URL", db.django_url())
            .with("SESSION_DB_URL", db.url());
        if backend == Backend::File {
            let sessions = dir.path().join("sessions");
            std::fs::create_dir(&sessions).expect("a sessions directory");
            settings = settings.with("SESSION_FILE_PATH", sessions.display().to_string());
        }
        for (name, value) in extra {
            settings = settings.with(name, *value);
        }
        let harness = Self {
            backend,
            django,
            users: Users::default(),
            settings,
            _db: db,
            _dir: dir,
        };
        // Django migrates before sessionkit opens a `db` store that must find
        // Django's table; otherwise opening first costs nothing (or is what
        // creates `django_session`) and tells early whether the engine landed.
        let django_first = backend.is_db() && order == TableOrder::DjangoFirst;
        if django_first {
            harness.django.migrate(&harness.settings, false).await;
        }
        if let Err(e) = harness.try_open_store(&harness.settings).await {
            match e {
                StoreError::Config(msg)
                    if msg.contains("not available") || msg.contains("not supported") =>
                {
                    skip::not_landed(&format!("{backend:?}: {msg}"));
                    return None;
                }
                other => panic!(
                    "{backend:?}: sessionkit cannot open the store: {}",
                    chain(&other)
                ),
            }
        }
        if !django_first {
            // For a table sessionkit created: record Django's migration
            // without re-creating it, as the README says.
            harness
                .django
                .migrate(&harness.settings, backend.is_db())
                .await;
        }
        Some(harness)
    }

    /// The settings both sides share: [`SECRET`], no fallbacks.
    pub fn settings(&self) -> Settings {
        self.settings.clone()
    }

    /// sessionkit's `SessionConfig` from `settings` (Django's names).
    pub fn session_config(&self, settings: &Settings) -> SessionConfig {
        SessionConfig::from_lookup(|name| settings.get(name)).expect("a valid SessionConfig")
    }

    async fn try_open_store(
        &self,
        settings: &Settings,
    ) -> Result<Arc<dyn SessionStore>, StoreError> {
        let store =
            StoreConfig::from_lookup(|name| settings.get(name)).expect("a valid StoreConfig");
        sessionkit::store::open(&store, &self.session_config(settings)).await
    }

    /// The store `settings` name, opened through `sessionkit::store::open`.
    pub async fn open_store(&self, settings: &Settings) -> Arc<dyn SessionStore> {
        self.try_open_store(settings)
            .await
            .unwrap_or_else(|e| panic!("sessionkit cannot open the store: {}", chain(&e)))
    }

    /// The Rust app on the store `settings` name.
    pub async fn rust_app(&self, settings: &Settings) -> RustApp {
        let store = self.open_store(settings).await;
        RustApp::start(store, self.session_config(settings), self.users.clone()).await
    }

    /// A Django server with `settings`.
    pub async fn django_server(&self, settings: &Settings) -> DjangoServer {
        self.django.serve(settings).await
    }

    /// Batched operations of the `interop` management command under `settings`.
    pub async fn django_ops(&self, settings: &Settings, ops: &[Value]) -> Vec<Value> {
        self.django.interop(settings, ops).await
    }

    /// Reads `key` at rest with sessionkit's store under `settings`: the same
    /// description as Django's `read` operation (`found`, `data`, `keys`, the
    /// expiry getters) plus the record's `expires_at`.
    pub async fn rust_read(&self, settings: &Settings, key: &str) -> Value {
        let store = self.open_store(settings).await;
        let config = self.session_config(settings);
        let now = OffsetDateTime::now_utc();
        if !store.accepts(key) {
            return json!({ "found": false, "accepted": false });
        }
        let loaded = store
            .load(key, now)
            .await
            .unwrap_or_else(|e| panic!("sessionkit cannot load a session: {}", chain(&e)));
        match loaded {
            None => json!({ "found": false }),
            Some(l) => {
                let mut out = describe_map(&l.record.data, &config, now);
                out["found"] = (!l.record.data.is_empty() && !l.version.must_rewrite()).into();
                out["expires_at"] = sessionkit::expiry::isoformat(l.record.expires_at).into();
                out
            }
        }
    }
}

/// An error and its sources, for failure messages.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
