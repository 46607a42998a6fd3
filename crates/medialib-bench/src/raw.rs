//! The raw ceilings, measured in the same run on the same backend: the delete's SQL issued
//! straight through the driver (sqlx, no ORM, no HTTP), the blob delete straight through
//! object_store, both together, and a trivial HTTP 200 on the same server stack (poem).
//!
//! The raw transactions ([`WriteSet`]) do the writes medialib's delete must do and nothing else
//! (lock the row, delete its tag assignments and grants, delete it, update usage, insert the
//! activity event and the pending blob record, forget a purged record), or the least a delete
//! with an audit trail does. The strongest clients of each database are in `ceiling.rs`.

use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use sea_orm::sqlx::{self, Database, Encode, Executor, IntoArguments, Pool, Type};

use crate::load::{drive, Stats};

/// One bound value.
#[derive(Debug, Clone)]
enum Val {
    Int(i64),
    Text(String),
}

/// Which writes a raw delete makes, in which transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteSet {
    /// The least a delete with an audit trail must do, in one transaction: the row, its two
    /// tag rows and one event.
    Minimal,
    /// medialib's writes in one transaction: lock the row, its tags and grants, the row, the
    /// tenant's usage, the event, the pending blob record, and the forget of the previous
    /// delete's record (medialib forgets purged records in a later transaction too).
    Medialib,
    /// medialib's writes with the forget in a second transaction of its own.
    TwoCommits,
}

impl WriteSet {
    /// How the report names it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Minimal => "minimal txn",
            Self::Medialib => "medialib's write set, 1 txn",
            Self::TwoCommits => "medialib's write set, 2 txns",
        }
    }
}

/// The raw transaction's statements for one backend: `$n` placeholders, rewritten to `?` in
/// the order they appear for SQLite and MariaDB.
#[derive(Debug, Clone)]
struct Statements {
    txn: Vec<(String, Vec<usize>)>,
    after: Option<(String, Vec<usize>)>,
}

/// Rewrites `$n` placeholders for a backend: PostgreSQL gets `$1..$k` numbered by first
/// appearance (each value bound once), the others `?` per appearance. Returns the SQL and
/// which value (1-based) each bind takes.
fn statement(sql: &str, numbered: bool) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(sql.len());
    let mut order: Vec<usize> = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut n = 0usize;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = n * 10 + d as usize;
                chars.next();
            }
            if numbered {
                let position = match order.iter().position(|&seen| seen == n) {
                    Some(position) => position,
                    None => {
                        order.push(n);
                        order.len() - 1
                    }
                };
                out.push_str(&format!("${}", position + 1));
            } else {
                order.push(n);
                out.push('?');
            }
        } else {
            out.push(c);
        }
    }
    (out, order)
}

/// The statements of `set`; values: `$1` id, `$2` tenant, `$3` time, `$4` blob key, `$5` the
/// previous delete's blob key.
fn statements(lock: bool, numbered: bool, usage: &str, set: WriteSet) -> Statements {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let event = "INSERT INTO activity (tenant_id, actor_id, action, media_id, details, \
                 created_at) VALUES ($2, 'bench', 'media_deleted', $1, '{}', $3)";
    let forget = "DELETE FROM pending_deletions WHERE blob_key = $5";
    let mut txn: Vec<String> = match set {
        WriteSet::Minimal => vec![
            "DELETE FROM media_tags WHERE media_id = $1".into(),
            "DELETE FROM media WHERE id = $1".into(),
            event.into(),
        ],
        WriteSet::Medialib | WriteSet::TwoCommits => vec![
            format!("SELECT id FROM media WHERE id = $1 AND tenant_id = $2{lock}"),
            "DELETE FROM media_tags WHERE media_id = $1".into(),
            "DELETE FROM access_grants WHERE media_id = $1".into(),
            "DELETE FROM media WHERE id = $1".into(),
            format!(
                "UPDATE {usage} SET media_count = media_count - 1, bytes_used = bytes_used - \
                 4096 WHERE tenant_id = $2"
            ),
            event.into(),
            "INSERT INTO pending_deletions (blob_key, attempts, next_attempt_at, created_at, \
             tenant_id, status) VALUES ($4, 0, $3, $3, $2, 'pending')"
                .into(),
        ],
    };
    let after = match set {
        WriteSet::Minimal => None,
        WriteSet::Medialib => {
            txn.push(forget.into());
            None
        }
        // The record just written, forgotten after the commit as the purge would.
        WriteSet::TwoCommits => Some(statement(
            "DELETE FROM pending_deletions WHERE blob_key = $4",
            numbered,
        )),
    };
    Statements {
        txn: txn.iter().map(|sql| statement(sql, numbered)).collect(),
        after,
    }
}

