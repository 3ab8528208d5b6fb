//! The orchestrator: for each variant, a private store if it needs one, the
//! server pinned to the server core, then the load generator pinned to the
//! other core for each client shape, then the lost-update client; the codec
//! bench; the report to stdout and to a file.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::codec;
use crate::load::Shape;
use crate::process::{free_port, pinned, spawn_pinned, wait_port, LOAD_CORE, SERVER_CORE};
use crate::report::{Load, Lost, Results};
use crate::serve::BoxError;
use crate::services::Services;
use crate::variants::{self, Store, Variant};

pub struct Options {
    pub quick: bool,
    pub warmup: Duration,
    pub measure: Duration,
    pub conns: usize,
    pub only: Option<Vec<String>>,
    pub shapes: Vec<Shape>,
    pub lost_clients: usize,
    pub lost_each: usize,
    pub codec_iterations: usize,
    pub out: PathBuf,
    /// Passes over every variant; each (variant, shape) keeps its best pass.
    /// Interleaving the passes spreads the shared machine's slow spells (and
    /// a fresh store server's first minute) over every variant alike.
    pub rounds: usize,
}

impl Options {
    pub fn full() -> Self {
        Self {
            quick: false,
            warmup: Duration::from_secs(2),
            measure: Duration::from_secs(10),
            conns: 64,
            only: None,
            shapes: vec![Shape::Returning, Shape::New],
            lost_clients: 64,
            lost_each: 100,
            codec_iterations: 20_000,
            out: PathBuf::from("results/latest.md"),
            rounds: 2,
        }
    }

    /// Under a minute: five variants, 3 s each, both shapes.
    pub fn quick() -> Self {
        Self {
            quick: true,
            warmup: Duration::from_millis(500),
            measure: Duration::from_secs(3),
            codec_iterations: 5_000,
            out: PathBuf::from("results/quick.md"),
            rounds: 1,
            ..Self::full()
        }
    }

    fn selected(&self) -> Vec<Variant> {
        match &self.only {
            Some(names) => variants::ALL
                .iter()
                .copied()
                .filter(|v| names.iter().any(|n| n == v.name))
                .collect(),
            None if self.quick => variants::ALL
                .iter()
                .copied()
                .filter(|v| variants::QUICK.contains(&v.name))
                .collect(),
            None => variants::ALL.to_vec(),
        }
    }
}

/// Runs the bench; `Ok(false)` when a lost-update check of ours failed or
/// one of our servers could not serve.
pub fn run(opts: &Options, bench_dir: &Path) -> Result<bool, BoxError> {
    let exe = std::env::current_exe()?;
    let mut services = Services::new()?;
    let logs = services.scratch("logs")?;
    let mut results = Results {
        header: header(opts),
        loads: Vec::new(),
        lost: Vec::new(),
        codec: None,
    };
    let mut ours_failed = false;
    for round in 0..opts.rounds.max(1) {
        for v in opts.selected() {
            eprintln!(
                "bench: {} (pass {} of {})",
                v.name,
                round + 1,
                opts.rounds.max(1)
            );
            let served = serve_variant(&exe, opts, v, round, &mut services, &logs, &mut results);
            if let Err(e) = served {
                eprintln!("bench: {}: {e}", v.name);
                let skipped = e.starts_with("skipped");
                ours_failed |= v.family == variants::Family::Ours && !skipped;
                for &shape in &opts.shapes {
                    results.keep_best(v, shape, Err(e.clone()));
                }
                if round == 0 && v.store.server_side() && v.family != variants::Family::Bare {
                    results.lost.push((v, Err(e.clone())));
                }
            }
        }
    }
    services.stop_all();
    if opts.codec_iterations > 0 {
        eprintln!("bench: codec vs Django");
        results.codec =
            Some(codec::compare(&exe, bench_dir, opts.codec_iterations).map_err(|e| e.to_string()));
    }
    let report = results.render();
    println!("{report}");
    let out = if opts.out.is_absolute() {
        opts.out.clone()
    } else {
        bench_dir.join(&opts.out)
    };
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, &report)?;
    eprintln!("bench: written to {}", out.display());
    let lost_ok = results.lost_updates_ok();
    if !lost_ok {
        eprintln!("bench: FAILED: sessionkit lost updates (see the lost-update table)");
    }
    Ok(lost_ok && !ours_failed)
}

