//! The media lifecycle: trash and restore, tenant settings, retention, legal holds and in-use
//! references, each transition and each refusal.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

/// `(media_count, bytes_used, trashed_count, trashed_bytes)`.
async fn full_usage(server: &TestServer, key: &str) -> (i64, i64, i64, i64) {
    let reply = server.get(key, "/v1/usage").await;
    let body = reply.expect(200, None);
    let field = |name: &str| body[name].as_i64().expect(name);
    (
        field("media_count"),
        field("bytes_used"),
        field("trashed_count"),
        field("trashed_bytes"),
    )
}

async fn events(server: &TestServer, action: &str, id: i64) -> usize {
    let reply = server
        .get(
            &server.admin,
            &format!("/v1/activity?action={action}&media_id={id}"),
        )
        .await;
    reply.expect(200, None)["items"]
        .as_array()
        .expect("items")
        .len()
}

#[tokio::test]
async fn trash_hides_media_and_restore_brings_all_of_it_back() {
    let server = TestServer::start().await;
    let alice = server.key("default", "alice", "member");
    let bob = server.key("default", "bob", "member");
    let id = server.upload(&alice, "pics/a.jpg", b"12345").await;
    let other = server.upload(&alice, "pics/b.jpg", b"xy").await;
    server
        .post(&alice, &format!("/v1/media/{id}/share"), json!({}))
        .await
        .expect(201, None);
    server.grant(&alice, id, "bob", "read").await;
    assert_eq!(full_usage(&server, &alice).await, (2, 7, 0, 0));

    let reply = server
        .post(&alice, &format!("/v1/media/{id}/trash"), json!({}))
        .await;
    let trashed = reply.expect(200, None);
    assert!(trashed["trashed_at"].is_string());
    assert_eq!(full_usage(&server, &alice).await, (1, 2, 1, 5));
    // Hidden from reads, lists, the grantee and the community.
    server
        .get(&alice, &format!("/v1/media/{id}"))
        .await
        .expect(404, Some("media_not_found"));
    server
        .get(&alice, &format!("/v1/media/{id}/content"))
        .await
        .expect(404, Some("media_not_found"));
    server
        .get(&bob, &format!("/v1/media/{id}"))
        .await
        .expect(404, Some("media_not_found"));
    assert_eq!(
        ids(server.get(&alice, "/v1/media").await.expect(200, None)),
        vec![other]
    );
    let community = server.get(&alice, "/v1/community").await;
    assert!(community.expect(200, None)["items"]
        .as_array()
        .unwrap()
        .is_empty());
    // Listed in the trash, for the owner and the grantee; not for another member.
    assert_eq!(
        ids(server.get(&alice, "/v1/trash").await.expect(200, None)),
        vec![id]
    );
    assert_eq!(
        ids(server.get(&bob, "/v1/trash").await.expect(200, None)),
        vec![id]
    );
    let carol = server.key("default", "carol", "member");
    assert!(ids(server.get(&carol, "/v1/trash").await.expect(200, None)).is_empty());
    // Trashing it again, or trashing as a read grantee, is refused.
    server
        .post(&alice, &format!("/v1/media/{id}/trash"), json!({}))
        .await
        .expect(404, Some("media_not_found"));
    // A read grantee may not restore.
    server
        .post(&bob, &format!("/v1/media/{id}/restore"), json!({}))
        .await
        .expect(403, Some("forbidden"));

    let reply = server
        .post(&alice, &format!("/v1/media/{id}/restore"), json!({}))
        .await;
    let restored = reply.expect(200, None);
    assert_eq!(restored["path"], "pics/a.jpg");
    assert!(restored.get("trashed_at").is_none());
    assert_eq!(restored["shared_to_community"], true);
    assert_eq!(full_usage(&server, &alice).await, (2, 7, 0, 0));
    server
        .get(&bob, &format!("/v1/media/{id}"))
        .await
        .expect(200, None);
    let content = server.get(&alice, &format!("/v1/media/{id}/content")).await;
    assert_eq!(content.status, 200);
    assert_eq!(events(&server, "media_trashed", id).await, 1);
    assert_eq!(events(&server, "media_restored", id).await, 1);
    // Nothing was deleted on the way.
    let blobs = server.blobs().await;
    server.assert_blobs(blobs, 3);
}

