//! The per-user index test rig: an axum app with login, logout, list and
//! revoke views behind `SessionLayer::with_user_sessions`, browsers that keep
//! their cookie, and a manual clock shared by the layer and the handle.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::RawQuery;
use axum::http::{HeaderName, Request};
use axum::routing::get;
use axum::Router;
use sessionkit::auth;
use sessionkit::clock::ManualClock;
use sessionkit::user_sessions::{SessionIndex, SessionInfo, UserSessions};
use sessionkit::{Session, SessionConfig, SessionLayer, SessionStore};
use time::OffsetDateTime;
use tower::ServiceExt;

/// The password hash every test user has.
const PASSWORD: &str = "pbkdf2_sha256$1$salt$hash=";

/// A test app and what it is made of.
#[derive(Clone)]
pub(crate) struct Rig {
    pub(crate) app: Router,
    pub(crate) sessions: UserSessions,
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) clock: ManualClock,
    pub(crate) config: SessionConfig,
}

/// The test config on `clock`.
pub(crate) fn config(clock: &ManualClock) -> SessionConfig {
    SessionConfig::new(super::common::SECRET)
        .expect("a valid test config")
        .with_clock(clock.clone())
}

/// A clock at the current second (Redis TTLs follow the real clock).
pub(crate) fn clock() -> ManualClock {
    let now = OffsetDateTime::now_utc();
    ManualClock::new(now.replace_nanosecond(0).expect("0 is a valid nanosecond"))
}

impl Rig {
    /// The app over `store` with `index`, at most `max` sessions per user.
    pub(crate) fn new(
        store: Arc<dyn SessionStore>,
        index: Arc<dyn SessionIndex>,
        clock: ManualClock,
        max: Option<usize>,
    ) -> Self {
        Self::with_config(store, index, clock.clone(), max, config(&clock))
    }

    /// The same with another config (on `clock`).
    pub(crate) fn with_config(
        store: Arc<dyn SessionStore>,
        index: Arc<dyn SessionIndex>,
        clock: ManualClock,
        max: Option<usize>,
        config: SessionConfig,
    ) -> Self {
        let mut sessions = UserSessions::from_arc(store.clone(), index)
            .with_clock(clock.clone())
            .client_ip_header(HeaderName::from_static("x-forwarded-for"));
        if let Some(max) = max {
            sessions = sessions.max_sessions_per_user(max);
        }
        let app = views(config.clone(), Some(sessions.clone())).layer(
            SessionLayer::from_arc(store.clone(), config.clone())
                .with_user_sessions(sessions.clone()),
        );
        Self {
            app,
            sessions,
            store,
            clock,
            config,
        }
    }

    /// GET `uri` as `browser`, keeping the cookie it is sent; the body.
    pub(crate) async fn get(&self, browser: &mut Browser, uri: &str) -> String {
        send(&self.app, browser, uri).await
    }

    /// The user's sessions, as the handle lists them.
    pub(crate) async fn list(&self, user: &str) -> Vec<SessionInfo> {
        self.sessions.list(user).await.expect("the index lists")
    }

    /// The listed session that `browser` logged in from.
    pub(crate) async fn entry_of(&self, user: &str, browser: &Browser) -> SessionInfo {
        self.list(user)
            .await
            .into_iter()
            .find(|s| s.user_agent.as_deref() == Some(browser.agent))
            .unwrap_or_else(|| panic!("no session listed for {}", browser.agent))
    }
}

/// The views, with the index handle when there is one.
pub(crate) fn views(config: SessionConfig, sessions: Option<UserSessions>) -> Router {
    let login_config = config.clone();
    let verify_config = config.clone();
    let list = sessions.clone();
    let others = sessions;
    Router::new()
        .route(
            "/login",
            get(move |s: Session, RawQuery(user): RawQuery| {
                auth::login(
                    &s,
                    &login_config,
                    &user.unwrap_or_default(),
                    auth::MODEL_BACKEND,
                    PASSWORD,
                );
                std::future::ready("ok")
            }),
        )
        .route(
            "/whoami",
            get(|s: Session| async move {
                auth::auth_user(&s).map_or("anonymous".to_owned(), |u| u.id)
            }),
        )
        .route(
            "/verify",
            get(move |s: Session| {
                let user = auth::get_user(&s, &verify_config, &[auth::MODEL_BACKEND], |_| {
                    Some(PASSWORD.to_owned())
                });
                std::future::ready(user.unwrap_or_else(|| "anonymous".to_owned()))
            }),
        )
        .route("/logout", get(|s: Session| async move { auth::logout(&s) }))
        .route("/cycle", get(|s: Session| async move { s.cycle_key() }))
        .route(
            "/list",
            get(move |s: Session| {
                let sessions = list.clone().expect("an index");
                async move {
                    let listed = sessions.list_for(&s).await.expect("the index lists");
                    listed
                        .iter()
                        .map(|i| format!("{} {}\n", i.id, i.current))
                        .collect::<String>()
                }
            }),
        )
        .route(
            "/others",
            get(move |s: Session| {
                let sessions = others.clone().expect("an index");
                async move {
                    sessions
                        .revoke_others(&s)
                        .await
                        .expect("revokes")
                        .to_string()
                }
            }),
        )
}

/// A browser: its `User-Agent` and the session cookie it holds.
#[derive(Clone, Debug)]
pub(crate) struct Browser {
    pub(crate) agent: &'static str,
    pub(crate) cookie: Option<String>,
}

impl Browser {
    pub(crate) fn new(agent: &'static str) -> Self {
        Self {
            agent,
            cookie: None,
        }
    }
}

/// GET `uri` on `app` as `browser`; applies any `Set-Cookie`.
pub(crate) async fn send(app: &Router, browser: &mut Browser, uri: &str) -> String {
    let mut req = Request::get(uri)
        .header("user-agent", browser.agent)
        .header("x-forwarded-for", "203.0.113.5, 198.51.100.1");
    if let Some(c) = &browser.cookie {
        req = req.header("cookie", format!("sessionid={c}"));
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(res.status().is_success(), "{uri}: {}", res.status());
    if let Some(set) = res.headers().get("set-cookie") {
        let set = set.to_str().unwrap();
        let value = set
            .split(';')
            .next()
            .and_then(|p| p.split_once('='))
            .map(|(_, v)| v.trim_matches('"').to_owned())
            .unwrap_or_default();
        browser.cookie = (!value.is_empty() && !set.contains("Max-Age=0")).then_some(value);
    }
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}
