//! Uploading, reading, listing, sharing, tagging and granting.

use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use serde_json::json;
use sha2::Digest;
use time::OffsetDateTime;

use super::{not_found_as_media, require, Access, MediaService};
use crate::error::{BlobError, RepoError, ServiceError};
use crate::model::*;
use crate::ports::{hex, Budget, ByteStream};

/// The largest page of a listing.
pub const MAX_PAGE: u64 = 1000;

/// The upload body grew past the limit; raised inside the body stream so the store aborts.
#[derive(Debug, thiserror::Error)]
#[error("upload exceeds the size limit")]
struct TooLarge;

/// An upload request that passed the edge's parsing.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    /// Raw path from the query.
    pub path: String,
    /// MIME type of the body.
    pub content_type: String,
    /// Raw tags.
    pub tags: Vec<String>,
    /// The declared `Content-Length`, if any.
    pub content_length: Option<u64>,
}

/// A listing request with raw cursor and filters.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// Page size (default 50, at most [`MAX_PAGE`]).
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only media carrying every one of these tags.
    pub tags: Vec<String>,
    /// Only media directly in this folder.
    pub folder: Option<String>,
    /// Only media created before this time.
    pub created_before: Option<OffsetDateTime>,
    /// Only media of this owner.
    pub owner: Option<String>,
}

/// A page of results and the cursor of the next one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass back as `cursor` for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

pub(crate) fn page_limit(limit: Option<u64>) -> Result<u64, ServiceError> {
    match limit.unwrap_or(50) {
        0 => Err(invalid("invalid_limit", "limit must be at least 1")),
        n if n > MAX_PAGE => Err(invalid("invalid_limit", "limit must be at most 1000")),
        n => Ok(n),
    }
}

pub(crate) fn parse_cursor(cursor: Option<&str>) -> Result<Option<i64>, ServiceError> {
    cursor
        .map(|raw| {
            raw.parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| invalid("invalid_cursor", "cursor is not one this API returned"))
        })
        .transpose()
}

fn invalid(code: &'static str, message: &str) -> ServiceError {
    ServiceError::Invalid {
        code,
        message: message.to_owned(),
    }
}

pub(crate) fn next_cursor<T>(items: &[T], limit: u64, id: impl Fn(&T) -> i64) -> Option<String> {
    if items.len() as u64 == limit {
        items.last().map(|last| id(last).to_string())
    } else {
        None
    }
}

/// Which media a caller's listings cover.
pub(crate) fn visibility(actor: &Actor) -> Visibility {
    match actor.role {
        Role::Admin | Role::Viewer => Visibility::Tenant,
        Role::Member => Visibility::OwnedOrGranted(actor.user_id.clone()),
    }
}

/// Parses a listing request into the repository's query.
pub(crate) fn media_query(
    actor: &Actor,
    request: ListRequest,
    state: MediaState,
) -> Result<MediaQuery, ServiceError> {
    let limit = page_limit(request.limit)?;
    let before_id = parse_cursor(request.cursor.as_deref())?
        .map(MediaId::try_from)
        .transpose()?;
    let tags = Tag::parse_all(request.tags.iter().map(String::as_str))?;
    let folder = match request.folder.as_deref() {
        None | Some("") => request.folder.clone(),
        Some(raw) => Some(MediaPath::parse(raw)?.as_str().to_owned()),
    };
    let owner = request.owner.as_deref().map(UserId::parse).transpose()?;
    Ok(MediaQuery {
        visibility: visibility(actor),
        state,
        owner,
        before_id,
        tags,
        folder,
        created_before: request.created_before,
        limit,
    })
}

fn media_snapshot(media: &Media) -> serde_json::Value {
    json!({
        "path": media.path.as_str(),
        "owner_id": media.owner_id.as_str(),
        "content_type": media.content_type,
        "size_bytes": media.size_bytes,
        "sha256": media.sha256,
    })
}

