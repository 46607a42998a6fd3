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
mod compared;
mod cpu;
mod figures;
mod load;
mod peer;
mod phases;
mod raw;
mod report;
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
use crate::compared::ROUNDS;
use crate::cpu::*;
use crate::figures::Figures;
use crate::load::{drive, Stats};
use crate::phases::*;
use crate::raw::RawDb;
use crate::report::*;
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
    let compared = compared::deletes(
        &client,
        &server,
        &raw,
        &ceilings,
        &on,
        &ids,
        &ceiling_ids,
        seq,
        ops,
    )
    .await?;
    if args.deletes_only {
        let (best8, best8_stats) =
            strongest(&ceilings, &compared.at8, |a, b| a.per_second > b.per_second)?;
        let (best1, best1_stats) = strongest(&ceilings, &compared.at1, |a, b| a.p50_ms < b.p50_ms)?;
        println!(
            "ratios: DELETE p50 at 1 / strongest ceiling's p50 ({}) {:.2}x; DELETE at 8 / \
             strongest ceiling at 8 ({}) {:.2}x",
            best1.label(),
            compared.delete1.p50_ms / best1_stats.p50_ms,
            best8.label(),
            compared.delete8.per_second / best8_stats.per_second
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

    let figures = Figures {
        compared,
        ceilings,
        upload,
        raw1,
        raw8,
        blob1,
        blob8,
        blob8_split,
        http8,
        plain8,
        bulk_rate,
        purge_rate,
        reap,
        flat_small,
        flat_again,
        flat_big,
        idle_rss,
        large,
        small_rows,
        big_rows,
        bulk_items,
        reap_items,
        ops,
    };
    let rows = figures.rows(&args)?;
    let judged = report(&rows, &args, smoke);
    figures.json(&judged, &args, &mut results)?;
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

/// A pause between turns, so that what one side still does after its last answer (the
/// committer forgetting purged records, say) does not land in the other side's turn: on SQLite
/// the two would contend for the one writer.
async fn quiet() {
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
}
