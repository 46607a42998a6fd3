//! `TestServer`: starts `medialib serve` in a temp dir, reads its address from stdout, and
//! kills it on drop. Typed helpers keep the tests short.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

pub use crate::backend::{Backend, Store};

pub const BIN: &str = env!("CARGO_BIN_EXE_medialib");

/// A running server with its own data directory, database and blob store.
pub struct TestServer {
    child: Child,
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pub base: String,
    pub admin: String,
    pub http: reqwest::Client,
}

/// A response's status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts the status and, for errors, the code of the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16, code: Option<&str>) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        if let Some(code) = code {
            assert_eq!(
                self.body["code"], code,
                "unexpected code; body: {}",
                self.body
            );
            assert!(
                self.body["message"].is_string(),
                "error without message: {}",
                self.body
            );
        }
        &self.body
    }
}

fn medialib(dir: &Path, backend: &Backend) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env("MEDIALIB_DATABASE_URL", &backend.database_url)
        .env("MEDIALIB_BLOB_URL", &backend.blob_url)
        .env(
            "RUST_LOG",
            if std::env::var_os("TEST_LOG").is_some() {
                "info"
            } else {
                "error"
            },
        );
    command
}

impl TestServer {
    /// Starts a server on the defaults (SQLite + local files under the temp dir).
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts a server with extra `MEDIALIB_*` environment.
    pub async fn start_with(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let backend = Backend::new(dir.path()).await;
        let (child, base) = spawn(dir.path(), &backend, env, "server-1.log");
        let admin = std::fs::read_to_string(dir.path().join("data/admin.key"))
            .expect("admin key written on first start")
            .trim()
            .to_owned();
        Self {
            child,
            backend,
            dir,
            base,
            admin,
            http: reqwest::Client::new(),
        }
    }