#[tokio::test]
async fn restore_onto_a_taken_path_conflicts_and_a_new_path_resolves_it() {
    let server = TestServer::start().await;
    let alice = server.key("default", "alice", "member");
    let id = server.upload(&alice, "doc.pdf", b"old").await;
    server
        .post(&alice, &format!("/v1/media/{id}/trash"), json!({}))
        .await
        .expect(200, None);
    // The path is free while the old item is in the trash.
    let newer = server.upload(&alice, "doc.pdf", b"newer").await;
    server
        .post(&alice, &format!("/v1/media/{id}/restore"), json!({}))
        .await
        .expect(409, Some("path_conflict"));
    server
        .post(
            &alice,
            &format!("/v1/media/{id}/restore"),
            json!({ "path": "../x" }),
        )
        .await
        .expect(400, Some("invalid_path"));
    let reply = server
        .post(
            &alice,
            &format!("/v1/media/{id}/restore"),
            json!({ "path": "doc (old).pdf" }),
        )
        .await;
    assert_eq!(reply.expect(200, None)["path"], "doc (old).pdf");
    assert_eq!(full_usage(&server, &alice).await, (2, 8, 0, 0));
    assert_eq!(
        ids(server.get(&alice, "/v1/media").await.expect(200, None)),
        vec![newer, id]
    );
    // Restoring what is not in the trash is not found.
    server
        .post(&alice, &format!("/v1/media/{id}/restore"), json!({}))
        .await
        .expect(404, Some("media_not_found"));
}

#[tokio::test]
async fn delete_is_permanent_unless_asked_or_configured_to_trash() {
    let server = TestServer::start().await;
    let alice = server.key("default", "alice", "member");
    let a = server.upload(&alice, "a.jpg", b"aaa").await;
    let reply = server
        .delete(&alice, &format!("/v1/media/{a}?trash=true"))
        .await;
    let receipt = reply.expect(200, None);
    assert_eq!(receipt["storage"], "trashed");
    assert_eq!(receipt["deleted"], false);
    assert_eq!(receipt["freed_bytes"], 0);
    assert_eq!(full_usage(&server, &alice).await, (0, 0, 1, 3));

    // Only admins change settings; the setting makes a plain delete soft.
    let patch = json!({ "delete_moves_to_trash": true });
    server
        .send(
            Method::PATCH,
            "/v1/tenant/settings",
            Some(&alice),
            Some(patch.clone()),
        )
        .await
        .expect(403, Some("forbidden"));
    let reply = server
        .send(
            Method::PATCH,
            "/v1/tenant/settings",
            Some(&server.admin),
            Some(patch),
        )
        .await;
    let settings = reply.expect(200, None);
    assert_eq!(settings["delete_moves_to_trash"], true);
    assert_eq!(settings["trash_retention_days"], 30);
    server
        .send(
            Method::PATCH,
            "/v1/tenant/settings",
            Some(&server.admin),
            Some(json!({ "trash_retention_days": 5000 })),
        )
        .await
        .expect(400, Some("invalid_settings"));
    let reply = server.get(&alice, "/v1/tenant/settings").await;
    assert_eq!(reply.expect(200, None)["delete_moves_to_trash"], true);

    let b = server.upload(&alice, "b.jpg", b"bb").await;
    let reply = server.delete_media(&alice, b).await;
    assert_eq!(reply.expect(200, None)["storage"], "trashed");
    let c = server.upload(&alice, "c.jpg", b"c").await;
    let reply = server
        .delete(&alice, &format!("/v1/media/{c}?trash=false"))
        .await;
    assert_eq!(reply.expect(200, None)["storage"], "purged");
    assert_eq!(full_usage(&server, &alice).await, (0, 0, 2, 5));
    assert_eq!(events(&server, "media_deleted", c).await, 1);
}

