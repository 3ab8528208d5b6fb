//! Expiry: what an expired record looks like, `clear_expired`, and `touch`.

use time::{Duration, OffsetDateTime};

use super::util::{self, cleanup, create, load, load_live, marked, micros, save, save_ok};
use crate::key;
use crate::store::{SaveOutcome, SessionStore};

/// A record is live while `expires_at > now`, strictly (Django's
/// `expire_date > now`). Creating an expired record succeeds but it never
/// loads; a save onto it never brings it back; a save that moves a live
/// record's expiry into the past expires it (Django's `set_expiry(-10)` test).
pub async fn expired_records(store: &dyn SessionStore, now: OffsetDateTime) {
    let now = micros(now);
    let mut keys = Vec::new();
    for (expires_at, name) in [
        (now - Duration::seconds(1), "a second ago"),
        (now - Duration::microseconds(1), "a microsecond ago"),
        (now, "exactly now"),
    ] {
        let created = create(store, &marked("expired", expires_at), now).await;
        assert!(
            load(store, &created.cookie_value, now).await.is_none(),
            "a record that expired {name} loads"
        );
        keys.push(created);
    }

    // A db engine keeps an expired row until `clear_expired`, and may compare
    // the version before the expiry; a `Conflict` is then fine as long as
    // nothing is written, because the session layer reloads after a
    // `Conflict`, finds nothing and ends where `Gone` ends.
    let stale = &keys[0];
    let outcome = save(
        store,
        &stale.cookie_value,
        &marked("revived", now + Duration::hours(1)),
        &stale.version,
        now,
    )
    .await;
    assert!(
        matches!(outcome, SaveOutcome::Gone | SaveOutcome::Conflict),
        "a save onto an expired record must be Gone (or Conflict), got {outcome:?}"
    );
    assert!(
        load(store, &stale.cookie_value, now).await.is_none(),
        "a save onto an expired record brought it back ({outcome:?})"
    );

    let live = create(store, &marked("live", now + Duration::minutes(10)), now).await;
    let loaded = load_live(
        store,
        &live.cookie_value,
        now,
        "a record live for 10 minutes",
    )
    .await;
    let ended = save_ok(
        store,
        &live.cookie_value,
        &marked("live", now - Duration::seconds(10)),
        &loaded.version,
        now,
        "a save that moves the expiry into the past",
    )
    .await;
    assert!(
        load(store, &ended.cookie_value, now).await.is_none(),
        "a record saved with a past expiry still loads"
    );

    let names = keys.iter().map(|s| s.cookie_value.as_str());
    cleanup(store, names.chain([live.cookie_value.as_str()])).await;
}

/// `clear_expired(now)` removes the expired records, returns how many it
/// removed, and keeps every live one.
///
/// Counts everything the store holds: no other test may write expired records
/// to the same store meanwhile.
pub async fn clear_expired(store: &dyn SessionStore, now: OffsetDateTime) {
    clear_expired_scenario(store, now, true).await;
}

/// `clear_expired(now)` keeps every live record and leaves no expired one
/// loadable, for engines whose entries also expire by themselves (the count is
/// not checked).
pub async fn clear_expired_keeps_live(store: &dyn SessionStore, now: OffsetDateTime) {
    clear_expired_scenario(store, now, false).await;
}

async fn clear_expired_scenario(store: &dyn SessionStore, now: OffsetDateTime, counts: bool) {
    let now = micros(now);
    // Whatever expired before this test is not its business.
    util::clear_expired(store, now).await;

    let mut expired = Vec::new();
    for ago in [
        Duration::microseconds(1),
        Duration::seconds(1),
        Duration::days(30),
    ] {
        expired.push(
            create(store, &marked("expired", now - ago), now)
                .await
                .cookie_value,
        );
    }
    let mut live = Vec::new();
    for ahead in [Duration::minutes(10), Duration::weeks(2)] {
        let record = marked("live", now + ahead);
        live.push((create(store, &record, now).await.cookie_value, record));
    }

    let removed = util::clear_expired(store, now).await;
    if counts {
        assert_eq!(
            removed, 3,
            "clear_expired removed {removed} records, expected the 3 expired ones"
        );
        let again = util::clear_expired(store, now).await;
        assert_eq!(
            again, 0,
            "a second clear_expired still found {again} expired records"
        );
    }
    for key in &expired {
        assert!(
            load(store, key, now).await.is_none(),
            "an expired record loads after clear_expired"
        );
    }
    for (key, record) in &live {
        let loaded = load_live(store, key, now, "a live record after clear_expired").await;
        assert_eq!(
            loaded.record.data, record.data,
            "clear_expired changed a live record"
        );
    }
    let names = live.iter().map(|(key, _)| key.as_str());
    cleanup(store, names.chain(expired.iter().map(String::as_str))).await;
}

/// `touch` extends a live record without changing its data and without making
/// a version loaded before it stale: a concurrent compare-and-set still
/// succeeds. On a missing or expired key it returns `false` and creates nothing.
pub async fn touch(store: &dyn SessionStore, now: OffsetDateTime) {
    let now = micros(now);
    let record = marked("touched", now + Duration::minutes(10));
    let key = create(store, &record, now).await.cookie_value;
    let before = load_live(store, &key, now, "before touch").await;

    assert!(
        util::touch(store, &key, now + Duration::hours(2), now).await,
        "touch of a live record returned false"
    );
    let after = load_live(store, &key, now, "after touch").await;
    assert_eq!(after.record.data, record.data, "touch changed the data");
    save_ok(
        store,
        &key,
        &marked("saved after touch", now + Duration::minutes(20)),
        &before.version,
        now,
        "a save with a version loaded before a touch",
    )
    .await;

    let missing = key::generate_key();
    assert!(
        !util::touch(store, &missing, now + Duration::hours(1), now).await,
        "touch of a missing key returned true"
    );
    assert!(
        load(store, &missing, now).await.is_none(),
        "touch created a record"
    );

    let expired = create(store, &marked("expired", now - Duration::seconds(1)), now).await;
    assert!(
        !util::touch(store, &expired.cookie_value, now + Duration::hours(1), now).await,
        "touch of an expired record returned true"
    );
    assert!(
        load(store, &expired.cookie_value, now).await.is_none(),
        "touch brought an expired record back"
    );
    cleanup(store, [&*key, &*expired.cookie_value]).await;
}

/// `touch` sets `expires_at` exactly: later, earlier, and into the past
/// (which expires the record).
pub async fn touch_moves_expiry(store: &dyn SessionStore, now: OffsetDateTime) {
    let now = micros(now);
    let key = create(store, &marked("touched", now + Duration::minutes(10)), now)
        .await
        .cookie_value;
    for expires_at in [
        now + Duration::hours(3) + Duration::microseconds(250),
        now + Duration::minutes(1),
    ] {
        assert!(
            util::touch(store, &key, expires_at, now).await,
            "touch of a live record returned false"
        );
        let loaded = load_live(store, &key, now, "after touch").await;
        assert_eq!(
            loaded.record.expires_at, expires_at,
            "touch did not set expires_at"
        );
    }
    assert!(
        util::touch(store, &key, now - Duration::seconds(1), now).await,
        "touch of a live record returned false"
    );
    assert!(
        load(store, &key, now).await.is_none(),
        "a record touched into the past still loads"
    );
    cleanup(store, [&*key]).await;
}
