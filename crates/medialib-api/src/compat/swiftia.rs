//! The Swiftia uploads profile: `DELETE /api/uploads/files/{fileId}` answering
//! `{"id", "deleted": true}`, and the file list its examples call
//! (`GET /api/uploads/files?tags=&limit=`).
//!
//! The organization is medialib's tenant. With an API key (bound to one tenant)
//! `organizationId` is optional and, when given, must name the key's tenant (403 otherwise).
//! With a token it is required (400 without it).

use medialib_domain::service::delete::DeleteOptions;
use medialib_domain::service::media::ListRequest;
use medialib_domain::{Actor, Credential, Media, MediaService, ServiceError};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use time::OffsetDateTime;

use super::CompatTags;
use super::{conflict_message, error_text, log_failure, message, ErrorText, MessageBody};
use crate::error::retry_after_secs;
use crate::security::ApiKeyAuth;

/// Swiftia's routes.
#[derive(Debug, Clone)]
pub struct SwiftiaApi {
    pub(crate) service: MediaService,
}

/// The result of a delete.
#[derive(Debug, Clone, Object)]
pub struct DeleteResult {
    /// The file id as sent.
    pub id: String,
    /// Whether the file was deleted.
    pub deleted: bool,
    /// Why not, when `deleted` is false.
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<String>,
}

/// Swiftia's documented delete answers.
#[derive(Debug, ApiResponse)]
pub enum SwiftiaDelete {
    /// `{"id", "deleted": true}`.
    #[oai(status = 200)]
    Deleted(Json<DeleteResult>),
    /// `Organization ID is required`.
    #[oai(status = 400)]
    BadRequest(Json<MessageBody>),
    /// `{"error": "Unauthorized"}`.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorText>),
    /// `Organization ID mismatch. API key is bound to a different organization.`
    #[oai(status = 403)]
    Forbidden(Json<MessageBody>),
    /// `File not found`: no such file, another organization's, or already deleted.
    #[oai(status = 404)]
    NotFound(Json<MessageBody>),
    /// The file is under legal hold or in use (medialib's addition); `deleted` is false.
    #[oai(status = 409)]
    Conflict(Json<DeleteResult>),
    /// `deleted` is false: the key's budget of deletes is spent (medialib's addition); retry after
    /// `Retry-After` seconds.
    #[oai(status = 429)]
    RateLimited(Json<DeleteResult>, #[oai(header = "Retry-After")] u64),
    /// The database failed; `deleted` is false and nothing was changed.
    #[oai(status = 500)]
    Failed(Json<DeleteResult>),
}

/// A file as listed.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct FileDto {
    /// File id.
    pub id: String,
    /// File name.
    pub name: String,
    /// Path in the owner's root.
    pub path: String,
    /// Size in bytes.
    pub size: i64,
    /// MIME type.
    pub content_type: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Upload time (RFC 3339).
    pub created_at: OffsetDateTime,
}

impl From<Media> for FileDto {
    fn from(media: Media) -> Self {
        Self {
            id: media.id.get().to_string(),
            name: media.file_name().to_owned(),
            path: media.path.to_string(),
            size: media.size_bytes,
            content_type: media.content_type,
            tags: media.tags.iter().map(|t| t.as_str().to_owned()).collect(),
            created_at: media.created_at,
        }
    }
}

/// A page of files, newest first.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct FileList {
    /// The files.
    pub files: Vec<FileDto>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

/// Swiftia's list answers.
#[derive(Debug, ApiResponse)]
pub enum SwiftiaList {
    /// The files.
    #[oai(status = 200)]
    Files(Json<FileList>),
    /// `Organization ID is required`, or a bad parameter.
    #[oai(status = 400)]
    BadRequest(Json<MessageBody>),
    /// `{"error": "Unauthorized"}`.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorText>),
    /// Organization mismatch.
    #[oai(status = 403)]
    Forbidden(Json<MessageBody>),
    /// The database failed.
    #[oai(status = 500)]
    Failed(Json<MessageBody>),
}

/// Why the organization check refused a request.
enum OrgRefusal {
    Missing,
    Mismatch,
}

fn check_organization(actor: &Actor, organization: Option<&str>) -> Result<(), OrgRefusal> {
    match (organization, actor.credential) {
        (None, Credential::ApiKey | Credential::Embedded) => Ok(()),
        (None, Credential::Token) => Err(OrgRefusal::Missing),
        (Some(org), _) if org == actor.tenant_slug.as_str() => Ok(()),
        (Some(_), _) => Err(OrgRefusal::Mismatch),
    }
}

const MISSING: &str = "Organization ID is required";
const MISMATCH: &str = "Organization ID mismatch. API key is bound to a different organization.";

