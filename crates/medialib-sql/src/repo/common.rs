//! Statements several transactions share: activity events, deletes by condition, usage deltas.

use super::*;

/// Inserts one activity event inside a transaction.
pub(crate) async fn insert_event<C: ConnectionTrait>(
    conn: &C,
    event: NewActivity,
    media: Option<MediaId>,
) -> Result<(), RepoError> {
    activity::Entity::insert(event_row(event, media))
        .exec_without_returning(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Deletes the rows of `E` matching `condition` and records `event`, in one transaction.
///
/// # Errors
/// [`RepoError::NotFound`] when no row matched (then nothing is recorded).
pub(crate) async fn delete_where<E: EntityTrait>(
    db: &DatabaseConnection,
    condition: sea_orm::Condition,
    event: NewActivity,
    media: MediaId,
) -> Result<(), RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let result: Result<_, RepoError> = async {
        let removed = E::delete_many()
            .filter(condition)
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if removed.rows_affected == 0 {
            return Err(RepoError::NotFound);
        }
        insert_event(&txn, event, Some(media)).await
    }
    .await;
    finish(txn, result).await
}

pub(crate) fn event_row(event: NewActivity, media: Option<MediaId>) -> activity::ActiveModel {
    activity::ActiveModel {
        tenant_id: Set(event.tenant_id.0),
        actor_id: Set(event.actor_id.as_str().to_owned()),
        action: Set(event.action.to_owned()),
        media_id: Set(event.media_id.or(media).map(MediaId::get)),
        details: Set(event.details.to_string()),
        created_at: Set(to_millis(event.created_at)),
        ..Default::default()
    }
}

/// A change to a tenant's usage: live and trashed media apart.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct UsageDelta {
    pub(crate) count: i64,
    pub(crate) bytes: i64,
    pub(crate) trashed_count: i64,
    pub(crate) trashed_bytes: i64,
}

impl UsageDelta {
    /// One live item of `bytes` added (negative: removed).
    pub(crate) fn live(count: i64, bytes: i64) -> Self {
        Self {
            count,
            bytes,
            ..Self::default()
        }
    }

    /// `items` live items of `bytes` moved to the trash (negative: restored from it).
    pub(crate) fn trashed(items: i64, bytes: i64) -> Self {
        Self {
            count: -items,
            bytes: -bytes,
            trashed_count: items,
            trashed_bytes: bytes,
        }
    }
}

/// Applies a usage change inside a transaction.
pub(crate) async fn add_usage<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    delta: UsageDelta,
) -> Result<(), RepoError> {
    let mut writes = writes::Writes::default();
    writes.extend(usage_update(tenant, delta));
    writes.run(conn).await
}

/// The statement applying `delta` to the tenant's usage; none when nothing changes.
pub(crate) fn usage_update(
    tenant: TenantId,
    delta: UsageDelta,
) -> Option<sea_orm::sea_query::UpdateStatement> {
    use sea_orm::sea_query::Expr;
    let columns = [
        (usage::Column::MediaCount, delta.count),
        (usage::Column::BytesUsed, delta.bytes),
        (usage::Column::TrashedCount, delta.trashed_count),
        (usage::Column::TrashedBytes, delta.trashed_bytes),
    ];
    if columns.iter().all(|(_, change)| *change == 0) {
        return None;
    }
    let mut update = usage::Entity::update_many();
    for (column, change) in columns {
        if change != 0 {
            update = update.col_expr(column, Expr::col(column).add(change));
        }
    }
    Some(
        update
            .filter(usage::Column::TenantId.eq(tenant.0))
            .into_query(),
    )
}
