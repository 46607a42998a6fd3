//! Compatibility profiles: the delete routes of five existing media APIs, answered with their
//! documented request and response shapes, all served by the same use cases as `/v1` (there is
//! no second delete implementation). Each profile is mounted only when configured; its routes
//! are documented in a spec of their own (`openapi/compat/<profile>.json`, served at
//! `/compat/<profile>/openapi.json` while mounted), so clients can be generated for them.
//!
//! The profiles keep each API's contract but not its failure modes: a file already missing from
//! storage is a successful delete, storage failures after the commit are retried by the reaper
//! instead of answering 500, and every delete is authorized, atomic and durable. Where medialib
//! deliberately answers differently (legal holds and in-use references: 409) the profile says
//! so in `docs/compat.md`.

pub mod catdata;
pub mod defdrive;
pub mod gallery;
pub mod swiftia;
pub mod swonkie;

use std::sync::Arc;

use medialib_domain::ServiceError;
use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::payload::Json;
use poem_openapi::Object;
use serde_json::json;

use crate::error::{framework_error, ApiError};

/// The tag of each profile's operations in its spec.
#[derive(Debug, poem_openapi::Tags)]
pub enum CompatTags {
    /// Compatibility profile `gallery`: a media gallery's delete by id and legacy delete by path.
    CompatGallery,
    /// Compatibility profile `swiftia`: Swiftia's file delete and file list.
    CompatSwiftia,
    /// Compatibility profile `swonkie`: Swonkie's media delete with X-API-ID / X-API-KEY.
    CompatSwonkie,
    /// Compatibility profile `catdata`: the Cat Data API's image delete (204).
    CompatCatdata,
    /// Compatibility profile `defdrive`: DefDrive's owner-only file delete.
    CompatDefdrive,
}

/// One compatibility profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// A media gallery: `DELETE /api/user/media/{id}` and the legacy delete by path.
    Gallery,
    /// Swiftia uploads: `DELETE /api/uploads/files/{fileId}` and the file list.
    Swiftia,
    /// Swonkie media: `DELETE /media/{mediaId}` with `X-API-ID` / `X-API-KEY`.
    Swonkie,
    /// Cat Data API: `DELETE /api/image/{id}` with a bearer JWT, 204.
    Catdata,
    /// DefDrive: `DELETE /api/files/{id}` with a bearer JWT, owner only.
    Defdrive,
}

/// How a profile shapes its error bodies.
#[derive(Debug, Clone, Copy)]
enum Body {
    /// `{"message": …}`
    Message,
    /// `{"success": false, "message": …}`
    Failure,
    /// `{"error": …}`
    Error,
}

/// What a profile's 401 says.
#[derive(Debug, Clone, Copy)]
enum Unauthorized {
    /// Its error body with this message.
    Says(&'static str),
    /// `{"error": "Unauthorized"}` whatever its other errors look like.
    ErrorUnauthorized,
}

/// Everything that declares a profile beside its routes (its `…Api` in `lib.rs`): one entry
/// of [`SPECS`] each.
#[derive(Debug)]
struct Spec {
    profile: Profile,
    /// The configured name.
    name: &'static str,
    /// The path under which all of its routes lie: [`guard`] answers it as unknown while the
    /// profile is not configured.
    prefix: &'static str,
    body: Body,
    /// What it answers for a path it cannot read.
    invalid_path: &'static str,
    unauthorized: Unauthorized,
}

/// The profiles, in the order of [`Profile::ALL`].
const SPECS: [Spec; 5] = [
    Spec {
        profile: Profile::Gallery,
        name: "gallery",
        prefix: "/api/user/media",
        body: Body::Message,
        invalid_path: "Invalid media path",
        unauthorized: Unauthorized::Says("Unauthorized"),
    },
    Spec {
        profile: Profile::Swiftia,
        name: "swiftia",
        prefix: "/api/uploads/files",
        body: Body::Message,
        invalid_path: "Invalid path",
        unauthorized: Unauthorized::ErrorUnauthorized,
    },
    Spec {
        profile: Profile::Swonkie,
        name: "swonkie",
        prefix: "/media",
        body: Body::Failure,
        invalid_path: "Invalid path",
        unauthorized: Unauthorized::Says("Unauthorized"),
    },
    Spec {
        profile: Profile::Catdata,
        name: "catdata",
        prefix: "/api/image",
        body: Body::Error,
        invalid_path: "Invalid path",
        unauthorized: Unauthorized::ErrorUnauthorized,
    },
    Spec {
        profile: Profile::Defdrive,
        name: "defdrive",
        prefix: "/api/files",
        body: Body::Error,
        invalid_path: "Invalid path",
        unauthorized: Unauthorized::Says("User not authenticated"),
    },
];

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 5] = [
        Self::Gallery,
        Self::Swiftia,
        Self::Swonkie,
        Self::Catdata,
        Self::Defdrive,
    ];

    /// This profile's entry of [`SPECS`].
    fn spec(self) -> &'static Spec {
        SPECS
            .iter()
            .find(|spec| spec.profile == self)
            .expect("every profile has its entry in SPECS")
    }

    /// The configured name.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The profile of a configured name.
    pub fn parse(name: &str) -> Option<Self> {
        SPECS
            .iter()
            .find(|spec| spec.name == name)
            .map(|spec| spec.profile)
    }

    /// The profile whose routes `path` belongs to.
    fn of_path(path: &str) -> Option<Self> {
        SPECS
            .iter()
            .find(|spec| {
                path.strip_prefix(spec.prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .map(|spec| spec.profile)
    }

    /// Checks that every route outside `/v1` and the health checks belongs to a profile, so
    /// that [`guard`] hides it while its profile is not configured (a test runs it over every
    /// mounted route).
    ///
    /// # Panics
    /// On a route that belongs to none.
    #[cfg(test)]
    pub(crate) fn check_coverage<'a>(paths: impl IntoIterator<Item = &'a str>) {
        for path in paths {
            let own = path.starts_with("/v1/") || path == "/healthz" || path == "/readyz";
            assert!(
                own || Self::of_path(path).is_some(),
                "route {path} belongs to no compatibility profile: give it one in SPECS"
            );
        }
    }

    /// An error in this profile's documented shape.
    pub(crate) fn error(self, status: StatusCode, message: &str) -> Response {
        let body = match self.spec().body {
            Body::Message => json!({ "message": message }),
            Body::Failure => json!({ "success": false, "message": message }),
            Body::Error => json!({ "error": message }),
        };
        (status, Json(body)).into_response()
    }

    /// What this profile answers for a path it cannot read.
    fn invalid_path_message(self) -> &'static str {
        self.spec().invalid_path
    }

    /// The documented 401 of this profile.
    pub(crate) fn unauthorized(self) -> Response {
        match self.spec().unauthorized {
            Unauthorized::Says(message) => self.error(StatusCode::UNAUTHORIZED, message),
            Unauthorized::ErrorUnauthorized => (
                StatusCode::UNAUTHORIZED,
                Json(json!({ "error": "Unauthorized" })),
            )
                .into_response(),
        }
    }
}

