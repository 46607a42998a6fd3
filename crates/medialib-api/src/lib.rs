//! medialib's typed HTTP API: poem-openapi endpoints, security scheme, wire schemas and the
//! mapping from domain errors to HTTP.
//!
//! Nothing else in the workspace speaks HTTP. This crate depends on the domain only, never on
//! the SQL or blob adapters: the server hands it a wired [`MediaService`].

mod allow;
mod body;
mod bounded;
pub mod compat;
mod download;
pub mod endpoints;
pub mod error;
mod idempotency;
mod limits;
mod linger;
pub mod schema;
pub mod security;
mod spec;

pub use limits::HttpLimits;

use std::sync::Arc;

use medialib_domain::MediaService;
use poem::http::HeaderValue;
use poem::web::Html;
use poem::web::Path;
use poem::{handler, Endpoint, EndpointExt, IntoResponse, Request, Response, Route};
use poem_openapi::{LicenseObject, OpenApiService, ServerObject};

use crate::compat::catdata::CatdataApi;
use crate::compat::defdrive::DefdriveApi;
use crate::compat::gallery::GalleryApi;
use crate::compat::swiftia::SwiftiaApi;
use crate::compat::swonkie::SwonkieApi;
use crate::compat::Profile;
use crate::endpoints::admin::AdminApi;
use crate::endpoints::jobs::JobsApi;
use crate::endpoints::lifecycle::LifecycleApi;
use crate::endpoints::media::{by_path, MediaApi};
use crate::endpoints::sharing::SharingApi;
use crate::endpoints::system::SystemApi;
use crate::endpoints::webhooks::WebhooksApi;
use crate::error::{framework_error, ApiError};

/// The API's version, as published in the spec.
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The documented API: everything under `/v1` and the health checks.
type Apis = (
    MediaApi,
    LifecycleApi,
    SharingApi,
    AdminApi,
    WebhooksApi,
    JobsApi,
    SystemApi,
);

/// Every route the server can answer: the documented API and the compatibility profiles (the
/// profiles that are not configured are answered as unknown routes by [`compat::guard`]).
type Routes = (
    Apis,
    GalleryApi,
    SwiftiaApi,
    SwonkieApi,
    CatdataApi,
    DefdriveApi,
);

fn apis(media: &MediaService) -> Apis {
    (
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
        WebhooksApi {
            service: media.clone(),
        },
        JobsApi {
            service: media.clone(),
        },
        SystemApi {
            service: media.clone(),
        },
    )
}

fn documented(media: &MediaService) -> OpenApiService<Apis, ()> {
    OpenApiService::new(apis(media), "medialib", API_VERSION)
        .description(
            "Media library with durable, consistent, authorized deletes. \
             Every error body is {\"code\", \"message\"}; every response carries \
             `X-Request-Id`.",
        )
        .server(this_server())
        .server(local_server())
        .license(license())
}

/// The license the crates are published under.
fn license() -> LicenseObject {
    LicenseObject::new(env!("CARGO_PKG_LICENSE"))
}

/// The server that serves the document (what the docs UI sends "Try it out" requests to).
fn this_server() -> ServerObject {
    ServerObject::new("/").description("The server that serves this document")
}

/// A server on its default listen address (generated clients take their own base URL).
fn local_server() -> ServerObject {
    ServerObject::new("http://127.0.0.1:8080").description("A server on its default listen address")
}

fn routes(media: &MediaService) -> OpenApiService<Routes, ()> {
    let service = || media.clone();
    let routes = (
        apis(media),
        GalleryApi { service: service() },
        SwiftiaApi { service: service() },
        SwonkieApi { service: service() },
        CatdataApi { service: service() },
        DefdriveApi { service: service() },
    );
    OpenApiService::new(routes, "medialib", API_VERSION)
}

/// The `operationId` of the documented operation that answered, when one did (for metrics
/// labels: bounded, unlike paths).
pub fn operation_of(response: &Response) -> Option<&'static str> {
    response
        .data::<poem_openapi::OperationId>()
        .map(|operation| operation.0)
}

/// The OpenAPI document of `/v1`, as committed under `openapi/medialib.json` and served at
/// `/openapi.json`.
pub fn openapi_json(media: &MediaService) -> String {
    spec::finish(&documented(media).spec())
}

/// The OpenAPI document of one compatibility profile, as committed under
/// `openapi/compat/<profile>.json` and served at `/compat/<profile>/openapi.json` when the
/// profile is mounted.
pub fn compat_openapi_json(media: &MediaService, profile: Profile) -> String {
    let service = media.clone();
    let raw = match profile {
        Profile::Gallery => compat_spec(profile, GalleryApi { service }),
        Profile::Swiftia => compat_spec(profile, SwiftiaApi { service }),
        Profile::Swonkie => compat_spec(profile, SwonkieApi { service }),
        Profile::Catdata => compat_spec(profile, CatdataApi { service }),
        Profile::Defdrive => compat_spec(profile, DefdriveApi { service }),
    };
    spec::finish(&raw)
}

fn compat_spec<T: poem_openapi::OpenApi>(profile: Profile, api: T) -> String {
    compat_service(profile, api).spec()
}

fn compat_service<T: poem_openapi::OpenApi>(profile: Profile, api: T) -> OpenApiService<T, ()> {
    OpenApiService::new(
        api,
        format!("medialib compatibility profile {}", profile.name()),
        API_VERSION,
    )
    .description(format!(
        "The routes of the `{}` profile, mounted with `compat = [\"{}\"]`; see docs/compat.md.",
        profile.name(),
        profile.name()
    ))
    .server(this_server())
    .server(local_server())
    .license(license())
}

