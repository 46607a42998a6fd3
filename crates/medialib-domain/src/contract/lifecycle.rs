//! The lifecycle contract of [`MediaRepo`]: the trash and its retention, legal holds,
//! in-use references and derivatives, as deletes meet them. Each function needs a fresh,
//! migrated store (it creates tenant `t`); the fixtures are [`super::deletes`]'s.
// Contract checks fail by panicking with what broke, as tests do.
#![allow(clippy::unwrap_used)]

use super::deletes::{event, insert, move_to_trash, plan, tenant, AT};
use crate::error::RepoError;
use crate::model::*;
use crate::ports::MediaRepo;

/// A tenant's live and trashed usage: media count, bytes, trashed count, trashed bytes.
async fn usage_counts(repo: &dyn MediaRepo, tenant: TenantId) -> (i64, i64, i64, i64) {
    let usage = repo.usage(tenant).await.unwrap();
    (
        usage.media_count,
        usage.bytes_used,
        usage.trashed_count,
        usage.trashed_bytes,
    )
}

/// Trashing frees the path and moves the size from live to trashed usage; restoring brings it
/// back, and restoring onto a path the owner took meanwhile is a `Conflict`.
pub async fn trash_frees_the_path_moves_usage_and_restore_detects_a_taken_path(
    repo: &dyn MediaRepo,
) {
    let tenant = tenant(repo).await;
    let media = insert(repo, tenant, "a/b.png", 10).await.unwrap();
    let trashed = move_to_trash(repo, tenant, media.id, false).await.unwrap();
    assert_eq!(trashed.trashed_at, Some(AT));
    assert_eq!(usage_counts(repo, tenant).await, (0, 0, 1, 10));
    let alice = UserId::parse("alice").unwrap();
    assert!(repo
        .find_media_access(tenant, &[media.id], &alice)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        repo.find_trashed_media(tenant, &[media.id], &alice)
            .await
            .unwrap()
            .len(),
        1
    );
    // Trashing twice finds no live row.
    assert!(matches!(
        move_to_trash(repo, tenant, media.id, false).await,
        Err(RepoError::NotFound)
    ));

    // The path is free again; restoring onto it conflicts, under a new path it works.
    let newer = insert(repo, tenant, "a/b.png", 5).await.unwrap();
    assert!(matches!(
        repo.restore_media(tenant, media.id, None, event(tenant, "media_restored"))
            .await,
        Err(RepoError::Conflict)
    ));
    let restored = repo
        .restore_media(
            tenant,
            media.id,
            Some(MediaPath::parse("a/b (restored).png").unwrap()),
            event(tenant, "media_restored"),
        )
        .await
        .unwrap();
    assert_eq!(restored.path.as_str(), "a/b (restored).png");
    assert_eq!(restored.trashed_at, None);
    assert_eq!(usage_counts(repo, tenant).await, (2, 15, 0, 0));

    // Purging a trashed row leaves trashed usage, not live usage.
    let trashed_newer = move_to_trash(repo, tenant, newer.id, false).await.unwrap();
    // A plan made while the row was live does not delete it once it is in the trash.
    assert!(matches!(
        repo.delete_media(vec![plan(newer.clone())]).await.unwrap()[0],
        Err(RepoError::NotFound)
    ));
    let mut purge = plan(trashed_newer);
    purge.force = true;
    let outcome = repo
        .delete_media(vec![purge])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert!(outcome.was_trashed);
    assert_eq!(usage_counts(repo, tenant).await, (1, 10, 0, 0));
}

/// A held row is refused to deletes and to the trash, forced or not, until its holds are
/// removed.
pub async fn holds_refuse_delete_and_trash_until_removed(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let media = insert(repo, tenant, "held.png", 3).await.unwrap();
    let hold = repo
        .add_hold(tenant, media.id, "case 42", event(tenant, "hold_added"))
        .await
        .unwrap();
    let mut forced = plan(media.clone());
    forced.force = true;
    let result = repo.delete_media(vec![forced.clone()]).await.unwrap();
    match &result[0] {
        Err(RepoError::Refused(Refusal::Held(holds))) => {
            assert_eq!(holds.len(), 1);
            assert_eq!(holds[0].reason, "case 42");
        }
        other => panic!("expected held, got {other:?}"),
    }
    assert!(matches!(
        move_to_trash(repo, tenant, media.id, true).await,
        Err(RepoError::Refused(Refusal::Held(_)))
    ));
    assert_eq!(repo.usage(tenant).await.unwrap().media_count, 1);
    repo.remove_hold(tenant, media.id, hold.id, event(tenant, "hold_removed"))
        .await
        .unwrap();
    assert!(repo.delete_media(vec![forced]).await.unwrap()[0].is_ok());
}

