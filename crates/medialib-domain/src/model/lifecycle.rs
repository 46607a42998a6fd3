//! The lifecycle of a media item beyond upload and delete: tenant settings, the trash, legal
//! holds, in-use references and derivatives (thumbnails).

use serde::Serialize;
use time::OffsetDateTime;

use super::{BlobKey, IfMatch, MediaId, Role, TenantId, UserId};
use crate::error::ServiceError;

/// The longest trash retention a tenant may set (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// How a tenant wants deletion to behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantSettings {
    /// Days an item stays in the trash before it is purged automatically (0 = at the next pass
    /// of the background purge).
    pub trash_retention_days: u32,
    /// Whether `DELETE /v1/media/{id}` moves to the trash unless the request says otherwise.
    pub delete_moves_to_trash: bool,
    /// Deletes per second that the tenant's callers may make together, set by the operator
    /// (`None`: the server's default; 0: unlimited).
    pub delete_rate_limit: Option<u32>,
    /// Uploads per second that the tenant's callers may make together, as above.
    pub upload_rate_limit: Option<u32>,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            trash_retention_days: 30,
            delete_moves_to_trash: false,
            delete_rate_limit: None,
            upload_rate_limit: None,
        }
    }
}

/// A change to a tenant's settings: what is absent keeps its value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SettingsChange {
    /// New trash retention in days.
    pub trash_retention_days: Option<u32>,
    /// Whether a plain delete moves to the trash.
    pub delete_moves_to_trash: Option<bool>,
    /// New tenant-wide delete rate (`Some(None)` returns to the server's default). Only the
    /// operator sets it ([`crate::MediaService::set_tenant_rate_limits`]).
    pub delete_rate_limit: Option<Option<u32>>,
    /// New tenant-wide upload rate, as above.
    pub upload_rate_limit: Option<Option<u32>>,
}

impl SettingsChange {
    /// Checks the values' ranges.
    ///
    /// # Errors
    /// `invalid_settings` when the retention is longer than [`MAX_RETENTION_DAYS`].
    pub fn validate(self) -> Result<Self, ServiceError> {
        if self
            .trash_retention_days
            .is_some_and(|days| days > MAX_RETENTION_DAYS)
        {
            return Err(ServiceError::Invalid {
                code: "invalid_settings",
                message: format!("trash_retention_days must be 0 to {MAX_RETENTION_DAYS}"),
            });
        }
        Ok(self)
    }
}

/// Of some media items, the ones a delete would refuse whatever the caller: held ones, and
/// ones in use (refused unless forced).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteBlockers {
    /// Items with at least one legal hold.
    pub held: std::collections::HashSet<MediaId>,
    /// Items with at least one in-use reference.
    pub referenced: std::collections::HashSet<MediaId>,
}

/// Whether a media row is live or in the trash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaState {
    /// Listed, readable, shareable.
    #[default]
    Live,
    /// Hidden from everything but the trash; its blobs are kept until purged.
    Trashed,
}

/// Where the thumbnail of a media item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThumbnailState {
    /// Not an image medialib makes thumbnails of (or thumbnails are off).
    #[default]
    None,
    /// An image whose thumbnail is not made yet.
    Pending,
    /// The thumbnail is stored.
    Ready,
    /// The image could not be decoded (corrupt, or over the decoding limits).
    Failed,
}

impl ThumbnailState {
    /// The stored name (`None` is stored as NULL).
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::Pending => Some("pending"),
            Self::Ready => Some("ready"),
            Self::Failed => Some("failed"),
        }
    }

    /// Reads a stored name.
    pub fn from_stored(raw: Option<&str>) -> Self {
        match raw {
            Some("pending") => Self::Pending,
            Some("ready") => Self::Ready,
            Some("failed") => Self::Failed,
            _ => Self::None,
        }
    }
}

/// The longest hold reason, in bytes.
pub const MAX_REASON_CHARS: usize = 1024;

/// A move to the trash, judged against the locked row by the rules of a delete
/// ([`crate::service::verdict::judge_trash`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrashRequest {
    /// The live media to trash.
    pub id: MediaId,
    /// The caller's tenant: a row of another tenant is not found.
    pub tenant_id: TenantId,
    /// The caller.
    pub user_id: UserId,
    /// The caller's role.
    pub role: Role,
    /// Trash it even when applications recorded references to it.
    pub force: bool,
    /// Move only the revision the caller saw.
    pub if_match: Option<IfMatch>,
}

/// A legal hold on a media item: while one exists the item cannot be deleted, trashed or
/// purged by anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// Hold id.
    pub id: i64,
    /// The held media.
    pub media_id: MediaId,
    /// Why it is held.
    pub reason: String,
    /// The admin who placed it.
    pub created_by: UserId,
    /// When.
    pub created_at: OffsetDateTime,
}

/// The name of an in-use reference (`post:123`): 1 to 255 bytes of printable text without `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RefName(String);

impl RefName {
    /// Parses a reference name.
    ///
    /// # Errors
    /// `invalid_reference` when empty, longer than 255 bytes, or holding `/`, whitespace or
    /// control characters.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        let ok = !raw.is_empty()
            && raw.chars().count() <= 255
            && !raw
                .chars()
                .any(|c| c == '/' || c.is_whitespace() || c.is_control());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ServiceError::Invalid {
                code: "invalid_reference",
                message:
                    "ref must be 1 to 255 characters without '/', spaces or control characters"
                        .into(),
            })
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A record that something outside medialib uses a media item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The used media.
    pub media_id: MediaId,
    /// What uses it.
    pub name: RefName,
    /// Who recorded it.
    pub created_by: UserId,
    /// When.
    pub created_at: OffsetDateTime,
}

/// The kinds of derivative medialib makes.
pub const THUMBNAIL: &str = "thumbnail";

/// A file derived from a media item (a thumbnail), stored as its own blob and deleted with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derivative {
    /// The original.
    pub media_id: MediaId,
    /// What it is ([`THUMBNAIL`]).
    pub kind: &'static str,
    /// Where it is stored.
    pub blob_key: BlobKey,
    /// Its MIME type.
    pub content_type: String,
    /// Its size.
    pub size_bytes: i64,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
}

/// An image produced by a [`crate::ports::Thumbnailer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedImage {
    /// The encoded image.
    pub bytes: bytes::Bytes,
    /// Its MIME type.
    pub content_type: String,
    /// Pixel width.
    pub width: u32,
    /// Pixel height.
    pub height: u32,
}