#[OpenApi(tag = "CompatTags::CompatSwiftia")]
impl SwiftiaApi {
    /// Delete a file (Swiftia)
    ///
    /// Permanently deletes the file from the database and storage, in that order and durably:
    /// storage failures after the commit are retried in the background, so this route never
    /// answers Swiftia's storage 500. The freed space shows in the next list.
    #[oai(
        path = "/api/uploads/files/:file_id",
        method = "delete",
        operation_id = "swiftia_delete_file"
    )]
    async fn swiftia_delete_file(
        &self,
        auth: ApiKeyAuth,
        /// The file id.
        file_id: Path<String>,
        /// The organization (the API key's tenant); optional with an API key.
        #[oai(name = "organizationId")]
        organization_id: Query<Option<String>>,
    ) -> SwiftiaDelete {
        let id = file_id.0;
        let actor = match self.service.authenticate(&auth.0.token).await {
            Ok(actor) => actor,
            Err(ServiceError::Unauthorized) => {
                return SwiftiaDelete::Unauthorized(error_text("Unauthorized"))
            }
            Err(err) => return failed(id, &err),
        };
        match check_organization(&actor, organization_id.0.as_deref()) {
            Err(OrgRefusal::Missing) => return SwiftiaDelete::BadRequest(message(MISSING)),
            Err(OrgRefusal::Mismatch) => return SwiftiaDelete::Forbidden(message(MISMATCH)),
            Ok(()) => {}
        }
        match self
            .service
            .delete_media(&actor, &id, DeleteOptions::default())
            .await
        {
            Ok(_) => SwiftiaDelete::Deleted(Json(DeleteResult {
                id,
                deleted: true,
                error: None,
            })),
            // Swiftia's ids are opaque strings: one that is not ours is simply not found.
            Err(ServiceError::MediaNotFound | ServiceError::InvalidMediaId) => {
                SwiftiaDelete::NotFound(message("File not found"))
            }
            Err(ServiceError::Forbidden) => {
                SwiftiaDelete::Forbidden(message("You do not have permission to delete this file"))
            }
            Err(ServiceError::RateLimited(limited)) => SwiftiaDelete::RateLimited(
                Json(DeleteResult {
                    id,
                    deleted: false,
                    error: Some("Too many requests".to_owned()),
                }),
                retry_after_secs(limited.retry_after),
            ),
            Err(err) => match conflict_message(&err) {
                Some(text) => SwiftiaDelete::Conflict(Json(DeleteResult {
                    id,
                    deleted: false,
                    error: Some(text),
                })),
                None => failed(id, &err),
            },
        }
    }

    /// List files (Swiftia)
    ///
    /// The organization's files the caller can see, newest first. `tags` filters by one tag
    /// (several, comma-separated: files carrying all of them); `limit` is 1 to 1000 (default
    /// 50).
    #[oai(
        path = "/api/uploads/files",
        method = "get",
        operation_id = "swiftia_list_files"
    )]
    async fn swiftia_list_files(
        &self,
        auth: ApiKeyAuth,
        /// Comma-separated tags.
        tags: Query<Option<String>>,
        /// Page size, 1 to 1000 (default 50).
        limit: Query<Option<u64>>,
        /// `nextCursor` of the previous page.
        cursor: Query<Option<String>>,
        /// The organization (the API key's tenant); optional with an API key.
        #[oai(name = "organizationId")]
        organization_id: Query<Option<String>>,
    ) -> SwiftiaList {
        let actor = match self.service.authenticate(&auth.0.token).await {
            Ok(actor) => actor,
            Err(ServiceError::Unauthorized) => {
                return SwiftiaList::Unauthorized(error_text("Unauthorized"))
            }
            Err(err) => {
                log_failure(&err);
                return SwiftiaList::Failed(message("Failed to list files"));
            }
        };
        match check_organization(&actor, organization_id.0.as_deref()) {
            Err(OrgRefusal::Missing) => return SwiftiaList::BadRequest(message(MISSING)),
            Err(OrgRefusal::Mismatch) => return SwiftiaList::Forbidden(message(MISMATCH)),
            Ok(()) => {}
        }
        let wanted: Vec<String> = tags
            .0
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        let request = ListRequest {
            limit: limit.0,
            cursor: cursor.0,
            tags: wanted,
            ..ListRequest::default()
        };
        match self.service.list_media(&actor, request).await {
            Ok(page) => SwiftiaList::Files(Json(FileList {
                files: page.items.into_iter().map(FileDto::from).collect(),
                next_cursor: page.next_cursor,
            })),
            Err(ServiceError::Invalid { message: text, .. }) => {
                SwiftiaList::BadRequest(message(&text))
            }
            Err(err) => {
                log_failure(&err);
                SwiftiaList::Failed(message("Failed to list files"))
            }
        }
    }
}

fn failed(id: String, err: &ServiceError) -> SwiftiaDelete {
    log_failure(err);
    SwiftiaDelete::Failed(Json(DeleteResult {
        id,
        deleted: false,
        error: Some("Failed to delete file".into()),
    }))
}
