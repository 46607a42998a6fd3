//! Deleting: the single delete, the legacy delete by path, bulk delete, and the purge of blobs.
//!
//! # The order of a delete
//! 1. Authorize against the live row (404 when the caller cannot see it, 403 when it can see
//!    but not delete it). A delete by id does this inside the transaction of step 2, against
//!    the row it locked ([`DeleteById::authorize`]); the others read the row first and the
//!    transaction re-checks it.
//! 2. One repository transaction removes the row (conditional on id and tenant), the community
//!    copy, tag assignments and grants, decrements usage, writes the `media_deleted` event and
//!    records every blob to purge as a pending deletion. If it fails nothing changed: 5xx.
//! 3. After the commit the blobs are deleted. A blob already gone counts as deleted. A failed
//!    deletion keeps its pending record for the retry loop and the receipt says
//!    `storage: pending`; the delete itself has happened and is answered 200.
//!
//! A concurrent delete of the same id loses in step 2 (the conditional delete finds no row) and
//! is answered 404, so exactly one caller gets a receipt and the blob is purged by that one.

use serde_json::json;
use std::collections::{HashMap, HashSet};
use time::OffsetDateTime;

use super::{access_of, require, telemetry, Access, MediaService};
use crate::error::ServiceError;
use crate::model::*;
use crate::ports::Budget;

/// Which blobs of a purge failed.
#[derive(Debug, Default)]
pub(crate) struct PurgeResult {
    pub(crate) failed: HashSet<BlobKey>,
}

impl PurgeResult {
    /// Purged when none of `keys` failed.
    pub(crate) fn state_of(&self, keys: &[BlobKey]) -> StorageState {
        if keys.iter().any(|key| self.failed.contains(key)) {
            StorageState::Pending
        } else {
            StorageState::Purged
        }
    }
}

impl DeletePlan {
    /// The activity event of this plan: `media_deleted`, or `media_purged` when the row was in
    /// the trash, with what cascaded and the references a forced delete broke.
    pub fn event(&self, removed: &Removed, was_trashed: bool, broken: &[RefName]) -> NewActivity {
        let media = &self.media;
        NewActivity {
            tenant_id: media.tenant_id,
            actor_id: self.actor_id.clone(),
            action: if was_trashed {
                "media_purged"
            } else {
                "media_deleted"
            },
            media_id: Some(media.id),
            details: json!({
                "reason": self.reason,
                "media": {
                    "id": media.id.get(),
                    "owner_id": media.owner_id.as_str(),
                    "path": media.path.as_str(),
                    "content_type": media.content_type,
                    "size_bytes": media.size_bytes,
                    "sha256": media.sha256,
                    "created_at": media.created_at.unix_timestamp(),
                },
                "removed": removed,
                "broken_references": broken,
            }),
            created_at: self.at,
        }
    }
}

impl DeleteById {
    /// Authorizes the delete against the row the transaction locked, by the rules of
    /// [`MediaService::delete_media`], and plans it.
    ///
    /// # Errors
    /// [`Refusal::NotFound`] when the caller cannot see the media (another tenant's, or in
    /// the trash: a delete by id deletes live media only), [`Refusal::Forbidden`] when it can
    /// see it but not delete it.
    pub fn authorize(self, media: Media, grant: Option<Permission>) -> Result<DeletePlan, Refusal> {
        if media.trashed_at.is_some() {
            return Err(Refusal::NotFound);
        }
        super::verdict::allowed(self.tenant_id, &self.user_id, self.role, &media, grant)?;
        Ok(DeletePlan {
            media,
            actor_id: self.user_id,
            reason: DeleteReason::Requested,
            at: self.at,
            purge_after: self.purge_after,
            force: self.force,
            authority: Authority::Caller(self.role),
            if_match: self.if_match,
        })
    }
}

/// How a delete request wants to be carried out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// Move to the trash instead of deleting; `None` follows the tenant's
    /// `delete_moves_to_trash`.
    pub trash: Option<bool>,
    /// Delete (or trash) even when applications recorded references to the media.
    pub force: bool,
    /// Delete (or trash) only the revision the caller saw, checked against the locked row.
    pub if_match: Option<IfMatch>,
}

