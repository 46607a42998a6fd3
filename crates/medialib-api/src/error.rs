//! Domain errors → HTTP. The one place that decides a status and a stable `code`.
//!
//! Every error body is `{"code": "...", "message": "..."}`. Codes are snake_case and part of
//! the contract. Messages are for people; they never carry SQL, driver text, file paths, blob
//! keys or bucket names: 5xx answers have a fixed text and the cause goes to the log, once,
//! here. Errors produced by the framework itself (bad parameter, bad JSON, unknown route,
//! wrong method, missing credentials) get the same body through [`framework_error`].

pub mod declared;

pub use declared::Errors;
use medialib_domain::{RepoError, ServiceError};
use poem::http::StatusCode;
use poem::IntoResponse;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

/// The body of every error response.
#[derive(Debug, Clone, Object, serde::Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `media_not_found`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// With `media_held`: the holds that keep the media.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default)]
    pub holds: Option<Vec<crate::schema::HoldDto>>,
    /// With `media_in_use`: the references to the media.
    #[oai(skip_serializing_if_is_none)]
    #[serde(default)]
    pub references: Option<Vec<String>>,
}

/// The error responses of the API.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed (`invalid_media_id`, `invalid_path`, `invalid_parameter`, …).
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Missing, invalid or revoked API key (`unauthorized`).
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>, #[oai(header = "WWW-Authenticate")] String),
    /// The caller may not do this (`forbidden`, `tenant_mismatch`).
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// It does not exist, or not for this caller (`media_not_found`, …).
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The resource's state forbids it (`path_conflict`, `already_shared`, …).
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The cursor is older than the changes the feed keeps (`cursor_expired`): list the
    /// media again and follow the feed from a new cursor.
    #[oai(status = 410)]
    Gone(Json<ErrorBody>),
    /// The media changed since the revision the `If-Match` names; nothing was changed
    /// (`precondition_failed`). Read it again for its current `etag`.
    #[oai(status = 412)]
    PreconditionFailed(Json<ErrorBody>),
    /// The upload is larger than `max_upload_bytes` (`payload_too_large`).
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The body is not of the content type the operation takes (`unsupported_media_type`).
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// The `Range` cannot be served (`range_not_satisfiable`).
    #[oai(status = 416)]
    RangeNotSatisfiable(Json<ErrorBody>, #[oai(header = "Content-Range")] String),
    /// The caller spent its budget of deletes or uploads; nothing was changed
    /// (`rate_limited`). `Retry-After` and `RateLimit-Reset` say in how many seconds the
    /// request can pass; `RateLimit-Limit` is the budget's size in items.
    #[oai(status = 429)]
    TooManyRequests(
        Json<ErrorBody>,
        #[oai(header = "Retry-After")] u64,
        #[oai(header = "RateLimit-Limit")] u32,
        #[oai(header = "RateLimit-Remaining")] u32,
        #[oai(header = "RateLimit-Reset")] u64,
    ),
    /// The server failed; nothing was changed (`internal_error`).
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// A dependency is down (`storage_unavailable`, `database_unavailable`).
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

pub(crate) fn body(code: &str, message: impl Into<String>) -> Json<ErrorBody> {
    Json(ErrorBody {
        code: code.to_owned(),
        message: message.into(),
        holds: None,
        references: None,
    })
}

impl ApiError {
    /// 400 with a code.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::BadRequest(body(code, message))
    }

    /// 401 `unauthorized` with the Bearer challenge.
    pub fn unauthorized() -> Self {
        Self::Unauthorized(
            body("unauthorized", "Missing, invalid or revoked API key"),
            "Bearer".to_owned(),
        )
    }

    /// 404 with a code.
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::NotFound(body(code, message))
    }

    /// 416 with the size the range must fit in.
    pub fn range_not_satisfiable(size: u64) -> Self {
        Self::RangeNotSatisfiable(
            body(
                "range_not_satisfiable",
                format!("The range does not fit the {size} bytes of the content"),
            ),
            format!("bytes */{size}"),
        )
    }

    /// 429 `rate_limited` with the seconds to wait (rounded up, at least one).
    pub fn rate_limited(limited: medialib_domain::RateLimited) -> Self {
        let what = match limited.budget {
            medialib_domain::Budget::Deletes => "deletes",
            medialib_domain::Budget::Uploads => "uploads",
        };
        let wait = retry_after_secs(limited.retry_after);
        Self::TooManyRequests(
            body(
                "rate_limited",
                format!("Too many {what}; retry in {wait} s"),
            ),
            wait,
            limited.limit,
            0,
            wait,
        )
    }

    /// 500 with the fixed text.
    pub fn internal() -> Self {
        Self::Internal(body("internal_error", "Internal server error"))
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Unauthorized => Self::unauthorized(),
            ServiceError::TenantMismatch => Self::Forbidden(body(
                "tenant_mismatch",
                "The tenant parameter names another tenant than the API key's",
            )),
            ServiceError::MediaNotFound => Self::not_found("media_not_found", "Media not found"),
            ServiceError::NotFound(what) => {
                let code = format!("{}_not_found", what.replace(' ', "_"));
                let mut message = what.to_owned();
                message[..1].make_ascii_uppercase();
                Self::not_found(&code, format!("{message} not found"))
            }
            ServiceError::Forbidden => {
                Self::Forbidden(body("forbidden", "You do not have permission to do this"))
            }
            ServiceError::InvalidMediaId => {
                Self::bad_request("invalid_media_id", "Invalid media ID")
            }
            ServiceError::InvalidPath(why) => {
                Self::bad_request("invalid_path", format!("Invalid path: {why}"))
            }
            ServiceError::Invalid { code, message } => Self::bad_request(code, message),
            ServiceError::PathConflict => Self::Conflict(body(
                "path_conflict",
                "A media item already exists at this path",
            )),
            ServiceError::Conflict { code, message } => Self::Conflict(body(code, message)),
            ServiceError::MediaHeld(holds) => {
                let mut json = body(
                    "media_held",
                    "The media is under legal hold; only removing the holds allows this",
                );
                json.0.holds = Some(holds.into_iter().map(Into::into).collect());
                Self::Conflict(json)
            }
            ServiceError::MediaInUse(references) => {
                let mut json = body(
                    "media_in_use",
                    "The media is in use; pass force=true to proceed and break the references",
                );
                json.0.references = Some(
                    references
                        .iter()
                        .map(|name| name.as_str().to_owned())
                        .collect(),
                );
                Self::Conflict(json)
            }
            ServiceError::CursorExpired => Self::Gone(body(
                "cursor_expired",
                "The changes after this cursor are no longer kept; list the media again and \
                 follow the feed from the cursor GET /v1/changes answers without one",
            )),
            ServiceError::PreconditionFailed => Self::PreconditionFailed(body(
                "precondition_failed",
                "The media changed since the revision If-Match names; nothing was changed",
            )),
            ServiceError::PayloadTooLarge { limit } => Self::PayloadTooLarge(body(
                "payload_too_large",
                format!("Uploads are limited to {limit} bytes"),
            )),
            ServiceError::RateLimited(limited) => Self::rate_limited(limited),
            ServiceError::UploadBody(source) => {
                tracing::warn!(
                    error = &*source as &dyn std::error::Error,
                    "upload body failed"
                );
                Self::bad_request("invalid_body", "The request body could not be read")
            }
            ServiceError::StorageUnavailable(source) => {
                failure("blob_store", "unavailable");
                tracing::error!(
                    error = &source as &dyn std::error::Error,
                    "blob store failed"
                );
                Self::Unavailable(body(
                    "storage_unavailable",
                    "Storage is unavailable; nothing was changed",
                ))
            }
            ServiceError::Repo(RepoError::Unavailable(source)) => {
                failure("database", "unavailable");
                tracing::error!(
                    error = &*source as &dyn std::error::Error,
                    "database unavailable"
                );
                Self::Unavailable(body(
                    "database_unavailable",
                    "The database is unavailable; nothing was changed",
                ))
            }
            ServiceError::Repo(source) => {
                failure("database", "failure");
                tracing::error!(
                    error = &source as &dyn std::error::Error,
                    "database failure"
                );
                Self::internal()
            }
            other => {
                tracing::error!(error = &other as &dyn std::error::Error, "unmapped error");
                Self::internal()
            }
        }
    }
}

