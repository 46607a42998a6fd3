//! The strongest one-transaction-per-delete ceilings: each database driven by its own best
//! client, as a careful engineer would write the delete without medialib.
//!
//! - PostgreSQL: `pgbench -M prepared`, the server's own load generator (C, libpq, prepared
//!   statements, one connection per client), running the delete as a script.
//! - SQLite: the C library through rusqlite, statements prepared once and cached, WAL with
//!   `synchronous = FULL` as medialib runs it, each transaction followed by the unlink of the
//!   item's 4 KiB file (a delete that leaves its blob is not a delete).
//! - MariaDB: sqlx's binary protocol with statements prepared once per connection
//!   (`raw::sql_ceiling`).
//!
//! Every run checks that it deleted exactly the rows it was given.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};

use crate::load::{histogram, stats, Stats};
use crate::raw::WriteSet;

/// The pgbench script of `set`: `:first`, `:per` and `:tenant` come from `-D`, `:n` counts
/// each client's transactions (pgbench keeps a client's variables from one transaction to the
/// next), so client `c` deletes ids `first + c * per ..` one after the other.
fn script(set: WriteSet) -> String {
    let event = "INSERT INTO activity (tenant_id, actor_id, action, media_id, details, \
                 created_at) VALUES (:tenant, 'bench', 'media_deleted', :id, '{}', 0);";
    let body = match set {
        WriteSet::Minimal => format!(
            "BEGIN;\nDELETE FROM media_tags WHERE media_id = :id;\n\
             DELETE FROM media WHERE id = :id;\n{event}\nEND;\n"
        ),
        WriteSet::Medialib | WriteSet::TwoCommits => {
            let txn = format!(
                "BEGIN;\nSELECT id FROM media WHERE id = :id AND tenant_id = :tenant FOR UPDATE;\n\
                 DELETE FROM media_tags WHERE media_id = :id;\n\
                 DELETE FROM access_grants WHERE media_id = :id;\n\
                 DELETE FROM media WHERE id = :id;\n\
                 UPDATE \"usage\" SET media_count = media_count - 1, \
                 bytes_used = bytes_used - 4096 WHERE tenant_id = :tenant;\n{event}\n\
                 INSERT INTO pending_deletions (blob_key, attempts, next_attempt_at, created_at, \
                 tenant_id, status) VALUES (:id, 0, 0, 0, :tenant, 'pending');\n"
            );
            if set == WriteSet::Medialib {
                format!("{txn}DELETE FROM pending_deletions WHERE blob_key = :previous;\nEND;\n")
            } else {
                format!("{txn}END;\nDELETE FROM pending_deletions WHERE blob_key = :id;\n")
            }
        }
    };
    format!(
        "\\set id :first + :client_id * :per + :n\n\\set previous :id - 1\n\\set n :n + 1\n{body}"
    )
}

/// `ids` as one run of consecutive ids, split evenly over `clients`: the first id and the
/// share of each client.
fn split(ids: &[i64], clients: usize) -> anyhow::Result<(i64, usize)> {
    let first = *ids.first().context("no ids")?;
    ensure!(
        ids.iter()
            .zip(first..)
            .all(|(id, expected)| *id == expected),
        "the ids are not consecutive"
    );
    ensure!(
        ids.len().is_multiple_of(clients),
        "{} ids do not split over {clients} clients",
        ids.len()
    );
    Ok((first, ids.len() / clients))
}

/// Deletes `ids` (consecutive, each with two tags) through `pgbench -M prepared` at
/// `clients`; latencies from its per-transaction log, throughput from its own `tps` (without
/// connection time).
pub async fn pgbench(
    url: &str,
    set: WriteSet,
    tenant: i64,
    ids: &[i64],
    clients: usize,
) -> anyhow::Result<Stats> {
    let (first, per) = split(ids, clients)?;
    let dir = tempfile::tempdir()?;
    let script_path = dir.path().join("delete.sql");
    std::fs::write(&script_path, script(set))?;
    let output = tokio::process::Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-l", "-c"])
        .arg(clients.to_string())
        .arg("-j")
        .arg(clients.to_string())
        .arg("-t")
        .arg(per.to_string())
        .arg(format!("--log-prefix={}", dir.path().join("log").display()))
        .args(["-D", &format!("first={first}")])
        .args(["-D", &format!("per={per}")])
        .args(["-D", &format!("tenant={tenant}")])
        .args(["-D", "n=0"])
        .arg("-f")
        .arg(&script_path)
        .arg(url)
        .output()
        .await
        .context("pgbench (PostgreSQL's client package) is not installed")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let tps: f64 = stdout
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .context("pgbench printed no tps")?;
    let mut times = histogram();
    let mut ops = 0u64;
    for entry in std::fs::read_dir(dir.path())? {
        let path = entry?.path();
        if !path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("log"))
        {
            continue;
        }
        for line in std::fs::read_to_string(&path)?.lines() {
            // client_id transaction_no time_us script_no epoch epoch_us
            let micros: u64 = line
                .split_whitespace()
                .nth(2)
                .and_then(|n| n.parse().ok())
                .with_context(|| format!("pgbench log line {line:?}"))?;
            times.saturating_record(micros.max(1));
            ops += 1;
        }
    }
    ensure!(
        ops == ids.len() as u64,
        "pgbench logged {ops} transactions of {}",
        ids.len()
    );
    Ok(stats(
        ops,
        clients,
        Duration::from_secs_f64(ops as f64 / tps),
        times,
    ))
}

