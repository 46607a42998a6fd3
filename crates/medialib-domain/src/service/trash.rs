//! The trash: a reversible delete with a retention period, and the tenant settings that govern
//! it.
//!
//! Moving to the trash hides a media item from listings, reads and the community, frees its
//! path, and moves its size from live to trashed usage; its blobs, tags, grants and community
//! copy stay until it is purged. Restoring brings all of it back. Purging (emptying the trash,
//! deleting one trashed item, or the background purge once the tenant's
//! `trash_retention_days` have passed) is a permanent delete through the one durable delete
//! path. Held media can neither be trashed nor purged.

use serde_json::json;

use super::media::{media_query, ListRequest, Page};
use super::{not_found_as_media, require, telemetry, Access, MediaService};
use crate::error::{RepoError, ServiceError};
use crate::model::*;
use crate::ports::Budget;

/// Largest number of trashed items purged per transaction.
const PURGE_CHUNK: u64 = 500;

/// What emptying the trash did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrashSummary {
    /// Items purged, kept because held or forbidden to the caller, and their bytes.
    pub counts: DeleteCounts,
}

impl MediaService {
    /// Moves a media item to the trash.
    ///
    /// # Errors
    /// `MediaNotFound`, `Forbidden` unless the caller may delete it, `MediaHeld`, `MediaInUse`
    /// unless `force`.
    #[tracing::instrument(skip_all, fields(media_id = %id, tenant = %actor.tenant_slug))]
    pub async fn trash_media(
        &self,
        actor: &Actor,
        id: &str,
        force: bool,
    ) -> Result<Media, ServiceError> {
        let id = MediaId::parse(id)?;
        self.spend(actor, Budget::Deletes, 1).await?;
        let (_, access) = self.load(actor, id).await?;
        require(access, Access::Delete)?;
        self.trash_loaded(actor, id, force, None).await
    }

    /// Trashes media the caller was authorized to delete.
    pub(crate) async fn trash_loaded(
        &self,
        actor: &Actor,
        id: MediaId,
        force: bool,
        if_match: Option<IfMatch>,
    ) -> Result<Media, ServiceError> {
        let event = self.event(actor, "media_trashed", Some(id), json!({ "force": force }));
        let request = TrashRequest {
            id,
            tenant_id: actor.tenant_id,
            user_id: actor.user_id.clone(),
            role: actor.role,
            force,
            if_match,
        };
        let trashed = self
            .repo
            .trash_media(request, event)
            .await
            .map_err(not_found_as_media);
        match &trashed {
            Ok(_) => telemetry::deleted(StorageState::Trashed),
            Err(err) => telemetry::refused(err),
        }
        trashed
    }

    /// Brings a trashed item back, under `path` when given.
    ///
    /// # Errors
    /// `MediaNotFound` when the caller has no such trashed item, `Forbidden`, `InvalidPath`,
    /// `PathConflict` when the owner has live media at the path.
    #[tracing::instrument(skip_all, fields(media_id = %id, tenant = %actor.tenant_slug))]
    pub async fn restore_media(
        &self,
        actor: &Actor,
        id: &str,
        path: Option<&str>,
    ) -> Result<Media, ServiceError> {
        let id = MediaId::parse(id)?;
        let path = path.map(MediaPath::parse).transpose()?;
        let item = self.load_trashed(actor, id).await?;
        let details = json!({
            "path": path.as_ref().unwrap_or(&item.path).as_str(),
            "previous_path": item.path.as_str(),
        });
        let event = self.event(actor, "media_restored", Some(id), details);
        self.repo
            .restore_media(actor.tenant_id, id, path, event)
            .await
            .map_err(|err| match err {
                RepoError::NotFound => ServiceError::MediaNotFound,
                RepoError::Conflict => ServiceError::PathConflict,
                other => other.into(),
            })
    }

    /// A trashed item the caller may delete.
    async fn load_trashed(&self, actor: &Actor, id: MediaId) -> Result<Media, ServiceError> {
        let item = self
            .repo
            .find_trashed_media(actor.tenant_id, &[id], &actor.user_id)
            .await?
            .into_iter()
            .find(|item| item.media.id == id)
            .ok_or(ServiceError::MediaNotFound)?;
        require(super::access_of(actor, &item), Access::Delete)?;
        Ok(item.media)
    }

    /// The trashed media the caller can see, most recently uploaded first.
    ///
    /// # Errors
    /// Invalid limit or cursor.
    pub async fn list_trash(
        &self,
        actor: &Actor,
        request: ListRequest,
    ) -> Result<Page<Media>, ServiceError> {
        self.list_in(actor, request, MediaState::Trashed).await
    }

