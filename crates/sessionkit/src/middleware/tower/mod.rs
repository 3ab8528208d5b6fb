//! The tower layer, split by role: the layer holds only config, the service is
//! `inner` plus config, the response future has a name.

mod future;
mod layer;
mod service;

pub use future::ResponseFuture;
pub use layer::SessionLayer;
pub use service::SessionService;
