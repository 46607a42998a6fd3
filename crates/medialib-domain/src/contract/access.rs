//! The contracts of [`Tenants`](crate::Tenants), [`ApiKeys`](crate::ApiKeys),
//! [`Sharing`](crate::Sharing) and [`ActivityLog`](crate::ActivityLog). Each function needs a
//! fresh, migrated store (it creates tenant `t`); the fixtures are [`super::deletes`]'s.
// Contract checks fail by panicking with what broke, as tests do.
#![allow(clippy::unwrap_used)]

use time::OffsetDateTime;

use super::deletes::{due, event, insert, tenant, AT};
use crate::error::RepoError;
use crate::model::*;
use crate::ports::MediaRepo;

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

/// A tenant is found by its slug, a second one with the same slug is a `Conflict`, and a
/// settings change applies only the values it names and records the event.
pub async fn tenants_are_unique_by_slug_and_settings_change_what_is_named(repo: &dyn MediaRepo) {
    let id = tenant(repo).await;
    let slug = TenantSlug::parse("t").unwrap();
    assert!(matches!(
        repo.create_tenant(&slug, AT).await,
        Err(RepoError::Conflict)
    ));
    let found = repo.find_tenant(&slug).await.unwrap().unwrap();
    assert_eq!(
        (found.id, found.created_at, found.settings),
        (id, AT, TenantSettings::default())
    );
    assert!(repo
        .find_tenant(&TenantSlug::parse("other").unwrap())
        .await
        .unwrap()
        .is_none());
    let change = SettingsChange {
        trash_retention_days: Some(7),
        delete_rate_limit: Some(Some(5)),
        ..SettingsChange::default()
    };
    let settings = repo
        .update_tenant_settings(id, change, event(id, "settings_updated"))
        .await
        .unwrap();
    let expected = TenantSettings {
        trash_retention_days: 7,
        delete_rate_limit: Some(5),
        ..TenantSettings::default()
    };
    assert_eq!(settings, expected);
    let cleared = repo
        .update_tenant_settings(
            id,
            SettingsChange {
                delete_rate_limit: Some(None),
                ..SettingsChange::default()
            },
            event(id, "settings_updated"),
        )
        .await
        .unwrap();
    assert_eq!(
        (cleared.trash_retention_days, cleared.delete_rate_limit),
        (7, None)
    );
    assert_eq!(
        repo.find_tenant(&slug).await.unwrap().unwrap().settings,
        cleared
    );
    assert_eq!(repo.usage(id).await.unwrap(), Usage::default());
}

fn stored_key(tenant: TenantId, id: &str, created_at: OffsetDateTime) -> StoredApiKey {
    StoredApiKey {
        key: ApiKey {
            id: id.to_owned(),
            tenant_id: tenant,
            tenant_slug: TenantSlug::parse("t").unwrap(),
            user_id: user("alice"),
            role: Role::Member,
            created_at,
            revoked_at: None,
            expires_at: None,
            last_used_at: None,
        },
        secret_hash: format!("hash of {id}"),
        tenant_settings: TenantSettings::default(),
    }
}

/// Keys are unique by id and found with their tenant's settings; revoking and expiring need
/// an unrevoked key, an expiry never moves later, and a last use never moves back.
pub async fn keys_revoke_expire_and_record_their_last_use(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let hour = time::Duration::hours(1);
    repo.create_api_key(stored_key(tenant, "k2", AT + hour))
        .await
        .unwrap();
    repo.create_api_key(stored_key(tenant, "k1", AT))
        .await
        .unwrap();
    assert!(matches!(
        repo.create_api_key(stored_key(tenant, "k1", AT)).await,
        Err(RepoError::Conflict)
    ));
    repo.update_tenant_settings(
        tenant,
        SettingsChange {
            delete_moves_to_trash: Some(true),
            ..SettingsChange::default()
        },
        event(tenant, "settings_updated"),
    )
    .await
    .unwrap();
    let found = repo.find_api_key("k1").await.unwrap().unwrap();
    assert_eq!(found.secret_hash, "hash of k1");
    assert!(
        found.tenant_settings.delete_moves_to_trash,
        "found with the tenant's current settings"
    );
    assert!(repo.find_api_key("nope").await.unwrap().is_none());
    let listed: Vec<String> = repo
        .list_api_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|key| key.id)
        .collect();
    assert_eq!(listed, vec!["k1", "k2"], "oldest first");

    repo.expire_api_key("k1", AT + hour).await.unwrap();
    repo.expire_api_key("k1", AT + hour * 2).await.unwrap();
    let expires = |key: Option<StoredApiKey>| key.unwrap().key.expires_at;
    assert_eq!(
        expires(repo.find_api_key("k1").await.unwrap()),
        Some(AT + hour),
        "a later expiry does not lengthen the key's life"
    );
    repo.expire_api_key("k1", AT).await.unwrap();
    assert_eq!(expires(repo.find_api_key("k1").await.unwrap()), Some(AT));

    repo.touch_api_keys(&[("k1".into(), AT + hour), ("ghost".into(), AT)])
        .await
        .unwrap();
    repo.touch_api_keys(&[("k1".into(), AT)]).await.unwrap();
    let used = repo.find_api_key("k1").await.unwrap().unwrap();
    assert_eq!(used.key.last_used_at, Some(AT + hour), "never moved back");

    repo.revoke_api_key("k1", AT + hour).await.unwrap();
    let revoked = repo.find_api_key("k1").await.unwrap().unwrap();
    assert_eq!(
        revoked.key.revoked_at,
        Some(AT + hour),
        "revoked keys are found"
    );
    assert!(matches!(
        repo.revoke_api_key("k1", AT).await,
        Err(RepoError::NotFound)
    ));
    assert!(matches!(
        repo.expire_api_key("k1", AT).await,
        Err(RepoError::NotFound)
    ));
    assert!(matches!(
        repo.revoke_api_key("nope", AT).await,
        Err(RepoError::NotFound)
    ));
}

