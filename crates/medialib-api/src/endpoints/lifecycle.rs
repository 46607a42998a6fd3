//! The media lifecycle: trash and restore, tenant settings, legal holds, in-use references,
//! thumbnails and delete by filter.

use medialib_domain::service::filter::FilterRequest;
use medialib_domain::service::media::ListRequest;
use medialib_domain::{MediaService, SettingsChange};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use crate::body::OptionalJson;
use crate::bounded::{Count, Number, RefPattern, Tenant, Text};
use crate::download::ThumbnailContent;
use crate::error::declared::*;
use crate::schema::*;
use crate::security::{actor, ApiKeyAuth};

/// Lifecycle endpoints.
#[derive(Debug, Clone)]
pub struct LifecycleApi {
    pub(crate) service: MediaService,
}

/// 201 with the new hold.
#[derive(Debug, ApiResponse)]
pub enum HoldCreated {
    /// Placed.
    #[oai(status = 201)]
    Created(Json<HoldDto>),
}

/// 201 for a new reference, 200 when it was already recorded.
#[derive(Debug, ApiResponse)]
pub enum ReferenceCreated {
    /// Recorded.
    #[oai(status = 201)]
    Created(Json<ReferenceDto>),
    /// Already recorded; nothing changed.
    #[oai(status = 200)]
    Existing(Json<ReferenceDto>),
}

