//! Settings: defaults < `medialib.toml` (or `--config FILE`) < `MEDIALIB_*` environment <
//! command-line flags. The only module that reads files, the environment or flags for
//! configuration. Values are validated into typed settings at startup; a bad value is one
//! readable error line and a non-zero exit.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Keys read from `MEDIALIB_<KEY>`.
const ENV_KEYS: &[&str] = &[
    "database_url",
    "database_max_connections",
    "blob_url",
    "listen",
    "max_upload_bytes",
    "admin_key_file",
    "blob_timeout_secs",
    "retry_interval_secs",
    "retry_grace_secs",
    "reap_max_attempts",
    "reap_lease_secs",
    "upload_intent_ttl_secs",
    "key_cache_secs",
    "idempotency_ttl_secs",
    "changes_retention_secs",
    "webhook_interval_ms",
    "webhook_timeout_secs",
    "webhook_max_attempts",
    "webhook_retry_base_ms",
    "webhook_retry_max_secs",
    "job_chunk",
    "job_pause_ms",
    "job_lease_secs",
    "log_format",
    "shutdown_timeout_secs",
    "idle_timeout_secs",
    "header_timeout_secs",
    "request_timeout_secs",
    "max_connections",
    "max_header_bytes",
    "max_headers",
    "max_json_bytes",
    "thumbnails",
    "thumbnail_size",
    "thumbnail_max_source_bytes",
    "compat",
    "group_commit_max_batch",
    "rate_limit_deletes_per_key",
    "rate_limit_deletes_per_tenant",
    "rate_limit_uploads_per_key",
    "rate_limit_uploads_per_tenant",
    "jwt_hs256_secret",
    "jwt_rs256_public_key_file",
    "jwt_jwks_file",
    "jwt_tenant_claim",
    "jwt_user_claim",
    "jwt_role_claim",
    "jwt_issuer",
    "jwt_audience",
];

/// A list given as a TOML array or as one comma-separated string (as in the environment).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NameList {
    /// `["a", "b"]`.
    List(Vec<String>),
    /// `"a,b"`.
    Text(String),
}

