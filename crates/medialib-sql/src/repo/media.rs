//! Media rows, tags, community copies and grants.

use std::collections::HashMap;

use medialib_domain::{
    BlobKey, CommunityItem, Grant, Media, MediaAccess, MediaId, MediaPath, MediaQuery, MediaState,
    NewActivity, NewMedia, Permission, RepoError, Tag, TenantId, ThumbnailState, Usage, UserId,
    Visibility,
};
use sea_orm::sea_query::{Alias, Expr, Func, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use super::{
    any_of, corrupt, db_err, finish, from_millis, insert_event, media_id, path, tag, to_millis,
    user,
};
use crate::entity::{community, community_tag, grant, media, media_tag};

/// The unique key of a path (hex SHA-256): short enough for every backend's index.
pub(crate) fn path_hash(path: &MediaPath) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(path.as_str().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Largest `IN (…)` list sent in one statement.
pub(crate) const CHUNK: usize = 1000;

pub(crate) fn to_media(row: media::Model, tags: Vec<Tag>) -> Result<Media, RepoError> {
    Ok(Media {
        id: media_id(row.id)?,
        tenant_id: TenantId(row.tenant_id),
        owner_id: user(&row.owner_id)?,
        path: path(&row.path)?,
        content_type: row.content_type,
        size_bytes: row.size_bytes,
        sha256: row.sha256,
        tags,
        shared_to_community: row.shared_to_community,
        blob_key: BlobKey::from_stored(row.blob_key),
        created_at: from_millis(row.created_at)?,
        trashed_at: row.trashed_at.map(from_millis).transpose()?,
        thumbnail: ThumbnailState::from_stored(row.thumbnail.as_deref()),
        version: row.version,
    })
}

/// The tags of each media id, sorted.
async fn tags_of<C: ConnectionTrait>(
    conn: &C,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<Tag>>, RepoError> {
    let mut out: HashMap<i64, Vec<Tag>> = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows = media_tag::Entity::find()
            .filter(any_of(
                conn.get_database_backend(),
                media_tag::Column::MediaId,
                chunk.iter().copied(),
            ))
            .order_by_asc(media_tag::Column::Tag)
            .all(conn)
            .await
            .map_err(db_err)?;
        for row in rows {
            out.entry(row.media_id).or_default().push(tag(&row.tag)?);
        }
    }
    Ok(out)
}

/// Only live rows, or only trashed ones.
pub(crate) fn in_state(state: MediaState) -> Condition {
    match state {
        MediaState::Live => Condition::all().add(media::Column::TrashedAt.is_null()),
        MediaState::Trashed => Condition::all().add(media::Column::TrashedAt.is_not_null()),
    }
}

pub(crate) async fn with_tags<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<media::Model>,
) -> Result<Vec<Media>, RepoError> {
    let ids: Vec<i64> = rows.iter().map(|row| row.id).collect();
    let mut tags = tags_of(conn, &ids).await?;
    rows.into_iter()
        .map(|row| {
            let row_tags = tags.remove(&row.id).unwrap_or_default();
            to_media(row, row_tags)
        })
        .collect()
}

pub(crate) fn permission(raw: &str) -> Result<Permission, RepoError> {
    Permission::parse(raw).map_err(|_| corrupt("permission"))
}

async fn grants_of<C: ConnectionTrait>(
    conn: &C,
    ids: &[i64],
    user: &UserId,
) -> Result<HashMap<i64, Permission>, RepoError> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let rows = grant::Entity::find()
            .filter(grant::Column::UserId.eq(user.as_str()))
            .filter(any_of(
                conn.get_database_backend(),
                grant::Column::MediaId,
                chunk.iter().copied(),
            ))
            .all(conn)
            .await
            .map_err(db_err)?;
        for row in rows {
            out.insert(row.media_id, permission(&row.permission)?);
        }
    }
    Ok(out)
}