/// The whole HTTP application: the API, the routes of the `compat` profiles, `/openapi.json`
/// (and `/compat/<profile>/openapi.json` for each mounted profile), the docs UI at `/docs`,
/// request ids and JSON bodies for every framework error, under the default [`HttpLimits`].
pub fn app(media: MediaService, compat: &[Profile]) -> impl Endpoint<Output = Response> {
    app_with_limits(media, compat, HttpLimits::default())
}

/// [`app`] under the given limits.
pub fn app_with_limits(
    media: MediaService,
    compat: &[Profile],
    limits: HttpLimits,
) -> impl Endpoint<Output = Response> {
    let docs = documented(&media);
    let raw = docs.spec();
    let spec = spec::finish(&raw);
    // The docs page embeds the generated document; it shows the finished one instead.
    let docs_html = docs.swagger_ui_html().replace(&raw, &spec);
    let enabled: Arc<[Profile]> = compat.into();
    let compat_specs: Vec<String> = compat
        .iter()
        .map(|&profile| compat_openapi_json(&media, profile))
        .collect();
    let allowed = Arc::new(allow::AllowedMethods::from_specs(
        std::iter::once(spec.as_str()).chain(compat_specs.iter().map(String::as_str)),
    ));
    let mut route = Route::new()
        .at(
            "/v1/media/by-path/*path",
            poem::delete(delete_by_raw_path).data(media.clone()),
        )
        .at(
            "/api/user/media/*path",
            poem::delete(compat::gallery::delete_by_raw_path).data(media.clone()),
        )
        .at("/openapi.json", poem::get(spec::served(spec)))
        .at(
            "/docs",
            poem::get(poem::endpoint::make_sync(move |_| Html(docs_html.clone()))),
        );
    for (&profile, document) in compat.iter().zip(compat_specs) {
        route = route.at(
            format!("/compat/{}/openapi.json", profile.name()),
            poem::get(spec::served(document)),
        );
    }
    route
        .nest("/", routes(&media))
        .around(lossless_query)
        .around(move |next, request| compat::guard(next, request, enabled.clone()))
        .catch_all_error(|err| async move { framework_error(err) })
        .around(move |next, request| idempotency::idempotent(next, request, media.clone()))
        // Boxed: the middleware stack's type is otherwise too deep to compile.
        .boxed()
        .around(move |next, request| with_allow(next, request, allowed.clone()))
        .around(move |next, request| limits::enforce(next, request, limits))
        .around(linger::linger)
        .around(request_id)
}

/// Adds `Allow` to a `405` answer: the methods the documented route at that path takes.
async fn with_allow<E: Endpoint>(
    next: E,
    request: Request,
    allowed: Arc<allow::AllowedMethods>,
) -> poem::Result<Response> {
    // A reference-counted copy: no allocation on requests that are not answered 405.
    let uri = request.uri().clone();
    let mut response = next.call(request).await?.into_response();
    if response.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED {
        if let Some(value) = allowed
            .of(uri.path())
            .and_then(|methods| HeaderValue::from_str(methods).ok())
        {
            response
                .headers_mut()
                .insert(poem::http::header::ALLOW, value);
        }
    }
    Ok(response)
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

/// Refuses a query string whose names or values do not percent-decode to UTF-8 (`%ff`): the
/// framework would decode them lossily to U+FFFD, and a path stored that way could never be
/// named again. `path` and `folder` answer `400 invalid_path`, the others `invalid_parameter`.
async fn lossless_query<E: Endpoint>(next: E, request: Request) -> poem::Result<Response> {
    use percent_encoding::percent_decode_str;
    let decodes = |part: &str| percent_decode_str(part).decode_utf8().is_ok();
    let broken = request.uri().query().and_then(|query| {
        query.split('&').find_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (!decodes(name) || !decodes(value))
                .then(|| percent_decode_str(name).decode_utf8_lossy().into_owned())
        })
    });
    let Some(name) = broken else {
        return next.call(request).await.map(IntoResponse::into_response);
    };
    let error = if name == "path" || name == "folder" {
        ApiError::bad_request("invalid_path", "Invalid path: not UTF-8")
    } else {
        ApiError::bad_request(
            "invalid_parameter",
            format!("query parameter {name:?} is not UTF-8"),
        )
    };
    Err(poem::Error::from_response(error.into_response()))
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
    let started = std::time::Instant::now();
    let mut response = tracing::Instrument::instrument(next.call(request), span.clone())
        .await
        .map_or_else(framework_error, IntoResponse::into_response);
    let _entered = span.enter();
    tracing::info!(
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request finished"
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use poem_openapi::OpenApi;

    use super::*;

    /// A mounted route outside `/v1` and the health checks that no profile claims would be
    /// reachable while its profile is not configured ([`compat::guard`] hides only the routes of
    /// profiles it knows).
    #[test]
    fn every_mounted_route_is_the_apis_or_a_profiles() {
        let paths: Vec<String> = Routes::meta()
            .into_iter()
            .flat_map(|api| api.paths)
            .map(|path| path.path)
            .collect();
        assert!(paths.iter().any(|path| path.starts_with("/api/image")));
        compat::Profile::check_coverage(paths.iter().map(String::as_str));
    }
}
