//! The contract of [`Jobs`](crate::Jobs): one runner at a time under a lease, saves only under
//! the claim, cancellation. Each function needs a fresh, migrated store.
// Contract checks fail by panicking with what broke, as tests do.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::deletes::{tenant, AT, LEASE};
use crate::error::RepoError;
use crate::model::*;
use crate::ports::MediaRepo;

fn new_job(tenant: TenantId, kind: JobKind) -> NewJob {
    NewJob {
        tenant_id: tenant,
        kind,
        spec: JobSpec {
            tenant: "t".into(),
            user: "ann".into(),
            role: "admin".into(),
            steps: vec![JobStep {
                tag: Some("tmp".into()),
                created_before: Some(AT),
                trashed: true,
                force: true,
                ..JobStep::default()
            }],
            erased_user: Some("bob \"the\" builder".into()),
        },
        created_by: UserId::parse("ann").unwrap(),
        created_at: AT,
    }
}

fn update(state: JobState, processed: u64, until: time::OffsetDateTime) -> JobUpdate {
    JobUpdate {
        cursor: JobCursor {
            step: 0,
            before_id: Some(40),
        },
        progress: JobProgress {
            total: Some(10),
            processed,
            counts: DeleteCounts {
                deleted: processed,
                freed_bytes: 99,
                ..DeleteCounts::default()
            },
            kept: vec![KeptMedia {
                media_id: 7,
                reason: "held".into(),
                holds: vec!["litigation".into()],
            }],
            ..JobProgress::default()
        },
        state,
        error: None,
        at: AT,
        leased_until: until,
    }
}

/// A job is its tenant's; it round-trips its spec; a runner claims it until its lease ends,
/// saves only under its claim, and a final state frees it for good.
pub async fn jobs_are_claimed_by_one_runner_and_saved_under_the_claim(repo: &dyn MediaRepo) {
    let t = tenant(repo).await;
    let other = repo
        .create_tenant(&TenantSlug::parse("u").unwrap(), AT)
        .await
        .unwrap()
        .id;
    let job = repo
        .create_job(new_job(t, JobKind::EraseUser))
        .await
        .unwrap();
    assert_eq!(job.state, JobState::Queued);
    assert_eq!(job.spec, new_job(t, JobKind::EraseUser).spec);
    assert_eq!(job.cursor, JobCursor::default());
    assert_eq!(repo.find_job(t, job.id).await.unwrap(), Some(job.clone()));
    assert_eq!(repo.find_job(other, job.id).await.unwrap(), None);
    assert!(repo
        .list_jobs(other, None, None, 10)
        .await
        .unwrap()
        .is_empty());

    let claimed = repo
        .claim_job(AT, AT + LEASE, "a", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, job.id);
    assert_eq!(claimed.state, JobState::Running);
    assert_eq!(
        repo.claim_job(AT, AT + LEASE, "b", None).await.unwrap(),
        None
    );
    assert_eq!(
        repo.claim_job(AT, AT + LEASE, "a", None)
            .await
            .unwrap()
            .map(|j| j.id),
        Some(job.id),
        "its own runner takes it again"
    );
    assert_eq!(
        repo.save_job(job.id, "b", update(JobState::Running, 1, AT + LEASE))
            .await
            .unwrap(),
        None,
        "not b's"
    );
    assert_eq!(
        repo.save_job(job.id, "a", update(JobState::Running, 4, AT + LEASE))
            .await
            .unwrap(),
        Some(false)
    );
    let saved = repo.find_job(t, job.id).await.unwrap().unwrap();
    assert_eq!(saved.progress, update(JobState::Running, 4, AT).progress);
    assert_eq!(saved.cursor.before_id, Some(40));

    // a dies: once its lease ends, b resumes from the saved cursor.
    let later = AT + LEASE + Duration::from_secs(1);
    let resumed = repo
        .claim_job(later, later + LEASE, "b", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resumed.progress.processed, 4);
    assert_eq!(
        repo.save_job(job.id, "a", update(JobState::Running, 5, later))
            .await
            .unwrap(),
        None,
        "a lost it"
    );
    assert_eq!(
        repo.save_job(job.id, "b", update(JobState::Succeeded, 10, later))
            .await
            .unwrap(),
        Some(false)
    );
    let done = repo.find_job(t, job.id).await.unwrap().unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.finished_at, Some(AT));
    assert_eq!(
        repo.claim_job(later, later + LEASE, "b", None)
            .await
            .unwrap(),
        None,
        "a finished job is nobody's"
    );
    assert_eq!(
        repo.save_job(job.id, "b", update(JobState::Running, 11, later))
            .await
            .unwrap(),
        None,
        "nor can it be saved"
    );
}

/// A queued job is cancelled at once, a running one is flagged for its runner, a finished one
/// stays as it is; jobs list newest first.
pub async fn cancelling_stops_queued_jobs_and_flags_running_ones(repo: &dyn MediaRepo) {
    let t = tenant(repo).await;
    let first = repo
        .create_job(new_job(t, JobKind::DeleteByFilter))
        .await
        .unwrap();
    let second = repo
        .create_job(new_job(t, JobKind::EmptyTrash))
        .await
        .unwrap();
    let listed: Vec<i64> = repo
        .list_jobs(t, None, None, 10)
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(listed, [second.id, first.id]);
    assert_eq!(
        repo.list_jobs(t, None, Some(second.id), 10)
            .await
            .unwrap()
            .iter()
            .map(|j| j.id)
            .collect::<Vec<_>>(),
        [first.id]
    );
    let ann = UserId::parse("ann").unwrap();
    assert_eq!(
        repo.list_jobs(t, Some(ann), None, 10).await.unwrap().len(),
        2,
        "both started by ann"
    );
    assert!(repo
        .list_jobs(t, Some(UserId::parse("bob").unwrap()), None, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        repo.cancel_job(t, 999, AT).await,
        Err(RepoError::NotFound)
    ));

    let running = repo
        .claim_job(AT, AT + LEASE, "b", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(running.id, first.id, "oldest first");
    let queued = repo.cancel_job(t, second.id, AT).await.unwrap();
    assert_eq!(queued.state, JobState::Cancelled);
    assert!(queued.cancel_requested);
    let flagged = repo.cancel_job(t, first.id, AT).await.unwrap();
    assert_eq!(flagged.state, JobState::Running);
    assert!(flagged.cancel_requested);
    assert_eq!(
        repo.save_job(first.id, "b", update(JobState::Running, 2, AT + LEASE))
            .await
            .unwrap(),
        Some(true),
        "the runner learns it should stop"
    );
    repo.save_job(first.id, "b", update(JobState::Cancelled, 2, AT))
        .await
        .unwrap();
    let after = repo.cancel_job(t, first.id, AT).await.unwrap();
    assert_eq!(after.state, JobState::Cancelled);
    assert_eq!(
        repo.claim_job(AT + LEASE * 2, AT + LEASE * 3, "c", None)
            .await
            .unwrap(),
        None
    );
    let first_of_two = repo
        .create_job(new_job(t, JobKind::EmptyTrash))
        .await
        .unwrap();
    let asked = repo
        .create_job(new_job(t, JobKind::EraseUser))
        .await
        .unwrap();
    assert_eq!(
        repo.claim_job(AT, AT + LEASE, "d", Some(asked.id))
            .await
            .unwrap()
            .map(|j| j.id),
        Some(asked.id),
        "the one asked for, not the oldest ({})",
        first_of_two.id
    );
}
