//! The delete transaction: rows, cascades, usage, events and pending blob records at once.
//!
//! Every statement is set-based (`IN (…)` over the batch) so that a bulk delete of a thousand
//! ids costs a dozen statements, not thousands. The rows are read and removed inside the same
//! transaction (on SQLite the single writer connection serializes it; on servers the read takes
//! row locks), so a row that a concurrent delete removed first is reported as `NotFound` to
//! exactly one of the two callers.

use std::collections::{HashMap, HashSet};

use medialib_domain::{
    BlobKey, DeleteOutcome, DeletePlan, PendingStatus, Removed, RepoError, TenantId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use super::media::CHUNK;
use super::pending::insert_pending;
use super::{add_usage, db_err, event_row, finish};
use crate::entity::{activity, community, community_tag, grant, media, media_tag};

#[derive(Debug, FromQueryResult)]
struct Count {
    owner: i64,
    n: i64,
}

/// `SELECT <owner>, COUNT(*) … WHERE <owner> IN (ids) GROUP BY <owner>` for a child table.
async fn counts<C, E>(
    conn: &C,
    column: E::Column,
    ids: &[i64],
) -> Result<HashMap<i64, u64>, RepoError>
where
    C: ConnectionTrait,
    E: EntityTrait,
{
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows = E::find()
            .select_only()
            .column_as(column, "owner")
            .column_as(Expr::col(column).count(), "n")
            .filter(column.is_in(chunk.iter().copied()))
            .group_by(column)
            .into_model::<Count>()
            .all(conn)
            .await
            .map_err(db_err)?;
        for row in rows {
            out.insert(row.owner, u64::try_from(row.n).unwrap_or(0));
        }
    }
    Ok(out)
}

async fn delete_in<C, E>(conn: &C, column: E::Column, ids: &[i64]) -> Result<(), RepoError>
where
    C: ConnectionTrait,
    E: EntityTrait,
{
    for chunk in ids.chunks(CHUNK) {
        E::delete_many()
            .filter(column.is_in(chunk.iter().copied()))
            .exec(conn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

pub(crate) async fn delete_media(
    db: &DatabaseConnection,
    plans: Vec<DeletePlan>,
) -> Result<Vec<Result<DeleteOutcome, RepoError>>, RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let result: Result<_, RepoError> = async {
        // Which of the planned rows are still there (and still in the planned tenant)?
        let wanted: Vec<i64> = plans.iter().map(|p| p.media.id.get()).collect();
        let mut live: HashMap<i64, i64> = HashMap::new();
        for chunk in wanted.chunks(CHUNK) {
            let mut select = media::Entity::find()
                .select_only()
                .column(media::Column::Id)
                .column(media::Column::TenantId)
                .filter(media::Column::Id.is_in(chunk.iter().copied()))
                // One lock order for every transaction keeps concurrent bulk deletes from
                // deadlocking each other.
                .order_by_asc(media::Column::Id);
            if txn.get_database_backend() != DbBackend::Sqlite {
                select = select.lock_exclusive();
            }
            let rows: Vec<(i64, i64)> = select.into_tuple().all(&txn).await.map_err(db_err)?;
            live.extend(rows);
        }
        let mut taken: HashSet<i64> = HashSet::new();
        let accepted: Vec<bool> = plans
            .iter()
            .map(|plan| {
                let id = plan.media.id.get();
                live.get(&id) == Some(&plan.media.tenant_id.0) && taken.insert(id)
            })
            .collect();
        let ids: Vec<i64> = taken.iter().copied().collect();
        if ids.is_empty() {
            return Ok(plans.iter().map(|_| Err(RepoError::NotFound)).collect());
        }

        let copies: Vec<community::Model> = {
            let mut rows = Vec::new();
            for chunk in ids.chunks(CHUNK) {
                rows.extend(
                    community::Entity::find()
                        .filter(community::Column::MediaId.is_in(chunk.iter().copied()))
                        .all(&txn)
                        .await
                        .map_err(db_err)?,
                );
            }
            rows
        };
        let copy_ids: Vec<i64> = copies.iter().map(|c| c.id).collect();
        let copy_of: HashMap<i64, &community::Model> =
            copies.iter().map(|c| (c.media_id, c)).collect();

        let tag_counts =
            counts::<_, media_tag::Entity>(&txn, media_tag::Column::MediaId, &ids).await?;
        let copy_tag_counts =
            counts::<_, community_tag::Entity>(&txn, community_tag::Column::CommunityId, &copy_ids)
                .await?;
        let grant_counts = counts::<_, grant::Entity>(&txn, grant::Column::MediaId, &ids).await?;

        delete_in::<_, community_tag::Entity>(&txn, community_tag::Column::CommunityId, &copy_ids)
            .await?;
        delete_in::<_, community::Entity>(&txn, community::Column::Id, &copy_ids).await?;
        delete_in::<_, media_tag::Entity>(&txn, media_tag::Column::MediaId, &ids).await?;
        delete_in::<_, grant::Entity>(&txn, grant::Column::MediaId, &ids).await?;
        delete_in::<_, media::Entity>(&txn, media::Column::Id, &ids).await?;

        let mut results = Vec::with_capacity(plans.len());
        let mut events = Vec::with_capacity(ids.len());
        let mut pending: Vec<(TenantId, BlobKey)> = Vec::with_capacity(ids.len());
        let mut usage: HashMap<TenantId, (i64, i64)> = HashMap::new();
        let purge_after = plans.first().map(|p| p.purge_after);
        for (plan, ok) in plans.into_iter().zip(accepted) {
            if !ok {
                results.push(Err(RepoError::NotFound));
                continue;
            }
            let id = plan.media.id.get();
            let copy = copy_of.get(&id);
            let removed = Removed {
                community_copy: copy.is_some(),
                tag_assignments: tag_counts.get(&id).copied().unwrap_or(0)
                    + copy
                        .and_then(|c| copy_tag_counts.get(&c.id))
                        .copied()
                        .unwrap_or(0),
                access_grants: grant_counts.get(&id).copied().unwrap_or(0),
            };
            let mut keys = vec![plan.media.blob_key.clone()];
            if let Some(copy) = copy {
                keys.push(BlobKey::from_stored(copy.blob_key.clone()));
            }
            pending.extend(keys.iter().map(|key| (plan.media.tenant_id, key.clone())));
            let entry = usage.entry(plan.media.tenant_id).or_default();
            entry.0 -= 1;
            entry.1 -= plan.media.size_bytes;
            events.push(event_row(plan.event(&removed), None));
            results.push(Ok(DeleteOutcome {
                media: plan.media,
                removed,
                pending: keys,
            }));
        }
        for (tenant, (count, bytes)) in usage {
            add_usage(&txn, tenant, count, bytes).await?;
        }
        for chunk in events.chunks(CHUNK) {
            activity::Entity::insert_many(chunk.iter().cloned())
                .exec_without_returning(&txn)
                .await
                .map_err(db_err)?;
        }
        if let Some(due) = purge_after {
            let mut by_tenant: HashMap<TenantId, Vec<BlobKey>> = HashMap::new();
            for (tenant, key) in pending {
                by_tenant.entry(tenant).or_default().push(key);
            }
            for (tenant, keys) in by_tenant {
                insert_pending(&txn, Some(tenant), &keys, PendingStatus::Pending, due).await?;
            }
        }
        Ok(results)
    }
    .await;
    finish(txn, result).await
}
