//! `medialib-bench`: holds medialib against the strongest ceilings of its own backends.
//!
//! One run starts the real server on the chosen backend, pre-fills it, and measures: DELETE at
//! 1 and 8 clients (with and without group commit), bulk delete (1,000 ids per request) to the
//! receipt and until every blob is gone, 4 KiB uploads at 8 clients, one 1 GiB upload and
//! download with the server's RSS, DELETE latency with 10,000 and with 1,000,000 rows in the
//! table, and in the same run the ceilings: one transaction per delete through each
//! database's strongest client (`pgbench -M prepared`, the SQLite C library, sqlx's prepared
//! statements on MariaDB; `ceiling.rs`), the sqlx transaction pair, the blob delete through
//! object_store, both together, and a trivial HTTP 200 on poem. It prints a table of figures
//! with each one's ratio to its ceiling and the targets' verdicts, and writes them as JSON.
//!
//! Loopback only; every phase has a fixed operation count and stops by itself.

mod ceiling;
mod load;
mod peer;
mod raw;
mod server;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Parser;
use futures::StreamExt;
use object_store::ObjectStore;
use serde_json::{json, Value};

use crate::ceiling::{Ceiling, On};
use crate::load::{drive, Stats};

/// Turns medialib and its ceiling take in a compared phase.
const ROUNDS: usize = 4;
use crate::raw::RawDb;
use crate::server::Server;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "Benchmark medialib against the raw ceilings of its backends")]
struct Args {
    /// `sqlite`, `postgres` or `mysql`.
    #[arg(long, default_value = "sqlite")]
    database: String,
    /// `file` or `s3`.
    #[arg(long, default_value = "file")]
    blobs: String,
    /// Small counts, to check that the tool works (CI).
    #[arg(long)]
    smoke: bool,
    /// Deletes per measured DELETE phase.
    #[arg(long)]
    ops: Option<usize>,
    /// Rows in the table for the large flatness run.
    #[arg(long)]
    big_rows: Option<u64>,
    /// Skip the 1 GiB upload and download.
    #[arg(long)]
    skip_large_file: bool,
    /// Stop after the compared DELETE phases (1 and 8 clients against the raw transaction):
    /// for quick before-and-after comparisons.
    #[arg(long)]
    deletes_only: bool,
    /// Only the bulk delete, the raw blob delete at 8 and the reaper's purge: for quick
    /// before-and-after comparisons of those.
    #[arg(long, conflicts_with = "deletes_only")]
    bulk_only: bool,
    /// Items of the bulk delete phase (1,000 per request).
    #[arg(long)]
    bulk_items: Option<usize>,
    /// Where to write the JSON results.
    #[arg(long, default_value = "target/bench-results.json")]
    json: PathBuf,
    /// Compare with pict-rs (this binary) instead of the ceilings: the same uploads, DELETE at
    /// 1 and 8 clients taking turns, both servers' memory. PostgreSQL and files only.
    #[arg(long, conflicts_with_all = ["deletes_only", "bulk_only"])]
    pict_rs: Option<PathBuf>,
    /// The `medialib` binary (default: next to this one).
    #[arg(long)]
    medialib: Option<PathBuf>,
    /// PostgreSQL server (a fresh database is created on it).
    #[arg(
        long,
        env = "MEDIALIB_TEST_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    postgres_url: String,
    /// MariaDB server (a fresh database is created on it).
    #[arg(
        long,
        env = "MEDIALIB_TEST_MYSQL_URL",
        default_value = "mysql://root@127.0.0.1:3306/test"
    )]
    mysql_url: String,
    /// S3 endpoint (SeaweedFS; a fresh bucket is created on it).
    #[arg(
        long,
        env = "MEDIALIB_TEST_S3_ENDPOINT",
        default_value = "http://127.0.0.1:8333"
    )]
    s3_endpoint: String,
}

/// Where the server keeps its data, as the bench reaches it.
struct Backend {
    database_url: String,
    blob_url: String,
    /// The same store, opened directly (raw ceilings, purge checks).
    store: Arc<dyn ObjectStore>,
    _database: Option<medialib_test_support::TestDatabase>,
    _bucket: Option<medialib_test_support::TestBucket>,
}

