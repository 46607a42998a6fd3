//! Who calls: roles, grants' permissions, the authenticated actor, tenants and API keys.

use serde::Serialize;
use time::OffsetDateTime;

use super::*;
use crate::error::ServiceError;

/// A key's role within its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything in its tenant.
    Admin,
    /// Its own media, plus what grants allow on others'.
    Member,
    /// Reads the tenant's media; changes nothing.
    Viewer,
}

impl Role {
    /// Parses `admin`, `member` or `viewer`.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] with code `invalid_role`.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        match raw {
            "admin" => Ok(Self::Admin),
            "member" => Ok(Self::Member),
            "viewer" => Ok(Self::Viewer),
            _ => Err(ServiceError::Invalid {
                code: "invalid_role",
                message: "Role must be admin, member or viewer".into(),
            }),
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
            Self::Viewer => "viewer",
        }
    }
}

/// What an access grant allows its grantee to do with someone else's media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// See and download.
    Read,
    /// See, download and delete.
    Delete,
}

impl Permission {
    /// Parses `read` or `delete`.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] with code `invalid_permission`.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        match raw {
            "read" => Ok(Self::Read),
            "delete" => Ok(Self::Delete),
            _ => Err(ServiceError::Invalid {
                code: "invalid_permission",
                message: "Permission must be read or delete".into(),
            }),
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Delete => "delete",
        }
    }
}

/// The authenticated caller of a use case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The key's tenant.
    pub tenant_id: TenantId,
    /// The key's tenant slug.
    pub tenant_slug: TenantSlug,
    /// The key's user.
    pub user_id: UserId,
    /// The key's role.
    pub role: Role,
    /// The key's public id.
    pub key_id: String,
    /// The settings of the key's tenant, read with the key.
    pub settings: TenantSettings,
    /// How the caller authenticated.
    pub credential: Credential,
}

/// How a caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// With a medialib API key (bound to one tenant).
    ApiKey,
    /// With a signed token (JWT) whose claims name the tenant and the user.
    Token,
    /// By the service that embeds medialib, which authenticated the user itself
    /// ([`crate::MediaService::act_as`]).
    Embedded,
}

impl Actor {
    /// Whether the actor is an admin of its tenant.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Database id.
    pub id: TenantId,
    /// Unique slug.
    pub slug: TenantSlug,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// Its settings.
    pub settings: TenantSettings,
}

/// An access grant on a media item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The media.
    pub media_id: MediaId,
    /// The grantee.
    pub user_id: UserId,
    /// What it allows.
    pub permission: Permission,
    /// When it was given.
    pub created_at: OffsetDateTime,
}

/// An API key as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Public id (the part before the secret).
    pub id: String,
    /// The key's tenant.
    pub tenant_id: TenantId,
    /// The key's tenant slug.
    pub tenant_slug: TenantSlug,
    /// The key's user.
    pub user_id: UserId,
    /// The key's role.
    pub role: Role,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
    /// When it stops working, if it does (set at creation, or by a rotation's overlap).
    pub expires_at: Option<OffsetDateTime>,
    /// When it last authenticated a request, to the minute (recorded in the background).
    pub last_used_at: Option<OffsetDateTime>,
}

/// An API key with the hash of its secret, as the repository stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredApiKey {
    /// The key's public fields.
    pub key: ApiKey,
    /// Hash of the secret, made by the [`crate::KeyHasher`].
    pub secret_hash: String,
    /// The settings of the key's tenant when read (ignored when stored).
    pub tenant_settings: TenantSettings,
}
