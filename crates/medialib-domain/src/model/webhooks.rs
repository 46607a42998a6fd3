//! Webhook endpoints and the deliveries of events to them.

use time::OffsetDateTime;

use super::{MediaId, TenantId};

/// Every event type a webhook can receive: `media.` and the activity that recorded the change.
pub const EVENT_TYPES: [&str; 8] = [
    "media.uploaded",
    "media.tagged",
    "media.shared",
    "media.unshared",
    "media.trashed",
    "media.restored",
    "media.deleted",
    "media.purged",
];

/// The event type of an activity action (`media_deleted` → `media.deleted`), if webhooks
/// deliver it.
pub fn event_type_of(action: &str) -> Option<&'static str> {
    let suffix = action.strip_prefix("media_")?;
    EVENT_TYPES
        .iter()
        .copied()
        .find(|event| event.strip_prefix("media.") == Some(suffix))
}

/// A tenant's webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Its id.
    pub id: i64,
    /// Whose events it receives.
    pub tenant_id: TenantId,
    /// Where events are POSTed (`http` or `https`).
    pub url: String,
    /// The signing secret, `whsec_` and base64 (Standard Webhooks).
    pub secret: String,
    /// The event types it receives; empty: all of them.
    pub event_types: Vec<String>,
    /// A note for people.
    pub description: String,
    /// A disabled endpoint receives nothing; events of the time it is disabled are skipped.
    pub enabled: bool,
    /// When it was added.
    pub created_at: OffsetDateTime,
    /// The feed number of the last event turned into its deliveries.
    pub cursor: i64,
}

impl Webhook {
    /// Whether it receives events of `event_type`.
    pub fn wants(&self, event_type: &str) -> bool {
        self.event_types.is_empty() || self.event_types.iter().any(|t| t == event_type)
    }
}

/// A webhook endpoint to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    /// Whose events it receives.
    pub tenant_id: TenantId,
    /// Where events are POSTed.
    pub url: String,
    /// The signing secret.
    pub secret: String,
    /// The event types it receives; empty: all.
    pub event_types: Vec<String>,
    /// A note for people.
    pub description: String,
    /// When it is added.
    pub created_at: OffsetDateTime,
    /// Events after this feed number are delivered to it.
    pub cursor: i64,
}

/// A change to a webhook endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookChange {
    /// A new URL.
    pub url: Option<String>,
    /// New event types.
    pub event_types: Option<Vec<String>>,
    /// A new description.
    pub description: Option<String>,
    /// Enable or disable. Enabling moves the endpoint's cursor to `cursor`: what happened
    /// while it was disabled is not delivered.
    pub enabled: Option<bool>,
    /// A new signing secret.
    pub secret: Option<String>,
    /// The cursor an enabled endpoint continues from.
    pub cursor: Option<i64>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed: kept for inspection and a manual retry.
    Dead,
}

impl DeliveryStatus {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    /// The status named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "pending" => Self::Pending,
            "delivered" => Self::Delivered,
            "dead" => Self::Dead,
            _ => return None,
        })
    }
}

/// One event to deliver to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id.
    pub id: i64,
    /// To which endpoint.
    pub webhook_id: i64,
    /// The event's feed number; `webhook-id` is `evt_` and this number.
    pub seq: i64,
    /// Its type (`media.deleted`).
    pub event_type: String,
    /// The media it is about: deliveries of one media item to one endpoint go in feed order.
    pub media_id: Option<MediaId>,
    /// The JSON body sent.
    pub payload: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: i32,
    /// When the next attempt is due (pending).
    pub next_attempt_at: OffsetDateTime,
    /// The last attempt's HTTP status, if the endpoint answered.
    pub last_status: Option<u16>,
    /// The last attempt's failure.
    pub last_error: Option<String>,
    /// When the event was turned into this delivery.
    pub created_at: OffsetDateTime,
    /// When the endpoint accepted it.
    pub delivered_at: Option<OffsetDateTime>,
}

/// A delivery to record for an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The event's feed number.
    pub seq: i64,
    /// Its type.
    pub event_type: String,
    /// The media it is about.
    pub media_id: Option<MediaId>,
    /// The JSON body.
    pub payload: String,
    /// Now: its first attempt is due at once.
    pub created_at: OffsetDateTime,
}

/// A delivery claimed for an attempt, with what sending it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    /// The delivery.
    pub delivery: Delivery,
    /// The endpoint's URL.
    pub url: String,
    /// The endpoint's signing secret.
    pub secret: String,
    /// The claim: only its holder records the attempt's outcome.
    pub token: String,
}

/// One attempt at a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// When it was made.
    pub at: OffsetDateTime,
    /// The endpoint's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why it failed (a non-2xx status, a timeout, a refused connection).
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryNext {
    /// Accepted: done.
    Delivered,
    /// Failed: try again at this time.
    RetryAt(OffsetDateTime),
    /// Failed for the last time: dead-lettered.
    Dead,
}

/// The outcome of sending one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    /// The HTTP status, if the endpoint answered.
    pub status: Option<u16>,
    /// Why it was not accepted; `None` for a 2xx.
    pub error: Option<String>,
}

/// A signed message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookMessage {
    /// Where.
    pub url: String,
    /// The signing secret.
    pub secret: String,
    /// `webhook-id`: the same for every attempt.
    pub id: String,
    /// `webhook-timestamp`: seconds since the epoch, of this attempt.
    pub timestamp: i64,
    /// The JSON body.
    pub body: String,
}

/// What one dispatcher round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DispatchReport {
    /// Deliveries recorded from new events.
    pub enqueued: usize,
    /// Attempts made.
    pub attempted: usize,
    /// Attempts the endpoint accepted.
    pub delivered: usize,
    /// Failed attempts scheduled again.
    pub retried: usize,
    /// Deliveries dead-lettered.
    pub dead: usize,
}

impl std::ops::AddAssign for DispatchReport {
    fn add_assign(&mut self, other: Self) {
        self.enqueued += other.enqueued;
        self.attempted += other.attempted;
        self.delivered += other.delivered;
        self.retried += other.retried;
        self.dead += other.dead;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_name_their_event_types() {
        assert_eq!(event_type_of("media_deleted"), Some("media.deleted"));
        assert_eq!(event_type_of("media_uploaded"), Some("media.uploaded"));
        assert_eq!(event_type_of("media_purged"), Some("media.purged"));
        assert_eq!(event_type_of("key_created"), None);
        assert_eq!(event_type_of("media_hold_placed"), None);
    }
}
