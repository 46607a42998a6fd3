//! The contract of [`Webhooks`](crate::Webhooks): endpoints, the compare-and-set fan-out, and
//! the delivery queue's claims, order and outcomes. Each function needs a fresh, migrated store.
// Contract checks fail by panicking with what broke, as tests do.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use time::OffsetDateTime;

use super::deletes::{tenant, AT, LEASE};
use crate::error::RepoError;
use crate::model::*;
use crate::ports::MediaRepo;

fn endpoint(tenant: TenantId, url: &str, cursor: i64) -> NewWebhook {
    NewWebhook {
        tenant_id: tenant,
        url: url.into(),
        secret: "whsec_c2VjcmV0".into(),
        event_types: vec!["media.deleted".into()],
        description: "a \"quoted\" note".into(),
        created_at: AT,
        cursor,
    }
}

fn media(raw: i64) -> MediaId {
    MediaId::parse(&raw.to_string()).unwrap()
}

fn event(seq: i64, media_id: i64) -> NewDelivery {
    NewDelivery {
        seq,
        event_type: "media.deleted".into(),
        media_id: Some(media(media_id)),
        payload: format!("{{\"seq\":{seq}}}"),
        created_at: AT,
    }
}

async fn claim(repo: &dyn MediaRepo, now: OffsetDateTime, token: &str) -> Vec<ClaimedDelivery> {
    repo.claim_deliveries(now, now + LEASE, token, 100)
        .await
        .unwrap()
}

fn seqs(claimed: &[ClaimedDelivery]) -> Vec<i64> {
    claimed.iter().map(|c| c.delivery.seq).collect()
}

fn attempt(status: Option<u16>, error: Option<&str>) -> DeliveryAttempt {
    DeliveryAttempt {
        at: AT,
        status,
        error: error.map(str::to_owned),
        duration_ms: 12,
    }
}