async fn with_access<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<media::Model>,
    user: &UserId,
    tags: bool,
) -> Result<Vec<MediaAccess>, RepoError> {
    // A user's grant matters only on media someone else owns: the common case (an owner or an
    // admin acting on the tenant's media) needs no grant lookup at all.
    let ids: Vec<i64> = rows
        .iter()
        .filter(|row| row.owner_id != user.as_str())
        .map(|row| row.id)
        .collect();
    let grants = grants_of(conn, &ids, user).await?;
    let media = if tags {
        with_tags(conn, rows).await?
    } else {
        rows.into_iter()
            .map(|row| to_media(row, Vec::new()))
            .collect::<Result<_, _>>()?
    };
    Ok(media
        .into_iter()
        .map(|media| {
            let grant = grants.get(&media.id.get()).copied();
            MediaAccess { media, grant }
        })
        .collect())
}

/// The live row of `id` in `tenant`, inside a transaction.
///
/// On servers the row is locked for the rest of the transaction, so that a concurrent delete
/// either runs first (and this finds no row) or waits and then sees what this one added (a
/// community copy, a grant) and removes it with the row.
pub(crate) async fn live_row<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    id: MediaId,
) -> Result<media::Model, RepoError> {
    row_in(conn, tenant, id, Some(MediaState::Live)).await
}

/// The row of `id` in `tenant` in `state` (any state when `None`), locked on servers.
pub(crate) async fn row_in<C: ConnectionTrait>(
    conn: &C,
    tenant: TenantId,
    id: MediaId,
    state: Option<MediaState>,
) -> Result<media::Model, RepoError> {
    let mut select =
        media::Entity::find_by_id(id.get()).filter(media::Column::TenantId.eq(tenant.0));
    if let Some(state) = state {
        select = select.filter(in_state(state));
    }
    if conn.get_database_backend() != sea_orm::DbBackend::Sqlite {
        select = select.lock_exclusive();
    }
    select
        .one(conn)
        .await
        .map_err(db_err)?
        .ok_or(RepoError::NotFound)
}

/// Raises the revision of a locked row (every change of its tags, path or state does);
/// returns the row as it is now.
pub(crate) async fn bump_version<C: ConnectionTrait>(
    conn: &C,
    mut row: media::Model,
) -> Result<media::Model, RepoError> {
    media::Entity::update_many()
        .col_expr(
            media::Column::Version,
            Expr::col(media::Column::Version).add(1),
        )
        .filter(media::Column::Id.eq(row.id))
        .exec(conn)
        .await
        .map_err(db_err)?;
    row.version += 1;
    Ok(row)
}

pub(crate) async fn insert_media(
    db: &DatabaseConnection,
    new: NewMedia,
    event: NewActivity,
) -> Result<Media, RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let result: Result<_, RepoError> = async {
        let row = media::ActiveModel {
            tenant_id: Set(new.tenant_id.0),
            owner_id: Set(new.owner_id.as_str().to_owned()),
            path: Set(new.path.as_str().to_owned()),
            path_hash: Set(path_hash(&new.path)),
            content_type: Set(new.content_type.clone()),
            size_bytes: Set(new.size_bytes),
            sha256: Set(new.sha256.clone()),
            blob_key: Set(new.blob_key.as_str().to_owned()),
            shared_to_community: Set(false),
            created_at: Set(to_millis(new.created_at)),
            trashed_at: Set(None),
            thumbnail: Set(new.thumbnail.as_str().map(str::to_owned)),
            version: Set(1),
            ..Default::default()
        };
        let id = media::Entity::insert(row)
            .exec(&txn)
            .await
            .map_err(db_err)?
            .last_insert_id;
        let id = media_id(id)?;
        if !super::pending::take_upload_intent(&txn, &new.blob_key).await? {
            return Err(RepoError::NotFound);
        }
        insert_tags(&txn, id, &new.tags).await?;
        super::add_usage(
            &txn,
            new.tenant_id,
            super::UsageDelta::live(1, new.size_bytes),
        )
        .await?;
        insert_event(&txn, event, Some(id)).await?;
        Ok(new.into_media(id))
    }
    .await;
    finish(txn, result).await
}

