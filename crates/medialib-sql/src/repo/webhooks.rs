//! Webhook endpoints and their delivery queue. The fan-out is a compare-and-set on the
//! endpoint's feed cursor in the transaction that records the deliveries; a claim is a lease
//! (`leased_until`, `lease_token`) taken by a conditional update per delivery, so instances
//! never send the same delivery at once while its lease runs, on every backend alike.

use medialib_domain::{
    ClaimedDelivery, Delivery, DeliveryAttempt, DeliveryNext, DeliveryStatus, NewDelivery,
    NewWebhook, RepoError, TenantId, Webhook, WebhookChange, Webhooks,
};
use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use time::OffsetDateTime;

use super::{corrupt, db_err, finish, from_millis, media_id, retrying, to_millis, SeaOrmMediaRepo};
use crate::entity::{webhook, webhook_attempt as attempt_row, webhook_delivery as delivery};

const PENDING: &str = "pending";

fn to_webhook(row: webhook::Model) -> Result<Webhook, RepoError> {
    Ok(Webhook {
        id: row.id,
        tenant_id: TenantId(row.tenant_id),
        url: row.url,
        secret: row.secret,
        event_types: row
            .event_types
            .split(',')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        description: row.description,
        enabled: row.enabled,
        created_at: from_millis(row.created_at)?,
        cursor: row.feed_cursor,
    })
}

fn to_delivery(row: delivery::Model) -> Result<Delivery, RepoError> {
    Ok(Delivery {
        id: row.id,
        webhook_id: row.webhook_id,
        seq: row.seq,
        event_type: row.event_type,
        media_id: Some(media_id(row.media_id)?),
        payload: row.payload,
        status: DeliveryStatus::parse(&row.status).ok_or(corrupt("delivery status"))?,
        attempts: row.attempts,
        next_attempt_at: from_millis(row.next_attempt_at)?,
        last_status: row.last_status.and_then(|s| u16::try_from(s).ok()),
        last_error: row.last_error,
        created_at: from_millis(row.created_at)?,
        delivered_at: row.delivered_at.map(from_millis).transpose()?,
    })
}

fn to_attempt(row: attempt_row::Model) -> Result<DeliveryAttempt, RepoError> {
    Ok(DeliveryAttempt {
        at: from_millis(row.at)?,
        status: row.status.and_then(|s| u16::try_from(s).ok()),
        error: row.error,
        duration_ms: row.duration_ms,
    })
}

fn of_tenant(tenant: TenantId, id: i64) -> Condition {
    Condition::all()
        .add(webhook::Column::TenantId.eq(tenant.0))
        .add(webhook::Column::Id.eq(id))
}

fn delivery_of(tenant: TenantId, webhook: i64, id: i64) -> Condition {
    Condition::all()
        .add(delivery::Column::TenantId.eq(tenant.0))
        .add(delivery::Column::WebhookId.eq(webhook))
        .add(delivery::Column::Id.eq(id))
}

/// An error of at most the first 1000 characters.
fn clipped(text: Option<String>) -> Option<String> {
    text.map(|text| text.chars().take(1000).collect())
}

#[async_trait::async_trait]
impl Webhooks for SeaOrmMediaRepo {
    async fn create_webhook(&self, new: NewWebhook) -> Result<Webhook, RepoError> {
        let row = webhook::ActiveModel {
            tenant_id: Set(new.tenant_id.0),
            url: Set(new.url),
            secret: Set(new.secret),
            event_types: Set(new.event_types.join(",")),
            description: Set(new.description),
            enabled: Set(true),
            created_at: Set(to_millis(new.created_at)),
            feed_cursor: Set(new.cursor),
            ..Default::default()
        }
        .insert(&self.writer)
        .await
        .map_err(db_err)?;
        to_webhook(row)
    }