/// Answers the routes of profiles that are not mounted as unknown routes, and turns framework
/// errors on the mounted ones (missing credentials, bad parameters) into the profile's shape.
pub(crate) async fn guard<E: Endpoint>(
    next: E,
    request: Request,
    enabled: Arc<[Profile]>,
) -> poem::Result<Response> {
    let Some(profile) = Profile::of_path(request.uri().path()) else {
        return next.call(request).await.map(IntoResponse::into_response);
    };
    if !enabled.contains(&profile) {
        return Ok(ApiError::not_found("route_not_found", "No such route").into_response());
    }
    match next.call(request).await {
        Ok(response) => Ok(response.into_response()),
        Err(err) if err.is::<poem_openapi::error::AuthorizationError>() => {
            Ok(profile.unauthorized())
        }
        // The router could not percent-decode a path segment to UTF-8.
        Err(err) if err.is::<poem::error::ParsePathError>() => {
            Ok(profile.error(StatusCode::BAD_REQUEST, profile.invalid_path_message()))
        }
        Err(err) if err.status().is_client_error() => {
            Ok(profile.error(err.status(), &err.to_string()))
        }
        Err(err) => Ok(framework_error(err)),
    }
}

/// The message of a conflict that medialib adds to every profile: legal holds and in-use
/// references stop a delete.
pub(crate) fn conflict_message(err: &ServiceError) -> Option<String> {
    match err {
        ServiceError::MediaHeld(holds) => Some(format!(
            "Media is under legal hold ({})",
            holds
                .iter()
                .map(|hold| hold.reason.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )),
        ServiceError::MediaInUse(references) => Some(format!(
            "Media is in use by {}",
            references
                .iter()
                .map(|name| name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => None,
    }
}

/// Logs a server-side failure once, where it becomes a profile's 5xx.
pub(crate) fn log_failure(err: &ServiceError) {
    tracing::error!(
        error = err as &dyn std::error::Error,
        "compatibility route failed"
    );
}

/// `{"message": "..."}`.
#[derive(Debug, Clone, Object)]
pub struct MessageBody {
    /// What happened.
    pub message: String,
}

/// `{"error": "..."}`.
#[derive(Debug, Clone, Object)]
pub struct ErrorText {
    /// What went wrong.
    pub error: String,
}

pub(crate) fn message(text: &str) -> Json<MessageBody> {
    Json(MessageBody {
        message: text.to_owned(),
    })
}

pub(crate) fn error_text(text: &str) -> Json<ErrorText> {
    Json(ErrorText {
        error: text.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_route_is_guarded_and_an_unknown_one_is_refused() {
        Profile::check_coverage([
            "/v1/media/{id}",
            "/healthz",
            "/api/image/{id}",
            "/media/{x}",
        ]);
        assert_eq!(Profile::of_path("/api/image/7"), Some(Profile::Catdata));
        assert_eq!(Profile::of_path("/api/imagery"), None);
        let unguarded = std::panic::catch_unwind(|| Profile::check_coverage(["/api/new/{id}"]));
        assert!(
            unguarded.is_err(),
            "a route outside every profile must be refused"
        );
    }

    #[test]
    fn every_profile_has_one_entry_with_its_own_name_and_prefix() {
        assert_eq!(SPECS.len(), Profile::ALL.len());
        for profile in Profile::ALL {
            let entries = SPECS.iter().filter(|spec| spec.profile == profile).count();
            assert_eq!(entries, 1, "{profile:?} has {entries} entries in SPECS");
            assert_eq!(Profile::parse(profile.name()), Some(profile));
            let same_prefix = SPECS
                .iter()
                .filter(|other| other.prefix == profile.spec().prefix)
                .count();
            assert_eq!(same_prefix, 1, "{} shares its prefix", profile.name());
        }
    }
}
