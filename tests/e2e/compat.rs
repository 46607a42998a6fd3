//! The compatibility profiles: the requests of each seed API's documentation (its curl examples
//! and its documented error cases, with ids and tokens of our own), answered with the
//! documented status codes and bodies, exactly.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

pub const SECRET: &str = "an-e2e-secret-that-is-long-enough";
const ALL: &str = "gallery,swiftia,swonkie,catdata,defdrive";

pub fn key_path(name: &str) -> String {
    format!("{}/../../tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// An HS256 token for `user` of tenant `default`.
pub fn hs256(user: &str, role: &str) -> String {
    let claims = json!({ "sub": user, "tenant": "default", "role": role, "exp": now() + 600 });
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}

/// An RS256 token signed by the test key of the JWKS.
fn rs256(claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-1".into());
    let pem = std::fs::read(key_path("test-rsa-private.pem")).expect("test key");
    encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(&pem).expect("pem"),
    )
    .expect("sign")
}

async fn hs256_server() -> TestServer {
    TestServer::start_with(&[
        ("MEDIALIB_COMPAT", ALL),
        ("MEDIALIB_JWT_HS256_SECRET", SECRET),
    ])
    .await
}

/// A raw request with optional bearer token; the reply keeps the exact body.
async fn call(server: &TestServer, method: Method, path: &str, token: Option<&str>) -> Reply {
    server.send(method, path, token, None).await
}

#[track_caller]
fn exactly(reply: &Reply, status: u16, body: Value) {
    assert_eq!(reply.status.as_u16(), status, "body: {}", reply.body);
    assert_eq!(reply.body, body);
}

#[tokio::test]
async fn profiles_are_mounted_only_when_configured() {
    let server = TestServer::start().await;
    let id = server.upload(&server.admin, "a.jpg", b"a").await;
    for path in [
        format!("/api/user/media/{id}"),
        format!("/api/uploads/files/{id}"),
        format!("/media/{id}"),
        format!("/api/image/{id}"),
        format!("/api/files/{id}"),
    ] {
        call(&server, Method::DELETE, &path, Some(&server.admin))
            .await
            .expect(404, Some("route_not_found"));
    }
    server
        .get(&server.admin, &format!("/v1/media/{id}"))
        .await
        .expect(200, None);
    // The default spec documents `/v1` and the health checks only; a profile's routes are in
    // a spec of their own, served while the profile is mounted.
    let spec = server
        .http
        .get(format!("{}/openapi.json", server.base))
        .send()
        .await
        .unwrap();
    let spec: Value = spec.json().await.unwrap();
    let paths: Vec<&String> = spec["paths"].as_object().unwrap().keys().collect();
    assert!(
        paths
            .iter()
            .all(|p| p.starts_with("/v1/") || *p == "/healthz" || *p == "/readyz"),
        "{paths:?}"
    );
    call(&server, Method::GET, "/compat/swiftia/openapi.json", None)
        .await
        .expect(404, Some("route_not_found"));
    let mounted = TestServer::start_with(&[("MEDIALIB_COMPAT", "swiftia")]).await;
    let spec = call(&mounted, Method::GET, "/compat/swiftia/openapi.json", None).await;
    let spec = spec.expect(200, None);
    assert_eq!(
        spec["paths"]["/api/uploads/files/{file_id}"]["delete"]["tags"][0],
        "CompatSwiftia"
    );
    assert!(spec["paths"].get("/v1/media").is_none());
}

#[tokio::test]
async fn gallery_answers_its_documented_requests() {
    let server = TestServer::start_with(&[("MEDIALIB_COMPAT", "gallery")]).await;
    let alice = server.key("default", "alice", "member");
    let bob = server.key("default", "bob", "member");
    // curl -X DELETE "https://your-domain.com/api/user/media/456"
    let id = server.upload(&alice, "photos/456.jpg", b"photo").await;
    server
        .post(&alice, &format!("/v1/media/{id}/share"), json!({}))
        .await
        .expect(201, None);
    let reply = call(
        &server,
        Method::DELETE,
        &format!("/api/user/media/{id}"),
        Some(&alice),
    )
    .await;
    exactly(
        &reply,
        200,
        json!({ "message": "Media deleted successfully" }),
    );
    assert!(ids(server.get(&alice, "/v1/community").await.expect(200, None)).is_empty());
    assert_eq!(server.deleted_events(id).await, 1);
    server.assert_blobs(server.blobs().await, 0);
    // Already deleted, never existed, another user's: all 404 "Media not found".
    let bobs = server.upload(&bob, "b.jpg", b"b").await;
    for target in [id, 999_999, bobs] {
        let reply = call(
            &server,
            Method::DELETE,
            &format!("/api/user/media/{target}"),
            Some(&alice),
        )
        .await;
        exactly(&reply, 404, json!({ "message": "Media not found" }));
    }
    // 400 Invalid media ID.
    for bad in ["0", "-4", "99999999999999999999"] {
        let reply = call(
            &server,
            Method::DELETE,
            &format!("/api/user/media/{bad}"),
            Some(&alice),
        )
        .await;
        exactly(&reply, 400, json!({ "message": "Invalid media ID" }));
    }
    // The legacy form: DELETE /api/user/media/Captions/caption-1709856234567-beach.jpg
    let legacy = server
        .upload(&alice, "Captions/caption-1709856234567-beach.jpg", b"beach")
        .await;
    let reply = call(
        &server,
        Method::DELETE,
        "/api/user/media/Captions/caption-1709856234567-beach.jpg",
        Some(&alice),
    )
    .await;
    exactly(
        &reply,
        200,
        json!({ "message": "Media deleted successfully" }),
    );
    assert_eq!(server.deleted_events(legacy).await, 1);
    // A single non-numeric segment is a path in the caller's root.
    server.upload(&alice, "notes.txt", b"n").await;
    let reply = call(
        &server,
        Method::DELETE,
        "/api/user/media/notes.txt",
        Some(&alice),
    )
    .await;
    exactly(
        &reply,
        200,
        json!({ "message": "Media deleted successfully" }),
    );
    // Unauthenticated.
    let reply = call(
        &server,
        Method::DELETE,
        &format!("/api/user/media/{bobs}"),
        None,
    )
    .await;
    exactly(&reply, 401, json!({ "message": "Unauthorized" }));
    let reply = call(
        &server,
        Method::DELETE,
        "/api/user/media/a/b.jpg",
        Some("mlk_nope_nope"),
    )
    .await;
    exactly(&reply, 401, json!({ "message": "Unauthorized" }));
}

#[tokio::test]
async fn gallery_deletes_media_whose_file_is_already_gone() {
    let server = TestServer::start_with(&[("MEDIALIB_COMPAT", "gallery")]).await;
    let alice = server.key("default", "alice", "member");
    let id = server.upload(&alice, "orphan.jpg", b"orphan").await;
    let Some(keys) = server.blobs().await else {
        return; // memory:// cannot be changed behind the server's back
    };
    server.backend.store.remove(&keys[0]).await;
    let reply = call(
        &server,
        Method::DELETE,
        &format!("/api/user/media/{id}"),
        Some(&alice),
    )
    .await;
    exactly(
        &reply,
        200,
        json!({ "message": "Media deleted successfully" }),
    );
    assert_eq!(server.usage(&alice).await, (0, 0));
}

#[tokio::test]
async fn swiftia_answers_its_documented_requests() {
    let server = hs256_server().await;
    let key = server.key("default", "svc", "admin");
    let other_org = server.key("acme", "svc", "admin");
    let id = server.upload(&key, "file_123.mp4", b"0123456789").await;
    let path = format!("/api/uploads/files/{id}");
    // curl -X DELETE "https://api.swiftia.io/api/uploads/files/file_123"
    let reply = call(&server, Method::DELETE, &path, Some(&key)).await;
    exactly(
        &reply,
        200,
        json!({ "id": id.to_string(), "deleted": true }),
    );
    assert_eq!(
        server.usage(&key).await,
        (0, 0),
        "storage freed in the stats"
    );
    // Already deleted, never existed, not ours: 404 "File not found".
    let foreign = server.upload(&other_org, "x.mp4", b"x").await;
    for target in [id.to_string(), "file_123".into(), foreign.to_string()] {
        let reply = call(
            &server,
            Method::DELETE,
            &format!("/api/uploads/files/{target}"),
            Some(&key),
        )
        .await;
        exactly(&reply, 404, json!({ "message": "File not found" }));
    }
    // organizationId with an API key: optional, and checked.
    let id = server.upload(&key, "b.mp4", b"b").await;
    let reply = call(
        &server,
        Method::DELETE,
        &format!("/api/uploads/files/{id}?organizationId=acme"),
        Some(&key),
    )
    .await;
    exactly(
        &reply,
        403,
        json!({ "message": "Organization ID mismatch. API key is bound to a different organization." }),
    );
    let reply = call(
        &server,
        Method::DELETE,
        &format!("/api/uploads/files/{id}?organizationId=default"),
        Some(&key),
    )
    .await;
    exactly(
        &reply,
        200,
        json!({ "id": id.to_string(), "deleted": true }),
    );
    // Without an API key (a token) organizationId is required.
    let token = hs256("svc", "admin");
    let id = server.upload(&key, "c.mp4", b"c").await;
    let path = format!("/api/uploads/files/{id}");
    let reply = call(&server, Method::DELETE, &path, Some(&token)).await;
    exactly(
        &reply,
        400,
        json!({ "message": "Organization ID is required" }),
    );
    let reply = call(
        &server,
        Method::DELETE,
        &format!("{path}?organizationId=default"),
        Some(&token),
    )
    .await;
    exactly(
        &reply,
        200,
        json!({ "id": id.to_string(), "deleted": true }),
    );
    // 401.
    for token in [None, Some("mlk_bad_key"), Some("not.a.jwt")] {
        let reply = call(&server, Method::DELETE, &path, token).await;
        exactly(&reply, 401, json!({ "error": "Unauthorized" }));
    }
}

#[tokio::test]
async fn swiftia_lists_files_by_tag_with_ids_and_creation_times() {
    let server = hs256_server().await;
    let key = server.key("default", "svc", "admin");
    let tagged = server
        .try_upload(&key, "t.mp4", b"t", "tmp")
        .await
        .expect(201, None)["id"]
        .as_i64()
        .unwrap();
    server
        .try_upload(&key, "u.mp4", b"u", "keep")
        .await
        .expect(201, None);
    let reply = server
        .get(&key, "/api/uploads/files?tags=tmp&limit=100")
        .await;
    let body = reply.expect(200, None);
    let files = body["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["id"], tagged.to_string());
    assert!(files[0]["createdAt"].as_str().unwrap().ends_with('Z'));
    let all = server.get(&key, "/api/uploads/files?limit=100").await;
    assert_eq!(all.expect(200, None)["files"].as_array().unwrap().len(), 2);
    let reply = call(&server, Method::GET, "/api/uploads/files", None).await;
    exactly(&reply, 401, json!({ "error": "Unauthorized" }));
    let reply = server
        .get(&key, "/api/uploads/files?organizationId=acme")
        .await;
    assert_eq!(reply.status, 403);
    // Several tags select the files carrying all of them, in full pages.
    let both = server
        .try_upload(&key, "both.mp4", b"b", "tmp,keep")
        .await
        .expect(201, None)["id"]
        .as_i64()
        .unwrap();
    server
        .try_upload(&key, "newer.mp4", b"n", "tmp")
        .await
        .expect(201, None);
    let reply = server
        .get(&key, "/api/uploads/files?tags=tmp,keep&limit=1")
        .await;
    let body = reply.expect(200, None);
    assert_eq!(body["files"].as_array().unwrap().len(), 1);
    assert_eq!(body["files"][0]["id"], both.to_string());
}

#[tokio::test]
async fn swonkie_answers_with_workspace_keys_and_removes_thumbnails() {
    let server = TestServer::start_with(&[("MEDIALIB_COMPAT", "swonkie")]).await;
    let key = server.key("default", "alice", "member");
    let (api_id, api_key) = key
        .strip_prefix("mlk_")
        .and_then(|rest| rest.split_once('_'))
        .unwrap();
    let image = crate::derivatives::encoded(image::ImageFormat::Png, 300, 200);
    let media =
        crate::derivatives::upload_typed(&server, &key, "post.png", "image/png", image).await;
    assert_eq!(media["thumbnail"], "ready");
    let id = media["id"].as_i64().unwrap();
    server.assert_blobs(server.blobs().await, 2);
    let send = |path: String, id_header: Option<&str>, key_header: Option<&str>| {
        let mut request = server.http.delete(format!("{}{path}", server.base));
        if let Some(value) = id_header {
            request = request.header("X-API-ID", value);
        }
        if let Some(value) = key_header {
            request = request.header("X-API-KEY", value);
        }
        async move { reply(request.send().await.unwrap()).await }
    };
    // curl --request DELETE '…/media/TWVkaWFJZDk4NzY1NDMyMQ' --header 'X-API-ID: …' --header 'X-API-KEY: …'
    let done = send(format!("/media/{id}"), Some(api_id), Some(api_key)).await;
    exactly(
        &done,
        200,
        json!({ "success": true, "message": "Media deleted successfully" }),
    );
    server.assert_blobs(server.blobs().await, 0);
    // Another workspace's media is not found; so is a deleted one.
    let acme = server.key("acme", "root", "admin");
    let foreign = server.upload(&acme, "f.jpg", b"f").await;
    for target in [id, foreign] {
        let reply = send(format!("/media/{target}"), Some(api_id), Some(api_key)).await;
        exactly(
            &reply,
            404,
            json!({ "success": false, "message": "Media not found" }),
        );
    }
    let reply = send(format!("/media/{foreign}"), Some(api_id), None).await;
    exactly(
        &reply,
        401,
        json!({ "success": false, "message": "Unauthorized" }),
    );
    let reply = send(format!("/media/{foreign}"), Some(api_id), Some("wrong")).await;
    exactly(
        &reply,
        401,
        json!({ "success": false, "message": "Unauthorized" }),
    );
    // Media recorded as used by a scheduled post is not deleted behind the post's back.
    let used = server.upload(&key, "used.jpg", b"u").await;
    server
        .post(
            &key,
            &format!("/v1/media/{used}/references"),
            json!({ "ref": "post:77" }),
        )
        .await
        .expect(201, None);
    let reply = send(format!("/media/{used}"), Some(api_id), Some(api_key)).await;
    exactly(
        &reply,
        409,
        json!({ "success": false, "message": "Media is in use by post:77" }),
    );
}

#[tokio::test]
async fn catdata_answers_204_with_rs256_tokens_and_never_500_for_a_missing_file() {
    let jwks = key_path("test-jwks.json");
    let server = TestServer::start_with(&[
        ("MEDIALIB_COMPAT", "catdata"),
        ("MEDIALIB_JWT_JWKS_FILE", jwks.as_str()),
    ])
    .await;
    let claims =
        json!({ "sub": "cat-admin", "tenant": "default", "role": "admin", "exp": now() + 600 });
    let token = rs256(&claims);
    let id = server.upload(&server.admin, "42.jpg", b"meow").await;
    // curl -X DELETE https://api.example.com/api/image/42 -H "Authorization: Bearer eyJ…"
    let response = server
        .http
        .delete(format!("{}/api/image/{id}", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.unwrap().is_empty());
    let reply = call(
        &server,
        Method::DELETE,
        &format!("/api/image/{id}"),
        Some(&token),
    )
    .await;
    exactly(&reply, 404, json!({ "error": "Not Found" }));
    // 401 for a missing, forged or expired token.
    let mut expired = claims.clone();
    expired["exp"] = json!(now() - 3600);
    let forged = hs256("cat-admin", "admin");
    for token in [None, Some(forged.as_str()), Some(rs256(&expired).as_str())] {
        let reply = call(&server, Method::DELETE, "/api/image/1", token).await;
        exactly(&reply, 401, json!({ "error": "Unauthorized" }));
    }
    // The original answers 500 when the file was already removed; medialib deletes it.
    let orphan = server.upload(&server.admin, "gone.jpg", b"gone").await;
    if let Some(keys) = server.blobs().await {
        server.backend.store.remove(&keys[0]).await;
    }
    let reply = call(
        &server,
        Method::DELETE,
        &format!("/api/image/{orphan}"),
        Some(&token),
    )
    .await;
    assert_eq!(reply.status, 204);
    assert_eq!(server.usage(&server.admin).await, (0, 0));
    // A token for a tenant that does not exist is refused.
    let nowhere = rs256(&json!({ "sub": "x", "tenant": "nowhere", "exp": now() + 60 }));
    let reply = call(&server, Method::DELETE, "/api/image/1", Some(&nowhere)).await;
    exactly(&reply, 401, json!({ "error": "Unauthorized" }));
}

#[tokio::test]
async fn defdrive_lets_only_the_owner_delete_and_removes_access_records_with_the_file() {
    let server = hs256_server().await;
    let owner = hs256("dora", "member");
    let other = hs256("eve", "member");
    let admin = hs256("root", "admin");
    let dora_key = server.key("default", "dora", "member");
    let id = server.upload(&dora_key, "report.pdf", b"report").await;
    server.grant(&dora_key, id, "eve", "delete").await;
    let path = format!("/api/files/{id}");
    // Another user, an admin, even a delete grantee: 403 with DefDrive's message.
    for token in [&other, &admin] {
        let reply = call(&server, Method::DELETE, &path, Some(token)).await;
        exactly(
            &reply,
            403,
            json!({ "error": "You don't have permission to delete this file" }),
        );
    }
    // curl -X DELETE https://api.defdrive.com/api/files/42 -H "Authorization: Bearer eyJ…"
    let reply = call(&server, Method::DELETE, &path, Some(&owner)).await;
    exactly(
        &reply,
        200,
        json!({ "message": "File deleted successfully" }),
    );
    let event = server
        .get(
            &server.admin,
            &format!("/v1/activity?action=media_deleted&media_id={id}"),
        )
        .await;
    assert_eq!(
        event.expect(200, None)["items"][0]["details"]["removed"]["access_grants"],
        1
    );
    let reply = call(&server, Method::DELETE, &path, Some(&owner)).await;
    exactly(&reply, 404, json!({ "error": "File not found" }));
    let reply = call(&server, Method::DELETE, "/api/files/abc", Some(&owner)).await;
    exactly(&reply, 400, json!({ "error": "Invalid file ID" }));
    let reply = call(&server, Method::DELETE, &path, None).await;
    exactly(&reply, 401, json!({ "error": "User not authenticated" }));
    // The id is never reused.
    let next = server.upload(&dora_key, "report.pdf", b"again").await;
    assert!(next > id);
}

#[tokio::test]
async fn tokens_work_on_v1_with_their_tenant_user_and_role() {
    let server = hs256_server().await;
    let token = hs256("tess", "member");
    let id = server.upload(&token, "t.jpg", b"t").await;
    let media = server.get(&token, &format!("/v1/media/{id}")).await;
    assert_eq!(media.expect(200, None)["owner_id"], "tess");
    let viewer = hs256("vic", "viewer");
    server
        .delete_media(&viewer, id)
        .await
        .expect(403, Some("forbidden"));
    let bad_role = hs256("x", "superuser");
    server
        .get(&bad_role, "/v1/media")
        .await
        .expect(401, Some("unauthorized"));
    server.delete_media(&token, id).await.expect(200, None);
}

/// Runs one of `tests/node/*.mjs` under Node.js with `env`; returns the JSON line it prints.
fn node(script: &str, env: &[(&str, String)]) -> Value {
    let path = format!("{}/../../tests/node/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = std::process::Command::new("node")
        .arg(&path)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("Node.js 18 or newer on the PATH");
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    serde_json::from_str(stdout.lines().last().expect("a result line")).expect("JSON result")
}

#[tokio::test]
#[ignore = "needs Node.js 18+; .ci/run runs it"]
async fn node_runs_the_gallery_javascript_examples() {
    let server = TestServer::start_with(&[("MEDIALIB_COMPAT", "gallery")]).await;
    let alice = server.key("default", "alice", "member");
    let bob = server.key("default", "bob", "member");
    let single = server.upload(&alice, "single.jpg", b"s").await;
    let mut bulk = Vec::new();
    for i in 0..3 {
        bulk.push(server.upload(&alice, &format!("bulk/{i}.jpg"), b"b").await);
    }
    let bobs = server.upload(&bob, "bob.jpg", b"b").await;
    let mut request = bulk.clone();
    request.push(bobs);
    let list = request
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let result = node(
        "gallery.mjs",
        &[
            ("BASE", server.base.clone()),
            ("KEY", alice.clone()),
            ("SINGLE", single.to_string()),
            ("BULK", list),
        ],
    );
    assert_eq!(result["single"], "Media deleted successfully");
    assert_eq!(result["bulk"]["successful"], json!(bulk));
    assert_eq!(
        result["bulk"]["failed"],
        json!([{ "id": bobs, "error": "Media not found" }])
    );
    assert!(result["logs"]
        .as_array()
        .unwrap()
        .contains(&json!("Deleted 3 items")));
    assert_eq!(
        server.usage(&server.admin).await,
        (1, 1),
        "only bob's file is left"
    );
    assert_eq!(server.usage(&alice).await, (0, 0), "none of alice's");
    server
        .get(&bob, &format!("/v1/media/{bobs}"))
        .await
        .expect(200, None);
}

#[tokio::test]
#[ignore = "needs Node.js 18+; .ci/run runs it"]
async fn node_runs_the_swiftia_javascript_examples() {
    let server = TestServer::start_with(&[("MEDIALIB_COMPAT", "swiftia")]).await;
    let key = server.key("default", "svc", "admin");
    let upload = |path: &'static str, tag: &'static str| {
        let server = &server;
        let key = key.clone();
        async move {
            server
                .try_upload(&key, path, b"data", tag)
                .await
                .expect(201, None)["id"]
                .as_i64()
                .expect("id")
        }
    };
    let single = upload("single.mp4", "").await;
    let many = [upload("m1.mp4", "").await, upload("m2.mp4", "").await];
    let tagged = [upload("t1.mp4", "tmp").await, upload("t2.mp4", "tmp").await];
    let rest = [upload("r1.mp4", "keep").await, upload("r2.mp4", "").await];
    let result = node(
        "swiftia.mjs",
        &[
            ("BASE", server.base.clone()),
            ("KEY", key.clone()),
            ("SINGLE", single.to_string()),
            ("MANY", format!("{},{}", many[0], many[1])),
            ("TAG", "tmp".into()),
        ],
    );
    assert_eq!(result["single"], true);
    assert_eq!(
        result["singleAgain"], false,
        "a deleted file is not deleted twice"
    );
    assert_eq!(result["many"], json!([true, true]));
    assert_eq!(result["byTag"], json!([true, true]));
    assert_eq!(result["notOld"], json!([]));
    assert_eq!(result["old"], json!([true, true]));
    let logs = result["logs"].as_array().unwrap();
    assert!(
        logs.contains(&json!("Deleted 2 out of 2 files")),
        "{logs:?}"
    );
    for id in tagged {
        let line = json!(format!("File {id} deleted successfully"));
        assert!(logs.contains(&line), "{logs:?}");
    }
    assert_eq!(server.usage(&key).await, (0, 0));
    for id in rest {
        assert_eq!(server.deleted_events(id).await, 1);
    }
}
