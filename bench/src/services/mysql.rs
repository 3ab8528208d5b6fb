//! A private MariaDB: `mariadb-install-db` in the run's temp dir, `mariadbd`
//! on a free loopback port. Grant tables are skipped: the instance is the
//! bench's own, reachable from loopback only, and gone when the run ends.

use std::path::Path;

use super::{is_root, run, start_pinned, Spec};
use crate::process::{free_port, Guard};

pub(super) fn start(dir: &Path) -> Result<(Guard, String), String> {
    let spec = spec(dir)?;
    let guard = start_pinned(
        "mariadbd", "mariadbd", &spec.args, dir, spec.port, false, None,
    )?;
    create_database(dir)?;
    Ok((guard, spec.url))
}

/// The bench's database, once the server listens.
pub(super) fn create_database(dir: &Path) -> Result<(), String> {
    run(std::process::Command::new("mariadb")
        .arg(format!("--socket={}", dir.join("mysqld.sock").display()))
        .args(["-uroot", "-e", "CREATE DATABASE IF NOT EXISTS bench"]))
}

/// A fresh data dir and the command line that serves it.
pub(super) fn spec(dir: &Path) -> Result<Spec, String> {
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
    Ok(Spec {
        name: "mariadbd",
        program: "mariadbd".into(),
        args,
        port,
        sigint: false,
        uid: None,
        url: format!("mysql://root@127.0.0.1:{port}/bench"),
    })
}
