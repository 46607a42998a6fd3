//! The client scenario, through the progenitor client generated from the committed spec. Run by
//! clients/scenarios.sh, which sets MEDIALIB_URL, MEDIALIB_KEY (an admin key of tenant
//! `default`) and MEDIALIB_FOREIGN_ID (another tenant's media id).

use std::num::NonZeroU64;

use futures::TryStreamExt;
use medialib_client::types::{
    BulkDeleteMediaIdempotencyKey, BulkDeleteRequest, DeleteByFilterRequest, ListMediaCursor,
    Media, RestoreRequest, StorageStatus, UploadMediaContentType, UploadMediaPath, Usage,
};
use medialib_client::{Client, Error};

const FOLDER: &str = "rust";
const JPEG: &[u8] = b"\xff\xd8\xff\xe0medialib rust client";
const TEXT: &[u8] = b"hello from the rust client\n";

type Failure = Box<dyn std::error::Error>;

fn check(condition: bool, what: &str) -> Result<(), Failure> {
    if condition {
        Ok(())
    } else {
        Err(format!("scenario failed: {what}").into())
    }
}

fn id(media: i64) -> Result<NonZeroU64, Failure> {
    Ok(NonZeroU64::new(u64::try_from(media)?).ok_or("ids start at 1")?)
}

async fn upload(
    client: &Client,
    name: &str,
    bytes: &'static [u8],
    content_type: &str,
    tags: Option<&str>,
) -> Result<Media, Failure> {
    // The spec's minLength makes the path a checked type.
    let path: UploadMediaPath = format!("{FOLDER}/{name}").parse()?;
    let stored_type: UploadMediaContentType = content_type.parse()?;
    let media = client
        .upload_media(Some(&stored_type), &path, tags, None, None, bytes)
        .await?
        .into_inner();
    check(media.content_type == content_type, "stored type")?;
    check(media.size_bytes == bytes.len() as i64, "size")?;
    Ok(media)
}

