//! Wire types: request and response bodies. Domain types convert into these here; the domain
//! never sees them.

use medialib_domain::service::media::Page;
use medialib_domain::{
    Activity, BulkReceipt, CommunityItem, DeleteReceipt, Grant, Media, StorageState, Usage,
};
use poem_openapi::{Enum, Object};
use time::OffsetDateTime;

use crate::error::ApiError;

/// A media item.
#[derive(Debug, Clone, Object)]
pub struct MediaDto {
    /// Never reused id.
    pub id: i64,
    /// Owner's user id.
    pub owner_id: String,
    /// Path relative to the owner's root.
    pub path: String,
    /// Last path segment.
    pub file_name: String,
    /// MIME type given at upload.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// Tags, sorted.
    pub tags: Vec<String>,
    /// Whether a community copy exists.
    pub shared_to_community: bool,
    /// Upload time (RFC 3339).
    pub created_at: OffsetDateTime,
}

impl From<Media> for MediaDto {
    fn from(media: Media) -> Self {
        Self {
            id: media.id.get(),
            file_name: media.file_name().to_owned(),
            owner_id: media.owner_id.to_string(),
            path: media.path.to_string(),
            content_type: media.content_type,
            size_bytes: media.size_bytes,
            sha256: media.sha256,
            tags: media.tags.iter().map(|t| t.as_str().to_owned()).collect(),
            shared_to_community: media.shared_to_community,
            created_at: media.created_at,
        }
    }
}