/// Endpoints belong to their tenant: another tenant neither finds, changes nor removes them; a
/// change applies what it names; removing one removes its deliveries.
pub async fn webhooks_belong_to_their_tenant_and_change_what_is_named(repo: &dyn MediaRepo) {
    let t = tenant(repo).await;
    let other = repo
        .create_tenant(&TenantSlug::parse("u").unwrap(), AT)
        .await
        .unwrap()
        .id;
    let created = repo
        .create_webhook(endpoint(t, "https://a.example/hook", 7))
        .await
        .unwrap();
    assert!(created.enabled);
    assert_eq!(created.cursor, 7);
    assert_eq!(created.event_types, ["media.deleted"]);
    assert_eq!(created.created_at, AT);
    assert_eq!(
        repo.find_webhook(t, created.id).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(repo.find_webhook(other, created.id).await.unwrap(), None);
    assert!(repo.list_webhooks(other).await.unwrap().is_empty());
    assert!(matches!(
        repo.update_webhook(other, created.id, WebhookChange::default())
            .await,
        Err(RepoError::NotFound)
    ));
    assert!(matches!(
        repo.delete_webhook(other, created.id).await,
        Err(RepoError::NotFound)
    ));

    let changed = repo
        .update_webhook(
            t,
            created.id,
            WebhookChange {
                enabled: Some(false),
                event_types: Some(Vec::new()),
                ..WebhookChange::default()
            },
        )
        .await
        .unwrap();
    assert!(!changed.enabled);
    assert!(changed.event_types.is_empty());
    assert_eq!(changed.url, created.url, "unnamed fields stay");
    assert_eq!(changed.secret, created.secret);
    assert!(repo.enabled_webhooks().await.unwrap().is_empty());
    let second = repo
        .create_webhook(endpoint(t, "https://b.example/hook", 0))
        .await
        .unwrap();
    assert_eq!(
        repo.list_webhooks(t)
            .await
            .unwrap()
            .iter()
            .map(|w| w.id)
            .collect::<Vec<_>>(),
        [created.id, second.id]
    );
    assert_eq!(
        repo.enabled_webhooks().await.unwrap(),
        std::slice::from_ref(&second)
    );

    assert!(repo
        .enqueue_deliveries(second.id, 0, 1, vec![event(1, 1)])
        .await
        .unwrap());
    repo.delete_webhook(t, second.id).await.unwrap();
    assert_eq!(repo.find_webhook(t, second.id).await.unwrap(), None);
    assert!(claim(repo, AT, "a").await.is_empty(), "deliveries went too");
}

/// Deliveries are recorded only by the dispatcher that still holds the endpoint's cursor, and
/// only for an enabled endpoint.
pub async fn deliveries_are_enqueued_once_per_cursor(repo: &dyn MediaRepo) {
    let t = tenant(repo).await;
    let hook = repo
        .create_webhook(endpoint(t, "https://a.example/hook", 0))
        .await
        .unwrap();
    assert!(repo
        .enqueue_deliveries(hook.id, 0, 2, vec![event(1, 1), event(2, 2)])
        .await
        .unwrap());
    assert!(
        !repo
            .enqueue_deliveries(hook.id, 0, 2, vec![event(1, 1), event(2, 2)])
            .await
            .unwrap(),
        "a second dispatcher with the old cursor records nothing"
    );
    assert_eq!(
        repo.find_webhook(t, hook.id).await.unwrap().unwrap().cursor,
        2
    );
    // Events the endpoint does not want still move its cursor.
    assert!(repo
        .enqueue_deliveries(hook.id, 2, 5, Vec::new())
        .await
        .unwrap());
    repo.update_webhook(
        t,
        hook.id,
        WebhookChange {
            enabled: Some(false),
            ..WebhookChange::default()
        },
    )
    .await
    .unwrap();
    assert!(!repo
        .enqueue_deliveries(hook.id, 5, 6, vec![event(6, 1)])
        .await
        .unwrap());
    let listed = repo
        .list_deliveries(t, hook.id, None, None, 10)
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|d| d.seq).collect::<Vec<_>>(),
        [2, 1],
        "newest first, recorded once"
    );
    let first = &listed[1];
    assert_eq!(first.status, DeliveryStatus::Pending);
    assert_eq!(first.attempts, 0);
    assert_eq!(first.payload, "{\"seq\":1}");
    assert_eq!(first.media_id, Some(media(1)));
    assert_eq!(first.next_attempt_at, AT);
    assert_eq!(
        repo.list_deliveries(t, hook.id, None, Some(first.id + 1), 10)
            .await
            .unwrap(),
        std::slice::from_ref(first)
    );
    assert!(claim(repo, AT, "a").await.is_empty(), "disabled: not sent");
}

