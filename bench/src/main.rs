//! sessionkit's HTTP bench: the seed's visit counter on bare axum, on
//! sessionkit's engines and on the peers, side by side in one run.
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml -- [--quick] [options]
//!   --quick            five variants, 3 s each, under a minute (CI)
//!   --only a,b         these variants only (--list shows them)
//!   --secs S           measured seconds per variant and shape (default 10)
//!   --warmup S         warm-up seconds (default 2)
//!   --conns N          connections (default 64)
//!   --rounds N         passes over the variants, best kept (default 2, quick: 1)
//!   --shape returning|new   one client shape only
//!   --no-lost          skip the lost-update bench
//!   --no-codec         skip the codec bench against Django
//!   --out PATH         the Markdown report (default results/latest.md, quick: results/quick.md)
//!
//! cargo run --release --manifest-path bench/Cargo.toml -- soak [--quick] [--seconds N] [--out PATH] [engine…]
//!                      the fault soak (bench/src/soak/mod.rs, bench/README.md)
//! ```
//!
//! The binary re-executes itself for each role: `serve <variant> <port> [url]`
//! (a server, pinned to core 0), `load …` and `lost …` (clients, pinned to
//! core 1), `soak …` (the fault soak, see `soak/mod.rs`) and its server
//! `soak-serve <port> SESSION_X=v…`, `codec <n>` (our codec timing),
//! `micro [n] [variant]` and `micro-new [n] [variant]` (each layer's
//! in-process cost per request, returning or new clients, no sockets: for
//! tuning). It exits non-zero when sessionkit loses an update or one of its
//! servers fails; speed is reported, never asserted (the machine is shared
//! and noisy).

mod codec;
mod load;
mod micro;
mod process;
mod report;
mod run;
mod serve;
mod services;
mod soak;
mod variants;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serve::BoxError;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("sessionkit-bench: {e}");
            ExitCode::from(2)
        }
    }
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Result<T, BoxError> {
    args.get(i)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("expected {what} as argument {i}").into())
}

fn dispatch(args: &[String]) -> Result<bool, BoxError> {
    match args.first().map(String::as_str) {
        Some("serve") => {
            let name: String = arg(args, 1, "a variant")?;
            let variant = variants::find(&name).ok_or_else(|| format!("unknown variant {name}"))?;
            let url = args.get(3).cloned().unwrap_or_default();
            serve::serve(variant, arg(args, 2, "a port")?, &url)?;
            Ok(true)
        }
        Some("load") => {
            let shape: String = arg(args, 3, "a shape")?;
            load::load(load::Spec {
                port: arg(args, 1, "a port")?,
                conns: arg(args, 2, "a connection count")?,
                shape: load::Shape::parse(&shape).ok_or("shape is returning or new")?,
                warmup: Duration::from_millis(arg(args, 4, "warm-up ms")?),
                measure: Duration::from_millis(arg(args, 5, "measured ms")?),
            })?;
            Ok(true)
        }
        Some("lost") => {
            load::lost(
                arg(args, 1, "a port")?,
                arg(args, 2, "clients")?,
                arg(args, 3, "increments each")?,
            )?;
            Ok(true)
        }
        Some(mode @ ("micro" | "micro-new")) => {
            micro::micro(
                args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000),
                args.get(2).map(String::as_str),
                mode == "micro-new",
            )?;
            Ok(true)
        }
        Some("soak") => soak::soak(&args[1..]),
        Some("soak-serve") => {
            soak::app::serve(arg(args, 1, "a port")?, &args[2..])?;
            Ok(true)
        }
        Some("codec") => {
            codec::time_ours(arg(args, 1, "iterations")?)?;
            Ok(true)
        }
        _ => orchestrate(args),
    }
}

fn orchestrate(args: &[String]) -> Result<bool, BoxError> {
    let mut opts = if args.iter().any(|a| a == "--quick") {
        run::Options::quick()
    } else {
        run::Options::full()
    };
    let mut it = args.iter().filter(|a| *a != "--quick" && *a != "run");
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--list" => {
                for v in variants::ALL {
                    println!("{:28} {:?} {}", v.name, v.family, v.store.label());
                }
                return Ok(true);
            }
            "--only" => opts.only = Some(value()?.split(',').map(str::to_owned).collect()),
            "--secs" => opts.measure = Duration::from_secs_f64(value()?.parse()?),
            "--warmup" => opts.warmup = Duration::from_secs_f64(value()?.parse()?),
            "--conns" => opts.conns = value()?.parse()?,
            "--shape" => {
                let s = value()?;
                opts.shapes = vec![load::Shape::parse(&s).ok_or("--shape is returning or new")?];
            }
            "--rounds" => opts.rounds = value()?.parse()?,
            "--no-lost" => opts.lost_clients = 0,
            "--no-codec" => opts.codec_iterations = 0,
            "--out" => opts.out = PathBuf::from(value()?),
            other => {
                return Err(
                    format!("unknown option {other} (see the top of bench/src/main.rs)").into(),
                )
            }
        }
    }
    if let Some(names) = &opts.only {
        if let Some(bad) = names.iter().find(|n| variants::find(n).is_none()) {
            return Err(format!("unknown variant {bad} (--list shows them)").into());
        }
    }
    let bench_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    run::run(&opts, &bench_dir)
}
