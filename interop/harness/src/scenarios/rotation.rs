//! `SECRET_KEY_FALLBACKS` rotation, both ways, for sessions and for a
//! login's session auth hash.

use serde_json::json;

use super::{django_found, get_ok, str_of, COOKIE};
use crate::client::Client;
use crate::harness::{Backend, Harness, TableOrder, OLD_SECRET, SECRET};

use super::at_rest::read_ops;

/// Rotation: written under the old key, read with it as a fallback, re-signed
/// with the new key on the next save, then read with the new key alone — with
/// Django first and with sessionkit first; the same for a login's session auth
/// hash.
pub async fn key_rotation(backend: Backend) {
    let Some(h) = Harness::new(backend, TableOrder::DjangoFirst).await else {
        return;
    };
    let settings = h.settings();
    let old = settings.clone().with_keys(OLD_SECRET, &[]);
    let rotated = settings.clone().with_keys(SECRET, &[OLD_SECRET]);
    let new_only = settings.clone().with_keys(SECRET, &[]);

    // Django (old key) → sessionkit (new key, old as fallback) → Django (new key alone).
    let w = h
        .django_ops(
            &old,
            &[json!({"op": "write", "data": {"visit": 1, "by": "Django ✓"}})],
        )
        .await;
    let key = str_of(&w[0]["key"], "written key").to_owned();
    assert_eq!(
        h.rust_read(&new_only, &key).await["found"],
        json!(false),
        "new key alone, before the re-sign"
    );
    let app = h.rust_app(&rotated).await;
    let client = Client::with_cookie(COOKIE, &key);
    let reply = client.get(&app.url("/visit/")).await;
    assert_eq!(
        reply.body, "Visit count:2",
        "sessionkit read Django's old-key session through the fallback"
    );
    drop(app);
    let resigned = client.cookie(COOKIE).expect("the session cookie");
    let read = &h.django_ops(&new_only, &read_ops(&[resigned])).await[0];
    assert!(
        django_found(read),
        "Django with the new key alone reads sessionkit's re-signed session: {read}"
    );
    assert_eq!(read["data"], json!({"visit": 2, "by": "Django ✓"}));

    // sessionkit (old key) → Django (new key, old as fallback) → sessionkit (new key alone).
    let app = h.rust_app(&old).await;
    let client = Client::new();
    assert_eq!(client.get(&app.url("/visit/")).await.body, "Visit count:1");
    drop(app);
    let key = client.cookie(COOKIE).expect("the session cookie");
    let read = &h
        .django_ops(&new_only, &read_ops(std::slice::from_ref(&key)))
        .await[0];
    assert!(
        !django_found(read),
        "Django with the new key alone, before the re-sign: {read}"
    );
    let inc = &h
        .django_ops(
            &rotated,
            &[json!({"op": "increment", "key": key, "name": "visit"})],
        )
        .await[0];
    assert_eq!(
        inc["value"],
        json!(2),
        "Django read sessionkit's old-key session through the fallback"
    );
    let resigned = str_of(&inc["key"], "key after save");
    let read = h.rust_read(&new_only, resigned).await;
    assert_eq!(
        read["found"],
        json!(true),
        "sessionkit with the new key alone reads Django's re-signed session"
    );
    assert_eq!(read["data"], json!({"visit": 2}));

    // A login made under the old key: the other side, with the old key as a
    // fallback, accepts the session auth hash, renews it with the new key and
    // cycles the session key; then a side with the new key alone sees the user.
    let made = &h
        .django_ops(
            &settings,
            &[json!({"op": "create_user", "username": "carol", "password": "pw"})],
        )
        .await[0];
    let carol = made["pk"].clone();
    h.users.set(
        "carol",
        str_of(&carol, "pk"),
        str_of(&made["password"], "password hash"),
    );

    let key = h
        .django_ops(&old, &[json!({"op": "login", "username": "carol"})])
        .await[0]["key"]
        .clone();
    let key = str_of(&key, "login key");
    let app = h.rust_app(&rotated).await;
    let client = Client::with_cookie(COOKIE, key);
    let who = get_ok(&client, &app.url("/whoami/")).await.json();
    assert_eq!(
        who["user"], carol,
        "sessionkit accepts Django's old-key login through the fallback"
    );
    drop(app);
    let renewed = client.cookie(COOKIE).expect("the session cookie");
    assert_ne!(
        renewed, key,
        "the key is cycled when a fallback hash is renewed"
    );
    let who = &h
        .django_ops(&new_only, &[json!({"op": "whoami", "key": renewed})])
        .await[0];
    assert_eq!(
        who["user"], carol,
        "Django with the new key alone, after sessionkit renewed the hash"
    );

    let app = h.rust_app(&old).await;
    let client = Client::new();
    get_ok(&client, &app.url("/login/?username=carol")).await;
    drop(app);
    let key = client.cookie(COOKIE).expect("the session cookie");
    let who = &h
        .django_ops(&rotated, &[json!({"op": "whoami", "key": key})])
        .await[0];
    assert_eq!(
        who["user"], carol,
        "Django accepts sessionkit's old-key login through the fallback"
    );
    let renewed = str_of(&who["key"], "key after get_user");
    assert_ne!(
        renewed, key,
        "Django cycles the key when a fallback hash is renewed"
    );
    let app = h.rust_app(&new_only).await;
    let who = get_ok(&Client::with_cookie(COOKIE, renewed), &app.url("/whoami/"))
        .await
        .json();
    assert_eq!(
        who["user"], carol,
        "sessionkit with the new key alone, after Django renewed the hash"
    );
}