/// Runs the delete of `vals`: `stmts.txn` in a transaction opened with `begin`, then
/// `stmts.after` on its own.
async fn run_one<DB>(
    pool: &Pool<DB>,
    begin: &'static str,
    stmts: &Statements,
    vals: &[Val],
) -> anyhow::Result<()>
where
    DB: Database,
    for<'q> <DB as Database>::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut <DB as Database>::Connection: Executor<'c, Database = DB>,
    i64: Type<DB> + for<'q> Encode<'q, DB>,
    String: Type<DB> + for<'q> Encode<'q, DB>,
{
    let mut txn = pool.begin_with(begin).await?;
    for stmt in &stmts.txn {
        bound::<DB>(stmt, vals).execute(&mut *txn).await?;
    }
    txn.commit().await?;
    if let Some(after) = &stmts.after {
        let mut conn = pool.acquire().await?;
        bound::<DB>(after, vals).execute(&mut *conn).await?;
    }
    Ok(())
}

/// The statement with its values bound in placeholder order.
fn bound<'q, DB>(
    (sql, order): &'q (String, Vec<usize>),
    vals: &[Val],
) -> sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    i64: Type<DB> + Encode<'q, DB>,
    String: Type<DB> + Encode<'q, DB>,
{
    let mut query = sqlx::query::<DB>(sql.as_str());
    for n in order {
        query = match &vals[n - 1] {
            Val::Int(v) => query.bind(*v),
            Val::Text(v) => query.bind(v.clone()),
        };
    }
    query
}

/// A raw connection pool on the server's database.
#[derive(Debug, Clone)]
pub enum RawDb {
    Sqlite(Pool<sqlx::Sqlite>),
    Postgres(Pool<sqlx::Postgres>),
    MySql(Pool<sqlx::MySql>),
}

impl RawDb {
    /// Connects like medialib does: SQLite in WAL with full sync through one writer, and no
    /// ping before a connection is checked out of the pool (a round trip the transaction does
    /// not need).
    pub async fn connect(url: &str, clients: u32) -> anyhow::Result<Self> {
        use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
        Ok(if url.starts_with("sqlite:") {
            let options: SqliteConnectOptions = url.parse()?;
            let options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(std::time::Duration::from_secs(10));
            Self::Sqlite(
                sqlx::pool::PoolOptions::new()
                    .max_connections(1)
                    .test_before_acquire(false)
                    .connect_with(options)
                    .await?,
            )
        } else if url.starts_with("postgres") {
            Self::Postgres(
                sqlx::pool::PoolOptions::new()
                    .max_connections(clients)
                    .test_before_acquire(false)
                    .connect(url)
                    .await?,
            )
        } else {
            Self::MySql(
                sqlx::pool::PoolOptions::new()
                    .max_connections(clients)
                    .test_before_acquire(false)
                    .connect(url)
                    .await?,
            )
        })
    }

