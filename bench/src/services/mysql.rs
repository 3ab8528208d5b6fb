//! A private MariaDB: `mariadb-install-db` in the run's temp dir, `mariadbd`
//! on a free loopback port. Grant tables are skipped: the instance is the
//! bench's own, reachable from loopback only, and gone when the run ends.

use std::path::Path;

use super::{is_root, run, start_pinned};
use crate::process::{free_port, Guard};

pub(super) fn start(dir: &Path) -> Result<(Guard, String), String> {
    let data = dir.join("data");
    let user = if is_root() { "root" } else { "" };
    let mut install = std::process::Command::new("mariadb-install-db");
    install
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .args(["--skip-test-db", "--auth-root-authentication-method=normal"]);
    if !user.is_empty() {
        install.arg(format!("--user={user}"));
    }
    run(&mut install)?;
    let port = free_port().map_err(|e| e.to_string())?;
    let socket = dir.join("mysqld.sock");
    let mut args: Vec<String> = vec![
        "--no-defaults".into(),
        format!("--datadir={}", data.display()),
        format!("--port={port}"),
        "--bind-address=127.0.0.1".into(),
        format!("--socket={}", socket.display()),
        format!("--pid-file={}", dir.join("mysqld.pid").display()),
        "--skip-grant-tables".into(),
        "--max-connections=200".into(),
    ];
    if !user.is_empty() {
        args.push(format!("--user={user}"));
    }
    let guard = start_pinned("mariadbd", "mariadbd", &args, dir, port, false, None)?;
    run(std::process::Command::new("mariadb")
        .arg(format!("--socket={}", socket.display()))
        .args(["-uroot", "-e", "CREATE DATABASE IF NOT EXISTS bench"]))?;
    Ok((guard, format!("mysql://root@127.0.0.1:{port}/bench")))
}
