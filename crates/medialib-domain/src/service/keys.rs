//! Tenants, API keys and authentication.
//!
//! A key reads `mlk_<id>_<secret>`: the id is public (listed, used to revoke), the secret is
//! shown once at creation and stored only as its hash. Authentication looks the key up by id
//! and compares the hashes in constant time.

use subtle::ConstantTimeEq;

use super::MediaService;
use crate::error::{RepoError, ServiceError};
use crate::model::*;

const KEY_PREFIX: &str = "mlk_";

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
        let stored = self
            .repo
            .find_api_key(id)
            .await?
            .ok_or(ServiceError::Unauthorized)?;
        let presented = self.hasher.hash(secret);
        let matches: bool = presented
            .as_bytes()
            .ct_eq(stored.secret_hash.as_bytes())
            .into();
        if !matches || stored.key.revoked_at.is_some() {
            return Err(ServiceError::Unauthorized);
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
        let refused = |_| ServiceError::Unauthorized;
        let slug = TenantSlug::parse(&claims.tenant).map_err(refused)?;
        let user_id = UserId::parse(&claims.user).map_err(refused)?;
        let role = Role::parse(claims.role.as_deref().unwrap_or("member")).map_err(refused)?;
        let tenant = self
            .repo
            .find_tenant(&slug)
            .await?
            .ok_or(ServiceError::Unauthorized)?;
        Ok(Actor {
            tenant_id: tenant.id,
            tenant_slug: tenant.slug,
            user_id,
            role,
            key_id: "token".into(),
            settings: tenant.settings,
            credential: Credential::Token,
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

    /// Creates an API key for a user of an existing tenant.
    ///
    /// # Errors
    /// `tenant` not found, or invalid user or role.
    pub async fn create_api_key(
        &self,
        tenant: &str,
        user: &str,
        role: &str,
    ) -> Result<IssuedKey, ServiceError> {
        let slug = TenantSlug::parse(tenant)?;
        let user_id = UserId::parse(user)?;
        let role = Role::parse(role)?;
        let tenant = self
            .repo
            .find_tenant(&slug)
            .await?
            .ok_or(ServiceError::NotFound("tenant"))?;
        let raw_id = uuid::Uuid::new_v4().simple().to_string();
        let id = raw_id[..12].to_owned();
        let secret = uuid::Uuid::new_v4().simple().to_string();
        let key = ApiKey {
            id: id.clone(),
            tenant_id: tenant.id,
            tenant_slug: tenant.slug,
            user_id,
            role,
            created_at: self.clock.now(),
            revoked_at: None,
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

    /// Revokes a key; requests with it are refused from then on.
    ///
    /// # Errors
    /// `api_key` not found when no unrevoked key has this id.
    pub async fn revoke_api_key(&self, id: &str) -> Result<(), ServiceError> {
        self.repo
            .revoke_api_key(id, self.clock.now())
            .await
            .map_err(|err| match err {
                RepoError::NotFound => ServiceError::NotFound("api key"),
                other => other.into(),
            })
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
