//! Group commit: concurrent single deletes share one database transaction.
//!
//! A delete's cost is its commit (a WAL flush on every backend). When deletes arrive while a
//! commit is in flight they queue here, and the committer takes everything waiting (up to
//! `max_batch`) into the next transaction: `DeleteRepo::delete_requests` already judges every
//! delete on its own (one whose row is gone, unauthorized, held or in use gets its own
//! refusal and the others proceed), so each caller still gets its own receipt and its own
//! authorization, and the batch is atomic per delete. Should the batch's transaction itself
//! fail, every delete is retried in a transaction of its own, so one bad delete never fails
//! the others. A lone delete goes through at once: group commit adds no waiting, only
//! sharing.
//!
//! The committer also forgets the pending records of purged blobs, many at a time and off the
//! request's path, inside the next batch's transaction (a statement more in it, no commit of
//! its own: a forget in a transaction of its own cost the next delete its log flush), or on
//! their own when no delete follows shortly: a record it has not forgotten yet (say the
//! process stops first, or the transaction carrying it fails) falls due later, and the reaper
//! finds its blob gone and forgets it then.
//!
//! The committer is a future the embedding runtime spawns ([`GroupCommitter::run`]); the
//! domain spawns nothing. Without a committer, deletes run their own transactions.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_channel::{mpsc, oneshot};
use futures_util::future::{select, Either};
use futures_util::StreamExt;

use crate::error::RepoError;
use crate::model::{BlobKey, DeleteOutcome, DeleteRequest};
use crate::ports::{forget_purged, Deletions, Direct, MediaRepo};

type Reply = oneshot::Sender<Result<DeleteOutcome, RepoError>>;

/// A request and where its outcome goes (boxed: a plan is large next to a channel).
type Queued = (Box<DeleteRequest>, Reply);

/// The sending side: the service's [`Deletions`], decorating the repository's.
#[derive(Debug, Clone)]
pub(crate) struct GroupCommit {
    deletes: mpsc::UnboundedSender<Queued>,
    purged: mpsc::UnboundedSender<Vec<BlobKey>>,
    /// Where calls go that do not queue (several requests at once) or that come back
    /// because the committer is gone.
    direct: Direct,
}

/// Commits queued single deletes in shared transactions; run it on the runtime.
#[derive(Debug)]
pub struct GroupCommitter {
    deletes: mpsc::UnboundedReceiver<Queued>,
    purged: mpsc::UnboundedReceiver<Vec<BlobKey>>,
    repo: Arc<dyn MediaRepo>,
    max_batch: usize,
}

pub(crate) fn group_commit(
    repo: Arc<dyn MediaRepo>,
    max_batch: usize,
) -> (GroupCommit, GroupCommitter) {
    let (deletes_tx, deletes) = mpsc::unbounded();
    let (purged_tx, purged) = mpsc::unbounded();
    (
        GroupCommit {
            deletes: deletes_tx,
            purged: purged_tx,
            direct: Direct(Arc::clone(&repo)),
        },
        GroupCommitter {
            deletes,
            purged,
            repo,
            max_batch: max_batch.max(1),
        },
    )
}

impl GroupCommit {
    /// Queues a request and waits for its outcome. The request comes back, untouched, when
    /// the committer is gone before taking it; once taken, a committer that stops without an
    /// answer leaves the outcome unknown, which is reported as unavailable (never retried
    /// here: the delete may have committed).
    pub(crate) async fn delete(
        &self,
        request: DeleteRequest,
    ) -> Result<Result<DeleteOutcome, RepoError>, DeleteRequest> {
        let (reply, outcome) = oneshot::channel();
        if let Err(refused) = self.deletes.unbounded_send((Box::new(request), reply)) {
            return Err(*refused.into_inner().0);
        }
        Ok(outcome
            .await
            .unwrap_or_else(|_| Err(RepoError::Unavailable("group committer stopped".into()))))
    }

    /// Hands the pending records of purged blobs to the committer; the keys come back when it
    /// is gone.
    pub(crate) fn purged(&self, keys: Vec<BlobKey>) -> Result<(), Vec<BlobKey>> {
        self.purged
            .unbounded_send(keys)
            .map_err(mpsc::TrySendError::into_inner)
    }
}

#[async_trait::async_trait]
impl Deletions for GroupCommit {
    /// A single request queues for the next shared transaction (a transaction of its own when
    /// the committer is gone); several go in one transaction together, as they came.
    async fn delete_requests(
        &self,
        mut requests: Vec<DeleteRequest>,
    ) -> Result<Vec<Result<DeleteOutcome, RepoError>>, RepoError> {
        if let [_] = requests.as_slice() {
            let request = requests.pop().expect("one request");
            match self.delete(request).await {
                Ok(outcome) => return Ok(vec![outcome]),
                Err(request) => requests.push(request),
            }
        }
        self.direct.delete_requests(requests).await
    }

