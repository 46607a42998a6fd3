//! The concurrent workload and its journal of what the server acknowledged.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// What the server acknowledged across the whole campaign.
#[derive(Debug, Default)]
pub struct Journal {
    /// Acknowledged uploads: id → hex SHA-256 of what was sent.
    pub uploads: HashMap<i64, String>,
    /// Ids whose delete was acknowledged (single or bulk).
    pub deleted: HashSet<i64>,
    /// Ids whose delete was sent but not answered (the server died): either outcome is fine.
    pub maybe_deleted: HashSet<i64>,
    /// Requests sent.
    pub operations: u64,
    /// Requests left unanswered by a kill.
    pub unacknowledged: u64,
    /// Requests refused with 503 `database_unavailable` (nothing changed).
    pub refused: u64,
    /// Answers that no request should get (5xx, unexpected statuses), with context.
    pub bad_answers: Vec<String>,
    /// Where the follower of the changes feed is (its cursor survives every kill).
    pub feed_cursor: Option<String>,
    /// The changes it was served, by number: the kind and the media id.
    pub feed_seen: std::collections::BTreeMap<i64, (String, i64)>,
}

impl Journal {
    fn live_ids(&self) -> Vec<i64> {
        self.uploads
            .keys()
            .filter(|id| !self.deleted.contains(id) && !self.maybe_deleted.contains(id))
            .copied()
            .collect()
    }
}

/// One run's workers.
pub struct Workload {
    base: String,
    admin: String,
    journal: Arc<Mutex<Journal>>,
    http: reqwest::Client,
    stop: Arc<AtomicBool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    seed: u64,
}

const WORKERS: u64 = 6;

enum Outcome {
    Answer(u16, Value),
    /// No answer: the server died with the request in flight.
    Lost,
}

impl Workload {
    pub fn new(base: String, admin: String, journal: Arc<Mutex<Journal>>, seed: u64) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        Self {
            base,
            admin,
            journal,
            http,
            stop: Arc::new(AtomicBool::new(false)),
            tasks: Mutex::new(Vec::new()),
            seed,
        }
    }

    /// Starts the workers and returns after `duration`, with the workers still running.
    pub async fn run_until(&self, duration: Duration) {
        let started: Vec<_> = (0..WORKERS)
            .map(|worker| {
                let ctx = Worker {
                    follower: worker == 0,
                    base: self.base.clone(),
                    admin: self.admin.clone(),
                    journal: Arc::clone(&self.journal),
                    http: self.http.clone(),
                    stop: Arc::clone(&self.stop),
                    rng: fastrand::Rng::with_seed(self.seed.wrapping_add(worker)),
                };
                tokio::spawn(ctx.run())
            })
            .collect();
        self.tasks.lock().expect("tasks").extend(started);
        tokio::time::sleep(duration).await;
    }

    /// Stops the workers (after the kill) and waits for them.
    pub async fn drain(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let tasks: Vec<_> = self.tasks.lock().expect("tasks").drain(..).collect();
        for task in tasks {
            let _ = task.await;
        }
    }
}

struct Worker {
    /// Whether this worker follows the changes feed (one follower, so that its cursor moves
    /// in one line).
    follower: bool,
    base: String,
    admin: String,
    journal: Arc<Mutex<Journal>>,
    http: reqwest::Client,
    stop: Arc<AtomicBool>,
    rng: fastrand::Rng,
}

