//! Both apps live, side by side, on one store, with one cookie jar.

use serde_json::json;

use super::{date, get_ok, COOKIE, COOKIE_AGE};
use crate::client::{Client, SetCookie};
use crate::harness::{Backend, Harness, TableOrder};

/// The `Set-Cookie` attributes Django and sessionkit must agree on (the
/// `expires` date may differ by the second the two were made in).
fn cookie_shape(c: &SetCookie) -> Vec<(String, String)> {
    c.attributes
        .iter()
        .filter(|(k, _)| *k != "expires")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub(super) fn assert_same_cookie(ctx: &str, django: &SetCookie, rust: &SetCookie) {
    let (d, r) = (cookie_shape(django), cookie_shape(rust));
    let max_age = |c: &SetCookie| c.max_age();
    match (max_age(django), max_age(rust)) {
        (Some(a), Some(b)) => assert!((a - b).abs() <= 2, "{ctx}: Max-Age {a} vs {b}"),
        (a, b) => assert_eq!(a, b, "{ctx}: Max-Age"),
    }
    let without_age = |v: Vec<(String, String)>| -> Vec<(String, String)> {
        v.into_iter().filter(|(k, _)| k != "max-age").collect()
    };
    assert_eq!(
        without_age(d),
        without_age(r),
        "{ctx}: Set-Cookie attributes"
    );
    assert_eq!(
        django.attributes.contains_key("expires"),
        rust.attributes.contains_key("expires"),
        "{ctx}: expires"
    );
}

/// A query-string value (the ISO dates' `+` must not become a space).
fn query_escape(s: &str) -> String {
    s.replace('%', "%25")
        .replace('+', "%2B")
        .replace(' ', "%20")
}

/// Django's runserver and the Rust app at once, on one store and secret, with
/// one cookie jar: the count runs across both; expiry, cycle_key and flush on
/// one are honoured by the other.
pub async fn live_side_by_side(backend: Backend) {
    let Some(h) = Harness::new(backend, TableOrder::DjangoFirst).await else {
        return;
    };
    let settings = h.settings();
    let django = h.django_server(&settings).await;
    let rust = h.rust_app(&settings).await;
    let sides = [("Django", django.url("")), ("sessionkit", rust.url(""))];
    let url = |side: usize, path: &str| format!("{}{path}", sides[side % 2].1);

    // The count runs 1, 2, 3, … across both.
    let jar = Client::new();
    let mut last = [None, None];
    for i in 1..=6 {
        let reply = get_ok(&jar, &url(i + 1, "/visit/")).await;
        assert_eq!(
            reply.body,
            format!("Visit count:{i}"),
            "visit {i} on {}",
            sides[(i + 1) % 2].0
        );
        last[(i + 1) % 2] = reply.set_cookie(COOKIE).cloned();
    }
    let (d, r) = (
        last[0].clone().expect("Django's cookie"),
        last[1].clone().expect("sessionkit's cookie"),
    );
    assert_same_cookie("after a visit", &d, &r);
    if backend.has_server_copy() {
        assert_eq!(d.value, r.value, "one session key on both sides");
    }
    let mut count = 6;

    // Every kind of expiry set on one side is honoured by the other.
    let specs = [
        "seconds:600",
        "at:2031-02-03T04:05:06.123456+00:00",
        "browser_close",
        "at:2030-05-17T09:30:00+05:30",
        "default",
    ];
    for (n, spec) in specs.iter().enumerate() {
        let (setter, other) = (n, n + 1);
        let ctx = format!("expiry {spec} set on {}", sides[setter % 2].0);
        let set = get_ok(
            &jar,
            &url(setter, &format!("/expiry/?spec={}", query_escape(spec))),
        )
        .await;
        let reads = [
            get_ok(&jar, &url(0, "/read/")).await.json(),
            get_ok(&jar, &url(1, "/read/")).await.json(),
        ];
        assert_eq!(reads[0]["data"], reads[1]["data"], "{ctx}: data");
        assert_eq!(
            reads[0]["browser_close"], reads[1]["browser_close"],
            "{ctx}: browser_close"
        );
        let (a, b) = (
            date(&reads[0]["expiry_date"], &ctx),
            date(&reads[1]["expiry_date"], &ctx),
        );
        let gap = (a - b).abs();
        if spec.starts_with("at:") {
            assert_eq!(a, b, "{ctx}: get_expiry_date");
        } else {
            assert!(
                gap < time::Duration::seconds(2),
                "{ctx}: get_expiry_date {a} vs {b}"
            );
        }
        let (x, y) = (
            reads[0]["expiry_age"].as_i64(),
            reads[1]["expiry_age"].as_i64(),
        );
        assert!(
            x.zip(y).is_some_and(|(x, y)| (x - y).abs() <= 1),
            "{ctx}: get_expiry_age {x:?} vs {y:?}"
        );
        // The other side's next save sends the cookie this expiry calls for.
        count += 1;
        let visit = get_ok(&jar, &url(other, "/visit/")).await;
        assert_eq!(visit.body, format!("Visit count:{count}"), "{ctx}");
        let (setter_cookie, other_cookie) = (
            set.set_cookie(COOKIE)
                .unwrap_or_else(|| panic!("{ctx}: no cookie")),
            visit
                .set_cookie(COOKIE)
                .unwrap_or_else(|| panic!("{ctx}: no cookie on the other side")),
        );
        let (dj, rs) = if setter % 2 == 0 {
            (setter_cookie, other_cookie)
        } else {
            (other_cookie, setter_cookie)
        };
        assert_same_cookie(&ctx, dj, rs);
        match *spec {
            "browser_close" => assert_eq!(dj.max_age(), None, "{ctx}: a browser-session cookie"),
            "seconds:600" => assert_eq!(
                (dj.max_age(), rs.max_age()),
                (Some(600), Some(600)),
                "{ctx}"
            ),
            "default" => assert_eq!(dj.max_age(), Some(COOKIE_AGE), "{ctx}"),
            _ => {}
        }
    }

    // cycle_key on one side: the old key is dead on both (signed cookies
    // cannot revoke: there it stays readable on both), the new one works on both.
    for side in [0, 1] {
        let ctx = format!("cycle_key on {}", sides[side].0);
        let before = jar.cookie(COOKIE).expect("a session cookie");
        let reply = get_ok(&jar, &url(side, "/cycle/")).await;
        let after = reply
            .set_cookie(COOKIE)
            .unwrap_or_else(|| panic!("{ctx}: no new cookie"))
            .value
            .clone();
        // A signed cookie is only re-signed: within the same second, to the same value.
        if backend.has_server_copy() {
            assert_ne!(before, after, "{ctx}: a new key");
        }
        for reader in [0, 1] {
            let read = get_ok(
                &Client::with_cookie(COOKIE, &before),
                &url(reader, "/read/?contains=visit"),
            )
            .await
            .json();
            let still = read["contains"]["visit"] == json!(true);
            assert_eq!(
                still,
                !backend.has_server_copy(),
                "{ctx}: the old key read on {}: {read}",
                sides[reader].0
            );
        }
        for reader in [side + 1, side] {
            count += 1;
            let visit = get_ok(&jar, &url(reader, "/visit/")).await;
            assert_eq!(
                visit.body,
                format!("Visit count:{count}"),
                "{ctx}: the new key on {}",
                sides[reader % 2].0
            );
        }
    }

    // flush on one side: the cookie goes, the other side starts a fresh
    // session, and the old key is dead on both.
    for side in [0, 1] {
        let ctx = format!("flush on {}", sides[side].0);
        let before = jar.cookie(COOKIE).expect("a session cookie");
        let reply = get_ok(&jar, &url(side, "/flush/")).await;
        assert!(
            reply.set_cookie(COOKIE).is_some_and(SetCookie::deletes),
            "{ctx}: the cookie is deleted"
        );
        assert_eq!(jar.cookie(COOKIE), None, "{ctx}");
        let visit = get_ok(&jar, &url(side + 1, "/visit/")).await;
        assert_eq!(
            visit.body,
            "Visit count:1",
            "{ctx}: a fresh session on {}",
            sides[(side + 1) % 2].0
        );
        if backend.has_server_copy() {
            for reader in [0, 1] {
                let read = get_ok(
                    &Client::with_cookie(COOKIE, &before),
                    &url(reader, "/read/"),
                )
                .await
                .json();
                assert_eq!(
                    read["data"],
                    json!({}),
                    "{ctx}: the old key read on {}",
                    sides[reader].0
                );
            }
        }
    }
    drop(rust);
    let log = django.log();
    assert!(!log.contains("Traceback"), "Django logged an error:\n{log}");
}
