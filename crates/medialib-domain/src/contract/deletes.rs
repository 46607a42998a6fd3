//! The delete contract of [`MediaRepo`]: `delete_requests` / `delete_media` and the move to
//! the trash, judged against the locked rows by the domain's verdict. Each function needs a
//! fresh, migrated store (it creates tenant `t`), and the fixtures here build what they use
//! through the port, so an adapter's own tests can use them too.
// Contract checks fail by panicking with what broke, as tests do.
#![allow(clippy::unwrap_used)]

use time::macros::datetime;
use time::OffsetDateTime;

use crate::error::RepoError;
use crate::model::*;
use crate::ports::MediaRepo;

/// How long a fixture's reaper claim ([`due`]) holds its records.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// The time every fixture writes (with milliseconds, which must round-trip).
pub const AT: OffsetDateTime = datetime!(2026-11-25 12:00:00.123 UTC);

/// Creates tenant `t`.
pub async fn tenant(repo: &dyn MediaRepo) -> TenantId {
    repo.create_tenant(&TenantSlug::parse("t").unwrap(), AT)
        .await
        .unwrap()
        .id
}

/// The records a reaper pass would claim at `now`, released again untouched.
pub async fn due(repo: &dyn MediaRepo, now: OffsetDateTime, limit: u64) -> Vec<PendingBlob> {
    let pass = repo
        .claim_pending_pass(now, now + LEASE, limit, None)
        .await
        .unwrap();
    pass.claim.settle(&[], &[]).await.unwrap();
    pass.records
}

/// An activity event of `tenant` by alice, at [`AT`].
pub fn event(tenant: TenantId, action: &'static str) -> NewActivity {
    NewActivity {
        tenant_id: tenant,
        actor_id: UserId::parse("alice").unwrap(),
        action,
        media_id: None,
        details: serde_json::json!({}),
        created_at: AT,
    }
}

/// Inserts alice's media at `path` of `size` bytes tagged `a` and `b`, as an upload does (its
/// intent recorded first).
pub async fn insert(
    repo: &dyn MediaRepo,
    tenant: TenantId,
    path: &str,
    size: i64,
) -> Result<Media, RepoError> {
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
        thumbnail: ThumbnailState::None,
    };
    repo.insert_media(new, event(tenant, "media_uploaded"))
        .await
}

/// A delete of `media` planned by its owner alice, a member.
pub fn plan(media: Media) -> DeletePlan {
    DeletePlan {
        media,
        actor_id: UserId::parse("alice").unwrap(),
        reason: DeleteReason::Requested,
        at: AT,
        purge_after: AT,
        force: false,
        authority: Authority::Caller(Role::Member),
        if_match: None,
    }
}

/// A move to the trash by the owner, alice.
pub fn trash(tenant: TenantId, id: MediaId, force: bool) -> TrashRequest {
    TrashRequest {
        id,
        tenant_id: tenant,
        user_id: UserId::parse("alice").unwrap(),
        role: Role::Member,
        force,
        if_match: None,
    }
}

/// Moves `id` to the trash as its owner alice does.
///
/// # Errors
/// As [`Lifecycle::trash_media`](crate::Lifecycle::trash_media).
pub async fn move_to_trash(
    repo: &dyn MediaRepo,
    tenant: TenantId,
    id: MediaId,
    force: bool,
) -> Result<Media, RepoError> {
    repo.trash_media(trash(tenant, id, force), event(tenant, "media_trashed"))
        .await
}

/// A delete of `media` by id, by `user` of `tenant` with `role`.
pub fn by_id(tenant: TenantId, media: &Media, user: &str, role: Role) -> DeleteRequest {
    DeleteRequest::ById(DeleteById {
        id: media.id,
        tenant_id: tenant,
        user_id: UserId::parse(user).unwrap(),
        role,
        at: AT,
        purge_after: AT,
        force: false,
        if_match: None,
    })
}

/// A plan of `user` (a member) for `media`, as a bulk delete makes it before its transaction.
pub fn plan_of(media: &Media, user: &str) -> DeletePlan {
    DeletePlan {
        actor_id: UserId::parse(user).unwrap(),
        ..plan(media.clone())
    }
}

