//! A private server the fault soak kills with SIGKILL mid-load and starts
//! again on the same port and data dir, as a crash and a supervisor's restart
//! would. Stopped cleanly when dropped.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{memcached, mysql, postgres, redis, Server, Spec};
use crate::process::{pinned, SERVER_CORE};

/// A started server that can be killed and started again.
pub struct Restartable {
    spec: Spec,
    dir: PathBuf,
    child: Option<Child>,
    /// Whether the data survives a SIGKILL (memcached's does not, by design).
    pub durable: bool,
}

impl Restartable {
    /// Initialises `server` in `dir` (which must exist) and starts it. Redis
    /// gets an fsynced append-only file when `durable`.
    pub fn start(server: Server, dir: &Path, durable: bool) -> Result<Self, String> {
        let spec = match server {
            Server::Redis => redis::spec(dir, durable)?,
            Server::Postgres => postgres::spec(dir)?,
            Server::Mysql => mysql::spec(dir)?,
            Server::Memcached => memcached::spec()?,
        };
        let mut me = Restartable {
            spec,
            dir: dir.to_owned(),
            child: None,
            durable: server != Server::Memcached && (server != Server::Redis || durable),
        };
        me.restart()?;
        if server == Server::Mysql {
            mysql::create_database(dir)?;
        }
        Ok(me)
    }

    /// The URL clients use.
    pub fn url(&self) -> &str {
        &self.spec.url
    }

    pub fn port(&self) -> u16 {
        self.spec.port
    }

    /// SIGKILL, no warning; returns once the process is gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server (again) and waits until it accepts connections. A
    /// killed PostgreSQL's backends outlive their postmaster for a moment and
    /// hold its shared memory, so a start that exits at once is retried.
    pub fn restart(&mut self) -> Result<(), String> {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(60);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.spec.port));
        'spawn: loop {
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join("server.log"))
                .map_err(|e| e.to_string())?;
            let err = log.try_clone().map_err(|e| e.to_string())?;
            let mut child = pinned(SERVER_CORE, &self.spec.program, self.spec.uid)
                .args(&self.spec.args)
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(err)
                .spawn()
                .map_err(|e| format!("cannot start {}: {e}", self.spec.name))?;
            loop {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    self.child = Some(child);
                    return Ok(());
                }
                if let Ok(Some(status)) = child.try_wait() {
                    if Instant::now() > deadline {
                        return Err(format!("{} exited at start ({status})", self.spec.name));
                    }
                    std::thread::sleep(Duration::from_millis(200));
                    continue 'spawn;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("{} did not listen within 60 s", self.spec.name));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Restartable {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let signal = if self.spec.sigint { "-INT" } else { "-TERM" };
        let _ = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