/// Counts a request that failed because a dependency did (`medialib_dependency_errors_total`).
fn failure(dependency: &'static str, kind: &'static str) {
    metrics::counter!(
        "medialib_dependency_errors_total",
        "dependency" => dependency,
        "kind" => kind
    )
    .increment(1);
}

/// An answer of the HTTP layer that no operation declares (405, 431), in the error body.
pub(crate) fn framework_body(
    status: StatusCode,
    code: &str,
    message: impl Into<String>,
) -> poem::Response {
    (status, body(code, message)).into_response()
}

/// Whole seconds to wait: rounded up, so that a client waiting that long is let through.
pub fn retry_after_secs(wait: std::time::Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

/// Turns an error raised by poem or poem-openapi (not by a handler) into the JSON error body.
pub fn framework_error(err: poem::Error) -> poem::Response {
    use poem::error::{MethodNotAllowedError, NotFoundError};
    use poem_openapi::error::{
        AuthorizationError, ContentTypeError, ParseParamError, ParsePathError,
        ParseRequestPayloadError,
    };
    if err.is_from_response() {
        return err.into_response();
    }
    // Path parameters that fail to parse are named by position (`param0`); in `/v1` the first
    // one is always the media id. Media ids are declared as integers from 1 and limits as 1 to
    // 1000: a value outside them gets the code the service uses for it.
    let parameter = err
        .downcast_ref::<ParseParamError>()
        .map(|e| e.name)
        .or_else(|| err.downcast_ref::<ParsePathError>().map(|e| e.name));
    let api = if err.is::<AuthorizationError>() {
        ApiError::unauthorized()
    } else if matches!(parameter, Some("id" | "param0")) {
        ApiError::bad_request("invalid_media_id", "Invalid media ID")
    } else if parameter == Some("limit") {
        ApiError::bad_request("invalid_limit", "limit must be 1 to 1000")
    } else if parameter.is_some() {
        ApiError::bad_request("invalid_parameter", err.to_string())
    } else if err.is::<poem::error::ParsePathError>() {
        // The router could not percent-decode a path segment to UTF-8.
        ApiError::bad_request("invalid_path", "Invalid path: not UTF-8")
    } else if err.is::<ParseRequestPayloadError>() {
        ApiError::bad_request("invalid_body", err.to_string())
    } else if err.is::<NotFoundError>() {
        ApiError::not_found("route_not_found", "No such route")
    } else if err.is::<MethodNotAllowedError>() {
        return framework_body(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed on this route",
        );
    } else if err.is::<ContentTypeError>() {
        ApiError::UnsupportedMediaType(body("unsupported_media_type", err.to_string()))
    } else if err.status().is_server_error() {
        tracing::error!(error = %err, "request failed");
        ApiError::internal()
    } else {
        let status = err.status();
        let code = status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
            .replace(' ', "_");
        return (status, body(&code, err.to_string())).into_response();
    };
    api.into_response()
}

impl ApiError {
    /// The status this error answers with.
    pub fn status(&self) -> u16 {
        self.status_and_body().0
    }

    /// The status and code this error answers with (used per item in bulk receipts).
    pub fn status_and_code(&self) -> (u16, String) {
        let (status, Json(body)) = self.status_and_body();
        (status, body.code.clone())
    }

    fn status_and_body(&self) -> (u16, &Json<ErrorBody>) {
        match self {
            Self::BadRequest(b) => (400, b),
            Self::Unauthorized(b, _) => (401, b),
            Self::Forbidden(b) => (403, b),
            Self::NotFound(b) => (404, b),
            Self::Conflict(b) => (409, b),
            Self::Gone(b) => (410, b),
            Self::PreconditionFailed(b) => (412, b),
            Self::PayloadTooLarge(b) => (413, b),
            Self::UnsupportedMediaType(b) => (415, b),
            Self::RangeNotSatisfiable(b, _) => (416, b),
            Self::TooManyRequests(b, ..) => (429, b),
            Self::Internal(b) => (500, b),
            Self::Unavailable(b) => (503, b),
        }
    }
}
