//! What a session costs the memory engine, in bytes, estimated cheaply.
//!
//! The budget is in bytes so that a few large sessions cannot hold more
//! memory than many small ones. The estimate walks the decoded record once
//! (a save already copies it, so the walk adds no new order of cost) and
//! counts string bytes plus a fixed cost per value and per entry; it never
//! serializes.

use serde_json::Value;

use crate::store::SessionMap;

/// The slot, its key, and the pool's bookkeeping for one entry (its hash
/// set bucket and queue place, the allocator's overhead), rounded up.
const SLOT_BYTES: usize = 384;
/// A `serde_json::Value` in a container.
const VALUE_BYTES: usize = std::mem::size_of::<Value>();
/// An object entry besides its key's text and value: the key `String`, the
/// index map's hash slot and bucket.
const ENTRY_BYTES: usize = std::mem::size_of::<String>() + 16;

/// The estimated bytes a session holding `data` takes, saturating at
/// `u32::MAX` (the pools count weights in `u32`).
pub(super) fn weigh(data: &SessionMap) -> u32 {
    let mut total = SLOT_BYTES + object_bytes(data);
    // Nested containers are walked with a heap stack, not recursion: the
    // walk needs no thread stack however deep the value is. Only values
    // inside containers wait there, so a flat session (the usual one,
    // weighed on every save) allocates nothing.
    let mut pending: Vec<&Value> = Vec::new();
    let mut values = data.values();
    while let Some(value) = values.next().or_else(|| pending.pop()) {
        total = total.saturating_add(VALUE_BYTES);
        match value {
            Value::String(s) => total = total.saturating_add(s.len()),
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => {
                total = total.saturating_add(object_bytes(map));
                pending.extend(map.values());
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    u32::try_from(total).unwrap_or(u32::MAX)
}

/// The entries of `map` without their values.
fn object_bytes(map: &SessionMap) -> usize {
    map.keys()
        .fold(0usize, |acc, k| acc.saturating_add(ENTRY_BYTES + k.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> SessionMap {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("tests pass objects"),
        }
    }

    #[test]
    fn grows_with_the_data() {
        let empty = weigh(&SessionMap::new());
        assert_eq!(empty as usize, SLOT_BYTES);
        let small = weigh(&map(json!({"visits": 3})));
        assert!(small > empty);
        let blob = weigh(&map(json!({"visits": 3, "blob": "x".repeat(100_000)})));
        assert!(blob >= small + 100_000, "{blob}");
        let nested = weigh(&map(
            json!({"cart": [{"sku": "x".repeat(1000)}, [1, 2, 3]]}),
        ));
        assert!(nested > 1000 + empty, "{nested}");
    }
}
