//! Tests that look into the blob store or change it behind the server's back, and run the
//! offline commands (`gc`, `reap`) against the server's database and store. They need a store
//! the tests can reach (a directory or S3), so they do not run on `memory://`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

fn gc(server: &TestServer, args: &[&str]) -> Value {
    let mut all = vec!["gc", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&server.cli(&all)).expect("gc prints JSON")
}

#[tokio::test]
async fn delete_media_whose_blob_vanished_still_succeeds() {
    let server = TestServer::start().await;
    let id = server.upload(&server.admin, "orphan.jpg", b"abc").await;
    for key in server.blobs().await.unwrap() {
        server.backend.store.remove(&key).await;
    }
    let reply = server.delete_media(&server.admin, id).await;
    assert_eq!(reply.expect(200, None)["storage"], "purged");
    server
        .get(&server.admin, &format!("/v1/media/{id}"))
        .await
        .expect(404, Some("media_not_found"));
    assert_eq!(server.usage(&server.admin).await, (0, 0));
}

#[tokio::test]
async fn download_of_row_whose_blob_vanished_is_404_not_500() {
    let server = TestServer::start().await;
    let id = server.upload(&server.admin, "gone.jpg", b"abc").await;
    for key in server.blobs().await.unwrap() {
        server.backend.store.remove(&key).await;
    }
    server
        .get(&server.admin, &format!("/v1/media/{id}/content"))
        .await
        .expect(404, Some("content_not_found"));
}

