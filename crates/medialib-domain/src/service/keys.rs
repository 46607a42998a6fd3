//! Tenants, API keys and authentication.
//!
//! A key reads `mlk_<id>_<secret>`: the id is public (listed, used to revoke), the secret is
//! shown once at creation and stored only as its hash. Authentication looks the key up by id
//! (kept for [`super::ServiceConfig::key_cache_ttl`] once it authenticated) and compares the
//! hashes in constant time.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::MediaService;
use crate::error::{RepoError, ServiceError};
use crate::model::*;

const KEY_PREFIX: &str = "mlk_";

/// Most keys the cache holds; a full cache starts over.
const MAX_CACHED_KEYS: usize = 10_000;

/// API keys that authenticated lately, by key id, each with when it was read.
///
/// A busy key is read from the repository once per [`super::ServiceConfig::key_cache_ttl`]
/// instead of on every request (docs/benchmarks.md, fourth round, has its cost). The presented
/// secret is still hashed and compared with the stored hash on every request; what the cache
/// defers is news from elsewhere: a key revoked by another process keeps working here until its
/// entry is older than the ttl, and so do the tenant settings read with it. Changing a tenant's
/// settings through this service clears the cache at once. Only keys that authenticated are
/// kept, so unknown ids cannot fill it.
#[derive(Debug, Default)]
pub(crate) struct KeyCache {
    entries: Mutex<HashMap<String, (StoredApiKey, OffsetDateTime)>>,
    /// When each key last authenticated, not yet written to the repository.
    uses: Mutex<HashMap<String, OffsetDateTime>>,
}

impl KeyCache {
    /// The key with this id, when it was read less than `ttl` before `now`.
    fn get(&self, id: &str, now: OffsetDateTime, ttl: Duration) -> Option<StoredApiKey> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (stored, read_at) = entries.get(id)?;
        // A clock that went backwards does not extend an entry's life.
        let fresh = *read_at <= now && (now - *read_at).unsigned_abs() < ttl;
        fresh.then(|| stored.clone())
    }

    fn put(&self, stored: StoredApiKey, now: OffsetDateTime) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_CACHED_KEYS {
            entries.clear();
        }
        entries.insert(stored.key.id.clone(), (stored, now));
    }

    /// Notes that a key authenticated at `now` (no allocation once the key is in the map).
    fn used(&self, id: &str, now: OffsetDateTime) {
        let mut uses = self.uses.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = uses.get_mut(id) {
            *at = now;
        } else if uses.len() < MAX_CACHED_KEYS {
            uses.insert(id.to_owned(), now);
        }
    }

    fn take_uses(&self) -> Vec<(String, OffsetDateTime)> {
        let mut uses = self.uses.lock().unwrap_or_else(PoisonError::into_inner);
        uses.drain().collect()
    }

    fn restore_uses(&self, taken: Vec<(String, OffsetDateTime)>) {
        let mut uses = self.uses.lock().unwrap_or_else(PoisonError::into_inner);
        for (id, at) in taken {
            let entry = uses.entry(id).or_insert(at);
            *entry = (*entry).max(at);
        }
    }

    /// Forgets every key (their tenant settings may have changed).
    pub(crate) fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// A repository error where a missing record means no usable key has that id.
fn key_not_found(err: RepoError) -> ServiceError {
    match err {
        RepoError::NotFound => ServiceError::NotFound("api key"),
        other => other.into(),
    }
}

/// Whether a key's expiry has come.
fn expired(key: &ApiKey, now: OffsetDateTime) -> bool {
    key.expires_at.is_some_and(|at| at <= now)
}

/// A freshly created key: its record and the full key text, which is never stored.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    /// The stored record.
    pub key: ApiKey,
    /// The key to give to the client.
    pub token: String,
}

