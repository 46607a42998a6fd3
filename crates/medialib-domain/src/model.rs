//! The media model: identifiers and value types that prove their own validity, and the records
//! the use cases pass through the ports.
//!
//! Raw input becomes one of these types once, at the edge (`MediaId::parse`, `MediaPath::parse`);
//! everything past that point can rely on the type.

use serde::Serialize;
use time::OffsetDateTime;

use crate::error::ServiceError;

mod lifecycle;
pub use lifecycle::*;

/// The numeric id of a media item: a positive 64-bit integer, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct MediaId(i64);

impl MediaId {
    /// Parses a decimal id from a path or query parameter.
    ///
    /// # Errors
    /// [`ServiceError::InvalidMediaId`] for anything but a positive integer that fits in `i64`.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        let raw = raw.trim();
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ServiceError::InvalidMediaId);
        }
        let value: i64 = raw.parse().map_err(|_| ServiceError::InvalidMediaId)?;
        Self::try_from(value)
    }

    /// The raw value.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for MediaId {
    type Error = ServiceError;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        if value > 0 {
            Ok(Self(value))
        } else {
            Err(ServiceError::InvalidMediaId)
        }
    }
}

impl std::fmt::Display for MediaId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The database id of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct TenantId(pub i64);

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A tenant's slug: 1 to 63 characters of `a-z`, `0-9` and `-`, not starting with `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct TenantSlug(String);

impl TenantSlug {
    /// Parses a slug.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] with code `invalid_tenant` when the rules above are broken.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        let ok = !raw.is_empty()
            && raw.len() <= 63
            && !raw.starts_with('-')
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ServiceError::Invalid {
                code: "invalid_tenant",
                message: "Tenant slugs are 1-63 characters of a-z, 0-9 and '-'".into(),
            })
        }
    }

    /// The slug text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An application's user id: 1 to 128 printable characters without `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct UserId(String);

impl UserId {
    /// Parses a user id.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] with code `invalid_user_id`.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        let ok = !raw.is_empty()
            && raw.chars().count() <= 128
            && raw.trim() == raw
            && !raw.chars().any(|c| c.is_control() || c == '/');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ServiceError::Invalid {
                code: "invalid_user_id",
                message:
                    "User ids are 1-128 printable characters without '/' or surrounding spaces"
                        .into(),
            })
        }
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The characters that reorder text (Unicode bidirectional formatting characters).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// The longest media path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;

/// A media path relative to its owner's root: `folder/sub/name.ext`, case-sensitive.
///
/// Rules: not empty, at most [`MAX_PATH_BYTES`] bytes, no leading `/` (absolute), no `\`, no NUL
/// or other control character, no bidirectional formatting character (which makes a name read
/// differently from what it is: `photo\u{202E}gpj.exe`), no empty, `.` or `..` segment, no
/// trailing `/`. Paths are Unicode NFC: `café` typed composed or decomposed is one path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct MediaPath(String);

impl MediaPath {
    /// Parses a path that has already been percent-decoded.
    ///
    /// # Errors
    /// [`ServiceError::InvalidPath`] naming the broken rule.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        use unicode_normalization::UnicodeNormalization;
        let normalized: String = raw.nfc().collect();
        let raw = normalized.as_str();
        if raw.is_empty() {
            return Err(ServiceError::InvalidPath("path is empty"));
        }
        if raw.len() > MAX_PATH_BYTES {
            return Err(ServiceError::InvalidPath("path is longer than 1024 bytes"));
        }
        if raw.starts_with('/') {
            return Err(ServiceError::InvalidPath("path must be relative"));
        }
        if raw.contains('\\') {
            return Err(ServiceError::InvalidPath(
                "path must not contain backslashes",
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(ServiceError::InvalidPath(
                "path must not contain NUL or control characters",
            ));
        }
        if raw.chars().any(is_bidi_control) {
            return Err(ServiceError::InvalidPath(
                "path must not contain bidirectional formatting characters",
            ));
        }
        for segment in raw.split('/') {
            match segment {
                "" => return Err(ServiceError::InvalidPath("path has an empty segment")),
                "." | ".." => {
                    return Err(ServiceError::InvalidPath(
                        "path must not contain '.' or '..' segments",
                    ))
                }
                _ => {}
            }
        }
        Ok(Self(normalized))
    }

    /// The whole path.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// Everything before the last segment, empty at the root.
    pub fn folder(&self) -> &str {
        self.0.rsplit_once('/').map_or("", |(folder, _)| folder)
    }
}

impl std::fmt::Display for MediaPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tag: 1 to 64 characters, no commas, no control characters, no surrounding spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Tag(String);

impl Tag {
    /// Parses one tag.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] with code `invalid_tag`.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        let ok = !raw.is_empty()
            && raw.chars().count() <= 64
            && raw.trim() == raw
            && !raw.chars().any(|c| c.is_control() || c == ',');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ServiceError::Invalid {
                code: "invalid_tag",
                message: format!("Invalid tag {raw:?}: tags are 1-64 characters without commas"),
            })
        }
    }

    /// Parses a list, dropping duplicates and keeping the first order.
    ///
    /// # Errors
    /// The first invalid tag, or more than [`MAX_TAGS`] tags.
    pub fn parse_all<'a>(raw: impl IntoIterator<Item = &'a str>) -> Result<Vec<Tag>, ServiceError> {
        let mut tags: Vec<Tag> = Vec::new();
        for item in raw {
            let tag = Tag::parse(item)?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(ServiceError::Invalid {
                code: "invalid_tag",
                message: format!("At most {MAX_TAGS} tags per media item"),
            });
        }
        Ok(tags)
    }

    /// The tag text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The most tags one media item may carry.
