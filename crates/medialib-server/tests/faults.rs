//! The fault matrix: the real service, SQLite and local files, with faults injected under the
//! blob adapter (fail, delay, hang) and in the database (a trigger that aborts the delete
//! transaction), driven through the HTTP app in process.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::sync::Arc;
use std::time::{Duration, Instant};

use medialib_blob::faults::{BlobOp, Fault, Faults};
use medialib_blob::{BlobConfig, ObjectStoreBlobStore};
use medialib_domain::{BlobKey, BlobStore, MediaService};
use medialib_server::{Inject, RawSettings, Running, Settings};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

struct Harness {
    client: reqwest::Client,
    base: String,
    service: MediaService,
    blobs: Arc<ObjectStoreBlobStore>,
    faults: Faults,
    admin: String,
    member: String,
    db_url: String,
    _server: Running,
    _dir: tempfile::TempDir,
}

/// The server as `medialib serve` wires it (group commit, the reaper, the HTTP limits), on
/// SQLite and local files, with faults under its blob adapter. The reaper's own pass runs at
/// start only: the tests run theirs when they need one.
async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let raw = RawSettings {
        retry_grace_secs: 0,
        reap_max_attempts: 2,
        retry_interval_secs: 3600,
        ..RawSettings::local(dir.path())
    };
    let db_url = raw.database_url.clone();
    let faults = Faults::new();
    let blob_config = BlobConfig {
        url: raw.blob_url.clone(),
        timeout: Duration::from_millis(300),
    };
    let blobs =
        Arc::new(ObjectStoreBlobStore::from_url_with_faults(&blob_config, faults.clone()).unwrap());
    let settings = Settings::validate(raw).unwrap();
    let inject = Inject {
        blobs: Some(blobs.clone()),
        tune: Some(|config| config.retry_base = Duration::from_millis(1)),
        ..Inject::default()
    };
    let server = medialib_server::start(&settings, &inject, std::future::pending())
        .await
        .unwrap();
    let service = server.service.clone();
    service.create_tenant("t").await.unwrap();
    let admin = service
        .create_api_key("t", "root", "admin")
        .await
        .unwrap()
        .token;
    let member = service
        .create_api_key("t", "alice", "member")
        .await
        .unwrap()
        .token;
    Harness {
        client: reqwest::Client::new(),
        base: format!("http://{}", server.addr),
        service,
        blobs,
        faults,
        admin,
        member,
        db_url,
        _server: server,
        _dir: dir,
    }
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

impl Harness {
    async fn upload(&self, path: &str, bytes: &'static [u8]) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/v1/media", self.base))
            .query(&[("path", path)])
            .bearer_auth(&self.member)
            .header("content-type", "image/png")
            .body(bytes)
            .send()
            .await
            .unwrap();
        json_of(response).await
    }

    async fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.client.get(url),
            "POST" => self.client.post(url),
            _ => self.client.delete(url),
        };
        let request = request.bearer_auth(key);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        json_of(request.send().await.unwrap()).await
    }

    async fn usage(&self) -> (i64, i64) {
        let (_, body) = self.call("GET", "/v1/usage", &self.admin, None).await;
        (
            body["media_count"].as_i64().unwrap(),
            body["bytes_used"].as_i64().unwrap(),
        )
    }

    /// The pending records of `status` once the group committer has forgotten what it was
    /// handed (it does so in its next transaction, within moments): polled for up to 2 s.
    async fn pending_settled(&self, status: &str) -> Vec<Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        loop {
            let pending = self.pending(status).await;
            if pending.is_empty() || std::time::Instant::now() > deadline {
                return pending;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn pending(&self, status: &str) -> Vec<Value> {
        let (code, body) = self
            .call(
                "GET",
                &format!("/v1/admin/pending-deletions?status={status}"),
                &self.admin,
                None,
            )
            .await;
        assert_eq!(code, 200, "{body}");
        body["items"].as_array().unwrap().clone()
    }

    async fn blob_of(&self, id: i64) -> BlobKey {
        let actor = self.service.authenticate(&self.admin).await.unwrap();
        self.service
            .get_media(&actor, &id.to_string())
            .await
            .unwrap()
            .blob_key
    }
}

#[tokio::test]
async fn storage_down_during_delete_answers_pending_then_the_reaper_purges() {
    let h = harness().await;
    let (_, media) = h.upload("a.png", b"abc").await;
    let id = media["id"].as_i64().unwrap();
    let key = h.blob_of(id).await;
    h.faults.set(BlobOp::Delete, Fault::Fail);
    let (status, receipt) = h
        .call("DELETE", &format!("/v1/media/{id}"), &h.member, None)
        .await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["storage"], "pending");
    assert_eq!(h.usage().await, (0, 0));
    assert_eq!(h.pending("pending").await.len(), 1);
    assert!(
        h.blobs.exists(&key).await.unwrap(),
        "the blob is still there while storage is down"
    );

    // A pass while storage is still down keeps the record for later.
    let report = h.service.reap_once(100, false).await.unwrap();
    assert_eq!((report.claimed, report.retried), (1, 1));
    h.faults.clear_all();
    let report = h.service.reap_once(100, true).await.unwrap();
    assert_eq!(report.purged, 1);
    assert!(!h.blobs.exists(&key).await.unwrap());
    assert!(h.pending("pending").await.is_empty());
}

