//! `sessionkit sessions revoke <user-id> <id>|--all`: ends sessions the way
//! the app's `UserSessions` does — deleted from the session store (so their
//! next request finds nothing), then from the index.

use sessionkit::user_sessions::UserSessions;

use crate::error::CliError;
use crate::opt::SessionsRevokeArgs;
use crate::output;
use crate::settings;

use super::open_index;

/// Runs `sessions revoke`; prints how many sessions were revoked. An id the
/// user does not have is an error (exit 1), so a typo is never silent.
pub(crate) async fn run(args: SessionsRevokeArgs) -> Result<(), CliError> {
    let target = settings::store_config(&args.store)?;
    let session = settings::session_config(
        args.secrets.secret.as_deref(),
        &args.secrets.fallback_secrets,
    )?;
    let index = open_index(&args.index, &target).await?;
    let store = sessionkit::store::open(&target, &session)
        .await
        .map_err(|e| CliError::with(format!("cannot open the {} engine", target.engine), e))?;
    let sessions = UserSessions::from_arc(store, index);
    let revoked = match &args.id {
        _ if args.all => sessions
            .revoke_all(&args.user)
            .await
            .map_err(|e| CliError::with("cannot revoke the sessions", e))?,
        Some(id) => {
            let found = sessions
                .revoke(&args.user, id)
                .await
                .map_err(|e| CliError::with("cannot revoke the session", e))?;
            if !found {
                return Err(CliError::new(format!(
                    "user {:?} has no live session {id:?} (see `sessionkit sessions list`)",
                    args.user
                )));
            }
            1
        }
        None => return Err(CliError::new("give a session id, or --all")),
    };
    output::line(&revoked.to_string())
}