impl MediaService {
    /// Streams an upload to the blob store and records it.
    ///
    /// # Errors
    /// `Forbidden` for viewers; `InvalidPath`, invalid tags; `PathConflict`; `PayloadTooLarge`;
    /// `StorageUnavailable` when the store fails (no row is written then).
    #[tracing::instrument(skip_all, fields(tenant = %actor.tenant_slug, user = %actor.user_id))]
    pub async fn upload_media(
        &self,
        actor: &Actor,
        request: UploadRequest,
        body: ByteStream,
    ) -> Result<Media, ServiceError> {
        if actor.role == Role::Viewer {
            return Err(ServiceError::Forbidden);
        }
        let path = MediaPath::parse(&request.path)?;
        let tags = Tag::parse_all(request.tags.iter().map(String::as_str))?;
        let limit = self.config.max_upload_bytes;
        if request.content_length.is_some_and(|len| len > limit) {
            return Err(ServiceError::PayloadTooLarge { limit });
        }
        self.spend(actor, Budget::Uploads, 1).await?;
        // Refuse a taken path before storing anything; the unique index decides races.
        if self
            .repo
            .find_media_by_path(actor.tenant_id, &actor.user_id, &path, &actor.user_id)
            .await?
            .is_some()
        {
            return Err(ServiceError::PathConflict);
        }

        let digest = Arc::new(Mutex::new((sha2::Sha256::new(), 0u64)));
        let sink = Arc::clone(&digest);
        let hashed: ByteStream = Box::pin(body.map(move |chunk| {
            let chunk = chunk?;
            let mut state = sink.lock().map_err(|_| "upload digest poisoned")?;
            state.1 += chunk.len() as u64;
            if state.1 > limit {
                return Err(TooLarge.into());
            }
            state.0.update(&chunk);
            Ok(chunk)
        }));

        let key = BlobKey::new_media(actor.tenant_id);
        // Record the intent first: if this process dies before the row is committed, the
        // reaper removes the blob once the intent expires.
        let expires = self.clock.now() + self.config.upload_intent_ttl;
        self.repo
            .record_upload_intent(actor.tenant_id, &key, expires)
            .await?;
        let stored = self.blobs.put(&key, hashed).await;
        if stored.is_err() {
            self.discard_blobs(actor.tenant_id, std::slice::from_ref(&key))
                .await;
        }
        stored.map_err(|err| match err {
            BlobError::Body(source) if source.is::<TooLarge>() => {
                ServiceError::PayloadTooLarge { limit }
            }
            BlobError::Body(source) => ServiceError::UploadBody(source),
            other => ServiceError::StorageUnavailable(other),
        })?;
        let (sha256, size) = {
            let state = digest
                .lock()
                .map_err(|_| ServiceError::UploadBody("upload digest poisoned".into()))?;
            (hex(&state.0.clone().finalize()), state.1)
        };

        let thumbnail = self.thumbnail_planned(&request.content_type, size);
        let new = NewMedia {
            tenant_id: actor.tenant_id,
            owner_id: actor.user_id.clone(),
            path,
            content_type: request.content_type,
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            sha256,
            tags,
            blob_key: key.clone(),
            created_at: self.clock.now(),
            thumbnail,
        };
        let event_details = json!({
            "path": new.path.as_str(),
            "size_bytes": new.size_bytes,
            "sha256": new.sha256,
            "content_type": new.content_type,
        });
        let event = self.event(actor, "media_uploaded", None, event_details);
        match self.repo.insert_media(new, event).await {
            Ok(mut media) => {
                if media.thumbnail == ThumbnailState::Pending {
                    media.thumbnail = self.make_thumbnail(&media).await;
                }
                Ok(media)
            }
            Err(err) => {
                // The row is not there, so the blob must not stay either.
                self.discard_blobs(actor.tenant_id, std::slice::from_ref(&key))
                    .await;
                Err(match err {
                    RepoError::Conflict => ServiceError::PathConflict,
                    RepoError::NotFound => ServiceError::Conflict {
                        code: "upload_expired",
                        message: "The upload outlived its intent and was discarded; retry it"
                            .into(),
                    },
                    other => other.into(),
                })
            }
        }
    }

