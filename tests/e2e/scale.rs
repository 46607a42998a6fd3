//! Several instances on one database and one store, as behind a load balancer. Needs a
//! store that several processes can share (a directory or S3), so it does not run on
//! `memory://`.

use reqwest::Method;

use crate::helpers::*;

fn without_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The blobs a server's reaper says it purged, from its log.
fn purged_by(log: &std::path::Path) -> u64 {
    let text = without_ansi(&std::fs::read_to_string(log).unwrap_or_default());
    text.lines()
        .filter(|line| line.contains("reaper pass"))
        .filter_map(|line| line.split("purged=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn two_instances_share_media_deletes_and_the_reaper_work() {
    let fast_reaper = [
        ("MEDIALIB_RETRY_INTERVAL_SECS", "1"),
        ("MEDIALIB_RETRY_GRACE_SECS", "0"),
        ("RUST_LOG", "info"),
    ];
    let a = TestServer::start_with(&fast_reaper).await;
    let b = a.start_peer(&fast_reaper, "server-2.log");
    let key = a.admin.clone();
    let via_b = |path: &str| format!("{}{path}", b.base);

    // An upload through A is listed and deletable through B.
    let id = a.upload(&key, "shared/one.jpg", b"one").await;
    let listed = reply(
        a.http
            .get(via_b("/v1/media"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ids(listed.expect(200, None)), vec![id]);
    let deleted = reply(
        a.http
            .delete(via_b(&format!("/v1/media/{id}")))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(deleted.expect(200, None)["storage"], "purged");
    a.get(&key, &format!("/v1/media/{id}"))
        .await
        .expect(404, Some("media_not_found"));

    // Concurrent deletes of one id through both: exactly one receipt.
    let id = a.upload(&key, "shared/two.jpg", b"two").await;
    assert_one_delete_wins(&a.http, &[&a.base, &b.base], &key, id, 20).await;
    assert_eq!(a.deleted_events(id).await, 1);

    // Blobs recorded for deletion are drained by both reapers, each exactly once.
    let conn = sea_orm::Database::connect(a.backend.database_url.as_str())
        .await
        .unwrap();
    let count = 60;
    let mut keys = Vec::new();
    for i in 0..count {
        let blob = format!("media/1/{:032x}", 0xabc000 + i);
        a.backend.store.put(&blob, b"x").await;
        keys.push(format!("('{blob}', 0, 0, 0, 1, 'pending')"));
    }
    sea_orm::ConnectionTrait::execute_unprepared(
        &conn,
        &format!(
            "INSERT INTO pending_deletions (blob_key, attempts, next_attempt_at, created_at, tenant_id, status) VALUES {}",
            keys.join(", ")
        ),
    )
    .await
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let pending = a.get(&key, "/v1/admin/pending-deletions").await;
        if pending.expect(200, None)["items"]
            .as_array()
            .unwrap()
            .is_empty()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the reapers did not drain the records"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    a.assert_blobs(a.blobs().await, 0);
    let (one, two) = (
        purged_by(&a.dir.path().join("server-1.log")),
        purged_by(&a.dir.path().join("server-2.log")),
    );
    // The deletes above were purged inline; the planted records went to the reapers, and
    // a record claimed by both would be counted twice.
    assert_eq!(
        one + two,
        60,
        "each record purged once; by A: {one}, by B: {two}"
    );

    // Usage stays exact whichever instance answers.
    a.upload(&key, "shared/three.jpg", b"three").await;
    let usage = reply(
        a.http
            .get(via_b("/v1/usage"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(usage.expect(200, None)["bytes_used"], 5);
    let tagged = reply(
        a.http
            .request(Method::GET, via_b("/v1/activity?action=media_deleted"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        tagged.expect(200, None)["items"].as_array().unwrap().len(),
        2
    );
}