#[tokio::test]
async fn gc_finds_and_fixes_orphan_blobs_and_rows_without_blobs() {
    let server = TestServer::start().await;
    let kept = server.upload(&server.admin, "kept.jpg", b"kept").await;
    let dangling = server.upload(&server.admin, "dangling.jpg", b"gone").await;
    server
        .post(
            &server.admin,
            &format!("/v1/media/{dangling}/share"),
            json!({}),
        )
        .await
        .expect(201, None);
    let store = &server.backend.store;
    assert_eq!(server.blobs().await.unwrap().len(), 3);
    // Remove the original of `dangling` behind the server's back (the copy stays).
    let mut original = None;
    for key in server.blobs().await.unwrap() {
        if key.starts_with("media/") && store.read(&key).await == b"gone" {
            original = Some(key);
        }
    }
    store.remove(&original.unwrap()).await;
    // And plant a blob that no row knows.
    let orphan = "media/1/0123456789abcdef0123456789abcdef";
    store.put(orphan, b"orphan!").await;

    let young = gc(&server, &[]);
    assert_eq!(
        young["orphan_blobs"], 0,
        "younger than the default grace of 1h"
    );
    assert_eq!(young["dangling_rows"], 1);
    assert_eq!(young["dangling_examples"], json!([dangling]));
    assert_eq!(young["removed_rows"], 0, "a dry run changes nothing");

    let report = gc(&server, &["--grace", "0s", "--dry-run"]);
    assert_eq!(report["orphan_blobs"], 1);
    assert_eq!(report["orphan_bytes"], 7);
    assert_eq!(report["deleted_blobs"], 0);
    assert!(store.exists(orphan).await);

    let fixed = gc(&server, &["--grace", "0s", "--fix"]);
    assert_eq!(fixed["deleted_blobs"], 1);
    assert_eq!(fixed["removed_rows"], 1);
    assert!(!store.exists(orphan).await);
    server
        .get(&server.admin, &format!("/v1/media/{dangling}"))
        .await
        .expect(404, Some("media_not_found"));
    server
        .get(&server.admin, &format!("/v1/media/{kept}"))
        .await
        .expect(200, None);
    let events = server
        .get(
            &server.admin,
            &format!("/v1/activity?action=media_deleted&media_id={dangling}"),
        )
        .await;
    let event = &events.expect(200, None)["items"][0];
    assert_eq!(event["details"]["reason"], "blob_missing");
    assert_eq!(event["actor_id"], "medialib-gc");
    assert_eq!(server.usage(&server.admin).await, (1, 4));
    server.assert_blobs(server.blobs().await, 1);

    let clean = gc(&server, &["--grace", "0s"]);
    assert_eq!(
        (
            clean["orphan_blobs"].as_u64(),
            clean["dangling_rows"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(clean["scanned_rows"], 1);
}

#[tokio::test]
async fn reap_all_removes_the_blobs_of_abandoned_uploads() {
    let server = TestServer::start().await;
    // An upload intent whose blob was written but whose row never came (the process died).
    let conn = sea_orm::Database::connect(server.backend.database_url.as_str())
        .await
        .unwrap();
    let key = "media/1/feedfacefeedfacefeedfacefeedface";
    server.backend.store.put(key, b"half").await;
    sea_orm::ConnectionTrait::execute_unprepared(
        &conn,
        &format!(
            "INSERT INTO pending_deletions (blob_key, attempts, next_attempt_at, created_at, tenant_id, status) \
             VALUES ('{key}', 0, 9999999999999, 0, 1, 'upload')"
        ),
    )
    .await
    .unwrap();
    // The reconciler leaves it alone: an intent means an upload may still be running.
    assert_eq!(gc(&server, &["--grace", "0s"])["orphan_blobs"], 0);
    let listed = server
        .get(&server.admin, "/v1/admin/pending-deletions?status=upload")
        .await;
    assert_eq!(
        listed.expect(200, None)["items"].as_array().unwrap().len(),
        1
    );
    // Not due yet for the server's reaper; the offline reaper takes everything.
    let summary: Value = serde_json::from_str(&server.cli(&["reap", "--all", "--json"])).unwrap();
    assert_eq!(summary["purged"], 1);
    assert!(!server.backend.store.exists(key).await);
    let listed = server
        .get(&server.admin, "/v1/admin/pending-deletions")
        .await;
    assert!(listed.expect(200, None)["items"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn deletes_racing_share_tags_grants_and_downloads_end_consistent() {
    let server = TestServer::start().await;
    for round in 0..10 {
        let id = server
            .upload(&server.admin, &format!("race/{round}.jpg"), b"racing")
            .await;
        let base = format!("/v1/media/{id}");
        let key = server.admin.as_str();
        let (share_path, tags_path) = (format!("{base}/share"), format!("{base}/tags"));
        let (grants_path, content_path) = (format!("{base}/grants"), format!("{base}/content"));
        let (delete, share, tags, grant, download) = tokio::join!(
            server.delete(key, &base),
            server.post(key, &share_path, json!({})),
            server.send(
                Method::PUT,
                &tags_path,
                Some(key),
                Some(json!({"tags": ["x"]}))
            ),
            server.post(
                key,
                &grants_path,
                json!({"user_id": "bob", "permission": "read"})
            ),
            server.get(key, &content_path),
        );
        assert_eq!(delete.status, 200, "{}", delete.body);
        for reply in [&share, &tags, &grant, &download] {
            assert!(
                reply.status.as_u16() < 500,
                "a race produced {}: {}",
                reply.status,
                reply.body
            );
        }
        server
            .get(key, &base)
            .await
            .expect(404, Some("media_not_found"));
    }
    assert_eq!(server.usage(&server.admin).await, (0, 0));
    assert!(server
        .get(&server.admin, "/v1/community")
        .await
        .expect(200, None)["items"]
        .as_array()
        .unwrap()
        .is_empty());
    let report = gc(&server, &["--grace", "0s"]);
    assert_eq!(report["orphan_blobs"], 0, "{report}");
    assert_eq!(report["dangling_rows"], 0, "{report}");
    server.assert_blobs(server.blobs().await, 0);
}

#[tokio::test]
async fn the_reconciler_counts_thumbnails_and_trashed_media_as_referenced() {
    use crate::derivatives::{encoded, upload_typed};
    let server = TestServer::start().await;
    let image = encoded(image::ImageFormat::Png, 300, 300);
    let pic = upload_typed(&server, &server.admin, "pic.png", "image/png", image).await;
    assert_eq!(pic["thumbnail"], "ready");
    let id = pic["id"].as_i64().unwrap();
    let trashed = server.upload(&server.admin, "old.jpg", b"old").await;
    server
        .post(
            &server.admin,
            &format!("/v1/media/{trashed}/trash"),
            json!({}),
        )
        .await
        .expect(200, None);
    server.assert_blobs(server.blobs().await, 3);

    let report = gc(&server, &["--grace", "0s", "--fix"]);
    assert_eq!(
        (
            report["orphan_blobs"].as_u64(),
            report["dangling_rows"].as_u64(),
            report["deleted_blobs"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    server.assert_blobs(server.blobs().await, 3);
    let thumbnail = server
        .http
        .get(format!("{}/v1/media/{id}/thumbnail", server.base))
        .bearer_auth(&server.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(thumbnail.status(), 200);
    server
        .post(
            &server.admin,
            &format!("/v1/media/{trashed}/restore"),
            json!({}),
        )
        .await
        .expect(200, None);
}
