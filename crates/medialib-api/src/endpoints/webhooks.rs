//! `/v1/webhooks`: the tenant's webhook endpoints and their deliveries (admins only).

use medialib_domain::{
    Delivery, DeliveryAttempt, DeliveryStatus, MediaService, Webhook, WebhookEdit,
};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use time::OffsetDateTime;

use super::ApiTags;
use crate::bounded::{Number, Tenant};
use crate::error::declared::*;
use crate::security::{actor, ApiKeyAuth};

/// Webhook endpoints.
#[derive(Debug, Clone)]
pub struct WebhooksApi {
    pub(crate) service: MediaService,
}

/// An event type a webhook can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "EventType")]
pub enum EventTypeDto {
    /// A media item was uploaded.
    #[oai(rename = "media.uploaded")]
    Uploaded,
    /// Its tags changed.
    #[oai(rename = "media.tagged")]
    Tagged,
    /// It was shared with the community.
    #[oai(rename = "media.shared")]
    Shared,
    /// Its community copy was removed.
    #[oai(rename = "media.unshared")]
    Unshared,
    /// It was moved to the trash.
    #[oai(rename = "media.trashed")]
    Trashed,
    /// It was restored from the trash.
    #[oai(rename = "media.restored")]
    Restored,
    /// It was deleted for good.
    #[oai(rename = "media.deleted")]
    Deleted,
    /// It was deleted for good from the trash (emptied, or by retention).
    #[oai(rename = "media.purged")]
    Purged,
}

impl EventTypeDto {
    const ALL: [Self; 8] = [
        Self::Uploaded,
        Self::Tagged,
        Self::Shared,
        Self::Unshared,
        Self::Trashed,
        Self::Restored,
        Self::Deleted,
        Self::Purged,
    ];

