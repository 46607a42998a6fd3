//! SeaORM entities, one module per table. Private to this crate: rows become domain types in
//! `repo.rs` and never leave it. Timestamps are stored as Unix milliseconds (`BIGINT`), which
//! every backend keeps exactly and without a time zone.

pub(crate) mod activity;
pub(crate) mod api_key;
pub(crate) mod change_sequence;
pub(crate) mod community;
pub(crate) mod community_tag;
pub(crate) mod derivative;
pub(crate) mod grant;
pub(crate) mod hold;
pub(crate) mod idempotency_key;
pub(crate) mod job;
pub(crate) mod media;
pub(crate) mod media_tag;
pub(crate) mod pending;
pub(crate) mod reference;
pub(crate) mod tenant;
pub(crate) mod usage;
pub(crate) mod webhook;
pub(crate) mod webhook_attempt;
pub(crate) mod webhook_delivery;
