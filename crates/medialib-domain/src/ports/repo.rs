//! The repository ports, one per job. [`MediaRepo`] is all of them together: what the
//! service holds and an adapter implements.
//!
//! # Errors
//! Every method of every port here MUST return [`RepoError::Unavailable`] for connection
//! failures and timeouts and [`RepoError::Backend`] for other database failures, and MUST have
//! changed nothing when it returns an error. One method is one database transaction: the domain
//! never sees begin or commit.

use time::OffsetDateTime;

use super::{forget_purged, ClaimedPass};
use crate::error::RepoError;
use crate::model::*;

/// Tenants, their settings and their usage.
///
/// # Contract
/// A tenant's usage MUST equal what its live and trashed rows add up to after every
/// transaction of any port that changes them.
#[async_trait::async_trait]
pub trait Tenants: Send + Sync + std::fmt::Debug {
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

    /// Applies a change to a tenant's settings (only the values it names) and records the
    /// event, in one transaction; returns the settings as they are after it.
    async fn update_tenant_settings(
        &self,
        tenant: TenantId,
        change: SettingsChange,
        event: NewActivity,
    ) -> Result<TenantSettings, RepoError>;

    /// The tenant's usage.
    async fn usage(&self, tenant: TenantId) -> Result<Usage, RepoError>;

    /// The usage of what `user` may see in the tenant: the media it owns and the media it was
    /// granted, live and trashed apart. MUST count each media item once, whatever its grants.
    async fn usage_visible_to(&self, tenant: TenantId, user: &UserId) -> Result<Usage, RepoError>;
}

/// The API keys callers authenticate with, stored hashed.
#[async_trait::async_trait]
pub trait ApiKeys: Send + Sync + std::fmt::Debug {
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
}

/// Media rows and their tags, upload intents and derivatives: what uploads write and reads
/// find.
///
/// # Contract
/// Reads MUST only see media of the tenant they are given.
#[async_trait::async_trait]
pub trait Catalog: Send + Sync + std::fmt::Debug {
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

    /// As [`Catalog::find_media_access`] for media in `state`, without their tags (left
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

    /// Live media of every tenant with an id above `after`, by id, for scans.
    async fn scan_media(&self, after: i64, limit: u64) -> Result<Vec<Media>, RepoError>;

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
}

/// Sharing: the community copies of media and the grants users hold on media.
#[async_trait::async_trait]
pub trait Sharing: Send + Sync + std::fmt::Debug {
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

    /// Up to `limit` of the tenant's media, live or trashed, on which `user` holds a grant,
    /// by id.
    async fn granted_media(
        &self,
        tenant: TenantId,
        user: &UserId,
        limit: u64,
    ) -> Result<Vec<MediaId>, RepoError>;
}

/// Trash and restore, holds and references: what keeps media from being deleted, and the
/// second chance before it is.
#[async_trait::async_trait]
pub trait Lifecycle: Send + Sync + std::fmt::Debug {
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
}

/// The delete transaction: rows, their cascades, usage, the event and the pending record of
/// every blob, all or nothing. [`Deletions`](super::Deletions) is what the delete pipeline
/// calls; every repository is one through [`Direct`](super::Direct).
#[async_trait::async_trait]
pub trait DeleteRepo: PendingDeletions {
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

    /// Carries out deletions as [`DeleteRepo::delete_media`] does, in one transaction, where
    /// some are by id: the verdict on a [`DeleteRequest::ById`] authorizes it against its
    /// locked row first ([`DeleteById::authorize`]) and the plan it makes is carried out like
    /// any other.
    ///
    /// # Errors
    /// As [`DeleteRepo::delete_media`]; an entry is [`RepoError::NotFound`] when a by-id row is
    /// missing, trashed or of another tenant.
    async fn delete_requests(
        &self,
        requests: Vec<DeleteRequest>,
    ) -> Result<Vec<Result<DeleteOutcome, RepoError>>, RepoError>;