    /// Brings the planner's statistics up to date after a bulk fill (and, on PostgreSQL,
    /// clears the dead rows of earlier phases and checkpoints; on SQLite, checkpoints the log), as a table
    /// that grew over time would have: otherwise the database's own background maintenance
    /// lands inside the next phase.
    pub async fn settle(&self) -> anyhow::Result<()> {
        match self {
            // The fill's write-ahead log is folded into the database file now rather than by
            // checkpoints during the next phase.
            Self::Sqlite(_) => {
                self.exec("ANALYZE").await?;
                self.exec("PRAGMA wal_checkpoint(TRUNCATE)").await
            }
            Self::Postgres(_) => {
                self.exec("VACUUM ANALYZE").await?;
                self.exec("CHECKPOINT").await
            }
            Self::MySql(_) => {
                self.exec("ANALYZE TABLE media, pending_deletions, activity")
                    .await
            }
        }
    }

    /// Runs SQL without results.
    pub async fn exec(&self, sql: &str) -> anyhow::Result<()> {
        match self {
            Self::Sqlite(pool) => pool.execute(sql).await.map(|_| ())?,
            Self::Postgres(pool) => pool.execute(sql).await.map(|_| ())?,
            Self::MySql(pool) => pool.execute(sql).await.map(|_| ())?,
        }
        Ok(())
    }

