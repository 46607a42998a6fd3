//! [`SeaOrmMediaRepo`]: the `MediaRepo` port over SeaORM.
//!
//! # Backend policy
//! - SQLite runs in WAL mode with a busy timeout, and every write goes through one connection
//!   (a pool of size one), so concurrent writers queue instead of failing with `SQLITE_BUSY`;
//!   reads use a separate pool and see committed snapshots.
//! - Every port method that changes anything runs in exactly one transaction.
//! - Unique violations become [`RepoError::Conflict`]; connection failures
//!   [`RepoError::Unavailable`]; anything else [`RepoError::Backend`].

mod delete;
mod lifecycle;
mod media;
mod pending;
mod writes;

use std::time::Duration;

use medialib_domain::{
    Activity, ActivityQuery, ApiKey, BlobKey, ClaimedPass, CommunityItem, DeleteBlockers,
    DeleteOutcome, DeleteRequest, Derivative, Grant, Hold, Media, MediaAccess, MediaId, MediaPath,
    MediaQuery, MediaRepo, MediaState, NewActivity, NewMedia, PendingBlob, PendingCount,
    PendingStatus, RefName, Reference, RepoError, Role, SettingsChange, StoredApiKey, Tag, Tenant,
    TenantId, TenantSettings, TenantSlug, ThumbnailState, Usage, UserId,
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

use crate::entity::{activity, api_key, tenant, usage};
use crate::migration::Migrator;

/// Connection settings of the repository.
#[derive(Debug, Clone)]
pub struct SqlConfig {
    /// `sqlite:path`, `postgres://…` or `mysql://…`.
    pub url: String,
    /// Largest read pool (writes on SQLite always use one connection).
    pub max_connections: u32,
    /// How long to wait for a connection.
    pub acquire_timeout: Duration,
    /// Longest statement on PostgreSQL (`statement_timeout`; lock waits get a third of it).
    pub statement_timeout: Duration,
}

impl SqlConfig {
    /// Settings for `url` with default pool sizes.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(30),
        }
    }
}

/// The SeaORM implementation of [`MediaRepo`].
#[derive(Debug, Clone)]
pub struct SeaOrmMediaRepo {
    writer: DatabaseConnection,
    reader: DatabaseConnection,
}

/// The connections of one pool, for monitoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// `writer` and `reader` on SQLite (one writing connection, a pool of readers), `shared`
    /// elsewhere.
    pub role: &'static str,
    /// Connections open.
    pub open: u32,
    /// Of those, idle.
    pub idle: usize,
}

fn pool_usage(role: &'static str, db: &DatabaseConnection) -> PoolUsage {
    let (open, idle) = match db {
        DatabaseConnection::SqlxPostgresPoolConnection(_) => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        DatabaseConnection::SqlxMySqlPoolConnection(_) => {
            let pool = db.get_mysql_connection_pool();
            (pool.size(), pool.num_idle())
        }
        DatabaseConnection::SqlxSqlitePoolConnection(_) => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => (0, 0),
    };
    PoolUsage { role, open, idle }
}

impl SeaOrmMediaRepo {
    /// The connections open and idle in each pool.
    pub fn pool_usage(&self) -> Vec<PoolUsage> {
        if matches!(self.writer, DatabaseConnection::SqlxSqlitePoolConnection(_)) {
            vec![
                pool_usage("writer", &self.writer),
                pool_usage("reader", &self.reader),
            ]
        } else {
            vec![pool_usage("shared", &self.writer)]
        }
    }

    /// Connects to the database named by `config.url`. SQLite files are created if missing.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the database cannot be reached or opened.
    pub async fn connect(config: &SqlConfig) -> Result<Self, RepoError> {
        let url = config.url.as_str();
        if url.starts_with("sqlite:") {
            let url = if url.contains('?') {
                url.to_owned()
            } else {
                format!("{url}?mode=rwc")
            };
            let writer = Database::connect(sqlite_options(&url, 1, config))
                .await
                .map_err(unavailable)?;
            // The first connection switches the file to WAL before readers open it.
            let reader = Database::connect(sqlite_options(&url, config.max_connections, config))
                .await
                .map_err(unavailable)?;
            Ok(Self { writer, reader })
        } else {
            let pool = server_pool(config).await?;
            Ok(Self {
                writer: pool.clone(),
                reader: pool,
            })
        }
    }

