//! A peer in the same run: pict-rs, the image host users would pick instead, on the same
//! PostgreSQL and filesystem, driven by the same load generator as medialib and taking turns
//! with it phase by phase.
//!
//! pict-rs runs with `--danger-dummy-mode` (it stores the bytes without ffmpeg, imagemagick or
//! exiftool, which the machine does not have), its PostgreSQL repository on a fresh database
//! and its filesystem store in a scratch directory. Each item is a 4 KiB upload; a delete is
//! `DELETE /image/delete/{token}/{alias}` (pict-rs answers 204).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;

use crate::load::{drive, Stats};
use crate::server::rss_of;

/// A running pict-rs.
pub struct PictRs {
    child: Child,
    base: String,
    http: reqwest::Client,
    _database: medialib_test_support::TestDatabase,
}

/// One uploaded item: its alias and delete token.
#[derive(Debug, Clone)]
pub struct Item {
    alias: String,
    token: String,
}

impl PictRs {
    /// Starts `bin` on a free loopback port with a fresh database on `postgres_url` and its
    /// files under `dir`; waits until `/healthz` answers.
    pub async fn start(bin: &Path, postgres_url: &str, dir: &Path) -> anyhow::Result<Self> {
        let database = medialib_test_support::TestDatabase::create(postgres_url).await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let files = dir.join("pict-rs/files");
        let temporary = dir.join("pict-rs/tmp");
        std::fs::create_dir_all(&files)?;
        std::fs::create_dir_all(&temporary)?;
        let child = Command::new(bin)
            .arg("run")
            .args(["-a", &format!("127.0.0.1:{port}")])
            .arg("--danger-dummy-mode")
            .arg("--temporary-directory")
            .arg(&temporary)
            .arg("filesystem")
            .arg("-p")
            .arg(&files)
            .arg("postgres")
            .args(["-u", &database.url])
            .env("RUST_LOG", "error")
            .env("PICTRS__TRACING__LOGGING__LEVEL", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let peer = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            _database: database,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let health = peer.http.get(format!("{}/healthz", peer.base)).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return Ok(peer);
            }
            if Instant::now() > deadline {
                bail!("pict-rs did not become healthy within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Resident memory, MiB.
    pub fn rss_mib(&self) -> f64 {
        rss_of(self.child.id())
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Uploads `count` 4 KiB files at 8 clients; returns the items and the phase's figures.
    pub async fn fill(&self, count: usize) -> anyhow::Result<(Vec<Item>, Stats)> {
        let items = std::sync::Arc::new(std::sync::Mutex::new(Vec::with_capacity(count)));
        let sink = std::sync::Arc::clone(&items);
        let (http, base) = (self.http.clone(), self.base.clone());
        let stats = drive(8, (0..count).collect(), move |i: usize| {
            let (http, base, sink) = (http.clone(), base.clone(), sink.clone());
            async move {
                // Bytes that differ per item: pict-rs deduplicates identical uploads.
                let mut body = vec![42u8; 4096];
                body[..8].copy_from_slice(&(i as u64).to_le_bytes());
                let part = reqwest::multipart::Part::bytes(body)
                    .file_name(format!("{i}.bin"))
                    .mime_str("application/octet-stream")?;
                let form = reqwest::multipart::Form::new().part("images[]", part);
                let response = http
                    .post(format!("{base}/image"))
                    .multipart(form)
                    .send()
                    .await?;
                if response.status() != 201 {
                    bail!("pict-rs upload: {}", response.status());
                }
                let reply: Value = response.json().await?;
                let file = &reply["files"][0];
                let item = Item {
                    alias: file["file"].as_str().context("alias")?.to_owned(),
                    token: file["delete_token"]
                        .as_str()
                        .context("delete token")?
                        .to_owned(),
                };
                sink.lock().expect("items lock").push(item);
                Ok(())
            }
        })
        .await?;
        let items = items.lock().expect("items lock").clone();
        Ok((items, stats))
    }

    /// Deletes `items` at `clients`; each must answer 204.
    pub async fn delete_all(&self, items: Vec<Item>, clients: usize) -> anyhow::Result<Stats> {
        let (http, base) = (self.http.clone(), self.base.clone());
        drive(clients, items, move |item: Item| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let response = http
                    .delete(format!("{base}/image/delete/{}/{}", item.token, item.alias))
                    .send()
                    .await?;
                if response.status() != 204 {
                    bail!("pict-rs delete {}: {}", item.alias, response.status());
                }
                Ok(())
            }
        })
        .await
    }

    /// Waits until pict-rs has used no clock tick (10 ms) of CPU in 200 ms (its background jobs are
    /// done), for at most 20 s.
    pub async fn idle(&self) {
        let pid = self.pid().to_string();
        let ticks = || crate::cpu::ticks(&pid).map_or(0, |(_, used)| used);
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut before = ticks();
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = ticks();
            if now == before {
                return;
            }
            before = now;
        }
    }

    /// Whether `item` is still served.
    pub async fn serves(&self, item: &Item) -> anyhow::Result<bool> {
        let url = format!("{}/image/original/{}", self.base, item.alias);
        Ok(self.http.get(url).send().await?.status().is_success())
    }
}

impl Drop for PictRs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// medialib against pict-rs: the same uploads, then deletes at 1 and 8 clients taking turns
/// round by round, with both servers' resident memory. Returns the report's rows and the JSON
/// figures.
pub(crate) async fn compare(
    pict: &PictRs,
    client: &super::Client,
    server: &crate::server::Server,
    seq: usize,
    ops: usize,
) -> anyhow::Result<(Vec<super::Row>, Value)> {
    use super::{peak_rss, quiet, rate, row, ROUNDS};
    let idle = (server.rss_mib(), pict.rss_mib());
    let (ours, upload_ours) = client.fill("peer", seq + ops).await?;
    let (theirs, upload_theirs) = pict.fill(seq + ops).await?;
    println!("upload 4 KiB at 8, medialib: {}", rate(&upload_ours));
    println!("upload 4 KiB at 8, pict-rs: {}", rate(&upload_theirs));
    let mut phases = Vec::new();
    for (clients, range) in [(1, 0..seq), (8, seq..seq + ops)] {
        let chunk = range.len().div_ceil(ROUNDS);
        let (ours, theirs) = (&ours[range.clone()], &theirs[range]);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let (sampler_a, peak_a) = peak_rss(server.rss_probe());
        let pid = pict.pid();
        let (sampler_b, peak_b) = peak_rss(move || rss_of(pid));
        for (mine, peer) in ours.chunks(chunk).zip(theirs.chunks(chunk)) {
            quiet().await;
            a.push(client.delete_all(mine.to_vec(), clients).await?);
            quiet().await;
            b.push(pict.delete_all(peer.to_vec(), clients).await?);
            // pict-rs finishes a delete in background jobs after answering it: they must
            // not run in medialib's next turn.
            pict.idle().await;
        }
        sampler_a.abort();
        sampler_b.abort();
        let peak = (
            peak_a.lock().map_or(0.0, |max| *max),
            peak_b.lock().map_or(0.0, |max| *max),
        );
        let (a, b) = (Stats::pooled(&a)?, Stats::pooled(&b)?);
        println!("DELETE at {clients}, medialib: {}", rate(&a));
        println!("DELETE at {clients}, pict-rs: {}", rate(&b));
        phases.push((a, b, peak));
    }
    // pict-rs answers 204 for an alias it does not have too: check the deletes took.
    for item in theirs.iter().step_by(theirs.len().div_ceil(20).max(1)) {
        if pict.serves(item).await? {
            bail!("pict-rs still serves {} after its delete", item.alias);
        }
    }
    let [(one, one_peer, _), (eight, eight_peer, peak)] = phases
        .try_into()
        .map_err(|_| anyhow::anyhow!("two phases"))?;
    let ratio = |a: f64, b: f64| (b > 0.0).then(|| a / b);
    let rows = vec![
        row(
            "upload 4 KiB, 8 clients",
            rate(&upload_ours),
            format!("pict-rs {}", rate(&upload_theirs)),
            ratio(upload_ours.per_second, upload_theirs.per_second),
            "",
        ),
        row(
            "DELETE, 1 client",
            rate(&one),
            format!("pict-rs {}", rate(&one_peer)),
            ratio(one.per_second, one_peer.per_second),
            "",
        ),
        row(
            "DELETE p50, 1 client",
            format!("{:.2} ms", one.p50_ms),
            format!("pict-rs {:.2} ms", one_peer.p50_ms),
            ratio(one.p50_ms, one_peer.p50_ms),
            "<= 0.25x pict-rs",
        )
        .judged(true, |x| x <= 0.25),
        row(
            "DELETE, 8 clients",
            rate(&eight),
            format!("pict-rs {}", rate(&eight_peer)),
            ratio(eight.per_second, eight_peer.per_second),
            ">= 4x pict-rs",
        )
        .judged(true, |x| x >= 4.0),
        row(
            "RSS idle / peak at 8 clients",
            format!("{:.1} / {:.1} MiB", idle.0, peak.0),
            format!("pict-rs {:.1} / {:.1} MiB", idle.1, peak.1),
            ratio(peak.0, peak.1),
            "",
        ),
    ];
    let figures = serde_json::json!({
        "medialib": { "upload_8": upload_ours, "delete_1": one, "delete_8": eight,
                      "rss_idle_mib": idle.0, "rss_peak_8_mib": peak.0 },
        "pict_rs": { "upload_8": upload_theirs, "delete_1": one_peer, "delete_8": eight_peer,
                     "rss_idle_mib": idle.1, "rss_peak_8_mib": peak.1 },
    });
    Ok((rows, figures))
}