/// Sharing makes one community copy with the media's tags (a second share is a `Conflict`);
/// new tags follow to the copy; unsharing removes it and records its blob to purge; listings
/// are newest first and leave out copies whose original is in the trash.
pub async fn a_community_copy_follows_its_media_and_unsharing_purges_it(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let media = insert(repo, tenant, "pics/cat.png", 9).await.unwrap();
    let copy_key = BlobKey::new_community(tenant);
    repo.record_upload_intent(tenant, &copy_key, AT)
        .await
        .unwrap();
    let copy = repo
        .share_media(tenant, media.id, &copy_key, event(tenant, "media_shared"))
        .await
        .unwrap();
    assert_eq!(
        (
            copy.media_id,
            copy.file_name.as_str(),
            copy.size_bytes,
            &copy.tags
        ),
        (media.id, "cat.png", 9, &media.tags)
    );
    assert!(
        due(repo, AT, 10).await.is_empty(),
        "sharing took the copy's upload intent"
    );
    let again = BlobKey::new_community(tenant);
    assert!(matches!(
        repo.share_media(tenant, media.id, &again, event(tenant, "media_shared"))
            .await,
        Err(RepoError::Conflict)
    ));
    let shared = repo
        .find_media_access(tenant, &[media.id], &user("alice"))
        .await
        .unwrap();
    assert!(shared[0].media.shared_to_community);

    let tags = Tag::parse_all(["new"]).unwrap();
    repo.set_tags(tenant, media.id, &tags, event(tenant, "tags_updated"))
        .await
        .unwrap();
    let listed = repo.list_community(tenant, None, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id, &listed[0].tags), (copy.id, &tags));
    assert!(repo
        .list_community(tenant, Some(copy.id), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(repo
        .list_community(TenantId(tenant.0 + 1), None, 10)
        .await
        .unwrap()
        .is_empty());

    let purge_after = AT + time::Duration::minutes(5);
    let key = repo
        .unshare_media(
            tenant,
            media.id,
            event(tenant, "media_unshared"),
            purge_after,
        )
        .await
        .unwrap();
    assert_eq!(key, copy_key);
    assert!(repo
        .list_community(tenant, None, 10)
        .await
        .unwrap()
        .is_empty());
    let pending = due(repo, purge_after, 10).await;
    assert_eq!(
        pending.iter().map(|p| &p.blob_key).collect::<Vec<_>>(),
        vec![&copy_key]
    );
    assert!(matches!(
        repo.unshare_media(tenant, media.id, event(tenant, "media_unshared"), AT)
            .await,
        Err(RepoError::NotFound)
    ));
    assert!(
        !repo
            .find_media_access(tenant, &[media.id], &user("alice"))
            .await
            .unwrap()[0]
            .media
            .shared_to_community
    );
}

/// A grant is one per user and media (putting it again replaces it), listed by user, needs
/// live media, and removing one that is not there is `NotFound`.
pub async fn grants_are_one_per_user_and_replaced(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let media = insert(repo, tenant, "g.png", 1).await.unwrap();
    let grant = |name: &str, permission| Grant {
        media_id: media.id,
        user_id: user(name),
        permission,
        created_at: AT,
    };
    for given in [
        grant("carol", Permission::Read),
        grant("bob", Permission::Read),
        grant("bob", Permission::Delete),
    ] {
        repo.put_grant(tenant, given, event(tenant, "access_granted"))
            .await
            .unwrap();
    }
    let listed = repo.list_grants(media.id).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|g| (g.user_id.as_str(), g.permission))
            .collect::<Vec<_>>(),
        vec![("bob", Permission::Delete), ("carol", Permission::Read)]
    );
    repo.delete_grant(media.id, &user("bob"), event(tenant, "access_revoked"))
        .await
        .unwrap();
    assert!(matches!(
        repo.delete_grant(media.id, &user("bob"), event(tenant, "access_revoked"))
            .await,
        Err(RepoError::NotFound)
    ));
    assert_eq!(repo.list_grants(media.id).await.unwrap().len(), 1);
    let second = insert(repo, tenant, "h.png", 1).await.unwrap();
    repo.put_grant(
        tenant,
        Grant {
            media_id: second.id,
            ..grant("carol", Permission::Delete)
        },
        event(tenant, "access_granted"),
    )
    .await
    .unwrap();
    assert_eq!(
        repo.granted_media(tenant, &user("carol"), 10)
            .await
            .unwrap(),
        [media.id, second.id],
        "by id"
    );
    assert_eq!(
        repo.granted_media(tenant, &user("carol"), 1).await.unwrap(),
        [media.id]
    );
    assert!(repo
        .granted_media(tenant, &user("bob"), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(repo
        .granted_media(TenantId(tenant.0 + 1), &user("carol"), 10)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        repo.put_grant(
            TenantId(tenant.0 + 1),
            grant("bob", Permission::Read),
            event(tenant, "access_granted")
        )
        .await,
        Err(RepoError::NotFound)
    ));
}

