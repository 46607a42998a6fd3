//! `/v1/media`: upload, list, read, tag and delete.

use futures_util::TryStreamExt;
use medialib_domain::service::delete::DeleteOptions;
use medialib_domain::service::media::{ListRequest, UploadRequest};
use medialib_domain::{ByteStream, IfMatch, MediaService};
use poem::http::header;
use poem::Request;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use time::OffsetDateTime;

use super::ApiTags;
use crate::body::{stored_content_type, UploadBody};
use crate::bounded::{Cursor, Number, Param, TagName, Tenant, Text, User};
use crate::download::{etag_matches, requested_range, MediaContent};
use crate::error::declared::*;
use crate::error::ApiError;
use crate::schema::*;
use crate::security::{actor, ApiKeyAuth};

/// Media endpoints.
#[derive(Debug, Clone)]
pub struct MediaApi {
    pub(crate) service: MediaService,
}

/// 200 with the media and its `ETag`.
#[derive(Debug, ApiResponse)]
pub enum MediaResponse {
    /// The media; `ETag` is its revision's entity tag (as `etag` in the body).
    #[oai(status = 200)]
    Ok(Json<MediaDto>, #[oai(header = "ETag")] String),
}

/// 201 with the stored media.
#[derive(Debug, ApiResponse)]
pub enum UploadResponse {
    /// Stored.
    #[oai(status = 201)]
    Created(Json<MediaDto>),
}

/// The strings of a list of [`Text`]s.
fn texts<const MIN: usize, const MAX: usize, P>(list: Vec<Text<MIN, MAX, P>>) -> Vec<String> {
    list.into_iter().map(|text| text.0).collect()
}

/// Splits `a,b` into tags; an empty parameter means none.
fn split_tags(raw: Option<String>) -> Vec<String> {
    raw.map(|raw| {
        raw.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Media")]
impl MediaApi {
    /// Upload a file
    ///
    /// The request body is the raw file. The stored media type is the `content_type`
    /// parameter, else the request's `Content-Type` (`curl -H 'Content-Type: image/jpeg'`),
    /// else `application/octet-stream`. The body is
    /// streamed to storage and hashed on the way. Refused with 409 `path_conflict` when the
    /// caller already has a file at `path`, 413 `payload_too_large` above `max_upload_bytes`,
    /// 503 `storage_unavailable` when storage fails (no row is written then). Viewers get 403.
    #[oai(path = "/media", method = "post", operation_id = "upload_media")]
    #[allow(clippy::too_many_arguments)]
    async fn upload_media(
        &self,
        auth: ApiKeyAuth,
        /// Folder and file name relative to the caller's root, e.g. `photos/beach.jpg` (at most
        /// 1024 bytes).
        path: Query<Text<1, 0>>,
        /// Comma-separated tags (empty: none).
        tags: Query<Option<String>>,
        /// The media type to store, e.g. `image/jpeg`; absent: the request's `Content-Type`
        /// (a wildcard such as `*/*` names none), else `application/octet-stream`.
        content_type: Query<Option<Param>>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
        request: &Request,
        body: UploadBody,
    ) -> Result<UploadResponse, Errors<{ BASE | CONFLICT | PAYLOAD_TOO_LARGE | RATE_LIMITED }>>
    {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let content_type =
            stored_content_type(content_type.0.map(|t| t.0), request.content_type())?;
        let content_length = request
            .header(header::CONTENT_LENGTH)
            .and_then(|v| v.parse::<u64>().ok());
        let upload = UploadRequest {
            path: path.0 .0,
            content_type,
            tags: split_tags(tags.0),
            content_length,
        };
        let stream: ByteStream = Box::pin(
            body.0
                .into_bytes_stream()
                .map_err(|err| Box::new(err) as medialib_domain::error::BoxError),
        );
        let media = self.service.upload_media(&actor, upload, stream).await?;
        Ok(UploadResponse::Created(Json(media.into())))
    }

    /// Follow changes
    ///
    /// The changes of media the caller may see after `cursor`, in the order they were
    /// committed: `created`, `updated` (tags, sharing), `trashed`, `restored`, and `deleted`
    /// tombstones (with the owner, path and reason). Without `cursor`: no changes and the
    /// cursor of now. To keep a copy in sync, take that cursor, list the media, then call this
    /// with `next_cursor` again and again; a change may repeat what the listing showed, and
    /// applying it again is harmless. Cursors survive restarts; one whose next changes are older
    /// than `changes_retention_secs` is answered 410 `cursor_expired` (list again and start
    /// from a new cursor). Admins and viewers see the tenant's changes; members those of media
    /// they own or were granted, and the tombstones of media they owned.
    #[oai(path = "/changes", method = "get", operation_id = "list_changes")]
    async fn list_changes(
        &self,
        auth: ApiKeyAuth,
        /// `next_cursor` of the previous call (`0`: the oldest change kept); absent: start
        /// from now.
        cursor: Query<Option<Cursor>>,
        /// Page size, 1 to 1000 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u64>>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<ChangesPageDto>, Errors<{ BASE | GONE }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let page = self
            .service
            .list_changes(&actor, cursor.0.as_ref().map(|c| c.0.as_str()), limit.0)
            .await?;
        Ok(Json(page.into()))
    }

    /// List media
    ///
    /// Newest first, with keyset pagination that stays stable under concurrent deletes.
    /// Admins and viewers see the tenant's media; members their own and what is granted to them.
    #[oai(path = "/media", method = "get", operation_id = "list_media")]
    #[allow(clippy::too_many_arguments)]
    async fn list_media(
        &self,
        auth: ApiKeyAuth,
        /// Page size, 1 to 1000 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<Number>>,
        /// Only media with this tag.
        tag: Query<Option<Text<1, 64, TagName>>>,
        /// Only media in this folder or below it (empty: only the root).
        folder: Query<Option<String>>,
        /// Only media created before this time (RFC 3339).
        created_before: Query<Option<OffsetDateTime>>,
        /// Only media of this owner.
        owner: Query<Option<User>>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<MediaPage>, Errors<{ BASE }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let request = ListRequest {
            limit: limit.0,
            cursor: cursor.0.map(|t| t.0),
            tags: tag.0.into_iter().map(|t| t.0).collect(),
            folder: folder.0,
            created_before: created_before.0,
            owner: owner.0.map(|t| t.0),
        };
        Ok(Json(self.service.list_media(&actor, request).await?.into()))
    }

    /// Get a media item
    ///
    /// Its metadata: path, type, size, SHA-256, tags, thumbnail state. 404 when it does not exist
    /// or the caller cannot see it (the same answer for both).
    #[oai(path = "/media/:id", method = "get", operation_id = "get_media")]
    async fn get_media(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<MediaResponse, Errors<{ BASE | NOT_FOUND }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let media = self.service.get_media(&actor, &id.0.to_string()).await?;
        let etag = media.etag();
        Ok(MediaResponse::Ok(Json(media.into()), etag))
    }

    /// Download a media item
    ///
    /// Streams the bytes with the stored `Content-Type`, `Content-Length`, an `ETag` (the
    /// quoted SHA-256) and `Content-Disposition` with the file name. A single `Range`
    /// (`bytes=a-b`, `a-`, `-n`) answers 206 with `Content-Range`; an unsatisfiable one 416;
    /// several ranges are answered with the whole content. `If-None-Match` with the current
    /// ETag answers 304 without a body.
    #[oai(
        path = "/media/:id/content",
        method = "get",
        operation_id = "download_media"
    )]
    async fn download_media(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
        request: &Request,
    ) -> Result<MediaContent, Errors<{ BASE | NOT_FOUND | RANGE_NOT_SATISFIABLE }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let media = self.service.get_media(&actor, &id.0.to_string()).await?;
        let etag = format!("\"{}\"", media.sha256);
        if request
            .header(header::IF_NONE_MATCH)
            .is_some_and(|value| etag_matches(value, &etag))
        {
            return Ok(MediaContent::not_modified(&media));
        }
        let size = u64::try_from(media.size_bytes).unwrap_or(0);
        let range = match request.header(header::RANGE) {
            Some(value) => requested_range(value, size)?,
            None => None,
        };
        let (length, stream) = self
            .service
            .open_content(&actor, &media, range.clone())
            .await?;
        Ok(MediaContent::body(media, length, range, stream))
    }

    /// Delete a media item
    ///
    /// Permanent. One transaction removes the row, its community copy, tag assignments,
    /// access grants, references and derivatives (thumbnails), updates usage and writes the
    /// `media_deleted` event; the blobs are deleted after the commit. A blob that is already
    /// gone counts as deleted. When storage fails the answer is still 200, with
    /// `storage: "pending"`, and the blob is removed by the retry loop. 404 when the media does
    /// not exist or the caller cannot see it; 403 when the caller can see it but may not delete
    /// it (a `read` grantee, a viewer); 409 `media_held` under a legal hold; 409
    /// `media_in_use` when references exist, unless `force=true` (the receipt then lists the
    /// `broken_references`). `trash=true` (or the tenant's `delete_moves_to_trash`, unless
    /// `trash=false`) moves it to the trash instead: `storage: "trashed"`, `deleted: false`.
    /// With `If-Match` (the `etag` of a read, or `*`) it deletes only that revision: 412
    /// `precondition_failed` when the media's tags, path or state changed since, checked in
    /// the delete's own transaction.
    #[oai(path = "/media/:id", method = "delete", operation_id = "delete_media")]
    async fn delete_media(
        &self,
        auth: ApiKeyAuth,
        /// Media id: a positive integer.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Move to the trash instead (default: the tenant's `delete_moves_to_trash`).
        trash: Query<Option<bool>>,
        /// Delete even when applications recorded references to it.
        force: Query<Option<bool>>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
        /// Delete only this revision: an `etag` from a read (several, comma-separated), or
        /// `*`.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
    ) -> Result<
        Json<DeleteReceiptDto>,
        Errors<{ BASE | NOT_FOUND | CONFLICT | PRECONDITION_FAILED | RATE_LIMITED }>,
    > {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let options = DeleteOptions {
            trash: trash.0,
            force: force.0.unwrap_or(false),
            if_match: if_match.0.as_deref().map(IfMatch::parse),
        };
        Ok(Json(
            self.service
                .delete_media(&actor, &id.0.to_string(), options)
                .await?
                .into(),
        ))
    }

    /// Delete a media item by path (legacy)
    ///
    /// `path` is relative to the caller's root (or to `owner`'s, for admins), percent-encoded
    /// as one segment (`Captions%2Fbeach.jpg`) or written out (`Captions/beach.jpg`). Same
    /// rules and receipt as the delete by id.
    #[oai(
        path = "/media/by-path/:path",
        method = "delete",
        operation_id = "delete_media_by_path"
    )]
    async fn delete_media_by_path(
        &self,
        auth: ApiKeyAuth,
        /// The file's path, e.g. `Captions/caption-1709856234567-beach.jpg`.
        path: Path<String>,
        /// Admins only: whose root the path is relative to.
        owner: Query<Option<User>>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<DeleteReceiptDto>, Errors<{ BASE | NOT_FOUND | CONFLICT | RATE_LIMITED }>>
    {
        Ok(by_path(
            &self.service,
            &auth.0.token,
            &path.0,
            owner.0.as_deref(),
            tenant.0.as_deref(),
        )
        .await?)
    }

    /// Delete many media items
    ///
    /// 1 to 1000 ids, each judged by the rules of the single delete, deleted in one
    /// transaction. The results are in input order; a repeated id is deleted once and reported
    /// as `media_not_found` after that.
    #[oai(
        path = "/media/bulk-delete",
        method = "post",
        operation_id = "bulk_delete_media"
    )]
    async fn bulk_delete_media(
        &self,
        auth: ApiKeyAuth,
        body: Json<BulkDeleteRequest>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<BulkDeleteResponse>, Errors<{ JSON_BODY | RATE_LIMITED }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let receipt = self
            .service
            .bulk_delete_media(&actor, &body.0.ids, body.0.force.unwrap_or(false))
            .await?;
        Ok(Json(receipt.into()))
    }

    /// Replace the tags of a media item
    ///
    /// The list sent replaces the current one (sorted and deduplicated); an empty list removes
    /// every tag. Viewers and `read` grantees get 403.
    #[oai(
        path = "/media/:id/tags",
        method = "put",
        operation_id = "set_media_tags"
    )]
    async fn set_media_tags(
        &self,
        auth: ApiKeyAuth,
        /// Media id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        body: Json<TagsRequest>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<MediaDto>, Errors<{ JSON_BODY | NOT_FOUND | CONFLICT }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        Ok(Json(
            self.service
                .set_tags(&actor, &id.0.to_string(), &texts(body.0.tags))
                .await?
                .into(),
        ))
    }
}

/// The delete by path, shared by the documented route and the catch-all route that accepts
/// unencoded slashes.
pub(crate) async fn by_path(
    service: &MediaService,
    token: &str,
    path: &str,
    owner: Option<&str>,
    tenant: Option<&str>,
) -> Result<Json<DeleteReceiptDto>, ApiError> {
    let actor = actor(service, token, tenant).await?;
    Ok(Json(
        service
            .delete_media_by_path(&actor, path, owner, DeleteOptions::default())
            .await?
            .into(),
    ))
}
