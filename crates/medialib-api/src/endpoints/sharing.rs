//! Community copies and access grants.

use medialib_domain::MediaService;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use crate::bounded::{Number, Tenant, User};
use crate::error::declared::*;
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
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<ShareResponse, Errors<{ BASE | NOT_FOUND | CONFLICT }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let item = self.service.share_media(&actor, &id.0.to_string()).await?;
        Ok(ShareResponse::Created(Json(item.into())))
    }

    /// Remove the community copy of a media item
    ///
    /// Deletes the copy's row and, after the commit, its blob; `storage` tells whether the blob
    /// is gone yet. The original is untouched. 404 when there is no copy.
    #[oai(
        path = "/media/:id/share",
        method = "delete",
        operation_id = "unshare_media"
    )]
    async fn unshare_media(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<UnshareResponse>, Errors<{ BASE | NOT_FOUND | CONFLICT }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let storage = self
            .service
            .unshare_media(&actor, &id.0.to_string())
            .await?;
        let media_id = medialib_domain::MediaId::parse(&id.0.to_string())?.get();
        Ok(Json(UnshareResponse {
            media_id,
            storage: storage.into(),
        }))
    }

    /// List the tenant's community copies
    ///
    /// Newest first, with keyset pagination. Every member of the tenant sees the community.
    #[oai(path = "/community", method = "get", operation_id = "list_community")]
    async fn list_community(
        &self,
        auth: ApiKeyAuth,
        /// Page size, 1 to 1000 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<Number>>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<CommunityPage>, Errors<{ BASE }>> {
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
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        body: Json<GrantRequest>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<GrantResponse, Errors<{ JSON_BODY | NOT_FOUND | CONFLICT }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let grant = self
            .service
            .grant_access(
                &actor,
                &id.0.to_string(),
                &body.0.user_id.0,
                body.0.permission.as_str(),
            )
            .await?;
        Ok(GrantResponse::Created(Json(grant.into())))
    }

    /// List the grants of a media item
    ///
    /// Who else may read or delete it. Only the owner and admins may list them.
    #[oai(
        path = "/media/:id/grants",
        method = "get",
        operation_id = "list_grants"
    )]
    async fn list_grants(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<Vec<GrantDto>>, Errors<{ BASE | NOT_FOUND }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let grants = self.service.list_grants(&actor, &id.0.to_string()).await?;
        Ok(Json(grants.into_iter().map(Into::into).collect()))
    }

    /// Revoke a user's grant on a media item
    ///
    /// 204 when revoked; 404 `grant_not_found` when the user had no grant.
    #[oai(
        path = "/media/:id/grants/:user_id",
        method = "delete",
        operation_id = "revoke_grant"
    )]
    async fn revoke_grant(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// The grantee.
        user_id: Path<User>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<RevokeResponse, Errors<{ BASE | NOT_FOUND }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        self.service
            .revoke_grant(&actor, &id.0.to_string(), &user_id.0)
            .await?;
        Ok(RevokeResponse::Revoked)
    }
}
