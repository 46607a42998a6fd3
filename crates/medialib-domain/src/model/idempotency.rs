//! Idempotency keys: a client's name for one attempt at a non-idempotent request, so that a
//! retry of it (after a dropped connection, a timeout) answers what the first attempt did
//! instead of doing it twice.

use time::OffsetDateTime;

use super::TenantId;
use crate::error::ServiceError;

/// Longest idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// A client's idempotency key: 1 to 255 visible ASCII characters (a UUID, say).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses an `Idempotency-Key` header value.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] with code `invalid_idempotency_key`.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        let ok = !raw.is_empty()
            && raw.len() <= MAX_IDEMPOTENCY_KEY
            && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ServiceError::Invalid {
                code: "invalid_idempotency_key",
                message: format!(
                    "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
                ),
            })
        }
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The answer of a completed request, kept to be replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status.
    pub status: u16,
    /// Its `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body.
    pub body: String,
}

/// What a request found when it claimed its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyClaim {
    /// The key is new (or its record expired): this request runs, holding the key.
    Fresh,
    /// Another request with this key is running.
    InFlight,
    /// A request with this key completed: its fingerprint and its answer.
    Completed {
        /// The fingerprint of the request that completed.
        fingerprint: String,
        /// Its answer.
        response: StoredResponse,
    },
}

/// A claim's times: a running request holds its key until `held_until` (a process that died
/// mid-request frees it then), and a completed answer is kept until `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTerms {
    /// The key's tenant.
    pub tenant: TenantId,
    /// Now.
    pub now: OffsetDateTime,
    /// Until when a running request holds the key.
    pub held_until: OffsetDateTime,
    /// Until when the record is kept.
    pub expires_at: OffsetDateTime,
}
