//! The ports: what the use cases need from the outside world.
//!
//! Ports are object-safe `#[async_trait]` traits held as `Arc<dyn Port>`, because backends are
//! chosen at run time from URLs. Arguments and results are domain types only. Each method states
//! its contract under `# Errors`; adapters translate their library's errors into these enums at
//! the boundary. One [`MediaRepo`] method is one database transaction: the domain never sees
//! begin or commit.

use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;
use time::OffsetDateTime;

use crate::error::{BlobError, BoxError, RenderError, RepoError};
use crate::model::*;

pub mod repo;
pub use repo::*;

/// A stream of bytes flowing into or out of a [`BlobStore`].
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>;

/// A streamed listing of a [`BlobStore`].
pub type BlobListing = Pin<Box<dyn Stream<Item = Result<BlobMeta, BlobError>> + Send>>;

/// The records of a reaper pass, held by its [`PendingClaim`] (see
/// [`PendingDeletions::claim_pending_pass`]).
pub struct ClaimedPass {
    /// The claimed records, oldest first.
    pub records: Vec<PendingBlob>,
    /// The hold on them, to settle once their blobs were worked.
    pub claim: Box<dyn PendingClaim>,
}

impl std::fmt::Debug for ClaimedPass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedPass")
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

/// A failed blob deletion of a claimed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingFailure {
    /// The record.
    pub id: i64,
    /// When to try again; `None` parks the record as `failed`.
    pub retry_at: Option<OffsetDateTime>,
    /// What went wrong.
    pub error: String,
}

/// A reaper pass's hold on the records it claimed.
#[cfg_attr(any(test, feature = "testkit"), mockall::automock)]
#[async_trait::async_trait]
pub trait PendingClaim: Send {
    /// Ends the pass, in one transaction: forgets the records of `purged` (ids of the claimed
    /// records whose blobs are gone), records each failure (one more attempt, the next due
    /// time or `failed`, the error), and releases the rest unchanged.
    ///
    /// # Errors
    /// As every [`MediaRepo`] method; on an error nothing was written, and the records are
    /// due again once the hold ends (a blob deleted twice is no harm).
    async fn settle(
        self: Box<Self>,
        purged: &[i64],
        failures: &[PendingFailure],
    ) -> Result<(), RepoError>;
}

/// Forgets the pending deletions of `keys`, blobs confirmed gone
/// ([`PendingDeletions::complete_pending_deletions`]). A failure is only logged: those records fall
/// due later, and the reaper finds their blobs gone and forgets them then.
pub(crate) async fn forget_purged<R: PendingDeletions + ?Sized>(repo: &R, keys: &[BlobKey]) {
    if keys.is_empty() {
        return;
    }
    if let Err(err) = repo.complete_pending_deletions(keys).await {
        tracing::warn!(
            error = &err as &dyn std::error::Error,
            "could not clear pending deletions"
        );
    }
}

/// The delete transaction and the forget of purged blobs' records: the part of the repository
/// the delete pipeline ([`crate::MediaService`]'s `carry_out`) goes through. Every
/// [`MediaRepo`] is one ([`Direct`]); group commit is a decorator of it that lets concurrent
/// single deletes share a transaction and forgets in batches, with the same contract.
#[async_trait::async_trait]
pub trait Deletions: Send + Sync + std::fmt::Debug {
    /// Carries out `requests` in one transaction, as [`DeleteRepo::delete_requests`] does.
    ///
    /// # Errors
    /// As [`DeleteRepo::delete_requests`].
    async fn delete_requests(
        &self,
        requests: Vec<DeleteRequest>,
    ) -> Result<Vec<Result<DeleteOutcome, RepoError>>, RepoError>;

    /// Forgets the pending records of `keys`, blobs confirmed gone, now or later; never fails
    /// (a record not forgotten falls due, and the reaper finds its blob gone).
    async fn forget_purged(&self, keys: Vec<BlobKey>);
}

/// A repository as the delete pipeline's [`Deletions`]: each call its own transaction.
#[derive(Debug, Clone)]
pub struct Direct(pub std::sync::Arc<dyn MediaRepo>);

#[async_trait::async_trait]
impl Deletions for Direct {
    async fn delete_requests(
        &self,
        requests: Vec<DeleteRequest>,
    ) -> Result<Vec<Result<DeleteOutcome, RepoError>>, RepoError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        self.0.delete_requests(requests).await
    }

    async fn forget_purged(&self, keys: Vec<BlobKey>) {
        forget_purged(self.0.as_ref(), &keys).await;
    }
}