#[tokio::test]
async fn emptying_the_trash_purges_through_the_durable_path_and_keeps_held_items() {
    let server = TestServer::start().await;
    let alice = server.key("default", "alice", "member");
    let bob = server.key("default", "bob", "member");
    let ids_: Vec<i64> = {
        let mut out = Vec::new();
        for (i, body) in [b"1".as_slice(), b"22", b"333"].iter().enumerate() {
            out.push(server.upload(&alice, &format!("{i}.jpg"), body).await);
        }
        out
    };
    let bobs = server.upload(&bob, "bob.jpg", b"bbbb").await;
    for id in ids_.iter().chain([&bobs]) {
        let key = if *id == bobs { &bob } else { &alice };
        server
            .post(key, &format!("/v1/media/{id}/trash"), json!({}))
            .await
            .expect(200, None);
    }
    server
        .post(
            &server.admin,
            &format!("/v1/media/{}/holds", ids_[2]),
            json!({ "reason": "audit 7" }),
        )
        .await
        .expect(201, None);
    // Purging the held one alone is refused, naming the hold.
    let reply = server
        .delete(&alice, &format!("/v1/trash/{}", ids_[2]))
        .await;
    let body = reply.expect(409, Some("media_held"));
    assert_eq!(body["holds"][0]["reason"], "audit 7");

    // Alice empties her part of the trash: bob's item is not hers to see.
    let reply = server.delete(&alice, "/v1/trash").await;
    let summary = reply.expect(200, None);
    assert_eq!(summary["deleted"], 2);
    assert_eq!(summary["freed_bytes"], 3);
    assert_eq!(summary["held"], 1);
    assert_eq!(summary["storage_pending"], 0);
    // The tenant's trash keeps the held item and bob's; alice counts only her held one.
    assert_eq!(full_usage(&server, &server.admin).await, (0, 0, 2, 7));
    assert_eq!(full_usage(&server, &alice).await, (0, 0, 1, 3));
    for id in &ids_[..2] {
        assert_eq!(events(&server, "media_purged", *id).await, 1);
        server
            .post(&alice, &format!("/v1/media/{id}/restore"), json!({}))
            .await
            .expect(404, Some("media_not_found"));
    }
    let blobs = server.blobs().await;
    server.assert_blobs(blobs, 2);

    // One trashed item purged by id; the receipt is a delete receipt.
    let reply = server.delete(&bob, &format!("/v1/trash/{bobs}")).await;
    let receipt = reply.expect(200, None);
    assert_eq!(receipt["freed_bytes"], 4);
    assert_eq!(receipt["storage"], "purged");
    assert_eq!(full_usage(&server, &alice).await, (0, 0, 1, 3));
}

#[tokio::test]
async fn retention_zero_purges_the_trash_in_the_background() {
    let server = TestServer::start_with(&[("MEDIALIB_RETRY_INTERVAL_SECS", "1")]).await;
    let alice = server.key("default", "alice", "member");
    let id = server.upload(&alice, "gone.jpg", b"soon").await;
    let kept = server.upload(&alice, "kept.jpg", b"k").await;
    server
        .send(
            Method::PATCH,
            "/v1/tenant/settings",
            Some(&server.admin),
            Some(json!({ "trash_retention_days": 0 })),
        )
        .await
        .expect(200, None);
    server
        .post(&alice, &format!("/v1/media/{id}/trash"), json!({}))
        .await
        .expect(200, None);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let trash = server.get(&alice, "/v1/trash").await;
        if ids(trash.expect(200, None)).is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the background purge did not run"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(full_usage(&server, &alice).await, (1, 1, 0, 0));
    assert_eq!(events(&server, "media_purged", id).await, 1);
    server
        .get(&alice, &format!("/v1/media/{kept}"))
        .await
        .expect(200, None);
    let blobs = server.blobs().await;
    server.assert_blobs(blobs, 1);
}

