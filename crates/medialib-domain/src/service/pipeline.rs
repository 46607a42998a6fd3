//! The delete pipeline: the one place where deletes are carried out.
//!
//! Every delete (by id, by path, bulk, by filter, trash purge and emptying, trash retention,
//! the reconciler's `--fix`, every compatibility profile) is judged by its use case and then
//! handed here as [`DeleteRequest`]s: the transaction of the service's [`crate::Deletions`]
//! (the repository, or group commit decorating it), the purge of the blobs after the commit, the
//! receipts, and the count of every outcome (`medialib_deletes_total`). What a delete means
//! beyond the database and the store (events, webhooks) attaches here, once.

use super::delete::receipt;
use super::{not_found_as_media, telemetry, MediaService};
use crate::error::ServiceError;
use crate::model::*;

impl MediaService {
    /// Carries out `requests` in one transaction, purges the blobs of those that were deleted,
    /// and answers one result per request, in order: its receipt, or why it was refused.
    ///
    /// # Errors
    /// `Repo` when the transaction failed; then nothing was deleted.
    pub(crate) async fn carry_out(
        &self,
        requests: Vec<DeleteRequest>,
    ) -> Result<Vec<Result<DeleteReceipt, ServiceError>>, ServiceError> {
        // The transaction: the repository's, or group commit decorating it.
        let outcomes = self.deletions.delete_requests(requests).await?;
        let keys: Vec<BlobKey> = outcomes
            .iter()
            .filter_map(|outcome| outcome.as_ref().ok())
            .flat_map(|outcome| outcome.pending.iter().cloned())
            .collect();
        let purge = self.purge(&keys).await;
        Ok(outcomes
            .into_iter()
            .map(|outcome| {
                let result = outcome
                    .map(|outcome| receipt(&outcome, &purge))
                    .map_err(not_found_as_media);
                match &result {
                    Ok(receipt) => telemetry::deleted(receipt.storage),
                    Err(err) => telemetry::refused(err),
                }
                result
            })
            .collect())
    }

    /// [`MediaService::carry_out`] of one request.
    pub(crate) async fn carry_out_one(
        &self,
        request: DeleteRequest,
    ) -> Result<DeleteReceipt, ServiceError> {
        self.carry_out(vec![request])
            .await?
            .pop()
            .unwrap_or(Err(ServiceError::MediaNotFound))
    }
}
