//! The trash, tenant settings, legal holds, in-use references and derivatives.
//!
//! Trashing and restoring lock the row (on servers) like every other change to it, so they
//! serialize with deletes, holds and shares of the same media.

use std::collections::HashMap;

use medialib_domain::service::verdict;
use medialib_domain::{
    DeleteBlockers, Derivative, Hold, Media, MediaId, MediaPath, MediaState, NewActivity, RefName,
    Reference, RepoError, SettingsChange, Snapshot, TenantId, TenantSettings, ThumbnailState,
    TrashRequest, THUMBNAIL,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use time::OffsetDateTime;

use super::media::{live_row, path_hash, row_in, to_media, with_tags, CHUNK};
use super::{
    add_usage, any_of, corrupt, db_err, delete_where, finish, from_millis, insert_event, media_id,
    to_millis, user, UsageDelta,
};
use crate::entity::{derivative, hold, media, reference, tenant};

const DAY_MS: i64 = 86_400_000;

fn to_hold(row: hold::Model) -> Result<Hold, RepoError> {
    Ok(Hold {
        id: row.id,
        media_id: media_id(row.media_id)?,
        reason: row.reason,
        created_by: user(&row.created_by)?,
        created_at: from_millis(row.created_at)?,
    })
}

fn ref_name(raw: &str) -> Result<RefName, RepoError> {
    RefName::parse(raw).map_err(|_| corrupt("reference"))
}

/// The holds of each media id.
pub(crate) async fn holds_of<C: ConnectionTrait>(
    conn: &C,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<Hold>>, RepoError> {
    let mut out: HashMap<i64, Vec<Hold>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for row in hold::Entity::find()
            .filter(any_of(
                conn.get_database_backend(),
                hold::Column::MediaId,
                chunk.iter().copied(),
            ))
            .order_by_asc(hold::Column::Id)
            .all(conn)
            .await
            .map_err(db_err)?
        {
            out.entry(row.media_id).or_default().push(to_hold(row)?);
        }
    }
    Ok(out)
}

async fn one_media<C: ConnectionTrait>(conn: &C, row: media::Model) -> Result<Media, RepoError> {
    with_tags(conn, vec![row])
        .await?
        .pop()
        .ok_or(RepoError::NotFound)
}

/// Trashes the live row as the domain's verdict on its snapshot allows.
pub(crate) async fn trash_media(
    db: &DatabaseConnection,
    request: TrashRequest,
    event: NewActivity,
) -> Result<Media, RepoError> {
    let tenant = request.tenant_id;
    let id = request.id;
    let txn = db.begin().await.map_err(db_err)?;
    let result: Result<_, RepoError> = async {
        let row = live_row(&txn, tenant, id).await?;
        let found = super::delete::children(&txn, &[row.id]).await?;
        let grants = found.permissions()?;
        let media = to_media(row.clone(), Vec::new())?;
        let snapshot = Snapshot {
            media: &media,
            holds: found.holds.get(&row.id).map_or(&[], Vec::as_slice),
            references: found.refs.get(&row.id).map_or(&[], Vec::as_slice),
            grant: grants.get(&(row.id, request.user_id.as_str())).copied(),
        };
        verdict::judge_trash(&request, snapshot)?;
        let at = to_millis(event.created_at);
        media::Entity::update_many()
            .col_expr(media::Column::TrashedAt, Expr::value(at))
            // Free the path: the unique index no longer holds it for this row.
            .col_expr(
                media::Column::PathHash,
                Expr::value(format!("trashed:{}", row.id)),
            )
            .col_expr(
                media::Column::Version,
                Expr::col(media::Column::Version).add(1),
            )
            .filter(media::Column::Id.eq(row.id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        add_usage(&txn, tenant, UsageDelta::trashed(1, row.size_bytes)).await?;
        insert_event(&txn, event, Some(id)).await?;
        let mut media = one_media(&txn, row).await?;
        media.trashed_at = Some(from_millis(at)?);
        media.version += 1;
        Ok(media)
    }
    .await;
    finish(txn, result).await
}

pub(crate) async fn restore_media(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: MediaId,
    new_path: Option<MediaPath>,
    event: NewActivity,
) -> Result<Media, RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let result: Result<_, RepoError> = async {
        let row = row_in(&txn, tenant, id, Some(MediaState::Trashed)).await?;
        let path = match new_path {
            Some(path) => path,
            None => super::path(&row.path)?,
        };
        // The unique path index decides: a live item of the owner at the path is a conflict.
        media::Entity::update_many()
            .col_expr(media::Column::TrashedAt, Expr::value(Option::<i64>::None))
            .col_expr(media::Column::Path, Expr::value(path.as_str()))
            .col_expr(media::Column::PathHash, Expr::value(path_hash(&path)))
            .col_expr(
                media::Column::Version,
                Expr::col(media::Column::Version).add(1),
            )
            .filter(media::Column::Id.eq(row.id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        add_usage(&txn, tenant, UsageDelta::trashed(-1, -row.size_bytes)).await?;
        insert_event(&txn, event, Some(id)).await?;
        let mut media = one_media(&txn, row).await?;
        media.trashed_at = None;
        media.path = path;
        media.version += 1;
        Ok(media)
    }
    .await;
    finish(txn, result).await
}

pub(crate) async fn expired_trash(
    db: &DatabaseConnection,
    now: OffsetDateTime,
    limit: u64,
) -> Result<Vec<Media>, RepoError> {
    // One query for every tenant, each with its own retention: the background purge asks
    // this on every pass, whether or not anything is due.
    let backend = db.get_database_backend();
    let marks: [&str; 3] = if backend == sea_orm::DbBackend::Postgres {
        ["$1", "$2", "$3"]
    } else {
        ["?", "?", "?"]
    };
    let sql = format!(
        "SELECT media.* FROM media JOIN tenants ON tenants.id = media.tenant_id \
         WHERE media.trashed_at IS NOT NULL \
           AND media.trashed_at <= {} - {} * tenants.trash_retention_days \
           AND NOT EXISTS (SELECT 1 FROM holds WHERE holds.media_id = media.id) \
         ORDER BY media.trashed_at LIMIT {}",
        marks[0], marks[1], marks[2]
    );
    let values: Vec<sea_orm::Value> = vec![
        to_millis(now).into(),
        DAY_MS.into(),
        i64::try_from(limit).unwrap_or(i64::MAX).into(),
    ];
    let rows = media::Entity::find()
        .from_raw_sql(sea_orm::Statement::from_sql_and_values(
            backend, sql, values,
        ))
        .all(db)
        .await
        .map_err(db_err)?;
    with_tags(db, rows).await
}

pub(crate) async fn update_tenant_settings(
    db: &DatabaseConnection,
    tenant: TenantId,
    change: SettingsChange,
    event: NewActivity,
) -> Result<TenantSettings, RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let result: Result<_, RepoError> = async {
        let mut update = tenant::Entity::update_many().filter(tenant::Column::Id.eq(tenant.0));
        if let Some(days) = change.trash_retention_days {
            let days = i32::try_from(days)
                .map_err(|_| RepoError::Backend("retention out of range".into()))?;
            update = update.col_expr(tenant::Column::TrashRetentionDays, Expr::value(days));
        }
        if let Some(soft) = change.delete_moves_to_trash {
            update = update.col_expr(tenant::Column::DeleteMovesToTrash, Expr::value(soft));
        }
        if let Some(rate) = change.delete_rate_limit {
            update = update.col_expr(
                tenant::Column::DeleteRateLimit,
                Expr::value(rate.map(i64::from)),
            );
        }
        if let Some(rate) = change.upload_rate_limit {
            update = update.col_expr(
                tenant::Column::UploadRateLimit,
                Expr::value(rate.map(i64::from)),
            );
        }
        if change != SettingsChange::default() {
            update.exec(&txn).await.map_err(db_err)?;
        }
        insert_event(&txn, event, None).await?;
        let row = tenant::Entity::find_by_id(tenant.0)
            .one(&txn)
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?;
        Ok(super::to_tenant(row)?.settings)
    }
    .await;
    finish(txn, result).await
}

pub(crate) async fn find_any_media(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: MediaId,
) -> Result<Option<Media>, RepoError> {
    let Some(row) = media::Entity::find_by_id(id.get())
        .filter(media::Column::TenantId.eq(tenant.0))
        .one(db)
        .await
        .map_err(db_err)?
    else {
        return Ok(None);
    };
    one_media(db, row).await.map(Some)
}

pub(crate) async fn add_hold(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: MediaId,
    reason: &str,
    event: NewActivity,
) -> Result<Hold, RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let result: Result<_, RepoError> = async {
        row_in(&txn, tenant, id, None).await?;
        let created_at = to_millis(event.created_at);
        let created_by = event.actor_id.clone();
        let hold_id = hold::Entity::insert(hold::ActiveModel {
            tenant_id: Set(tenant.0),
            media_id: Set(id.get()),
            reason: Set(reason.to_owned()),
            created_by: Set(created_by.as_str().to_owned()),
            created_at: Set(created_at),
            ..Default::default()
        })
        .exec(&txn)
        .await
        .map_err(db_err)?
        .last_insert_id;
        insert_event(&txn, event, Some(id)).await?;
        Ok(Hold {
            id: hold_id,
            media_id: id,
            reason: reason.to_owned(),
            created_by,
            created_at: from_millis(created_at)?,
        })
    }
    .await;
    finish(txn, result).await
}

pub(crate) async fn delete_blockers(
    db: &DatabaseConnection,
    ids: &[MediaId],
) -> Result<DeleteBlockers, RepoError> {
    let raw: Vec<i64> = ids.iter().map(|id| id.get()).collect();
    let mut blockers = DeleteBlockers::default();
    for held in holds_of(db, &raw).await?.into_keys() {
        blockers.held.insert(media_id(held)?);
    }
    for chunk in raw.chunks(CHUNK) {
        let referenced: Vec<i64> = reference::Entity::find()
            .select_only()
            .column(reference::Column::MediaId)
            .distinct()
            .filter(any_of(
                db.get_database_backend(),
                reference::Column::MediaId,
                chunk.iter().copied(),
            ))
            .into_tuple()
            .all(db)
            .await
            .map_err(db_err)?;
        for id in referenced {
            blockers.referenced.insert(media_id(id)?);
        }
    }
    Ok(blockers)
}

pub(crate) async fn list_holds(
    db: &DatabaseConnection,
    id: MediaId,
) -> Result<Vec<Hold>, RepoError> {
    Ok(holds_of(db, &[id.get()])
        .await?
        .remove(&id.get())
        .unwrap_or_default())
}

pub(crate) async fn remove_hold(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: MediaId,
    hold_id: i64,
    event: NewActivity,
) -> Result<(), RepoError> {
    let condition = Condition::all()
        .add(hold::Column::Id.eq(hold_id))
        .add(hold::Column::MediaId.eq(id.get()))
        .add(hold::Column::TenantId.eq(tenant.0));
    delete_where::<hold::Entity>(db, condition, event, id).await
}

pub(crate) async fn add_reference(
    db: &DatabaseConnection,
    tenant: TenantId,
    new: Reference,
    event: NewActivity,
) -> Result<bool, RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let result: Result<_, RepoError> = async {
        live_row(&txn, tenant, new.media_id).await?;
        let exists =
            reference::Entity::find_by_id((new.media_id.get(), new.name.as_str().to_owned()))
                .one(&txn)
                .await
                .map_err(db_err)?
                .is_some();
        if exists {
            return Ok(false);
        }
        reference::Entity::insert(reference::ActiveModel {
            media_id: Set(new.media_id.get()),
            ref_name: Set(new.name.as_str().to_owned()),
            created_by: Set(new.created_by.as_str().to_owned()),
            created_at: Set(to_millis(new.created_at)),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(db_err)?;
        insert_event(&txn, event, Some(new.media_id)).await?;
        Ok(true)
    }
    .await;
    finish(txn, result).await
}

pub(crate) async fn list_references(
    db: &DatabaseConnection,
    id: MediaId,
) -> Result<Vec<Reference>, RepoError> {
    reference::Entity::find()
        .filter(reference::Column::MediaId.eq(id.get()))
        .order_by_asc(reference::Column::RefName)
        .all(db)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(|row| {
            Ok(Reference {
                media_id: media_id(row.media_id)?,
                name: ref_name(&row.ref_name)?,
                created_by: user(&row.created_by)?,
                created_at: from_millis(row.created_at)?,
            })
        })
        .collect()
}

pub(crate) async fn remove_reference(
    db: &DatabaseConnection,
    id: MediaId,
    name: &RefName,
    event: NewActivity,
) -> Result<(), RepoError> {
    let condition = Condition::all()
        .add(reference::Column::MediaId.eq(id.get()))
        .add(reference::Column::RefName.eq(name.as_str()));
    delete_where::<reference::Entity>(db, condition, event, id).await
}

pub(crate) async fn insert_derivative(
    db: &DatabaseConnection,
    new: Derivative,
) -> Result<(), RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let result: Result<_, RepoError> = async {
        // The media may be live or trashed, but must still exist; a delete that ran first
        // leaves nothing to attach to.
        let row = media::Entity::find_by_id(new.media_id.get());
        let row = if txn.get_database_backend() == sea_orm::DbBackend::Sqlite {
            row
        } else {
            row.lock_exclusive()
        };
        let row = row
            .one(&txn)
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?;
        if !super::pending::take_upload_intent(&txn, &new.blob_key).await? {
            return Err(RepoError::NotFound);
        }
        derivative::Entity::insert(derivative::ActiveModel {
            tenant_id: Set(row.tenant_id),
            media_id: Set(row.id),
            kind: Set(new.kind.to_owned()),
            blob_key: Set(new.blob_key.as_str().to_owned()),
            content_type: Set(new.content_type),
            size_bytes: Set(new.size_bytes),
            width: Set(i32::try_from(new.width).unwrap_or(i32::MAX)),
            height: Set(i32::try_from(new.height).unwrap_or(i32::MAX)),
            created_at: Set(to_millis(OffsetDateTime::now_utc())),
            ..Default::default()
        })
        .exec_without_returning(&txn)
        .await
        .map_err(db_err)?;
        media::Entity::update_many()
            .col_expr(
                media::Column::Thumbnail,
                Expr::value(ThumbnailState::Ready.as_str()),
            )
            .filter(media::Column::Id.eq(row.id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        Ok(())
    }
    .await;
    finish(txn, result).await
}

pub(crate) async fn set_thumbnail_state(
    db: &DatabaseConnection,
    id: MediaId,
    state: ThumbnailState,
) -> Result<(), RepoError> {
    media::Entity::update_many()
        .col_expr(media::Column::Thumbnail, Expr::value(state.as_str()))
        .filter(media::Column::Id.eq(id.get()))
        .exec(db)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn find_derivative(
    db: &DatabaseConnection,
    id: MediaId,
    kind: &'static str,
) -> Result<Option<Derivative>, RepoError> {
    let Some(row) = derivative::Entity::find()
        .filter(derivative::Column::MediaId.eq(id.get()))
        .filter(derivative::Column::Kind.eq(kind))
        .one(db)
        .await
        .map_err(db_err)?
    else {
        return Ok(None);
    };
    Ok(Some(Derivative {
        media_id: media_id(row.media_id)?,
        kind: if row.kind == THUMBNAIL {
            THUMBNAIL
        } else {
            return Err(corrupt("derivative kind"));
        },
        blob_key: medialib_domain::BlobKey::from_stored(row.blob_key),
        content_type: row.content_type,
        size_bytes: row.size_bytes,
        width: u32::try_from(row.width).map_err(|_| corrupt("derivative width"))?,
        height: u32::try_from(row.height).map_err(|_| corrupt("derivative height"))?,
    }))
}
