//! The contract of [`Catalog`](crate::Catalog) and of usage in [`Tenants`](crate::Tenants):
//! media rows and their paths, tags, lookups and listings. Each function needs a fresh,
//! migrated store (it creates tenant `t`); the fixtures are [`super::deletes`]'s.
// Contract checks fail by panicking with what broke, as tests do.
#![allow(clippy::unwrap_used)]

use super::deletes::{event, insert, move_to_trash, tenant, AT};
use crate::error::RepoError;
use crate::model::*;
use crate::ports::MediaRepo;

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

/// A live path is unique per owner, compared case-sensitively; a refused insert changes
/// nothing.
pub async fn paths_are_unique_per_owner_and_case_sensitive(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
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

/// A member's usage counts what it owns or was granted, once each, live and trashed apart;
/// the tenant's usage counts everything.
pub async fn usage_visible_to_a_user_counts_owned_and_granted_media_once(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
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
    let of = |usage: Usage| {
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

/// Lookups by id and by path find live media of the tenant only, with the grant the asking
/// user holds on media someone else owns; the trash has its own lookup.
pub async fn lookups_find_the_tenants_live_media_with_the_callers_grant(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let media = insert(repo, tenant, "docs/a.png", 3).await.unwrap();
    let trashed = insert(repo, tenant, "docs/b.png", 4).await.unwrap();
    move_to_trash(repo, tenant, trashed.id, false)
        .await
        .unwrap();
    let grant = Grant {
        media_id: media.id,
        user_id: user("bob"),
        permission: Permission::Read,
        created_at: AT,
    };
    repo.put_grant(tenant, grant, event(tenant, "access_granted"))
        .await
        .unwrap();

    let found = repo
        .find_media_access(tenant, &[media.id, trashed.id], &user("bob"))
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "the trashed row is not live");
    assert_eq!(found[0].media, media, "the row as inserted, tags sorted");
    assert_eq!(found[0].grant, Some(Permission::Read));
    let own = repo
        .find_media_access(tenant, &[media.id], &user("alice"))
        .await
        .unwrap();
    assert_eq!(own[0].grant, None, "the owner holds no grant");
    assert!(repo
        .find_media_access(TenantId(tenant.0 + 1), &[media.id], &user("alice"))
        .await
        .unwrap()
        .is_empty());

    let by_path = repo
        .find_media_by_path(tenant, &user("alice"), &media.path, &user("bob"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (by_path.media.id, by_path.grant),
        (media.id, Some(Permission::Read))
    );
    assert!(repo
        .find_media_by_path(tenant, &user("bob"), &media.path, &user("bob"))
        .await
        .unwrap()
        .is_none());
    assert!(repo
        .find_media_by_path(tenant, &user("alice"), &trashed.path, &user("alice"))
        .await
        .unwrap()
        .is_none());

    let in_trash = repo
        .find_trashed_media(tenant, &[media.id, trashed.id], &user("alice"))
        .await
        .unwrap();
    assert_eq!(in_trash.len(), 1);
    assert_eq!(in_trash[0].media.id, trashed.id);
    let to_delete = repo
        .find_media_to_delete(tenant, &[trashed.id], &user("alice"), MediaState::Trashed)
        .await
        .unwrap();
    assert_eq!(to_delete[0].media.id, trashed.id);
    assert_eq!(
        repo.find_any_media(tenant, trashed.id)
            .await
            .unwrap()
            .map(|m| m.id),
        Some(trashed.id)
    );
    assert!(repo
        .find_any_media(TenantId(tenant.0 + 1), trashed.id)
        .await
        .unwrap()
        .is_none());
}

/// A listing is newest first, pages below an id, and filters by state, owner, visibility,
/// every tag, folder (exactly, the root being paths without one) and creation time.
pub async fn listings_filter_and_page_newest_first(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let root = insert(repo, tenant, "top.png", 1).await.unwrap();
    let inner = insert(repo, tenant, "Docs/x.png", 1).await.unwrap();
    let deeper = insert(repo, tenant, "Docs/sub/y.png", 1).await.unwrap();
    let other = insert(repo, tenant, "docs/z.png", 1).await.unwrap();
    repo.set_tags(
        tenant,
        deeper.id,
        &Tag::parse_all(["a", "c"]).unwrap(),
        event(tenant, "tags_updated"),
    )
    .await
    .unwrap();
    let query = |visibility| MediaQuery {
        visibility,
        state: MediaState::Live,
        owner: None,
        before_id: None,
        tags: Vec::new(),
        folder: None,
        created_before: None,
        limit: 10,
    };
    let ids = |media: Vec<Media>| media.into_iter().map(|m| m.id).collect::<Vec<_>>();
    let all = query(Visibility::Tenant);
    assert_eq!(
        ids(repo.list_media(tenant, &all).await.unwrap()),
        vec![other.id, deeper.id, inner.id, root.id]
    );
    let page = MediaQuery {
        before_id: Some(deeper.id),
        limit: 1,
        ..all.clone()
    };
    assert_eq!(
        ids(repo.list_media(tenant, &page).await.unwrap()),
        vec![inner.id]
    );
    let folder = |name: &str| MediaQuery {
        folder: Some(name.to_owned()),
        ..all.clone()
    };
    assert_eq!(
        ids(repo.list_media(tenant, &folder("Docs")).await.unwrap()),
        vec![deeper.id, inner.id],
        "a folder and what is below it, case-sensitive"
    );
    assert_eq!(
        ids(repo.list_media(tenant, &folder("")).await.unwrap()),
        vec![root.id]
    );
    let tagged = MediaQuery {
        tags: Tag::parse_all(["a", "c"]).unwrap(),
        ..all.clone()
    };
    assert_eq!(
        ids(repo.list_media(tenant, &tagged).await.unwrap()),
        vec![deeper.id]
    );
    let bobs = query(Visibility::OwnedOrGranted(user("bob")));
    assert!(repo.list_media(tenant, &bobs).await.unwrap().is_empty());
    let owned_by_bob = MediaQuery {
        owner: Some(user("bob")),
        ..all.clone()
    };
    assert!(repo
        .list_media(tenant, &owned_by_bob)
        .await
        .unwrap()
        .is_empty());
    let earlier = MediaQuery {
        created_before: Some(AT),
        ..all.clone()
    };
    assert!(repo.list_media(tenant, &earlier).await.unwrap().is_empty());
    move_to_trash(repo, tenant, other.id, false).await.unwrap();
    let trash = MediaQuery {
        state: MediaState::Trashed,
        ..all.clone()
    };
    assert_eq!(
        ids(repo.list_media(tenant, &trash).await.unwrap()),
        vec![other.id]
    );
    assert!(repo
        .list_media(TenantId(tenant.0 + 1), &all)
        .await
        .unwrap()
        .is_empty());
}

/// Setting tags replaces them (sorted) and records the event; on media that is gone it is
/// `NotFound`.
pub async fn tags_are_replaced_and_gone_media_is_not_found(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let media = insert(repo, tenant, "t.png", 1).await.unwrap();
    let tagged = repo
        .set_tags(
            tenant,
            media.id,
            &Tag::parse_all(["z", "m"]).unwrap(),
            event(tenant, "tags_updated"),
        )
        .await
        .unwrap();
    assert_eq!(tagged.tags, Tag::parse_all(["m", "z"]).unwrap());
    let found = repo
        .find_media_access(tenant, &[media.id], &user("alice"))
        .await
        .unwrap();
    assert_eq!(found[0].media.tags, tagged.tags);
    let events = repo
        .list_activity(
            tenant,
            &ActivityQuery {
                action: Some("tags_updated".into()),
                limit: 10,
                ..ActivityQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].media_id, Some(media.id));
    move_to_trash(repo, tenant, media.id, false).await.unwrap();
    assert!(matches!(
        repo.set_tags(tenant, media.id, &[], event(tenant, "tags_updated"))
            .await,
        Err(RepoError::NotFound)
    ));
}
