//! SeaORM adapter for medialib's [`MediaRepo`](medialib_domain::MediaRepo), with its migrations.
//!
//! The backend is chosen by the database URL (`sqlite:`, `postgres://`, `mysql://`). Entities
//! and SQL stay inside this crate; the rest of the workspace sees domain types only. This crate
//! must not depend on the API, the blob adapter or the server.

mod entity;
pub mod migration;
mod repo;

pub use repo::{PoolUsage, SeaOrmMediaRepo, SqlConfig};
