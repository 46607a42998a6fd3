//! Paths and parameters are decoded losslessly and compared in one normal form: invalid UTF-8
//! is refused instead of stored as U+FFFD, names are NFC, bidirectional controls are refused,
//! and the gallery profile reads an id only from a segment of digits.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn invalid_utf8_in_a_path_or_parameter_is_a_400_not_a_lossy_name() {
    let server = TestServer::start().await;
    let key = &server.admin;
    for (path, code) in [
        ("/v1/media?path=%ff", "invalid_path"),
        ("/v1/media?path=ok.txt&tags=%fe", "invalid_parameter"),
    ] {
        server
            .send(Method::POST, path, Some(key), None)
            .await
            .expect(400, Some(code));
    }
    server
        .get(key, "/v1/media?folder=%c3")
        .await
        .expect(400, Some("invalid_path"));
    server
        .delete(key, "/v1/media/by-path/%ff")
        .await
        .expect(400, Some("invalid_path"));
    // Nothing was stored, so the replacement character names nothing either.
    assert_eq!(server.usage(key).await, (0, 0));
    server.upload(key, "\u{fffd}.txt", b"x").await;
    assert_eq!(server.usage(key).await, (1, 1));
}

#[tokio::test]
async fn composed_and_decomposed_names_are_one_path() {
    let server = TestServer::start().await;
    let key = &server.admin;
    let id = server.upload(key, "caf\u{e9}.jpg", b"composed").await;
    let again = server
        .try_upload(key, "cafe\u{301}.jpg", b"decomposed", "")
        .await;
    again.expect(409, Some("path_conflict"));
    let receipt = server.delete(key, "/v1/media/by-path/cafe%CC%81.jpg").await;
    assert_eq!(receipt.expect(200, None)["id"], id);
    server
        .try_upload(key, "photo\u{202e}gpj.exe", b"x", "")
        .await
        .expect(400, Some("invalid_path"));
}

#[tokio::test]
async fn the_gallery_reads_ids_only_from_digits() {
    let server = TestServer::start_with(&[("MEDIALIB_COMPAT", "gallery")]).await;
    let alice = server.key("default", "alice", "member");
    server.upload(&alice, "2024-01-01", b"day").await;
    let reply = server
        .send(
            Method::DELETE,
            "/api/user/media/2024-01-01",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(
        reply.body,
        json!({ "message": "Media deleted successfully" })
    );
    let reply = server
        .send(Method::DELETE, "/api/user/media/%ff", Some(&alice), None)
        .await;
    assert_eq!(reply.status.as_u16(), 400, "{}", reply.body);
    assert_eq!(reply.body, json!({ "message": "Invalid media path" }));
}

#[tokio::test]
async fn a_wrong_method_names_the_allowed_ones() {
    let server = TestServer::start().await;
    for (method, path, allow) in [
        (Method::PUT, "/v1/media/1", "DELETE, GET, HEAD"),
        (Method::PATCH, "/v1/media", "GET, HEAD, POST"),
        (Method::GET, "/v1/media/bulk-delete", "POST"),
        (Method::POST, "/healthz", "GET, HEAD"),
    ] {
        let reply = server
            .send(method.clone(), path, Some(&server.admin), None)
            .await;
        reply.expect(405, Some("method_not_allowed"));
        assert_eq!(reply.headers["allow"], allow, "{method} {path}");
        assert!(reply.headers.contains_key("x-request-id"));
    }
    // HEAD is answered wherever GET is.
    let head = server.send(Method::HEAD, "/healthz", None, None).await;
    assert_eq!(head.status.as_u16(), 200);
}
