//! The soak's clients: each request carries a unique id, and every outcome
//! (status, timeout, broken connection) is kept in a ledger with its send and
//! completion times, so the final sessions can be checked request by request.
//!
//! Clients keep whatever `Set-Cookie` sends (a browser does), so a session the
//! store lost and the server replaced is followed, and every cookie ever seen
//! is read back at the end.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::load::conn::{Conn, Error};

/// A request never waits longer than this, so a hung store cannot hang the
/// soak: it shows up as timeouts.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How one request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Status(u16),
    /// No answer within [`REQUEST_TIMEOUT`].
    Timeout,
    /// The connection broke after the request was written (or while writing).
    Broken,
}

impl End {
    pub fn ok(self) -> bool {
        matches!(self, End::Status(s) if (200..300).contains(&s))
    }
}

pub struct Outcome {
    pub id: u64,
    pub sent: Instant,
    pub done: Instant,
    pub result: End,
}

/// Everything the clients did.
#[derive(Default)]
pub struct Ledger {
    pub outcomes: Mutex<Vec<Outcome>>,
    pub cookies: Mutex<BTreeSet<String>>,
    /// Answers that replaced a session the client already had.
    pub replaced: AtomicU64,
    next_id: AtomicU64,
}

/// One session, shared by the clients that hold it.
type Cell = Arc<Mutex<Option<String>>>;

/// Runs `own` clients with a session each and `shared` clients on one common
/// session against the server on `port`, until `stop` is set.
pub async fn run(port: u16, own: usize, shared: usize, stop: Arc<AtomicBool>, ledger: Arc<Ledger>) {
    let mut tasks = Vec::new();
    for _ in 0..own {
        let cell: Cell = Arc::default();
        tasks.push(tokio::spawn(client(
            port,
            cell,
            stop.clone(),
            ledger.clone(),
        )));
    }
    let common: Cell = Arc::default();
    if shared > 0 {
        // One first request makes the session, so the shared clients do not
        // each start their own.
        let mut conn = None;
        loop {
            let made = common.lock().unwrap().is_some();
            if made || stop.load(Ordering::Relaxed) {
                break;
            }
            if !one(port, &mut conn, &common, &ledger).await {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    for _ in 0..shared {
        tasks.push(tokio::spawn(client(
            port,
            common.clone(),
            stop.clone(),
            ledger.clone(),
        )));
    }
    for t in tasks {
        let _ = t.await;
    }
}

async fn client(port: u16, cell: Cell, stop: Arc<AtomicBool>, ledger: Arc<Ledger>) {
    let mut conn = None;
    while !stop.load(Ordering::Relaxed) {
        if !one(port, &mut conn, &cell, &ledger).await {
            // Down or failing: do not spin on a dead server.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// One `/hit/`; false unless it got a 2xx.
async fn one(port: u16, conn: &mut Option<Conn>, cell: &Cell, ledger: &Ledger) -> bool {
    if conn.is_none() {
        match tokio::time::timeout(CONNECT_TIMEOUT, Conn::connect(port)).await {
            Ok(Ok(c)) => *conn = Some(c),
            // Nothing was sent: not a request.
            _ => return false,
        }
    }
    let Some(c) = conn.as_mut() else {
        return false;
    };
    let id = ledger.next_id.fetch_add(1, Ordering::Relaxed);
    let cookie = cell.lock().unwrap().clone();
    let req = request(port, &format!("/hit/?id={id}"), cookie.as_deref());
    let sent = Instant::now();
    let reply = c.send(&req, true, REQUEST_TIMEOUT).await;
    let done = Instant::now();
    let result = match &reply {
        Ok(r) => End::Status(r.status),
        Err(e) if e.to_string().contains("timed out") => End::Timeout,
        Err(_) => End::Broken,
    };
    match reply {
        Ok(r) => {
            if let Some(new) = r.set_cookie {
                let mut held = cell.lock().unwrap();
                if held.as_deref() != Some(new.as_str()) {
                    // Clients sharing a session that split pass the same few
                    // cookies back and forth: only a session never seen before
                    // is a replacement.
                    let unseen = ledger.cookies.lock().unwrap().insert(new.clone());
                    if unseen && held.is_some() {
                        ledger.replaced.fetch_add(1, Ordering::Relaxed);
                    }
                    *held = Some(new);
                }
            }
        }
        Err(_) => *conn = None,
    }
    ledger.outcomes.lock().unwrap().push(Outcome {
        id,
        sent,
        done,
        result,
    });
    result.ok()
}

/// A GET of `path` with the cookie, if any.
pub fn request(port: u16, path: &str, cookie: Option<&str>) -> Vec<u8> {
    let mut r = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    if let Some(c) = cookie {
        r.push_str("Cookie: ");
        r.push_str(c);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// What a session holds at the end.
pub struct Final {
    pub n: u64,
    pub ids: Vec<u64>,
}

/// Reads the session behind `cookie` with `/read/`, retrying until `deadline`
/// (the store may still be recovering).
pub async fn read(port: u16, cookie: &str, deadline: Instant) -> Result<Final, Error> {
    let req = request(port, "/read/", Some(cookie));
    let mut last: Error = "no attempt".into();
    while Instant::now() < deadline {
        let attempt = async {
            let mut c = tokio::time::timeout(CONNECT_TIMEOUT, Conn::connect(port))
                .await
                .map_err(|_| "connect timed out")??;
            let r = c.send(&req, false, REQUEST_TIMEOUT).await?;
            if !(200..300).contains(&r.status) {
                return Err(format!("/read/ answered {}", r.status).into());
            }
            let j: serde_json::Value = serde_json::from_slice(&r.body)?;
            let n = j["n"].as_u64().ok_or("no n")?;
            let ids = j["ids"]
                .as_array()
                .ok_or("no ids")?
                .iter()
                .filter_map(serde_json::Value::as_u64)
                .collect();
            Ok::<_, Error>(Final { n, ids })
        };
        match attempt.await {
            Ok(f) => return Ok(f),
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("could not read a session back: {last}").into())
}
