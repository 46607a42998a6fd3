//! Webhooks: endpoints a tenant's admins manage, and the dispatcher that delivers the changes
//! feed to them.
//!
//! # Delivery
//! Events are written in the transaction of their change (the activity log is the outbox) and
//! numbered once committed (the changes feed). A dispatcher round, which any number of
//! instances may run at once:
//! 1. numbers what committed since the last round;
//! 2. per enabled endpoint, reads the tenant's changes after the endpoint's cursor and, in one
//!    transaction, records a delivery per event the endpoint wants and moves the cursor on (a
//!    compare-and-set: of two instances reading the same events, one records them);
//! 3. claims due deliveries for a lease, never one whose media has an earlier pending delivery
//!    to the same endpoint, sends them signed, and records each attempt: a 2xx delivers, a
//!    failure is retried after `base × 2^(attempts-1)` (capped) plus up to 25 % jitter, and
//!    after `max_attempts` the delivery is dead-lettered, listed and re-triggerable.
//!
//! A process killed at any point loses nothing: an event not yet recorded as a delivery is read
//! again from the cursor, a claimed delivery is claimed again when its lease ends. Delivery is
//! at least once: a receiver deduplicates by `webhook-id` (`evt_` and the feed number).

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;

use super::media::{next_cursor, page_limit, parse_cursor, Page};
use super::{MediaService, ServiceError};
use crate::error::RepoError;
use crate::model::*;

/// Events read per endpoint per step of a round.
const FAN_OUT_BATCH: u64 = 500;
/// Longest accepted endpoint URL.
const MAX_URL_LEN: usize = 2048;
/// Longest description.
const MAX_DESCRIPTION_LEN: usize = 500;

/// Timings of webhook delivery.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Attempts after which a delivery is dead-lettered.
    pub max_attempts: i32,
    /// Delay before the second attempt; doubles per attempt.
    pub retry_base: Duration,
    /// Longest delay between attempts.
    pub retry_max: Duration,
    /// How long a claimed delivery is someone's: longer than a send may take.
    pub lease: Duration,
    /// Deliveries sent at once by one dispatcher.
    pub concurrency: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(6 * 3600),
            lease: Duration::from_secs(60),
            concurrency: 16,
        }
    }
}

/// What may change on an endpoint (`None`: unchanged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookEdit {
    /// A new URL.
    pub url: Option<String>,
    /// New event types (empty: all).
    pub event_types: Option<Vec<String>>,
    /// A new description.
    pub description: Option<String>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

fn admin(actor: &Actor) -> Result<(), ServiceError> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}

fn webhook_not_found(err: RepoError) -> ServiceError {
    match err {
        RepoError::NotFound => ServiceError::NotFound("webhook"),
        other => other.into(),
    }
}

fn invalid(code: &'static str, message: impl Into<String>) -> ServiceError {
    ServiceError::Invalid {
        code,
        message: message.into(),
    }
}

/// Checks an endpoint URL: `http://` or `https://`, a host, no whitespace, at most 2048 bytes.
fn check_url(url: &str) -> Result<String, ServiceError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host = rest.map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
    if url.len() > MAX_URL_LEN
        || host.is_none_or(str::is_empty)
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            "invalid_url",
            "url must be an http:// or https:// URL with a host, at most 2048 bytes",
        ));
    }
    Ok(url.to_owned())
}

fn check_event_types(types: Vec<String>) -> Result<Vec<String>, ServiceError> {
    if let Some(unknown) = types.iter().find(|t| !EVENT_TYPES.contains(&t.as_str())) {
        return Err(invalid(
            "invalid_event_type",
            format!(
                "unknown event type {unknown:?}; known: {}",
                EVENT_TYPES.join(", ")
            ),
        ));
    }
    let mut types = types;
    types.sort_unstable();
    types.dedup();
    Ok(types)
}

fn check_description(description: String) -> Result<String, ServiceError> {
    if description.chars().count() > MAX_DESCRIPTION_LEN {
        return Err(invalid(
            "invalid_description",
            "description is at most 500 characters",
        ));
    }
    Ok(description)
}

