//! `micro [n]`: the session layers' own cost per request, without sockets:
//! each router is called in-process `n` times with a returning client's
//! cookie, on one thread. What the HTTP bench cannot separate — the kernel's
//! share of a loopback request is several µs — this shows: the µs each layer
//! adds over the bare handler. Used to tune the hot path; `micro n variant`
//! runs one variant only (for `perf record`). `micro-new` times new clients
//! instead: no cookie, so every request creates a session. The actix-web
//! pair (bare actix-web, sessionkit's actix middleware on signed cookies,
//! actix-session's cookie store) runs the same way through actix's test
//! service.

use std::time::Instant;

use axum::body::Body;
use axum::Router;
use http::header::{COOKIE, SET_COOKIE};
use http::Request;
use serde_json::json;
use tower::ServiceExt;

use crate::serve::{self, BoxError};
use crate::variants::{self, Family};

const MICRO: &[&str] = &[
    "bare-axum",
    "sessionkit-memory",
    "sessionkit-signed-cookies",
    "tower-sessions-memory",
];

async fn once(app: &Router, cookie: Option<&str>) -> Result<Option<String>, BoxError> {
    let mut req = Request::get("/visit/").body(Body::empty())?;
    if let Some(c) = cookie {
        req.headers_mut().insert(COOKIE, c.parse()?);
    }
    let res = app.clone().oneshot(req).await?;
    if !res.status().is_success() {
        return Err(format!("answered {}", res.status()).into());
    }
    Ok(res
        .headers()
        .get(SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned))
}

pub fn micro(n: usize, only: Option<&str>, new_clients: bool) -> Result<(), BoxError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut out = rt.block_on(async {
        let mut out = serde_json::Map::new();
        for name in MICRO.iter().filter(|m| only.is_none_or(|o| o == **m)) {
            let v = variants::find(name).ok_or("unknown variant")?;
            let app = match v.family {
                Family::Bare => serve::bare_app(),
                Family::Floor => serve::floor_app(v.store),
                Family::Ours => serve::ours_app(v.store, "").await?,
                Family::Peer => serve::tower_app(v.store, "").await?,
            };
            let mut cookie = once(&app, None).await?;
            let mut best = f64::INFINITY;
            for _ in 0..5 {
                let t = Instant::now();
                for _ in 0..n {
                    if new_clients {
                        once(&app, None).await?;
                    } else if let Some(c) = once(&app, cookie.as_deref()).await? {
                        cookie = Some(c);
                    }
                }
                best = best.min(t.elapsed().as_secs_f64() / n as f64);
            }
            out.insert((*name).to_owned(), json!(best * 1e6));
            eprintln!("{name:28} {:.2} µs per request", best * 1e6);
        }
        Ok::<_, BoxError>(out)
    })?;
    // The actix-web pair, on its own runtime (actix's test service is !Send).
    for (name, us) in serve::actix_micro(n, only, new_clients)? {
        out.insert(name.to_owned(), json!(us));
        eprintln!("{name:28} {us:.2} µs per request");
    }
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}