impl Worker {
    async fn send(&self, request: reqwest::RequestBuilder) -> Outcome {
        self.journal.lock().expect("journal").operations += 1;
        match request.bearer_auth(&self.admin).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.bytes().await {
                    Ok(body) => Outcome::Answer(
                        status,
                        serde_json::from_slice(&body).unwrap_or(Value::Null),
                    ),
                    Err(_) => Outcome::Lost,
                }
            }
            Err(_) => Outcome::Lost,
        }
    }

    fn pick(&mut self) -> Option<i64> {
        let live = self.journal.lock().expect("journal").live_ids();
        (!live.is_empty()).then(|| live[self.rng.usize(..live.len())])
    }

    /// Records an answer outside the expected ones. A 503 `database_unavailable` (the
    /// database did not answer in time, under a load this machine may not carry) is the
    /// documented refusal that changed nothing: counted, not a violation; the end state shows
    /// whether it really changed nothing.
    fn bad(&self, what: &str, status: u16, body: &Value) {
        let mut journal = self.journal.lock().expect("journal");
        if status == 503 && body["code"] == "database_unavailable" {
            journal.refused += 1;
        } else {
            journal
                .bad_answers
                .push(format!("{what} answered {status}: {body}"));
        }
    }

    async fn run(mut self) {
        while !self.stop.load(Ordering::SeqCst) {
            let lost = match self.rng.u8(..10) {
                0..=3 => self.upload().await,
                4..=5 => self.delete().await,
                6 => self.bulk_delete().await,
                7 => self.share().await,
                8 => self.grant().await,
                _ if self.follower && self.rng.bool() => self.follow_feed().await,
                _ => self.read().await,
            };
            if lost {
                self.journal.lock().expect("journal").unacknowledged += 1;
                // The server is gone; wait for the harness to stop us.
                while !self.stop.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    }

    async fn upload(&mut self) -> bool {
        let size = self.rng.usize(1..16 * 1024);
        let bytes: Vec<u8> = (0..size).map(|_| self.rng.u8(..)).collect();
        let sha = format!("{:x}", Sha256::digest(&bytes));
        let path = format!("crash/{}/{}.bin", self.rng.u32(..), self.rng.u64(..));
        let request = self
            .http
            .post(format!("{}/v1/media", self.base))
            .query(&[("path", path.as_str()), ("tags", "crash")])
            .header("content-type", "application/octet-stream")
            .body(bytes);
        match self.send(request).await {
            Outcome::Answer(201, body) => {
                let id = body["id"].as_i64().expect("id");
                if body["sha256"] != sha.as_str() {
                    self.bad("upload (hash)", 201, &body);
                }
                self.journal
                    .lock()
                    .expect("journal")
                    .uploads
                    .insert(id, sha);
                false
            }
            Outcome::Answer(409, _) => false,
            Outcome::Answer(status, body) => {
                self.bad("upload", status, &body);
                false
            }
            Outcome::Lost => true,
        }
    }

    async fn delete(&mut self) -> bool {
        let Some(id) = self.pick() else { return false };
        let request = self.http.delete(format!("{}/v1/media/{id}", self.base));
        match self.send(request).await {
            Outcome::Answer(200, _) => {
                self.journal.lock().expect("journal").deleted.insert(id);
                false
            }
            // Another worker won the race.
            Outcome::Answer(404, _) => false,
            Outcome::Answer(status, body) => {
                self.bad("delete", status, &body);
                false
            }
            Outcome::Lost => {
                self.journal
                    .lock()
                    .expect("journal")
                    .maybe_deleted
                    .insert(id);
                true
            }
        }
    }

    async fn bulk_delete(&mut self) -> bool {
        let ids: Vec<i64> = (0..self.rng.usize(1..6))
            .filter_map(|_| self.pick())
            .collect();
        if ids.is_empty() {
            return false;
        }
        let request = self
            .http
            .post(format!("{}/v1/media/bulk-delete", self.base))
            .json(&json!({ "ids": ids }));
        match self.send(request).await {
            Outcome::Answer(200, body) => {
                let mut journal = self.journal.lock().expect("journal");
                for item in body["results"].as_array().into_iter().flatten() {
                    if item["deleted"] == true {
                        journal.deleted.insert(item["id"].as_i64().expect("id"));
                    }
                }
                false
            }
            Outcome::Answer(status, body) => {
                self.bad("bulk delete", status, &body);
                false
            }
            Outcome::Lost => {
                self.journal
                    .lock()
                    .expect("journal")
                    .maybe_deleted
                    .extend(ids);
                true
            }
        }
    }

    async fn share(&mut self) -> bool {
        let Some(id) = self.pick() else { return false };
        let request = self.http.post(format!("{}/v1/media/{id}/share", self.base));
        self.tolerate("share", request, &[201, 404, 409]).await
    }

    async fn grant(&mut self) -> bool {
        let Some(id) = self.pick() else { return false };
        let request = self
            .http
            .post(format!("{}/v1/media/{id}/grants", self.base))
            .json(&json!({ "user_id": format!("u{}", self.rng.u8(..4)), "permission": "read" }));
        self.tolerate("grant", request, &[201, 404]).await
    }

    async fn read(&mut self) -> bool {
        let Some(id) = self.pick() else { return false };
        let request = self
            .http
            .get(format!("{}/v1/media/{id}/content", self.base));
        self.tolerate("download", request, &[200, 404]).await
    }

    /// Reads the next page of the changes feed: numbers must only grow, across kills too.
    async fn follow_feed(&mut self) -> bool {
        let cursor = self.journal.lock().expect("journal").feed_cursor.clone();
        let mut request = self
            .http
            .get(format!("{}/v1/changes", self.base))
            .query(&[("limit", "200")]);
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor.as_str())]);
        } else {
            // The first read starts from the beginning of the feed.
            request = request.query(&[("cursor", "0")]);
        }
        match self.send(request).await {
            Outcome::Answer(200, body) => {
                let mut journal = self.journal.lock().expect("journal");
                let mut last = journal.feed_seen.keys().next_back().copied().unwrap_or(0);
                for change in body["changes"].as_array().into_iter().flatten() {
                    let seq = change["seq"].as_i64().unwrap_or(-1);
                    if seq <= last {
                        journal.bad_answers.push(format!(
                            "the feed went back or repeated: {seq} after {last}"
                        ));
                    }
                    last = last.max(seq);
                    let kind = change["kind"].as_str().unwrap_or("").to_owned();
                    let id = change["media_id"].as_i64().unwrap_or(-1);
                    journal.feed_seen.insert(seq, (kind, id));
                }
                journal.feed_cursor = body["next_cursor"].as_str().map(str::to_owned);
                false
            }
            Outcome::Answer(status, body) => {
                self.bad("changes feed", status, &body);
                false
            }
            Outcome::Lost => true,
        }
    }

    async fn tolerate(&self, what: &str, request: reqwest::RequestBuilder, ok: &[u16]) -> bool {
        match self.send(request).await {
            Outcome::Answer(status, body) => {
                if !ok.contains(&status) {
                    self.bad(what, status, &body);
                }
                false
            }
            Outcome::Lost => true,
        }
    }
}
