//! The hooks the session layer calls: one [`Probe`] per layer, holding the
//! store's engine name and (with the `metrics` feature) the metric keys
//! built for it once.

use std::future::Future;
use std::time::Duration;

use tracing::Instrument;

use crate::error::StoreError;
use crate::session::PersistError;

#[cfg(feature = "metrics")]
use super::keys::{Keys, Kind};

/// A store operation, as the `op` label names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Load,
    Save,
    Create,
    Delete,
    Touch,
}

impl Op {
    /// The operation a deadline's `what` names; `None` for what is not a
    /// store call (the wait for the save lock).
    fn from_what(what: &str) -> Option<Self> {
        match what {
            "load" => Some(Op::Load),
            "save" => Some(Op::Save),
            "create" => Some(Op::Create),
            "delete" => Some(Op::Delete),
            "touch" => Some(Op::Touch),
            _ => None,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Op::Load => "load",
            Op::Save => "save",
            Op::Create => "create",
            Op::Delete => "delete",
            Op::Touch => "touch",
        }
    }
}

/// What one session layer reports about its store.
pub(crate) struct Probe {
    engine: &'static str,
    #[cfg(feature = "metrics")]
    keys: Box<Keys>,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe")
            .field("engine", &self.engine)
            .finish()
    }
}

impl Probe {
    /// The probe of a layer over a store named `engine`.
    pub(crate) fn new(engine: &'static str) -> Self {
        Self {
            engine,
            #[cfg(feature = "metrics")]
            keys: Box::new(Keys::new(engine)),
        }
    }

    /// The store's engine name.
    pub(crate) fn engine(&self) -> &'static str {
        self.engine
    }

    /// Runs a store call in its `sessionkit.store` span and records how long
    /// it took and how it failed. A call cut short by the deadline never
    /// finishes here: [`timed_out`](Self::timed_out) records it.
    pub(crate) async fn store_call<T>(
        &self,
        what: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let Some(op) = Op::from_what(what) else {
            return call.await;
        };
        let span = tracing::debug_span!("sessionkit.store", op = op.name(), engine = self.engine);
        #[cfg(feature = "metrics")]
        let started = std::time::Instant::now();
        let result = call.instrument(span).await;
        #[cfg(feature = "metrics")]
        self.keys
            .store_call(op, started.elapsed(), result.as_ref().err().map(Kind::of));
        result
    }

    /// [`store_call`](Self::store_call) for a call that answers at once
    /// ([`ImmediateStore`](crate::store::ImmediateStore)): the same span and
    /// measurements, no future.
    pub(crate) fn store_call_now<T>(
        &self,
        what: &'static str,
        call: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Some(op) = Op::from_what(what) else {
            return call();
        };
        let span = tracing::debug_span!("sessionkit.store", op = op.name(), engine = self.engine);
        let _entered = span.enter();
        #[cfg(feature = "metrics")]
        let started = std::time::Instant::now();
        let result = call();
        #[cfg(feature = "metrics")]
        self.keys
            .store_call(op, started.elapsed(), result.as_ref().err().map(Kind::of));
        result
    }

    /// A store call that outlived its deadline `after`.
    pub(crate) fn timed_out(&self, what: &'static str, after: Duration) {
        #[cfg(feature = "metrics")]
        if let Some(op) = Op::from_what(what) {
            self.keys.store_call(op, after, Some(Kind::Timeout));
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (what, after);
    }

    /// A compare-and-set save found a newer version.
    pub(crate) fn conflict(&self) {
        #[cfg(feature = "metrics")]
        Keys::count(&self.keys.conflicts);
    }

    /// Save attempt number `attempt` (0 first) begins: any after the first is
    /// a retry.
    pub(crate) fn save_attempt(&self, attempt: u32) {
        #[cfg(feature = "metrics")]
        if attempt > 0 {
            Keys::count(&self.keys.retries);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = attempt;
    }

    /// A save failed with `e`: counts the outcomes that are not store
    /// errors (those are counted per call).
    pub(crate) fn save_failed(&self, e: &PersistError) {
        #[cfg(feature = "metrics")]
        match e {
            PersistError::Gone => Keys::count(&self.keys.gone),
            PersistError::RetriesExhausted => Keys::count(&self.keys.exhausted),
            PersistError::Store(_) | PersistError::Replay(_) => {}
        }
        #[cfg(not(feature = "metrics"))]
        let _ = e;
    }

    /// A new session was written.
    pub(crate) fn created(&self) {
        #[cfg(feature = "metrics")]
        Keys::count(&self.keys.created);
    }

    /// A session ended by `flush` was deleted.
    pub(crate) fn deleted(&self) {
        #[cfg(feature = "metrics")]
        Keys::count(&self.keys.deleted);
    }
}
