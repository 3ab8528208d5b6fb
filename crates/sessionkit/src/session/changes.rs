//! The per-request change log, and its replay onto a newer stored record.
//!
//! A request records *what* it changed, per key, not the whole dict it ended
//! with. When a compare-and-set save finds that another request saved first,
//! the layer reloads and replays only these changes: requests that touch
//! different keys both survive, and increments add up exactly.

use serde_json::Value;

use crate::store::SessionMap;

/// One change a request made to its session.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Change {
    /// `session[key] = value`: last writer wins for that key, as in Django.
    Set(String, Value),
    /// `del session[key]` (recorded only when the key was there).
    Remove(String),
    /// `increment(key, by)`: re-applied as an addition on the newer value.
    Increment(String, i64),
    /// `clear()`: everything before it is superseded.
    Clear,
}

/// Why a change could not be replayed on the newer record.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReplayError {
    /// Someone else stored a non-integer (or an overflowing one) under a key
    /// this request increments.
    NotAnInteger(String),
}

/// Adds `by` to an integer JSON value (missing counts as 0).
pub(crate) fn add(current: Option<&Value>, by: i64) -> Result<i64, ()> {
    let base = match current {
        None => 0,
        Some(v) => v.as_i64().ok_or(())?,
    };
    base.checked_add(by).ok_or(())
}

/// Applies `changes` in order to `data` (a freshly loaded record's dict).
pub(crate) fn replay(data: &mut SessionMap, changes: &[Change]) -> Result<(), ReplayError> {
    for change in changes {
        match change {
            Change::Set(k, v) => {
                data.insert(k.clone(), v.clone());
            }
            Change::Remove(k) => {
                data.shift_remove(k);
            }
            Change::Increment(k, by) => {
                let n = add(data.get(k), *by).map_err(|()| ReplayError::NotAnInteger(k.clone()))?;
                data.insert(k.clone(), Value::from(n));
            }
            Change::Clear => data.clear(),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> SessionMap {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn different_keys_both_survive() {
        let mut theirs = map(json!({"a": 1, "b": 2}));
        replay(
            &mut theirs,
            &[
                Change::Set("c".into(), json!(3)),
                Change::Remove("a".into()),
            ],
        )
        .unwrap();
        assert_eq!(theirs, map(json!({"b": 2, "c": 3})));
    }

    #[test]
    fn increments_add_up() {
        let mut theirs = map(json!({"visit": 7}));
        replay(&mut theirs, &[Change::Increment("visit".into(), 1)]).unwrap();
        assert_eq!(theirs["visit"], json!(8));
        let mut empty = SessionMap::new();
        replay(&mut empty, &[Change::Increment("visit".into(), 2)]).unwrap();
        assert_eq!(empty["visit"], json!(2));
    }

    #[test]
    fn clear_supersedes_earlier_changes_only() {
        let mut theirs = map(json!({"a": 1}));
        replay(
            &mut theirs,
            &[
                Change::Set("x".into(), json!(1)),
                Change::Clear,
                Change::Set("y".into(), json!(2)),
            ],
        )
        .unwrap();
        assert_eq!(theirs, map(json!({"y": 2})));
    }

    #[test]
    fn increment_on_foreign_string_fails_cleanly() {
        let mut theirs = map(json!({"visit": "many"}));
        let err = replay(&mut theirs, &[Change::Increment("visit".into(), 1)]).unwrap_err();
        assert_eq!(err, ReplayError::NotAnInteger("visit".into()));
        let mut big = map(json!({"visit": i64::MAX}));
        assert!(replay(&mut big, &[Change::Increment("visit".into(), 1)]).is_err());
    }
}
