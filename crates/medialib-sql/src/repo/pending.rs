//! Pending deletions: records of blobs to delete, upload intents, the reaper's claims, and the
//! reconciler's lookups.

use medialib_domain::{BlobKey, Media, PendingBlob, PendingStatus, RepoError, TenantId};
use sea_orm::sea_query::{
    DeleteStatement, Expr, InsertStatement, LockBehavior, LockType, OnConflict,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, TransactionTrait,
};
use time::OffsetDateTime;

use super::media::{with_tags, CHUNK};
use super::writes::Writes;
use super::{any_of, corrupt, db_err, finish, from_millis, to_millis};
use crate::entity::{community, derivative, media, pending};

/// Records blobs inside a transaction. A key already recorded takes the new status and due
/// time (an upload intent becoming a deletion, say).
pub(crate) async fn insert_pending<C: ConnectionTrait>(
    conn: &C,
    tenant: Option<TenantId>,
    keys: &[BlobKey],
    status: PendingStatus,
    due: OffsetDateTime,
) -> Result<(), RepoError> {
    let mut writes = Writes::default();
    writes.extend(pending_inserts(tenant, keys, status, due));
    writes.run(conn).await
}

/// The statements recording `keys` (an existing record takes the new status and due time).
pub(crate) fn pending_inserts(
    tenant: Option<TenantId>,
    keys: &[BlobKey],
    status: PendingStatus,
    due: OffsetDateTime,
) -> Vec<InsertStatement> {
    let now = to_millis(OffsetDateTime::now_utc());
    keys.chunks(CHUNK)
        .map(|chunk| {
            let rows = chunk.iter().map(|key| pending::ActiveModel {
                blob_key: Set(key.as_str().to_owned()),
                attempts: Set(0),
                next_attempt_at: Set(to_millis(due)),
                last_error: Set(None),
                created_at: Set(now),
                tenant_id: Set(tenant.map(|t| t.0)),
                status: Set(status.as_str().to_owned()),
                lease_until: Set(None),
                ..Default::default()
            });
            pending::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::column(pending::Column::BlobKey)
                        .update_columns([pending::Column::Status, pending::Column::NextAttemptAt])
                        .to_owned(),
                )
                .into_query()
        })
        .collect()
}

/// Removes the upload intent of a blob inside a transaction; false when there was none.
pub(crate) async fn take_upload_intent<C: ConnectionTrait>(
    conn: &C,
    key: &BlobKey,
) -> Result<bool, RepoError> {
    let result = pending::Entity::delete_many()
        .filter(pending::Column::BlobKey.eq(key.as_str()))
        .filter(pending::Column::Status.eq(PendingStatus::Upload.as_str()))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(result.rows_affected > 0)
}

fn to_pending(row: pending::Model) -> Result<PendingBlob, RepoError> {
    Ok(PendingBlob {
        id: row.id,
        blob_key: BlobKey::from_stored(row.blob_key),
        tenant_id: row.tenant_id.map(TenantId),
        status: PendingStatus::parse(&row.status).map_err(|_| corrupt("pending status"))?,
        attempts: row.attempts,
        next_attempt_at: from_millis(row.next_attempt_at)?,
        last_error: row.last_error,
        created_at: from_millis(row.created_at)?,
    })
}

pub(crate) async fn claim(
    db: &DatabaseConnection,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: u64,
    after: Option<i64>,
) -> Result<Vec<PendingBlob>, RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let result: Result<_, RepoError> = async {
        let now = to_millis(now);
        let mut select = pending::Entity::find()
            .filter(pending::Column::Status.is_in([
                PendingStatus::Pending.as_str(),
                PendingStatus::Upload.as_str(),
            ]))
            .filter(pending::Column::NextAttemptAt.lte(now))
            .filter(
                sea_orm::Condition::any()
                    .add(pending::Column::LeaseUntil.is_null())
                    .add(pending::Column::LeaseUntil.lte(now)),
            )
            .order_by_asc(pending::Column::Id)
            .limit(limit);
        if let Some(after) = after {
            select = select.filter(pending::Column::Id.gt(after));
        }
        if txn.get_database_backend() != DbBackend::Sqlite {
            select = select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = select.all(&txn).await.map_err(db_err)?;
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        let backend = txn.get_database_backend();
        for chunk in ids.chunks(CHUNK) {
            pending::Entity::update_many()
                .col_expr(
                    pending::Column::LeaseUntil,
                    Expr::value(to_millis(lease_until)),
                )
                .filter(any_of(backend, pending::Column::Id, chunk.iter().copied()))
                .exec(&txn)
                .await
                .map_err(db_err)?;
        }
        rows.into_iter().map(to_pending).collect()
    }
    .await;
    finish(txn, result).await
}

pub(crate) async fn complete(db: &DatabaseConnection, keys: &[BlobKey]) -> Result<(), RepoError> {
    let mut writes = Writes::default();
    writes.extend(forget(db.get_database_backend(), keys));
    writes.run(db).await
}

