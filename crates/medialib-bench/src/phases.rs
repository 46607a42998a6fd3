//! The phases beside the compared DELETE: bulk delete, the reaper's purge taking turns with
//! the raw blob delete, and one large file.

use super::*;

/// How many blobs the store lists under `prefix`.
pub(crate) async fn count_blobs(
    store: &Arc<dyn ObjectStore>,
    prefix: &str,
) -> anyhow::Result<usize> {
    let prefix = object_store::path::Path::from(prefix);
    let mut listing = store.list(Some(&prefix));
    let mut n = 0;
    while let Some(item) = listing.next().await {
        item?;
        n += 1;
    }
    Ok(n)
}

/// Deletes `items` freshly uploaded files, 1,000 ids per request, one request after another;
/// returns items/s until the last receipt and until every blob is gone.
pub(crate) async fn bulk_delete(
    client: &Client,
    backend: &Backend,
    items: usize,
) -> anyhow::Result<(f64, f64)> {
    let (bulk_ids, _) = client.fill("bulk", items).await?;
    let before = count_blobs(&backend.store, "media").await?;
    let t0 = Instant::now();
    for chunk in bulk_ids.chunks(1000) {
        let response = client
            .http
            .post(format!("{}/v1/media/bulk-delete", client.base))
            .bearer_auth(&client.key)
            .json(&json!({ "ids": chunk }))
            .send()
            .await?
            .error_for_status()?;
        let receipt: Value = response.json().await?;
        if receipt["deleted"].as_u64() != Some(chunk.len() as u64) {
            bail!("bulk delete: {receipt}");
        }
    }
    let to_receipt = t0.elapsed().as_secs_f64();
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    while count_blobs(&backend.store, "media").await? > before.saturating_sub(items) {
        if Instant::now() > deadline {
            bail!("bulk delete: blobs not purged within 2 minutes");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let to_purged = t0.elapsed().as_secs_f64();
    let bulk_rate = items as f64 / to_receipt;
    let purge_rate = items as f64 / to_purged;
    println!(
        "bulk delete: {bulk_rate:.0} items/s to the receipt, {purge_rate:.0} items/s until purged"
    );
    Ok((bulk_rate, purge_rate))
}

/// The reaper's purge of recorded blobs (`medialib reap --all`).
pub(crate) struct Reap {
    /// Keys/s, the process start taken out.
    pub(crate) rate: f64,
    /// Keys/s with the process start.
    pub(crate) gross: f64,
    pub(crate) startup_ms: f64,
    /// CPU per purged blob.
    pub(crate) split: Value,
}

/// What the purge phases run against: the `medialib` binary, its working directory, the
/// backend and the tenant the pending records belong to.
pub(crate) struct Purge<'a> {
    pub(crate) bin: &'a std::path::Path,
    pub(crate) dir: &'a std::path::Path,
    pub(crate) backend: &'a Backend,
    pub(crate) raw: &'a RawDb,
    pub(crate) tenant: i64,
}

impl Purge<'_> {
    /// Records `items` blobs under `prefix` as pending deletions and times `medialib reap
    /// --all` over them (the same command with nothing to do is timed first: process start,
    /// connecting, migration check).
    pub(crate) async fn reap(&self, prefix: &str, items: usize) -> anyhow::Result<Reap> {
        let reap = || {
            std::process::Command::new(self.bin)
                .args(["reap", "--all", "--json"])
                .current_dir(self.dir)
                .env("MEDIALIB_DATABASE_URL", &self.backend.database_url)
                .env("MEDIALIB_BLOB_URL", &self.backend.blob_url)
                .env("RUST_LOG", "error")
                .output()
        };
        let t0 = Instant::now();
        let idle = reap()?;
        let startup_seconds = t0.elapsed().as_secs_f64();
        if !idle.status.success() {
            bail!("reap --all: {}", String::from_utf8_lossy(&idle.stderr));
        }
        let paths = raw::put_objects(&self.backend.store, prefix, items).await?;
        for chunk in paths.chunks(1000) {
            let rows: Vec<String> = chunk
                .iter()
                .map(|key| format!("('{key}', 0, 0, 0, {}, 'pending')", self.tenant))
                .collect();
            self.raw
                .exec(&format!(
                    "INSERT INTO pending_deletions (blob_key, attempts, next_attempt_at, \
                     created_at, tenant_id, status) VALUES {}",
                    rows.join(", ")
                ))
                .await?;
        }
        let t0 = Instant::now();
        let used = ProcessCpu::now(None);
        let output = reap()?;
        let split = used.per_op_since(None, items as u64);
        let reap_seconds = t0.elapsed().as_secs_f64();
        if !output.status.success() || count_blobs(&self.backend.store, prefix).await? != 0 {
            bail!("reap --all: {}", String::from_utf8_lossy(&output.stderr));
        }
        let gross = items as f64 / reap_seconds;
        let rate = items as f64 / (reap_seconds - startup_seconds).max(1e-6);
        println!(
            "reaper purge of {items} blobs (medialib reap --all): {rate:.0}/s after {:.0} ms of \
             process start ({gross:.0}/s with it)",
            startup_seconds * 1000.0
        );
        Ok(Reap {
            rate,
            gross,
            startup_ms: startup_seconds * 1000.0,
            split,
        })
    }

    /// Rounds of the purge against its ceiling, taking turns as the compared DELETE phases
    /// do: the raw blob delete at 8 over `items` fresh objects, then `medialib reap --all` over
    /// as many recorded blobs. Returns the pooled ceiling, its CPU per delete, and the pooled
    /// purge (keys over the rounds' summed times).
    pub(crate) async fn rounds(&self, items: usize) -> anyhow::Result<(Stats, Value, Reap)> {
        let store = &self.backend.store;
        let (mut ceilings, mut ceiling_cpu, mut reaps) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            quiet().await;
            let paths = raw::put_objects(store, &format!("raw-blobs/{round}"), items).await?;
            let used = ProcessCpu::now(None);
            ceilings.push(raw::blob_ceiling(store, paths, 8).await?);
            ceiling_cpu.push(used.per_op_since(None, items as u64));
            quiet().await;
            reaps.push(self.reap(&format!("media/reap/{round}"), items).await?);
        }
        let ceiling = Stats::pooled(&ceilings)?;
        let seconds: f64 = reaps.iter().map(|r| items as f64 / r.rate).sum();
        let gross_seconds: f64 = reaps.iter().map(|r| items as f64 / r.gross).sum();
        let total = (items * reaps.len()) as f64;
        let reap = Reap {
            rate: total / seconds,
            gross: total / gross_seconds,
            startup_ms: reaps.iter().map(|r| r.startup_ms).sum::<f64>() / reaps.len().max(1) as f64,
            split: mean_split(&reaps.iter().map(|r| r.split.clone()).collect::<Vec<_>>()),
        };
        println!(
            "raw blob delete at 8, {ROUNDS} rounds of {items}: {}; reaper purge, taking turns \
             with it: {:.0}/s ({:.0}/s with process start)",
            rate(&ceiling),
            reap.rate,
            reap.gross
        );
        Ok((ceiling, mean_split(&ceiling_cpu), reap))
    }
}

