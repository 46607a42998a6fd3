//! Several instances on one database and one store, as behind a load balancer. Needs a
//! store that several processes can share (a directory or S3), so it does not run on
//! `memory://`.

use reqwest::Method;

use crate::helpers::*;

const RUNS: &str = "medialib_reaper_runs_total{outcome=\"ok\"}";
const PURGED: &str = "medialib_reaper_purged_total";

#[tokio::test]
async fn two_instances_share_media_deletes_and_the_reaper_work() {
    let fast_reaper = [
        ("MEDIALIB_RETRY_INTERVAL_SECS", "1"),
        ("MEDIALIB_RETRY_GRACE_SECS", "0"),
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
    // Every record is gone, so no pass can claim one any more; a reaper run that started
    // after this point has ended once a server counts two more runs (the one in progress
    // may have started before). Each run counts what it purged before counting itself.
    let servers = [a.base.as_str(), b.base.as_str()];
    let mut seen = Vec::new();
    for base in servers {
        seen.push(metric(&a.http, base, RUNS).await);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for (base, before) in servers.into_iter().zip(seen) {
        while metric(&a.http, base, RUNS).await < before + 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "the reaper of {base} did not run again"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    let (one, two) = (
        metric(&a.http, &a.base, PURGED).await,
        metric(&a.http, &b.base, PURGED).await,
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
