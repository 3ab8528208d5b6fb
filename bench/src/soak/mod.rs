//! `soak [--quick] [--seconds N] [--out PATH] [engine…]`: the fault soak.
//!
//! For each engine: private store servers, a chaos proxy in front of each,
//! the sessionkit counter (`soak-serve`) whose store goes through the proxies,
//! and clients that send `/hit/?id=N` without pause (some with a session each,
//! some sharing one). Meanwhile the proxies go through `cut`, `half-open`,
//! `delay` and `duplicate`, and each private server is SIGKILLed and started
//! again on the same port and data dir (for SQLite and files, the app is
//! killed instead). Then the sessions are read back and every request is
//! accounted for (see `tally`). Exits non-zero on a lost or double-applied
//! update, or when an engine could not be soaked to the end.

pub mod app;
mod engine;
mod load;
mod proxy;
mod report;
mod tally;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::{App, Engine, Setup};
use proxy::Mode;
use report::Row;

use crate::serve::BoxError;
use crate::services::Services;

struct Options {
    quick: bool,
    /// Chaos seconds per engine (the full mode repeats the cycle until then).
    seconds: f64,
    engines: Vec<Engine>,
    out: PathBuf,
    /// Clients with a session each, and clients sharing one session.
    own: usize,
    shared: usize,
}

fn options(args: &[String]) -> Result<Options, BoxError> {
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = Options {
        quick,
        seconds: if quick { 0.0 } else { 120.0 },
        engines: Vec::new(),
        out: PathBuf::from(if quick {
            "results/soak-quick.md"
        } else {
            "results/soak.md"
        }),
        own: 6,
        shared: 4,
    };
    let mut it = args.iter().filter(|a| *a != "--quick");
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--seconds" => o.seconds = value()?.parse()?,
            "--out" => o.out = PathBuf::from(value()?),
            name => o.engines.push(Engine::parse(name).ok_or_else(|| {
                let names: Vec<_> = engine::ALL.iter().map(|e| e.name()).collect();
                format!("unknown engine {name} (one of {})", names.join(", "))
            })?),
        }
    }
    if o.engines.is_empty() {
        o.engines = engine::ALL.to_vec();
    }
    Ok(o)
}

/// One step of the chaos schedule.
#[derive(Clone, Copy)]
enum Step {
    /// The proxies in this mode for this long, then back to `pass`.
    Chaos(Mode, Duration),
    /// Everything left alone.
    Calm(Duration),
    /// SIGKILL server `i`, leave it down this long, start it again.
    KillServer(usize, Duration),
    /// SIGKILL the app, leave it down this long, start it again.
    KillApp(Duration),
}

/// `volatile`: the servers keep nothing across a kill (memcached), so they
/// are killed once, first: what the kill wipes is excused (see `tally`), and
/// the chaos after it is checked in full.
fn schedule(opts: &Options, servers: usize, volatile: bool) -> Vec<Step> {
    let (chaos, calm) = if opts.quick {
        (Duration::from_millis(1000), Duration::from_millis(800))
    } else {
        (Duration::from_secs(3), Duration::from_secs(2))
    };
    let kills: Vec<Step> = (0..servers)
        .flat_map(|i| [Step::KillServer(i, calm / 2), Step::Calm(calm * 2)])
        .collect();
    let mut cycle = Vec::new();
    if servers == 0 {
        cycle.extend([Step::KillApp(calm / 2), Step::Calm(calm * 2)]);
        cycle.extend([Step::KillApp(calm / 2), Step::Calm(calm * 2)]);
    } else {
        for mode in [Mode::Cut, Mode::HalfOpen, Mode::Delay, Mode::Duplicate] {
            cycle.extend([Step::Chaos(mode, chaos), Step::Calm(calm)]);
        }
        if !volatile {
            cycle.extend(kills.iter().copied());
        }
    }
    let cycle_len: Duration = cycle
        .iter()
        .map(|s| match *s {
            Step::Chaos(_, d) | Step::Calm(d) | Step::KillServer(_, d) | Step::KillApp(d) => d,
        })
        .sum();
    let mut steps = vec![Step::Calm(calm)];
    if volatile {
        steps.extend(kills);
    }
    let mut planned = Duration::ZERO;
    loop {
        steps.extend(cycle.iter().copied());
        planned += cycle_len;
        if planned.as_secs_f64() >= opts.seconds {
            break;
        }
    }
    steps
}

