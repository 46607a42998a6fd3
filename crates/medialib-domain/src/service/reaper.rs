//! The reaper: works off pending blob deletions.
//!
//! # Claims and retries
//! A pass claims a batch of due records ([`crate::ports::PendingDeletions::claim_pending_pass`]); a
//! claimed record is invisible to other passes, so several server instances never work the same
//! record at the same time. On PostgreSQL and MariaDB the claim keeps the records' rows locked
//! (`FOR UPDATE SKIP LOCKED`) in a transaction open for the pass, which settles them: forgets
//! the purged, reschedules the failed, and commits. If a reaper dies mid-pass, its connection
//! closes and the records are due again at once. SQLite, with its single writer, writes a lease
//! (`lease_until = now + lease`) instead; an abandoned pass's records are taken over when it
//! expires. Deleting a blob is idempotent (a missing blob counts as deleted), so a record worked
//! twice is harmless.
//!
//! A failed deletion is scheduled again after `retry_base × 2^(attempts-1)` (capped at
//! `retry_max`) plus up to 25 % jitter, so that instances do not retry in step. After
//! `max_attempts` failures the record is parked as `failed`, logged at error level, listed at
//! `GET /v1/admin/pending-deletions` and requeued by `POST /v1/admin/pending-deletions/retry`.
//!
//! Upload intents (status `upload`) are records whose due time is the end of the upload's
//! allowance: committing the upload's row removes the record, so only abandoned uploads fall
//! due, and the reaper deletes their blobs like any other.

use std::time::Duration;

use super::{MediaService, ServiceError};
use crate::model::*;
use crate::ports::{ClaimedPass, PendingFailure};

/// Records of the first pass of [`MediaService::reap_until_done`].
const FIRST_PASS: u64 = 200;

/// Counts of one reaper pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReapReport {
    /// Records claimed.
    pub claimed: usize,
    /// Blobs confirmed gone (records forgotten).
    pub purged: usize,
    /// Failures scheduled for another attempt.
    pub retried: usize,
    /// Failures parked as `failed`.
    pub parked: usize,
}

impl std::ops::AddAssign for ReapReport {
    fn add_assign(&mut self, other: Self) {
        self.claimed += other.claimed;
        self.purged += other.purged;
        self.retried += other.retried;
        self.parked += other.parked;
    }
}

impl MediaService {
    /// One reaper pass over at most `limit` due records.
    ///
    /// With `everything`, records are taken whatever their schedule, lease or status
    /// (`pending` and `upload`): for a one-shot run while no server is running, where every
    /// upload intent is abandoned by definition.
    ///
    /// # Errors
    /// Database failures (blob failures are recorded on the records).
    pub async fn reap_once(
        &self,
        limit: u64,
        everything: bool,
    ) -> Result<ReapReport, ServiceError> {
        let pass = self.claim(limit, everything, None).await?;
        self.work(pass).await
    }

    /// Reaper passes of at most `limit` records until no due record is left or `keep_going`
    /// (asked with the passes finished so far, before each further claim) says no. The next
    /// pass is claimed while the current one's blobs are deleted (the claim continues after
    /// the current pass's highest id), so the database and the blob store work at the same
    /// time.
    ///
    /// # Errors
    /// As [`MediaService::reap_once`]; passes finished before the failure stay done.
    pub async fn reap_until_done(
        &self,
        limit: u64,
        everything: bool,
        keep_going: &(dyn Fn(&ReapReport) -> bool + Sync),
    ) -> Result<ReapReport, ServiceError> {
        let mut total = ReapReport::default();
        // The first pass is small, so that the blob store starts working while the database
        // claims the first full pass.
        let mut asked = limit.min(FIRST_PASS);
        let mut pass = Some(self.claim(asked, everything, None).await?);
        while let Some(current) = pass.take() {
            if current.records.is_empty() {
                current.claim.settle(&[], &[]).await?;
                break;
            }
            let full = current.records.len() as u64 >= asked;
            asked = limit;
            let after = current.records.iter().map(|p| p.id).max();
            let next = async {
                if full && keep_going(&total) {
                    self.claim(limit, everything, after).await.map(Some)
                } else {
                    Ok(None)
                }
            };
            let (report, next) = futures_util::future::join(self.work(current), next).await;
            // On an error a pass claimed ahead is dropped, which releases it (or leaves its
            // lease to run out).
            let report = report?;
            total += report;
            let next = next?;
            // A pass that purged nothing (the store is down) ends the run; its records are
            // rescheduled, and the pass claimed ahead is released untouched.
            if report.purged == 0 {
                if let Some(next) = next {
                    next.claim.settle(&[], &[]).await?;
                }
                break;
            }
            pass = next;
        }
        Ok(total)
    }

