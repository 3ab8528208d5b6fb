//! What each soaked engine runs: its private servers, a chaos proxy in front
//! of each, the `SESSION_*` settings of the app, and the app process itself.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::proxy::Proxy;
use crate::process::{pinned, SERVER_CORE};
use crate::services::{Restartable, Server, Services};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Mariadb,
    Redis,
    Memcached,
    CachedDb,
    Sqlite,
    File,
}

pub const ALL: [Engine; 7] = [
    Engine::Postgres,
    Engine::Mariadb,
    Engine::Redis,
    Engine::Memcached,
    Engine::CachedDb,
    Engine::Sqlite,
    Engine::File,
];

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mariadb => "mariadb",
            Engine::Redis => "redis",
            Engine::Memcached => "memcached",
            Engine::CachedDb => "cached_db",
            Engine::Sqlite => "sqlite",
            Engine::File => "file",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Engine::Postgres => "db on PostgreSQL",
            Engine::Mariadb => "db on MariaDB",
            Engine::Redis => "cache on Redis",
            Engine::Memcached => "cache on Memcached",
            Engine::CachedDb => "cached_db: PostgreSQL + Redis",
            Engine::Sqlite => "db on SQLite (app killed)",
            Engine::File => "file (app killed)",
        }
    }

    pub fn parse(s: &str) -> Option<Engine> {
        ALL.into_iter().find(|e| e.name() == s)
    }
}

/// The running pieces of one engine's soak.
pub struct Setup {
    /// Each private server with its name; none for SQLite and files.
    pub servers: Vec<(&'static str, Restartable)>,
    pub proxies: Vec<Proxy>,
    pub settings: Vec<String>,
}

/// Starts the private servers (durable where the engine promises durability)
/// and a proxy in front of each; the app's URLs go through the proxies.
pub fn setup(
    engine: Engine,
    services: &Services,
    rt: &tokio::runtime::Runtime,
) -> Result<Setup, String> {
    let mut s = Setup {
        servers: Vec::new(),
        proxies: Vec::new(),
        settings: Vec::new(),
    };
    let add = |s: &mut Setup, name: &'static str, server, durable| -> Result<String, String> {
        let dir = services
            .scratch(&format!("soak-{}-{name}", engine.name()))
            .map_err(|e| e.to_string())?;
        let r = Restartable::start(server, &dir, durable)?;
        let proxy = rt
            .block_on(Proxy::start(SocketAddr::from(([127, 0, 0, 1], r.port()))))
            .map_err(|e| e.to_string())?;
        let url = proxy.through(r.url(), r.port());
        s.servers.push((name, r));
        s.proxies.push(proxy);
        Ok(url)
    };
    let settings: Vec<(&str, String)> = match engine {
        Engine::Postgres => {
            let url = add(&mut s, "postgres", Server::Postgres, true)?;
            vec![("ENGINE", "db".into()), ("DB_URL", url)]
        }
        Engine::Mariadb => {
            let url = add(&mut s, "mariadb", Server::Mysql, true)?;
            vec![("ENGINE", "db".into()), ("DB_URL", url)]
        }
        Engine::Redis => {
            let url = add(&mut s, "redis", Server::Redis, true)?;
            vec![("ENGINE", "cache".into()), ("CACHE_URL", url)]
        }
        Engine::Memcached => {
            let url = add(&mut s, "memcached", Server::Memcached, false)?;
            vec![("ENGINE", "cache".into()), ("CACHE_URL", url)]
        }
        Engine::CachedDb => {
            let db = add(&mut s, "postgres", Server::Postgres, true)?;
            // A cache that forgets everything on restart, as caches do: the
            // database must be the truth.
            let cache = add(&mut s, "redis", Server::Redis, false)?;
            vec![
                ("ENGINE", "cached_db".into()),
                ("DB_URL", db),
                ("CACHE_URL", cache),
            ]
        }
        Engine::Sqlite => {
            let dir = scratch(services, engine)?;
            vec![
                ("ENGINE", "db".into()),
                ("DB_URL", format!("sqlite://{}/soak.sqlite3", dir.display())),
            ]
        }
        Engine::File => {
            let dir = scratch(services, engine)?;
            vec![
                ("ENGINE", "file".into()),
                ("FILE_PATH", dir.display().to_string()),
            ]
        }
    };
    s.settings = settings
        .into_iter()
        .map(|(k, v)| format!("SESSION_{k}={v}"))
        .chain(["SESSION_CACHE_KEY_PREFIX=soak:".to_owned()])
        .collect();
    Ok(s)
}

fn scratch(services: &Services, engine: Engine) -> Result<PathBuf, String> {
    services
        .scratch(&format!("soak-{}", engine.name()))
        .map_err(|e| e.to_string())
}

/// The sessionkit server (`soak-serve`), killed with SIGKILL when the soak
/// says so and when dropped.
pub struct App {
    exe: PathBuf,
    pub port: u16,
    settings: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl App {
    pub fn new(exe: &Path, port: u16, settings: Vec<String>, log: PathBuf) -> App {
        App {
            exe: exe.to_owned(),
            port,
            settings,
            log,
            child: None,
        }
    }

    /// Starts the app and waits until it listens.
    pub fn start(&mut self) -> Result<(), String> {
        self.kill();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let mut child = pinned(SERVER_CORE, &self.exe, None)
            .arg("soak-serve")
            .arg(self.port.to_string())
            .args(&self.settings)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| e.to_string())?;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                return Err(format!(
                    "the app exited at start ({status}): {}",
                    log.lines().last().unwrap_or_default()
                ));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err("the app did not listen within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the app died on its own.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.kill();
    }
}
