//! The results as Markdown tables: req/s, p50, p99, the ratio to the bare
//! ceiling and to the best peer on the same store; then the lost-update and
//! codec results and which targets hold. Ratios only: the machine is shared.

use std::fmt::Write as _;

use crate::codec::Figures;
use crate::load::Shape;
use crate::variants::{Family, Store, Variant};

/// One load run's figures.
#[derive(Clone, Debug)]
pub struct Load {
    pub rps: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub non_2xx: u64,
    pub errors: u64,
}

/// One lost-update run.
#[derive(Clone, Debug)]
pub struct Lost {
    pub sent: u64,
    pub ok: u64,
    pub kept: u64,
    pub non_2xx: u64,
    pub errors: u64,
}

pub struct Results {
    pub header: String,
    pub loads: Vec<(Variant, Shape, Result<Load, String>)>,
    pub lost: Vec<(Variant, Result<Lost, String>)>,
    pub codec: Option<Result<Figures, String>>,
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

impl Results {
    /// Records a pass of `v` under `shape`, keeping the faster of it and an
    /// earlier pass (a failure only when no pass succeeded).
    pub fn keep_best(&mut self, v: Variant, shape: Shape, r: Result<Load, String>) {
        let earlier = self
            .loads
            .iter_mut()
            .find(|(e, s, _)| e.name == v.name && *s == shape);
        match earlier {
            None => self.loads.push((v, shape, r)),
            Some((_, _, old)) => {
                let better = match (&*old, &r) {
                    (Err(_), _) => true,
                    (Ok(o), Ok(n)) => n.rps > o.rps,
                    (Ok(_), Err(_)) => false,
                };
                if better {
                    *old = r;
                }
            }
        }
    }

    fn load(&self, name: &str, shape: Shape) -> Option<&Load> {
        self.loads
            .iter()
            .find(|(v, s, _)| v.name == name && *s == shape)
            .and_then(|(_, _, r)| r.as_ref().ok())
    }

    /// The ceiling for `v`: bare actix-web for actix servers, bare axum otherwise.
    fn bare(&self, v: &Variant, shape: Shape) -> Option<&Load> {
        self.load(if v.actix { "bare-actix" } else { "bare-axum" }, shape)
    }

