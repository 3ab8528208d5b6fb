//! A private `memcached`, loopback only.

use std::path::Path;

use super::{is_root, start_pinned, Spec};
use crate::process::{free_port, Guard};

pub(super) fn start(dir: &Path) -> Result<(Guard, String), String> {
    let spec = spec()?;
    let guard = start_pinned(
        "memcached",
        "memcached",
        &spec.args,
        dir,
        spec.port,
        false,
        None,
    )?;
    Ok((guard, spec.url))
}

/// The command line of a private memcached (memory only: a restart empties it).
pub(super) fn spec() -> Result<Spec, String> {
    let port = free_port().map_err(|e| e.to_string())?;
    let mut args: Vec<String> = ["-l", "127.0.0.1", "-p", &port.to_string(), "-m", "256"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if is_root() {
        // memcached refuses to run as root unless told which user to be.
        args.extend(["-u".to_owned(), "root".to_owned()]);
    }
    Ok(Spec {
        name: "memcached",
        program: "memcached".into(),
        args,
        port,
        sigint: false,
        uid: None,
        url: format!("memcache://127.0.0.1:{port}"),
    })
}
