//! Which database and blob store the end-to-end suite runs on.
//!
//! `MEDIALIB_TEST_E2E_DATABASE` is `sqlite` (default), `postgres` or `mysql`;
//! `MEDIALIB_TEST_E2E_BLOBS` is `file` (default), `memory` or `s3`. Server backends need
//! `MEDIALIB_TEST_POSTGRES_URL`, `MEDIALIB_TEST_MYSQL_URL` or `MEDIALIB_TEST_S3_ENDPOINT`; a
//! configured one that cannot be reached fails the test. Every server gets a fresh, uniquely
//! named database and bucket.

use std::path::{Path, PathBuf};

use sea_orm::{ConnectionTrait, Database};

/// Where a test server keeps its blobs, as the tests see it.
#[derive(Debug, Clone)]
pub enum Store {
    /// A local directory.
    Dir(PathBuf),
    /// A bucket on an S3 server that accepts unsigned requests (SeaweedFS without identities).
    S3 { endpoint: String, bucket: String },
    /// The server's own memory: invisible from outside its process.
    Memory,
}

/// The database and store of one test server.
pub struct Backend {
    pub database_url: String,
    pub blob_url: String,
    pub store: Store,
    drop_database: Option<(String, String)>,
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{:x}{:x}{n}", nanos % (1 << 40), std::process::id())
}

fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

fn required(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} must be set for this backend"))
}

impl Backend {
    /// The configured backend for a server whose data directory is `dir`.
    pub async fn new(dir: &Path) -> Self {
        let database =
            std::env::var("MEDIALIB_TEST_E2E_DATABASE").unwrap_or_else(|_| "sqlite".into());
        let (database_url, drop_database) = match database.as_str() {
            "sqlite" => (
                format!("sqlite://{}", dir.join("data/medialib.db").display()),
                None,
            ),
            "postgres" | "mysql" => {
                let var = if database == "postgres" {
                    "MEDIALIB_TEST_POSTGRES_URL"
                } else {
                    "MEDIALIB_TEST_MYSQL_URL"
                };
                let admin_url = required(var);
                let name = unique("medialib_e2e_");
                let admin = Database::connect(admin_url.as_str())
                    .await
                    .unwrap_or_else(|err| panic!("{database} cannot be reached: {err}"));
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                (with_database(&admin_url, &name), Some((admin_url, name)))
            }
            other => panic!("unknown MEDIALIB_TEST_E2E_DATABASE {other:?}"),
        };
        let blobs = std::env::var("MEDIALIB_TEST_E2E_BLOBS").unwrap_or_else(|_| "file".into());
        let (blob_url, store) = match blobs.as_str() {
            "file" => {
                let path = dir.join("data/blobs");
                (path.display().to_string(), Store::Dir(path))
            }
            "memory" => ("memory://".to_owned(), Store::Memory),
            "s3" => {
                let endpoint = required("MEDIALIB_TEST_S3_ENDPOINT");
                let bucket = unique("medialib-e2e-");
                let created = reqwest::Client::new()
                    .put(format!("{endpoint}/{bucket}"))
                    .send()
                    .await
                    .unwrap_or_else(|err| panic!("S3 cannot be reached: {err}"));
                assert!(
                    created.status().is_success(),
                    "create bucket: {}",
                    created.status()
                );
                let url = format!(
                    "s3://{bucket}?endpoint={endpoint}&allow_http=true&region=us-east-1\
                     &access_key_id=medialib&secret_access_key=medialib"
                );
                (url, Store::S3 { endpoint, bucket })
            }
            other => panic!("unknown MEDIALIB_TEST_E2E_BLOBS {other:?}"),
        };
        Self {
            database_url,
            blob_url,
            store,
            drop_database,
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.drop_database.take() else {
            return;
        };
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                if let Ok(db) = Database::connect(admin_url.as_str()).await {
                    let force = if admin_url.starts_with("postgres") {
                        " WITH (FORCE)"
                    } else {
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

impl Store {
    /// Every blob key, or `None` for a store the tests cannot see into.
    pub async fn keys(&self) -> Option<Vec<String>> {
        match self {
            Store::Dir(root) => {
                let mut out = Vec::new();
                for entry in walk(root) {
                    let key = entry
                        .strip_prefix(root)
                        .expect("under root")
                        .to_string_lossy()
                        .into_owned();
                    if key.starts_with("media/") || key.starts_with("community/") {
                        out.push(key);
                    }
                }
                out.sort();
                Some(out)
            }
            Store::S3 { endpoint, bucket } => {
                let listing =
                    reqwest::get(format!("{endpoint}/{bucket}?list-type=2&max-keys=1000"))
                        .await
                        .expect("list bucket")
                        .text()
                        .await
                        .expect("listing body");
                assert!(
                    !listing.contains("<IsTruncated>true"),
                    "more keys than a test should make"
                );
                let mut out: Vec<String> = listing
                    .split("<Key>")
                    .skip(1)
                    .filter_map(|rest| rest.split("</Key>").next())
                    .filter(|key| key.starts_with("media/") || key.starts_with("community/"))
                    .map(str::to_owned)
                    .collect();
                out.sort();
                Some(out)
            }
            Store::Memory => None,
        }
    }

    /// Reads a blob behind the server's back.
    pub async fn read(&self, key: &str) -> Vec<u8> {
        match self {
            Store::Dir(root) => std::fs::read(root.join(key)).expect("read blob"),
            Store::S3 { endpoint, bucket } => reqwest::get(format!("{endpoint}/{bucket}/{key}"))
                .await
                .expect("get blob")
                .bytes()
                .await
                .expect("blob body")
                .to_vec(),
            Store::Memory => panic!("a memory store cannot be read from outside the server"),
        }
    }

    /// Removes a blob behind the server's back.
    pub async fn remove(&self, key: &str) {
        match self {
            Store::Dir(root) => std::fs::remove_file(root.join(key)).expect("remove blob"),
            Store::S3 { endpoint, bucket } => {
                let response = reqwest::Client::new()
                    .delete(format!("{endpoint}/{bucket}/{key}"))
                    .send()
                    .await
                    .expect("delete blob");
                assert!(response.status().is_success());
            }
            Store::Memory => panic!("a memory store cannot be changed from outside the server"),
        }
    }

    /// Writes a blob behind the server's back.
    pub async fn put(&self, key: &str, bytes: &[u8]) {
        match self {
            Store::Dir(root) => {
                let path = root.join(key);
                std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                std::fs::write(path, bytes).expect("write blob");
            }
            Store::S3 { endpoint, bucket } => {
                let response = reqwest::Client::new()
                    .put(format!("{endpoint}/{bucket}/{key}"))
                    .body(bytes.to_vec())
                    .send()
                    .await
                    .expect("put blob");
                assert!(response.status().is_success());
            }
            Store::Memory => panic!("a memory store cannot be changed from outside the server"),
        }
    }

    /// Whether a blob exists.
    pub async fn exists(&self, key: &str) -> bool {
        self.keys()
            .await
            .expect("inspectable store")
            .iter()
            .any(|k| k == key)
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
