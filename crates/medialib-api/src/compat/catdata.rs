//! The Cat Data profile: `DELETE /api/image/{id}` with a bearer JWT (or API key), answering 204
//! with an empty body. Unlike the original, an image whose file is already gone is deleted
//! (204), not a 500, and callers need a role that may delete the image.

use medialib_domain::service::delete::DeleteOptions;
use medialib_domain::{MediaService, ServiceError};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::CompatTags;
use super::{conflict_message, error_text, log_failure, ErrorText};
use crate::error::retry_after_secs;
use crate::security::ApiKeyAuth;

/// Cat Data's delete route.
#[derive(Debug, Clone)]
pub struct CatdataApi {
    pub(crate) service: MediaService,
}

/// Cat Data's answers.
#[derive(Debug, ApiResponse)]
pub enum CatdataDelete {
    /// Deleted; no body.
    #[oai(status = 204)]
    Deleted,
    /// `{"error": "Unauthorized"}`: the token is missing or invalid.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorText>),
    /// The caller may see the image but not delete it (medialib's addition).
    #[oai(status = 403)]
    Forbidden(Json<ErrorText>),
    /// No image with this id.
    #[oai(status = 404)]
    NotFound(Json<ErrorText>),
    /// The image is under legal hold or in use (medialib's addition).
    #[oai(status = 409)]
    Conflict(Json<ErrorText>),
    /// `{"error": "Too Many Requests"}`: the key's budget of deletes is spent (medialib's addition); retry after
    /// `Retry-After` seconds.
    #[oai(status = 429)]
    RateLimited(Json<ErrorText>, #[oai(header = "Retry-After")] u64),
    /// The database failed; nothing was changed.
    #[oai(status = 500)]
    Failed(Json<ErrorText>),
}

#[OpenApi(tag = "CompatTags::CompatCatdata")]
impl CatdataApi {
    /// Delete an image (Cat Data)
    ///
    /// Removes the image's database record and then its file, durably. 204 with no body.
    #[oai(
        path = "/api/image/:id",
        method = "delete",
        operation_id = "catdata_delete_image"
    )]
    async fn catdata_delete_image(
        &self,
        auth: ApiKeyAuth,
        /// The image id.
        id: Path<String>,
    ) -> CatdataDelete {
        let actor = match self.service.authenticate(&auth.0.token).await {
            Ok(actor) => actor,
            Err(ServiceError::Unauthorized) => {
                return CatdataDelete::Unauthorized(error_text("Unauthorized"))
            }
            Err(err) => return failed(&err),
        };
        match self
            .service
            .delete_media(&actor, &id.0, DeleteOptions::default())
            .await
        {
            Ok(_) => CatdataDelete::Deleted,
            Err(ServiceError::MediaNotFound | ServiceError::InvalidMediaId) => {
                CatdataDelete::NotFound(error_text("Not Found"))
            }
            Err(ServiceError::Forbidden) => CatdataDelete::Forbidden(error_text("Forbidden")),
            Err(ServiceError::RateLimited(limited)) => CatdataDelete::RateLimited(
                error_text("Too Many Requests"),
                retry_after_secs(limited.retry_after),
            ),
            Err(err) => match conflict_message(&err) {
                Some(text) => CatdataDelete::Conflict(error_text(&text)),
                None => failed(&err),
            },
        }
    }
}

fn failed(err: &ServiceError) -> CatdataDelete {
    log_failure(err);
    CatdataDelete::Failed(error_text("Internal Server Error"))
}
