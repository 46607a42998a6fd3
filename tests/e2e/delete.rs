//! The single delete: cascades, status codes, orphans, pending storage and races.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn delete_media_removes_row_blobs_and_every_cascade_in_one_receipt() {
    let server = TestServer::start().await;
    let key = &server.admin;
    let id = server
        .try_upload(key, "Captions/beach.jpg", b"0123456789", "summer,tmp")
        .await
        .expect(201, None)["id"]
        .as_i64()
        .unwrap();
    server
        .post(key, &format!("/v1/media/{id}/share"), json!({}))
        .await
        .expect(201, None);
    server.grant(key, id, "bob", "read").await;
    server.grant(key, id, "eve", "delete").await;
    server.assert_blobs(server.blobs().await, 2);
    assert_eq!(server.usage(key).await, (1, 10));

    let reply = server.delete_media(key, id).await;
    let receipt = reply.expect(200, None);
    assert_eq!(receipt["id"], id);
    assert_eq!(receipt["deleted"], true);
    assert_eq!(receipt["message"], "Media deleted successfully");
    assert_eq!(receipt["freed_bytes"], 10);
    assert_eq!(receipt["storage"], "purged");
    assert_eq!(
        receipt["removed"],
        json!({"community_copy": true, "tag_assignments": 4, "access_grants": 2, "derivatives": 0})
    );

    server.assert_blobs(server.blobs().await, 0);
    server
        .get(key, &format!("/v1/media/{id}"))
        .await
        .expect(404, Some("media_not_found"));
    assert!(
        server.get(key, "/v1/community").await.expect(200, None)["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(server.usage(key).await, (0, 0));
    assert_eq!(server.deleted_events(id).await, 1);
    let event = server
        .get(
            key,
            &format!("/v1/activity?action=media_deleted&media_id={id}"),
        )
        .await;
    let details = &event.body["items"][0]["details"];
    assert_eq!(details["media"]["path"], "Captions/beach.jpg");
    assert_eq!(details["removed"]["access_grants"], 2);
    assert_eq!(event.body["items"][0]["actor_id"], "admin");
}

#[tokio::test]
async fn delete_media_rejects_malformed_ids_with_400() {
    let server = TestServer::start().await;
    for bad in ["abc", "0", "-1", "1.5", "99999999999999999999", "%20"] {
        let reply = server
            .delete(&server.admin, &format!("/v1/media/{bad}"))
            .await;
        reply.expect(400, Some("invalid_media_id"));
        assert_eq!(reply.body["message"], "Invalid media ID");
    }
}

#[tokio::test]
async fn delete_media_of_missing_or_already_deleted_id_is_404() {
    let server = TestServer::start().await;
    server
        .delete_media(&server.admin, 12345)
        .await
        .expect(404, Some("media_not_found"));
    let id = server.upload(&server.admin, "a.jpg", b"x").await;
    server
        .delete_media(&server.admin, id)
        .await
        .expect(200, None);
    let again = server.delete_media(&server.admin, id).await;
    again.expect(404, Some("media_not_found"));
    assert_eq!(again.body["message"], "Media not found");
    assert_eq!(server.deleted_events(id).await, 1);
}

#[tokio::test]
async fn concurrent_deletes_of_one_id_give_exactly_one_receipt() {
    let server = TestServer::start().await;
    let id = server.upload(&server.admin, "race.jpg", b"0123").await;
    assert_one_delete_wins(&server.http, &[&server.base], &server.admin, id, 20).await;
    assert_eq!(server.deleted_events(id).await, 1);
    assert_eq!(server.usage(&server.admin).await, (0, 0));
    server.assert_blobs(server.blobs().await, 0);
}

#[tokio::test]
async fn deleted_ids_are_never_reused() {
    let server = TestServer::start().await;
    let first = server.upload(&server.admin, "1.jpg", b"1").await;
    let highest = server.upload(&server.admin, "2.jpg", b"2").await;
    server
        .delete_media(&server.admin, highest)
        .await
        .expect(200, None);
    let next = server.upload(&server.admin, "3.jpg", b"3").await;
    assert!(
        next > highest && highest > first,
        "{first} {highest} {next}"
    );
}

#[tokio::test]
async fn delete_media_by_path_accepts_raw_and_encoded_slashes() {
    let server = TestServer::start().await;
    let key = server.key("default", "alice", "member");
    let raw = server
        .upload(&key, "Captions/caption-1709856234567-beach.jpg", b"abc")
        .await;
    let encoded = server.upload(&key, "Captions/sub dir/é.jpg", b"de").await;

    let reply = server
        .delete(
            &key,
            "/v1/media/by-path/Captions/caption-1709856234567-beach.jpg",
        )
        .await;
    assert_eq!(reply.expect(200, None)["id"], raw);
    let reply = server
        .delete(&key, "/v1/media/by-path/Captions%2Fsub%20dir%2F%C3%A9.jpg")
        .await;
    assert_eq!(reply.expect(200, None)["id"], encoded);
    assert_eq!(reply.body["freed_bytes"], 2);
    server
        .delete(
            &key,
            "/v1/media/by-path/Captions/caption-1709856234567-beach.jpg",
        )
        .await
        .expect(404, Some("media_not_found"));
    server.assert_blobs(server.blobs().await, 0);
}

#[tokio::test]
async fn delete_media_by_path_is_case_sensitive_and_relative_to_the_caller() {
    let server = TestServer::start().await;
    let alice = server.key("default", "alice", "member");
    let bob = server.key("default", "bob", "member");
    let id = server.upload(&alice, "Photos/A.jpg", b"a").await;
    server
        .delete(&alice, "/v1/media/by-path/photos/a.jpg")
        .await
        .expect(404, Some("media_not_found"));
    // Bob's root has no such file, and Bob may not name Alice's root.
    server
        .delete(&bob, "/v1/media/by-path/Photos/A.jpg")
        .await
        .expect(404, Some("media_not_found"));
    server
        .delete(&bob, "/v1/media/by-path/Photos/A.jpg?owner=alice")
        .await
        .expect(403, Some("forbidden"));
    // An admin may.
    let reply = server
        .delete(&server.admin, "/v1/media/by-path/Photos/A.jpg?owner=alice")
        .await;
    assert_eq!(reply.expect(200, None)["id"], id);
}

#[tokio::test]
async fn delete_media_by_path_rejects_unsafe_paths_with_400() {
    let server = TestServer::start().await;
    let long = "a".repeat(1025);
    let cases = [
        "..%2Fetc%2Fpasswd".to_owned(),
        "a%2F..%2Fb.jpg".to_owned(),
        "%2Fabsolute.jpg".to_owned(),
        "a%5Cb.jpg".to_owned(),
        "a%00b.jpg".to_owned(),
        "a%2F%2Fb.jpg".to_owned(),
        "a/b/".to_owned(),
        long,
    ];
    for case in cases {
        let reply = server
            .delete(&server.admin, &format!("/v1/media/by-path/{case}"))
            .await;
        reply.expect(400, Some("invalid_path"));
    }
}

#[tokio::test]
async fn two_deletes_by_path_of_one_file_give_one_receipt() {
    let server = TestServer::start().await;
    let id = server.upload(&server.admin, "dup/x.jpg", b"xx").await;
    let (a, b) = tokio::join!(
        server.delete(&server.admin, "/v1/media/by-path/dup/x.jpg"),
        server.delete(&server.admin, "/v1/media/by-path/dup%2Fx.jpg"),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 404]);
    assert_eq!(server.deleted_events(id).await, 1);
}

