//! The sessions both directions write and read: non-ASCII text and emoji,
//! nested values, a payload large enough to be compressed, and every kind of
//! expiry Django's `set_expiry` takes.

use serde_json::{json, Value};

/// One session to write: its data and the expiry spec to set after it
/// (`seconds:N` | `at:<ISO>` | `browser_close` | `default`, or none).
#[derive(Clone, Debug)]
pub struct Case {
    /// A name for failure messages.
    pub name: &'static str,
    /// The data (a JSON object), written with `update` in this order.
    pub data: Value,
    /// The expiry spec, if any.
    pub expiry: Option<&'static str>,
    /// What Django stores as `_session_expiry` for that spec (`None`: no key).
    pub stored_expiry: Option<Value>,
    /// Whether the session is already expired once written (an absolute
    /// expiry in the past).
    pub expired: bool,
}

/// Text that zlib shrinks a lot, so the stored value carries the `.` flag.
pub fn compressible_text() -> String {
    "The quick brown fox jumps over the lazy dog. Ünïcödé 😀 ".repeat(120)
}

/// Every case, in writing order.
pub fn cases() -> Vec<Case> {
    let small = |kind: &str| json!({ "kind": kind, "visit": 3 });
    vec![
        Case {
            name: "unicode",
            data: json!({
                "name": "Zoë Ångström",
                "greeting": "こんにちは世界",
                "emoji": "😀🎉👍🏽🇫🇷",
                "math": "∑ x² ≤ ∞",
                "escapes": "tab\tnewline\nquote\"backslash\\slash/",
                "control": "\u{1}\u{1f}\u{7f}",
            }),
            expiry: None,
            stored_expiry: None,
            expired: false,
        },
        Case {
            name: "nested",
            data: json!({
                "cart": {
                    "items": [
                        {"sku": "A-1", "qty": 2, "price": 9.99},
                        {"sku": "B-2", "qty": 1, "price": 0.1},
                    ],
                    "coupon": null,
                    "gift": false,
                },
                "matrix": [[1, 2], [3, [4, [5, {}]]]],
                "empty": {"list": [], "obj": {}, "str": ""},
                "numbers": {
                    "zero": 0,
                    "neg": -17,
                    "beyond_f64": 9_007_199_254_740_993_i64,
                    "i64_max": i64::MAX,
                    "i64_min": i64::MIN,
                    "u64_max": u64::MAX,
                    "small": 1.5e-7,
                    "large": 1e300,
                },
                "zebra": "keys stay in insertion order, not sorted",
                "apple": 1,
            }),
            expiry: None,
            stored_expiry: None,
            expired: false,
        },
        Case {
            name: "compressed",
            data: json!({ "text": compressible_text(), "visit": 1 }),
            expiry: None,
            stored_expiry: None,
            expired: false,
        },
        Case {
            name: "expiry_seconds",
            data: small("seconds"),
            expiry: Some("seconds:3600"),
            stored_expiry: Some(json!(3600)),
            expired: false,
        },
        Case {
            name: "expiry_absolute_utc",
            data: small("absolute"),
            expiry: Some("at:2031-02-03T04:05:06.123456+00:00"),
            stored_expiry: Some(json!("2031-02-03T04:05:06.123456+00:00")),
            expired: false,
        },
        Case {
            name: "expiry_absolute_offset",
            data: small("absolute with offset"),
            expiry: Some("at:2030-05-17T09:30:00+05:30"),
            stored_expiry: Some(json!("2030-05-17T09:30:00+05:30")),
            expired: false,
        },
        Case {
            name: "expiry_browser_close",
            data: small("browser close"),
            expiry: Some("browser_close"),
            stored_expiry: Some(json!(0)),
            expired: false,
        },
        Case {
            name: "expiry_default",
            data: small("default"),
            expiry: Some("default"),
            stored_expiry: None,
            expired: false,
        },
        Case {
            name: "expired",
            data: small("expired"),
            expiry: Some("at:2020-01-01T00:00:00+00:00"),
            stored_expiry: Some(json!("2020-01-01T00:00:00+00:00")),
            expired: true,
        },
    ]
}

impl Case {
    /// The dict as Django holds it after the write: the data, then
    /// `_session_expiry` when the spec stores one.
    pub fn expected_data(&self) -> Value {
        let mut data = self.data.clone();
        if let (Some(v), Value::Object(map)) = (&self.stored_expiry, &mut data) {
            map.insert(sessionkit::expiry::EXPIRY_KEY.to_owned(), v.clone());
        }
        data
    }

    /// The `interop` command's `write` operation for this case.
    pub fn write_op(&self) -> Value {
        json!({ "op": "write", "data": self.data, "expiry": self.expiry })
    }

    /// The body of the Rust app's `POST /set/` for this case.
    pub fn set_body(&self) -> Value {
        json!({ "data": self.data, "expiry": self.expiry })
    }
}
