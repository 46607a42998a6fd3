//! Bulk delete: per-item verdicts in input order, one transaction, exact counts.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn bulk_delete_judges_own_foreign_missing_duplicate_and_invalid_ids() {
    let server = TestServer::start().await;
    let alice = server.key("default", "alice", "member");
    let bob = server.key("default", "bob", "member");
    let outsider = server.key("acme", "root", "admin");
    let mine_a = server.upload(&alice, "a.jpg", b"aaaa").await;
    let mine_b = server.upload(&alice, "b.jpg", b"bb").await;
    let bobs = server.upload(&bob, "b.jpg", b"bob").await;
    let foreign = server.upload(&outsider, "f.jpg", b"f").await;
    let shared = server.upload(&alice, "s.jpg", b"s").await;
    server
        .post(&alice, &format!("/v1/media/{shared}/share"), json!({}))
        .await
        .expect(201, None);

    let request = [
        mine_a, bobs, 999_999, foreign, mine_a, 0, -5, mine_b, shared,
    ];
    let reply = server
        .post(&alice, "/v1/media/bulk-delete", bulk(&request))
        .await;
    let body = reply.expect(200, None);
    assert_eq!(body["requested"], 9);
    assert_eq!(body["deleted"], 3);
    assert_eq!(body["failed"], 6);
    assert_eq!(body["freed_bytes"], 4 + 2 + 1);
    let results = body["results"].as_array().unwrap();
    let got: Vec<(i64, u64, Option<&str>)> = results
        .iter()
        .map(|r| {
            (
                r["id"].as_i64().unwrap(),
                r["status"].as_u64().unwrap(),
                r["code"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (mine_a, 200, None),
            (bobs, 404, Some("media_not_found")),
            (999_999, 404, Some("media_not_found")),
            (foreign, 404, Some("media_not_found")),
            (mine_a, 404, Some("media_not_found")),
            (0, 400, Some("invalid_media_id")),
            (-5, 400, Some("invalid_media_id")),
            (mine_b, 200, None),
            (shared, 200, None),
        ]
    );
    assert_eq!(results[8]["storage"], "purged");
    for id in [mine_a, mine_b, shared] {
        assert_eq!(server.deleted_events(id).await, 1);
    }
    server
        .get(&bob, &format!("/v1/media/{bobs}"))
        .await
        .expect(200, None);
    server
        .get(&outsider, &format!("/v1/media/{foreign}"))
        .await
        .expect(200, None);
    // The tenant keeps bob's file; alice, a member, counts only what she may see.
    assert_eq!(server.usage(&server.admin).await, (1, 3));
    assert_eq!(server.usage(&alice).await, (0, 0));
    server.assert_blobs(server.blobs().await, 2);
}

#[tokio::test]
async fn bulk_delete_bounds_and_body_errors_are_400() {
    let server = TestServer::start().await;
    let key = &server.admin;
    server
        .post(key, "/v1/media/bulk-delete", bulk(&[]))
        .await
        .expect(400, Some("invalid_body"));
    let too_many: Vec<i64> = (1..=1001).collect();
    server
        .post(key, "/v1/media/bulk-delete", bulk(&too_many))
        .await
        .expect(400, Some("invalid_body"));
    server
        .post(key, "/v1/media/bulk-delete", json!({"ids": ["a"]}))
        .await
        .expect(400, Some("invalid_body"));
    server
        .post(key, "/v1/media/bulk-delete", json!({"nope": 1}))
        .await
        .expect(400, Some("invalid_body"));
    let raw = server
        .http
        .post(format!("{}/v1/media/bulk-delete", server.base))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    reply(raw).await.expect(400, Some("invalid_body"));
    let missing = server
        .send(Method::POST, "/v1/media/bulk-delete", Some(key), None)
        .await;
    assert!(missing.status.is_client_error());
    assert!(missing.body["code"].is_string(), "{}", missing.body);
}

#[tokio::test]
async fn bulk_delete_of_a_thousand_ids_deletes_them_all() {
    let server = TestServer::start().await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(
            server
                .upload(&server.admin, &format!("many/{i}.jpg"), b"12345")
                .await,
        );
    }
    let mut request = ids.clone();
    request.extend(100_000..100_960);
    let reply = server
        .post(&server.admin, "/v1/media/bulk-delete", bulk(&request))
        .await;
    let body = reply.expect(200, None);
    assert_eq!(body["requested"], 1000);
    assert_eq!(body["deleted"], 40);
    assert_eq!(body["freed_bytes"], 200);
    assert_eq!(server.usage(&server.admin).await, (0, 0));
    server.assert_blobs(server.blobs().await, 0);
}

#[tokio::test]
async fn overlapping_bulk_deletes_delete_each_id_once() {
    let server = TestServer::start().await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(
            server
                .upload(&server.admin, &format!("o/{i}.jpg"), b"1")
                .await,
        );
    }
    let first = bulk(&ids[..20]);
    let second = bulk(&ids[10..]);
    let (a, b) = tokio::join!(
        server.post(&server.admin, "/v1/media/bulk-delete", first),
        server.post(&server.admin, "/v1/media/bulk-delete", second),
    );
    let deleted = a.expect(200, None)["deleted"].as_u64().unwrap()
        + b.expect(200, None)["deleted"].as_u64().unwrap();
    assert_eq!(deleted, 30);
    assert_eq!(server.usage(&server.admin).await, (0, 0));
    let events = server
        .get(
            &server.admin,
            "/v1/activity?action=media_deleted&limit=1000",
        )
        .await;
    assert_eq!(
        events.expect(200, None)["items"].as_array().unwrap().len(),
        30
    );
}
