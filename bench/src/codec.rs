//! The codec bench: Django's `signing.dumps`/`loads` of `{"visit": 11}` as
//! its session engines call them (session salt, `compress=True`), timed by
//! Python's `timeit` in Django 5.2, against sessionkit's `Codec` timed here
//! with the same loop shape (best of 5 repeats of N calls). Both run as
//! children pinned to the load core, one after the other.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::{json, Map, Value};
use sessionkit::SessionConfig;

use crate::process::{pinned, LOAD_CORE};
use crate::serve::{BoxError, BENCH_SECRET};

const REPEATS: usize = 5;

/// Per-call figures, in microseconds.
#[derive(Clone, Debug)]
pub struct Figures {
    pub ours_encode_us: f64,
    pub ours_decode_us: f64,
    pub django_dumps_us: f64,
    pub django_loads_us: f64,
    pub django_version: String,
}

impl Figures {
    /// How many times faster encode + decode is than Django's dumps + loads.
    pub fn speedup(&self) -> f64 {
        (self.django_dumps_us + self.django_loads_us) / (self.ours_encode_us + self.ours_decode_us)
    }
}

/// `codec <iterations>`: times our codec and prints one JSON line.
pub fn time_ours(iterations: usize) -> Result<(), BoxError> {
    let codec = SessionConfig::new(BENCH_SECRET)?.codec();
    let mut data = Map::new();
    data.insert("visit".to_owned(), Value::from(11));
    let now = time::OffsetDateTime::now_utc();
    let signed = codec.encode(&data, now);
    codec.decode(&signed, None, now)?;
    let best = |f: &dyn Fn()| {
        (0..REPEATS)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..iterations {
                    f();
                }
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
            / iterations as f64
    };
    let encode = best(&|| {
        black_box(codec.encode(black_box(&data), now));
    });
    let decode = best(&|| {
        let _ = black_box(codec.decode(black_box(&signed), None, now));
    });
    println!(
        "{}",
        json!({"encode_us": encode * 1e6, "decode_us": decode * 1e6})
    );
    Ok(())
}

const DJANGO_TIMEIT: &str = r#"
import json, sys, timeit
import django
from django.conf import settings
settings.configure(SECRET_KEY=sys.argv[1])
from django.core import signing
salt = "django.contrib.sessions.SessionStore"
data = {"visit": 11}
signed = signing.dumps(data, salt=salt, compress=True)
n = int(sys.argv[2])
dumps = min(timeit.repeat(lambda: signing.dumps(data, salt=salt, compress=True), number=n, repeat=5)) / n
loads = min(timeit.repeat(lambda: signing.loads(signed, salt=salt), number=n, repeat=5)) / n
print(json.dumps({"dumps_us": dumps * 1e6, "loads_us": loads * 1e6, "version": django.get_version()}))
"#;

/// A Python with Django 5.2: the interop harness's venv when it is there,
/// else one of our own under `bench/.venv`, created on first use.
fn django_python(bench_dir: &Path) -> Result<PathBuf, BoxError> {
    let has_django = |py: &Path| {
        Command::new(py)
            .args(["-c", "import django; assert django.VERSION[:2] == (5, 2)"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let interop = bench_dir.join("../interop/django/.venv/bin/python");
    if has_django(&interop) {
        return Ok(interop);
    }
    let own = bench_dir.join(".venv/bin/python");
    if !has_django(&own) {
        eprintln!("bench: creating bench/.venv with Django 5.2 (once)");
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(bench_dir.join(".venv"))
            .status()?;
        if !status.success() {
            return Err("python3 -m venv failed".into());
        }
        let status = Command::new(&own)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "django>=5.2,<5.3",
            ])
            .status()?;
        if !status.success() {
            return Err("pip install django failed".into());
        }
    }
    Ok(own)
}

fn json_of(cmd: &mut Command) -> Result<Value, BoxError> {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!(
            "{:?} failed: {}",
            cmd.get_program(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let line = String::from_utf8_lossy(&out.stdout);
    Ok(serde_json::from_str(
        line.lines().last().unwrap_or_default(),
    )?)
}

fn num(v: &Value, key: &str) -> Result<f64, BoxError> {
    v[key]
        .as_f64()
        .ok_or_else(|| format!("no {key} in the codec output").into())
}

/// Runs both sides, pinned to the load core, `iterations` calls per repeat.
pub fn compare(exe: &Path, bench_dir: &Path, iterations: usize) -> Result<Figures, BoxError> {
    let python = django_python(bench_dir)?;
    let ours =
        json_of(pinned(LOAD_CORE, exe, None).args(["codec", &(iterations * 10).to_string()]))?;
    let django = json_of(pinned(LOAD_CORE, &python, None).args([
        "-c",
        DJANGO_TIMEIT,
        BENCH_SECRET,
        &iterations.to_string(),
    ]))?;
    Ok(Figures {
        ours_encode_us: num(&ours, "encode_us")?,
        ours_decode_us: num(&ours, "decode_us")?,
        django_dumps_us: num(&django, "dumps_us")?,
        django_loads_us: num(&django, "loads_us")?,
        django_version: django["version"].as_str().unwrap_or("?").to_owned(),
    })
}