async fn usage(client: &Client) -> Result<Usage, Failure> {
    Ok(client.get_usage(None).await?.into_inner())
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let url = std::env::var("MEDIALIB_URL")?;
    let key = std::env::var("MEDIALIB_KEY")?;
    let foreign_id: i64 = std::env::var("MEDIALIB_FOREIGN_ID")?.parse()?;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {key}").parse()?,
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()?;
    let client = Client::new_with_client(&url, http);

    let before = usage(&client).await?;
    let photo = upload(
        &client,
        "photo.jpg",
        JPEG,
        "image/jpeg",
        Some("summer,beach"),
    )
    .await?;
    let note = upload(&client, "note.txt", TEXT, "text/plain", None).await?;
    let counted = usage(&client).await?;
    check(
        counted.media_count == before.media_count + 2,
        "usage counts the uploads",
    )?;
    check(
        counted.bytes_used == before.bytes_used + (JPEG.len() + TEXT.len()) as i64,
        "usage counts their bytes",
    )?;

    // Pages of one item each, newest first, until no cursor is left.
    let mut seen = Vec::new();
    let mut cursor: Option<ListMediaCursor> = None;
    loop {
        let page = client
            .list_media(
                None,
                cursor.as_ref(),
                Some(FOLDER),
                NonZeroU64::new(1),
                None,
                None,
                None,
            )
            .await?
            .into_inner();
        check(page.items.len() <= 1, "a page of at most one")?;
        seen.extend(page.items.iter().map(|item| item.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next.parse()?),
            None => break,
        }
    }
    check(seen == vec![note.id, photo.id], "listed newest first")?;

    let got = client.get_media(id(photo.id)?, None).await?.into_inner();
    check(got.tags == vec!["beach", "summer"], "tags")?;
    let stream = client
        .download_media(id(photo.id)?, None)
        .await?
        .into_inner();
    let bytes: Vec<u8> = stream
        .into_inner()
        .map_ok(|chunk| chunk.to_vec())
        .try_concat()
        .await?;
    check(bytes == JPEG, "downloaded bytes match")?;

    // A delete conditional on a revision the media no longer has changes nothing.
    let current = client.get_media(id(photo.id)?, None).await?.into_inner();
    match client
        .delete_media(id(photo.id)?, None, None, None, Some("\"0-0\""))
        .await
    {
        Err(Error::ErrorResponse(answer))
            if answer.status() == 412 && answer.code == "precondition_failed" => {}
        other => return Err(format!("stale If-Match: {other:?}").into()),
    }
    let receipt = client
        .delete_media(id(photo.id)?, None, None, None, Some(&current.etag))
        .await?
        .into_inner();
    check(
        receipt.id == photo.id && receipt.deleted,
        "receipt names the deleted id",
    )?;
    check(
        receipt.message == "Media deleted successfully",
        &receipt.message,
    )?;
    check(
        receipt.freed_bytes == JPEG.len() as i64,
        "receipt frees the bytes",
    )?;
    check(receipt.storage == StorageStatus::Purged, "storage purged")?;
    check(
        receipt.removed.tag_assignments == 2,
        "both tag assignments removed",
    )?;
    check(receipt.removed.access_grants == 0, "no grants")?;
    check(
        !receipt.removed.community_copy && receipt.broken_references.is_empty(),
        "nothing else",
    )?;

    let extra = upload(&client, "extra.txt", TEXT, "text/plain", None).await?;
    let request = BulkDeleteRequest {
        ids: vec![extra.id, photo.id, foreign_id],
        force: None,
    };
    let idempotency: BulkDeleteMediaIdempotencyKey = "rust-bulk-1".parse()?;
    let bulk = client
        .bulk_delete_media(None, Some(&idempotency), &request)
        .await?
        .into_inner();
    // A retry with the same key answers the same receipt instead of deleting again.
    let retried = client
        .bulk_delete_media(None, Some(&idempotency), &request)
        .await?;
    check(
        retried
            .headers()
            .get("idempotency-replayed")
            .is_some_and(|v| v == "true"),
        "the retry is a replay",
    )?;
    check(retried.into_inner().deleted == bulk.deleted, "same receipt")?;
    check(
        (bulk.requested, bulk.deleted, bulk.failed) == (3, 1, 2),
        "bulk counts",
    )?;
    let [own, missing, foreign] = &bulk.results[..] else {
        return Err("three results".into());
    };
    check(
        own.deleted && own.status == 200 && own.storage == Some(StorageStatus::Purged),
        "own id deleted",
    )?;
    for other in [missing, foreign] {
        check(!other.deleted && other.status == 404, "not deleted, 404")?;
        check(other.code.as_deref() == Some("media_not_found"), "its code")?;
        check(other.storage.is_none(), "no storage for an id not deleted")?;
    }

    let trashed = client
        .trash_media(id(note.id)?, None, None, None)
        .await?
        .into_inner();
    check(trashed.trashed_at.is_some(), "trashed")?;
    let restored = client
        .restore_media(id(note.id)?, None, None, &RestoreRequest { path: None })
        .await?
        .into_inner();
    check(restored.trashed_at.is_none(), "restored")?;

    let filter = |dry_run| DeleteByFilterRequest {
        dry_run,
        folder: Some(FOLDER.to_owned()),
        created_before: None,
        cursor: None,
        force: None,
        limit: None,
        older_than_days: None,
        owner: None,
        tag: None,
    };
    let dry = client
        .delete_media_by_filter(None, None, &filter(true))
        .await?
        .into_inner();
    check(
        dry.dry_run && dry.matched == 1 && dry.ids == vec![note.id],
        "dry run",
    )?;
    // A dry run forecasts the real run: what it would delete and free.
    check(
        dry.deleted == 1 && dry.freed_bytes == TEXT.len() as i64,
        "dry run forecast",
    )?;
    let done = client
        .delete_media_by_filter(None, None, &filter(false))
        .await?
        .into_inner();
    check(
        done.deleted == 1 && done.freed_bytes == TEXT.len() as i64,
        "delete by filter",
    )?;

    match client.get_media(id(note.id)?, None).await {
        Err(Error::ErrorResponse(error)) => {
            check(error.status().as_u16() == 404, "404")?;
            check(error.code == "media_not_found", "typed 404 body")?;
        }
        other => return Err(format!("expected a 404, got {other:?}").into()),
    }
    let after = usage(&client).await?;
    check(
        (after.media_count, after.bytes_used) == (before.media_count, before.bytes_used),
        "usage back",
    )?;
    println!("rust scenario: ok");
    Ok(())
}
