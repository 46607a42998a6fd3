//! The JWT adapter for medialib's [`TokenVerifier`] port, on `jsonwebtoken`.
//!
//! Tokens are signed with HS256 (a shared secret) or RS256 (an RSA public key in PEM, or a JWKS
//! document whose keys are chosen by the token's `kid`). `exp` is required and checked with a
//! minute of leeway; `iss` and `aud` are checked when configured. Which claims name the tenant,
//! the user and the role is configuration (`tenant`, `sub` and `role` by default). Keys are read
//! once at startup, so verifying a token does no I/O.
//!
//! Depends on the domain and `jsonwebtoken` only.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use medialib_domain::error::BoxError;
use medialib_domain::{TokenClaims, TokenVerifier};

/// Where the verification keys come from.
#[derive(Clone)]
pub enum KeySource {
    /// HS256 with this shared secret.
    Hs256Secret(String),
    /// RS256 with this RSA public key (PEM).
    Rs256Pem(String),
    /// RS256 with the keys of this JWKS document (JSON), chosen by `kid`.
    Jwks(String),
}

impl std::fmt::Debug for KeySource {
    /// The kind only: a secret never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Hs256Secret(_) => "Hs256Secret(..)",
            Self::Rs256Pem(_) => "Rs256Pem(..)",
            Self::Jwks(_) => "Jwks(..)",
        })
    }
}

/// How tokens are verified and read.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The keys.
    pub keys: KeySource,
    /// The claim holding the tenant slug.
    pub tenant_claim: String,
    /// The claim holding the user id.
    pub user_claim: String,
    /// The claim holding the role (absent: `member`).
    pub role_claim: String,
    /// The required `iss`, if any.
    pub issuer: Option<String>,
    /// The required `aud`, if any.
    pub audience: Option<String>,
}

impl JwtConfig {
    /// Default claim names (`tenant`, `sub`, `role`) over `keys`.
    pub fn new(keys: KeySource) -> Self {
        Self {
            keys,
            tenant_claim: "tenant".into(),
            user_claim: "sub".into(),
            role_claim: "role".into(),
            issuer: None,
            audience: None,
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JwtConfigError {
    /// The key material does not parse.
    #[error("invalid JWT key: {0}")]
    Key(String),
}

/// Why a token was refused (never shown to clients).
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("no key with the token's kid")]
    UnknownKey,
    #[error("claim {0} is missing or not a string")]
    Claim(String),
}

enum Keys {
    One(DecodingKey),
    Set(Vec<(Option<String>, DecodingKey)>),
}

impl std::fmt::Debug for Keys {
    /// Key material is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::One(_) => f.write_str("Keys::One"),
            Self::Set(keys) => write!(f, "Keys::Set({} keys)", keys.len()),
        }
    }
}

/// Verifies JWTs with `jsonwebtoken`.
#[derive(Debug)]
pub struct JwtVerifier {
    keys: Keys,
    validation: Validation,
    config: JwtConfig,
}

impl JwtVerifier {
    /// Parses the key material and prepares the validation.
    ///
    /// # Errors
    /// [`JwtConfigError::Key`] for a secret that is empty or a key or JWKS that does not parse.
    pub fn new(config: JwtConfig) -> Result<Self, JwtConfigError> {
        let key_error = |err: &dyn std::fmt::Display| JwtConfigError::Key(err.to_string());
        let (keys, algorithm) = match &config.keys {
            KeySource::Hs256Secret(secret) => {
                if secret.len() < 16 {
                    return Err(JwtConfigError::Key(
                        "the HS256 secret must be at least 16 bytes".into(),
                    ));
                }
                (
                    Keys::One(DecodingKey::from_secret(secret.as_bytes())),
                    Algorithm::HS256,
                )
            }
            KeySource::Rs256Pem(pem) => (
                Keys::One(DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| key_error(&e))?),
                Algorithm::RS256,
            ),
            KeySource::Jwks(json) => {
                let set: JwkSet = serde_json::from_str(json).map_err(|e| key_error(&e))?;
                let keys = set
                    .keys
                    .iter()
                    .map(|jwk| {
                        DecodingKey::from_jwk(jwk)
                            .map(|key| (jwk.common.key_id.clone(), key))
                            .map_err(|e| key_error(&e))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if keys.is_empty() {
                    return Err(JwtConfigError::Key("the JWKS holds no keys".into()));
                }
                (Keys::Set(keys), Algorithm::RS256)
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = 60;
        validation.set_required_spec_claims(&["exp"]);
        if let Some(issuer) = &config.issuer {
            validation.set_issuer(&[issuer]);
        }
        match &config.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        Ok(Self {
            keys,
            validation,
            config,
        })
    }

    fn key_for(&self, token: &str) -> Result<&DecodingKey, BoxError> {
        match &self.keys {
            Keys::One(key) => Ok(key),
            Keys::Set(keys) => {
                let kid = decode_header(token)?.kid;
                keys.iter()
                    .find(|(id, _)| kid.is_none() && keys.len() == 1 || *id == kid)
                    .map(|(_, key)| key)
                    .ok_or_else(|| Refused::UnknownKey.into())
            }
        }
    }
}

impl TokenVerifier for JwtVerifier {
    fn verify(&self, token: &str) -> Result<TokenClaims, BoxError> {
        let key = self.key_for(token)?;
        let data =
            decode::<serde_json::Map<String, serde_json::Value>>(token, key, &self.validation)?;
        let claims = data.claims;
        let text = |name: &str| -> Result<String, BoxError> {
            claims
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| Refused::Claim(name.to_owned()).into())
        };
        Ok(TokenClaims {
            tenant: text(&self.config.tenant_claim)?,
            user: text(&self.config.user_claim)?,
            role: claims
                .get(&self.config.role_claim)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
        })
    }
}
