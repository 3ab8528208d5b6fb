use serde_json::json;

use super::*;

fn raw(token: &str) -> Value {
    json!({ RAW_JSON_KEY: token })
}

fn parsed(text: &str) -> Value {
    match parse(text.as_bytes()) {
        Some(v) => v,
        None => panic!("Python reads {text:?}"),
    }
}

#[test]
fn non_finite_floats_become_markers() {
    assert_eq!(
        parsed("[NaN, Infinity,-Infinity ]"),
        json!([raw("NaN"), raw("Infinity"), raw("-Infinity")])
    );
    // Python reads an overflowing float as an infinity and writes it back so.
    assert_eq!(
        parsed("[1e400,-1E+400,1.5e99999999999999999999]"),
        json!([raw("Infinity"), raw("-Infinity"), raw("Infinity")])
    );
    assert_eq!(parsed("[1e-400, 0e99999]"), json!([0.0, 0.0]));
}

#[test]
fn integers_beyond_64_bits_become_markers() {
    assert_eq!(
        parsed("[1180591620717411303424,-9223372036854775809,18446744073709551616]"),
        json!([
            raw("1180591620717411303424"),
            raw("-9223372036854775809"),
            raw("18446744073709551616")
        ])
    );
    assert_eq!(
        parsed("[18446744073709551615,-9223372036854775808,0,-7]"),
        json!([u64::MAX, i64::MIN, 0, -7])
    );
    let long = format!("[{}]", "9".repeat(5000));
    assert_eq!(parsed(&long), json!([raw(&"9".repeat(5000))]));
}

#[test]
fn floats_read_as_serde_json_reads_them() {
    for text in [
        "0.1",
        "-0.0",
        "1e+16",
        "1e-05",
        "1.2345678901234568e+17",
        "5e-324",
        "1.7976931348623157e+308",
        "2.2250738585072014e-308",
        "1e+19",
        "12345678901234567890123.5",
        "0.30000000000000004",
    ] {
        let want: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => panic!("{text}: {e}"),
        };
        let got = parsed(text);
        assert_eq!(got, want, "{text}");
        assert_eq!(
            got.as_f64().map(f64::to_bits),
            want.as_f64().map(f64::to_bits)
        );
    }
}

