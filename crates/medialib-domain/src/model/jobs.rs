//! Delete jobs: deletes too large for one request (delete by filter, emptying the trash, a
//! user's erasure), run in the background in chunks, resumable from their cursor.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{MediaId, TenantId, UserId};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Deletes the live media matching a filter.
    DeleteByFilter,
    /// Purges the trash.
    EmptyTrash,
    /// Deletes everything a user owns, live and trashed, except what is held.
    EraseUser,
}

impl JobKind {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeleteByFilter => "delete_by_filter",
            Self::EmptyTrash => "empty_trash",
            Self::EraseUser => "erase_user",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::DeleteByFilter, Self::EmptyTrash, Self::EraseUser]
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for a runner.
    Queued,
    /// A runner works on it (or will again once a dead runner's claim expires).
    Running,
    /// Done: every match was deleted or kept for a reason.
    Succeeded,
    /// Stopped on request; what was deleted before stays deleted.
    Cancelled,
    /// Stopped by an error it cannot get past.
    Failed,
}

impl JobState {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    /// The state named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Running,
            Self::Succeeded,
            Self::Cancelled,
            Self::Failed,
        ]
        .into_iter()
        .find(|state| state.as_str() == name)
    }

    /// Whether the job ended.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Cancelled | Self::Failed)
    }
}

/// One walk of a job: the media of a query, deleted chunk by chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStep {
    /// Only media with this tag.
    pub tag: Option<String>,
    /// Only media in this folder or below.
    pub folder: Option<String>,
    /// Only media created before this time.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub created_before: Option<OffsetDateTime>,
    /// Only media of this owner.
    pub owner: Option<String>,
    /// Walk the trash instead of the live media.
    pub trashed: bool,
    /// Delete referenced media too.
    pub force: bool,
}

/// What a job was asked to do, and on whose behalf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The tenant's slug (the runner acts in it).
    pub tenant: String,
    /// Who started it: the runner acts with this user's role and visibility.
    pub user: String,
    /// Their role.
    pub role: String,
    /// The walks, in order.
    pub steps: Vec<JobStep>,
    /// An erasure: whose media.
    pub erased_user: Option<String>,
}

/// Where a job's walk is: the step, and the last media id of it done (ids go down).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCursor {
    /// The step.
    pub step: usize,
    /// The lowest id of the step done so far.
    pub before_id: Option<i64>,
}

/// A match a job did not delete, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptMedia {
    /// The media.
    pub media_id: i64,
    /// `held`, `in_use` or `forbidden`.
    pub reason: String,
    /// Held: the holds' reasons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<String>,
}

/// The most kept media a job lists (the counts go on).
pub const MAX_KEPT_LISTED: usize = 1000;

/// What a job did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobProgress {
    /// The matches counted when the job started (it may find fewer or more).
    pub total: Option<u64>,
    /// Matches worked so far.
    pub processed: u64,
    /// What was deleted and kept, and why.
    #[serde(flatten)]
    pub counts: super::DeleteCounts,
    /// An erasure: grants the user held on others' media, revoked.
    #[serde(default)]
    pub grants_revoked: u64,
    /// The kept media, at most [`MAX_KEPT_LISTED`].
    pub kept: Vec<KeptMedia>,
}

/// A delete job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Its id.
    pub id: i64,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// What it does.
    pub kind: JobKind,
    /// Where it stands.
    pub state: JobState,
    /// What it was asked.
    pub spec: JobSpec,
    /// Where it is.
    pub cursor: JobCursor,
    /// What it did.
    pub progress: JobProgress,
    /// Whether someone asked it to stop.
    pub cancel_requested: bool,
    /// Why it failed.
    pub error: Option<String>,
    /// Who started it.
    pub created_by: UserId,
    /// When.
    pub created_at: OffsetDateTime,
    /// When it last moved.
    pub updated_at: OffsetDateTime,
    /// When it ended.
    pub finished_at: Option<OffsetDateTime>,
}

/// A job to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Its tenant.
    pub tenant_id: TenantId,
    /// What it does.
    pub kind: JobKind,
    /// What it was asked.
    pub spec: JobSpec,
    /// Who started it.
    pub created_by: UserId,
    /// When.
    pub created_at: OffsetDateTime,
}

/// A chunk's worth of a job's work, saved under its claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobUpdate {
    /// Where it is now.
    pub cursor: JobCursor,
    /// What it did so far.
    pub progress: JobProgress,
    /// Its state after this chunk (`Running`, or a final one).
    pub state: JobState,
    /// Why it failed.
    pub error: Option<String>,
    /// Now.
    pub at: OffsetDateTime,
    /// Until when the claim holds (`at`: let go at once).
    pub leased_until: OffsetDateTime,
}

impl KeptMedia {
    /// A kept match of `media` for `reason`.
    pub fn new(media: MediaId, reason: &str, holds: Vec<String>) -> Self {
        Self {
            media_id: media.get(),
            reason: reason.into(),
            holds,
        }
    }
}