impl DeleteOptions {
    /// Whether the delete moves to the trash: as asked, else as `actor`'s tenant is set.
    fn trashes(&self, actor: &Actor) -> bool {
        self.trash.unwrap_or(actor.settings.delete_moves_to_trash)
    }
}

impl MediaService {
    /// Deletes a media item by id: permanently, or into the trash when `options` (or the
    /// tenant's setting) say so.
    ///
    /// # Errors
    /// `InvalidMediaId`, `MediaNotFound` (missing, foreign, invisible or already deleted),
    /// `Forbidden` (visible but not deletable), `MediaHeld`, `MediaInUse` (unless forced),
    /// `Repo` when the transaction failed.
    #[tracing::instrument(skip_all, fields(media_id = %id, tenant = %actor.tenant_slug))]
    pub async fn delete_media(
        &self,
        actor: &Actor,
        id: &str,
        options: DeleteOptions,
    ) -> Result<DeleteReceipt, ServiceError> {
        let id = MediaId::parse(id)?;
        self.spend(actor, Budget::Deletes, 1).await?;
        if options.trashes(actor) {
            let (item, access) = self.load_to_delete(actor, id).await?;
            return self.delete_one(actor, item, access, options).await;
        }
        // Read, authorized and deleted in one transaction.
        let request = DeleteById {
            id,
            tenant_id: actor.tenant_id,
            user_id: actor.user_id.clone(),
            role: actor.role,
            at: self.clock.now(),
            purge_after: self.purge_after(),
            force: options.force,
            if_match: options.if_match,
        };
        self.carry_out_one(DeleteRequest::ById(request)).await
    }

    /// Deletes a media item by its path relative to the owner's root (the caller's own, or
    /// `owner`'s for admins).
    ///
    /// # Errors
    /// As [`MediaService::delete_media`], plus `InvalidPath`.
    #[tracing::instrument(skip_all, fields(tenant = %actor.tenant_slug))]
    pub async fn delete_media_by_path(
        &self,
        actor: &Actor,
        path: &str,
        owner: Option<&str>,
        options: DeleteOptions,
    ) -> Result<DeleteReceipt, ServiceError> {
        let path = MediaPath::parse(path)?;
        let owner = match owner {
            Some(raw) => UserId::parse(raw)?,
            None => actor.user_id.clone(),
        };
        if owner != actor.user_id && !actor.is_admin() {
            return Err(ServiceError::Forbidden);
        }
        self.spend(actor, Budget::Deletes, 1).await?;
        let item = self
            .repo
            .find_media_by_path(actor.tenant_id, &owner, &path, &actor.user_id)
            .await?
            .ok_or(ServiceError::MediaNotFound)?;
        let access = access_of(actor, &item);
        require(access, Access::Read)?;
        self.delete_one(actor, item, access, options).await
    }

