//! [`ObjectStoreBlobStore`]: the `BlobStore` port over object_store.
//!
//! - A missing object on delete is success: object_store's local backend answers `NotFound`
//!   where S3 and memory answer `Ok`; this adapter makes them agree.
//! - Small uploads are one `put`; larger ones switch to a multipart upload once the first part
//!   is buffered, so memory per upload is bounded by a few parts.
//! - Every call but the streaming of bodies is cut by a timeout, so a hung store turns into
//!   [`BlobError::Unavailable`] instead of a hung request.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{stream, FutureExt, StreamExt, TryStreamExt};
use medialib_domain::ports::BlobListing;
use medialib_domain::{BlobError, BlobKey, BlobMeta, BlobStore, ByteStream};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload, WriteMultipart};
use time::OffsetDateTime;

/// Part size of multipart uploads, and the largest upload sent as a single put.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts in flight per multipart upload.
const PARTS_IN_FLIGHT: usize = 2;
/// Keys per `delete_stream` call (S3's bulk delete takes up to 1000).
const DELETE_BATCH: usize = 1000;
/// Fewest keys worth a batch of their own (below it, one request carries them all).
const MIN_DELETE_BATCH: usize = 100;
/// Batch requests in flight at once on S3.
const BATCHES_IN_FLIGHT: usize = 4;
/// File groups in flight at once on a local store.
const LOCAL_GROUPS_IN_FLIGHT: usize = 4;
/// Files one blocking task of a local store deletes.
const LOCAL_DELETE_GROUP: usize = 128;
/// Files a local store deletes without a blocking task (a single delete's blob and its
/// thumbnails).
const INLINE_FILES: usize = 4;

/// Settings of the blob adapter.
#[derive(Debug, Clone)]
pub struct BlobConfig {
    /// `file:///dir`, a directory path, or `memory://`.
    pub url: String,
    /// Longest wait for one store call (not counting streamed bodies).
    pub timeout: Duration,
}

impl BlobConfig {
    /// Settings for `url` with the default timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// The object_store implementation of [`BlobStore`].
#[derive(Debug, Clone)]
pub struct ObjectStoreBlobStore {
    store: Arc<dyn ObjectStore>,
    timeout: Duration,
    /// The directory of a local store, for sweeping interrupted writes.
    local_root: Option<PathBuf>,
    /// A local store as itself: its deletes run many files per blocking task instead of a
    /// thread hand-off per file. `None` behind the fault injector, whose deletes must go
    /// through the injector.
    local: Option<Arc<LocalFileSystem>>,
}

fn map_err(err: object_store::Error) -> BlobError {
    match err {
        object_store::Error::NotFound { .. } => BlobError::NotFound,
        object_store::Error::Generic { .. }
        | object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => BlobError::Unavailable(Box::new(err)),
        other => BlobError::Backend(Box::new(other)),
    }
}

/// Unlinks `files` (blocking); a file already gone counts as deleted. Parent directories
/// left empty are removed up to `root`.
fn unlink_files(
    files: Vec<Result<PathBuf, BlobError>>,
    root: Option<&std::path::Path>,
) -> Vec<Result<(), BlobError>> {
    let mut parents: Vec<PathBuf> = Vec::new();
    let outcomes: Vec<Result<(), BlobError>> = files
        .into_iter()
        .map(|file| {
            let file = file?;
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    tracing::warn!(
                        blob = %file.display(),
                        "blob already missing; counted as deleted"
                    );
                }
                Err(err) => return Err(BlobError::Unavailable(Box::new(err))),
            }
            if let Some(parent) = file.parent() {
                if parents.last().map(PathBuf::as_path) != Some(parent) {
                    parents.push(parent.to_path_buf());
                }
            }
            Ok(())
        })
        .collect();
    parents.sort_unstable();
    parents.dedup();
    for dir in parents {
        remove_empty_dirs(&dir, root);
    }
    outcomes
}

/// Removes `dir` and its parents below `root` while they are empty.
fn remove_empty_dirs(dir: &std::path::Path, root: Option<&std::path::Path>) {
    let mut current = Some(dir);
    while let Some(dir) = current {
        if root.is_none_or(|root| !dir.starts_with(root) || dir == root)
            || std::fs::remove_dir(dir).is_err()
        {
            return;
        }
        current = dir.parent();
    }
}

fn path(key: &BlobKey) -> Path {
    Path::from(key.as_str())
}

impl ObjectStoreBlobStore {
    /// Opens the store named by `config.url`.
    ///
    /// # Errors
    /// [`BlobError::Backend`] for an unsupported URL or a directory that cannot be created.
    pub fn from_url(config: &BlobConfig) -> Result<Self, BlobError> {
        let opened = crate::url::open(&config.url)?;
        Ok(Self {
            store: opened.store,
            timeout: config.timeout,
            local_root: opened.root,
            local: opened.local,
        })
    }

