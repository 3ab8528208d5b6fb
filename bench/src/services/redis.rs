//! A private `redis-server`: no persistence, loopback only.

use std::path::Path;

use super::start_pinned;
use crate::process::{free_port, Guard};

pub(super) fn start(dir: &Path) -> Result<(Guard, String), String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let args: Vec<String> = [
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
    let guard = start_pinned(
        "redis-server",
        "redis-server",
        &args,
        dir,
        port,
        false,
        None,
    )?;
    Ok((guard, format!("redis://127.0.0.1:{port}/")))
}
