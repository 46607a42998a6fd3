//! [`SeaOrmMediaRepo`]: the `MediaRepo` port over SeaORM.
//!
//! # Backend policy
//! - SQLite runs in WAL mode with a busy timeout, and every write goes through one connection
//!   (a pool of size one), so concurrent writers queue instead of failing with `SQLITE_BUSY`;
//!   reads use a separate pool and see committed snapshots.
//! - Every port method that changes anything runs in exactly one transaction.
//! - Unique violations become [`RepoError::Conflict`]; connection failures
//!   [`RepoError::Unavailable`]; anything else [`RepoError::Backend`].

mod common;
mod connect;
mod convert;
mod delete;
mod errors;
mod idempotency;
mod jobs;
mod lifecycle;
mod media;
mod pending;
mod webhooks;
mod writes;

use std::time::Duration;

use medialib_domain::{
    Activity, ActivityLog, ActivityQuery, ApiKey, ApiKeys, BlobKey, Catalog, ChangeLog,
    ClaimedPass, CommunityItem, DeleteBlockers, DeleteOutcome, DeleteRepo, DeleteRequest,
    Derivative, Grant, Hold, Lifecycle, Media, MediaAccess, MediaId, MediaPath, MediaQuery,
    MediaRepo, MediaState, NewActivity, NewMedia, PendingBlob, PendingCount, PendingDeletions,
    PendingStatus, RefName, Reference, RepoError, Role, SequencedActivity, SettingsChange, Sharing,
    StoredApiKey, Tag, Tenant, TenantId, TenantSettings, TenantSlug, Tenants, ThumbnailState,
    TrashRequest, Usage, UserId,
};
use sea_orm::sea_query::extension::postgres::PgFunc;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, RuntimeErr,
    SqlErr, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use time::OffsetDateTime;

use crate::entity::{activity, api_key, change_sequence, tenant, usage};
use crate::migration::Migrator;

pub(crate) use common::*;
pub use connect::{PoolUsage, SqlConfig};
pub(crate) use convert::*;
pub(crate) use errors::*;

/// The SeaORM implementation of [`MediaRepo`].
#[derive(Debug, Clone)]
pub struct SeaOrmMediaRepo {
    writer: DatabaseConnection,
    reader: DatabaseConnection,
}

#[async_trait::async_trait]
impl MediaRepo for SeaOrmMediaRepo {
    async fn ping(&self) -> Result<(), RepoError> {
        self.reader.ping().await.map_err(unavailable)
    }
}

#[async_trait::async_trait]
impl Tenants for SeaOrmMediaRepo {
    async fn create_tenant(
        &self,
        slug: &TenantSlug,
        at: OffsetDateTime,
    ) -> Result<Tenant, RepoError> {
        let txn = self.writer.begin().await.map_err(db_err)?;
        let result: Result<_, RepoError> = async {
            let row = tenant::ActiveModel {
                slug: Set(slug.as_str().to_owned()),
                created_at: Set(to_millis(at)),
                ..Default::default()
            };
            let id = tenant::Entity::insert(row)
                .exec(&txn)
                .await
                .map_err(db_err)?
                .last_insert_id;
            usage::Entity::insert(usage::ActiveModel {
                tenant_id: Set(id),
                media_count: Set(0),
                bytes_used: Set(0),
                trashed_count: Set(0),
                trashed_bytes: Set(0),
            })
            .exec_without_returning(&txn)
            .await
            .map_err(db_err)?;
            Ok(Tenant {
                id: TenantId(id),
                slug: slug.clone(),
                created_at: at,
                settings: TenantSettings::default(),
            })
        }
        .await;
        finish(txn, result).await
    }

    async fn find_tenant(&self, slug: &TenantSlug) -> Result<Option<Tenant>, RepoError> {
        tenant::Entity::find()
            .filter(tenant::Column::Slug.eq(slug.as_str()))
            .one(&self.reader)
            .await
            .map_err(db_err)?
            .map(to_tenant)
            .transpose()
    }