/// Runs the soak; `Ok(false)` on a lost or double-applied update or an
/// engine that could not be soaked to the end.
pub fn soak(args: &[String]) -> Result<bool, BoxError> {
    let opts = options(args)?;
    let exe = std::env::current_exe()?;
    let services = Services::new()?;
    let logs = services.scratch("soak-logs")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    for &e in &opts.engines {
        eprintln!("soak: {} ({})", e.name(), e.label());
        let started = Instant::now();
        let r = soak_engine(
            &opts,
            e,
            &exe,
            &services,
            &logs.join(format!("{}.log", e.name())),
            &rt,
        );
        match &r {
            Ok(row) => eprintln!(
                "  {} in {:.1} s",
                row.summary(),
                started.elapsed().as_secs_f64()
            ),
            Err(err) => eprintln!("  FAILED: {err}"),
        }
        rows.push((e, r));
    }
    rt.shutdown_timeout(Duration::from_secs(2));
    let run = format!("`soak {}`, {}", args.join(" "), report::stamp());
    let text = report::render(&run, opts.quick, opts.seconds, opts.own, opts.shared, &rows);
    println!("{text}");
    let out = if opts.out.is_absolute() {
        opts.out.clone()
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(&opts.out)
    };
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, &text)?;
    eprintln!("soak: written to {}", out.display());
    let ok = rows.iter().all(|(_, r)| {
        r.as_ref()
            .is_ok_and(|row| row.tally.lost == 0 && row.tally.double == 0)
    });
    if !ok {
        eprintln!(
            "soak: FAILED: a lost or double-applied update, or an engine that did not finish"
        );
    }
    Ok(ok)
}

fn soak_engine(
    opts: &Options,
    e: Engine,
    exe: &std::path::Path,
    services: &Services,
    log: &std::path::Path,
    rt: &tokio::runtime::Runtime,
) -> Result<Row, String> {
    let mut setup: Setup = engine::setup(e, services, rt)?;
    let port = crate::process::free_port().map_err(|e| e.to_string())?;
    let mut app = App::new(exe, port, setup.settings.clone(), log.to_owned());
    app.start()?;
    let ledger = Arc::new(load::Ledger::default());
    let stop = Arc::new(AtomicBool::new(false));
    let clients = rt.spawn(load::run(
        port,
        opts.own,
        opts.shared,
        stop.clone(),
        ledger.clone(),
    ));
    let mut events: Vec<(String, Instant)> = Vec::new();
    let mut down_ms: u64 = 0;
    let mut volatile_until = None;
    // A store that keeps nothing across a kill (memcached); cached_db's
    // database is its truth, so a forgetful cache there excuses nothing.
    let volatile = setup.servers.iter().all(|(_, s)| !s.durable) && !setup.servers.is_empty();
    let set_all = |setup: &Setup, m: Mode| setup.proxies.iter().for_each(|p| p.set(m));
    for step in schedule(opts, setup.servers.len(), volatile) {
        match step {
            Step::Calm(d) => std::thread::sleep(d),
            Step::Chaos(m, d) => {
                set_all(&setup, m);
                std::thread::sleep(d);
                set_all(&setup, Mode::Pass);
                events.push((m.label().to_owned(), Instant::now()));
            }
            Step::KillServer(i, d) => {
                let (name, server) = &mut setup.servers[i];
                let killed = Instant::now();
                server.kill();
                std::thread::sleep(d);
                server.restart()?;
                down_ms = down_ms.max(killed.elapsed().as_millis() as u64);
                events.push((format!("kill {name}"), Instant::now()));
                if volatile {
                    volatile_until = Some(Instant::now());
                }
            }
            Step::KillApp(d) => {
                let killed = Instant::now();
                app.kill();
                std::thread::sleep(d);
                app.start()?;
                down_ms = down_ms.max(killed.elapsed().as_millis() as u64);
                events.push(("kill app".to_owned(), Instant::now()));
            }
        }
        if let Some(status) = app.exited() {
            stop.store(true, Ordering::Relaxed);
            return Err(format!(
                "the app died on its own ({status}); see {}",
                log.display()
            ));
        }
    }
    set_all(&setup, Mode::Pass);
    stop.store(true, Ordering::Relaxed);
    // Every client stops within one request timeout.
    rt.block_on(async { tokio::time::timeout(load::REQUEST_TIMEOUT * 3, clients).await })
        .map_err(|_| "the clients did not stop")?
        .map_err(|e| e.to_string())?;
    let cookies: Vec<String> = ledger.cookies.lock().unwrap().iter().cloned().collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let finals = rt.block_on(async {
        let mut finals = Vec::new();
        for c in &cookies {
            finals.push(load::read(port, c, deadline).await?);
        }
        Ok::<_, crate::load::conn::Error>(finals)
    });
    let finals = finals.map_err(|e| e.to_string())?;
    let outcomes = std::mem::take(&mut *ledger.outcomes.lock().unwrap());
    let tally = tally::tally(&outcomes, &finals, volatile_until);
    let mut recovery: Vec<(String, Option<u64>)> = Vec::new();
    for (label, at) in &events {
        let ms = tally::recovery_ms(&outcomes, *at);
        match recovery.iter_mut().find(|(l, _)| l == label) {
            // The worst of the repeats; one that never recovered is worst.
            Some((_, worst)) => {
                *worst = match (*worst, ms) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                }
            }
            None => recovery.push((label.clone(), ms)),
        }
    }
    let stats = setup.proxies.iter().map(|p| p.stats.clone()).collect();
    Ok(Row {
        tally,
        recovery,
        down_ms,
        replaced: ledger.replaced.load(Ordering::Relaxed),
        proxies: stats,
    })
}
