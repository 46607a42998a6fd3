//! Prometheus metrics: the recorder the server installs and the `/metrics` endpoint that
//! renders it. Counters are process-wide and start at zero with each process.

use medialib_domain::service::reaper::ReapReport;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use poem::http::Method;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response};

/// Installs the process-wide recorder once. A second call (a test that builds two servers in
/// one process) keeps the first recorder and returns `None`: nothing is recorded twice.
pub fn install() -> Option<PrometheusHandle> {
    PrometheusBuilder::new().install_recorder().ok()
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
                _ => next.call(request).await,
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
