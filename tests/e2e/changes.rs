//! `GET /v1/changes`: a client that lists, follows the feed and applies it ends with exactly
//! the server's media; cursors survive a restart; members see their own; old cursors are 410.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// Reads the feed from `cursor` on `base` until it is empty; returns the changes and the
/// cursor to continue from.
async fn follow(server: &TestServer, base: &str, key: &str, cursor: &str) -> (Vec<Value>, String) {
    let mut cursor = cursor.to_owned();
    let mut changes = Vec::new();
    loop {
        let response = server
            .http
            .get(format!("{base}/v1/changes"))
            .query(&[("cursor", cursor.as_str()), ("limit", "2")])
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let page = reply(response).await;
        let page = page.expect(200, None);
        let items = page["changes"].as_array().unwrap().clone();
        cursor = page["next_cursor"].as_str().unwrap().to_owned();
        if items.is_empty() {
            return (changes, cursor);
        }
        changes.extend(items);
    }
}

/// A client's copy: the ids of the live media.
fn apply(copy: &mut BTreeSet<i64>, changes: &[Value]) {
    for change in changes {
        let id = change["media_id"].as_i64().unwrap();
        match change["kind"].as_str().unwrap() {
            "created" | "restored" => {
                copy.insert(id);
            }
            "trashed" | "deleted" => {
                copy.remove(&id);
            }
            "updated" => {}
            other => panic!("unknown kind {other}"),
        }
    }
}

async fn listed(server: &TestServer, key: &str) -> BTreeSet<i64> {
    ids(server
        .get(key, "/v1/media?limit=1000")
        .await
        .expect(200, None))
    .into_iter()
    .collect()
}

async fn cursor_now(server: &TestServer, key: &str) -> String {
    let page = server.get(key, "/v1/changes").await;
    let page = page.expect(200, None);
    assert_eq!(page["changes"], json!([]));
    page["next_cursor"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_client_that_follows_the_feed_ends_with_the_servers_media() {
    let server = TestServer::start().await;
    let key = &server.admin;
    let a = server.upload(key, "s/a.png", b"a").await;
    let b = server.upload(key, "s/b.png", b"b").await;
    // The client takes the cursor of now, then lists.
    let cursor = cursor_now(&server, key).await;
    let mut copy = listed(&server, key).await;
    assert_eq!(copy, BTreeSet::from([a, b]));

    server.delete_media(key, a).await.expect(200, None);
    let c = server.upload(key, "s/c.png", b"c").await;
    server
        .post(key, &format!("/v1/media/{b}/trash"), json!({}))
        .await
        .expect(200, None);
    server
        .post(key, &format!("/v1/media/{b}/restore"), json!({}))
        .await
        .expect(200, None);
    server
        .send(
            Method::PUT,
            &format!("/v1/media/{c}/tags"),
            Some(key),
            Some(json!({"tags": ["x"]})),
        )
        .await
        .expect(200, None);
    let d = server.upload(key, "s/d.png", b"d").await;
    server.delete_media(key, d).await.expect(200, None);
    let e = server.upload(key, "s/e.png", b"e").await;
    server
        .post(key, &format!("/v1/media/{e}/trash"), json!({}))
        .await
        .expect(200, None);

    let (changes, next) = follow(&server, &server.base, key, &cursor).await;
    let kinds: Vec<(&str, i64)> = changes
        .iter()
        .map(|c| (c["kind"].as_str().unwrap(), c["media_id"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("deleted", a),
            ("created", c),
            ("trashed", b),
            ("restored", b),
            ("updated", c),
            ("created", d),
            ("deleted", d),
            ("created", e),
            ("trashed", e),
        ]
    );
    let seqs: Vec<i64> = changes.iter().map(|c| c["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "commit order: {seqs:?}"
    );
    // A tombstone says what was deleted and why.
    assert_eq!(changes[0]["path"], "s/a.png");
    assert_eq!(changes[0]["owner_id"], "admin");
    assert_eq!(changes[0]["reason"], "requested");
    apply(&mut copy, &changes);
    assert_eq!(
        copy,
        listed(&server, key).await,
        "exactly the server's media"
    );

    // The cursor survives the process: another instance on the same database continues from
    // it, and sees what happened since.
    let f = server.upload(key, "s/f.png", b"f").await;
    let peer = server.start_peer(&[], "peer.log");
    let (more, _) = follow(&server, &peer.base, key, &next).await;
    assert_eq!(more.len(), 1);
    assert_eq!(
        (more[0]["kind"].clone(), more[0]["media_id"].as_i64()),
        (json!("created"), Some(f))
    );
    apply(&mut copy, &more);
    assert_eq!(copy, listed(&server, key).await);
}

#[tokio::test]
async fn members_follow_the_changes_of_their_own_media() {
    let server = TestServer::start().await;
    let alice = server.key("default", "alice", "member");
    let bob = server.key("default", "bob", "member");
    let start = cursor_now(&server, &alice).await;
    let hers = server.upload(&alice, "m/a.png", b"a").await;
    let his = server.upload(&bob, "m/b.png", b"b").await;
    server.delete_media(&alice, hers).await.expect(200, None);
    let (seen_by_alice, _) = follow(&server, &server.base, &alice, &start).await;
    let ids: Vec<i64> = seen_by_alice
        .iter()
        .map(|c| c["media_id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![hers, hers],
        "her upload and its tombstone, not his"
    );
    let (seen_by_bob, _) = follow(&server, &server.base, &bob, &start).await;
    assert_eq!(seen_by_bob.len(), 1);
    assert_eq!(seen_by_bob[0]["media_id"].as_i64(), Some(his));
    let (seen_by_admin, _) = follow(&server, &server.base, &server.admin, &start).await;
    assert_eq!(seen_by_admin.len(), 3);
}

#[tokio::test]
async fn a_cursor_older_than_the_kept_changes_is_410() {
    let server = TestServer::start_with(&[("MEDIALIB_CHANGES_RETENTION_SECS", "1")]).await;
    let key = &server.admin;
    let cursor = cursor_now(&server, key).await;
    server.upload(key, "r/a.png", b"a").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let expired = server
        .get(key, &format!("/v1/changes?cursor={cursor}"))
        .await;
    expired.expect(410, Some("cursor_expired"));
    // A new cursor works again.
    let fresh = cursor_now(&server, key).await;
    let b = server.upload(key, "r/b.png", b"b").await;
    let (changes, _) = follow(&server, &server.base, key, &fresh).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["media_id"].as_i64(), Some(b));
}
