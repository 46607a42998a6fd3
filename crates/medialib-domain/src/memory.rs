//! [`MemoryRepo`]: the reference implementation of every repository port, in memory.
//!
//! It keeps the ports' contracts as the SQL adapter does (every method all or nothing, under
//! one lock, so concurrent calls see each other's changes whole), judges deletes and moves to
//! the trash with the same [`crate::service::verdict`], and runs the same contract suites. It
//! is for embedding services' tests, for trying medialib without a database, and as the
//! plainest statement of what a repository must do. Nothing survives the process.
//!
//! A reaper pass's claim holds its records until it is settled or dropped (an abandoned pass
//! gives its records back at once, as a server database's rolled-back lock does); the lease
//! time is not needed.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use time::OffsetDateTime;

use crate::error::RepoError;
use crate::model::*;
use crate::ports::repo::*;
use crate::ports::{ClaimedPass, PendingClaim, PendingFailure};
use crate::service::verdict;

/// Every repository port over maps in memory. Clones share the same data.
#[derive(Debug, Clone, Default)]
pub struct MemoryRepo {
    state: Arc<Mutex<State>>,
}

impl MemoryRepo {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held leaves no half-done change: every method checks
        // before it writes. The data stays usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Debug)]
struct CommunityCopy {
    tenant_id: TenantId,
    media_id: MediaId,
    blob_key: BlobKey,
    tags: Vec<Tag>,
    created_at: OffsetDateTime,
}

#[derive(Debug)]
struct PendingRecord {
    blob: PendingBlob,
    /// The reaper pass holding it.
    claimed_by: Option<u64>,
}

#[derive(Debug, Default)]
struct State {
    tenants: BTreeMap<i64, Tenant>,
    usage: HashMap<TenantId, Usage>,
    keys: Vec<StoredApiKey>,
    last_media: i64,
    media: BTreeMap<i64, Media>,
    last_copy: i64,
    copies: BTreeMap<i64, CommunityCopy>,
    grants: BTreeMap<(MediaId, UserId), Grant>,
    last_hold: i64,
    holds: BTreeMap<i64, (TenantId, Hold)>,
    references: BTreeMap<(MediaId, RefName), Reference>,
    derivatives: Vec<Derivative>,
    last_pending: i64,
    pending: BTreeMap<i64, PendingRecord>,
    last_pass: u64,
    activity: Vec<(TenantId, Activity)>,
    idempotency: HashMap<(TenantId, IdempotencyKey), IdempotencyRecord>,
    /// The feed's numbers of sequenced events, by event id.
    sequenced: BTreeMap<i64, i64>,
    last_seq: i64,
    webhooks: BTreeMap<i64, Webhook>,
    last_webhook: i64,
    deliveries: BTreeMap<i64, DeliveryRecord>,
    last_delivery: i64,
    /// Jobs with their claims (token, until).
    jobs: BTreeMap<i64, (Job, Option<(String, OffsetDateTime)>)>,
}

#[derive(Debug)]
struct DeliveryRecord {
    delivery: Delivery,
    tenant_id: TenantId,
    attempts: Vec<DeliveryAttempt>,
    /// The claim on it: its token and until when.
    claim: Option<(String, OffsetDateTime)>,
}

#[derive(Debug)]
struct IdempotencyRecord {
    held_until: OffsetDateTime,
    expires_at: OffsetDateTime,
    /// The fingerprint and answer, once the request completed.
    completed: Option<(String, StoredResponse)>,
}

/// `text` of at most the first 1000 characters, as the error of a pending record.
fn clipped(text: &str) -> String {
    text.chars().take(1000).collect()
}

impl State {
    fn record(&mut self, event: NewActivity, media: Option<MediaId>) {
        let id = self.activity.last().map_or(1, |(_, last)| last.id + 1);
        self.activity.push((
            event.tenant_id,
            Activity {
                id,
                actor_id: event.actor_id,
                action: event.action.to_owned(),
                media_id: event.media_id.or(media),
                details: event.details,
                created_at: event.created_at,
            },
        ));
    }

    fn usage_mut(&mut self, tenant: TenantId) -> &mut Usage {
        self.usage.entry(tenant).or_default()
    }

    /// Records blobs to purge; a key already recorded takes the new status and due time.
    fn add_pending(
        &mut self,
        tenant: Option<TenantId>,
        keys: &[BlobKey],
        status: PendingStatus,
        due: OffsetDateTime,
    ) {
        let now = OffsetDateTime::now_utc();
        for key in keys {
            if let Some(record) = self
                .pending
                .values_mut()
                .find(|record| &record.blob.blob_key == key)
            {
                record.blob.status = status;
                record.blob.next_attempt_at = due;
                continue;
            }
            self.last_pending += 1;
            let id = self.last_pending;
            self.pending.insert(
                id,
                PendingRecord {
                    blob: PendingBlob {
                        id,
                        blob_key: key.clone(),
                        tenant_id: tenant,
                        status,
                        attempts: 0,
                        next_attempt_at: due,
                        last_error: None,
                        created_at: now,
                    },
                    claimed_by: None,
                },
            );
        }
    }

    fn forget(&mut self, keys: &[BlobKey]) {
        let keys: HashSet<&BlobKey> = keys.iter().collect();
        self.pending
            .retain(|_, record| !keys.contains(&record.blob.blob_key));
    }

    /// Removes the upload intent of `key`; whether there was one.
    fn take_upload_intent(&mut self, key: &BlobKey) -> bool {
        let found = self.pending.iter().find_map(|(id, record)| {
            (record.blob.blob_key == *key && record.blob.status == PendingStatus::Upload)
                .then_some(*id)
        });
        found.is_some_and(|id| self.pending.remove(&id).is_some())
    }

    fn row(&self, tenant: TenantId, id: MediaId, state: Option<MediaState>) -> Option<&Media> {
        self.media
            .get(&id.get())
            .filter(|media| media.tenant_id == tenant)
            .filter(|media| state.is_none_or(|state| in_state(media, state)))
    }

    fn grant_of(&self, media: &Media, user: &UserId) -> Option<Permission> {
        // A grant matters only on media someone else owns.
        if media.owner_id == *user {
            return None;
        }
        self.grants
            .get(&(media.id, user.clone()))
            .map(|grant| grant.permission)
    }

    fn visible_to(&self, media: &Media, user: &UserId) -> bool {
        media.owner_id == *user || self.grants.contains_key(&(media.id, user.clone()))
    }

    fn holds_of(&self, id: MediaId) -> Vec<Hold> {
        self.holds
            .values()
            .filter(|(_, hold)| hold.media_id == id)
            .map(|(_, hold)| hold.clone())
            .collect()
    }

    fn references_of(&self, id: MediaId) -> Vec<RefName> {
        self.references
            .keys()
            .filter(|(media, _)| *media == id)
            .map(|(_, name)| name.clone())
            .collect()
    }

    fn live_path_taken(&self, tenant: TenantId, owner: &UserId, path: &MediaPath) -> bool {
        self.media.values().any(|media| {
            media.tenant_id == tenant
                && media.trashed_at.is_none()
                && media.owner_id == *owner
                && media.path == *path
        })
    }

    /// The media of `ids` in `tenant` and `state`, by id, with `user`'s grants.
    fn find(
        &self,
        tenant: TenantId,
        ids: &[MediaId],
        user: &UserId,
        state: MediaState,
        tags: bool,
    ) -> Vec<MediaAccess> {
        ids.iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter_map(|id| self.row(tenant, *id, Some(state)))
            .map(|media| self.access(media, user, tags))
            .collect()
    }

