//! Community copies and access grants.

use medialib_domain::MediaService;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use crate::error::ApiError;
use crate::schema::*;
use crate::security::{actor, ApiKeyAuth};

/// Sharing endpoints.
#[derive(Debug, Clone)]
pub struct SharingApi {
    pub(crate) service: MediaService,
}

/// 201 with the community copy.
#[derive(Debug, ApiResponse)]
pub enum ShareResponse {
    /// Shared.
    #[oai(status = 201)]
    Created(Json<CommunityItemDto>),
}

/// 201 with the grant.
#[derive(Debug, ApiResponse)]
pub enum GrantResponse {
    /// Granted.
    #[oai(status = 201)]
    Created(Json<GrantDto>),
}

/// 204.
#[derive(Debug, ApiResponse)]
pub enum RevokeResponse {
    /// Revoked.
    #[oai(status = 204)]
    Revoked,
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Sharing")]
impl SharingApi {
    /// Share a media item to the community
    ///
    /// Creates the community copy: its own row and its own blob in the community namespace,
    /// with the media's tags. Owner or admin only; 409 `already_shared`.
    #[oai(
        path = "/media/:id/share",
        method = "post",
        operation_id = "share_media"
    )]
    async fn share_media(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        id: Path<String>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<String>>,
    ) -> Result<ShareResponse, ApiError> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let item = self.service.share_media(&actor, &id.0).await?;
        Ok(ShareResponse::Created(Json(item.into())))
    }

    /// Remove the community copy of a media item
    #[oai(
        path = "/media/:id/share",
        method = "delete",
        operation_id = "unshare_media"
    )]
    async fn unshare_media(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        id: Path<String>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<String>>,
    ) -> Result<Json<UnshareResponse>, ApiError> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let storage = self.service.unshare_media(&actor, &id.0).await?;
        let media_id = medialib_domain::MediaId::parse(&id.0)?.get();
        Ok(Json(UnshareResponse {
            media_id,
            storage: storage.into(),
        }))
    }

    /// List the tenant's community copies
    #[oai(path = "/community", method = "get", operation_id = "list_community")]
    async fn list_community(
        &self,
        auth: ApiKeyAuth,
        /// Page size, 1 to 1000 (default 50).
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<String>>,
    ) -> Result<Json<CommunityPage>, ApiError> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let page = self
            .service
            .list_community(&actor, limit.0, cursor.0.as_deref())
            .await?;
        Ok(Json(CommunityPage {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }))
    }

    /// Grant a user access to a media item
    ///
    /// `read` lets the grantee see and download it; `delete` also lets them delete it.
    /// Owner or admin only. Replaces an existing grant of the same user.
    #[oai(
        path = "/media/:id/grants",
        method = "post",
        operation_id = "grant_access"
    )]
    async fn grant_access(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        id: Path<String>,
        body: Json<GrantRequest>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<String>>,
    ) -> Result<GrantResponse, ApiError> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let grant = self
            .service
            .grant_access(&actor, &id.0, &body.0.user_id, &body.0.permission)
            .await?;
        Ok(GrantResponse::Created(Json(grant.into())))
    }

    /// List the grants of a media item
    #[oai(
        path = "/media/:id/grants",
        method = "get",
        operation_id = "list_grants"
    )]
    async fn list_grants(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        id: Path<String>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<String>>,
    ) -> Result<Json<Vec<GrantDto>>, ApiError> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let grants = self.service.list_grants(&actor, &id.0).await?;
        Ok(Json(grants.into_iter().map(Into::into).collect()))
    }

    /// Revoke a user's grant on a media item
    #[oai(
        path = "/media/:id/grants/:user_id",
        method = "delete",
        operation_id = "revoke_grant"
    )]
    async fn revoke_grant(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        id: Path<String>,
        /// The grantee.
        user_id: Path<String>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<String>>,
    ) -> Result<RevokeResponse, ApiError> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        self.service.revoke_grant(&actor, &id.0, &user_id.0).await?;
        Ok(RevokeResponse::Revoked)
    }
}
