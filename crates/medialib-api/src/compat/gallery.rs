//! The media gallery profile: `DELETE /api/user/media/{id}` and the legacy
//! `DELETE /api/user/media/{path}` (relative to the caller's root; a single all-digit segment
//! is an id), answering `{"message": …}`.

use medialib_domain::service::delete::DeleteOptions;
use medialib_domain::{MediaService, ServiceError};
use poem::web::{Data, Path as RawPath};
use poem::{handler, IntoResponse, Request, Response};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::CompatTags;
use super::{conflict_message, log_failure, message, MessageBody, Profile};
use crate::error::retry_after_secs;
use crate::security::ApiKeyAuth;

/// The gallery's delete route.
#[derive(Debug, Clone)]
pub struct GalleryApi {
    pub(crate) service: MediaService,
}

/// The gallery's documented answers.
#[derive(Debug, ApiResponse)]
pub enum GalleryDelete {
    /// `Media deleted successfully` (also when the stored file was already gone).
    #[oai(status = 200)]
    Deleted(Json<MessageBody>),
    /// `Invalid media ID`, or `Invalid media path` for the legacy form.
    #[oai(status = 400)]
    BadRequest(Json<MessageBody>),
    /// `Unauthorized`.
    #[oai(status = 401)]
    Unauthorized(Json<MessageBody>),
    /// `Media not found`: it does not exist or belongs to another user.
    #[oai(status = 404)]
    NotFound(Json<MessageBody>),
    /// The media is under legal hold or in use (medialib's addition).
    #[oai(status = 409)]
    Conflict(Json<MessageBody>),
    /// `Too many requests`: the key's budget of deletes is spent (medialib's addition); retry after
    /// `Retry-After` seconds.
    #[oai(status = 429)]
    RateLimited(Json<MessageBody>, #[oai(header = "Retry-After")] u64),
    /// `Failed to delete media from database`; nothing was changed.
    #[oai(status = 500)]
    Failed(Json<MessageBody>),
}

#[OpenApi(tag = "CompatTags::CompatGallery")]
impl GalleryApi {
    /// Delete a media item (gallery)
    ///
    /// Permanently deletes the caller's media item: the row, its community copy and tag
    /// assignments in one transaction, then its files. A file already missing from storage is
    /// still a successful delete. Media of other users answers 404. The legacy form takes the
    /// path relative to the caller's root instead of the id
    /// (`/api/user/media/Captions/caption-1709856234567-beach.jpg`).
    #[oai(
        path = "/api/user/media/:id",
        method = "delete",
        operation_id = "gallery_delete_media"
    )]
    async fn gallery_delete_media(
        &self,
        auth: ApiKeyAuth,
        /// The media id, or (legacy) its path relative to the caller's root.
        id: Path<String>,
    ) -> GalleryDelete {
        delete(&self.service, &auth.0.token, &id.0).await
    }
}

/// The legacy form with unencoded slashes: `/api/user/media/Captions/beach.jpg`.
#[handler]
pub(crate) async fn delete_by_raw_path(
    request: &Request,
    RawPath(path): RawPath<String>,
    service: Data<&MediaService>,
) -> Response {
    let Some(token) = request
        .header(poem::http::header::AUTHORIZATION)
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return Profile::Gallery.unauthorized();
    };
    delete(&service, token, &path).await.into_response()
}

async fn delete(service: &MediaService, token: &str, raw: &str) -> GalleryDelete {
    let actor = match service.authenticate(token).await {
        Ok(actor) => actor,
        Err(ServiceError::Unauthorized) => {
            return GalleryDelete::Unauthorized(message("Unauthorized"))
        }
        Err(err) => return failed(&err),
    };
    // A segment of digits is an id (a leading `-` too, which makes it an invalid one);
    // anything else, `2024-01-01` included, is a path.
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    let result = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        service
            .delete_media(&actor, raw, DeleteOptions::default())
            .await
    } else {
        service
            .delete_media_by_path(&actor, raw, None, DeleteOptions::default())
            .await
    };
    match result {
        Ok(_) => GalleryDelete::Deleted(message("Media deleted successfully")),
        Err(ServiceError::InvalidMediaId) => GalleryDelete::BadRequest(message("Invalid media ID")),
        Err(ServiceError::RateLimited(limited)) => GalleryDelete::RateLimited(
            message("Too many requests"),
            retry_after_secs(limited.retry_after),
        ),
        Err(ServiceError::InvalidPath(_)) => {
            GalleryDelete::BadRequest(message("Invalid media path"))
        }
        // The gallery answers 404 for media the caller may not delete.
        Err(ServiceError::MediaNotFound | ServiceError::Forbidden) => {
            GalleryDelete::NotFound(message("Media not found"))
        }
        Err(err) => match conflict_message(&err) {
            Some(text) => GalleryDelete::Conflict(message(&text)),
            None => failed(&err),
        },
    }
}

fn failed(err: &ServiceError) -> GalleryDelete {
    log_failure(err);
    GalleryDelete::Failed(message("Failed to delete media from database"))
}