    async fn usage(&self, tenant: TenantId) -> Result<Usage, RepoError> {
        Ok(usage::Entity::find_by_id(tenant.0)
            .one(&self.reader)
            .await
            .map_err(db_err)?
            .map(|row| Usage {
                media_count: row.media_count,
                bytes_used: row.bytes_used,
                trashed_count: row.trashed_count,
                trashed_bytes: row.trashed_bytes,
            })
            .unwrap_or_default())
    }

    async fn usage_visible_to(&self, tenant: TenantId, user: &UserId) -> Result<Usage, RepoError> {
        media::usage_visible_to(&self.reader, tenant, user).await
    }

    async fn update_tenant_settings(
        &self,
        tenant: TenantId,
        change: SettingsChange,
        event: NewActivity,
    ) -> Result<TenantSettings, RepoError> {
        retrying(|| lifecycle::update_tenant_settings(&self.writer, tenant, change, event.clone()))
            .await
    }
}

#[async_trait::async_trait]
impl ApiKeys for SeaOrmMediaRepo {
    async fn create_api_key(&self, key: StoredApiKey) -> Result<(), RepoError> {
        let row = api_key::ActiveModel {
            id: Set(key.key.id),
            tenant_id: Set(key.key.tenant_id.0),
            user_id: Set(key.key.user_id.as_str().to_owned()),
            role: Set(key.key.role.as_str().to_owned()),
            secret_hash: Set(key.secret_hash),
            created_at: Set(to_millis(key.key.created_at)),
            revoked_at: Set(None),
            expires_at: Set(key.key.expires_at.map(to_millis)),
            last_used_at: Set(None),
        };
        api_key::Entity::insert(row)
            .exec_without_returning(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn find_api_key(&self, id: &str) -> Result<Option<StoredApiKey>, RepoError> {
        // Every authenticated request runs this: one query, the tenant joined in.
        let Some((key, tenant)) = api_key::Entity::find_by_id(id.to_owned())
            .find_also_related(tenant::Entity)
            .one(&self.reader)
            .await
            .map_err(db_err)?
        else {
            return Ok(None);
        };
        let tenant = to_tenant(tenant.ok_or(corrupt("key tenant"))?)?;
        to_api_key(key, tenant.slug, tenant.settings).map(Some)
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, RepoError> {
        let tenants: std::collections::HashMap<i64, TenantSlug> = tenant::Entity::find()
            .all(&self.reader)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|t| to_tenant(t).map(|t| (t.id.0, t.slug)))
            .collect::<Result<_, _>>()?;
        api_key::Entity::find()
            .order_by_asc(api_key::Column::CreatedAt)
            .all(&self.reader)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|key| {
                let slug = tenants
                    .get(&key.tenant_id)
                    .cloned()
                    .ok_or(corrupt("key tenant"))?;
                to_api_key(key, slug, TenantSettings::default()).map(|stored| stored.key)
            })
            .collect()
    }

    async fn revoke_api_key(&self, id: &str, at: OffsetDateTime) -> Result<(), RepoError> {
        use sea_orm::sea_query::Expr;
        let result = api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(to_millis(at)))
            .filter(api_key::Column::Id.eq(id))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&self.writer)
            .await
            .map_err(db_err)?;
        if result.rows_affected == 0 {
            return Err(RepoError::NotFound);
        }
        Ok(())
    }

    async fn expire_api_key(&self, id: &str, at: OffsetDateTime) -> Result<(), RepoError> {
        use sea_orm::sea_query::{Condition, Expr};
        let key = api_key::Entity::find_by_id(id.to_owned())
            .filter(api_key::Column::RevokedAt.is_null())
            .one(&self.writer)
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?;
        // An earlier expiry stays: rotating twice never lengthens a key's life.
        api_key::Entity::update_many()
            .col_expr(api_key::Column::ExpiresAt, Expr::value(to_millis(at)))
            .filter(api_key::Column::Id.eq(key.id))
            .filter(
                Condition::any()
                    .add(api_key::Column::ExpiresAt.is_null())
                    .add(api_key::Column::ExpiresAt.gt(to_millis(at))),
            )
            .exec(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn touch_api_keys(&self, uses: &[(String, OffsetDateTime)]) -> Result<(), RepoError> {
        use sea_orm::sea_query::{Condition, Expr};
        for (id, at) in uses {
            let at = to_millis(*at);
            api_key::Entity::update_many()
                .col_expr(api_key::Column::LastUsedAt, Expr::value(at))
                .filter(api_key::Column::Id.eq(id.as_str()))
                .filter(
                    Condition::any()
                        .add(api_key::Column::LastUsedAt.is_null())
                        .add(api_key::Column::LastUsedAt.lt(at)),
                )
                .exec(&self.writer)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Catalog for SeaOrmMediaRepo {
    async fn insert_media(&self, new: NewMedia, event: NewActivity) -> Result<Media, RepoError> {
        retrying(|| media::insert_media(&self.writer, new.clone(), event.clone())).await
    }

    async fn find_media_access(
        &self,
        tenant: TenantId,
        ids: &[MediaId],
        user: &UserId,
    ) -> Result<Vec<MediaAccess>, RepoError> {
        media::find_media_access(&self.reader, tenant, ids, user, MediaState::Live, true).await
    }

    async fn find_media_to_delete(
        &self,
        tenant: TenantId,
        ids: &[MediaId],
        user: &UserId,
        state: MediaState,
    ) -> Result<Vec<MediaAccess>, RepoError> {
        media::find_media_access(&self.reader, tenant, ids, user, state, false).await
    }

    async fn find_media_by_path(
        &self,
        tenant: TenantId,
        owner: &UserId,
        path: &MediaPath,
        user: &UserId,
    ) -> Result<Option<MediaAccess>, RepoError> {
        media::find_media_by_path(&self.reader, tenant, owner, path, user).await
    }

    async fn list_media(
        &self,
        tenant: TenantId,
        query: &MediaQuery,
    ) -> Result<Vec<Media>, RepoError> {
        media::list_media(&self.reader, tenant, query).await
    }

    async fn set_tags(
        &self,
        tenant: TenantId,
        id: MediaId,
        tags: &[Tag],
        event: NewActivity,
    ) -> Result<Media, RepoError> {
        retrying(|| media::set_tags(&self.writer, tenant, id, tags, event.clone())).await
    }

    async fn record_upload_intent(
        &self,
        tenant: TenantId,
        key: &BlobKey,
        expires_at: OffsetDateTime,
    ) -> Result<(), RepoError> {
        pending::insert_pending(
            &self.writer,
            Some(tenant),
            std::slice::from_ref(key),
            PendingStatus::Upload,
            expires_at,
        )
        .await
    }

    async fn scan_media(&self, after: i64, limit: u64) -> Result<Vec<Media>, RepoError> {
        pending::scan_media(&self.reader, after, limit).await
    }

    async fn find_trashed_media(
        &self,
        tenant: TenantId,
        ids: &[MediaId],
        user: &UserId,
    ) -> Result<Vec<MediaAccess>, RepoError> {
        media::find_media_access(&self.reader, tenant, ids, user, MediaState::Trashed, true).await
    }

    async fn find_any_media(
        &self,
        tenant: TenantId,
        id: MediaId,
    ) -> Result<Option<Media>, RepoError> {
        lifecycle::find_any_media(&self.reader, tenant, id).await
    }

    async fn insert_derivative(&self, derivative: Derivative) -> Result<(), RepoError> {
        retrying(|| lifecycle::insert_derivative(&self.writer, derivative.clone())).await
    }

    async fn set_thumbnail_state(
        &self,
        id: MediaId,
        state: ThumbnailState,
    ) -> Result<(), RepoError> {
        lifecycle::set_thumbnail_state(&self.writer, id, state).await
    }

    async fn find_derivative(
        &self,
        id: MediaId,
        kind: &'static str,
    ) -> Result<Option<Derivative>, RepoError> {
        lifecycle::find_derivative(&self.reader, id, kind).await
    }
}

#[async_trait::async_trait]
impl Sharing for SeaOrmMediaRepo {
    async fn share_media(
        &self,
        tenant: TenantId,
        id: MediaId,
        blob_key: &BlobKey,
        event: NewActivity,
    ) -> Result<CommunityItem, RepoError> {
        retrying(|| media::share_media(&self.writer, tenant, id, blob_key, event.clone())).await
    }

    async fn unshare_media(
        &self,
        tenant: TenantId,
        id: MediaId,
        event: NewActivity,
        purge_after: OffsetDateTime,
    ) -> Result<BlobKey, RepoError> {
        retrying(|| media::unshare_media(&self.writer, tenant, id, event.clone(), purge_after))
            .await
    }

    async fn list_community(
        &self,
        tenant: TenantId,
        before_id: Option<i64>,
        limit: u64,
    ) -> Result<Vec<CommunityItem>, RepoError> {
        media::list_community(&self.reader, tenant, before_id, limit).await
    }

    async fn put_grant(
        &self,
        tenant: TenantId,
        grant: Grant,
        event: NewActivity,
    ) -> Result<(), RepoError> {
        retrying(|| media::put_grant(&self.writer, tenant, grant.clone(), event.clone())).await
    }

    async fn list_grants(&self, id: MediaId) -> Result<Vec<Grant>, RepoError> {
        media::list_grants(&self.reader, id).await
    }

    async fn delete_grant(
        &self,
        id: MediaId,
        user: &UserId,
        event: NewActivity,
    ) -> Result<(), RepoError> {
        retrying(|| media::delete_grant(&self.writer, id, user, event.clone())).await
    }

    async fn granted_media(
        &self,
        tenant: TenantId,
        user: &UserId,
        limit: u64,
    ) -> Result<Vec<MediaId>, RepoError> {
        media::granted_media(&self.writer, tenant, user, limit).await
    }
}

#[async_trait::async_trait]
impl DeleteRepo for SeaOrmMediaRepo {
    async fn delete_requests(
        &self,
        requests: Vec<DeleteRequest>,
    ) -> Result<Vec<Result<DeleteOutcome, RepoError>>, RepoError> {
        retrying(|| delete::delete_media(&self.writer, requests.clone(), &[])).await
    }

    async fn delete_requests_forgetting(
        &self,
        requests: Vec<DeleteRequest>,
        purged: &[BlobKey],
    ) -> Result<Vec<Result<DeleteOutcome, RepoError>>, RepoError> {
        retrying(|| delete::delete_media(&self.writer, requests.clone(), purged)).await
    }
}

#[async_trait::async_trait]
impl PendingDeletions for SeaOrmMediaRepo {
    async fn add_pending_deletions(
        &self,
        tenant: TenantId,
        keys: &[BlobKey],
        not_before: OffsetDateTime,
    ) -> Result<(), RepoError> {
        pending::insert_pending(
            &self.writer,
            Some(tenant),
            keys,
            PendingStatus::Pending,
            not_before,
        )
        .await
    }

    async fn claim_pending_pass(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u64,
        after: Option<i64>,
    ) -> Result<ClaimedPass, RepoError> {
        pending::claim_pass(&self.writer, now, lease_until, limit, after).await
    }

    async fn complete_pending_deletions(&self, keys: &[BlobKey]) -> Result<(), RepoError> {
        pending::complete(&self.writer, keys).await
    }

    async fn list_pending_deletions(
        &self,
        tenant: TenantId,
        status: Option<PendingStatus>,
        before_id: Option<i64>,
        limit: u64,
    ) -> Result<Vec<PendingBlob>, RepoError> {
        pending::list(&self.reader, tenant, status, before_id, limit).await
    }

    async fn pending_summary(&self) -> Result<Vec<PendingCount>, RepoError> {
        pending::summary(&self.reader).await
    }

    async fn requeue_pending_deletions(
        &self,
        tenant: TenantId,
        ids: Option<Vec<i64>>,
        now: OffsetDateTime,
    ) -> Result<u64, RepoError> {
        pending::requeue(&self.writer, tenant, ids, now).await
    }

    async fn known_blob_keys(&self, keys: &[BlobKey]) -> Result<Vec<BlobKey>, RepoError> {
        pending::known_keys(&self.reader, keys).await
    }
}

#[async_trait::async_trait]
impl ActivityLog for SeaOrmMediaRepo {
    async fn list_activity(
        &self,
        tenant: TenantId,
        query: &ActivityQuery,
    ) -> Result<Vec<Activity>, RepoError> {
        let mut select = activity::Entity::find().filter(activity::Column::TenantId.eq(tenant.0));
        if let Some(action) = &query.action {
            select = select.filter(activity::Column::Action.eq(action.as_str()));
        }
        if let Some(id) = query.media_id {
            select = select.filter(activity::Column::MediaId.eq(id.get()));
        }
        if let Some(actor) = &query.actor_id {
            select = select.filter(activity::Column::ActorId.eq(actor.as_str()));
        }
        if let Some(before) = query.before_id {
            select = select.filter(activity::Column::Id.lt(before));
        }
        select
            .order_by_desc(activity::Column::Id)
            .limit(query.limit)
            .all(&self.reader)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_activity)
            .collect()
    }
}

fn to_activity(row: activity::Model) -> Result<Activity, RepoError> {
    Ok(Activity {
        id: row.id,
        actor_id: user(&row.actor_id)?,
        action: row.action,
        media_id: row.media_id.map(media_id).transpose()?,
        details: serde_json::from_str(&row.details).map_err(|_| corrupt("activity details"))?,
        created_at: from_millis(row.created_at)?,
    })
}

#[async_trait::async_trait]
impl ChangeLog for SeaOrmMediaRepo {
    async fn sequence_changes(&self, limit: u64) -> Result<u64, RepoError> {
        // Every reader of the feed calls this: when nothing waits for a number, one read
        // answers it, without the sequence's lock (which readers would otherwise queue on).
        let waiting = activity::Entity::find()
            .select_only()
            .column(activity::Column::Id)
            .filter(activity::Column::Seq.is_null())
            .into_tuple::<i64>()
            .one(&self.reader)
            .await
            .map_err(db_err)?;
        if waiting.is_none() {
            return Ok(0);
        }
        retrying(|| sequence(&self.writer, limit)).await
    }

    async fn list_changes(
        &self,
        tenant: TenantId,
        actions: &'static [&'static str],
        after: i64,
        limit: u64,
    ) -> Result<Vec<SequencedActivity>, RepoError> {
        activity::Entity::find()
            .filter(activity::Column::TenantId.eq(tenant.0))
            .filter(activity::Column::Seq.gt(after))
            .filter(activity::Column::Action.is_in(actions.iter().copied()))
            .order_by_asc(activity::Column::Seq)
            .limit(limit)
            .all(&self.reader)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|row| {
                let seq = row.seq.ok_or(corrupt("sequence number"))?;
                Ok(SequencedActivity {
                    seq,
                    activity: to_activity(row)?,
                })
            })
            .collect()
    }

    async fn last_change(&self) -> Result<i64, RepoError> {
        Ok(change_sequence::Entity::find_by_id(1)
            .one(&self.reader)
            .await
            .map_err(db_err)?
            .map_or(0, |row| row.last_seq))
    }
}

/// One sequencing round: under the lock of the sequence's row, numbers the oldest committed
/// events without a number after the last one given.
async fn sequence(db: &DatabaseConnection, limit: u64) -> Result<u64, RepoError> {
    use sea_orm::sea_query::CaseStatement;
    let txn = db.begin().await.map_err(db_err)?;
    let result: Result<_, RepoError> = async {
        let mut counter = change_sequence::Entity::find_by_id(1);
        if txn.get_database_backend() != DbBackend::Sqlite {
            counter = counter.lock_exclusive();
        }
        let last = counter
            .one(&txn)
            .await
            .map_err(db_err)?
            .ok_or(corrupt("change sequence"))?
            .last_seq;
        let waiting: Vec<i64> = activity::Entity::find()
            .select_only()
            .column(activity::Column::Id)
            .filter(activity::Column::Seq.is_null())
            .order_by_asc(activity::Column::Id)
            .limit(limit)
            .into_tuple()
            .all(&txn)
            .await
            .map_err(db_err)?;
        let Some(count) = i64::try_from(waiting.len()).ok().filter(|n| *n > 0) else {
            return Ok(0);
        };
        let mut next = last;
        for chunk in waiting.chunks(500) {
            let mut numbers = CaseStatement::new();
            for id in chunk {
                next += 1;
                numbers = numbers.case(activity::Column::Id.eq(*id), next);
            }
            activity::Entity::update_many()
                .col_expr(activity::Column::Seq, numbers.into())
                .filter(activity::Column::Id.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await
                .map_err(db_err)?;
        }
        change_sequence::Entity::update_many()
            .col_expr(change_sequence::Column::LastSeq, Expr::value(last + count))
            .filter(change_sequence::Column::Id.eq(1))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        Ok(waiting.len() as u64)
    }
    .await;
    finish(txn, result).await
}

#[async_trait::async_trait]
impl Lifecycle for SeaOrmMediaRepo {
    async fn trash_media(
        &self,
        request: TrashRequest,
        event: NewActivity,
    ) -> Result<Media, RepoError> {
        retrying(|| lifecycle::trash_media(&self.writer, request.clone(), event.clone())).await
    }

    async fn restore_media(
        &self,
        tenant: TenantId,
        id: MediaId,
        path: Option<MediaPath>,
        event: NewActivity,
    ) -> Result<Media, RepoError> {
        retrying(|| lifecycle::restore_media(&self.writer, tenant, id, path.clone(), event.clone()))
            .await
    }

    async fn expired_trash(
        &self,
        now: OffsetDateTime,
        limit: u64,
    ) -> Result<Vec<Media>, RepoError> {
        lifecycle::expired_trash(&self.reader, now, limit).await
    }

    async fn add_hold(
        &self,
        tenant: TenantId,
        id: MediaId,
        reason: &str,
        event: NewActivity,
    ) -> Result<Hold, RepoError> {
        retrying(|| lifecycle::add_hold(&self.writer, tenant, id, reason, event.clone())).await
    }

    async fn list_holds(&self, id: MediaId) -> Result<Vec<Hold>, RepoError> {
        lifecycle::list_holds(&self.reader, id).await
    }

    async fn delete_blockers(&self, ids: &[MediaId]) -> Result<DeleteBlockers, RepoError> {
        lifecycle::delete_blockers(&self.reader, ids).await
    }

    async fn remove_hold(
        &self,
        tenant: TenantId,
        id: MediaId,
        hold_id: i64,
        event: NewActivity,
    ) -> Result<(), RepoError> {
        retrying(|| lifecycle::remove_hold(&self.writer, tenant, id, hold_id, event.clone())).await
    }

    async fn add_reference(
        &self,
        tenant: TenantId,
        reference: Reference,
        event: NewActivity,
    ) -> Result<bool, RepoError> {
        retrying(|| {
            lifecycle::add_reference(&self.writer, tenant, reference.clone(), event.clone())
        })
        .await
    }

    async fn list_references(&self, id: MediaId) -> Result<Vec<Reference>, RepoError> {
        lifecycle::list_references(&self.reader, id).await
    }

    async fn remove_reference(
        &self,
        id: MediaId,
        name: &RefName,
        event: NewActivity,
    ) -> Result<(), RepoError> {
        retrying(|| lifecycle::remove_reference(&self.writer, id, name, event.clone())).await
    }
}
