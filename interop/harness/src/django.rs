//! The Django side: the project in `interop/django`, run with the venv's
//! python — management commands (`migrate`, the batched `interop` command)
//! and a live server behind a guard that stops it on drop.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::client::Client;
use crate::skip;

/// How long a Django server may take to answer its readiness probe.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings shared by both sides, as environment variables by Django's names:
/// Django's settings module reads them from its environment, sessionkit's
/// `SessionConfig::from_lookup`/`StoreConfig::from_lookup` from this map.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    vars: BTreeMap<String, String>,
}

impl Settings {
    /// Sets a variable.
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.vars.insert(name.to_owned(), value.into());
        self
    }

    /// A variable's value.
    pub fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    /// `SECRET_KEY` and `SECRET_KEY_FALLBACKS` replaced (fallbacks joined by commas).
    #[must_use]
    pub fn with_keys(self, secret: &str, fallbacks: &[&str]) -> Self {
        self.with("SECRET_KEY", secret)
            .with("SECRET_KEY_FALLBACKS", fallbacks.join(","))
    }

    /// Applies the settings to a child process, removing any inherited
    /// variable of the same families so the developer's shell cannot leak in.
    fn apply(&self, cmd: &mut Command) {
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("SESSION_")
                || name.starts_with("SECRET_KEY")
                || name == "DATABASE_URL"
                || name == "DJANGO_SETTINGS_MODULE"
            {
                cmd.env_remove(name.as_ref());
            }
        }
        cmd.envs(&self.vars)
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
    }
}

/// The Django project and the python that runs it.
#[derive(Clone, Debug)]
pub struct Django {
    python: PathBuf,
    project: PathBuf,
}

impl Django {
    /// `interop/django` with its venv's python (or `SESSIONKIT_DJANGO_PYTHON`).
    /// `None` (after [`skip::missing`]) when there is no such python.
    pub fn find() -> Option<Self> {
        let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("../django");
        let python = std::env::var_os("SESSIONKIT_DJANGO_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| project.join(".venv/bin/python"));
        if !python.exists() {
            skip::missing(&format!(
                "no Django venv at {} (run `bash interop/django/setup.sh`, or set SESSIONKIT_DJANGO_PYTHON)",
                python.display()
            ));
            return None;
        }
        Some(Self { python, project })
    }

    fn command(&self, settings: &Settings, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.python);
        cmd.arg("manage.py").args(args).current_dir(&self.project);
        settings.apply(&mut cmd);
        cmd
    }

    /// Runs `manage.py <args>` with `stdin`, returning stdout; panics with
    /// stderr when it fails.
    pub async fn manage(&self, settings: &Settings, args: &[&str], stdin: &str) -> String {
        self.try_manage(settings, args, stdin)
            .await
            .unwrap_or_else(|e| panic!("manage.py {}: {e}", args.join(" ")))
    }

    /// [`Django::manage`], returning the failure (status and stderr) instead.
    pub async fn try_manage(
        &self,
        settings: &Settings,
        args: &[&str],
        stdin: &str,
    ) -> Result<String, String> {
        use tokio::io::AsyncWriteExt;

        let mut cmd = tokio::process::Command::from(self.command(settings, args));
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start python: {e}"))?;
        let mut input = child.stdin.take().expect("piped stdin");
        input
            .write_all(stdin.as_bytes())
            .await
            .map_err(|e| format!("cannot write stdin: {e}"))?;
        drop(input);
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| format!("cannot wait for python: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// `manage.py migrate` (with `--fake-initial` when asked).
    pub async fn migrate(&self, settings: &Settings, fake_initial: bool) {
        let mut args = vec!["migrate", "--no-input", "-v", "0"];
        if fake_initial {
            args.push("--fake-initial");
        }
        self.manage(settings, &args, "").await;
    }

    /// Runs operations of the `interop` management command (see
    /// `interop_app/management/commands/interop.py`) in one python process.
    pub async fn interop(&self, settings: &Settings, ops: &[Value]) -> Vec<Value> {
        self.interop_raw(settings, &Value::from(ops.to_vec()).to_string())
            .await
    }

    /// [`Django::interop`] with the operations as JSON text, for values
    /// Python's JSON reads but `serde_json` cannot hold (NaN, huge ints, lone
    /// surrogates).
    pub async fn interop_raw(&self, settings: &Settings, ops: &str) -> Vec<Value> {
        let out = self.manage(settings, &["interop"], ops).await;
        match serde_json::from_str(&out) {
            Ok(Value::Array(results)) => results,
            _ => panic!("manage.py interop printed something else than a JSON list: {out}"),
        }
    }

    /// Starts `manage.py serve 127.0.0.1:<free port>` (runserver --noreload
    /// that exits when its stdin closes) and waits for it to answer.
    pub async fn serve(&self, settings: &Settings) -> DjangoServer {
        let mut last_error = String::new();
        // A free port can be taken between our probe and Django's bind: retry.
        for _ in 0..3 {
            match self.try_serve(settings).await {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("the Django server did not start: {last_error}");
    }

    async fn try_serve(&self, settings: &Settings) -> Result<DjangoServer, String> {
        let port = free_port();
        let logs = tempfile::tempdir().map_err(|e| e.to_string())?;
        let log_path = logs.path().join("django.log");
        let log = File::create(&log_path).map_err(|e| e.to_string())?;
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = self.command(settings, &["serve", &addr]);
        cmd.stdin(Stdio::piped())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start python: {e}"))?;
        let mut server = DjangoServer {
            child,
            base: format!("http://{addr}"),
            log_path,
            _logs: logs,
        };
        server.wait_ready().await?;
        Ok(server)
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// A running Django server; stopped (killed and reaped) on drop.
#[derive(Debug)]
pub struct DjangoServer {
    child: Child,
    base: String,
    log_path: PathBuf,
    _logs: tempfile::TempDir,
}

impl DjangoServer {
    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The server's log so far (runserver's request lines, errors, warnings).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Polls `/ready/` until it answers 200, the process exits, or the bound passes.
    async fn wait_ready(&mut self) -> Result<(), String> {
        let client = Client::new();
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("Django exited ({status}):\n{}", self.log()));
            }
            if let Ok(reply) = client.try_get(&self.url("/ready/")).await {
                if reply.status == 200 {
                    return Ok(());
                }
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(format!(
                    "no answer from {} within {READY_TIMEOUT:?}:\n{}",
                    self.base,
                    self.log()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for DjangoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
