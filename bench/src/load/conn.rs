//! A minimal HTTP/1.1 keep-alive client: one request at a time on one
//! connection, headers parsed with `httparse`, the body read by its
//! Content-Length. Small on purpose: the load generator has one core and must
//! stay well ahead of the fastest server.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// What came back.
pub struct Reply {
    pub status: u16,
    /// `name=value` of the first `Set-Cookie`, when `want_cookie` asked for it.
    pub set_cookie: Option<String>,
    pub body: Vec<u8>,
}

pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub async fn connect(port: u16) -> Result<Self, Error> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(8192),
        })
    }

    /// Sends `request` (a whole HTTP/1.1 request) and reads one response.
    pub async fn send(
        &mut self,
        request: &[u8],
        want_cookie: bool,
        timeout: Duration,
    ) -> Result<Reply, Error> {
        tokio::time::timeout(timeout, self.exchange(request, want_cookie))
            .await
            .map_err(|_| "request timed out")?
    }

    async fn exchange(&mut self, request: &[u8], want_cookie: bool) -> Result<Reply, Error> {
        self.stream.write_all(request).await?;
        self.buf.clear();
        let (head_len, status, body_len, set_cookie) = loop {
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err("connection closed by the server".into());
            }
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut res = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(n) = res.parse(&self.buf)? {
                let mut body_len = None;
                let mut cookie = None;
                for h in res.headers.iter() {
                    if h.name.eq_ignore_ascii_case("content-length") {
                        body_len = std::str::from_utf8(h.value)
                            .ok()
                            .and_then(|s| s.trim().parse().ok());
                    } else if want_cookie
                        && cookie.is_none()
                        && h.name.eq_ignore_ascii_case("set-cookie")
                    {
                        let pair = h.value.split(|&b| b == b';').next().unwrap_or_default();
                        cookie = Some(String::from_utf8_lossy(pair).into_owned());
                    }
                }
                let body_len: usize = body_len.ok_or("response without Content-Length")?;
                break (n, res.code.unwrap_or(0), body_len, cookie);
            }
        };
        while self.buf.len() < head_len + body_len {
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err("connection closed inside a body".into());
            }
        }
        Ok(Reply {
            status,
            set_cookie,
            body: self.buf[head_len..head_len + body_len].to_vec(),
        })
    }
}

/// `GET /visit/` with the cookie, if any.
pub fn request(port: u16, cookie: Option<&str>) -> Vec<u8> {
    let mut r = format!("GET /visit/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    if let Some(c) = cookie {
        r.push_str("Cookie: ");
        r.push_str(c);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// The `N` of a `Visit count:N` body.
pub fn visit_count(body: &[u8]) -> Option<u64> {
    std::str::from_utf8(body)
        .ok()?
        .strip_prefix("Visit count:")?
        .trim()
        .parse()
        .ok()
}