    /// Applies every pending migration.
    ///
    /// # Errors
    /// The failing migration's database error.
    pub async fn migrate(&self) -> Result<(), RepoError> {
        Migrator::up(&self.writer, None).await.map_err(db_err)
    }
}

/// A connection idle this long is pinged before it is handed out: one that the database
/// dropped meanwhile (a restart, an idle timeout) is replaced instead of failing a request.
/// Busier connections are handed out without the ping, a round trip per query saved.
const PING_WHEN_IDLE: Duration = Duration::from_secs(1);

/// The pool of a database server (PostgreSQL or MariaDB/MySQL), built with sqlx so that its
/// checkout can ping idle connections only.
async fn server_pool(config: &SqlConfig) -> Result<DatabaseConnection, RepoError> {
    use sea_orm::sqlx::pool::{PoolConnectionMetadata, PoolOptions};
    use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
    use sea_orm::{SqlxMySqlConnector, SqlxPostgresConnector};

    fn options<DB: sea_orm::sqlx::Database>(config: &SqlConfig) -> PoolOptions<DB> {
        PoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(config.acquire_timeout)
            .test_before_acquire(false)
            .before_acquire(|conn: &mut DB::Connection, meta: PoolConnectionMetadata| {
                Box::pin(async move {
                    if meta.idle_for >= PING_WHEN_IDLE {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
    }
    let invalid = |err: sea_orm::sqlx::Error| RepoError::Unavailable(Box::new(err));
    let url = config.url.as_str();
    if url.starts_with("postgres") {
        let statement_ms = config.statement_timeout.as_millis();
        let connect = url
            .parse::<sea_orm::sqlx::postgres::PgConnectOptions>()
            .map_err(invalid)?
            .options([
                ("statement_timeout", format!("{statement_ms}ms")),
                ("lock_timeout", format!("{}ms", statement_ms / 3)),
                // Every statement is planned once per connection instead of at every
                // execution: the delete path's statements are keyed lookups, and its id lists
                // are bound as arrays (`any_of`), whose generic plan looks each id up.
                ("plan_cache_mode", "force_generic_plan".to_owned()),
            ])
            .disable_statement_logging();
        let pool = options(config)
            .connect_with(connect)
            .await
            .map_err(invalid)?;
        Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
    } else {
        let connect = url
            .parse::<sea_orm::sqlx::mysql::MySqlConnectOptions>()
            .map_err(invalid)?
            .disable_statement_logging();
        let pool = options(config)
            .connect_with(connect)
            .await
            .map_err(invalid)?;
        Ok(SqlxMySqlConnector::from_sqlx_mysql_pool(pool))
    }
}

fn sqlite_options(url: &str, max: u32, config: &SqlConfig) -> ConnectOptions {
    use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max)
        .min_connections(1)
        .acquire_timeout(config.acquire_timeout)
        .test_before_acquire(false)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(false)
        });
    options
}

fn unavailable(err: DbErr) -> RepoError {
    RepoError::Unavailable(Box::new(err))
}

/// A deadlock, serialization failure or lock timeout: the transaction was rolled back and
/// may simply be run again.
#[derive(Debug, thiserror::Error)]
#[error("transaction conflict")]
pub(crate) struct Retryable(#[source] DbErr);

/// SQLSTATEs and codes of transient conflicts: PostgreSQL deadlock and serialization failure,
/// MySQL/MariaDB deadlock (SQLSTATE 40001) and lock wait timeout, SQLite busy/locked.
fn is_transient(err: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(sea_orm::sqlx::Error::Database(db)))
    | DbErr::Query(RuntimeErr::SqlxError(sea_orm::sqlx::Error::Database(db)))) = err
    else {
        return false;
    };
    let code = db.code();
    let code = code.as_deref().unwrap_or_default();
    matches!(
        code,
        "40P01" | "40001" | "1213" | "1205" | "5" | "6" | "517" | "262"
    ) || db.message().contains("Lock wait timeout")
}

/// Runs a write transaction, again (up to five times, with a short growing pause) when the
/// database rolled it back for a transient conflict. Never surfaces a deadlock as a failure
/// unless it persists.
pub(crate) async fn retrying<T, F, Fut>(mut transaction: F) -> Result<T, RepoError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, RepoError>>,
{
    let mut attempt: u32 = 0;
    loop {
        match transaction().await {
            Err(RepoError::Unavailable(source)) if source.is::<Retryable>() && attempt < 5 => {
                attempt += 1;
                tracing::warn!(attempt, "transaction conflict; retrying");
                tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt * attempt))).await;
            }
            other => return other,
        }
    }
}

