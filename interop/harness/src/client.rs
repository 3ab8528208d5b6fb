//! An HTTP/1.1 client with one cookie jar, shared by requests to both apps:
//! both listen on 127.0.0.1, and cookies ignore ports, so one browser session
//! alternates between Django and the Rust service as a real one would.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{header, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// A client with its own cookie jar. Clones share the jar.
#[derive(Clone, Debug)]
pub struct Client {
    http: HyperClient<HttpConnector, Full<Bytes>>,
    jar: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    /// A client with an empty jar.
    pub fn new() -> Self {
        // No idle connections: servers in these tests come and go, and a
        // pooled connection to a stopped one would fail the next request.
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build_http();
        Self {
            http,
            jar: Arc::default(),
        }
    }

    /// A client with an empty jar but for `name=value`.
    pub fn with_cookie(name: &str, value: &str) -> Self {
        let client = Self::new();
        client.set_cookie(name, value);
        client
    }

    /// The jar's value for `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar().get(name).cloned()
    }

    /// Puts `name=value` in the jar.
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar().insert(name.to_owned(), value.to_owned());
    }

    fn jar(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.jar.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// GET `url`; panics on a transport error.
    pub async fn get(&self, url: &str) -> Reply {
        self.try_get(url)
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    /// GET `url`.
    ///
    /// # Errors
    /// The transport error, as text.
    pub async fn try_get(&self, url: &str) -> Result<Reply, String> {
        self.send(Method::GET, url, None).await
    }

    /// POST `body` as JSON to `url`; panics on a transport error.
    pub async fn post_json(&self, url: &str, body: &Value) -> Reply {
        self.send(Method::POST, url, Some(body.to_string()))
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"))
    }

    async fn send(&self, method: Method, url: &str, body: Option<String>) -> Result<Reply, String> {
        let mut req = Request::builder().method(method).uri(url);
        let cookies: Vec<String> = self
            .jar()
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        if !cookies.is_empty() {
            req = req.header(header::COOKIE, cookies.join("; "));
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        let res = self.http.request(req).await.map_err(|e| format!("{e:?}"))?;
        let status = res.status().as_u16();
        let vary: Vec<String> = res
            .headers()
            .get_all(header::VARY)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        let set_cookies: Vec<SetCookie> = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(SetCookie::parse)
            .collect();
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        for c in &set_cookies {
            if c.deletes() {
                self.jar().remove(&c.name);
            } else {
                self.set_cookie(&c.name, &c.value);
            }
        }
        Ok(Reply {
            status,
            set_cookies,
            vary,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}

/// A response, read whole.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Every `Set-Cookie` header, parsed.
    pub set_cookies: Vec<SetCookie>,
    /// Every `Vary` item, in order, across all `Vary` headers.
    pub vary: Vec<String>,
    /// The body as text.
    pub body: String,
}

impl Reply {
    /// The body parsed as JSON; panics (with the body) when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.body))
    }

    /// Whether `Vary` names `Cookie` (any case, as caches compare).
    pub fn varies_on_cookie(&self) -> bool {
        self.vary.iter().any(|v| v.eq_ignore_ascii_case("cookie"))
    }

    /// The `Set-Cookie` for `name`, if the response set one.
    pub fn set_cookie(&self, name: &str) -> Option<&SetCookie> {
        self.set_cookies.iter().find(|c| c.name == name)
    }
}

/// One `Set-Cookie` header: `name=value` and its attributes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetCookie {
    /// The cookie name.
    pub name: String,
    /// The value (a session key, or a signed session).
    pub value: String,
    /// Attributes by lowercase name (`max-age`, `path`, `httponly` → `""`, …).
    pub attributes: BTreeMap<String, String>,
}

impl SetCookie {
    /// Parses a header value leniently (`name=value; Attr=v; Flag`).
    pub fn parse(header: &str) -> Self {
        let mut parts = header.split(';').map(str::trim);
        let (name, value) = parts
            .next()
            .and_then(|p| p.split_once('='))
            .unwrap_or(("", ""));
        let attributes = parts
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.trim().to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        Self {
            name: name.trim().to_owned(),
            value: value.trim().trim_matches('"').to_owned(),
            attributes,
        }
    }

    /// Whether the header deletes the cookie (`Max-Age=0` or less).
    pub fn deletes(&self) -> bool {
        self.attributes
            .get("max-age")
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|age| age <= 0)
    }

    /// `Max-Age` as a number, if present.
    pub fn max_age(&self) -> Option<i64> {
        self.attributes.get("max-age").and_then(|v| v.parse().ok())
    }
}