/// Serves one variant and runs every shape on it, and in the first pass the
/// lost-update check. An `Err` starting with "skipped" means its store
/// server is unavailable.
fn serve_variant(
    exe: &Path,
    opts: &Options,
    v: Variant,
    round: usize,
    services: &mut Services,
    logs: &Path,
    results: &mut Results,
) -> Result<(), String> {
    let url = match (v.store.server(), v.store) {
        (Some(server), _) => services.url(server).map_err(|e| format!("skipped: {e}"))?,
        (None, Store::Sqlite | Store::File | Store::CachedDb) => services
            .scratch(v.name)
            .map_err(|e| e.to_string())?
            .display()
            .to_string(),
        _ => String::new(),
    };
    let port = free_port().map_err(|e| e.to_string())?;
    let log = logs.join(format!("{}.log", v.name));
    let mut server = spawn_pinned(
        v.name,
        SERVER_CORE,
        exe,
        &["serve".into(), v.name.into(), port.to_string(), url],
        &[],
        &log,
    )
    .map_err(|e| e.to_string())?;
    wait_port(&mut server, port, Duration::from_secs(60)).map_err(|e| {
        let tail = std::fs::read_to_string(&log).unwrap_or_default();
        format!("{e}: {}", tail.lines().last().unwrap_or_default())
    })?;
    for &shape in &opts.shapes {
        let r = child_json(
            exe,
            &[
                "load".into(),
                port.to_string(),
                opts.conns.to_string(),
                shape.as_str().into(),
                opts.warmup.as_millis().to_string(),
                opts.measure.as_millis().to_string(),
            ],
        )
        .and_then(|j| load_of(&j));
        match &r {
            Ok(l) => eprintln!(
                "  {:9} {:>8.0} req/s  p50 {:.2} ms  p99 {:.2} ms  non-2xx {} errors {}",
                shape.as_str(),
                l.rps,
                l.p50_us as f64 / 1e3,
                l.p99_us as f64 / 1e3,
                l.non_2xx,
                l.errors
            ),
            Err(e) => eprintln!("  {:9} failed: {e}", shape.as_str()),
        }
        results.keep_best(v, shape, r);
    }
    if round == 0
        && v.store.server_side()
        && v.family != variants::Family::Bare
        && opts.lost_clients > 0
    {
        let r = child_json(
            exe,
            &[
                "lost".into(),
                port.to_string(),
                opts.lost_clients.to_string(),
                opts.lost_each.to_string(),
            ],
        )
        .and_then(|j| lost_of(&j));
        match &r {
            Ok(l) => eprintln!(
                "  lost-update: {} sent, {} 2xx, {} kept",
                l.sent, l.ok, l.kept
            ),
            Err(e) => eprintln!("  lost-update failed: {e}"),
        }
        results.lost.push((v, r));
    }
    if let Some(status) = server.exited() {
        return Err(format!(
            "server exited during the run ({status}); see {}",
            log.display()
        ));
    }
    server.stop(Duration::from_secs(10));
    Ok(())
}

/// Runs the bench binary with `args` pinned to the load core; its last
/// stdout line is JSON.
fn child_json(exe: &Path, args: &[String]) -> Result<Value, String> {
    let out = pinned(LOAD_CORE, exe, None)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr)
            .trim()
            .lines()
            .last()
            .unwrap_or("failed")
            .to_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or_default()).map_err(|e| e.to_string())
}

fn u(j: &Value, k: &str) -> Result<u64, String> {
    j[k].as_u64().ok_or_else(|| format!("no {k} in {j}"))
}

fn load_of(j: &Value) -> Result<Load, String> {
    Ok(Load {
        rps: j["rps"].as_f64().ok_or("no rps")?,
        p50_us: u(j, "p50_us")?,
        p99_us: u(j, "p99_us")?,
        non_2xx: u(j, "non_2xx")?,
        errors: u(j, "errors")?,
    })
}

fn lost_of(j: &Value) -> Result<Lost, String> {
    Ok(Lost {
        sent: u(j, "sent")?,
        ok: u(j, "ok")?,
        kept: u(j, "kept")?,
        non_2xx: u(j, "non_2xx")?,
        errors: u(j, "errors")?,
    })
}

/// What ran, where: the figures mean little without it.
fn header(opts: &Options) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let kernel = Command::new("uname")
        .arg("-r")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!(
        "## sessionkit HTTP bench ({})\n\n{cpu}, {cores} cores, {mem_gib:.0} GiB, Linux {kernel}. Server and its store pinned to core {SERVER_CORE} (`taskset`), load generator (busy-polling, so answers never wait for a wake-up) to core {LOAD_CORE}, all at nice -20 so neighbours on the shared machine get little of those cores; loopback; release build.\n`GET /visit/` (the seed's visit counter), {} connections, closed loop, {:.1} s warm-up then {:.1} s measured per variant and shape, best of {} interleaved pass(es) over all variants. Returning client: each connection gets its own cookie from a first request and keeps what Set-Cookie sends back; new client: no cookie. `× bare`: against bare axum (bare actix-web for actix servers).",
        if opts.quick { "--quick" } else { "full run" },
        opts.conns,
        opts.warmup.as_secs_f64(),
        opts.measure.as_secs_f64(),
        opts.rounds.max(1),
    )
}
