//! Blob URL → object_store backend.

use std::path::PathBuf;
use std::sync::Arc;

use medialib_domain::BlobError;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::ObjectStore;

/// Opens the store a URL names. Local directories are created when missing.
///
/// # Errors
/// [`BlobError::Backend`] for an unsupported scheme or a directory that cannot be created.
pub(crate) fn open(raw: &str) -> Result<Opened, BlobError> {
    if raw == "memory://" || raw == "memory:" {
        return Ok(Opened::remote(Arc::new(InMemory::new())));
    }
    if let Some(rest) = raw.strip_prefix("s3://") {
        return Ok(Opened::remote(s3(rest)?));
    }
    let dir = if let Some(rest) = raw.strip_prefix("file://") {
        if !rest.starts_with('/') {
            return Err(invalid(format!(
                "file URLs must be absolute (file:///dir), got {raw}"
            )));
        }
        std::path::PathBuf::from(rest)
    } else if raw.contains("://") {
        let scheme = raw.split("://").next().unwrap_or_default();
        return Err(invalid(format!("unsupported blob store scheme {scheme:?}")));
    } else if raw.is_empty() {
        return Err(invalid("blob URL is empty".to_owned()));
    } else {
        std::path::PathBuf::from(raw)
    };
    std::fs::create_dir_all(&dir).map_err(|err| BlobError::Backend(Box::new(err)))?;
    let store = LocalFileSystem::new_with_prefix(&dir)
        .map_err(|err| BlobError::Backend(Box::new(err)))?
        .with_automatic_cleanup(true);
    let local = Arc::new(store);
    Ok(Opened {
        store: local.clone(),
        local: Some(local),
        root: Some(dir),
    })
}

/// An opened store; a local one also as itself and its directory.
pub(crate) struct Opened {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) local: Option<Arc<LocalFileSystem>>,
    pub(crate) root: Option<PathBuf>,
}

impl Opened {
    fn remote(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            local: None,
            root: None,
        }
    }
}

/// `s3://bucket?endpoint=http://host:port&region=us-east-1&allow_http=true`: any
/// `AmazonS3ConfigKey` may be given as a query parameter (with or without its `aws_` prefix);
/// the standard `AWS_*` environment variables fill in the rest.
fn s3(rest: &str) -> Result<Arc<dyn ObjectStore>, BlobError> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    use std::str::FromStr;

    let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
    if bucket.is_empty() || bucket.contains('/') {
        return Err(invalid(format!(
            "invalid S3 bucket {bucket:?} (expected s3://bucket?options)"
        )));
    }
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    let mut has_credentials = std::env::var_os("AWS_ACCESS_KEY_ID").is_some();
    let mut skip_signature = false;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let key = AmazonS3ConfigKey::from_str(&name)
            .or_else(|_| AmazonS3ConfigKey::from_str(&format!("aws_{name}")))
            .map_err(|_| invalid(format!("unknown S3 option {name:?}")))?;
        if value.chars().any(char::is_control) {
            return Err(invalid(format!(
                "S3 option {name:?} has a control character"
            )));
        }
        has_credentials |= matches!(key, AmazonS3ConfigKey::AccessKeyId);
        skip_signature |= matches!(key, AmazonS3ConfigKey::SkipSignature) && value == "true";
        builder = builder.with_config(key, value.into_owned());
    }
    if !has_credentials && !skip_signature {
        // Without credentials the SDK would ask the cloud instance metadata service; refuse
        // instead of reaching for an address that is not configured.
        return Err(invalid(
            "S3 needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass \
             access_key_id and secret_access_key in the URL, or skip_signature=true"
                .to_owned(),
        ));
    }
    let store = builder
        .build()
        .map_err(|err| BlobError::Backend(Box::new(err)))?;
    Ok(Arc::new(store))
}

fn invalid(message: String) -> BlobError {
    BlobError::Backend(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_take_options_and_refuse_to_guess_credentials() {
        assert!(open(
            "s3://bucket?endpoint=http://127.0.0.1:9&allow_http=true&skip_signature=true"
        )
        .is_ok());
        assert!(open("s3://bucket?access_key_id=a&secret_access_key=b&region=us-east-1").is_ok());
        assert!(open("s3://bucket?colour=blue&skip_signature=true").is_err());
        assert!(open("s3://?skip_signature=true").is_err());
        assert!(open("s3://b?skip_signature=true&region=us%0A").is_err());
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            assert!(open("s3://bucket").is_err());
        }
    }

    #[test]
    fn unsupported_schemes_and_relative_file_urls_are_refused() {
        assert!(open("ftp://host/x").is_err());
        assert!(open("file://relative/dir").is_err());
        assert!(open("").is_err());
        assert!(open("memory://").is_ok());
    }

    #[test]
    fn plain_directories_are_created() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        open(dir.to_str().unwrap()).unwrap();
        assert!(dir.is_dir());
        let url = format!("file://{}", tmp.path().join("c").display());
        open(&url).unwrap();
        assert!(tmp.path().join("c").is_dir());
    }
}
