//! The rules a delete or a move to the trash is judged by, against the row as it is locked.
//!
//! A repository locks the rows a change touches, reads what the rules depend on into a
//! [`Snapshot`] (the row, its holds and references, the caller's grant) and hands it here; it
//! carries out what comes back and holds no rule of its own. Every adapter therefore applies
//! the same rules, and a right that was lost between a plan and its transaction (a revoked
//! grant, a hold placed meanwhile) stops the change.

use std::collections::HashSet;

use super::{access, Access};
use crate::model::*;

/// Judges a transaction's delete requests, in order, against the locked rows: `locked` gives
/// the snapshot of a media id as seen by a user (`None` when the row is gone or of another
/// tenant than the request's). A row is deleted at most once: a later request for a row an
/// earlier one takes (two concurrent deletes of one id sharing a transaction) is not found.
pub fn judge_deletes<'a>(
    requests: Vec<DeleteRequest>,
    mut locked: impl FnMut(MediaId, &UserId) -> Option<Snapshot<'a>>,
) -> Vec<Result<Judged, Refusal>> {
    let mut taken = HashSet::new();
    requests
        .into_iter()
        .map(|request| {
            let id = request.media_id();
            if taken.contains(&id) {
                return Err(Refusal::NotFound);
            }
            let judged = match request {
                DeleteRequest::ById(request) => {
                    let snapshot = locked(id, &request.user_id).ok_or(Refusal::NotFound)?;
                    let plan = request.authorize(snapshot.media.clone(), snapshot.grant)?;
                    judge_plan(plan, snapshot)
                }
                DeleteRequest::Planned(plan) => {
                    let snapshot = locked(id, &plan.actor_id).ok_or(Refusal::NotFound)?;
                    judge_plan(plan, snapshot)
                }
            }?;
            taken.insert(id);
            Ok(judged)
        })
        .collect()
}

/// A plan against its locked row: the row must be the planned one (same tenant, still live or
/// still trashed as planned), the plan's caller must still be allowed to delete it, and it
/// must be neither held nor (unless forced) in use.
fn judge_plan(plan: DeletePlan, snapshot: Snapshot<'_>) -> Result<Judged, Refusal> {
    let row = snapshot.media;
    // A plan made for a live row does not delete it once it was trashed meanwhile, nor a
    // purge a row restored meanwhile.
    if row.tenant_id != plan.media.tenant_id
        || row.trashed_at.is_some() != plan.media.trashed_at.is_some()
    {
        return Err(Refusal::NotFound);
    }
    if let Authority::Caller(role) = plan.authority {
        allowed(row.tenant_id, &plan.actor_id, role, row, snapshot.grant)?;
    }
    unchanged(plan.if_match.as_ref(), row)?;
    let broken_references = removable(snapshot, plan.force)?;
    Ok(Judged {
        plan,
        broken_references,
    })
}

/// Judges a move to the trash against its locked live row, by the rules of a delete.
///
/// # Errors
/// The [`Refusal`] that keeps the row where it is.
pub fn judge_trash(request: &TrashRequest, snapshot: Snapshot<'_>) -> Result<(), Refusal> {
    if snapshot.media.trashed_at.is_some() {
        return Err(Refusal::NotFound);
    }
    allowed(
        request.tenant_id,
        &request.user_id,
        request.role,
        snapshot.media,
        snapshot.grant,
    )?;
    unchanged(request.if_match.as_ref(), snapshot.media)?;
    removable(snapshot, request.force).map(drop)
}

/// A request with `If-Match` goes ahead only on the revision it names. Checked after the
/// caller is known to be allowed (so a precondition never tells a caller about media it may
/// not touch) and before holds and references (so the caller learns first that it acted on
/// a stale view).
fn unchanged(if_match: Option<&IfMatch>, media: &Media) -> Result<(), Refusal> {
    match if_match {
        Some(precondition) if !precondition.admits(media) => Err(Refusal::PreconditionFailed),
        _ => Ok(()),
    }
}

/// Whether `user` of `tenant` with `role` and `grant` may delete `media`: not found when it
/// cannot see it, forbidden when it can only read it.
pub(crate) fn allowed(
    tenant: TenantId,
    user: &UserId,
    role: Role,
    media: &Media,
    grant: Option<Permission>,
) -> Result<(), Refusal> {
    match access(tenant, user, role, media, grant) {
        Access::Hidden => Err(Refusal::NotFound),
        Access::Read => Err(Refusal::Forbidden),
        Access::Delete | Access::Manage => Ok(()),
    }
}