    /// Opens the store named by `config.url` behind a fault injector that tests control
    /// through `faults`. The adapter's timeout applies above the injected faults.
    ///
    /// # Errors
    /// As [`ObjectStoreBlobStore::from_url`].
    #[cfg(feature = "faults")]
    pub fn from_url_with_faults(
        config: &BlobConfig,
        faults: crate::faults::Faults,
    ) -> Result<Self, BlobError> {
        let opened = crate::url::open(&config.url)?;
        Ok(Self {
            store: Arc::new(crate::faults::FaultyObjectStore::new(opened.store, faults)),
            timeout: config.timeout,
            local_root: opened.root,
            local: None,
        })
    }

    /// Writes and removes a probe object, to fail fast on a read-only or unreachable store.
    ///
    /// # Errors
    /// The store's error.
    pub async fn check_writable(&self) -> Result<(), BlobError> {
        let probe = Path::from(format!(".medialib/probe-{}", std::process::id()));
        self.timed(self.store.put(&probe, PutPayload::from_static(b"ok")))
            .await?;
        self.timed(self.store.delete(&probe)).await
    }

    async fn timed<T>(
        &self,
        call: impl std::future::Future<Output = object_store::Result<T>>,
    ) -> Result<T, BlobError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map_err(map_err),
            Err(_) => Err(BlobError::Unavailable("blob store call timed out".into())),
        }
    }

    /// Deletes one batch through the store's `delete_stream`, which S3 turns into bulk
    /// requests and other stores into concurrent single deletes. Outcomes are matched to keys
    /// by path, not by position; a key whose deletion is not confirmed counts as failed.
    async fn delete_batch(&self, keys: &[BlobKey]) -> Vec<Result<(), BlobError>> {
        let locations: Vec<object_store::Result<Path>> =
            keys.iter().map(|key| Ok(path(key))).collect();
        let outcomes = tokio::time::timeout(
            self.timeout,
            self.store
                .delete_stream(stream::iter(locations).boxed())
                .collect::<Vec<_>>(),
        )
        .await;
        let Ok(outcomes) = outcomes else {
            return keys
                .iter()
                .map(|_| {
                    Err(BlobError::Unavailable(
                        "blob store batch delete timed out".into(),
                    ))
                })
                .collect();
        };
        let mut done: HashSet<String> = HashSet::with_capacity(keys.len());
        let mut missing: Vec<String> = Vec::new();
        let mut failure: Option<String> = None;
        for outcome in outcomes {
            match outcome {
                Ok(location) => {
                    done.insert(location.to_string());
                }
                // The local store names the file (an absolute path), S3 and memory the key.
                Err(object_store::Error::NotFound { path, .. }) => missing.push(path),
                Err(err) => {
                    failure.get_or_insert_with(|| err.to_string());
                }
            }
        }
        keys.iter()
            .map(|key| {
                let key = key.as_str();
                let gone = missing
                    .iter()
                    .any(|p| p == key || p.ends_with(&format!("/{key}")));
                if gone {
                    tracing::warn!(blob = key, "blob already missing; counted as deleted");
                }
                if gone || done.contains(key) {
                    Ok(())
                } else {
                    let reason = failure
                        .clone()
                        .unwrap_or_else(|| "deletion not confirmed".into());
                    Err(BlobError::Unavailable(reason.into()))
                }
            })
            .collect()
    }

    /// Deletes the files of a local store: a few inline, more in one blocking task. A file
    /// already gone counts as deleted; directories left empty are removed, as the store does
    /// itself.
    async fn delete_files(
        &self,
        local: &LocalFileSystem,
        keys: &[BlobKey],
    ) -> Vec<Result<(), BlobError>> {
        let files: Vec<Result<PathBuf, BlobError>> = keys
            .iter()
            .map(|key| local.path_to_filesystem(&path(key)).map_err(map_err))
            .collect();
        let count = files.len();
        let root = self.local_root.clone();
        if count <= INLINE_FILES {
            // An unlink takes microseconds; handing it to a blocking thread and back took
            // longer than the unlink itself (a single delete's purge).
            return unlink_files(files, root.as_deref());
        }
        let work = tokio::task::spawn_blocking(move || unlink_files(files, root.as_deref()));
        match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok(outcomes)) => outcomes,
            Ok(Err(join)) => (0..count)
                .map(|_| Err(BlobError::Backend(join.to_string().into())))
                .collect(),
            Err(_) => (0..count)
                .map(|_| {
                    Err(BlobError::Unavailable(
                        "blob store batch delete timed out".into(),
                    ))
                })
                .collect(),
        }
    }

    async fn put_multipart(
        &self,
        location: &Path,
        buffered: Vec<Bytes>,
        mut body: ByteStream,
    ) -> Result<u64, BlobError> {
        let upload = self.timed(self.store.put_multipart(location)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut size = 0u64;
        for chunk in buffered {
            size += chunk.len() as u64;
            writer.put(chunk);
        }
        while let Some(next) = body.next().await {
            let chunk = match next {
                Ok(chunk) => chunk,
                Err(err) => {
                    let _ = writer.abort().await;
                    return Err(BlobError::Body(err));
                }
            };
            if let Err(err) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                return Err(map_err(err));
            }
            size += chunk.len() as u64;
            writer.put(chunk);
        }
        writer.finish().await.map_err(map_err)?;
        Ok(size)
    }
}

