//! object_store adapter for medialib's [`BlobStore`](medialib_domain::BlobStore).
//!
//! The backend is chosen by URL: `file:///abs/dir` or a plain relative or absolute directory,
//! `memory://`. Uploads and downloads stream, so memory stays bounded whatever the file size.
//! object_store types never leave this crate. It must not depend on the SQL adapter, the API
//! or the server.

#[cfg(feature = "faults")]
pub mod faults;
mod store;
mod url;

pub use store::{BlobConfig, ObjectStoreBlobStore};
