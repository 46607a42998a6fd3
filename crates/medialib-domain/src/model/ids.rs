//! Identifiers and value types that prove their own validity: ids, slugs, user ids, paths,
//! tags and blob keys.

use serde::Serialize;

use crate::error::ServiceError;

/// The numeric id of a media item: a positive 64-bit integer, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct MediaId(i64);

impl MediaId {
    /// Parses a decimal id from a path or query parameter.
    ///
    /// # Errors
    /// [`ServiceError::InvalidMediaId`] for anything but a positive integer that fits in `i64`.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        let raw = raw.trim();
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ServiceError::InvalidMediaId);
        }
        let value: i64 = raw.parse().map_err(|_| ServiceError::InvalidMediaId)?;
        Self::try_from(value)
    }

    /// The raw value.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for MediaId {
    type Error = ServiceError;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        if value > 0 {
            Ok(Self(value))
        } else {
            Err(ServiceError::InvalidMediaId)
        }
    }
}

impl std::fmt::Display for MediaId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The database id of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct TenantId(pub i64);

impl std::fmt::Display for TenantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A tenant's slug: 1 to 63 characters of `a-z`, `0-9` and `-`, not starting with `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct TenantSlug(String);

impl TenantSlug {
    /// Parses a slug.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] with code `invalid_tenant` when the rules above are broken.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        let ok = !raw.is_empty()
            && raw.len() <= 63
            && !raw.starts_with('-')
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ServiceError::Invalid {
                code: "invalid_tenant",
                message: "Tenant slugs are 1-63 characters of a-z, 0-9 and '-'".into(),
            })
        }
    }

    /// The slug text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An application's user id: 1 to 128 printable characters without `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct UserId(String);

impl UserId {
    /// Parses a user id.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] with code `invalid_user_id`.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        let ok = !raw.is_empty()
            && raw.chars().count() <= 128
            && raw.trim() == raw
            && !raw.chars().any(|c| c.is_control() || c == '/');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ServiceError::Invalid {
                code: "invalid_user_id",
                message:
                    "User ids are 1-128 printable characters without '/' or surrounding spaces"
                        .into(),
            })
        }
    }

    /// The id text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The characters that reorder text (Unicode bidirectional formatting characters).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// The longest media path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;

/// A media path relative to its owner's root: `folder/sub/name.ext`, case-sensitive.
///
/// Rules: not empty, at most [`MAX_PATH_BYTES`] bytes, no leading `/` (absolute), no `\`, no NUL
/// or other control character, no bidirectional formatting character (which makes a name read
/// differently from what it is: `photo\u{202E}gpj.exe`), no empty, `.` or `..` segment, no
/// trailing `/`. Paths are Unicode NFC: `café` typed composed or decomposed is one path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct MediaPath(String);