impl MediaService {
    /// Resolves a bearer token to its actor: a medialib API key (`mlk_…`), or a signed token
    /// when a [`crate::ports::TokenVerifier`] is configured.
    ///
    /// # Errors
    /// [`ServiceError::Unauthorized`] for a malformed, unknown, revoked or expired credential,
    /// and for a token naming a tenant that does not exist.
    #[tracing::instrument(skip_all)]
    pub async fn authenticate(&self, token: &str) -> Result<Actor, ServiceError> {
        let Some(rest) = token.strip_prefix(KEY_PREFIX) else {
            return self.authenticate_token(token).await;
        };
        let (id, secret) = rest.split_once('_').ok_or(ServiceError::Unauthorized)?;
        let now = self.clock.now();
        let ttl = self.config.key_cache_ttl;
        let cached = if ttl.is_zero() {
            None
        } else {
            self.keys.get(id, now, ttl)
        };
        let read = cached.is_none();
        let stored = match cached {
            Some(stored) => stored,
            None => self
                .repo
                .find_api_key(id)
                .await?
                .ok_or(ServiceError::Unauthorized)?,
        };
        let presented = self.hasher.hash(secret);
        let matches: bool = presented
            .as_bytes()
            .ct_eq(stored.secret_hash.as_bytes())
            .into();
        if !matches || stored.key.revoked_at.is_some() || expired(&stored.key, now) {
            return Err(ServiceError::Unauthorized);
        }
        self.keys.used(id, now);
        if read && !ttl.is_zero() {
            self.keys.put(stored.clone(), now);
        }
        Ok(Actor {
            tenant_id: stored.key.tenant_id,
            tenant_slug: stored.key.tenant_slug,
            user_id: stored.key.user_id,
            role: stored.key.role,
            key_id: stored.key.id,
            settings: stored.tenant_settings,
            credential: Credential::ApiKey,
        })
    }

    async fn authenticate_token(&self, token: &str) -> Result<Actor, ServiceError> {
        let verifier = self.verifier.as_ref().ok_or(ServiceError::Unauthorized)?;
        let claims = verifier.verify(token).map_err(|err| {
            tracing::info!(error = &*err as &dyn std::error::Error, "token refused");
            ServiceError::Unauthorized
        })?;
        let role = claims.role.as_deref().unwrap_or("member");
        // A malformed claim or an unknown tenant refuses the token; a database failure stays one.
        self.actor_of(&claims.tenant, &claims.user, role, Credential::Token)
            .await
            .map_err(|err| match err {
                ServiceError::Repo(err) => ServiceError::Repo(err),
                _ => ServiceError::Unauthorized,
            })
    }

    /// The actor of a user that the embedding service has authenticated itself, for calling
    /// the use cases without an API key or a token: the tenant must exist, and its settings
    /// are read with it. The role decides what the actor may do, exactly as a key's would.
    ///
    /// # Errors
    /// `invalid_tenant`, `invalid_user_id` or `invalid_role` for a malformed value;
    /// [`ServiceError::NotFound`] (`tenant`) when the tenant does not exist.
    pub async fn act_as(
        &self,
        tenant: &str,
        user: &str,
        role: &str,
    ) -> Result<Actor, ServiceError> {
        self.actor_of(tenant, user, role, Credential::Embedded)
            .await
    }

    async fn actor_of(
        &self,
        tenant: &str,
        user: &str,
        role: &str,
        credential: Credential,
    ) -> Result<Actor, ServiceError> {
        let slug = TenantSlug::parse(tenant)?;
        let user_id = UserId::parse(user)?;
        let role = Role::parse(role)?;
        let tenant = self
            .repo
            .find_tenant(&slug)
            .await?
            .ok_or(ServiceError::NotFound("tenant"))?;
        Ok(Actor {
            tenant_id: tenant.id,
            tenant_slug: tenant.slug,
            user_id,
            role,
            key_id: match credential {
                Credential::Embedded => "embedded",
                _ => "token",
            }
            .into(),
            settings: tenant.settings,
            credential,
        })
    }

    /// Creates a tenant.
    ///
    /// # Errors
    /// `tenant_exists` conflict when the slug is taken.
    pub async fn create_tenant(&self, slug: &str) -> Result<Tenant, ServiceError> {
        let slug = TenantSlug::parse(slug)?;
        self.repo
            .create_tenant(&slug, self.clock.now())
            .await
            .map_err(|err| match err {
                RepoError::Conflict => ServiceError::Conflict {
                    code: "tenant_exists",
                    message: format!("Tenant {slug} already exists"),
                },
                other => other.into(),
            })
    }

    /// Creates an API key for a user of an existing tenant, valid until revoked.
    ///
    /// # Errors
    /// `tenant` not found, or invalid user or role.
    pub async fn create_api_key(
        &self,
        tenant: &str,
        user: &str,
        role: &str,
    ) -> Result<IssuedKey, ServiceError> {
        self.create_api_key_expiring(tenant, user, role, None).await
    }

