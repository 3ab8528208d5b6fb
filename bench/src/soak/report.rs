//! The soak's Markdown report: one row per engine.

use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::engine::Engine;
use super::proxy::Stats;
use super::tally::Tally;

/// One engine's soak.
pub struct Row {
    pub tally: Tally,
    /// Per kind of fault: ms from its end (the restart, for a kill) to the
    /// first 2xx of a request sent after it; the worst over the run.
    pub recovery: Vec<(String, Option<u64>)>,
    /// The longest kill-to-listening time of a server or the app.
    pub down_ms: u64,
    /// Answers that gave a client a new session in place of its own.
    pub replaced: u64,
    pub proxies: Vec<Arc<Stats>>,
}

impl Row {
    pub fn summary(&self) -> String {
        let t = &self.tally;
        format!(
            "{} requests, {} 2xx, count {}, lost {}, double-applied {}, applied although 5xx {} / unanswered {}",
            t.requests, t.ok, t.final_count, t.lost, t.double, t.applied_5xx, t.applied_unanswered
        )
    }

    fn failures(&self) -> String {
        let t = &self.tally;
        let mut parts: Vec<String> = t.statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
        if t.timeouts > 0 {
            parts.push(format!("timeout×{}", t.timeouts));
        }
        if t.broken > 0 {
            parts.push(format!("broken×{}", t.broken));
        }
        if parts.is_empty() {
            "0".into()
        } else {
            parts.join(", ")
        }
    }

    fn recovery(&self) -> String {
        let mut parts: Vec<String> = self
            .recovery
            .iter()
            .map(|(l, ms)| match ms {
                Some(ms) => format!("{l} {ms}"),
                None => format!("{l} never"),
            })
            .collect();
        if self.down_ms > 0 {
            parts.push(format!("(down {})", self.down_ms));
        }
        parts.join(", ")
    }

    fn chaos(&self) -> String {
        let sum = |f: fn(&Stats) -> u64| self.proxies.iter().map(|p| f(p)).sum::<u64>();
        if self.proxies.is_empty() {
            return "app killed".into();
        }
        format!(
            "links {}, resets {}, replies dropped {}, frames duplicated {}, chunks delayed {}",
            sum(|s| s.links.load(Ordering::Relaxed)),
            sum(|s| s.resets.load(Ordering::Relaxed)),
            sum(|s| s.replies_dropped.load(Ordering::Relaxed)),
            sum(|s| s.frames_duplicated.load(Ordering::Relaxed)),
            sum(|s| s.chunks_delayed.load(Ordering::Relaxed)),
        )
    }
}

/// When and on what: the UTC time and the library's commit.
pub fn stamp() -> String {
    let out = |cmd: &str, args: &[&str]| {
        std::process::Command::new(cmd)
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    format!(
        "{} UTC, commit {}",
        out("date", &["-u", "+%Y-%m-%d %H:%M"]),
        out("git", &["rev-parse", "--short", "HEAD"])
    )
}

pub fn render(
    run: &str,
    quick: bool,
    seconds: f64,
    own: usize,
    shared: usize,
    rows: &[(Engine, Result<Row, String>)],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## sessionkit fault soak ({})\n",
        if quick {
            "--quick: one chaos cycle per engine".to_owned()
        } else {
            format!("full: chaos cycles for at least {seconds:.0} s per engine")
        }
    );
    let _ = writeln!(s, "Run: {run}.\n");
    let _ = writeln!(
        s,
        "{own} clients with a session each and {shared} sharing one, `GET /hit/?id=N` \
         back to back (5 s client timeout). Each cycle: proxy `cut`, `half-open`, `delay`, \
         `duplicate`, then each private server SIGKILLed and restarted on its port and data \
         dir (SQLite, file: the app is killed instead). Recovery: ms from the end of a fault \
         (a restart: once it listens) to the first 2xx of a request sent after it, worst of \
         the run; `down`: longest kill-to-listening. Lost and double-applied must be 0.\n"
    );
    let _ = writeln!(
        s,
        "| engine | requests | 2xx | non-2xx | sessions | final count | lost | double-applied | applied although 5xx / unanswered | lost to restart (volatile) | new session given | recovery ms |"
    );
    let _ = writeln!(
        s,
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for (e, r) in rows {
        match r {
            Ok(row) => {
                let t = &row.tally;
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {} |",
                    e.label(),
                    t.requests,
                    t.ok,
                    row.failures(),
                    t.sessions,
                    t.final_count,
                    t.lost,
                    t.double,
                    t.applied_5xx,
                    t.applied_unanswered,
                    t.lost_to_restart,
                    row.replaced,
                    row.recovery()
                );
            }
            Err(err) => {
                let _ = writeln!(
                    s,
                    "| {} | did not finish: {} |||||||||||",
                    e.label(),
                    err.replace('|', "/")
                );
            }
        }
    }
    let _ = writeln!(s, "\nWhat the proxies did:\n");
    for (e, r) in rows {
        if let Ok(row) = r {
            let _ = writeln!(s, "- {}: {}", e.label(), row.chaos());
        }
    }
    s
}
