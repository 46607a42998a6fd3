//! Durable deletion through the real binary: the reconciler, the one-shot reaper, abandoned
//! uploads, and races between a delete and everything else.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

fn gc(server: &TestServer, args: &[&str]) -> Value {
    let mut all = vec!["gc", "--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&server.cli(&all)).expect("gc prints JSON")
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
    let files = server.blob_files();
    assert_eq!(files.len(), 3);
    // Remove the original of `dangling` behind the server's back (the copy stays).
    let original = server
        .blob_files()
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("/media/"))
        .find(|f| std::fs::read(f).map(|b| b == b"gone").unwrap_or(false))
        .unwrap();
    std::fs::remove_file(&original).unwrap();
    // And plant a blob that no row knows.
    let orphan = server
        .data()
        .join("blobs/media/1/0123456789abcdef0123456789abcdef");
    std::fs::write(&orphan, b"orphan!").unwrap();

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
    assert!(orphan.exists());

    let fixed = gc(&server, &["--grace", "0s", "--fix"]);
    assert_eq!(fixed["deleted_blobs"], 1);
    assert_eq!(fixed["removed_rows"], 1);
    assert!(!orphan.exists());
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
    assert_eq!(
        server.blob_files().len(),
        1,
        "the community copy went with its row"
    );

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
    let db = server.data().join("medialib.db");
    let url = format!("sqlite://{}", db.display());
    let conn = sea_orm::Database::connect(url.as_str()).await.unwrap();
    let key = "media/1/feedfacefeedfacefeedfacefeedface";
    std::fs::create_dir_all(server.data().join("blobs/media/1")).unwrap();
    std::fs::write(server.data().join("blobs").join(key), b"half").unwrap();
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
    assert!(!server.data().join("blobs").join(key).exists());
    let listed = server
        .get(&server.admin, "/v1/admin/pending-deletions")
        .await;
    assert!(listed.expect(200, None)["items"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_hundred_concurrent_deletes_of_one_id_give_one_receipt() {
    let server = TestServer::start().await;
    let id = server.upload(&server.admin, "hundred.jpg", b"100").await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let http = server.http.clone();
            let url = format!("{}/v1/media/{id}", server.base);
            let key = server.admin.clone();
            tokio::spawn(async move {
                http.delete(url)
                    .bearer_auth(key)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            200 => ok += 1,
            404 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(server.deleted_events(id).await, 1);
    assert_eq!(server.usage(&server.admin).await, (0, 0));
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
    assert!(
        server.blob_files().is_empty(),
        "left: {:?}",
        server.blob_files()
    );
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_then_stops() {
    let mut server = TestServer::start().await;
    // An upload whose body trickles in over half a second.
    let chunks = futures::stream::unfold(0u8, |i| async move {
        if i == 5 {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        Some((Ok::<_, std::io::Error>(vec![i; 100]), i + 1))
    });
    let request = server
        .http
        .post(format!("{}/v1/media?path=slow.bin", server.base))
        .bearer_auth(&server.admin)
        .body(reqwest::Body::wrap_stream(chunks))
        .send();
    let upload = tokio::spawn(request);
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let stopped = tokio::task::spawn_blocking(move || {
        let ok = server.terminate();
        (ok, server)
    });
    let response = upload
        .await
        .unwrap()
        .expect("the in-flight upload is answered");
    assert_eq!(response.status(), 201);
    let (clean, server) = stopped.await.unwrap();
    assert!(clean, "exit status after SIGTERM");
    assert!(
        server
            .http
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .is_err(),
        "no longer accepting"
    );
}