/// A delete removes the row with its community copy, tag assignments and grants, counts them,
/// records every blob as a pending deletion in the same transaction, and updates usage; a
/// second delete of the row is `NotFound`.
pub async fn the_second_delete_of_a_row_is_not_found_and_cascades_are_counted(
    repo: &dyn MediaRepo,
) {
    let tenant = tenant(repo).await;
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
    assert_eq!(
        due(repo, AT, 10).await.len(),
        2,
        "both blobs recorded in the same transaction"
    );

    let second = repo.delete_media(vec![plan(media.clone())]).await.unwrap();
    assert!(matches!(second[0], Err(RepoError::NotFound)));
    let usage = repo.usage(tenant).await.unwrap();
    assert_eq!((usage.media_count, usage.bytes_used), (0, 0));
    repo.complete_pending_deletions(&outcome.pending)
        .await
        .unwrap();
    assert!(due(repo, AT + LEASE + LEASE, 10).await.is_empty());
}

/// A row requested twice in one transaction is deleted once: the first request gets the
/// outcome, the second `NotFound`.
pub async fn a_batch_with_a_repeated_id_deletes_it_once(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
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

/// A delete by id is judged against the locked row and the caller's grant: a read grant or a
/// viewer is `Forbidden`, no grant or another tenant `NotFound`, and nothing changes; a delete
/// grantee deletes it beside another plan; a trashed row is not deleted by id; authorization
/// comes before the hold.
pub async fn deletes_by_id_are_authorized_against_the_locked_row(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let stranger = repo
        .create_tenant(&TenantSlug::parse("other").unwrap(), AT)
        .await
        .unwrap()
        .id;
    let media = insert(repo, tenant, "mine.png", 5).await.unwrap();
    let other = insert(repo, tenant, "other.png", 7).await.unwrap();
    for (user, permission) in [("rita", Permission::Read), ("dan", Permission::Delete)] {
        let grant = Grant {
            media_id: media.id,
            user_id: UserId::parse(user).unwrap(),
            permission,
            created_at: AT,
        };
        repo.put_grant(tenant, grant, event(tenant, "access_granted"))
            .await
            .unwrap();
    }
    // Refused, each on its own, and nothing changes.
    let results = repo
        .delete_requests(vec![
            by_id(tenant, &media, "rita", Role::Member),
            by_id(tenant, &media, "bob", Role::Member),
            by_id(tenant, &media, "vic", Role::Viewer),
            by_id(stranger, &media, "root", Role::Admin),
        ])
        .await
        .unwrap();
    assert!(
        matches!(results[0], Err(RepoError::Refused(Refusal::Forbidden))),
        "read grant"
    );
    assert!(matches!(results[1], Err(RepoError::NotFound)), "no grant");
    assert!(
        matches!(results[2], Err(RepoError::Refused(Refusal::Forbidden))),
        "viewer"
    );
    assert!(
        matches!(results[3], Err(RepoError::NotFound)),
        "other tenant"
    );
    assert_eq!(repo.usage(tenant).await.unwrap().media_count, 2);

    // A delete grantee deletes it, alongside a plan for another row; a second request for
    // the same row in the batch finds it taken.
    let results = repo
        .delete_requests(vec![
            by_id(tenant, &media, "dan", Role::Member),
            plan(other.clone()).into(),
            by_id(tenant, &media, "alice", Role::Member),
        ])
        .await
        .unwrap();
    let outcome = results[0].as_ref().unwrap();
    assert_eq!(outcome.media.id, media.id);
    assert_eq!(outcome.media.blob_key, media.blob_key);
    assert_eq!(outcome.removed.access_grants, 2);
    assert_eq!(outcome.removed.tag_assignments, 2);
    assert!(results[1].is_ok());
    assert!(matches!(results[2], Err(RepoError::NotFound)));
    let usage = repo.usage(tenant).await.unwrap();
    assert_eq!((usage.media_count, usage.bytes_used), (0, 0));
    let events = repo
        .list_activity(
            tenant,
            &ActivityQuery {
                action: Some("media_deleted".into()),
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let deleted: Vec<_> = events
        .iter()
        .filter(|event| event.action == "media_deleted")
        .collect();
    assert_eq!(deleted.len(), 2);
    assert!(deleted
        .iter()
        .any(|event| event.actor_id.as_str() == "dan" && event.media_id == Some(media.id)));

    // A trashed row is not deleted by id (only purged), even by its owner.
    let trashed = insert(repo, tenant, "trashed.png", 3).await.unwrap();
    move_to_trash(repo, tenant, trashed.id, false)
        .await
        .unwrap();
    let results = repo
        .delete_requests(vec![by_id(tenant, &trashed, "alice", Role::Member)])
        .await
        .unwrap();
    assert!(matches!(results[0], Err(RepoError::NotFound)));
    assert_eq!(repo.usage(tenant).await.unwrap().trashed_count, 1);

    // Authorized first, then held.
    let held = insert(repo, tenant, "held-by-id.png", 3).await.unwrap();
    repo.add_hold(tenant, held.id, "case 8", event(tenant, "hold_added"))
        .await
        .unwrap();
    let results = repo
        .delete_requests(vec![
            by_id(tenant, &held, "bob", Role::Member),
            by_id(tenant, &held, "alice", Role::Member),
        ])
        .await
        .unwrap();
    assert!(matches!(results[0], Err(RepoError::NotFound)));
    assert!(matches!(
        results[1],
        Err(RepoError::Refused(Refusal::Held(_)))
    ));
}

/// A planned delete made on a caller's authority is authorized again against the locked grant:
/// revoked, `NotFound`; narrowed to read, `Forbidden`; the batch's other plan goes through. A
/// move to the trash likewise; the service's own plans have no caller to authorize.
pub async fn a_grant_revoked_between_plan_and_commit_stops_a_planned_delete(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let revoked = insert(repo, tenant, "revoked.png", 5).await.unwrap();
    let narrowed = insert(repo, tenant, "narrowed.png", 6).await.unwrap();
    let kept = insert(repo, tenant, "kept.png", 7).await.unwrap();
    let grant = |media: &Media, permission| Grant {
        media_id: media.id,
        user_id: UserId::parse("dan").unwrap(),
        permission,
        created_at: AT,
    };
    for media in [&revoked, &narrowed, &kept] {
        repo.put_grant(
            tenant,
            grant(media, Permission::Delete),
            event(tenant, "access_granted"),
        )
        .await
        .unwrap();
    }
    // dan's bulk delete was planned while he could delete all three; then one grant is
    // revoked and one narrowed to read before the transaction runs.
    let plans = vec![
        plan_of(&revoked, "dan"),
        plan_of(&narrowed, "dan"),
        plan_of(&kept, "dan"),
    ];
    let dan = UserId::parse("dan").unwrap();
    repo.delete_grant(revoked.id, &dan, event(tenant, "access_revoked"))
        .await
        .unwrap();
    repo.put_grant(
        tenant,
        grant(&narrowed, Permission::Read),
        event(tenant, "access_granted"),
    )
    .await
    .unwrap();
    let results = repo.delete_media(plans).await.unwrap();
    assert!(
        matches!(results[0], Err(RepoError::NotFound)),
        "revoked: dan no longer sees it"
    );
    assert!(
        matches!(results[1], Err(RepoError::Refused(Refusal::Forbidden))),
        "read only"
    );
    assert_eq!(results[2].as_ref().unwrap().media.id, kept.id);
    let usage = repo.usage(tenant).await.unwrap();
    assert_eq!((usage.media_count, usage.bytes_used), (2, 11));

    // The same holds for a move to the trash; the service's own plans (trash retention,
    // the reconciler) have no caller to lose a right.
    let refused = repo
        .trash_media(
            TrashRequest {
                user_id: dan.clone(),
                ..trash(tenant, revoked.id, false)
            },
            event(tenant, "media_trashed"),
        )
        .await;
    assert!(matches!(refused, Err(RepoError::NotFound)), "{refused:?}");
    let service = DeletePlan {
        authority: Authority::Service,
        ..plan_of(&narrowed, "system")
    };
    let results = repo.delete_media(vec![service]).await.unwrap();
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert_eq!(repo.usage(tenant).await.unwrap().media_count, 1);
}

/// A held row is refused to every request for it in a transaction, forced or not, and nothing
/// changes.
pub async fn a_held_id_repeated_in_a_batch_is_refused_every_time(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let media = insert(repo, tenant, "held.png", 5).await.unwrap();
    repo.add_hold(tenant, media.id, "case 7", event(tenant, "hold_added"))
        .await
        .unwrap();
    let mut forced = plan(media.clone());
    forced.force = true;
    let results = repo
        .delete_media(vec![plan(media.clone()), forced])
        .await
        .unwrap();
    assert!(matches!(
        results[0],
        Err(RepoError::Refused(Refusal::Held(_)))
    ));
    assert!(matches!(
        results[1],
        Err(RepoError::Refused(Refusal::Held(_)))
    ));
    assert_eq!(repo.usage(tenant).await.unwrap().media_count, 1);
}

/// Media ids are never reused, not even the highest one after it was deleted.
pub async fn ids_are_never_reused_after_the_highest_is_deleted(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
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

/// A plan whose tenant is not the row's deletes nothing and is `NotFound`.
pub async fn a_plan_for_another_tenant_deletes_nothing(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
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

/// `delete_requests_forgetting` forgets the pending records of purged blobs in the delete's own
/// transaction, and forgets nothing when that transaction deletes nothing.
pub async fn delete_transactions_forget_purged_records_alongside(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let purged: Vec<BlobKey> = (0..3).map(|_| BlobKey::new_media(tenant)).collect();
    repo.add_pending_deletions(tenant, &purged, AT)
        .await
        .unwrap();
    let media = insert(repo, tenant, "gone.png", 5).await.unwrap();
    let missing = insert(repo, tenant, "missing.png", 5).await.unwrap();
    repo.delete_requests(vec![plan(missing.clone()).into()])
        .await
        .unwrap();
    let pending_keys =
        |list: Vec<PendingBlob>| -> Vec<BlobKey> { list.into_iter().map(|p| p.blob_key).collect() };
    let before = pending_keys(
        repo.list_pending_deletions(tenant, None, None, 100)
            .await
            .unwrap(),
    );
    assert!(purged.iter().all(|key| before.contains(key)));

    // One request goes ahead, one finds its row gone: the forget happens either way.
    let results = repo
        .delete_requests_forgetting(
            vec![plan(media.clone()).into(), plan(missing.clone()).into()],
            &purged[..2],
        )
        .await
        .unwrap();
    assert!(results[0].is_ok());
    assert!(matches!(results[1], Err(RepoError::NotFound)));
    let after = pending_keys(
        repo.list_pending_deletions(tenant, None, None, 100)
            .await
            .unwrap(),
    );
    assert!(!after.contains(&purged[0]) && !after.contains(&purged[1]));
    assert!(
        after.contains(&purged[2]),
        "only the keys given are forgotten"
    );
    assert!(after.contains(&media.blob_key), "the delete's own record");
    assert!(after.contains(&missing.blob_key));

    // Nothing to delete at all: the forget still commits.
    let results = repo
        .delete_requests_forgetting(vec![plan(missing.clone()).into()], &purged[2..])
        .await
        .unwrap();
    assert!(matches!(results[0], Err(RepoError::NotFound)));
    let last = pending_keys(
        repo.list_pending_deletions(tenant, None, None, 100)
            .await
            .unwrap(),
    );
    assert!(!last.contains(&purged[2]));
}

/// A media row is only inserted for a blob whose upload intent was recorded first.
pub async fn a_row_without_its_upload_intent_is_refused(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
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
        thumbnail: ThumbnailState::None,
    };
    let result = repo
        .insert_media(new, event(tenant, "media_uploaded"))
        .await;
    assert!(matches!(result, Err(RepoError::NotFound)));
    assert_eq!(repo.usage(tenant).await.unwrap().media_count, 0);
}

/// Paths and event details with quotes, backslashes and dollar signs survive the delete
/// transaction unchanged.
pub async fn quotes_backslashes_and_dollars_survive_the_delete_transaction(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let path = "q/it's \"$1\" $$ 'x' E'y' ü €.png";
    let media = insert(repo, tenant, path, 5).await.unwrap();
    let reason = "case 'a' \\ $1 \\' ü";
    let hold = repo
        .add_hold(tenant, media.id, reason, event(tenant, "hold_added"))
        .await
        .unwrap();
    match &repo.delete_media(vec![plan(media.clone())]).await.unwrap()[0] {
        Err(RepoError::Refused(Refusal::Held(holds))) => assert_eq!(holds[0].reason, reason),
        other => panic!("expected held, got {other:?}"),
    }
    repo.remove_hold(tenant, media.id, hold.id, event(tenant, "hold_removed"))
        .await
        .unwrap();
    let outcome = repo.delete_media(vec![plan(media.clone())]).await.unwrap();
    assert_eq!(outcome[0].as_ref().unwrap().media.path.as_str(), path);
    let query = ActivityQuery {
        action: Some("media_deleted".into()),
        media_id: Some(media.id),
        actor_id: None,
        before_id: None,
        limit: 10,
    };
    let events = repo.list_activity(tenant, &query).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].details["media"]["path"], path);
    assert_eq!(events[0].details["media"]["sha256"], "ab");
    let due = due(repo, AT, 10).await;
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].blob_key, media.blob_key);
}