    /// Deletes a media item only its owner may delete (no admin or grant overrides): the
    /// rule of APIs whose files belong to one user. Media of the caller's tenant that is not
    /// the caller's is `Forbidden`; any other tenant's is not found.
    ///
    /// # Errors
    /// `InvalidMediaId`, `MediaNotFound`, `Forbidden`, `MediaHeld`, `MediaInUse`, `Repo`.
    #[tracing::instrument(skip_all, fields(media_id = %id, tenant = %actor.tenant_slug))]
    pub async fn delete_own_media(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<DeleteReceipt, ServiceError> {
        let id = MediaId::parse(id)?;
        self.spend(actor, Budget::Deletes, 1).await?;
        let media = self
            .repo
            .find_media_to_delete(actor.tenant_id, &[id], &actor.user_id, MediaState::Live)
            .await?
            .pop()
            .map(|item| item.media)
            .ok_or(ServiceError::MediaNotFound)?;
        if media.owner_id != actor.user_id {
            return Err(ServiceError::Forbidden);
        }
        let plan = self.plan(actor, media);
        self.carry_out_one(plan.into()).await
    }

    async fn delete_one(
        &self,
        actor: &Actor,
        item: MediaAccess,
        access: Access,
        options: DeleteOptions,
    ) -> Result<DeleteReceipt, ServiceError> {
        require(access, Access::Delete)?;
        if options.trashes(actor) {
            let media = self
                .trash_loaded(actor, item.media.id, options.force, options.if_match)
                .await?;
            return Ok(DeleteReceipt {
                id: media.id,
                freed_bytes: 0,
                storage: StorageState::Trashed,
                removed: Removed::default(),
                broken_references: Vec::new(),
            });
        }
        let mut plan = self.plan(actor, item.media);
        plan.force = options.force;
        plan.if_match = options.if_match;
        self.carry_out_one(plan.into()).await
    }

    /// Deletes up to [`MAX_BULK_IDS`] media items, each judged by the rules of the single
    /// delete, in one repository transaction and one batched purge.
    ///
    /// # Errors
    /// `invalid_bulk_request` for an empty or oversized list, `Repo` when the transaction
    /// failed (then nothing was deleted). Per-item refusals are in the receipt.
    #[tracing::instrument(skip_all, fields(tenant = %actor.tenant_slug, count = ids.len()))]
    pub async fn bulk_delete_media(
        &self,
        actor: &Actor,
        ids: &[i64],
        force: bool,
    ) -> Result<BulkReceipt, ServiceError> {
        if ids.is_empty() || ids.len() > MAX_BULK_IDS {
            return Err(ServiceError::Invalid {
                code: "invalid_bulk_request",
                message: format!("ids must hold 1 to {MAX_BULK_IDS} media ids"),
            });
        }
        self.spend(actor, Budget::Deletes, ids.len()).await?;
        let items = self.delete_ids(actor, ids, MediaState::Live, force).await?;
        Ok(BulkReceipt { items })
    }

    /// Judges and deletes media of one state (live, or trashed: a purge) by id, in input
    /// order, in one transaction and one purge.
    pub(crate) async fn delete_ids(
        &self,
        actor: &Actor,
        ids: &[i64],
        state: MediaState,
        force: bool,
    ) -> Result<Vec<BulkItem>, ServiceError> {
        let parsed: Vec<Result<MediaId, ServiceError>> =
            ids.iter().map(|raw| MediaId::try_from(*raw)).collect();
        let mut unique: Vec<MediaId> = parsed
            .iter()
            .filter_map(|r| r.as_ref().ok().copied())
            .collect();
        unique.sort_unstable();
        unique.dedup();
        let found = self
            .repo
            .find_media_to_delete(actor.tenant_id, &unique, &actor.user_id, state)
            .await?;
        let mut found: HashMap<MediaId, MediaAccess> = found
            .into_iter()
            .map(|item| (item.media.id, item))
            .collect();

        // Judge every id in input order; a repeated id finds its row already taken.
        let mut verdicts: Vec<Result<usize, ServiceError>> = Vec::with_capacity(ids.len());
        let mut plans = Vec::new();
        for id in parsed {
            let verdict = id.and_then(|id| {
                let item = found.remove(&id).ok_or(ServiceError::MediaNotFound)?;
                require(access_of(actor, &item), Access::Delete)?;
                let mut plan = self.plan(actor, item.media);
                plan.force = force;
                plans.push(plan);
                Ok(plans.len() - 1)
            });
            verdicts.push(verdict);
        }

        let requests = plans.into_iter().map(DeleteRequest::from).collect();
        let mut results: Vec<Option<Result<DeleteReceipt, ServiceError>>> = self
            .carry_out(requests)
            .await?
            .into_iter()
            .map(Some)
            .collect();
        Ok(ids
            .iter()
            .zip(verdicts)
            .map(|(raw, verdict)| {
                let outcome = verdict.and_then(|index| {
                    results
                        .get_mut(index)
                        .and_then(Option::take)
                        .unwrap_or(Err(ServiceError::MediaNotFound))
                });
                BulkItem { id: *raw, outcome }
            })
            .collect())
    }

    /// A delete of `media` for `actor`, to be authorized again against the locked row.
    pub(crate) fn plan(&self, actor: &Actor, media: Media) -> DeletePlan {
        DeletePlan {
            media,
            actor_id: actor.user_id.clone(),
            reason: DeleteReason::Requested,
            at: self.clock.now(),
            purge_after: self.purge_after(),
            force: false,
            authority: Authority::Caller(actor.role),
            if_match: None,
        }
    }

    /// A delete of `media` by the service's own rules (`reason` says which), recorded as
    /// made by `actor_id`.
    pub(crate) fn service_plan(
        &self,
        actor_id: &UserId,
        media: Media,
        reason: DeleteReason,
    ) -> DeletePlan {
        DeletePlan {
            media,
            actor_id: actor_id.clone(),
            reason,
            at: self.clock.now(),
            purge_after: self.purge_after(),
            force: false,
            authority: Authority::Service,
            if_match: None,
        }
    }

    /// When the reaper may take over a blob deletion that the inline purge should handle.
    pub(crate) fn purge_after(&self) -> OffsetDateTime {
        self.clock.now() + self.config.pending_grace
    }

    /// Deletes blobs whose pending records are committed, and forgets the records of the ones
    /// that are gone. Never fails: what could not be deleted stays pending for the retry loop.
    pub(crate) async fn purge(&self, keys: &[BlobKey]) -> PurgeResult {
        let mut result = PurgeResult::default();
        if keys.is_empty() {
            return result;
        }
        let outcomes = self.blobs.delete_many(keys).await;
        let mut done = Vec::with_capacity(keys.len());
        for (key, outcome) in keys.iter().zip(outcomes) {
            match outcome {
                Ok(()) => done.push(key.clone()),
                Err(err) => {
                    tracing::warn!(
                        blob = key.as_str(),
                        error = &err as &dyn std::error::Error,
                        "blob purge failed; left pending"
                    );
                    result.failed.insert(key.clone());
                }
            }
        }
        telemetry::blob_deletes(done.len(), result.failed.len());
        if done.is_empty() {
            return result;
        }
        self.deletions.forget_purged(done).await;
        result
    }

    /// Removes blobs that no row will ever reference (an upload or share whose row was not
    /// written) and forgets their intents. What cannot be removed now stays recorded as a
    /// pending deletion for the reaper.
    pub(crate) async fn discard_blobs(&self, tenant: TenantId, keys: &[BlobKey]) {
        let purge = self.purge(keys).await;
        let failed: Vec<BlobKey> = purge.failed.into_iter().collect();
        if failed.is_empty() {
            return;
        }
        if let Err(err) = self
            .repo
            .add_pending_deletions(tenant, &failed, self.clock.now())
            .await
        {
            tracing::error!(
                error = &err as &dyn std::error::Error,
                count = failed.len(),
                "orphan blobs could not be recorded; the reconciler will find them"
            );
        }
    }
}

pub(crate) fn receipt(outcome: &DeleteOutcome, purge: &PurgeResult) -> DeleteReceipt {
    DeleteReceipt {
        id: outcome.media.id,
        freed_bytes: outcome.media.size_bytes,
        storage: purge.state_of(&outcome.pending),
        removed: outcome.removed,
        broken_references: outcome.broken_references.clone(),
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use mockall::predicate::eq;
    use mockall::Sequence;
    use time::macros::datetime;

    use super::*;
    use crate::error::{BlobError, RepoError};
    use crate::ports::{MockBlobStore, MockMediaRepo};
    use crate::service::ServiceConfig;

    use super::super::fixtures::{actor, done, media};

    fn service(repo: MockMediaRepo, blobs: MockBlobStore) -> MediaService {
        super::super::fixtures::service(repo, blobs, ServiceConfig::default())
    }

    fn found(repo: &mut MockMediaRepo, item: Media, grant: Option<Permission>) {
        repo.expect_find_media_to_delete()
            .returning(move |_, _, _, _| {
                Ok(vec![MediaAccess {
                    media: item.clone(),
                    grant,
                }])
            });
    }

    fn outcome(plans: &[DeletePlan]) -> Vec<Result<DeleteOutcome, RepoError>> {
        plans.iter().map(done).collect()
    }

    /// What the repository's transaction makes of `requests` when the only row is `item`, on
    /// which the caller holds `grant`: each request judged against it by the domain's
    /// verdict, and every one let through carried out.
    fn against(
        item: &Media,
        grant: Option<Permission>,
        requests: Vec<DeleteRequest>,
    ) -> Vec<Result<DeleteOutcome, RepoError>> {
        let locked = |id: MediaId, _: &UserId| {
            (id == item.id).then_some(Snapshot {
                media: item,
                holds: &[],
                references: &[],
                grant,
            })
        };
        super::super::verdict::judge_deletes(requests, locked)
            .into_iter()
            .map(|verdict| done(&verdict?.plan))
            .collect()
    }

    /// The repository deletes by id against `item` (see [`against`]).
    fn deletes(repo: &mut MockMediaRepo, item: Media, grant: Option<Permission>) {
        repo.expect_delete_requests()
            .times(1)
            .returning(move |requests| Ok(against(&item, grant, requests)));
    }

    fn by_id(user: &str, role: Role, id: i64) -> DeleteById {
        DeleteById {
            id: MediaId::try_from(id).unwrap(),
            tenant_id: TenantId(1),
            user_id: UserId::parse(user).unwrap(),
            role,
            at: datetime!(2026-02-01 0:00 UTC),
            purge_after: datetime!(2026-02-01 0:05 UTC),
            force: true,
            if_match: None,
        }
    }

    #[test]
    fn a_delete_by_id_is_authorized_against_the_locked_row_by_the_rules_of_the_lookup() {
        let row = media(7, "alice");
        let refusal = |user: &str, role: Role, grant: Option<Permission>| {
            by_id(user, role, 7).authorize(row.clone(), grant).err()
        };
        assert!(refusal("alice", Role::Member, None).is_none(), "owner");
        assert!(refusal("root", Role::Admin, None).is_none(), "admin");
        assert!(refusal("dan", Role::Member, Some(Permission::Delete)).is_none());
        assert!(matches!(
            refusal("rita", Role::Member, Some(Permission::Read)),
            Some(Refusal::Forbidden)
        ));
        assert!(matches!(
            refusal("vic", Role::Viewer, None),
            Some(Refusal::Forbidden)
        ));
        assert!(matches!(
            refusal("bob", Role::Member, None),
            Some(Refusal::NotFound)
        ));
        let mut foreign = row.clone();
        foreign.tenant_id = TenantId(2);
        assert!(matches!(
            by_id("root", Role::Admin, 7).authorize(foreign, None),
            Err(Refusal::NotFound)
        ));
        let mut trashed = row.clone();
        trashed.trashed_at = Some(datetime!(2026-01-02 0:00 UTC));
        assert!(matches!(
            by_id("alice", Role::Member, 7).authorize(trashed, None),
            Err(Refusal::NotFound)
        ));

        let plan = by_id("dan", Role::Member, 7)
            .authorize(row.clone(), Some(Permission::Delete))
            .unwrap();
        assert_eq!(plan.media, row);
        assert_eq!(plan.actor_id.as_str(), "dan");
        assert_eq!(plan.reason, DeleteReason::Requested);
        assert!(plan.force);
        assert_eq!(plan.at, datetime!(2026-02-01 0:00 UTC));
        assert_eq!(plan.purge_after, datetime!(2026-02-01 0:05 UTC));
    }

    #[test]
    fn a_bulk_delete_spends_one_item_per_id_and_a_refusal_changes_nothing() {
        use crate::ports::{MockRateLimiter, RateLimited};
        let mut repo = MockMediaRepo::new();
        repo.expect_find_media_to_delete().never();
        repo.expect_delete_requests().never();
        let mut limiter = MockRateLimiter::new();
        limiter
            .expect_spend()
            .withf(|_, budget, cost| *budget == Budget::Deletes && *cost == 3)
            .times(1)
            .returning(|_, budget, _| {
                Err(RateLimited {
                    budget,
                    limit: 2,
                    retry_after: std::time::Duration::from_millis(400),
                })
            });
        let svc =
            super::super::fixtures::service(repo, MockBlobStore::new(), ServiceConfig::default())
                .with_rate_limiter(std::sync::Arc::new(limiter));
        let err = block_on(svc.bulk_delete_media(&actor("alice", Role::Member), &[1, 2, 3], false))
            .unwrap_err();
        assert!(matches!(
            err,
            ServiceError::RateLimited(RateLimited { limit: 2, .. })
        ));
    }

    #[test]
    fn purge_comes_after_the_commit_and_clears_the_pending_record() {
        let mut repo = MockMediaRepo::new();
        let mut blobs = MockBlobStore::new();
        let mut seq = Sequence::new();
        let row = media(7, "alice");
        repo.expect_find_media_to_delete().never();
        repo.expect_delete_requests()
            .times(1)
            .in_sequence(&mut seq)
            .returning(move |requests| Ok(against(&row, None, requests)));
        blobs
            .expect_delete_many()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|keys| keys.iter().map(|_| Ok(())).collect());
        repo.expect_complete_pending_deletions()
            .with(eq(vec![BlobKey::from_stored("media/1/7".into())]))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(()));
        let receipt = block_on(service(repo, blobs).delete_media(
            &actor("alice", Role::Member),
            "7",
            DeleteOptions::default(),
        ))
        .unwrap();
        assert_eq!(receipt.storage, StorageState::Purged);
        assert_eq!(receipt.freed_bytes, 42);
    }