    async fn claim(
        &self,
        limit: u64,
        everything: bool,
        after: Option<i64>,
    ) -> Result<ClaimedPass, ServiceError> {
        let now = self.clock.now();
        let horizon = if everything {
            time::macros::datetime!(9999-12-31 23:59:59 UTC)
        } else {
            now
        };
        Ok(self
            .repo
            .claim_pending_pass(horizon, now + self.config.lease, limit, after)
            .await?)
    }

    /// Deletes the blobs of a claimed pass, then settles it: forgets the purged and reschedules
    /// (or parks) the failed. The blobs are deleted here rather than through
    /// [`MediaService::purge`], whose forget would wait for the rows this pass holds.
    async fn work(&self, pass: ClaimedPass) -> Result<ReapReport, ServiceError> {
        let ClaimedPass { records, claim } = pass;
        let now = self.clock.now();
        let keys: Vec<BlobKey> = records.iter().map(|p| p.blob_key.clone()).collect();
        let outcomes = if keys.is_empty() {
            Vec::new()
        } else {
            self.blobs.delete_many(&keys).await
        };
        let mut report = ReapReport {
            claimed: records.len(),
            ..ReapReport::default()
        };
        let mut purged = Vec::with_capacity(records.len());
        let mut failures = Vec::new();
        for (pending, outcome) in records.iter().zip(outcomes) {
            let err = match outcome {
                Ok(()) => {
                    purged.push(pending.id);
                    continue;
                }
                Err(err) => err,
            };
            let attempt = pending.attempts + 1;
            let retry_at = if attempt >= self.config.max_attempts {
                tracing::error!(
                    pending_id = pending.id,
                    blob = pending.blob_key.as_str(),
                    attempts = attempt,
                    error = &err as &dyn std::error::Error,
                    "blob deletion parked as failed after too many attempts"
                );
                report.parked += 1;
                None
            } else {
                tracing::warn!(
                    pending_id = pending.id,
                    blob = pending.blob_key.as_str(),
                    attempts = attempt,
                    error = &err as &dyn std::error::Error,
                    "blob deletion failed; retried later"
                );
                report.retried += 1;
                Some(now + self.backoff(attempt))
            };
            failures.push(PendingFailure {
                id: pending.id,
                retry_at,
                error: crate::error::chain(&err),
            });
        }
        report.purged = purged.len();
        claim.settle(&purged, &failures).await?;
        Ok(report)
    }

    /// Delay before attempt `attempt + 1` after `attempt` failures: base × 2^(attempt-1),
    /// capped, plus up to 25 % jitter.
    fn backoff(&self, attempt: i32) -> Duration {
        super::webhooks::backoff(attempt, self.config.retry_base, self.config.retry_max)
    }

    /// Counts the pending deletion records of every tenant by status, with the oldest of each
    /// (the operator's view, for monitoring the backlog).
    ///
    /// # Errors
    /// Database failures.
    pub async fn pending_summary(&self) -> Result<Vec<PendingCount>, ServiceError> {
        Ok(self.repo.pending_summary().await?)
    }

    /// The tenant's pending deletions (admins only).
    ///
    /// # Errors
    /// `Forbidden` for non-admins; invalid status, limit or cursor.
    pub async fn list_pending_deletions(
        &self,
        actor: &Actor,
        status: Option<&str>,
        limit: Option<u64>,
        cursor: Option<&str>,
    ) -> Result<super::media::Page<PendingBlob>, ServiceError> {
        if !actor.is_admin() {
            return Err(ServiceError::Forbidden);
        }
        let status = status.map(PendingStatus::parse).transpose()?;
        let limit = super::media::page_limit(limit)?;
        let before = super::media::parse_cursor(cursor)?;
        let items = self
            .repo
            .list_pending_deletions(actor.tenant_id, status, before, limit)
            .await?;
        let next_cursor = super::media::next_cursor(&items, limit, |p| p.id);
        Ok(super::media::Page { items, next_cursor })
    }