async fn backend(args: &Args, dir: &std::path::Path) -> anyhow::Result<Backend> {
    let (database_url, database) = match args.database.as_str() {
        "sqlite" => (
            format!(
                "sqlite://{}?mode=rwc",
                dir.join("data/medialib.db").display()
            ),
            None,
        ),
        "postgres" => {
            let db = medialib_test_support::TestDatabase::create(&args.postgres_url).await;
            (db.url.clone(), Some(db))
        }
        "mysql" => {
            let db = medialib_test_support::TestDatabase::create(&args.mysql_url).await;
            (db.url.clone(), Some(db))
        }
        other => bail!("unknown --database {other:?}"),
    };
    let mut test_bucket = None;
    let (blob_url, store): (String, Arc<dyn ObjectStore>) = match args.blobs.as_str() {
        "file" => {
            let path = dir.join("data/blobs");
            std::fs::create_dir_all(&path)?;
            let store = object_store::local::LocalFileSystem::new_with_prefix(&path)?;
            (path.display().to_string(), Arc::new(store))
        }
        "s3" => {
            let bucket = medialib_test_support::create_bucket(&args.s3_endpoint).await;
            let url = bucket.url.clone();
            let store = object_store::aws::AmazonS3Builder::new()
                .with_endpoint(&args.s3_endpoint)
                .with_bucket_name(&bucket.name)
                .with_region("us-east-1")
                .with_access_key_id("bench")
                .with_secret_access_key("bench")
                .with_allow_http(true)
                .build()?;
            test_bucket = Some(bucket);
            (url, Arc::new(store))
        }
        other => bail!("unknown --blobs {other:?}"),
    };
    Ok(Backend {
        database_url,
        blob_url,
        store,
        _database: database,
        _bucket: test_bucket,
    })
}

/// A client of the server under test.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Client {
    async fn upload(&self, path: String, body: reqwest::Body) -> anyhow::Result<i64> {
        let response = self
            .http
            .post(format!("{}/v1/media", self.base))
            .query(&[("path", path.as_str())])
            .bearer_auth(&self.key)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await?
            .error_for_status()?;
        let media: Value = response.json().await?;
        media["id"].as_i64().context("media id")
    }

    /// Uploads `count` files of 4 KiB at 8 clients; returns the ids and the phase's figures.
    async fn fill(&self, prefix: &str, count: usize) -> anyhow::Result<(Vec<i64>, Stats)> {
        let ids = Arc::new(std::sync::Mutex::new(Vec::with_capacity(count)));
        let sink = Arc::clone(&ids);
        let client = self.clone();
        let prefix = prefix.to_owned();
        let stats = drive(8, (0..count).collect(), move |i| {
            let client = client.clone();
            let sink = Arc::clone(&sink);
            let path = format!("{prefix}/{i}.bin");
            async move {
                let id = client.upload(path, vec![42u8; 4096].into()).await?;
                sink.lock().expect("ids lock").push(id);
                Ok(())
            }
        })
        .await?;
        let mut ids = ids.lock().expect("ids lock").clone();
        ids.sort_unstable();
        Ok((ids, stats))
    }

    async fn delete_all(&self, ids: Vec<i64>, clients: usize) -> anyhow::Result<Stats> {
        let client = self.clone();
        drive(clients, ids, move |id| {
            let client = client.clone();
            async move {
                let response = client
                    .http
                    .delete(format!("{}/v1/media/{id}", client.base))
                    .bearer_auth(&client.key)
                    .send()
                    .await?;
                if response.status() != 200 {
                    bail!("delete {id}: {}", response.status());
                }
                Ok(())
            }
        })
        .await
    }
}

