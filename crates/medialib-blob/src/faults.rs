//! Fault injection for tests (feature `faults`): an object store wrapper that fails, delays or
//! hangs chosen operations while a test holds the [`Faults`] handle. It sits under the
//! adapter, so the adapter's timeouts and error mapping apply to injected faults exactly as to
//! real ones.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{
    GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// An operation of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlobOp {
    /// Writes (single and multipart).
    Put,
    /// Reads.
    Get,
    /// Existence checks.
    Head,
    /// Deletes.
    Delete,
    /// Copies.
    Copy,
    /// Listings.
    List,
}

/// What happens to an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Fails at once, as an unreachable store would.
    Fail,
    /// Waits this long, then proceeds.
    Delay(Duration),
    /// Never answers.
    Hang,
}

/// The test's handle: set and clear faults while the store is in use.
#[derive(Debug, Clone, Default)]
pub struct Faults(Arc<Mutex<HashMap<BlobOp, Fault>>>);

impl Faults {
    /// No faults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `op` suffer `fault` from now on.
    pub fn set(&self, op: BlobOp, fault: Fault) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(op, fault);
        }
    }

    /// Lets `op` work again.
    pub fn clear(&self, op: BlobOp) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(&op);
        }
    }

    /// Lets everything work again.
    pub fn clear_all(&self) {
        if let Ok(mut map) = self.0.lock() {
            map.clear();
        }
    }

    fn get(&self, op: BlobOp) -> Option<Fault> {
        self.0.lock().ok().and_then(|map| map.get(&op).copied())
    }

    async fn apply(&self, op: BlobOp) -> object_store::Result<()> {
        match self.get(op) {
            None => Ok(()),
            Some(Fault::Delay(delay)) => {
                tokio::time::sleep(delay).await;
                Ok(())
            }
            Some(Fault::Hang) => std::future::pending().await,
            Some(Fault::Fail) => Err(object_store::Error::Generic {
                store: "faulty",
                source: format!("injected failure of {op:?}").into(),
            }),
        }
    }
}

/// The wrapper; see the module docs.
#[derive(Debug)]
pub(crate) struct FaultyObjectStore {
    inner: Arc<dyn ObjectStore>,
    faults: Faults,
}

impl FaultyObjectStore {
    pub(crate) fn new(inner: Arc<dyn ObjectStore>, faults: Faults) -> Self {
        Self { inner, faults }
    }
}

impl fmt::Display for FaultyObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for FaultyObjectStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.faults.apply(BlobOp::Put).await?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.faults.apply(BlobOp::Put).await?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let op = if options.head {
            BlobOp::Head
        } else {
            BlobOp::Get
        };
        self.faults.apply(op).await?;
        self.inner.get_opts(location, options).await
    }

    async fn head(&self, location: &Path) -> object_store::Result<ObjectMeta> {
        self.faults.apply(BlobOp::Head).await?;
        self.inner.head(location).await
    }

    async fn delete(&self, location: &Path) -> object_store::Result<()> {
        self.faults.apply(BlobOp::Delete).await?;
        self.inner.delete(location).await
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let faults = self.faults.clone();
        let inner = self.inner.list(prefix);
        futures_util::stream::once(async move { faults.apply(BlobOp::List).await })
            .flat_map(move |gate| match gate {
                Ok(()) => futures_util::stream::empty().boxed(),
                Err(err) => futures_util::stream::once(async move { Err(err) }).boxed(),
            })
            .chain(inner)
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.faults.apply(BlobOp::List).await?;
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.faults.apply(BlobOp::Copy).await?;
        self.inner.copy(from, to).await
    }

    async fn copy_if_not_exists(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.faults.apply(BlobOp::Copy).await?;
        self.inner.copy_if_not_exists(from, to).await
    }
}
