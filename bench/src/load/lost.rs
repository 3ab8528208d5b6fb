//! The lost-update client: `clients` connections increment one session
//! `each` times, all at once. Prints the 2xx answers and how many increments
//! the session kept; a store that loses no update keeps every 2xx.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::conn::{request, visit_count, Conn};
use super::{Error, REQUEST_TIMEOUT};

/// The whole bench stops after this, whatever state the server is in.
const DEADLINE: Duration = Duration::from_secs(180);

pub fn lost(port: u16, clients: usize, each: usize) -> Result<(), Error> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let out = rt.block_on(run(port, clients, each))?;
    println!("{out}");
    Ok(())
}

async fn run(port: u16, clients: usize, each: usize) -> Result<serde_json::Value, Error> {
    let mut seed = Conn::connect(port).await?;
    let first = seed
        .send(&request(port, None), true, REQUEST_TIMEOUT)
        .await?;
    let cookie = first.set_cookie.ok_or("the first answer set no cookie")?;
    if visit_count(&first.body) != Some(1) {
        return Err("the first answer is not Visit count:1".into());
    }
    let req = Arc::new(request(port, Some(&cookie)));
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(Conn::connect(port).await?);
    }
    let deadline = Instant::now() + DEADLINE;
    let started = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut c| {
            let req = req.clone();
            tokio::spawn(async move {
                let (mut ok, mut other, mut errors) = (0u64, 0u64, 0u64);
                for _ in 0..each {
                    if Instant::now() > deadline {
                        break;
                    }
                    match c.send(&req, false, REQUEST_TIMEOUT).await {
                        Ok(r) if (200..300).contains(&r.status) => ok += 1,
                        Ok(_) => other += 1,
                        Err(_) => {
                            errors += 1;
                            if let Ok(fresh) = Conn::connect(port).await {
                                c = fresh;
                            }
                        }
                    }
                }
                (ok, other, errors)
            })
        })
        .collect();
    let (mut ok, mut other, mut errors) = (0, 0, 0);
    for t in tasks {
        let (a, b, c) = t.await?;
        ok += a;
        other += b;
        errors += c;
    }
    let secs = started.elapsed().as_secs_f64();
    // The read is itself an increment: the seed's 1 and this one are not
    // among the concurrent ones.
    // A fresh connection: servers may close the idle seed one (actix after 5 s).
    let last = Conn::connect(port)
        .await?
        .send(&req, false, REQUEST_TIMEOUT)
        .await?;
    let read = visit_count(&last.body).ok_or("the final answer has no count")?;
    Ok(json!({
        "sent": clients * each,
        "ok": ok,
        "non_2xx": other,
        "errors": errors,
        "kept": read.saturating_sub(2),
        "secs": secs,
    }))
}
