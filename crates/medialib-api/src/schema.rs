//! Wire types: request and response bodies. Domain types convert into these here; the domain
//! never sees them.

use medialib_domain::service::filter::FilterReport;
use medialib_domain::service::media::Page;
use medialib_domain::service::trash::TrashSummary;
use medialib_domain::{
    Activity, BulkReceipt, Change, ChangeKind, ChangesPage, CommunityItem, DeleteReceipt, Grant,
    Hold, Media, Permission, Reference, StorageState, TenantSettings, ThumbnailState, Usage,
};
use poem_openapi::{Enum, Object};
use time::OffsetDateTime;

use crate::bounded::{Count, NotBlank, RefPattern, TagName, Text, User};
use crate::error::ApiError;

/// A media item.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Media")]
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
    /// When it was moved to the trash; absent while live.
    #[oai(skip_serializing_if_is_none)]
    pub trashed_at: Option<OffsetDateTime>,
    pub thumbnail: ThumbnailStatus,
    /// The entity tag of this revision of the media's metadata (it changes with its tags,
    /// path and state; the content's own ETag is its SHA-256): pass it as `If-Match` to
    /// delete only what you saw.
    pub etag: String,
}

/// What a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ChangeKindDto {
    /// Uploaded.
    Created,
    /// Its tags or sharing changed.
    Updated,
    /// Moved to the trash.
    Trashed,
    /// Brought back from the trash.
    Restored,
    /// Deleted for good: a tombstone (with `owner_id`, `path`, `reason`).
    Deleted,
}

impl From<ChangeKind> for ChangeKindDto {
    fn from(kind: ChangeKind) -> Self {
        match kind {
            ChangeKind::Created => Self::Created,
            ChangeKind::Updated => Self::Updated,
            ChangeKind::Trashed => Self::Trashed,
            ChangeKind::Restored => Self::Restored,
            ChangeKind::Deleted => Self::Deleted,
        }
    }
}

/// One change of a media item.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Change", skip_serializing_if_is_none)]
pub struct ChangeDto {
    /// Its place in the feed.
    pub seq: i64,
    pub kind: ChangeKindDto,
    /// The media it happened to.
    pub media_id: i64,
    /// When it happened (RFC 3339).
    pub at: OffsetDateTime,
    /// Tombstones: the deleted media's owner.
    pub owner_id: Option<String>,
    /// Tombstones: its path.
    pub path: Option<String>,
    /// Tombstones: `requested`, `trash_retention` or `blob_missing`.
    pub reason: Option<String>,
}

impl From<Change> for ChangeDto {
    fn from(change: Change) -> Self {
        Self {
            seq: change.seq,
            kind: change.kind.into(),
            media_id: change.media_id.get(),
            at: change.at,
            owner_id: change.owner_id.map(|owner| owner.as_str().to_owned()),
            path: change.path,
            reason: change.reason,
        }
    }
}

/// A page of the changes feed.
#[derive(Debug, Clone, Object)]
#[oai(rename = "ChangesPage")]
pub struct ChangesPageDto {
    /// The changes after the cursor, in the order they were committed.
    pub changes: Vec<ChangeDto>,
    /// Pass as `cursor` to continue; the same cursor when nothing happened since.
    pub next_cursor: String,
}

impl From<ChangesPage> for ChangesPageDto {
    fn from(page: ChangesPage) -> Self {
        Self {
            changes: page.changes.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor.to_string(),
        }
    }
}

/// Where a media item's thumbnail stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ThumbnailStatus {
    /// Not an image medialib makes thumbnails of.
    None,
    /// Not made yet.
    Pending,
    /// Available at `/v1/media/{id}/thumbnail`.
    Ready,
    /// The image could not be decoded (corrupt, or over the decoding limits).
    Failed,
}

impl From<ThumbnailState> for ThumbnailStatus {
    fn from(state: ThumbnailState) -> Self {
        match state {
            ThumbnailState::None => Self::None,
            ThumbnailState::Pending => Self::Pending,
            ThumbnailState::Ready => Self::Ready,
            ThumbnailState::Failed => Self::Failed,
        }
    }
}

impl From<Media> for MediaDto {
    fn from(media: Media) -> Self {
        Self {
            etag: media.etag(),
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
            trashed_at: media.trashed_at,
            thumbnail: media.thumbnail.into(),
        }
    }
}

/// A page of media, newest first.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
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

