//! The SeaORM adapter against real databases (see `backends`), migrated by our `Migrator`.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use medialib_domain::ports::repo::*;
use medialib_domain::{
    BlobKey, Grant, PendingBlob, PendingFailure, PendingStatus, Permission, RepoError, TenantId,
    TenantSlug, UserId,
};
use medialib_sql::{SeaOrmMediaRepo, SqlConfig};

mod backends;

use medialib_domain::contract::deletes::{
    self, due, event, insert, move_to_trash, plan, tenant, AT, LEASE,
};
use medialib_domain::contract::lifecycle;

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
async fn a_pass_hides_its_records_until_settled_which_forgets_reschedules_and_parks() {
    for backend in backends::all().await {
        let repo = &backend.repo;
        let tenant = tenant(repo).await;
        eprintln!("on {}", backend.name);
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
}

#[tokio::test]
async fn an_abandoned_pass_gives_its_records_back() {
    for backend in backends::all().await {
        let repo = &backend.repo;
        let tenant = tenant(repo).await;
        eprintln!("on {}", backend.name);
        let keys: Vec<BlobKey> = (0..2).map(|_| BlobKey::new_media(tenant)).collect();
        repo.add_pending_deletions(tenant, &keys, AT).await.unwrap();
        let pass = repo
            .claim_pending_pass(AT, AT + LEASE, 10, None)
            .await
            .unwrap();
        assert_eq!(pass.records.len(), 2);
        // A reaper that dies mid-pass: its claim is dropped unsettled.
        drop(pass);
        if backend.name == "sqlite" {
            // The lease holds the records until it runs out.
            assert!(due(repo, AT, 10).await.is_empty());
            assert_eq!(due(repo, AT + LEASE, 10).await.len(), 2);
        } else {
            // The transaction is rolled back as its connection goes back to the pool (in a
            // task of the pool's): the rows are due again without waiting for any lease.
            let mut back = Vec::new();
            for _ in 0..100 {
                back = due(repo, AT, 10).await;
                if !back.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            assert_eq!(back.len(), 2);
        }
    }
}

#[tokio::test]
async fn a_pass_holds_no_lock_that_keeps_deletes_from_recording_blobs() {
    for backend in backends::all().await {
        let repo = &backend.repo;
        let tenant = tenant(repo).await;
        eprintln!("on {}", backend.name);
        let keys: Vec<BlobKey> = (0..3).map(|_| BlobKey::new_media(tenant)).collect();
        repo.add_pending_deletions(tenant, &keys, AT).await.unwrap();
        let pass = repo
            .claim_pending_pass(AT, AT + LEASE, 10, None)
            .await
            .unwrap();
        // While the pass is open, a delete records its blob and another pass claims it.
        let media = insert(repo, tenant, "during.png", 1).await.unwrap();
        let deleted = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            repo.delete_media(vec![plan(media.clone())]),
        )
        .await
        .expect("the delete does not wait for the open pass")
        .unwrap();
        assert!(deleted[0].is_ok());
        let other = due(repo, AT, 10).await;
        assert_eq!(
            other.iter().map(|p| &p.blob_key).collect::<Vec<_>>(),
            vec![&media.blob_key]
        );
        let ids: Vec<i64> = pass.records.iter().map(|p| p.id).collect();
        pass.claim.settle(&ids, &[]).await.unwrap();
        assert_eq!(due(repo, AT, 10).await.len(), 1);
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
                    let pass = repo
                        .claim_pending_pass(AT, AT + LEASE, 7, None)
                        .await
                        .unwrap();
                    let ids: Vec<i64> = pass.records.iter().map(|p| p.id).collect();
                    if ids.is_empty() {
                        return mine;
                    }
                    // Each pass is worked a little while the others claim.
                    tokio::task::yield_now().await;
                    pass.claim.settle(&ids, &[]).await.unwrap();
                    mine.extend(ids);
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

/// A connection the database dropped while it sat idle in the pool (a restart, an idle
/// timeout) is replaced when it is next taken, not handed out to fail a request.
#[tokio::test]
async fn connections_dropped_while_idle_are_replaced() {
    use medialib_test_support::TestDatabase;
    use sea_orm::{ConnectionTrait, Statement};
    for var in ["MEDIALIB_TEST_POSTGRES_URL", "MEDIALIB_TEST_MYSQL_URL"] {
        let Ok(admin_url) = std::env::var(var) else {
            eprintln!("{var} is not set: not run");
            continue;
        };
        let database = TestDatabase::create(&admin_url).await;
        let repo = SeaOrmMediaRepo::connect(&SqlConfig::new(database.url.as_str()))
            .await
            .unwrap();
        repo.migrate().await.unwrap();
        let slug = TenantSlug::parse("t").unwrap();
        tenant(&repo).await;
        // Every session on the new database is ended from outside.
        let admin = sea_orm::Database::connect(database.admin_url())
            .await
            .unwrap();
        let backend = admin.get_database_backend();
        let name = database.name();
        let killed = if var.contains("POSTGRES") {
            admin
                .query_all(Statement::from_string(
                    backend,
                    format!(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE datname = '{name}'"
                    ),
                ))
                .await
                .unwrap()
                .len()
        } else {
            let sessions = admin
                .query_all(Statement::from_string(
                    backend,
                    format!(
                        "SELECT CAST(id AS SIGNED) AS id FROM information_schema.processlist \
                         WHERE db = '{name}'"
                    ),
                ))
                .await
                .unwrap();
            for session in &sessions {
                let id: i64 = session.try_get("", "id").unwrap();
                admin
                    .execute(Statement::from_string(backend, format!("KILL {id}")))
                    .await
                    .unwrap();
            }
            sessions.len()
        };
        assert!(killed > 0, "{var}: the pool had connections to end");
        // Ending a session is asynchronous: wait until the server lists none on the database.
        let sessions = if var.contains("POSTGRES") {
            format!("SELECT pid FROM pg_stat_activity WHERE datname = '{name}'")
        } else {
            format!("SELECT id FROM information_schema.processlist WHERE db = '{name}'")
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !admin
            .query_all(Statement::from_string(backend, sessions.clone()))
            .await
            .unwrap()
            .is_empty()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{var}: the sessions did not end"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        // The contract is for connections idle past the pool's ping threshold (1 s): the
        // idle time itself is the condition here, not a wait for something to happen.
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        for _ in 0..10 {
            let found = repo.find_tenant(&slug).await.unwrap();
            assert!(found.is_some(), "{var}");
        }
    }
}

/// A member's usage counts what it owns or was granted, once each, live and trashed apart;
/// the tenant's usage counts everything.
#[tokio::test]
async fn usage_visible_to_a_user_counts_owned_and_granted_media_once() {
    for backend in backends::all().await {
        let repo = &backend.repo;
        let tenant = tenant(repo).await;
        eprintln!("on {}", backend.name);
        // Everything `insert` makes is alice's: 10 and 20 bytes live, 40 trashed.
        let small = insert(repo, tenant, "a.png", 10).await.unwrap();
        insert(repo, tenant, "b.png", 20).await.unwrap();
        let trashed = insert(repo, tenant, "c.png", 40).await.unwrap();
        move_to_trash(repo, tenant, trashed.id, false)
            .await
            .unwrap();
        let bob = UserId::parse("bob").unwrap();
        for permission in [Permission::Read, Permission::Delete] {
            let grant = Grant {
                media_id: small.id,
                user_id: bob.clone(),
                permission,
                created_at: AT,
            };
            repo.put_grant(tenant, grant, event(tenant, "access_granted"))
                .await
                .unwrap();
        }
        let of = |usage: medialib_domain::Usage| {
            (
                usage.media_count,
                usage.bytes_used,
                usage.trashed_count,
                usage.trashed_bytes,
            )
        };
        let alice = UserId::parse("alice").unwrap();
        assert_eq!(
            of(repo.usage_visible_to(tenant, &alice).await.unwrap()),
            (2, 30, 1, 40)
        );
        assert_eq!(
            of(repo.usage_visible_to(tenant, &bob).await.unwrap()),
            (1, 10, 0, 0)
        );
        let carol = UserId::parse("carol").unwrap();
        assert_eq!(
            of(repo.usage_visible_to(tenant, &carol).await.unwrap()),
            (0, 0, 0, 0)
        );
        assert_eq!(of(repo.usage(tenant).await.unwrap()), (2, 30, 1, 40));
    }
}

#[tokio::test]
async fn the_pending_summary_counts_each_status_with_its_oldest_record() {
    for backend in backends::all().await {
        let repo = &backend.repo;
        let tenant = tenant(repo).await;
        eprintln!("on {}", backend.name);
        assert!(repo.pending_summary().await.unwrap().is_empty());
        // Records are stamped with the time they are written (their due time is `AT`).
        let before = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
        let keys: Vec<BlobKey> = (0..3).map(|_| BlobKey::new_media(tenant)).collect();
        repo.add_pending_deletions(tenant, &keys[..2], AT)
            .await
            .unwrap();
        let between = time::OffsetDateTime::now_utc();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
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
}

// The delete contract of `MediaRepo`, on every backend.

#[tokio::test]
async fn the_second_delete_of_a_row_is_not_found_and_cascades_are_counted() {
    for backend in backends::all().await {
        eprintln!("on {}", backend.name);
        deletes::the_second_delete_of_a_row_is_not_found_and_cascades_are_counted(&backend.repo)
            .await;
    }
}

#[tokio::test]
async fn a_batch_with_a_repeated_id_deletes_it_once() {
    for backend in backends::all().await {
        eprintln!("on {}", backend.name);
        deletes::a_batch_with_a_repeated_id_deletes_it_once(&backend.repo).await;
    }
}

#[tokio::test]
async fn deletes_by_id_are_authorized_against_the_locked_row() {
    for backend in backends::all().await {
        eprintln!("on {}", backend.name);
        deletes::deletes_by_id_are_authorized_against_the_locked_row(&backend.repo).await;
    }
}

#[tokio::test]
async fn a_grant_revoked_between_plan_and_commit_stops_a_planned_delete() {
    for backend in backends::all().await {
        eprintln!("on {}", backend.name);
        deletes::a_grant_revoked_between_plan_and_commit_stops_a_planned_delete(&backend.repo)
            .await;
    }
}

#[tokio::test]
async fn a_held_id_repeated_in_a_batch_is_refused_every_time() {
    for backend in backends::all().await {
        eprintln!("on {}", backend.name);
        deletes::a_held_id_repeated_in_a_batch_is_refused_every_time(&backend.repo).await;
    }
}

#[tokio::test]
async fn ids_are_never_reused_after_the_highest_is_deleted() {
    for backend in backends::all().await {
        eprintln!("on {}", backend.name);
        deletes::ids_are_never_reused_after_the_highest_is_deleted(&backend.repo).await;
    }
}

#[tokio::test]
async fn a_plan_for_another_tenant_deletes_nothing() {
    for backend in backends::all().await {
        eprintln!("on {}", backend.name);
        deletes::a_plan_for_another_tenant_deletes_nothing(&backend.repo).await;
    }
}

#[tokio::test]
async fn delete_transactions_forget_purged_records_alongside() {
    for backend in backends::all().await {
        eprintln!("on {}", backend.name);
        deletes::delete_transactions_forget_purged_records_alongside(&backend.repo).await;
    }
}

#[tokio::test]
async fn a_row_without_its_upload_intent_is_refused() {
    for backend in backends::all().await {
        eprintln!("on {}", backend.name);
        deletes::a_row_without_its_upload_intent_is_refused(&backend.repo).await;
    }
}

#[tokio::test]
async fn quotes_backslashes_and_dollars_survive_the_delete_transaction() {
    for backend in backends::all().await {
        eprintln!("on {}", backend.name);
        deletes::quotes_backslashes_and_dollars_survive_the_delete_transaction(&backend.repo).await;
    }
}

#[tokio::test]
async fn trash_frees_the_path_moves_usage_and_restore_detects_a_taken_path() {
    for backend in backends::all().await {
        eprintln!("on {}", backend.name);
        lifecycle::trash_frees_the_path_moves_usage_and_restore_detects_a_taken_path(&backend.repo)
            .await;
    }
}

#[tokio::test]
async fn holds_refuse_delete_and_trash_until_removed() {
    for backend in backends::all().await {
        eprintln!("on {}", backend.name);
        lifecycle::holds_refuse_delete_and_trash_until_removed(&backend.repo).await;
    }
}

#[tokio::test]
async fn references_refuse_unforced_deletes_and_forced_ones_report_them() {
    for backend in backends::all().await {
        eprintln!("on {}", backend.name);
        lifecycle::references_refuse_unforced_deletes_and_forced_ones_report_them(&backend.repo)
            .await;
    }
}

#[tokio::test]
async fn derivatives_go_with_their_media_into_the_pending_deletions() {
    for backend in backends::all().await {
        eprintln!("on {}", backend.name);
        lifecycle::derivatives_go_with_their_media_into_the_pending_deletions(&backend.repo).await;
    }
}

#[tokio::test]
async fn expired_trash_follows_each_tenants_retention_and_skips_holds() {
    for backend in backends::all().await {
        eprintln!("on {}", backend.name);
        lifecycle::expired_trash_follows_each_tenants_retention_and_skips_holds(&backend.repo)
            .await;
    }
}