    /// Creates an API key that stops working `expires_in` from now (never, with `None`).
    ///
    /// # Errors
    /// `tenant` not found, or invalid user or role.
    pub async fn create_api_key_expiring(
        &self,
        tenant: &str,
        user: &str,
        role: &str,
        expires_in: Option<Duration>,
    ) -> Result<IssuedKey, ServiceError> {
        let slug = TenantSlug::parse(tenant)?;
        let user_id = UserId::parse(user)?;
        let role = Role::parse(role)?;
        let tenant = self
            .repo
            .find_tenant(&slug)
            .await?
            .ok_or(ServiceError::NotFound("tenant"))?;
        self.issue_key(tenant.id, tenant.slug, user_id, role, expires_in)
            .await
    }

    async fn issue_key(
        &self,
        tenant_id: TenantId,
        tenant_slug: TenantSlug,
        user_id: UserId,
        role: Role,
        expires_in: Option<Duration>,
    ) -> Result<IssuedKey, ServiceError> {
        let now = self.clock.now();
        let raw_id = uuid::Uuid::new_v4().simple().to_string();
        let id = raw_id[..12].to_owned();
        let secret = uuid::Uuid::new_v4().simple().to_string();
        let key = ApiKey {
            id: id.clone(),
            tenant_id,
            tenant_slug,
            user_id,
            role,
            created_at: now,
            revoked_at: None,
            expires_at: expires_in.map(|life| now + life),
            last_used_at: None,
        };
        self.repo
            .create_api_key(StoredApiKey {
                key: key.clone(),
                secret_hash: self.hasher.hash(&secret),
                tenant_settings: TenantSettings::default(),
            })
            .await?;
        Ok(IssuedKey {
            key,
            token: format!("{KEY_PREFIX}{id}_{secret}"),
        })
    }

