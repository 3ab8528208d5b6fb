//! A private `redis-server`: no persistence, loopback only.

use std::path::Path;

use super::{start_pinned, Spec};
use crate::process::{free_port, Guard};

pub(super) fn start(dir: &Path) -> Result<(Guard, String), String> {
    let spec = spec(dir, false)?;
    let guard = start_pinned(
        "redis-server",
        "redis-server",
        &spec.args,
        dir,
        spec.port,
        false,
        None,
    )?;
    Ok((guard, spec.url))
}

/// The command line of a private Redis. `durable`: append-only file, fsynced
/// before each reply, so a SIGKILL loses no acknowledged write (what a store
/// that must survive a restart is configured with).
pub(super) fn spec(dir: &Path, durable: bool) -> Result<Spec, String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let mut args: Vec<String> = [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--dir",
        &dir.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if durable {
        args.extend(["--appendonly", "yes", "--appendfsync", "always"].map(String::from));
    }
    Ok(Spec {
        name: "redis-server",
        program: "redis-server".into(),
        args,
        port,
        sigint: false,
        uid: None,
        url: format!("redis://127.0.0.1:{port}/"),
    })
}
