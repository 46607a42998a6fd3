//! Shared fixtures of the use-case unit tests.

use std::sync::Arc;

use time::macros::datetime;

use super::{MediaService, ServiceConfig};
use crate::error::RepoError;
use crate::model::{
    Actor, BlobKey, DeleteOutcome, DeletePlan, Media, MediaId, MediaPath, Removed, Role, TenantId,
    TenantSlug, ThumbnailState, UserId,
};
use crate::ports::{MediaRepo, MockBlobStore, MockClock, MockMediaRepo};
use crate::Sha256KeyHasher;

/// An actor of tenant 1 (`default`).
pub(crate) fn actor(user: &str, role: Role) -> Actor {
    Actor {
        tenant_id: TenantId(1),
        tenant_slug: TenantSlug::parse("default").expect("valid slug"),
        user_id: UserId::parse(user).expect("valid user"),
        role,
        key_id: "k".into(),
        settings: crate::model::TenantSettings::default(),
        credential: crate::model::Credential::ApiKey,
    }
}

/// Live media `id` of tenant 1, owned by `owner`: 42 bytes at `a/b.jpg`.
pub(crate) fn media(id: i64, owner: &str) -> Media {
    Media {
        id: MediaId::try_from(id).expect("valid id"),
        tenant_id: TenantId(1),
        owner_id: UserId::parse(owner).expect("valid user"),
        path: MediaPath::parse("a/b.jpg").expect("valid path"),
        content_type: "image/jpeg".into(),
        size_bytes: 42,
        sha256: "00".into(),
        tags: vec![],
        shared_to_community: false,
        blob_key: BlobKey::from_stored(format!("media/1/{id}")),
        created_at: datetime!(2026-01-01 0:00 UTC),
        trashed_at: None,
        thumbnail: ThumbnailState::None,
        version: 1,
    }
}

/// The service over mocks, with a clock fixed at 2026-11-25 12:00 UTC.
pub(crate) fn service(
    repo: MockMediaRepo,
    blobs: MockBlobStore,
    config: ServiceConfig,
) -> MediaService {
    service_over(Arc::new(repo), blobs, config)
}

/// The service over `repo` (a mock or the memory repository), with a clock fixed at
/// 2026-11-25 12:00 UTC.
pub(crate) fn service_over(
    repo: Arc<dyn MediaRepo>,
    blobs: MockBlobStore,
    config: ServiceConfig,
) -> MediaService {
    let mut clock = MockClock::new();
    clock
        .expect_now()
        .return_const(datetime!(2026-11-25 12:00 UTC));
    MediaService::new(
        repo,
        Arc::new(blobs),
        Arc::new(clock),
        Arc::new(Sha256KeyHasher),
        config,
    )
}

/// The outcome of a plan carried out, its media's blob left to purge.
pub(crate) fn done(plan: &DeletePlan) -> Result<DeleteOutcome, RepoError> {
    Ok(DeleteOutcome {
        media: plan.media.clone(),
        removed: Removed::default(),
        pending: vec![plan.media.blob_key.clone()],
        was_trashed: false,
        broken_references: Vec::new(),
    })
}