/// `If-Match` deletes only the revision the caller read: the `etag` of GET (header and body)
/// and of list items; a change of tags or a trash-and-restore makes a new one, and a delete
/// naming the old one is 412 `precondition_failed` with nothing changed.
#[tokio::test]
async fn a_delete_with_a_stale_if_match_is_412_and_changes_nothing() {
    let server = TestServer::start().await;
    let key = &server.admin;
    let id = server.upload(key, "cond/a.png", b"abcd").await;
    let read = server.get(key, &format!("/v1/media/{id}")).await;
    let first = read.expect(200, None)["etag"].as_str().unwrap().to_owned();
    assert_eq!(
        read.headers.get("etag").and_then(|v| v.to_str().ok()),
        Some(first.as_str()),
        "the header and the body name the same revision"
    );
    let listed = server.get(key, "/v1/media").await;
    assert_eq!(listed.expect(200, None)["items"][0]["etag"], first);

    let conditional = |etag: &str| {
        let request = server
            .http
            .delete(format!("{}/v1/media/{id}", server.base))
            .bearer_auth(key)
            .header("if-match", etag);
        async move { reply(request.send().await.unwrap()).await }
    };
    server
        .send(
            Method::PUT,
            &format!("/v1/media/{id}/tags"),
            Some(key),
            Some(json!({"tags": ["changed"]})),
        )
        .await
        .expect(200, None);
    conditional(&first)
        .await
        .expect(412, Some("precondition_failed"));
    let weak = format!("W/{first}");
    conditional(&weak)
        .await
        .expect(412, Some("precondition_failed"));
    // Nothing changed: still there, still counted, no delete event.
    let second = server.get(key, &format!("/v1/media/{id}")).await;
    let second = second.expect(200, None)["etag"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(second, first);
    assert_eq!(server.usage(key).await, (1, 4));
    assert_eq!(server.deleted_events(id).await, 0);

    // A move to the trash honours it too, and trash and restore are revisions.
    let trash_stale = server
        .http
        .delete(format!("{}/v1/media/{id}?trash=true", server.base))
        .bearer_auth(key)
        .header("if-match", first.as_str())
        .send()
        .await
        .unwrap();
    reply(trash_stale)
        .await
        .expect(412, Some("precondition_failed"));
    let trashed = server
        .http
        .delete(format!("{}/v1/media/{id}?trash=true", server.base))
        .bearer_auth(key)
        .header("if-match", second.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(reply(trashed).await.expect(200, None)["storage"], "trashed");
    let restored = server
        .post(key, &format!("/v1/media/{id}/restore"), json!({}))
        .await;
    let third = restored.expect(200, None)["etag"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(third != first && third != second);
    conditional(&second)
        .await
        .expect(412, Some("precondition_failed"));

    // The current revision, among others, deletes it.
    let receipt = conditional(&format!("{first}, {third}")).await;
    assert_eq!(receipt.expect(200, None)["deleted"], true);
    // `*` deletes any revision of media that exists; of media that does not, it is 404.
    conditional("*").await.expect(404, Some("media_not_found"));
    let other = server.upload(key, "cond/b.png", b"b").await;
    let any = server
        .http
        .delete(format!("{}/v1/media/{other}", server.base))
        .bearer_auth(key)
        .header("if-match", "*")
        .send()
        .await
        .unwrap();
    reply(any).await.expect(200, None);
}