    async fn list_webhooks(&self, tenant: TenantId) -> Result<Vec<Webhook>, RepoError> {
        webhook::Entity::find()
            .filter(webhook::Column::TenantId.eq(tenant.0))
            .order_by_asc(webhook::Column::Id)
            .all(&self.reader)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_webhook)
            .collect()
    }

    async fn enabled_webhooks(&self) -> Result<Vec<Webhook>, RepoError> {
        webhook::Entity::find()
            .filter(webhook::Column::Enabled.eq(true))
            .order_by_asc(webhook::Column::Id)
            .all(&self.reader)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_webhook)
            .collect()
    }

    async fn find_webhook(&self, tenant: TenantId, id: i64) -> Result<Option<Webhook>, RepoError> {
        webhook::Entity::find()
            .filter(of_tenant(tenant, id))
            .one(&self.writer)
            .await
            .map_err(db_err)?
            .map(to_webhook)
            .transpose()
    }

    async fn update_webhook(
        &self,
        tenant: TenantId,
        id: i64,
        change: WebhookChange,
    ) -> Result<Webhook, RepoError> {
        let mut values: Vec<(webhook::Column, sea_orm::Value)> = Vec::new();
        if let Some(url) = change.url {
            values.push((webhook::Column::Url, url.into()));
        }
        if let Some(types) = change.event_types {
            values.push((webhook::Column::EventTypes, types.join(",").into()));
        }
        if let Some(description) = change.description {
            values.push((webhook::Column::Description, description.into()));
        }
        if let Some(enabled) = change.enabled {
            values.push((webhook::Column::Enabled, enabled.into()));
        }
        if let Some(secret) = change.secret {
            values.push((webhook::Column::Secret, secret.into()));
        }
        if let Some(cursor) = change.cursor {
            values.push((webhook::Column::FeedCursor, cursor.into()));
        }
        // An update of nothing is a lookup: the caller learns whether the endpoint exists.
        if !values.is_empty() {
            let mut update = webhook::Entity::update_many().filter(of_tenant(tenant, id));
            for (column, value) in values {
                update = update.col_expr(column, Expr::value(value));
            }
            update.exec(&self.writer).await.map_err(db_err)?;
        }
        self.find_webhook(tenant, id)
            .await?
            .ok_or(RepoError::NotFound)
    }

    async fn delete_webhook(&self, tenant: TenantId, id: i64) -> Result<(), RepoError> {
        retrying(|| delete_endpoint(&self.writer, tenant, id)).await
    }

    async fn enqueue_deliveries(
        &self,
        webhook: i64,
        from: i64,
        to: i64,
        deliveries: Vec<NewDelivery>,
    ) -> Result<bool, RepoError> {
        retrying(|| enqueue(&self.writer, webhook, from, to, &deliveries)).await
    }

    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        until: OffsetDateTime,
        token: &str,
        limit: u64,
    ) -> Result<Vec<ClaimedDelivery>, RepoError> {
        let now = to_millis(now);
        let earlier = Alias::new("earlier");
        let col = |column: delivery::Column| (earlier.clone(), column);
        let outer = |column: delivery::Column| (delivery::Entity, column);
        // An earlier pending delivery of the same media to the same endpoint.
        let waits_for = Query::select()
            .expr(Expr::val(1))
            .from_as(delivery::Entity, earlier.clone())
            .and_where(
                Expr::col(col(delivery::Column::WebhookId))
                    .equals(outer(delivery::Column::WebhookId)),
            )
            .and_where(
                Expr::col(col(delivery::Column::MediaId)).equals(outer(delivery::Column::MediaId)),
            )
            .and_where(Expr::col(col(delivery::Column::Status)).eq(PENDING))
            .and_where(
                Expr::col(col(delivery::Column::Seq)).lt(Expr::col(outer(delivery::Column::Seq))),
            )
            .to_owned();
        let enabled = Query::select()
            .column(webhook::Column::Id)
            .from(webhook::Entity)
            .and_where(webhook::Column::Enabled.eq(true))
            .to_owned();
        let due = delivery::Entity::find()
            .filter(delivery::Column::Status.eq(PENDING))
            .filter(delivery::Column::NextAttemptAt.lte(now))
            .filter(delivery::Column::LeasedUntil.lte(now))
            .filter(delivery::Column::WebhookId.in_subquery(enabled))
            .filter(Expr::exists(waits_for).not())
            .order_by_asc(delivery::Column::NextAttemptAt)
            .order_by_asc(delivery::Column::Id)
            .limit(limit)
            .all(&self.writer)
            .await
            .map_err(db_err)?;
        let mut claimed = Vec::with_capacity(due.len());
        let mut endpoints: std::collections::HashMap<i64, webhook::Model> = Default::default();
        for row in due {
            // Taken only if no one took it since the scan, and still due (an attempt made
            // meanwhile may have scheduled the next one later).
            let taken = delivery::Entity::update_many()
                .col_expr(delivery::Column::LeasedUntil, Expr::value(to_millis(until)))
                .col_expr(delivery::Column::LeaseToken, Expr::value(token))
                .filter(delivery::Column::Id.eq(row.id))
                .filter(delivery::Column::Status.eq(PENDING))
                .filter(delivery::Column::LeasedUntil.eq(row.leased_until))
                .filter(delivery::Column::NextAttemptAt.lte(now))
                .exec(&self.writer)
                .await
                .map_err(db_err)?;
            if taken.rows_affected == 0 {
                continue;
            }
            let endpoint = match endpoints.entry(row.webhook_id) {
                std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    let Some(found) = webhook::Entity::find_by_id(row.webhook_id)
                        .one(&self.writer)
                        .await
                        .map_err(db_err)?
                    else {
                        continue;
                    };
                    slot.insert(found)
                }
            };
            claimed.push(ClaimedDelivery {
                url: endpoint.url.clone(),
                secret: endpoint.secret.clone(),
                token: token.to_owned(),
                delivery: to_delivery(row)?,
            });
        }
        Ok(claimed)
    }

    async fn record_attempt(
        &self,
        id: i64,
        token: &str,
        attempt: DeliveryAttempt,
        next: DeliveryNext,
    ) -> Result<bool, RepoError> {
        retrying(|| record(&self.writer, id, token, &attempt, next)).await
    }

    async fn list_deliveries(
        &self,
        tenant: TenantId,
        webhook: i64,
        status: Option<DeliveryStatus>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<Delivery>, RepoError> {
        let mut select = delivery::Entity::find()
            .filter(delivery::Column::TenantId.eq(tenant.0))
            .filter(delivery::Column::WebhookId.eq(webhook));
        if let Some(status) = status {
            select = select.filter(delivery::Column::Status.eq(status.as_str()));
        }
        if let Some(before) = before {
            select = select.filter(delivery::Column::Id.lt(before));
        }
        select
            .order_by_desc(delivery::Column::Id)
            .limit(limit)
            .all(&self.reader)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_delivery)
            .collect()
    }

    async fn find_delivery(
        &self,
        tenant: TenantId,
        webhook: i64,
        id: i64,
    ) -> Result<Option<(Delivery, Vec<DeliveryAttempt>)>, RepoError> {
        let Some(row) = delivery::Entity::find()
            .filter(delivery_of(tenant, webhook, id))
            .one(&self.writer)
            .await
            .map_err(db_err)?
        else {
            return Ok(None);
        };
        let attempts = attempt_row::Entity::find()
            .filter(attempt_row::Column::DeliveryId.eq(id))
            .order_by_asc(attempt_row::Column::Id)
            .all(&self.writer)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_attempt)
            .collect::<Result<_, _>>()?;
        Ok(Some((to_delivery(row)?, attempts)))
    }

    async fn forget_deliveries(&self, before: OffsetDateTime) -> Result<u64, RepoError> {
        retrying(|| forget(&self.writer, before)).await
    }

    async fn redeliver(
        &self,
        tenant: TenantId,
        webhook: i64,
        id: i64,
        now: OffsetDateTime,
    ) -> Result<Delivery, RepoError> {
        let updated = delivery::Entity::update_many()
            .col_expr(delivery::Column::Status, Expr::value(PENDING))
            .col_expr(delivery::Column::Attempts, Expr::value(0))
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(to_millis(now)))
            .col_expr(delivery::Column::LeasedUntil, Expr::value(0i64))
            .col_expr(delivery::Column::LeaseToken, Expr::value(None::<String>))
            .filter(delivery_of(tenant, webhook, id))
            .exec(&self.writer)
            .await
            .map_err(db_err)?;
        if updated.rows_affected == 0 {
            return Err(RepoError::NotFound);
        }
        self.find_delivery(tenant, webhook, id)
            .await?
            .map(|(delivery, _)| delivery)
            .ok_or(RepoError::NotFound)
    }
}

