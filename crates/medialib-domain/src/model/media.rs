//! Media records as the ports pass them: stored and new media, community copies, activity
//! events, usage and listing queries.

use time::OffsetDateTime;

use super::*;

/// A stored media item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// Never reused id.
    pub id: MediaId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Owning user.
    pub owner_id: UserId,
    /// Path relative to the owner's root.
    pub path: MediaPath,
    /// MIME type given at upload.
    pub content_type: String,
    /// Size of the blob.
    pub size_bytes: i64,
    /// Hex SHA-256 of the blob.
    pub sha256: String,
    /// Tags, sorted.
    pub tags: Vec<Tag>,
    /// Whether a community copy exists.
    pub shared_to_community: bool,
    /// Storage key of the original.
    pub blob_key: BlobKey,
    /// Upload time.
    pub created_at: OffsetDateTime,
    /// When it was moved to the trash; `None` while live.
    pub trashed_at: Option<OffsetDateTime>,
    /// Where its thumbnail stands.
    pub thumbnail: ThumbnailState,
    /// Its revision: 1 when uploaded, one more with every change of its tags, its path or its
    /// state (trashed, restored). What its [`Media::etag`] names.
    pub version: i64,
}

impl Media {
    /// The entity tag of this revision of the media (not of its bytes): a quoted string that
    /// changes whenever its tags, path or state change, for `If-Match` on a delete.
    pub fn etag(&self) -> String {
        format!("\"{}-{}\"", self.id.get(), self.version)
    }

    /// The file name (last path segment).
    pub fn file_name(&self) -> &str {
        self.path.file_name()
    }
}

/// A media row to insert; the blob is already stored under `blob_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMedia {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Owning user.
    pub owner_id: UserId,
    /// Path relative to the owner's root.
    pub path: MediaPath,
    /// MIME type.
    pub content_type: String,
    /// Size of the blob.
    pub size_bytes: i64,
    /// Hex SHA-256 of the blob.
    pub sha256: String,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Storage key of the stored blob.
    pub blob_key: BlobKey,
    /// Upload time.
    pub created_at: OffsetDateTime,
    /// `Pending` when a thumbnail will be made for it, else `None`.
    pub thumbnail: ThumbnailState,
}

impl NewMedia {
    /// The stored media once the row has its id (tags sorted, not shared yet).
    pub fn into_media(self, id: MediaId) -> Media {
        let mut tags = self.tags;
        tags.sort();
        Media {
            id,
            tenant_id: self.tenant_id,
            owner_id: self.owner_id,
            path: self.path,
            content_type: self.content_type,
            size_bytes: self.size_bytes,
            sha256: self.sha256,
            tags,
            shared_to_community: false,
            blob_key: self.blob_key,
            created_at: self.created_at,
            trashed_at: None,
            thumbnail: self.thumbnail,
            version: 1,
        }
    }
}

/// A community copy of a media item: its own row and its own blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommunityItem {
    /// Id of the copy.
    pub id: i64,
    /// The original.
    pub media_id: MediaId,
    /// Owner of the original.
    pub owner_id: UserId,
    /// File name of the original.
    pub file_name: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Tags assigned to the copy.
    pub tags: Vec<Tag>,
    /// Storage key of the copy.
    pub blob_key: BlobKey,
    /// When it was shared.
    pub created_at: OffsetDateTime,
}

/// An activity event to record with a mutation.
#[derive(Debug, Clone, PartialEq)]
pub struct NewActivity {
    /// Tenant of the event.
    pub tenant_id: TenantId,
    /// Who did it.
    pub actor_id: UserId,
    /// What happened: `media_uploaded`, `media_deleted`, …
    pub action: &'static str,
    /// Which media it concerns.
    pub media_id: Option<MediaId>,
    /// A snapshot of what changed.
    pub details: serde_json::Value,
    /// When.
    pub created_at: OffsetDateTime,
}

/// A recorded activity event.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// Event id, increasing.
    pub id: i64,
    /// Who did it.
    pub actor_id: UserId,
    /// What happened.
    pub action: String,
    /// Which media it concerns.
    pub media_id: Option<MediaId>,
    /// Snapshot of what changed.
    pub details: serde_json::Value,
    /// When.
    pub created_at: OffsetDateTime,
}

/// Filter for the activity log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityQuery {
    /// Only this action.
    pub action: Option<String>,
    /// Only this media.
    pub media_id: Option<MediaId>,
    /// Only this actor (non-admins see their own events).
    pub actor_id: Option<UserId>,
    /// Events with an id below this one.
    pub before_id: Option<i64>,
    /// Page size.
    pub limit: u64,
}

/// A tenant's usage; always the sums over its media, live and trashed apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Number of live media items.
    pub media_count: i64,
    /// Their total size.
    pub bytes_used: i64,
    /// Number of media items in the trash.
    pub trashed_count: i64,
    /// Their total size (still stored until purged).
    pub trashed_bytes: i64,
}

/// Which media a listing may return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Every media item of the tenant (admins, viewers).
    Tenant,
    /// The user's own media and media granted to them.
    OwnedOrGranted(UserId),
}

/// A page request over media, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaQuery {
    /// Which media the caller may see.
    pub visibility: Visibility,
    /// Live media or the trash.
    pub state: MediaState,
    /// Only media of this owner.
    pub owner: Option<UserId>,
    /// Only media with an id below this one (the cursor).
    pub before_id: Option<MediaId>,
    /// Only media carrying every one of these tags.
    pub tags: Vec<Tag>,
    /// Only media directly in this folder (empty = the root).
    pub folder: Option<String>,
    /// Only media created strictly before this time.
    pub created_before: Option<OffsetDateTime>,
    /// Page size.
    pub limit: u64,
}

/// A media item together with the caller's grant on it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaAccess {
    /// The media.
    pub media: Media,
    /// The grant the asking user holds on it.
    pub grant: Option<Permission>,
}

/// An `If-Match` precondition on a change (RFC 9110, section 13.1.1): it goes ahead only while
/// the media's current [`Media::etag`] is one of the listed tags, or, for `*`, while the media
/// exists. Tags compare strongly: a weak tag (`W/"…"`) never matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current revision.
    Any,
    /// The entity tags listed, quotes included.
    Tags(Vec<String>),
}

impl IfMatch {
    /// Reads an `If-Match` header value: `*`, or entity tags separated by commas. Anything
    /// else is a list no revision matches.
    pub fn parse(header: &str) -> Self {
        if header.trim() == "*" {
            return Self::Any;
        }
        Self::Tags(
            header
                .split(',')
                .map(str::trim)
                .filter(|tag| !tag.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// Whether `media`, as it is now, meets the precondition.
    pub fn admits(&self, media: &Media) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.contains(&media.etag()),
        }
    }
}
