//! Thumbnails: made right after an image's row is committed, stored as their own blobs and
//! recorded as derivatives of the media, so that deleting the media deletes them in the same
//! transaction and through the same pending-deletion path as the original.
//!
//! A thumbnail never fails an upload: an image that cannot be decoded (corrupt, or over the
//! decoding limits that guard against decompression bombs) or a store that fails leaves the
//! media with `thumbnail: failed`. The derivative's blob is written under an upload intent,
//! like an original, so a crash between the write and the row leaves nothing behind.

use bytes::BytesMut;
use futures_util::StreamExt;

use super::{require, Access, MediaService};
use crate::error::{BlobError, RepoError, ServiceError};
use crate::model::*;
use crate::ports::ByteStream;

impl MediaService {
    /// Whether an upload of this type and size will get a thumbnail.
    pub(crate) fn thumbnail_planned(&self, content_type: &str, size: u64) -> ThumbnailState {
        match &self.thumbnailer {
            Some(t) if t.accepts(content_type) && size <= t.max_source_bytes() => {
                ThumbnailState::Pending
            }
            Some(t) if t.accepts(content_type) => ThumbnailState::Failed,
            _ => ThumbnailState::None,
        }
    }

    /// Makes and records the thumbnail of freshly committed media; returns its final state.
    #[tracing::instrument(skip_all, fields(media_id = %media.id))]
    pub(crate) async fn make_thumbnail(&self, media: &Media) -> ThumbnailState {
        let state = match self.render_and_store(media).await {
            Ok(()) => return ThumbnailState::Ready,
            Err(Failure::Gone) => return ThumbnailState::None,
            Err(Failure::Image(err)) => {
                tracing::info!(
                    error = &err as &dyn std::error::Error,
                    "image not thumbnailed"
                );
                ThumbnailState::Failed
            }
            Err(Failure::Other(err)) => {
                tracing::warn!(error = &*err as &dyn std::error::Error, "thumbnail failed");
                ThumbnailState::Failed
            }
        };
        if let Err(err) = self.repo.set_thumbnail_state(media.id, state).await {
            tracing::warn!(
                error = &err as &dyn std::error::Error,
                "could not record the thumbnail state"
            );
            return ThumbnailState::Pending;
        }
        state
    }

    async fn render_and_store(&self, media: &Media) -> Result<(), Failure> {
        let Some(thumbnailer) = &self.thumbnailer else {
            return Err(Failure::Gone);
        };
        let (_, body) = self
            .blobs
            .get(&media.blob_key, None)
            .await
            .map_err(|err| match err {
                BlobError::NotFound => Failure::Gone,
                other => Failure::Other(Box::new(other)),
            })?;
        let original = collect(body, thumbnailer.max_source_bytes()).await?;
        let rendered = thumbnailer.render(original).await.map_err(Failure::Image)?;

        let key = BlobKey::new_derivative(media.tenant_id);
        let expires = self.clock.now() + self.config.upload_intent_ttl;
        self.repo
            .record_upload_intent(media.tenant_id, &key, expires)
            .await
            .map_err(|err| Failure::Other(Box::new(err)))?;
        let bytes = rendered.bytes.clone();
        let body: ByteStream = Box::pin(futures_util::stream::once(async move { Ok(bytes) }));
        let stored = match self.blobs.put(&key, body).await {
            Ok(stored) => stored,
            Err(err) => {
                self.discard_blobs(media.tenant_id, std::slice::from_ref(&key))
                    .await;
                return Err(Failure::Other(Box::new(err)));
            }
        };
        let derivative = Derivative {
            media_id: media.id,
            kind: THUMBNAIL,
            blob_key: key.clone(),
            content_type: rendered.content_type,
            size_bytes: i64::try_from(stored).unwrap_or(i64::MAX),
            width: rendered.width,
            height: rendered.height,
        };
        if let Err(err) = self.repo.insert_derivative(derivative).await {
            // The media was deleted meanwhile (or the intent expired): the blob must go.
            self.discard_blobs(media.tenant_id, std::slice::from_ref(&key))
                .await;
            return Err(match err {
                RepoError::NotFound => Failure::Gone,
                other => Failure::Other(Box::new(other)),
            });
        }
        Ok(())
    }

    /// The thumbnail of a media item the caller can see, and its bytes.
    ///
    /// # Errors
    /// `MediaNotFound`; `NotFound("thumbnail")` when it has none (not an image, failed, or not
    /// made yet); `StorageUnavailable`.
    pub async fn open_thumbnail(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<(Derivative, ByteStream), ServiceError> {
        let id = MediaId::parse(id)?;
        let (_, access) = self.load(actor, id).await?;
        require(access, Access::Read)?;
        let derivative = self
            .repo
            .find_derivative(id, THUMBNAIL)
            .await?
            .ok_or(ServiceError::NotFound("thumbnail"))?;
        match self.blobs.get(&derivative.blob_key, None).await {
            Ok((_, body)) => Ok((derivative, body)),
            Err(BlobError::NotFound) => Err(ServiceError::NotFound("thumbnail")),
            Err(other) => Err(ServiceError::StorageUnavailable(other)),
        }
    }
}

/// Why a thumbnail was not made.
#[derive(Debug)]
enum Failure {
    /// The media (or its blob) went away meanwhile; nothing to record.
    Gone,
    /// The image could not be decoded.
    Image(crate::error::RenderError),
    /// The store or the database failed.
    Other(crate::error::BoxError),
}

/// Reads a whole blob, refusing one longer than `limit`.
async fn collect(mut body: ByteStream, limit: u64) -> Result<bytes::Bytes, Failure> {
    let mut buffer = BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(Failure::Other)?;
        if (buffer.len() + chunk.len()) as u64 > limit {
            return Err(Failure::Image(crate::error::RenderError::TooLarge));
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer.freeze())
}