/// Whether the blobs of a delete are gone yet: `purged`; `pending` when a blob deletion will
/// be retried; `trashed` (and absent from a bulk item that was not deleted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum StorageStatus {
    /// Every blob is deleted (or was already missing).
    Purged,
    /// A blob deletion failed; it stays recorded and is retried in the background.
    Pending,
    /// Nothing was deleted: the media is in the trash and keeps its blobs until purged.
    Trashed,
}

impl From<StorageState> for StorageStatus {
    fn from(state: StorageState) -> Self {
        match state {
            StorageState::Purged => Self::Purged,
            StorageState::Pending => Self::Pending,
            StorageState::Trashed => Self::Trashed,
        }
    }
}

/// What was removed together with the media row (what cascaded).
#[derive(Debug, Clone, Object)]
#[oai(rename = "Removed")]
pub struct RemovedDto {
    /// Whether a community copy (row and blob) was removed.
    pub community_copy: bool,
    /// Tag assignments removed (of the media and of its community copy).
    pub tag_assignments: u64,
    /// Access grants removed.
    pub access_grants: u64,
    /// Derivatives (thumbnails) removed, rows and blobs.
    pub derivatives: u64,
}

/// The receipt of a delete.
#[derive(Debug, Clone, Object)]
#[oai(rename = "DeleteReceipt")]
pub struct DeleteReceiptDto {
    /// The deleted media's id.
    pub id: i64,
    /// `true` when deleted permanently; `false` when moved to the trash.
    pub deleted: bool,
    /// `Media deleted successfully`, or `Media moved to the trash`.
    pub message: String,
    /// Bytes no longer counted in usage.
    pub freed_bytes: i64,
    pub storage: StorageStatus,
    pub removed: RemovedDto,
    /// The in-use references a forced delete removed.
    pub broken_references: Vec<String>,
}

impl From<DeleteReceipt> for DeleteReceiptDto {
    fn from(receipt: DeleteReceipt) -> Self {
        let trashed = receipt.storage == StorageState::Trashed;
        Self {
            id: receipt.id.get(),
            deleted: !trashed,
            message: if trashed {
                "Media moved to the trash"
            } else {
                "Media deleted successfully"
            }
            .to_owned(),
            freed_bytes: receipt.freed_bytes,
            storage: receipt.storage.into(),
            removed: RemovedDto {
                community_copy: receipt.removed.community_copy,
                tag_assignments: receipt.removed.tag_assignments,
                access_grants: receipt.removed.access_grants,
                derivatives: receipt.removed.derivatives,
            },
            broken_references: receipt
                .broken_references
                .iter()
                .map(|name| name.as_str().to_owned())
                .collect(),
        }
    }
}

/// Ids to delete at once.
#[derive(Debug, Clone, Object)]
pub struct BulkDeleteRequest {
    /// 1 to 1000 media ids.
    #[oai(validator(min_items = 1, max_items = 1000))]
    pub ids: Vec<i64>,
    /// Delete referenced media too (absent: `false`, such ids fail with `media_in_use`).
    pub force: Option<bool>,
}

/// The verdict on one id of a bulk delete.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct BulkDeleteItem {
    /// The id as sent.
    pub id: i64,
    /// Whether it was deleted.
    pub deleted: bool,
    /// The status a single delete of this id would have answered.
    pub status: u16,
    /// The error code when not deleted.
    pub code: Option<String>,
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
    /// The complete tag list (replaces the current one): at most 32 tags of 1 to 64
    /// characters, without commas.
    pub tags: Vec<Text<1, 64, TagName>>,
}

/// What an access grant allows: `read` (see and download) or `delete` (see, download and
/// delete).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
#[oai(rename = "Permission")]
pub enum PermissionDto {
    /// See and download.
    Read,
    /// See, download and delete.
    Delete,
}

impl PermissionDto {
    /// The wire name, as the domain parses it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Delete => "delete",
        }
    }
}

impl From<Permission> for PermissionDto {
    fn from(permission: Permission) -> Self {
        match permission {
            Permission::Read => Self::Read,
            Permission::Delete => Self::Delete,
        }
    }
}

/// A grant to create.
#[derive(Debug, Clone, Object)]
pub struct GrantRequest {
    /// The grantee: 1 to 128 characters, no control character or `/`, no surrounding spaces.
    pub user_id: User,
    pub permission: PermissionDto,
}

