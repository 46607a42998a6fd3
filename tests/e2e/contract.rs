//! What the spec promises to generated clients, checked against the running server: declared
//! types and constraints, omitted optional fields, the upload's media type, optional bodies,
//! and the served spec and docs page.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

async fn upload_as(
    server: &TestServer,
    query: &str,
    content_type: Option<&str>,
    bytes: &'static [u8],
) -> Value {
    let mut request = server
        .http
        .post(format!("{}/v1/media?{query}", server.base))
        .bearer_auth(&server.admin)
        .body(bytes);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let reply = reply(request.send().await.expect("upload sent")).await;
    reply.expect(201, None).clone()
}

#[tokio::test]
async fn the_stored_media_type_comes_from_the_parameter_then_a_concrete_header() {
    let server = TestServer::start().await;
    let by_parameter = upload_as(
        &server,
        "path=a.jpg&content_type=image/jpeg",
        Some("application/octet-stream"),
        b"a",
    )
    .await;
    assert_eq!(by_parameter["content_type"], "image/jpeg");
    let by_header = upload_as(&server, "path=b.png", Some("image/png"), b"b").await;
    assert_eq!(by_header["content_type"], "image/png");
    let wildcard = upload_as(&server, "path=c.bin", Some("*/*"), b"c").await;
    assert_eq!(wildcard["content_type"], "application/octet-stream");
    let none = upload_as(&server, "path=d.bin", None, b"d").await;
    assert_eq!(none["content_type"], "application/octet-stream");
    let id = by_parameter["id"].as_i64().unwrap();
    let download = server
        .http
        .get(format!("{}/v1/media/{id}/content", server.base))
        .bearer_auth(&server.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(download.headers()["content-type"], "image/jpeg");
}

#[tokio::test]
async fn restore_takes_no_body_a_null_body_or_a_path() {
    let server = TestServer::start().await;
    let key = &server.admin;
    let mut ids = Vec::new();
    for name in ["a.jpg", "b.jpg", "c.jpg"] {
        let id = server.upload(key, name, b"x").await;
        server
            .send(
                Method::POST,
                &format!("/v1/media/{id}/trash"),
                Some(key),
                None,
            )
            .await
            .expect(200, None);
        ids.push(id);
    }
    // No body and no Content-Type, as `curl -X POST …/restore` sends it.
    server
        .send(
            Method::POST,
            &format!("/v1/media/{}/restore", ids[0]),
            Some(key),
            None,
        )
        .await
        .expect(200, None);
    server
        .send(
            Method::POST,
            &format!("/v1/media/{}/restore", ids[1]),
            Some(key),
            Some(Value::Null),
        )
        .await
        .expect(200, None);
    let moved = server
        .post(
            key,
            &format!("/v1/media/{}/restore", ids[2]),
            json!({"path": "moved/c.jpg"}),
        )
        .await;
    assert_eq!(moved.expect(200, None)["path"], "moved/c.jpg");
    // A body in another type is still refused.
    let reply = reply(
        server
            .http
            .post(format!("{}/v1/media/{}/restore", server.base, ids[0]))
            .bearer_auth(key)
            .header("content-type", "text/plain")
            .body("path=x")
            .send()
            .await
            .unwrap(),
    )
    .await;
    reply.expect(415, Some("unsupported_media_type"));
}

#[tokio::test]
async fn ids_outside_the_declared_integers_are_the_documented_400() {
    let server = TestServer::start().await;
    for id in ["0", "-1", "abc", "1.5", "99999999999999999999"] {
        server
            .get(&server.admin, &format!("/v1/media/{id}"))
            .await
            .expect(400, Some("invalid_media_id"));
        server
            .delete(&server.admin, &format!("/v1/media/{id}"))
            .await
            .expect(400, Some("invalid_media_id"));
    }
    for limit in ["0", "1001", "x"] {
        server
            .get(&server.admin, &format!("/v1/media?limit={limit}"))
            .await
            .expect(400, Some("invalid_limit"));
    }
}

#[tokio::test]
async fn absent_values_are_left_out_never_null() {
    let server = TestServer::start().await;
    let key = &server.admin;
    let id = server.upload(key, "a.jpg", b"a").await;
    let page = server.get(key, "/v1/media").await;
    let page = page.expect(200, None);
    assert!(page.get("next_cursor").is_none(), "{page}");
    assert!(page["items"][0].get("trashed_at").is_none(), "{page}");
    let receipt = server
        .post(key, "/v1/media/bulk-delete", bulk(&[id, id + 100]))
        .await;
    let results = receipt.expect(200, None)["results"].as_array().unwrap();
    assert_eq!(results[0]["storage"], "purged");
    assert!(results[0].get("code").is_none(), "{results:?}");
    assert_eq!(results[1]["code"], "media_not_found");
    assert!(results[1].get("storage").is_none(), "{results:?}");
}

#[tokio::test]
async fn the_served_spec_and_docs_page_are_the_committed_spec() {
    let server = TestServer::start().await;
    let served = server
        .http
        .get(format!("{}/openapi.json", server.base))
        .send()
        .await
        .unwrap();
    assert!(served.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let served: Value = served.json().await.unwrap();
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../openapi/medialib.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(served, committed);
    // Public operations say so; every other one names the bearer scheme.
    assert_eq!(served["paths"]["/healthz"]["get"]["security"], json!([]));
    assert_eq!(
        served["paths"]["/v1/media/{id}"]["delete"]["security"],
        json!([{"ApiKeyAuth": []}])
    );
    let docs = server
        .http
        .get(format!("{}/docs", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(docs.contains("SwaggerUIBundle"));
    assert!(
        docs.contains("\"security\": []"),
        "the docs embed the finished spec"
    );
}

#[tokio::test]
async fn uploads_are_never_run_by_a_browser() {
    let server = TestServer::start().await;
    let page = upload_as(
        &server,
        "path=page.html",
        Some("text/html"),
        b"<script>1</script>",
    )
    .await;
    let photo = upload_as(&server, "path=photo.png", Some("image/png"), b"png").await;
    for (media, disposition) in [(&page, "attachment;"), (&photo, "inline;")] {
        let id = media["id"].as_i64().unwrap();
        let download = server
            .http
            .get(format!("{}/v1/media/{id}/content", server.base))
            .bearer_auth(&server.admin)
            .send()
            .await
            .unwrap();
        let headers = download.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["content-security-policy"], "sandbox");
        assert!(headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with(disposition));
    }
    for bad in ["not a mime", "image/*"] {
        let reply = reply(
            server
                .http
                .post(format!("{}/v1/media?path=x.bin", server.base))
                .query(&[("content_type", bad)])
                .bearer_auth(&server.admin)
                .body("x")
                .send()
                .await
                .unwrap(),
        )
        .await;
        reply.expect(400, Some("invalid_content_type"));
    }
    assert_eq!(server.usage(&server.admin).await, (2, 21));
}
