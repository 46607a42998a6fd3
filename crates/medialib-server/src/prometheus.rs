//! Prometheus metrics: the recorder the server installs and the `/metrics` endpoint that
//! renders it. Counters are process-wide and start at zero with each process.

use std::sync::Arc;
use std::time::Duration;

use medialib_domain::service::reaper::ReapReport;
use medialib_domain::service::telemetry;
use medialib_domain::{MediaService, PendingStatus};
use medialib_sql::SeaOrmMediaRepo;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use poem::http::Method;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response};

/// Installs the process-wide recorder once. A second call (a test that builds two servers in
/// one process) keeps the first recorder and returns `None`: nothing is recorded twice.
pub fn install() -> Option<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.to_owned()), LATENCY_BUCKETS)
        .ok()?
        .set_buckets_for_metric(
            Matcher::Full(telemetry::GROUP_COMMIT_BATCH.to_owned()),
            BATCH_BUCKETS,
        )
        .ok()?
        .install_recorder()
        .ok()
}

/// Requests answered, by operation and status.
const REQUESTS: &str = "medialib_http_requests_total";
/// Their latency, by operation.
const REQUEST_SECONDS: &str = "medialib_http_request_duration_seconds";
/// Bucket bounds of the latency histogram, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Bucket bounds of the group-commit batch size histogram.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Pending deletion records by status (every tenant).
const PENDING: &str = "medialib_pending_deletions";
/// Age of the oldest pending deletion record by status, in seconds (0 when there is none).
const PENDING_AGE: &str = "medialib_pending_oldest_age_seconds";
/// Database pool connections by pool and state.
const POOL: &str = "medialib_db_pool_connections";

/// Samples what only a query tells (the pending backlog) and the database pools, every
/// `every`, until the task is dropped.
pub async fn observe(service: MediaService, repo: Arc<SeaOrmMediaRepo>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match service.pending_summary().await {
            Ok(summary) => {
                let now = time::OffsetDateTime::now_utc();
                for status in [
                    PendingStatus::Pending,
                    PendingStatus::Failed,
                    PendingStatus::Upload,
                ] {
                    let found = summary.iter().find(|count| count.status == status);
                    let (count, age) = found.map_or((0.0, 0.0), |found| {
                        (
                            found.count as f64,
                            (now - found.oldest).as_seconds_f64().max(0.0),
                        )
                    });
                    metrics::gauge!(PENDING, "status" => status.as_str()).set(count);
                    metrics::gauge!(PENDING_AGE, "status" => status.as_str()).set(age);
                }
            }
            Err(err) => tracing::warn!(
                error = &err as &dyn std::error::Error,
                "cannot count pending deletions"
            ),
        }
        for pool in repo.pool_usage() {
            let busy = (pool.open as usize).saturating_sub(pool.idle);
            metrics::gauge!(POOL, "pool" => pool.role, "state" => "idle").set(pool.idle as f64);
            metrics::gauge!(POOL, "pool" => pool.role, "state" => "busy").set(busy as f64);
        }
    }
}

/// The application with `GET /metrics` (text exposition format, unauthenticated, as
/// Prometheus scrapes it) in front of it. Matched on the raw path, so that every other request
/// reaches the application exactly as sent.
pub fn with_endpoint<E>(
    app: E,
    handle: Option<PrometheusHandle>,
) -> impl Endpoint<Output = Response>
where
    E: Endpoint<Output = Response> + 'static,
{
    app.around(move |next, request: Request| {
        let handle = handle.clone();
        async move {
            match handle {
                Some(handle)
                    if request.uri().path() == "/metrics" && request.method() == Method::GET =>
                {
                    Ok(render(&handle))
                }
                _ => {
                    let started = std::time::Instant::now();
                    let response = next.call(request).await?;
                    record_request(&response, started.elapsed());
                    Ok(response)
                }
            }
        }
    })
}

fn render(handle: &PrometheusHandle) -> Response {
    handle
        .render()
        .with_content_type("text/plain; version=0.0.4")
        .into_response()
}

/// Counts an answered request under its operation (`unmatched` for answers no documented
/// operation gave: unknown routes, framework errors) and its status.
fn record_request(response: &Response, took: std::time::Duration) {
    let operation = medialib_api::operation_of(response).unwrap_or("unmatched");
    let status = response.status().as_u16().to_string();
    metrics::counter!(REQUESTS, "operation" => operation, "status" => status).increment(1);
    metrics::histogram!(REQUEST_SECONDS, "operation" => operation).record(took.as_secs_f64());
}

/// Counts one completed reaper run (all its passes). The outcomes are counted before the
/// run itself, so a scrape that sees a run also sees everything that run purged.
pub fn record_reaper_run(report: &ReapReport) {
    metrics::counter!("medialib_reaper_claimed_total").increment(report.claimed as u64);
    metrics::counter!("medialib_reaper_purged_total").increment(report.purged as u64);
    metrics::counter!("medialib_reaper_retried_total").increment(report.retried as u64);
    metrics::counter!("medialib_reaper_parked_total").increment(report.parked as u64);
    metrics::counter!("medialib_reaper_runs_total", "outcome" => "ok").increment(1);
}

/// Counts a reaper run that failed (the database or the store could not be reached).
pub fn record_reaper_failure() {
    metrics::counter!("medialib_reaper_runs_total", "outcome" => "error").increment(1);
}