#[tokio::test]
async fn hopeless_deletions_are_parked_and_admins_can_retry_them() {
    let h = harness().await;
    let (_, media) = h.upload("p.png", b"p").await;
    let id = media["id"].as_i64().unwrap();
    h.faults.set(BlobOp::Delete, Fault::Fail);
    h.call("DELETE", &format!("/v1/media/{id}"), &h.member, None)
        .await;
    h.service.reap_once(100, true).await.unwrap();
    let report = h.service.reap_once(100, true).await.unwrap();
    assert_eq!(report.parked, 1, "parked after max_attempts = 2");
    let parked = h.pending("failed").await;
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0]["attempts"], 2);
    let error = parked[0]["last_error"].as_str().unwrap();
    assert!(
        error.contains("injected failure of Delete"),
        "the store's own error is kept: {error}"
    );
    assert_eq!(
        h.service.reap_once(100, true).await.unwrap().claimed,
        0,
        "parked records rest"
    );

    let (status, body) = h
        .call("GET", "/v1/admin/pending-deletions", &h.member, None)
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let (status, _) = h
        .call(
            "POST",
            "/v1/admin/pending-deletions/retry",
            &h.member,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 403);

    h.faults.clear_all();
    let (status, body) = h
        .call(
            "POST",
            "/v1/admin/pending-deletions/retry",
            &h.admin,
            Some(json!({})),
        )
        .await;
    assert_eq!((status, body["requeued"].as_u64()), (200, Some(1)));
    assert_eq!(h.service.reap_once(100, false).await.unwrap().purged, 1);
    assert!(h.pending("failed").await.is_empty());
    assert!(h.pending("pending").await.is_empty());
}

#[tokio::test]
async fn storage_down_during_upload_is_503_and_writes_nothing() {
    let h = harness().await;
    h.faults.set(BlobOp::Put, Fault::Fail);
    let (status, body) = h.upload("u.png", b"data").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "storage_unavailable");
    assert_eq!(h.usage().await, (0, 0));
    let (_, listed) = h.call("GET", "/v1/media", &h.admin, None).await;
    assert!(listed["items"].as_array().unwrap().is_empty());
    assert!(
        h.pending_settled("upload").await.is_empty(),
        "the intent is cleared after the failed upload"
    );
    h.faults.clear_all();
    assert_eq!(
        h.upload("u.png", b"data").await.0,
        201,
        "the path is free after the failure"
    );
}

#[tokio::test]
async fn hung_store_calls_are_cut_by_the_timeout() {
    let h = harness().await;
    let (_, media) = h.upload("h.png", b"h").await;
    let id = media["id"].as_i64().unwrap();

    h.faults.set(BlobOp::Get, Fault::Hang);
    let started = Instant::now();
    let (status, body) = h
        .call("GET", &format!("/v1/media/{id}/content"), &h.member, None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("storage_unavailable"))
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    h.faults.set(BlobOp::Delete, Fault::Hang);
    let (status, receipt) = h
        .call("DELETE", &format!("/v1/media/{id}"), &h.member, None)
        .await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["storage"], "pending");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_slow_store_only_slows_requests_down() {
    let h = harness().await;
    h.faults
        .set(BlobOp::Put, Fault::Delay(Duration::from_millis(100)));
    h.faults
        .set(BlobOp::Delete, Fault::Delay(Duration::from_millis(100)));
    let (status, media) = h.upload("s.png", b"slow").await;
    assert_eq!(status, 201);
    let (status, receipt) = h
        .call(
            "DELETE",
            &format!("/v1/media/{}", media["id"]),
            &h.member,
            None,
        )
        .await;
    assert_eq!((status, receipt["storage"].as_str()), (200, Some("purged")));
}

#[tokio::test]
async fn database_failure_during_delete_is_5xx_and_changes_nothing() {
    let h = harness().await;
    let (_, media) = h.upload("d.png", b"keep").await;
    let id = media["id"].as_i64().unwrap();
    let key = h.blob_of(id).await;
    // The last statement of the delete transaction fails: everything before it rolls back.
    let db = sea_orm::Database::connect(h.db_url.as_str()).await.unwrap();
    db.execute_unprepared(
        "CREATE TRIGGER fail_pending BEFORE INSERT ON pending_deletions \
         WHEN NEW.status = 'pending' BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    )
    .await
    .unwrap();
    let (status, body) = h
        .call("DELETE", &format!("/v1/media/{id}"), &h.member, None)
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["code"], "internal_error");
    assert!(
        !body["message"].as_str().unwrap().contains("injected"),
        "no database text leaks"
    );
    let (status, _) = h
        .call("GET", &format!("/v1/media/{id}"), &h.member, None)
        .await;
    assert_eq!(status, 200, "the row is still there");
    assert!(
        h.blobs.exists(&key).await.unwrap(),
        "the blob is still there"
    );
    assert_eq!(h.usage().await, (1, 4));
    let (_, events) = h
        .call("GET", "/v1/activity?action=media_deleted", &h.admin, None)
        .await;
    assert!(events["items"].as_array().unwrap().is_empty());

    db.execute_unprepared("DROP TRIGGER fail_pending")
        .await
        .unwrap();
    let (status, _) = h
        .call("DELETE", &format!("/v1/media/{id}"), &h.member, None)
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_failing_copy_shares_nothing() {
    let h = harness().await;
    let (_, media) = h.upload("c.png", b"c").await;
    let id = media["id"].as_i64().unwrap();
    h.faults.set(BlobOp::Copy, Fault::Fail);
    let (status, body) = h
        .call("POST", &format!("/v1/media/{id}/share"), &h.member, None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("storage_unavailable"))
    );
    let (_, community) = h.call("GET", "/v1/community", &h.member, None).await;
    assert!(community["items"].as_array().unwrap().is_empty());
    assert!(h.pending_settled("upload").await.is_empty());
    h.faults.clear_all();
    let (status, _) = h
        .call("POST", &format!("/v1/media/{id}/share"), &h.member, None)
        .await;
    assert_eq!(status, 201);
}
