//! `Idempotency-Key`: retries replay the first success, another request with the key is 422,
//! a request still running is 409, failures are not recorded, keys are per tenant.

use serde_json::{json, Value};

use crate::helpers::*;

impl TestServer {
    /// Uploads `bytes` at `path` with an idempotency key.
    async fn upload_with_key(&self, key: &str, path: &str, bytes: &[u8], idem: &str) -> Reply {
        let response = self
            .http
            .post(format!("{}/v1/media", self.base))
            .query(&[("path", path)])
            .bearer_auth(key)
            .header("content-type", "image/png")
            .header("idempotency-key", idem)
            .body(bytes.to_vec())
            .send()
            .await
            .expect("request sent");
        reply(response).await
    }

    /// POSTs a JSON body with an idempotency key.
    async fn post_with_key(&self, key: &str, path: &str, body: Value, idem: &str) -> Reply {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .header("idempotency-key", idem)
            .json(&body)
            .send()
            .await
            .expect("request sent");
        reply(response).await
    }
}

fn replayed(reply: &Reply) -> bool {
    reply
        .headers
        .get("idempotency-replayed")
        .is_some_and(|value| value == "true")
}

#[tokio::test]
async fn a_retried_upload_answers_the_media_it_created_once() {
    let server = TestServer::start().await;
    let key = &server.admin;
    let first = server.upload_with_key(key, "i/a.png", b"abc", "up-1").await;
    let id = first.expect(201, None)["id"].as_i64().unwrap();
    assert!(!replayed(&first));
    let retry = server.upload_with_key(key, "i/a.png", b"abc", "up-1").await;
    assert_eq!(retry.expect(201, None), first.expect(201, None));
    assert!(replayed(&retry), "{:?}", retry.headers);
    assert_eq!(server.usage(key).await, (1, 3), "one media, not two");

    // The same key with another request runs nothing.
    server
        .upload_with_key(key, "i/a.png", b"abcd", "up-1")
        .await
        .expect(422, Some("idempotency_key_reused"));
    server
        .upload_with_key(key, "i/other.png", b"abc", "up-1")
        .await
        .expect(422, Some("idempotency_key_reused"));
    assert_eq!(server.usage(key).await, (1, 3));
    server
        .get(key, &format!("/v1/media/{id}"))
        .await
        .expect(200, None);

    // A key is 1 to 255 visible ASCII characters.
    server
        .upload_with_key(key, "i/b.png", b"b", &"k".repeat(256))
        .await
        .expect(400, Some("invalid_idempotency_key"));
    // Without valid credentials the request is answered as without a key.
    server
        .upload_with_key("mk_nope", "i/b.png", b"b", "up-2")
        .await
        .expect(401, Some("unauthorized"));
}

#[tokio::test]
async fn a_retried_bulk_delete_answers_its_receipt_and_failures_are_not_recorded() {
    let server = TestServer::start().await;
    let key = &server.admin;
    let a = server.upload(key, "b/a.png", b"a").await;
    let b = server.upload(key, "b/b.png", b"b").await;
    // A refused request changed nothing and is not recorded: the key still runs a request.
    server
        .post_with_key(key, "/v1/media/bulk-delete", json!({ "ids": [] }), "bulk-1")
        .await
        .expect(400, Some("invalid_body"));
    let receipt = server
        .post_with_key(key, "/v1/media/bulk-delete", bulk(&[a, b]), "bulk-1")
        .await;
    let body = receipt.expect(200, None).clone();
    assert_eq!(body["deleted"], 2, "{body}");
    let retry = server
        .post_with_key(key, "/v1/media/bulk-delete", bulk(&[a, b]), "bulk-1")
        .await;
    assert_eq!(retry.expect(200, None), &body, "the receipt, not two 404s");
    assert!(replayed(&retry));
    // Without the key the same request runs again and finds nothing.
    let again = server
        .post(key, "/v1/media/bulk-delete", bulk(&[a, b]))
        .await;
    assert_eq!(again.expect(200, None)["deleted"], 0, "{}", again.body);
    assert_eq!(server.deleted_events(a).await, 1);
}

#[tokio::test]
async fn keys_are_per_tenant() {
    let server = TestServer::start().await;
    let other = server.key("acme", "root", "admin");
    let ours = server
        .upload_with_key(&server.admin, "t/a.png", b"a", "same")
        .await;
    let theirs = server
        .upload_with_key(&other, "t/a.png", b"a", "same")
        .await;
    assert_ne!(
        ours.expect(201, None)["id"],
        theirs.expect(201, None)["id"],
        "each tenant's request ran"
    );
    assert!(!replayed(&theirs));
}

#[tokio::test]
async fn a_request_still_running_makes_its_key_busy() {
    let server = TestServer::start().await;
    let key = server.admin.clone();
    // An upload whose body arrives slowly: the first chunk now, the rest on a signal.
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(1);
    tx.send(vec![1u8; 1024]).await.unwrap();
    let slow = {
        let http = server.http.clone();
        let url = format!("{}/v1/media", server.base);
        let key = key.clone();
        tokio::spawn(async move {
            let chunks = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
            });
            let response = http
                .post(url)
                .query(&[("path", "slow.bin")])
                .bearer_auth(key)
                .header("content-type", "application/octet-stream")
                .header("idempotency-key", "slow")
                .body(reqwest::Body::wrap_stream(chunks))
                .send()
                .await
                .unwrap();
            reply(response).await
        })
    };
    // Once its upload intent is recorded the first request is running: it claimed its key
    // before that.
    let mut started = false;
    for _ in 0..500 {
        let uploads = server
            .get(&key, "/v1/admin/pending-deletions?status=upload")
            .await;
        if !uploads.expect(200, None)["items"]
            .as_array()
            .unwrap()
            .is_empty()
        {
            started = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(started, "the slow upload started");
    server
        .upload_with_key(&key, "slow.bin", b"x", "slow")
        .await
        .expect(409, Some("idempotency_key_in_use"));
    tx.send(vec![2u8; 1024]).await.unwrap();
    drop(tx);
    let first = slow.await.unwrap();
    let created = first.expect(201, None)["id"].clone();
    // Once it answered, the key replays that answer to a retry of the same request; this
    // one differs (its body), so it is refused.
    server
        .upload_with_key(&key, "slow.bin", b"x", "slow")
        .await
        .expect(422, Some("idempotency_key_reused"));
    assert_eq!(server.usage(&key).await, (1, 2048));
    assert!(created.is_i64());
}