/// Removes an endpoint with its deliveries and their attempts, in one transaction.
async fn delete_endpoint(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: i64,
) -> Result<(), RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let result = async {
        let removed = webhook::Entity::delete_many()
            .filter(of_tenant(tenant, id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if removed.rows_affected == 0 {
            return Err(RepoError::NotFound);
        }
        attempt_row::Entity::delete_many()
            .filter(
                attempt_row::Column::DeliveryId.in_subquery(
                    Query::select()
                        .column(delivery::Column::Id)
                        .from(delivery::Entity)
                        .and_where(delivery::Column::WebhookId.eq(id))
                        .to_owned(),
                ),
            )
            .exec(&txn)
            .await
            .map_err(db_err)?;
        delivery::Entity::delete_many()
            .filter(delivery::Column::WebhookId.eq(id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        Ok(())
    }
    .await;
    finish(txn, result).await
}

/// Moves an endpoint's cursor from `from` to `to` and records its deliveries, in one
/// transaction; nothing when the cursor moved meanwhile.
async fn enqueue(
    db: &DatabaseConnection,
    webhook: i64,
    from: i64,
    to: i64,
    deliveries: &[NewDelivery],
) -> Result<bool, RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let result = async {
        let moved = webhook::Entity::update_many()
            .col_expr(webhook::Column::FeedCursor, Expr::value(to))
            .filter(webhook::Column::Id.eq(webhook))
            .filter(webhook::Column::Enabled.eq(true))
            .filter(webhook::Column::FeedCursor.eq(from))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if moved.rows_affected == 0 {
            return Ok(false);
        }
        let tenant = webhook::Entity::find_by_id(webhook)
            .select_only()
            .column(webhook::Column::TenantId)
            .into_tuple::<i64>()
            .one(&txn)
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?;
        let rows = deliveries
            .iter()
            .map(|new| {
                let media = new.media_id.ok_or(corrupt("delivery without media"))?;
                Ok(delivery::ActiveModel {
                    webhook_id: Set(webhook),
                    tenant_id: Set(tenant),
                    seq: Set(new.seq),
                    event_type: Set(new.event_type.clone()),
                    media_id: Set(media.get()),
                    payload: Set(new.payload.clone()),
                    status: Set(PENDING.into()),
                    attempts: Set(0),
                    next_attempt_at: Set(to_millis(new.created_at)),
                    leased_until: Set(0),
                    lease_token: Set(None),
                    last_status: Set(None),
                    last_error: Set(None),
                    created_at: Set(to_millis(new.created_at)),
                    delivered_at: Set(None),
                    ..Default::default()
                })
            })
            .collect::<Result<Vec<_>, RepoError>>()?;
        // Bounded by the dispatcher's batch; chunks keep each statement's parameters
        // under every backend's limit.
        for chunk in rows.chunks(100) {
            delivery::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&txn)
                .await
                .map_err(db_err)?;
        }
        Ok(true)
    }
    .await;
    finish(txn, result).await
}

/// Records an attempt and what follows it, under the claim of `token`, in one transaction.
async fn record(
    db: &DatabaseConnection,
    id: i64,
    token: &str,
    attempt: &DeliveryAttempt,
    next: DeliveryNext,
) -> Result<bool, RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let result = async {
        // A delivery removed meanwhile (its endpoint was deleted, or it was forgotten)
        // keeps no attempt.
        let exists = delivery::Entity::find_by_id(id)
            .select_only()
            .column(delivery::Column::Id)
            .into_tuple::<i64>()
            .one(&txn)
            .await
            .map_err(db_err)?;
        if exists.is_none() {
            return Ok(false);
        }
        attempt_row::ActiveModel {
            delivery_id: Set(id),
            at: Set(to_millis(attempt.at)),
            status: Set(attempt.status.map(i32::from)),
            error: Set(clipped(attempt.error.clone())),
            duration_ms: Set(attempt.duration_ms),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(db_err)?;
        let mut update = delivery::Entity::update_many()
            .col_expr(
                delivery::Column::Attempts,
                Expr::col(delivery::Column::Attempts).add(1),
            )
            .col_expr(delivery::Column::LeasedUntil, Expr::value(0i64))
            .col_expr(delivery::Column::LeaseToken, Expr::value(None::<String>))
            .col_expr(
                delivery::Column::LastStatus,
                Expr::value(attempt.status.map(i32::from)),
            )
            .col_expr(
                delivery::Column::LastError,
                Expr::value(clipped(attempt.error.clone())),
            );
        update = match next {
            DeliveryNext::Delivered => update
                .col_expr(
                    delivery::Column::Status,
                    Expr::value(DeliveryStatus::Delivered.as_str()),
                )
                .col_expr(
                    delivery::Column::DeliveredAt,
                    Expr::value(Some(to_millis(attempt.at))),
                ),
            DeliveryNext::RetryAt(at) => {
                update.col_expr(delivery::Column::NextAttemptAt, Expr::value(to_millis(at)))
            }
            DeliveryNext::Dead => update.col_expr(
                delivery::Column::Status,
                Expr::value(DeliveryStatus::Dead.as_str()),
            ),
        };
        let updated = update
            .filter(delivery::Column::Id.eq(id))
            .filter(delivery::Column::LeaseToken.eq(token))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        Ok(updated.rows_affected == 1)
    }
    .await;
    finish(txn, result).await
}

/// Forgets old finished deliveries with their attempts, in one transaction.
async fn forget(db: &DatabaseConnection, before: OffsetDateTime) -> Result<u64, RepoError> {
    let old = Condition::all()
        .add(delivery::Column::Status.ne(PENDING))
        .add(delivery::Column::CreatedAt.lt(to_millis(before)));
    let txn = db.begin().await.map_err(db_err)?;
    let result = async {
        attempt_row::Entity::delete_many()
            .filter(
                attempt_row::Column::DeliveryId.in_subquery(
                    Query::select()
                        .column(delivery::Column::Id)
                        .from(delivery::Entity)
                        .cond_where(old.clone())
                        .to_owned(),
                ),
            )
            .exec(&txn)
            .await
            .map_err(db_err)?;
        Ok(delivery::Entity::delete_many()
            .filter(old)
            .exec(&txn)
            .await
            .map_err(db_err)?
            .rows_affected)
    }
    .await;
    finish(txn, result).await
}
