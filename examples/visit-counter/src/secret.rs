//! `SECRET_KEY` for the demo: from the environment, or generated once and kept in
//! `.sessionkit-secret` (mode 0600) so restarts keep sessions valid.

use std::fs;
use std::io::Write;
use std::path::Path;

const SECRET_FILE: &str = ".sessionkit-secret";

/// The secret from `SECRET_KEY`, else from the secret file, else a new one.
pub(crate) fn secret_key() -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    if let Ok(s) = std::env::var("SECRET_KEY") {
        return Ok(s);
    }
    let path = Path::new(SECRET_FILE);
    if let Ok(s) = fs::read_to_string(path) {
        let s = s.trim().to_owned();
        if !s.is_empty() {
            tracing::warn!("SECRET_KEY is not set; using the key kept in {SECRET_FILE}");
            return Ok(s);
        }
    }
    // Two session keys: 64 characters from the OS CSPRNG, about 330 bits.
    let secret = format!(
        "{}{}",
        sessionkit::key::generate_key(),
        sessionkit::key::generate_key()
    );
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("cannot create {SECRET_FILE} for a generated SECRET_KEY: {e}"))?;
    file.write_all(secret.as_bytes())?;
    tracing::warn!("SECRET_KEY is not set; generated one and kept it in {SECRET_FILE} (mode 0600). Set SECRET_KEY in production.");
    Ok(secret)
}
