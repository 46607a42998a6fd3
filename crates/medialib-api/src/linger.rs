//! Lingering on request bodies nobody read: an answer given before the body was read (413 on a
//! too-large upload, 401 before an upload, 415, 400) is sent after the rest of the body has
//! been read and discarded, up to [`DRAIN_BYTES`] and [`DRAIN_TIME`], as nginx's lingering
//! close does. Without it the connection is closed while the client is still sending, and
//! clients that write the whole body before reading (Node's `fetch`, Python's `urllib`) see
//! `EPIPE` / `BrokenPipeError` instead of the JSON error. Past either bound the connection is
//! closed as before.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use poem::{Body, Endpoint, IntoResponse, Request, Response};

/// The most bytes read and discarded after an early answer.
pub const DRAIN_BYTES: u64 = 64 * 1024 * 1024;
/// The longest time spent reading them.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);

type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::io::Error>> + Send>>;

/// The request body, shared between the handler (which may drop it half-read) and the drain.
#[derive(Clone)]
struct Shared(Arc<Mutex<Option<BodyStream>>>);

impl Stream for Shared {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Ok(mut guard) = self.0.lock() else {
            return Poll::Ready(None);
        };
        match guard.as_mut() {
            Some(stream) => stream.as_mut().poll_next(cx),
            None => Poll::Ready(None),
        }
    }
}

/// Runs the request, then reads what is left of its body before the answer goes out.
pub async fn linger<E: Endpoint>(next: E, mut request: Request) -> poem::Result<Response> {
    let headers = request.headers();
    let bodiless = headers.get(poem::http::header::TRANSFER_ENCODING).is_none()
        && headers
            .get(poem::http::header::CONTENT_LENGTH)
            .is_none_or(|length| length.as_bytes() == b"0");
    if bodiless {
        return next.call(request).await.map(IntoResponse::into_response);
    }
    let shared = Shared(Arc::new(Mutex::new(Some(
        request.take_body().into_bytes_stream().boxed(),
    ))));
    request.set_body(Body::from_bytes_stream(shared.clone()));
    let response = next.call(request).await.map(IntoResponse::into_response);
    let rest = shared.0.lock().ok().and_then(|mut guard| guard.take());
    if let Some(rest) = rest {
        drain(rest).await;
    }
    response
}

async fn drain(rest: BodyStream) {
    let mut read = 0u64;
    let discard = rest
        .take_while(|chunk| {
            let keep = match chunk {
                Ok(bytes) => {
                    read += bytes.len() as u64;
                    read <= DRAIN_BYTES
                }
                Err(_) => false,
            };
            async move { keep }
        })
        .for_each(|_| async {});
    let _ = tokio::time::timeout(DRAIN_TIME, discard).await;
}