    /// [`DeleteRepo::delete_requests`], forgetting in the same transaction the pending
    /// deletions of `purged` blobs (confirmed gone), as
    /// [`PendingDeletions::complete_pending_deletions`] does: the forget costs no commit of its own.
    /// When the transaction fails nothing is forgotten.
    ///
    /// The default runs the two one after the other (a failed forget is only logged: the
    /// reaper forgets those records later).
    ///
    /// # Errors
    /// As [`DeleteRepo::delete_requests`].
    async fn delete_requests_forgetting(
        &self,
        requests: Vec<DeleteRequest>,
        purged: &[BlobKey],
    ) -> Result<Vec<Result<DeleteOutcome, RepoError>>, RepoError> {
        let outcomes = self.delete_requests(requests).await?;
        forget_purged(self, purged).await;
        Ok(outcomes)
    }
}

/// The pending deletions: blobs to purge, recorded in the transaction that made them
/// unreachable (or before an upload wrote them), claimed and settled by the reaper.
#[async_trait::async_trait]
pub trait PendingDeletions: Send + Sync + std::fmt::Debug {
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
    /// [`PendingClaim::settle`](super::PendingClaim::settle) (or until the claim is dropped, or the process dies).
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
}

/// The activity log, written by every change in its own transaction and read here.
#[async_trait::async_trait]
pub trait ActivityLog: Send + Sync + std::fmt::Debug {
    /// The tenant's activity, newest first.
    async fn list_activity(
        &self,
        tenant: TenantId,
        query: &ActivityQuery,
    ) -> Result<Vec<Activity>, RepoError>;
}

/// Idempotency keys: the record of a request made with one, held while it runs and kept with
/// its answer for replays.
///
/// # Contract
/// Of concurrent claims of one tenant's key exactly one MUST get [`KeyClaim::Fresh`]; a key is
/// one tenant's (another tenant's equal key is another key).
#[async_trait::async_trait]
pub trait IdempotencyKeys: Send + Sync + std::fmt::Debug {
    /// Claims `key` for a request: [`KeyClaim::Fresh`] (and the key is held, in flight) when
    /// there is no record, or its record expired, or it was held by a request that did not
    /// finish by its `held_until`; otherwise what the record holds.
    async fn claim_idempotency_key(
        &self,
        key: &IdempotencyKey,
        terms: KeyTerms,
    ) -> Result<KeyClaim, RepoError>;

    /// Records the answer of the request that holds `key`, kept until `expires_at`.
    async fn complete_idempotency_key(
        &self,
        tenant: TenantId,
        key: &IdempotencyKey,
        fingerprint: &str,
        response: &StoredResponse,
        expires_at: OffsetDateTime,
    ) -> Result<(), RepoError>;

    /// Forgets a key held in flight (its request answered nothing worth replaying); a
    /// completed record is left alone.
    async fn release_idempotency_key(
        &self,
        tenant: TenantId,
        key: &IdempotencyKey,
    ) -> Result<(), RepoError>;

    /// Forgets every record that expired at `now`; returns how many.
    async fn purge_idempotency_keys(&self, now: OffsetDateTime) -> Result<u64, RepoError>;
}

/// The changes feed's order: every activity event gets a sequence number once it is
/// committed, in the order the sequencer finds them, so that a reader following the numbers
/// never skips an event whose transaction committed late.
///
/// # Contract
/// Sequence numbers MUST grow with every call and MUST NOT be given twice; an event MUST get
/// one only once it is committed (it is then listed after every event sequenced before it).
#[async_trait::async_trait]
pub trait ChangeLog: Send + Sync + std::fmt::Debug {
    /// Numbers up to `limit` committed events that have none yet, oldest first; returns how
    /// many. Concurrent calls (several instances) MUST take turns.
    async fn sequence_changes(&self, limit: u64) -> Result<u64, RepoError>;

    /// The tenant's sequenced events of `actions` with a number above `after`, by number.
    async fn list_changes(
        &self,
        tenant: TenantId,
        actions: &'static [&'static str],
        after: i64,
        limit: u64,
    ) -> Result<Vec<SequencedActivity>, RepoError>;

    /// The highest number given so far (0 when none).
    async fn last_change(&self) -> Result<i64, RepoError>;
}

