//! Errors of the ports and of the use cases.
//!
//! Each port has one enum whose variants are what a caller can act on; the use cases report
//! [`ServiceError`], which the API crate maps to a status and a stable `code` in one place.
//! Display texts are lowercase and name only this layer's failure; causes travel in `#[source]`.

use std::error::Error as StdError;

/// A boxed error from an adapter's library, kept for logs and never shown to clients.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// What a [`crate::MediaRepo`] call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepoError {
    /// No live row matched (including one a concurrent call removed first).
    #[error("record not found")]
    NotFound,
    /// A uniqueness rule was violated (for example a media path taken by another row).
    #[error("record conflicts with an existing one")]
    Conflict,
    /// The domain's rules refused the change when judged against the locked row
    /// ([`crate::service::verdict`]); nothing was changed. The adapter passes the refusal on
    /// and never makes one of its own ([`crate::Refusal::NotFound`] arrives as
    /// [`RepoError::NotFound`]).
    #[error(transparent)]
    Refused(crate::model::Refusal),
    /// The database could not be reached or timed out; the call may succeed when retried.
    #[error("database unavailable")]
    Unavailable(#[source] BoxError),
    /// Any other database failure.
    #[error("database failure")]
    Backend(#[source] BoxError),
}

/// What a [`crate::BlobStore`] call can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// The object does not exist.
    #[error("blob not found")]
    NotFound,
    /// The body given to `put` ended with an error of its own (for example it grew past the
    /// upload limit); nothing was stored.
    #[error("upload body failed")]
    Body(#[source] BoxError),
    /// The store could not be reached, timed out or refused the call.
    #[error("blob store unavailable")]
    Unavailable(#[source] BoxError),
    /// Any other store failure.
    #[error("blob store failure")]
    Backend(#[source] BoxError),
}

/// The errors every use case reports; the API maps each variant to one status and code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The credentials are missing, unknown or revoked.
    #[error("unauthorized")]
    Unauthorized,
    /// The caller named a tenant other than its own.
    #[error("tenant mismatch")]
    TenantMismatch,
    /// The media does not exist or the caller cannot see it.
    #[error("media not found")]
    MediaNotFound,
    /// Some other named resource (tenant, key, grant, community copy) does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The caller can see the resource but may not do this.
    #[error("forbidden")]
    Forbidden,
    /// A media id that is not a positive 64-bit integer.
    #[error("invalid media id")]
    InvalidMediaId,
    /// A media path that breaks the path rules.
    #[error("invalid path: {0}")]
    InvalidPath(&'static str),
    /// Some other invalid input; `code` is the stable error code.
    #[error("{message}")]
    Invalid {
        /// Stable snake_case code.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// The path is already taken by another media item of the owner.
    #[error("path conflict")]
    PathConflict,
    /// The resource is in a state that forbids the call (`code` says which).
    #[error("{message}")]
    Conflict {
        /// Stable snake_case code.
        code: &'static str,
        /// Human-readable explanation.
        message: String,
    },
    /// The media is under legal holds; only removing them allows the call.
    #[error("media is held")]
    MediaHeld(Vec<crate::model::Hold>),
    /// Applications recorded that they use the media; `force` overrides.
    #[error("media is in use")]
    MediaInUse(Vec<crate::model::RefName>),
    /// The media is no longer the revision the request's `If-Match` names.
    #[error("precondition failed")]
    PreconditionFailed,
    /// The changes after the cursor are older than the feed keeps them.
    #[error("cursor expired")]
    CursorExpired,
    /// The upload is larger than the configured limit.
    #[error("payload too large")]
    PayloadTooLarge {
        /// The configured limit in bytes.
        limit: u64,
    },
    /// The caller spent its budget of deletes or uploads; nothing was changed.
    #[error("rate limited")]
    RateLimited(crate::ports::RateLimited),
    /// The upload body could not be read from the client.
    #[error("upload body failed")]
    UploadBody(#[source] BoxError),
    /// The blob store failed where the call cannot proceed without it (uploads, downloads).
    #[error("storage unavailable")]
    StorageUnavailable(#[source] BlobError),
    /// The database failed; nothing was changed.
    #[error("repository failure")]
    Repo(#[source] RepoError),
}

impl From<RepoError> for ServiceError {
    fn from(err: RepoError) -> Self {
        match err {
            RepoError::Refused(refusal) => refusal.into(),
            other => ServiceError::Repo(other),
        }
    }
}

impl From<crate::model::Refusal> for RepoError {
    fn from(refusal: crate::model::Refusal) -> Self {
        match refusal {
            crate::model::Refusal::NotFound => RepoError::NotFound,
            other => RepoError::Refused(other),
        }
    }
}

impl From<crate::model::Refusal> for ServiceError {
    fn from(refusal: crate::model::Refusal) -> Self {
        use crate::model::Refusal;
        match refusal {
            Refusal::NotFound => ServiceError::MediaNotFound,
            Refusal::Forbidden => ServiceError::Forbidden,
            Refusal::Held(holds) => ServiceError::MediaHeld(holds),
            Refusal::InUse(refs) => ServiceError::MediaInUse(refs),
            Refusal::PreconditionFailed => ServiceError::PreconditionFailed,
        }
    }
}

/// Why a [`crate::ports::Thumbnailer`] could not render an image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The image is larger than the decoding limits (a decompression bomb, or just huge).
    #[error("image exceeds the decoding limits")]
    TooLarge,
    /// The bytes are not a decodable image of the declared kind.
    #[error("image could not be decoded")]
    Corrupt(#[source] BoxError),
}

/// An error and its sources on one line.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
