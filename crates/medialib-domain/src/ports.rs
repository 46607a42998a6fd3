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

/// A stream of bytes flowing into or out of a [`BlobStore`].
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>;

/// A streamed listing of a [`BlobStore`].
pub type BlobListing = Pin<Box<dyn Stream<Item = Result<BlobMeta, BlobError>> + Send>>;

/// The records of a reaper pass, held by its [`PendingClaim`] (see
/// [`MediaRepo::claim_pending_pass`]).
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
/// ([`MediaRepo::complete_pending_deletions`]). A failure is only logged: those records fall
/// due later, and the reaper finds their blobs gone and forgets them then.
pub(crate) async fn forget_purged<R: MediaRepo + ?Sized>(repo: &R, keys: &[BlobKey]) {
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
    /// Carries out `requests` in one transaction, as [`MediaRepo::delete_requests`] does.
    ///
    /// # Errors
    /// As [`MediaRepo::delete_requests`].
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

/// Durable record of tenants, keys, media rows, their cascades, usage and activity.
///
/// # Errors
/// Every method MUST return [`RepoError::Unavailable`] for connection failures and timeouts and
/// [`RepoError::Backend`] for other database failures, and MUST have changed nothing when it
/// returns an error.
#[cfg_attr(any(test, feature = "testkit"), mockall::automock)]
#[async_trait::async_trait]
pub trait MediaRepo: Send + Sync + std::fmt::Debug {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), RepoError>;

    /// Creates a tenant.
    ///
    /// # Errors
    /// MUST return [`RepoError::Conflict`] when the slug exists.
    async fn create_tenant(
        &self,
        slug: &TenantSlug,
        at: OffsetDateTime,
    ) -> Result<Tenant, RepoError>;

    /// Finds a tenant by slug.
    async fn find_tenant(&self, slug: &TenantSlug) -> Result<Option<Tenant>, RepoError>;

    /// Stores a new API key.
    ///
    /// # Errors
    /// MUST return [`RepoError::Conflict`] when the id exists.
    async fn create_api_key(&self, key: StoredApiKey) -> Result<(), RepoError>;

    /// Finds a key (revoked ones too) by its public id.
    async fn find_api_key(&self, id: &str) -> Result<Option<StoredApiKey>, RepoError>;

    /// Lists every key, oldest first.
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, RepoError>;

    /// Marks a key revoked.
    ///
    /// # Errors
    /// MUST return [`RepoError::NotFound`] when no unrevoked key has this id.
    async fn revoke_api_key(&self, id: &str, at: OffsetDateTime) -> Result<(), RepoError>;

    /// Makes a key expire at `at`, unless it expires earlier already.
    ///
    /// # Errors
    /// MUST return [`RepoError::NotFound`] when no unrevoked key has this id.
    async fn expire_api_key(&self, id: &str, at: OffsetDateTime) -> Result<(), RepoError>;

    /// Records when keys were last used; a time earlier than the recorded one MUST NOT replace
    /// it. Unknown ids are ignored.
    async fn touch_api_keys(&self, uses: &[(String, OffsetDateTime)]) -> Result<(), RepoError>;

    /// Records that a blob is about to be written for an upload (a pending deletion with
    /// status `upload`, due at `expires_at`), so that an upload abandoned before its row is
    /// committed is purged by the reaper.
    async fn record_upload_intent(
        &self,
        tenant: TenantId,
        key: &BlobKey,
        expires_at: OffsetDateTime,
    ) -> Result<(), RepoError>;

    /// Inserts a media row with its tags, adds it to usage, records the activity event and
    /// removes the upload intent of its blob, in one transaction.
    ///
    /// # Errors
    /// MUST return [`RepoError::Conflict`] when the owner already has a live item at the path,
    /// and [`RepoError::NotFound`] when the upload intent is gone (the reaper took it).
    async fn insert_media(&self, media: NewMedia, event: NewActivity) -> Result<Media, RepoError>;

    /// Finds live media of the tenant by id, each with the grant `user` holds on it.
    /// Ids that do not exist (or belong to another tenant) are absent from the result.
    async fn find_media_access(
        &self,
        tenant: TenantId,
        ids: &[MediaId],
        user: &UserId,
    ) -> Result<Vec<MediaAccess>, RepoError>;

    /// As [`MediaRepo::find_media_access`] for media in `state`, without their tags (left
    /// empty): what a delete needs to judge and plan, in one query fewer.
    async fn find_media_to_delete(
        &self,
        tenant: TenantId,
        ids: &[MediaId],
        user: &UserId,
        state: MediaState,
    ) -> Result<Vec<MediaAccess>, RepoError>;

    /// Finds the live media of `owner` at `path`, with the grant `user` holds on it.
    async fn find_media_by_path(
        &self,
        tenant: TenantId,
        owner: &UserId,
        path: &MediaPath,
        user: &UserId,
    ) -> Result<Option<MediaAccess>, RepoError>;

    /// Lists media, newest first.
    async fn list_media(
        &self,
        tenant: TenantId,
        query: &MediaQuery,
    ) -> Result<Vec<Media>, RepoError>;

    /// Replaces the tags of a media item and of its community copy; records the event.
    ///
    /// # Errors
    /// MUST return [`RepoError::NotFound`] when the media is gone.
    async fn set_tags(
        &self,
        tenant: TenantId,
        id: MediaId,
        tags: &[Tag],
        event: NewActivity,
    ) -> Result<Media, RepoError>;

    /// Creates the community copy of a media item (its blob already stored at `blob_key`),
    /// copying the media's tags to it; records the event.
    ///
    /// # Errors
    /// MUST return [`RepoError::NotFound`] when the media is gone and [`RepoError::Conflict`]
    /// when it is already shared.
    async fn share_media(
        &self,
        tenant: TenantId,
        id: MediaId,
        blob_key: &BlobKey,
        event: NewActivity,
    ) -> Result<CommunityItem, RepoError>;

    /// Removes the community copy of a media item and its tags, records its blob for purging
    /// and records the event, in one transaction.
    ///
    /// # Errors
    /// MUST return [`RepoError::NotFound`] when the media has no community copy.
    async fn unshare_media(
        &self,
        tenant: TenantId,
        id: MediaId,
        event: NewActivity,
        purge_after: OffsetDateTime,
    ) -> Result<BlobKey, RepoError>;

    /// Lists the tenant's community copies, newest first, below `before_id`.
    async fn list_community(
        &self,
        tenant: TenantId,
        before_id: Option<i64>,
        limit: u64,
    ) -> Result<Vec<CommunityItem>, RepoError>;

    /// Creates or replaces a grant; records the event.
    ///
    /// # Errors
    /// MUST return [`RepoError::NotFound`] when the media is gone.
    async fn put_grant(
        &self,
        tenant: TenantId,
        grant: Grant,
        event: NewActivity,
    ) -> Result<(), RepoError>;

    /// Lists the grants of a media item.
    async fn list_grants(&self, id: MediaId) -> Result<Vec<Grant>, RepoError>;

    /// Removes a grant; records the event.
    ///
    /// # Errors
    /// MUST return [`RepoError::NotFound`] when there is no such grant.
    async fn delete_grant(
        &self,
        id: MediaId,
        user: &UserId,
        event: NewActivity,
    ) -> Result<(), RepoError>;

    /// Deletes media rows, all in one transaction: for each plan the row (conditional on id
    /// and tenant), its community copy, tag assignments and grants; decrements usage; writes one
    /// `media_deleted` event per row; records every blob to purge as a pending deletion.
    ///
    /// The rows are locked and every plan is judged against its row's [`Snapshot`] (holds,
    /// references, the plan's caller's grant) by [`crate::service::verdict::judge_deletes`];
    /// the adapter carries out what that lets through and answers its refusals.
    ///
    /// The result has one entry per plan, in order.
    ///
    /// # Errors
    /// An entry MUST be [`RepoError::NotFound`] when that row was already gone (a concurrent
    /// delete won) and [`RepoError::Refused`] with the verdict's other refusals; exactly one
    /// caller ever gets `Ok` for a given id. The whole call fails, and changes nothing, only
    /// on a database failure.
    async fn delete_media(
        &self,
        plans: Vec<DeletePlan>,
    ) -> Result<Vec<Result<DeleteOutcome, RepoError>>, RepoError> {
        self.delete_requests(plans.into_iter().map(DeleteRequest::from).collect())
            .await
    }

    /// Carries out deletions as [`MediaRepo::delete_media`] does, in one transaction, where
    /// some are by id: the verdict on a [`DeleteRequest::ById`] authorizes it against its
    /// locked row first ([`DeleteById::authorize`]) and the plan it makes is carried out like
    /// any other.
    ///
    /// # Errors
    /// As [`MediaRepo::delete_media`]; an entry is [`RepoError::NotFound`] when a by-id row is
    /// missing, trashed or of another tenant.
    async fn delete_requests(
        &self,
        requests: Vec<DeleteRequest>,
    ) -> Result<Vec<Result<DeleteOutcome, RepoError>>, RepoError>;

    /// [`MediaRepo::delete_requests`], forgetting in the same transaction the pending
    /// deletions of `purged` blobs (confirmed gone), as
    /// [`MediaRepo::complete_pending_deletions`] does: the forget costs no commit of its own.
    /// When the transaction fails nothing is forgotten.
    ///
    /// The default runs the two one after the other (a failed forget is only logged: the
    /// reaper forgets those records later).
    ///
    /// # Errors
    /// As [`MediaRepo::delete_requests`].
    async fn delete_requests_forgetting(
        &self,
        requests: Vec<DeleteRequest>,
        purged: &[BlobKey],
    ) -> Result<Vec<Result<DeleteOutcome, RepoError>>, RepoError> {
        let outcomes = self.delete_requests(requests).await?;
        forget_purged(self, purged).await;
        Ok(outcomes)
    }

    /// Records blobs to purge outside of a row delete (for example an upload whose row could
    /// not be written), due at `not_before`. A key already recorded becomes `pending`.
    async fn add_pending_deletions(
        &self,
        tenant: TenantId,
        keys: &[BlobKey],
        not_before: OffsetDateTime,
    ) -> Result<(), RepoError>;

    /// Claims a reaper pass: up to `limit` due records (status `pending` or `upload`,
    /// `next_attempt_at <= now`, not claimed by a pass still open), oldest (lowest id) first;
    /// with `after`, only records whose id is greater. The pass holds its records until
    /// [`PendingClaim::settle`] (or until the claim is dropped, or the process dies).
    ///
    /// How a claim holds is the adapter's: a server database keeps the records' rows locked in
    /// a transaction that stays open for the pass (`FOR UPDATE SKIP LOCKED`: nothing is written
    /// to claim, and an abandoned pass's records are due again the moment its connection
    /// closes); a single-writer database writes a lease, `lease_until`, after which another
    /// pass may take the records over.
    ///
    /// # Errors
    /// MUST NOT hand the same record to two concurrent passes while both hold it.
    async fn claim_pending_pass(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u64,
        after: Option<i64>,
    ) -> Result<ClaimedPass, RepoError>;

    /// Forgets pending deletions whose blobs are confirmed gone.
    async fn complete_pending_deletions(&self, keys: &[BlobKey]) -> Result<(), RepoError>;

    /// Lists a tenant's pending deletions (all statuses unless `status`), newest first.
    async fn list_pending_deletions(
        &self,
        tenant: TenantId,
        status: Option<PendingStatus>,
        before_id: Option<i64>,
        limit: u64,
    ) -> Result<Vec<PendingBlob>, RepoError>;

    /// Counts the pending deletion records of every tenant by status, with the time the oldest
    /// of each status was recorded. MUST leave out statuses without records.
    async fn pending_summary(&self) -> Result<Vec<PendingCount>, RepoError>;

    /// Makes a tenant's `failed` records (only `ids`, when given) `pending` again, due at
    /// `now`, with their attempts reset. Returns how many.
    async fn requeue_pending_deletions(
        &self,
        tenant: TenantId,
        ids: Option<Vec<i64>>,
        now: OffsetDateTime,
    ) -> Result<u64, RepoError>;

    /// Of `keys`, the ones the database still knows: a live media or community row, or any
    /// pending deletion record.
    async fn known_blob_keys(&self, keys: &[BlobKey]) -> Result<Vec<BlobKey>, RepoError>;

    /// Live media of every tenant with an id above `after`, by id, for scans.
    async fn scan_media(&self, after: i64, limit: u64) -> Result<Vec<Media>, RepoError>;

    /// The tenant's usage.
    async fn usage(&self, tenant: TenantId) -> Result<Usage, RepoError>;

    /// The usage of what `user` may see in the tenant: the media it owns and the media it was
    /// granted, live and trashed apart. MUST count each media item once, whatever its grants.
    async fn usage_visible_to(&self, tenant: TenantId, user: &UserId) -> Result<Usage, RepoError>;

    /// Applies a change to a tenant's settings (only the values it names) and records the
    /// event, in one transaction; returns the settings as they are after it.
    async fn update_tenant_settings(
        &self,
        tenant: TenantId,
        change: SettingsChange,
        event: NewActivity,
    ) -> Result<TenantSettings, RepoError>;

    /// Finds trashed media of the tenant by id, each with the grant `user` holds on it.
    async fn find_trashed_media(
        &self,
        tenant: TenantId,
        ids: &[MediaId],
        user: &UserId,
    ) -> Result<Vec<MediaAccess>, RepoError>;

    /// Finds media of the tenant by id whether live or trashed.
    async fn find_any_media(
        &self,
        tenant: TenantId,
        id: MediaId,
    ) -> Result<Option<Media>, RepoError>;

    /// Moves a live media item to the trash: hides it, frees its path, moves its size from
    /// live to trashed usage and records the event, in one transaction. The row is locked and
    /// judged with its holds, references and the caller's grant by
    /// [`crate::service::verdict::judge_trash`]; its refusal is the call's.
    ///
    /// # Errors
    /// MUST return [`RepoError::NotFound`] when no live row of the request's tenant matches
    /// (or the verdict says so) and [`RepoError::Refused`] with the verdict's other refusals.
    async fn trash_media(
        &self,
        request: TrashRequest,
        event: NewActivity,
    ) -> Result<Media, RepoError>;

    /// Brings a trashed item back, at `path` when given (else its old path); records the event.
    ///
    /// # Errors
    /// MUST return [`RepoError::NotFound`] when no trashed row matches and
    /// [`RepoError::Conflict`] when the owner has a live item at the path.
    async fn restore_media(
        &self,
        tenant: TenantId,
        id: MediaId,
        path: Option<MediaPath>,
        event: NewActivity,
    ) -> Result<Media, RepoError>;

    /// Trashed media whose tenant's retention ran out at `now`, without holds, oldest first.
    async fn expired_trash(&self, now: OffsetDateTime, limit: u64)
        -> Result<Vec<Media>, RepoError>;

    /// Places a hold on live or trashed media; records the event.
    ///
    /// # Errors
    /// MUST return [`RepoError::NotFound`] when the media is gone.
    async fn add_hold(
        &self,
        tenant: TenantId,
        id: MediaId,
        reason: &str,
        event: NewActivity,
    ) -> Result<Hold, RepoError>;

    /// The holds of a media item, oldest first.
    async fn list_holds(&self, id: MediaId) -> Result<Vec<Hold>, RepoError>;

    /// Of `ids`, the ones that have holds and the ones that have references, as the delete
    /// transaction would find them now (a dry run's forecast; MUST read committed data only).
    async fn delete_blockers(&self, ids: &[MediaId]) -> Result<DeleteBlockers, RepoError>;

    /// Removes a hold; records the event.
    ///
    /// # Errors
    /// MUST return [`RepoError::NotFound`] when the media has no such hold.
    async fn remove_hold(
        &self,
        tenant: TenantId,
        id: MediaId,
        hold_id: i64,
        event: NewActivity,
    ) -> Result<(), RepoError>;

    /// Records (or keeps) a reference to live media; records the event when it is new.
    /// Returns whether it was new.
    ///
    /// # Errors
    /// MUST return [`RepoError::NotFound`] when no live row matches.
    async fn add_reference(
        &self,
        tenant: TenantId,
        reference: Reference,
        event: NewActivity,
    ) -> Result<bool, RepoError>;

    /// The references of a media item, by name.
    async fn list_references(&self, id: MediaId) -> Result<Vec<Reference>, RepoError>;

    /// Removes a reference; records the event.
    ///
    /// # Errors
    /// MUST return [`RepoError::NotFound`] when there is no such reference.
    async fn remove_reference(
        &self,
        id: MediaId,
        name: &RefName,
        event: NewActivity,
    ) -> Result<(), RepoError>;

    /// Records a derivative whose blob is stored (taking its upload intent) and marks the
    /// media's thumbnail ready.
    ///
    /// # Errors
    /// MUST return [`RepoError::NotFound`] when the media is gone or the intent was reaped.
    async fn insert_derivative(&self, derivative: Derivative) -> Result<(), RepoError>;

    /// Sets the thumbnail state of media that is still there.
    async fn set_thumbnail_state(
        &self,
        id: MediaId,
        state: ThumbnailState,
    ) -> Result<(), RepoError>;

    /// The derivative of a kind of a media item, if it exists.
    async fn find_derivative(
        &self,
        id: MediaId,
        kind: &'static str,
    ) -> Result<Option<Derivative>, RepoError>;

    /// The tenant's activity, newest first.
    async fn list_activity(
        &self,
        tenant: TenantId,
        query: &ActivityQuery,
    ) -> Result<Vec<Activity>, RepoError>;
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
