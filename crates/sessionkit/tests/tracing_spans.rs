//! The tracing spans of the session layer, on SQLite and the in-process
//! engine: a `sessionkit.store` span per store call with its `op` and
//! `engine`, inside the request's `sessionkit.finish` span for the writes
//! made when the response goes out.
#![cfg(all(feature = "sqlite", feature = "memory", feature = "axum"))]

mod common;

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use common::app::{config, stores, Adapter, App, Reply, View};
use common::http::get_with;
use sessionkit::store::memory::MemoryStore;
use sessionkit::SessionStore;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

/// A span as it was opened: its name, fields and parent's name.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Opened {
    name: String,
    fields: Vec<(String, String)>,
    parent: Option<String>,
}

impl Opened {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<Opened>>>);

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let name = attrs.metadata().name();
        if !name.starts_with("sessionkit.") {
            return;
        }
        let mut fields = Vec::new();
        attrs.record(&mut Fields(&mut fields));
        let parent = ctx
            .span(id)
            .and_then(|s| s.parent())
            .map(|p| p.name().to_owned());
        self.0.lock().unwrap().push(Opened {
            name: name.to_owned(),
            fields,
            parent,
        });
    }
}

/// Every span opened in this test binary (one global subscriber: a scoped
/// one races with other test threads over `tracing`'s callsite cache).
fn spans() -> &'static Spans {
    static SPANS: OnceLock<Spans> = OnceLock::new();
    SPANS.get_or_init(|| {
        let spans = Spans::default();
        tracing_subscriber::registry()
            .with(spans.clone())
            .try_init()
            .expect("the only subscriber of this test binary");
        spans
    })
}

impl Spans {
    /// The spans opened since the last call.
    fn take(&self) -> Vec<Opened> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn store_span(spans: &[Opened], op: &str) -> Option<Opened> {
    spans
        .iter()
        .find(|s| s.name == "sessionkit.store" && s.field("op") == Some(op))
        .cloned()
}

#[tokio::test]
async fn each_store_call_has_a_span_with_op_and_engine_inside_the_finish_span() {
    let spans = spans();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = stores::sqlite(&dir.path().join("t.sqlite3"), &config()).await;
    let engines: [(Arc<dyn SessionStore>, &str); 2] =
        [(Arc::new(MemoryStore::new()), "memory"), (sqlite, "sqlite")];
    for (store, engine) in engines {
        let count = View::sync(|s| Ok(Reply::text(s.increment("n", 1)?)));
        let app = App::serve(Adapter::Axum, store, config(), vec![("/count", count)]);
        spans.take();

        let (status, key, _) = get_with(&app, "/count", None).await;
        assert_eq!(status, 200);
        let opened = spans.take();
        let create =
            store_span(&opened, "create").unwrap_or_else(|| panic!("{engine}: {opened:?}"));
        assert_eq!(create.field("engine"), Some(engine), "{create:?}");
        assert_eq!(
            create.parent.as_deref(),
            Some("sessionkit.finish"),
            "{create:?}"
        );
        let finish = opened
            .iter()
            .find(|s| s.name == "sessionkit.finish")
            .unwrap_or_else(|| panic!("{engine}: {opened:?}"));
        assert_eq!(finish.field("engine"), Some(engine), "{finish:?}");
        assert_eq!(finish.field("status"), Some("200"), "{finish:?}");

        let (status, _, _) = get_with(&app, "/count", key.as_deref()).await;
        assert_eq!(status, 200);
        let opened = spans.take();
        let load = store_span(&opened, "load").unwrap_or_else(|| panic!("{engine}: {opened:?}"));
        assert_eq!(load.field("engine"), Some(engine), "{load:?}");
        // The handler's load happens before the response goes out.
        assert_eq!(load.parent, None, "{load:?}");
        let save = store_span(&opened, "save").unwrap_or_else(|| panic!("{engine}: {opened:?}"));
        assert_eq!(save.field("engine"), Some(engine), "{save:?}");
        assert_eq!(
            save.parent.as_deref(),
            Some("sessionkit.finish"),
            "{save:?}"
        );
    }
}
