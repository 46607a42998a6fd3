//! The use cases. [`MediaService`] holds the ports and applies every rule: authentication,
//! tenant isolation, the visibility and permission matrix, and the order of a delete
//! (authorize, commit the row and its cascades with the pending blob records, then purge).
//!
//! # Who may do what
//! | caller on media M            | sees M | downloads | changes (tags, share, grants) | deletes |
//! |------------------------------|--------|-----------|-------------------------------|---------|
//! | admin of M's tenant          | yes    | yes       | yes                           | yes     |
//! | member who owns M            | yes    | yes       | yes                           | yes     |
//! | member with a `delete` grant | yes    | yes       | no (403)                      | yes     |
//! | member with a `read` grant   | yes    | yes       | no (403)                      | no (403)|
//! | other member                 | no (404)| no (404) | no (404)                      | no (404)|
//! | viewer of M's tenant         | yes    | yes       | no (403)                      | no (403)|
//! | anyone of another tenant     | no (404)| no (404) | no (404)                      | no (404)|
//!
//! A caller who cannot see a media item gets the same answer as for an id that never existed,
//! so ids of other users and tenants cannot be probed.

pub mod changes;
pub mod delete;
pub mod derivatives;
pub mod filter;
pub mod gc;
pub mod group;
pub mod holds;
pub mod idempotency;
pub mod jobs;
pub mod keys;
pub mod media;
mod pipeline;
pub mod reaper;
pub mod telemetry;
pub mod trash;
pub mod verdict;
pub mod webhooks;

#[cfg(test)]
mod fixtures;

use std::sync::Arc;
use std::time::Duration;

use crate::error::ServiceError;
use crate::model::*;
use crate::ports::{
    BlobStore, Budget, Clock, Deletions, KeyHasher, MediaRepo, RateLimiter, Thumbnailer,
    TokenVerifier, WebhookSender,
};

/// Limits and timings of the use cases.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Largest accepted upload in bytes.
    pub max_upload_bytes: u64,
    /// Delay before the retry loop first looks at a pending deletion that the inline purge
    /// should have handled.
    pub pending_grace: Duration,
    /// First retry delay of a failed blob deletion; doubles per attempt.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Failed attempts after which a pending deletion is parked as `failed`.
    pub max_attempts: i32,
    /// How long a reaper's claim on a pending deletion lasts where the repository claims by
    /// lease (see [`crate::ports::PendingDeletions::claim_pending_pass`]).
    pub lease: Duration,
    /// How long an upload may take before its blob counts as abandoned.
    pub upload_intent_ttl: Duration,
    /// How long an API key read from the repository is trusted without reading it again (the
    /// secret is still checked on every request). A key revoked elsewhere (another instance,
    /// `medialib keys revoke`) stops working here within this time; zero reads the key on
    /// every request.
    pub key_cache_ttl: Duration,
    /// How long the answer of a request made with an idempotency key is replayed to retries.
    pub idempotency_ttl: Duration,
    /// How long the changes feed serves a change: a cursor older than that must resync.
    pub changes_retention: Duration,
    /// Media a delete job works per chunk (one transaction).
    pub job_chunk: u64,
    /// How long a runner's claim on a job lasts without a chunk saved: a job whose runner
    /// died is resumed by another after this.
    pub job_lease: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            max_upload_bytes: 100 * 1024 * 1024,
            pending_grace: Duration::from_secs(30),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            max_attempts: 10,
            lease: Duration::from_secs(60),
            upload_intent_ttl: Duration::from_secs(3600),
            key_cache_ttl: Duration::from_secs(1),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            changes_retention: Duration::from_secs(30 * 24 * 3600),
            job_chunk: 500,
            job_lease: Duration::from_secs(60),
        }
    }
}

/// The media library's use cases over its ports.
#[derive(Debug, Clone)]
pub struct MediaService {
    repo: Arc<dyn MediaRepo>,
    blobs: Arc<dyn BlobStore>,
    clock: Arc<dyn Clock>,
    hasher: Arc<dyn KeyHasher>,
    thumbnailer: Option<Arc<dyn Thumbnailer>>,
    verifier: Option<Arc<dyn TokenVerifier>>,
    limiter: Option<Arc<dyn RateLimiter>>,
    /// Where the delete pipeline's transactions go: the repository, or group commit over it.
    deletions: Arc<dyn Deletions>,
    keys: Arc<keys::KeyCache>,
    webhook_sender: Option<Arc<dyn WebhookSender>>,
    webhooks: webhooks::WebhookConfig,
    config: ServiceConfig,
}

/// What a caller may do with one media item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Access {
    /// It does not exist for this caller.
    Hidden,
    /// See and download.
    Read,
    /// See, download and delete.
    Delete,
    /// Everything: delete, tags, share, grants.
    Manage,
}

fn access_of(actor: &Actor, item: &MediaAccess) -> Access {
    access(
        actor.tenant_id,
        &actor.user_id,
        actor.role,
        &item.media,
        item.grant,
    )
}

/// What a caller (tenant, user, role) may do with `media`, on which it holds `grant`.
fn access(
    tenant: TenantId,
    user: &UserId,
    role: Role,
    media: &Media,
    grant: Option<Permission>,
) -> Access {
    if media.tenant_id != tenant {
        return Access::Hidden;
    }
    let owns = media.owner_id == *user;
    match role {
        Role::Admin => Access::Manage,
        Role::Viewer => Access::Read,
        Role::Member if owns => Access::Manage,
        Role::Member => match grant {
            Some(Permission::Delete) => Access::Delete,
            Some(Permission::Read) => Access::Read,
            None => Access::Hidden,
        },
    }
}