pub const MAX_TAGS: usize = 32;

/// A key's role within its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything in its tenant.
    Admin,
    /// Its own media, plus what grants allow on others'.
    Member,
    /// Reads the tenant's media; changes nothing.
    Viewer,
}

impl Role {
    /// Parses `admin`, `member` or `viewer`.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] with code `invalid_role`.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        match raw {
            "admin" => Ok(Self::Admin),
            "member" => Ok(Self::Member),
            "viewer" => Ok(Self::Viewer),
            _ => Err(ServiceError::Invalid {
                code: "invalid_role",
                message: "Role must be admin, member or viewer".into(),
            }),
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
            Self::Viewer => "viewer",
        }
    }
}

/// What an access grant allows its grantee to do with someone else's media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// See and download.
    Read,
    /// See, download and delete.
    Delete,
}

impl Permission {
    /// Parses `read` or `delete`.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] with code `invalid_permission`.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        match raw {
            "read" => Ok(Self::Read),
            "delete" => Ok(Self::Delete),
            _ => Err(ServiceError::Invalid {
                code: "invalid_permission",
                message: "Permission must be read or delete".into(),
            }),
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Delete => "delete",
        }
    }
}

/// The authenticated caller of a use case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The key's tenant.
    pub tenant_id: TenantId,
    /// The key's tenant slug.
    pub tenant_slug: TenantSlug,
    /// The key's user.
    pub user_id: UserId,
    /// The key's role.
    pub role: Role,
    /// The key's public id.
    pub key_id: String,
    /// The settings of the key's tenant, read with the key.
    pub settings: TenantSettings,
    /// How the caller authenticated.
    pub credential: Credential,
}

/// How a caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// With a medialib API key (bound to one tenant).
    ApiKey,
    /// With a signed token (JWT) whose claims name the tenant and the user.
    Token,
    /// By the service that embeds medialib, which authenticated the user itself
    /// ([`crate::MediaService::act_as`]).
    Embedded,
}

impl Actor {
    /// Whether the actor is an admin of its tenant.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A storage key for a blob. Keys are made from random ids, never from user input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct BlobKey(String);

impl BlobKey {
    /// A fresh key for an uploaded original.
    pub fn new_media(tenant: TenantId) -> Self {
        Self(format!("media/{tenant}/{}", uuid::Uuid::new_v4().simple()))
    }

    /// A fresh key for a derivative (a thumbnail) of a media item.
    pub fn new_derivative(tenant: TenantId) -> Self {
        Self(format!(
            "derivatives/{tenant}/{}",
            uuid::Uuid::new_v4().simple()
        ))
    }

    /// A fresh key for a community copy.
    pub fn new_community(tenant: TenantId) -> Self {
        Self(format!(
            "community/{tenant}/{}",
            uuid::Uuid::new_v4().simple()
        ))
    }

    /// Wraps a key read back from storage or the database.
    pub fn from_stored(key: String) -> Self {
        Self(key)
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Database id.
    pub id: TenantId,
    /// Unique slug.
    pub slug: TenantSlug,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// Its settings.
    pub settings: TenantSettings,
}

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
}

impl Media {
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

/// An access grant on a media item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The media.
    pub media_id: MediaId,
    /// The grantee.
    pub user_id: UserId,
    /// What it allows.
    pub permission: Permission,
    /// When it was given.
    pub created_at: OffsetDateTime,
}

/// An API key as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Public id (the part before the secret).
    pub id: String,
    /// The key's tenant.
    pub tenant_id: TenantId,
    /// The key's tenant slug.
    pub tenant_slug: TenantSlug,
    /// The key's user.
    pub user_id: UserId,
    /// The key's role.
    pub role: Role,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
    /// When it stops working, if it does (set at creation, or by a rotation's overlap).
    pub expires_at: Option<OffsetDateTime>,
    /// When it last authenticated a request, to the minute (recorded in the background).
    pub last_used_at: Option<OffsetDateTime>,
}

