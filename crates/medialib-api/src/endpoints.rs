//! The endpoint groups.

pub mod admin;
pub mod lifecycle;
pub mod media;
pub mod sharing;
pub mod system;

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
    /// Health checks.
    System,
    /// Compatibility profile `gallery`: a media gallery's delete by id and legacy delete by path.
    CompatGallery,
    /// Compatibility profile `swiftia`: Swiftia's file delete and file list.
    CompatSwiftia,
    /// Compatibility profile `swonkie`: Swonkie's media delete with X-API-ID / X-API-KEY.
    CompatSwonkie,
    /// Compatibility profile `catdata`: the Cat Data API's image delete (204).
    CompatCatdata,
    /// Compatibility profile `defdrive`: DefDrive's owner-only file delete.
    CompatDefdrive,
}
