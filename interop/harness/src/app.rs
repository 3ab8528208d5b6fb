//! The Rust half of the live harness: an axum app with sessionkit's
//! [`SessionLayer`] whose routes mirror the Django views in
//! `interop/django/interop_app/views.py`, served on a free port of 127.0.0.1.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use sessionkit::auth::{self, MODEL_BACKEND};
use sessionkit::expiry::{self, Expiry, EXPIRY_KEY};
use sessionkit::store::SessionMap;
use sessionkit::{Session, SessionConfig, SessionError, SessionLayer, SessionStore};
use time::OffsetDateTime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Django's users as the Rust service knows them: username → (pk, password
/// hash), filled by the test from Django's `auth_user` (through the `interop`
/// management command) and refreshed when a password changes.
#[derive(Clone, Debug, Default)]
pub struct Users(Arc<RwLock<HashMap<String, (String, String)>>>);

impl Users {
    /// Records (or updates) a user.
    pub fn set(&self, username: &str, pk: &str, password_hash: &str) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).insert(
            username.to_owned(),
            (pk.to_owned(), password_hash.to_owned()),
        );
    }

    fn by_name(&self, username: &str) -> Option<(String, String)> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(username)
            .cloned()
    }

    fn password_of(&self, pk: &str) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .find(|(id, _)| id == pk)
            .map(|(_, hash)| hash.clone())
    }
}

#[derive(Clone)]
struct AppState {
    config: SessionConfig,
    users: Users,
}

/// The running Rust app; stopped on drop.
#[derive(Debug)]
pub struct RustApp {
    base: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RustApp {
    /// Serves the app on `store` with `config` on a free port of 127.0.0.1.
    pub async fn start(store: Arc<dyn SessionStore>, config: SessionConfig, users: Users) -> Self {
        let state = AppState {
            config: config.clone(),
            users,
        };
        let router = Router::new()
            .route("/ready/", get(|| async { "ok" }))
            .route("/visit/", get(count_visit))
            .route("/set/", post(set_data))
            .route("/read/", get(read))
            .route("/flush/", get(flush))
            .route("/cycle/", get(cycle))
            .route("/expiry/", get(set_expiry))
            .route("/login/", get(login))
            .route("/whoami/", get(whoami))
            .route("/logout/", get(logout))
            .with_state(state)
            .layer(SessionLayer::from_arc(store, config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            base: format!("http://{addr}"),
            shutdown: Some(tx),
            task,
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for RustApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }
}

/// Parses the harness's expiry spec: `seconds:N` | `at:<ISO 8601>` |
/// `browser_close` | `default` (as `interop_app/sessions.py` does).
pub fn parse_expiry(spec: &str) -> Option<Expiry> {
    match spec {
        "default" => Some(Expiry::Default),
        "browser_close" => Some(Expiry::BrowserClose),
        _ => {
            if let Some(n) = spec.strip_prefix("seconds:") {
                n.parse().ok().map(Expiry::Seconds)
            } else {
                spec.strip_prefix("at:")
                    .and_then(expiry::parse_isoformat)
                    .map(Expiry::At)
            }
        }
    }
}

/// The same JSON as Django's `sessions.describe`, for a session's dict at
/// `now`: the data, its key order, the expiry getters.
pub fn describe_map(data: &SessionMap, config: &SessionConfig, now: OffsetDateTime) -> Value {
    let stored = data.get(EXPIRY_KEY);
    json!({
        "data": data,
        "keys": data.keys().collect::<Vec<_>>(),
        "expiry_date": expiry::isoformat(expiry::expiry_date(stored, now, config.cookie_age)),
        "expiry_age": expiry::expiry_age(stored, now, config.cookie_age),
        "browser_close": expiry::expire_at_browser_close(stored, config.expire_at_browser_close),
    })
}

async fn count_visit(session: Session) -> Result<String, SessionError> {
    let visit = session.increment("visit", 1)?;
    Ok(format!("Visit count:{visit}"))
}

async fn set_data(session: Session, Json(body): Json<Value>) -> (StatusCode, &'static str) {
    if let Some(Value::Object(data)) = body.get("data") {
        for (k, v) in data {
            session.insert_value(k.clone(), v.clone());
        }
    }
    match body.get("expiry").and_then(Value::as_str) {
        None => (StatusCode::OK, "ok"),
        Some(spec) => match parse_expiry(spec) {
            Some(e) => {
                session.set_expiry(e);
                (StatusCode::OK, "ok")
            }
            None => (StatusCode::BAD_REQUEST, "bad expiry spec"),
        },
    }
}

async fn read(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let mut out = describe_map(&session.to_map(), &state.config, state.config.now());
    // Through the session's own getters too, as the Django view calls them.
    out["expiry_date"] = expiry::isoformat(session.expiry_date()).into();
    out["expiry_age"] = session.expiry_age().into();
    out["browser_close"] = session.expire_at_browser_close().into();
    out["has_session_key"] = session.session_key().is_some().into();
    let contains: Map<String, Value> = q
        .get("contains")
        .map(String::as_str)
        .unwrap_or("")
        .split(',')
        .filter(|k| !k.is_empty())
        .map(|k| (k.to_owned(), session.contains(k).into()))
        .collect();
    out["contains"] = contains.into();
    Json(out)
}

async fn flush(session: Session) -> &'static str {
    session.flush();
    "flushed"
}

async fn cycle(session: Session) -> &'static str {
    session.cycle_key();
    "cycled"
}

async fn set_expiry(
    session: Session,
    Query(q): Query<HashMap<String, String>>,
) -> (StatusCode, &'static str) {
    match q.get("spec").and_then(|s| parse_expiry(s)) {
        Some(e) => {
            session.set_expiry(e);
            (StatusCode::OK, "ok")
        }
        None => (StatusCode::BAD_REQUEST, "bad expiry spec"),
    }
}

async fn login(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    let user = q.get("username").and_then(|u| state.users.by_name(u));
    match user {
        Some((pk, hash)) => {
            auth::login(&session, &state.config, &pk, MODEL_BACKEND, &hash);
            (StatusCode::OK, Json(json!({ "user": pk })))
        }
        None => (StatusCode::NOT_FOUND, Json(json!({ "user": null }))),
    }
}

async fn whoami(State(state): State<AppState>, session: Session) -> Json<Value> {
    let user = auth::get_user(&session, &state.config, &[MODEL_BACKEND], |pk| {
        state.users.password_of(pk)
    });
    Json(json!({ "user": user }))
}

async fn logout(session: Session) -> &'static str {
    auth::logout(&session);
    "logged out"
}
