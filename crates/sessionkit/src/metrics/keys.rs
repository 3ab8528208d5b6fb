//! The metric keys of one layer, built once with its engine label, and the
//! calls that record through them. Recording asks the recorder installed
//! at that moment (global or thread-local) for the handle: a recorder
//! installed after the layer was built still sees everything, and the key's
//! hash, computed once, makes the lookup cheap.

use std::time::Duration;

use metrics::{Key, Label, Level, Metadata};

use crate::error::StoreError;

use super::probe::Op;

/// Every `Op`, in declaration order: `op as usize` indexes its keys.
const OPS: [Op; 5] = [Op::Load, Op::Save, Op::Create, Op::Delete, Op::Touch];

/// Where sessionkit's metrics come from, for recorders that filter on it.
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Why a store call failed, as the `kind` label names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Timeout,
    Unavailable,
    TooLarge,
    Error,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::Timeout,
        Kind::Unavailable,
        Kind::TooLarge,
        Kind::Error,
    ];

    pub(super) fn of(e: &StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Kind::Unavailable,
            StoreError::TooLarge { .. } => Kind::TooLarge,
            _ => Kind::Error,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Timeout => "timeout",
            Kind::Unavailable => "unavailable",
            Kind::TooLarge => "too_large",
            Kind::Error => "error",
        }
    }
}

/// The keys of one layer's metrics.
pub(super) struct Keys {
    /// By `Op` (its index in `OPS`).
    durations: [Key; OPS.len()],
    /// By `Op`, then `Kind`.
    errors: [[Key; Kind::ALL.len()]; OPS.len()],
    pub(super) conflicts: Key,
    pub(super) retries: Key,
    pub(super) exhausted: Key,
    pub(super) gone: Key,
    pub(super) created: Key,
    pub(super) deleted: Key,
}

impl Keys {
    pub(super) fn new(engine: &'static str) -> Self {
        let engine_only = |name: &'static str| {
            Key::from_parts(name, vec![Label::from_static_parts("engine", engine)])
        };
        Self {
            durations: OPS.map(|op| {
                Key::from_parts(
                    super::STORE_DURATION,
                    vec![
                        Label::from_static_parts("op", op.name()),
                        Label::from_static_parts("engine", engine),
                    ],
                )
            }),
            errors: OPS.map(|op| {
                Kind::ALL.map(|kind| {
                    Key::from_parts(
                        super::STORE_ERRORS,
                        vec![
                            Label::from_static_parts("op", op.name()),
                            Label::from_static_parts("engine", engine),
                            Label::from_static_parts("kind", kind.name()),
                        ],
                    )
                })
            }),
            conflicts: engine_only(super::SAVE_CONFLICTS),
            retries: engine_only(super::SAVE_RETRIES),
            exhausted: engine_only(super::SAVE_RETRIES_EXHAUSTED),
            gone: engine_only(super::SESSIONS_GONE),
            created: engine_only(super::SESSIONS_CREATED),
            deleted: engine_only(super::SESSIONS_DELETED),
        }
    }

    /// One store call of `op` that took `took` and failed with `failed`.
    pub(super) fn store_call(&self, op: Op, took: Duration, failed: Option<Kind>) {
        let op = op as usize;
        metrics::with_recorder(|r| {
            r.register_histogram(&self.durations[op], &METADATA)
                .record(took.as_secs_f64());
            if let Some(kind) = failed {
                r.register_counter(&self.errors[op][kind as usize], &METADATA)
                    .increment(1);
            }
        });
    }

    /// Adds one to the counter `key`.
    pub(super) fn count(key: &Key) {
        metrics::with_recorder(|r| r.register_counter(key, &METADATA).increment(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_store_error_has_its_kind_label() {
        let io = || Box::new(std::io::Error::other("boom"));
        let kind = |e: StoreError| Kind::of(&e).name();
        assert_eq!(kind(StoreError::Unavailable(io())), "unavailable");
        assert_eq!(
            kind(StoreError::TooLarge {
                size: 5000,
                limit: 4096
            }),
            "too_large"
        );
        assert_eq!(kind(StoreError::Backend(io())), "error");
        assert_eq!(kind(StoreError::Config("bad".to_owned())), "error");
    }

    #[test]
    fn every_op_and_kind_has_its_own_key() {
        let keys = Keys::new("memory");
        for op in OPS {
            let labels: Vec<_> = keys.durations[op as usize]
                .labels()
                .map(|l| (l.key(), l.value()))
                .collect();
            assert_eq!(labels, [("op", op.name()), ("engine", "memory")]);
            for kind in Kind::ALL {
                let labels: Vec<_> = keys.errors[op as usize][kind as usize]
                    .labels()
                    .map(|l| (l.key(), l.value()))
                    .collect();
                assert_eq!(
                    labels,
                    [
                        ("op", op.name()),
                        ("engine", "memory"),
                        ("kind", kind.name())
                    ]
                );
            }
        }
    }
}
