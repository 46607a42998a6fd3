//! The [`BlobStore`] contract. Every function writes keys of its own (fresh random keys of
//! tenant 1 or 2) and deletes them again, so the suite runs on an empty store and leaves it
//! empty.

use bytes::Bytes;
use futures_util::{stream, StreamExt};

use crate::error::BlobError;
use crate::model::{BlobKey, TenantId};
use crate::ports::{BlobStore, ByteStream};

/// A body of `chunks`, each a piece of bytes or the error a client's stream ends with.
fn body(chunks: Vec<Result<Bytes, &'static str>>) -> ByteStream {
    Box::pin(stream::iter(chunks).map(|chunk| chunk.map_err(Into::into)))
}

/// The whole of a stored blob, checking its announced size.
async fn read_all(store: &dyn BlobStore, key: &BlobKey) -> Vec<u8> {
    let (size, mut stream) = store.get(key, None).await.expect("get a stored blob");
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("read a stored blob"));
    }
    assert_eq!(size as usize, out.len(), "get announces the blob's size");
    out
}

/// `put` stores a body of several chunks and answers its size; `get` returns it whole, and
/// a range returns exactly that range with its length.
pub async fn put_then_get_returns_the_bytes_and_ranges(store: &dyn BlobStore) {
    let key = BlobKey::new_media(TenantId(1));
    let chunks = vec![
        Ok(Bytes::from_static(b"hello ")),
        Ok(Bytes::from_static(b"world")),
    ];
    assert_eq!(store.put(&key, body(chunks)).await.expect("put"), 11);
    assert_eq!(read_all(store, &key).await, b"hello world");
    let (len, mut part) = store.get(&key, Some(6..9)).await.expect("ranged get");
    let mut bytes = Vec::new();
    while let Some(chunk) = part.next().await {
        bytes.extend_from_slice(&chunk.expect("ranged read"));
    }
    assert_eq!((len, bytes.as_slice()), (3, &b"wor"[..]), "ranged read");
    assert!(store.delete_many(&[key]).await.iter().all(Result::is_ok));
}

/// `copy` writes an equal blob under the new key; copying a missing blob is `NotFound`.
pub async fn copy_duplicates_and_a_missing_source_is_not_found(store: &dyn BlobStore) {
    let key = BlobKey::new_media(TenantId(1));
    let copy = BlobKey::new_community(TenantId(1));
    store
        .put(&key, body(vec![Ok(Bytes::from_static(b"copied"))]))
        .await
        .expect("put");
    store.copy(&key, &copy).await.expect("copy");
    assert_eq!(read_all(store, &copy).await, b"copied");
    assert!(store
        .delete_many(&[key.clone(), copy.clone()])
        .await
        .iter()
        .all(Result::is_ok));
    assert!(matches!(
        store.copy(&key, &copy).await,
        Err(BlobError::NotFound)
    ));
}

/// A body that ends with an error stores nothing and is answered `Body`.
pub async fn a_body_that_fails_midway_stores_nothing(store: &dyn BlobStore) {
    let broken = BlobKey::new_media(TenantId(1));
    let chunks = vec![Ok(Bytes::from_static(b"part")), Err("client went away")];
    let err = store
        .put(&broken, body(chunks))
        .await
        .expect_err("a failed body");
    assert!(matches!(err, BlobError::Body(_)), "{err:?}");
    assert!(matches!(
        store.get(&broken, None).await,
        Err(BlobError::NotFound)
    ));
    assert!(!store.exists(&broken).await.expect("exists"));
}

/// `delete_many` answers each key in order; a key deleted twice, or never written, is
/// deleted; afterwards `get` is `NotFound` and `exists` false.
pub async fn deleting_twice_or_what_never_existed_is_success(store: &dyn BlobStore) {
    let key = BlobKey::new_media(TenantId(1));
    store
        .put(&key, body(vec![Ok(Bytes::from_static(b"x"))]))
        .await
        .expect("put");
    let never = BlobKey::new_media(TenantId(1));
    let results = store.delete_many(&[key.clone(), key.clone(), never]).await;
    assert_eq!(results.len(), 3, "one answer per key");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(matches!(
        store.get(&key, None).await,
        Err(BlobError::NotFound)
    ));
    assert!(!store.exists(&key).await.expect("exists"));
}

/// A large body (12 MiB in 1 MiB chunks, past any single-request limit of an adapter) is
/// stored whole; `exists` and `list` see it; a batch delete of many keys (300, more than one
/// batch of any adapter) with a missing one among them deletes them all, and `list` is empty
/// afterwards (the store must have been empty before).
pub async fn large_bodies_listing_and_batch_deletes(store: &dyn BlobStore) {
    let key = BlobKey::new_media(TenantId(1));
    let chunk = Bytes::from(vec![5u8; 1024 * 1024]);
    let chunks = (0..12).map(|_| Ok(chunk.clone())).collect();
    assert_eq!(store.put(&key, body(chunks)).await.expect("put"), 12 << 20);
    assert!(store.exists(&key).await.expect("exists"));
    let listed: Vec<String> = store
        .list()
        .map(|meta| meta.expect("list").key.as_str().to_owned())
        .collect()
        .await;
    assert!(listed.contains(&key.as_str().to_owned()), "{listed:?}");
    let mut many = Vec::new();
    for _ in 0..300 {
        let k = BlobKey::new_media(TenantId(2));
        store
            .put(&k, body(vec![Ok(Bytes::from_static(b"x"))]))
            .await
            .expect("put");
        many.push(k);
    }
    many.push(BlobKey::new_media(TenantId(2)));
    many.push(key.clone());
    let results = store.delete_many(&many).await;
    assert_eq!(results.len(), many.len(), "one answer per key");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(!store.exists(&key).await.expect("exists"));
    assert!(
        store.list().collect::<Vec<_>>().await.is_empty(),
        "everything deleted"
    );
}

/// The whole [`BlobStore`] contract, on an empty store that it leaves empty.
pub async fn all(store: &dyn BlobStore) {
    store.ping().await.expect("ping");
    put_then_get_returns_the_bytes_and_ranges(store).await;
    copy_duplicates_and_a_missing_source_is_not_found(store).await;
    a_body_that_fails_midway_stores_nothing(store).await;
    deleting_twice_or_what_never_existed_is_success(store).await;
    large_bodies_listing_and_batch_deletes(store).await;
}