impl NameList {
    fn names(&self) -> Vec<String> {
        match self {
            Self::List(names) => names.clone(),
            Self::Text(text) => text
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// Raw settings as layered from every source.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// `sqlite:path`, `postgres://…` or `mysql://…`.
    pub database_url: String,
    /// Connections per instance in the database pool.
    pub database_max_connections: u32,
    /// `file:///abs/dir`, a directory, or `memory://`.
    pub blob_url: String,
    /// Address to listen on.
    pub listen: String,
    /// Largest accepted upload.
    pub max_upload_bytes: u64,
    /// Where the first admin key is written on a fresh store.
    pub admin_key_file: PathBuf,
    /// Timeout of one blob store call.
    pub blob_timeout_secs: u64,
    /// Interval of the pending-deletion retry loop.
    pub retry_interval_secs: u64,
    /// Age of a pending deletion before the reaper takes it over from the inline purge.
    pub retry_grace_secs: u64,
    /// Failed attempts after which a pending deletion is parked as failed.
    pub reap_max_attempts: i32,
    /// How long a reaper's claim on a pending deletion lasts.
    pub reap_lease_secs: u64,
    /// How long an upload may take before its blob counts as abandoned.
    pub upload_intent_ttl_secs: u64,
    /// How long an API key read from the database is trusted before it is read again (a key
    /// revoked elsewhere stops working here within this time; 0 reads it on every request).
    pub key_cache_secs: u64,
    /// How long the answer of a request with an `Idempotency-Key` is replayed (seconds).
    pub idempotency_ttl_secs: u64,
    /// How long the changes feed serves a change (seconds); older cursors must resync.
    pub changes_retention_secs: u64,
    /// How often the webhook dispatcher looks for events and due deliveries (milliseconds).
    pub webhook_interval_ms: u64,
    /// How long a webhook endpoint has to answer one attempt (seconds).
    pub webhook_timeout_secs: u64,
    /// Attempts after which a webhook delivery is dead-lettered.
    pub webhook_max_attempts: i32,
    /// Delay before a failed delivery's second attempt (milliseconds); doubles per attempt.
    pub webhook_retry_base_ms: u64,
    /// Longest delay between two attempts of a delivery (seconds).
    pub webhook_retry_max_secs: u64,
    /// Media a delete job deletes per chunk (one transaction).
    pub job_chunk: u64,
    /// Pause between two chunks of a delete job (milliseconds), to leave the database to
    /// the requests.
    pub job_pause_ms: u64,
    /// How long a job whose runner died waits before another instance resumes it (seconds).
    pub job_lease_secs: u64,
    /// `text` (coloured only on a terminal) or `json` (one object per line).
    pub log_format: String,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_timeout_secs: u64,
    /// A connection with no byte sent or received for this long, while none of its requests
    /// is being handled, is closed.
    pub idle_timeout_secs: u64,
    /// Time for a request's headers to arrive (also the keep-alive wait for the next request).
    pub header_timeout_secs: u64,
    /// Time for a request until its response starts (0: none).
    pub request_timeout_secs: u64,
    /// Connections served at once.
    pub max_connections: usize,
    /// Largest request target and headers, in bytes.
    pub max_header_bytes: usize,
    /// Most request header lines.
    pub max_headers: usize,
    /// Largest JSON request body, in bytes.
    pub max_json_bytes: usize,
    /// Whether thumbnails of uploaded images are made.
    pub thumbnails: bool,
    /// The longest side of a thumbnail, in pixels.
    pub thumbnail_size: u32,
    /// The largest image a thumbnail is made of, in bytes.
    pub thumbnail_max_source_bytes: u64,
    /// Compatibility profiles to mount.
    pub compat: NameList,
    /// Most single deletes committed in one shared transaction (1 = each its own).
    pub group_commit_max_batch: usize,
    /// Deletes per second of one API key (0: unlimited). A bulk delete counts its items.
    pub rate_limit_deletes_per_key: u32,
    /// Deletes per second of a whole tenant (0: unlimited); `medialib tenants limits`
    /// overrides it per tenant.
    pub rate_limit_deletes_per_tenant: u32,
    /// Uploads per second of one API key (0: unlimited).
    pub rate_limit_uploads_per_key: u32,
    /// Uploads per second of a whole tenant (0: unlimited), overridable per tenant.
    pub rate_limit_uploads_per_tenant: u32,
    /// Shared secret of HS256 tokens.
    pub jwt_hs256_secret: Option<String>,
    /// PEM file of the RSA public key of RS256 tokens.
    pub jwt_rs256_public_key_file: Option<PathBuf>,
    /// JWKS file of the RSA public keys of RS256 tokens.
    pub jwt_jwks_file: Option<PathBuf>,
    /// Claim naming the tenant.
    pub jwt_tenant_claim: String,
    /// Claim naming the user.
    pub jwt_user_claim: String,
    /// Claim naming the role.
    pub jwt_role_claim: String,
    /// Required issuer.
    pub jwt_issuer: Option<String>,
    /// Required audience.
    pub jwt_audience: Option<String>,
}

impl Default for RawSettings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://data/medialib.db".to_owned(),
            database_max_connections: 8,
            blob_url: "data/blobs".to_owned(),
            listen: "127.0.0.1:8080".to_owned(),
            max_upload_bytes: 100 * 1024 * 1024,
            admin_key_file: PathBuf::from("data/admin.key"),
            blob_timeout_secs: 30,
            retry_interval_secs: 5,
            retry_grace_secs: 30,
            reap_max_attempts: 10,
            reap_lease_secs: 60,
            upload_intent_ttl_secs: 3600,
            key_cache_secs: 1,
            idempotency_ttl_secs: 24 * 3600,
            changes_retention_secs: 30 * 24 * 3600,
            webhook_interval_ms: 1000,
            webhook_timeout_secs: 10,
            webhook_max_attempts: 8,
            webhook_retry_base_ms: 5000,
            webhook_retry_max_secs: 6 * 3600,
            job_chunk: 500,
            job_pause_ms: 0,
            job_lease_secs: 60,
            log_format: "text".into(),
            idle_timeout_secs: 60,
            header_timeout_secs: 20,
            request_timeout_secs: 300,
            max_connections: 1024,
            max_header_bytes: 32 * 1024,
            max_headers: 100,
            max_json_bytes: 1024 * 1024,
            shutdown_timeout_secs: 30,
            thumbnails: true,
            thumbnail_size: 256,
            thumbnail_max_source_bytes: 50 * 1024 * 1024,
            compat: NameList::List(Vec::new()),
            group_commit_max_batch: 64,
            rate_limit_deletes_per_key: 0,
            rate_limit_deletes_per_tenant: 0,
            rate_limit_uploads_per_key: 0,
            rate_limit_uploads_per_tenant: 0,
            jwt_hs256_secret: None,
            jwt_rs256_public_key_file: None,
            jwt_jwks_file: None,
            jwt_tenant_claim: "tenant".to_owned(),
            jwt_user_claim: "sub".to_owned(),
            jwt_role_claim: "role".to_owned(),
            jwt_issuer: None,
            jwt_audience: None,
        }
    }
}