    #[test]
    fn blob_failure_after_commit_gives_a_pending_receipt_and_keeps_the_record() {
        let mut repo = MockMediaRepo::new();
        let mut blobs = MockBlobStore::new();
        deletes(&mut repo, media(7, "alice"), None);
        blobs.expect_delete_many().returning(|keys| {
            keys.iter()
                .map(|_| Err(BlobError::Unavailable("down".into())))
                .collect()
        });
        repo.expect_complete_pending_deletions().never();
        let receipt = block_on(service(repo, blobs).delete_media(
            &actor("alice", Role::Member),
            "7",
            DeleteOptions::default(),
        ))
        .unwrap();
        assert_eq!(receipt.storage, StorageState::Pending);
    }

    #[test]
    fn repo_failure_deletes_nothing_and_touches_no_blob() {
        let mut repo = MockMediaRepo::new();
        let mut blobs = MockBlobStore::new();
        repo.expect_delete_requests()
            .returning(|_| Err(RepoError::Backend("disk full".into())));
        blobs.expect_delete_many().never();
        let err = block_on(service(repo, blobs).delete_media(
            &actor("alice", Role::Member),
            "7",
            DeleteOptions::default(),
        ))
        .unwrap_err();
        assert!(
            matches!(err, ServiceError::Repo(RepoError::Backend(_))),
            "{err:?}"
        );
    }

