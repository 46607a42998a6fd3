//! The delete transaction: rows, cascades, usage, events and pending blob records at once.
//!
//! Every statement is set-based (`IN (…)` over the batch) so that a bulk delete of a thousand
//! ids costs a dozen statements, not thousands. The rows are read and removed inside the same
//! transaction (on SQLite the single writer connection serializes it; on servers the read takes
//! row locks), so a row that a concurrent delete removed first is reported as `NotFound` to
//! exactly one of the two callers.

use std::collections::{HashMap, HashSet};

use medialib_domain::{
    BlobKey, DeleteOutcome, DeletePlan, Hold, PendingStatus, RefName, Removed, RepoError, TenantId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use super::lifecycle::{holds_of, references_of};
use super::media::CHUNK;
use super::pending::insert_pending;
use super::{add_usage, db_err, event_row, finish, UsageDelta};
use crate::entity::{
    activity, community, community_tag, derivative, grant, media, media_tag, reference,
};

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
        let mut live: HashMap<i64, (i64, Option<i64>)> = HashMap::new();
        for chunk in wanted.chunks(CHUNK) {
            let mut select = media::Entity::find()
                .select_only()
                .column(media::Column::Id)
                .column(media::Column::TenantId)
                .column(media::Column::TrashedAt)
                .filter(media::Column::Id.is_in(chunk.iter().copied()))
                // One lock order for every transaction keeps concurrent bulk deletes from
                // deadlocking each other.
                .order_by_asc(media::Column::Id);
            if txn.get_database_backend() != DbBackend::Sqlite {
                select = select.lock_exclusive();
            }
            let rows: Vec<(i64, i64, Option<i64>)> =
                select.into_tuple().all(&txn).await.map_err(db_err)?;
            live.extend(
                rows.into_iter()
                    .map(|(id, tenant, trashed)| (id, (tenant, trashed))),
            );
        }
        // Holds and references are read under the row locks: one placed by a concurrent call
        // either committed before (and is seen here) or waits for this transaction.
        let present: Vec<i64> = live.keys().copied().collect();
        let mut holds: HashMap<i64, Vec<Hold>> = holds_of(&txn, &present).await?;
        let mut refs: HashMap<i64, Vec<RefName>> = references_of(&txn, &present).await?;
        let mut taken: HashSet<i64> = HashSet::new();
        let mut verdicts: Vec<Result<Vec<RefName>, RepoError>> = Vec::with_capacity(plans.len());
        for plan in &plans {
            let id = plan.media.id.get();
            let verdict = match live.get(&id) {
                // Conditional on tenant and state: a plan made for a live row does not delete
                // it once it was trashed meanwhile, nor a purge a row restored meanwhile.
                Some((tenant, trashed))
                    if *tenant == plan.media.tenant_id.0
                        && trashed.is_some() == plan.media.trashed_at.is_some()
                        && !taken.contains(&id) =>
                {
                    if let Some(held) = holds.remove(&id) {
                        Err(RepoError::Held(held))
                    } else {
                        match refs.remove(&id) {
                            Some(names) if !plan.force => Err(RepoError::InUse(names)),
                            names => {
                                taken.insert(id);
                                Ok(names.unwrap_or_default())
                            }
                        }
                    }
                }
                _ => Err(RepoError::NotFound),
            };
            verdicts.push(verdict);
        }
        let ids: Vec<i64> = taken.iter().copied().collect();
        if ids.is_empty() {
            // Every verdict is a refusal here.
            return Ok(verdicts
                .into_iter()
                .map(|verdict| Err(verdict.err().unwrap_or(RepoError::NotFound)))
                .collect());
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
        let mut derived: HashMap<i64, Vec<BlobKey>> = HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let rows: Vec<(i64, String)> = derivative::Entity::find()
                .select_only()
                .column(derivative::Column::MediaId)
                .column(derivative::Column::BlobKey)
                .filter(derivative::Column::MediaId.is_in(chunk.iter().copied()))
                .into_tuple()
                .all(&txn)
                .await
                .map_err(db_err)?;
            for (media, key) in rows {
                derived
                    .entry(media)
                    .or_default()
                    .push(BlobKey::from_stored(key));
            }
        }

        delete_in::<_, community_tag::Entity>(&txn, community_tag::Column::CommunityId, &copy_ids)
            .await?;
        delete_in::<_, community::Entity>(&txn, community::Column::Id, &copy_ids).await?;
        delete_in::<_, media_tag::Entity>(&txn, media_tag::Column::MediaId, &ids).await?;
        delete_in::<_, grant::Entity>(&txn, grant::Column::MediaId, &ids).await?;
        delete_in::<_, reference::Entity>(&txn, reference::Column::MediaId, &ids).await?;
        delete_in::<_, derivative::Entity>(&txn, derivative::Column::MediaId, &ids).await?;
        delete_in::<_, media::Entity>(&txn, media::Column::Id, &ids).await?;

        let mut results = Vec::with_capacity(plans.len());
        let mut events = Vec::with_capacity(ids.len());
        let mut pending: Vec<(TenantId, BlobKey)> = Vec::with_capacity(ids.len());
        let mut usage: HashMap<TenantId, UsageDelta> = HashMap::new();
        let purge_after = plans.first().map(|p| p.purge_after);
        for (plan, verdict) in plans.into_iter().zip(verdicts) {
            let broken = match verdict {
                Ok(broken) => broken,
                Err(err) => {
                    results.push(Err(err));
                    continue;
                }
            };
            let id = plan.media.id.get();
            let was_trashed = live.get(&id).is_some_and(|(_, trashed)| trashed.is_some());
            let derivatives = derived.remove(&id).unwrap_or_default();
            let copy = copy_of.get(&id);
            let removed = Removed {
                community_copy: copy.is_some(),
                tag_assignments: tag_counts.get(&id).copied().unwrap_or(0)
                    + copy
                        .and_then(|c| copy_tag_counts.get(&c.id))
                        .copied()
                        .unwrap_or(0),
                access_grants: grant_counts.get(&id).copied().unwrap_or(0),
                derivatives: derivatives.len() as u64,
            };
            let mut keys = vec![plan.media.blob_key.clone()];
            if let Some(copy) = copy {
                keys.push(BlobKey::from_stored(copy.blob_key.clone()));
            }
            keys.extend(derivatives);
            pending.extend(keys.iter().map(|key| (plan.media.tenant_id, key.clone())));
            // The row's own state decides which usage it leaves, not the plan's snapshot.
            let entry = usage.entry(plan.media.tenant_id).or_default();
            if was_trashed {
                entry.trashed_count -= 1;
                entry.trashed_bytes -= plan.media.size_bytes;
            } else {
                entry.count -= 1;
                entry.bytes -= plan.media.size_bytes;
            }
            events.push(event_row(plan.event(&removed, was_trashed, &broken), None));
            results.push(Ok(DeleteOutcome {
                media: plan.media,
                removed,
                pending: keys,
                was_trashed,
                broken_references: broken,
            }));
        }
        for (tenant, delta) in usage {
            add_usage(&txn, tenant, delta).await?;
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