    /// Hands the records to the committer, which forgets them with its next transaction.
    async fn forget_purged(&self, keys: Vec<BlobKey>) {
        if let Err(keys) = self.purged(keys) {
            self.direct.forget_purged(keys).await;
        }
    }
}

impl GroupCommitter {
    /// Commits batches, and forgets purged blobs' records, until every service clone is
    /// dropped. Records to forget ride along with the next batch's transaction (one statement
    /// more in it, no commit of their own); when no delete comes within `pause()` they are
    /// forgotten in a transaction of their own.
    pub async fn run<P, F>(self, pause: P)
    where
        P: Fn() -> F,
        F: Future<Output = ()>,
    {
        let Self {
            mut deletes,
            mut purged,
            repo,
            max_batch,
        } = self;
        let mut forget: Vec<BlobKey> = Vec::new();
        let mut purged_open = true;
        // Started when the first record to forget arrived; it is not restarted by later ones.
        let mut waiting: Option<Pin<Box<F>>> = None;
        loop {
            if purged_open {
                purged_open = drain(&mut purged, &mut forget);
            }
            let next = if forget.is_empty() {
                waiting = None;
                if !purged_open {
                    // Only deletes can come now.
                    deletes.next().await.map(Next::Delete)
                } else {
                    match select(deletes.next(), purged.next()).await {
                        Either::Left((queued, _)) => queued.map(Next::Delete),
                        Either::Right((keys, _)) => Some(Next::Purged(keys)),
                    }
                }
            } else {
                let pause = waiting.get_or_insert_with(|| Box::pin(pause()));
                match select(deletes.next(), pause.as_mut()).await {
                    Either::Left((queued, _)) => queued.map(Next::Delete),
                    Either::Right(((), _)) => Some(Next::Pause),
                }
            };
            match next {
                Some(Next::Delete(first)) => {
                    // What was purged meanwhile rides along too.
                    if purged_open {
                        purged_open = drain(&mut purged, &mut forget);
                    }
                    let mut batch = vec![first];
                    while batch.len() < max_batch {
                        match deletes.try_recv() {
                            Ok(queued) => batch.push(queued),
                            Err(_) => break,
                        }
                    }
                    commit(repo.as_ref(), batch, std::mem::take(&mut forget)).await;
                }
                Some(Next::Purged(Some(keys))) => forget.extend(keys),
                Some(Next::Purged(None)) => purged_open = false,
                Some(Next::Pause) => {
                    forget_purged(repo.as_ref(), &std::mem::take(&mut forget)).await
                }
                // Every service clone is gone: nothing more will be purged either.
                None => {
                    drain(&mut purged, &mut forget);
                    forget_purged(repo.as_ref(), &forget).await;
                    return;
                }
            }
        }
    }
}

/// Takes every purged key waiting in `purged` into `forget`; false once the channel is closed.
fn drain(purged: &mut mpsc::UnboundedReceiver<Vec<BlobKey>>, forget: &mut Vec<BlobKey>) -> bool {
    loop {
        match purged.try_recv() {
            Ok(keys) => forget.extend(keys),
            Err(mpsc::TryRecvError::Closed) => return false,
            Err(mpsc::TryRecvError::Empty) => return true,
        }
    }
}

/// What woke the committer.
enum Next {
    Delete(Queued),
    Purged(Option<Vec<BlobKey>>),
    Pause,
}