    fn access(&self, media: &Media, user: &UserId, tags: bool) -> MediaAccess {
        let mut found = media.clone();
        if !tags {
            found.tags.clear();
        }
        MediaAccess {
            grant: self.grant_of(media, user),
            media: found,
        }
    }

    /// One delete transaction: judges every request against the rows as they are now and
    /// carries out what the verdict lets through, then forgets `purged`.
    fn delete(
        &mut self,
        requests: Vec<DeleteRequest>,
        purged: &[BlobKey],
    ) -> Vec<Result<DeleteOutcome, RepoError>> {
        let tenants: HashSet<TenantId> = requests.iter().map(DeleteRequest::tenant_id).collect();
        let mut rows: HashMap<MediaId, Media> = HashMap::new();
        let mut holds: HashMap<MediaId, Vec<Hold>> = HashMap::new();
        let mut references: HashMap<MediaId, Vec<RefName>> = HashMap::new();
        for request in &requests {
            let id = request.media_id();
            let Some(row) = self.media.get(&id.get()) else {
                continue;
            };
            if !tenants.contains(&row.tenant_id) {
                continue;
            }
            let mut row = row.clone();
            row.tags.clear();
            rows.insert(id, row);
            holds.insert(id, self.holds_of(id));
            references.insert(id, self.references_of(id));
        }
        let grants: HashMap<(MediaId, UserId), Permission> = self
            .grants
            .iter()
            .filter(|((media, _), _)| rows.contains_key(media))
            .map(|(key, grant)| (key.clone(), grant.permission))
            .collect();
        let verdicts = verdict::judge_deletes(requests, |id, user| {
            Some(Snapshot {
                media: rows.get(&id)?,
                holds: holds.get(&id).map_or(&[], Vec::as_slice),
                references: references.get(&id).map_or(&[], Vec::as_slice),
                grant: grants.get(&(id, user.clone())).copied(),
            })
        });

        let purge_after = verdicts
            .iter()
            .find_map(|verdict| verdict.as_ref().ok())
            .map(|judged| judged.plan.purge_after);
        let mut results = Vec::with_capacity(verdicts.len());
        let mut to_purge: Vec<(TenantId, BlobKey)> = Vec::new();
        for verdict in verdicts {
            let Judged {
                plan,
                broken_references,
            } = match verdict {
                Ok(judged) => judged,
                Err(refusal) => {
                    results.push(Err(refusal.into()));
                    continue;
                }
            };
            let id = plan.media.id;
            let Some(row) = self.media.remove(&id.get()) else {
                results.push(Err(RepoError::NotFound));
                continue;
            };
            let was_trashed = row.trashed_at.is_some();
            let copy = self
                .copies
                .iter()
                .find_map(|(copy_id, copy)| (copy.media_id == id).then_some(*copy_id))
                .and_then(|copy_id| self.copies.remove(&copy_id));
            let grants_before = self.grants.len();
            self.grants.retain(|(media, _), _| *media != id);
            if !broken_references.is_empty() {
                self.references.retain(|(media, _), _| *media != id);
            }
            let derivatives: Vec<BlobKey> = self
                .derivatives
                .iter()
                .filter(|derivative| derivative.media_id == id)
                .map(|derivative| derivative.blob_key.clone())
                .collect();
            self.derivatives
                .retain(|derivative| derivative.media_id != id);
            let removed = Removed {
                community_copy: copy.is_some(),
                tag_assignments: (row.tags.len() + copy.as_ref().map_or(0, |c| c.tags.len()))
                    as u64,
                access_grants: (grants_before - self.grants.len()) as u64,
                derivatives: derivatives.len() as u64,
            };
            let mut keys = vec![row.blob_key.clone()];
            keys.extend(copy.map(|copy| copy.blob_key));
            keys.extend(derivatives);
            to_purge.extend(keys.iter().map(|key| (row.tenant_id, key.clone())));
            let usage = self.usage_mut(row.tenant_id);
            if was_trashed {
                usage.trashed_count -= 1;
                usage.trashed_bytes -= row.size_bytes;
            } else {
                usage.media_count -= 1;
                usage.bytes_used -= row.size_bytes;
            }
            self.record(plan.event(&removed, was_trashed, &broken_references), None);
            results.push(Ok(DeleteOutcome {
                media: plan.media,
                removed,
                pending: keys,
                was_trashed,
                broken_references,
            }));
        }
        if let Some(due) = purge_after {
            for (tenant, key) in to_purge {
                self.add_pending(Some(tenant), &[key], PendingStatus::Pending, due);
            }
        }
        self.forget(purged);
        results
    }

    fn release(&mut self, pass: u64) {
        for record in self.pending.values_mut() {
            if record.claimed_by == Some(pass) {
                record.claimed_by = None;
            }
        }
    }
}

fn in_state(media: &Media, state: MediaState) -> bool {
    match state {
        MediaState::Live => media.trashed_at.is_none(),
        MediaState::Trashed => media.trashed_at.is_some(),
    }
}

fn sorted(tags: &[Tag]) -> Vec<Tag> {
    let mut tags = tags.to_vec();
    tags.sort();
    tags.dedup();
    tags
}

fn page<T>(items: impl Iterator<Item = T>, limit: u64) -> Vec<T> {
    items
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .collect()
}

#[async_trait::async_trait]
impl Tenants for MemoryRepo {
    async fn create_tenant(
        &self,
        slug: &TenantSlug,
        at: OffsetDateTime,
    ) -> Result<Tenant, RepoError> {
        let mut state = self.lock();
        if state.tenants.values().any(|tenant| tenant.slug == *slug) {
            return Err(RepoError::Conflict);
        }
        let id = TenantId(state.tenants.keys().next_back().map_or(1, |last| last + 1));
        let tenant = Tenant {
            id,
            slug: slug.clone(),
            created_at: at,
            settings: TenantSettings::default(),
        };
        state.tenants.insert(id.0, tenant.clone());
        state.usage.insert(id, Usage::default());
        Ok(tenant)
    }

    async fn find_tenant(&self, slug: &TenantSlug) -> Result<Option<Tenant>, RepoError> {
        Ok(self
            .lock()
            .tenants
            .values()
            .find(|tenant| tenant.slug == *slug)
            .cloned())
    }

    async fn update_tenant_settings(
        &self,
        tenant: TenantId,
        change: SettingsChange,
        event: NewActivity,
    ) -> Result<TenantSettings, RepoError> {
        let mut state = self.lock();
        let found = state
            .tenants
            .get_mut(&tenant.0)
            .ok_or(RepoError::NotFound)?;
        let settings = &mut found.settings;
        if let Some(days) = change.trash_retention_days {
            settings.trash_retention_days = days;
        }
        if let Some(soft) = change.delete_moves_to_trash {
            settings.delete_moves_to_trash = soft;
        }
        if let Some(rate) = change.delete_rate_limit {
            settings.delete_rate_limit = rate;
        }
        if let Some(rate) = change.upload_rate_limit {
            settings.upload_rate_limit = rate;
        }
        let settings = *settings;
        state.record(event, None);
        Ok(settings)
    }

    async fn usage(&self, tenant: TenantId) -> Result<Usage, RepoError> {
        Ok(self.lock().usage.get(&tenant).copied().unwrap_or_default())
    }

