//! The object_store adapter on a temp directory and in memory.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use medialib_blob::{BlobConfig, ObjectStoreBlobStore};
use medialib_domain::contract;
use medialib_domain::{BlobError, BlobKey, BlobStore, ByteStream, TenantId};
use medialib_test_support::files_under;

fn body(chunks: Vec<Result<Bytes, &'static str>>) -> ByteStream {
    Box::pin(stream::iter(chunks).map(|chunk| chunk.map_err(Into::into)))
}

async fn read_all(store: &ObjectStoreBlobStore, key: &BlobKey) -> Vec<u8> {
    let (size, mut stream) = store.get(key, None).await.unwrap();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(size as usize, out.len());
    out
}

#[tokio::test]
async fn local_directory_store_meets_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        ObjectStoreBlobStore::from_url(&BlobConfig::new(dir.path().to_str().unwrap())).unwrap();
    store.check_writable().await.unwrap();
    contract::blob::all(&store).await;
    let leftovers: Vec<_> = files_under(dir.path());
    assert!(leftovers.is_empty(), "files left behind: {leftovers:?}");
}

/// A fresh bucket on the S3 server named by `MEDIALIB_TEST_S3_ENDPOINT` (SeaweedFS in CI), or
/// `None` (and a note) when it is not set.
async fn s3_store() -> Option<(ObjectStoreBlobStore, medialib_test_support::TestBucket)> {
    let Ok(endpoint) = std::env::var("MEDIALIB_TEST_S3_ENDPOINT") else {
        eprintln!("s3: not run (MEDIALIB_TEST_S3_ENDPOINT is not set)");
        return None;
    };
    let bucket = medialib_test_support::create_bucket(&endpoint).await;
    let store = ObjectStoreBlobStore::from_url(&BlobConfig::new(bucket.url.clone())).unwrap();
    Some((store, bucket))
}

/// The port's whole contract (`medialib_domain::contract::blob`: round trips, ranges, copies,
/// failed bodies, idempotent and batch deletes, multipart uploads, listing) on every configured
/// store: memory and a directory always, S3 when `MEDIALIB_TEST_S3_ENDPOINT` is set.
#[tokio::test]
async fn every_store_lists_and_batch_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let mut stores = vec![
        (
            "memory",
            ObjectStoreBlobStore::from_url(&BlobConfig::new("memory://")).unwrap(),
        ),
        (
            "directory",
            ObjectStoreBlobStore::from_url(&BlobConfig::new(dir.path().to_str().unwrap())).unwrap(),
        ),
    ];
    let s3 = s3_store().await;
    if let Some((store, _)) = &s3 {
        stores.push(("s3", store.clone()));
    }
    for (name, store) in stores {
        store.check_writable().await.unwrap();
        eprintln!("on {name}");
        contract::blob::all(&store).await;
    }
}

/// A local batch delete answers per key, in order: a key that cannot be deleted fails alone,
/// and the directories its deletes left empty are gone (for many keys, and for the few that
/// are deleted inline).
#[tokio::test]
async fn local_batch_deletes_answer_per_key_and_tidy_empty_directories() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        ObjectStoreBlobStore::from_url(&BlobConfig::new(dir.path().to_str().unwrap())).unwrap();
    let mut keys = Vec::new();
    for _ in 0..200 {
        let key = BlobKey::new_media(TenantId(7));
        store
            .put(&key, body(vec![Ok(Bytes::from_static(b"x"))]))
            .await
            .unwrap();
        keys.push(key);
    }
    // A directory where a blob would be: deleting it as a file fails.
    let stuck = BlobKey::from_stored("media/7/stuck".to_owned());
    std::fs::create_dir_all(dir.path().join("media/7/stuck/inner")).unwrap();
    keys.insert(150, stuck.clone());
    let results = store.delete_many(&keys).await;
    assert_eq!(results.len(), keys.len());
    for (key, result) in keys.iter().zip(&results) {
        if *key == stuck {
            assert!(
                matches!(result, Err(BlobError::Unavailable(_))),
                "{result:?}"
            );
        } else {
            assert!(result.is_ok(), "{key:?}: {result:?}");
        }
    }
    assert!(files_under(dir.path()).is_empty());
    // A few keys are deleted without a blocking task, with the same answers.
    let kept = BlobKey::new_media(TenantId(7));
    store
        .put(&kept, body(vec![Ok(Bytes::from_static(b"y"))]))
        .await
        .unwrap();
    let few = store.delete_many(&[stuck.clone(), kept.clone()]).await;
    assert!(matches!(few[0], Err(BlobError::Unavailable(_))), "{few:?}");
    assert!(few[1].is_ok(), "{few:?}");
    assert!(matches!(
        store.get(&kept, None).await,
        Err(BlobError::NotFound)
    ));
    // Only the stuck directory remains below the root.
    std::fs::remove_dir_all(dir.path().join("media/7/stuck")).unwrap();
    let again = store.delete_many(&[stuck]).await;
    assert!(again[0].is_ok(), "a missing blob counts as deleted");
    assert!(
        !dir.path().join("media").exists(),
        "empty directories are removed"
    );
}

