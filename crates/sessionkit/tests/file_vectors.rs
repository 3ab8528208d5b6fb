//! The file engine against files written by real Django (`file_sessions/`
//! and `file_sessions.json` from `django-vectors/`): every file loads as
//! Django loads it, and what we write is the file Django writes.
//!
//! Git keeps no mtimes, and the mtime decides a file session's expiry, so
//! each test copies the files into its own temp dir and sets every mtime
//! from the JSON first.
#![cfg(feature = "file")]

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration as StdDuration, SystemTime};

use serde_json::Value;
use sessionkit::expiry::{expiry_date, EXPIRY_KEY};
use sessionkit::signing::{Codec, Keys, SecretKey};
use sessionkit::store::file::{FileOptions, FileStore};
use sessionkit::store::{Record, SaveOutcome, SessionMap, SessionStore};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};

/// Django's default `SESSION_COOKIE_AGE`, which the vectors were made with.
const COOKIE_AGE: i64 = 1_209_600;

/// The one vector where we differ from Django on purpose (DESIGN.md,
/// "File engine expiry"): an integer `_session_expiry` never expires in
/// Django's file engine; ours expires at mtime + that many seconds.
const INT_EXPIRY_VECTOR: &str = "expiry_int";

struct Vectors {
    json: Value,
    reference_now: OffsetDateTime,
}

impl Vectors {
    fn load() -> Self {
        let json = common::vectors("file_sessions.json");
        let reference_now = common::iso(json["reference_now"].as_str().expect("reference_now"));
        Self {
            json,
            reference_now,
        }
    }

    fn str(&self, name: &str) -> &str {
        self.json[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} missing"))
    }

    fn sessions(&self) -> &[Value] {
        self.json["sessions"].as_array().expect("sessions")
    }

    fn codec(&self) -> Codec {
        Codec::sessions(&Keys::new(SecretKey::new(self.str("secret_key")), vec![]).unwrap())
    }

    fn store(&self, dir: &Path) -> FileStore {
        FileOptions::new()
            .prefix(self.str("session_cookie_name"))
            .cookie_age(COOKIE_AGE)
            .open(dir)
            .expect("a store on the copy")
            .with_codec(self.codec())
    }

    /// Django's files in a fresh temp dir, each with its recorded mtime and mode.
    fn copy_files(&self) -> TempDir {
        let dir = TempDir::new().expect("temp dir");
        let source = common::vectors_dir().join("file_sessions");
        for s in self.sessions() {
            let name = field(s, "file_name");
            let target = dir.path().join(name);
            fs::copy(source.join(name), &target).expect("copy a Django file");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(s["file_mode_octal"], "0o600");
                fs::set_permissions(&target, fs::Permissions::from_mode(0o600))
                    .expect("set the mode Django gave it");
            }
            let file = fs::File::options().write(true).open(&target).expect("open");
            file.set_modified(mtime(s)).expect("set the recorded mtime");
        }
        dir
    }
}

fn field<'a>(session: &'a Value, name: &str) -> &'a str {
    session[name]
        .as_str()
        .unwrap_or_else(|| panic!("{name} missing"))
}

fn map(value: &Value) -> SessionMap {
    value.as_object().cloned().expect("a JSON object")
}

fn mtime(session: &Value) -> SystemTime {
    let seconds = session["mtime"].as_f64().expect("mtime");
    SystemTime::UNIX_EPOCH + StdDuration::from_secs_f64(seconds)
}

/// Asserts the dicts are equal in content and in key order.
fn assert_same(loaded: &SessionMap, expected: &SessionMap, name: &str) {
    assert_eq!(loaded, expected, "{name}");
    assert_eq!(
        serde_json::to_string(loaded).unwrap(),
        serde_json::to_string(expected).unwrap(),
        "{name}: key order"
    );
}

/// Whether we expect `session` to load at `at`, and with what expiry.
fn expected_expiry(session: &Value, cookie_mtime: OffsetDateTime) -> OffsetDateTime {
    let data = map(&session["expected_decoded"]);
    // Our rule; for every vector but the integer one it is Django's too.
    expiry_date(data.get(EXPIRY_KEY), cookie_mtime, COOKIE_AGE)
}

#[tokio::test]
async fn every_file_loads_as_django_loads_it() {
    let v = Vectors::load();
    for (label, at, loads_key, expired_key) in [
        (
            "REF_NOW",
            v.reference_now,
            "load_at_ref_now",
            "expired_at_ref_now",
        ),
        (
            "REF_NOW+365d",
            v.reference_now + Duration::days(365),
            "load_at_ref_now_plus_365d",
            "expired_at_ref_now_plus_365d",
        ),
    ] {
        let dir = v.copy_files();
        let store = v.store(dir.path());
        for s in v.sessions() {
            let name = format!("{} at {label}", field(s, "name"));
            let key = field(s, "session_key");
            assert!(store.accepts(key), "{name}");
            let mut expired = s[expired_key].as_bool().expect(expired_key);
            if field(s, "name") == INT_EXPIRY_VECTOR && label == "REF_NOW+365d" {
                // The documented difference: Django still loads it, we expire
                // it 600 s after its mtime.
                assert!(!expired, "the vectors changed: {name}");
                expired = true;
            }
            let loaded = store.load(key, at).await.expect("load");
            let path = dir.path().join(field(s, "file_name"));
            if expired {
                assert!(loaded.is_none(), "{name}: loads, expected expired");
                assert!(
                    !path.exists(),
                    "{name}: Django deletes an expired file at load"
                );
                if s[expired_key] == true {
                    assert!(map(&s[loads_key]).is_empty(), "{name}");
                }
                continue;
            }
            let loaded = loaded.unwrap_or_else(|| panic!("{name}: Django loads it, we do not"));
            assert_same(&loaded.record.data, &map(&s[loads_key]), &name);
            assert_same(&loaded.record.data, &map(&s["expected_decoded"]), &name);
            let mtime = OffsetDateTime::from(mtime(s));
            assert_eq!(
                loaded.record.expires_at,
                expected_expiry(s, mtime),
                "{name}"
            );
            assert_eq!(
                loaded.version.as_bytes(),
                field(s, "content").as_bytes(),
                "{name}: the version is the file's content"
            );
        }
    }
}

