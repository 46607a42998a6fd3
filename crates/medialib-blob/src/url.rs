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
pub(crate) fn open(raw: &str) -> Result<(Arc<dyn ObjectStore>, Option<PathBuf>), BlobError> {
    if raw == "memory://" || raw == "memory:" {
        return Ok((Arc::new(InMemory::new()), None));
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
    Ok((Arc::new(store), Some(dir)))
}

fn invalid(message: String) -> BlobError {
    BlobError::Backend(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

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
