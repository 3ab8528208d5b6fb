//! Every server the bench can run: the ceilings, sessionkit on each engine,
//! and the peers on their matching stores.

use crate::services::Server;

/// Who wrote the session layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// No sessions at all: the ceiling.
    Bare,
    /// No sessions, but the bytes of Django's session cookie on the wire:
    /// what any Django-compatible layer pays before doing any work.
    Floor,
    Ours,
    Peer,
}

/// Where sessions live; variants on the same store are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    None,
    /// Floors: a constant Django `Set-Cookie` (and `Vary: Cookie`) with a
    /// 32-character session key, or with a signed value of the size
    /// sessionkit's signed-cookie engine sends for the visit counter.
    WireKey,
    WireSigned,
    Memory,
    SignedCookies,
    Sqlite,
    Postgres,
    Mysql,
    Redis,
    Memcached,
    File,
    CachedDb,
}

impl Store {
    pub fn label(self) -> &'static str {
        match self {
            Store::None => "—",
            Store::WireKey => "— (Django cookie bytes, key)",
            Store::WireSigned => "— (Django cookie bytes, signed)",
            Store::Memory => "in-process",
            Store::SignedCookies => "signed cookie",
            Store::Sqlite => "SQLite (WAL)",
            Store::Postgres => "PostgreSQL",
            Store::Mysql => "MariaDB",
            Store::Redis => "Redis",
            Store::Memcached => "Memcached",
            Store::File => "file",
            Store::CachedDb => "cached_db (memory + SQLite)",
        }
    }

    /// The private server the store needs, if any.
    pub fn server(self) -> Option<Server> {
        match self {
            Store::Postgres => Some(Server::Postgres),
            Store::Mysql => Some(Server::Mysql),
            Store::Redis => Some(Server::Redis),
            Store::Memcached => Some(Server::Memcached),
            _ => None,
        }
    }

    /// Whether a server keeps the session, so concurrent updates can be lost.
    pub fn server_side(self) -> bool {
        !matches!(
            self,
            Store::None | Store::WireKey | Store::WireSigned | Store::SignedCookies
        )
    }
}

/// One server of the bench.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    /// The name on the command line (`serve <name>`) and in the table.
    pub name: &'static str,
    pub family: Family,
    pub store: Store,
    /// Whether it is an actix-web server (its ceiling is bare actix-web).
    pub actix: bool,
}

const fn v(name: &'static str, family: Family, store: Store, actix: bool) -> Variant {
    Variant {
        name,
        family,
        store,
        actix,
    }
}

/// Every variant, in table order.
pub const ALL: &[Variant] = &[
    v("bare-axum", Family::Bare, Store::None, false),
    v("bare-actix", Family::Bare, Store::None, true),
    v(
        "floor-session-key-cookie",
        Family::Floor,
        Store::WireKey,
        false,
    ),
    v(
        "floor-signed-cookie",
        Family::Floor,
        Store::WireSigned,
        false,
    ),
    v("sessionkit-memory", Family::Ours, Store::Memory, false),
    v("tower-sessions-memory", Family::Peer, Store::Memory, false),
    v(
        "sessionkit-signed-cookies",
        Family::Ours,
        Store::SignedCookies,
        false,
    ),
    v(
        "actix-session-cookie",
        Family::Peer,
        Store::SignedCookies,
        true,
    ),
    v(
        "sessionkit-actix-signed-cookies",
        Family::Ours,
        Store::SignedCookies,
        true,
    ),
    v("sessionkit-sqlite", Family::Ours, Store::Sqlite, false),
    v("tower-sessions-sqlite", Family::Peer, Store::Sqlite, false),
    v("sessionkit-postgres", Family::Ours, Store::Postgres, false),
    v(
        "tower-sessions-postgres",
        Family::Peer,
        Store::Postgres,
        false,
    ),
    v("sessionkit-mysql", Family::Ours, Store::Mysql, false),
    v("tower-sessions-mysql", Family::Peer, Store::Mysql, false),
    v("sessionkit-redis", Family::Ours, Store::Redis, false),
    v("tower-sessions-redis", Family::Peer, Store::Redis, false),
    v("actix-session-redis", Family::Peer, Store::Redis, true),
    v("sessionkit-actix-redis", Family::Ours, Store::Redis, true),
    v(
        "sessionkit-memcached",
        Family::Ours,
        Store::Memcached,
        false,
    ),
    v("sessionkit-file", Family::Ours, Store::File, false),
    v("sessionkit-cached-db", Family::Ours, Store::CachedDb, false),
];

/// What `--quick` runs: the in-process engines, signed cookies and SQLite
/// beside the ceiling and the in-process peer — no server to start.
pub const QUICK: &[&str] = &[
    "bare-axum",
    "floor-session-key-cookie",
    "sessionkit-memory",
    "tower-sessions-memory",
    "sessionkit-signed-cookies",
    "sessionkit-sqlite",
];

pub fn find(name: &str) -> Option<Variant> {
    ALL.iter().copied().find(|v| v.name == name)
}
