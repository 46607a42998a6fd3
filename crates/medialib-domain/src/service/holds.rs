//! Legal holds and in-use references: the two things that stop a delete.
//!
//! A hold (placed and removed by admins only) blocks every way media can go: delete, bulk
//! delete, trash, purge, retention and delete by filter. Nothing overrides it except removing
//! it; the refusal names the holds. The repository checks holds inside the delete transaction,
//! under the row lock, so a hold placed while a delete runs is never skipped.
//!
//! A reference (`post:123`) records that an application uses the media. A delete of referenced
//! media is refused with the references listed, unless the caller passes `force`; then the
//! delete proceeds, removes the references with the row, and the receipt lists the ones it
//! broke.

use serde_json::json;

use super::{not_found_as_media, require, Access, MediaService};
use crate::error::{RepoError, ServiceError};
use crate::model::*;

impl MediaService {
    /// Places a legal hold (admins only). Works on trashed media too.
    ///
    /// # Errors
    /// `Forbidden` for non-admins, `MediaNotFound`, `invalid_reason`.
    #[tracing::instrument(skip_all, fields(media_id = %id, tenant = %actor.tenant_slug))]
    pub async fn add_hold(
        &self,
        actor: &Actor,
        id: &str,
        reason: &str,
    ) -> Result<Hold, ServiceError> {
        let id = MediaId::parse(id)?;
        if !actor.is_admin() {
            return Err(ServiceError::Forbidden);
        }
        let too_long = reason.chars().count() > MAX_REASON_CHARS;
        let reason = reason.trim();
        if reason.is_empty() || too_long {
            return Err(ServiceError::Invalid {
                code: "invalid_reason",
                message: format!(
                    "reason must be 1 to {MAX_REASON_CHARS} characters, not all whitespace"
                ),
            });
        }
        let event = self.event(actor, "hold_added", Some(id), json!({ "reason": reason }));
        self.repo
            .add_hold(actor.tenant_id, id, reason, event)
            .await
            .map_err(not_found_as_media)
    }

    /// The holds on a media item: anyone who can see it (admins: trashed media too).
    ///
    /// # Errors
    /// `MediaNotFound`.
    pub async fn list_holds(&self, actor: &Actor, id: &str) -> Result<Vec<Hold>, ServiceError> {
        let id = MediaId::parse(id)?;
        if actor.is_admin() {
            self.repo
                .find_any_media(actor.tenant_id, id)
                .await?
                .ok_or(ServiceError::MediaNotFound)?;
        } else {
            self.load(actor, id).await?;
        }
        Ok(self.repo.list_holds(id).await?)
    }

    /// Removes a legal hold (admins only).
    ///
    /// # Errors
    /// `Forbidden` for non-admins, `NotFound("hold")`.
    #[tracing::instrument(skip_all, fields(media_id = %id, tenant = %actor.tenant_slug))]
    pub async fn remove_hold(
        &self,
        actor: &Actor,
        id: &str,
        hold_id: i64,
    ) -> Result<(), ServiceError> {
        let id = MediaId::parse(id)?;
        if !actor.is_admin() {
            return Err(ServiceError::Forbidden);
        }
        let event = self.event(
            actor,
            "hold_removed",
            Some(id),
            json!({ "hold_id": hold_id }),
        );
        self.repo
            .remove_hold(actor.tenant_id, id, hold_id, event)
            .await
            .map_err(|err| match err {
                RepoError::NotFound => ServiceError::NotFound("hold"),
                other => other.into(),
            })
    }

    /// Records that something uses a media item; returns the reference and whether it is new.
    ///
    /// # Errors
    /// `MediaNotFound`, `Forbidden` unless owner or admin, `invalid_reference`.
    pub async fn add_reference(
        &self,
        actor: &Actor,
        id: &str,
        name: &str,
    ) -> Result<(Reference, bool), ServiceError> {
        let id = MediaId::parse(id)?;
        let name = RefName::parse(name)?;
        let (_, access) = self.load(actor, id).await?;
        require(access, Access::Manage)?;
        let reference = Reference {
            media_id: id,
            name,
            created_by: actor.user_id.clone(),
            created_at: self.clock.now(),
        };
        let event = self.event(
            actor,
            "reference_added",
            Some(id),
            json!({ "ref": reference.name.as_str() }),
        );
        let created = self
            .repo
            .add_reference(actor.tenant_id, reference.clone(), event)
            .await
            .map_err(not_found_as_media)?;
        Ok((reference, created))
    }

    /// The references of a media item.
    ///
    /// # Errors
    /// `MediaNotFound`.
    pub async fn list_references(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Vec<Reference>, ServiceError> {
        let id = MediaId::parse(id)?;
        self.load(actor, id).await?;
        Ok(self.repo.list_references(id).await?)
    }

    /// Removes a reference.
    ///
    /// # Errors
    /// `MediaNotFound`, `Forbidden` unless owner or admin, `NotFound("reference")`.
    pub async fn remove_reference(
        &self,
        actor: &Actor,
        id: &str,
        name: &str,
    ) -> Result<(), ServiceError> {
        let id = MediaId::parse(id)?;
        let name = RefName::parse(name)?;
        let (_, access) = self.load(actor, id).await?;
        require(access, Access::Manage)?;
        let event = self.event(
            actor,
            "reference_removed",
            Some(id),
            json!({ "ref": name.as_str() }),
        );
        self.repo
            .remove_reference(id, &name, event)
            .await
            .map_err(|err| match err {
                RepoError::NotFound => ServiceError::NotFound("reference"),
                other => other.into(),
            })
    }
}
