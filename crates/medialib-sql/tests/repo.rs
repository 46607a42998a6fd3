//! The SeaORM adapter against real databases (see `backends`), migrated by our `Migrator`.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use medialib_domain::ports::repo::*;
use medialib_domain::{BlobKey, TenantSlug};
use medialib_sql::{SeaOrmMediaRepo, SqlConfig};

mod backends;

use medialib_domain::contract::{
    self,
    deletes::{due, insert, plan, tenant, AT, LEASE},
};

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

/// Every check of the repository ports' contracts on `name`, each on a fresh database.
async fn every_check_on(name: &'static str) {
    for (check, run) in contract::repository() {
        let Some(backend) = backends::named(name).await else {
            return;
        };
        eprintln!("{check} on {name}");
        run(&backend.repo).await;
    }
}

#[tokio::test]
async fn the_repository_contract_on_sqlite() {
    every_check_on("sqlite").await;
}

#[tokio::test]
async fn the_repository_contract_on_postgres() {
    every_check_on("postgres").await;
}

#[tokio::test]
async fn the_repository_contract_on_mysql() {
    every_check_on("mysql").await;
}

/// Of concurrent claims of one idempotency key exactly one runs; the others find it in flight.
#[tokio::test]
async fn concurrent_claims_of_an_idempotency_key_let_one_run() {
    use medialib_domain::{IdempotencyKey, KeyClaim, KeyTerms};
    for backend in backends::all().await {
        let repo = &backend.repo;
        let tenant = tenant(repo).await;
        let key = IdempotencyKey::parse("retry-me").unwrap();
        let terms = KeyTerms {
            tenant,
            now: AT,
            held_until: AT + LEASE,
            expires_at: AT + LEASE * 100,
        };
        let claims = (0..8).map(|_| {
            let repo = repo.clone();
            let key = key.clone();
            tokio::spawn(async move { repo.claim_idempotency_key(&key, terms).await.unwrap() })
        });
        let mut fresh = 0;
        for claim in claims {
            match claim.await.unwrap() {
                KeyClaim::Fresh => fresh += 1,
                KeyClaim::InFlight => {}
                other => panic!("on {}: {other:?}", backend.name),
            }
        }
        assert_eq!(fresh, 1, "on {}", backend.name);
    }
}

/// Sequencers running while events commit, on several connections, never give a number twice
/// and leave no committed event without one.
#[tokio::test]
async fn concurrent_sequencers_number_every_event_once() {
    use medialib_domain::ChangeKind;
    for backend in backends::all().await {
        let repo = &backend.repo;
        let tenant = tenant(repo).await;
        let workers = (0..4).map(|worker| {
            let repo = repo.clone();
            tokio::spawn(async move {
                for n in 0..10 {
                    insert(&repo, tenant, &format!("s/{worker}-{n}.png"), 1)
                        .await
                        .unwrap();
                    repo.sequence_changes(3).await.unwrap();
                }
            })
        });
        for worker in workers {
            worker.await.unwrap();
        }
        while repo.sequence_changes(100).await.unwrap() > 0 {}
        let listed = repo
            .list_changes(tenant, &ChangeKind::ACTIONS, 0, 1000)
            .await
            .unwrap();
        let mut seqs: Vec<i64> = listed.iter().map(|c| c.seq).collect();
        assert_eq!(seqs.len(), 40, "on {}", backend.name);
        seqs.dedup();
        assert_eq!(seqs.len(), 40, "on {}: a number given twice", backend.name);
        assert_eq!(repo.last_change().await.unwrap(), 40, "on {}", backend.name);
    }
}
