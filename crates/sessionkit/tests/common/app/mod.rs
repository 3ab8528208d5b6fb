//! One HTTP test harness for every adapter. A test writes its views once,
//! framework-neutral (closures over a [`Session`] answering a [`Reply`]), and
//! [`App::serve`] answers requests in-process through the tower layer (axum)
//! or the actix-web middleware, returning every header as sent.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::StatusCode;
use sessionkit::{Session, SessionConfig, SessionError, SessionStore};

#[cfg(feature = "actix")]
mod actix;
#[cfg(feature = "axum")]
mod axum_app;
pub(crate) mod stores;

/// A boxed future the adapters can drive on any thread.
pub(crate) type BoxFut<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The web framework a test app runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Adapter {
    /// `SessionLayer` under an axum `Router`.
    #[cfg(feature = "axum")]
    Axum,
    /// `sessionkit::actix::SessionMiddleware` wrapping an actix-web `App`.
    #[cfg(feature = "actix")]
    Actix,
}

impl Adapter {
    /// Every adapter this build has.
    pub(crate) const ALL: &'static [Adapter] = &[
        #[cfg(feature = "axum")]
        Adapter::Axum,
        #[cfg(feature = "actix")]
        Adapter::Actix,
    ];
}

/// What a view answers when it succeeds.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: String,
}