/// Ends a transaction: commits when its body succeeded, rolls back otherwise, so that no
/// connection goes back to the pool holding an open transaction and its locks.
pub(crate) async fn finish<T>(
    txn: sea_orm::DatabaseTransaction,
    result: Result<T, RepoError>,
) -> Result<T, RepoError> {
    match result {
        Ok(value) => {
            txn.commit().await.map_err(db_err)?;
            Ok(value)
        }
        Err(err) => {
            if let Err(rollback) = txn.rollback().await {
                tracing::warn!(
                    error = &rollback as &dyn std::error::Error,
                    "rollback failed"
                );
            }
            Err(err)
        }
    }
}

/// Translates a SeaORM error at the boundary.
pub(crate) fn db_err(err: DbErr) -> RepoError {
    if let Some(SqlErr::UniqueConstraintViolation(_)) = err.sql_err() {
        return RepoError::Conflict;
    }
    if is_transient(&err) {
        return RepoError::Unavailable(Box::new(Retryable(err)));
    }
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => RepoError::Unavailable(Box::new(err)),
        DbErr::Exec(RuntimeErr::SqlxError(ref inner))
        | DbErr::Query(RuntimeErr::SqlxError(ref inner))
            if matches!(
                inner,
                sea_orm::sqlx::Error::Io(_)
                    | sea_orm::sqlx::Error::PoolTimedOut
                    | sea_orm::sqlx::Error::PoolClosed
            ) =>
        {
            RepoError::Unavailable(Box::new(err))
        }
        other => RepoError::Backend(Box::new(other)),
    }
}

/// `column IN (values…)`; on PostgreSQL `column = ANY($1)` with the list bound as one array.
///
/// The PostgreSQL form's text does not depend on the list's length, so one prepared statement
/// and one generic plan (the pool forces generic plans, see [`server_pool`]) serve a single
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

fn rate(stored: Option<i64>) -> Result<Option<u32>, RepoError> {
    stored
        .map(|value| u32::try_from(value).map_err(|_| corrupt("rate limit")))
        .transpose()
}

fn to_api_key(
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

#[async_trait::async_trait]
impl MediaRepo for SeaOrmMediaRepo {
    async fn ping(&self) -> Result<(), RepoError> {
        self.reader.ping().await.map_err(unavailable)
    }

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

    async fn scan_media(&self, after: i64, limit: u64) -> Result<Vec<Media>, RepoError> {
        pending::scan_media(&self.reader, after, limit).await
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
            .map(|row| {
                Ok(Activity {
                    id: row.id,
                    actor_id: user(&row.actor_id)?,
                    action: row.action,
                    media_id: row.media_id.map(media_id).transpose()?,
                    details: serde_json::from_str(&row.details)
                        .map_err(|_| corrupt("activity details"))?,
                    created_at: from_millis(row.created_at)?,
                })
            })
            .collect()
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

    async fn trash_media(
        &self,
        tenant: TenantId,
        id: MediaId,
        force: bool,
        event: NewActivity,
    ) -> Result<Media, RepoError> {
        retrying(|| lifecycle::trash_media(&self.writer, tenant, id, force, event.clone())).await
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