    /// Requeues the tenant's parked deletions (all, or `ids`) for the reaper (admins only).
    ///
    /// # Errors
    /// `Forbidden` for non-admins.
    pub async fn retry_pending_deletions(
        &self,
        actor: &Actor,
        ids: Option<Vec<i64>>,
    ) -> Result<u64, ServiceError> {
        if !actor.is_admin() {
            return Err(ServiceError::Forbidden);
        }
        Ok(self
            .repo
            .requeue_pending_deletions(actor.tenant_id, ids, self.clock.now())
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use time::macros::datetime;

    use super::*;
    use crate::error::BlobError;
    use crate::ports::{MockBlobStore, MockMediaRepo, MockPendingClaim};
    use crate::service::{fixtures, ServiceConfig};

    fn pending(id: i64, key: &str, attempts: i32) -> PendingBlob {
        PendingBlob {
            id,
            blob_key: BlobKey::from_stored(key.into()),
            tenant_id: Some(TenantId(1)),
            status: PendingStatus::Pending,
            attempts,
            next_attempt_at: datetime!(2026-11-25 12:00 UTC),
            last_error: None,
            created_at: datetime!(2026-11-25 12:00 UTC),
        }
    }

    /// A pass of `records` whose claim expects to be settled once with `purged` and failures
    /// that `failures` accepts.
    fn pass(
        records: Vec<PendingBlob>,
        purged: Vec<i64>,
        failures: impl Fn(&[PendingFailure]) -> bool + Send + 'static,
    ) -> ClaimedPass {
        let mut claim = MockPendingClaim::new();
        claim
            .expect_settle()
            .withf(move |settled, failed| settled == purged.as_slice() && failures(failed))
            .times(1)
            .returning(|_, _| Ok(()));
        ClaimedPass {
            records,
            claim: Box::new(claim),
        }
    }

    /// A pass whose blobs are all deleted: settled with every record purged.
    fn purged(records: Vec<PendingBlob>) -> ClaimedPass {
        let ids = records.iter().map(|p| p.id).collect();
        pass(records, ids, <[PendingFailure]>::is_empty)
    }

    fn deletes_everything(blobs: &mut MockBlobStore) {
        blobs
            .expect_delete_many()
            .returning(|keys| keys.iter().map(|_| Ok(())).collect());
    }

    #[test]
    fn a_pass_forgets_purged_blobs_backs_off_failures_and_parks_the_hopeless() {
        let now = datetime!(2026-11-25 12:00 UTC);
        let mut repo = MockMediaRepo::new();
        let mut blobs = MockBlobStore::new();
        repo.expect_claim_pending_pass()
            .withf(move |horizon, lease, limit, after| {
                *horizon == now
                    && *lease == now + Duration::from_secs(60)
                    && *limit == 10
                    && after.is_none()
            })
            .times(1)
            .returning(move |_, _, _, _| {
                let records = vec![pending(1, "a", 0), pending(2, "b", 3), pending(3, "c", 9)];
                Ok(pass(records, vec![1], move |failures| {
                    // Attempt 4: 5 s × 2³ = 40 s, plus at most 25 % jitter; attempt 10 parks.
                    matches!(failures, [retried, parked]
                        if retried.id == 2
                            && retried.retry_at.is_some_and(|at| {
                                at >= now + Duration::from_secs(40)
                                    && at <= now + Duration::from_secs(50)
                            })
                            && retried.error.contains("down")
                            && parked.id == 3
                            && parked.retry_at.is_none())
                }))
            });
        blobs.expect_delete_many().returning(|keys| {
            keys.iter()
                .map(|k| {
                    if k.as_str() == "a" {
                        Ok(())
                    } else {
                        Err(BlobError::Unavailable("down".into()))
                    }
                })
                .collect()
        });
        // The pass forgets its purged records itself, in its settlement.
        repo.expect_complete_pending_deletions().never();
        let svc = fixtures::service(repo, blobs, ServiceConfig::default());
        let report = block_on(svc.reap_once(10, false)).unwrap();
        assert_eq!(
            report,
            ReapReport {
                claimed: 3,
                purged: 1,
                retried: 1,
                parked: 1
            }
        );
    }

    #[test]
    fn passes_continue_after_the_last_claimed_id_until_a_short_pass() {
        let mut repo = MockMediaRepo::new();
        let mut blobs = MockBlobStore::new();
        let mut seq = mockall::Sequence::new();
        repo.expect_claim_pending_pass()
            .withf(|_, _, limit, after| *limit == 2 && after.is_none())
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(purged(vec![pending(4, "a", 0), pending(9, "b", 0)])));
        repo.expect_claim_pending_pass()
            .withf(|_, _, _, after| *after == Some(9))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(purged(vec![pending(12, "c", 0)])));
        deletes_everything(&mut blobs);
        let svc = fixtures::service(repo, blobs, ServiceConfig::default());
        let report = block_on(svc.reap_until_done(2, true, &|_| true)).unwrap();
        assert_eq!(report.claimed, 3);
        assert_eq!(report.purged, 3);
    }

