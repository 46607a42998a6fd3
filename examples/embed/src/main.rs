//! Embedding medialib's domain in a Rust service: the use cases over the SQLite and local-file
//! adapters, with no HTTP in between. Uploads two files for a user the service authenticated
//! itself, lists them, deletes one, and works off any blob deletion left for the reaper.
//!
//! `cargo run -p medialib-example-embed [DIR]` (default: a new temporary directory), or
//! `… -- --memory` for the same over the in-memory reference repository and an in-memory blob
//! store: no database, nothing kept.

use std::sync::Arc;

use medialib_blob::{BlobConfig, ObjectStoreBlobStore};
use medialib_domain::memory::MemoryRepo;
use medialib_domain::service::delete::DeleteOptions;
use medialib_domain::service::media::{ListRequest, UploadRequest};
use medialib_domain::service::ServiceConfig;
use medialib_domain::{
    BlobStore, ByteStream, MediaRepo, MediaService, Sha256KeyHasher, SystemClock,
};
use medialib_sql::{SeaOrmMediaRepo, SqlConfig};

/// A request body as the domain takes it: a stream of byte chunks.
fn body(bytes: &'static [u8]) -> ByteStream {
    Box::pin(futures::stream::once(async move {
        Ok(bytes::Bytes::from_static(bytes))
    }))
}

fn upload(path: &str, content_type: &str) -> UploadRequest {
    UploadRequest {
        path: path.to_owned(),
        content_type: content_type.to_owned(),
        tags: vec!["example".to_owned()],
        content_length: None,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let service = match std::env::args().nth(1) {
        Some(flag) if flag == "--memory" => in_memory()?,
        dir => {
            let dir = match dir {
                Some(dir) => std::path::PathBuf::from(dir),
                None => std::env::temp_dir().join(format!("medialib-embed-{}", std::process::id())),
            };
            on_disk(&dir).await?
        }
    };
    run(&service).await
}

/// The use cases over SQLite and local files under `dir`.
async fn on_disk(dir: &std::path::Path) -> anyhow::Result<MediaService> {
    std::fs::create_dir_all(dir)?;
    // The adapters, chosen by URL, and the use cases over them.
    let database = format!("sqlite://{}", dir.join("media.db").display());
    let repo = SeaOrmMediaRepo::connect(&SqlConfig::new(database)).await?;
    repo.migrate().await?;
    let blobs =
        ObjectStoreBlobStore::from_url(&BlobConfig::new(dir.join("blobs").to_string_lossy()))?;
    Ok(service(Arc::new(repo), Arc::new(blobs)))
}

/// The use cases over the in-memory reference repository and an in-memory blob store.
fn in_memory() -> anyhow::Result<MediaService> {
    let blobs = ObjectStoreBlobStore::from_url(&BlobConfig::new("memory://"))?;
    Ok(service(Arc::new(MemoryRepo::new()), Arc::new(blobs)))
}

fn service(repo: Arc<dyn MediaRepo>, blobs: Arc<dyn BlobStore>) -> MediaService {
    MediaService::new(
        repo,
        blobs,
        Arc::new(SystemClock),
        Arc::new(Sha256KeyHasher),
        ServiceConfig::default(),
    )
}

/// Uploads two files, lists them, deletes one and runs the reaper.
async fn run(service: &MediaService) -> anyhow::Result<()> {
    // The embedding service authenticates its users itself and acts as them.
    if service.act_as("acme", "alice", "member").await.is_err() {
        service.create_tenant("acme").await?;
    }
    let alice = service.act_as("acme", "alice", "member").await?;

    let photo = service
        .upload_media(
            &alice,
            upload("photos/beach.jpg", "image/jpeg"),
            body(b"\xff\xd8jpeg"),
        )
        .await?;
    let note = service
        .upload_media(
            &alice,
            upload("notes/todo.txt", "text/plain"),
            body(b"buy film"),
        )
        .await?;
    let listed = service.list_media(&alice, ListRequest::default()).await?;
    println!("listed {} media items", listed.items.len());

    let receipt = service
        .delete_media(&alice, &photo.id.to_string(), DeleteOptions::default())
        .await?;
    println!(
        "deleted {}: {} bytes freed, {} tag assignments removed, storage {:?}",
        photo.path, receipt.freed_bytes, receipt.removed.tag_assignments, receipt.storage
    );

    // A blob the store failed to delete stays recorded; a service that embeds medialib runs
    // the reaper now and then (the server does it every `retry_interval_secs`).
    let reaped = service.reap_until_done(2000, false, &|_| true).await?;
    println!("reaper: {} pending deletions purged", reaped.purged);

    let left = service.list_media(&alice, ListRequest::default()).await?;
    anyhow::ensure!(
        left.items.iter().map(|m| m.id).collect::<Vec<_>>() == vec![note.id],
        "only the note is left"
    );
    println!("left: {}", note.path);
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The example's whole flow, over the in-memory adapters.
    #[tokio::test]
    async fn runs_in_memory() {
        super::run(&super::in_memory().unwrap()).await.unwrap();
    }
}
