//! The contract of [`PendingDeletions`](crate::PendingDeletions): blobs to purge, claimed by
//! reaper passes and settled by them, listed, summarized and requeued. Each function needs a
//! fresh, migrated store (it creates tenant `t`); the fixtures are [`super::deletes`]'s.
// Contract checks fail by panicking with what broke, as tests do.
#![allow(clippy::unwrap_used)]

use super::deletes::{due, event, insert, tenant, AT, LEASE};
use crate::model::*;
use crate::ports::{MediaRepo, PendingFailure};

/// A pass claims due records oldest first and hides them from other passes until it settles;
/// settling forgets the purged, reschedules or parks the failed (one more attempt, the error
/// kept) and releases the rest; requeueing makes a tenant's parked records due again.
pub async fn a_pass_hides_its_records_until_settled_which_forgets_reschedules_and_parks(
    repo: &dyn MediaRepo,
) {
    let tenant = tenant(repo).await;
    let keys: Vec<BlobKey> = (0..4).map(|_| BlobKey::new_media(tenant)).collect();
    repo.add_pending_deletions(tenant, &keys, AT).await.unwrap();
    let first = repo
        .claim_pending_pass(AT, AT + LEASE, 3, None)
        .await
        .unwrap();
    let ids: Vec<i64> = first.records.iter().map(|p| p.id).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first");
    // The next pass, claimed while the first is worked, continues after its highest id.
    let second = repo
        .claim_pending_pass(AT, AT + LEASE, 10, Some(ids[2]))
        .await
        .unwrap();
    assert_eq!(second.records.len(), 1);
    let fourth = second.records[0].id;
    assert!(fourth > ids[2]);
    assert!(
        due(repo, AT, 10).await.is_empty(),
        "claimed records are not handed out twice"
    );

    let failures = [
        PendingFailure {
            id: ids[1],
            retry_at: Some(AT + LEASE * 10),
            error: "down".into(),
        },
        PendingFailure {
            id: ids[2],
            retry_at: None,
            error: "gone for good".into(),
        },
    ];
    first.claim.settle(&ids[..1], &failures).await.unwrap();
    second.claim.settle(&[], &[]).await.unwrap();
    // Purged: forgotten; retried: not yet due; parked: never claimed; released: due.
    let now_due: Vec<i64> = due(repo, AT, 10).await.iter().map(|p| p.id).collect();
    assert_eq!(now_due, vec![fourth]);
    let later: Vec<PendingBlob> = due(repo, AT + LEASE * 10, 10).await;
    assert_eq!(
        later.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![ids[1], fourth]
    );
    assert_eq!(
        (later[0].attempts, later[0].last_error.as_deref()),
        (1, Some("down"))
    );
    let failed = repo
        .list_pending_deletions(tenant, Some(PendingStatus::Failed), None, 10)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        (failed[0].id, failed[0].attempts),
        (ids[2], 1),
        "parked after its attempt"
    );
    assert_eq!(failed[0].last_error.as_deref(), Some("gone for good"));
    assert_eq!(
        repo.requeue_pending_deletions(TenantId(tenant.0 + 1), None, AT)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        repo.requeue_pending_deletions(tenant, None, AT)
            .await
            .unwrap(),
        1
    );
    assert!(repo
        .list_pending_deletions(tenant, Some(PendingStatus::Failed), None, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(due(repo, AT, 10).await.len(), 2, "requeued and released");
}

/// The blobs the database still knows: live rows', community copies', and pending records';
/// and a scan lists live media above an id.
pub async fn known_blob_keys_cover_rows_copies_and_pending_records(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let media = insert(repo, tenant, "k.png", 1).await.unwrap();
    let copy = BlobKey::new_community(tenant);
    repo.record_upload_intent(tenant, &copy, AT).await.unwrap();
    repo.share_media(tenant, media.id, &copy, event(tenant, "media_shared"))
        .await
        .unwrap();
    let pending = BlobKey::new_media(tenant);
    repo.add_pending_deletions(tenant, std::slice::from_ref(&pending), AT)
        .await
        .unwrap();
    let stranger = BlobKey::new_media(tenant);
    let mut known = repo
        .known_blob_keys(&[
            media.blob_key.clone(),
            copy.clone(),
            pending.clone(),
            stranger,
        ])
        .await
        .unwrap();
    known.sort();
    let mut expected = vec![media.blob_key, copy, pending];
    expected.sort();
    assert_eq!(known, expected);
    assert_eq!(repo.scan_media(0, 10).await.unwrap().len(), 1);
    assert!(repo
        .scan_media(media.id.get(), 10)
        .await
        .unwrap()
        .is_empty());
}

/// The summary counts each status with the time its oldest record was written, and leaves out
/// statuses without records.
pub async fn the_pending_summary_counts_each_status_with_its_oldest_record(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    assert!(repo.pending_summary().await.unwrap().is_empty());
    // Records are stamped with the time they are written (their due time is `AT`).
    let before = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let keys: Vec<BlobKey> = (0..3).map(|_| BlobKey::new_media(tenant)).collect();
    repo.add_pending_deletions(tenant, &keys[..2], AT)
        .await
        .unwrap();
    let between = time::OffsetDateTime::now_utc();
    std::thread::sleep(std::time::Duration::from_millis(20));
    repo.add_pending_deletions(tenant, &keys[2..], AT)
        .await
        .unwrap();
    let summary = repo.pending_summary().await.unwrap();
    assert_eq!(summary.len(), 1, "{summary:?}");
    assert_eq!(summary[0].status, PendingStatus::Pending);
    assert_eq!(summary[0].count, 3);
    assert!(
        (before..=between).contains(&summary[0].oldest),
        "the oldest of the three: {summary:?}"
    );
}

/// Recording a key already recorded makes it `pending` again at the new due time (an upload
/// intent becomes a pending deletion), and a record listed per tenant shows its status.
pub async fn a_key_recorded_twice_is_one_record_with_the_latest_status(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let key = BlobKey::new_media(tenant);
    repo.record_upload_intent(tenant, &key, AT).await.unwrap();
    let listed = repo
        .list_pending_deletions(tenant, None, None, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].status, PendingStatus::Upload);
    let later = AT + LEASE;
    repo.add_pending_deletions(tenant, std::slice::from_ref(&key), later)
        .await
        .unwrap();
    let listed = repo
        .list_pending_deletions(tenant, None, None, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "one record per key: {listed:?}");
    assert_eq!(
        (listed[0].status, listed[0].next_attempt_at),
        (PendingStatus::Pending, later)
    );
    assert!(
        due(repo, AT, 10).await.is_empty(),
        "not due before its time"
    );
    assert_eq!(due(repo, later, 10).await.len(), 1);
    // Another tenant sees none of it.
    assert!(repo
        .list_pending_deletions(TenantId(tenant.0 + 1), None, None, 10)
        .await
        .unwrap()
        .is_empty());
    // Completing forgets it, whatever its status.
    repo.complete_pending_deletions(std::slice::from_ref(&key))
        .await
        .unwrap();
    assert!(repo
        .list_pending_deletions(tenant, None, None, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Lists are newest first and page below an id; a status filter keeps only that status.
pub async fn pending_lists_page_newest_first(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let keys: Vec<BlobKey> = (0..5).map(|_| BlobKey::new_media(tenant)).collect();
    repo.add_pending_deletions(tenant, &keys, AT).await.unwrap();
    let upload = BlobKey::new_media(tenant);
    repo.record_upload_intent(tenant, &upload, AT)
        .await
        .unwrap();
    let first = repo
        .list_pending_deletions(tenant, Some(PendingStatus::Pending), None, 3)
        .await
        .unwrap();
    assert_eq!(first.len(), 3);
    assert!(first.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert!(first.iter().all(|p| p.status == PendingStatus::Pending));
    let rest = repo
        .list_pending_deletions(tenant, Some(PendingStatus::Pending), Some(first[2].id), 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 2);
    assert!(rest[0].id < first[2].id);
    let uploads = repo
        .list_pending_deletions(tenant, Some(PendingStatus::Upload), None, 10)
        .await
        .unwrap();
    assert_eq!(
        uploads.iter().map(|p| &p.blob_key).collect::<Vec<_>>(),
        vec![&upload]
    );
    assert_eq!(uploads[0].tenant_id, Some(tenant));
}