#[async_trait::async_trait]
impl BlobStore for ObjectStoreBlobStore {
    async fn ping(&self) -> Result<(), BlobError> {
        match self
            .timed(self.store.head(&Path::from(".medialib/ping")))
            .await
        {
            Ok(_) | Err(BlobError::NotFound) => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn put(&self, key: &BlobKey, mut body: ByteStream) -> Result<u64, BlobError> {
        let location = path(key);
        let mut buffered = Vec::new();
        let mut size = 0usize;
        while let Some(next) = body.next().await {
            let chunk = next.map_err(BlobError::Body)?;
            size += chunk.len();
            buffered.push(chunk);
            if size > PART_SIZE {
                return self.put_multipart(&location, buffered, body).await;
            }
        }
        let payload: PutPayload = buffered.into_iter().collect();
        self.timed(self.store.put(&location, payload)).await?;
        Ok(size as u64)
    }

    async fn get(
        &self,
        key: &BlobKey,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<(u64, ByteStream), BlobError> {
        let options = object_store::GetOptions {
            range: range.map(object_store::GetRange::Bounded),
            ..object_store::GetOptions::default()
        };
        let result = self.timed(self.store.get_opts(&path(key), options)).await?;
        let size = result.range.end - result.range.start;
        let stream = result
            .into_stream()
            .map_err(|err| Box::new(err) as medialib_domain::error::BoxError);
        Ok((size, Box::pin(stream)))
    }

    async fn copy(&self, from: &BlobKey, to: &BlobKey) -> Result<(), BlobError> {
        self.timed(self.store.copy(&path(from), &path(to))).await
    }

    async fn exists(&self, key: &BlobKey) -> Result<bool, BlobError> {
        match self.timed(self.store.head(&path(key))).await {
            Ok(_) => Ok(true),
            Err(BlobError::NotFound) => Ok(false),
            Err(err) => Err(err),
        }
    }

    fn list(&self) -> BlobListing {
        Box::pin(self.store.list(None).map(|entry| {
            let meta = entry.map_err(map_err)?;
            let millis = meta.last_modified.timestamp_millis();
            let last_modified =
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
                    .map_err(|err| BlobError::Backend(Box::new(err)))?;
            Ok(BlobMeta {
                key: BlobKey::from_stored(meta.location.to_string()),
                size: meta.size,
                last_modified,
            })
        }))
    }

    async fn sweep_incomplete(
        &self,
        older_than: OffsetDateTime,
        delete: bool,
    ) -> Result<u64, BlobError> {
        let Some(root) = self.local_root.clone() else {
            return Ok(0);
        };
        // To the nanosecond: whole seconds would spare a write interrupted earlier in the
        // same second as `older_than`.
        let cutoff = std::time::SystemTime::UNIX_EPOCH
            + Duration::from_nanos(u64::try_from(older_than.unix_timestamp_nanos()).unwrap_or(0));
        let sweep = move || -> std::io::Result<u64> {
            let mut count = 0;
            for entry in walkdir::WalkDir::new(&root)
                .into_iter()
                .filter_map(Result::ok)
            {
                // object_store writes `name#N` and renames it to `name` when complete.
                let staged = entry.file_type().is_file()
                    && entry.file_name().to_string_lossy().contains('#');
                if !staged || entry.metadata()?.modified()? >= cutoff {
                    continue;
                }
                count += 1;
                if delete {
                    std::fs::remove_file(entry.path())?;
                }
            }
            Ok(count)
        };
        tokio::task::spawn_blocking(sweep)
            .await
            .map_err(|err| BlobError::Backend(Box::new(err)))?
            .map_err(|err| BlobError::Backend(Box::new(err)))
    }

    async fn delete_many(&self, keys: &[BlobKey]) -> Vec<Result<(), BlobError>> {
        let (batch, in_flight) = match &self.local {
            Some(_) => (LOCAL_DELETE_GROUP, LOCAL_GROUPS_IN_FLIGHT),
            None => (
                keys.len()
                    .div_ceil(BATCHES_IN_FLIGHT)
                    .clamp(MIN_DELETE_BATCH, DELETE_BATCH),
                BATCHES_IN_FLIGHT,
            ),
        };
        let batches: Vec<BoxFuture<'_, Vec<Result<(), BlobError>>>> = keys
            .chunks(batch)
            .map(|chunk| match &self.local {
                Some(local) => self.delete_files(local, chunk).boxed(),
                None => self.delete_batch(chunk).boxed(),
            })
            .collect();
        stream::iter(batches)
            .buffered(in_flight)
            .flat_map(stream::iter)
            .collect()
            .await
    }
}
