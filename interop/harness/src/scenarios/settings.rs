//! Non-default cookie and behaviour settings, set once by Django's names
//! for both sides: the cookies the two apps send must agree attribute for
//! attribute, and the `file` engine must find Django's files by the new
//! cookie name.

use std::path::Path;

use super::get_ok;
use super::live::assert_same_cookie;
use crate::client::{Client, Reply, SetCookie};
use crate::harness::{Backend, Harness, TableOrder};

/// The cookie name both sides are configured with here.
const NAME: &str = "app_sid";

fn cookie<'a>(reply: &'a Reply, ctx: &str) -> &'a SetCookie {
    reply
        .set_cookie(NAME)
        .unwrap_or_else(|| panic!("{ctx}: no {NAME} cookie in {:?}", reply.set_cookies))
}

/// Both apps live with `SESSION_COOKIE_NAME`, `_AGE`, `_DOMAIN`, `_PATH`,
/// `_SECURE`, `_HTTPONLY`, `_SAMESITE` and `SESSION_SAVE_EVERY_REQUEST` all
/// changed from Django's defaults.
pub async fn custom_settings(backend: Backend) {
    let extra = [
        ("SESSION_COOKIE_NAME", NAME),
        ("SESSION_COOKIE_AGE", "3600"),
        ("SESSION_COOKIE_DOMAIN", "sessions.example"),
        ("SESSION_COOKIE_PATH", "/app/"),
        ("SESSION_COOKIE_SECURE", "true"),
        ("SESSION_COOKIE_HTTPONLY", "false"),
        ("SESSION_COOKIE_SAMESITE", "Strict"),
        ("SESSION_SAVE_EVERY_REQUEST", "true"),
    ];
    let Some(h) = Harness::with_settings(backend, TableOrder::DjangoFirst, &extra).await else {
        return;
    };
    let settings = h.settings();
    let django = h.django_server(&settings).await;
    let rust = h.rust_app(&settings).await;
    // The test's jar ignores Domain, Path and Secure: it sends the cookie to both.
    let jar = Client::new();

    let d = get_ok(&jar, &django.url("/visit/")).await;
    assert_eq!(d.body, "Visit count:1");
    let r = get_ok(&jar, &rust.url("/visit/")).await;
    assert_eq!(
        r.body, "Visit count:2",
        "sessionkit reads the {NAME} cookie Django set"
    );
    let (dc, rc) = (
        cookie(&d, "Django's visit"),
        cookie(&r, "sessionkit's visit"),
    );
    assert_same_cookie("a visit", dc, rc);
    assert_eq!(dc.max_age(), Some(3600), "SESSION_COOKIE_AGE");
    for attr in ["domain", "path", "samesite", "secure"] {
        assert!(
            dc.attributes.contains_key(attr),
            "Django's cookie has {attr}: {dc:?}"
        );
    }
    assert!(
        !rc.attributes.contains_key("httponly"),
        "SESSION_COOKIE_HTTPONLY=false: {rc:?}"
    );
    if backend == Backend::File {
        let dir = settings
            .get("SESSION_FILE_PATH")
            .expect("SESSION_FILE_PATH");
        let file = Path::new(&dir).join(format!("{NAME}{}", rc.value));
        assert!(
            file.is_file(),
            "the session file is named by the cookie name: {}",
            file.display()
        );
    }

    // SESSION_SAVE_EVERY_REQUEST: a read-only request re-sends the cookie on both.
    let (d, r) = (
        get_ok(&jar, &django.url("/read/")).await,
        get_ok(&jar, &rust.url("/read/")).await,
    );
    assert_same_cookie(
        "a read with SESSION_SAVE_EVERY_REQUEST",
        cookie(&d, "Django's read"),
        cookie(&r, "sessionkit's read"),
    );
    assert_eq!(d.json()["data"], r.json()["data"]);

    // A view that never touches the session, under SESSION_SAVE_EVERY_REQUEST:
    // the cookie is re-sent, so the response must vary on Cookie (Django's
    // 2026 fix, 5.2.14 / 6.0.5: before it, no `Vary` and a shared cache could
    // hand one user's session cookie to another).
    let (d, r) = (
        get_ok(&jar, &django.url("/ready/")).await,
        get_ok(&jar, &rust.url("/ready/")).await,
    );
    assert_same_cookie(
        "an untouched session with SESSION_SAVE_EVERY_REQUEST",
        cookie(&d, "Django's untouched"),
        cookie(&r, "sessionkit's untouched"),
    );
    assert!(
        d.varies_on_cookie(),
        "Django varies on Cookie when it sets the cookie: {:?}",
        d.vary
    );
    assert!(
        r.varies_on_cookie(),
        "sessionkit varies on Cookie when it sets the cookie: {:?}",
        r.vary
    );

    // Flush: both delete the cookie with the same attributes.
    let key = jar.cookie(NAME).expect("the session cookie");
    let d = get_ok(&jar, &django.url("/flush/")).await;
    get_ok(&jar, &rust.url("/visit/")).await;
    let r = get_ok(&jar, &rust.url("/flush/")).await;
    let (dc, rc) = (
        cookie(&d, "Django's flush"),
        cookie(&r, "sessionkit's flush"),
    );
    assert!(
        dc.deletes() && rc.deletes(),
        "both delete the cookie: {dc:?} {rc:?}"
    );
    assert_same_cookie("a flush", dc, rc);
    if backend.has_server_copy() {
        let stale = Client::with_cookie(NAME, &key);
        let read = get_ok(&stale, &rust.url("/read/")).await.json();
        assert_eq!(
            read["data"],
            serde_json::json!({}),
            "Django's flush deleted the session"
        );
    }
}
