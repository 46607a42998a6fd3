//! Stored values to domain types and back (timestamps, ids, paths, tenants, keys), and the
//! `IN` list of ids every backend reads the same way.

use super::*;

/// `column IN (values…)`; on PostgreSQL `column = ANY($1)` with the list bound as one array.
///
/// The PostgreSQL form's text does not depend on the list's length, so one prepared statement
/// and one generic plan (the pool forces generic plans, see `connect::server_pool`) serve a single
/// delete and a thousand-id bulk delete alike; a generic plan of a long `IN` list of separate
/// parameters was measured scanning instead of looking each id up.
pub(crate) fn any_of<V>(
    backend: DbBackend,
    column: impl ColumnTrait,
    values: impl IntoIterator<Item = V>,
) -> SimpleExpr
where
    V: Into<sea_orm::Value>,
    Vec<V>: Into<sea_orm::Value>,
{
    match backend {
        DbBackend::Postgres => Expr::col(column.as_column_ref()).eq(PgFunc::any(Expr::val(
            values.into_iter().collect::<Vec<V>>(),
        ))),
        _ => column.is_in(values),
    }
}

/// A stored value that no longer parses as its domain type.
pub(crate) fn corrupt(what: &'static str) -> RepoError {
    RepoError::Backend(format!("stored {what} is invalid").into())
}

pub(crate) fn to_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub(crate) fn from_millis(ms: i64) -> Result<OffsetDateTime, RepoError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| corrupt("timestamp"))
}

pub(crate) fn user(raw: &str) -> Result<UserId, RepoError> {
    UserId::parse(raw).map_err(|_| corrupt("user id"))
}

pub(crate) fn media_id(raw: i64) -> Result<MediaId, RepoError> {
    MediaId::try_from(raw).map_err(|_| corrupt("media id"))
}

pub(crate) fn tag(raw: &str) -> Result<Tag, RepoError> {
    Tag::parse(raw).map_err(|_| corrupt("tag"))
}

pub(crate) fn path(raw: &str) -> Result<MediaPath, RepoError> {
    MediaPath::parse(raw).map_err(|_| corrupt("path"))
}

pub(crate) fn to_tenant(model: tenant::Model) -> Result<Tenant, RepoError> {
    Ok(Tenant {
        id: TenantId(model.id),
        slug: TenantSlug::parse(&model.slug).map_err(|_| corrupt("tenant slug"))?,
        created_at: from_millis(model.created_at)?,
        settings: TenantSettings {
            trash_retention_days: u32::try_from(model.trash_retention_days)
                .map_err(|_| corrupt("trash retention"))?,
            delete_moves_to_trash: model.delete_moves_to_trash,
            delete_rate_limit: rate(model.delete_rate_limit)?,
            upload_rate_limit: rate(model.upload_rate_limit)?,
        },
    })
}

pub(crate) fn rate(stored: Option<i64>) -> Result<Option<u32>, RepoError> {
    stored
        .map(|value| u32::try_from(value).map_err(|_| corrupt("rate limit")))
        .transpose()
}

pub(crate) fn to_api_key(
    model: api_key::Model,
    slug: TenantSlug,
    tenant_settings: TenantSettings,
) -> Result<StoredApiKey, RepoError> {
    Ok(StoredApiKey {
        key: ApiKey {
            id: model.id,
            tenant_id: TenantId(model.tenant_id),
            tenant_slug: slug,
            user_id: user(&model.user_id)?,
            role: Role::parse(&model.role).map_err(|_| corrupt("role"))?,
            created_at: from_millis(model.created_at)?,
            revoked_at: model.revoked_at.map(from_millis).transpose()?,
            expires_at: model.expires_at.map(from_millis).transpose()?,
            last_used_at: model.last_used_at.map(from_millis).transpose()?,
        },
        secret_hash: model.secret_hash,
        tenant_settings,
    })
}