/// 204 without a body.
#[derive(Debug, ApiResponse)]
pub enum Removed {
    /// Removed.
    #[oai(status = 204)]
    NoContent,
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Lifecycle")]
impl LifecycleApi {
    /// Move a media item to the trash
    ///
    /// Reversible: the item disappears from listings, reads and the community and its path is
    /// freed, but its blobs, tags, grants and community copy are kept until it is purged
    /// (emptied from the trash, or by the background purge after the tenant's
    /// `trash_retention_days`). Its size moves from `bytes_used` to `trashed_bytes`. Same
    /// permissions as a delete; 409 `media_held` under a legal hold; 409 `media_in_use` when
    /// references exist, unless `force=true`.
    #[oai(
        path = "/media/:id/trash",
        method = "post",
        operation_id = "trash_media"
    )]
    async fn trash_media(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Trash even when applications recorded references to it.
        force: Query<Option<bool>>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<MediaDto>, Errors<{ BASE | NOT_FOUND | CONFLICT | RATE_LIMITED }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let media = self
            .service
            .trash_media(&actor, &id.0.to_string(), force.0.unwrap_or(false))
            .await?;
        Ok(Json(media.into()))
    }

    /// Restore a trashed media item
    ///
    /// Brings it back at its old path, or at `path` when given (the body is optional). 409 `path_conflict` when the
    /// owner has uploaded another file at that path meanwhile: restore under a new `path`.
    #[oai(
        path = "/media/:id/restore",
        method = "post",
        operation_id = "restore_media"
    )]
    async fn restore_media(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        body: OptionalJson<RestoreRequest>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<MediaDto>, Errors<{ JSON_BODY | NOT_FOUND | CONFLICT }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let path = body.0.and_then(|request| request.path);
        let media = self
            .service
            .restore_media(&actor, &id.0.to_string(), path.as_deref())
            .await?;
        Ok(Json(media.into()))
    }

    /// List the trash
    ///
    /// The trashed media the caller can see (admins and viewers: the tenant's; members: their
    /// own and granted), newest upload first.
    #[oai(path = "/trash", method = "get", operation_id = "list_trash")]
    async fn list_trash(
        &self,
        auth: ApiKeyAuth,
        /// Page size, 1 to 1000 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<Number>>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<MediaPage>, Errors<{ BASE }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let request = ListRequest {
            limit: limit.0,
            cursor: cursor.0.map(|t| t.0),
            ..ListRequest::default()
        };
        Ok(Json(self.service.list_trash(&actor, request).await?.into()))
    }

    /// Empty the trash
    ///
    /// Permanently deletes every trashed item the caller may delete (admins: the tenant's
    /// trash), through the durable delete path, in chunks of 500. Held items stay. Answers
    /// the totals.
    #[oai(path = "/trash", method = "delete", operation_id = "empty_trash")]
    async fn empty_trash(
        &self,
        auth: ApiKeyAuth,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<TrashSummaryDto>, Errors<{ BASE | RATE_LIMITED }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        Ok(Json(self.service.empty_trash(&actor).await?.into()))
    }

    /// Purge one trashed media item
    ///
    /// Permanent, through the durable delete path; 409 `media_held` under a legal hold.
    #[oai(
        path = "/trash/:id",
        method = "delete",
        operation_id = "purge_trashed_media"
    )]
    async fn purge_trashed_media(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<DeleteReceiptDto>, Errors<{ BASE | NOT_FOUND | CONFLICT | RATE_LIMITED }>>
    {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        Ok(Json(
            self.service
                .purge_trashed_media(&actor, &id.0.to_string())
                .await?
                .into(),
        ))
    }

    /// Get the tenant's settings
    ///
    /// Trash retention and whether a plain delete moves to the trash. Any role may read them.
    #[oai(
        path = "/tenant/settings",
        method = "get",
        operation_id = "get_tenant_settings"
    )]
    async fn get_tenant_settings(
        &self,
        auth: ApiKeyAuth,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<TenantSettingsDto>, Errors<{ BASE }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        Ok(Json(self.service.tenant_settings(&actor).into()))
    }

    /// Change the tenant's settings
    ///
    /// Admins only. `trash_retention_days` (0 to 3650, default 30) applies to items already in
    /// the trash too; `delete_moves_to_trash` makes a plain delete soft.
    #[oai(
        path = "/tenant/settings",
        method = "patch",
        operation_id = "update_tenant_settings"
    )]
    async fn update_tenant_settings(
        &self,
        auth: ApiKeyAuth,
        body: Json<TenantSettingsPatch>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<TenantSettingsDto>, Errors<{ JSON_BODY }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let change = SettingsChange {
            trash_retention_days: body.0.trash_retention_days.map(Count::saturating_u32),
            delete_moves_to_trash: body.0.delete_moves_to_trash,
            ..SettingsChange::default()
        };
        let updated = self.service.update_tenant_settings(&actor, change).await?;
        Ok(Json(updated.into()))
    }

    /// Place a legal hold
    ///
    /// Admins only (403 otherwise). While a media item has a hold it cannot be deleted,
    /// trashed, purged, emptied from the trash, removed by filter or by retention; those calls
    /// answer 409 `media_held` naming the holds. Live and trashed media can be held.
    #[oai(path = "/media/:id/holds", method = "post", operation_id = "add_hold")]
    async fn add_hold(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        body: Json<HoldRequest>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<HoldCreated, Errors<{ JSON_BODY | NOT_FOUND | CONFLICT }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let hold = self
            .service
            .add_hold(&actor, &id.0.to_string(), &body.0.reason.0)
            .await?;
        Ok(HoldCreated::Created(Json(hold.into())))
    }

    /// List the holds of a media item
    ///
    /// The legal holds on the media, oldest first. A held item cannot be deleted, trashed or
    /// purged until every hold is removed. 404 when the caller cannot see the media.
    #[oai(path = "/media/:id/holds", method = "get", operation_id = "list_holds")]
    async fn list_holds(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<Vec<HoldDto>>, Errors<{ BASE | NOT_FOUND }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let holds = self.service.list_holds(&actor, &id.0.to_string()).await?;
        Ok(Json(holds.into_iter().map(Into::into).collect()))
    }

    /// Remove a legal hold
    ///
    /// Admins only. The only way to lift a hold.
    #[oai(
        path = "/media/:id/holds/:hold_id",
        method = "delete",
        operation_id = "remove_hold"
    )]
    async fn remove_hold(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Hold id.
        #[oai(validator(minimum(value = "1")))]
        hold_id: Path<i64>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Removed, Errors<{ BASE | NOT_FOUND }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        self.service
            .remove_hold(&actor, &id.0.to_string(), hold_id.0)
            .await?;
        Ok(Removed::NoContent)
    }

    /// Record that something uses a media item
    ///
    /// Owner or admin. A delete or trash of referenced media answers 409 `media_in_use` listing
    /// the references, unless `force=true`; a forced delete removes them and lists them in the
    /// receipt's `broken_references`.
    #[oai(
        path = "/media/:id/references",
        method = "post",
        operation_id = "add_reference"
    )]
    async fn add_reference(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        body: Json<ReferenceRequest>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<ReferenceCreated, Errors<{ JSON_BODY | NOT_FOUND | CONFLICT }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let (reference, created) = self
            .service
            .add_reference(&actor, &id.0.to_string(), &body.0.name.0)
            .await?;
        Ok(if created {
            ReferenceCreated::Created(Json(reference.into()))
        } else {
            ReferenceCreated::Existing(Json(reference.into()))
        })
    }

    /// List the references to a media item
    ///
    /// What applications recorded as using the media. A delete of referenced media answers 409
    /// `media_in_use` unless `force=true`. 404 when the caller cannot see the media.
    #[oai(
        path = "/media/:id/references",
        method = "get",
        operation_id = "list_references"
    )]
    async fn list_references(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<Vec<ReferenceDto>>, Errors<{ BASE | NOT_FOUND }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let references = self
            .service
            .list_references(&actor, &id.0.to_string())
            .await?;
        Ok(Json(references.into_iter().map(Into::into).collect()))
    }

    /// Remove a reference
    ///
    /// Forgets one recorded use of the media; 204 when removed, 404 `reference_not_found` when it
    /// was not recorded.
    #[oai(
        path = "/media/:id/references/:reference",
        method = "delete",
        operation_id = "remove_reference"
    )]
    async fn remove_reference(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// The reference, e.g. `post:123`.
        reference: Path<Text<1, 255, RefPattern>>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Removed, Errors<{ BASE | NOT_FOUND }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        self.service
            .remove_reference(&actor, &id.0.to_string(), &reference.0)
            .await?;
        Ok(Removed::NoContent)
    }

    /// Download the thumbnail of an image
    ///
    /// Made after upload for JPEG, PNG, WebP and GIF images (at most 256 px on the longest
    /// side). 404 `thumbnail_not_found` when the media has none (`thumbnail` is `none` or
    /// `failed`).
    #[oai(
        path = "/media/:id/thumbnail",
        method = "get",
        operation_id = "download_thumbnail"
    )]
    async fn download_thumbnail(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<ThumbnailContent, Errors<{ BASE | NOT_FOUND }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let (derivative, stream) = self
            .service
            .open_thumbnail(&actor, &id.0.to_string())
            .await?;
        Ok(ThumbnailContent::new(derivative.content_type, stream))
    }

    /// Delete media by filter
    ///
    /// At least one of `tag`, `folder`, `created_before`, `older_than_days`, `owner` (400
    /// `empty_filter` otherwise); never crosses the tenant and covers only what the caller can
    /// see. `dry_run: true` answers the count, bytes and a page of ids. Otherwise the matches
    /// are deleted in chunks of 500, each by the rules of the bulk delete: held media are never
    /// deleted, referenced media only with `force`; the summary counts what was kept and why.
    #[oai(
        path = "/media/delete-by-filter",
        method = "post",
        operation_id = "delete_media_by_filter"
    )]
    async fn delete_media_by_filter(
        &self,
        auth: ApiKeyAuth,
        body: Json<DeleteByFilterRequest>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<DeleteByFilterResponse>, Errors<{ JSON_BODY | RATE_LIMITED }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let body = body.0;
        let request = FilterRequest {
            tag: body.tag,
            folder: body.folder,
            created_before: body.created_before,
            older_than_days: body.older_than_days,
            owner: body.owner,
            dry_run: body.dry_run,
            force: body.force.unwrap_or(false),
            limit: body.limit,
            cursor: body.cursor,
        };
        Ok(Json(
            self.service.delete_by_filter(&actor, request).await?.into(),
        ))
    }
}
