//! Idempotency keys as the API uses them: a request claims its key, runs, and records its
//! answer (or releases the key when its answer is not one to replay).

use std::time::Duration;

use super::MediaService;
use crate::error::ServiceError;
use crate::model::*;

/// How long a running request holds its key. A process that dies mid-request leaves the key
/// held; a retry after this long runs again.
pub const IDEMPOTENCY_HOLD: Duration = Duration::from_secs(600);

impl MediaService {
    /// Claims `key` in `actor`'s tenant for a request that is about to run.
    ///
    /// # Errors
    /// `Repo` when the record cannot be read or written.
    pub async fn claim_idempotency_key(
        &self,
        actor: &Actor,
        key: &IdempotencyKey,
    ) -> Result<KeyClaim, ServiceError> {
        let now = self.clock.now();
        let terms = KeyTerms {
            tenant: actor.tenant_id,
            now,
            held_until: now + IDEMPOTENCY_HOLD,
            expires_at: now + self.config.idempotency_ttl,
        };
        Ok(self.repo.claim_idempotency_key(key, terms).await?)
    }

    /// Records the answer of the request that claimed `key`, to be replayed to requests with
    /// the same key and `fingerprint` for the configured time.
    ///
    /// # Errors
    /// `Repo` when the record cannot be written.
    pub async fn complete_idempotency_key(
        &self,
        actor: &Actor,
        key: &IdempotencyKey,
        fingerprint: &str,
        response: &StoredResponse,
    ) -> Result<(), ServiceError> {
        let expires_at = self.clock.now() + self.config.idempotency_ttl;
        Ok(self
            .repo
            .complete_idempotency_key(actor.tenant_id, key, fingerprint, response, expires_at)
            .await?)
    }

    /// Frees `key` after a request whose answer is not replayed (it changed nothing): a retry
    /// runs again.
    ///
    /// # Errors
    /// `Repo` when the record cannot be removed (the key then stays held until
    /// [`IDEMPOTENCY_HOLD`] has passed).
    pub async fn release_idempotency_key(
        &self,
        actor: &Actor,
        key: &IdempotencyKey,
    ) -> Result<(), ServiceError> {
        Ok(self
            .repo
            .release_idempotency_key(actor.tenant_id, key)
            .await?)
    }

    /// Forgets the idempotency records that expired; returns how many.
    ///
    /// # Errors
    /// `Repo`.
    pub async fn purge_idempotency_keys(&self) -> Result<u64, ServiceError> {
        Ok(self.repo.purge_idempotency_keys(self.clock.now()).await?)
    }
}
