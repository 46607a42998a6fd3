//! The download response: whole content, a single range (206), not modified (304), and the
//! headers that go with them. Range parsing is http-range-header's.

use futures_util::TryStreamExt;
use medialib_domain::{ByteStream, Media};
use poem::http::{header, StatusCode};
use poem::{Body, IntoResponse, Response};
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::ApiResponse;

use crate::error::ApiError;

/// The bytes of a media item, streamed with its own `Content-Type`.
pub struct MediaContent {
    status: StatusCode,
    media: Media,
    length: u64,
    range: Option<std::ops::Range<u64>>,
    stream: Option<ByteStream>,
}

impl MediaContent {
    /// 200 with everything, or 206 with `range`.
    pub fn body(
        media: Media,
        length: u64,
        range: Option<std::ops::Range<u64>>,
        stream: ByteStream,
    ) -> Self {
        let status = if range.is_some() {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        };
        Self {
            status,
            media,
            length,
            range,
            stream: Some(stream),
        }
    }

    /// 304: the client's copy is current.
    pub fn not_modified(media: &Media) -> Self {
        Self {
            status: StatusCode::NOT_MODIFIED,
            media: media.clone(),
            length: 0,
            range: None,
            stream: None,
        }
    }
}

/// Headers on every download of stored content: the browser must not guess another type than
/// the stored one, and a document opened from it runs in a sandbox (no scripts, no same
/// origin), whatever was uploaded.
const NOSNIFF: (header::HeaderName, &str) = (header::X_CONTENT_TYPE_OPTIONS, "nosniff");
const SANDBOX: (header::HeaderName, &str) = (header::CONTENT_SECURITY_POLICY, "sandbox");

/// Whether a browser would run content of this type, or render it as a document that can run
/// scripts: HTML, SVG and other XML, JavaScript. Such content is served as a download.
fn is_active(content_type: &str) -> bool {
    // A type that does not parse (stored before types were checked) is treated as active.
    let Ok(parsed) = content_type.parse::<mime::Mime>() else {
        return true;
    };
    let essence = parsed.essence_str().to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/html"
            | "application/xhtml+xml"
            | "image/svg+xml"
            | "text/xml"
            | "application/xml"
            | "text/xsl"
            | "text/javascript"
            | "application/javascript"
            | "application/x-javascript"
            | "text/ecmascript"
            | "application/ecmascript"
    ) || parsed.suffix() == Some(mime::XML)
}

/// `attachment` for active content (see [`is_active`]), `inline` otherwise, with the file name
/// ASCII-safe in `filename` and exact in `filename*` (RFC 6266).
fn content_disposition(file_name: &str, content_type: &str) -> String {
    let kind = if is_active(content_type) {
        "attachment"
    } else {
        "inline"
    };
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let exact =
        percent_encoding::utf8_percent_encode(file_name, percent_encoding::NON_ALPHANUMERIC);
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{exact}")
}

impl IntoResponse for MediaContent {
    fn into_response(self) -> Response {
        let mut builder = Response::builder()
            .status(self.status)
            .header(header::ETAG, format!("\"{}\"", self.media.sha256))
            .header(header::ACCEPT_RANGES, "bytes")
            .header(NOSNIFF.0, NOSNIFF.1)
            .header(SANDBOX.0, SANDBOX.1);
        let Some(stream) = self.stream else {
            return builder.finish();
        };
        if let Some(range) = &self.range {
            let total = self.media.size_bytes;
            let last = range.end.saturating_sub(1);
            builder = builder.header(
                header::CONTENT_RANGE,
                format!("bytes {}-{last}/{total}", range.start),
            );
        }
        builder
            .header(header::CONTENT_TYPE, self.media.content_type.as_str())
            .header(header::CONTENT_LENGTH, self.length)
            .header(
                header::CONTENT_DISPOSITION,
                content_disposition(self.media.file_name(), &self.media.content_type),
            )
            .body(Body::from_bytes_stream(
                stream.map_err(std::io::Error::other),
            ))
    }
}

pub(crate) fn binary_schema() -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        format: Some("binary"),
        ..MetaSchema::new("string")
    }))
}

fn string_header(name: &str, description: &str) -> MetaHeader {
    MetaHeader {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        required: false,
        deprecated: false,
        schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))),
    }
}

