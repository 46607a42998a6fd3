//! Limits on every request, answered with the documented JSON error body: the size and number
//! of the request's headers (`431 headers_too_large`), the size of a JSON body (`413
//! payload_too_large`; uploads have their own limit) and the time a request may take until its
//! response starts (`503 request_timeout`).
//!
//! The HTTP server keeps a hard ceiling of its own above these (the server crate sets it);
//! between the two the answer is this module's JSON, past the ceiling a bare `431`.

use std::time::Duration;

use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Request, Response};

use crate::error::{framework_body, ApiError};

/// What a request may weigh and take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// The most bytes of request target and headers (names, values and their separators).
    pub max_header_bytes: usize,
    /// The most header lines.
    pub max_headers: usize,
    /// The largest JSON request body, in bytes.
    pub max_json_bytes: usize,
    /// The longest a request may take until its response starts, upload bodies included
    /// (a download's body streams after it). `None`: no limit.
    pub request_timeout: Option<Duration>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_header_bytes: 32 * 1024,
            max_headers: 100,
            max_json_bytes: 1024 * 1024,
            request_timeout: Some(Duration::from_secs(300)),
        }
    }
}

/// The bytes a request's target and headers take on the wire (`name: value\r\n`).
fn header_bytes(request: &Request) -> usize {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    request.headers().iter().fold(target, |sum, (name, value)| {
        sum + name.as_str().len() + value.len() + 4
    })
}

/// Reads a JSON body up to `limit` bytes (the handler would read it whole anyway), so that a
/// larger one, announced or chunked, is refused before it is buffered.
async fn json_within(mut request: Request, limit: usize) -> Result<Request, Response> {
    let json = request
        .content_type()
        .is_some_and(|kind| kind.starts_with("application/json") || kind.contains("+json"));
    if !json {
        return Ok(request);
    }
    let too_large = || {
        framework_body(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("JSON bodies are limited to {limit} bytes"),
        )
    };
    let announced = request
        .header(poem::http::header::CONTENT_LENGTH)
        .and_then(|length| length.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    match request.take_body().into_bytes_limit(limit).await {
        Ok(bytes) => {
            request.set_body(bytes);
            Ok(request)
        }
        Err(poem::error::ReadBodyError::PayloadTooLarge) => Err(too_large()),
        Err(err) => Err(framework_body(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("The request body could not be read: {err}"),
        )),
    }
}

/// Refuses oversized headers and JSON bodies, then runs the request under the timeout.
pub(crate) async fn enforce<E: Endpoint>(
    next: E,
    request: Request,
    limits: HttpLimits,
) -> poem::Result<Response> {
    if request.headers().len() > limits.max_headers
        || header_bytes(&request) > limits.max_header_bytes
    {
        return Ok(framework_body(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "Request headers are limited to {} lines and {} bytes",
                limits.max_headers, limits.max_header_bytes
            ),
        ));
    }
    // The JSON body is read within the request's time, as the handler would read it.
    let handled = async {
        match json_within(request, limits.max_json_bytes).await {
            Ok(request) => next.call(request).await.map(IntoResponse::into_response),
            Err(refused) => Ok(refused),
        }
    };
    let Some(timeout) = limits.request_timeout else {
        return handled.await;
    };
    match tokio::time::timeout(timeout, handled).await {
        Ok(result) => result.map(IntoResponse::into_response),
        Err(_) => {
            tracing::warn!(timeout_secs = timeout.as_secs(), "request timed out");
            // Dropping the handler is what a client disconnecting does: a delete that had
            // committed stays done (its purge is pending), an upload left half-written is
            // reclaimed by the reaper.
            Ok(ApiError::Unavailable(crate::error::body(
                "request_timeout",
                format!(
                    "The request did not finish within {} s; it may or may not have taken effect",
                    timeout.as_secs()
                ),
            ))
            .into_response())
        }
    }
}