/// The activity log is the tenant's, newest first, filtered by action, media and actor, and
/// pages below an id; each change's event carries its media.
pub async fn activity_is_newest_first_and_filtered(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let first = insert(repo, tenant, "1.png", 1).await.unwrap();
    let second = insert(repo, tenant, "2.png", 1).await.unwrap();
    let mut by_bob = event(tenant, "tags_updated");
    by_bob.actor_id = user("bob");
    repo.set_tags(tenant, first.id, &[], by_bob).await.unwrap();
    let query = |change: fn(&mut ActivityQuery)| {
        let mut query = ActivityQuery {
            limit: 10,
            ..ActivityQuery::default()
        };
        change(&mut query);
        query
    };
    let all = repo.list_activity(tenant, &query(|_| {})).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|e| (e.action.as_str(), e.media_id))
            .collect::<Vec<_>>(),
        vec![
            ("tags_updated", Some(first.id)),
            ("media_uploaded", Some(second.id)),
            ("media_uploaded", Some(first.id)),
        ]
    );
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    assert_eq!(all[0].created_at, AT);
    let uploads = repo
        .list_activity(tenant, &query(|q| q.action = Some("media_uploaded".into())))
        .await
        .unwrap();
    assert_eq!(uploads.len(), 2);
    let bobs = repo
        .list_activity(
            tenant,
            &query(|q| q.actor_id = Some(UserId::parse("bob").unwrap())),
        )
        .await
        .unwrap();
    assert_eq!(bobs.len(), 1);
    let of_second = ActivityQuery {
        media_id: Some(second.id),
        ..query(|_| {})
    };
    assert_eq!(
        repo.list_activity(tenant, &of_second).await.unwrap().len(),
        1
    );
    let older = ActivityQuery {
        before_id: Some(all[1].id),
        limit: 10,
        ..ActivityQuery::default()
    };
    assert_eq!(
        repo.list_activity(tenant, &older).await.unwrap(),
        vec![all[2].clone()]
    );
    assert!(repo
        .list_activity(TenantId(tenant.0 + 1), &query(|_| {}))
        .await
        .unwrap()
        .is_empty());
}