/// A page of media, newest first.
#[derive(Debug, Clone, Object)]
pub struct MediaPage {
    /// The items.
    pub items: Vec<MediaDto>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl From<Page<Media>> for MediaPage {
    fn from(page: Page<Media>) -> Self {
        Self {
            items: page.items.into_iter().map(MediaDto::from).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// Whether the blobs of a delete are gone yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum StorageStatus {
    /// Every blob is deleted (or was already missing).
    Purged,
    /// A blob deletion failed; it stays recorded and is retried in the background.
    Pending,
}

impl From<StorageState> for StorageStatus {
    fn from(state: StorageState) -> Self {
        match state {
            StorageState::Purged => Self::Purged,
            StorageState::Pending => Self::Pending,
        }
    }
}

/// What was removed together with the media row.
#[derive(Debug, Clone, Object)]
pub struct RemovedDto {
    /// Whether a community copy (row and blob) was removed.
    pub community_copy: bool,
    /// Tag assignments removed (of the media and of its community copy).
    pub tag_assignments: u64,
    /// Access grants removed.
    pub access_grants: u64,
}

/// The receipt of a delete.
#[derive(Debug, Clone, Object)]
pub struct DeleteReceiptDto {
    /// The deleted media's id.
    pub id: i64,
    /// Always `true`.
    pub deleted: bool,
    /// `Media deleted successfully`.
    pub message: String,
    /// Bytes no longer counted in usage.
    pub freed_bytes: i64,
    /// `purged`, or `pending` when a blob deletion will be retried.
    pub storage: StorageStatus,
    /// What cascaded.
    pub removed: RemovedDto,
}

impl From<DeleteReceipt> for DeleteReceiptDto {
    fn from(receipt: DeleteReceipt) -> Self {
        Self {
            id: receipt.id.get(),
            deleted: true,
            message: "Media deleted successfully".to_owned(),
            freed_bytes: receipt.freed_bytes,
            storage: receipt.storage.into(),
            removed: RemovedDto {
                community_copy: receipt.removed.community_copy,
                tag_assignments: receipt.removed.tag_assignments,
                access_grants: receipt.removed.access_grants,
            },
        }
    }
}

/// Ids to delete at once.
#[derive(Debug, Clone, Object)]
pub struct BulkDeleteRequest {
    /// 1 to 1000 media ids.
    pub ids: Vec<i64>,
}

/// The verdict on one id of a bulk delete.
#[derive(Debug, Clone, Object)]
pub struct BulkDeleteItem {
    /// The id as sent.
    pub id: i64,
    /// Whether it was deleted.
    pub deleted: bool,
    /// The status a single delete of this id would have answered.
    pub status: u16,
    /// The error code when not deleted.
    pub code: Option<String>,
    /// `purged` or `pending`, when deleted.
    pub storage: Option<StorageStatus>,
}

/// The receipt of a bulk delete; results are in input order.
#[derive(Debug, Clone, Object)]
pub struct BulkDeleteResponse {
    /// Ids sent.
    pub requested: u64,
    /// Ids deleted.
    pub deleted: u64,
    /// Ids not deleted.
    pub failed: u64,
    /// Bytes no longer counted in usage.
    pub freed_bytes: i64,
    /// One entry per id sent.
    pub results: Vec<BulkDeleteItem>,
}

impl From<BulkReceipt> for BulkDeleteResponse {
    fn from(receipt: BulkReceipt) -> Self {
        let mut response = Self {
            requested: receipt.items.len() as u64,
            deleted: 0,
            failed: 0,
            freed_bytes: 0,
            results: Vec::with_capacity(receipt.items.len()),
        };
        for item in receipt.items {
            let entry = match item.outcome {
                Ok(done) => {
                    response.deleted += 1;
                    response.freed_bytes += done.freed_bytes;
                    BulkDeleteItem {
                        id: item.id,
                        deleted: true,
                        status: 200,
                        code: None,
                        storage: Some(done.storage.into()),
                    }
                }
                Err(err) => {
                    response.failed += 1;
                    let (status, code) = ApiError::from(err).status_and_code();
                    BulkDeleteItem {
                        id: item.id,
                        deleted: false,
                        status,
                        code: Some(code),
                        storage: None,
                    }
                }
            };
            response.results.push(entry);
        }
        response
    }
}

/// New tags of a media item.
#[derive(Debug, Clone, Object)]
pub struct TagsRequest {
    /// The complete tag list (replaces the current one).
    pub tags: Vec<String>,
}

/// A grant to create.
#[derive(Debug, Clone, Object)]
pub struct GrantRequest {
    /// The grantee.
    pub user_id: String,
    /// `read` or `delete`.
    pub permission: String,
}

/// An access grant.
#[derive(Debug, Clone, Object)]
pub struct GrantDto {
    /// The media.
    pub media_id: i64,
    /// The grantee.
    pub user_id: String,
    /// `read` or `delete`.
    pub permission: String,
    /// When it was given.
    pub created_at: OffsetDateTime,
}

impl From<Grant> for GrantDto {
    fn from(grant: Grant) -> Self {
        Self {
            media_id: grant.media_id.get(),
            user_id: grant.user_id.to_string(),
            permission: grant.permission.as_str().to_owned(),
            created_at: grant.created_at,
        }
    }
}

/// A community copy.
#[derive(Debug, Clone, Object)]
pub struct CommunityItemDto {
    /// Id of the copy.
    pub id: i64,
    /// The original media.
    pub media_id: i64,
    /// Owner of the original.
    pub owner_id: String,
    /// File name.
    pub file_name: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Tags of the copy.
    pub tags: Vec<String>,
    /// When it was shared.
    pub created_at: OffsetDateTime,
}

impl From<CommunityItem> for CommunityItemDto {
    fn from(item: CommunityItem) -> Self {
        Self {
            id: item.id,
            media_id: item.media_id.get(),
            owner_id: item.owner_id.to_string(),
            file_name: item.file_name,
            content_type: item.content_type,
            size_bytes: item.size_bytes,
            tags: item.tags.iter().map(|t| t.as_str().to_owned()).collect(),
            created_at: item.created_at,
        }
    }
}

/// A page of community copies.
#[derive(Debug, Clone, Object)]
pub struct CommunityPage {
    /// The items, newest first.
    pub items: Vec<CommunityItemDto>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// The result of removing a community copy.
#[derive(Debug, Clone, Object)]
pub struct UnshareResponse {
    /// The media id.
    pub media_id: i64,
    /// Whether the copy's blob is gone yet.
    pub storage: StorageStatus,
}

/// An activity event.
#[derive(Debug, Clone, Object)]
pub struct ActivityDto {
    /// Event id, increasing.
    pub id: i64,
    /// Who did it.
    pub actor_id: String,
    /// What happened (`media_uploaded`, `media_deleted`, …).
    pub action: String,
    /// The media concerned.
    pub media_id: Option<i64>,
    /// A snapshot of what changed.
    pub details: serde_json::Value,
    /// When.
    pub created_at: OffsetDateTime,
}

impl From<Activity> for ActivityDto {
    fn from(event: Activity) -> Self {
        Self {
            id: event.id,
            actor_id: event.actor_id.to_string(),
            action: event.action,
            media_id: event.media_id.map(|id| id.get()),
            details: event.details,
            created_at: event.created_at,
        }
    }
}

/// A page of activity, newest first.
#[derive(Debug, Clone, Object)]
pub struct ActivityPage {
    /// The events.
    pub items: Vec<ActivityDto>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// A tenant's usage; always the sums over its live media.
#[derive(Debug, Clone, Object)]
pub struct UsageDto {
    /// Live media items.
    pub media_count: i64,
    /// Their total size in bytes.
    pub bytes_used: i64,
}

impl From<Usage> for UsageDto {
    fn from(usage: Usage) -> Self {
        Self {
            media_count: usage.media_count,
            bytes_used: usage.bytes_used,
        }
    }
}

/// Liveness or readiness.
#[derive(Debug, Clone, Object)]
pub struct HealthDto {
    /// `ok`.
    pub status: String,
}