/// The statements that forget the pending deletions of `keys` (a statement per chunk).
pub(crate) fn forget(backend: DbBackend, keys: &[BlobKey]) -> Vec<DeleteStatement> {
    keys.chunks(CHUNK)
        .map(|chunk| {
            pending::Entity::delete_many()
                .filter(any_of(backend, pending::Column::BlobKey, owned(chunk)))
                .into_query()
        })
        .collect()
}

pub(crate) async fn fail(
    db: &DatabaseConnection,
    id: i64,
    retry_at: Option<OffsetDateTime>,
    error: &str,
) -> Result<(), RepoError> {
    let mut update = pending::Entity::update_many()
        .col_expr(
            pending::Column::Attempts,
            Expr::col(pending::Column::Attempts).add(1),
        )
        .col_expr(
            pending::Column::LastError,
            Expr::value(error.chars().take(1000).collect::<String>()),
        )
        .col_expr(
            pending::Column::LeaseUntil,
            Expr::value(Option::<i64>::None),
        );
    update = match retry_at {
        Some(at) => update
            .col_expr(pending::Column::NextAttemptAt, Expr::value(to_millis(at)))
            .col_expr(
                pending::Column::Status,
                Expr::value(PendingStatus::Pending.as_str()),
            ),
        None => update.col_expr(
            pending::Column::Status,
            Expr::value(PendingStatus::Failed.as_str()),
        ),
    };
    update
        .filter(pending::Column::Id.eq(id))
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn list(
    db: &DatabaseConnection,
    tenant: TenantId,
    status: Option<PendingStatus>,
    before_id: Option<i64>,
    limit: u64,
) -> Result<Vec<PendingBlob>, RepoError> {
    let mut select = pending::Entity::find().filter(pending::Column::TenantId.eq(tenant.0));
    if let Some(status) = status {
        select = select.filter(pending::Column::Status.eq(status.as_str()));
    }
    if let Some(before) = before_id {
        select = select.filter(pending::Column::Id.lt(before));
    }
    select
        .order_by_desc(pending::Column::Id)
        .limit(limit)
        .all(db)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(to_pending)
        .collect()
}

pub(crate) async fn requeue(
    db: &DatabaseConnection,
    tenant: TenantId,
    ids: Option<Vec<i64>>,
    now: OffsetDateTime,
) -> Result<u64, RepoError> {
    let mut update = pending::Entity::update_many()
        .col_expr(
            pending::Column::Status,
            Expr::value(PendingStatus::Pending.as_str()),
        )
        .col_expr(pending::Column::Attempts, Expr::value(0))
        .col_expr(pending::Column::NextAttemptAt, Expr::value(to_millis(now)))
        .col_expr(
            pending::Column::LeaseUntil,
            Expr::value(Option::<i64>::None),
        )
        .filter(pending::Column::TenantId.eq(tenant.0))
        .filter(pending::Column::Status.eq(PendingStatus::Failed.as_str()));
    if let Some(ids) = ids {
        update = update.filter(any_of(db.get_database_backend(), pending::Column::Id, ids));
    }
    Ok(update.exec(db).await.map_err(db_err)?.rows_affected)
}

pub(crate) async fn known_keys(
    db: &DatabaseConnection,
    keys: &[BlobKey],
) -> Result<Vec<BlobKey>, RepoError> {
    let mut known = Vec::new();
    let backend = db.get_database_backend();
    for chunk in keys.chunks(CHUNK) {
        let from_media: Vec<String> = media::Entity::find()
            .select_only()
            .column(media::Column::BlobKey)
            .filter(any_of(backend, media::Column::BlobKey, owned(chunk)))
            .into_tuple()
            .all(db)
            .await
            .map_err(db_err)?;
        let from_community: Vec<String> = community::Entity::find()
            .select_only()
            .column(community::Column::BlobKey)
            .filter(any_of(backend, community::Column::BlobKey, owned(chunk)))
            .into_tuple()
            .all(db)
            .await
            .map_err(db_err)?;
        let from_pending: Vec<String> = pending::Entity::find()
            .select_only()
            .column(pending::Column::BlobKey)
            .filter(any_of(backend, pending::Column::BlobKey, owned(chunk)))
            .into_tuple()
            .all(db)
            .await
            .map_err(db_err)?;
        let from_derivatives: Vec<String> = derivative::Entity::find()
            .select_only()
            .column(derivative::Column::BlobKey)
            .filter(any_of(backend, derivative::Column::BlobKey, owned(chunk)))
            .into_tuple()
            .all(db)
            .await
            .map_err(db_err)?;
        known.extend(
            from_media
                .into_iter()
                .chain(from_community)
                .chain(from_derivatives)
                .chain(from_pending)
                .map(BlobKey::from_stored),
        );
    }
    Ok(known)
}

pub(crate) async fn scan_media(
    db: &DatabaseConnection,
    after: i64,
    limit: u64,
) -> Result<Vec<Media>, RepoError> {
    let rows = media::Entity::find()
        .filter(media::Column::Id.gt(after))
        .order_by_asc(media::Column::Id)
        .limit(limit)
        .all(db)
        .await
        .map_err(db_err)?;
    with_tags(db, rows).await
}

/// The keys as owned strings, to be bound.
fn owned(keys: &[BlobKey]) -> impl Iterator<Item = String> + '_ {
    keys.iter().map(|key| key.as_str().to_owned())
}