async fn insert_tags<C: ConnectionTrait>(
    conn: &C,
    id: MediaId,
    tags: &[Tag],
) -> Result<(), RepoError> {
    if tags.is_empty() {
        return Ok(());
    }
    let rows = tags.iter().map(|t| media_tag::ActiveModel {
        media_id: Set(id.get()),
        tag: Set(t.as_str().to_owned()),
    });
    media_tag::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

async fn insert_community_tags<C: ConnectionTrait>(
    conn: &C,
    community_id: i64,
    tags: &[Tag],
) -> Result<(), RepoError> {
    if tags.is_empty() {
        return Ok(());
    }
    let rows = tags.iter().map(|t| community_tag::ActiveModel {
        community_id: Set(community_id),
        tag: Set(t.as_str().to_owned()),
    });
    community_tag::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(crate) async fn find_media_access(
    db: &DatabaseConnection,
    tenant: TenantId,
    ids: &[MediaId],
    user: &UserId,
    state: MediaState,
    tags: bool,
) -> Result<Vec<MediaAccess>, RepoError> {
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        rows.extend(
            media::Entity::find()
                .filter(media::Column::TenantId.eq(tenant.0))
                .filter(in_state(state))
                .filter(any_of(
                    db.get_database_backend(),
                    media::Column::Id,
                    chunk.iter().map(|id| id.get()),
                ))
                .all(db)
                .await
                .map_err(db_err)?,
        );
    }
    with_access(db, rows, user, tags).await
}

pub(crate) async fn find_media_by_path(
    db: &DatabaseConnection,
    tenant: TenantId,
    owner: &UserId,
    media_path: &MediaPath,
    user: &UserId,
) -> Result<Option<MediaAccess>, RepoError> {
    let row = media::Entity::find()
        .filter(media::Column::TenantId.eq(tenant.0))
        .filter(media::Column::OwnerId.eq(owner.as_str()))
        .filter(media::Column::PathHash.eq(path_hash(media_path)))
        .filter(media::Column::Path.eq(media_path.as_str()))
        .filter(in_state(MediaState::Live))
        .one(db)
        .await
        .map_err(db_err)?;
    let Some(row) = row else { return Ok(None) };
    Ok(with_access(db, vec![row], user, true).await?.pop())
}

/// The media `user` may see: its own and those it was granted.
fn visible_to(user: &UserId) -> Condition {
    let granted = Query::select()
        .column(grant::Column::MediaId)
        .from(grant::Entity)
        .and_where(grant::Column::UserId.eq(user.as_str()))
        .to_owned();
    Condition::any()
        .add(media::Column::OwnerId.eq(user.as_str()))
        .add(media::Column::Id.in_subquery(granted))
}

/// Counts and bytes of the media `user` may see, live and trashed apart. Sums are cast to a
/// 64-bit integer: PostgreSQL and MariaDB sum `BIGINT`s as decimals.
pub(crate) async fn usage_visible_to(
    db: &DatabaseConnection,
    tenant: TenantId,
    user: &UserId,
) -> Result<Usage, RepoError> {
    let integer = Alias::new(match db.get_database_backend() {
        DbBackend::MySql => "SIGNED",
        DbBackend::Postgres | DbBackend::Sqlite => "BIGINT",
    });
    let mut totals = [(0i64, 0i64); 2];
    for (state, total) in [MediaState::Live, MediaState::Trashed]
        .into_iter()
        .zip(&mut totals)
    {
        let bytes = Func::coalesce([
            Func::sum(Expr::col(media::Column::SizeBytes)).into(),
            Expr::val(0i64).into(),
        ]);
        let row: Option<(i64, i64)> = media::Entity::find()
            .select_only()
            .column_as(
                Expr::col(media::Column::Id)
                    .count()
                    .cast_as(integer.clone()),
                "n",
            )
            .column_as(Expr::expr(bytes).cast_as(integer.clone()), "bytes")
            .filter(media::Column::TenantId.eq(tenant.0))
            .filter(in_state(state))
            .filter(visible_to(user))
            .into_tuple()
            .one(db)
            .await
            .map_err(db_err)?;
        *total = row.unwrap_or_default();
    }
    let [(media_count, bytes_used), (trashed_count, trashed_bytes)] = totals;
    Ok(Usage {
        media_count,
        bytes_used,
        trashed_count,
        trashed_bytes,
    })
}

pub(crate) async fn list_media(
    db: &DatabaseConnection,
    tenant: TenantId,
    query: &MediaQuery,
) -> Result<Vec<Media>, RepoError> {
    let mut select = media::Entity::find()
        .filter(media::Column::TenantId.eq(tenant.0))
        .filter(in_state(query.state));
    if let Some(owner) = &query.owner {
        select = select.filter(media::Column::OwnerId.eq(owner.as_str()));
    }
    if let Visibility::OwnedOrGranted(user) = &query.visibility {
        select = select.filter(visible_to(user));
    }
    if let Some(before) = query.before_id {
        select = select.filter(media::Column::Id.lt(before.get()));
    }
    for t in &query.tags {
        let tagged = Query::select()
            .column(media_tag::Column::MediaId)
            .from(media_tag::Entity)
            .and_where(media_tag::Column::Tag.eq(t.as_str()))
            .to_owned();
        select = select.filter(media::Column::Id.in_subquery(tagged));
    }
    match query.folder.as_deref() {
        None => {}
        // The root: paths without a folder.
        Some("") => select = select.filter(media::Column::Path.not_like("%/%")),
        // A folder and everything below it, compared exactly (LIKE ignores case on SQLite).
        Some(folder) => {
            let prefix = format!("{folder}/");
            let chars = i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX);
            select = select.filter(
                Expr::expr(Func::cust(Alias::new("substr")).args([
                    Expr::col(media::Column::Path).into(),
                    Expr::val(1).into(),
                    Expr::val(chars).into(),
                ]))
                .eq(prefix),
            );
        }
    }
    if let Some(before) = query.created_before {
        select = select.filter(media::Column::CreatedAt.lt(to_millis(before)));
    }
    let rows = select
        .order_by_desc(media::Column::Id)
        .limit(query.limit)
        .all(db)
        .await
        .map_err(db_err)?;
    with_tags(db, rows).await
}

