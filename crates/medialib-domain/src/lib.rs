//! medialib's domain: the model, the use cases and the ports.
//!
//! This crate owns every rule of the media lifecycle (who may see, change or delete what, what a
//! delete removes, when a blob may be purged) and states what it needs from the outside world as
//! the port traits in [`ports`]. It must not depend on SQL, HTTP, object storage or an async
//! runtime: `cargo tree -p medialib-domain` shows none of sea-orm, poem, object_store or tokio, so
//! any Rust service can embed it with adapters of its own.
//!
//! # Embedding
//!
//! [`MediaService`] runs the use cases over the ports it is given. With the SQLite and
//! local-file adapters of `medialib-sql` and `medialib-blob`, for a user the embedding service
//! authenticated itself ([`MediaService::act_as`]):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! use std::sync::Arc;
//!
//! use medialib_blob::{BlobConfig, ObjectStoreBlobStore};
//! use medialib_domain::service::delete::DeleteOptions;
//! use medialib_domain::service::media::{ListRequest, UploadRequest};
//! use medialib_domain::service::ServiceConfig;
//! use medialib_domain::{MediaService, Sha256KeyHasher, StorageState, SystemClock};
//! use medialib_sql::{SeaOrmMediaRepo, SqlConfig};
//!
//! let database = format!("sqlite://{}", dir.path().join("media.db").display());
//! let repo = SeaOrmMediaRepo::connect(&SqlConfig::new(database)).await?;
//! repo.migrate().await?;
//! let blobs = ObjectStoreBlobStore::from_url(&BlobConfig::new(
//!     dir.path().join("blobs").to_string_lossy(),
//! ))?;
//! let service = MediaService::new(
//!     Arc::new(repo),
//!     Arc::new(blobs),
//!     Arc::new(SystemClock),
//!     Arc::new(Sha256KeyHasher),
//!     ServiceConfig::default(),
//! );
//!
//! service.create_tenant("acme").await?;
//! let alice = service.act_as("acme", "alice", "member").await?;
//! let upload = UploadRequest {
//!     path: "notes/hello.txt".into(),
//!     content_type: "text/plain".into(),
//!     tags: vec![],
//!     content_length: None,
//! };
//! let body = Box::pin(futures::stream::once(async {
//!     Ok(bytes::Bytes::from_static(b"hello"))
//! }));
//! let media = service.upload_media(&alice, upload, body).await?;
//! assert_eq!(service.list_media(&alice, ListRequest::default()).await?.items.len(), 1);
//!
//! let receipt = service
//!     .delete_media(&alice, &media.id.to_string(), DeleteOptions::default())
//!     .await?;
//! assert_eq!(receipt.storage, StorageState::Purged);
//! # Ok(())
//! # }
//! ```
//!
//! `docs/embedding.md` says which ports to implement for storage of your own and which errors
//! the use cases answer.
#![warn(missing_docs)]

#[cfg(any(test, feature = "contract"))]
pub mod contract;
pub mod error;
#[cfg(any(test, feature = "memory"))]
pub mod memory;
pub mod model;
pub mod ports;
pub mod service;

pub use error::{BlobError, RenderError, RepoError, ServiceError};
pub use model::*;
pub use ports::{
    ActivityLog, ApiKeys, BlobStore, Budget, ByteStream, Catalog, ChangeLog, ClaimedPass, Clock,
    DeleteRepo, Deletions, Direct, IdempotencyKeys, Jobs, KeyHasher, Lifecycle, MediaRepo,
    PendingClaim, PendingDeletions, PendingFailure, RateLimited, RateLimiter, Sha256KeyHasher,
    Sharing, SystemClock, Tenants, Thumbnailer, TokenClaims, TokenVerifier, WebhookSender,
    Webhooks,
};
pub use service::webhooks::{WebhookConfig, WebhookEdit};
pub use service::MediaService;
