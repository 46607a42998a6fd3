//! The changes feed: what happened to media, in the order it became visible, for clients that
//! keep a copy in sync (a search index, a mobile app's library).

use time::OffsetDateTime;

use super::{Activity, MediaId, UserId};

/// What a change did to a media item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Uploaded.
    Created,
    /// Its tags or sharing changed.
    Updated,
    /// Moved to the trash.
    Trashed,
    /// Brought back from the trash.
    Restored,
    /// Deleted for good (from the library or from the trash): a tombstone.
    Deleted,
}

impl ChangeKind {
    /// The kind of change an activity event records, if it changed a media item.
    pub fn of_action(action: &str) -> Option<Self> {
        Some(match action {
            "media_uploaded" => Self::Created,
            "media_tagged" | "media_shared" | "media_unshared" => Self::Updated,
            "media_trashed" => Self::Trashed,
            "media_restored" => Self::Restored,
            "media_deleted" | "media_purged" => Self::Deleted,
            _ => return None,
        })
    }

    /// Every activity action that is a change.
    pub const ACTIONS: [&'static str; 8] = [
        "media_uploaded",
        "media_tagged",
        "media_shared",
        "media_unshared",
        "media_trashed",
        "media_restored",
        "media_deleted",
        "media_purged",
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Trashed => "trashed",
            Self::Restored => "restored",
            Self::Deleted => "deleted",
        }
    }
}

/// An activity event with its place in the feed: sequence numbers grow in the order events
/// became visible (committed), whatever order their transactions began in.
#[derive(Debug, Clone, PartialEq)]
pub struct SequencedActivity {
    /// Its place in the feed.
    pub seq: i64,
    /// The event.
    pub activity: Activity,
}

/// One change of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Its place in the feed (a cursor).
    pub seq: i64,
    /// What happened.
    pub kind: ChangeKind,
    /// To which media.
    pub media_id: MediaId,
    /// When.
    pub at: OffsetDateTime,
    /// Tombstones: the deleted media's owner and path, and why it was deleted.
    pub owner_id: Option<UserId>,
    /// Tombstones: its path.
    pub path: Option<String>,
    /// Tombstones: `requested`, `trash_retention` or `blob_missing`.
    pub reason: Option<String>,
}

/// A page of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangesPage {
    /// The changes after the cursor, oldest first.
    pub changes: Vec<Change>,
    /// Where to continue: after the last change read (the cursor given when there was none).
    pub next_cursor: i64,
}
