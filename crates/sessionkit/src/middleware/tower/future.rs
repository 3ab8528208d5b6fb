//! [`ResponseFuture`]: the inner service's response, finished with Django's
//! session rules.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use crate::session::Session;

use super::super::respond::{apply, finish};

type Finishing<B> = Pin<Box<dyn Future<Output = Response<B>> + Send>>;

pin_project! {
    /// Response future of [`SessionService`](super::SessionService).
    ///
    /// No allocation of its own on the common path: the inner future is
    /// held in place, and a session on an engine that answers at once is
    /// finished right there; only an engine that has to wait gets a boxed
    /// future for the save.
    pub struct ResponseFuture<F, B> {
        #[pin]
        state: State<F, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        /// The inner service is answering.
        Inner {
            #[pin]
            fut: F,
            session: Session,
            had_cookie: bool,
        },
        /// The session is being saved.
        Finishing { fut: Finishing<B> },
        /// The response went out.
        Done,
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(super) fn new(fut: F, session: Session, had_cookie: bool) -> Self {
        Self {
            state: State::Inner {
                fut,
                session,
                had_cookie,
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: From<String> + Send + 'static,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Inner {
                    fut,
                    session,
                    had_cookie,
                } => {
                    let result = ready!(fut.poll(cx));
                    let (session, had_cookie) = (session.clone(), *had_cookie);
                    let res = match result {
                        Ok(res) => res,
                        Err(e) => {
                            this.state.set(State::Done);
                            return Poll::Ready(Err(e));
                        }
                    };
                    if let Some(outcome) = session.finish_now(had_cookie, res.status()) {
                        this.state.set(State::Done);
                        return Poll::Ready(Ok(apply(outcome, res)));
                    }
                    this.state.set(State::Finishing {
                        fut: Box::pin(async move { finish(&session, had_cookie, res).await }),
                    });
                }
                StateProj::Finishing { fut } => {
                    let res = ready!(fut.as_mut().poll(cx));
                    this.state.set(State::Done);
                    return Poll::Ready(Ok(res));
                }
                StateProj::Done => panic!("sessionkit ResponseFuture polled after it completed"),
            }
        }
    }
}

impl<F, B> fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
