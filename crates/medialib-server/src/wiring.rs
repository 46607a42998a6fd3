//! Builds adapters from settings, wraps them as ports, and builds the service and the HTTP app.

use std::sync::Arc;

use anyhow::Context;
use medialib_blob::{BlobConfig, ObjectStoreBlobStore};
use medialib_domain::error::chain;
use medialib_domain::service::ServiceConfig;
use medialib_domain::{Clock, MediaService, Sha256KeyHasher, SystemClock};
use medialib_image::ImageThumbnailer;
use medialib_jwt::JwtVerifier;
use medialib_sql::{SeaOrmMediaRepo, SqlConfig};
use tokio::sync::watch;

use crate::config::Settings;

/// The wired application.
#[derive(Debug, Clone)]
pub struct App {
    /// The use cases over the configured adapters.
    pub service: MediaService,
    /// The blob adapter, for startup checks.
    pub blobs: Arc<ObjectStoreBlobStore>,
    /// The database adapter, for its pool gauges.
    pub repo: Arc<SeaOrmMediaRepo>,
}

/// Connects the database (migrating it) and the blob store, and builds the service.
///
/// # Errors
/// An unreachable database, a failed migration, or an unusable blob URL.
pub async fn build(settings: &Settings) -> anyhow::Result<App> {
    build_with(settings, &Inject::default()).await
}

/// What a test or an embedder puts in place of the configured pieces; the rest of the wiring
/// is the server's own.
#[derive(Debug, Clone, Default)]
pub struct Inject {
    /// The blob store, instead of one opened from `blob_url` (a store with faults, say).
    pub blobs: Option<Arc<ObjectStoreBlobStore>>,
    /// The clock, instead of the system's.
    pub clock: Option<Arc<dyn Clock>>,
    /// Adjusts the service's configuration after the settings made it.
    pub tune: Option<fn(&mut ServiceConfig)>,
}

/// [`build`] with the pieces of `inject` in place of the configured ones.
///
/// # Errors
/// As [`build`].
pub async fn build_with(settings: &Settings, inject: &Inject) -> anyhow::Result<App> {
    if let Some(parent) = settings
        .sqlite_file()
        .as_deref()
        .and_then(std::path::Path::parent)
    {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).with_context(|| {
                format!("cannot create database directory {}", parent.display())
            })?;
        }
    }
    let sql = SqlConfig {
        max_connections: settings.database_max_connections,
        ..SqlConfig::new(settings.database_url.as_str())
    };
    let repo = SeaOrmMediaRepo::connect(&sql)
        .await
        .map_err(|err| anyhow::anyhow!("cannot connect to the database: {}", chain(&err)))?;
    repo.migrate()
        .await
        .map_err(|err| anyhow::anyhow!("database migration failed: {}", chain(&err)))?;
    let blob_config = BlobConfig {
        url: settings.blob_url.clone(),
        timeout: settings.blob_timeout,
    };
    let blobs = match &inject.blobs {
        Some(blobs) => Arc::clone(blobs),
        None => Arc::new(
            ObjectStoreBlobStore::from_url(&blob_config)
                .map_err(|err| anyhow::anyhow!("cannot open blob store: {}", chain(&err)))?,
        ),
    };
    let mut config = ServiceConfig {
        max_upload_bytes: settings.max_upload_bytes,
        pending_grace: settings.retry_grace,
        max_attempts: settings.reap_max_attempts,
        lease: settings.reap_lease,
        upload_intent_ttl: settings.upload_intent_ttl,
        key_cache_ttl: settings.key_cache,
        idempotency_ttl: settings.idempotency_ttl,
        changes_retention: settings.changes_retention,
        job_chunk: settings.job_chunk,
        job_lease: settings.job_lease,
        ..ServiceConfig::default()
    };
    if let Some(tune) = inject.tune {
        tune(&mut config);
    }
    let repo = Arc::new(repo);
    let mut service = MediaService::new(
        repo.clone(),
        blobs.clone(),
        inject
            .clock
            .clone()
            .unwrap_or_else(|| Arc::new(SystemClock)),
        Arc::new(Sha256KeyHasher),
        config,
    );
    if let Some(jwt) = &settings.jwt {
        let verifier = JwtVerifier::new(jwt.clone()).context("invalid JWT settings")?;
        service = service.with_token_verifier(Arc::new(verifier));
    }
    // Always installed: a tenant's own limit (`medialib tenants limits`) applies even when the
    // server's defaults are unlimited.
    service = service.with_rate_limiter(Arc::new(crate::limits::GovernorLimiter::new(
        settings.rate_limits,
    )));
    let sender = crate::webhook::HttpWebhookSender::new(settings.webhook_timeout);
    service = service.with_webhooks(Arc::new(sender), settings.webhooks.clone());
    if let Some(thumbnails) = settings.thumbnails {
        service = service.with_thumbnailer(Arc::new(ImageThumbnailer::new(thumbnails)));
    }
    Ok(App {
        service,
        blobs,
        repo,
    })
}

