//! What a user relies on, written once and run on every engine: login
//! records, listing, revoking one, others and all, key cycling and logout.

use sessionkit::user_sessions::SessionInfo;

use super::rig::{Browser, Rig};

/// Whether the store keeps the session whose cookie `browser` holds.
async fn stored(rig: &Rig, browser: &Browser) -> bool {
    let key = browser.cookie.as_deref().expect("a cookie");
    rig.store
        .load(key, rig.clock_now())
        .await
        .expect("the store loads")
        .is_some()
}

impl Rig {
    pub(crate) fn clock_now(&self) -> time::OffsetDateTime {
        self.config.now()
    }
}

fn ids(listed: &[SessionInfo]) -> Vec<&str> {
    listed.iter().map(|s| s.id.as_str()).collect()
}

/// The whole life of a user's sessions. `server_side`: revocation deletes
/// the session from the store (every engine but signed cookies).
pub(crate) async fn lifecycle(rig: &Rig, server_side: bool) {
    let user = "7";
    let mut firefox = Browser::new("Firefox");
    let mut safari = Browser::new("Safari");
    rig.get(&mut firefox, "/login?7").await;
    rig.get(&mut safari, "/login?7").await;
    assert_eq!(rig.get(&mut firefox, "/whoami").await, user);

    let listed = rig.list(user).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    for s in &listed {
        assert_eq!(s.id.len(), 32);
        assert!(s.id.bytes().all(|b| b.is_ascii_hexdigit()));
        for b in [&firefox, &safari] {
            let cookie = b.cookie.as_deref().unwrap();
            assert!(
                !cookie.contains(&s.id) && !s.id.contains(cookie),
                "the id gives the key away"
            );
        }
        assert_eq!(
            s.ip.as_deref(),
            Some("198.51.100.1"),
            "the nearest proxy's address"
        );
        assert_eq!(s.created, rig.clock_now());
        assert_eq!(s.last_seen, rig.clock_now());
        assert!(s.expires_at > rig.clock_now());
        assert!(!s.current, "no current session without one given");
    }
    assert_eq!(rig.list("someone-else").await, vec![]);

    // The request's own session is marked current.
    let safari_id = rig.entry_of(user, &safari).await.id;
    let own = rig.get(&mut safari, "/list").await;
    assert!(own.contains(&format!("{safari_id} true")), "{own}");
    assert_eq!(own.matches(" true").count(), 1, "{own}");

    // Revoking one ends it on its next request, and only it.
    let firefox_id = rig.entry_of(user, &firefox).await.id;
    let revoked_cookie = firefox.clone();
    assert!(rig.sessions.revoke(user, &firefox_id).await.unwrap());
    if server_side {
        assert!(
            !stored(rig, &revoked_cookie).await,
            "the session is deleted from the store"
        );
    }
    assert_eq!(rig.get(&mut firefox, "/whoami").await, "anonymous");
    assert_eq!(
        firefox.cookie, None,
        "the revoked session's cookie is deleted"
    );
    assert_eq!(rig.get(&mut safari, "/whoami").await, user);
    assert_eq!(ids(&rig.list(user).await), vec![safari_id.as_str()]);
    assert!(
        !rig.sessions.revoke(user, &firefox_id).await.unwrap(),
        "already gone"
    );
    assert!(
        !rig.sessions.revoke("8", &safari_id).await.unwrap(),
        "another user's session"
    );
    assert!(!rig.sessions.revoke(user, "not-an-id").await.unwrap());
    // The revoked cookie replayed later is still refused.
    let mut replay = revoked_cookie;
    assert_eq!(rig.get(&mut replay, "/whoami").await, "anonymous");

    // "Log out other devices".
    let mut chrome = Browser::new("Chrome");
    rig.get(&mut chrome, "/login?7").await;
    assert_eq!(rig.get(&mut chrome, "/others").await, "1");
    assert_eq!(rig.get(&mut safari, "/whoami").await, "anonymous");
    assert_eq!(rig.get(&mut chrome, "/whoami").await, user);
    let chrome_entry = rig.entry_of(user, &chrome).await;
    assert_eq!(rig.list(user).await.len(), 1);

    // A cycled key keeps its entry (same login time and browser), under the
    // new key's id.
    let before = chrome.clone();
    rig.get(&mut chrome, "/cycle").await;
    if server_side {
        // (A signed cookie of the same data at the same second is the same.)
        assert_ne!(before.cookie, chrome.cookie, "the key changed");
    }
    assert_eq!(rig.get(&mut chrome, "/whoami").await, user);
    let listed = rig.list(user).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].created, chrome_entry.created);
    assert_eq!(listed[0].user_agent.as_deref(), Some("Chrome"));
    let own = rig.get(&mut chrome, "/list").await;
    assert_eq!(own, format!("{} true\n", listed[0].id));
    if server_side {
        assert_ne!(listed[0].id, chrome_entry.id, "the id follows the key");
        let mut old = before;
        assert_eq!(rig.get(&mut old, "/whoami").await, "anonymous");
    }

    // Logout removes the entry.
    rig.get(&mut chrome, "/logout").await;
    assert_eq!(rig.list(user).await, vec![]);

    // "Log out everywhere".
    let (mut a, mut b) = (Browser::new("A"), Browser::new("B"));
    rig.get(&mut a, "/login?7").await;
    rig.get(&mut b, "/login?7").await;
    assert_eq!(rig.sessions.revoke_all(user).await.unwrap(), 2);
    assert_eq!(rig.get(&mut a, "/whoami").await, "anonymous");
    assert_eq!(rig.get(&mut b, "/whoami").await, "anonymous");
    assert_eq!(rig.list(user).await, vec![]);

    // Another user logging in on a browser ends the first user's entry.
    let mut shared = Browser::new("Shared");
    rig.get(&mut shared, "/login?7").await;
    rig.get(&mut shared, "/login?8").await;
    assert_eq!(rig.list(user).await, vec![]);
    assert_eq!(rig.list("8").await.len(), 1);
    rig.get(&mut shared, "/logout").await;
}