    /// Purges one trashed item permanently.
    ///
    /// # Errors
    /// `MediaNotFound`, `Forbidden`, `MediaHeld`.
    #[tracing::instrument(skip_all, fields(media_id = %id, tenant = %actor.tenant_slug))]
    pub async fn purge_trashed_media(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<DeleteReceipt, ServiceError> {
        let id = MediaId::parse(id)?;
        self.spend(actor, Budget::Deletes, 1).await?;
        let media = self.load_trashed(actor, id).await?;
        let mut plan = self.plan(actor, media);
        plan.force = true;
        self.carry_out_one(plan.into()).await
    }

    /// Purges every trashed item the caller may delete, in chunks; held items stay.
    ///
    /// # Errors
    /// `Repo` when a chunk's transaction failed (the chunks before it are purged).
    #[tracing::instrument(skip_all, fields(tenant = %actor.tenant_slug))]
    pub async fn empty_trash(&self, actor: &Actor) -> Result<TrashSummary, ServiceError> {
        let mut summary = TrashSummary::default();
        let mut cursor: Option<String> = None;
        loop {
            let request = ListRequest {
                limit: Some(PURGE_CHUNK),
                cursor: cursor.take(),
                ..ListRequest::default()
            };
            let query = media_query(actor, request, MediaState::Trashed)?;
            let page = self.repo.list_media(actor.tenant_id, &query).await?;
            let Some(last) = page.last().map(|m| m.id) else {
                break;
            };
            let ids: Vec<i64> = page.iter().map(|m| m.id.get()).collect();
            self.spend(actor, Budget::Deletes, ids.len()).await?;
            for item in self
                .delete_ids(actor, &ids, MediaState::Trashed, true)
                .await?
            {
                summary.counts.count(item.outcome);
            }
            if (page.len() as u64) < PURGE_CHUNK {
                break;
            }
            cursor = Some(last.get().to_string());
        }
        Ok(summary)
    }

    /// Purges trashed media whose tenant's retention period has run out (never held media),
    /// at most `limit` items; returns how many were purged. The background loop calls it.
    ///
    /// # Errors
    /// `Repo` when the database fails.
    pub async fn purge_expired_trash(&self, limit: u64) -> Result<u64, ServiceError> {
        let expired = self.repo.expired_trash(self.clock.now(), limit).await?;
        if expired.is_empty() {
            return Ok(0);
        }
        let system = UserId::parse("system")?;
        let plans: Vec<DeletePlan> = expired
            .into_iter()
            .map(|media| {
                let mut plan = self.service_plan(&system, media, DeleteReason::TrashRetention);
                plan.force = true;
                plan
            })
            .collect();
        let requests = plans.into_iter().map(DeleteRequest::from).collect();
        let done: Vec<DeleteReceipt> = self
            .carry_out(requests)
            .await?
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        for receipt in &done {
            tracing::info!(
                media_id = %receipt.id,
                freed_bytes = receipt.freed_bytes,
                "trash retention purged media"
            );
        }
        Ok(done.len() as u64)
    }

    /// The caller's tenant settings.
    pub fn tenant_settings(&self, actor: &Actor) -> TenantSettings {
        actor.settings
    }

    /// Changes the tenant's settings (admins only); what `change` leaves out keeps its value,
    /// even when another admin changed it meanwhile. Requests to this service see the new
    /// settings at once; other instances within [`super::ServiceConfig::key_cache_ttl`].
    ///
    /// # Errors
    /// `Forbidden` for non-admins, `invalid_settings`.
    pub async fn update_tenant_settings(
        &self,
        actor: &Actor,
        change: SettingsChange,
    ) -> Result<TenantSettings, ServiceError> {
        // Rate limits bound what a tenant may cost the others: only the operator sets them.
        let limits = change.delete_rate_limit.is_some() || change.upload_rate_limit.is_some();
        if !actor.is_admin() || limits {
            return Err(ServiceError::Forbidden);
        }
        let change = change.validate()?;
        let details = json!({
            "trash_retention_days": change.trash_retention_days,
            "delete_moves_to_trash": change.delete_moves_to_trash,
        });
        let event = self.event(actor, "settings_updated", None, details);
        let settings = self
            .repo
            .update_tenant_settings(actor.tenant_id, change, event)
            .await?;
        // Cached keys carry their tenant's settings as they were read.
        self.keys.clear();
        Ok(settings)
    }

    /// Sets a tenant's rate limits (the operator's call, not a tenant's): deletes and uploads
    /// per second for all of the tenant's callers together. `Some(None)` returns a limit to
    /// the server's default, `Some(Some(0))` lifts it; `None` keeps it. Other instances apply
    /// it once their cached keys are older than [`super::ServiceConfig::key_cache_ttl`].
    ///
    /// # Errors
    /// `tenant` not found.
    pub async fn set_tenant_rate_limits(
        &self,
        tenant: &str,
        deletes: Option<Option<u32>>,
        uploads: Option<Option<u32>>,
    ) -> Result<TenantSettings, ServiceError> {
        let slug = TenantSlug::parse(tenant)?;
        let tenant = self
            .repo
            .find_tenant(&slug)
            .await?
            .ok_or(ServiceError::NotFound("tenant"))?;
        let change = SettingsChange {
            delete_rate_limit: deletes,
            upload_rate_limit: uploads,
            ..SettingsChange::default()
        };
        let event = NewActivity {
            tenant_id: tenant.id,
            actor_id: UserId::parse(OPERATOR)?,
            action: "rate_limits_updated",
            media_id: None,
            details: json!({
                "delete_rate_limit": deletes,
                "upload_rate_limit": uploads,
            }),
            created_at: self.clock.now(),
        };
        let settings = self
            .repo
            .update_tenant_settings(tenant.id, change, event)
            .await?;
        self.keys.clear();
        Ok(settings)
    }
}

/// The actor recorded for changes made by the operator (the command line).
const OPERATOR: &str = "operator";