impl RawSettings {
    /// The defaults with everything kept under `dir` (SQLite, local files, the admin key) and
    /// a port the system picks on loopback: a server of its own, for tests and embedders.
    pub fn local(dir: &Path) -> Self {
        Self {
            database_url: format!("sqlite://{}", dir.join("medialib.db").display()),
            blob_url: dir.join("blobs").display().to_string(),
            listen: "127.0.0.1:0".to_owned(),
            admin_key_file: dir.join("admin.key"),
            ..Self::default()
        }
    }
}

/// Flags that override every other source.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// `--blob-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blob_url: Option<String>,
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Database URL (scheme checked).
    pub database_url: String,
    /// Pool size.
    pub database_max_connections: u32,
    /// Blob store URL.
    pub blob_url: String,
    /// Listen address.
    pub listen: SocketAddr,
    /// Largest accepted upload.
    pub max_upload_bytes: u64,
    /// Where the first admin key goes.
    pub admin_key_file: PathBuf,
    /// Timeout of one blob store call.
    pub blob_timeout: Duration,
    /// Interval of the retry loop.
    pub retry_interval: Duration,
    /// Age before the reaper takes a pending deletion.
    pub retry_grace: Duration,
    /// Attempts before a deletion is parked.
    pub reap_max_attempts: i32,
    /// Reaper lease.
    pub reap_lease: Duration,
    /// Upload allowance.
    pub upload_intent_ttl: Duration,
    /// How long an authenticated key is trusted without reading it again.
    pub key_cache: Duration,
    /// How long idempotent answers are replayed.
    pub idempotency_ttl: Duration,
    /// How long the changes feed serves a change.
    pub changes_retention: Duration,
    /// How often the webhook dispatcher runs.
    pub webhook_interval: Duration,
    /// How long one webhook attempt may take.
    pub webhook_timeout: Duration,
    /// Webhook retries and dead letters.
    pub webhooks: medialib_domain::WebhookConfig,
    /// Media per chunk of a delete job.
    pub job_chunk: u64,
    /// Pause between chunks of a delete job.
    pub job_pause: Duration,
    /// Lease of a job's runner.
    pub job_lease: Duration,
    /// How log lines are written.
    pub log_format: crate::telemetry::LogFormat,
    /// Shutdown grace period.
    pub shutdown_timeout: Duration,
    /// Connection limits of the HTTP server.
    pub connections: crate::http::ConnectionLimits,
    /// Limits the app answers itself.
    pub http: medialib_api::HttpLimits,
    /// Thumbnail sizes and limits, when thumbnails are on.
    pub thumbnails: Option<medialib_image::ThumbnailConfig>,
    /// Mounted compatibility profiles.
    pub compat: Vec<medialib_api::compat::Profile>,
    /// Group commit batch size (1 = off).
    pub group_commit_max_batch: usize,
    /// Default rate limits.
    pub rate_limits: crate::limits::Rates,
    /// How JWTs are verified, when they are accepted.
    pub jwt: Option<medialib_jwt::JwtConfig>,
}

