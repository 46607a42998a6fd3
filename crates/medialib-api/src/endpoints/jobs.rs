//! `/v1/jobs` and `/v1/users/{user_id}/erasure`: deletes too large for one request, run in
//! the background in chunks and followed by id.

use medialib_domain::service::filter::FilterRequest;
use medialib_domain::{Job, JobKind, JobState, KeptMedia, MediaService};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use time::OffsetDateTime;

use super::ApiTags;
use crate::bounded::{Number, Tenant, User};
use crate::error::declared::*;
use crate::security::{actor, ApiKeyAuth};

/// Delete jobs.
#[derive(Debug, Clone)]
pub struct JobsApi {
    pub(crate) service: MediaService,
}

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
#[oai(rename = "JobKind")]
pub enum JobKindDto {
    /// Deletes the live media matching a filter.
    DeleteByFilter,
    /// Purges the trash.
    EmptyTrash,
    /// Deletes everything a user owns.
    EraseUser,
}

impl From<JobKind> for JobKindDto {
    fn from(kind: JobKind) -> Self {
        match kind {
            JobKind::DeleteByFilter => Self::DeleteByFilter,
            JobKind::EmptyTrash => Self::EmptyTrash,
            JobKind::EraseUser => Self::EraseUser,
        }
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
#[oai(rename = "JobState")]
pub enum JobStateDto {
    /// Waiting for a runner.
    Queued,
    /// Being worked on (resumed by another instance if its runner dies).
    Running,
    /// Done: every match deleted or kept for a reason.
    Succeeded,
    /// Stopped on request; what was deleted stays deleted.
    Cancelled,
    /// Stopped by an error.
    Failed,
}

impl From<JobState> for JobStateDto {
    fn from(state: JobState) -> Self {
        match state {
            JobState::Queued => Self::Queued,
            JobState::Running => Self::Running,
            JobState::Succeeded => Self::Succeeded,
            JobState::Cancelled => Self::Cancelled,
            JobState::Failed => Self::Failed,
        }
    }
}

/// A match a job kept, and why.
#[derive(Debug, Clone, Object)]
#[oai(rename = "KeptMedia")]
pub struct KeptMediaDto {
    /// The media.
    pub media_id: i64,
    /// `held`, `in_use` or `forbidden`.
    pub reason: String,
    /// Held: the reasons of its holds.
    pub holds: Vec<String>,
}

impl From<KeptMedia> for KeptMediaDto {
    fn from(kept: KeptMedia) -> Self {
        Self {
            media_id: kept.media_id,
            reason: kept.reason,
            holds: kept.holds,
        }
    }
}

/// What a job did so far.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(rename = "JobProgress")]
pub struct JobProgressDto {
    /// The matches counted when it started (absent until then).
    pub total: Option<u64>,
    /// Matches worked so far.
    pub processed: u64,
    /// Media deleted.
    pub deleted: u64,
    /// Bytes freed.
    pub freed_bytes: i64,
    /// Matches kept because they are held.
    pub held: u64,
    /// Matches kept because they are in use (without `force`).
    pub in_use: u64,
    /// Matches the starter may see but not delete.
    pub forbidden: u64,
    /// Deleted media whose blobs the reaper will remove.
    pub storage_pending: u64,
    /// An erasure: the grants the user held on others' media, revoked.
    pub grants_revoked: u64,
    /// The kept matches (the first 1,000) with why.
    pub kept: Vec<KeptMediaDto>,
}

/// A delete job: what it does, where it stands, and its receipt so far.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(rename = "Job")]
pub struct JobDto {
    /// Its id.
    pub id: i64,
    pub kind: JobKindDto,
    pub state: JobStateDto,
    pub progress: JobProgressDto,
    /// An erasure: whose media.
    pub erased_user: Option<String>,
    /// Whether someone asked it to stop.
    pub cancel_requested: bool,
    /// Why it failed.
    pub error: Option<String>,
    /// Who started it.
    pub created_by: String,
    /// When.
    pub created_at: OffsetDateTime,
    /// When it last moved.
    pub updated_at: OffsetDateTime,
    /// When it ended.
    pub finished_at: Option<OffsetDateTime>,
}

impl From<Job> for JobDto {
    fn from(job: Job) -> Self {
        let progress = job.progress;
        Self {
            id: job.id,
            kind: job.kind.into(),
            state: job.state.into(),
            progress: JobProgressDto {
                total: progress.total,
                processed: progress.processed,
                deleted: progress.counts.deleted,
                freed_bytes: progress.counts.freed_bytes,
                held: progress.counts.held,
                in_use: progress.counts.in_use,
                forbidden: progress.counts.forbidden,
                storage_pending: progress.counts.storage_pending,
                grants_revoked: progress.grants_revoked,
                kept: progress.kept.into_iter().map(Into::into).collect(),
            },
            erased_user: job.spec.erased_user,
            cancel_requested: job.cancel_requested,
            error: job.error,
            created_by: job.created_by.as_str().to_owned(),
            created_at: job.created_at,
            updated_at: job.updated_at,
            finished_at: job.finished_at,
        }
    }
}

/// A page of jobs, newest first.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct JobPage {
    /// The jobs.
    pub items: Vec<JobDto>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// The filter of a delete job: at least one criterion.
#[derive(Debug, Clone, Object)]
pub struct DeleteJobRequest {
    /// Only media with this tag.
    pub tag: Option<String>,
    /// Only media in this folder or below it (empty: only the root).
    pub folder: Option<String>,
    /// Only media created before this time (RFC 3339).
    pub created_before: Option<OffsetDateTime>,
    /// Only media uploaded more than this many days before the job was started.
    pub older_than_days: Option<u32>,
    /// Only media of this owner.
    pub owner: Option<String>,
    /// Delete referenced media too (absent: `false`).
    pub force: Option<bool>,
}

/// 202 with the queued job.
#[derive(Debug, ApiResponse)]
pub enum JobAccepted {
    /// Queued; follow it at `GET /v1/jobs/{id}`.
    #[oai(status = 202)]
    Accepted(Json<JobDto>),
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Jobs")]
impl JobsApi {
    /// Start a delete-by-filter job
    ///
    /// The job version of `POST /v1/media/delete-by-filter` for sets of any size: the same
    /// filter, visibility and rules (held media are never deleted, referenced media only with
    /// `force`), worked in the background in chunks, one transaction each. It survives
    /// restarts and can be cancelled; `GET /v1/jobs/{id}` follows it.
    #[oai(
        path = "/jobs/delete-by-filter",
        method = "post",
        operation_id = "start_delete_job"
    )]
    async fn start_delete_job(
        &self,
        auth: ApiKeyAuth,
        body: Json<DeleteJobRequest>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<JobAccepted, Errors<{ JSON_BODY }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let body = body.0;
        let request = FilterRequest {
            tag: body.tag,
            folder: body.folder,
            created_before: body.created_before,
            older_than_days: body.older_than_days,
            owner: body.owner,
            force: body.force.unwrap_or(false),
            ..FilterRequest::default()
        };
        let job = self.service.start_delete_job(&actor, request).await?;
        Ok(JobAccepted::Accepted(Json(job.into())))
    }

    /// Start emptying the trash
    ///
    /// The job version of `DELETE /v1/trash`: purges every trashed item the caller may
    /// delete, in the background; held items stay and are listed.
    #[oai(
        path = "/jobs/empty-trash",
        method = "post",
        operation_id = "start_empty_trash_job"
    )]
    async fn start_empty_trash_job(
        &self,
        auth: ApiKeyAuth,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<JobAccepted, Errors<{ BASE }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let job = self.service.start_empty_trash_job(&actor).await?;
        Ok(JobAccepted::Accepted(Json(job.into())))
    }

    /// Erase a user's media
    ///
    /// Admins only. Starts a job that deletes everything the user owns in the tenant, live and
    /// in the trash, with their tags, grants, references, community copies and blobs, then
    /// revokes the grants the user holds on others' media; media under a legal hold are kept
    /// and listed with their holds in the job's receipt.
    #[oai(
        path = "/users/:user_id/erasure",
        method = "post",
        operation_id = "start_erasure"
    )]
    async fn start_erasure(
        &self,
        auth: ApiKeyAuth,
        /// The user whose media to erase.
        user_id: Path<User>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<JobAccepted, Errors<{ BASE }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let job = self.service.start_erasure(&actor, &user_id.0 .0).await?;
        Ok(JobAccepted::Accepted(Json(job.into())))
    }

    /// List jobs
    ///
    /// Newest first. Admins see the tenant's jobs; others the jobs they started.
    #[oai(path = "/jobs", method = "get", operation_id = "list_jobs")]
    async fn list_jobs(
        &self,
        auth: ApiKeyAuth,
        /// Page size, 1 to 1000 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<Number>>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<JobPage>, Errors<{ BASE }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let page = self
            .service
            .list_jobs(&actor, limit.0, cursor.0.as_deref())
            .await?;
        Ok(Json(JobPage {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }))
    }

    /// Get a job
    ///
    /// Its state and its receipt so far: counts, freed bytes, and what was kept and why.
    /// Admins see the tenant's jobs; others the jobs they started.
    #[oai(path = "/jobs/:id", method = "get", operation_id = "get_job")]
    async fn get_job(
        &self,
        auth: ApiKeyAuth,
        /// Job id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<JobDto>, Errors<{ BASE | NOT_FOUND }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        Ok(Json(self.service.get_job(&actor, id.0).await?.into()))
    }

    /// Cancel a job
    ///
    /// A queued job is cancelled at once; a running one stops after the chunk in hand (what
    /// was deleted stays deleted). 409 `job_finished` for a job that already ended.
    #[oai(
        path = "/jobs/:id/cancel",
        method = "post",
        operation_id = "cancel_job"
    )]
    async fn cancel_job(
        &self,
        auth: ApiKeyAuth,
        /// Job id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<JobDto>, Errors<{ BASE | NOT_FOUND | CONFLICT }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        Ok(Json(self.service.cancel_job(&actor, id.0).await?.into()))
    }
}