/// Uploads and downloads one file of `mib` MiB, sampling the server's RSS; returns the size,
/// the upload and download rates (MiB/s) and the RSS growth (MiB).
pub(crate) async fn large_file(
    server: &Server,
    client: &Client,
    mib: u64,
) -> anyhow::Result<(u64, f64, f64, f64)> {
    let before = server.rss_mib();
    let (sampler, peak) = peak_rss(server.rss_probe());
    let chunk = bytes::Bytes::from(vec![9u8; 1 << 20]);
    let body = futures::stream::iter((0..mib).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let t0 = Instant::now();
    let id = client
        .upload("large/file.bin".into(), reqwest::Body::wrap_stream(body))
        .await?;
    let up = mib as f64 / t0.elapsed().as_secs_f64();
    let t0 = Instant::now();
    let mut stream = client
        .http
        .get(format!("{}/v1/media/{id}/content", client.base))
        .bearer_auth(&client.key)
        .send()
        .await?
        .error_for_status()?
        .bytes_stream();
    let mut total = 0u64;
    while let Some(part) = stream.next().await {
        total += part?.len() as u64;
    }
    let down = mib as f64 / t0.elapsed().as_secs_f64();
    sampler.abort();
    if total != mib << 20 {
        bail!("downloaded {total} bytes of {}", mib << 20);
    }
    client.delete_all(vec![id], 1).await?;
    let growth = peak.lock().map_or(0.0, |max| *max) - before;
    println!(
        "{mib} MiB upload {up:.0} MiB/s, download {down:.0} MiB/s, RSS growth {growth:.1} MiB"
    );
    Ok((mib, up, down, growth))
}
