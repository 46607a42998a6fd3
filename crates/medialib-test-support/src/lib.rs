//! Fresh, uniquely named databases and buckets for medialib's test suites (a dev-dependency
//! only). Server URLs come from `MEDIALIB_TEST_POSTGRES_URL`, `MEDIALIB_TEST_MYSQL_URL` and
//! `MEDIALIB_TEST_S3_ENDPOINT`; a configured server that cannot be reached panics, so the test
//! fails instead of passing without having checked anything.

pub mod receiver;

use sea_orm::{ConnectionTrait, Database, Statement};

/// A name no other test, run or process uses: `prefix` + time + process + counter.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}{:x}_{:x}_{n}",
        nanos % (1 << 48),
        std::process::id()
    )
}

/// Replaces the database name (the last path segment) of a server URL.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// A database created on a server for one test, dropped (best effort) when this is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// The URL of the new database.
    pub url: String,
}

impl TestDatabase {
    /// The new database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of the server's database the new one was created from.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }
}

impl TestDatabase {
    /// Creates a fresh database on the server at `admin_url` (any database of that server).
    ///
    /// # Panics
    /// When the server cannot be reached or refuses.
    pub async fn create(admin_url: &str) -> Self {
        let name = unique("medialib_t_");
        let admin = Database::connect(admin_url)
            .await
            .unwrap_or_else(|err| panic!("{admin_url} cannot be reached: {err}"));
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|err| panic!("cannot create a test database: {err}"));
        Self {
            url: with_database(admin_url, &name),
            admin_url: admin_url.to_owned(),
            name,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // On a thread of its own: Drop cannot await, and may run inside a runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                if let Ok(db) = Database::connect(admin_url.as_str()).await {
                    // PostgreSQL refuses while pooled connections linger, unless forced.
                    let force = if admin_url.starts_with("postgres") {
                        " WITH (FORCE)"
                    } else {
                        // MariaDB waits for them instead, for as long as a transaction left
                        // open (by a test that failed while holding one) keeps its tables: end
                        // them first.
                        let sessions = db
                            .query_all(Statement::from_string(
                                db.get_database_backend(),
                                format!(
                                    "SELECT id FROM information_schema.processlist \
                                     WHERE db = '{name}'"
                                ),
                            ))
                            .await
                            .unwrap_or_default();
                        for session in sessions {
                            if let Ok(id) = session.try_get_by_index::<u64>(0) {
                                let _ = db.execute_unprepared(&format!("KILL {id}")).await;
                            }
                        }
                        ""
                    };
                    let _ = db
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}{force}"))
                        .await;
                }
            });
            Ok::<_, std::io::Error>(())
        })
        .join();
    }
}

/// A fresh bucket on an S3 server that accepts unsigned bucket creation and deletion
/// (SeaweedFS without identities), deleted with everything in it when dropped: SeaweedFS
/// gives every bucket volumes of its own, and a suite that left its buckets behind ran out of
/// volumes after about 140 of them (writes then answered 500).
#[derive(Debug)]
pub struct TestBucket {
    /// The bucket's name.
    pub name: String,
    /// The `s3://` URL medialib takes for it.
    pub url: String,
    endpoint: String,
}

impl Drop for TestBucket {
    fn drop(&mut self) {
        let target = format!("{}/{}", self.endpoint, self.name);
        // On a thread of its own: Drop cannot await, and may run inside a runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let _ = reqwest::Client::new().delete(target).send().await;
            });
            Ok::<(), std::io::Error>(())
        })
        .join();
    }
}

/// Creates a fresh bucket (see [`TestBucket`]).
///
/// # Panics
/// When the server cannot be reached or refuses.
pub async fn create_bucket(endpoint: &str) -> TestBucket {
    let bucket = unique("medialib-t-").replace('_', "-");
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap_or_else(|err| panic!("S3 at {endpoint} cannot be reached: {err}"));
    assert!(
        created.status().is_success(),
        "bucket creation: {}",
        created.status()
    );
    let url = format!(
        "s3://{bucket}?endpoint={endpoint}&allow_http=true&region=us-east-1\
         &access_key_id=medialib&secret_access_key=medialib"
    );
    TestBucket {
        name: bucket,
        url,
        endpoint: endpoint.to_owned(),
    }
}

/// Every file under `root`, as `/`-separated paths relative to it (blob keys, for a local
/// store), sorted.
pub fn files_under(root: &std::path::Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .filter_map(|entry| {
            let relative = entry.path().strip_prefix(root).ok()?;
            Some(relative.to_string_lossy().into_owned())
        })
        .collect();
    out.sort();
    out
}

/// The key prefixes medialib writes blobs under: originals, community copies, derivatives.
pub const BLOB_PREFIXES: [&str; 3] = ["media/", "community/", "derivatives/"];

/// Blob keys (medialib's prefixes only) of the files under `root`.
pub fn blob_keys_under(root: &std::path::Path) -> Vec<String> {
    files_under(root)
        .into_iter()
        .filter(|key| BLOB_PREFIXES.iter().any(|prefix| key.starts_with(prefix)))
        .collect()
}

/// Starts `command` (a `medialib` binary, configured by the caller) as `serve` on a port the
/// system picks on loopback, and answers the process with its base URL, read from the one line
/// the server prints on stdout once it listens. Stdout keeps being drained so the server never
/// blocks on it.
///
/// # Errors
/// The process cannot be started, or exits or stays silent for 30 s without printing its
/// address (it is killed then).
pub fn spawn_serve(
    mut command: std::process::Command,
) -> std::io::Result<(std::process::Child, String)> {
    use std::io::BufRead;
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| std::io::Error::other("server stdout not piped"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(base) = line.trim().strip_prefix("listening on ") {
                let _ = tx.send(base.to_owned());
            }
        }
    });
    match rx.recv_timeout(std::time::Duration::from_secs(30)) {
        Ok(base) => Ok((child, base)),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the server exited or did not print its address within 30 s",
            ))
        }
    }
}