/// An API key with the hash of its secret, as the repository stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredApiKey {
    /// The key's public fields.
    pub key: ApiKey,
    /// Hash of the secret, made by the [`crate::KeyHasher`].
    pub secret_hash: String,
    /// The settings of the key's tenant when read (ignored when stored).
    pub tenant_settings: TenantSettings,
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

/// Why a media item is being deleted (recorded in the activity event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeleteReason {
    /// A user asked for it.
    Requested,
    /// The reconciler found its blob missing.
    BlobMissing,
    /// It stayed in the trash past the tenant's retention period.
    TrashRetention,
}

/// One authorized deletion for the repository to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletePlan {
    /// The media as it was when authorized; the delete is conditional on id and tenant.
    pub media: Media,
    /// Who deletes it.
    pub actor_id: UserId,
    /// Why.
    pub reason: DeleteReason,
    /// When.
    pub at: OffsetDateTime,
    /// When the reaper may take over the blob deletions from the inline purge.
    pub purge_after: OffsetDateTime,
    /// Delete even when applications recorded references to it (the receipt lists them).
    pub force: bool,
}

/// A single delete by id whose row is read, authorized and deleted in one transaction: the
/// repository locks the row, hands it with the caller's grant to [`DeleteById::authorize`]
/// and carries on with the plan that returns, instead of a lookup before the transaction (a
/// round trip fewer for every single delete).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteById {
    /// The media to delete (live media only).
    pub id: MediaId,
    /// The caller's tenant: a row of another tenant is not found.
    pub tenant_id: TenantId,
    /// The caller.
    pub user_id: UserId,
    /// The caller's role.
    pub role: Role,
    /// When.
    pub at: OffsetDateTime,
    /// When the reaper may take over the blob deletions from the inline purge.
    pub purge_after: OffsetDateTime,
    /// Delete even when applications recorded references to it.
    pub force: bool,
}

/// A deletion for [`crate::MediaRepo::delete_requests`]: planned from a row already read and
/// authorized, or by id, authorized in the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteRequest {
    /// An authorized plan.
    Planned(DeletePlan),
    /// A delete by id, to authorize against the locked row.
    ById(DeleteById),
}

impl DeleteRequest {
    /// The media id the request is for.
    pub fn media_id(&self) -> MediaId {
        match self {
            Self::Planned(plan) => plan.media.id,
            Self::ById(request) => request.id,
        }
    }

    /// The tenant the request is for.
    pub fn tenant_id(&self) -> TenantId {
        match self {
            Self::Planned(plan) => plan.media.tenant_id,
            Self::ById(request) => request.tenant_id,
        }
    }
}

impl From<DeletePlan> for DeleteRequest {
    fn from(plan: DeletePlan) -> Self {
        Self::Planned(plan)
    }
}

/// What cascaded with a deleted row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// Whether a community copy (row and blob) was removed.
    pub community_copy: bool,
    /// Tag assignments removed (the media's and its community copy's).
    pub tag_assignments: u64,
    /// Access grants removed.
    pub access_grants: u64,
    /// Derivatives (thumbnails) removed, rows and blobs.
    pub derivatives: u64,
}

/// How many pending deletion records of one status there are, across tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingCount {
    /// Their status.
    pub status: PendingStatus,
    /// How many.
    pub count: u64,
    /// When the oldest was recorded.
    pub oldest: OffsetDateTime,
}

/// The state of a pending deletion record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingStatus {
    /// Waiting for the reaper (or claimed by a reaper pass that is deleting its blob).
    Pending,
    /// Parked after too many failed attempts; an admin may retry it.
    Failed,
    /// An upload in progress: the blob is being written and its row is not committed yet.
    /// Committing the row removes the record; if the upload is abandoned the record falls due
    /// and the reaper deletes the blob.
    Upload,
}

impl PendingStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Failed => "failed",
            Self::Upload => "upload",
        }
    }

    /// Parses a stored or query name.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] with code `invalid_status`.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        match raw {
            "pending" => Ok(Self::Pending),
            "failed" => Ok(Self::Failed),
            "upload" => Ok(Self::Upload),
            _ => Err(ServiceError::Invalid {
                code: "invalid_status",
                message: "status must be pending, failed or upload".into(),
            }),
        }
    }
}

/// A recorded blob deletion that is not confirmed yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingBlob {
    /// Record id.
    pub id: i64,
    /// The blob.
    pub blob_key: BlobKey,
    /// The tenant the blob belonged to, when known.
    pub tenant_id: Option<TenantId>,
    /// Where the record stands.
    pub status: PendingStatus,
    /// Failed attempts so far.
    pub attempts: i32,
    /// When the reaper may next take it.
    pub next_attempt_at: OffsetDateTime,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// When it was recorded.
    pub created_at: OffsetDateTime,
}