/// Runs the server until SIGINT or SIGTERM: stops accepting, lets in-flight requests finish
/// (up to the shutdown timeout) and stops the reaper between two passes.
///
/// # Errors
/// An unwritable blob store, a port that cannot be bound, or a server failure.
pub async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let running = start(settings, &Inject::default(), shutdown_signal()).await?;
    // The one line on stdout: where to reach the server (tests read it).
    println!("listening on http://{}", running.addr);
    running.stopped().await
}

/// A server started by [`start`], running in tasks of the current runtime.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    /// The service behind it, as its requests reach it (group commit included).
    pub service: MediaService,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Waits until the server stopped (its `shutdown` completed and it drained).
    ///
    /// # Errors
    /// The server's task panicked.
    pub async fn stopped(self) -> anyhow::Result<()> {
        // The group committer ends once the last clone of the service is gone.
        let Running { task, service, .. } = self;
        drop(service);
        task.await
            .map_err(|err| anyhow::anyhow!("server task failed: {err}"))
    }
}

/// Starts the server as `medialib serve` runs it (the production wiring: the database and
/// blob store migrated and checked, the first admin key, group commit, the reaper and trash
/// retention, key use flushes, the metrics endpoint, the HTTP limits), with the pieces of
/// `inject` in place of the configured ones. It runs until `shutdown` completes.
///
/// # Errors
/// An unreachable database, an unwritable blob store, or a port that cannot be bound.
pub async fn start(
    settings: &Settings,
    inject: &Inject,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    let app = build_with(settings, inject).await?;
    app.blobs.check_writable().await.map_err(|err| {
        anyhow::anyhow!(
            "blob store {} is not writable: {}",
            settings.blob_url,
            chain(&err)
        )
    })?;
    bootstrap_admin_key(&app.service, settings).await?;
    let metrics = crate::prometheus::install();

    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let local = listener
        .local_addr()
        .context("listener has no socket address")?;
    tracing::info!(%local, "medialib listening");

    // Concurrent single deletes share transactions; the committer ends once the last clone
    // of the service that feeds it is dropped, after the server and the reaper stopped.
    let (service, committer) = if settings.group_commit_max_batch > 1 {
        let (service, committer) = app
            .service
            .clone()
            .with_group_commit(settings.group_commit_max_batch);
        (service, Some(tokio::spawn(committer.run(forget_pause))))
    } else {
        (app.service.clone(), None)
    };
    let observer = tokio::spawn(crate::prometheus::observe(
        service.clone(),
        Arc::clone(&app.repo),
        settings.retry_interval,
    ));
    let key_uses = tokio::spawn(key_usage_loop(service.clone()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let reaper = tokio::spawn(reaper_loop(
        service.clone(),
        settings.retry_interval,
        stop_rx.clone(),
    ));
    let dispatcher = tokio::spawn(webhook_loop(
        service.clone(),
        settings.webhook_interval,
        stop_rx.clone(),
    ));
    let jobs = tokio::spawn(job_loop(
        service.clone(),
        JOB_POLL,
        settings.job_pause,
        stop_rx,
    ));
    // Boxed: the middleware stack's type is too deep for the connection task's future.
    let endpoint = poem::EndpointExt::boxed(crate::prometheus::with_endpoint(
        medialib_api::app_with_limits(service.clone(), &settings.compat, settings.http),
        metrics,
    ));
    let connections = settings.connections;
    let shutdown_timeout = settings.shutdown_timeout;
    let handle = service.clone();
    let task = tokio::spawn(async move {
        crate::http::serve(
            listener,
            local,
            endpoint,
            connections,
            shutdown,
            shutdown_timeout,
        )
        .await;
        observer.abort();
        let _ = observer.await;
        key_uses.abort();
        let _ = key_uses.await;
        flush_key_usage(&service).await;
        let _ = stop_tx.send(true);
        if let Err(err) = reaper.await {
            tracing::error!(error = %err, "reaper panicked");
        }
        if let Err(err) = dispatcher.await {
            tracing::error!(error = %err, "webhook dispatcher panicked");
        }
        if let Err(err) = jobs.await {
            tracing::error!(error = %err, "job runner panicked");
        }
        drop(service);
        if let Some(committer) = committer {
            // Requests cut off by the shutdown timeout may still hold a clone; do not wait
            // forever.
            match tokio::time::timeout(std::time::Duration::from_secs(5), committer).await {
                Ok(Err(err)) => tracing::error!(error = %err, "group committer panicked"),
                Ok(Ok(())) => {}
                Err(_) => tracing::warn!("group committer still busy at exit"),
            }
        }
        tracing::info!("medialib stopped");
    });
    Ok(Running {
        addr: local,
        service: handle,
        task,
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested");
}

/// An interval that, after a slow round, waits a whole period again instead of catching up.
fn ticker(interval: std::time::Duration) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker
}

/// Waits for the next tick; `false` once told to stop. A background loop's rounds run between
/// two calls, so a stop never cuts one off.
async fn next_tick(ticker: &mut tokio::time::Interval, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = ticker.tick() => true,
        _ = stop.changed() => false,
    }
}

/// Runs the reaper every `interval` until told to stop. A pass that filled its batch is
/// followed at once by another; the stop signal is honoured between passes, never inside one.
async fn reaper_loop(
    service: MediaService,
    interval: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = ticker(interval);
    while next_tick(&mut ticker, &mut stop).await {
        let running = |_: &_| !*stop.borrow();
        match service.reap_until_done(REAP_BATCH, false, &running).await {
            Ok(report) => {
                crate::prometheus::record_reaper_run(&report);
                if report.claimed > 0 {
                    tracing::info!(
                        purged = report.purged,
                        retried = report.retried,
                        parked = report.parked,
                        "reaper passes"
                    );
                }
            }
            Err(err) => {
                crate::prometheus::record_reaper_failure();
                tracing::warn!(error = &err as &dyn std::error::Error, "reaper pass failed");
            }
        }
        if let Err(err) = service.forget_old_deliveries().await {
            tracing::warn!(
                error = &err as &dyn std::error::Error,
                "cannot forget old webhook deliveries"
            );
        }
        if let Err(err) = service.purge_idempotency_keys().await {
            tracing::warn!(
                error = &err as &dyn std::error::Error,
                "cannot forget expired idempotency keys"
            );
        }
        // Trash past its tenant's retention goes through the same durable delete path.
        loop {
            match service.purge_expired_trash(REAP_BATCH).await {
                Ok(purged) => {
                    if purged > 0 {
                        tracing::info!(purged, "trash retention pass");
                    }
                    if purged < REAP_BATCH || *stop.borrow() {
                        break;
                    }
                }
                Err(err) => {
                    tracing::warn!(
                        error = &err as &dyn std::error::Error,
                        "trash retention pass failed"
                    );
                    break;
                }
            }
        }
    }
}

/// Runs webhook dispatcher rounds every `interval` until told to stop; a round that filled its
/// batch is followed at once by another. The stop signal is honoured between rounds: an
/// attempt in flight finishes and is recorded (one cut off by the process's end is sent
/// again when its claim expires).
async fn webhook_loop(
    service: MediaService,
    interval: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = ticker(interval);
    while next_tick(&mut ticker, &mut stop).await {
        loop {
            match service.dispatch_webhooks(WEBHOOK_BATCH).await {
                Ok(report) => {
                    if report.attempted > 0 || report.enqueued > 0 {
                        tracing::debug!(
                            enqueued = report.enqueued,
                            delivered = report.delivered,
                            retried = report.retried,
                            dead = report.dead,
                            "webhook round"
                        );
                    }
                    if (report.attempted as u64) < WEBHOOK_BATCH || *stop.borrow() {
                        break;
                    }
                }
                Err(err) => {
                    tracing::warn!(
                        error = &err as &dyn std::error::Error,
                        "webhook round failed"
                    );
                    break;
                }
            }
        }
    }
}

/// Runs delete jobs one chunk at a time, `pause` apart, until none is waiting; then looks
/// again every `interval`. The stop signal is honoured between chunks (a job cut off by the
/// process's end is resumed by the next runner once its lease ends).
async fn job_loop(
    service: MediaService,
    interval: std::time::Duration,
    pause: std::time::Duration,
    mut stop: watch::Receiver<bool>,
) {
    // This runner's claims: a job it works keeps being its own between chunks.
    let token = uuid::Uuid::new_v4().simple().to_string();
    let mut ticker = ticker(interval);
    while next_tick(&mut ticker, &mut stop).await {
        loop {
            match service.run_job_chunk(&token).await {
                Ok(Some(job)) => {
                    if job.state.is_final() {
                        tracing::info!(
                            job = job.id,
                            kind = job.kind.as_str(),
                            state = job.state.as_str(),
                            deleted = job.progress.counts.deleted,
                            "job ended"
                        );
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    tracing::warn!(error = &err as &dyn std::error::Error, "job chunk failed");
                    break;
                }
            }
            if *stop.borrow() {
                return;
            }
            if !pause.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }
}

/// How often an idle job runner looks for a job.
const JOB_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// Deliveries claimed per webhook dispatcher round.
pub const WEBHOOK_BATCH: u64 = 100;

/// How often the keys' last uses are written.
const KEY_USE_FLUSH: std::time::Duration = std::time::Duration::from_secs(60);

/// Writes the keys' last uses every [`KEY_USE_FLUSH`], off the request path.
async fn key_usage_loop(service: MediaService) {
    let mut ticker = ticker(KEY_USE_FLUSH);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        flush_key_usage(&service).await;
    }
}

async fn flush_key_usage(service: &MediaService) {
    if let Err(err) = service.flush_key_usage().await {
        tracing::warn!(
            error = &err as &dyn std::error::Error,
            "cannot record when keys were last used; kept for the next attempt"
        );
    }
}

/// Pending deletions claimed per reaper pass.
pub const REAP_BATCH: u64 = 2000;

/// How long the group committer waits for a delete to carry the forget of purged blobs'
/// records before it forgets them in a transaction of their own.
pub fn forget_pause() -> tokio::time::Sleep {
    tokio::time::sleep(std::time::Duration::from_millis(10))
}

/// On a store without keys, creates tenant `default` with an admin key and writes the key to
/// the admin key file (mode 0600).
async fn bootstrap_admin_key(service: &MediaService, settings: &Settings) -> anyhow::Result<()> {
    let Some(issued) = service
        .bootstrap()
        .await
        .map_err(|err| anyhow::anyhow!("cannot create the first admin key: {}", chain(&err)))?
    else {
        return Ok(());
    };
    let path = &settings.admin_key_file;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    write_secret(path, &format!("{}\n", issued.token))
        .with_context(|| format!("cannot write the admin key to {}", path.display()))?;
    tracing::info!(path = %path.display(), tenant = "default", "created the first admin key");
    Ok(())
}

fn write_secret(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}