    async fn usage_visible_to(&self, tenant: TenantId, user: &UserId) -> Result<Usage, RepoError> {
        let state = self.lock();
        let mut usage = Usage::default();
        for media in state.media.values() {
            if media.tenant_id != tenant || !state.visible_to(media, user) {
                continue;
            }
            if media.trashed_at.is_some() {
                usage.trashed_count += 1;
                usage.trashed_bytes += media.size_bytes;
            } else {
                usage.media_count += 1;
                usage.bytes_used += media.size_bytes;
            }
        }
        Ok(usage)
    }
}

#[async_trait::async_trait]
impl ApiKeys for MemoryRepo {
    async fn create_api_key(&self, key: StoredApiKey) -> Result<(), RepoError> {
        let mut state = self.lock();
        if state.keys.iter().any(|stored| stored.key.id == key.key.id) {
            return Err(RepoError::Conflict);
        }
        state.keys.push(key);
        Ok(())
    }

    async fn find_api_key(&self, id: &str) -> Result<Option<StoredApiKey>, RepoError> {
        let state = self.lock();
        let Some(stored) = state.keys.iter().find(|stored| stored.key.id == id) else {
            return Ok(None);
        };
        let tenant = state
            .tenants
            .get(&stored.key.tenant_id.0)
            .ok_or_else(|| RepoError::Backend("a key of no tenant".into()))?;
        let mut found = stored.clone();
        found.key.tenant_slug = tenant.slug.clone();
        found.tenant_settings = tenant.settings;
        Ok(Some(found))
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, RepoError> {
        let mut keys: Vec<ApiKey> = self
            .lock()
            .keys
            .iter()
            .map(|stored| stored.key.clone())
            .collect();
        keys.sort_by_key(|key| key.created_at);
        Ok(keys)
    }

    async fn revoke_api_key(&self, id: &str, at: OffsetDateTime) -> Result<(), RepoError> {
        let mut state = self.lock();
        let key = state
            .keys
            .iter_mut()
            .find(|stored| stored.key.id == id && stored.key.revoked_at.is_none())
            .ok_or(RepoError::NotFound)?;
        key.key.revoked_at = Some(at);
        Ok(())
    }

    async fn expire_api_key(&self, id: &str, at: OffsetDateTime) -> Result<(), RepoError> {
        let mut state = self.lock();
        let key = state
            .keys
            .iter_mut()
            .find(|stored| stored.key.id == id && stored.key.revoked_at.is_none())
            .ok_or(RepoError::NotFound)?;
        if key.key.expires_at.is_none_or(|expires| expires > at) {
            key.key.expires_at = Some(at);
        }
        Ok(())
    }

    async fn touch_api_keys(&self, uses: &[(String, OffsetDateTime)]) -> Result<(), RepoError> {
        let mut state = self.lock();
        for (id, at) in uses {
            if let Some(key) = state.keys.iter_mut().find(|stored| stored.key.id == *id) {
                if key.key.last_used_at.is_none_or(|last| last < *at) {
                    key.key.last_used_at = Some(*at);
                }
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Catalog for MemoryRepo {
    async fn record_upload_intent(
        &self,
        tenant: TenantId,
        key: &BlobKey,
        expires_at: OffsetDateTime,
    ) -> Result<(), RepoError> {
        self.lock().add_pending(
            Some(tenant),
            std::slice::from_ref(key),
            PendingStatus::Upload,
            expires_at,
        );
        Ok(())
    }

    async fn insert_media(&self, new: NewMedia, event: NewActivity) -> Result<Media, RepoError> {
        let mut state = self.lock();
        if state.live_path_taken(new.tenant_id, &new.owner_id, &new.path) {
            return Err(RepoError::Conflict);
        }
        if !state.take_upload_intent(&new.blob_key) {
            return Err(RepoError::NotFound);
        }
        state.last_media += 1;
        let id = MediaId::try_from(state.last_media)
            .map_err(|_| RepoError::Backend("media ids ran out".into()))?;
        let mut media = new.into_media(id);
        media.tags = sorted(&media.tags);
        let usage = state.usage_mut(media.tenant_id);
        usage.media_count += 1;
        usage.bytes_used += media.size_bytes;
        state.media.insert(id.get(), media.clone());
        state.record(event, Some(id));
        Ok(media)
    }

    async fn find_media_access(
        &self,
        tenant: TenantId,
        ids: &[MediaId],
        user: &UserId,
    ) -> Result<Vec<MediaAccess>, RepoError> {
        Ok(self.lock().find(tenant, ids, user, MediaState::Live, true))
    }

    async fn find_media_to_delete(
        &self,
        tenant: TenantId,
        ids: &[MediaId],
        user: &UserId,
        media_state: MediaState,
    ) -> Result<Vec<MediaAccess>, RepoError> {
        Ok(self.lock().find(tenant, ids, user, media_state, false))
    }

    async fn find_media_by_path(
        &self,
        tenant: TenantId,
        owner: &UserId,
        path: &MediaPath,
        user: &UserId,
    ) -> Result<Option<MediaAccess>, RepoError> {
        let state = self.lock();
        Ok(state
            .media
            .values()
            .find(|media| {
                media.tenant_id == tenant
                    && media.trashed_at.is_none()
                    && media.owner_id == *owner
                    && media.path == *path
            })
            .map(|media| state.access(media, user, true)))
    }

    async fn list_media(
        &self,
        tenant: TenantId,
        query: &MediaQuery,
    ) -> Result<Vec<Media>, RepoError> {
        let state = self.lock();
        let matches = |media: &&Media| {
            media.tenant_id == tenant
                && in_state(media, query.state)
                && query
                    .owner
                    .as_ref()
                    .is_none_or(|owner| media.owner_id == *owner)
                && match &query.visibility {
                    Visibility::Tenant => true,
                    Visibility::OwnedOrGranted(user) => state.visible_to(media, user),
                }
                && query.before_id.is_none_or(|before| media.id < before)
                && query.tags.iter().all(|tag| media.tags.contains(tag))
                && match query.folder.as_deref() {
                    None => true,
                    Some("") => !media.path.as_str().contains('/'),
                    Some(folder) => media
                        .path
                        .as_str()
                        .strip_prefix(folder)
                        .is_some_and(|rest| rest.starts_with('/')),
                }
                && query
                    .created_before
                    .is_none_or(|before| media.created_at < before)
        };
        Ok(page(
            state.media.values().rev().filter(matches).cloned(),
            query.limit,
        ))
    }

    async fn set_tags(
        &self,
        tenant: TenantId,
        id: MediaId,
        tags: &[Tag],
        event: NewActivity,
    ) -> Result<Media, RepoError> {
        let mut state = self.lock();
        state
            .row(tenant, id, Some(MediaState::Live))
            .ok_or(RepoError::NotFound)?;
        let tags = sorted(tags);
        for copy in state.copies.values_mut().filter(|copy| copy.media_id == id) {
            copy.tags.clone_from(&tags);
        }
        let media = state.media.get_mut(&id.get()).ok_or(RepoError::NotFound)?;
        media.tags = tags;
        media.version += 1;
        let media = media.clone();
        state.record(event, Some(id));
        Ok(media)
    }

    async fn scan_media(&self, after: i64, limit: u64) -> Result<Vec<Media>, RepoError> {
        let state = self.lock();
        Ok(page(
            state
                .media
                .range(after.saturating_add(1)..)
                .map(|(_, media)| media)
                .filter(|media| media.trashed_at.is_none())
                .cloned(),
            limit,
        ))
    }

    async fn find_trashed_media(
        &self,
        tenant: TenantId,
        ids: &[MediaId],
        user: &UserId,
    ) -> Result<Vec<MediaAccess>, RepoError> {
        Ok(self
            .lock()
            .find(tenant, ids, user, MediaState::Trashed, true))
    }

    async fn find_any_media(
        &self,
        tenant: TenantId,
        id: MediaId,
    ) -> Result<Option<Media>, RepoError> {
        Ok(self.lock().row(tenant, id, None).cloned())
    }

    async fn insert_derivative(&self, derivative: Derivative) -> Result<(), RepoError> {
        let mut state = self.lock();
        if !state.media.contains_key(&derivative.media_id.get()) {
            return Err(RepoError::NotFound);
        }
        if !state.take_upload_intent(&derivative.blob_key) {
            return Err(RepoError::NotFound);
        }
        if let Some(media) = state.media.get_mut(&derivative.media_id.get()) {
            media.thumbnail = ThumbnailState::Ready;
        }
        state.derivatives.push(derivative);
        Ok(())
    }

    async fn set_thumbnail_state(
        &self,
        id: MediaId,
        thumbnail: ThumbnailState,
    ) -> Result<(), RepoError> {
        if let Some(media) = self.lock().media.get_mut(&id.get()) {
            media.thumbnail = thumbnail;
        }
        Ok(())
    }

    async fn find_derivative(
        &self,
        id: MediaId,
        kind: &'static str,
    ) -> Result<Option<Derivative>, RepoError> {
        Ok(self
            .lock()
            .derivatives
            .iter()
            .find(|derivative| derivative.media_id == id && derivative.kind == kind)
            .cloned())
    }
}

#[async_trait::async_trait]
impl Sharing for MemoryRepo {
    async fn share_media(
        &self,
        tenant: TenantId,
        id: MediaId,
        blob_key: &BlobKey,
        event: NewActivity,
    ) -> Result<CommunityItem, RepoError> {
        let mut state = self.lock();
        let media = state
            .row(tenant, id, Some(MediaState::Live))
            .ok_or(RepoError::NotFound)?
            .clone();
        if media.shared_to_community {
            return Err(RepoError::Conflict);
        }
        state.take_upload_intent(blob_key);
        state.last_copy += 1;
        let copy_id = state.last_copy;
        state.copies.insert(
            copy_id,
            CommunityCopy {
                tenant_id: tenant,
                media_id: id,
                blob_key: blob_key.clone(),
                tags: media.tags.clone(),
                created_at: event.created_at,
            },
        );
        if let Some(row) = state.media.get_mut(&id.get()) {
            row.shared_to_community = true;
        }
        let item = CommunityItem {
            id: copy_id,
            media_id: id,
            owner_id: media.owner_id.clone(),
            file_name: media.file_name().to_owned(),
            content_type: media.content_type,
            size_bytes: media.size_bytes,
            tags: media.tags,
            blob_key: blob_key.clone(),
            created_at: event.created_at,
        };
        state.record(event, Some(id));
        Ok(item)
    }

    async fn unshare_media(
        &self,
        tenant: TenantId,
        id: MediaId,
        event: NewActivity,
        purge_after: OffsetDateTime,
    ) -> Result<BlobKey, RepoError> {
        let mut state = self.lock();
        let copy_id = state
            .copies
            .iter()
            .find_map(|(copy_id, copy)| {
                (copy.media_id == id && copy.tenant_id == tenant).then_some(*copy_id)
            })
            .ok_or(RepoError::NotFound)?;
        let copy = state.copies.remove(&copy_id).ok_or(RepoError::NotFound)?;
        if let Some(media) = state.media.get_mut(&id.get()) {
            media.shared_to_community = false;
        }
        state.add_pending(
            Some(tenant),
            std::slice::from_ref(&copy.blob_key),
            PendingStatus::Pending,
            purge_after,
        );
        state.record(event, Some(id));
        Ok(copy.blob_key)
    }

    async fn list_community(
        &self,
        tenant: TenantId,
        before_id: Option<i64>,
        limit: u64,
    ) -> Result<Vec<CommunityItem>, RepoError> {
        let state = self.lock();
        let copies = page(
            state.copies.iter().rev().filter(|(id, copy)| {
                copy.tenant_id == tenant && before_id.is_none_or(|before| **id < before)
            }),
            limit,
        );
        // A page is counted in copies; one whose original is in the trash is left out of it.
        Ok(copies
            .into_iter()
            .filter_map(|(id, copy)| {
                let original = state
                    .media
                    .get(&copy.media_id.get())
                    .filter(|media| media.trashed_at.is_none())?;
                Some(CommunityItem {
                    id: *id,
                    media_id: copy.media_id,
                    owner_id: original.owner_id.clone(),
                    file_name: original.file_name().to_owned(),
                    content_type: original.content_type.clone(),
                    size_bytes: original.size_bytes,
                    tags: copy.tags.clone(),
                    blob_key: copy.blob_key.clone(),
                    created_at: copy.created_at,
                })
            })
            .collect())
    }

    async fn put_grant(
        &self,
        tenant: TenantId,
        grant: Grant,
        event: NewActivity,
    ) -> Result<(), RepoError> {
        let mut state = self.lock();
        state
            .row(tenant, grant.media_id, Some(MediaState::Live))
            .ok_or(RepoError::NotFound)?;
        let id = grant.media_id;
        state
            .grants
            .insert((grant.media_id, grant.user_id.clone()), grant);
        state.record(event, Some(id));
        Ok(())
    }

    async fn list_grants(&self, id: MediaId) -> Result<Vec<Grant>, RepoError> {
        Ok(self
            .lock()
            .grants
            .iter()
            .filter(|((media, _), _)| *media == id)
            .map(|(_, grant)| grant.clone())
            .collect())
    }

    async fn delete_grant(
        &self,
        id: MediaId,
        user: &UserId,
        event: NewActivity,
    ) -> Result<(), RepoError> {
        let mut state = self.lock();
        state
            .grants
            .remove(&(id, user.clone()))
            .ok_or(RepoError::NotFound)?;
        state.record(event, Some(id));
        Ok(())
    }

    async fn granted_media(
        &self,
        tenant: TenantId,
        user: &UserId,
        limit: u64,
    ) -> Result<Vec<MediaId>, RepoError> {
        let state = self.lock();
        let mut ids: Vec<MediaId> = state
            .grants
            .keys()
            .filter(|(media, grantee)| {
                grantee == user
                    && state
                        .media
                        .get(&media.get())
                        .is_some_and(|m| m.tenant_id == tenant)
            })
            .map(|(media, _)| *media)
            .collect();
        ids.sort_unstable();
        Ok(page(ids.into_iter(), limit))
    }
}

#[async_trait::async_trait]
impl Lifecycle for MemoryRepo {
    async fn trash_media(
        &self,
        request: TrashRequest,
        event: NewActivity,
    ) -> Result<Media, RepoError> {
        let mut state = self.lock();
        let media = state
            .row(request.tenant_id, request.id, Some(MediaState::Live))
            .ok_or(RepoError::NotFound)?;
        let holds = state.holds_of(request.id);
        let references = state.references_of(request.id);
        let snapshot = Snapshot {
            media,
            holds: &holds,
            references: &references,
            grant: state.grant_of(media, &request.user_id),
        };
        verdict::judge_trash(&request, snapshot)?;
        let size = media.size_bytes;
        let usage = state.usage_mut(request.tenant_id);
        usage.media_count -= 1;
        usage.bytes_used -= size;
        usage.trashed_count += 1;
        usage.trashed_bytes += size;
        let media = state
            .media
            .get_mut(&request.id.get())
            .ok_or(RepoError::NotFound)?;
        media.trashed_at = Some(event.created_at);
        media.version += 1;
        let media = media.clone();
        state.record(event, Some(request.id));
        Ok(media)
    }

    async fn restore_media(
        &self,
        tenant: TenantId,
        id: MediaId,
        path: Option<MediaPath>,
        event: NewActivity,
    ) -> Result<Media, RepoError> {
        let mut state = self.lock();
        let media = state
            .row(tenant, id, Some(MediaState::Trashed))
            .ok_or(RepoError::NotFound)?;
        let path = path.unwrap_or_else(|| media.path.clone());
        if state.live_path_taken(tenant, &media.owner_id, &path) {
            return Err(RepoError::Conflict);
        }
        let size = media.size_bytes;
        let usage = state.usage_mut(tenant);
        usage.media_count += 1;
        usage.bytes_used += size;
        usage.trashed_count -= 1;
        usage.trashed_bytes -= size;
        let media = state.media.get_mut(&id.get()).ok_or(RepoError::NotFound)?;
        media.trashed_at = None;
        media.path = path;
        media.version += 1;
        let media = media.clone();
        state.record(event, Some(id));
        Ok(media)
    }

    async fn expired_trash(
        &self,
        now: OffsetDateTime,
        limit: u64,
    ) -> Result<Vec<Media>, RepoError> {
        let state = self.lock();
        let held: HashSet<MediaId> = state
            .holds
            .values()
            .map(|(_, hold)| hold.media_id)
            .collect();
        let mut expired: Vec<&Media> = state
            .media
            .values()
            .filter(|media| !held.contains(&media.id))
            .filter(|media| {
                let Some(trashed_at) = media.trashed_at else {
                    return false;
                };
                state.tenants.get(&media.tenant_id.0).is_some_and(|tenant| {
                    let days = i64::from(tenant.settings.trash_retention_days);
                    trashed_at <= now - time::Duration::days(days)
                })
            })
            .collect();
        expired.sort_by_key(|media| (media.trashed_at, media.id));
        Ok(page(expired.into_iter().cloned(), limit))
    }

    async fn add_hold(
        &self,
        tenant: TenantId,
        id: MediaId,
        reason: &str,
        event: NewActivity,
    ) -> Result<Hold, RepoError> {
        let mut state = self.lock();
        state.row(tenant, id, None).ok_or(RepoError::NotFound)?;
        state.last_hold += 1;
        let hold = Hold {
            id: state.last_hold,
            media_id: id,
            reason: reason.to_owned(),
            created_by: event.actor_id.clone(),
            created_at: event.created_at,
        };
        state.holds.insert(hold.id, (tenant, hold.clone()));
        state.record(event, Some(id));
        Ok(hold)
    }

    async fn list_holds(&self, id: MediaId) -> Result<Vec<Hold>, RepoError> {
        Ok(self.lock().holds_of(id))
    }

    async fn delete_blockers(&self, ids: &[MediaId]) -> Result<DeleteBlockers, RepoError> {
        let state = self.lock();
        let wanted: HashSet<&MediaId> = ids.iter().collect();
        Ok(DeleteBlockers {
            held: state
                .holds
                .values()
                .map(|(_, hold)| hold.media_id)
                .filter(|id| wanted.contains(id))
                .collect(),
            referenced: state
                .references
                .keys()
                .map(|(id, _)| *id)
                .filter(|id| wanted.contains(id))
                .collect(),
        })
    }

    async fn remove_hold(
        &self,
        tenant: TenantId,
        id: MediaId,
        hold_id: i64,
        event: NewActivity,
    ) -> Result<(), RepoError> {
        let mut state = self.lock();
        let matches = state
            .holds
            .get(&hold_id)
            .is_some_and(|(owner, hold)| *owner == tenant && hold.media_id == id);
        if !matches {
            return Err(RepoError::NotFound);
        }
        state.holds.remove(&hold_id);
        state.record(event, Some(id));
        Ok(())
    }

    async fn add_reference(
        &self,
        tenant: TenantId,
        reference: Reference,
        event: NewActivity,
    ) -> Result<bool, RepoError> {
        let mut state = self.lock();
        state
            .row(tenant, reference.media_id, Some(MediaState::Live))
            .ok_or(RepoError::NotFound)?;
        let key = (reference.media_id, reference.name.clone());
        if state.references.contains_key(&key) {
            return Ok(false);
        }
        let id = reference.media_id;
        state.references.insert(key, reference);
        state.record(event, Some(id));
        Ok(true)
    }

    async fn list_references(&self, id: MediaId) -> Result<Vec<Reference>, RepoError> {
        Ok(self
            .lock()
            .references
            .iter()
            .filter(|((media, _), _)| *media == id)
            .map(|(_, reference)| reference.clone())
            .collect())
    }

    async fn remove_reference(
        &self,
        id: MediaId,
        name: &RefName,
        event: NewActivity,
    ) -> Result<(), RepoError> {
        let mut state = self.lock();
        state
            .references
            .remove(&(id, name.clone()))
            .ok_or(RepoError::NotFound)?;
        state.record(event, Some(id));
        Ok(())
    }
}

#[async_trait::async_trait]
impl DeleteRepo for MemoryRepo {
    async fn delete_requests(
        &self,
        requests: Vec<DeleteRequest>,
    ) -> Result<Vec<Result<DeleteOutcome, RepoError>>, RepoError> {
        Ok(self.lock().delete(requests, &[]))
    }

    async fn delete_requests_forgetting(
        &self,
        requests: Vec<DeleteRequest>,
        purged: &[BlobKey],
    ) -> Result<Vec<Result<DeleteOutcome, RepoError>>, RepoError> {
        Ok(self.lock().delete(requests, purged))
    }
}

/// A reaper pass's hold on its records: released when settled or dropped.
#[derive(Debug)]
struct Claim {
    state: Arc<Mutex<State>>,
    pass: u64,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.release(self.pass);
    }
}

#[async_trait::async_trait]
impl PendingClaim for Claim {
    async fn settle(
        self: Box<Self>,
        purged: &[i64],
        failures: &[PendingFailure],
    ) -> Result<(), RepoError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for id in purged {
            state.pending.remove(id);
        }
        for failure in failures {
            if let Some(record) = state.pending.get_mut(&failure.id) {
                record.blob.attempts += 1;
                record.blob.last_error = Some(clipped(&failure.error));
                match failure.retry_at {
                    Some(at) => {
                        record.blob.status = PendingStatus::Pending;
                        record.blob.next_attempt_at = at;
                    }
                    None => record.blob.status = PendingStatus::Failed,
                }
            }
        }
        // The rest is released as the claim drops.
        Ok(())
    }
}

#[async_trait::async_trait]
impl PendingDeletions for MemoryRepo {
    async fn add_pending_deletions(
        &self,
        tenant: TenantId,
        keys: &[BlobKey],
        not_before: OffsetDateTime,
    ) -> Result<(), RepoError> {
        self.lock()
            .add_pending(Some(tenant), keys, PendingStatus::Pending, not_before);
        Ok(())
    }

    async fn claim_pending_pass(
        &self,
        now: OffsetDateTime,
        _lease_until: OffsetDateTime,
        limit: u64,
        after: Option<i64>,
    ) -> Result<ClaimedPass, RepoError> {
        let mut state = self.lock();
        state.last_pass += 1;
        let pass = state.last_pass;
        let start = after.map_or(i64::MIN, |after| after.saturating_add(1));
        let due: Vec<i64> = page(
            state
                .pending
                .range(start..)
                .filter(|(_, record)| {
                    record.claimed_by.is_none()
                        && record.blob.status != PendingStatus::Failed
                        && record.blob.next_attempt_at <= now
                })
                .map(|(id, _)| *id),
            limit,
        );
        let mut records = Vec::with_capacity(due.len());
        for id in due {
            if let Some(record) = state.pending.get_mut(&id) {
                record.claimed_by = Some(pass);
                records.push(record.blob.clone());
            }
        }
        Ok(ClaimedPass {
            records,
            claim: Box::new(Claim {
                state: Arc::clone(&self.state),
                pass,
            }),
        })
    }

    async fn complete_pending_deletions(&self, keys: &[BlobKey]) -> Result<(), RepoError> {
        self.lock().forget(keys);
        Ok(())
    }

    async fn list_pending_deletions(
        &self,
        tenant: TenantId,
        status: Option<PendingStatus>,
        before_id: Option<i64>,
        limit: u64,
    ) -> Result<Vec<PendingBlob>, RepoError> {
        let state = self.lock();
        Ok(page(
            state
                .pending
                .values()
                .rev()
                .map(|record| &record.blob)
                .filter(|blob| {
                    blob.tenant_id == Some(tenant)
                        && status.is_none_or(|status| blob.status == status)
                        && before_id.is_none_or(|before| blob.id < before)
                })
                .cloned(),
            limit,
        ))
    }

    async fn pending_summary(&self) -> Result<Vec<PendingCount>, RepoError> {
        let state = self.lock();
        let mut counts: Vec<PendingCount> = Vec::new();
        for record in state.pending.values() {
            let blob = &record.blob;
            match counts.iter_mut().find(|count| count.status == blob.status) {
                Some(count) => {
                    count.count += 1;
                    count.oldest = count.oldest.min(blob.created_at);
                }
                None => counts.push(PendingCount {
                    status: blob.status,
                    count: 1,
                    oldest: blob.created_at,
                }),
            }
        }
        counts.sort_by_key(|count| count.status.as_str());
        Ok(counts)
    }

    async fn requeue_pending_deletions(
        &self,
        tenant: TenantId,
        ids: Option<Vec<i64>>,
        now: OffsetDateTime,
    ) -> Result<u64, RepoError> {
        let mut state = self.lock();
        let mut requeued = 0;
        for record in state.pending.values_mut() {
            let blob = &mut record.blob;
            let wanted = ids.as_ref().is_none_or(|ids| ids.contains(&blob.id));
            if blob.tenant_id == Some(tenant) && blob.status == PendingStatus::Failed && wanted {
                blob.status = PendingStatus::Pending;
                blob.attempts = 0;
                blob.next_attempt_at = now;
                record.claimed_by = None;
                requeued += 1;
            }
        }
        Ok(requeued)
    }

    async fn known_blob_keys(&self, keys: &[BlobKey]) -> Result<Vec<BlobKey>, RepoError> {
        let state = self.lock();
        let mut known: HashSet<&BlobKey> = HashSet::new();
        known.extend(state.media.values().map(|media| &media.blob_key));
        known.extend(state.copies.values().map(|copy| &copy.blob_key));
        known.extend(state.pending.values().map(|record| &record.blob.blob_key));
        known.extend(
            state
                .derivatives
                .iter()
                .map(|derivative| &derivative.blob_key),
        );
        let mut seen = HashSet::new();
        Ok(keys
            .iter()
            .filter(|key| known.contains(key) && seen.insert(*key))
            .cloned()
            .collect())
    }
}

#[async_trait::async_trait]
impl ActivityLog for MemoryRepo {
    async fn list_activity(
        &self,
        tenant: TenantId,
        query: &ActivityQuery,
    ) -> Result<Vec<Activity>, RepoError> {
        let state = self.lock();
        Ok(page(
            state
                .activity
                .iter()
                .rev()
                .filter(|(owner, event)| {
                    *owner == tenant
                        && query
                            .action
                            .as_ref()
                            .is_none_or(|action| event.action == *action)
                        && query.media_id.is_none_or(|id| event.media_id == Some(id))
                        && query
                            .actor_id
                            .as_ref()
                            .is_none_or(|actor| event.actor_id == *actor)
                        && query.before_id.is_none_or(|before| event.id < before)
                })
                .map(|(_, event)| event.clone()),
            query.limit,
        ))
    }
}

#[async_trait::async_trait]
impl IdempotencyKeys for MemoryRepo {
    async fn claim_idempotency_key(
        &self,
        key: &IdempotencyKey,
        terms: KeyTerms,
    ) -> Result<KeyClaim, RepoError> {
        let mut state = self.lock();
        let slot = (terms.tenant, key.clone());
        let claim = match state.idempotency.get(&slot) {
            Some(record) if record.expires_at > terms.now => match &record.completed {
                Some((fingerprint, response)) => KeyClaim::Completed {
                    fingerprint: fingerprint.clone(),
                    response: response.clone(),
                },
                None if record.held_until > terms.now => KeyClaim::InFlight,
                None => KeyClaim::Fresh,
            },
            _ => KeyClaim::Fresh,
        };
        if claim == KeyClaim::Fresh {
            state.idempotency.insert(
                slot,
                IdempotencyRecord {
                    held_until: terms.held_until,
                    expires_at: terms.expires_at,
                    completed: None,
                },
            );
        }
        Ok(claim)
    }

    async fn complete_idempotency_key(
        &self,
        tenant: TenantId,
        key: &IdempotencyKey,
        fingerprint: &str,
        response: &StoredResponse,
        expires_at: OffsetDateTime,
    ) -> Result<(), RepoError> {
        let mut state = self.lock();
        let record = state
            .idempotency
            .get_mut(&(tenant, key.clone()))
            .ok_or(RepoError::NotFound)?;
        record.expires_at = expires_at;
        record.completed = Some((fingerprint.to_owned(), response.clone()));
        Ok(())
    }

    async fn release_idempotency_key(
        &self,
        tenant: TenantId,
        key: &IdempotencyKey,
    ) -> Result<(), RepoError> {
        let mut state = self.lock();
        let slot = (tenant, key.clone());
        if state
            .idempotency
            .get(&slot)
            .is_some_and(|record| record.completed.is_none())
        {
            state.idempotency.remove(&slot);
        }
        Ok(())
    }

    async fn purge_idempotency_keys(&self, now: OffsetDateTime) -> Result<u64, RepoError> {
        let mut state = self.lock();
        let before = state.idempotency.len();
        state
            .idempotency
            .retain(|_, record| record.expires_at > now);
        Ok((before - state.idempotency.len()) as u64)
    }
}

#[async_trait::async_trait]
impl ChangeLog for MemoryRepo {
    async fn sequence_changes(&self, limit: u64) -> Result<u64, RepoError> {
        let mut state = self.lock();
        let waiting: Vec<i64> = page(
            state
                .activity
                .iter()
                .map(|(_, event)| event.id)
                .filter(|id| !state.sequenced.contains_key(id)),
            limit,
        );
        for id in &waiting {
            state.last_seq += 1;
            let seq = state.last_seq;
            state.sequenced.insert(*id, seq);
        }
        Ok(waiting.len() as u64)
    }

    async fn list_changes(
        &self,
        tenant: TenantId,
        actions: &'static [&'static str],
        after: i64,
        limit: u64,
    ) -> Result<Vec<SequencedActivity>, RepoError> {
        let state = self.lock();
        let mut found: Vec<SequencedActivity> = state
            .activity
            .iter()
            .filter(|(owner, event)| *owner == tenant && actions.contains(&event.action.as_str()))
            .filter_map(|(_, event)| {
                let seq = *state.sequenced.get(&event.id)?;
                (seq > after).then(|| SequencedActivity {
                    seq,
                    activity: event.clone(),
                })
            })
            .collect();
        found.sort_by_key(|change| change.seq);
        found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(found)
    }

    async fn last_change(&self) -> Result<i64, RepoError> {
        Ok(self.lock().last_seq)
    }
}

#[async_trait::async_trait]
impl Webhooks for MemoryRepo {
    async fn create_webhook(&self, new: NewWebhook) -> Result<Webhook, RepoError> {
        let mut state = self.lock();
        state.last_webhook += 1;
        let webhook = Webhook {
            id: state.last_webhook,
            tenant_id: new.tenant_id,
            url: new.url,
            secret: new.secret,
            event_types: new.event_types,
            description: new.description,
            enabled: true,
            created_at: new.created_at,
            cursor: new.cursor,
        };
        state.webhooks.insert(webhook.id, webhook.clone());
        Ok(webhook)
    }

    async fn list_webhooks(&self, tenant: TenantId) -> Result<Vec<Webhook>, RepoError> {
        Ok(self
            .lock()
            .webhooks
            .values()
            .filter(|w| w.tenant_id == tenant)
            .cloned()
            .collect())
    }

    async fn enabled_webhooks(&self) -> Result<Vec<Webhook>, RepoError> {
        Ok(self
            .lock()
            .webhooks
            .values()
            .filter(|w| w.enabled)
            .cloned()
            .collect())
    }

    async fn find_webhook(&self, tenant: TenantId, id: i64) -> Result<Option<Webhook>, RepoError> {
        Ok(self
            .lock()
            .webhooks
            .get(&id)
            .filter(|w| w.tenant_id == tenant)
            .cloned())
    }

    async fn update_webhook(
        &self,
        tenant: TenantId,
        id: i64,
        change: WebhookChange,
    ) -> Result<Webhook, RepoError> {
        let mut state = self.lock();
        let webhook = state
            .webhooks
            .get_mut(&id)
            .filter(|w| w.tenant_id == tenant)
            .ok_or(RepoError::NotFound)?;
        if let Some(url) = change.url {
            webhook.url = url;
        }
        if let Some(types) = change.event_types {
            webhook.event_types = types;
        }
        if let Some(description) = change.description {
            webhook.description = description;
        }
        if let Some(enabled) = change.enabled {
            webhook.enabled = enabled;
        }
        if let Some(secret) = change.secret {
            webhook.secret = secret;
        }
        if let Some(cursor) = change.cursor {
            webhook.cursor = cursor;
        }
        Ok(webhook.clone())
    }

    async fn delete_webhook(&self, tenant: TenantId, id: i64) -> Result<(), RepoError> {
        let mut state = self.lock();
        if !state
            .webhooks
            .get(&id)
            .is_some_and(|w| w.tenant_id == tenant)
        {
            return Err(RepoError::NotFound);
        }
        state.webhooks.remove(&id);
        state.deliveries.retain(|_, d| d.delivery.webhook_id != id);
        Ok(())
    }

    async fn enqueue_deliveries(
        &self,
        webhook: i64,
        from: i64,
        to: i64,
        deliveries: Vec<NewDelivery>,
    ) -> Result<bool, RepoError> {
        let mut state = self.lock();
        let Some(endpoint) = state
            .webhooks
            .get_mut(&webhook)
            .filter(|w| w.enabled && w.cursor == from)
        else {
            return Ok(false);
        };
        endpoint.cursor = to;
        let tenant_id = endpoint.tenant_id;
        for new in deliveries {
            state.last_delivery += 1;
            let id = state.last_delivery;
            let delivery = Delivery {
                id,
                webhook_id: webhook,
                seq: new.seq,
                event_type: new.event_type,
                media_id: new.media_id,
                payload: new.payload,
                status: DeliveryStatus::Pending,
                attempts: 0,
                next_attempt_at: new.created_at,
                last_status: None,
                last_error: None,
                created_at: new.created_at,
                delivered_at: None,
            };
            state.deliveries.insert(
                id,
                DeliveryRecord {
                    delivery,
                    tenant_id,
                    attempts: Vec::new(),
                    claim: None,
                },
            );
        }
        Ok(true)
    }

    async fn claim_deliveries(
        &self,
        now: OffsetDateTime,
        until: OffsetDateTime,
        token: &str,
        limit: u64,
    ) -> Result<Vec<ClaimedDelivery>, RepoError> {
        let mut state = self.lock();
        let pending = |d: &Delivery| d.status == DeliveryStatus::Pending;
        let mut due: Vec<i64> = state
            .deliveries
            .values()
            .filter(|r| {
                let d = &r.delivery;
                pending(d)
                    && d.next_attempt_at <= now
                    && r.claim.as_ref().is_none_or(|(_, until)| *until <= now)
                    && state.webhooks.get(&d.webhook_id).is_some_and(|w| w.enabled)
                    && !state.deliveries.values().any(|e| {
                        let e = &e.delivery;
                        pending(e)
                            && e.webhook_id == d.webhook_id
                            && e.media_id == d.media_id
                            && e.seq < d.seq
                    })
            })
            .map(|r| r.delivery.id)
            .collect();
        due.sort_by_key(|id| (state.deliveries[id].delivery.next_attempt_at, *id));
        due.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let mut claimed = Vec::with_capacity(due.len());
        for id in due {
            let record = state.deliveries.get_mut(&id).ok_or(RepoError::NotFound)?;
            record.claim = Some((token.to_owned(), until));
            let delivery = record.delivery.clone();
            let endpoint = &state.webhooks[&delivery.webhook_id];
            claimed.push(ClaimedDelivery {
                url: endpoint.url.clone(),
                secret: endpoint.secret.clone(),
                token: token.to_owned(),
                delivery,
            });
        }
        Ok(claimed)
    }

    async fn record_attempt(
        &self,
        id: i64,
        token: &str,
        attempt: DeliveryAttempt,
        next: DeliveryNext,
    ) -> Result<bool, RepoError> {
        let mut state = self.lock();
        let Some(record) = state.deliveries.get_mut(&id) else {
            return Ok(false);
        };
        record.attempts.push(attempt.clone());
        if record.claim.as_ref().is_none_or(|(held, _)| held != token) {
            return Ok(false);
        }
        record.claim = None;
        let delivery = &mut record.delivery;
        delivery.attempts += 1;
        delivery.last_status = attempt.status;
        delivery.last_error = attempt.error;
        match next {
            DeliveryNext::Delivered => {
                delivery.status = DeliveryStatus::Delivered;
                delivery.delivered_at = Some(attempt.at);
            }
            DeliveryNext::RetryAt(at) => delivery.next_attempt_at = at,
            DeliveryNext::Dead => delivery.status = DeliveryStatus::Dead,
        }
        Ok(true)
    }

    async fn list_deliveries(
        &self,
        tenant: TenantId,
        webhook: i64,
        status: Option<DeliveryStatus>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<Delivery>, RepoError> {
        let state = self.lock();
        Ok(page(
            state
                .deliveries
                .values()
                .rev()
                .filter(|r| r.tenant_id == tenant && r.delivery.webhook_id == webhook)
                .filter(|r| status.is_none_or(|s| r.delivery.status == s))
                .filter(|r| before.is_none_or(|b| r.delivery.id < b))
                .map(|r| r.delivery.clone()),
            limit,
        ))
    }

    async fn find_delivery(
        &self,
        tenant: TenantId,
        webhook: i64,
        id: i64,
    ) -> Result<Option<(Delivery, Vec<DeliveryAttempt>)>, RepoError> {
        Ok(self
            .lock()
            .deliveries
            .get(&id)
            .filter(|r| r.tenant_id == tenant && r.delivery.webhook_id == webhook)
            .map(|r| (r.delivery.clone(), r.attempts.clone())))
    }

    async fn forget_deliveries(&self, before: OffsetDateTime) -> Result<u64, RepoError> {
        let mut state = self.lock();
        let count = state.deliveries.len();
        state.deliveries.retain(|_, r| {
            r.delivery.status == DeliveryStatus::Pending || r.delivery.created_at >= before
        });
        Ok((count - state.deliveries.len()) as u64)
    }

    async fn redeliver(
        &self,
        tenant: TenantId,
        webhook: i64,
        id: i64,
        now: OffsetDateTime,
    ) -> Result<Delivery, RepoError> {
        let mut state = self.lock();
        let record = state
            .deliveries
            .get_mut(&id)
            .filter(|r| r.tenant_id == tenant && r.delivery.webhook_id == webhook)
            .ok_or(RepoError::NotFound)?;
        record.claim = None;
        let delivery = &mut record.delivery;
        delivery.status = DeliveryStatus::Pending;
        delivery.attempts = 0;
        delivery.next_attempt_at = now;
        Ok(delivery.clone())
    }
}

#[async_trait::async_trait]
impl Jobs for MemoryRepo {
    async fn create_job(&self, new: NewJob) -> Result<Job, RepoError> {
        let mut state = self.lock();
        let id = state.jobs.keys().next_back().map_or(1, |last| last + 1);
        let job = Job {
            id,
            tenant_id: new.tenant_id,
            kind: new.kind,
            state: JobState::Queued,
            spec: new.spec,
            cursor: JobCursor::default(),
            progress: JobProgress::default(),
            cancel_requested: false,
            error: None,
            created_by: new.created_by,
            created_at: new.created_at,
            updated_at: new.created_at,
            finished_at: None,
        };
        state.jobs.insert(id, (job.clone(), None));
        Ok(job)
    }

    async fn find_job(&self, tenant: TenantId, id: i64) -> Result<Option<Job>, RepoError> {
        Ok(self
            .lock()
            .jobs
            .get(&id)
            .map(|(job, _)| job)
            .filter(|job| job.tenant_id == tenant)
            .cloned())
    }

    async fn list_jobs(
        &self,
        tenant: TenantId,
        created_by: Option<UserId>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<Job>, RepoError> {
        let state = self.lock();
        Ok(page(
            state
                .jobs
                .values()
                .rev()
                .map(|(job, _)| job)
                .filter(|job| job.tenant_id == tenant && before.is_none_or(|b| job.id < b))
                .filter(|job| {
                    created_by
                        .as_ref()
                        .is_none_or(|user| job.created_by == *user)
                })
                .cloned(),
            limit,
        ))
    }

    async fn cancel_job(
        &self,
        tenant: TenantId,
        id: i64,
        at: OffsetDateTime,
    ) -> Result<Job, RepoError> {
        let mut state = self.lock();
        let (job, claim) = state
            .jobs
            .get_mut(&id)
            .filter(|(job, _)| job.tenant_id == tenant)
            .ok_or(RepoError::NotFound)?;
        if !job.state.is_final() {
            job.cancel_requested = true;
            job.updated_at = at;
            if job.state == JobState::Queued {
                job.state = JobState::Cancelled;
                job.finished_at = Some(at);
                *claim = None;
            }
        }
        Ok(job.clone())
    }

    async fn claim_job(
        &self,
        now: OffsetDateTime,
        until: OffsetDateTime,
        token: &str,
        only: Option<i64>,
    ) -> Result<Option<Job>, RepoError> {
        let mut state = self.lock();
        let Some((job, claim)) = state.jobs.values_mut().find(|(job, claim)| {
            !job.state.is_final()
                && only.is_none_or(|id| job.id == id)
                && claim
                    .as_ref()
                    .is_none_or(|(held, lease)| held == token || *lease <= now)
        }) else {
            return Ok(None);
        };
        *claim = Some((token.to_owned(), until));
        job.state = JobState::Running;
        Ok(Some(job.clone()))
    }

    async fn save_job(
        &self,
        id: i64,
        token: &str,
        update: JobUpdate,
    ) -> Result<Option<bool>, RepoError> {
        let mut state = self.lock();
        let Some((job, claim)) = state.jobs.get_mut(&id) else {
            return Ok(None);
        };
        if job.state.is_final() || claim.as_ref().is_none_or(|(held, _)| held != token) {
            return Ok(None);
        }
        job.cursor = update.cursor;
        job.progress = update.progress;
        job.state = update.state;
        job.error = update.error;
        job.updated_at = update.at;
        if update.state.is_final() {
            job.finished_at = Some(update.at);
            *claim = None;
        } else {
            *claim = Some((token.to_owned(), update.leased_until));
        }
        Ok(Some(job.cancel_requested))
    }
}

#[async_trait::async_trait]
impl MediaRepo for MemoryRepo {
    async fn ping(&self) -> Result<(), RepoError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::deletes::{tenant, AT, LEASE};

    /// The reference runs every check of the repository's contract.
    #[tokio::test]
    async fn keeps_every_repository_contract() {
        for (name, check) in crate::contract::repository() {
            eprintln!("{name}");
            check(&MemoryRepo::new()).await;
        }
    }

    /// An abandoned pass gives its records back at once.
    #[tokio::test]
    async fn a_dropped_claim_releases_its_records() {
        let repo = MemoryRepo::new();
        let tenant = tenant(&repo).await;
        let keys: Vec<BlobKey> = (0..2).map(|_| BlobKey::new_media(tenant)).collect();
        repo.add_pending_deletions(tenant, &keys, AT).await.unwrap();
        let pass = repo
            .claim_pending_pass(AT, AT + LEASE, 10, None)
            .await
            .unwrap();
        assert_eq!(pass.records.len(), 2);
        let other = repo
            .claim_pending_pass(AT, AT + LEASE, 10, None)
            .await
            .unwrap();
        assert!(other.records.is_empty(), "held by the first pass");
        drop(pass);
        let again = repo
            .claim_pending_pass(AT, AT + LEASE, 10, None)
            .await
            .unwrap();
        assert_eq!(again.records.len(), 2);
    }
}