/// References refuse an unforced delete or trash; a forced one goes through and reports the
/// references it broke.
pub async fn references_refuse_unforced_deletes_and_forced_ones_report_them(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let media = insert(repo, tenant, "used.png", 3).await.unwrap();
    for name in ["post:2", "post:1", "post:1"] {
        repo.add_reference(
            tenant,
            Reference {
                media_id: media.id,
                name: RefName::parse(name).unwrap(),
                created_by: UserId::parse("alice").unwrap(),
                created_at: AT,
            },
            event(tenant, "reference_added"),
        )
        .await
        .unwrap();
    }
    assert_eq!(repo.list_references(media.id).await.unwrap().len(), 2);
    let result = repo.delete_media(vec![plan(media.clone())]).await.unwrap();
    match &result[0] {
        Err(RepoError::Refused(Refusal::InUse(names))) => {
            let names: Vec<&str> = names.iter().map(RefName::as_str).collect();
            assert_eq!(names, ["post:1", "post:2"]);
        }
        other => panic!("expected in use, got {other:?}"),
    }
    let mut forced = plan(media.clone());
    forced.force = true;
    let outcome = repo
        .delete_media(vec![forced])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(outcome.broken_references.len(), 2);
    assert!(repo.list_references(media.id).await.unwrap().is_empty());
}

/// A delete records its media's derivatives' blobs as pending deletions with its own.
pub async fn derivatives_go_with_their_media_into_the_pending_deletions(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let media = insert(repo, tenant, "pic.png", 3).await.unwrap();
    let key = BlobKey::new_derivative(tenant);
    let derivative = Derivative {
        media_id: media.id,
        kind: THUMBNAIL,
        blob_key: key.clone(),
        content_type: "image/jpeg".into(),
        size_bytes: 100,
        width: 256,
        height: 128,
    };
    // Without its upload intent the derivative is refused (the reaper may own the blob).
    assert!(matches!(
        repo.insert_derivative(derivative.clone()).await,
        Err(RepoError::NotFound)
    ));
    repo.record_upload_intent(tenant, &key, AT).await.unwrap();
    repo.insert_derivative(derivative.clone()).await.unwrap();
    assert_eq!(
        repo.find_derivative(media.id, THUMBNAIL).await.unwrap(),
        Some(derivative)
    );
    assert_eq!(
        repo.known_blob_keys(std::slice::from_ref(&key))
            .await
            .unwrap(),
        vec![key.clone()]
    );
    let outcome = repo
        .delete_media(vec![plan(media.clone())])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(outcome.removed.derivatives, 1);
    assert!(outcome.pending.contains(&key));
    assert_eq!(
        repo.find_derivative(media.id, THUMBNAIL).await.unwrap(),
        None
    );
}

/// `expired_trash` lists what stayed in the trash past its tenant's retention, never held
/// media.
pub async fn expired_trash_follows_each_tenants_retention_and_skips_holds(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let old = insert(repo, tenant, "old.png", 1).await.unwrap();
    let held = insert(repo, tenant, "held.png", 1).await.unwrap();
    for media in [&old, &held] {
        move_to_trash(repo, tenant, media.id, false).await.unwrap();
    }
    repo.add_hold(tenant, held.id, "audit", event(tenant, "hold_added"))
        .await
        .unwrap();
    let day = time::Duration::days(1);
    assert!(repo
        .expired_trash(AT + 29 * day, 10)
        .await
        .unwrap()
        .is_empty());
    let due = repo.expired_trash(AT + 30 * day, 10).await.unwrap();
    assert_eq!(due.iter().map(|m| m.id).collect::<Vec<_>>(), vec![old.id]);
    assert_eq!(due[0].trashed_at, Some(AT));

    let change = SettingsChange {
        trash_retention_days: Some(0),
        delete_rate_limit: Some(Some(5)),
        ..SettingsChange::default()
    };
    let settings = repo
        .update_tenant_settings(tenant, change, event(tenant, "settings_updated"))
        .await
        .unwrap();
    // Only what the change names moves.
    assert_eq!(
        settings,
        TenantSettings {
            trash_retention_days: 0,
            delete_moves_to_trash: false,
            delete_rate_limit: Some(5),
            upload_rate_limit: None,
        }
    );
    assert_eq!(repo.expired_trash(AT, 10).await.unwrap().len(), 1);
    // A limit goes back to the server's default, and the key carries what is stored.
    let change = SettingsChange {
        delete_rate_limit: Some(None),
        upload_rate_limit: Some(Some(0)),
        ..SettingsChange::default()
    };
    let settings = repo
        .update_tenant_settings(tenant, change, event(tenant, "settings_updated"))
        .await
        .unwrap();
    assert_eq!(settings.delete_rate_limit, None);
    assert_eq!(settings.upload_rate_limit, Some(0));
}
