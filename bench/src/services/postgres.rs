//! A private PostgreSQL cluster: `initdb` in the run's temp dir, `postgres`
//! on a free loopback port with trust auth. As root, both run as the
//! `postgres` user (PostgreSQL refuses root). Default durability settings, as a
//! user would run it.

use std::path::Path;

use super::{is_root, run, start_pinned, Spec};
use crate::process::{free_port, Guard};

fn bin_dir() -> Result<std::path::PathBuf, String> {
    let mut versions: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no /usr/lib/postgresql: {e}"))?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".to_owned())
}

/// The uid and gid of the `postgres` user.
fn postgres_user() -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let out = std::process::Command::new("id")
            .args([flag, "postgres"])
            .output()
            .map_err(|e| e.to_string())?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| "no postgres user".to_owned())
    };
    Ok((id("-u")?, id("-g")?))
}

pub(super) fn start(dir: &Path) -> Result<(Guard, String), String> {
    let spec = spec(dir)?;
    let guard = start_pinned(
        "postgres",
        &spec.program,
        &spec.args,
        dir,
        spec.port,
        true,
        spec.uid,
    )?;
    Ok((guard, spec.url))
}

/// A fresh cluster (`initdb`) and the command line that serves it.
pub(super) fn spec(dir: &Path) -> Result<Spec, String> {
    use std::os::unix::process::CommandExt;
    let bin = bin_dir()?;
    let user = if is_root() {
        Some(postgres_user()?)
    } else {
        None
    };
    if let Some((u, g)) = user {
        std::os::unix::fs::chown(dir, Some(u), Some(g)).map_err(|e| e.to_string())?;
    }
    let data = dir.join("data");
    let mut initdb = std::process::Command::new(bin.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
    if let Some((u, g)) = user {
        initdb.uid(u).gid(g);
    }
    run(&mut initdb)?;
    let port = free_port().map_err(|e| e.to_string())?;
    let args: Vec<String> = vec![
        "-D".into(),
        data.display().to_string(),
        "-p".into(),
        port.to_string(),
        "-k".into(),
        dir.display().to_string(),
        "-c".into(),
        "listen_addresses=127.0.0.1".into(),
        "-c".into(),
        "max_connections=200".into(),
    ];
    Ok(Spec {
        name: "postgres",
        program: bin.join("postgres").display().to_string(),
        args,
        port,
        sigint: true,
        uid: user,
        url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
    })
}