    #[test]
    fn losing_a_concurrent_delete_is_not_found_and_touches_no_blob() {
        let mut repo = MockMediaRepo::new();
        let mut blobs = MockBlobStore::new();
        repo.expect_delete_requests()
            .returning(|_| Ok(vec![Err(RepoError::NotFound)]));
        blobs.expect_delete_many().never();
        let err = block_on(service(repo, blobs).delete_media(
            &actor("alice", Role::Member),
            "7",
            DeleteOptions::default(),
        ))
        .unwrap_err();
        assert!(matches!(err, ServiceError::MediaNotFound));
    }

    #[test]
    fn read_grantee_cannot_delete() {
        let mut repo = MockMediaRepo::new();
        deletes(&mut repo, media(7, "alice"), Some(Permission::Read));
        let err = block_on(service(repo, MockBlobStore::new()).delete_media(
            &actor("rita", Role::Member),
            "7",
            DeleteOptions::default(),
        ))
        .unwrap_err();
        assert!(matches!(err, ServiceError::Forbidden));
    }

    #[test]
    fn member_without_grant_gets_not_found() {
        let mut repo = MockMediaRepo::new();
        deletes(&mut repo, media(7, "alice"), None);
        let err = block_on(service(repo, MockBlobStore::new()).delete_media(
            &actor("bob", Role::Member),
            "7",
            DeleteOptions::default(),
        ))
        .unwrap_err();
        assert!(matches!(err, ServiceError::MediaNotFound));
    }

