//! sessionkit: Django's session framework for Rust web services.
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub mod clock;
pub mod config;
pub mod cookie;
pub mod error;
pub mod expiry;
pub mod key;
pub mod middleware;
pub mod session;
pub mod signing;
pub mod store;
