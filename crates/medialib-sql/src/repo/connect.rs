//! Connecting: the pools of each backend, their settings, and migrating the schema.

use super::*;

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

pub(crate) fn pool_usage(role: &'static str, db: &DatabaseConnection) -> PoolUsage {
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
pub(crate) const PING_WHEN_IDLE: Duration = Duration::from_secs(1);

/// The pool of a database server (PostgreSQL or MariaDB/MySQL), built with sqlx so that its
/// checkout can ping idle connections only.
pub(crate) async fn server_pool(config: &SqlConfig) -> Result<DatabaseConnection, RepoError> {
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

pub(crate) fn sqlite_options(url: &str, max: u32, config: &SqlConfig) -> ConnectOptions {
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