#[tokio::test]
async fn a_hold_blocks_every_way_out_until_an_admin_removes_it() {
    let server = TestServer::start().await;
    let alice = server.key("default", "alice", "member");
    let id = server.upload(&alice, "evidence.jpg", b"exhibit").await;
    let free = server.upload(&alice, "free.jpg", b"f").await;
    // Only admins place holds; a hold on media of another tenant is not found.
    server
        .post(
            &alice,
            &format!("/v1/media/{id}/holds"),
            json!({ "reason": "mine" }),
        )
        .await
        .expect(403, Some("forbidden"));
    let acme = server.key("acme", "root", "admin");
    server
        .post(
            &acme,
            &format!("/v1/media/{id}/holds"),
            json!({ "reason": "x" }),
        )
        .await
        .expect(404, Some("media_not_found"));
    server
        .post(
            &server.admin,
            &format!("/v1/media/{id}/holds"),
            json!({ "reason": "" }),
        )
        .await
        .expect(400, Some("invalid_reason"));
    let reply = server
        .post(
            &server.admin,
            &format!("/v1/media/{id}/holds"),
            json!({ "reason": "case 2026-17" }),
        )
        .await;
    let hold = reply.expect(201, None).clone();
    let hold_id = hold["id"].as_i64().unwrap();
    assert_eq!(hold["created_by"], "admin");

    let refused = server.delete_media(&alice, id).await;
    let body = refused.expect(409, Some("media_held"));
    assert_eq!(body["holds"][0]["id"], hold_id);
    assert_eq!(body["holds"][0]["reason"], "case 2026-17");
    server
        .delete(&server.admin, &format!("/v1/media/{id}?force=true"))
        .await
        .expect(409, Some("media_held"));
    server
        .post(
            &alice,
            &format!("/v1/media/{id}/trash?force=true"),
            json!({}),
        )
        .await
        .expect(409, Some("media_held"));
    let reply = server
        .post(
            &alice,
            "/v1/media/bulk-delete",
            json!({ "ids": [id, free] }),
        )
        .await;
    let results = reply.expect(200, None)["results"].clone();
    assert_eq!(results[0]["status"], 409);
    assert_eq!(results[0]["code"], "media_held");
    assert_eq!(results[1]["status"], 200);
    let reply = server
        .post(
            &alice,
            "/v1/media/delete-by-filter",
            json!({ "folder": "", "dry_run": false }),
        )
        .await;
    let report = reply.expect(200, None);
    assert_eq!(
        (report["deleted"].clone(), report["held"].clone()),
        (json!(0), json!(1))
    );
    assert_eq!(full_usage(&server, &alice).await, (1, 7, 0, 0));
    let holds = server.get(&alice, &format!("/v1/media/{id}/holds")).await;
    assert_eq!(holds.expect(200, None).as_array().unwrap().len(), 1);

    // Members cannot lift it; admins can, and then the delete goes through.
    server
        .delete(&alice, &format!("/v1/media/{id}/holds/{hold_id}"))
        .await
        .expect(403, Some("forbidden"));
    let reply = server
        .delete(&server.admin, &format!("/v1/media/{id}/holds/{hold_id}"))
        .await;
    assert_eq!(reply.status, 204);
    server
        .delete(&server.admin, &format!("/v1/media/{id}/holds/{hold_id}"))
        .await
        .expect(404, Some("hold_not_found"));
    server.delete_media(&alice, id).await.expect(200, None);
    assert_eq!(events(&server, "hold_added", id).await, 1);
    assert_eq!(events(&server, "hold_removed", id).await, 1);
}

