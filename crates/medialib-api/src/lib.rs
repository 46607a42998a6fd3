//! medialib's typed HTTP API: poem-openapi endpoints, security scheme, wire schemas and the
//! mapping from domain errors to HTTP.
//!
//! Nothing else in the workspace speaks HTTP. This crate depends on the domain only, never on
//! the SQL or blob adapters: the server hands it a wired [`MediaService`].

pub mod compat;
mod download;
pub mod endpoints;
pub mod error;
pub mod schema;
pub mod security;

use std::sync::Arc;

use medialib_domain::MediaService;
use poem::http::HeaderValue;
use poem::web::Path;
use poem::{handler, Endpoint, EndpointExt, IntoResponse, Request, Response, Route};
use poem_openapi::OpenApiService;

use crate::compat::catdata::CatdataApi;
use crate::compat::defdrive::DefdriveApi;
use crate::compat::gallery::GalleryApi;
use crate::compat::swiftia::SwiftiaApi;
use crate::compat::swonkie::SwonkieApi;
use crate::compat::Profile;
use crate::endpoints::admin::AdminApi;
use crate::endpoints::lifecycle::LifecycleApi;
use crate::endpoints::media::{by_path, MediaApi};
use crate::endpoints::sharing::SharingApi;
use crate::endpoints::system::SystemApi;
use crate::error::{framework_error, ApiError};

/// The API's version, as published in the spec.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

type Apis = (
    MediaApi,
    LifecycleApi,
    SharingApi,
    AdminApi,
    SystemApi,
    GalleryApi,
    SwiftiaApi,
    SwonkieApi,
    CatdataApi,
    DefdriveApi,
);

fn service(media: MediaService) -> OpenApiService<Apis, ()> {
    let apis = (
        MediaApi {
            service: media.clone(),
        },
        LifecycleApi {
            service: media.clone(),
        },
        SharingApi {
            service: media.clone(),
        },
        AdminApi {
            service: media.clone(),
        },
        SystemApi {
            service: media.clone(),
        },
        GalleryApi {
            service: media.clone(),
        },
        SwiftiaApi {
            service: media.clone(),
        },
        SwonkieApi {
            service: media.clone(),
        },
        CatdataApi {
            service: media.clone(),
        },
        DefdriveApi { service: media },
    );
    OpenApiService::new(apis, "medialib", API_VERSION).description(
        "Media library with durable, consistent, authorized deletes. \
         Every error body is {\"code\", \"message\"}.",
    )
}

/// The OpenAPI document, as committed under `openapi/medialib.json`.
pub fn openapi_json(media: MediaService) -> String {
    service(media).spec()
}

/// The whole HTTP application: the API, the routes of the `compat` profiles, `/openapi.json`,
/// the docs UI at `/docs`, request ids and JSON bodies for every framework error.
pub fn app(media: MediaService, compat: &[Profile]) -> impl Endpoint<Output = Response> {
    let api = service(media.clone());
    let spec = api.spec_endpoint();
    let docs = api.swagger_ui();
    let enabled: Arc<[Profile]> = compat.into();
    Route::new()
        .at(
            "/v1/media/by-path/*path",
            poem::delete(delete_by_raw_path).data(media.clone()),
        )
        .at(
            "/api/user/media/*path",
            poem::delete(compat::gallery::delete_by_raw_path).data(media),
        )
        .nest("/", api)
        .at("/openapi.json", spec)
        .nest("/docs", docs)
        .around(move |next, request| compat::guard(next, request, enabled.clone()))
        .catch_all_error(|err| async move { framework_error(err) })
        .around(request_id)
}

/// `DELETE /v1/media/by-path/<a/b/c.jpg>` with unencoded slashes; the documented operation
/// takes the path as one percent-encoded segment. Both run [`by_path`].
#[handler]
async fn delete_by_raw_path(
    request: &Request,
    Path(path): Path<String>,
    media: poem::web::Data<&MediaService>,
) -> Result<Response, poem::Error> {
    #[derive(serde::Deserialize)]
    struct Params {
        owner: Option<String>,
        tenant: Option<String>,
    }
    let params: Params = request.params().map_err(|_| {
        poem::Error::from_response(
            ApiError::bad_request("invalid_parameter", "invalid query string").into_response(),
        )
    })?;
    let token = request
        .header(poem::http::header::AUTHORIZATION)
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| poem::Error::from_response(ApiError::unauthorized().into_response()))?;
    match by_path(
        &media,
        token,
        &path,
        params.owner.as_deref(),
        params.tenant.as_deref(),
    )
    .await
    {
        Ok(receipt) => Ok(receipt.into_response()),
        Err(err) => Ok(err.into_response()),
    }
}

/// Echoes the client's `X-Request-Id` or makes one, runs the request in a span carrying it,
/// and sets it on the response.
async fn request_id<E: Endpoint>(next: E, request: Request) -> poem::Result<Response> {
    let id = request
        .header("x-request-id")
        .filter(|value| !value.is_empty() && value.len() <= 128)
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let _entered = span.enter();
    tracing::debug!("request received");
    drop(_entered);
    let mut response = tracing::Instrument::instrument(next.call(request), span.clone())
        .await
        .map_or_else(framework_error, IntoResponse::into_response);
    let _entered = span.enter();
    tracing::info!(status = response.status().as_u16(), "request finished");
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    Ok(response)
}
