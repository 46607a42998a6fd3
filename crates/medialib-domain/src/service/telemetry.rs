//! What the use cases count, through the `metrics` facade (like `tracing`, it records nothing
//! until the embedding process installs a recorder; the server installs a Prometheus one).
//! The names and labels are part of the operations contract (docs/operations.md).

use crate::error::ServiceError;
use crate::model::StorageState;
use crate::ports::Budget;

/// Media deletes that reached the delete transaction (or the trash), by outcome (`deleted`,
/// `trashed`, or why not) and storage state.
pub const DELETES: &str = "medialib_deletes_total";
/// Requests refused by a rate limit, by budget.
pub const RATE_LIMITED: &str = "medialib_rate_limited_total";
/// Blob deletions by result (`ok`, `failed`: left pending for the reaper).
pub const BLOB_DELETES: &str = "medialib_blob_deletes_total";
/// Webhook delivery attempts, by outcome (`delivered`, `retried`, `dead`).
pub const WEBHOOK_ATTEMPTS: &str = "medialib_webhook_attempts_total";
/// Delete job chunks worked, by the job's kind.
pub const JOB_CHUNKS: &str = "medialib_job_chunks_total";
/// Single deletes committed per shared transaction.
pub const GROUP_COMMIT_BATCH: &str = "medialib_group_commit_batch_size";

/// Counts a media item deleted or trashed.
pub(crate) fn deleted(storage: StorageState) {
    let (outcome, storage) = match storage {
        StorageState::Purged => ("deleted", "purged"),
        StorageState::Pending => ("deleted", "pending"),
        StorageState::Trashed => ("trashed", "kept"),
    };
    metrics::counter!(DELETES, "outcome" => outcome, "storage" => storage).increment(1);
}

/// Counts a delete the transaction refused, or that failed with it.
pub(crate) fn refused(err: &ServiceError) {
    let outcome = match err {
        ServiceError::MediaHeld(_) => "held",
        ServiceError::MediaInUse(_) => "in_use",
        ServiceError::Forbidden => "forbidden",
        ServiceError::MediaNotFound => "not_found",
        _ => "failed",
    };
    metrics::counter!(DELETES, "outcome" => outcome, "storage" => "kept").increment(1);
}

/// Counts a request a rate limit refused.
pub(crate) fn rate_limited(budget: Budget) {
    let budget = match budget {
        Budget::Deletes => "deletes",
        Budget::Uploads => "uploads",
    };
    metrics::counter!(RATE_LIMITED, "budget" => budget).increment(1);
}

/// Counts blob deletions.
pub(crate) fn blob_deletes(ok: usize, failed: usize) {
    if ok > 0 {
        metrics::counter!(BLOB_DELETES, "result" => "ok").increment(ok as u64);
    }
    if failed > 0 {
        metrics::counter!(BLOB_DELETES, "result" => "failed").increment(failed as u64);
    }
}

/// Records the size of a group commit's batch.
pub(crate) fn group_commit_batch(size: usize) {
    metrics::histogram!(GROUP_COMMIT_BATCH).record(size as f64);
}

/// Counts a webhook attempt by what follows it.
pub(crate) fn webhook_attempt(next: crate::model::DeliveryNext) {
    let outcome = match next {
        crate::model::DeliveryNext::Delivered => "delivered",
        crate::model::DeliveryNext::RetryAt(_) => "retried",
        crate::model::DeliveryNext::Dead => "dead",
    };
    metrics::counter!(WEBHOOK_ATTEMPTS, "outcome" => outcome).increment(1);
}

/// Counts a chunk of a delete job.
pub(crate) fn job_chunk(kind: crate::model::JobKind) {
    metrics::counter!(JOB_CHUNKS, "kind" => kind.as_str()).increment(1);
}