impl Reply {
    /// 200 with `body` as text.
    pub(crate) fn text(body: impl std::fmt::Display) -> Self {
        Self {
            status: StatusCode::OK,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }
    /// The same with another status.
    pub(crate) fn status(mut self, status: u16) -> Self {
        self.status = StatusCode::from_u16(status).expect("a valid status");
        self
    }
    /// The same with a header added.
    pub(crate) fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

/// The view's session and the request's query string, if any.
type PlainFn = dyn Fn(Session, Option<String>) -> BoxFut<Result<Reply, SessionError>> + Send + Sync;
type FallibleFn = dyn Fn(Result<Session, SessionError>) -> Reply + Send + Sync;
type OptionalFn = dyn Fn(Option<Session>) -> Reply + Send + Sync;

/// A framework-neutral handler; the adapter turns it into its own, with the
/// extractor the variant names.
#[derive(Clone)]
pub(crate) enum View {
    /// Takes the `Session` extractor (a failed load never reaches the view)
    /// and may fail with a `SessionError`, answered as the framework does.
    Plain(Arc<PlainFn>),
    /// Takes `Result<Session, SessionError>`: the handler sees the failure
    /// and answers in its own way.
    Fallible(Arc<FallibleFn>),
    /// Takes `Option<Session>`.
    Optional(Arc<OptionalFn>),
}

impl View {
    /// A view that needs no `.await`.
    pub(crate) fn sync(
        f: impl Fn(&Session) -> Result<Reply, SessionError> + Send + Sync + 'static,
    ) -> Self {
        View::Plain(Arc::new(move |s: Session, _| {
            let reply = f(&s);
            Box::pin(async move { reply })
        }))
    }
    /// A view that awaits (a barrier, a concurrent write, …).
    pub(crate) fn new<F, Fut>(f: F) -> Self
    where
        F: Fn(Session) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Reply, SessionError>> + Send + 'static,
    {
        View::Plain(Arc::new(move |s, _| Box::pin(f(s))))
    }
    /// A view that awaits and reads the query string.
    pub(crate) fn with_query<F, Fut>(f: F) -> Self
    where
        F: Fn(Session, Option<String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Reply, SessionError>> + Send + 'static,
    {
        View::Plain(Arc::new(move |s, q| Box::pin(f(s, q))))
    }
    /// A view that takes `Result<Session, SessionError>`.
    pub(crate) fn fallible(
        f: impl Fn(Result<Session, SessionError>) -> Reply + Send + Sync + 'static,
    ) -> Self {
        View::Fallible(Arc::new(f))
    }
    /// A view that takes `Option<Session>`.
    pub(crate) fn optional(f: impl Fn(Option<Session>) -> Reply + Send + Sync + 'static) -> Self {
        View::Optional(Arc::new(f))
    }
}

/// GET routes: exact paths and their views.
pub(crate) type Routes = Vec<(&'static str, View)>;

/// A response as the client sees it.
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    /// Every header in order, names lowercase, values as bytes sent.
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: String,
}

impl Answer {
    /// Every value of header `name` (lowercase).
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .collect()
    }
    /// The first value of header `name` (lowercase).
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        self.all(name).into_iter().next()
    }
    /// Every `Set-Cookie` header.
    pub(crate) fn set_cookie(&self) -> Vec<String> {
        self.all("set-cookie")
    }
    /// `name=value` of the first `Set-Cookie`, as a `Cookie` header.
    pub(crate) fn cookie(&self) -> Option<String> {
        let first = self.set_cookie().into_iter().next()?;
        Some(first.split(';').next().unwrap_or_default().to_owned())
    }
    /// The value of the first `Set-Cookie` (the session key).
    pub(crate) fn key(&self) -> Option<String> {
        let cookie = self.cookie()?;
        Some(cookie.split_once('=').map_or("", |(_, v)| v).to_owned())
    }
}

/// A test app on one adapter; cheap to clone, `Send`, usable from any task.
#[derive(Clone)]
pub(crate) struct App {
    adapter: Adapter,
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    #[cfg(feature = "axum")]
    Axum(axum::Router),
    #[cfg(feature = "actix")]
    Actix(actix::Handle),
}

impl App {
    /// `routes` behind the session middleware of `adapter`.
    pub(crate) fn serve(
        adapter: Adapter,
        store: Arc<dyn SessionStore>,
        config: SessionConfig,
        routes: Routes,
    ) -> Self {
        Self::build(adapter, Some((store, config)), routes)
    }
    /// `routes` without any session middleware (the mistake to report).
    pub(crate) fn bare(adapter: Adapter, routes: Routes) -> Self {
        Self::build(adapter, None, routes)
    }
    fn build(
        adapter: Adapter,
        layer: Option<(Arc<dyn SessionStore>, SessionConfig)>,
        routes: Routes,
    ) -> Self {
        let inner = match adapter {
            #[cfg(feature = "axum")]
            Adapter::Axum => Inner::Axum(axum_app::router(layer, routes)),
            #[cfg(feature = "actix")]
            Adapter::Actix => Inner::Actix(actix::Handle::start(layer, routes)),
        };
        Self { adapter, inner }
    }
    /// The adapter this app runs on.
    pub(crate) fn adapter(&self) -> Adapter {
        self.adapter
    }
    /// GET `uri` with `cookie` as the whole `Cookie` header.
    ///
    /// Panics when `cookie` is not a valid header value (check with
    /// [`valid_header`] first): no client could send it.
    pub(crate) async fn get(&self, uri: &str, cookie: Option<&str>) -> Answer {
        assert!(
            cookie.is_none_or(valid_header),
            "not a header value: {cookie:?}"
        );
        match &self.inner {
            #[cfg(feature = "axum")]
            Inner::Axum(router) => axum_app::get(router, uri, cookie).await,
            #[cfg(feature = "actix")]
            Inner::Actix(handle) => handle.get(uri, cookie).await,
        }
    }
    /// GET `uri` with `sessionid=<key>`.
    pub(crate) async fn get_key(&self, uri: &str, key: Option<&str>) -> Answer {
        let cookie = key.map(|k| format!("sessionid={k}"));
        self.get(uri, cookie.as_deref()).await
    }
}

/// Whether a client could send `value` as a header value at all.
pub(crate) fn valid_header(value: &str) -> bool {
    axum::http::HeaderValue::from_str(value).is_ok()
}

/// A config with the test secret.
pub(crate) fn config() -> SessionConfig {
    SessionConfig::new(super::SECRET).expect("a valid test config")
}

/// One test per adapter for each named `async fn name(adapter: Adapter)` of
/// the calling file: `on_axum::name` and `on_actix::name`, with the given
/// test attribute, so `cargo test name` finds both and each fails alone.
#[allow(unused_macros)]
macro_rules! adapter_tests {
    ($( #[$attr:meta] $name:ident; )*) => {
        #[cfg(feature = "axum")]
        mod on_axum {
            $(
                #[$attr]
                async fn $name() {
                    super::$name($crate::common::app::Adapter::Axum).await
                }
            )*
        }
        #[cfg(feature = "actix")]
        mod on_actix {
            $(
                #[$attr]
                async fn $name() {
                    super::$name($crate::common::app::Adapter::Actix).await
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use adapter_tests;
