//! `sessionkit sessions list <user-id>`: a user's live sessions, most
//! recently seen first. Reads the index only: no secret, no session store.

use serde_json::json;
use sessionkit::user_sessions::IndexEntry;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::CliError;
use crate::opt::SessionsListArgs;
use crate::output;
use crate::settings;

use super::open_index;

/// Runs `sessions list`: one line per session, or a JSON array.
pub(crate) async fn run(args: SessionsListArgs) -> Result<(), CliError> {
    let store = settings::store_config(&args.store)?;
    let index = open_index(&args.index, &store).await?;
    let mut entries = index
        .list(&args.user, OffsetDateTime::now_utc())
        .await
        .map_err(|e| CliError::with("cannot list the sessions", e))?;
    entries.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.id.cmp(&b.id)));
    if args.json {
        let list: Vec<_> = entries.iter().map(as_json).collect();
        return output::line(&serde_json::Value::Array(list).to_string());
    }
    if entries.is_empty() {
        output::note(&format!("no live sessions for user {:?}", args.user));
    }
    for e in &entries {
        output::line(&format!(
            "{}  logged in {}  last seen {}  expires {}  {}  {}",
            e.id,
            when(e.created),
            when(e.last_seen),
            when(e.expires_at),
            e.ip.as_deref().unwrap_or("-"),
            printable(e.user_agent.as_deref().unwrap_or("-")),
        ))?;
    }
    Ok(())
}

fn when(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// A client-chosen string made safe for a terminal: no control characters.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn as_json(e: &IndexEntry) -> serde_json::Value {
    // Never the session key: it is a bearer token.
    json!({
        "id": e.id,
        "created": when(e.created),
        "last_seen": when(e.last_seen),
        "expires_at": when(e.expires_at),
        "ip": e.ip,
        "user_agent": e.user_agent,
    })
}
