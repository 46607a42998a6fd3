//! Deletes as the ports carry them: plans, requests, outcomes, receipts, and the pending
//! deletions of blobs.

use serde::Serialize;
use time::OffsetDateTime;

use super::*;
use crate::error::ServiceError;

/// Why a media item is being deleted (recorded in the activity event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeleteReason {
    /// A user asked for it.
    Requested,
    /// The reconciler found its blob missing.
    BlobMissing,
    /// It stayed in the trash past the tenant's retention period.
    TrashRetention,
}

/// One authorized deletion for the repository to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletePlan {
    /// The media as it was when authorized; the delete is conditional on id and tenant.
    pub media: Media,
    /// Who deletes it.
    pub actor_id: UserId,
    /// Why.
    pub reason: DeleteReason,
    /// When.
    pub at: OffsetDateTime,
    /// When the reaper may take over the blob deletions from the inline purge.
    pub purge_after: OffsetDateTime,
    /// Delete even when applications recorded references to it (the receipt lists them).
    pub force: bool,
    /// On whose authority: a caller's is checked again against the locked row and the
    /// caller's grant on it, so a grant revoked after the plan stops the delete.
    pub authority: Authority,
    /// Delete only while the locked row is this revision.
    pub if_match: Option<IfMatch>,
}

/// On whose authority a planned delete is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authority {
    /// The plan's actor, with this role in the media's tenant.
    Caller(Role),
    /// The service's own rules (trash retention, the reconciler): no caller to authorize.
    Service,
}

/// A single delete by id whose row is read, authorized and deleted in one transaction: the
/// repository locks the row, hands it with the caller's grant to [`DeleteById::authorize`]
/// and carries on with the plan that returns. There is no lookup before the transaction, so the
/// row cannot change between the check and the delete (docs/benchmarks.md has what it saves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteById {
    /// The media to delete (live media only).
    pub id: MediaId,
    /// The caller's tenant: a row of another tenant is not found.
    pub tenant_id: TenantId,
    /// The caller.
    pub user_id: UserId,
    /// The caller's role.
    pub role: Role,
    /// When.
    pub at: OffsetDateTime,
    /// When the reaper may take over the blob deletions from the inline purge.
    pub purge_after: OffsetDateTime,
    /// Delete even when applications recorded references to it.
    pub force: bool,
    /// Delete only the revision the caller saw.
    pub if_match: Option<IfMatch>,
}

/// A deletion for [`crate::DeleteRepo::delete_requests`]: planned from a row already read and
/// authorized, or by id, authorized in the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteRequest {
    /// An authorized plan.
    Planned(DeletePlan),
    /// A delete by id, to authorize against the locked row.
    ById(DeleteById),
}

impl DeleteRequest {
    /// The media id the request is for.
    pub fn media_id(&self) -> MediaId {
        match self {
            Self::Planned(plan) => plan.media.id,
            Self::ById(request) => request.id,
        }
    }

    /// The tenant the request is for.
    pub fn tenant_id(&self) -> TenantId {
        match self {
            Self::Planned(plan) => plan.media.tenant_id,
            Self::ById(request) => request.tenant_id,
        }
    }
}

impl From<DeletePlan> for DeleteRequest {
    fn from(plan: DeletePlan) -> Self {
        Self::Planned(plan)
    }
}

/// What a repository found of one media row under its lock, for the domain to judge a change
/// against: the row, its holds and references, and the caller's grant on it.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot<'a> {
    /// The row as locked (tags need not be filled in).
    pub media: &'a Media,
    /// Its legal holds.
    pub holds: &'a [Hold],
    /// The in-use references applications recorded.
    pub references: &'a [RefName],
    /// What the request's caller was granted on it, if anything.
    pub grant: Option<Permission>,
}

/// Why the domain refused a delete or a move to the trash; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The row is gone, of another tenant, in another state than planned, invisible to the
    /// caller, or taken by an earlier request of the same transaction.
    #[error("media not found")]
    NotFound,
    /// The caller can see the media but may not delete it.
    #[error("forbidden")]
    Forbidden,
    /// The media is under legal holds.
    #[error("media is held")]
    Held(Vec<Hold>),
    /// Applications recorded references to it and the request was not forced.
    #[error("media is in use")]
    InUse(Vec<RefName>),
    /// The request's `If-Match` names another revision than the media's current one.
    #[error("precondition failed")]
    PreconditionFailed,
}

/// A request the domain let through: the plan to carry out and the references it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// The plan (for a delete by id, made from the locked row).
    pub plan: DeletePlan,
    /// The in-use references a forced delete removes.
    pub broken_references: Vec<RefName>,
}

/// What cascaded with a deleted row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// Whether a community copy (row and blob) was removed.
    pub community_copy: bool,
    /// Tag assignments removed (the media's and its community copy's).
    pub tag_assignments: u64,
    /// Access grants removed.
    pub access_grants: u64,
    /// Derivatives (thumbnails) removed, rows and blobs.
    pub derivatives: u64,
}

