//! The harness on actix-web: the views as actix handlers wrapped in
//! `sessionkit::actix::SessionMiddleware`, served in-process by
//! `actix_web::test` on a thread of its own running an actix system, as an
//! actix worker does. Its futures are not `Send`, so requests reach it over a
//! channel and each is served as its own local task: concurrent requests
//! really are concurrent there, and callers may be on any runtime thread.

use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue, COOKIE};
use actix_web::http::StatusCode as ActixStatus;
use actix_web::{test, web, HttpRequest, HttpResponse};
use axum::http::StatusCode;
use sessionkit::actix::SessionMiddleware;
use sessionkit::{Session, SessionConfig, SessionError, SessionStore};
use tokio::sync::{mpsc, oneshot};

use super::{Answer, Reply, Routes, View};

struct Job {
    uri: String,
    cookie: Option<String>,
    answer: oneshot::Sender<Answer>,
}

/// The sending end of a served app; the app stops when every clone is gone.
#[derive(Clone)]
pub(super) struct Handle {
    jobs: mpsc::UnboundedSender<Job>,
}

fn response(reply: Reply) -> HttpResponse {
    let status = ActixStatus::from_u16(reply.status.as_u16()).expect("a valid status");
    let mut res = HttpResponse::build(status);
    for (name, value) in reply.headers {
        res.append_header((
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).expect("a valid header value"),
        ));
    }
    res.body(reply.body)
}

fn add_routes<T>(mut app: actix_web::App<T>, routes: Routes) -> actix_web::App<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    for (path, view) in routes {
        app = match view {
            View::Plain(f) => app.route(
                path,
                web::get().to(move |req: HttpRequest, s: Session| {
                    let query = Some(req.query_string()).filter(|q| !q.is_empty());
                    let reply = f(s, query.map(str::to_owned));
                    async move { reply.await.map(response) }
                }),
            ),
            View::Fallible(f) => app.route(
                path,
                web::get().to(move |s: Result<Session, SessionError>| {
                    let reply = f(s);
                    async move { response(reply) }
                }),
            ),
            View::Optional(f) => app.route(
                path,
                web::get().to(move |s: Option<Session>| {
                    let reply = f(s);
                    async move { response(reply) }
                }),
            ),
        };
    }
    app
}

/// Serves each job as its own local task until every handle is dropped.
/// `R` is actix-http's request type, which actix-web does not re-export.
async fn serve<S, R, B>(
    service: S,
    request: fn(test::TestRequest) -> R,
    mut queue: mpsc::UnboundedReceiver<Job>,
) where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    R: 'static,
    B: MessageBody + 'static,
{
    let service = Rc::new(service);
    while let Some(job) = queue.recv().await {
        let service = service.clone();
        actix_web::rt::spawn(async move {
            let mut req = test::TestRequest::get().uri(&job.uri);
            if let Some(c) = &job.cookie {
                req = req.insert_header((COOKIE, c.as_str()));
            }
            let res = test::call_service(&*service, request(req)).await;
            let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
            let headers = res
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect();
            let body = test::read_body(res).await;
            let _ = job.answer.send(Answer {
                status,
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        });
    }
}

impl Handle {
    pub(super) fn start(
        layer: Option<(Arc<dyn SessionStore>, SessionConfig)>,
        routes: Routes,
    ) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel::<Job>();
        std::thread::Builder::new()
            .name("actix-test-app".to_owned())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let app = actix_web::App::new();
                    match layer {
                        Some((store, config)) => {
                            let app = app.wrap(SessionMiddleware::from_arc(store, config));
                            let service = test::init_service(add_routes(app, routes)).await;
                            serve(service, test::TestRequest::to_request, queue).await;
                        }
                        None => {
                            let service = test::init_service(add_routes(app, routes)).await;
                            serve(service, test::TestRequest::to_request, queue).await;
                        }
                    }
                })
            })
            .expect("a thread for the actix app");
        Self { jobs }
    }

    pub(super) async fn get(&self, uri: &str, cookie: Option<&str>) -> Answer {
        let (answer, answered) = oneshot::channel();
        let job = Job {
            uri: uri.to_owned(),
            cookie: cookie.map(str::to_owned),
            answer,
        };
        self.jobs.send(job).expect("the actix app is running");
        answered.await.expect("the actix app answered")
    }
}
