//! End-to-end tests: the real `medialib` binary on an ephemeral port, spoken to over HTTP.
//! Each test gets its own server and data directory. Set `TEST_LOG=1` to see server logs.

mod auth;
mod backend;
mod bulk;
mod changes;
mod cli;
mod compat;
mod connections;
mod contract;
mod decoding;
mod delete;
mod derivatives;
mod durable;
mod helpers;
mod idempotency;
mod isolation;
mod jobs;
mod lifecycle;
mod limits;
mod linger;
mod local;
mod media;
mod misc;
mod readme;
mod scale;
mod store;
mod webhooks;
