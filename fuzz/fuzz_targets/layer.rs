//! F11: the whole layer, a few requests per input through `SessionLayer` on a
//! `MemoryStore`, with hostile `Cookie` headers and a handler script of
//! session operations. Oracles: no panic; every `Set-Cookie` names the
//! session cookie with a deletion or a well-formed key; nothing but a deletion
//! on a 5xx; a key the client chose is never issued.
#![no_main]

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::LazyLock;

use arbitrary::Arbitrary;
use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderValue, Request, Response, StatusCode};
use libfuzzer_sys::fuzz_target;
use sessionkit::key::is_valid_key;
use sessionkit::store::memory::MemoryStore;
use sessionkit::{Expiry, Session, SessionConfig, SessionLayer};
use tower::{service_fn, Layer, ServiceExt};

const SECRET: &str = "fuzz-current-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

static CONFIG: LazyLock<SessionConfig> =
    LazyLock::new(|| SessionConfig::new(SECRET).expect("a valid config"));
/// One layer and store for every input (new ones per input cost more than the
/// requests): keys are random, so an input can only meet its own sessions.
static LAYER: LazyLock<SessionLayer> =
    LazyLock::new(|| SessionLayer::new(MemoryStore::new(), CONFIG.clone()));
static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime")
});

#[derive(Arbitrary, Debug, Clone)]
enum Op {
    Insert(String, i64),
    Remove(String),
    Increment(i64),
    Clear,
    Flush,
    CycleKey,
    SetExpiry(i32),
    BrowserClose,
    Read,
}

#[derive(Arbitrary, Debug)]
struct Req {
    /// Raw `Cookie` header values (invalid ones are skipped).
    cookies: Vec<Vec<u8>>,
    /// Send the last key issued, after the headers above.
    resend_issued: bool,
    ops: Vec<Op>,
    status: u8,
}

async fn handle(req: Request<()>) -> Result<Response<String>, Infallible> {
    let ops = req
        .extensions()
        .get::<Vec<Op>>()
        .cloned()
        .unwrap_or_default();
    let status = req
        .extensions()
        .get::<StatusCode>()
        .copied()
        .unwrap_or(StatusCode::OK);
    let session = req
        .extensions()
        .get::<Session>()
        .cloned()
        .expect("the layer's session");
    if session.load().await.is_err() {
        let mut res = Response::new(String::new());
        *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        return Ok(res);
    }
    for op in ops.into_iter().take(8) {
        match op {
            Op::Insert(k, v) => {
                let _ = session.insert(k, &v);
            }
            Op::Remove(k) => {
                session.remove(&k);
            }
            Op::Increment(by) => {
                let _ = session.increment("n", by);
            }
            Op::Clear => session.clear(),
            Op::Flush => session.flush(),
            Op::CycleKey => session.cycle_key(),
            Op::SetExpiry(s) => session.set_expiry(Expiry::Seconds(i64::from(s))),
            Op::BrowserClose => session.set_expiry(Expiry::BrowserClose),
            Op::Read => {
                let _ = session.to_map();
            }
        }
    }
    let mut res = Response::new(String::new());
    *res.status_mut() = status;
    Ok(res)
}

fn sent_key(req: &Request<()>) -> Option<String> {
    sessionkit::cookie::cookie_value(req.headers(), "sessionid")
}

fuzz_target!(|reqs: Vec<Req>| {
    RT.block_on(async {
        let service = LAYER.layer(service_fn(handle));
        let mut issued: HashSet<String> = HashSet::new();
        let mut last: Option<String> = None;
        for r in reqs.into_iter().take(4) {
            let mut req = Request::new(());
            for c in &r.cookies {
                if let Ok(v) = HeaderValue::from_bytes(c) {
                    req.headers_mut().append(COOKIE, v);
                }
            }
            if let (true, Some(key)) = (r.resend_issued, &last) {
                let v = HeaderValue::from_str(&format!("sessionid={key}"))
                    .expect("a key is a valid header");
                req.headers_mut().append(COOKIE, v);
            }
            let status = [200, 302, 404, 500, 503][usize::from(r.status) % 5];
            req.extensions_mut()
                .insert(StatusCode::from_u16(status).expect("a status"));
            req.extensions_mut().insert(r.ops);
            let sent = sent_key(&req);
            let res = service.clone().oneshot(req).await.expect("infallible");
            for header in res.headers().get_all(SET_COOKIE) {
                let text = header.to_str().expect("Set-Cookie is ASCII");
                let value = text
                    .strip_prefix("sessionid=")
                    .expect("only the session cookie is set")
                    .split(';')
                    .next()
                    .unwrap_or_default();
                let deletion = value.is_empty() || value == "\"\"";
                if res.status().is_server_error() {
                    assert!(deletion, "a 5xx set a session cookie: {text}");
                }
                if !deletion {
                    assert!(is_valid_key(value), "issued a malformed key");
                    if sent.as_deref() == Some(value) {
                        assert!(issued.contains(value), "issued a key the client chose");
                    }
                    issued.insert(value.to_owned());
                    last = Some(value.to_owned());
                }
            }
        }
    });
});