impl MediaPath {
    /// Parses a path that has already been percent-decoded.
    ///
    /// # Errors
    /// [`ServiceError::InvalidPath`] naming the broken rule.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        use unicode_normalization::UnicodeNormalization;
        let normalized: String = raw.nfc().collect();
        let raw = normalized.as_str();
        if raw.is_empty() {
            return Err(ServiceError::InvalidPath("path is empty"));
        }
        if raw.len() > MAX_PATH_BYTES {
            return Err(ServiceError::InvalidPath("path is longer than 1024 bytes"));
        }
        if raw.starts_with('/') {
            return Err(ServiceError::InvalidPath("path must be relative"));
        }
        if raw.contains('\\') {
            return Err(ServiceError::InvalidPath(
                "path must not contain backslashes",
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(ServiceError::InvalidPath(
                "path must not contain NUL or control characters",
            ));
        }
        if raw.chars().any(is_bidi_control) {
            return Err(ServiceError::InvalidPath(
                "path must not contain bidirectional formatting characters",
            ));
        }
        for segment in raw.split('/') {
            match segment {
                "" => return Err(ServiceError::InvalidPath("path has an empty segment")),
                "." | ".." => {
                    return Err(ServiceError::InvalidPath(
                        "path must not contain '.' or '..' segments",
                    ))
                }
                _ => {}
            }
        }
        Ok(Self(normalized))
    }

    /// The whole path.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// Everything before the last segment, empty at the root.
    pub fn folder(&self) -> &str {
        self.0.rsplit_once('/').map_or("", |(folder, _)| folder)
    }
}

impl std::fmt::Display for MediaPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tag: 1 to 64 characters, no commas, no control characters, no surrounding spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Tag(String);

impl Tag {
    /// Parses one tag.
    ///
    /// # Errors
    /// [`ServiceError::Invalid`] with code `invalid_tag`.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        let ok = !raw.is_empty()
            && raw.chars().count() <= 64
            && raw.trim() == raw
            && !raw.chars().any(|c| c.is_control() || c == ',');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ServiceError::Invalid {
                code: "invalid_tag",
                message: format!("Invalid tag {raw:?}: tags are 1-64 characters without commas"),
            })
        }
    }

    /// Parses a list, dropping duplicates and keeping the first order.
    ///
    /// # Errors
    /// The first invalid tag, or more than [`MAX_TAGS`] tags.
    pub fn parse_all<'a>(raw: impl IntoIterator<Item = &'a str>) -> Result<Vec<Tag>, ServiceError> {
        let mut tags: Vec<Tag> = Vec::new();
        for item in raw {
            let tag = Tag::parse(item)?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        if tags.len() > MAX_TAGS {
            return Err(ServiceError::Invalid {
                code: "invalid_tag",
                message: format!("At most {MAX_TAGS} tags per media item"),
            });
        }
        Ok(tags)
    }

    /// The tag text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The most tags one media item may carry.
pub const MAX_TAGS: usize = 32;

/// A storage key for a blob. Keys are made from random ids, never from user input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct BlobKey(String);

impl BlobKey {
    /// A fresh key for an uploaded original.
    pub fn new_media(tenant: TenantId) -> Self {
        Self(format!("media/{tenant}/{}", uuid::Uuid::new_v4().simple()))
    }

    /// A fresh key for a derivative (a thumbnail) of a media item.
    pub fn new_derivative(tenant: TenantId) -> Self {
        Self(format!(
            "derivatives/{tenant}/{}",
            uuid::Uuid::new_v4().simple()
        ))
    }

    /// A fresh key for a community copy.
    pub fn new_community(tenant: TenantId) -> Self {
        Self(format!(
            "community/{tenant}/{}",
            uuid::Uuid::new_v4().simple()
        ))
    }

    /// Wraps a key read back from storage or the database.
    pub fn from_stored(key: String) -> Self {
        Self(key)
    }

    /// The key text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_id_accepts_positive_integers_only() {
        assert_eq!(MediaId::parse("42").unwrap().get(), 42);
        for bad in [
            "0",
            "-1",
            "abc",
            "",
            "1.5",
            "9223372036854775808",
            "+1",
            "0x10",
        ] {
            assert!(MediaId::parse(bad).is_err(), "{bad} must be rejected");
        }
        assert_eq!(
            MediaId::parse("9223372036854775807").unwrap().get(),
            i64::MAX
        );
    }

    #[test]
    fn media_path_rejects_escapes_and_malformed_segments() {
        let long = "a".repeat(1025);
        for bad in [
            "",
            "/abs.jpg",
            "a/../b.jpg",
            "..",
            "./a",
            "a//b",
            "a/",
            "a\\b",
            "a\0b",
            &long,
        ] {
            assert!(MediaPath::parse(bad).is_err(), "{bad:?} must be rejected");
        }
        let path = MediaPath::parse("Captions/caption-1709856234567-beach.jpg").unwrap();
        assert_eq!(path.file_name(), "caption-1709856234567-beach.jpg");
        assert_eq!(path.folder(), "Captions");
        assert_eq!(MediaPath::parse("x.png").unwrap().folder(), "");
        assert!(MediaPath::parse(&"a".repeat(1024)).is_ok());
    }

    #[test]
    fn media_paths_are_nfc_and_refuse_bidi_controls() {
        let composed = MediaPath::parse("caf\u{e9}.jpg").unwrap();
        let decomposed = MediaPath::parse("cafe\u{301}.jpg").unwrap();
        assert_eq!(composed, decomposed);
        assert_eq!(decomposed.as_str(), "caf\u{e9}.jpg");
        for bad in [
            "photo\u{202E}gpj.exe",
            "a\u{2066}b",
            "x\u{200F}.png",
            "y\u{061C}",
        ] {
            assert!(MediaPath::parse(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn tags_are_deduplicated_and_bounded() {
        let tags = Tag::parse_all(["a", "b", "a"]).unwrap();
        assert_eq!(tags.len(), 2);
        assert!(Tag::parse("a,b").is_err());
        assert!(Tag::parse(" a").is_err());
        let many: Vec<String> = (0..33).map(|i| format!("t{i}")).collect();
        assert!(Tag::parse_all(many.iter().map(String::as_str)).is_err());
    }

    #[test]
    fn slugs_and_user_ids_are_checked() {
        assert!(TenantSlug::parse("acme-1").is_ok());
        assert!(TenantSlug::parse("Acme").is_err());
        assert!(TenantSlug::parse("-x").is_err());
        assert!(UserId::parse("alice@example.com").is_ok());
        assert!(UserId::parse("a/b").is_err());
        assert!(UserId::parse("").is_err());
    }
}
