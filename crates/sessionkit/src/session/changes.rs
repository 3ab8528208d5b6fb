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

/// Why an increment cannot apply to a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AddError {
    /// The value is not an integer.
    NotAnInteger,
    /// The sum leaves `i64`.
    Overflow,
}

/// Why a change could not be replayed on the newer record: someone else
/// stored, under a key this request increments, a value it cannot add to.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ReplayError {
    #[error("session value {0:?} is no longer an integer")]
    NotAnInteger(String),
    #[error("session value {0:?} would overflow")]
    Overflow(String),
}

/// Adds `by` to an integer JSON value (missing counts as 0).
pub(crate) fn add(current: Option<&Value>, by: i64) -> Result<i64, AddError> {
    let base = match current {
        None => 0,
        Some(v) => v.as_i64().ok_or(AddError::NotAnInteger)?,
    };
    base.checked_add(by).ok_or(AddError::Overflow)
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
                let n = add(data.get(k), *by).map_err(|e| match e {
                    AddError::NotAnInteger => ReplayError::NotAnInteger(k.clone()),
                    AddError::Overflow => ReplayError::Overflow(k.clone()),
                })?;
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
        let err = replay(&mut big, &[Change::Increment("visit".into(), 1)]).unwrap_err();
        assert_eq!(err, ReplayError::Overflow("visit".into()));
    }
}
