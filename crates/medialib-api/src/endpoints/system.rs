//! Activity, usage and health.

use medialib_domain::MediaService;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;

use super::ApiTags;
use crate::bounded::{Number, Tenant};
use crate::error::declared::*;
use crate::schema::*;
use crate::security::{actor, ApiKeyAuth};

/// Activity, usage and health endpoints.
#[derive(Debug, Clone)]
pub struct SystemApi {
    pub(crate) service: MediaService,
}

#[OpenApi]
impl SystemApi {
    /// List activity
    ///
    /// Newest first. Admins see the tenant's events; others see their own.
    #[oai(
        path = "/v1/activity",
        method = "get",
        operation_id = "list_activity",
        tag = "ApiTags::Activity"
    )]
    async fn list_activity(
        &self,
        auth: ApiKeyAuth,
        /// Only this action, e.g. `media_deleted`.
        action: Query<Option<String>>,
        /// Only events of this media id.
        media_id: Query<Option<Number>>,
        /// Page size, 1 to 1000 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<Number>>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<ActivityPage>, Errors<{ BASE }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let page = self
            .service
            .list_activity(
                &actor,
                action.0,
                media_id.0.as_deref(),
                limit.0,
                cursor.0.as_deref(),
            )
            .await?;
        Ok(Json(ActivityPage {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }))
    }

    /// Usage
    ///
    /// What the caller may see, live and trashed apart: admins and viewers get the tenant's
    /// totals; a member gets the totals of the media it owns or was granted (never counts of
    /// media it cannot list). Always equal to the sums over those media.
    #[oai(
        path = "/v1/usage",
        method = "get",
        operation_id = "get_usage",
        tag = "ApiTags::Activity"
    )]
    async fn get_usage(
        &self,
        auth: ApiKeyAuth,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<UsageDto>, Errors<{ BASE }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        Ok(Json(self.service.usage(&actor).await?.into()))
    }

    /// Liveness
    ///
    /// Answers 200 while the process runs; it checks no dependency. Needs no credentials.
    #[oai(
        path = "/healthz",
        method = "get",
        operation_id = "healthz",
        tag = "ApiTags::System"
    )]
    async fn healthz(&self) -> Json<HealthDto> {
        Json(HealthDto {
            status: "ok".to_owned(),
        })
    }

    /// Readiness: the database and the blob store answer
    ///
    /// 200 when the database and the blob store answer, 503 otherwise. Needs no credentials.
    #[oai(
        path = "/readyz",
        method = "get",
        operation_id = "readyz",
        tag = "ApiTags::System"
    )]
    async fn readyz(&self) -> Result<Json<HealthDto>, Errors<{ UNAVAILABLE }>> {
        self.service.readiness().await?;
        Ok(Json(HealthDto {
            status: "ok".to_owned(),
        }))
    }
}
