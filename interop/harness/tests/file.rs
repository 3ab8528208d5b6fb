//! Django and sessionkit on one directory of Django's session files.

sessionkit_interop::interop_tests!(sessionkit_interop::Backend::File);

/// Expiry by the file's modification time agrees, but for Django's
/// never-expiring integer expiry (the documented difference).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_by_modification_time() {
    sessionkit_interop::scenarios::file_expiry_by_mtime().await;
}