    /// The wire name, as the domain names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uploaded => "media.uploaded",
            Self::Tagged => "media.tagged",
            Self::Shared => "media.shared",
            Self::Unshared => "media.unshared",
            Self::Trashed => "media.trashed",
            Self::Restored => "media.restored",
            Self::Deleted => "media.deleted",
            Self::Purged => "media.purged",
        }
    }

    fn of(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

fn names(types: Option<Vec<EventTypeDto>>) -> Option<Vec<String>> {
    types.map(|types| types.into_iter().map(|t| t.as_str().to_owned()).collect())
}

/// A webhook endpoint.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Webhook")]
pub struct WebhookDto {
    /// Its id.
    pub id: i64,
    /// Where events are POSTed.
    pub url: String,
    /// The signing secret (`whsec_` and base64), for the Standard Webhooks libraries that
    /// verify `webhook-signature`.
    pub secret: String,
    /// The event types it receives; empty: all.
    pub event_types: Vec<EventTypeDto>,
    /// A note for people.
    pub description: String,
    /// A disabled endpoint receives nothing.
    pub enabled: bool,
    /// When it was added.
    pub created_at: OffsetDateTime,
}

impl From<Webhook> for WebhookDto {
    fn from(webhook: Webhook) -> Self {
        Self {
            id: webhook.id,
            url: webhook.url,
            secret: webhook.secret,
            event_types: webhook
                .event_types
                .iter()
                .filter_map(|t| EventTypeDto::of(t))
                .collect(),
            description: webhook.description,
            enabled: webhook.enabled,
            created_at: webhook.created_at,
        }
    }
}

/// The tenant's webhook endpoints, oldest first.
#[derive(Debug, Clone, Object)]
pub struct WebhookList {
    /// The endpoints.
    pub items: Vec<WebhookDto>,
}

/// A webhook endpoint to add.
#[derive(Debug, Clone, Object)]
pub struct CreateWebhookRequest {
    /// Where to POST events: an `http://` or `https://` URL.
    #[oai(validator(min_length = 1, max_length = 2048))]
    pub url: String,
    /// The event types to receive; absent or empty: all.
    pub event_types: Option<Vec<EventTypeDto>>,
    /// A note for people.
    #[oai(validator(max_length = 500))]
    pub description: Option<String>,
}

/// What to change on a webhook endpoint; absent fields stay.
#[derive(Debug, Clone, Object)]
pub struct UpdateWebhookRequest {
    /// A new URL.
    #[oai(validator(min_length = 1, max_length = 2048))]
    pub url: Option<String>,
    /// New event types; empty: all.
    pub event_types: Option<Vec<EventTypeDto>>,
    /// A new description.
    #[oai(validator(max_length = 500))]
    pub description: Option<String>,
    /// `false` stops deliveries; `true` resumes them with events from now on.
    pub enabled: Option<bool>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
#[oai(rename = "DeliveryStatus")]
pub enum DeliveryStatusDto {
    /// Waiting for its next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed; redeliver to try again.
    Dead,
}

impl From<DeliveryStatus> for DeliveryStatusDto {
    fn from(status: DeliveryStatus) -> Self {
        match status {
            DeliveryStatus::Pending => Self::Pending,
            DeliveryStatus::Delivered => Self::Delivered,
            DeliveryStatus::Dead => Self::Dead,
        }
    }
}

impl DeliveryStatusDto {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }
}

/// One event's delivery to one endpoint.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(rename = "Delivery")]
pub struct DeliveryDto {
    /// Its id.
    pub id: i64,
    /// The endpoint.
    pub webhook_id: i64,
    /// `webhook-id` of the messages: `evt_` and the event's place in the changes feed, the
    /// same on every attempt (receivers deduplicate by it).
    pub event_id: String,
    /// The event's place in the changes feed.
    pub seq: i64,
    pub event_type: EventTypeDto,
    /// The media it is about.
    pub media_id: Option<i64>,
    pub status: DeliveryStatusDto,
    /// Attempts made since it was recorded or last redelivered.
    pub attempts: i32,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: OffsetDateTime,
    /// The last attempt's HTTP status, if the endpoint answered.
    pub last_status: Option<u16>,
    /// The last attempt's failure.
    pub last_error: Option<String>,
    /// When the event was recorded for this endpoint.
    pub created_at: OffsetDateTime,
    /// When the endpoint accepted it.
    pub delivered_at: Option<OffsetDateTime>,
    /// The JSON body sent: `type`, `timestamp` and `data` (`seq`, `media_id`, `actor_id`,
    /// `details`).
    pub payload: serde_json::Value,
}

impl From<Delivery> for DeliveryDto {
    fn from(delivery: Delivery) -> Self {
        Self {
            id: delivery.id,
            webhook_id: delivery.webhook_id,
            event_id: format!("evt_{}", delivery.seq),
            seq: delivery.seq,
            event_type: EventTypeDto::of(&delivery.event_type).unwrap_or(EventTypeDto::Deleted),
            media_id: delivery.media_id.map(|id| id.get()),
            status: delivery.status.into(),
            attempts: delivery.attempts,
            next_attempt_at: delivery.next_attempt_at,
            last_status: delivery.last_status,
            last_error: delivery.last_error,
            created_at: delivery.created_at,
            delivered_at: delivery.delivered_at,
            payload: serde_json::from_str(&delivery.payload).unwrap_or_default(),
        }
    }
}

/// One attempt at a delivery.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(rename = "DeliveryAttempt")]
pub struct DeliveryAttemptDto {
    /// When it was made.
    pub at: OffsetDateTime,
    /// The endpoint's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

impl From<DeliveryAttempt> for DeliveryAttemptDto {
    fn from(attempt: DeliveryAttempt) -> Self {
        Self {
            at: attempt.at,
            status: attempt.status,
            error: attempt.error,
            duration_ms: attempt.duration_ms,
        }
    }
}

/// A delivery with every attempt at it, oldest first.
#[derive(Debug, Clone, Object)]
pub struct DeliveryDetail {
    pub delivery: DeliveryDto,
    /// Its attempts, including those before a redelivery.
    pub attempts: Vec<DeliveryAttemptDto>,
}

/// A page of deliveries, newest first.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DeliveryPage {
    /// The deliveries.
    pub items: Vec<DeliveryDto>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// 201 with the new endpoint.
#[derive(Debug, ApiResponse)]
pub enum WebhookCreated {
    /// Added.
    #[oai(status = 201)]
    Created(Json<WebhookDto>),
}

/// 204 without a body.
#[derive(Debug, ApiResponse)]
pub enum WebhookRemoved {
    /// Removed.
    #[oai(status = 204)]
    NoContent,
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Webhooks")]
impl WebhooksApi {
    /// Add a webhook endpoint
    ///
    /// Admins only. The endpoint receives, at least once, every event of its types committed
    /// from now on, as a JSON POST signed the Standard Webhooks way (`webhook-id`,
    /// `webhook-timestamp`, `webhook-signature`: HMAC-SHA256 with `secret`). One media item's
    /// events reach it in order; a failed delivery is retried with exponential backoff and
    /// jitter and dead-lettered after the server's `webhook_max_attempts`.
    #[oai(path = "/webhooks", method = "post", operation_id = "create_webhook")]
    async fn create_webhook(
        &self,
        auth: ApiKeyAuth,
        body: Json<CreateWebhookRequest>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<WebhookCreated, Errors<{ JSON_BODY }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let body = body.0;
        let webhook = self
            .service
            .create_webhook(
                &actor,
                &body.url,
                names(body.event_types).unwrap_or_default(),
                body.description,
            )
            .await?;
        Ok(WebhookCreated::Created(Json(webhook.into())))
    }

    /// List webhook endpoints
    ///
    /// Admins only.
    #[oai(path = "/webhooks", method = "get", operation_id = "list_webhooks")]
    async fn list_webhooks(
        &self,
        auth: ApiKeyAuth,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<WebhookList>, Errors<{ BASE }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let items = self.service.list_webhooks(&actor).await?;
        Ok(Json(WebhookList {
            items: items.into_iter().map(Into::into).collect(),
        }))
    }

    /// Get a webhook endpoint
    ///
    /// Admins only.
    #[oai(path = "/webhooks/:id", method = "get", operation_id = "get_webhook")]
    async fn get_webhook(
        &self,
        auth: ApiKeyAuth,
        /// Webhook id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<WebhookDto>, Errors<{ BASE | NOT_FOUND }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        Ok(Json(self.service.get_webhook(&actor, id.0).await?.into()))
    }

    /// Change a webhook endpoint
    ///
    /// Admins only. Disabling stops deliveries (pending ones wait); enabling resumes them
    /// with the events committed from then on.
    #[oai(
        path = "/webhooks/:id",
        method = "patch",
        operation_id = "update_webhook"
    )]
    async fn update_webhook(
        &self,
        auth: ApiKeyAuth,
        /// Webhook id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        body: Json<UpdateWebhookRequest>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<WebhookDto>, Errors<{ JSON_BODY | NOT_FOUND }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let body = body.0;
        let edit = WebhookEdit {
            url: body.url,
            event_types: names(body.event_types),
            description: body.description,
            enabled: body.enabled,
        };
        Ok(Json(
            self.service
                .update_webhook(&actor, id.0, edit)
                .await?
                .into(),
        ))
    }

    /// Remove a webhook endpoint
    ///
    /// Admins only. Its pending deliveries are dropped.
    #[oai(
        path = "/webhooks/:id",
        method = "delete",
        operation_id = "delete_webhook"
    )]
    async fn delete_webhook(
        &self,
        auth: ApiKeyAuth,
        /// Webhook id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<WebhookRemoved, Errors<{ BASE | NOT_FOUND }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        self.service.delete_webhook(&actor, id.0).await?;
        Ok(WebhookRemoved::NoContent)
    }

    /// Rotate a webhook's signing secret
    ///
    /// Admins only. Attempts made from now on are signed with the new secret.
    #[oai(
        path = "/webhooks/:id/rotate-secret",
        method = "post",
        operation_id = "rotate_webhook_secret"
    )]
    async fn rotate_webhook_secret(
        &self,
        auth: ApiKeyAuth,
        /// Webhook id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<WebhookDto>, Errors<{ BASE | NOT_FOUND }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        Ok(Json(
            self.service
                .rotate_webhook_secret(&actor, id.0)
                .await?
                .into(),
        ))
    }

    /// List a webhook's deliveries
    ///
    /// Admins only. Newest first; `status=dead` lists the dead letters.
    #[oai(
        path = "/webhooks/:id/deliveries",
        method = "get",
        operation_id = "list_deliveries"
    )]
    async fn list_deliveries(
        &self,
        auth: ApiKeyAuth,
        /// Webhook id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Only this status.
        status: Query<Option<DeliveryStatusDto>>,
        /// Page size, 1 to 1000 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Option<u64>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<Number>>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<DeliveryPage>, Errors<{ BASE | NOT_FOUND }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let page = self
            .service
            .list_deliveries(
                &actor,
                id.0,
                status.0.map(DeliveryStatusDto::as_str),
                limit.0,
                cursor.0.as_deref(),
            )
            .await?;
        Ok(Json(DeliveryPage {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }))
    }

    /// Get a delivery with its attempts
    ///
    /// Admins only.
    #[oai(
        path = "/webhooks/:id/deliveries/:delivery_id",
        method = "get",
        operation_id = "get_delivery"
    )]
    async fn get_delivery(
        &self,
        auth: ApiKeyAuth,
        /// Webhook id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Delivery id.
        #[oai(validator(minimum(value = "1")))]
        delivery_id: Path<i64>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<DeliveryDetail>, Errors<{ BASE | NOT_FOUND }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        let (delivery, attempts) = self
            .service
            .get_delivery(&actor, id.0, delivery_id.0)
            .await?;
        Ok(Json(DeliveryDetail {
            delivery: delivery.into(),
            attempts: attempts.into_iter().map(Into::into).collect(),
        }))
    }

    /// Deliver again
    ///
    /// Admins only. Makes the delivery pending and due now with a fresh count of attempts,
    /// whatever its status: a dead letter is revived, a delivered event is sent once more.
    #[oai(
        path = "/webhooks/:id/deliveries/:delivery_id/redeliver",
        method = "post",
        operation_id = "redeliver"
    )]
    async fn redeliver(
        &self,
        auth: ApiKeyAuth,
        /// Webhook id.
        #[oai(validator(minimum(value = "1")))]
        id: Path<i64>,
        /// Delivery id.
        #[oai(validator(minimum(value = "1")))]
        delivery_id: Path<i64>,
        /// Optional; must be the API key's tenant.
        tenant: Query<Option<Tenant>>,
    ) -> Result<Json<DeliveryDto>, Errors<{ BASE | NOT_FOUND }>> {
        let actor = actor(&self.service, &auth.0.token, tenant.0.as_deref()).await?;
        Ok(Json(
            self.service
                .redeliver(&actor, id.0, delivery_id.0)
                .await?
                .into(),
        ))
    }
}
