//! Who is at the other end of a login: the `User-Agent` and the client IP
//! recorded with it.

use std::net::{IpAddr, SocketAddr};

use crate::session::Session;

use super::hook::note_client;
use super::UserSessions;

/// The longest `User-Agent` recorded, in bytes: enough for any real browser,
/// and a bound on what a client can make the index store.
const MAX_USER_AGENT: usize = 512;

/// The client's IP, as a request extension the tower layer reads when it
/// records a login (put it in with a small middleware, for example from
/// axum's `ConnectInfo`). A trusted proxy header set with
/// [`UserSessions::client_ip_header`] takes precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(IpAddr);

impl ClientIp {
    /// The client at `ip`.
    pub fn new(ip: IpAddr) -> Self {
        Self(ip)
    }

    /// The address.
    pub fn ip(&self) -> IpAddr {
        self.0
    }
}

/// What a request says about its client, kept until a login needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ClientInfo {
    pub(crate) user_agent: Option<String>,
    pub(crate) ip: Option<String>,
}

impl UserSessions {
    /// The client of a request: its `User-Agent` value, the value of the
    /// trusted IP header if one is configured (the last of several), and the
    /// peer address the adapter knows.
    pub(crate) fn client<'a>(
        &self,
        user_agent: Option<&[u8]>,
        ip_header: impl Iterator<Item = &'a [u8]>,
        peer: Option<IpAddr>,
    ) -> ClientInfo {
        let forwarded = match &self.ip_header {
            Some(_) => ip_header.last().and_then(forwarded_ip),
            None => None,
        };
        ClientInfo {
            user_agent: user_agent.map(cut_user_agent),
            ip: forwarded.or(peer).map(|ip| ip.to_string()),
        }
    }
}

/// The last address of an `X-Forwarded-For`-style value: the one the nearest
/// proxy added (the earlier ones are whatever the client claimed). A value
/// that is not an address gives none, rather than text a client chose.
fn forwarded_ip(value: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(value).ok()?;
    let last = text.rsplit(',').next()?.trim();
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// Notes the client of a tower request in its session, when the layer has
/// an index (a no-op otherwise).
pub(crate) fn note_http(
    session: &Session,
    headers: &http::HeaderMap,
    extensions: &http::Extensions,
) {
    let Some(us) = session.user_sessions() else {
        return;
    };
    let user_agent = headers.get(http::header::USER_AGENT).map(|v| v.as_bytes());
    let forwarded = us
        .ip_header
        .as_ref()
        .into_iter()
        .flat_map(|name| headers.get_all(name))
        .map(|v| v.as_bytes());
    let peer = extensions.get::<ClientIp>().map(ClientIp::ip);
    let client = us.client(user_agent, forwarded, peer);
    note_client(session, client);
}

/// Notes the client of an actix-web request in its session, when the
/// middleware has an index (a no-op otherwise).
#[cfg(feature = "actix")]
pub(crate) fn note_actix(session: &Session, req: &actix_web::dev::ServiceRequest) {
    let Some(us) = session.user_sessions() else {
        return;
    };
    let headers = req.headers();
    let user_agent = headers
        .get(actix_web::http::header::USER_AGENT)
        .map(|v| v.as_bytes());
    let forwarded = us
        .ip_header
        .as_ref()
        .into_iter()
        .flat_map(|name| headers.get_all(name.as_str()))
        .map(|v| v.as_bytes());
    let peer = req.peer_addr().map(|a| a.ip());
    let client = us.client(user_agent, forwarded, peer);
    note_client(session, client);
}

fn cut_user_agent(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let mut end = text.len().min(MAX_USER_AGENT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_proxys_address_is_taken() {
        assert_eq!(
            forwarded_ip(b"203.0.113.9, 10.0.0.1, 198.51.100.7"),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(
            forwarded_ip(b"[2001:db8::1]:443"),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(forwarded_ip(b"<script>"), None);
    }

    #[test]
    fn long_user_agents_are_cut_on_a_character() {
        let ua = "é".repeat(400);
        let cut = cut_user_agent(ua.as_bytes());
        assert_eq!(cut.len(), MAX_USER_AGENT);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
