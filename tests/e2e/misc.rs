//! Health, docs, request ids, framework errors, usage.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn health_readiness_spec_and_docs_are_served() {
    let server = TestServer::start().await;
    for path in ["/healthz", "/readyz"] {
        let reply = server.send(Method::GET, path, None, None).await;
        assert_eq!(reply.expect(200, None)["status"], "ok");
    }
    let spec = server.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(spec.expect(200, None)["info"]["title"], "medialib");
    assert!(spec.body["paths"]["/v1/media/{id}"]["delete"].is_object());
    let docs = server
        .http
        .get(format!("{}/docs", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let server = TestServer::start().await;
    let echoed = server
        .http
        .get(format!("{}/healthz", server.base))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "abc-123");
    let generated = server.send(Method::GET, "/v1/nothing", None, None).await;
    assert!(!generated.headers["x-request-id"].is_empty());
    let errored = server.delete(&server.admin, "/v1/media/0").await;
    assert!(!errored.headers["x-request-id"].is_empty());
}

#[tokio::test]
async fn framework_errors_use_the_json_error_body() {
    let server = TestServer::start().await;
    server
        .send(Method::GET, "/nope", None, None)
        .await
        .expect(404, Some("route_not_found"));
    server
        .send(Method::PATCH, "/v1/usage", Some(&server.admin), None)
        .await
        .expect(405, Some("method_not_allowed"));
    let wrong_type = server
        .http
        .post(format!("{}/v1/media/bulk-delete", server.base))
        .bearer_auth(&server.admin)
        .header("content-type", "text/plain")
        .body("ids")
        .send()
        .await
        .unwrap();
    reply(wrong_type)
        .await
        .expect(415, Some("unsupported_media_type"));
    let no_query = server
        .http
        .post(format!("{}/v1/media", server.base))
        .bearer_auth(&server.admin)
        .body("x")
        .send()
        .await
        .unwrap();
    reply(no_query).await.expect(400, Some("invalid_parameter"));
}

#[tokio::test]
async fn usage_always_equals_the_sums_over_live_media() {
    let server = TestServer::start().await;
    let other = server.key("acme", "root", "admin");
    let a = server.upload(&server.admin, "a.jpg", &[1u8; 10]).await;
    server.upload(&server.admin, "b.jpg", &[1u8; 20]).await;
    server.upload(&other, "c.jpg", &[1u8; 40]).await;
    assert_eq!(server.usage(&server.admin).await, (2, 30));
    assert_eq!(server.usage(&other).await, (1, 40));
    server
        .delete_media(&server.admin, a)
        .await
        .expect(200, None);
    assert_eq!(server.usage(&server.admin).await, (1, 20));
    assert_eq!(server.usage(&other).await, (1, 40));
}

#[tokio::test]
async fn members_see_their_own_activity_and_admins_the_tenants() {
    let server = TestServer::start().await;
    let alice = server.key("default", "alice", "member");
    server.upload(&alice, "a.jpg", b"a").await;
    server.upload(&server.admin, "b.jpg", b"b").await;
    let own = server.get(&alice, "/v1/activity").await;
    let own = own.expect(200, None)["items"].as_array().unwrap().clone();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["actor_id"], "alice");
    let all = server.get(&server.admin, "/v1/activity").await;
    assert_eq!(all.expect(200, None)["items"].as_array().unwrap().len(), 2);
    let paged = server.get(&server.admin, "/v1/activity?limit=1").await;
    let cursor = paged.expect(200, None)["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let next = server
        .get(
            &server.admin,
            &format!("/v1/activity?limit=1&cursor={cursor}"),
        )
        .await;
    assert_eq!(
        next.expect(200, None)["items"][0]["action"],
        "media_uploaded"
    );
}

/// `log_format = "json"`: every log line is one JSON object, and each request is logged with
/// its status and latency. (Reads the server's log file, which `TEST_LOG` would redirect.)
#[tokio::test]
async fn json_logs_are_one_object_per_line_with_request_latency() {
    let server =
        TestServer::start_with(&[("MEDIALIB_LOG_FORMAT", "json"), ("RUST_LOG", "info")]).await;
    server
        .get(&server.admin, "/v1/usage")
        .await
        .expect(200, None);
    let log = server.dir.path().join("server-1.log");
    let mut finished = None;
    eventually("the request's log line", || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        for line in text.lines() {
            let entry: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("not a JSON object ({err}): {line}"));
            if entry["message"] == "request finished" && entry["span"]["path"] == "/v1/usage" {
                finished = Some(entry);
            }
        }
        finished.is_some()
    })
    .await;
    let entry = finished.expect("found above");
    assert_eq!(entry["status"], 200);
    assert!(
        entry["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{entry}"
    );
    assert!(entry["span"]["request_id"].is_string(), "{entry}");
}

