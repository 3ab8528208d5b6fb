//! A TCP proxy owned by one test, in front of a real server: cutting it is how
//! fault tests take "the store" down without touching the machine's shared
//! services. It can also hit one request with a [`Fault`]: the ambiguous
//! outcomes (a reply lost after the server acted, a request run twice) that
//! a store must never turn into a wrong answer, or mute every reply once a
//! request holds a pattern (a reply lost after a commit, on a whole pool).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What happens to the next request (a chunk the client sends) that
/// contains the marker given to [`Proxy::arm`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// "Reply lost after commit": the request reaches the server, its reply
    /// is read and thrown away, and the connection is closed on the client.
    LoseReply,
    /// The request runs twice: first on a connection of the proxy's own (a
    /// bare one: no AUTH or SELECT, so only for servers needing neither),
    /// waiting for that copy's reply, which is thrown away; then as sent.
    Duplicate,
}

/// A fault waiting for a request with its marker.
type Armed = Arc<Mutex<Option<(Fault, Vec<u8>)>>>;

/// A proxy from a fresh loopback port to `target`.
pub(crate) struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    replies: Arc<Replies>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
    armed: Armed,
    fired: Arc<AtomicUsize>,
}

impl Proxy {
    /// Starts a proxy to `target` (e.g. `127.0.0.1:5432`).
    pub(crate) async fn start(target: &str) -> Proxy {
        let target: SocketAddr = target.parse().expect("proxy target must be ip:port");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let replies: Arc<Replies> = Arc::default();
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let armed: Armed = Arc::default();
        let fired = Arc::new(AtomicUsize::new(0));
        let accept = tokio::spawn({
            let (up, links, replies) = (up.clone(), links.clone(), replies.clone());
            let (armed, fired) = (armed.clone(), fired.clone());
            async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    if !up.load(Ordering::SeqCst) {
                        drop(client); // refused while cut
                        continue;
                    }
                    let (armed, fired) = (armed.clone(), fired.clone());
                    let replies = replies.clone();
                    let link = tokio::spawn(async move {
                        if let Ok(server) = TcpStream::connect(target).await {
                            relay(client, server, target, armed, fired, &replies).await;
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            }
        });
        Proxy {
            addr,
            up,
            replies,
            links,
            accept,
            armed,
            fired,
        }
    }

    /// Hits the next request containing `marker` with `fault`, once.
    pub(crate) fn arm(&self, fault: Fault, marker: &[u8]) {
        *self.armed.lock().unwrap() = Some((fault, marker.to_vec()));
    }

    /// Drops a fault that has not fired yet.
    pub(crate) fn disarm(&self) {
        *self.armed.lock().unwrap() = None;
    }

    /// How many faults have fired so far.
    pub(crate) fn fired(&self) -> usize {
        self.fired.load(Ordering::SeqCst)
    }

    /// `127.0.0.1:<port>` of the proxy.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` with the proxy's address in place of the server's.
    pub(crate) fn through(&self, url: &str) -> String {
        url.replacen(&super::services::host_port(url), &self.addr.to_string(), 1)
    }

    /// Cuts every open connection and refuses new ones.
    pub(crate) fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    /// Accepts connections again (and passes replies again).
    pub(crate) fn restore(&self) {
        *self.replies.trigger.lock().unwrap() = None;
        self.replies.muted.store(false, Ordering::SeqCst);
        self.up.store(true, Ordering::SeqCst);
    }

    /// Once a client sends bytes holding `pattern`, every server reply on
    /// every link is dropped, while requests still go through: the server
    /// does the work, the client never hears of it (a reply lost after a
    /// commit). [`cut`](Self::cut) then ends the links; `restore` undoes both.
    pub(crate) fn mute_replies_after(&self, pattern: &[u8]) {
        *self.replies.trigger.lock().unwrap() = Some(pattern.to_vec());
    }

    /// Whether replies are being dropped (the pattern was seen).
    pub(crate) fn replies_muted(&self) -> bool {
        self.replies.muted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// When server replies stop reaching clients.
#[derive(Default)]
struct Replies {
    /// Requests holding these bytes mute the replies.
    trigger: Mutex<Option<Vec<u8>>>,
    muted: AtomicBool,
}

impl Replies {
    /// Looks for the trigger in what a client sent: `seen` ends with the
    /// previous read, so a pattern split across reads is found too.
    fn watch(&self, seen: &mut Vec<u8>, sent: &[u8]) {
        let trigger = self.trigger.lock().unwrap();
        let Some(pattern) = trigger.as_deref() else {
            seen.clear();
            return;
        };
        seen.extend_from_slice(sent);
        if seen.windows(pattern.len()).any(|w| w == pattern) {
            self.muted.store(true, Ordering::SeqCst);
        }
        let keep = pattern.len().saturating_sub(1);
        let cut = seen.len().saturating_sub(keep);
        seen.drain(..cut);
    }
}

/// Carries one connection both ways until either side closes, applying an
/// armed fault to the request it matches.
async fn relay(
    client: TcpStream,
    server: TcpStream,
    target: SocketAddr,
    armed: Armed,
    fired: Arc<AtomicUsize>,
    muted: &Replies,
) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let lose_reply = AtomicBool::new(false);
    let requests = requests(
        client_read,
        server_write,
        target,
        &armed,
        &fired,
        &lose_reply,
        muted,
    );
    let replies = replies(server_read, client_write, &lose_reply, muted);
    tokio::pin!(requests, replies);
    tokio::select! {
        // The server closed, or a reply was lost on purpose: the link ends.
        () = &mut replies => {}
        // The client has sent all it will (its write side is shut, and so is
        // the server's): what the server still answers goes through.
        () = &mut requests => replies.await,
    }
}

async fn requests(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    target: SocketAddr,
    armed: &Armed,
    fired: &AtomicUsize,
    lose_reply: &AtomicBool,
    muted: &Replies,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut seen = Vec::new();
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = to.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        // Watched before it is sent: the reply cannot overtake it.
        muted.watch(&mut seen, chunk);
        let fault = {
            let mut armed = armed.lock().unwrap();
            let hit = armed
                .as_ref()
                .is_some_and(|(_, marker)| chunk.windows(marker.len()).any(|w| w == &marker[..]));
            if hit {
                armed.take().map(|(fault, _)| fault)
            } else {
                None
            }
        };
        match fault {
            Some(Fault::LoseReply) => lose_reply.store(true, Ordering::SeqCst),
            Some(Fault::Duplicate) => run_elsewhere(target, chunk).await,
            None => {}
        }
        if fault.is_some() {
            fired.fetch_add(1, Ordering::SeqCst);
        }
        if to.write_all(chunk).await.is_err() {
            return;
        }
    }
}

async fn replies(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    lose_reply: &AtomicBool,
    muted: &Replies,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if lose_reply.load(Ordering::SeqCst) {
            // The server has acted; the client never hears of it.
            return;
        }
        if muted.muted.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Sends `request` on a fresh connection to `target` and waits (briefly)
/// for the start of its reply, so the copy has run before the original.
async fn run_elsewhere(target: SocketAddr, request: &[u8]) {
    let Ok(mut copy) = TcpStream::connect(target).await else {
        return;
    };
    if copy.write_all(request).await.is_err() {
        return;
    }
    let mut reply = [0u8; 512];
    let _ = tokio::time::timeout(Duration::from_secs(2), copy.read(&mut reply)).await;
}