pub(crate) async fn set_tags(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: MediaId,
    tags: &[Tag],
    event: NewActivity,
) -> Result<Media, RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let result: Result<_, RepoError> = async {
        let row = live_row(&txn, tenant, id).await?;
        media_tag::Entity::delete_many()
            .filter(media_tag::Column::MediaId.eq(id.get()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        insert_tags(&txn, id, tags).await?;
        if let Some(copy) = community::Entity::find()
            .filter(community::Column::MediaId.eq(id.get()))
            .one(&txn)
            .await
            .map_err(db_err)?
        {
            community_tag::Entity::delete_many()
                .filter(community_tag::Column::CommunityId.eq(copy.id))
                .exec(&txn)
                .await
                .map_err(db_err)?;
            insert_community_tags(&txn, copy.id, tags).await?;
        }
        let row = bump_version(&txn, row).await?;
        insert_event(&txn, event, Some(id)).await?;
        let mut sorted = tags.to_vec();
        sorted.sort();
        to_media(row, sorted)
    }
    .await;
    finish(txn, result).await
}

pub(crate) async fn share_media(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: MediaId,
    blob_key: &BlobKey,
    event: NewActivity,
) -> Result<CommunityItem, RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let result: Result<_, RepoError> = async {
        let row = live_row(&txn, tenant, id).await?;
        if row.shared_to_community {
            return Err(RepoError::Conflict);
        }
        let created_at = to_millis(event.created_at);
        let copy_id = community::Entity::insert(community::ActiveModel {
            tenant_id: Set(tenant.0),
            media_id: Set(id.get()),
            blob_key: Set(blob_key.as_str().to_owned()),
            created_at: Set(created_at),
            ..Default::default()
        })
        .exec(&txn)
        .await
        .map_err(db_err)?
        .last_insert_id;
        super::pending::take_upload_intent(&txn, blob_key).await?;
        let tags = tags_of(&txn, &[id.get()])
            .await?
            .remove(&id.get())
            .unwrap_or_default();
        insert_community_tags(&txn, copy_id, &tags).await?;
        media::Entity::update_many()
            .col_expr(media::Column::SharedToCommunity, Expr::value(true))
            .filter(media::Column::Id.eq(id.get()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        insert_event(&txn, event, Some(id)).await?;
        let media = to_media(row, tags.clone())?;
        Ok(CommunityItem {
            id: copy_id,
            media_id: id,
            owner_id: media.owner_id.clone(),
            file_name: media.file_name().to_owned(),
            content_type: media.content_type,
            size_bytes: media.size_bytes,
            tags,
            blob_key: blob_key.clone(),
            created_at: from_millis(created_at)?,
        })
    }
    .await;
    finish(txn, result).await
}

pub(crate) async fn unshare_media(
    db: &DatabaseConnection,
    tenant: TenantId,
    id: MediaId,
    event: NewActivity,
    purge_after: time::OffsetDateTime,
) -> Result<BlobKey, RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let result: Result<_, RepoError> = async {
        let copy = community::Entity::find()
            .filter(community::Column::MediaId.eq(id.get()))
            .filter(community::Column::TenantId.eq(tenant.0))
            .one(&txn)
            .await
            .map_err(db_err)?
            .ok_or(RepoError::NotFound)?;
        community_tag::Entity::delete_many()
            .filter(community_tag::Column::CommunityId.eq(copy.id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        community::Entity::delete_by_id(copy.id)
            .exec(&txn)
            .await
            .map_err(db_err)?;
        media::Entity::update_many()
            .col_expr(media::Column::SharedToCommunity, Expr::value(false))
            .filter(media::Column::Id.eq(id.get()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        let key = BlobKey::from_stored(copy.blob_key);
        super::pending::insert_pending(
            &txn,
            Some(tenant),
            std::slice::from_ref(&key),
            medialib_domain::PendingStatus::Pending,
            purge_after,
        )
        .await?;
        insert_event(&txn, event, Some(id)).await?;
        Ok(key)
    }
    .await;
    finish(txn, result).await
}

pub(crate) async fn list_community(
    db: &DatabaseConnection,
    tenant: TenantId,
    before_id: Option<i64>,
    limit: u64,
) -> Result<Vec<CommunityItem>, RepoError> {
    let mut select = community::Entity::find().filter(community::Column::TenantId.eq(tenant.0));
    if let Some(before) = before_id {
        select = select.filter(community::Column::Id.lt(before));
    }
    let copies = select
        .order_by_desc(community::Column::Id)
        .limit(limit)
        .all(db)
        .await
        .map_err(db_err)?;
    let media_ids: Vec<i64> = copies.iter().map(|c| c.media_id).collect();
    let copy_ids: Vec<i64> = copies.iter().map(|c| c.id).collect();
    let mut originals: HashMap<i64, media::Model> = HashMap::new();
    let mut tags: HashMap<i64, Vec<Tag>> = HashMap::new();
    for chunk in media_ids.chunks(CHUNK) {
        for row in media::Entity::find()
            .filter(any_of(
                db.get_database_backend(),
                media::Column::Id,
                chunk.iter().copied(),
            ))
            .filter(in_state(MediaState::Live))
            .all(db)
            .await
            .map_err(db_err)?
        {
            originals.insert(row.id, row);
        }
    }
    for chunk in copy_ids.chunks(CHUNK) {
        for row in community_tag::Entity::find()
            .filter(any_of(
                db.get_database_backend(),
                community_tag::Column::CommunityId,
                chunk.iter().copied(),
            ))
            .order_by_asc(community_tag::Column::Tag)
            .all(db)
            .await
            .map_err(db_err)?
        {
            tags.entry(row.community_id)
                .or_default()
                .push(tag(&row.tag)?);
        }
    }
    copies
        .into_iter()
        .filter_map(|copy| {
            let original = originals.remove(&copy.media_id)?;
            Some((copy, original))
        })
        .map(|(copy, original)| {
            let original_path = path(&original.path)?;
            Ok(CommunityItem {
                id: copy.id,
                media_id: media_id(copy.media_id)?,
                owner_id: user(&original.owner_id)?,
                file_name: original_path.file_name().to_owned(),
                content_type: original.content_type,
                size_bytes: original.size_bytes,
                tags: tags.remove(&copy.id).unwrap_or_default(),
                blob_key: BlobKey::from_stored(copy.blob_key),
                created_at: from_millis(copy.created_at)?,
            })
        })
        .collect()
}

pub(crate) async fn put_grant(
    db: &DatabaseConnection,
    tenant: TenantId,
    new: Grant,
    event: NewActivity,
) -> Result<(), RepoError> {
    let txn = db.begin().await.map_err(db_err)?;
    let result: Result<_, RepoError> = async {
        live_row(&txn, tenant, new.media_id).await?;
        grant::Entity::delete_many()
            .filter(grant::Column::MediaId.eq(new.media_id.get()))
            .filter(grant::Column::UserId.eq(new.user_id.as_str()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        grant::Entity::insert(grant::ActiveModel {
            media_id: Set(new.media_id.get()),
            user_id: Set(new.user_id.as_str().to_owned()),
            permission: Set(new.permission.as_str().to_owned()),
            created_at: Set(to_millis(new.created_at)),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(db_err)?;
        insert_event(&txn, event, Some(new.media_id)).await?;
        Ok(())
    }
    .await;
    finish(txn, result).await
}

pub(crate) async fn granted_media(
    db: &DatabaseConnection,
    tenant: TenantId,
    user: &UserId,
    limit: u64,
) -> Result<Vec<MediaId>, RepoError> {
    let of_tenant = Query::select()
        .column(media::Column::Id)
        .from(media::Entity)
        .and_where(media::Column::TenantId.eq(tenant.0))
        .to_owned();
    grant::Entity::find()
        .select_only()
        .column(grant::Column::MediaId)
        .filter(grant::Column::UserId.eq(user.as_str()))
        .filter(grant::Column::MediaId.in_subquery(of_tenant))
        .order_by_asc(grant::Column::MediaId)
        .limit(limit)
        .into_tuple::<i64>()
        .all(db)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(media_id)
        .collect()
}

pub(crate) async fn list_grants(
    db: &DatabaseConnection,
    id: MediaId,
) -> Result<Vec<Grant>, RepoError> {
    grant::Entity::find()
        .filter(grant::Column::MediaId.eq(id.get()))
        .order_by_asc(grant::Column::UserId)
        .all(db)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(|row| {
            Ok(Grant {
                media_id: media_id(row.media_id)?,
                user_id: user(&row.user_id)?,
                permission: permission(&row.permission)?,
                created_at: from_millis(row.created_at)?,
            })
        })
        .collect()
}

pub(crate) async fn delete_grant(
    db: &DatabaseConnection,
    id: MediaId,
    grantee: &UserId,
    event: NewActivity,
) -> Result<(), RepoError> {
    let condition = Condition::all()
        .add(grant::Column::MediaId.eq(id.get()))
        .add(grant::Column::UserId.eq(grantee.as_str()));
    super::delete_where::<grant::Entity>(db, condition, event, id).await
}