/// An idempotency key is claimed once: while its request runs a second claim finds it in
/// flight, once completed a claim finds the fingerprint and answer, a released key is fresh
/// again, and so are a record past its expiry and a key held past its time. Keys are per
/// tenant, and purging forgets what expired.
pub async fn idempotency_keys_are_claimed_once_and_replayed(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    let other = repo
        .create_tenant(&TenantSlug::parse("other").unwrap(), AT)
        .await
        .unwrap()
        .id;
    let key = IdempotencyKey::parse("order-17").unwrap();
    let hour = time::Duration::hours(1);
    let terms = |now: OffsetDateTime| KeyTerms {
        tenant,
        now,
        held_until: now + time::Duration::minutes(10),
        expires_at: now + hour * 24,
    };
    assert_eq!(
        repo.claim_idempotency_key(&key, terms(AT)).await.unwrap(),
        KeyClaim::Fresh
    );
    assert_eq!(
        repo.claim_idempotency_key(&key, terms(AT)).await.unwrap(),
        KeyClaim::InFlight
    );
    let elsewhere = KeyTerms {
        tenant: other,
        ..terms(AT)
    };
    assert_eq!(
        repo.claim_idempotency_key(&key, elsewhere).await.unwrap(),
        KeyClaim::Fresh,
        "another tenant's key"
    );
    let response = StoredResponse {
        status: 201,
        content_type: Some("application/json; charset=utf-8".into()),
        body: format!(
            "{{\"quote\":\"'\\\\ $1\",\"long\":\"{}\"}}",
            "x".repeat(100_000)
        ),
    };
    repo.complete_idempotency_key(tenant, &key, "f1", &response, AT + hour * 24)
        .await
        .unwrap();
    repo.release_idempotency_key(tenant, &key).await.unwrap();
    assert_eq!(
        repo.claim_idempotency_key(&key, terms(AT + hour))
            .await
            .unwrap(),
        KeyClaim::Completed {
            fingerprint: "f1".into(),
            response: response.clone()
        },
        "a completed record survives a release and is replayed whole"
    );
    // Past its expiry the key is new again.
    assert_eq!(
        repo.claim_idempotency_key(&key, terms(AT + hour * 25))
            .await
            .unwrap(),
        KeyClaim::Fresh
    );

    // A released key is fresh; a key whose request never finished is fresh after its hold.
    let dropped = IdempotencyKey::parse("dropped").unwrap();
    repo.claim_idempotency_key(&dropped, terms(AT))
        .await
        .unwrap();
    repo.release_idempotency_key(tenant, &dropped)
        .await
        .unwrap();
    assert_eq!(
        repo.claim_idempotency_key(&dropped, terms(AT))
            .await
            .unwrap(),
        KeyClaim::Fresh
    );
    assert_eq!(
        repo.claim_idempotency_key(&dropped, terms(AT + time::Duration::minutes(5)))
            .await
            .unwrap(),
        KeyClaim::InFlight
    );
    assert_eq!(
        repo.claim_idempotency_key(&dropped, terms(AT + time::Duration::minutes(11)))
            .await
            .unwrap(),
        KeyClaim::Fresh,
        "held past its time"
    );

    // Purging forgets what expired and keeps the rest.
    let purged = repo
        .purge_idempotency_keys(AT + hour * 24 + time::Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(purged, 1, "the other tenant's record, claimed at AT");
    assert_eq!(
        repo.claim_idempotency_key(&key, terms(AT + hour * 25 + time::Duration::minutes(5)))
            .await
            .unwrap(),
        KeyClaim::InFlight,
        "the key claimed again at 25 h is kept"
    );
}

/// Committed events are numbered once, in order, by sequencing rounds; a tenant's changes are
/// listed after a number, only the actions asked for; the last number given is known.
pub async fn changes_are_numbered_once_in_order(repo: &dyn MediaRepo) {
    let tenant = tenant(repo).await;
    assert_eq!(repo.last_change().await.unwrap(), 0);
    let first = insert(repo, tenant, "c/1.png", 1).await.unwrap();
    let second = insert(repo, tenant, "c/2.png", 1).await.unwrap();
    let grant = Grant {
        media_id: first.id,
        user_id: user("bob"),
        permission: Permission::Read,
        created_at: AT,
    };
    repo.put_grant(tenant, grant, event(tenant, "access_granted"))
        .await
        .unwrap();
    assert_eq!(
        repo.sequence_changes(2).await.unwrap(),
        2,
        "at most the limit"
    );
    assert_eq!(repo.sequence_changes(100).await.unwrap(), 1);
    assert_eq!(
        repo.sequence_changes(100).await.unwrap(),
        0,
        "numbered once"
    );
    let last = repo.last_change().await.unwrap();
    assert_eq!(last, 3);
    let actions: &'static [&'static str] = &ChangeKind::ACTIONS;
    let listed = repo.list_changes(tenant, actions, 0, 10).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|c| (c.seq, c.activity.media_id))
            .collect::<Vec<_>>(),
        vec![(1, Some(first.id)), (2, Some(second.id))],
        "the grant is not a change"
    );
    // An event that committed later gets a later number, after every earlier one.
    repo.set_tags(tenant, first.id, &[], event(tenant, "media_tagged"))
        .await
        .unwrap();
    assert!(
        repo.list_changes(tenant, actions, last, 10)
            .await
            .unwrap()
            .is_empty(),
        "not listed before it is numbered"
    );
    repo.sequence_changes(100).await.unwrap();
    let later = repo.list_changes(tenant, actions, last, 10).await.unwrap();
    assert_eq!(later.len(), 1);
    assert!(later[0].seq > last);
    assert_eq!(later[0].activity.action, "media_tagged");
    assert_eq!(repo.last_change().await.unwrap(), later[0].seq);
    assert_eq!(
        repo.list_changes(tenant, actions, 0, 1)
            .await
            .unwrap()
            .len(),
        1,
        "a page"
    );
    assert!(repo
        .list_changes(TenantId(tenant.0 + 1), actions, 0, 10)
        .await
        .unwrap()
        .is_empty());
}