    /// Lists every key.
    ///
    /// # Errors
    /// Database failures.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>, ServiceError> {
        Ok(self.repo.list_api_keys().await?)
    }

    /// Replaces a key: issues a new one for the same tenant, user and role (expiring
    /// `expires_in` from now, when given) and makes the old one expire after `overlap`, so that
    /// clients can move to the new key before the old one stops working. An old key that
    /// expires sooner keeps its earlier expiry.
    ///
    /// # Errors
    /// `api_key` not found when no unrevoked, unexpired key has this id.
    pub async fn rotate_api_key(
        &self,
        id: &str,
        overlap: Duration,
        expires_in: Option<Duration>,
    ) -> Result<IssuedKey, ServiceError> {
        let now = self.clock.now();
        let old = self
            .repo
            .find_api_key(id)
            .await?
            .map(|stored| stored.key)
            .filter(|key| key.revoked_at.is_none() && !expired(key, now))
            .ok_or(ServiceError::NotFound("api key"))?;
        let issued = self
            .issue_key(
                old.tenant_id,
                old.tenant_slug,
                old.user_id,
                old.role,
                expires_in,
            )
            .await?;
        self.repo
            .expire_api_key(&old.id, now + overlap)
            .await
            .map_err(key_not_found)?;
        self.keys.clear();
        Ok(issued)
    }

    /// Writes when keys were last used (recorded in memory as they authenticate); the server
    /// calls it once a minute and at shutdown, so that requests never wait for the write.
    ///
    /// # Errors
    /// Database failures (the uses are kept for the next call).
    pub async fn flush_key_usage(&self) -> Result<usize, ServiceError> {
        let uses = self.keys.take_uses();
        if uses.is_empty() {
            return Ok(0);
        }
        if let Err(err) = self.repo.touch_api_keys(&uses).await {
            self.keys.restore_uses(uses);
            return Err(err.into());
        }
        Ok(uses.len())
    }

    /// Revokes a key: this service refuses it from then on, and every other instance once its
    /// cached copy is older than [`super::ServiceConfig::key_cache_ttl`].
    ///
    /// # Errors
    /// `api_key` not found when no unrevoked key has this id.
    pub async fn revoke_api_key(&self, id: &str) -> Result<(), ServiceError> {
        self.repo
            .revoke_api_key(id, self.clock.now())
            .await
            .map_err(key_not_found)?;
        self.keys.clear();
        Ok(())
    }

    /// On a store without keys, creates tenant `default` (if missing) and an admin key for
    /// user `admin`, and returns the key. Returns `None` when any key exists.
    ///
    /// # Errors
    /// Database failures.
    pub async fn bootstrap(&self) -> Result<Option<IssuedKey>, ServiceError> {
        if !self.repo.list_api_keys().await?.is_empty() {
            return Ok(None);
        }
        let slug = TenantSlug::parse("default")?;
        if self.repo.find_tenant(&slug).await?.is_none() {
            self.create_tenant(slug.as_str()).await?;
        }
        self.create_api_key(slug.as_str(), "admin", "admin")
            .await
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    use futures::executor::block_on;
    use time::macros::datetime;

    use super::*;
    use crate::ports::{KeyHasher, MockBlobStore, MockClock, MockMediaRepo};
    use crate::service::ServiceConfig;
    use crate::Sha256KeyHasher;

    const START: OffsetDateTime = datetime!(2026-12-01 12:00 UTC);

    fn stored(revoked: bool) -> StoredApiKey {
        StoredApiKey {
            key: ApiKey {
                id: "k1".into(),
                tenant_id: TenantId(1),
                tenant_slug: TenantSlug::parse("default").unwrap(),
                user_id: UserId::parse("alice").unwrap(),
                role: Role::Member,
                created_at: START,
                revoked_at: revoked.then_some(START),
                expires_at: None,
                last_used_at: None,
            },
            secret_hash: Sha256KeyHasher.hash("right"),
            tenant_settings: TenantSettings::default(),
        }
    }

    /// The service over `repo` with a clock at `START` plus `seconds`.
    fn service(repo: MockMediaRepo, ttl: Duration, seconds: &Arc<AtomicI64>) -> MediaService {
        let mut clock = MockClock::new();
        let elapsed = Arc::clone(seconds);
        clock
            .expect_now()
            .returning(move || START + time::Duration::seconds(elapsed.load(Ordering::SeqCst)));
        let config = ServiceConfig {
            key_cache_ttl: ttl,
            ..ServiceConfig::default()
        };
        MediaService::new(
            Arc::new(repo),
            Arc::new(MockBlobStore::new()),
            Arc::new(clock),
            Arc::new(Sha256KeyHasher),
            config,
        )
    }

    fn refused(result: Result<Actor, ServiceError>) -> bool {
        matches!(result, Err(ServiceError::Unauthorized))
    }

    #[test]
    fn a_key_is_read_once_per_ttl_and_its_secret_is_checked_on_every_request() {
        let mut repo = MockMediaRepo::new();
        let reads = Arc::new(AtomicI64::new(0));
        let counted = Arc::clone(&reads);
        repo.expect_find_api_key().returning(move |id| {
            assert_eq!(id, "k1");
            // Revoked elsewhere after the first read.
            Ok(Some(stored(counted.fetch_add(1, Ordering::SeqCst) > 0)))
        });
        let seconds = Arc::new(AtomicI64::new(0));
        let svc = service(repo, Duration::from_secs(2), &seconds);

        let actor = block_on(svc.authenticate("mlk_k1_right")).unwrap();
        assert_eq!(actor.user_id.as_str(), "alice");
        assert!(refused(block_on(svc.authenticate("mlk_k1_wrong"))));
        seconds.store(1, Ordering::SeqCst);
        assert!(block_on(svc.authenticate("mlk_k1_right")).is_ok());
        assert!(refused(block_on(svc.authenticate("mlk_k1_wrong"))));
        assert_eq!(reads.load(Ordering::SeqCst), 1, "served from the cache");

        // Past the ttl the key is read again, and the revocation is seen.
        seconds.store(2, Ordering::SeqCst);
        assert!(refused(block_on(svc.authenticate("mlk_k1_right"))));
        assert_eq!(reads.load(Ordering::SeqCst), 2);
        assert!(refused(block_on(svc.authenticate("mlk_k1_right"))));
        assert_eq!(reads.load(Ordering::SeqCst), 3, "refused keys are not kept");
    }

    #[test]
    fn revoking_through_the_service_takes_effect_at_once() {
        let mut repo = MockMediaRepo::new();
        let revoked = Arc::new(AtomicI64::new(0));
        let seen = Arc::clone(&revoked);
        repo.expect_find_api_key()
            .times(2)
            .returning(move |_| Ok(Some(stored(seen.load(Ordering::SeqCst) == 1))));
        let flag = Arc::clone(&revoked);
        repo.expect_revoke_api_key()
            .times(1)
            .returning(move |_, _| {
                flag.store(1, Ordering::SeqCst);
                Ok(())
            });
        let seconds = Arc::new(AtomicI64::new(0));
        let svc = service(repo, Duration::from_secs(60), &seconds);
        assert!(block_on(svc.authenticate("mlk_k1_right")).is_ok());
        block_on(svc.revoke_api_key("k1")).unwrap();
        assert!(refused(block_on(svc.authenticate("mlk_k1_right"))));
    }

    #[test]
    fn changing_the_tenants_settings_here_is_seen_by_the_next_request() {
        let mut repo = MockMediaRepo::new();
        let changed = Arc::new(AtomicI64::new(0));
        let seen = Arc::clone(&changed);
        repo.expect_find_api_key().times(2).returning(move |_| {
            let mut key = stored(false);
            key.key.role = Role::Admin;
            key.tenant_settings.delete_moves_to_trash = seen.load(Ordering::SeqCst) == 1;
            Ok(Some(key))
        });
        let flag = Arc::clone(&changed);
        repo.expect_update_tenant_settings()
            .times(1)
            .returning(move |_, _, _| {
                flag.store(1, Ordering::SeqCst);
                Ok(TenantSettings {
                    delete_moves_to_trash: true,
                    ..TenantSettings::default()
                })
            });
        let seconds = Arc::new(AtomicI64::new(0));
        let svc = service(repo, Duration::from_secs(60), &seconds);
        let admin = block_on(svc.authenticate("mlk_k1_right")).unwrap();
        assert!(!admin.settings.delete_moves_to_trash);
        let change = SettingsChange {
            trash_retention_days: None,
            delete_moves_to_trash: Some(true),
            ..SettingsChange::default()
        };
        block_on(svc.update_tenant_settings(&admin, change)).unwrap();
        let again = block_on(svc.authenticate("mlk_k1_right")).unwrap();
        assert!(again.settings.delete_moves_to_trash);
    }

    #[test]
    fn an_expired_key_is_refused_even_from_the_cache() {
        let mut repo = MockMediaRepo::new();
        repo.expect_find_api_key().times(1).returning(|_| {
            let mut key = stored(false);
            key.key.expires_at = Some(START + time::Duration::seconds(30));
            Ok(Some(key))
        });
        let seconds = Arc::new(AtomicI64::new(0));
        let svc = service(repo, Duration::from_secs(3600), &seconds);
        assert!(block_on(svc.authenticate("mlk_k1_right")).is_ok());
        seconds.store(30, Ordering::SeqCst);
        assert!(refused(block_on(svc.authenticate("mlk_k1_right"))));
    }

    #[test]
    fn uses_are_written_in_one_call_later_with_the_latest_time_per_key() {
        let mut repo = MockMediaRepo::new();
        repo.expect_find_api_key()
            .returning(|_| Ok(Some(stored(false))));
        repo.expect_touch_api_keys()
            .times(1)
            .withf(|uses| uses == [("k1".to_owned(), START + time::Duration::seconds(7))])
            .returning(|_| Ok(()));
        let seconds = Arc::new(AtomicI64::new(0));
        let svc = service(repo, Duration::from_secs(3600), &seconds);
        block_on(svc.authenticate("mlk_k1_right")).unwrap();
        seconds.store(7, Ordering::SeqCst);
        block_on(svc.authenticate("mlk_k1_right")).unwrap();
        // A refused secret is not a use.
        assert!(refused(block_on(svc.authenticate("mlk_k1_wrong"))));
        assert_eq!(block_on(svc.flush_key_usage()).unwrap(), 1);
        assert_eq!(block_on(svc.flush_key_usage()).unwrap(), 0, "nothing new");
    }

    #[test]
    fn a_zero_ttl_reads_the_key_on_every_request() {
        let mut repo = MockMediaRepo::new();
        repo.expect_find_api_key()
            .times(3)
            .returning(|_| Ok(Some(stored(false))));
        let seconds = Arc::new(AtomicI64::new(0));
        let svc = service(repo, Duration::ZERO, &seconds);
        for _ in 0..3 {
            assert!(block_on(svc.authenticate("mlk_k1_right")).is_ok());
        }
    }

    #[test]
    fn act_as_names_an_existing_tenant_and_checks_role_and_user() {
        let mut repo = MockMediaRepo::new();
        repo.expect_find_tenant().returning(|slug| {
            Ok((slug.as_str() == "acme").then(|| Tenant {
                id: TenantId(7),
                slug: slug.clone(),
                created_at: START,
                settings: TenantSettings::default(),
            }))
        });
        let service = service(repo, Duration::ZERO, &Arc::new(AtomicI64::new(0)));
        let actor = block_on(service.act_as("acme", "alice", "viewer")).unwrap();
        assert_eq!(actor.tenant_id, TenantId(7));
        assert_eq!(actor.role, Role::Viewer);
        assert_eq!(actor.credential, Credential::Embedded);
        assert!(matches!(
            block_on(service.act_as("other", "alice", "member")),
            Err(ServiceError::NotFound("tenant"))
        ));
        assert!(matches!(
            block_on(service.act_as("acme", "alice", "owner")),
            Err(ServiceError::Invalid {
                code: "invalid_role",
                ..
            })
        ));
    }
}