/// A rusqlite connection opened as medialib opens its database.
fn sqlite_connection(path: &Path) -> anyhow::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// The statements of `set` for rusqlite, run in one transaction (`?1` id, `?2` tenant, `?3`
/// the blob key, `?4` the previous delete's).
fn sqlite_statements(set: WriteSet) -> Vec<&'static str> {
    let event = "INSERT INTO activity (tenant_id, actor_id, action, media_id, details, \
                 created_at) VALUES (?2, 'bench', 'media_deleted', ?1, '{}', 0)";
    match set {
        WriteSet::Minimal => vec![
            "DELETE FROM media_tags WHERE media_id = ?1",
            "DELETE FROM media WHERE id = ?1",
            event,
        ],
        WriteSet::Medialib | WriteSet::TwoCommits => vec![
            "DELETE FROM media_tags WHERE media_id = ?1",
            "DELETE FROM access_grants WHERE media_id = ?1",
            "DELETE FROM media WHERE id = ?1 AND tenant_id = ?2",
            "UPDATE \"usage\" SET media_count = media_count - 1, bytes_used = bytes_used - 4096 \
             WHERE tenant_id = ?2",
            event,
            "INSERT INTO pending_deletions (blob_key, attempts, next_attempt_at, created_at, \
             tenant_id, status) VALUES (?3, 0, 0, 0, ?2, 'pending')",
            "DELETE FROM pending_deletions WHERE blob_key = ?4",
        ],
    }
}

/// Deletes `ids` through the SQLite C library at `clients` threads sharing its one writer
/// connection (SQLite has one writer; a thread waits for the connection, not for a busy
/// retry), each delete a transaction and then the unlink of its file in `files`.
pub async fn sqlite(
    db: PathBuf,
    set: WriteSet,
    tenant: i64,
    work: Vec<(i64, PathBuf)>,
    clients: usize,
) -> anyhow::Result<Stats> {
    tokio::task::spawn_blocking(move || {
        let conn = Arc::new(Mutex::new(sqlite_connection(&db)?));
        let total = work.len();
        let warmup = total / 10;
        let queue = Arc::new(Mutex::new(work.into_iter().enumerate()));
        let statements = sqlite_statements(set);
        let started: Arc<Mutex<Option<Instant>>> = Arc::default();
        let workers: Vec<_> = (0..clients.max(1))
            .map(|_| {
                let (conn, queue, started) = (conn.clone(), queue.clone(), started.clone());
                let statements = statements.clone();
                std::thread::spawn(move || -> anyhow::Result<_> {
                    let mut times = histogram();
                    loop {
                        let next = queue.lock().expect("queue lock").next();
                        let Some((n, (id, file))) = next else { break };
                        let t0 = Instant::now();
                        if n == warmup {
                            *started.lock().expect("start lock") = Some(t0);
                        }
                        {
                            let mut conn = conn.lock().expect("connection lock");
                            let txn = conn.transaction_with_behavior(
                                rusqlite::TransactionBehavior::Immediate,
                            )?;
                            let key = format!("raw/{id}");
                            let previous = format!("raw/{}", id - 1);
                            for sql in &statements {
                                let mut stmt = txn.prepare_cached(sql)?;
                                let count = stmt.parameter_count();
                                let values: [&dyn rusqlite::ToSql; 4] =
                                    [&id, &tenant, &key, &previous];
                                stmt.execute(&values[..count])?;
                            }
                            txn.commit()?;
                        }
                        std::fs::remove_file(&file)?;
                        if n >= warmup {
                            let micros =
                                u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
                            times.saturating_record(micros.max(1));
                        }
                    }
                    Ok(times)
                })
            })
            .collect();
        let mut all = histogram();
        for worker in workers {
            all.add(worker.join().expect("worker thread")?)?;
        }
        let elapsed = started
            .lock()
            .expect("start lock")
            .map_or(Duration::ZERO, |t0| t0.elapsed());
        Ok(stats((total - warmup) as u64, clients, elapsed, all))
    })
    .await?
}