/// Holds keep a row whatever the request says; references keep it unless the request is
/// forced, and a forced request breaks them (they are answered in the receipt).
fn removable(snapshot: Snapshot<'_>, force: bool) -> Result<Vec<RefName>, Refusal> {
    if !snapshot.holds.is_empty() {
        return Err(Refusal::Held(snapshot.holds.to_vec()));
    }
    if !snapshot.references.is_empty() && !force {
        return Err(Refusal::InUse(snapshot.references.to_vec()));
    }
    Ok(snapshot.references.to_vec())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::service::fixtures::media;

    fn plan(media: &Media, actor: &str, authority: Authority) -> DeleteRequest {
        DeleteRequest::Planned(DeletePlan {
            media: media.clone(),
            actor_id: UserId::parse(actor).unwrap(),
            reason: DeleteReason::Requested,
            at: datetime!(2026-02-01 0:00 UTC),
            purge_after: datetime!(2026-02-01 0:05 UTC),
            force: false,
            authority,
            if_match: None,
        })
    }

    fn snapshot(media: &Media, grant: Option<Permission>) -> Snapshot<'_> {
        Snapshot {
            media,
            holds: &[],
            references: &[],
            grant,
        }
    }

    fn hold(id: i64) -> Hold {
        Hold {
            id,
            media_id: MediaId::try_from(7).unwrap(),
            reason: "case".into(),
            created_by: UserId::parse("root").unwrap(),
            created_at: datetime!(2026-01-01 0:00 UTC),
        }
    }

    /// The verdicts on `requests` when the only locked row is `row`, with `grant` for dan.
    fn judged(
        requests: Vec<DeleteRequest>,
        row: &Snapshot<'_>,
        grant: Option<Permission>,
    ) -> Vec<Result<Judged, Refusal>> {
        judge_deletes(requests, |id, user| {
            (id == row.media.id).then_some(Snapshot {
                grant: if user.as_str() == "dan" { grant } else { None },
                ..*row
            })
        })
    }

    #[test]
    fn a_planned_delete_is_authorized_again_against_the_locked_grant() {
        let item = media(7, "alice");
        let row = snapshot(&item, None);
        let dan = || plan(&item, "dan", Authority::Caller(Role::Member));
        assert_eq!(
            judged(vec![dan()], &row, None)[0],
            Err(Refusal::NotFound),
            "grant revoked"
        );
        assert_eq!(
            judged(vec![dan()], &row, Some(Permission::Read))[0],
            Err(Refusal::Forbidden),
            "grant narrowed to read"
        );
        assert!(judged(vec![dan()], &row, Some(Permission::Delete))[0].is_ok());
        let viewer = plan(&item, "vic", Authority::Caller(Role::Viewer));
        assert_eq!(judged(vec![viewer], &row, None)[0], Err(Refusal::Forbidden));
        // The service's own plans have no caller to authorize.
        let retention = plan(&item, "system", Authority::Service);
        assert!(judged(vec![retention], &row, None)[0].is_ok());
    }

    #[test]
    fn a_plan_for_a_row_that_changed_state_or_tenant_is_not_found() {
        let item = media(7, "alice");
        let admin = plan(&item, "root", Authority::Caller(Role::Admin));
        let mut trashed = item.clone();
        trashed.trashed_at = Some(datetime!(2026-01-05 0:00 UTC));
        assert_eq!(
            judged(vec![admin.clone()], &snapshot(&trashed, None), None)[0],
            Err(Refusal::NotFound)
        );
        let mut moved = item.clone();
        moved.tenant_id = TenantId(2);
        assert_eq!(
            judged(vec![admin.clone()], &snapshot(&moved, None), None)[0],
            Err(Refusal::NotFound)
        );
        let gone = judge_deletes(vec![admin], |_, _| None);
        assert_eq!(gone[0], Err(Refusal::NotFound));
    }

    #[test]
    fn holds_keep_a_row_whatever_the_request_and_references_unless_forced() {
        let item = media(7, "alice");
        let holds = [hold(1)];
        let names = [RefName::parse("post:1").unwrap()];
        let held = Snapshot {
            holds: &holds,
            ..snapshot(&item, None)
        };
        let used = Snapshot {
            references: &names,
            ..snapshot(&item, None)
        };
        let owner = plan(&item, "alice", Authority::Caller(Role::Member));
        let DeleteRequest::Planned(mut forced) = owner.clone() else {
            unreachable!()
        };
        forced.force = true;
        let forced = DeleteRequest::Planned(forced);
        assert_eq!(
            judged(vec![forced.clone()], &held, None)[0],
            Err(Refusal::Held(holds.to_vec()))
        );
        assert_eq!(
            judged(vec![owner], &used, None)[0],
            Err(Refusal::InUse(names.to_vec()))
        );
        let broken = judged(vec![forced], &used, None).remove(0).unwrap();
        assert_eq!(broken.broken_references, names.to_vec());
    }

    #[test]
    fn a_row_is_deleted_once_per_transaction_and_a_held_one_is_refused_every_time() {
        let item = media(7, "alice");
        let owner = plan(&item, "alice", Authority::Caller(Role::Member));
        let verdicts = judged(
            vec![owner.clone(), owner.clone()],
            &snapshot(&item, None),
            None,
        );
        assert!(verdicts[0].is_ok());
        assert_eq!(verdicts[1], Err(Refusal::NotFound));

        let holds = [hold(1)];
        let held = Snapshot {
            holds: &holds,
            ..snapshot(&item, None)
        };
        let verdicts = judged(vec![owner.clone(), owner], &held, None);
        assert!(verdicts
            .iter()
            .all(|verdict| matches!(verdict, Err(Refusal::Held(_)))));
    }

    #[test]
    fn a_move_to_the_trash_is_judged_by_the_rules_of_a_delete() {
        let item = media(7, "alice");
        let request = |user: &str, role: Role, force: bool| TrashRequest {
            id: item.id,
            tenant_id: TenantId(1),
            user_id: UserId::parse(user).unwrap(),
            role,
            force,
            if_match: None,
        };
        let names = [RefName::parse("post:1").unwrap()];
        let used = Snapshot {
            references: &names,
            ..snapshot(&item, None)
        };
        assert_eq!(
            judge_trash(&request("dan", Role::Member, true), snapshot(&item, None)),
            Err(Refusal::NotFound)
        );
        assert_eq!(
            judge_trash(
                &request("dan", Role::Member, true),
                snapshot(&item, Some(Permission::Read))
            ),
            Err(Refusal::Forbidden)
        );
        assert_eq!(
            judge_trash(&request("alice", Role::Member, false), used),
            Err(Refusal::InUse(names.to_vec()))
        );
        assert_eq!(
            judge_trash(&request("alice", Role::Member, true), used),
            Ok(())
        );
        let mut trashed = item.clone();
        trashed.trashed_at = Some(datetime!(2026-01-05 0:00 UTC));
        assert_eq!(
            judge_trash(
                &request("root", Role::Admin, true),
                snapshot(&trashed, None)
            ),
            Err(Refusal::NotFound)
        );
    }

    #[test]
    fn if_match_is_checked_against_the_locked_revision_after_access() {
        let mut row = media(7, "alice");
        row.version = 3;
        let with = |tag: &str, actor: &str| {
            let DeleteRequest::Planned(mut plan) =
                plan(&row, actor, Authority::Caller(Role::Member))
            else {
                unreachable!()
            };
            plan.if_match = Some(IfMatch::parse(tag));
            DeleteRequest::Planned(plan)
        };
        let current = row.etag();
        assert_eq!(current, "\"7-3\"");
        let locked = snapshot(&row, None);
        let verdicts = judged(
            vec![
                with("\"7-2\"", "alice"),
                with("W/\"7-3\"", "alice"),
                with("\"7-2\", \"7-3\"", "alice"),
            ],
            &locked,
            None,
        );
        assert_eq!(verdicts[0], Err(Refusal::PreconditionFailed));
        assert_eq!(
            verdicts[1],
            Err(Refusal::PreconditionFailed),
            "weak never matches"
        );
        assert!(verdicts[2].is_ok(), "one listed tag is the current one");
        // `*` admits any revision; a caller who may not see it learns nothing from a stale tag.
        assert!(judged(vec![with("*", "alice")], &locked, None)[0].is_ok());
        assert_eq!(
            judged(vec![with("\"7-1\"", "dan")], &locked, None)[0],
            Err(Refusal::NotFound)
        );
        let trash = TrashRequest {
            id: row.id,
            tenant_id: TenantId(1),
            user_id: UserId::parse("alice").unwrap(),
            role: Role::Member,
            force: false,
            if_match: Some(IfMatch::parse("\"7-2\"")),
        };
        assert_eq!(
            judge_trash(&trash, snapshot(&row, None)),
            Err(Refusal::PreconditionFailed)
        );
        let trash = TrashRequest {
            if_match: Some(IfMatch::parse(&current)),
            ..trash
        };
        assert_eq!(judge_trash(&trash, snapshot(&row, None)), Ok(()));
    }
}
