//! Authentication: `Authorization: Bearer <api key>`.

use medialib_domain::{Actor, MediaService};
use poem_openapi::auth::Bearer;
use poem_openapi::SecurityScheme;

use crate::error::ApiError;

/// An API key (`mlk_…`) or, when the server is configured for them, a signed JWT, sent as a
/// bearer token. Keys belong to one tenant and one user and carry a role: `admin`, `member`
/// or `viewer`; a JWT names them in its claims (`tenant`, `sub`, `role` by default).
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "mlk_<id>_<secret> or JWT")]
pub struct ApiKeyAuth(pub Bearer);

/// Resolves the key to its actor and checks the optional `?tenant=`.
///
/// # Errors
/// 401 for a bad key, 403 `tenant_mismatch` for another tenant.
pub async fn actor(
    service: &MediaService,
    token: &str,
    tenant: Option<&str>,
) -> Result<Actor, ApiError> {
    let actor = service.authenticate(token).await?;
    MediaService::check_tenant(&actor, tenant)?;
    Ok(actor)
}