/// Webhook endpoints and the queue of deliveries to them. Deliveries are recorded from the
/// changes feed (the outbox: events are written in the transaction of their change), so an
/// event is delivered at least once whatever instance or process dies when.
#[async_trait::async_trait]
pub trait Webhooks: Send + Sync + std::fmt::Debug {
    /// Adds an endpoint.
    async fn create_webhook(&self, webhook: NewWebhook) -> Result<Webhook, RepoError>;

    /// The tenant's endpoints, oldest first.
    async fn list_webhooks(&self, tenant: TenantId) -> Result<Vec<Webhook>, RepoError>;

    /// Every tenant's enabled endpoints (the dispatcher's work list).
    async fn enabled_webhooks(&self) -> Result<Vec<Webhook>, RepoError>;

    /// The tenant's endpoint `id`.
    async fn find_webhook(&self, tenant: TenantId, id: i64) -> Result<Option<Webhook>, RepoError>;

    /// Applies `change` to the tenant's endpoint `id`.
    ///
    /// # Errors
    /// `NotFound` when the tenant has no such endpoint.
    async fn update_webhook(
        &self,
        tenant: TenantId,
        id: i64,
        change: WebhookChange,
    ) -> Result<Webhook, RepoError>;

    /// Removes the tenant's endpoint `id` with its deliveries.
    ///
    /// # Errors
    /// `NotFound` when the tenant has no such endpoint.
    async fn delete_webhook(&self, tenant: TenantId, id: i64) -> Result<(), RepoError>;

    /// In one transaction: if endpoint `webhook` is enabled and its cursor is still `from`,
    /// moves it to `to` and records `deliveries`; returns whether it did. Two dispatchers
    /// that read the same events record them once.
    async fn enqueue_deliveries(
        &self,
        webhook: i64,
        from: i64,
        to: i64,
        deliveries: Vec<NewDelivery>,
    ) -> Result<bool, RepoError>;

    /// Claims up to `limit` pending deliveries of enabled endpoints due at `now` and not
    /// claimed by someone else, oldest first, until `until`, under `token`. A delivery is not
    /// claimed while an earlier pending delivery of the same media to the same endpoint
    /// exists: one endpoint receives one media item's events in feed order.
    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        until: OffsetDateTime,
        token: &str,
        limit: u64,
    ) -> Result<Vec<ClaimedDelivery>, RepoError>;

    /// Records an attempt at delivery `id` and what follows it, if `token` still holds its
    /// claim; returns whether it did (the attempt is kept either way).
    async fn record_attempt(
        &self,
        id: i64,
        token: &str,
        attempt: DeliveryAttempt,
        next: DeliveryNext,
    ) -> Result<bool, RepoError>;

    /// The deliveries of the tenant's endpoint `webhook`, newest first, of `status` if given,
    /// with ids below `before`.
    async fn list_deliveries(
        &self,
        tenant: TenantId,
        webhook: i64,
        status: Option<DeliveryStatus>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<Delivery>, RepoError>;

    /// A delivery of the tenant's endpoint `webhook` with its attempts, oldest first.
    async fn find_delivery(
        &self,
        tenant: TenantId,
        webhook: i64,
        id: i64,
    ) -> Result<Option<(Delivery, Vec<DeliveryAttempt>)>, RepoError>;

    /// Forgets the delivered and dead deliveries recorded before `before`, with their
    /// attempts; returns how many. Pending deliveries stay, however old.
    async fn forget_deliveries(&self, before: OffsetDateTime) -> Result<u64, RepoError>;

    /// Makes a delivery of the tenant's endpoint `webhook` pending again, due at `now`, with
    /// a fresh count of attempts (its past attempts stay listed).
    ///
    /// # Errors
    /// `NotFound` when the tenant's endpoint has no such delivery.
    async fn redeliver(
        &self,
        tenant: TenantId,
        webhook: i64,
        id: i64,
        now: OffsetDateTime,
    ) -> Result<Delivery, RepoError>;
}