/// Writes one 4 KiB file per id under `dir` for [`sqlite`] to unlink.
pub fn files(dir: &Path, ids: &[i64]) -> anyhow::Result<Vec<(i64, PathBuf)>> {
    std::fs::create_dir_all(dir)?;
    let body = vec![7u8; 4096];
    ids.iter()
        .map(|id| {
            let path = dir.join(id.to_string());
            std::fs::write(&path, &body)?;
            Ok((*id, path))
        })
        .collect()
}

/// A ceiling of the compared DELETE phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceiling {
    /// sqlx over the bench's own pool (every database).
    Sqlx(WriteSet),
    /// `pgbench -M prepared` (PostgreSQL).
    PgBench(WriteSet),
    /// rusqlite, each delete followed by the unlink of its file (SQLite).
    Sqlite(WriteSet),
}

impl Ceiling {
    /// The ceilings measured against medialib on `database`, the strongest client first.
    pub fn for_database(database: &str) -> Vec<Ceiling> {
        let mut out = match database {
            "postgres" => vec![
                Self::PgBench(WriteSet::Minimal),
                Self::PgBench(WriteSet::Medialib),
            ],
            "sqlite" => vec![
                Self::Sqlite(WriteSet::Minimal),
                Self::Sqlite(WriteSet::Medialib),
            ],
            _ => vec![
                Self::Sqlx(WriteSet::Minimal),
                Self::Sqlx(WriteSet::Medialib),
            ],
        };
        out.push(Self::Sqlx(WriteSet::TwoCommits));
        out
    }

    /// How the report names it.
    pub fn label(self) -> String {
        match self {
            Self::Sqlx(set) => format!("sqlx, {}", set.label()),
            Self::PgBench(set) => format!("pgbench -M prepared, {}", set.label()),
            Self::Sqlite(set) => format!("rusqlite + unlink, {}", set.label()),
        }
    }

    /// One transaction per delete: the ceilings medialib's targets are held against.
    pub fn one_transaction(self) -> bool {
        !matches!(self, Self::Sqlx(WriteSet::TwoCommits))
    }

    /// Whether the CPU its database connections used can be read after the phase: pgbench's
    /// connections end with it, and the database processes serving them with them.
    pub fn cpu_readable(self) -> bool {
        !matches!(self, Self::PgBench(_))
    }

    /// Deletes `ids` (consecutive, filled by `RawDb::fill`) at `clients`, and checks that
    /// every row it ran a delete for is gone.
    pub async fn run(self, on: &On, ids: &[i64], clients: usize) -> anyhow::Result<Stats> {
        let stats = self.run_unchecked(on, ids, clients).await?;
        let (first, last) = (ids.first().copied(), ids.last().copied());
        if let (Some(first), Some(last)) = (first, last) {
            let last = match self {
                Self::PgBench(_) => first + stats.ops as i64 - 1,
                _ => last,
            };
            let left = on
                .raw
                .scalar(&format!(
                    "SELECT COUNT(*) FROM media WHERE id BETWEEN {first} AND {last}"
                ))
                .await?;
            ensure!(left == 0, "{}: {left} rows were not deleted", self.label());
        }
        Ok(stats)
    }

    async fn run_unchecked(self, on: &On, ids: &[i64], clients: usize) -> anyhow::Result<Stats> {
        match self {
            Self::Sqlx(set) => {
                crate::raw::sql_ceiling(&on.raw, set, on.tenant, ids.to_vec(), clients).await
            }
            Self::PgBench(set) => {
                let whole = ids.len() - ids.len() % clients;
                pgbench(&on.url, set, on.tenant, &ids[..whole], clients).await
            }
            Self::Sqlite(set) => {
                let path = on
                    .url
                    .strip_prefix("sqlite://")
                    .and_then(|rest| rest.split('?').next())
                    .context("not a SQLite URL")?;
                let first = ids.first().copied().unwrap_or(0);
                let work = files(&on.scratch.join(format!("unlink-{first}")), ids)?;
                sqlite(PathBuf::from(path), set, on.tenant, work, clients).await
            }
        }
    }
}

/// Where the ceilings run: the server's database (a pool, its URL) and tenant, and a scratch
/// directory for files to unlink.
pub struct On {
    pub raw: crate::raw::RawDb,
    pub url: String,
    pub tenant: i64,
    pub scratch: PathBuf,
}
