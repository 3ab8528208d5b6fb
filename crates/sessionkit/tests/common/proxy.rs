//! A TCP proxy owned by one test, in front of a real server: cutting it is how
//! fault tests take "the store" down without touching the machine's shared
//! services.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A proxy from a fresh loopback port to `target`.
pub(crate) struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    replies: Arc<Replies>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
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
        let accept = tokio::spawn({
            let (up, links, replies) = (up.clone(), links.clone(), replies.clone());
            async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    if !up.load(Ordering::SeqCst) {
                        drop(client); // refused while cut
                        continue;
                    }
                    let replies = replies.clone();
                    let link = tokio::spawn(async move {
                        if let Ok(server) = TcpStream::connect(target).await {
                            relay(client, server, &replies).await;
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
        }
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

/// Copies both ways, as `copy_bidirectional` does (an end of stream on one
/// side shuts the other's write half), dropping replies while muted.
async fn relay(client: TcpStream, server: TcpStream, replies: &Replies) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut seen = Vec::new();
        loop {
            match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    // Watched before it is sent: the reply cannot overtake it.
                    replies.watch(&mut seen, &buf[..n]);
                    if server_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = server_write.shutdown().await;
    };
    let answers = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) if replies.muted.load(Ordering::SeqCst) => {}
                Ok(n) => {
                    if client_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(requests, answers);
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