/// How many pending deletion records of one status there are, across tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingCount {
    /// Their status.
    pub status: PendingStatus,
    /// How many.
    pub count: u64,
    /// When the oldest was recorded.
    pub oldest: OffsetDateTime,
}

/// The state of a pending deletion record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingStatus {
    /// Waiting for the reaper (or claimed by a reaper pass that is deleting its blob).
    Pending,
    /// Parked after too many failed attempts; an admin may retry it.
    Failed,
    /// An upload in progress: the blob is being written and its row is not committed yet.
    /// Committing the row removes the record; if the upload is abandoned the record falls due
    /// and the reaper deletes the blob.
    Upload,
}

impl PendingStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Failed => "failed",
            Self::Upload => "upload",
        }
    }

    /// Parses a stored or query name.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] with code `invalid_status`.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        match raw {
            "pending" => Ok(Self::Pending),
            "failed" => Ok(Self::Failed),
            "upload" => Ok(Self::Upload),
            _ => Err(ServiceError::Invalid {
                code: "invalid_status",
                message: "status must be pending, failed or upload".into(),
            }),
        }
    }
}

/// A recorded blob deletion that is not confirmed yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingBlob {
    /// Record id.
    pub id: i64,
    /// The blob.
    pub blob_key: BlobKey,
    /// The tenant the blob belonged to, when known.
    pub tenant_id: Option<TenantId>,
    /// Where the record stands.
    pub status: PendingStatus,
    /// Failed attempts so far.
    pub attempts: i32,
    /// When the reaper may next take it.
    pub next_attempt_at: OffsetDateTime,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// When it was recorded.
    pub created_at: OffsetDateTime,
}

/// A stored blob as listed by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    /// The key.
    pub key: BlobKey,
    /// Size in bytes.
    pub size: u64,
    /// Last write.
    pub last_modified: OffsetDateTime,
}

/// What the repository did for one plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// The deleted media.
    pub media: Media,
    /// What cascaded.
    pub removed: Removed,
    /// The blobs recorded for purging (original, community copy, derivatives).
    pub pending: Vec<BlobKey>,
    /// Whether the row was in the trash (the delete was a purge).
    pub was_trashed: bool,
    /// The in-use references that a forced delete removed.
    pub broken_references: Vec<RefName>,
}

/// Whether the blobs of a delete are already gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageState {
    /// Every blob was deleted (or was already missing).
    Purged,
    /// At least one blob deletion failed; the retry loop will remove it.
    Pending,
    /// Nothing was deleted: the media moved to the trash and keeps its blobs until purged.
    Trashed,
}

/// The result of a successful delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteReceipt {
    /// The deleted media.
    pub id: MediaId,
    /// Bytes no longer counted in usage.
    pub freed_bytes: i64,
    /// Whether the blobs are gone yet.
    pub storage: StorageState,
    /// What cascaded.
    pub removed: Removed,
    /// The in-use references a forced delete removed.
    pub broken_references: Vec<RefName>,
}

/// The judgement of one id of a bulk delete.
#[derive(Debug)]
pub struct BulkItem {
    /// The id as sent.
    pub id: i64,
    /// The receipt, or why it was not deleted.
    pub outcome: Result<DeleteReceipt, ServiceError>,
}

/// The result of a bulk delete, items in input order.
#[derive(Debug)]
pub struct BulkReceipt {
    /// One entry per requested id.
    pub items: Vec<BulkItem>,
}

/// The largest bulk delete request.
pub const MAX_BULK_IDS: usize = 1000;

/// What a run of deletes (by filter, of the trash, a job) did with its items, counted the same
/// way everywhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DeleteCounts {
    /// Media deleted.
    pub deleted: u64,
    /// Bytes freed.
    pub freed_bytes: i64,
    /// Items kept because they are held.
    pub held: u64,
    /// Items kept because they are in use (without `force`).
    pub in_use: u64,
    /// Items the caller may see but not delete.
    pub forbidden: u64,
    /// Deleted media whose blobs are not gone yet (the reaper removes them).
    pub storage_pending: u64,
}

impl DeleteCounts {
    /// Counts one item's outcome; returns why it was kept (`held` with the holds' reasons,
    /// `in_use`, `forbidden`), if it was. An item deleted, trashed or restored by someone else
    /// meanwhile counts nowhere.
    pub fn count(
        &mut self,
        outcome: Result<DeleteReceipt, ServiceError>,
    ) -> Option<(&'static str, Vec<String>)> {
        match outcome {
            Ok(receipt) => {
                self.deleted += 1;
                self.freed_bytes += receipt.freed_bytes;
                if receipt.storage == StorageState::Pending {
                    self.storage_pending += 1;
                }
                None
            }
            Err(ServiceError::MediaHeld(holds)) => {
                self.held += 1;
                Some(("held", holds.into_iter().map(|hold| hold.reason).collect()))
            }
            Err(ServiceError::MediaInUse(_)) => {
                self.in_use += 1;
                Some(("in_use", Vec::new()))
            }
            Err(ServiceError::Forbidden) => {
                self.forbidden += 1;
                Some(("forbidden", Vec::new()))
            }
            Err(_) => None,
        }
    }
}