/// Where blobs live.
///
/// # Errors
/// Every method MUST return [`BlobError::Unavailable`] when the store cannot be reached.
#[cfg_attr(any(test, feature = "testkit"), mockall::automock)]
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Checks that the store answers.
    async fn ping(&self) -> Result<(), BlobError>;

    /// Streams `body` to `key` and returns the number of bytes stored.
    ///
    /// # Errors
    /// When `body` yields an error, MUST store nothing and return [`BlobError::Body`] with it.
    async fn put(&self, key: &BlobKey, body: ByteStream) -> Result<u64, BlobError>;

    /// Opens a blob, or the `range` of it, for streaming; returns the length of what the stream
    /// carries and the bytes. The caller checks `range` against the blob's size first.
    ///
    /// # Errors
    /// MUST return [`BlobError::NotFound`] when the blob does not exist.
    async fn get(
        &self,
        key: &BlobKey,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<(u64, ByteStream), BlobError>;

    /// Copies a blob to a new key.
    ///
    /// # Errors
    /// MUST return [`BlobError::NotFound`] when `from` does not exist.
    async fn copy(&self, from: &BlobKey, to: &BlobKey) -> Result<(), BlobError>;

    /// Whether a blob exists.
    async fn exists(&self, key: &BlobKey) -> Result<bool, BlobError>;

    /// Lists every blob, streamed (the store is never held in memory at once).
    fn list(&self) -> BlobListing;

    /// Counts, and with `delete` removes, the leftovers of writes that were interrupted
    /// before `older_than` (a local directory's staging files). Stores that clean up after
    /// themselves, or through lifecycle rules, have none and answer 0.
    async fn sweep_incomplete(
        &self,
        older_than: OffsetDateTime,
        delete: bool,
    ) -> Result<u64, BlobError>;

    /// Deletes blobs. A blob that is already gone counts as deleted.
    ///
    /// The result has one entry per key, in order.
    async fn delete_many(&self, keys: &[BlobKey]) -> Vec<Result<(), BlobError>>;
}

/// What a verified token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// The tenant's slug.
    pub tenant: String,
    /// The user id.
    pub user: String,
    /// `admin`, `member` or `viewer`; `member` when absent.
    pub role: Option<String>,
}

/// Verifies signed bearer tokens (JWTs) and reads who they name.
#[cfg_attr(any(test, feature = "testkit"), mockall::automock)]
pub trait TokenVerifier: Send + Sync + std::fmt::Debug {
    /// Checks the signature and the time claims of `token` and returns its claims.
    ///
    /// # Errors
    /// Any reason the token is not acceptable; the caller answers 401 for all of them.
    fn verify(&self, token: &str) -> Result<TokenClaims, BoxError>;
}

/// Makes thumbnails of images.
#[cfg_attr(any(test, feature = "testkit"), mockall::automock)]
#[async_trait::async_trait]
pub trait Thumbnailer: Send + Sync + std::fmt::Debug {
    /// Whether it makes thumbnails of this MIME type.
    fn accepts(&self, content_type: &str) -> bool;

    /// The largest original it reads, in bytes.
    fn max_source_bytes(&self) -> u64;

    /// Renders a thumbnail of an image.
    ///
    /// # Errors
    /// [`RenderError::TooLarge`] over the decoding limits, [`RenderError::Corrupt`] otherwise.
    async fn render(&self, original: Bytes) -> Result<RenderedImage, RenderError>;
}

/// What a rate limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    /// Media deleted, trashed or purged (a bulk delete counts each item).
    Deletes,
    /// Media uploaded.
    Uploads,
}

/// A refusal by the [`RateLimiter`]: the caller spent its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    /// Which budget is spent.
    pub budget: Budget,
    /// The most the budget holds (its burst), in items.
    pub limit: u32,
    /// When enough of the budget is back for the refused request.
    pub retry_after: std::time::Duration,
}

/// Spends per-credential and per-tenant budgets of deletes and uploads.
///
/// A limiter is optional ([`crate::MediaService::with_rate_limiter`]); the use cases that
/// delete or upload call it once per request, before any change, with the request's cost.
#[cfg_attr(any(test, feature = "testkit"), mockall::automock)]
#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync + std::fmt::Debug {
    /// Spends `cost` items of `budget` for `actor` (its credential's budget and its tenant's).
    ///
    /// # Errors
    /// MUST refuse with [`RateLimited`] when a budget holds less than `cost` items, saying
    /// when to retry; a refused request MUST NOT spend the budget that refused it. A cost
    /// above a budget's burst MUST be treated as the burst, so that any request can pass
    /// once the budget is full.
    async fn spend(&self, actor: &Actor, budget: Budget, cost: u32) -> Result<(), RateLimited>;
}

/// The time source, so that tests control it.
#[cfg_attr(any(test, feature = "testkit"), mockall::automock)]
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Now, truncated to the millisecond that every backend stores.
    fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        now.replace_millisecond(now.millisecond()).unwrap_or(now)
    }
}

/// Hashes API key secrets for storage and lookup.
#[cfg_attr(any(test, feature = "testkit"), mockall::automock)]
pub trait KeyHasher: Send + Sync + std::fmt::Debug {
    /// The stored form of a secret.
    fn hash(&self, secret: &str) -> String;
}

/// SHA-256 of the secret, hex encoded. Secrets are 128 random bits, so a fast hash is enough.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sha256KeyHasher;

impl KeyHasher for Sha256KeyHasher {
    fn hash(&self, secret: &str) -> String {
        use sha2::Digest;
        hex(&sha2::Sha256::digest(secret.as_bytes()))
    }
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// Sends webhook messages.
#[cfg_attr(any(test, feature = "testkit"), mockall::automock)]
#[async_trait::async_trait]
pub trait WebhookSender: Send + Sync + std::fmt::Debug {
    /// POSTs `message` to its URL, signed as the Standard Webhooks specification says
    /// (`webhook-id`, `webhook-timestamp`, `webhook-signature`: HMAC-SHA256 of
    /// `id.timestamp.body` with the secret). A 2xx answer accepts it; anything else, a timeout
    /// or a connection failure is an outcome with an error, never a panic.
    async fn send(&self, message: &WebhookMessage) -> SendOutcome;
}