async fn count_blobs(store: &Arc<dyn ObjectStore>, prefix: &str) -> anyhow::Result<usize> {
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
async fn bulk_delete(
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
struct Reap {
    /// Keys/s, the process start taken out.
    rate: f64,
    /// Keys/s with the process start.
    gross: f64,
    startup_ms: f64,
    /// CPU per purged blob.
    split: Value,
}

/// What the purge phases run against: the `medialib` binary, its working directory, the
/// backend and the tenant the pending records belong to.
struct Purge<'a> {
    bin: &'a std::path::Path,
    dir: &'a std::path::Path,
    backend: &'a Backend,
    raw: &'a RawDb,
    tenant: i64,
}

impl Purge<'_> {
    /// Records `items` blobs under `prefix` as pending deletions and times `medialib reap
    /// --all` over them (the same command with nothing to do is timed first: process start,
    /// connecting, migration check).
    async fn reap(&self, prefix: &str, items: usize) -> anyhow::Result<Reap> {
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
    async fn rounds(&self, items: usize) -> anyhow::Result<(Stats, Value, Reap)> {
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

/// One line of the report: a figure, its ceiling and the ratio.
struct Row {
    what: String,
    figure: String,
    ceiling: String,
    ratio: Option<f64>,
    target: String,
    /// Whether the target holds, where it applies to this backend.
    met: Option<bool>,
}

fn row(what: &str, figure: String, ceiling: String, ratio: Option<f64>, target: &str) -> Row {
    Row {
        what: what.to_owned(),
        figure,
        ceiling,
        ratio,
        target: target.to_owned(),
        met: None,
    }
}

impl Row {
    /// Judges the row's target where it `applies` to the backend: `holds` of its ratio (false
    /// without one), or of the figure given.
    fn judged(mut self, applies: bool, holds: impl FnOnce(f64) -> bool) -> Self {
        self.met = applies.then(|| self.ratio.is_some_and(holds));
        self
    }

    /// Judges a target on an absolute figure rather than the ratio.
    fn judged_on(mut self, applies: bool, holds: bool) -> Self {
        self.met = applies.then_some(holds);
        self
    }
}

/// Prints the table of `rows` and which targets were met; returns the judged rows.
fn report<'a>(rows: &'a [Row], args: &Args, smoke: bool) -> Vec<&'a Row> {
    println!();
    println!(
        "{:<38} {:<58} {:<48} {:>7}  {:<8} target",
        "figure", "medialib", "ceiling", "ratio", "verdict"
    );
    for r in rows {
        let ratio = r.ratio.map_or(String::new(), |x| format!("{x:.2}x"));
        let verdict = match r.met {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "",
        };
        println!(
            "{:<38} {:<58} {:<48} {:>7}  {:<8} {}",
            r.what, r.figure, r.ceiling, ratio, verdict, r.target
        );
    }
    let judged: Vec<&Row> = rows.iter().filter(|r| r.met.is_some()).collect();
    let missed: Vec<&str> = judged
        .iter()
        .filter(|r| r.met == Some(false))
        .map(|r| r.what.as_str())
        .collect();
    println!(
        "\ntargets on {} + {}: {} of {} met{}{}",
        args.database,
        args.blobs,
        judged.len() - missed.len(),
        judged.len(),
        if missed.is_empty() {
            String::new()
        } else {
            format!("; not met: {}", missed.join(", "))
        },
        if smoke {
            " (smoke run: small counts, the figures mean nothing)"
        } else {
            ""
        }
    );
    judged
}

/// The order of the sides in compared round `round`: medialib (`None`) and each of `ceilings`
/// ceilings, rotated by one place a round, so that no side always follows the same one (what
/// a heavy phase leaves to the database, dead rows and a checkpoint due, lands on each alike).
fn turns(round: usize, ceilings: usize) -> impl Iterator<Item = Option<usize>> {
    let sides = ceilings + 1;
    (0..sides).map(move |k| match (k + round) % sides {
        0 => None,
        n => Some(n - 1),
    })
}

/// The strongest of the one-transaction-per-delete `ceilings` by `better` (the fastest at 8
/// clients, the lowest median at 1), with its figures.
fn strongest<'a>(
    ceilings: &[Ceiling],
    figures: &'a [Stats],
    better: fn(&Stats, &Stats) -> bool,
) -> anyhow::Result<(Ceiling, &'a Stats)> {
    ceilings
        .iter()
        .zip(figures)
        .filter(|(ceiling, _)| ceiling.one_transaction())
        .fold(
            None::<(Ceiling, &Stats)>,
            |best, (ceiling, stats)| match best {
                Some((_, held)) if !better(stats, held) => best,
                _ => Some((*ceiling, stats)),
            },
        )
        .context("no one-transaction ceiling")
}

