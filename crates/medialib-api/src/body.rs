//! Request bodies the stock payloads of poem-openapi do not cover: the raw upload and an
//! optional JSON body that may be left out entirely.

use poem::{Body, Request, RequestBody};
use poem_openapi::error::ContentTypeError;
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::ParseFromJSON;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use crate::download::binary_schema;
use crate::error::ApiError;

/// The raw upload body. Documented as `application/octet-stream`, which is what generated
/// clients send; any `Content-Type` is accepted, and which one is stored is decided by
/// [`stored_content_type`].
pub struct UploadBody(pub Body);

impl<'a> ApiExtractor<'a> for UploadBody {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: Some("The file's bytes"),
            content: vec![MetaMediaType {
                content_type: "application/octet-stream",
                schema: binary_schema(),
            }],
            required: true,
        })
    }

    async fn from_request(
        _request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(Self(body.take()?))
    }
}

/// The media type an upload is stored with: the `content_type` parameter when given, else the
/// request's `Content-Type`, else `application/octet-stream`. A `Content-Type` with a
/// wildcard (`*/*`, as some docs UIs send) names no type and counts as absent.
///
/// # Errors
/// `400 invalid_content_type` when the chosen value is not a media type (`type/subtype`,
/// optionally with parameters) or the parameter is a wildcard.
pub fn stored_content_type(
    parameter: Option<String>,
    header: Option<&str>,
) -> Result<String, ApiError> {
    let chosen = parameter
        .or_else(|| {
            header
                .filter(|value| !value.contains('*'))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    match chosen.parse::<mime::Mime>() {
        Ok(parsed)
            if parsed.type_() != mime::STAR
                && parsed.subtype() != mime::STAR
                && !parsed.subtype().as_str().is_empty() =>
        {
            Ok(chosen)
        }
        _ => Err(ApiError::bad_request(
            "invalid_content_type",
            "The content type must be a media type such as image/jpeg",
        )),
    }
}

/// A JSON body that may be sent, sent as `null`, or left out (no body, no `Content-Type`).
pub struct OptionalJson<T>(pub Option<T>);

impl<'a, T: ParseFromJSON> ApiExtractor<'a> for OptionalJson<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: Json::<T>::CONTENT_TYPE,
                schema: T::schema_ref(),
            }],
            required: false,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        match request.content_type() {
            Some(content_type) if Json::<T>::check_content_type(content_type) => {
                let Json(value) =
                    <Json<Option<T>> as ParsePayload>::from_request(request, body).await?;
                Ok(Self(value))
            }
            Some(content_type) => Err(ContentTypeError::NotSupported {
                content_type: content_type.to_owned(),
            }
            .into()),
            None if body.take()?.into_bytes().await?.is_empty() => Ok(Self(None)),
            None => Err(ContentTypeError::ExpectContentType.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::stored_content_type;

    fn given(parameter: Option<&str>, header: Option<&str>) -> Option<String> {
        stored_content_type(parameter.map(str::to_owned), header).ok()
    }

    #[test]
    fn the_parameter_wins_then_a_concrete_header_then_octet_stream() {
        let stored = |p, h| given(p, h).expect("a valid type");
        assert_eq!(stored(Some("image/png"), Some("image/jpeg")), "image/png");
        assert_eq!(stored(None, Some("image/jpeg")), "image/jpeg");
        assert_eq!(
            stored(None, Some("text/plain; charset=utf-8")),
            "text/plain; charset=utf-8"
        );
        assert_eq!(stored(None, Some("*/*")), "application/octet-stream");
        assert_eq!(stored(None, Some("image/*")), "application/octet-stream");
        assert_eq!(stored(None, None), "application/octet-stream");
    }

    #[test]
    fn anything_but_a_media_type_is_refused() {
        for bad in [
            "not a mime",
            "image",
            "image/",
            "*/*",
            "image/*",
            "a/b/c",
            "",
        ] {
            assert_eq!(given(Some(bad), None), None, "{bad:?}");
        }
        assert_eq!(given(None, Some("not a mime")), None);
    }
}
