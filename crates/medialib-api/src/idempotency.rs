//! `Idempotency-Key` on the POST operations of `/v1`: a retry of a request (after a dropped
//! connection, a timeout) answers what the first attempt answered instead of doing it twice.
//!
//! A request with a key claims it in its tenant before it runs. While it runs, another request
//! with the key gets `409 idempotency_key_in_use`. A success (2xx) is recorded with the
//! request's fingerprint (method, path and query, `Content-Type`, the SHA-256 of the body) and
//! replayed, with `Idempotency-Replayed: true`, to a later request with the same key and
//! fingerprint for the configured time; the same key with another request is
//! `422 idempotency_key_reused`. Any other answer changed nothing, so it is not recorded and a
//! retry runs again. Requests without valid credentials run as they would without a key.

use std::sync::{Arc, Mutex};
use std::task::Poll;

use futures_util::StreamExt;
use medialib_domain::{
    Actor, IdempotencyKey, KeyClaim, MediaService, ServiceError, StoredResponse,
};
use poem::http::{header, HeaderValue, Method, StatusCode};
use poem::{Body, Endpoint, IntoResponse, Request, Response};
use sha2::{Digest, Sha256};

use crate::error::{body, ApiError};

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The header of a replayed answer.
pub const REPLAYED: &str = "idempotency-replayed";

/// A request's fingerprint as its body streams through: complete once the body was read to
/// its end.
struct Fingerprint {
    hash: Sha256,
    complete: bool,
}

impl Fingerprint {
    fn of_head(request: &Request) -> Self {
        let mut hash = Sha256::new();
        hash.update(request.method().as_str());
        hash.update([0]);
        hash.update(
            request
                .uri()
                .path_and_query()
                .map_or("", |path| path.as_str()),
        );
        hash.update([0]);
        hash.update(
            request
                .headers()
                .get(header::CONTENT_TYPE)
                .map_or(&b""[..], HeaderValue::as_bytes),
        );
        hash.update([0]);
        Self {
            hash,
            complete: false,
        }
    }

    fn hex(&self) -> Option<String> {
        self.complete.then(|| {
            self.hash
                .clone()
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
    }
}

/// `body` with every chunk added to `fingerprint`, marked complete at its end.
fn fingerprinted(body: Body, fingerprint: Arc<Mutex<Fingerprint>>) -> Body {
    let at_end = Arc::clone(&fingerprint);
    let chunks = body.into_bytes_stream().map(move |chunk| {
        if let Ok(bytes) = &chunk {
            if let Ok(mut print) = fingerprint.lock() {
                print.hash.update(bytes);
            }
        }
        chunk
    });
    let end = futures_util::stream::poll_fn(move |_| {
        if let Ok(mut print) = at_end.lock() {
            print.complete = true;
        }
        Poll::Ready(None)
    });
    Body::from_bytes_stream(chunks.chain(end))
}

/// The API's error body with a status of its own (409 and 422 have no `ApiError` variant of
/// their own here: only this middleware answers them).
fn error(code: &str, status: StatusCode, message: &str) -> Response {
    (status, body(code, message)).into_response()
}

/// The caller of `request`, if its bearer credentials are valid.
async fn caller(service: &MediaService, request: &Request) -> Option<Actor> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    service.authenticate(token.trim()).await.ok()
}

/// The middleware: see the module documentation.
pub(crate) async fn idempotent<E: Endpoint>(
    next: E,
    mut request: Request,
    service: MediaService,
) -> poem::Result<Response> {
    let wanted = request.method() == Method::POST
        && request.uri().path().starts_with("/v1/")
        && request.headers().contains_key(IDEMPOTENCY_KEY);
    if !wanted {
        return next.call(request).await.map(IntoResponse::into_response);
    }
    // A value that is not visible ASCII is refused like an empty one.
    let raw = request
        .headers()
        .get(IDEMPOTENCY_KEY)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let key = match IdempotencyKey::parse(raw) {
        Ok(key) => key,
        Err(err) => return Ok(ApiError::from(err).into_response()),
    };
    let Some(actor) = caller(&service, &request).await else {
        return next.call(request).await.map(IntoResponse::into_response);
    };
    let fingerprint = Arc::new(Mutex::new(Fingerprint::of_head(&request)));
    let body = fingerprinted(request.take_body(), Arc::clone(&fingerprint));
    let claim = match service.claim_idempotency_key(&actor, &key).await {
        Ok(claim) => claim,
        Err(err) => return Ok(ApiError::from(err).into_response()),
    };
    match claim {
        KeyClaim::InFlight => Ok(error(
            "idempotency_key_in_use",
            StatusCode::CONFLICT,
            "A request with this Idempotency-Key is still running; retry once it answered",
        )),
        KeyClaim::Completed {
            fingerprint: recorded,
            response,
        } => {
            // The body is read to its end (and dropped) to compare the requests.
            body.into_bytes_stream()
                .for_each(|_| std::future::ready(()))
                .await;
            let this = fingerprint.lock().ok().and_then(|print| print.hex());
            if this.as_deref() != Some(recorded.as_str()) {
                return Ok(error(
                    "idempotency_key_reused",
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "This Idempotency-Key was used for another request",
                ));
            }
            Ok(replay(response))
        }
        KeyClaim::Fresh => {
            request.set_body(body);
            let response = next.call(request).await?.into_response();
            let this = fingerprint.lock().ok().and_then(|print| print.hex());
            match this {
                Some(this) if response.status().is_success() => {
                    record(&service, &actor, &key, &this, response).await
                }
                _ => {
                    release(&service, &actor, &key).await;
                    Ok(response)
                }
            }
        }
    }
}

fn replay(stored: StoredResponse) -> Response {
    let mut response = Response::builder()
        .status(StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK))
        .header(REPLAYED, "true");
    if let Some(content_type) = &stored.content_type {
        response = response.content_type(content_type);
    }
    response.body(stored.body)
}

/// Records a success to be replayed, and answers it. A body that is not text, or a record
/// that cannot be written, leaves the key free (a retry would run again) and is logged.
async fn record(
    service: &MediaService,
    actor: &Actor,
    key: &IdempotencyKey,
    fingerprint: &str,
    response: Response,
) -> poem::Result<Response> {
    let (parts, body) = response.into_parts();
    let bytes = body.into_bytes().await?;
    let stored = String::from_utf8(bytes.to_vec())
        .ok()
        .map(|body| StoredResponse {
            status: parts.status.as_u16(),
            content_type: parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
            body,
        });
    match stored {
        Some(stored) => {
            if let Err(err) = service
                .complete_idempotency_key(actor, key, fingerprint, &stored)
                .await
            {
                warn(&err, "cannot record the answer of an idempotent request");
                release(service, actor, key).await;
            }
        }
        None => release(service, actor, key).await,
    }
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

async fn release(service: &MediaService, actor: &Actor, key: &IdempotencyKey) {
    if let Err(err) = service.release_idempotency_key(actor, key).await {
        warn(
            &err,
            "cannot release an idempotency key; it frees itself later",
        );
    }
}

fn warn(err: &ServiceError, what: &str) {
    tracing::warn!(error = err as &dyn std::error::Error, "{what}");
}