impl Settings {
    /// Layers every source and validates the result.
    ///
    /// # Errors
    /// A missing explicit config file, an unknown key, or an invalid value, named.
    pub fn load(config_file: Option<&Path>, overrides: &Overrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(RawSettings::default()));
        match config_file {
            Some(path) => {
                if !path.is_file() {
                    bail!("config file {} does not exist", path.display());
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("medialib.toml")),
        }
        let raw: RawSettings = figment
            .merge(Env::prefixed("MEDIALIB_").only(ENV_KEYS))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|err| anyhow::anyhow!("invalid configuration: {err}"))?;
        Self::validate(raw)
    }

    /// Validates settings given as values (tests and embedders; [`Settings::load`] reads
    /// them from the sources).
    ///
    /// # Errors
    /// An invalid value, named.
    pub fn validate(raw: RawSettings) -> anyhow::Result<Self> {
        let listen: SocketAddr = raw.listen.parse().with_context(|| {
            format!(
                "invalid listen address {:?} (expected host:port)",
                raw.listen
            )
        })?;
        let scheme_ok = ["sqlite:", "postgres://", "postgresql://", "mysql://"]
            .iter()
            .any(|prefix| raw.database_url.starts_with(prefix));
        if !scheme_ok {
            bail!("invalid database_url: expected sqlite:, postgres:// or mysql://");
        }
        let log_format = match raw.log_format.as_str() {
            "text" => crate::telemetry::LogFormat::Text,
            "json" => crate::telemetry::LogFormat::Json,
            other => bail!("invalid log_format {other:?}: expected text or json"),
        };
        if raw.max_upload_bytes == 0 {
            bail!("invalid max_upload_bytes: must be at least 1");
        }
        if raw.max_header_bytes < 1024 || raw.max_header_bytes > crate::http::HEAD_CEILING {
            bail!(
                "invalid max_header_bytes: must be 1024 to {}",
                crate::http::HEAD_CEILING
            );
        }
        if !(1..=1000).contains(&raw.max_headers) {
            bail!("invalid max_headers: must be 1 to 1000");
        }
        if raw.blob_url.is_empty() {
            bail!("invalid blob_url: must not be empty");
        }
        if !(16..=2048).contains(&raw.thumbnail_size) {
            bail!("invalid thumbnail_size: must be 16 to 2048 pixels");
        }
        let mut compat = Vec::new();
        for name in raw.compat.names() {
            let profile = medialib_api::compat::Profile::parse(&name).with_context(|| {
                format!(
                    "invalid compat profile {name:?}: expected gallery, swiftia, swonkie, \
                     catdata or defdrive"
                )
            })?;
            if !compat.contains(&profile) {
                compat.push(profile);
            }
        }
        let jwt = jwt_config(&raw)?;
        Ok(Self {
            database_url: raw.database_url,
            database_max_connections: raw.database_max_connections.max(1),
            blob_url: raw.blob_url,
            listen,
            max_upload_bytes: raw.max_upload_bytes,
            admin_key_file: raw.admin_key_file,
            blob_timeout: Duration::from_secs(raw.blob_timeout_secs.max(1)),
            retry_interval: Duration::from_secs(raw.retry_interval_secs.max(1)),
            retry_grace: Duration::from_secs(raw.retry_grace_secs),
            reap_max_attempts: raw.reap_max_attempts.max(1),
            reap_lease: Duration::from_secs(raw.reap_lease_secs.max(1)),
            upload_intent_ttl: Duration::from_secs(raw.upload_intent_ttl_secs.max(1)),
            key_cache: Duration::from_secs(raw.key_cache_secs),
            idempotency_ttl: Duration::from_secs(raw.idempotency_ttl_secs),
            changes_retention: Duration::from_secs(raw.changes_retention_secs),
            webhook_interval: Duration::from_millis(raw.webhook_interval_ms.max(10)),
            webhook_timeout: Duration::from_secs(raw.webhook_timeout_secs.max(1)),
            webhooks: medialib_domain::WebhookConfig {
                max_attempts: raw.webhook_max_attempts.max(1),
                retry_base: Duration::from_millis(raw.webhook_retry_base_ms),
                retry_max: Duration::from_secs(raw.webhook_retry_max_secs),
                // A claim outlives the attempt it is for.
                lease: Duration::from_secs(raw.webhook_timeout_secs.max(1) + 30),
                ..medialib_domain::WebhookConfig::default()
            },
            job_chunk: raw.job_chunk.clamp(1, 10_000),
            job_pause: Duration::from_millis(raw.job_pause_ms),
            job_lease: Duration::from_secs(raw.job_lease_secs.max(1)),
            log_format,
            shutdown_timeout: Duration::from_secs(raw.shutdown_timeout_secs),
            connections: crate::http::ConnectionLimits {
                max_connections: raw.max_connections.max(1),
                header_timeout: Duration::from_secs(raw.header_timeout_secs.max(1)),
                idle_timeout: Duration::from_secs(raw.idle_timeout_secs.max(1)),
                max_headers: raw.max_headers,
            },
            http: medialib_api::HttpLimits {
                max_header_bytes: raw.max_header_bytes,
                max_headers: raw.max_headers,
                max_json_bytes: raw.max_json_bytes.max(1024),
                request_timeout: (raw.request_timeout_secs > 0)
                    .then(|| Duration::from_secs(raw.request_timeout_secs)),
            },
            thumbnails: raw.thumbnails.then(|| medialib_image::ThumbnailConfig {
                size: raw.thumbnail_size,
                max_source_bytes: raw.thumbnail_max_source_bytes,
                ..medialib_image::ThumbnailConfig::default()
            }),
            compat,
            group_commit_max_batch: raw.group_commit_max_batch.max(1),
            rate_limits: crate::limits::Rates {
                deletes_per_key: raw.rate_limit_deletes_per_key,
                deletes_per_tenant: raw.rate_limit_deletes_per_tenant,
                uploads_per_key: raw.rate_limit_uploads_per_key,
                uploads_per_tenant: raw.rate_limit_uploads_per_tenant,
            },
            jwt,
        })
    }

    /// The SQLite file of `database_url`, when it names one.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let rest = self.database_url.strip_prefix("sqlite:")?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let file = rest.split('?').next().unwrap_or_default();
        (!file.is_empty() && !file.starts_with(":memory:")).then(|| PathBuf::from(file))
    }
}