    /// The fastest peer on `v`'s store in this run; for an actix-web server,
    /// the fastest actix-web peer when one ran (same framework, same store).
    fn best_peer(&self, v: &Variant, shape: Shape) -> Option<(&'static str, &Load)> {
        let fastest = |actix_only: bool| {
            self.loads
                .iter()
                .filter(|(p, s, _)| p.family == Family::Peer && p.store == v.store && *s == shape)
                .filter(|(p, _, _)| !actix_only || p.actix)
                .filter_map(|(p, _, r)| r.as_ref().ok().map(|l| (p.name, l)))
                .max_by(|a, b| a.1.rps.total_cmp(&b.1.rps))
        };
        if v.actix {
            fastest(true).or_else(|| fastest(false))
        } else {
            fastest(false)
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.header);
        for shape in [Shape::Returning, Shape::New] {
            if !self.loads.iter().any(|(_, s, _)| *s == shape) {
                continue;
            }
            let _ = writeln!(
                out,
                "\n### {} client\n\n| server | store | req/s | p50 ms | p99 ms | × bare | × best peer (same store) | p99 × peer | non-2xx / errors |\n|---|---|--:|--:|--:|--:|--:|--:|--:|",
                match shape {
                    Shape::Returning => "Returning",
                    Shape::New => "New",
                }
            );
            for (v, _, r) in self.loads.iter().filter(|(_, s, _)| *s == shape) {
                let l = match r {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = writeln!(
                            out,
                            "| {} | {} | — | — | — | — | — | — | {} |",
                            v.name,
                            v.store.label(),
                            e.replace('|', "/")
                        );
                        continue;
                    }
                };
                let bare = match self.bare(v, shape) {
                    Some(b) if v.family != Family::Bare => format!("{:.2}", l.rps / b.rps),
                    _ => "—".to_owned(),
                };
                let (peer, p99) = match (v.family, self.best_peer(v, shape)) {
                    (Family::Ours, Some((name, p))) => (
                        format!("{:.2} ({name})", l.rps / p.rps),
                        format!("{:.2}", l.p99_us as f64 / p.p99_us.max(1) as f64),
                    ),
                    _ => ("—".to_owned(), "—".to_owned()),
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.0} | {} | {} | {bare} | {peer} | {p99} | {} / {} |",
                    v.name,
                    v.store.label(),
                    l.rps,
                    ms(l.p50_us),
                    ms(l.p99_us),
                    l.non_2xx,
                    l.errors
                );
            }
        }
        if !self.lost.is_empty() {
            let _ = writeln!(out, "\n### Lost updates (concurrent increments of one session)\n\n| server | store | sent | 2xx | kept | lost | non-2xx / errors |\n|---|---|--:|--:|--:|--:|--:|");
            for (v, r) in &self.lost {
                match r {
                    Ok(l) => {
                        let _ = writeln!(
                            out,
                            "| {} | {} | {} | {} | {} | {} | {} / {} |",
                            v.name,
                            v.store.label(),
                            l.sent,
                            l.ok,
                            l.kept,
                            l.ok as i64 - l.kept as i64,
                            l.non_2xx,
                            l.errors
                        );
                    }
                    Err(e) => {
                        let _ = writeln!(
                            out,
                            "| {} | {} | — | — | — | — | {} |",
                            v.name,
                            v.store.label(),
                            e.replace('|', "/")
                        );
                    }
                }
            }
        }
        match &self.codec {
            Some(Ok(c)) => {
                let _ = writeln!(
                    out,
                    "\n### Codec: `{{\"visit\": 11}}`, session salt, compress=True (best of 5, per call)\n\n| | encode / dumps µs | decode / loads µs | both µs |\n|---|--:|--:|--:|\n| Django {} (`signing`) | {:.2} | {:.2} | {:.2} |\n| sessionkit `Codec` | {:.3} | {:.3} | {:.3} |\n\nsessionkit is **{:.1}×** Django's speed (encode + decode).",
                    c.django_version,
                    c.django_dumps_us,
                    c.django_loads_us,
                    c.django_dumps_us + c.django_loads_us,
                    c.ours_encode_us,
                    c.ours_decode_us,
                    c.ours_encode_us + c.ours_decode_us,
                    c.speedup()
                );
            }
            Some(Err(e)) => {
                let _ = writeln!(out, "\n### Codec\n\nnot measured: {e}");
            }
            None => {}
        }
        let _ = writeln!(out, "\n### Targets (returning client)\n");
        for line in self.targets() {
            let _ = writeln!(out, "- {line}");
        }
        out
    }

    /// Each target with the measured figure and whether it holds.
    pub fn targets(&self) -> Vec<String> {
        let mark = |ok: bool| if ok { "holds" } else { "**misses**" };
        let mut lines = Vec::new();
        let shape = Shape::Returning;
        if let Some(bare) = self.load("bare-axum", shape) {
            for (name, want) in [
                ("sessionkit-memory", 0.90),
                ("sessionkit-signed-cookies", 0.80),
            ] {
                if let Some(l) = self.load(name, shape) {
                    let r = l.rps / bare.rps;
                    lines.push(format!(
                        "{name} ≥ {want:.2}× bare axum: {r:.2}× — {}",
                        mark(r >= want)
                    ));
                }
            }
            // What the wire format alone allows: the floors do no session
            // work at all, so no Django-compatible layer can beat them.
            for (floor, name) in [
                ("floor-session-key-cookie", "sessionkit-memory"),
                ("floor-signed-cookie", "sessionkit-signed-cookies"),
            ] {
                if let (Some(f), Some(l)) = (self.load(floor, shape), self.load(name, shape)) {
                    lines.push(format!(
                        "(context) {floor}, Django's cookie bytes and no session work: {:.2}× bare axum; {name} is {:.2}× of it",
                        f.rps / bare.rps,
                        l.rps / f.rps
                    ));
                }
            }
        }
        for (v, s, r) in &self.loads {
            if v.family != Family::Ours || *s != shape {
                continue;
            }
            let (Ok(l), Some((peer, p))) = (r, self.best_peer(v, shape)) else {
                continue;
            };
            let r = l.rps / p.rps;
            let ok = r >= 1.2 && l.p99_us <= p.p99_us;
            lines.push(format!(
                "{} ≥ 1.2× {peer}, p99 no worse: {r:.2}×, p99 {} vs {} ms — {}",
                v.name,
                ms(l.p99_us),
                ms(p.p99_us),
                mark(ok)
            ));
        }
        if let Some(Ok(c)) = &self.codec {
            let s = c.speedup();
            lines.push(format!("codec ≥ 30× Django: {s:.1}× — {}", mark(s >= 30.0)));
        }
        for (v, r) in &self.lost {
            if v.family != Family::Ours {
                continue;
            }
            match r {
                Ok(l) => lines.push(format!(
                    "{}: 0 lost updates: {} lost — {}",
                    v.name,
                    l.ok as i64 - l.kept as i64,
                    mark(l.ok == l.kept)
                )),
                Err(e) => lines.push(format!("{}: lost-update check did not run: {e}", v.name)),
            }
        }
        lines
    }

    /// Whether every lost-update check of sessionkit kept every 2xx increment.
    pub fn lost_updates_ok(&self) -> bool {
        self.lost
            .iter()
            .filter(|(v, _)| v.family == Family::Ours)
            .all(|(_, r)| matches!(r, Ok(l) if l.ok == l.kept))
    }
}
