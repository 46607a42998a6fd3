//! The HTTP server: accepts connections and serves the app on each with hyper, under the
//! connection limits poem's own server does not offer.
//!
//! - at most `max_connections` connections are served at once; one more is answered
//!   `503 too_many_connections` (JSON, `Retry-After: 1`) and closed, and past a small number of
//!   those being answered, further ones are closed at once;
//! - a request's headers must arrive within `header_timeout`, counted from when the connection
//!   is ready for a request (accepted, or done with the previous response), so this is also how
//!   long a kept-alive connection may wait for its next request; a connection past it is closed
//!   without an answer (there is no request to answer);
//! - a connection with nothing read or written for `idle_timeout` while no request is being
//!   handled (a client that stopped sending its body or reading its download) is closed;
//! - request heads larger than [`HEAD_CEILING`] bytes or with more header lines than
//!   `max_headers + 100` get hyper's bare `431`; the app answers smaller excesses of its own
//!   limits with the JSON `431 headers_too_large`;
//! - on shutdown the listener closes, connections finish their requests in flight, and the
//!   caller bounds the wait.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use poem::web::{LocalAddr, RemoteAddr};
use poem::Endpoint;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// The largest request head hyper reads before answering a bare `431` (the app's JSON limit is
/// `max_header_bytes`, below it). Each connection may buffer up to this much.
pub const HEAD_CEILING: usize = 1024 * 1024 + 64 * 1024;

/// Connections over the limit being answered 503 at once; more are closed unanswered.
const REFUSALS: usize = 64;

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time for a request's headers to arrive.
    pub header_timeout: Duration,
    /// Time without a byte either way, outside request handling, before a connection closes.
    pub idle_timeout: Duration,
    /// The app's own limit on header lines (hyper's is 100 above it).
    pub max_headers: usize,
}

/// Serves `app` on `listener` until `shutdown` completes, then lets connections finish their
/// requests for up to `grace`.
pub async fn serve<E>(
    listener: TcpListener,
    local: SocketAddr,
    app: E,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) where
    E: Endpoint + 'static,
{
    let app = Arc::new(app);
    let served = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusals = Arc::new(Semaphore::new(REFUSALS));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, most likely: wait instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Ok(permit) = Arc::clone(&served).try_acquire_owned() {
            let connection = connection(stream, Arc::clone(&app), local, remote, limits);
            let watched = graceful.watcher();
            tokio::spawn(async move {
                connection.run(watched).await;
                drop(permit);
            });
        } else if let Ok(permit) = Arc::clone(&refusals).try_acquire_owned() {
            tracing::warn!(%remote, "connection limit reached");
            tokio::spawn(async move {
                refuse(stream, limits.header_timeout).await;
                drop(permit);
            });
        } else {
            drop(stream);
        }
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running at the end of the shutdown timeout");
    }
}

struct Connection<E> {
    io: Watched,
    app: Arc<E>,
    local: SocketAddr,
    remote: SocketAddr,
    limits: ConnectionLimits,
}

fn connection<E>(
    stream: TcpStream,
    app: Arc<E>,
    local: SocketAddr,
    remote: SocketAddr,
    limits: ConnectionLimits,
) -> Connection<E> {
    Connection {
        io: Watched::new(stream),
        app,
        local,
        remote,
        limits,
    }
}

impl<E: Endpoint + 'static> Connection<E> {
    async fn run(self, watched: hyper_util::server::graceful::Watcher) {
        let activity = Arc::clone(&self.io.activity);
        let app = self.app;
        let (local, remote) = (self.local, self.remote);
        let requests = Arc::clone(&activity);
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let app = Arc::clone(&app);
            let requests = Arc::clone(&requests);
            async move {
                let _handling = requests.handling();
                let request = poem::Request::from((
                    request,
                    LocalAddr(local.into()),
                    RemoteAddr(remote.into()),
                    poem::http::uri::Scheme::HTTP,
                ));
                let response = app.get_response(request).await;
                Ok::<_, Infallible>(hyper::Response::from(response))
            }
        });
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout)
            .max_buf_size(HEAD_CEILING)
            .max_headers(self.limits.max_headers + 100);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(HEAD_CEILING).unwrap_or(u32::MAX));
        let conn = builder.serve_connection(TokioIo::new(self.io), service);
        let conn = watched.watch(conn);
        tokio::select! {
            _ = conn => {}
            () = activity.idle_for(self.limits.idle_timeout) => {
                tracing::debug!(%remote, "closing an idle connection");
            }
        }
    }
}

/// Answers a connection over the limit with `503 too_many_connections` and closes it.
async fn refuse(stream: TcpStream, header_timeout: Duration) {
    let service = hyper::service::service_fn(|_request: hyper::Request<Incoming>| async {
        let body = serde_json::json!({
            "code": "too_many_connections",
            "message": "The server is at its connection limit; retry shortly",
        })
        .to_string();
        let response = hyper::Response::builder()
            .status(hyper::StatusCode::SERVICE_UNAVAILABLE)
            .header(
                hyper::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .header(hyper::header::RETRY_AFTER, "1")
            .header(hyper::header::CONNECTION, "close")
            .header("x-request-id", uuid::Uuid::new_v4().to_string())
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default();
        Ok::<_, Infallible>(response)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(false);
    let _ = builder
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// When a connection last moved a byte, and how many of its requests are being handled.
#[derive(Debug)]
struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
    handling: AtomicUsize,
}

impl Activity {
    fn touch(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(now, Ordering::Relaxed);
    }

    fn handling(self: &Arc<Self>) -> Handling {
        self.handling.fetch_add(1, Ordering::Relaxed);
        Handling(Arc::clone(self))
    }

    /// Completes once nothing moved for `idle` while no request was being handled.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let quiet = self.epoch.elapsed().saturating_sub(last);
            if quiet >= idle && self.handling.load(Ordering::Relaxed) == 0 {
                return;
            }
            let wait = if quiet >= idle { idle } else { idle - quiet };
            tokio::time::sleep(wait).await;
        }
    }
}

/// A request being handled; ends when dropped.
struct Handling(Arc<Activity>);

impl Drop for Handling {
    fn drop(&mut self) {
        self.0.touch();
        self.0.handling.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A TCP stream that records its activity.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl Watched {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            activity: Arc::new(Activity {
                epoch: Instant::now(),
                last_ms: AtomicU64::new(0),
                handling: AtomicUsize::new(0),
            }),
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
