//! The chaos proxy: a loopback TCP relay between the sessionkit server and one
//! private store server, whose mode the soak switches mid-load.
//!
//! - `Pass`: bytes relayed as they come.
//! - `Cut`: every open link is reset (RST, not FIN: the store client must not
//!   mistake it for a clean close) and new links are reset as soon as accepted.
//! - `HalfOpen`: the client's next frame reaches the server, the server's reply
//!   is dropped and the link reset. The statement ran (a commit, a `SET`), the
//!   client never learns it: the ambiguous-commit window.
//! - `Delay`: 50–500 ms of jitter before every chunk, both ways.
//! - `Duplicate`: the client's next frame is sent twice, then the reply is
//!   dropped and the link reset as in `HalfOpen`. The server runs the frame
//!   twice; dropping the replies keeps the client from reading the duplicate's
//!   answer as the answer to its next command (a protocol desync is a proxy
//!   artefact, not something a real network does), so what is tested is
//!   whether a store write is safe to run twice.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does to the traffic right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Cut,
    HalfOpen,
    Delay,
    Duplicate,
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Pass => "pass",
            Mode::Cut => "cut",
            Mode::HalfOpen => "half-open",
            Mode::Delay => "delay",
            Mode::Duplicate => "duplicate",
        }
    }
}

/// What the proxy did, for the report: proof that the chaos happened.
#[derive(Default)]
pub struct Stats {
    pub links: AtomicU64,
    pub resets: AtomicU64,
    pub replies_dropped: AtomicU64,
    pub frames_duplicated: AtomicU64,
    pub chunks_delayed: AtomicU64,
}

/// A running proxy; stops accepting when dropped (open links end with the
/// runtime).
pub struct Proxy {
    port: u16,
    mode: watch::Sender<Mode>,
    pub stats: Arc<Stats>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and relays to `upstream`.
    pub async fn start(upstream: SocketAddr) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (mode, _) = watch::channel(Mode::Pass);
        let stats = Arc::new(Stats::default());
        let accept = tokio::spawn(accept_loop(listener, upstream, mode.clone(), stats.clone()));
        Ok(Proxy {
            port,
            mode,
            stats,
            accept,
        })
    }

    /// `url` with its `host:port` (the one after `@` or `//`) replaced by the
    /// proxy's.
    pub fn through(&self, url: &str, upstream_port: u16) -> String {
        url.replacen(
            &format!("127.0.0.1:{upstream_port}"),
            &format!("127.0.0.1:{}", self.port),
            1,
        )
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    mode: watch::Sender<Mode>,
    stats: Arc<Stats>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if *mode.borrow() == Mode::Cut {
            stats.resets.fetch_add(1, Ordering::Relaxed);
            reset(client);
            continue;
        }
        stats.links.fetch_add(1, Ordering::Relaxed);
        let rx = mode.subscribe();
        let stats = stats.clone();
        tokio::spawn(async move {
            let server =
                match tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(upstream))
                    .await
                {
                    Ok(Ok(s)) => s,
                    // The server is down (killed): the client sees a reset, as it
                    // would connecting to the server itself.
                    _ => return reset(client),
                };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            relay(client, server, rx, &stats).await;
        });
    }
}

/// Closes with RST instead of FIN.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

fn reset_both(a: TcpStream, b: TcpStream, stats: &Stats) {
    stats.resets.fetch_add(1, Ordering::Relaxed);
    reset(a);
    reset(b);
}

/// One link. A single loop for both directions: a delayed chunk holds the
/// other direction too, as latency on a real path would.
async fn relay(
    mut client: TcpStream,
    mut server: TcpStream,
    mut mode: watch::Receiver<Mode>,
    stats: &Stats,
) {
    let mut cbuf = vec![0u8; 16 * 1024];
    let mut sbuf = vec![0u8; 16 * 1024];
    // Set once a frame went out whose reply must never reach the client.
    let mut drop_reply = false;
    let mut rng = Jitter::seeded();
    loop {
        tokio::select! {
            r = client.read(&mut cbuf) => {
                let n = match r { Ok(0) | Err(_) => return, Ok(n) => n };
                let frame = &cbuf[..n];
                let m = *mode.borrow();
                let sent = match m {
                    Mode::Cut => return reset_both(client, server, stats),
                    Mode::Pass => server.write_all(frame).await,
                    Mode::Delay => {
                        stats.chunks_delayed.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(rng.delay()).await;
                        server.write_all(frame).await
                    }
                    Mode::HalfOpen => {
                        drop_reply = true;
                        server.write_all(frame).await
                    }
                    Mode::Duplicate => {
                        drop_reply = true;
                        stats.frames_duplicated.fetch_add(1, Ordering::Relaxed);
                        match server.write_all(frame).await {
                            Ok(()) => server.write_all(frame).await,
                            e => e,
                        }
                    }
                };
                if sent.is_err() {
                    return reset_both(client, server, stats);
                }
            }
            r = server.read(&mut sbuf) => {
                let n = match r { Ok(0) | Err(_) => return reset_both(client, server, stats), Ok(n) => n };
                if drop_reply {
                    stats.replies_dropped.fetch_add(1, Ordering::Relaxed);
                    // Let the server finish the statement (and a duplicate's
                    // second run) before the reset can abort it.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    return reset_both(client, server, stats);
                }
                let m = *mode.borrow();
                if m == Mode::Cut {
                    return reset_both(client, server, stats);
                }
                if m == Mode::Delay {
                    stats.chunks_delayed.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(rng.delay()).await;
                }
                if client.write_all(&sbuf[..n]).await.is_err() {
                    return reset_both(client, server, stats);
                }
            }
            changed = mode.changed() => {
                if changed.is_err() || *mode.borrow() == Mode::Cut {
                    return reset_both(client, server, stats);
                }
            }
        }
    }
}

/// 50–500 ms, from a xorshift seeded by the clock: jitter needs no
/// cryptographic randomness, nor a dependency.
struct Jitter(u64);

impl Jitter {
    fn seeded() -> Self {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Jitter(t | 1)
    }

    fn delay(&mut self) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(50 + self.0 % 451)
    }
}