/// A claim hides its deliveries until its lease ends; one media item's deliveries to one
/// endpoint are claimed in feed order; outcomes are recorded only under the claim's token;
/// failures wait for their retry, the dead are not claimed until redelivered.
pub async fn deliveries_are_claimed_in_media_order_and_settled_by_their_claim(
    repo: &dyn MediaRepo,
) {
    let t = tenant(repo).await;
    let hook = repo
        .create_webhook(endpoint(t, "https://a.example/hook", 0))
        .await
        .unwrap();
    // Media 1 changes twice (seq 1 and 3), media 2 once.
    repo.enqueue_deliveries(hook.id, 0, 3, vec![event(1, 1), event(2, 2), event(3, 1)])
        .await
        .unwrap();
    let first = claim(repo, AT, "a").await;
    assert_eq!(seqs(&first), [1, 2], "seq 3 waits for seq 1 of its media");
    assert_eq!(first[0].url, hook.url);
    assert_eq!(first[0].secret, hook.secret);
    assert_eq!(first[0].token, "a");
    assert!(claim(repo, AT, "b").await.is_empty(), "claimed by a");
    let later = AT + LEASE + Duration::from_secs(1);
    assert_eq!(seqs(&claim(repo, later, "c").await), [1, 2], "lease ended");

    // `a` lost its claim to `c`: its outcome is kept as an attempt, nothing else.
    let (one, two) = (first[0].delivery.id, first[1].delivery.id);
    assert!(!repo
        .record_attempt(one, "a", attempt(Some(200), None), DeliveryNext::Delivered)
        .await
        .unwrap());
    let retry_at = later + Duration::from_secs(30);
    assert!(repo
        .record_attempt(
            one,
            "c",
            attempt(Some(500), Some("HTTP 500")),
            DeliveryNext::RetryAt(retry_at)
        )
        .await
        .unwrap());
    assert!(repo
        .record_attempt(
            two,
            "c",
            attempt(None, Some("timed out")),
            DeliveryNext::Dead
        )
        .await
        .unwrap());
    let (failed, attempts) = repo.find_delivery(t, hook.id, one).await.unwrap().unwrap();
    assert_eq!(failed.status, DeliveryStatus::Pending);
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.next_attempt_at, retry_at);
    assert_eq!(failed.last_status, Some(500));
    assert_eq!(failed.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(attempts.len(), 2, "both attempts are listed");
    assert_eq!(attempts[1], attempt(Some(500), Some("HTTP 500")));
    assert!(
        claim(repo, later, "d").await.is_empty(),
        "seq 1 waits for its retry, seq 2 is dead, seq 3 waits for seq 1"
    );
    let retried = claim(repo, retry_at, "e").await;
    assert_eq!(seqs(&retried), [1]);
    assert_eq!(retried[0].delivery.attempts, 1);
    repo.record_attempt(one, "e", attempt(Some(204), None), DeliveryNext::Delivered)
        .await
        .unwrap();
    let (delivered, _) = repo.find_delivery(t, hook.id, one).await.unwrap().unwrap();
    assert_eq!(delivered.status, DeliveryStatus::Delivered);
    assert_eq!(delivered.delivered_at, Some(AT));
    assert_eq!(delivered.attempts, 2);
    assert_eq!(seqs(&claim(repo, retry_at, "f").await), [3], "its turn now");

    let dead = repo
        .list_deliveries(t, hook.id, Some(DeliveryStatus::Dead), None, 10)
        .await
        .unwrap();
    assert_eq!(dead.iter().map(|d| d.id).collect::<Vec<_>>(), [two]);
    let other = repo
        .create_tenant(&TenantSlug::parse("u").unwrap(), AT)
        .await
        .unwrap()
        .id;
    assert!(matches!(
        repo.redeliver(other, hook.id, two, retry_at).await,
        Err(RepoError::NotFound)
    ));
    assert_eq!(repo.find_delivery(other, hook.id, two).await.unwrap(), None);
    let revived = repo.redeliver(t, hook.id, two, retry_at).await.unwrap();
    assert_eq!(revived.status, DeliveryStatus::Pending);
    assert_eq!(revived.attempts, 0);
    assert_eq!(seqs(&claim(repo, retry_at, "g").await), [2]);

    // Old finished deliveries are forgotten with their attempts; pending ones stay.
    let mut again = seqs(&claim(repo, retry_at + LEASE * 2, "h").await);
    again.sort_unstable();
    assert_eq!(again, [2, 3], "f and g lost their claims");
    repo.record_attempt(two, "h", attempt(None, Some("refused")), DeliveryNext::Dead)
        .await
        .unwrap();
    assert_eq!(
        repo.forget_deliveries(AT).await.unwrap(),
        0,
        "none older than AT"
    );
    assert_eq!(
        repo.forget_deliveries(AT + Duration::from_millis(1))
            .await
            .unwrap(),
        2,
        "the delivered seq 1 and the dead seq 2; seq 3 is pending"
    );
    assert_eq!(repo.find_delivery(t, hook.id, one).await.unwrap(), None);
    assert!(!repo
        .record_attempt(two, "h", attempt(Some(200), None), DeliveryNext::Delivered)
        .await
        .unwrap());
    let left = repo
        .list_deliveries(t, hook.id, None, None, 10)
        .await
        .unwrap();
    assert_eq!(left.iter().map(|d| d.seq).collect::<Vec<_>>(), [3]);
}