#[tokio::test]
async fn memory_store_meets_the_contract() {
    let store = ObjectStoreBlobStore::from_url(&BlobConfig::new("memory://")).unwrap();
    contract::blob::all(&store).await;
}

#[tokio::test]
async fn large_uploads_stream_in_parts() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        ObjectStoreBlobStore::from_url(&BlobConfig::new(dir.path().to_str().unwrap())).unwrap();
    let key = BlobKey::new_media(TenantId(1));
    let chunk = Bytes::from(vec![3u8; 1024 * 1024]);
    let chunks: Vec<Result<Bytes, &'static str>> = (0..20).map(|_| Ok(chunk.clone())).collect();
    let size = store.put(&key, body(chunks)).await.unwrap();
    assert_eq!(size, 20 * 1024 * 1024);
    let data = read_all(&store, &key).await;
    assert!(data.iter().all(|b| *b == 3));
    // A large upload that fails midway leaves no object and no temporary file.
    let failed = BlobKey::new_media(TenantId(1));
    let mut chunks: Vec<Result<Bytes, &'static str>> = (0..12).map(|_| Ok(chunk.clone())).collect();
    chunks.push(Err("client went away"));
    assert!(matches!(
        store.put(&failed, body(chunks)).await,
        Err(BlobError::Body(_))
    ));
    store
        .delete_many(&[key])
        .await
        .into_iter()
        .for_each(|r| r.unwrap());
    assert!(
        files_under(dir.path()).is_empty(),
        "left: {:?}",
        files_under(dir.path())
    );
}

#[tokio::test]
async fn interrupted_local_writes_are_swept_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        ObjectStoreBlobStore::from_url(&BlobConfig::new(dir.path().to_str().unwrap())).unwrap();
    let key = BlobKey::new_media(TenantId(1));
    store
        .put(&key, body(vec![Ok(Bytes::from_static(b"done"))]))
        .await
        .unwrap();
    let staged = dir.path().join(format!("{}#1", key.as_str()));
    std::fs::write(&staged, b"half").unwrap();
    // A cutoff just after the write counts it, even within the same second.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let just_after = time::OffsetDateTime::now_utc();
    assert_eq!(store.sweep_incomplete(just_after, false).await.unwrap(), 1);
    let now = time::OffsetDateTime::now_utc();
    let hour = std::time::Duration::from_secs(3600);
    assert_eq!(
        store.sweep_incomplete(now - hour, true).await.unwrap(),
        0,
        "too young"
    );
    assert_eq!(store.sweep_incomplete(now + hour, false).await.unwrap(), 1);
    assert!(staged.exists(), "counting deletes nothing");
    assert_eq!(store.sweep_incomplete(now + hour, true).await.unwrap(), 1);
    assert!(!staged.exists());
    assert_eq!(
        read_all(&store, &key).await,
        b"done",
        "complete blobs are kept"
    );
    let memory = ObjectStoreBlobStore::from_url(&BlobConfig::new("memory://")).unwrap();
    assert_eq!(memory.sweep_incomplete(now + hour, true).await.unwrap(), 0);
}
