//! Private store servers for the bench: Redis, PostgreSQL, MariaDB and
//! Memcached started in a temp dir on free loopback ports, pinned to the
//! server core, stopped when the run ends. The machine's shared services are
//! never touched, so the pinning is real and no one else's data is at risk.

mod memcached;
mod mysql;
mod postgres;
mod redis;
mod restartable;

pub use restartable::Restartable;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process::{self, Guard};

/// Which store server a variant needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    Redis,
    Postgres,
    Mysql,
    Memcached,
}

/// A started server and the URL its clients use, or why it did not start.
type Started = Result<(Guard, String), String>;

/// The servers started so far, each with the URL its clients use.
pub struct Services {
    dir: tempfile::TempDir,
    started: Vec<(Server, Started)>,
}

impl Services {
    pub fn new() -> std::io::Result<Self> {
        Ok(Self {
            dir: tempfile::Builder::new()
                .prefix("sessionkit-bench-")
                .tempdir()?,
            started: Vec::new(),
        })
    }

    /// A scratch directory inside the run's temp dir (SQLite files, file store).
    pub fn scratch(&self, name: &str) -> std::io::Result<PathBuf> {
        let p = self.dir.path().join(name);
        std::fs::create_dir_all(&p)?;
        Ok(p)
    }

    /// The URL of `server`, starting it on first use. A server that failed to
    /// start is not retried: its variants are skipped with the reason.
    pub fn url(&mut self, server: Server) -> Result<String, String> {
        if let Some((_, r)) = self.started.iter().find(|(s, _)| *s == server) {
            return r.as_ref().map(|(_, url)| url.clone()).map_err(Clone::clone);
        }
        let dir = self.dir.path().join(format!("{server:?}").to_lowercase());
        let result = std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))
            .and_then(|()| match server {
                Server::Redis => redis::start(&dir),
                Server::Postgres => postgres::start(&dir),
                Server::Mysql => mysql::start(&dir),
                Server::Memcached => memcached::start(&dir),
            });
        if let Err(e) = &result {
            eprintln!("bench: private {server:?} not available: {e}");
        }
        let out = result
            .as_ref()
            .map(|(_, url)| url.clone())
            .map_err(Clone::clone);
        self.started.push((server, result));
        out
    }

    /// Stops every server, newest first.
    pub fn stop_all(&mut self) {
        while let Some((_, r)) = self.started.pop() {
            if let Ok((mut g, _)) = r {
                g.stop(Duration::from_secs(20));
            }
        }
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// How to start a private server: what `start` runs, and what the soak's
/// [`Restartable`] runs again after a SIGKILL (same port, same data dir).
pub(super) struct Spec {
    name: &'static str,
    program: String,
    args: Vec<String>,
    port: u16,
    /// Stopped cleanly with SIGINT (PostgreSQL) instead of SIGTERM.
    sigint: bool,
    uid: Option<(u32, u32)>,
    url: String,
}

/// Starts a store server pinned to the server core and waits for its port.
fn start_pinned(
    name: &str,
    program: &str,
    args: &[String],
    dir: &Path,
    port: u16,
    sigint: bool,
    uid: Option<(u32, u32)>,
) -> Result<Guard, String> {
    let log = std::fs::File::create(dir.join("server.log")).map_err(|e| e.to_string())?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = process::pinned(process::SERVER_CORE, program, uid);
    cmd.args(args);
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let mut guard = if sigint {
        process::guard_sigint(name, child)
    } else {
        process::guard(name, child)
    };
    process::wait_port(&mut guard, port, Duration::from_secs(60)).map_err(|e| {
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        format!(
            "{e}; log: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )
    })?;
    Ok(guard)
}

/// Runs a set-up command to completion, failing with its output.
fn run(cmd: &mut std::process::Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{:?} failed: {}{}",
            cmd.get_program(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Whether this process runs as root (servers that refuse root need a user).
fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}