    /// One integer from a query.
    pub async fn scalar(&self, sql: &str) -> anyhow::Result<i64> {
        Ok(match self {
            Self::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
            Self::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
            Self::MySql(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
        })
    }

    fn statements(&self, set: WriteSet) -> Statements {
        match self {
            // `usage` is a reserved word on MariaDB.
            Self::Sqlite(_) => statements(false, false, "\"usage\"", set),
            Self::Postgres(_) => statements(true, true, "\"usage\"", set),
            Self::MySql(_) => statements(true, false, "`usage`", set),
        }
    }

    async fn delete(&self, stmts: &Statements, vals: &[Val]) -> anyhow::Result<()> {
        match self {
            // The write lock at `BEGIN`: a deferred transaction that reads first and then
            // writes fails at once with `SQLITE_BUSY`, whatever the busy timeout, when another
            // connection (the server's reaper) wrote meanwhile.
            Self::Sqlite(pool) => run_one(pool, "BEGIN IMMEDIATE", stmts, vals).await,
            Self::Postgres(pool) => run_one(pool, "BEGIN", stmts, vals).await,
            Self::MySql(pool) => run_one(pool, "BEGIN", stmts, vals).await,
        }
    }

    /// Inserts `count` rows of `owner` (each with two tags) for the raw transactions, or as
    /// filler; returns their ids.
    pub async fn fill(&self, tenant: i64, owner: &str, count: u64) -> anyhow::Result<Vec<i64>> {
        let first = self
            .scalar("SELECT COALESCE(MAX(id), 0) FROM media")
            .await?
            + 1;
        let mut next = first;
        let mut left = count;
        while left > 0 {
            let chunk = left.min(1000);
            let rows: Vec<String> = (next..next + chunk as i64)
                .map(|id| {
                    format!(
                        "({id}, {tenant}, '{owner}', '{owner}/{id}.bin', '{owner}-{id}', \
                         'application/octet-stream', 4096, 'raw', 'raw/{id}', false, 0)"
                    )
                })
                .collect();
            self.exec(&format!(
                "INSERT INTO media (id, tenant_id, owner_id, path, path_hash, content_type, \
                 size_bytes, sha256, blob_key, shared_to_community, created_at) VALUES {}",
                rows.join(", ")
            ))
            .await?;
            let tags: Vec<String> = (next..next + chunk as i64)
                .flat_map(|id| [format!("({id}, 'a')"), format!("({id}, 'b')")])
                .collect();
            self.exec(&format!(
                "INSERT INTO media_tags (media_id, tag) VALUES {}",
                tags.join(", ")
            ))
            .await?;
            next += chunk as i64;
            left -= chunk;
        }
        if let Self::Postgres(_) = self {
            // Explicit ids do not move the sequence; keep medialib's own inserts clear of them.
            self.exec(
                "SELECT setval(pg_get_serial_sequence('media', 'id'), (SELECT MAX(id) FROM media))",
            )
            .await?;
        }
        Ok((first..next).collect())
    }
}

/// The values of the raw delete of `id`.
fn values(id: i64, tenant: i64) -> [Val; 5] {
    [
        Val::Int(id),
        Val::Int(tenant),
        Val::Int(now_ms()),
        Val::Text(format!("raw/{id}")),
        Val::Text(format!("raw/{}", id - 1)),
    ]
}

/// The raw SQL delete of `set` at `clients`, over `ids`.
pub async fn sql_ceiling(
    db: &RawDb,
    set: WriteSet,
    tenant: i64,
    ids: Vec<i64>,
    clients: usize,
) -> anyhow::Result<Stats> {
    let db = db.clone();
    let stmts = Arc::new(db.statements(set));
    drive(clients, ids, move |id| {
        let db = db.clone();
        let stmts = Arc::clone(&stmts);
        async move { db.delete(&stmts, &values(id, tenant)).await }
    })
    .await
}

/// Writes `count` 4 KiB objects under `raw/` and returns their paths.
pub async fn put_objects(
    store: &Arc<dyn ObjectStore>,
    prefix: &str,
    count: usize,
) -> anyhow::Result<Vec<ObjectPath>> {
    let payload = Bytes::from(vec![7u8; 4096]);
    let paths: Vec<ObjectPath> = (0..count)
        .map(|i| ObjectPath::from(format!("{prefix}/{i}")))
        .collect();
    let store = Arc::clone(store);
    drive(8, paths.clone(), move |path| {
        let store = Arc::clone(&store);
        let payload = PutPayload::from(payload.clone());
        async move {
            store.put(&path, payload).await?;
            Ok(())
        }
    })
    .await?;
    Ok(paths)
}

/// Raw blob deletes at `clients`.
pub async fn blob_ceiling(
    store: &Arc<dyn ObjectStore>,
    paths: Vec<ObjectPath>,
    clients: usize,
) -> anyhow::Result<Stats> {
    let store = Arc::clone(store);
    drive(clients, paths, move |path| {
        let store = Arc::clone(&store);
        async move {
            store.delete(&path).await?;
            Ok(())
        }
    })
    .await
}

/// The raw transaction and then the raw blob delete, per operation, at `clients`.
pub async fn delete_ceiling(
    db: &RawDb,
    tenant: i64,
    store: &Arc<dyn ObjectStore>,
    work: Vec<(i64, ObjectPath)>,
    clients: usize,
) -> anyhow::Result<Stats> {
    let db = db.clone();
    let stmts = Arc::new(db.statements(WriteSet::TwoCommits));
    let store = Arc::clone(store);
    drive(clients, work, move |(id, path)| {
        let db = db.clone();
        let stmts = Arc::clone(&stmts);
        let store = Arc::clone(&store);
        async move {
            db.delete(&stmts, &values(id, tenant)).await?;
            store.delete(&path).await?;
            Ok(())
        }
    })
    .await
}

/// A trivial `200 ok` on poem, driven like the API.
pub async fn http_ceiling(requests: usize, clients: usize) -> anyhow::Result<Stats> {
    use poem::listener::{Acceptor, Listener, TcpListener};
    #[poem::handler]
    fn ok() -> &'static str {
        "ok"
    }
    let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
    let addr = acceptor
        .local_addr()
        .into_iter()
        .find_map(|addr| addr.as_socket_addr().copied())
        .context("listener address")?;
    let server = tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(ok));
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/");
    let stats = drive(clients, vec![(); requests], move |()| {
        let http = http.clone();
        let url = url.clone();
        async move {
            http.get(&url).send().await?.error_for_status()?;
            Ok(())
        }
    })
    .await;
    server.abort();
    stats
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0),
    )
    .unwrap_or(0)
}
