//! The SeaORM adapter against real databases (see `backends`), migrated by our `Migrator`.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use medialib_domain::{
    BlobKey, DeletePlan, DeleteReason, Grant, MediaId, MediaPath, MediaRepo, NewActivity, NewMedia,
    PendingStatus, Permission, RepoError, Tag, TenantId, TenantSlug, UserId,
};
use medialib_sql::SeaOrmMediaRepo;
use time::macros::datetime;
use time::OffsetDateTime;

const AT: OffsetDateTime = datetime!(2026-11-25 12:00:00.123 UTC);
const LEASE: std::time::Duration = std::time::Duration::from_secs(60);

mod backends;

/// A tenant on a backend.
async fn tenant(repo: &SeaOrmMediaRepo) -> TenantId {
    repo.create_tenant(&TenantSlug::parse("t").unwrap(), AT)
        .await
        .unwrap()
        .id
}

fn event(tenant: TenantId, action: &'static str) -> NewActivity {
    NewActivity {
        tenant_id: tenant,
        actor_id: UserId::parse("alice").unwrap(),
        action,
        media_id: None,
        details: serde_json::json!({}),
        created_at: AT,
    }
}

async fn insert(
    repo: &SeaOrmMediaRepo,
    tenant: TenantId,
    path: &str,
    size: i64,
) -> Result<medialib_domain::Media, RepoError> {
    let key = BlobKey::new_media(tenant);
    repo.record_upload_intent(tenant, &key, AT).await?;
    let new = NewMedia {
        tenant_id: tenant,
        owner_id: UserId::parse("alice").unwrap(),
        path: MediaPath::parse(path).unwrap(),
        content_type: "image/png".into(),
        size_bytes: size,
        sha256: "ab".into(),
        tags: Tag::parse_all(["b", "a"]).unwrap(),
        blob_key: key,
        created_at: AT,
    };
    repo.insert_media(new, event(tenant, "media_uploaded"))
        .await
}

fn plan(media: medialib_domain::Media) -> DeletePlan {
    DeletePlan {
        media,
        actor_id: UserId::parse("alice").unwrap(),
        reason: DeleteReason::Requested,
        at: AT,
        purge_after: AT,
    }
}

#[tokio::test]
async fn ids_are_never_reused_after_the_highest_is_deleted() {
    for backend in backends::all().await {
        let repo = &backend.repo;
        let tenant = tenant(repo).await;
        eprintln!("on {}", backend.name);
        insert(repo, tenant, "1.png", 1).await.unwrap();
        let highest = insert(repo, tenant, "2.png", 1).await.unwrap();
        let results = repo
            .delete_media(vec![plan(highest.clone())])
            .await
            .unwrap();
        assert!(results[0].is_ok());
        let next = insert(repo, tenant, "3.png", 1).await.unwrap();
        assert!(next.id > highest.id);
    }
}