/// Commits one batch, answering every plan, and forgets `forget` in the same transaction;
/// one by one (and the forget on its own) when the shared transaction fails.
async fn commit(repo: &dyn MediaRepo, batch: Vec<Queued>, forget: Vec<BlobKey>) {
    let (requests, replies): (Vec<DeleteRequest>, Vec<Reply>) = batch
        .into_iter()
        .map(|(request, reply)| (*request, reply))
        .unzip();
    let size = requests.len();
    super::telemetry::group_commit_batch(size);
    let result = if forget.is_empty() {
        repo.delete_requests(requests.clone()).await
    } else {
        repo.delete_requests_forgetting(requests.clone(), &forget)
            .await
    };
    match result {
        Ok(outcomes) if outcomes.len() == size => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                // A caller that went away (its request was cancelled) needs no answer.
                let _ = reply.send(outcome);
            }
            return;
        }
        Err(err) if size == 1 => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(err));
            }
        }
        _ => {
            tracing::warn!(size, "group commit failed; committing one by one");
            for (request, reply) in requests.into_iter().zip(replies) {
                let outcome = match repo.delete_requests(vec![request]).await {
                    Ok(mut outcomes) => outcomes.pop().unwrap_or(Err(RepoError::NotFound)),
                    Err(err) => Err(err),
                };
                let _ = reply.send(outcome);
            }
        }
    }
    // The shared transaction failed, and the forget with it.
    forget_purged(repo, &forget).await;
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::executor::block_on;

    use super::*;
    use crate::model::*;
    use crate::ports::{MockBlobStore, MockMediaRepo};
    use crate::service::delete::DeleteOptions;
    use crate::service::fixtures::{actor, done, service};
    use crate::service::ServiceConfig;

    fn media(id: i64) -> Media {
        super::super::fixtures::media(id, "alice")
    }

    /// The plan of a delete by id when every id is alice's live media.
    fn authorized(request: &DeleteRequest) -> DeletePlan {
        match request.clone() {
            DeleteRequest::Planned(plan) => plan,
            DeleteRequest::ById(request) => {
                let id = request.id.get();
                request.authorize(media(id), None).unwrap()
            }
        }
    }

    #[test]
    fn waiting_deletes_share_a_transaction_and_each_gets_its_own_receipt() {
        let mut repo = MockMediaRepo::new();
        // One transaction for all three; the second row was taken by someone else.
        repo.expect_delete_requests()
            .times(1)
            .returning(|requests| {
                assert_eq!(requests.len(), 3);
                Ok(requests
                    .iter()
                    .map(|request| {
                        if request.media_id().get() == 2 {
                            Err(RepoError::NotFound)
                        } else {
                            done(&authorized(request))
                        }
                    })
                    .collect())
            });
        repo.expect_complete_pending_deletions()
            .returning(|_| Ok(()));
        let mut blobs = MockBlobStore::new();
        blobs
            .expect_delete_many()
            .returning(|keys| keys.iter().map(|_| Ok(())).collect());
        let (svc, committer) = service(repo, blobs, ServiceConfig::default()).with_group_commit(8);
        let alice = actor("alice", Role::Member);
        let (results, ()) = block_on(async {
            let deletes = async {
                let results = futures::join!(
                    svc.delete_media(&alice, "1", DeleteOptions::default()),
                    svc.delete_media(&alice, "2", DeleteOptions::default()),
                    svc.delete_media(&alice, "3", DeleteOptions::default()),
                );
                drop(svc);
                results
            };
            futures::join!(deletes, committer.run(|| futures::future::ready(())))
        });
        assert_eq!(results.0.unwrap().id.get(), 1);
        assert!(matches!(results.1, Err(crate::ServiceError::MediaNotFound)));
        assert_eq!(results.2.unwrap().id.get(), 3);
    }

    /// Yields to the executor `n` times (other futures of a `join!` run meanwhile).
    async fn yield_times(n: usize) {
        for _ in 0..n {
            let mut yielded = false;
            futures::future::poll_fn(|cx| {
                if yielded {
                    std::task::Poll::Ready(())
                } else {
                    yielded = true;
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                }
            })
            .await;
        }
    }

    fn deletes_by_id(repo: &mut MockMediaRepo) {
        repo.expect_delete_requests()
            .returning(|requests| Ok(requests.iter().map(|r| done(&authorized(r))).collect()));
    }

    /// A service over `repo` with group commit, its committer, and alice, a member.
    fn committing(repo: MockMediaRepo) -> (crate::MediaService, GroupCommitter, Actor) {
        let (svc, committer) =
            service(repo, blobs(), ServiceConfig::default()).with_group_commit(8);
        (svc, committer, actor("alice", Role::Member))
    }

    fn blobs() -> MockBlobStore {
        let mut blobs = MockBlobStore::new();
        blobs
            .expect_delete_many()
            .returning(|keys| keys.iter().map(|_| Ok(())).collect());
        blobs
    }

    #[test]
    fn purged_records_are_forgotten_in_the_next_batch_transaction() {
        let mut repo = MockMediaRepo::new();
        deletes_by_id(&mut repo);
        // The second delete's transaction forgets the first delete's record.
        repo.expect_delete_requests_forgetting()
            .withf(|requests, purged| {
                requests.len() == 1
                    && requests[0].media_id().get() == 2
                    && purged == [BlobKey::from_stored("media/1/1".to_owned())]
            })
            .times(1)
            .returning(|requests, _| Ok(requests.iter().map(|r| done(&authorized(r))).collect()));
        // The last one's is forgotten on its own when the service goes away.
        repo.expect_complete_pending_deletions()
            .withf(|keys| keys == [BlobKey::from_stored("media/1/2".to_owned())])
            .times(1)
            .returning(|_| Ok(()));
        let (svc, committer, alice) = committing(repo);
        block_on(async {
            let deletes = async {
                svc.delete_media(&alice, "1", DeleteOptions::default())
                    .await
                    .unwrap();
                svc.delete_media(&alice, "2", DeleteOptions::default())
                    .await
                    .unwrap();
                drop(svc);
            };
            // The pause never ends: only a delete or the end carries a forget.
            futures::join!(deletes, committer.run(futures::future::pending::<()>))
        });
    }

    #[test]
    fn purged_records_are_forgotten_alone_when_no_delete_follows() {
        let forgotten = std::sync::Arc::new(AtomicUsize::new(0));
        let count = std::sync::Arc::clone(&forgotten);
        let mut repo = MockMediaRepo::new();
        deletes_by_id(&mut repo);
        repo.expect_delete_requests_forgetting().never();
        repo.expect_complete_pending_deletions()
            .withf(|keys| keys == [BlobKey::from_stored("media/1/1".to_owned())])
            .times(1)
            .returning(move |_| {
                count.fetch_add(1, Ordering::SeqCst);
                Ok(())
            });
        let (svc, committer, alice) = committing(repo);
        block_on(async {
            let deletes = async {
                svc.delete_media(&alice, "1", DeleteOptions::default())
                    .await
                    .unwrap();
                // The service stays; the committer's pause (over at once here) ends the wait.
                yield_times(10).await;
                assert_eq!(forgotten.load(Ordering::SeqCst), 1);
                drop(svc);
            };
            futures::join!(deletes, committer.run(|| futures::future::ready(())))
        });
    }

    #[test]
    fn without_its_committer_the_decorator_passes_calls_to_the_repository() {
        let mut repo = MockMediaRepo::new();
        // The lone delete and the pair each get a transaction of their own; the purged
        // record is forgotten at once.
        repo.expect_delete_requests()
            .times(2)
            .returning(|requests| Ok(requests.iter().map(|r| done(&authorized(r))).collect()));
        repo.expect_complete_pending_deletions()
            .times(1)
            .withf(|keys| keys.len() == 1)
            .returning(|_| Ok(()));
        let (sender, committer) = group_commit(std::sync::Arc::new(repo), 8);
        drop(committer);
        let by_id = |id: i64| {
            DeleteRequest::ById(crate::model::DeleteById {
                id: crate::model::MediaId::try_from(id).unwrap(),
                tenant_id: crate::model::TenantId(1),
                user_id: crate::model::UserId::parse("alice").unwrap(),
                role: Role::Member,
                at: time::macros::datetime!(2026-02-01 0:00 UTC),
                purge_after: time::macros::datetime!(2026-02-01 0:05 UTC),
                force: false,
                if_match: None,
            })
        };
        let lone = block_on(sender.delete_requests(vec![by_id(1)])).unwrap();
        assert_eq!(lone.len(), 1);
        assert!(lone[0].is_ok());
        let pair = block_on(sender.delete_requests(vec![by_id(2), by_id(3)])).unwrap();
        assert_eq!(pair.len(), 2);
        block_on(sender.forget_purged(vec![BlobKey::from_stored("media/1/1".into())]));
    }

    #[test]
    fn a_failed_shared_transaction_is_retried_one_plan_at_a_time() {
        let calls = std::sync::Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let mut repo = MockMediaRepo::new();
        repo.expect_delete_requests().returning(move |requests| {
            seen.fetch_add(1, Ordering::SeqCst);
            match requests.as_slice() {
                [_, _] => Err(RepoError::Backend("deadlock".into())),
                [request] if request.media_id().get() == 5 => {
                    Err(RepoError::Backend("bad row".into()))
                }
                [request] => Ok(vec![done(&authorized(request))]),
                _ => unreachable!("batches of one or two"),
            }
        });
        repo.expect_complete_pending_deletions()
            .returning(|_| Ok(()));
        let mut blobs = MockBlobStore::new();
        blobs
            .expect_delete_many()
            .returning(|keys| keys.iter().map(|_| Ok(())).collect());
        let (svc, committer) = service(repo, blobs, ServiceConfig::default()).with_group_commit(8);
        let alice = actor("alice", Role::Member);
        let (results, ()) = block_on(async {
            let deletes = async {
                let results = futures::join!(
                    svc.delete_media(&alice, "4", DeleteOptions::default()),
                    svc.delete_media(&alice, "5", DeleteOptions::default()),
                );
                drop(svc);
                results
            };
            futures::join!(deletes, committer.run(|| futures::future::ready(())))
        });
        assert!(
            results.0.is_ok(),
            "the good plan is not failed by the bad one"
        );
        assert!(matches!(results.1, Err(crate::ServiceError::Repo(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 3, "one shared, then one each");
    }
}