fn rate(stats: &Stats) -> String {
    format!(
        "{:.0}/s  p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms",
        stats.per_second, stats.p50_ms, stats.p99_ms, stats.p999_ms
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bin = match &args.medialib {
        Some(path) => path.clone(),
        None => server::default_binary()?,
    };
    let smoke = args.smoke;
    let ops = args.ops.unwrap_or(if smoke { 200 } else { 2000 });
    // Operations of each one-client phase.
    let seq = ops / 2;
    let bulk_items = args.bulk_items.unwrap_or(if smoke { 2000 } else { 10_000 });
    // The blob ceiling at 8 deletes as many blobs as the reaper does, from one directory
    // alike: a phase of a few milliseconds would be mostly noise.
    let reap_items = if smoke { 500 } else { 20_000 };
    let small_rows: u64 = if smoke { 1000 } else { 10_000 };
    let big_rows = args
        .big_rows
        .unwrap_or(if smoke { 10_000 } else { 1_000_000 });
    let dir = tempfile::tempdir()?;
    let backend = backend(&args, dir.path()).await?;
    let mut results = serde_json::Map::new();
    let mut rows = Vec::new();
    println!(
        "medialib-bench: {} + {}, {} deletes per phase{}",
        args.database,
        args.blobs,
        ops,
        if smoke { " (smoke)" } else { "" }
    );

    // --- the server, idle --------------------------------------------------------------------
    let server = Server::start(
        &bin,
        dir.path(),
        &backend.database_url,
        &backend.blob_url,
        &[],
    )?;
    let client = Client {
        http: reqwest::Client::new(),
        base: server.base.clone(),
        key: server.admin.clone(),
    };
    client
        .http
        .get(format!("{}/readyz", client.base))
        .send()
        .await?
        .error_for_status()?;
    let idle_rss = server.rss_mib();
    println!("idle RSS {idle_rss:.1} MiB");
    if let Some(pict_rs) = &args.pict_rs {
        if args.database != "postgres" || args.blobs != "file" {
            bail!("--pict-rs compares on PostgreSQL and files (--database postgres --blobs file)");
        }
        let peer = peer::PictRs::start(pict_rs, &args.postgres_url, dir.path()).await?;
        let (rows, figures) = peer::compare(&peer, &client, &server, seq, ops).await?;
        report(&rows, &args, smoke);
        results.insert("pict_rs".into(), figures);
        return write_json(&args, results);
    }
    let raw = RawDb::connect(&backend.database_url, 8).await?;
    let tenant = raw
        .scalar("SELECT id FROM tenants WHERE slug = 'default'")
        .await?;
    let purge = Purge {
        bin: &bin,
        dir: dir.path(),
        backend: &backend,
        raw: &raw,
        tenant,
    };
    if args.bulk_only {
        let (bulk_rate, _) = bulk_delete(&client, &backend, bulk_items).await?;
        server.stop();
        let (blob8, _, reap) = purge.rounds(reap_items).await?;
        println!(
            "ratios: bulk {bulk_rate:.0} items/s; reaper purge / raw blob delete at 8 {:.2}x",
            reap.rate / blob8.per_second
        );
        return Ok(());
    }

    // --- uploads, then DELETE at 1 and 8 clients against the raw transaction -----------------
    let (ids, upload) = client.fill("seq", seq + ops).await?;
    println!(
        "upload 4 KiB x{} at 8 clients: {}",
        upload.ops,
        rate(&upload)
    );
    let ceilings = Ceiling::for_database(&args.database);
    let on = On {
        raw: raw.clone(),
        url: backend.database_url.clone(),
        tenant,
        scratch: dir.path().join("ceilings"),
    };
    let mut ceiling_ids = Vec::with_capacity(ceilings.len());
    for (n, _) in ceilings.iter().enumerate() {
        ceiling_ids.push(
            raw.fill(tenant, &format!("raw{n}"), (seq + ops) as u64)
                .await?,
        );
    }
    // medialib and its ceilings take turns, a quarter of the operations at a time and in an
    // order rotated every round ([`turns`]), so that all meet the same machine (a checkpoint,
    // a vacuum, a busy neighbour) alike.
    let (one_ids, eight_ids) = ids.split_at(seq);
    // Every side starts from a settled database (the fills above left work for its background
    // maintenance, which would otherwise land in whichever turn comes first).
    raw.settle().await?;
    let mut delete1 = Vec::new();
    let mut at1: Vec<Vec<Stats>> = vec![Vec::new(); ceilings.len()];
    let chunk1 = seq.div_ceil(ROUNDS);
    for (round, ours) in one_ids.chunks(chunk1).enumerate() {
        for side in turns(round, ceilings.len()) {
            quiet().await;
            let Some(n) = side else {
                delete1.push(client.delete_all(ours.to_vec(), 1).await?);
                continue;
            };
            let chunk = &ceiling_ids[n][..seq][round * chunk1..((round + 1) * chunk1).min(seq)];
            at1[n].push(ceilings[n].run(&on, chunk, 1).await?);
        }
    }
    let delete1 = Stats::pooled(&delete1)?;
    println!("DELETE at 1 client: {}", rate(&delete1));
    let at1 = at1
        .iter()
        .map(|rounds| Stats::pooled(rounds))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (ceiling, stats) in ceilings.iter().zip(&at1) {
        println!("{} at 1: {}", ceiling.label(), rate(stats));
    }
    // The part of a delete before its transaction: HTTP, authentication and the lookup that
    // authorizes it (an id that does not exist answers 404 right after it).
    let lookup1 = {
        let client = client.clone();
        drive(1, vec![(); seq], move |()| {
            let client = client.clone();
            async move {
                let response = client
                    .http
                    .delete(format!("{}/v1/media/999999999", client.base))
                    .bearer_auth(&client.key)
                    .send()
                    .await?;
                if response.status() != 404 {
                    bail!("missing id: {}", response.status());
                }
                Ok(())
            }
        })
        .await?
    };
    println!(
        "DELETE of a missing id at 1 client (authentication and a locked lookup that finds nothing): {}",
        rate(&lookup1)
    );
    raw.settle().await?;
    let (sampler, peak) = peak_rss(server.rss_probe());
    let mut delete8 = Vec::new();
    let mut delete8_cpu = 0.0;
    let mut delete8_split = Vec::new();
    let mut at8: Vec<Vec<Stats>> = vec![Vec::new(); ceilings.len()];
    let mut at8_cpu = vec![0.0; ceilings.len()];
    let mut at8_split: Vec<Vec<Value>> = vec![Vec::new(); ceilings.len()];
    let chunk8 = ops.div_ceil(ROUNDS);
    for (round, ours) in eight_ids.chunks(chunk8).enumerate() {
        for side in turns(round, ceilings.len()) {
            quiet().await;
            let cpu = CpuTimes::now();
            let Some(n) = side else {
                let used = ProcessCpu::now(Some(server.pid()));
                delete8.push(client.delete_all(ours.to_vec(), 8).await?);
                delete8_cpu += cpu.busy_since() / ROUNDS as f64;
                delete8_split.push(used.per_op_since(Some(server.pid()), ours.len() as u64));
                continue;
            };
            let chunk = &ceiling_ids[n][seq..][round * chunk8..((round + 1) * chunk8).min(ops)];
            let used = ProcessCpu::now(None);
            let stats = ceilings[n].run(&on, chunk, 8).await?;
            at8_cpu[n] += cpu.busy_since() / ROUNDS as f64;
            at8_split[n].push(used.per_op_since(None, stats.ops));
            at8[n].push(stats);
        }
    }
    let delete8_split = mean_split(&delete8_split);
    sampler.abort();
    let load_rss = peak.lock().map_or(0.0, |max| *max);
    let delete8 = Stats::pooled(&delete8)?;
    let at8 = at8
        .iter()
        .map(|rounds| Stats::pooled(rounds))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let at8_split: Vec<Value> = at8_split.iter().map(|splits| mean_split(splits)).collect();
    println!(
        "DELETE at 8 clients: {}  (peak RSS {load_rss:.1} MiB, CPU {:.0}% busy)",
        rate(&delete8),
        delete8_cpu * 100.0
    );
    println!("CPU per delete at 8, medialib: {delete8_split}");
    for (n, ceiling) in ceilings.iter().enumerate() {
        println!(
            "{} at 8: {}  (CPU {:.0}% busy)",
            ceiling.label(),
            rate(&at8[n]),
            at8_cpu[n] * 100.0
        );
        if ceiling.cpu_readable() {
            println!("CPU per delete at 8, {}: {}", ceiling.label(), at8_split[n]);
        }
    }
    let (best8, best8_stats) = strongest(&ceilings, &at8, |a, b| a.per_second > b.per_second)?;
    let (best1, best1_stats) = strongest(&ceilings, &at1, |a, b| a.p50_ms < b.p50_ms)?;
    if args.deletes_only {
        println!(
            "ratios: DELETE p50 at 1 / strongest ceiling's p50 ({}) {:.2}x; DELETE at 8 / \
             strongest ceiling at 8 ({}) {:.2}x",
            best1.label(),
            delete1.p50_ms / best1_stats.p50_ms,
            best8.label(),
            delete8.per_second / best8_stats.per_second
        );
        return Ok(());
    }

    // --- bulk delete -------------------------------------------------------------------------
    let (bulk_rate, purge_rate) = bulk_delete(&client, &backend, bulk_items).await?;

    // --- the other raw ceilings --------------------------------------------------------------
    quiet().await;
    let paths = raw::put_objects(&backend.store, "raw-blobs/one", seq).await?;
    let blob1 = raw::blob_ceiling(&backend.store, paths, 1).await?;
    println!("raw blob delete at 1: {}", rate(&blob1));
    let both_ids = raw.fill(tenant, "both", (seq + ops) as u64).await?;
    let both_paths = raw::put_objects(&backend.store, "raw-both", seq + ops).await?;
    let work: Vec<(i64, object_store::path::Path)> = both_ids.into_iter().zip(both_paths).collect();
    let raw1 = raw::delete_ceiling(&raw, tenant, &backend.store, work[..seq].to_vec(), 1).await?;
    let raw8 = raw::delete_ceiling(&raw, tenant, &backend.store, work[seq..].to_vec(), 8).await?;
    println!("raw delete (SQL + blob) at 1: {}", rate(&raw1));
    println!("raw delete (SQL + blob) at 8: {}", rate(&raw8));
    let http8 = raw::http_ceiling(ops * 5, 8).await?;
    println!("trivial HTTP 200 at 8: {}", rate(&http8));

    // --- flatness: 10,000 rows, then many more -------------------------------------------------
    let existing = raw.scalar("SELECT COUNT(*) FROM media").await?;
    let pad = u64::try_from((small_rows as i64 - existing).max(0)).unwrap_or(0);
    raw.fill(tenant, "filler", pad).await?;
    // Twice the usual count: a p99 is the 1 % tail, and one checkpoint more or less moves it.
    let (flat_ids, _) = client.fill("flat-small", 2 * ops).await?;
    raw.settle().await?;
    let flat_small = client.delete_all(flat_ids, 8).await?;
    println!("DELETE at 8 with {small_rows} rows: {}", rate(&flat_small));
    // The same phase on the same table once more: how far a tail moves between two runs that
    // differ in nothing, the yardstick for the big table's ratio.
    let (flat_ids, _) = client.fill("flat-again", 2 * ops).await?;
    raw.settle().await?;
    let flat_again = client.delete_all(flat_ids, 8).await?;
    println!(
        "DELETE at 8 with {small_rows} rows, again: {}",
        rate(&flat_again)
    );
    let t0 = Instant::now();
    raw.fill(tenant, "filler-big", big_rows.saturating_sub(small_rows))
        .await?;
    println!(
        "filled to {big_rows} rows in {:.0} s",
        t0.elapsed().as_secs_f64()
    );
    let (flat_ids, _) = client.fill("flat-big", 2 * ops).await?;
    raw.settle().await?;
    let flat_big = client.delete_all(flat_ids, 8).await?;
    println!("DELETE at 8 with {big_rows} rows: {}", rate(&flat_big));

    // --- one 1 GiB file ------------------------------------------------------------------------
    let large = if args.skip_large_file {
        None
    } else {
        Some(large_file(&server, &client, if smoke { 64 } else { 1024 }).await?)
    };
    server.stop();

    // --- the reaper: blob purge through medialib, without the delete transaction, taking -----
    // --- turns with the raw blob delete at 8 -------------------------------------------------
    let (blob8, blob8_split, reap) = purge.rounds(reap_items).await?;
    println!(
        "CPU per purged blob, reaper: {}; raw blob delete at 8: {blob8_split}",
        reap.split
    );

    // --- group commit off, for comparison ------------------------------------------------------
    let plain = Server::start(
        &bin,
        dir.path(),
        &backend.database_url,
        &backend.blob_url,
        &[("MEDIALIB_GROUP_COMMIT_MAX_BATCH", "1")],
    )?;
    let plain_client = Client {
        base: plain.base.clone(),
        ..client.clone()
    };
    let (plain_ids, _) = plain_client.fill("plain", ops).await?;
    let plain8 = plain_client.delete_all(plain_ids, 8).await?;
    plain.stop();
    println!("DELETE at 8 without group commit: {}", rate(&plain8));

    // --- the report ----------------------------------------------------------------------------
    let ratio = |a: f64, b: f64| if b > 0.0 { Some(a / b) } else { None };
    // Which targets apply: each names its backend, or none (every backend).
    let files = args.blobs == "file";
    let sqlite = args.database == "sqlite" && files;
    let postgres_files = args.database == "postgres" && files;
    rows.push(row(
        "DELETE, 1 client",
        rate(&delete1),
        format!("raw delete {}", rate(&raw1)),
        ratio(delete1.per_second, raw1.per_second),
        "",
    ));
    rows.push(
        row(
            "DELETE p50, 1 client",
            format!("{:.2} ms", delete1.p50_ms),
            format!("{} p50 {:.2} ms", best1.label(), best1_stats.p50_ms),
            ratio(delete1.p50_ms, best1_stats.p50_ms),
            "PostgreSQL: <= 1.3x strongest",
        )
        .judged(postgres_files, |x| x <= 1.3),
    );
    for (ceiling, stats) in ceilings.iter().zip(&at1) {
        rows.push(row(
            "DELETE p50, 1 client, vs",
            format!("{:.2} ms", delete1.p50_ms),
            format!("{} p50 {:.2} ms", ceiling.label(), stats.p50_ms),
            ratio(delete1.p50_ms, stats.p50_ms),
            "",
        ));
    }
    rows.push(row(
        "DELETE 404 p50, 1 client",
        format!("{:.2} ms", lookup1.p50_ms),
        format!("trivial HTTP p50 {:.2} ms", http8.p50_ms),
        None,
        "",
    ));
    rows.push(
        row(
            "DELETE, 8 clients (group commit)",
            rate(&delete8),
            format!("{} {:.0}/s", best8.label(), best8_stats.per_second),
            ratio(delete8.per_second, best8_stats.per_second),
            "PostgreSQL, SQLite: >= 1.0x strongest",
        )
        .judged(postgres_files || sqlite, |x| x >= 1.0),
    );
    for (ceiling, stats) in ceilings.iter().zip(&at8) {
        rows.push(row(
            "DELETE, 8 clients, vs",
            format!("{:.0}/s", delete8.per_second),
            format!("{} {:.0}/s", ceiling.label(), stats.per_second),
            ratio(delete8.per_second, stats.per_second),
            "",
        ));
    }
    rows.push(row(
        "DELETE, 8 clients, vs raw delete",
        format!("{:.0}/s", delete8.per_second),
        format!("sqlx + object_store {}", rate(&raw8)),
        ratio(delete8.per_second, raw8.per_second),
        "",
    ));
    rows.push(row(
        "DELETE, 8 clients, group commit off",
        rate(&plain8),
        format!("{} {:.0}/s", best8.label(), best8_stats.per_second),
        ratio(plain8.per_second, best8_stats.per_second),
        "",
    ));
    rows.push(
        row(
            "DELETE p99 / p50, 8 clients",
            format!("{:.2} / {:.2} ms", delete8.p99_ms, delete8.p50_ms),
            String::new(),
            ratio(delete8.p99_ms, delete8.p50_ms),
            "SQLite: <= 3x",
        )
        .judged(sqlite, |x| x <= 3.0),
    );
    rows.push(
        row(
            "bulk delete to receipt",
            format!("{bulk_rate:.0} items/s"),
            String::new(),
            None,
            "SQLite >= 20000, PostgreSQL >= 10000",
        )
        .judged_on(
            sqlite || postgres_files,
            bulk_rate >= if sqlite { 20_000.0 } else { 10_000.0 },
        ),
    );
    rows.push(row(
        "bulk delete until purged",
        format!("{purge_rate:.0} items/s"),
        format!("raw blob delete {:.0}/s", blob8.per_second),
        ratio(purge_rate, blob8.per_second),
        "",
    ));
    rows.push(
        row(
            "blob purge by the reaper",
            format!("{:.0} keys/s", reap.rate),
            format!("raw blob delete {:.0}/s", blob8.per_second),
            ratio(reap.rate, blob8.per_second),
            ">= 0.8x (S3: >= 1000 keys/s)",
        )
        .judged_on(
            true,
            if files {
                ratio(reap.rate, blob8.per_second).is_some_and(|x| x >= 0.8)
            } else {
                reap.rate >= 1000.0
            },
        ),
    );
    rows.push(row(
        "upload 4 KiB, 8 clients",
        rate(&upload),
        format!("trivial HTTP {:.0}/s", http8.per_second),
        ratio(upload.per_second, http8.per_second),
        "",
    ));
    for (tail, big, small) in [
        ("p50", flat_big.p50_ms, flat_small.p50_ms),
        ("p99", flat_big.p99_ms, flat_small.p99_ms),
    ] {
        rows.push(
            row(
                &format!("DELETE {tail} big/small table"),
                format!("{big:.2} / {small:.2} ms"),
                format!("{big_rows} vs {small_rows} rows"),
                ratio(big, small),
                "<= 1.2x",
            )
            .judged(true, |x| x <= 1.2),
        );
    }
    rows.push(row(
        "DELETE p99, same table twice",
        format!("{:.2} / {:.2} ms", flat_again.p99_ms, flat_small.p99_ms),
        format!("{small_rows} rows, run-to-run noise"),
        ratio(flat_again.p99_ms, flat_small.p99_ms),
        "",
    ));
    rows.push(
        row(
            "RSS idle / peak at 8 clients",
            format!("{idle_rss:.1} / {load_rss:.1} MiB"),
            String::new(),
            None,
            "<= 30 / < 64 MiB",
        )
        .judged_on(true, idle_rss <= 30.0 && load_rss < 64.0),
    );
    if let Some((mib, up, down, growth)) = &large {
        rows.push(
            row(
                &format!("{mib} MiB upload / download"),
                format!("{up:.0} / {down:.0} MiB/s, RSS growth {growth:.1} MiB"),
                String::new(),
                None,
                "< 50 MiB growth",
            )
            .judged_on(true, *growth < 50.0),
        );
    }
    let judged = report(&rows, &args, smoke);
    results.insert(
        "targets".into(),
        Value::Array(
            judged
                .iter()
                .map(|r| json!({ "figure": r.what, "ratio": r.ratio, "target": r.target, "met": r.met }))
                .collect(),
        ),
    );

    for (name, stats) in [
        ("upload_8", &upload),
        ("delete_1", &delete1),
        ("delete_missing_1", &lookup1),
        ("delete_8", &delete8),
        ("delete_8_no_group_commit", &plain8),
        ("raw_blob_1", &blob1),
        ("raw_blob_8", &blob8),
        ("raw_delete_1", &raw1),
        ("raw_delete_8", &raw8),
        ("http_200_8", &http8),
        ("delete_8_small_table", &flat_small),
        ("delete_8_small_table_again", &flat_again),
        ("delete_8_big_table", &flat_big),
    ] {
        results.insert(name.to_owned(), serde_json::to_value(stats)?);
    }
    results.insert(
        "ceilings".into(),
        Value::Array(
            ceilings
                .iter()
                .enumerate()
                .map(|(n, ceiling)| {
                    json!({
                        "label": ceiling.label(), "one_transaction": ceiling.one_transaction(),
                        "at_1": at1[n], "at_8": at8[n], "cpu_busy_8": at8_cpu[n],
                        "cpu_per_delete_8": ceiling.cpu_readable().then(|| &at8_split[n]),
                    })
                })
                .collect(),
        ),
    );
    results.insert(
        "bulk".into(),
        json!({
            "items": bulk_items, "to_receipt_per_s": bulk_rate, "until_purged_per_s": purge_rate,
            "reaper_purge_per_s": reap.rate, "reaper_items": reap_items,
            "reaper_purge_with_start_per_s": reap.gross, "reaper_start_ms": reap.startup_ms,
            "reaper_cpu_per_key": reap.split, "raw_blob_8_cpu_per_key": blob8_split,
        }),
    );
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    results.insert(
        "cpu_busy".into(),
        json!({
            "delete_8": delete8_cpu, "cores": cores, "per_delete_8": delete8_split,
        }),
    );
    results.insert(
        "rss_mib".into(),
        json!({ "idle": idle_rss, "peak_delete_8": load_rss }),
    );
    if let Some((mib, up, down, growth)) = large {
        results.insert(
            "large_file".into(),
            json!({ "mib": mib, "upload_mib_s": up, "download_mib_s": down, "rss_growth_mib": growth }),
        );
    }
    results.insert(
        "setup".into(),
        json!({
            "database": args.database, "blobs": args.blobs, "ops": ops, "smoke": smoke,
            "small_rows": small_rows, "big_rows": big_rows,
            "date": time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?,
        }),
    );
    write_json(&args, results)
}

/// Writes the figures to `--json`.
fn write_json(args: &Args, results: serde_json::Map<String, Value>) -> anyhow::Result<()> {
    if let Some(parent) = args.json.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(
        &args.json,
        serde_json::to_string_pretty(&Value::Object(results))?,
    )?;
    println!("\nwrote {}", args.json.display());
    Ok(())
}

/// Uploads and downloads one file of `mib` MiB, sampling the server's RSS; returns the size,
/// the upload and download rates (MiB/s) and the RSS growth (MiB).
async fn large_file(
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

/// Samples `probe` every 20 ms into the returned maximum until the task is aborted.
fn peak_rss(
    probe: impl Fn() -> f64 + Send + 'static,
) -> (tokio::task::JoinHandle<()>, Arc<std::sync::Mutex<f64>>) {
    let peak = Arc::new(std::sync::Mutex::new(probe()));
    let sink = Arc::clone(&peak);
    let task = tokio::spawn(async move {
        loop {
            let rss = probe();
            if let Ok(mut max) = sink.lock() {
                *max = max.max(rss);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    (task, peak)
}

/// A pause between turns, so that what one side still does after its last answer (the
/// committer forgetting purged records, say) does not land in the other side's turn: on SQLite
/// the two would contend for the one writer.
async fn quiet() {
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
}

/// The mean of per-round CPU splits, field by field.
fn mean_split(rounds: &[Value]) -> Value {
    let mean = |field: &str| {
        rounds.iter().filter_map(|r| r[field].as_f64()).sum::<f64>() / rounds.len().max(1) as f64
    };
    json!({
        "load_generator_us": mean("load_generator_us"),
        "child_process_us": mean("child_process_us"),
        "server_us": mean("server_us"),
        "database_us": mean("database_us"),
    })
}

/// CPU time used so far by the load generator (this process), the server under test and the
/// database's processes, in clock ticks: where the machine's cores went in a phase.
#[derive(Debug, Clone, Copy, Default)]
struct ProcessCpu {
    generator: u64,
    /// Child processes of this one that have exited (`medialib reap`).
    children: u64,
    server: u64,
    database: u64,
}

impl ProcessCpu {
    fn now(server: Option<u32>) -> Self {
        let ticks = |pid: &str| -> Option<(String, u64)> {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (head, rest) = stat.rsplit_once(')')?;
            let name = head.split_once('(')?.1.to_owned();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
            let used =
                fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            Some((name, used))
        };
        // cutime and cstime: fields 16 and 17 of the line, 14 and 15 after the name.
        let children = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| {
                let fields: Vec<u64> = stat
                    .rsplit_once(')')?
                    .1
                    .split_whitespace()
                    .skip(1)
                    .map(|v| v.parse().unwrap_or(0))
                    .collect();
                // After the state letter (skipped): cutime is the 13th, cstime the 14th.
                Some(fields.get(12)? + fields.get(13)?)
            })
            .unwrap_or(0);
        let mut out = Self {
            generator: ticks("self").map_or(0, |(_, t)| t),
            children,
            server: server
                .and_then(|pid| ticks(&pid.to_string()))
                .map_or(0, |(_, t)| t),
            database: 0,
        };
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if let Some((name, used)) = ticks(&pid) {
                if matches!(name.as_str(), "postgres" | "mariadbd" | "mysqld" | "weed") {
                    out.database += used;
                }
            }
        }
        out
    }

    /// Microseconds of CPU per operation since `self`, for each party.
    fn per_op_since(&self, server: Option<u32>, ops: u64) -> Value {
        let now = Self::now(server);
        let tick_us = 1e6 / 100.0; // USER_HZ
        let per = |a: u64, b: u64| (a.saturating_sub(b)) as f64 * tick_us / ops.max(1) as f64;
        json!({
            "load_generator_us": per(now.generator, self.generator),
            "child_process_us": per(now.children, self.children),
            "server_us": per(now.server, self.server),
            "database_us": per(now.database, self.database),
        })
    }
}

/// The machine's CPU time counters (`/proc/stat`), to tell whether a phase was CPU-bound.
struct CpuTimes {
    busy: u64,
    total: u64,
}

impl CpuTimes {
    fn now() -> Self {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        let total: u64 = fields.iter().sum();
        // Fields 4 and 5 are idle and iowait.
        let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
        Self {
            busy: total.saturating_sub(idle),
            total,
        }
    }

    /// The share of all cores that was busy since `self` was taken (0 to 1).
    fn busy_since(&self) -> f64 {
        let now = Self::now();
        let total = now.total.saturating_sub(self.total);
        if total == 0 {
            return 0.0;
        }
        now.busy.saturating_sub(self.busy) as f64 / total as f64
    }
}
