//! Child processes of the bench: pinned to a core, stopped when dropped.
//!
//! Every server, store and load generator the bench starts is a `Child` held by
//! a guard, so an early return or a panic still stops it (SIGTERM, then SIGKILL
//! after a grace period) and nothing outlives the run.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The core servers and their stores run on; the load generator gets the other.
pub const SERVER_CORE: &str = "0";
pub const LOAD_CORE: &str = "1";

/// A started process, stopped on drop.
pub struct Guard {
    name: String,
    child: Option<Child>,
    /// Signal that shuts the process down cleanly (PostgreSQL wants SIGINT for
    /// a fast shutdown; the others take SIGTERM).
    stop_signal: &'static str,
}

impl Guard {
    /// Whether the process has exited (a server that crashed at start).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Stops the process: the clean signal, then SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args([self.stop_signal, &child.id().to_string()])
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("bench: {} did not stop in {grace:?}; killing it", self.name);
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(10));
    }
}

/// The highest CFS priority (nice -20) for everything the bench starts, when
/// it runs as root. The machine is shared: a plain pinned server competes
/// with a neighbour's compiler for its core; at nice -20 it gets ~99 % of the
/// core whenever it wants it. Not real-time priority (SCHED_RR), which an
/// earlier version used: a real-time server that keeps its core busy starves
/// the kernel's own per-core threads there (ext4's journal, writeback,
/// softirqs) until RT throttling steps in, after 950 ms of each second. Every
/// engine that writes to disk then stalled for up to a second at a time, the
/// peers as well as ours (max latency 1.0–2.0 s against 20–70 ms at nice -20),
/// and an engine that funnels its writes through one connection (SQLite) was
/// hit hardest. Without root the bench falls back to plain scheduling, and
/// says so.
const NICE: &str = "-20";

fn can_prioritise() -> bool {
    static ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ROOT.get_or_init(|| {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        if !root {
            eprintln!(
                "bench: not root: no raised priority, figures will be noisier on a busy machine"
            );
        }
        root
    })
}

/// `[nice -n -20] taskset -c <core> [setpriv --reuid … --] <program>`: pinned,
/// prioritised, and (for servers that refuse root) another user, all by
/// `exec`, so the child's pid is the program's own.
pub fn pinned(
    core: &str,
    program: impl AsRef<std::ffi::OsStr>,
    user: Option<(u32, u32)>,
) -> Command {
    let mut cmd = if can_prioritise() {
        let mut c = Command::new("nice");
        c.args(["-n", NICE, "taskset"]);
        c
    } else {
        Command::new("taskset")
    };
    cmd.args(["-c", core]);
    if let Some((uid, gid)) = user {
        cmd.arg("setpriv")
            .arg(format!("--reuid={uid}"))
            .arg(format!("--regid={gid}"))
            .args(["--clear-groups", "--"]);
    }
    cmd.arg(program);
    cmd
}

/// Starts `program args…` pinned to `core` with `taskset`, stdout and stderr
/// to `log` (so a failing server can be diagnosed after the run).
pub fn spawn_pinned(
    name: &str,
    core: &str,
    program: &Path,
    args: &[String],
    envs: &[(String, String)],
    log: &Path,
) -> std::io::Result<Guard> {
    let out = std::fs::File::create(log)?;
    let err = out.try_clone()?;
    let mut cmd = pinned(core, program, None);
    cmd.args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = cmd.stdin(Stdio::null()).stdout(out).stderr(err).spawn()?;
    Ok(guard(name, child))
}

/// Wraps an already spawned child.
pub fn guard(name: &str, child: Child) -> Guard {
    Guard {
        name: name.to_owned(),
        child: Some(child),
        stop_signal: "-TERM",
    }
}

/// A guard that stops its process with SIGINT (PostgreSQL's fast shutdown).
pub fn guard_sigint(name: &str, child: Child) -> Guard {
    Guard {
        name: name.to_owned(),
        child: Some(child),
        stop_signal: "-INT",
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until something accepts connections on `port`, or the process exits,
/// or `timeout` passes.
pub fn wait_port(guard: &mut Guard, port: u16, timeout: Duration) -> Result<(), String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + timeout;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Some(status) = guard.exited() {
            return Err(format!("{} exited at start ({status})", guard.name));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} did not listen on {port} within {timeout:?}",
                guard.name
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