    #[test]
    fn the_first_pass_is_small_and_the_next_are_full() {
        let mut repo = MockMediaRepo::new();
        let mut blobs = MockBlobStore::new();
        let mut seq = mockall::Sequence::new();
        let limit = FIRST_PASS * 5;
        let first: Vec<PendingBlob> = (1..=FIRST_PASS as i64)
            .map(|id| pending(id, &format!("k{id}"), 0))
            .collect();
        repo.expect_claim_pending_pass()
            .withf(|_, _, asked, after| *asked == FIRST_PASS && after.is_none())
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |_, _, _, _| Ok(purged(first.clone())));
        // The first pass came back full: the next one is claimed, at the full size.
        repo.expect_claim_pending_pass()
            .withf(move |_, _, asked, after| *asked == limit && *after == Some(FIRST_PASS as i64))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(purged(vec![pending(900, "last", 0)])));
        deletes_everything(&mut blobs);
        let svc = fixtures::service(repo, blobs, ServiceConfig::default());
        let report = block_on(svc.reap_until_done(limit, true, &|_| true)).unwrap();
        assert_eq!(report.claimed, FIRST_PASS as usize + 1);
        assert_eq!(report.purged, FIRST_PASS as usize + 1);
    }

    #[test]
    fn a_stop_request_ends_the_run_after_the_pass_in_hand() {
        let mut repo = MockMediaRepo::new();
        let mut blobs = MockBlobStore::new();
        repo.expect_claim_pending_pass()
            .times(1)
            .returning(|_, _, _, _| Ok(purged(vec![pending(1, "a", 0), pending(2, "b", 0)])));
        deletes_everything(&mut blobs);
        let svc = fixtures::service(repo, blobs, ServiceConfig::default());
        let report = block_on(svc.reap_until_done(2, false, &|_| false)).unwrap();
        assert_eq!(report.purged, 2);
    }

    #[test]
    fn a_run_ends_when_a_pass_purges_nothing_and_releases_the_pass_claimed_ahead() {
        let mut repo = MockMediaRepo::new();
        let mut blobs = MockBlobStore::new();
        let mut seq = mockall::Sequence::new();
        repo.expect_claim_pending_pass()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| {
                Ok(pass(
                    vec![pending(1, "a", 0), pending(2, "b", 0)],
                    vec![],
                    |failures| failures.len() == 2,
                ))
            });
        // Claimed while the first pass was worked; settled with nothing done.
        repo.expect_claim_pending_pass()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _, _| Ok(pass(vec![pending(3, "c", 0)], vec![], <[_]>::is_empty)));
        blobs.expect_delete_many().times(1).returning(|keys| {
            keys.iter()
                .map(|_| Err(BlobError::Unavailable("down".into())))
                .collect()
        });
        let svc = fixtures::service(repo, blobs, ServiceConfig::default());
        let report = block_on(svc.reap_until_done(2, false, &|_| true)).unwrap();
        assert_eq!((report.claimed, report.purged, report.retried), (2, 0, 2));
    }

    #[test]
    fn an_empty_claim_is_settled_and_ends_the_run() {
        let mut repo = MockMediaRepo::new();
        let mut blobs = MockBlobStore::new();
        repo.expect_claim_pending_pass()
            .times(1)
            .returning(|_, _, _, _| Ok(purged(vec![])));
        blobs.expect_delete_many().never();
        let svc = fixtures::service(repo, blobs, ServiceConfig::default());
        let report = block_on(svc.reap_until_done(10, false, &|_| true)).unwrap();
        assert_eq!(report, ReapReport::default());
    }

    #[test]
    fn only_admins_see_and_requeue_pending_deletions() {
        let mut repo = MockMediaRepo::new();
        repo.expect_list_pending_deletions().never();
        repo.expect_requeue_pending_deletions().never();
        let svc = fixtures::service(repo, MockBlobStore::new(), ServiceConfig::default());
        let member = fixtures::actor("alice", Role::Member);
        assert!(matches!(
            block_on(svc.list_pending_deletions(&member, None, None, None)),
            Err(ServiceError::Forbidden)
        ));
        assert!(matches!(
            block_on(svc.retry_pending_deletions(&member, None)),
            Err(ServiceError::Forbidden)
        ));
    }
}