impl ApiResponse for MediaContent {
    fn meta() -> MetaResponses {
        let content = || {
            vec![MetaMediaType {
                content_type: "*/*",
                schema: binary_schema(),
            }]
        };
        let headers = || {
            vec![
                string_header("ETag", "The quoted SHA-256 of the content"),
                string_header(
                    "Content-Disposition",
                    "attachment for HTML, SVG, XML and JavaScript, inline otherwise; with the file name",
                ),
                string_header("X-Content-Type-Options", "nosniff"),
                string_header("Content-Security-Policy", "sandbox"),
                string_header("Accept-Ranges", "bytes"),
            ]
        };
        let mut partial = headers();
        partial.push(string_header("Content-Range", "bytes first-last/total"));
        MetaResponses {
            responses: vec![
                MetaResponse {
                    description: "The content, with the Content-Type given at upload",
                    status: Some(200),
                    status_range: None,
                    content: content(),
                    headers: headers(),
                },
                MetaResponse {
                    description: "The requested range of the content",
                    status: Some(206),
                    status_range: None,
                    content: content(),
                    headers: partial,
                },
                MetaResponse {
                    description: "The client's copy (If-None-Match) is current",
                    status: Some(304),
                    status_range: None,
                    content: vec![],
                    headers: vec![string_header("ETag", "The quoted SHA-256 of the content")],
                },
            ],
        }
    }

    fn register(_registry: &mut Registry) {}
}

/// The bytes of a thumbnail with its own `Content-Type` (`image/jpeg` or `image/png`).
pub struct ThumbnailContent {
    content_type: String,
    stream: ByteStream,
}

impl ThumbnailContent {
    /// 200 with the thumbnail.
    pub fn new(content_type: String, stream: ByteStream) -> Self {
        Self {
            content_type,
            stream,
        }
    }
}

impl IntoResponse for ThumbnailContent {
    fn into_response(self) -> Response {
        Response::builder()
            .status(StatusCode::OK)
            .header(NOSNIFF.0, NOSNIFF.1)
            .header(SANDBOX.0, SANDBOX.1)
            .content_type(self.content_type)
            .body(Body::from_bytes_stream(
                self.stream.map_err(std::io::Error::other),
            ))
    }
}

impl ApiResponse for ThumbnailContent {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The thumbnail: JPEG, or PNG for images with transparency",
                status: Some(200),
                status_range: None,
                content: ["image/jpeg", "image/png"]
                    .into_iter()
                    .map(|content_type| MetaMediaType {
                        content_type,
                        schema: binary_schema(),
                    })
                    .collect(),
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}

/// Whether an `If-None-Match` value names `etag` (or is `*`). Weak tags compare by value.
pub fn etag_matches(value: &str, etag: &str) -> bool {
    value
        .split(',')
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
}

/// The one byte range a `Range` header asks for within `size` bytes: `None` for the whole
/// content (no usable single range: several ranges are answered whole).
///
/// # Errors
/// 416 `range_not_satisfiable` for a malformed or unsatisfiable range.
pub fn requested_range(value: &str, size: u64) -> Result<Option<std::ops::Range<u64>>, ApiError> {
    let unsatisfiable = || ApiError::range_not_satisfiable(size);
    let parsed = http_range_header::parse_range_header(value).map_err(|_| unsatisfiable())?;
    let ranges = parsed.validate(size).map_err(|_| unsatisfiable())?;
    match ranges.as_slice() {
        [single] => Ok(Some(*single.start()..single.end() + 1)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges_are_resolved_against_the_size() {
        assert_eq!(requested_range("bytes=0-3", 10).unwrap(), Some(0..4));
        assert_eq!(requested_range("bytes=7-", 10).unwrap(), Some(7..10));
        assert_eq!(requested_range("bytes=-2", 10).unwrap(), Some(8..10));
        assert_eq!(
            requested_range("bytes=0-1,4-5", 10).unwrap(),
            None,
            "several: whole content"
        );
        assert!(requested_range("bytes=10-", 10).is_err());
        assert!(requested_range("pages=1-2", 10).is_err());
    }

    #[test]
    fn etags_match_lists_wildcards_and_weak_tags() {
        assert!(etag_matches("\"a\"", "\"a\""));
        assert!(etag_matches("\"b\", W/\"a\"", "\"a\""));
        assert!(etag_matches("*", "\"a\""));
        assert!(!etag_matches("\"b\"", "\"a\""));
    }

    #[test]
    fn file_names_are_safe_in_content_disposition() {
        assert_eq!(
            content_disposition("été \"x\".jpg", "image/jpeg"),
            "inline; filename=\"_t_ _x_.jpg\"; filename*=UTF-8''%C3%A9t%C3%A9%20%22x%22%2Ejpg"
        );
    }

    #[test]
    fn active_content_is_a_download() {
        for active in [
            "text/html",
            "TEXT/HTML; charset=utf-8",
            "image/svg+xml",
            "application/xml",
            "application/atom+xml",
            "text/javascript",
        ] {
            assert!(
                content_disposition("x", active).starts_with("attachment;"),
                "{active}"
            );
        }
        assert!(content_disposition("x", "not a type").starts_with("attachment;"));
        for passive in ["image/png", "text/plain", "application/pdf", "video/mp4"] {
            assert!(
                content_disposition("x", passive).starts_with("inline;"),
                "{passive}"
            );
        }
    }
}
