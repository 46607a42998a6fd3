//! Which database and blob store the end-to-end suite runs on.
//!
//! `MEDIALIB_TEST_E2E_DATABASE` is `sqlite` (default), `postgres` or `mysql`;
//! `MEDIALIB_TEST_E2E_BLOBS` is `file` (default), `memory` or `s3`. Server backends need
//! `MEDIALIB_TEST_POSTGRES_URL`, `MEDIALIB_TEST_MYSQL_URL` or `MEDIALIB_TEST_S3_ENDPOINT`; a
//! configured one that cannot be reached fails the test. Every server gets a fresh, uniquely
//! named database and bucket.

use std::path::{Path, PathBuf};

use medialib_test_support::{
    blob_keys_under, create_bucket, TestBucket, TestDatabase, BLOB_PREFIXES,
};

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
    _database: Option<TestDatabase>,
    _bucket: Option<TestBucket>,
}

fn required(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} must be set for this backend"))
}

impl Backend {
    /// The configured backend for a server whose data directory is `dir`.
    pub async fn new(dir: &Path) -> Self {
        let database =
            std::env::var("MEDIALIB_TEST_E2E_DATABASE").unwrap_or_else(|_| "sqlite".into());
        let (database_url, test_database) = match database.as_str() {
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
                let created = TestDatabase::create(&required(var)).await;
                (created.url.clone(), Some(created))
            }
            other => panic!("unknown MEDIALIB_TEST_E2E_DATABASE {other:?}"),
        };
        let blobs = std::env::var("MEDIALIB_TEST_E2E_BLOBS").unwrap_or_else(|_| "file".into());
        let mut test_bucket = None;
        let (blob_url, store) = match blobs.as_str() {
            "file" => {
                let path = dir.join("data/blobs");
                (path.display().to_string(), Store::Dir(path))
            }
            "memory" => ("memory://".to_owned(), Store::Memory),
            "s3" => {
                let endpoint = required("MEDIALIB_TEST_S3_ENDPOINT");
                let bucket = create_bucket(&endpoint).await;
                let url = bucket.url.clone();
                let store = Store::S3 {
                    endpoint,
                    bucket: bucket.name.clone(),
                };
                test_bucket = Some(bucket);
                (url, store)
            }
            other => panic!("unknown MEDIALIB_TEST_E2E_BLOBS {other:?}"),
        };
        Self {
            database_url,
            blob_url,
            store,
            _database: test_database,
            _bucket: test_bucket,
        }
    }
}

impl Store {
    /// Every blob key, or `None` for a store the tests cannot see into.
    pub async fn keys(&self) -> Option<Vec<String>> {
        match self {
            Store::Dir(root) => Some(blob_keys_under(root)),
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
                    .filter(|key| BLOB_PREFIXES.iter().any(|prefix| key.starts_with(prefix)))
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
