//! The delete transaction: rows, cascades, usage, events and pending blob records at once.
//!
//! Every statement is set-based (`IN (…)` over the batch, `= ANY($1)` with one bound array on
//! PostgreSQL) so that a bulk delete of a thousand ids costs a dozen statements, not thousands.
//! The rows are read and removed inside the same transaction (on SQLite the single writer
//! connection serializes it; on servers the read takes row locks), so a row that a concurrent
//! delete removed first is reported as `NotFound` to exactly one of the two callers, and every
//! request is judged by the domain against the row as it is locked.

use std::collections::{HashMap, HashSet};

use medialib_domain::service::verdict;
use medialib_domain::{
    BlobKey, DeleteOutcome, DeleteRequest, Hold, Judged, Media, PendingStatus, Permission, RefName,
    Refusal, Removed, RepoError, Snapshot, TenantId,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Statement, TransactionTrait,
};

use super::media::{permission, to_media, CHUNK};
use super::pending::{forget, pending_inserts};
use super::writes::Writes;
use super::{
    any_of, corrupt, db_err, event_row, finish, from_millis, media_id, usage_update, user,
    UsageDelta,
};
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
    let backend = conn.get_database_backend();
    for chunk in ids.chunks(CHUNK) {
        let rows = E::find()
            .select_only()
            .column_as(column, "owner")
            .column_as(Expr::col(column).count(), "n")
            .filter(any_of(backend, column, chunk.iter().copied()))
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

/// The ids that `found` has an entry for.
fn keyed<V>(ids: &[i64], found: &HashMap<i64, V>) -> Vec<i64> {
    ids.iter()
        .copied()
        .filter(|id| found.contains_key(id))
        .collect()
}

/// `DELETE FROM <table> WHERE <column> IN (ids)` (see [`any_of`]), a statement per chunk.
fn delete_in<E: EntityTrait>(
    writes: &mut Writes,
    backend: DbBackend,
    column: E::Column,
    ids: &[i64],
) {
    for chunk in ids.chunks(CHUNK) {
        writes.push(
            E::delete_many()
                .filter(any_of(backend, column, chunk.iter().copied()))
                .into_query(),
        );
    }
}

/// What hangs off a set of media rows, read in one round trip: holds, references, community
/// copies, derivatives, how many tag assignments and grants each has, and the grants
/// themselves (a delete by id is authorized with them).
#[derive(Debug, Default)]
pub(crate) struct Children {
    pub(crate) holds: HashMap<i64, Vec<Hold>>,
    pub(crate) refs: HashMap<i64, Vec<RefName>>,
    copies: HashMap<i64, (i64, String)>,
    derivatives: HashMap<i64, Vec<BlobKey>>,
    tags: HashMap<i64, u64>,
    grants: HashMap<i64, u64>,
    /// The permission each (media, user) grant gives, as stored.
    granted: HashMap<(i64, String), String>,
}

impl Children {
    /// The permission each (media, user) grant gives.
    pub(crate) fn permissions(&self) -> Result<HashMap<(i64, &str), Permission>, RepoError> {
        self.granted
            .iter()
            .map(|((media, user), raw)| Ok(((*media, user.as_str()), permission(raw)?)))
            .collect()
    }
}

#[derive(Debug, FromQueryResult)]
struct ChildRow {
    kind: String,
    media_id: i64,
    n: i64,
    label: String,
    extra: String,
    at: i64,
}

/// One `UNION ALL` over the child tables instead of a query per table: a delete is bound by
/// its round trips to the database.
pub(crate) async fn children<C: ConnectionTrait>(
    conn: &C,
    ids: &[i64],
) -> Result<Children, RepoError> {
    let mut out = Children::default();
    for chunk in ids.chunks(CHUNK) {
        // Bound, not inlined (ids written out into the text were measured: PostgreSQL plans
        // such a statement anew on every execution, which cost more than the round trips it
        // saved). On PostgreSQL the ids are one array, so the text is the same for every
        // batch and its generic plan is made once per connection; elsewhere the text depends
        // on the chunk's length only, and the driver's statement cache serves single deletes.
        let backend = conn.get_database_backend();
        let (ids_in, values): (String, Vec<sea_orm::Value>) = match backend {
            DbBackend::Postgres => ("= ANY($1)".to_owned(), vec![chunk.to_vec().into()]),
            _ => (
                format!("IN ({})", vec!["?"; chunk.len()].join(",")),
                (0..6)
                    .flat_map(|_| chunk.iter().map(|id| sea_orm::Value::from(*id)))
                    .collect(),
            ),
        };
        let sql = format!(
            "SELECT 'hold' AS kind, media_id, id AS n, reason AS label, created_by AS extra, \
                    created_at AS at FROM holds WHERE media_id {ids_in} \
             UNION ALL SELECT 'ref', media_id, 0, ref_name, '', 0 \
                    FROM media_references WHERE media_id {ids_in} \
             UNION ALL SELECT 'copy', media_id, id, blob_key, '', 0 \
                    FROM community_media WHERE media_id {ids_in} \
             UNION ALL SELECT 'derivative', media_id, 0, blob_key, '', 0 \
                    FROM derivatives WHERE media_id {ids_in} \
             UNION ALL SELECT 'tags', media_id, COUNT(*), '', '', 0 \
                    FROM media_tags WHERE media_id {ids_in} GROUP BY media_id \
             UNION ALL SELECT 'grant', media_id, 0, permission, user_id, 0 \
                    FROM access_grants WHERE media_id {ids_in}"
        );
        let statement = Statement::from_sql_and_values(backend, sql, values);
        let rows = ChildRow::find_by_statement(statement)
            .all(conn)
            .await
            .map_err(db_err)?;
        for row in rows {
            let count = u64::try_from(row.n).unwrap_or(0);
            match row.kind.as_str() {
                "hold" => out.holds.entry(row.media_id).or_default().push(Hold {
                    id: row.n,
                    media_id: media_id(row.media_id)?,
                    reason: row.label,
                    created_by: user(&row.extra)?,
                    created_at: from_millis(row.at)?,
                }),
                "ref" => out
                    .refs
                    .entry(row.media_id)
                    .or_default()
                    .push(RefName::parse(&row.label).map_err(|_| corrupt("reference"))?),
                "copy" => {
                    out.copies.insert(row.media_id, (row.n, row.label));
                }
                "derivative" => out
                    .derivatives
                    .entry(row.media_id)
                    .or_default()
                    .push(BlobKey::from_stored(row.label)),
                "tags" => {
                    out.tags.insert(row.media_id, count);
                }
                "grant" => {
                    *out.grants.entry(row.media_id).or_default() += 1;
                    out.granted.insert((row.media_id, row.extra), row.label);
                }
                _ => return Err(corrupt("child kind")),
            }
        }
    }
    for holds in out.holds.values_mut() {
        holds.sort_by_key(|hold| hold.id);
    }
    for names in out.refs.values_mut() {
        names.sort();
    }
    Ok(out)
}

/// The requested rows still there, locked, by id.
type Rows = HashMap<i64, Media>;

/// Deletes the requested rows that are still there, as the domain's verdict on each
/// ([`verdict::judge_deletes`]) allows, with everything hanging off them, in one transaction;
/// every request gets its own outcome. The pending deletions of `purged` blobs are forgotten
/// in the same transaction.
///
/// `BEGIN`, the row locks, the child tables, the writes (one statement on PostgreSQL) and
/// `COMMIT`.
pub(crate) async fn delete_media(
    db: &DatabaseConnection,
    requests: Vec<DeleteRequest>,
    purged: &[BlobKey],
) -> Result<Vec<Result<DeleteOutcome, RepoError>>, RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let backend = txn.get_database_backend();
    let result: Result<_, RepoError> = async {
        // Which of the requested rows are still there, as they are now? Only rows of the
        // requests' tenants are read (and locked): a delete by id of another tenant's row
        // neither sees nor holds it.
        let wanted: Vec<i64> = requests.iter().map(|r| r.media_id().get()).collect();
        let mut tenants: Vec<i64> = requests.iter().map(|r| r.tenant_id().0).collect();
        tenants.sort_unstable();
        tenants.dedup();
        let mut rows = Rows::new();
        for chunk in wanted.chunks(CHUNK) {
            let mut select = media::Entity::find()
                .filter(any_of(backend, media::Column::Id, chunk.iter().copied()))
                .filter(any_of(
                    backend,
                    media::Column::TenantId,
                    tenants.iter().copied(),
                ))
                // One lock order for every transaction keeps concurrent bulk deletes from
                // deadlocking each other.
                .order_by_asc(media::Column::Id);
            if backend != DbBackend::Sqlite {
                select = select.lock_exclusive();
            }
            for row in select.all(&txn).await.map_err(db_err)? {
                rows.insert(row.id, to_media(row, Vec::new())?);
            }
        }
        // Holds, references and grants are read under the row locks: one placed by a
        // concurrent call either committed before (and is seen here) or waits for this
        // transaction.
        let present: Vec<i64> = rows.keys().copied().collect();
        let found = children(&txn, &present).await?;
        let grants = found.permissions()?;
        let verdicts = verdict::judge_deletes(requests, |id, user| {
            let id = id.get();
            Some(Snapshot {
                media: rows.get(&id)?,
                holds: found.holds.get(&id).map_or(&[], Vec::as_slice),
                references: found.refs.get(&id).map_or(&[], Vec::as_slice),
                grant: grants.get(&(id, user.as_str())).copied(),
            })
        });
        // Read only where a delete meets a community copy (no statement for an empty list).
        let copies: Vec<i64> = found.copies.values().map(|(copy, _)| *copy).collect();
        let copy_tags =
            counts::<_, community_tag::Entity>(&txn, community_tag::Column::CommunityId, &copies)
                .await?;
        let (mut writes, outcomes) = decide(backend, verdicts, &rows, found, &copy_tags);
        // The pending deletions of blobs purged earlier: other rows than the ones these
        // deletes record.
        writes.extend(forget(backend, purged));
        writes.run(&txn).await?;
        Ok(outcomes)
    }
    .await;
    finish(txn, result).await
}