/// The JWT settings: at most one key source, read now so a bad file stops startup.
fn jwt_config(raw: &RawSettings) -> anyhow::Result<Option<medialib_jwt::JwtConfig>> {
    use medialib_jwt::KeySource;
    let read = |path: &Path, what: &str| {
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {what} {}", path.display()))
    };
    let mut sources = Vec::new();
    if let Some(secret) = &raw.jwt_hs256_secret {
        sources.push(KeySource::Hs256Secret(secret.clone()));
    }
    if let Some(path) = &raw.jwt_rs256_public_key_file {
        sources.push(KeySource::Rs256Pem(read(
            path,
            "jwt_rs256_public_key_file",
        )?));
    }
    if let Some(path) = &raw.jwt_jwks_file {
        sources.push(KeySource::Jwks(read(path, "jwt_jwks_file")?));
    }
    if sources.len() > 1 {
        bail!("invalid JWT settings: set only one of jwt_hs256_secret, jwt_rs256_public_key_file, jwt_jwks_file");
    }
    Ok(sources.pop().map(|keys| medialib_jwt::JwtConfig {
        keys,
        tenant_claim: raw.jwt_tenant_claim.clone(),
        user_claim: raw.jwt_user_claim.clone(),
        role_claim: raw.jwt_role_claim.clone(),
        issuer: raw.jwt_issuer.clone(),
        audience: raw.jwt_audience.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_sqlite_and_local_files() {
        let settings = Settings::validate(RawSettings::default()).unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            settings.sqlite_file(),
            Some(PathBuf::from("data/medialib.db"))
        );
    }

    #[test]
    fn bad_values_are_named() {
        let raw = RawSettings {
            listen: "nope".into(),
            ..RawSettings::default()
        };
        let err = Settings::validate(raw).unwrap_err().to_string();
        assert!(err.contains("listen"), "{err}");
        let raw = RawSettings {
            database_url: "oracle://x".into(),
            ..RawSettings::default()
        };
        assert!(Settings::validate(raw)
            .unwrap_err()
            .to_string()
            .contains("database_url"));
    }

    #[test]
    fn flags_override_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\nblob_url = \"x\"\n").unwrap();
        let overrides = Overrides {
            blob_url: Some("y".into()),
            ..Overrides::default()
        };
        let settings = Settings::load(Some(&file), &overrides).unwrap();
        assert_eq!(settings.listen.port(), 9000);
        assert_eq!(settings.blob_url, "y");
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "colour = 1\n").unwrap();
        assert!(Settings::load(Some(&bad), &Overrides::default()).is_err());
    }
}