/// A stored blob as listed by the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    /// The key.
    pub key: BlobKey,
    /// Size in bytes.
    pub size: u64,
    /// Last write.
    pub last_modified: OffsetDateTime,
}

/// What the repository did for one plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// The deleted media.
    pub media: Media,
    /// What cascaded.
    pub removed: Removed,
    /// The blobs recorded for purging (original, community copy, derivatives).
    pub pending: Vec<BlobKey>,
    /// Whether the row was in the trash (the delete was a purge).
    pub was_trashed: bool,
    /// The in-use references that a forced delete removed.
    pub broken_references: Vec<RefName>,
}

/// Whether the blobs of a delete are already gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageState {
    /// Every blob was deleted (or was already missing).
    Purged,
    /// At least one blob deletion failed; the retry loop will remove it.
    Pending,
    /// Nothing was deleted: the media moved to the trash and keeps its blobs until purged.
    Trashed,
}

/// The result of a successful delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteReceipt {
    /// The deleted media.
    pub id: MediaId,
    /// Bytes no longer counted in usage.
    pub freed_bytes: i64,
    /// Whether the blobs are gone yet.
    pub storage: StorageState,
    /// What cascaded.
    pub removed: Removed,
    /// The in-use references a forced delete removed.
    pub broken_references: Vec<RefName>,
}

/// The judgement of one id of a bulk delete.
#[derive(Debug)]
pub struct BulkItem {
    /// The id as sent.
    pub id: i64,
    /// The receipt, or why it was not deleted.
    pub outcome: Result<DeleteReceipt, ServiceError>,
}

/// The result of a bulk delete, items in input order.
#[derive(Debug)]
pub struct BulkReceipt {
    /// One entry per requested id.
    pub items: Vec<BulkItem>,
}

/// The largest bulk delete request.
pub const MAX_BULK_IDS: usize = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_id_accepts_positive_integers_only() {
        assert_eq!(MediaId::parse("42").unwrap().get(), 42);
        for bad in [
            "0",
            "-1",
            "abc",
            "",
            "1.5",
            "9223372036854775808",
            "+1",
            "0x10",
        ] {
            assert!(MediaId::parse(bad).is_err(), "{bad} must be rejected");
        }
        assert_eq!(
            MediaId::parse("9223372036854775807").unwrap().get(),
            i64::MAX
        );
    }

    #[test]
    fn media_path_rejects_escapes_and_malformed_segments() {
        let long = "a".repeat(1025);
        for bad in [
            "",
            "/abs.jpg",
            "a/../b.jpg",
            "..",
            "./a",
            "a//b",
            "a/",
            "a\\b",
            "a\0b",
            &long,
        ] {
            assert!(MediaPath::parse(bad).is_err(), "{bad:?} must be rejected");
        }
        let path = MediaPath::parse("Captions/caption-1709856234567-beach.jpg").unwrap();
        assert_eq!(path.file_name(), "caption-1709856234567-beach.jpg");
        assert_eq!(path.folder(), "Captions");
        assert_eq!(MediaPath::parse("x.png").unwrap().folder(), "");
        assert!(MediaPath::parse(&"a".repeat(1024)).is_ok());
    }

    #[test]
    fn media_paths_are_nfc_and_refuse_bidi_controls() {
        let composed = MediaPath::parse("caf\u{e9}.jpg").unwrap();
        let decomposed = MediaPath::parse("cafe\u{301}.jpg").unwrap();
        assert_eq!(composed, decomposed);
        assert_eq!(decomposed.as_str(), "caf\u{e9}.jpg");
        for bad in [
            "photo\u{202E}gpj.exe",
            "a\u{2066}b",
            "x\u{200F}.png",
            "y\u{061C}",
        ] {
            assert!(MediaPath::parse(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn tags_are_deduplicated_and_bounded() {
        let tags = Tag::parse_all(["a", "b", "a"]).unwrap();
        assert_eq!(tags.len(), 2);
        assert!(Tag::parse("a,b").is_err());
        assert!(Tag::parse(" a").is_err());
        let many: Vec<String> = (0..33).map(|i| format!("t{i}")).collect();
        assert!(Tag::parse_all(many.iter().map(String::as_str)).is_err());
    }

    #[test]
    fn slugs_and_user_ids_are_checked() {
        assert!(TenantSlug::parse("acme-1").is_ok());
        assert!(TenantSlug::parse("Acme").is_err());
        assert!(TenantSlug::parse("-x").is_err());
        assert!(UserId::parse("alice@example.com").is_ok());
        assert!(UserId::parse("a/b").is_err());
        assert!(UserId::parse("").is_err());
    }
}