/// Delete jobs: recorded, claimed by one runner at a time under a lease (a runner that dies
/// lets its job go when the lease ends, and another resumes it from its cursor), and cancelled
/// on request.
#[async_trait::async_trait]
pub trait Jobs: Send + Sync + std::fmt::Debug {
    /// Records a queued job.
    async fn create_job(&self, job: NewJob) -> Result<Job, RepoError>;

    /// The tenant's job `id`.
    async fn find_job(&self, tenant: TenantId, id: i64) -> Result<Option<Job>, RepoError>;

    /// The tenant's jobs (those `created_by` started, if given), newest first, with ids below
    /// `before`.
    async fn list_jobs(
        &self,
        tenant: TenantId,
        created_by: Option<UserId>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<Job>, RepoError>;

    /// Asks the tenant's job `id` to stop: a queued job is cancelled at once, a running one
    /// stops after its chunk in hand; a finished job is left as it is. Returns the job.
    ///
    /// # Errors
    /// `NotFound` when the tenant has no such job.
    async fn cancel_job(
        &self,
        tenant: TenantId,
        id: i64,
        at: OffsetDateTime,
    ) -> Result<Job, RepoError>;

    /// Claims the oldest unfinished job (job `only`, if given) that is `token`'s already or
    /// nobody's (its lease ended), until `until`, and marks it running.
    async fn claim_job(
        &self,
        now: OffsetDateTime,
        until: OffsetDateTime,
        token: &str,
        only: Option<i64>,
    ) -> Result<Option<Job>, RepoError>;

    /// Saves a chunk's work on job `id` if `token` still holds it; returns whether cancelling
    /// was requested (`None`: the claim was lost and nothing was saved).
    async fn save_job(
        &self,
        id: i64,
        token: &str,
        update: JobUpdate,
    ) -> Result<Option<bool>, RepoError>;
}

/// Durable record of tenants, keys, media rows, their cascades, usage and activity: every
/// repository port, implemented by one adapter over one database.
#[async_trait::async_trait]
pub trait MediaRepo:
    Tenants
    + ApiKeys
    + Catalog
    + Sharing
    + Lifecycle
    + DeleteRepo
    + ActivityLog
    + IdempotencyKeys
    + ChangeLog
    + Webhooks
    + Jobs
{
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), RepoError>;
}