/// A new signing secret: `whsec_` and 32 bytes in base64, as Standard Webhooks
/// libraries read it.
fn new_secret() -> String {
    use base64::Engine;
    // Two random (v4) UUIDs: 244 random bits.
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The JSON body of an event (Standard Webhooks: `type`, `timestamp`, `data`).
fn payload(event_type: &str, row: &SequencedActivity) -> String {
    let event = &row.activity;
    json!({
        "type": event_type,
        "timestamp": event
            .created_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        "data": {
            "seq": row.seq,
            "media_id": event.media_id.map(MediaId::get),
            "actor_id": event.actor_id.as_str(),
            "details": event.details,
        },
    })
    .to_string()
}

/// Delay before attempt `attempt + 1` after `attempt` failures: `base × 2^(attempt-1)`,
/// capped at `max`, plus up to 25 % jitter (instances do not retry in step).
pub(crate) fn backoff(attempt: i32, base: Duration, max: Duration) -> Duration {
    let exp = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(0)
        .min(20);
    let delay = base.saturating_mul(1 << exp).min(max);
    let jitter_range = u64::try_from(delay.as_millis() / 4).unwrap_or(u64::MAX) + 1;
    let jitter =
        u64::try_from(uuid::Uuid::new_v4().as_u128() % u128::from(jitter_range)).unwrap_or(0);
    delay + Duration::from_millis(jitter)
}

impl MediaService {
    /// Adds a webhook endpoint to the caller's tenant (admins only): it receives the events
    /// of `event_types` (empty: all) committed from now on.
    ///
    /// # Errors
    /// `Forbidden`; `invalid_url`, `invalid_event_type`, `invalid_description`; `Repo`.
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        url: &str,
        event_types: Vec<String>,
        description: Option<String>,
    ) -> Result<Webhook, ServiceError> {
        admin(actor)?;
        let webhook = NewWebhook {
            tenant_id: actor.tenant_id,
            url: check_url(url)?,
            secret: new_secret(),
            event_types: check_event_types(event_types)?,
            description: check_description(description.unwrap_or_default())?,
            created_at: self.clock.now(),
            cursor: self.feed_head().await?,
        };
        Ok(self.repo.create_webhook(webhook).await?)
    }

    /// The caller's tenant's endpoints (admins only).
    ///
    /// # Errors
    /// `Forbidden`; `Repo`.
    pub async fn list_webhooks(&self, actor: &Actor) -> Result<Vec<Webhook>, ServiceError> {
        admin(actor)?;
        Ok(self.repo.list_webhooks(actor.tenant_id).await?)
    }

    /// One of the caller's tenant's endpoints (admins only).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound("webhook")`; `Repo`.
    pub async fn get_webhook(&self, actor: &Actor, id: i64) -> Result<Webhook, ServiceError> {
        admin(actor)?;
        self.repo
            .find_webhook(actor.tenant_id, id)
            .await?
            .ok_or(ServiceError::NotFound("webhook"))
    }

    /// Changes an endpoint (admins only). Enabling a disabled endpoint resumes it from now:
    /// events of the time it was disabled are not delivered.
    ///
    /// # Errors
    /// As [`MediaService::create_webhook`]; `NotFound("webhook")`.
    pub async fn update_webhook(
        &self,
        actor: &Actor,
        id: i64,
        edit: WebhookEdit,
    ) -> Result<Webhook, ServiceError> {
        admin(actor)?;
        let current = self.get_webhook(actor, id).await?;
        let resumes = edit.enabled == Some(true) && !current.enabled;
        let change = WebhookChange {
            url: edit.url.as_deref().map(check_url).transpose()?,
            event_types: edit.event_types.map(check_event_types).transpose()?,
            description: edit.description.map(check_description).transpose()?,
            enabled: edit.enabled,
            secret: None,
            cursor: if resumes {
                Some(self.feed_head().await?)
            } else {
                None
            },
        };
        self.repo
            .update_webhook(actor.tenant_id, id, change)
            .await
            .map_err(webhook_not_found)
    }

    /// Gives an endpoint a new signing secret (admins only); deliveries signed from now on
    /// use it.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound("webhook")`; `Repo`.
    pub async fn rotate_webhook_secret(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<Webhook, ServiceError> {
        admin(actor)?;
        let change = WebhookChange {
            secret: Some(new_secret()),
            ..WebhookChange::default()
        };
        self.repo
            .update_webhook(actor.tenant_id, id, change)
            .await
            .map_err(webhook_not_found)
    }

    /// Removes an endpoint and its deliveries (admins only).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound("webhook")`; `Repo`.
    pub async fn delete_webhook(&self, actor: &Actor, id: i64) -> Result<(), ServiceError> {
        admin(actor)?;
        self.repo
            .delete_webhook(actor.tenant_id, id)
            .await
            .map_err(webhook_not_found)
    }

    /// An endpoint's deliveries, newest first (admins only).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound("webhook")`; `invalid_status`, `invalid_limit`,
    /// `invalid_cursor`; `Repo`.
    pub async fn list_deliveries(
        &self,
        actor: &Actor,
        webhook: i64,
        status: Option<&str>,
        limit: Option<u64>,
        cursor: Option<&str>,
    ) -> Result<Page<Delivery>, ServiceError> {
        self.get_webhook(actor, webhook).await?;
        let status = status
            .map(|name| {
                DeliveryStatus::parse(name).ok_or_else(|| {
                    invalid("invalid_status", "status is pending, delivered or dead")
                })
            })
            .transpose()?;
        let limit = page_limit(limit)?;
        let before = parse_cursor(cursor)?;
        let items = self
            .repo
            .list_deliveries(actor.tenant_id, webhook, status, before, limit)
            .await?;
        let next_cursor = next_cursor(&items, limit, |d| d.id);
        Ok(Page { items, next_cursor })
    }

    /// A delivery with its attempts, oldest first (admins only).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound("webhook")`, `NotFound("delivery")`; `Repo`.
    pub async fn get_delivery(
        &self,
        actor: &Actor,
        webhook: i64,
        id: i64,
    ) -> Result<(Delivery, Vec<DeliveryAttempt>), ServiceError> {
        self.get_webhook(actor, webhook).await?;
        self.repo
            .find_delivery(actor.tenant_id, webhook, id)
            .await?
            .ok_or(ServiceError::NotFound("delivery"))
    }

    /// Sends a delivery again (admins only): pending, due now, with a fresh count of
    /// attempts; a dead-lettered delivery is revived.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound("webhook")`, `NotFound("delivery")`; `Repo`.
    pub async fn redeliver(
        &self,
        actor: &Actor,
        webhook: i64,
        id: i64,
    ) -> Result<Delivery, ServiceError> {
        self.get_webhook(actor, webhook).await?;
        self.repo
            .redeliver(actor.tenant_id, webhook, id, self.clock.now())
            .await
            .map_err(|err| match err {
                RepoError::NotFound => ServiceError::NotFound("delivery"),
                other => other.into(),
            })
    }

    /// Forgets delivered and dead deliveries older than the changes feed keeps its changes
    /// (`changes_retention`), with their attempts; returns how many. The reaper calls it.
    ///
    /// # Errors
    /// `Repo`.
    pub async fn forget_old_deliveries(&self) -> Result<u64, ServiceError> {
        let before = self.clock.now() - self.config.changes_retention;
        Ok(self.repo.forget_deliveries(before).await?)
    }

    /// The feed number of the last committed change, after numbering what committed.
    async fn feed_head(&self) -> Result<i64, ServiceError> {
        self.sequence_committed().await?;
        Ok(self.repo.last_change().await?)
    }

    /// One dispatcher round: numbers committed events, records the deliveries of new events
    /// to every enabled endpoint, then sends up to `limit` due deliveries.
    ///
    /// # Errors
    /// `webhooks_not_configured` without a sender; `Repo`. Failed sends are recorded, not errors.
    pub async fn dispatch_webhooks(&self, limit: u64) -> Result<DispatchReport, ServiceError> {
        let sender = self
            .webhook_sender
            .clone()
            .ok_or_else(|| ServiceError::Conflict {
                code: "webhooks_not_configured",
                message: "this service has no webhook sender".into(),
            })?;
        let webhooks = self.repo.enabled_webhooks().await?;
        if webhooks.is_empty() {
            // Deliveries of disabled endpoints wait: nothing can be claimed.
            return Ok(DispatchReport::default());
        }
        let mut report = DispatchReport {
            enqueued: self.fan_out(webhooks).await?,
            ..DispatchReport::default()
        };
        let now = self.clock.now();
        let token = uuid::Uuid::new_v4().simple().to_string();
        let claimed = self
            .repo
            .claim_deliveries(now, now + self.webhooks.lease, &token, limit)
            .await?;
        let outcomes: Vec<Result<DeliveryNext, ServiceError>> = futures_util::stream::iter(claimed)
            .map(|claimed| {
                let sender = sender.clone();
                async move { self.attempt(sender.as_ref(), claimed).await }
            })
            .buffer_unordered(self.webhooks.concurrency.max(1))
            .collect()
            .await;
        for outcome in outcomes {
            report.attempted += 1;
            match outcome? {
                DeliveryNext::Delivered => report.delivered += 1,
                DeliveryNext::RetryAt(_) => report.retried += 1,
                DeliveryNext::Dead => report.dead += 1,
            }
        }
        Ok(report)
    }

    /// Dispatcher rounds until one finds nothing to send now (a delivery waiting for a later
    /// retry is left for it): `medialib deliver`'s one-shot run.
    ///
    /// # Errors
    /// As [`MediaService::dispatch_webhooks`]; rounds finished before stay done.
    pub async fn deliver_due(
        &self,
        limit: u64,
        mut progress: impl FnMut(&DispatchReport),
    ) -> Result<DispatchReport, ServiceError> {
        let mut total = DispatchReport::default();
        loop {
            let round = self.dispatch_webhooks(limit).await?;
            total += round;
            progress(&total);
            if round.attempted == 0 {
                return Ok(total);
            }
        }
    }

    /// Records the deliveries of new events to `webhooks` (enabled endpoints); returns how
    /// many.
    async fn fan_out(&self, webhooks: Vec<Webhook>) -> Result<usize, ServiceError> {
        // An endpoint already at the feed's head has nothing to read: an idle deployment
        // costs one read per round, not one per endpoint.
        let head = self.feed_head().await?;
        let mut enqueued = 0;
        for webhook in webhooks.into_iter().filter(|w| w.cursor < head) {
            let mut cursor = webhook.cursor;
            loop {
                let rows = self
                    .repo
                    .list_changes(
                        webhook.tenant_id,
                        &ChangeKind::ACTIONS,
                        cursor,
                        FAN_OUT_BATCH,
                    )
                    .await?;
                let Some(last) = rows.last().map(|row| row.seq) else {
                    break;
                };
                let now = self.clock.now();
                let deliveries: Vec<NewDelivery> = rows
                    .iter()
                    .filter_map(|row| {
                        let event_type = event_type_of(&row.activity.action)?;
                        (webhook.wants(event_type) && row.activity.media_id.is_some()).then(|| {
                            NewDelivery {
                                seq: row.seq,
                                event_type: event_type.to_owned(),
                                media_id: row.activity.media_id,
                                payload: payload(event_type, row),
                                created_at: now,
                            }
                        })
                    })
                    .collect();
                let count = deliveries.len();
                if !self
                    .repo
                    .enqueue_deliveries(webhook.id, cursor, last, deliveries)
                    .await?
                {
                    // Another dispatcher recorded these (or the endpoint was disabled).
                    break;
                }
                enqueued += count;
                cursor = last;
                if (rows.len() as u64) < FAN_OUT_BATCH {
                    break;
                }
            }
        }
        Ok(enqueued)
    }

    /// Sends one claimed delivery and records the attempt.
    async fn attempt(
        &self,
        sender: &dyn crate::ports::WebhookSender,
        claimed: ClaimedDelivery,
    ) -> Result<DeliveryNext, ServiceError> {
        let at = self.clock.now();
        let started = std::time::Instant::now();
        let message = WebhookMessage {
            url: claimed.url,
            secret: claimed.secret,
            id: format!("evt_{}", claimed.delivery.seq),
            timestamp: at.unix_timestamp(),
            body: claimed.delivery.payload,
        };
        let outcome = sender.send(&message).await;
        let attempts = claimed.delivery.attempts.saturating_add(1);
        let next = if outcome.error.is_none() {
            DeliveryNext::Delivered
        } else if attempts >= self.webhooks.max_attempts {
            tracing::warn!(
                delivery = claimed.delivery.id,
                url = %message.url,
                error = outcome.error.as_deref().unwrap_or_default(),
                "webhook delivery dead-lettered"
            );
            DeliveryNext::Dead
        } else {
            DeliveryNext::RetryAt(
                at + backoff(attempts, self.webhooks.retry_base, self.webhooks.retry_max),
            )
        };
        let attempt = DeliveryAttempt {
            at,
            status: outcome.status,
            error: outcome.error,
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        };
        self.repo
            .record_attempt(claimed.delivery.id, &claimed.token, attempt, next)
            .await?;
        super::telemetry::webhook_attempt(next);
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::contract::deletes::insert;
    use crate::memory::MemoryRepo;
    use crate::ports::{MockBlobStore, Tenants, WebhookSender};
    use crate::service::{fixtures, ServiceConfig};

    /// Refuses the messages whose ids it is told to, accepts the rest; keeps every message.
    #[derive(Debug, Default)]
    struct Sender {
        refuse: Mutex<Vec<String>>,
        sent: Mutex<Vec<WebhookMessage>>,
    }

    #[async_trait::async_trait]
    impl WebhookSender for Sender {
        async fn send(&self, message: &WebhookMessage) -> SendOutcome {
            self.sent.lock().unwrap().push(message.clone());
            if self.refuse.lock().unwrap().contains(&message.id) {
                SendOutcome {
                    status: Some(500),
                    error: Some("answered 500".into()),
                }
            } else {
                SendOutcome {
                    status: Some(204),
                    error: None,
                }
            }
        }
    }

    #[tokio::test]
    async fn a_round_records_new_events_sends_them_signed_and_retries_then_buries_failures() {
        let repo = MemoryRepo::new();
        let tenant = repo
            .create_tenant(
                &TenantSlug::parse("default").unwrap(),
                time::OffsetDateTime::UNIX_EPOCH,
            )
            .await
            .unwrap()
            .id;
        let sender = Arc::new(Sender::default());
        let config = WebhookConfig {
            max_attempts: 2,
            retry_base: Duration::ZERO,
            ..WebhookConfig::default()
        };
        let service = fixtures::service_over(
            Arc::new(repo.clone()),
            MockBlobStore::new(),
            ServiceConfig::default(),
        )
        .with_webhooks(sender.clone(), config);
        let admin = fixtures::actor("root", Role::Admin);
        assert!(matches!(
            service
                .create_webhook(
                    &fixtures::actor("m", Role::Member),
                    "http://h.example/",
                    vec![],
                    None
                )
                .await,
            Err(ServiceError::Forbidden)
        ));
        let before = insert(&repo, tenant, "before.png", 1).await.unwrap();
        let hook = service
            .create_webhook(&admin, "http://h.example/hook", vec![], Some("n".into()))
            .await
            .unwrap();
        let a = insert(&repo, tenant, "a.png", 1).await.unwrap();
        let b = insert(&repo, tenant, "b.png", 1).await.unwrap();
        // Events are numbered in commit order: `before` 1, `a` 2, `b` 3.
        sender.refuse.lock().unwrap().push("evt_2".into());

        let first = service.dispatch_webhooks(10).await.unwrap();
        assert_eq!(
            (
                first.enqueued,
                first.attempted,
                first.delivered,
                first.retried
            ),
            (2, 2, 1, 1),
            "only events after the endpoint was added: {first:?}"
        );
        let sent = sender.sent.lock().unwrap().clone();
        let mut ids: Vec<&str> = sent.iter().map(|m| m.id.as_str()).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["evt_2", "evt_3"]);
        let body: serde_json::Value = serde_json::from_str(&sent[0].body).unwrap();
        assert_eq!(body["type"], "media.uploaded");
        assert!([a.id.get(), b.id.get()].contains(&body["data"]["media_id"].as_i64().unwrap()));
        assert_ne!(body["data"]["media_id"], before.id.get());
        assert!(sent
            .iter()
            .all(|m| m.secret == hook.secret && m.url == hook.url));

        // Retried at once (base 0), refused again: the second failure is its last.
        let second = service.dispatch_webhooks(10).await.unwrap();
        assert_eq!((second.enqueued, second.attempted, second.dead), (0, 1, 1));
        let dead = service
            .list_deliveries(&admin, hook.id, Some("dead"), None, None)
            .await
            .unwrap()
            .items;
        assert_eq!(dead.len(), 1);
        assert_eq!((dead[0].seq, dead[0].attempts), (2, 2));
        let third = service.dispatch_webhooks(10).await.unwrap();
        assert_eq!(third, DispatchReport::default(), "nothing due");

        // Redelivered to a receiver that accepts it now.
        sender.refuse.lock().unwrap().clear();
        service
            .redeliver(&admin, hook.id, dead[0].id)
            .await
            .unwrap();
        let fourth = service.dispatch_webhooks(10).await.unwrap();
        assert_eq!((fourth.attempted, fourth.delivered), (1, 1));
        let (delivery, attempts) = service
            .get_delivery(&admin, hook.id, dead[0].id)
            .await
            .unwrap();
        assert_eq!(delivery.status, DeliveryStatus::Delivered);
        assert_eq!(attempts.len(), 3);
    }

    #[test]
    fn urls_need_a_scheme_and_a_host() {
        assert!(check_url("https://hooks.example.com/medialib").is_ok());
        assert!(check_url("http://127.0.0.1:9000").is_ok());
        for bad in [
            "ftp://example.com",
            "https://",
            "https:///path",
            "example.com",
            "https://exa mple.com",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert!(check_url(&format!("https://e.com/{}", "a".repeat(2048))).is_err());
    }

    #[test]
    fn event_types_are_known_sorted_and_unique() {
        let types = check_event_types(vec![
            "media.trashed".into(),
            "media.deleted".into(),
            "media.trashed".into(),
        ])
        .unwrap();
        assert_eq!(types, ["media.deleted", "media.trashed"]);
        assert!(matches!(
            check_event_types(vec!["media.exploded".into()]),
            Err(ServiceError::Invalid {
                code: "invalid_event_type",
                ..
            })
        ));
    }

    #[test]
    fn secrets_are_standard_webhooks_secrets() {
        use base64::Engine;
        let secret = new_secret();
        let key = base64::engine::general_purpose::STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap())
            .unwrap();
        assert_eq!(key.len(), 32);
        assert_ne!(new_secret(), secret);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_with_a_quarter_of_jitter() {
        let base = Duration::from_secs(5);
        let max = Duration::from_secs(60);
        for (attempt, expected) in [(1, 5), (2, 10), (3, 20), (4, 40), (5, 60), (30, 60)] {
            let delay = backoff(attempt, base, max);
            let floor = Duration::from_secs(expected);
            assert!(
                delay >= floor && delay <= floor + floor / 4,
                "{attempt}: {delay:?}"
            );
        }
    }
}