/// Collects the writes of the requests the verdicts let through; the refused ones get their
/// refusal.
fn decide(
    backend: DbBackend,
    verdicts: Vec<Result<Judged, Refusal>>,
    rows: &Rows,
    found: Children,
    copy_tag_counts: &HashMap<i64, u64>,
) -> (Writes, Vec<Result<DeleteOutcome, RepoError>>) {
    let taken: HashSet<i64> = verdicts
        .iter()
        .filter_map(|verdict| verdict.as_ref().ok())
        .map(|judged| judged.plan.media.id.get())
        .collect();
    let mut writes = Writes::default();
    let ids: Vec<i64> = taken.iter().copied().collect();
    if ids.is_empty() {
        // Every verdict is a refusal here.
        let refusals = verdicts
            .into_iter()
            .map(|verdict| Err(verdict.err().unwrap_or(Refusal::NotFound).into()))
            .collect();
        return (writes, refusals);
    }

    let copy_of: HashMap<i64, (i64, String)> = found
        .copies
        .into_iter()
        .filter(|(media, _)| taken.contains(media))
        .collect();
    let copy_ids: Vec<i64> = copy_of.values().map(|(copy, _)| *copy).collect();
    let tag_counts = found.tags;
    let grant_counts = found.grants;
    let mut derived = found.derivatives;
    // Only the tables that hold something for these rows are touched.
    let tagged = keyed(&ids, &tag_counts);
    let granted = keyed(&ids, &grant_counts);
    let referenced: Vec<i64> = verdicts
        .iter()
        .filter_map(|verdict| verdict.as_ref().ok())
        .filter(|judged| !judged.broken_references.is_empty())
        .map(|judged| judged.plan.media.id.get())
        .collect();
    let with_derivatives = keyed(&ids, &derived);

    // Every write from here on goes out together: the tables differ, so no two statements
    // touch the same row.
    delete_in::<community_tag::Entity>(
        &mut writes,
        backend,
        community_tag::Column::CommunityId,
        &copy_ids,
    );
    delete_in::<community::Entity>(&mut writes, backend, community::Column::Id, &copy_ids);
    delete_in::<media_tag::Entity>(&mut writes, backend, media_tag::Column::MediaId, &tagged);
    delete_in::<grant::Entity>(&mut writes, backend, grant::Column::MediaId, &granted);
    delete_in::<reference::Entity>(
        &mut writes,
        backend,
        reference::Column::MediaId,
        &referenced,
    );
    delete_in::<derivative::Entity>(
        &mut writes,
        backend,
        derivative::Column::MediaId,
        &with_derivatives,
    );
    delete_in::<media::Entity>(&mut writes, backend, media::Column::Id, &ids);

    let mut results = Vec::with_capacity(verdicts.len());
    let mut events = Vec::with_capacity(ids.len());
    let mut pending: Vec<(TenantId, BlobKey)> = Vec::with_capacity(ids.len());
    let mut usage: HashMap<TenantId, UsageDelta> = HashMap::new();
    let mut purge_after = None;
    for verdict in verdicts {
        let Judged {
            plan,
            broken_references: broken,
        } = match verdict {
            Ok(judged) => judged,
            Err(refusal) => {
                results.push(Err(refusal.into()));
                continue;
            }
        };
        purge_after.get_or_insert(plan.purge_after);
        let id = plan.media.id.get();
        let was_trashed = rows.get(&id).is_some_and(|row| row.trashed_at.is_some());
        let derivatives = derived.remove(&id).unwrap_or_default();
        let copy = copy_of.get(&id);
        let removed = Removed {
            community_copy: copy.is_some(),
            tag_assignments: tag_counts.get(&id).copied().unwrap_or(0)
                + copy
                    .and_then(|(copy, _)| copy_tag_counts.get(copy))
                    .copied()
                    .unwrap_or(0),
            access_grants: grant_counts.get(&id).copied().unwrap_or(0),
            derivatives: derivatives.len() as u64,
        };
        let mut keys = vec![plan.media.blob_key.clone()];
        if let Some((_, key)) = copy {
            keys.push(BlobKey::from_stored(key.clone()));
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
    writes.extend(
        usage
            .into_iter()
            .filter_map(|(tenant, delta)| usage_update(tenant, delta)),
    );
    for chunk in events.chunks(CHUNK) {
        writes.push(activity::Entity::insert_many(chunk.iter().cloned()).into_query());
    }
    if let Some(due) = purge_after {
        let mut by_tenant: HashMap<TenantId, Vec<BlobKey>> = HashMap::new();
        for (tenant, key) in pending {
            by_tenant.entry(tenant).or_default().push(key);
        }
        for (tenant, keys) in by_tenant {
            writes.extend(pending_inserts(
                Some(tenant),
                &keys,
                PendingStatus::Pending,
                due,
            ));
        }
    }
    (writes, results)
}