    #[test]
    fn viewer_cannot_delete_and_delete_grantee_can() {
        let mut repo = MockMediaRepo::new();
        deletes(&mut repo, media(7, "alice"), None);
        let err = block_on(service(repo, MockBlobStore::new()).delete_media(
            &actor("vic", Role::Viewer),
            "7",
            DeleteOptions::default(),
        ))
        .unwrap_err();
        assert!(matches!(err, ServiceError::Forbidden));

        let mut repo = MockMediaRepo::new();
        let mut blobs = MockBlobStore::new();
        deletes(&mut repo, media(7, "alice"), Some(Permission::Delete));
        repo.expect_complete_pending_deletions()
            .returning(|_| Ok(()));
        blobs
            .expect_delete_many()
            .returning(|keys| keys.iter().map(|_| Ok(())).collect());
        block_on(service(repo, blobs).delete_media(
            &actor("dan", Role::Member),
            "7",
            DeleteOptions::default(),
        ))
        .unwrap();
    }

    #[test]
    fn invalid_ids_never_reach_the_repository() {
        let repo = MockMediaRepo::new();
        let svc = service(repo, MockBlobStore::new());
        for bad in ["0", "-3", "x"] {
            let err = block_on(svc.delete_media(
                &actor("alice", Role::Member),
                bad,
                DeleteOptions::default(),
            ))
            .unwrap_err();
            assert!(matches!(err, ServiceError::InvalidMediaId));
        }
    }