/// An access grant.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Grant")]
pub struct GrantDto {
    /// The media.
    pub media_id: i64,
    /// The grantee.
    pub user_id: String,
    pub permission: PermissionDto,
    /// When it was given.
    pub created_at: OffsetDateTime,
}

impl From<Grant> for GrantDto {
    fn from(grant: Grant) -> Self {
        Self {
            media_id: grant.media_id.get(),
            user_id: grant.user_id.to_string(),
            permission: grant.permission.into(),
            created_at: grant.created_at,
        }
    }
}

/// A community copy.
#[derive(Debug, Clone, Object)]
#[oai(rename = "CommunityItem")]
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
#[oai(skip_serializing_if_is_none)]
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
    pub storage: StorageStatus,
}

/// An activity event.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(rename = "Activity")]
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
#[oai(skip_serializing_if_is_none)]
pub struct ActivityPage {
    /// The events.
    pub items: Vec<ActivityDto>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// A tenant's usage; always the sums over its media, live and trashed apart.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Usage")]
pub struct UsageDto {
    /// Live media items.
    pub media_count: i64,
    /// Their total size in bytes.
    pub bytes_used: i64,
    /// Media items in the trash.
    pub trashed_count: i64,
    /// Their total size in bytes (still stored until purged).
    pub trashed_bytes: i64,
}

impl From<Usage> for UsageDto {
    fn from(usage: Usage) -> Self {
        Self {
            media_count: usage.media_count,
            bytes_used: usage.bytes_used,
            trashed_count: usage.trashed_count,
            trashed_bytes: usage.trashed_bytes,
        }
    }
}

/// A tenant's deletion settings.
#[derive(Debug, Clone, Object)]
#[oai(rename = "TenantSettings")]
pub struct TenantSettingsDto {
    /// Days an item stays in the trash before the background purge removes it (0 to 3650).
    pub trash_retention_days: u32,
    /// Whether `DELETE /v1/media/{id}` moves to the trash unless `trash=false` is passed.
    pub delete_moves_to_trash: bool,
    /// Deletes per second for all of the tenant's callers together, as the operator set it
    /// (`medialib tenants limits`; 0: unlimited); absent: the server's default. Read-only here.
    #[oai(skip_serializing_if_is_none)]
    pub delete_rate_limit: Option<u32>,
    /// Uploads per second for the whole tenant, as above.
    #[oai(skip_serializing_if_is_none)]
    pub upload_rate_limit: Option<u32>,
}

impl From<TenantSettings> for TenantSettingsDto {
    fn from(settings: TenantSettings) -> Self {
        Self {
            trash_retention_days: settings.trash_retention_days,
            delete_moves_to_trash: settings.delete_moves_to_trash,
            delete_rate_limit: settings.delete_rate_limit,
            upload_rate_limit: settings.upload_rate_limit,
        }
    }
}

/// Settings to change; absent fields keep their value.
#[derive(Debug, Clone, Object)]
pub struct TenantSettingsPatch {
    /// Days an item stays in the trash (0 to 3650).
    pub trash_retention_days: Option<Count<3650>>,
    /// Whether a plain delete moves to the trash.
    pub delete_moves_to_trash: Option<bool>,
}

/// Where to restore a trashed item.
#[derive(Debug, Clone, Object, Default)]
pub struct RestoreRequest {
    /// A new path for it (relative to the owner's root); absent: its old path.
    pub path: Option<String>,
}

/// What emptying the trash did.
#[derive(Debug, Clone, Object)]
#[oai(rename = "TrashSummary")]
pub struct TrashSummaryDto {
    /// Items purged permanently.
    pub deleted: u64,
    /// Bytes freed.
    pub freed_bytes: i64,
    /// Items kept because they are held.
    pub held: u64,
    /// Items the caller may see but not purge.
    pub forbidden: u64,
    /// Purged items whose blobs will be removed by the retry loop.
    pub storage_pending: u64,
}

impl From<TrashSummary> for TrashSummaryDto {
    fn from(summary: TrashSummary) -> Self {
        Self {
            deleted: summary.counts.deleted,
            freed_bytes: summary.counts.freed_bytes,
            held: summary.counts.held,
            forbidden: summary.counts.forbidden,
            storage_pending: summary.counts.storage_pending,
        }
    }
}

/// A legal hold to place.
#[derive(Debug, Clone, Object)]
pub struct HoldRequest {
    /// Why (1 to 1024 characters, not all whitespace), e.g. a case number.
    pub reason: Text<1, 1024, NotBlank>,
}

/// A legal hold.
#[derive(Debug, Clone, Object, serde::Deserialize, PartialEq, Eq)]
#[oai(rename = "Hold")]
pub struct HoldDto {
    /// Hold id.
    pub id: i64,
    /// The held media.
    pub media_id: i64,
    /// Why.
    pub reason: String,
    /// The admin who placed it.
    pub created_by: String,
    /// When (RFC 3339).
    pub created_at: String,
}

impl From<Hold> for HoldDto {
    fn from(hold: Hold) -> Self {
        Self {
            id: hold.id,
            media_id: hold.media_id.get(),
            reason: hold.reason,
            created_by: hold.created_by.to_string(),
            created_at: hold
                .created_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }
    }
}

/// A reference to record.
#[derive(Debug, Clone, Object)]
pub struct ReferenceRequest {
    /// What uses the media, e.g. `post:123` (1 to 255 characters, no `/`, spaces or control
    /// characters).
    #[oai(rename = "ref")]
    pub name: Text<1, 255, RefPattern>,
}

/// A recorded in-use reference.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Reference")]
pub struct ReferenceDto {
    /// The media.
    pub media_id: i64,
    /// What uses it.
    #[oai(rename = "ref")]
    pub name: String,
    /// Who recorded it.
    pub created_by: String,
    /// When.
    pub created_at: OffsetDateTime,
}

impl From<Reference> for ReferenceDto {
    fn from(reference: Reference) -> Self {
        Self {
            media_id: reference.media_id.get(),
            name: reference.name.as_str().to_owned(),
            created_by: reference.created_by.to_string(),
            created_at: reference.created_at,
        }
    }
}

/// Which media to delete by rule; at least one criterion is required.
#[derive(Debug, Clone, Object)]
pub struct DeleteByFilterRequest {
    /// Only media with this tag.
    pub tag: Option<String>,
    /// Only media in this folder or below it (empty: only the root).
    pub folder: Option<String>,
    /// Only media created before this time (RFC 3339).
    pub created_before: Option<OffsetDateTime>,
    /// Only media uploaded more than this many days ago.
    pub older_than_days: Option<u32>,
    /// Only media of this owner.
    pub owner: Option<String>,
    /// `true`: count and list only; `false`: delete.
    pub dry_run: bool,
    /// Delete referenced media too (absent: `false`).
    pub force: Option<bool>,
    /// Dry run: page size of `ids`, 1 to 1000 (default 50).
    #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
    pub limit: Option<u64>,
    /// Dry run: `next_cursor` of the previous page of ids.
    pub cursor: Option<String>,
}

/// What a delete by filter found and did.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DeleteByFilterResponse {
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Media matching the filter that the caller can see.
    pub matched: u64,
    /// Their total size in bytes.
    pub matched_bytes: i64,
    /// Dry run: one page of the matching ids, newest first.
    pub ids: Vec<i64>,
    /// Dry run: cursor of the next page of ids.
    pub next_cursor: Option<String>,
    /// Media deleted; in a dry run, the media a real run would delete now.
    pub deleted: u64,
    /// Bytes freed; in a dry run, the bytes a real run would free.
    pub freed_bytes: i64,
    /// Matches kept because they are held (a dry run: that a real run would keep).
    pub held: u64,
    /// Matches kept because they are in use, without `force` (a dry run: as above).
    pub in_use: u64,
    /// Matches the caller may see but not delete (a dry run: as above).
    pub forbidden: u64,
    /// Deleted media whose blobs will be removed by the retry loop (0 in a dry run).
    pub storage_pending: u64,
}

impl From<FilterReport> for DeleteByFilterResponse {
    fn from(report: FilterReport) -> Self {
        Self {
            dry_run: report.dry_run,
            matched: report.matched,
            matched_bytes: report.matched_bytes,
            ids: report.ids.iter().map(|id| id.get()).collect(),
            next_cursor: report.next_cursor,
            deleted: report.counts.deleted,
            freed_bytes: report.counts.freed_bytes,
            held: report.counts.held,
            in_use: report.counts.in_use,
            forbidden: report.counts.forbidden,
            storage_pending: report.counts.storage_pending,
        }
    }
}

/// Liveness or readiness.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Health")]
pub struct HealthDto {
    /// `ok`.
    pub status: String,
}
