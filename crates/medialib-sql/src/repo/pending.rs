//! Pending deletions: records of blobs to delete, upload intents, the reaper's claims, and the
//! reconciler's lookups.

use std::collections::HashSet;

use medialib_domain::{
    BlobKey, ClaimedPass, Media, PendingBlob, PendingClaim, PendingCount, PendingFailure,
    PendingStatus, RepoError, TenantId,
};
use sea_orm::sea_query::extension::mysql::{IndexHintScope, MySqlSelectStatementExt};
use sea_orm::sea_query::{
    Alias, DeleteStatement, Expr, InsertStatement, LockBehavior, LockType, OnConflict,
    UpdateStatement,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, EntityTrait, IsolationLevel, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    TransactionTrait,
};
use time::OffsetDateTime;

use super::media::{with_tags, CHUNK};
use super::writes::Writes;
use super::{any_of, corrupt, db_err, finish, from_millis, retrying, to_millis};
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

/// The due records of a pass: `pending` or `upload`, due by `now`, under no live lease, oldest
/// first.
fn due(now: OffsetDateTime, limit: u64, after: Option<i64>) -> sea_orm::Select<pending::Entity> {
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
    select
}

/// Claims a reaper pass. On PostgreSQL and MariaDB the records' rows stay locked in a
/// transaction that the pass's settlement commits: nothing is written to claim, and the rows
/// are free again the moment the transaction ends, however it ends. On SQLite, whose single
/// writer cannot be held for a pass, the claim writes a lease.
pub(crate) async fn claim_pass(
    db: &DatabaseConnection,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: u64,
    after: Option<i64>,
) -> Result<ClaimedPass, RepoError> {
    if db.get_database_backend() == DbBackend::Sqlite {
        let records = retrying(|| lease(db, now, lease_until, limit, after)).await?;
        let ids = records.iter().map(|p| p.id).collect();
        return Ok(ClaimedPass {
            records,
            claim: Box::new(Claim::Leased {
                db: db.clone(),
                ids,
            }),
        });
    }
    let (records, txn) = retrying(|| lock(db, now, limit, after)).await?;
    if records.is_empty() {
        txn.commit().await.map_err(db_err)?;
        return Ok(ClaimedPass {
            records,
            claim: Box::new(Claim::Empty),
        });
    }
    Ok(ClaimedPass {
        records,
        claim: Box::new(Claim::Locked(txn)),
    })
}

/// Locks a pass's records in a transaction left open. MariaDB's transaction reads committed
/// data, so that its locking scan keeps no lock on the rows it passes over (nor on the gaps
/// between them, where deletes insert new records) while the pass is worked.
async fn lock(
    db: &DatabaseConnection,
    now: OffsetDateTime,
    limit: u64,
    after: Option<i64>,
) -> Result<(Vec<PendingBlob>, DatabaseTransaction), RepoError> {
    let backend = db.get_database_backend();
    let txn = match backend {
        DbBackend::MySql => db.begin_with_config(Some(IsolationLevel::ReadCommitted), None),
        _ => db.begin(),
    }
    .await
    .map_err(db_err)?;
    let mut select = due(now, limit, after);
    if backend == DbBackend::MySql {
        // Over the due index, InnoDB sorts every due row by id and keeps each one it read
        // locked: the pass would hold them all. Walking the primary key stops at `limit`.
        QuerySelect::query(&mut select).force_index(Alias::new("PRIMARY"), IndexHintScope::All);
    }
    let rows = select
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(&txn)
        .await
        .map_err(db_err)
        .and_then(|rows| rows.into_iter().map(to_pending).collect());
    match rows {
        Ok(records) => Ok((records, txn)),
        Err(err) => finish(txn, Err(err)).await,
    }
}

/// Claims records by writing their lease (SQLite).
async fn lease(
    db: &DatabaseConnection,
    now: OffsetDateTime,
    lease_until: OffsetDateTime,
    limit: u64,
    after: Option<i64>,
) -> Result<Vec<PendingBlob>, RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let result: Result<_, RepoError> = async {
        let rows = due(now, limit, after).all(&txn).await.map_err(db_err)?;
        let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
        let mut writes = Writes::default();
        writes.extend(by_ids(txn.get_database_backend(), &ids, |update| {
            update.col_expr(
                pending::Column::LeaseUntil,
                Expr::value(to_millis(lease_until)),
            )
        }));
        writes.run(&txn).await?;
        rows.into_iter().map(to_pending).collect()
    }
    .await;
    finish(txn, result).await
}