    #[test]
    fn bulk_delete_plans_each_id_once_and_reports_in_input_order() {
        let mut repo = MockMediaRepo::new();
        let mut blobs = MockBlobStore::new();
        repo.expect_find_media_to_delete()
            .returning(|_, ids, _, _| {
                assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids are deduplicated");
                Ok(vec![MediaAccess {
                    media: media(1, "alice"),
                    grant: None,
                }])
            });
        repo.expect_delete_requests()
            .times(1)
            .returning(|requests| {
                let plans: Vec<DeletePlan> = requests
                    .into_iter()
                    .map(|request| match request {
                        DeleteRequest::Planned(plan) => plan,
                        DeleteRequest::ById(_) => panic!("a bulk delete hands over plans"),
                    })
                    .collect();
                assert_eq!(plans.len(), 1);
                Ok(outcome(&plans))
            });
        blobs
            .expect_delete_many()
            .times(1)
            .returning(|keys| keys.iter().map(|_| Ok(())).collect());
        repo.expect_complete_pending_deletions()
            .returning(|_| Ok(()));
        let receipt = block_on(service(repo, blobs).bulk_delete_media(
            &actor("alice", Role::Member),
            &[1, 2, 1, 0],
            false,
        ))
        .unwrap();
        let verdicts: Vec<_> = receipt
            .items
            .iter()
            .map(|item| (item.id, item.outcome.is_ok()))
            .collect();
        assert_eq!(
            verdicts,
            vec![(1, true), (2, false), (1, false), (0, false)]
        );
        assert!(matches!(
            receipt.items[3].outcome,
            Err(ServiceError::InvalidMediaId)
        ));
    }

    #[test]
    fn the_tenant_setting_makes_a_plain_delete_trash_unless_the_request_says_otherwise() {
        let mut soft = actor("alice", Role::Member);
        soft.settings.delete_moves_to_trash = true;

        let mut repo = MockMediaRepo::new();
        found(&mut repo, media(7, "alice"), None);
        repo.expect_delete_requests().never();
        repo.expect_trash_media()
            .times(1)
            .returning(|request, event| {
                assert!(!request.force);
                assert_eq!(event.action, "media_trashed");
                let mut trashed = media(request.id.get(), "alice");
                trashed.trashed_at = Some(event.created_at);
                Ok(trashed)
            });
        let receipt = block_on(service(repo, MockBlobStore::new()).delete_media(
            &soft,
            "7",
            DeleteOptions::default(),
        ))
        .unwrap();
        assert_eq!(receipt.storage, StorageState::Trashed);
        assert_eq!(receipt.freed_bytes, 0);

        let mut repo = MockMediaRepo::new();
        let mut blobs = MockBlobStore::new();
        repo.expect_trash_media().never();
        deletes(&mut repo, media(7, "alice"), None);
        repo.expect_complete_pending_deletions()
            .returning(|_| Ok(()));
        blobs
            .expect_delete_many()
            .returning(|keys| keys.iter().map(|_| Ok(())).collect());
        let options = DeleteOptions {
            trash: Some(false),
            ..DeleteOptions::default()
        };
        let receipt = block_on(service(repo, blobs).delete_media(&soft, "7", options)).unwrap();
        assert_eq!(receipt.storage, StorageState::Purged);
    }
}