#[tokio::test]
async fn the_int_expiry_file_expires_600_seconds_after_its_mtime() {
    let v = Vectors::load();
    let s = v
        .sessions()
        .iter()
        .find(|s| field(s, "name") == INT_EXPIRY_VECTOR)
        .expect("the expiry_int vector");
    let dir = v.copy_files();
    let store = v.store(dir.path());
    let key = field(s, "session_key");
    let deadline = OffsetDateTime::from(mtime(s)) + Duration::seconds(600);
    let loaded = store
        .load(key, deadline - Duration::microseconds(1))
        .await
        .unwrap();
    assert_eq!(
        loaded.expect("live just before").record.expires_at,
        deadline
    );
    assert!(store.load(key, deadline).await.unwrap().is_none());
}

#[tokio::test]
async fn clear_expired_deletes_what_has_expired() {
    let v = Vectors::load();
    let dir = v.copy_files();
    let store = v.store(dir.path());
    let removed = store.clear_expired(v.reference_now).await.expect("clear");
    let expected: Vec<&str> = v
        .sessions()
        .iter()
        .filter(|s| s["expired_at_ref_now"] == true)
        .map(|s| field(s, "file_name"))
        .collect();
    assert_eq!(removed, expected.len() as u64);
    for s in v.sessions() {
        let gone = expected.contains(&field(s, "file_name"));
        assert_eq!(
            !dir.path().join(field(s, "file_name")).exists(),
            gone,
            "{}",
            field(s, "name")
        );
    }
    // A year on, everything is gone here; Django would keep expiry_int.
    let later = v.reference_now + Duration::days(365);
    let removed = store.clear_expired(later).await.expect("clear");
    assert_eq!(removed as usize, v.sessions().len() - expected.len());
}

/// Written at Django's instant with Django's secret, each session is the very
/// file Django wrote: same name, same bytes, same mtime, mode 0600.
#[tokio::test]
async fn what_we_write_is_djangos_file() {
    let v = Vectors::load();
    let now = v.reference_now;
    let dir = TempDir::new().expect("temp dir");
    let store = v.store(dir.path());
    let prefix = v.str("session_cookie_name");
    for s in v.sessions() {
        let name = field(s, "name");
        let data = map(&s["expected_decoded"]);
        let expires_at = expiry_date(data.get(EXPIRY_KEY), now, COOKIE_AGE);
        let created = store
            .create(&Record::new(data.clone(), expires_at), now)
            .await
            .expect("create");
        let path = dir.path().join(format!("{prefix}{}", created.cookie_value));
        let content = fs::read(&path).expect("named prefix + key");
        assert_eq!(
            content,
            field(s, "content").as_bytes(),
            "{name}: not Django's bytes"
        );
        let written = fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(
            OffsetDateTime::from(written),
            now,
            "{name}: Django's mtime is the save time"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
        // Django's decode: its secret, its salt, no max_age.
        let text = std::str::from_utf8(&content).expect("ASCII");
        let decoded = v
            .codec()
            .decode(text, None, now)
            .expect("Django can decode it");
        assert_same(&decoded.data, &data, name);
    }
}

/// A Django file saved by us stays a Django file: replaced in place, 0600,
/// and decodable with Django's secret.
#[tokio::test]
async fn saving_over_a_django_file_keeps_it_djangos() {
    let v = Vectors::load();
    let dir = v.copy_files();
    let store = v.store(dir.path());
    let s = &v.sessions()[0];
    let key = field(s, "session_key");
    let now = v.reference_now + Duration::minutes(5);
    let loaded = store.load(key, now).await.unwrap().expect("live");
    let mut data = loaded.record.data.clone();
    data.insert("visit".into(), Value::from(4));
    let record = Record::new(data.clone(), now + Duration::seconds(COOKIE_AGE));
    let outcome = store
        .save(key, &record, &loaded.version, now)
        .await
        .unwrap();
    assert!(matches!(outcome, SaveOutcome::Saved(_)), "{outcome:?}");

    let path = dir.path().join(field(s, "file_name"));
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.is_ascii() && !text.ends_with('\n'));
    assert_same(
        &v.codec().decode(&text, None, now).unwrap().data,
        &data,
        "saved",
    );
    let mtime = OffsetDateTime::from(fs::metadata(&path).unwrap().modified().unwrap());
    assert_eq!(mtime, now, "Django counts the cookie age from this save");
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("_out_"))
        .collect();
    assert!(names.is_empty(), "temp files left: {names:?}");
}
