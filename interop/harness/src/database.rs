//! A database of the test's own: SQLite in a temp directory, or a fresh
//! `sk_interop_<random>` database on the machine's PostgreSQL or MariaDB,
//! dropped when the guard goes, so Django's tables never meet other tests'.

use std::path::Path;
use std::time::Duration;

use sqlx::Connection;

use crate::skip;

/// Which database server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    /// A file in a temp directory.
    Sqlite,
    /// `SESSIONKIT_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/…`.
    Postgres,
    /// `SESSIONKIT_MYSQL_URL`, default `mysql://root@127.0.0.1:3306/…`.
    Mysql,
}

/// A test database; a server one is dropped on drop.
#[derive(Debug)]
pub struct TestDatabase {
    kind: DbKind,
    /// `scheme://user@host:port`, without a database, for server kinds.
    server: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// `db.sqlite3` in `dir` (created on first use).
    pub fn sqlite(dir: &Path) -> Self {
        let path = dir.join("db.sqlite3");
        Self {
            kind: DbKind::Sqlite,
            server: String::new(),
            name: String::new(),
            url: format!("sqlite://{}", path.display()),
        }
    }

    /// A fresh database on the server `kind` names; `None` (after
    /// [`skip::missing`]) when the server does not answer.
    pub async fn create(kind: DbKind) -> Option<Self> {
        let (var, default) = match kind {
            DbKind::Postgres => (
                "SESSIONKIT_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/test",
            ),
            DbKind::Mysql => ("SESSIONKIT_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
            DbKind::Sqlite => unreachable!("SQLite databases are made by TestDatabase::sqlite"),
        };
        let configured = std::env::var(var).unwrap_or_else(|_| default.to_owned());
        let server = server_part(&configured);
        let addr = server.rsplit_once('@').map_or(&server[..], |(_, a)| a);
        let addr = addr.split_once("://").map_or(addr, |(_, a)| a).to_owned();
        let reachable = matches!(
            tokio::time::timeout(
                Duration::from_secs(2),
                tokio::net::TcpStream::connect(&addr)
            )
            .await,
            Ok(Ok(_))
        );
        if !reachable {
            skip::missing(&format!(
                "{kind:?} at {addr} is unreachable (start it with `bash .ci/services.sh`)"
            ));
            return None;
        }
        let name = format!("sk_interop_{}", &sessionkit::key::generate_key()[..12]);
        let sql = match kind {
            DbKind::Postgres => format!("CREATE DATABASE {name} ENCODING 'UTF8'"),
            _ => format!("CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"),
        };
        admin(kind, &server, &sql)
            .await
            .unwrap_or_else(|e| panic!("cannot create {name} on {addr}: {e}"));
        let url = format!("{server}/{name}");
        Some(Self {
            kind,
            server,
            name,
            url,
        })
    }

    /// Which server.
    pub fn kind(&self) -> DbKind {
        self.kind
    }

    /// The URL both sides use: `sqlite:///abs/path`, `postgres://…/name`,
    /// `mysql://…/name` (Django's settings read it as `DATABASE_URL`, sessionkit
    /// as `SESSION_DB_URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL as Django's settings take it (`sqlite:////abs/path` for SQLite).
    pub fn django_url(&self) -> String {
        match self.kind {
            DbKind::Sqlite => self.url.replacen("sqlite://", "sqlite:///", 1),
            _ => self.url.clone(),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.kind == DbKind::Sqlite {
            return;
        }
        let sql = match self.kind {
            DbKind::Postgres => format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            _ => format!("DROP DATABASE IF EXISTS {}", self.name),
        };
        let (kind, server) = (self.kind, self.server.clone());
        // Drop cannot await: a thread with its own runtime does the drop,
        // whichever runtime (if any) this guard is dropped on.
        let done = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .and_then(|rt| rt.block_on(admin(kind, &server, &sql)))
        })
        .join();
        if !matches!(done, Ok(Ok(()))) {
            eprintln!(
                "warning: could not drop test database {}: {done:?}",
                self.name
            );
        }
    }
}

/// `scheme://user@host:port` of a URL (path and query dropped).
fn server_part(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("{scheme}://{authority}")
}

/// Runs one administrative statement on the server's maintenance database.
async fn admin(kind: DbKind, server: &str, sql: &str) -> Result<(), String> {
    use sqlx::Executor;
    match kind {
        DbKind::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&format!("{server}/postgres"))
                .await
                .map_err(|e| e.to_string())?;
            conn.execute(sql).await.map_err(|e| e.to_string())?;
            conn.close().await.map_err(|e| e.to_string())
        }
        DbKind::Mysql => {
            let mut conn = sqlx::MySqlConnection::connect(server)
                .await
                .map_err(|e| e.to_string())?;
            conn.execute(sql).await.map_err(|e| e.to_string())?;
            conn.close().await.map_err(|e| e.to_string())
        }
        DbKind::Sqlite => Ok(()),
    }
}