#[test]
fn lone_surrogates_become_markers_in_python_form() {
    assert_eq!(parsed(r#""\ud800x""#), raw(r#""\ud800x""#));
    // Upper-case hex, `\/` and a raw latin-1 byte are written back as Python would.
    assert_eq!(
        parse(b"\"\\uDC00\\/\xe9\\u00E9\\n\\u0041\"").unwrap_or_default(),
        raw(r#""\udc00/\u00e9\u00e9\nA""#)
    );
    // A high surrogate before something other than a low one is lone too.
    assert_eq!(
        parsed(r#"["\ud83d\ud83d\ude00", "\ude00\ud83d", "\ud83d\u0041"]"#),
        json!([
            raw(r#""\ud83d\ud83d\ude00""#),
            raw(r#""\ude00\ud83d""#),
            raw(r#""\ud83dA""#)
        ])
    );
    // Paired surrogates and everything else stay plain strings.
    assert_eq!(
        parsed(r#""\ud83d\ude00 \u00e9 \"\\\/\b\f\n\r\t""#),
        json!("😀 é \"\\/\u{8}\u{c}\n\r\t")
    );
    assert_eq!(parse(b"\"caf\xe9\"").unwrap_or_default(), json!("café"));
}

#[test]
fn lone_surrogate_keys_keep_their_token() {
    let v = parsed(r#"{"\ud800":1,"a":2}"#);
    let Some(map) = v.as_object() else {
        panic!("an object: {v}")
    };
    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
    assert_eq!(keys, [format!("{RAW_JSON_KEY}\"\\ud800\"").as_str(), "a"]);
    assert_eq!(raw_key_token(keys[0]), Some(r#""\ud800""#));
    assert_eq!(raw_key_token("a"), None);
    assert_eq!(raw_key_token(&format!("{RAW_JSON_KEY}\"a\"")), None);
}

#[test]
fn markers_nest_and_duplicates_keep_first_place_last_value() {
    let v = parsed(r#"{"a":{"b":[NaN,{"c":1e999}]},"d":1,"a":[-Infinity],"d":2}"#);
    assert_eq!(v, json!({"a": [raw("-Infinity")], "d": 2}));
    assert_eq!(
        serde_json::to_string(&v).ok(),
        Some(format!(
            r#"{{"a":[{{"{}":"-Infinity"}}],"d":2}}"#,
            "\\u0000sessionkit:python-json"
        ))
    );
    // Same as serde_json for what both read.
    let text = r#"{"z":1,"y":{"k":[1,2.5,"s",null,true,false]},"z":3}"#;
    assert_eq!(parse(text.as_bytes()), serde_json::from_str(text).ok());
}

#[test]
fn depth_is_limited() {
    let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(parse(ok.as_bytes()).is_some());
    let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    assert_eq!(parse(deep.as_bytes()), None);
    let objects = format!(
        "{}1{}",
        r#"{"a":"#.repeat(MAX_DEPTH + 1),
        "}".repeat(MAX_DEPTH + 1)
    );
    assert_eq!(parse(objects.as_bytes()), None);
    // Far beyond the limit, unclosed: refused without recursing that far.
    assert_eq!(parse("[{\"a\":".repeat(1_000_000).as_bytes()), None);
}

#[test]
fn what_python_refuses_is_refused() {
    for text in [
        "",
        " ",
        "[",
        "]",
        "{",
        "[1,]",
        "[,1]",
        r#"{"a":1,}"#,
        r#"{"a" 1}"#,
        r#"{a:1}"#,
        "{1:2}",
        "01",
        "1.",
        ".5",
        "1e",
        "1e+",
        "-",
        "--1",
        "+1",
        "nan",
        "inf",
        "-NaN",
        "Infinit",
        "-Inf",
        "NULL",
        "tru",
        r#""a"#,
        r#""\x""#,
        r#""\u12""#,
        r#""\u12g4""#,
        "\"\t\"",
        "\"\u{0}\"",
        "[1] [2]",
        "1 2",
        "[1}",
        r#"{"a":1]"#,
        "\u{feff}1",
        "0x1",
    ] {
        assert_eq!(parse(text.as_bytes()), None, "{text:?}");
    }
    // Python reads a raw latin-1 byte or DEL in a string, and whitespace around.
    assert_eq!(parse(b" \n\t\r\"\x7f\xff\" "), Some(json!("\u{7f}ÿ")));
}

#[test]
fn garbage_never_panics() {
    // A small deterministic generator (xorshift) over JSON-ish bytes.
    let alphabet = b"{}[]\",:\\u0123456789abcdefABCDEF.eE+-NaInfityrlsx \n\xe9\x00";
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        let len = (state % 40) as usize;
        let mut text = Vec::with_capacity(len);
        for _ in 0..len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            text.push(alphabet[(state % alphabet.len() as u64) as usize]);
        }
        if let Some(v) = parse(&text) {
            // Whatever is read writes back as JSON that reads the same again.
            let again = super::super::json::to_python_json(&v);
            assert_eq!(parse(again.as_bytes()), Some(v), "{text:?}");
        }
    }
}

#[test]
fn every_cut_and_flip_of_a_rich_document_is_safe() {
    let doc = br#" {"a":[NaN,-Infinity,1e400,-12345678901234567890123,0.5,-0,1E+2],
        "\ud800k":{"s":"\ud83d\ude00\udc00\u00E9\/\"\\","t":true,"f":false,"n":null},
        "a":{}} "#;
    assert!(parse(doc).is_some());
    for cut in 0..doc.len() {
        let _ = parse(&doc[..cut]);
        for flip in [0x01, 0x20, 0x80, 0xff] {
            let mut bytes = doc.to_vec();
            bytes[cut] ^= flip;
            if let Some(v) = parse(&bytes) {
                let again = super::super::json::to_python_json(&v);
                assert_eq!(parse(again.as_bytes()), Some(v));
            }
        }
    }
}

#[test]
fn objects_at_the_depth_limit_parse_write_and_drop() {
    let n = MAX_DEPTH - 1;
    let text = format!("{}NaN{}", r#"{"k":["#.repeat(n / 2), "]}".repeat(n / 2));
    let v = parsed(&text);
    assert_eq!(super::super::json::to_python_json(&v), text);
}

#[test]
fn tokens_are_validated() {
    for good in [
        "NaN",
        "Infinity",
        "-Infinity",
        "18446744073709551616",
        "-9223372036854775809",
        r#""\ud800""#,
        r#""a\udc00\"\\\n\r\t\b\f\u0001\u007f\u00e9""#,
        r#""\ud83d\ude00\ud83d""#,
    ] {
        assert!(raw_value(good).is_some(), "{good}");
    }
    for bad in [
        "",
        "nan",
        "1",
        "-1",
        "18446744073709551615",
        "-9223372036854775808",
        "018446744073709551616",
        "+18446744073709551616",
        "-0",
        "1e400",
        "18446744073709551616.0",
        r#""plain""#,
        r#""\ud83d\ude00""#,
        r#""\uD800""#,
        r#""\ud800\u0041""#,
        r#""\ud800\/""#,
        r#""\ud800é""#,
        "\"\\ud800\u{1}\"",
        r#""\ud800"#,
        r#""\ud800"x"#,
        r#""\ud800""a""#,
        r#""\ud800\""#,
        r#"1,"x":2"#,
        r#""\ud800",{"#,
    ] {
        assert_eq!(raw_value(bad), None, "{bad}");
        assert_eq!(raw_token(&raw(bad)), None, "{bad}");
    }
    assert_eq!(raw_token(&json!({ RAW_JSON_KEY: 1 })), None);
    assert_eq!(raw_token(&json!({ RAW_JSON_KEY: "NaN", "b": 1 })), None);
    assert_eq!(raw_token(&json!({ "x": "NaN" })), None);
    assert_eq!(raw_token(&json!("NaN")), None);
}

#[test]
fn big_int_check_only_sees_large_floats() {
    assert!(!may_hold_big_int(
        &json!({"a": [1, -1, u64::MAX, i64::MIN, 1e18, "1e30", {"b": null}]})
    ));
    assert!(may_hold_big_int(&json!({"a": [{"b": 1.2e21}]})));
    assert!(may_hold_big_int(&json!([-9.3e18])));
}
