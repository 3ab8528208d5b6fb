//! The actix-web side of the tests: the visit counter served by a real
//! `HttpServer` on 127.0.0.1:0, and a plain HTTP/1.1 client over a TCP
//! socket, so nothing of actix stands between the server and the test.

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpServer};
use sessionkit::actix::SessionMiddleware;
use sessionkit::{Session, SessionError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The seed's view.
async fn visit(session: Session) -> Result<String, SessionError> {
    let visit = session.increment("visit", 1)?;
    Ok(format!("Visit count:{visit}"))
}

/// Reads without writing: no save, no cookie.
async fn read(session: Session) -> Result<String, SessionError> {
    Ok(format!("{}", session.get::<i64>("visit")?.unwrap_or(0)))
}

/// Serves `/visit/` and `/read` through `middleware` on `workers` worker
/// threads (each its own single-threaded runtime, as actix-web runs them).
/// Call inside an actix `System` (`#[actix_web::test]`); stop with the handle.
pub(crate) fn serve(middleware: SessionMiddleware, workers: usize) -> (SocketAddr, ServerHandle) {
    let server = HttpServer::new(move || {
        App::new()
            .wrap(middleware.clone())
            .route("/visit/", web::get().to(visit))
            .route("/read", web::get().to(read))
    })
    .workers(workers)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("bind 127.0.0.1:0");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (addr, handle)
}

/// One HTTP answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Reply {
    /// Every value of header `name`, in order.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `sessionid` value a `Set-Cookie` sets (empty when it deletes).
    pub(crate) fn session_cookie(&self) -> Option<String> {
        self.all("set-cookie").iter().find_map(|h| {
            let pair = h.split(';').next()?;
            let value = pair.strip_prefix("sessionid=")?;
            Some(value.trim_matches('"').to_owned())
        })
    }
}

/// `GET path` on a fresh connection, with `sessionid=<cookie>` if given.
pub(crate) async fn get(addr: SocketAddr, path: &str, cookie: Option<&str>) -> Reply {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(c) = cookie {
        request.push_str(&format!("Cookie: sessionid={c}\r\n"));
    }
    request.push_str("\r\n");
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(20), exchange)
        .await
        .unwrap_or_else(|_| panic!("GET {path}: no answer within 20 s"))
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    parse(&raw)
}

fn parse(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}