    /// Starts one more server process on this server's database and store (another
    /// instance behind the same load balancer). Its stderr goes to `log` in the data dir.
    pub fn start_peer(&self, env: &[(&str, &str)], log: &str) -> Peer {
        let (child, base) = spawn(self.dir.path(), &self.backend, env, log);
        Peer { child, base }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs a CLI subcommand against this server's data; returns stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let output = medialib(self.dir.path(), &self.backend)
            .args(args)
            .output()
            .expect("run medialib");
        assert!(
            output.status.success(),
            "medialib {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    /// Creates a tenant (if new) and a key in it.
    pub fn key(&self, tenant: &str, user: &str, role: &str) -> String {
        if tenant != "default" {
            let _ = medialib(self.dir.path(), &self.backend)
                .args(["tenants", "create", tenant])
                .output();
        }
        self.cli(&[
            "keys", "create", "--tenant", tenant, "--user", user, "--role", role,
        ])
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        reply(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, key: &str, path: &str) -> Reply {
        self.send(Method::GET, path, Some(key), None).await
    }

    pub async fn delete(&self, key: &str, path: &str) -> Reply {
        self.send(Method::DELETE, path, Some(key), None).await
    }

    pub async fn delete_media(&self, key: &str, id: i64) -> Reply {
        self.delete(key, &format!("/v1/media/{id}")).await
    }

    pub async fn post(&self, key: &str, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(key), Some(body)).await
    }

    /// Uploads bytes at a path; returns the reply.
    pub async fn try_upload(&self, key: &str, path: &str, bytes: &[u8], tags: &str) -> Reply {
        let url = format!("{}/v1/media", self.base);
        let response = self
            .http
            .post(url)
            .query(&[("path", path), ("tags", tags)])
            .bearer_auth(key)
            .header("content-type", "image/jpeg")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("request sent");
        reply(response).await
    }

    /// Uploads and returns the new media's id.
    pub async fn upload(&self, key: &str, path: &str, bytes: &[u8]) -> i64 {
        let reply = self.try_upload(key, path, bytes, "").await;
        reply.expect(201, None)["id"].as_i64().expect("id")
    }

    /// Grants `user` a permission on a media item (asserting 201).
    pub async fn grant(&self, key: &str, id: i64, user: &str, permission: &str) {
        let body = json!({ "user_id": user, "permission": permission });
        self.post(key, &format!("/v1/media/{id}/grants"), body)
            .await
            .expect(201, None);
    }

    pub async fn usage(&self, key: &str) -> (i64, i64) {
        let reply = self.get(key, "/v1/usage").await;
        let body = reply.expect(200, None);
        (
            body["media_count"].as_i64().expect("media_count"),
            body["bytes_used"].as_i64().expect("bytes_used"),
        )
    }

    /// Every blob key in the server's store; `None` where the tests cannot see into it
    /// (`memory://`), and then the caller makes no claim about blobs.
    pub async fn blobs(&self) -> Option<Vec<String>> {
        self.backend.store.keys().await
    }

    /// Asserts how many blobs the store holds (where the tests can see into it).
    #[track_caller]
    pub fn assert_blobs(&self, keys: Option<Vec<String>>, expected: usize) {
        if let Some(keys) = keys {
            assert_eq!(keys.len(), expected, "blobs in the store: {keys:?}");
        }
    }

    /// The `media_deleted` events of a media id.
    pub async fn deleted_events(&self, id: i64) -> usize {
        let reply = self
            .get(
                &self.admin,
                &format!("/v1/activity?action=media_deleted&media_id={id}"),
            )
            .await;
        reply.expect(200, None)["items"]
            .as_array()
            .expect("items")
            .len()
    }
}

/// Spawns `medialib serve` and reads its address. With `TEST_LOG` stderr is inherited;
/// otherwise it goes to `log` under the directory.
fn spawn(dir: &Path, backend: &Backend, env: &[(&str, &str)], log: &str) -> (Child, String) {
    let mut command = medialib(dir, backend);
    let stderr = if std::env::var_os("TEST_LOG").is_some() {
        Stdio::inherit()
    } else {
        Stdio::from(std::fs::File::create(dir.join(log)).expect("log file"))
    };
    command.stderr(stderr);
    for (key, value) in env {
        command.env(key, value);
    }
    medialib_test_support::spawn_serve(command).expect("start medialib")
}

/// A second server process on the same database and store.
pub struct Peer {
    child: Child,
    pub base: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl TestServer {
    /// Kills the process with SIGKILL (a crash: nothing is finished or released).
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap the server");
    }

    /// Sends SIGTERM and waits (up to 30 s) for the process to exit; returns its success.
    pub fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "server did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body read");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

/// Sends `count` DELETEs of one id at once, spread over the servers at `bases`, and asserts
/// that exactly one gets the receipt and every other one a 404.
pub async fn assert_one_delete_wins(
    http: &reqwest::Client,
    bases: &[&str],
    key: &str,
    id: i64,
    count: usize,
) {
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let request = http
                .delete(format!("{}/v1/media/{id}", bases[i % bases.len()]))
                .bearer_auth(key)
                .send();
            tokio::spawn(async move { request.await.expect("answered").status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::with_capacity(count);
    for task in tasks {
        statuses.push(task.await.expect("task"));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 404),
        "{statuses:?}"
    );
}

/// Polls `check` until it holds or the deadline passes.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn ids(body: &Value) -> Vec<i64> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["id"].as_i64().expect("id"))
        .collect()
}

pub fn bulk(ids: &[i64]) -> Value {
    json!({ "ids": ids })
}

/// The value of one series (`name` with its labels, as exposed) on a server's `/metrics`.
pub async fn metric(http: &reqwest::Client, base: &str, series: &str) -> u64 {
    metrics_text(http, base)
        .await
        .lines()
        .filter_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .filter_map(|value| value.trim().parse::<f64>().ok())
        .map(|value| value as u64)
        .sum()
}

/// The server's `/metrics` text.
pub async fn metrics_text(http: &reqwest::Client, base: &str) -> String {
    http.get(format!("{base}/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text")
}
