//! The load generator (`load …`) and the lost-update client (`lost …`), run
//! as a child process pinned to the load core. Each prints one JSON line.
//!
//! Closed loop: each connection sends its next request when the previous
//! answer is in. A request counts when it starts inside the measured window
//! and completes before it ends; warm-up requests are not counted.

pub mod conn;
mod lost;

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;

pub use conn::Error;
use conn::{request, Conn};
pub use lost::lost;

/// A single request never waits longer than this; a server that stalls is
/// reported as errors, not as a hung bench.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that keeps failing stops, so a broken server ends the run.
const MAX_ERRORS_PER_CONN: u64 = 50;

/// The two client shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Every connection is a browser with a cookie: it gets one with a first
    /// (uncounted) request and keeps whatever `Set-Cookie` sends back.
    Returning,
    /// No cookie ever: every request starts a new session.
    New,
}

impl Shape {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "returning" => Some(Shape::Returning),
            "new" => Some(Shape::New),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Returning => "returning",
            Shape::New => "new",
        }
    }
}

pub struct Spec {
    pub port: u16,
    pub conns: usize,
    pub warmup: Duration,
    pub measure: Duration,
    pub shape: Shape,
}

#[derive(Default)]
struct Tally {
    ok: u64,
    non_2xx: u64,
    errors: u64,
    hist: Option<Histogram<u64>>,
}

/// Runs the load and prints `{"requests":…, "ok":…, "p50_us":…, …}`.
pub fn load(spec: Spec) -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let out = rt.block_on(run(spec))?;
    println!("{out}");
    Ok(())
}

async fn run(spec: Spec) -> Result<serde_json::Value, Error> {
    // Set-up, not measured: open every connection and, for returning
    // clients, get each its cookie.
    let mut conns = Vec::with_capacity(spec.conns);
    for _ in 0..spec.conns {
        let mut c = Conn::connect(spec.port).await?;
        let cookie = match spec.shape {
            Shape::New => None,
            Shape::Returning => {
                let first = c
                    .send(&request(spec.port, None), true, REQUEST_TIMEOUT)
                    .await?;
                if !(200..300).contains(&first.status) {
                    return Err(format!("first request answered {}", first.status).into());
                }
                first.set_cookie
            }
        };
        conns.push((c, cookie));
    }
    let start = Instant::now() + spec.warmup;
    let end = start + spec.measure;
    // Keeps this runtime from ever sleeping in epoll_wait: a yielded task
    // makes tokio poll the I/O driver with a zero timeout instead. A load
    // generator that sleeps must be woken by an inter-processor interrupt on
    // every answer, which on a VM costs more than a whole bare request and
    // would be charged to the server's `write`; spinning measures the server.
    let spinner = tokio::spawn(async move {
        while Instant::now() < end {
            tokio::task::yield_now().await;
        }
    });
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|(c, cookie)| tokio::spawn(drive(c, cookie, spec.port, spec.shape, start, end)))
        .collect();
    let mut total = Tally {
        hist: Some(new_hist()),
        ..Tally::default()
    };
    for t in tasks {
        let t = t.await?;
        total.ok += t.ok;
        total.non_2xx += t.non_2xx;
        total.errors += t.errors;
        if let (Some(h), Some(all)) = (t.hist, total.hist.as_mut()) {
            all.add(h)?;
        }
    }
    spinner.await?;
    let hist = total.hist.unwrap_or_else(new_hist);
    let counted = total.ok + total.non_2xx;
    Ok(json!({
        "requests": counted,
        "ok": total.ok,
        "non_2xx": total.non_2xx,
        "errors": total.errors,
        "secs": spec.measure.as_secs_f64(),
        "rps": counted as f64 / spec.measure.as_secs_f64(),
        "p50_us": hist.value_at_quantile(0.50),
        "p99_us": hist.value_at_quantile(0.99),
        "max_us": hist.max(),
    }))
}

fn new_hist() -> Histogram<u64> {
    // 1 µs to 60 s at three significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds are valid")
}

async fn drive(
    mut conn: Conn,
    mut cookie: Option<String>,
    port: u16,
    shape: Shape,
    start: Instant,
    end: Instant,
) -> Tally {
    let mut tally = Tally {
        hist: Some(new_hist()),
        ..Tally::default()
    };
    let mut req = request(port, cookie.as_deref());
    let want_cookie = shape == Shape::Returning;
    loop {
        let began = Instant::now();
        if began >= end || tally.errors >= MAX_ERRORS_PER_CONN {
            break;
        }
        match conn.send(&req, want_cookie, REQUEST_TIMEOUT).await {
            Ok(reply) => {
                let done = Instant::now();
                if began >= start && done <= end {
                    if (200..300).contains(&reply.status) {
                        tally.ok += 1;
                    } else {
                        tally.non_2xx += 1;
                    }
                    if let Some(h) = tally.hist.as_mut() {
                        let _ = h.record((done - began).as_micros().max(1) as u64);
                    }
                }
                // A returning browser keeps the cookie it was last sent.
                if let Some(c) = reply.set_cookie {
                    if cookie.as_deref() != Some(c.as_str()) {
                        req = request(port, Some(&c));
                        cookie = Some(c);
                    }
                }
            }
            Err(_) => {
                tally.errors += 1;
                match Conn::connect(port).await {
                    Ok(c) => conn = c,
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        }
    }
    tally
}
