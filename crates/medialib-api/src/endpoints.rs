//! The endpoint groups.

pub mod admin;
pub mod jobs;
pub mod lifecycle;
pub mod media;
pub mod sharing;
pub mod system;
pub mod webhooks;

use poem_openapi::Tags;

/// Groups of operations in the spec.
#[derive(Debug, Tags)]
pub enum ApiTags {
    /// Upload, list, read, tag and delete media.
    Media,
    /// Trash and restore, tenant settings, legal holds, in-use references, thumbnails and
    /// delete by filter.
    Lifecycle,
    /// Community copies and access grants.
    Sharing,
    /// Activity log and usage.
    Activity,
    /// Pending blob deletions.
    Admin,
    /// Webhook endpoints and the deliveries of events to them.
    Webhooks,
    /// Deletes too large for one request (delete by filter, emptying the trash, a user's
    /// erasure), run in the background.
    Jobs,
    /// Health checks.
    System,
}