#[tokio::test]
async fn the_second_delete_of_a_row_is_not_found_and_cascades_are_counted() {
    for backend in backends::all().await {
        let repo = &backend.repo;
        let tenant = tenant(repo).await;
        eprintln!("on {}", backend.name);
        let media = insert(repo, tenant, "x/y.png", 10).await.unwrap();
        assert_eq!(
            media.created_at, AT,
            "millisecond timestamps round-trip exactly"
        );
        repo.share_media(
            tenant,
            media.id,
            &BlobKey::new_community(tenant),
            event(tenant, "media_shared"),
        )
        .await
        .unwrap();
        let grant = Grant {
            media_id: media.id,
            user_id: UserId::parse("bob").unwrap(),
            permission: Permission::Read,
            created_at: AT,
        };
        repo.put_grant(tenant, grant, event(tenant, "access_granted"))
            .await
            .unwrap();

        let first = repo.delete_media(vec![plan(media.clone())]).await.unwrap();
        let outcome = first[0].as_ref().unwrap();
        assert!(outcome.removed.community_copy);
        assert_eq!(outcome.removed.tag_assignments, 4);
        assert_eq!(outcome.removed.access_grants, 1);
        assert_eq!(outcome.pending.len(), 2);
        let due = repo
            .claim_pending_deletions(AT, AT + LEASE, 10)
            .await
            .unwrap();
        assert_eq!(due.len(), 2, "both blobs recorded in the same transaction");

        let second = repo.delete_media(vec![plan(media.clone())]).await.unwrap();
        assert!(matches!(second[0], Err(RepoError::NotFound)));
        let usage = repo.usage(tenant).await.unwrap();
        assert_eq!((usage.media_count, usage.bytes_used), (0, 0));
        repo.complete_pending_deletions(&outcome.pending)
            .await
            .unwrap();
        let later = AT + LEASE + LEASE;
        assert!(repo
            .claim_pending_deletions(later, later + LEASE, 10)
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn a_plan_for_another_tenant_deletes_nothing() {
    for backend in backends::all().await {
        let repo = &backend.repo;
        let tenant = tenant(repo).await;
        eprintln!("on {}", backend.name);
        let media = insert(repo, tenant, "a.png", 1).await.unwrap();
        let mut foreign = media.clone();
        foreign.tenant_id = TenantId(tenant.0 + 1);
        let result = repo.delete_media(vec![plan(foreign)]).await.unwrap();
        assert!(matches!(result[0], Err(RepoError::NotFound)));
        let found = repo
            .find_media_access(tenant, &[media.id], &UserId::parse("alice").unwrap())
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
    }
}

#[tokio::test]
async fn paths_are_unique_per_owner_and_case_sensitive() {
    for backend in backends::all().await {
        let repo = &backend.repo;
        let tenant = tenant(repo).await;
        eprintln!("on {}", backend.name);
        insert(repo, tenant, "A/b.png", 1).await.unwrap();
        assert!(matches!(
            insert(repo, tenant, "A/b.png", 1).await,
            Err(RepoError::Conflict)
        ));
        insert(repo, tenant, "a/b.png", 1).await.unwrap();
        let usage = repo.usage(tenant).await.unwrap();
        assert_eq!(
            (usage.media_count, usage.bytes_used),
            (2, 2),
            "the refused insert changed nothing"
        );
    }
}

#[tokio::test]
async fn a_batch_with_a_repeated_id_deletes_it_once() {
    for backend in backends::all().await {
        let repo = &backend.repo;
        let tenant = tenant(repo).await;
        eprintln!("on {}", backend.name);
        let media = insert(repo, tenant, "a.png", 5).await.unwrap();
        let other = insert(repo, tenant, "b.png", 7).await.unwrap();
        let results = repo
            .delete_media(vec![plan(media.clone()), plan(media.clone()), plan(other)])
            .await
            .unwrap();
        let oks: Vec<bool> = results.iter().map(Result::is_ok).collect();
        assert_eq!(oks, vec![true, false, true]);
        assert_eq!(repo.usage(tenant).await.unwrap().bytes_used, 0);
        let id = MediaId::try_from(media.id.get()).unwrap();
        assert!(repo
            .find_media_access(tenant, &[id], &UserId::parse("alice").unwrap())
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn a_row_without_its_upload_intent_is_refused() {
    for backend in backends::all().await {
        let repo = &backend.repo;
        let tenant = tenant(repo).await;
        eprintln!("on {}", backend.name);
        let new = NewMedia {
            tenant_id: tenant,
            owner_id: UserId::parse("alice").unwrap(),
            path: MediaPath::parse("late.png").unwrap(),
            content_type: "image/png".into(),
            size_bytes: 1,
            sha256: "ab".into(),
            tags: vec![],
            blob_key: BlobKey::new_media(tenant),
            created_at: AT,
        };
        let result = repo
            .insert_media(new, event(tenant, "media_uploaded"))
            .await;
        assert!(matches!(result, Err(RepoError::NotFound)));
        assert_eq!(repo.usage(tenant).await.unwrap().media_count, 0);
    }
}

#[tokio::test]
async fn leases_hide_claimed_records_until_they_expire_and_failures_park() {
    for backend in backends::all().await {
        let repo = &backend.repo;
        let tenant = tenant(repo).await;
        eprintln!("on {}", backend.name);
        let keys: Vec<BlobKey> = (0..3).map(|_| BlobKey::new_media(tenant)).collect();
        repo.add_pending_deletions(tenant, &keys, AT).await.unwrap();
        let first = repo
            .claim_pending_deletions(AT, AT + LEASE, 2)
            .await
            .unwrap();
        assert_eq!(first.len(), 2);
        let second = repo
            .claim_pending_deletions(AT, AT + LEASE, 10)
            .await
            .unwrap();
        assert_eq!(second.len(), 1, "leased records are not handed out twice");
        assert_ne!(second[0].id, first[0].id);
        assert!(repo
            .claim_pending_deletions(AT, AT + LEASE, 10)
            .await
            .unwrap()
            .is_empty());
        // After the lease expires another claimer takes them over.
        let after = AT + LEASE;
        assert_eq!(
            repo.claim_pending_deletions(after, after + LEASE, 10)
                .await
                .unwrap()
                .len(),
            3
        );

        repo.fail_pending_deletion(first[0].id, Some(AT + LEASE * 10), "down")
            .await
            .unwrap();
        repo.fail_pending_deletion(first[1].id, None, "down")
            .await
            .unwrap();
        let failed = repo
            .list_pending_deletions(tenant, Some(PendingStatus::Failed), None, 10)
            .await
            .unwrap();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].attempts, 1);
        assert_eq!(failed[0].last_error.as_deref(), Some("down"));
        let much_later = AT + LEASE * 100;
        let due = repo
            .claim_pending_deletions(much_later, much_later + LEASE, 10)
            .await
            .unwrap();
        assert_eq!(due.len(), 2, "parked records are not claimed");
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
    }
}

#[tokio::test]
async fn known_blob_keys_cover_rows_copies_and_pending_records() {
    for backend in backends::all().await {
        let repo = &backend.repo;
        let tenant = tenant(repo).await;
        eprintln!("on {}", backend.name);
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
}

#[tokio::test]
async fn concurrent_claimers_never_share_a_record() {
    for backend in backends::all().await {
        let repo = &backend.repo;
        let tenant = tenant(repo).await;
        let keys: Vec<BlobKey> = (0..120).map(|_| BlobKey::new_media(tenant)).collect();
        repo.add_pending_deletions(tenant, &keys, AT).await.unwrap();
        let claimers = (0..4).map(|_| {
            let repo = repo.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = repo
                        .claim_pending_deletions(AT, AT + LEASE, 7)
                        .await
                        .unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|p| p.id));
                }
            })
        });
        let mut all = Vec::new();
        for claimer in claimers {
            all.extend(claimer.await.unwrap());
        }
        let total = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            (total, all.len()),
            (120, 120),
            "on {}: every record claimed exactly once",
            backend.name
        );
    }
}
