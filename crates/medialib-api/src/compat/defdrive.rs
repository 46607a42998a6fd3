//! The DefDrive profile: `DELETE /api/files/{id}` with a bearer JWT (or API key), owner only,
//! answering `{"message": "File deleted successfully"}` and `{"error": …}` otherwise.
//!
//! Only the file's owner may delete it: another user of the tenant gets 403 with DefDrive's
//! message (admins and grants do not override this rule here, as in DefDrive). Access grants
//! go in the same transaction as the file record, so a failure leaves nothing half-deleted.

use medialib_domain::{MediaService, ServiceError};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::CompatTags;
use super::{conflict_message, error_text, log_failure, message, ErrorText, MessageBody};
use crate::error::retry_after_secs;
use crate::security::ApiKeyAuth;

/// DefDrive's delete route.
#[derive(Debug, Clone)]
pub struct DefdriveApi {
    pub(crate) service: MediaService,
}

/// DefDrive's answers.
#[derive(Debug, ApiResponse)]
pub enum DefdriveDelete {
    /// `File deleted successfully`.
    #[oai(status = 200)]
    Deleted(Json<MessageBody>),
    /// `Invalid file ID`.
    #[oai(status = 400)]
    BadRequest(Json<ErrorText>),
    /// `User not authenticated`.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorText>),
    /// `You don't have permission to delete this file`.
    #[oai(status = 403)]
    Forbidden(Json<ErrorText>),
    /// `File not found`.
    #[oai(status = 404)]
    NotFound(Json<ErrorText>),
    /// The file is under legal hold or in use (medialib's addition).
    #[oai(status = 409)]
    Conflict(Json<ErrorText>),
    /// `Too many requests`: the key's budget of deletes is spent (medialib's addition); retry
    /// after `Retry-After` seconds.
    #[oai(status = 429)]
    RateLimited(Json<ErrorText>, #[oai(header = "Retry-After")] u64),
    /// `Failed to delete file record`; nothing was changed.
    #[oai(status = 500)]
    Failed(Json<ErrorText>),
}

#[OpenApi(tag = "CompatTags::CompatDefdrive")]
impl DefdriveApi {
    /// Delete a file (DefDrive)
    ///
    /// Owner only. Removes the file's access records and the file record in one transaction,
    /// then the stored file; the id is never reused.
    #[oai(
        path = "/api/files/:id",
        method = "delete",
        operation_id = "defdrive_delete_file"
    )]
    async fn defdrive_delete_file(
        &self,
        auth: ApiKeyAuth,
        /// The file id.
        id: Path<String>,
    ) -> DefdriveDelete {
        let actor = match self.service.authenticate(&auth.0.token).await {
            Ok(actor) => actor,
            Err(ServiceError::Unauthorized) => {
                return DefdriveDelete::Unauthorized(error_text("User not authenticated"))
            }
            Err(err) => return failed(&err),
        };
        match self.service.delete_own_media(&actor, &id.0).await {
            Ok(_) => DefdriveDelete::Deleted(message("File deleted successfully")),
            Err(ServiceError::InvalidMediaId) => {
                DefdriveDelete::BadRequest(error_text("Invalid file ID"))
            }
            Err(ServiceError::MediaNotFound) => {
                DefdriveDelete::NotFound(error_text("File not found"))
            }
            Err(ServiceError::Forbidden) => DefdriveDelete::Forbidden(error_text(
                "You don't have permission to delete this file",
            )),
            Err(ServiceError::RateLimited(limited)) => DefdriveDelete::RateLimited(
                error_text("Too many requests"),
                retry_after_secs(limited.retry_after),
            ),
            Err(err) => match conflict_message(&err) {
                Some(text) => DefdriveDelete::Conflict(error_text(&text)),
                None => failed(&err),
            },
        }
    }
}

fn failed(err: &ServiceError) -> DefdriveDelete {
    log_failure(err);
    DefdriveDelete::Failed(error_text("Failed to delete file record"))
}
