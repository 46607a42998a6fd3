//! medialib's domain: the model, the use cases and the ports.
//!
//! This crate owns every rule of the media lifecycle (who may see, change or delete what, what a
//! delete removes, when a blob may be purged) and states what it needs from the outside world as
//! the port traits in [`ports`]. It must not depend on SQL, HTTP, object storage or an async
//! runtime: `cargo tree -p medialib-domain` shows none of sea-orm, poem, object_store or tokio, so
//! any Rust service can embed it with adapters of its own.
#![warn(missing_docs)]

pub mod error;
pub mod model;
pub mod ports;
pub mod service;

pub use error::{BlobError, RenderError, RepoError, ServiceError};
pub use model::*;
pub use ports::{
    BlobStore, ByteStream, ClaimedPass, Clock, KeyHasher, MediaRepo, PendingClaim, PendingFailure,
    Sha256KeyHasher, SystemClock, Thumbnailer, TokenClaims, TokenVerifier,
};
pub use service::MediaService;