#[cfg(any(test, feature = "testkit"))]
mockall::mock! {
    /// Every repository port mocked at once, as the service holds them.
    pub MediaRepo {}

    #[async_trait::async_trait]
    impl Tenants for MediaRepo {
        async fn create_tenant(
            &self,
            slug: &TenantSlug,
            at: OffsetDateTime,
        ) -> Result<Tenant, RepoError>;
        async fn find_tenant(&self, slug: &TenantSlug) -> Result<Option<Tenant>, RepoError>;
        async fn update_tenant_settings(
            &self,
            tenant: TenantId,
            change: SettingsChange,
            event: NewActivity,
        ) -> Result<TenantSettings, RepoError>;
        async fn usage(&self, tenant: TenantId) -> Result<Usage, RepoError>;
        async fn usage_visible_to(&self, tenant: TenantId, user: &UserId) -> Result<Usage, RepoError>;
    }

    #[async_trait::async_trait]
    impl ApiKeys for MediaRepo {
        async fn create_api_key(&self, key: StoredApiKey) -> Result<(), RepoError>;
        async fn find_api_key(&self, id: &str) -> Result<Option<StoredApiKey>, RepoError>;
        async fn list_api_keys(&self) -> Result<Vec<ApiKey>, RepoError>;
        async fn revoke_api_key(&self, id: &str, at: OffsetDateTime) -> Result<(), RepoError>;
        async fn expire_api_key(&self, id: &str, at: OffsetDateTime) -> Result<(), RepoError>;
        async fn touch_api_keys(&self, uses: &[(String, OffsetDateTime)]) -> Result<(), RepoError>;
    }

    #[async_trait::async_trait]
    impl Catalog for MediaRepo {
        async fn record_upload_intent(
            &self,
            tenant: TenantId,
            key: &BlobKey,
            expires_at: OffsetDateTime,
        ) -> Result<(), RepoError>;
        async fn insert_media(&self, media: NewMedia, event: NewActivity) -> Result<Media, RepoError>;
        async fn find_media_access(
            &self,
            tenant: TenantId,
            ids: &[MediaId],
            user: &UserId,
        ) -> Result<Vec<MediaAccess>, RepoError>;
        async fn find_media_to_delete(
            &self,
            tenant: TenantId,
            ids: &[MediaId],
            user: &UserId,
            state: MediaState,
        ) -> Result<Vec<MediaAccess>, RepoError>;
        async fn find_media_by_path(
            &self,
            tenant: TenantId,
            owner: &UserId,
            path: &MediaPath,
            user: &UserId,
        ) -> Result<Option<MediaAccess>, RepoError>;
        async fn list_media(
            &self,
            tenant: TenantId,
            query: &MediaQuery,
        ) -> Result<Vec<Media>, RepoError>;
        async fn set_tags(
            &self,
            tenant: TenantId,
            id: MediaId,
            tags: &[Tag],
            event: NewActivity,
        ) -> Result<Media, RepoError>;
        async fn scan_media(&self, after: i64, limit: u64) -> Result<Vec<Media>, RepoError>;
        async fn find_trashed_media(
            &self,
            tenant: TenantId,
            ids: &[MediaId],
            user: &UserId,
        ) -> Result<Vec<MediaAccess>, RepoError>;
        async fn find_any_media(
            &self,
            tenant: TenantId,
            id: MediaId,
        ) -> Result<Option<Media>, RepoError>;
        async fn insert_derivative(&self, derivative: Derivative) -> Result<(), RepoError>;
        async fn set_thumbnail_state(
            &self,
            id: MediaId,
            state: ThumbnailState,
        ) -> Result<(), RepoError>;
        async fn find_derivative(
            &self,
            id: MediaId,
            kind: &'static str,
        ) -> Result<Option<Derivative>, RepoError>;
    }

    #[async_trait::async_trait]
    impl Sharing for MediaRepo {
        async fn share_media(
            &self,
            tenant: TenantId,
            id: MediaId,
            blob_key: &BlobKey,
            event: NewActivity,
        ) -> Result<CommunityItem, RepoError>;
        async fn unshare_media(
            &self,
            tenant: TenantId,
            id: MediaId,
            event: NewActivity,
            purge_after: OffsetDateTime,
        ) -> Result<BlobKey, RepoError>;
        async fn list_community(
            &self,
            tenant: TenantId,
            before_id: Option<i64>,
            limit: u64,
        ) -> Result<Vec<CommunityItem>, RepoError>;
        async fn put_grant(
            &self,
            tenant: TenantId,
            grant: Grant,
            event: NewActivity,
        ) -> Result<(), RepoError>;
        async fn list_grants(&self, id: MediaId) -> Result<Vec<Grant>, RepoError>;
        async fn delete_grant(
            &self,
            id: MediaId,
            user: &UserId,
            event: NewActivity,
        ) -> Result<(), RepoError>;
        async fn granted_media(
            &self,
            tenant: TenantId,
            user: &UserId,
            limit: u64,
        ) -> Result<Vec<MediaId>, RepoError>;
    }

    #[async_trait::async_trait]
    impl Lifecycle for MediaRepo {
        async fn trash_media(
            &self,
            request: TrashRequest,
            event: NewActivity,
        ) -> Result<Media, RepoError>;
        async fn restore_media(
            &self,
            tenant: TenantId,
            id: MediaId,
            path: Option<MediaPath>,
            event: NewActivity,
        ) -> Result<Media, RepoError>;
        async fn expired_trash(&self, now: OffsetDateTime, limit: u64)
            -> Result<Vec<Media>, RepoError>;
        async fn add_hold(
            &self,
            tenant: TenantId,
            id: MediaId,
            reason: &str,
            event: NewActivity,
        ) -> Result<Hold, RepoError>;
        async fn list_holds(&self, id: MediaId) -> Result<Vec<Hold>, RepoError>;
        async fn delete_blockers(&self, ids: &[MediaId]) -> Result<DeleteBlockers, RepoError>;
        async fn remove_hold(
            &self,
            tenant: TenantId,
            id: MediaId,
            hold_id: i64,
            event: NewActivity,
        ) -> Result<(), RepoError>;
        async fn add_reference(
            &self,
            tenant: TenantId,
            reference: Reference,
            event: NewActivity,
        ) -> Result<bool, RepoError>;
        async fn list_references(&self, id: MediaId) -> Result<Vec<Reference>, RepoError>;
        async fn remove_reference(
            &self,
            id: MediaId,
            name: &RefName,
            event: NewActivity,
        ) -> Result<(), RepoError>;
    }

    #[async_trait::async_trait]
    impl DeleteRepo for MediaRepo {
        async fn delete_media(
            &self,
            plans: Vec<DeletePlan>,
        ) -> Result<Vec<Result<DeleteOutcome, RepoError>>, RepoError>;
        async fn delete_requests(
            &self,
            requests: Vec<DeleteRequest>,
        ) -> Result<Vec<Result<DeleteOutcome, RepoError>>, RepoError>;
        async fn delete_requests_forgetting(
            &self,
            requests: Vec<DeleteRequest>,
            purged: &[BlobKey],
        ) -> Result<Vec<Result<DeleteOutcome, RepoError>>, RepoError>;
    }

    #[async_trait::async_trait]
    impl PendingDeletions for MediaRepo {
        async fn add_pending_deletions(
            &self,
            tenant: TenantId,
            keys: &[BlobKey],
            not_before: OffsetDateTime,
        ) -> Result<(), RepoError>;
        async fn claim_pending_pass(
            &self,
            now: OffsetDateTime,
            lease_until: OffsetDateTime,
            limit: u64,
            after: Option<i64>,
        ) -> Result<ClaimedPass, RepoError>;
        async fn complete_pending_deletions(&self, keys: &[BlobKey]) -> Result<(), RepoError>;
        async fn list_pending_deletions(
            &self,
            tenant: TenantId,
            status: Option<PendingStatus>,
            before_id: Option<i64>,
            limit: u64,
        ) -> Result<Vec<PendingBlob>, RepoError>;
        async fn pending_summary(&self) -> Result<Vec<PendingCount>, RepoError>;
        async fn requeue_pending_deletions(
            &self,
            tenant: TenantId,
            ids: Option<Vec<i64>>,
            now: OffsetDateTime,
        ) -> Result<u64, RepoError>;
        async fn known_blob_keys(&self, keys: &[BlobKey]) -> Result<Vec<BlobKey>, RepoError>;
    }

    #[async_trait::async_trait]
    impl ActivityLog for MediaRepo {
        async fn list_activity(
            &self,
            tenant: TenantId,
            query: &ActivityQuery,
        ) -> Result<Vec<Activity>, RepoError>;
    }

    #[async_trait::async_trait]
    impl IdempotencyKeys for MediaRepo {
        async fn claim_idempotency_key(
            &self,
            key: &IdempotencyKey,
            terms: KeyTerms,
        ) -> Result<KeyClaim, RepoError>;
        async fn complete_idempotency_key(
            &self,
            tenant: TenantId,
            key: &IdempotencyKey,
            fingerprint: &str,
            response: &StoredResponse,
            expires_at: OffsetDateTime,
        ) -> Result<(), RepoError>;
        async fn release_idempotency_key(
            &self,
            tenant: TenantId,
            key: &IdempotencyKey,
        ) -> Result<(), RepoError>;
        async fn purge_idempotency_keys(&self, now: OffsetDateTime) -> Result<u64, RepoError>;
    }

    #[async_trait::async_trait]
    impl ChangeLog for MediaRepo {
        async fn sequence_changes(&self, limit: u64) -> Result<u64, RepoError>;
        async fn list_changes(
            &self,
            tenant: TenantId,
            actions: &'static [&'static str],
            after: i64,
            limit: u64,
        ) -> Result<Vec<SequencedActivity>, RepoError>;
        async fn last_change(&self) -> Result<i64, RepoError>;
    }

    #[async_trait::async_trait]
    impl Webhooks for MediaRepo {
        async fn create_webhook(&self, webhook: NewWebhook) -> Result<Webhook, RepoError>;
        async fn list_webhooks(&self, tenant: TenantId) -> Result<Vec<Webhook>, RepoError>;
        async fn enabled_webhooks(&self) -> Result<Vec<Webhook>, RepoError>;
        async fn find_webhook(&self, tenant: TenantId, id: i64)
            -> Result<Option<Webhook>, RepoError>;
        async fn update_webhook(
            &self,
            tenant: TenantId,
            id: i64,
            change: WebhookChange,
        ) -> Result<Webhook, RepoError>;
        async fn delete_webhook(&self, tenant: TenantId, id: i64) -> Result<(), RepoError>;
        async fn enqueue_deliveries(
            &self,
            webhook: i64,
            from: i64,
            to: i64,
            deliveries: Vec<NewDelivery>,
        ) -> Result<bool, RepoError>;
        async fn claim_deliveries(
            &self,
            now: OffsetDateTime,
            until: OffsetDateTime,
            token: &str,
            limit: u64,
        ) -> Result<Vec<ClaimedDelivery>, RepoError>;
        async fn record_attempt(
            &self,
            id: i64,
            token: &str,
            attempt: DeliveryAttempt,
            next: DeliveryNext,
        ) -> Result<bool, RepoError>;
        async fn list_deliveries(
            &self,
            tenant: TenantId,
            webhook: i64,
            status: Option<DeliveryStatus>,
            before: Option<i64>,
            limit: u64,
        ) -> Result<Vec<Delivery>, RepoError>;
        async fn find_delivery(
            &self,
            tenant: TenantId,
            webhook: i64,
            id: i64,
        ) -> Result<Option<(Delivery, Vec<DeliveryAttempt>)>, RepoError>;
        async fn forget_deliveries(&self, before: OffsetDateTime) -> Result<u64, RepoError>;
        async fn redeliver(
            &self,
            tenant: TenantId,
            webhook: i64,
            id: i64,
            now: OffsetDateTime,
        ) -> Result<Delivery, RepoError>;
    }

    #[async_trait::async_trait]
    impl Jobs for MediaRepo {
        async fn create_job(&self, job: NewJob) -> Result<Job, RepoError>;
        async fn find_job(&self, tenant: TenantId, id: i64) -> Result<Option<Job>, RepoError>;
        async fn list_jobs(
            &self,
            tenant: TenantId,
            created_by: Option<UserId>,
            before: Option<i64>,
            limit: u64,
        ) -> Result<Vec<Job>, RepoError>;
        async fn cancel_job(
            &self,
            tenant: TenantId,
            id: i64,
            at: OffsetDateTime,
        ) -> Result<Job, RepoError>;
        async fn claim_job(
            &self,
            now: OffsetDateTime,
            until: OffsetDateTime,
            token: &str,
            only: Option<i64>,
        ) -> Result<Option<Job>, RepoError>;
        async fn save_job(
            &self,
            id: i64,
            token: &str,
            update: JobUpdate,
        ) -> Result<Option<bool>, RepoError>;
    }

    #[async_trait::async_trait]
    impl MediaRepo for MediaRepo {
        async fn ping(&self) -> Result<(), RepoError>;
    }
}

#[cfg(any(test, feature = "testkit"))]
impl std::fmt::Debug for MockMediaRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MockMediaRepo")
    }
}
