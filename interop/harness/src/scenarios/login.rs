//! Django's login, logout and password change, shared through
//! `sessionkit::auth`.

use serde_json::{json, Value};

use super::{get_ok, str_of, COOKIE};
use crate::client::Client;
use crate::harness::{Backend, Harness, TableOrder};

/// Django's login shared through `sessionkit::auth`: a login on either side
/// is the user on both, a logout on one ends it on both, and a password
/// change on Django invalidates the user's sessions on both.
pub async fn login_shared(backend: Backend) {
    let Some(h) = Harness::new(backend, TableOrder::DjangoFirst).await else {
        return;
    };
    let settings = h.settings();
    let made = h
        .django_ops(
            &settings,
            &[
                json!({"op": "create_user", "username": "alice", "password": "correct horse"}),
                json!({"op": "create_user", "username": "bob", "password": "battery staple"}),
            ],
        )
        .await;
    for (name, user) in ["alice", "bob"].iter().zip(&made) {
        h.users.set(
            name,
            str_of(&user["pk"], "pk"),
            str_of(&user["password"], "password hash"),
        );
    }
    let (alice, bob) = (made[0]["pk"].clone(), made[1]["pk"].clone());
    let django = h.django_server(&settings).await;
    let rust = h.rust_app(&settings).await;
    let dj = |p: &str| django.url(p);
    let rs = |p: &str| rust.url(p);
    let whoami = |client: Client, url: String| async move {
        get_ok(&client, &url).await.json()["user"].clone()
    };

    // Logged in on Django (after an anonymous visit on sessionkit): the key
    // is cycled, the anonymous data kept, and sessionkit sees the user.
    let a = Client::new();
    assert_eq!(get_ok(&a, &rs("/visit/")).await.body, "Visit count:1");
    let anonymous = a.cookie(COOKIE).expect("a session cookie");
    assert_eq!(
        get_ok(&a, &dj("/login/?username=alice")).await.json()["user"],
        alice
    );
    assert_ne!(
        a.cookie(COOKIE),
        Some(anonymous),
        "Django's login cycles the key"
    );
    assert_eq!(
        whoami(a.clone(), rs("/whoami/")).await,
        alice,
        "sessionkit recognises Django's login"
    );
    assert_eq!(whoami(a.clone(), dj("/whoami/")).await, alice);
    assert_eq!(
        get_ok(&a, &rs("/visit/")).await.body,
        "Visit count:2",
        "login kept the anonymous data"
    );

    // Logged in on sessionkit: Django's request.user.
    let b = Client::new();
    assert_eq!(get_ok(&b, &dj("/visit/")).await.body, "Visit count:1");
    let anonymous = b.cookie(COOKIE).expect("a session cookie");
    assert_eq!(
        get_ok(&b, &rs("/login/?username=bob")).await.json()["user"],
        bob
    );
    assert_ne!(
        b.cookie(COOKIE),
        Some(anonymous),
        "sessionkit's login cycles the key"
    );
    assert_eq!(
        whoami(b.clone(), dj("/whoami/")).await,
        bob,
        "Django recognises sessionkit's login"
    );
    assert_eq!(whoami(b.clone(), rs("/whoami/")).await, bob);
    assert_eq!(
        get_ok(&b, &dj("/visit/")).await.body,
        "Visit count:2",
        "login kept the anonymous data"
    );

    // A logout on one side ends the login on both.
    for (login, logout) in [
        (rs("/login/?username=bob"), dj("/logout/")),
        (dj("/login/?username=bob"), rs("/logout/")),
    ] {
        let c = Client::new();
        get_ok(&c, &login).await;
        let key = c.cookie(COOKIE).expect("a session cookie");
        get_ok(&c, &logout).await;
        assert_eq!(c.cookie(COOKIE), None, "logout deletes the cookie");
        if backend.has_server_copy() {
            let stale = Client::with_cookie(COOKIE, &key);
            assert_eq!(
                whoami(stale.clone(), dj("/whoami/")).await,
                Value::Null,
                "{login} then {logout}"
            );
            assert_eq!(
                whoami(stale, rs("/whoami/")).await,
                Value::Null,
                "{login} then {logout}"
            );
        }
    }

    // A password change on Django: every session of alice is invalid on both
    // sides — one logged in on Django checked by sessionkit first, one
    // logged in on sessionkit checked by Django first.
    let d = Client::new();
    get_ok(&d, &rs("/login/?username=alice")).await;
    assert_eq!(whoami(d.clone(), dj("/whoami/")).await, alice);
    get_ok(
        &Client::new(),
        &dj("/password/?username=alice&password=new%20password"),
    )
    .await;
    let changed = &h
        .django_ops(&settings, &[json!({"op": "user", "username": "alice"})])
        .await[0];
    h.users.set(
        "alice",
        str_of(&changed["pk"], "pk"),
        str_of(&changed["password"], "password hash"),
    );
    assert_eq!(
        whoami(a.clone(), rs("/whoami/")).await,
        Value::Null,
        "sessionkit after Django's password change"
    );
    assert_eq!(
        whoami(a.clone(), dj("/whoami/")).await,
        Value::Null,
        "Django after its password change"
    );
    assert_eq!(
        whoami(d.clone(), dj("/whoami/")).await,
        Value::Null,
        "Django after its password change"
    );
    assert_eq!(
        whoami(d.clone(), rs("/whoami/")).await,
        Value::Null,
        "sessionkit after Django's password change"
    );
    // bob is untouched.
    assert_eq!(whoami(b.clone(), rs("/whoami/")).await, bob);
    assert_eq!(whoami(b, dj("/whoami/")).await, bob);
    drop(rust);
    let log = django.log();
    assert!(!log.contains("Traceback"), "Django logged an error:\n{log}");
}
