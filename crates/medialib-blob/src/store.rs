//! [`ObjectStoreBlobStore`]: the `BlobStore` port over object_store.
//!
//! - A missing object on delete is success: object_store's local backend answers `NotFound`
//!   where S3 and memory answer `Ok`; this adapter makes them agree.
//! - Small uploads are one `put`; larger ones switch to a multipart upload once the first part
//!   is buffered, so memory per upload is bounded by a few parts.
//! - Every call but the streaming of bodies is cut by a timeout, so a hung store turns into
//!   [`BlobError::Unavailable`] instead of a hung request.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{stream, StreamExt, TryStreamExt};
use medialib_domain::ports::BlobListing;
use medialib_domain::{BlobError, BlobKey, BlobMeta, BlobStore, ByteStream};
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload, WriteMultipart};
use time::OffsetDateTime;

/// Part size of multipart uploads, and the largest upload sent as a single put.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts in flight per multipart upload.
const PARTS_IN_FLIGHT: usize = 2;
/// Deletes in flight per batch on stores without a batch delete.
const DELETES_IN_FLIGHT: usize = 16;

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

fn path(key: &BlobKey) -> Path {
    Path::from(key.as_str())
}

impl ObjectStoreBlobStore {
    /// Opens the store named by `config.url`.
    ///
    /// # Errors
    /// [`BlobError::Backend`] for an unsupported URL or a directory that cannot be created.
    pub fn from_url(config: &BlobConfig) -> Result<Self, BlobError> {
        Ok(Self {
            store: crate::url::open(&config.url)?,
            timeout: config.timeout,
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
        let inner = crate::url::open(&config.url)?;
        Ok(Self {
            store: Arc::new(crate::faults::FaultyObjectStore::new(inner, faults)),
            timeout: config.timeout,
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

    async fn delete_one(&self, key: &BlobKey) -> Result<(), BlobError> {
        match self.timed(self.store.delete(&path(key))).await {
            Err(BlobError::NotFound) => {
                tracing::warn!(
                    blob = key.as_str(),
                    "blob already missing; counted as deleted"
                );
                Ok(())
            }
            other => other,
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

    async fn get(&self, key: &BlobKey) -> Result<(u64, ByteStream), BlobError> {
        let result = self.timed(self.store.get(&path(key))).await?;
        let size = result.meta.size;
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

    async fn delete_many(&self, keys: &[BlobKey]) -> Vec<Result<(), BlobError>> {
        let deletes: Vec<_> = keys.iter().map(|key| self.delete_one(key)).collect();
        stream::iter(deletes)
            .buffered(DELETES_IN_FLIGHT)
            .collect()
            .await
    }
}