/// The item with id `id` among `found`, if the caller may see it, with the caller's access.
fn visible(
    actor: &Actor,
    id: MediaId,
    found: Vec<MediaAccess>,
) -> Result<(MediaAccess, Access), ServiceError> {
    let item = found
        .into_iter()
        .find(|item| item.media.id == id)
        .ok_or(ServiceError::MediaNotFound)?;
    let access = access_of(actor, &item);
    require(access, Access::Read)?;
    Ok((item, access))
}

/// Checks that `access` is at least `needed`: a hidden item is not found, a visible one is
/// forbidden.
fn require(access: Access, needed: Access) -> Result<(), ServiceError> {
    if access >= needed {
        Ok(())
    } else if access == Access::Hidden {
        Err(ServiceError::MediaNotFound)
    } else {
        Err(ServiceError::Forbidden)
    }
}

/// A repository error where a missing record means the media is gone (a concurrent delete
/// won, or the caller's view of it is stale).
fn not_found_as_media(err: crate::error::RepoError) -> ServiceError {
    match err {
        crate::error::RepoError::NotFound => ServiceError::MediaNotFound,
        other => other.into(),
    }
}

impl MediaService {
    /// Builds the service over its ports.
    pub fn new(
        repo: Arc<dyn MediaRepo>,
        blobs: Arc<dyn BlobStore>,
        clock: Arc<dyn Clock>,
        hasher: Arc<dyn KeyHasher>,
        config: ServiceConfig,
    ) -> Self {
        let deletions = Arc::new(crate::ports::Direct(Arc::clone(&repo)));
        Self {
            repo,
            blobs,
            clock,
            hasher,
            thumbnailer: None,
            verifier: None,
            limiter: None,
            deletions,
            keys: Arc::default(),
            webhook_sender: None,
            webhooks: webhooks::WebhookConfig::default(),
            config,
        }
    }

    /// Commits concurrent single deletes together, up to `max_batch` per transaction. The
    /// returned committer must be run (spawned) for as long as the service serves deletes.
    #[must_use]
    pub fn with_group_commit(mut self, max_batch: usize) -> (Self, group::GroupCommitter) {
        let (sender, committer) = group::group_commit(Arc::clone(&self.repo), max_batch);
        self.deletions = Arc::new(sender);
        (self, committer)
    }

    /// Accepts signed tokens verified by `verifier` as well as API keys.
    #[must_use]
    pub fn with_token_verifier(mut self, verifier: Arc<dyn TokenVerifier>) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// Delivers webhook events through `sender` with `config`'s timings
    /// ([`MediaService::dispatch_webhooks`]; without a sender, events wait in the queue).
    #[must_use]
    pub fn with_webhooks(
        mut self,
        sender: Arc<dyn WebhookSender>,
        config: webhooks::WebhookConfig,
    ) -> Self {
        self.webhook_sender = Some(sender);
        self.webhooks = config;
        self
    }

    /// Makes thumbnails of uploaded images with `thumbnailer` (none are made without one).
    #[must_use]
    pub fn with_thumbnailer(mut self, thumbnailer: Arc<dyn Thumbnailer>) -> Self {
        self.thumbnailer = Some(thumbnailer);
        self
    }

    /// Spends deletes and uploads from the budgets `limiter` keeps (nothing is limited
    /// without one).
    #[must_use]
    pub fn with_rate_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Spends `cost` items of the actor's `budget`, before a use case changes anything.
    async fn spend(&self, actor: &Actor, budget: Budget, cost: usize) -> Result<(), ServiceError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        let cost = u32::try_from(cost).unwrap_or(u32::MAX).max(1);
        limiter.spend(actor, budget, cost).await.map_err(|limited| {
            telemetry::rate_limited(budget);
            ServiceError::RateLimited(limited)
        })
    }

    /// Checks that the database and the blob store answer.
    ///
    /// # Errors
    /// The first failing dependency.
    pub async fn readiness(&self) -> Result<(), ServiceError> {
        self.repo.ping().await?;
        self.blobs
            .ping()
            .await
            .map_err(ServiceError::StorageUnavailable)
    }

    /// Checks the optional `?tenant=` of a request against the caller's tenant.
    ///
    /// # Errors
    /// [`ServiceError::TenantMismatch`] when it names any other tenant.
    pub fn check_tenant(actor: &Actor, requested: Option<&str>) -> Result<(), ServiceError> {
        match requested {
            Some(slug) if slug != actor.tenant_slug.as_str() => Err(ServiceError::TenantMismatch),
            _ => Ok(()),
        }
    }

    /// Loads one media item the caller can see, with the caller's access to it.
    async fn load(
        &self,
        actor: &Actor,
        id: MediaId,
    ) -> Result<(MediaAccess, Access), ServiceError> {
        let found = self
            .repo
            .find_media_access(actor.tenant_id, &[id], &actor.user_id)
            .await?;
        visible(actor, id, found)
    }

    /// As [`MediaService::load`], without the tags (a delete does not need them).
    async fn load_to_delete(
        &self,
        actor: &Actor,
        id: MediaId,
    ) -> Result<(MediaAccess, Access), ServiceError> {
        let found = self
            .repo
            .find_media_to_delete(actor.tenant_id, &[id], &actor.user_id, MediaState::Live)
            .await?;
        visible(actor, id, found)
    }

    fn event(
        &self,
        actor: &Actor,
        action: &'static str,
        media_id: Option<MediaId>,
        details: serde_json::Value,
    ) -> NewActivity {
        NewActivity {
            tenant_id: actor.tenant_id,
            actor_id: actor.user_id.clone(),
            action,
            media_id,
            details,
            created_at: self.clock.now(),
        }
    }
}
