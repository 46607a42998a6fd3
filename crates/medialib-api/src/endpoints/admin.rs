//! `/v1/admin`: what the reaper could not finish.

use medialib_domain::{MediaService, PendingBlob, PendingStatus};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Enum, Object, OpenApi};
use time::OffsetDateTime;

use super::ApiTags;
use crate::bounded::{Number, Tenant};
use crate::error::declared::*;
use crate::security::{actor, ApiKeyAuth};

/// Admin endpoints.
#[derive(Debug, Clone)]
pub struct AdminApi {
    pub(crate) service: MediaService,
}

/// Where a recorded blob deletion stands: `pending` (waiting for the reaper), `failed`
/// (parked after too many attempts) or `upload` (the blob of an upload in progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
#[oai(rename = "PendingStatus")]
pub enum PendingStatusDto {
    /// Waiting for the reaper.
    Pending,
    /// Parked after too many failed attempts; an admin may retry it.
    Failed,
    /// The blob of an upload in progress.
    Upload,
}

impl PendingStatusDto {
    /// The wire name, as the domain parses it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Failed => "failed",
            Self::Upload => "upload",
        }
    }
}

impl From<PendingStatus> for PendingStatusDto {
    fn from(status: PendingStatus) -> Self {
        match status {
            PendingStatus::Pending => Self::Pending,
            PendingStatus::Failed => Self::Failed,
            PendingStatus::Upload => Self::Upload,
        }
    }
}

/// A blob deletion that is recorded and not confirmed yet.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(rename = "PendingDeletion")]
pub struct PendingDeletionDto {
    /// Record id.
    pub id: i64,
    pub status: PendingStatusDto,
    /// Failed attempts so far.
    pub attempts: i32,
    /// When the reaper may next take it.
    pub next_attempt_at: OffsetDateTime,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was recorded.
    pub created_at: OffsetDateTime,
}

impl From<PendingBlob> for PendingDeletionDto {
    fn from(pending: PendingBlob) -> Self {
        Self {
            id: pending.id,
            status: pending.status.into(),
            attempts: pending.attempts,
            next_attempt_at: pending.next_attempt_at,
            last_error: pending.last_error,
            created_at: pending.created_at,
        }
    }
}

/// A page of pending deletions, newest first.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PendingDeletionPage {
    /// The records.
    pub items: Vec<PendingDeletionDto>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Which parked deletions to retry.
#[derive(Debug, Clone, Object)]
pub struct RetryPendingRequest {
    /// Only these record ids; all parked records of the tenant when absent.
    pub ids: Option<Vec<i64>>,
}

/// The result of a retry request.
#[derive(Debug, Clone, Object)]
pub struct RetryPendingResponse {
    /// Records made `pending` again.
    pub requeued: u64,
}

#[OpenApi(prefix_path = "/v1/admin", tag = "ApiTags::Admin")]
impl AdminApi {
    /// List pending blob deletions
    ///
    /// The tenant's blob deletions that are not confirmed yet: waiting for the reaper,
    /// parked as `failed` after too many attempts, or belonging to uploads in progress.
    /// Admins only.
    #[oai(
        path = "/pending-deletions",
        method = "get",
        operation_id = "list_pending_deletions"
    )]
    async fn list_pending_deletions(
        &self,
        auth: ApiKeyAuth,
        /// Only this status.
        status: Query<Option<PendingStatusDto>>,
        /// Page size, 1 to 1000 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<Number>>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<PendingDeletionPage>, Errors<{ BASE }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let page = self
            .service
            .list_pending_deletions(
                &actor,
                status.0.map(PendingStatusDto::as_str),
                limit.0,
                cursor.0.as_deref(),
            )
            .await?;
        Ok(Json(PendingDeletionPage {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }))
    }

    /// Retry parked blob deletions
    ///
    /// Makes `failed` records `pending` again, due now, with their attempts reset. Admins only.
    #[oai(
        path = "/pending-deletions/retry",
        method = "post",
        operation_id = "retry_pending_deletions"
    )]
    async fn retry_pending_deletions(
        &self,
        auth: ApiKeyAuth,
        body: Json<RetryPendingRequest>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<RetryPendingResponse>, Errors<{ JSON_BODY }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let requeued = self
            .service
            .retry_pending_deletions(&actor, body.0.ids)
            .await?;
        Ok(Json(RetryPendingResponse { requeued }))
    }
}