#[tokio::test]
async fn references_refuse_a_delete_unless_forced_and_the_receipt_lists_them() {
    let server = TestServer::start().await;
    let alice = server.key("default", "alice", "member");
    let bob = server.key("default", "bob", "member");
    let id = server.upload(&alice, "banner.jpg", b"banner").await;
    let path = format!("/v1/media/{id}/references");
    server
        .post(&alice, &path, json!({ "ref": "post:123" }))
        .await
        .expect(201, None);
    let again = server
        .post(&alice, &path, json!({ "ref": "post:123" }))
        .await;
    assert_eq!(again.expect(200, None)["ref"], "post:123");
    server
        .post(&alice, &path, json!({ "ref": "campaign:9" }))
        .await
        .expect(201, None);
    server
        .post(&alice, &path, json!({ "ref": "a/b" }))
        .await
        .expect(400, Some("invalid_reference"));
    server
        .post(&bob, &path, json!({ "ref": "post:1" }))
        .await
        .expect(404, Some("media_not_found"));
    let listed = server.get(&alice, &path).await;
    let names: Vec<&str> = listed
        .expect(200, None)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ref"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["campaign:9", "post:123"]);

    let refused = server.delete_media(&alice, id).await;
    let body = refused.expect(409, Some("media_in_use"));
    assert_eq!(body["references"], json!(["campaign:9", "post:123"]));
    server
        .post(&alice, &format!("/v1/media/{id}/trash"), json!({}))
        .await
        .expect(409, Some("media_in_use"));
    let reply = server
        .post(&alice, "/v1/media/bulk-delete", json!({ "ids": [id] }))
        .await;
    assert_eq!(
        reply.expect(200, None)["results"][0]["code"],
        "media_in_use"
    );

    // Removing one reference; the other still blocks.
    let removed = server.delete(&alice, &format!("{path}/campaign:9")).await;
    assert_eq!(removed.status, 204);
    server
        .delete(&alice, &format!("{path}/campaign:9"))
        .await
        .expect(404, Some("reference_not_found"));
    server
        .delete_media(&alice, id)
        .await
        .expect(409, Some("media_in_use"));

    let reply = server
        .delete(&alice, &format!("/v1/media/{id}?force=true"))
        .await;
    let receipt = reply.expect(200, None);
    assert_eq!(receipt["broken_references"], json!(["post:123"]));
    assert_eq!(full_usage(&server, &alice).await, (0, 0, 0, 0));
}

#[tokio::test]
async fn holds_and_trash_racing_deletes_leave_one_consistent_outcome() {
    let server = TestServer::start().await;
    let alice = server.key("default", "alice", "member");
    let mut deleted = 0;
    let mut kept_bytes = 0;
    for round in 0..12 {
        let id = server
            .upload(&alice, &format!("race/{round}.jpg"), b"race")
            .await;
        let hold_path = format!("/v1/media/{id}/holds");
        let hold = server.post(&server.admin, &hold_path, json!({ "reason": "race" }));
        let trash_path = format!("/v1/media/{id}/trash");
        let trash = server.post(&alice, &trash_path, json!({}));
        let delete = server.delete_media(&alice, id);
        let (hold, trash, delete) = tokio::join!(hold, trash, delete);
        let statuses = (
            hold.status.as_u16(),
            trash.status.as_u16(),
            delete.status.as_u16(),
        );
        match statuses {
            // The delete came first: nothing else found the row.
            (404, 404, 200) => deleted += 1,
            // The hold came first: neither the trash nor the delete went through.
            (201, 409, 409) => kept_bytes += 4,
            // The trash came first; the hold lands on the trashed item and the delete finds
            // no live row.
            (201, 200, 404) => kept_bytes += 4,
            other => panic!("round {round}: inconsistent outcome {other:?}"),
        }
        if delete.status == 409 {
            assert_eq!(delete.body["code"], "media_held");
        }
    }
    let (count, bytes, trashed_count, trashed_bytes) = full_usage(&server, &alice).await;
    assert_eq!(count + trashed_count + deleted, 12);
    assert_eq!(bytes + trashed_bytes, kept_bytes);
    let blobs = server.blobs().await;
    server.assert_blobs(blobs, usize::try_from(count + trashed_count).unwrap());
}