/// An idle keep-alive connection is closed after `idle_timeout_secs` instead of holding a
/// descriptor forever. Bounded: each read gives up after 10 s.
#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    use std::io::{Read, Write};
    let server = TestServer::start_with(&[("MEDIALIB_IDLE_TIMEOUT_SECS", "1")]).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let closed_within = |mut stream: std::net::TcpStream| {
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let started = std::time::Instant::now();
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    };
    let tasks = ["GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"; 3].map(|sent| {
        let address = address.clone();
        std::thread::spawn(move || {
            let mut stream = std::net::TcpStream::connect(&address).unwrap();
            stream.write_all(sent.as_bytes()).unwrap();
            closed_within(stream)
        })
    });
    for task in tasks {
        let after = task.join().unwrap();
        assert!(
            after < std::time::Duration::from_secs(5),
            "closed after {after:?}"
        );
    }
}

/// `/metrics` counts requests by documented operation and status, and times them.
#[tokio::test]
async fn metrics_count_requests_by_operation_and_status() {
    let server = TestServer::start().await;
    let key = &server.admin;
    server.get(key, "/v1/usage").await.expect(200, None);
    server.get(key, "/v1/usage").await.expect(200, None);
    server
        .get(key, "/v1/media/424242")
        .await
        .expect(404, Some("media_not_found"));
    let series = |operation: &str, status: u16| {
        format!("medialib_http_requests_total{{operation=\"{operation}\",status=\"{status}\"}}")
    };
    assert_eq!(
        metric(&server.http, &server.base, &series("get_usage", 200)).await,
        2
    );
    assert_eq!(
        metric(&server.http, &server.base, &series("get_media", 404)).await,
        1
    );
    let timed = "medialib_http_request_duration_seconds_count{operation=\"get_usage\"}";
    assert_eq!(metric(&server.http, &server.base, timed).await, 2);
}

/// `/metrics` counts deletes by outcome and storage state, blob deletions, group-commit
/// batches, and samples the pending backlog and the database pools.
#[tokio::test]
async fn metrics_count_deletes_by_outcome_and_sample_the_backlog_and_pools() {
    let server = TestServer::start_with(&[("MEDIALIB_RETRY_INTERVAL_SECS", "1")]).await;
    let key = &server.admin;
    let (http, base) = (&server.http, server.base.as_str());
    let deletes = |outcome: &str, storage: &str| {
        format!("medialib_deletes_total{{outcome=\"{outcome}\",storage=\"{storage}\"}}")
    };
    let a = server.upload(key, "a.jpg", b"x").await;
    let b = server.upload(key, "b.jpg", b"x").await;
    let c = server.upload(key, "c.jpg", b"x").await;
    server.delete_media(key, a).await.expect(200, None);
    server
        .post(
            key,
            &format!("/v1/media/{b}/holds"),
            json!({ "reason": "audit" }),
        )
        .await
        .expect(201, None);
    server
        .delete_media(key, b)
        .await
        .expect(409, Some("media_held"));
    server
        .delete_media(key, 987_654)
        .await
        .expect(404, Some("media_not_found"));
    server
        .post(key, &format!("/v1/media/{c}/trash"), json!({}))
        .await
        .expect(200, None);
    assert_eq!(metric(http, base, &deletes("deleted", "purged")).await, 1);
    assert_eq!(metric(http, base, &deletes("held", "kept")).await, 1);
    assert_eq!(metric(http, base, &deletes("not_found", "kept")).await, 1);
    assert_eq!(metric(http, base, &deletes("trashed", "kept")).await, 1);
    assert!(metric(http, base, "medialib_blob_deletes_total{result=\"ok\"}").await >= 1);
    assert_eq!(
        metric(http, base, "medialib_group_commit_batch_size_count").await,
        3,
        "each delete by id is judged in a committed batch, the refused ones too"
    );
    // The sampler runs every retry interval; its series appear once it has run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = metrics_text(http, base).await;
        let sampled = text.contains("medialib_pending_deletions{status=\"failed\"} 0")
            && text.contains("medialib_pending_oldest_age_seconds{status=\"pending\"}")
            && ["writer", "shared"].iter().any(|pool| {
                text.contains(&format!(
                    "medialib_db_pool_connections{{pool=\"{pool}\",state=\"idle\"}}"
                ))
            });
        if sampled {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not sampled:\n{text}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
