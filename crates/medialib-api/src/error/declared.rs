//! The error responses one operation declares in the spec.
//!
//! Every handler answers errors as an [`ApiError`]; its signature names the subset of them
//! the operation can return as `Errors<{ BASE | NOT_FOUND }>`, so the spec lists only those
//! for that operation (a generated client gets no 416 on a DELETE). An answer outside the
//! declared set is a bug in the declaration: debug builds panic on it (every end-to-end test
//! checks the declarations that way), release builds log it and answer it unchanged.

use medialib_domain::ServiceError;
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaResponses, Registry};
use poem_openapi::ApiResponse;

use super::ApiError;

/// `400`: a parameter or body that cannot be used.
pub const BAD_REQUEST: u16 = 1;
/// `401`: missing, invalid or revoked credentials.
pub const UNAUTHORIZED: u16 = 1 << 1;
/// `403`: not allowed for this caller, or another tenant named.
pub const FORBIDDEN: u16 = 1 << 2;
/// `404`: no such resource for this caller.
pub const NOT_FOUND: u16 = 1 << 3;
/// `409`: the resource's state forbids it.
pub const CONFLICT: u16 = 1 << 4;
/// `413`: the upload is too large.
pub const PAYLOAD_TOO_LARGE: u16 = 1 << 5;
/// `415`: a body of another content type than the operation takes.
pub const UNSUPPORTED_MEDIA_TYPE: u16 = 1 << 6;
/// `416`: the range cannot be served.
pub const RANGE_NOT_SATISFIABLE: u16 = 1 << 7;
/// `412`: the `If-Match` names another revision than the current one.
pub const PRECONDITION_FAILED: u16 = 1 << 11;
/// `410`: the cursor is older than what is kept.
pub const GONE: u16 = 1 << 12;
/// `429`: the caller spent its budget of deletes or uploads.
pub const RATE_LIMITED: u16 = 1 << 10;
/// `500`: the server failed.
pub const INTERNAL: u16 = 1 << 8;
/// `503`: the database or the store is down.
pub const UNAVAILABLE: u16 = 1 << 9;

/// What every authenticated operation can answer: a bad parameter, no valid credentials,
/// a caller not allowed (a role, or a `tenant` naming another tenant), a failure.
pub const BASE: u16 = BAD_REQUEST | UNAUTHORIZED | FORBIDDEN | INTERNAL | UNAVAILABLE;

/// [`BASE`] plus `413` (a body over `max_json_bytes`) and `415`, for operations that take a
/// JSON body.
pub const JSON_BODY: u16 = BASE | PAYLOAD_TOO_LARGE | UNSUPPORTED_MEDIA_TYPE;

/// The bit of a status in a declared set.
const fn bit(status: u16) -> u16 {
    match status {
        400 => BAD_REQUEST,
        401 => UNAUTHORIZED,
        403 => FORBIDDEN,
        404 => NOT_FOUND,
        409 => CONFLICT,
        410 => GONE,
        412 => PRECONDITION_FAILED,
        413 => PAYLOAD_TOO_LARGE,
        415 => UNSUPPORTED_MEDIA_TYPE,
        416 => RANGE_NOT_SATISFIABLE,
        429 => RATE_LIMITED,
        500 => INTERNAL,
        503 => UNAVAILABLE,
        _ => 0,
    }
}

/// The errors of an operation that declares the statuses in `S`.
#[derive(Debug)]
pub struct Errors<const S: u16>(pub ApiError);

impl<const S: u16> Errors<S> {
    /// Whether `status` is one of the declared statuses.
    pub const fn declares(status: u16) -> bool {
        S & bit(status) != 0
    }
}

impl<const S: u16> ApiResponse for Errors<S> {
    fn meta() -> MetaResponses {
        let mut meta = ApiError::meta();
        meta.responses
            .retain(|response| response.status.is_some_and(Self::declares));
        meta
    }

    fn register(registry: &mut Registry) {
        ApiError::register(registry);
    }
}

impl<const S: u16> IntoResponse for Errors<S> {
    fn into_response(self) -> Response {
        let status = self.0.status();
        if !Self::declares(status) {
            let (_, code) = self.0.status_and_code();
            debug_assert!(false, "undeclared {status} {code} answered");
            tracing::error!(status, code, "an operation answered an undeclared status");
        }
        self.0.into_response()
    }
}

impl<const S: u16> From<Errors<S>> for poem::Error {
    fn from(err: Errors<S>) -> Self {
        poem::Error::from_response(err.into_response())
    }
}

impl<const S: u16> From<ApiError> for Errors<S> {
    fn from(err: ApiError) -> Self {
        Self(err)
    }
}

impl<const S: u16> From<ServiceError> for Errors<S> {
    fn from(err: ServiceError) -> Self {
        Self(err.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_lists_only_the_declared_statuses() {
        let statuses: Vec<_> = Errors::<{ BASE | NOT_FOUND }>::meta()
            .responses
            .iter()
            .filter_map(|response| response.status)
            .collect();
        assert_eq!(statuses, vec![400, 401, 403, 404, 500, 503]);
    }

    #[test]
    fn every_api_error_status_has_a_bit() {
        for response in ApiError::meta().responses {
            let status = response.status.expect("a fixed status");
            assert_ne!(bit(status), 0, "{status} has no bit");
        }
    }
}
