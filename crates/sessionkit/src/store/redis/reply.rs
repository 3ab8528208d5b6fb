//! What the server's replies mean, one function per command or script.

use ::redis::Value;

use super::error::UnexpectedReply;
use crate::error::StoreError;

/// A session entry's two fields as `HMGET` returns them, each `None` when
/// missing (both are missing when the key is).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Fields {
    pub(super) data: Option<Vec<u8>>,
    pub(super) expire_date: Option<Vec<u8>>,
}

/// `HMGET key session_data expire_date`.
pub(super) fn fields(reply: Value) -> Result<Fields, StoreError> {
    let field = |value: Value| match value {
        Value::Nil => Ok(None),
        Value::BulkString(bytes) => Ok(Some(bytes)),
        _ => Err(unexpected("HMGET")),
    };
    match reply {
        Value::Array(items) => match <[Value; 2]>::try_from(items) {
            Ok([data, expire_date]) => Ok(Fields {
                data: field(data)?,
                expire_date: field(expire_date)?,
            }),
            Err(_) => Err(unexpected("HMGET")),
        },
        _ => Err(unexpected("HMGET")),
    }
}

/// What the compare-and-set script did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Cas {
    Written,
    Conflict,
    Gone,
}

/// The compare-and-set script's reply.
pub(super) fn save(reply: &Value) -> Result<Cas, StoreError> {
    match reply {
        Value::Int(1) => Ok(Cas::Written),
        Value::Int(0) => Ok(Cas::Conflict),
        Value::Int(-1) => Ok(Cas::Gone),
        _ => Err(unexpected("the save script")),
    }
}

/// A script or command answering `1` (yes) or `0` (no).
pub(super) fn flag(reply: &Value, command: &'static str) -> Result<bool, StoreError> {
    match reply {
        Value::Int(1) => Ok(true),
        Value::Int(0) => Ok(false),
        _ => Err(unexpected(command)),
    }
}

/// `DEL`: any count is fine.
pub(super) fn count(reply: &Value, command: &'static str) -> Result<i64, StoreError> {
    match reply {
        Value::Int(n) => Ok(*n),
        _ => Err(unexpected(command)),
    }
}

fn unexpected(command: &'static str) -> StoreError {
    StoreError::Backend(Box::new(UnexpectedReply { command }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(bytes: &[u8]) -> Value {
        Value::BulkString(bytes.to_vec())
    }

    #[test]
    fn hmget_replies() {
        let both = Value::Array(vec![bulk(b"d"), bulk(b"1")]);
        assert_eq!(
            fields(both).ok(),
            Some(Fields {
                data: Some(b"d".to_vec()),
                expire_date: Some(b"1".to_vec()),
            })
        );
        let none = Value::Array(vec![Value::Nil, Value::Nil]);
        assert_eq!(
            fields(none).ok(),
            Some(Fields {
                data: None,
                expire_date: None,
            })
        );
        for odd in [
            Value::Nil,
            Value::Array(vec![bulk(b"d")]),
            Value::Array(vec![bulk(b"d"), Value::Int(1)]),
        ] {
            assert!(matches!(fields(odd), Err(StoreError::Backend(_))));
        }
    }

    #[test]
    fn save_replies() {
        assert_eq!(save(&Value::Int(1)).ok(), Some(Cas::Written));
        assert_eq!(save(&Value::Int(0)).ok(), Some(Cas::Conflict));
        assert_eq!(save(&Value::Int(-1)).ok(), Some(Cas::Gone));
        assert!(save(&Value::Int(2)).is_err());
        assert!(save(&Value::Okay).is_err());
    }

    #[test]
    fn flags_and_counts() {
        assert_eq!(flag(&Value::Int(1), "x").ok(), Some(true));
        assert_eq!(flag(&Value::Int(0), "x").ok(), Some(false));
        assert!(flag(&Value::Int(2), "x").is_err());
        assert!(flag(&Value::Nil, "x").is_err());
        assert_eq!(count(&Value::Int(3), "DEL").ok(), Some(3));
        assert!(count(&Value::Okay, "DEL").is_err());
    }
}