/// Last-seen moves at most once a minute, and with it the expiry.
pub(crate) async fn last_seen_is_throttled(rig: &Rig) {
    let mut b = Browser::new("Firefox");
    rig.get(&mut b, "/login?7").await;
    let t0 = rig.clock_now();
    rig.clock.advance(time::Duration::seconds(30));
    rig.get(&mut b, "/whoami").await;
    let entry = rig.entry_of("7", &b).await;
    assert_eq!(entry.last_seen, t0, "no write within the minute");
    rig.clock.advance(time::Duration::seconds(31));
    rig.get(&mut b, "/whoami").await;
    let entry = rig.entry_of("7", &b).await;
    assert_eq!(entry.last_seen, t0 + time::Duration::seconds(61));
    assert_eq!(entry.created, t0);
    assert_eq!(
        entry.expires_at,
        entry.last_seen + time::Duration::seconds(rig.config.cookie_age)
    );
    rig.get(&mut b, "/logout").await;
}

/// With a maximum of 2, a third login revokes the least recently seen.
pub(crate) async fn max_sessions(rig: &Rig) {
    let mut browsers = [
        Browser::new("one"),
        Browser::new("two"),
        Browser::new("three"),
    ];
    for b in &mut browsers {
        rig.get(b, "/login?9").await;
        rig.clock.advance(time::Duration::seconds(1));
    }
    let listed = rig.list("9").await;
    let agents: Vec<_> = listed
        .iter()
        .filter_map(|s| s.user_agent.as_deref())
        .collect();
    assert_eq!(agents, vec!["three", "two"], "most recently seen first");
    assert_eq!(rig.get(&mut browsers[0], "/whoami").await, "anonymous");
    assert_eq!(rig.get(&mut browsers[1], "/whoami").await, "9");
    assert_eq!(rig.get(&mut browsers[2], "/whoami").await, "9");
}