/// A pass's hold on its records.
#[derive(Debug)]
enum Claim {
    /// Nothing was claimed.
    Empty,
    /// The rows are locked by this open transaction.
    Locked(DatabaseTransaction),
    /// The rows `ids` carry a lease.
    Leased {
        db: DatabaseConnection,
        ids: Vec<i64>,
    },
}

#[async_trait::async_trait]
impl PendingClaim for Claim {
    async fn settle(
        self: Box<Self>,
        purged: &[i64],
        failures: &[PendingFailure],
    ) -> Result<(), RepoError> {
        match *self {
            Self::Empty => Ok(()),
            Self::Locked(txn) => {
                let result = settlement(txn.get_database_backend(), purged, failures, &[])
                    .run(&txn)
                    .await;
                finish(txn, result).await
            }
            Self::Leased { db, ids } => {
                let worked: HashSet<i64> = purged
                    .iter()
                    .copied()
                    .chain(failures.iter().map(|f| f.id))
                    .collect();
                let rest: Vec<i64> = ids.into_iter().filter(|id| !worked.contains(id)).collect();
                retrying(|| async {
                    let txn = db.begin().await.map_err(db_err)?;
                    let result = settlement(db.get_database_backend(), purged, failures, &rest)
                        .run(&txn)
                        .await;
                    finish(txn, result).await
                })
                .await
            }
        }
    }
}

/// The writes that settle a pass: forget `purged`, record `failures`, release the lease of
/// `rest`.
fn settlement(
    backend: DbBackend,
    purged: &[i64],
    failures: &[PendingFailure],
    rest: &[i64],
) -> Writes {
    let mut writes = Writes::default();
    writes.extend(purged.chunks(CHUNK).map(|chunk| {
        pending::Entity::delete_many()
            .filter(any_of(backend, pending::Column::Id, chunk.iter().copied()))
            .into_query()
    }));
    writes.extend(failures.iter().map(failure));
    writes.extend(by_ids(backend, rest, |update| {
        update.col_expr(
            pending::Column::LeaseUntil,
            Expr::value(Option::<i64>::None),
        )
    }));
    writes
}

/// An update of the records `ids` (a statement per chunk).
fn by_ids(
    backend: DbBackend,
    ids: &[i64],
    set: impl Fn(sea_orm::UpdateMany<pending::Entity>) -> sea_orm::UpdateMany<pending::Entity>,
) -> Vec<UpdateStatement> {
    ids.chunks(CHUNK)
        .map(|chunk| {
            set(pending::Entity::update_many())
                .filter(any_of(backend, pending::Column::Id, chunk.iter().copied()))
                .into_query()
        })
        .collect()
}

/// The update recording a failed attempt: the next one at `retry_at`, or parked as `failed`.
fn failure(failure: &PendingFailure) -> UpdateStatement {
    let update = pending::Entity::update_many()
        .col_expr(
            pending::Column::Attempts,
            Expr::col(pending::Column::Attempts).add(1),
        )
        .col_expr(
            pending::Column::LastError,
            Expr::value(failure.error.chars().take(1000).collect::<String>()),
        )
        .col_expr(
            pending::Column::LeaseUntil,
            Expr::value(Option::<i64>::None),
        );
    match failure.retry_at {
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
    }
    .filter(pending::Column::Id.eq(failure.id))
    .into_query()
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

pub(crate) async fn summary(db: &DatabaseConnection) -> Result<Vec<PendingCount>, RepoError> {
    let rows: Vec<(String, i64, i64)> = pending::Entity::find()
        .select_only()
        .column(pending::Column::Status)
        .column_as(pending::Column::Id.count(), "count")
        .column_as(pending::Column::CreatedAt.min(), "oldest")
        .group_by(pending::Column::Status)
        .into_tuple()
        .all(db)
        .await
        .map_err(db_err)?;
    rows.into_iter()
        .map(|(status, count, oldest)| {
            Ok(PendingCount {
                status: PendingStatus::parse(&status).map_err(|_| corrupt("pending status"))?,
                count: u64::try_from(count).map_err(|_| corrupt("pending count"))?,
                oldest: from_millis(oldest)?,
            })
        })
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