    /// The error for a blob that was not found: the media was deleted meanwhile (404
    /// `media_not_found`), or its row has lost its blob (404 `content_not_found`, logged).
    async fn blob_vanished(&self, actor: &Actor, id: MediaId) -> ServiceError {
        match self.load(actor, id).await {
            Ok(_) => {
                tracing::warn!(media_id = %id, "blob missing for a live media row");
                ServiceError::NotFound("content")
            }
            Err(err) => err,
        }
    }

    /// One media item the caller can see.
    ///
    /// # Errors
    /// `MediaNotFound` when it does not exist for the caller.
    pub async fn get_media(&self, actor: &Actor, id: &str) -> Result<Media, ServiceError> {
        let id = MediaId::parse(id)?;
        Ok(self.load(actor, id).await?.0.media)
    }

    /// Opens the bytes (all, or `range` of them) of a media item that `get_media` gave the
    /// caller; returns the length of what the stream carries.
    ///
    /// # Errors
    /// `MediaNotFound` when it was deleted meanwhile; `NotFound("content")` when the row's
    /// blob is missing; `StorageUnavailable`.
    pub async fn open_content(
        &self,
        actor: &Actor,
        media: &Media,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<(u64, ByteStream), ServiceError> {
        match self.blobs.get(&media.blob_key, range).await {
            Ok(opened) => Ok(opened),
            Err(BlobError::NotFound) => Err(self.blob_vanished(actor, media.id).await),
            Err(other) => Err(ServiceError::StorageUnavailable(other)),
        }
    }

    /// Lists the media the caller can see, newest first.
    ///
    /// # Errors
    /// Invalid limit, cursor, tag or folder.
    pub async fn list_media(
        &self,
        actor: &Actor,
        request: ListRequest,
    ) -> Result<Page<Media>, ServiceError> {
        self.list_in(actor, request, MediaState::Live).await
    }

    /// Lists live or trashed media the caller can see, newest first.
    pub(crate) async fn list_in(
        &self,
        actor: &Actor,
        request: ListRequest,
        state: MediaState,
    ) -> Result<Page<Media>, ServiceError> {
        let query = media_query(actor, request, state)?;
        let limit = query.limit;
        let items = self.repo.list_media(actor.tenant_id, &query).await?;
        let next_cursor = next_cursor(&items, limit, |m| m.id.get());
        Ok(Page { items, next_cursor })
    }

    /// Replaces the tags of a media item (and of its community copy).
    ///
    /// # Errors
    /// `MediaNotFound`, `Forbidden` unless owner or admin, invalid tags.
    pub async fn set_tags(
        &self,
        actor: &Actor,
        id: &str,
        tags: &[String],
    ) -> Result<Media, ServiceError> {
        let id = MediaId::parse(id)?;
        let tags = Tag::parse_all(tags.iter().map(String::as_str))?;
        let (_, access) = self.load(actor, id).await?;
        require(access, Access::Manage)?;
        let names: Vec<&str> = tags.iter().map(Tag::as_str).collect();
        let event = self.event(actor, "media_tagged", Some(id), json!({ "tags": names }));
        self.repo
            .set_tags(actor.tenant_id, id, &tags, event)
            .await
            .map_err(not_found_as_media)
    }

    /// Shares a media item to the tenant's community: a copy of the blob and its own row.
    ///
    /// # Errors
    /// `MediaNotFound`, `Forbidden` unless owner or admin, `already_shared` conflict,
    /// `StorageUnavailable` when the copy cannot be made.
    pub async fn share_media(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<CommunityItem, ServiceError> {
        let id = MediaId::parse(id)?;
        let (item, access) = self.load(actor, id).await?;
        require(access, Access::Manage)?;
        if item.media.shared_to_community {
            return Err(already_shared());
        }
        let copy_key = BlobKey::new_community(actor.tenant_id);
        let expires = self.clock.now() + self.config.upload_intent_ttl;
        self.repo
            .record_upload_intent(actor.tenant_id, &copy_key, expires)
            .await?;
        if let Err(err) = self.blobs.copy(&item.media.blob_key, &copy_key).await {
            self.discard_blobs(actor.tenant_id, std::slice::from_ref(&copy_key))
                .await;
            return Err(match err {
                BlobError::NotFound => self.blob_vanished(actor, id).await,
                other => ServiceError::StorageUnavailable(other),
            });
        }
        let event = self.event(actor, "media_shared", Some(id), media_snapshot(&item.media));
        match self
            .repo
            .share_media(actor.tenant_id, id, &copy_key, event)
            .await
        {
            Ok(shared) => Ok(shared),
            Err(err) => {
                self.discard_blobs(actor.tenant_id, std::slice::from_ref(&copy_key))
                    .await;
                Err(match err {
                    RepoError::Conflict => already_shared(),
                    other => not_found_as_media(other),
                })
            }
        }
    }

    /// Removes the community copy of a media item (row, tags and blob).
    ///
    /// # Errors
    /// `MediaNotFound`, `Forbidden` unless owner or admin, `NotFound("community copy")`.
    pub async fn unshare_media(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<StorageState, ServiceError> {
        let id = MediaId::parse(id)?;
        let (_, access) = self.load(actor, id).await?;
        require(access, Access::Manage)?;
        let event = self.event(actor, "media_unshared", Some(id), json!({}));
        let key = self
            .repo
            .unshare_media(actor.tenant_id, id, event, self.purge_after())
            .await
            .map_err(|err| match err {
                RepoError::NotFound => ServiceError::NotFound("community copy"),
                other => other.into(),
            })?;
        Ok(self
            .purge(std::slice::from_ref(&key))
            .await
            .state_of(&[key]))
    }

    /// The tenant's community copies, newest first.
    ///
    /// # Errors
    /// Invalid limit or cursor.
    pub async fn list_community(
        &self,
        actor: &Actor,
        limit: Option<u64>,
        cursor: Option<&str>,
    ) -> Result<Page<CommunityItem>, ServiceError> {
        let limit = page_limit(limit)?;
        let before = parse_cursor(cursor)?;
        let items = self
            .repo
            .list_community(actor.tenant_id, before, limit)
            .await?;
        let next_cursor = next_cursor(&items, limit, |c| c.id);
        Ok(Page { items, next_cursor })
    }

    /// Grants a user read or delete access to a media item.
    ///
    /// # Errors
    /// `MediaNotFound`, `Forbidden` unless owner or admin, invalid user or permission.
    pub async fn grant_access(
        &self,
        actor: &Actor,
        id: &str,
        user: &str,
        permission: &str,
    ) -> Result<Grant, ServiceError> {
        let id = MediaId::parse(id)?;
        let user_id = UserId::parse(user)?;
        let permission = Permission::parse(permission)?;
        let (item, access) = self.load(actor, id).await?;
        require(access, Access::Manage)?;
        if user_id == item.media.owner_id {
            return Err(invalid("invalid_grant", "the owner needs no grant"));
        }
        let grant = Grant {
            media_id: id,
            user_id,
            permission,
            created_at: self.clock.now(),
        };
        let details =
            json!({ "user_id": grant.user_id.as_str(), "permission": permission.as_str() });
        let event = self.event(actor, "access_granted", Some(id), details);
        self.repo
            .put_grant(actor.tenant_id, grant.clone(), event)
            .await
            .map_err(not_found_as_media)?;
        Ok(grant)
    }

    /// The grants of a media item.
    ///
    /// # Errors
    /// `MediaNotFound`, `Forbidden` unless owner or admin.
    pub async fn list_grants(&self, actor: &Actor, id: &str) -> Result<Vec<Grant>, ServiceError> {
        let id = MediaId::parse(id)?;
        let (_, access) = self.load(actor, id).await?;
        require(access, Access::Manage)?;
        Ok(self.repo.list_grants(id).await?)
    }

    /// Revokes a user's grant on a media item.
    ///
    /// # Errors
    /// `MediaNotFound`, `Forbidden` unless owner or admin, `NotFound("grant")`.
    pub async fn revoke_grant(
        &self,
        actor: &Actor,
        id: &str,
        user: &str,
    ) -> Result<(), ServiceError> {
        let id = MediaId::parse(id)?;
        let user_id = UserId::parse(user)?;
        let (_, access) = self.load(actor, id).await?;
        require(access, Access::Manage)?;
        let event = self.event(
            actor,
            "access_revoked",
            Some(id),
            json!({ "user_id": user_id.as_str() }),
        );
        self.repo
            .delete_grant(id, &user_id, event)
            .await
            .map_err(|err| match err {
                RepoError::NotFound => ServiceError::NotFound("grant"),
                other => other.into(),
            })
    }

    /// The usage of what the caller may see: the tenant's for admins and viewers, the media a
    /// member owns or was granted for a member (tenant totals would tell a member about media
    /// it cannot list).
    ///
    /// # Errors
    /// Database failures.
    pub async fn usage(&self, actor: &Actor) -> Result<Usage, ServiceError> {
        Ok(match visibility(actor) {
            Visibility::Tenant => self.repo.usage(actor.tenant_id).await?,
            Visibility::OwnedOrGranted(user) => {
                self.repo.usage_visible_to(actor.tenant_id, &user).await?
            }
        })
    }

    /// The activity log: the whole tenant for admins, the caller's own events otherwise.
    ///
    /// # Errors
    /// Invalid limit, cursor or media id.
    pub async fn list_activity(
        &self,
        actor: &Actor,
        action: Option<String>,
        media_id: Option<&str>,
        limit: Option<u64>,
        cursor: Option<&str>,
    ) -> Result<Page<Activity>, ServiceError> {
        let limit = page_limit(limit)?;
        let query = ActivityQuery {
            action,
            media_id: media_id.map(MediaId::parse).transpose()?,
            actor_id: (!actor.is_admin()).then(|| actor.user_id.clone()),
            before_id: parse_cursor(cursor)?,
            limit,
        };
        let items = self.repo.list_activity(actor.tenant_id, &query).await?;
        let next_cursor = next_cursor(&items, limit, |a| a.id);
        Ok(Page { items, next_cursor })
    }
}

fn already_shared() -> ServiceError {
    ServiceError::Conflict {
        code: "already_shared",
        message: "Media is already shared to the community".into(),
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use futures::stream;

    use super::*;
    use crate::ports::{MockBlobStore, MockMediaRepo};
    use crate::service::fixtures;
    use crate::service::ServiceConfig;

    fn actor() -> Actor {
        fixtures::actor("alice", Role::Member)
    }

    fn service(repo: MockMediaRepo, blobs: MockBlobStore, max: u64) -> MediaService {
        let config = ServiceConfig {
            max_upload_bytes: max,
            ..ServiceConfig::default()
        };
        fixtures::service(repo, blobs, config)
    }

    /// A free path and an accepted upload intent.
    fn expect_new_upload(repo: &mut MockMediaRepo) {
        repo.expect_find_media_by_path()
            .returning(|_, _, _, _| Ok(None));
        repo.expect_record_upload_intent()
            .times(1)
            .returning(|_, _, _| Ok(()));
    }

    /// The discarded blob is deleted and its intent forgotten.
    fn expect_discard(repo: &mut MockMediaRepo, blobs: &mut MockBlobStore) {
        blobs.expect_delete_many().times(1).returning(|keys| {
            assert_eq!(keys.len(), 1);
            keys.iter().map(|_| Ok(())).collect()
        });
        repo.expect_complete_pending_deletions()
            .times(1)
            .returning(|_| Ok(()));
        repo.expect_add_pending_deletions().never();
    }

    fn request() -> UploadRequest {
        UploadRequest {
            path: "a.jpg".into(),
            content_type: "image/jpeg".into(),
            tags: vec![],
            content_length: None,
        }
    }

    fn body(chunks: &[&'static [u8]]) -> ByteStream {
        let items: Vec<Result<bytes::Bytes, crate::error::BoxError>> = chunks
            .iter()
            .map(|c| Ok(bytes::Bytes::from_static(c)))
            .collect();
        Box::pin(stream::iter(items))
    }

    /// A blob store whose `put` drains the body like a real one.
    fn draining_store() -> MockBlobStore {
        let mut blobs = MockBlobStore::new();
        blobs.expect_put().returning(|_, mut body| {
            let mut size = 0u64;
            // The test bodies are always ready, so one poll per chunk drains them.
            while let Some(Some(chunk)) =
                futures::FutureExt::now_or_never(futures::StreamExt::next(&mut body))
            {
                size += chunk.map_err(BlobError::Body)?.len() as u64;
            }
            Ok(size)
        });
        blobs
    }

    #[test]
    fn storage_failure_during_upload_writes_no_row() {
        let mut repo = MockMediaRepo::new();
        expect_new_upload(&mut repo);
        repo.expect_insert_media().never();
        let mut blobs = MockBlobStore::new();
        blobs
            .expect_put()
            .returning(|_, _| Err(BlobError::Unavailable("down".into())));
        expect_discard(&mut repo, &mut blobs);
        let err =
            block_on(service(repo, blobs, 100).upload_media(&actor(), request(), body(&[b"x"])))
                .unwrap_err();
        assert!(matches!(err, ServiceError::StorageUnavailable(_)));
    }

    #[test]
    fn upload_hashes_what_it_streams() {
        let mut repo = MockMediaRepo::new();
        expect_new_upload(&mut repo);
        repo.expect_insert_media().returning(|new, event| {
            assert_eq!(new.size_bytes, 11);
            // sha256("hello world")
            assert_eq!(
                new.sha256,
                "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
            );
            assert_eq!(event.action, "media_uploaded");
            Ok(new.into_media(MediaId::try_from(1).unwrap()))
        });
        let media = block_on(service(repo, draining_store(), 100).upload_media(
            &actor(),
            request(),
            body(&[b"hello ", b"world"]),
        ))
        .unwrap();
        assert_eq!(media.size_bytes, 11);
    }

    #[test]
    fn oversized_stream_is_refused_and_no_row_written() {
        let mut repo = MockMediaRepo::new();
        expect_new_upload(&mut repo);
        repo.expect_insert_media().never();
        let mut blobs = draining_store();
        expect_discard(&mut repo, &mut blobs);
        let err = block_on(service(repo, blobs, 5).upload_media(
            &actor(),
            request(),
            body(&[b"abc", b"def"]),
        ))
        .unwrap_err();
        assert!(matches!(err, ServiceError::PayloadTooLarge { limit: 5 }));
    }

    #[test]
    fn failed_row_insert_discards_the_stored_blob() {
        let mut repo = MockMediaRepo::new();
        expect_new_upload(&mut repo);
        repo.expect_insert_media()
            .returning(|_, _| Err(RepoError::Conflict));
        let mut blobs = draining_store();
        expect_discard(&mut repo, &mut blobs);
        let err =
            block_on(service(repo, blobs, 100).upload_media(&actor(), request(), body(&[b"x"])))
                .unwrap_err();
        assert!(matches!(err, ServiceError::PathConflict));
    }

    #[test]
    fn a_thumbnail_that_cannot_be_rendered_never_fails_the_upload() {
        let mut repo = MockMediaRepo::new();
        expect_new_upload(&mut repo);
        repo.expect_insert_media().returning(|new, _| {
            assert_eq!(new.thumbnail, ThumbnailState::Pending);
            Ok(new.into_media(MediaId::try_from(1).unwrap()))
        });
        repo.expect_set_thumbnail_state()
            .with(
                mockall::predicate::always(),
                mockall::predicate::eq(ThumbnailState::Failed),
            )
            .times(1)
            .returning(|_, _| Ok(()));
        repo.expect_insert_derivative().never();
        let mut blobs = draining_store();
        blobs
            .expect_get()
            .times(1)
            .returning(|_, _| Ok((3, body(&[b"bad"]))));
        let mut thumbnailer = crate::ports::MockThumbnailer::new();
        thumbnailer.expect_accepts().return_const(true);
        thumbnailer.expect_max_source_bytes().return_const(1000u64);
        thumbnailer
            .expect_render()
            .times(1)
            .returning(|_| Err(crate::error::RenderError::Corrupt("not an image".into())));
        let service = service(repo, blobs, 100).with_thumbnailer(std::sync::Arc::new(thumbnailer));
        let media = block_on(service.upload_media(&actor(), request(), body(&[b"bad"]))).unwrap();
        assert_eq!(media.thumbnail, ThumbnailState::Failed);
    }
}