/// Every change of a row's tags, path or state makes a new revision; a delete or a move to the
/// trash whose `If-Match` names an earlier one is refused with `PreconditionFailed` and
/// changes nothing, and one naming the current revision (or `*`) goes ahead.
pub async fn a_stale_if_match_changes_nothing(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let media = insert(repo, tenant, "v.png", 4).await.unwrap();
    assert_eq!(media.version, 1);
    let tagged = repo
        .set_tags(tenant, media.id, &[], event(tenant, "tags_updated"))
        .await
        .unwrap();
    assert_eq!(tagged.version, 2);
    let stale = media.etag();
    assert_ne!(tagged.etag(), stale);

    let conditional = |tag: &str| {
        let mut request = by_id(tenant, &media, "alice", Role::Member);
        if let DeleteRequest::ById(by_id) = &mut request {
            by_id.if_match = Some(IfMatch::parse(tag));
        }
        request
    };
    let refused = repo
        .delete_requests(vec![conditional(&stale)])
        .await
        .unwrap();
    assert!(
        matches!(
            refused[0],
            Err(RepoError::Refused(Refusal::PreconditionFailed))
        ),
        "{refused:?}"
    );
    let mut stale_trash = trash(tenant, media.id, false);
    stale_trash.if_match = Some(IfMatch::parse(&stale));
    assert!(matches!(
        repo.trash_media(stale_trash, event(tenant, "media_trashed"))
            .await,
        Err(RepoError::Refused(Refusal::PreconditionFailed))
    ));
    let found = repo
        .find_media_access(tenant, &[media.id], &UserId::parse("alice").unwrap())
        .await
        .unwrap();
    assert_eq!(found[0].media.version, 2, "nothing changed");
    assert_eq!(repo.usage(tenant).await.unwrap().media_count, 1);

    // Trashing and restoring are revisions too.
    let mut current = trash(tenant, media.id, false);
    current.if_match = Some(IfMatch::parse(&tagged.etag()));
    let trashed = repo
        .trash_media(current, event(tenant, "media_trashed"))
        .await
        .unwrap();
    assert_eq!(trashed.version, 3);
    let restored = repo
        .restore_media(tenant, media.id, None, event(tenant, "media_restored"))
        .await
        .unwrap();
    assert_eq!(restored.version, 4);
    let deleted = repo
        .delete_requests(vec![conditional(&restored.etag())])
        .await
        .unwrap();
    assert!(deleted[0].is_ok(), "{deleted:?}");
    let again = insert(repo, tenant, "w.png", 1).await.unwrap();
    let mut any = by_id(tenant, &again, "alice", Role::Member);
    if let DeleteRequest::ById(by_id) = &mut any {
        by_id.if_match = Some(IfMatch::Any);
    }
    assert!(repo.delete_requests(vec![any]).await.unwrap()[0].is_ok());
}
