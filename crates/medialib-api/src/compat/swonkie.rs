//! The Swonkie media profile: `DELETE /media/{mediaId}` authenticated by the `X-API-ID` and
//! `X-API-KEY` headers, answering `{"success": true, "message": "Media deleted successfully"}`.
//!
//! A medialib API key `mlk_<id>_<secret>` is sent as `X-API-ID: <id>` and
//! `X-API-KEY: <secret>`; its tenant is the workspace. Media of another workspace is not found.
//! Previews and thumbnails go with the media.

use medialib_domain::service::delete::DeleteOptions;
use medialib_domain::{MediaService, ServiceError};
use poem_openapi::auth::ApiKey;
use poem_openapi::param::{Header, Path};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, SecurityScheme};

use super::CompatTags;
use super::{conflict_message, log_failure};
use crate::error::retry_after_secs;

/// Swonkie's delete route.
#[derive(Debug, Clone)]
pub struct SwonkieApi {
    pub(crate) service: MediaService,
}

/// The secret of a medialib API key in `X-API-KEY`; the key's public id goes in `X-API-ID`.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-API-KEY", key_in = "header")]
pub struct SwonkieApiKey(ApiKey);

/// `{"success", "message"}`.
#[derive(Debug, Clone, Object)]
pub struct SuccessBody {
    /// Whether the media was deleted.
    pub success: bool,
    /// What happened.
    pub message: String,
}

fn body(success: bool, message: &str) -> Json<SuccessBody> {
    Json(SuccessBody {
        success,
        message: message.to_owned(),
    })
}

/// Swonkie's answers.
#[derive(Debug, ApiResponse)]
pub enum SwonkieDelete {
    /// `{"success": true, "message": "Media deleted successfully"}`.
    #[oai(status = 200)]
    Deleted(Json<SuccessBody>),
    /// Missing or unknown `X-API-ID` / `X-API-KEY`.
    #[oai(status = 401)]
    Unauthorized(Json<SuccessBody>),
    /// The key's role may not delete media (a viewer key).
    #[oai(status = 403)]
    Forbidden(Json<SuccessBody>),
    /// No such media in the key's workspace.
    #[oai(status = 404)]
    NotFound(Json<SuccessBody>),
    /// The media is under legal hold, or recorded as used by posts (medialib's addition).
    #[oai(status = 409)]
    Conflict(Json<SuccessBody>),
    /// `{"success": false, "message": "Too many requests"}`: the key's budget of deletes is spent (medialib's addition); retry after
    /// `Retry-After` seconds.
    #[oai(status = 429)]
    RateLimited(Json<SuccessBody>, #[oai(header = "Retry-After")] u64),
    /// The database failed; nothing was changed.
    #[oai(status = 500)]
    Failed(Json<SuccessBody>),
}

#[OpenApi(tag = "CompatTags::CompatSwonkie")]
impl SwonkieApi {
    /// Delete a media (Swonkie)
    ///
    /// Deletes the media and its previews and thumbnails from the workspace's library, durably.
    /// Media that applications recorded as used (`POST /v1/media/{id}/references`, e.g. by a
    /// scheduled post) is refused with 409 instead of silently breaking the post.
    #[oai(
        path = "/media/:media_id",
        method = "delete",
        operation_id = "swonkie_delete_media"
    )]
    async fn swonkie_delete_media(
        &self,
        /// The media id.
        media_id: Path<String>,
        api_key: SwonkieApiKey,
        /// The public id of the API key whose secret is in `X-API-KEY` (401 without it).
        #[oai(name = "X-API-ID")]
        api_id: Header<Option<String>>,
    ) -> SwonkieDelete {
        let Some(id) = api_id.0 else {
            return SwonkieDelete::Unauthorized(body(false, "Unauthorized"));
        };
        let secret = api_key.0.key;
        let token = format!("mlk_{id}_{secret}");
        let actor = match self.service.authenticate(&token).await {
            Ok(actor) => actor,
            Err(ServiceError::Unauthorized) => {
                return SwonkieDelete::Unauthorized(body(false, "Unauthorized"))
            }
            Err(err) => {
                log_failure(&err);
                return SwonkieDelete::Failed(body(false, "Failed to delete media"));
            }
        };
        match self
            .service
            .delete_media(&actor, &media_id.0, DeleteOptions::default())
            .await
        {
            Ok(_) => SwonkieDelete::Deleted(body(true, "Media deleted successfully")),
            Err(ServiceError::MediaNotFound | ServiceError::InvalidMediaId) => {
                SwonkieDelete::NotFound(body(false, "Media not found"))
            }
            Err(ServiceError::RateLimited(limited)) => SwonkieDelete::RateLimited(
                body(false, "Too many requests"),
                retry_after_secs(limited.retry_after),
            ),
            Err(ServiceError::Forbidden) => SwonkieDelete::Forbidden(body(
                false,
                "You do not have permission to delete this media",
            )),
            Err(err) => match conflict_message(&err) {
                Some(text) => SwonkieDelete::Conflict(body(false, &text)),
                None => {
                    log_failure(&err);
                    SwonkieDelete::Failed(body(false, "Failed to delete media"))
                }
            },
        }
    }
}
