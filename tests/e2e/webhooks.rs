//! Webhooks end to end: a receiver on loopback that verifies every signature gets each event
//! at least once, one media item's events in order, through a 500 and a timeout; dead letters
//! are listed and redelivered; `medialib deliver` delivers once; the admin API is the
//! tenant's admins' alone.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use medialib_test_support::receiver::{Answer, Received, Receiver};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// Quick rounds and retries, a one-second timeout.
const FAST: [(&str, &str); 3] = [
    ("MEDIALIB_WEBHOOK_INTERVAL_MS", "50"),
    ("MEDIALIB_WEBHOOK_RETRY_BASE_MS", "100"),
    ("MEDIALIB_WEBHOOK_TIMEOUT_SECS", "1"),
];

async fn add_webhook(server: &TestServer, receiver: &Receiver, types: Value) -> Value {
    let body = json!({ "url": receiver.url, "event_types": types, "description": "e2e" });
    let webhook = server
        .post(&server.admin, "/v1/webhooks", body)
        .await
        .expect(201, None)
        .clone();
    receiver.set_secret(webhook["secret"].as_str().unwrap());
    webhook
}

/// The first accepted message of each event (`webhook-id`), in arrival order.
fn distinct(received: &[Received]) -> Vec<Received> {
    let mut seen = std::collections::HashSet::new();
    received
        .iter()
        .filter(|r| seen.insert(r.id.clone()))
        .cloned()
        .collect()
}

/// Waits until the receiver accepted `count` distinct events.
async fn wait_for(receiver: &Receiver, count: usize) -> Vec<Received> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = distinct(&receiver.accepted());
        if got.len() >= count {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {count} events; got {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn deliveries(server: &TestServer, webhook: i64, query: &str) -> Vec<Value> {
    server
        .get(
            &server.admin,
            &format!("/v1/webhooks/{webhook}/deliveries?limit=1000{query}"),
        )
        .await
        .expect(200, None)["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_verifying_receiver_gets_every_event_in_order_per_media_through_failures() {
    let server = TestServer::start_with(&FAST).await;
    let receiver = Receiver::start().await;
    let webhook = add_webhook(&server, &receiver, json!([])).await;
    let id = webhook["id"].as_i64().unwrap();
    assert_eq!(webhook["enabled"], true);
    assert_eq!(webhook["event_types"], json!([]));
    // The first attempt is refused, the second times out; the rest are accepted.
    receiver.script([Answer::Status(500), Answer::Hang(Duration::from_secs(3))]);

    let key = &server.admin;
    let a = server.upload(key, "w/a.png", b"a").await;
    let b = server.upload(key, "w/b.png", b"b").await;
    server
        .send(
            Method::PUT,
            &format!("/v1/media/{a}/tags"),
            Some(key),
            Some(json!({ "tags": ["x"] })),
        )
        .await
        .expect(200, None);
    server
        .post(key, &format!("/v1/media/{b}/trash"), json!({}))
        .await
        .expect(200, None);
    server
        .post(key, &format!("/v1/media/{b}/restore"), json!({}))
        .await
        .expect(200, None);
    server.delete_media(key, a).await.expect(200, None);
    server.delete_media(key, b).await.expect(200, None);

    let got = wait_for(&receiver, 7).await;
    assert_eq!(receiver.bad_signatures(), 0, "every message was signed");
    let mut per_media: BTreeMap<i64, Vec<(i64, String)>> = BTreeMap::new();
    for message in &got {
        assert_eq!(message.id, format!("evt_{}", message.seq));
        per_media
            .entry(message.media_id.unwrap())
            .or_default()
            .push((message.seq, message.event_type.clone()));
    }
    let types =
        |media: i64| -> Vec<String> { per_media[&media].iter().map(|(_, t)| t.clone()).collect() };
    assert_eq!(
        types(a),
        ["media.uploaded", "media.tagged", "media.deleted"]
    );
    assert_eq!(
        types(b),
        [
            "media.uploaded",
            "media.trashed",
            "media.restored",
            "media.deleted"
        ]
    );
    for (media, events) in &per_media {
        assert!(
            events.windows(2).all(|pair| pair[0].0 < pair[1].0),
            "media {media} received out of order: {events:?}"
        );
    }
    assert!(
        receiver.requests() >= 9,
        "two failed attempts, seven accepted"
    );

    // The admin API shows it: all delivered; one attempt was a 500, one timed out, and
    // both were retried.
    let mut listed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while listed.len() != 7 || listed.iter().any(|d: &Value| d["status"] != "delivered") {
        assert!(Instant::now() < deadline, "deliveries: {listed:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        listed = deliveries(&server, id, "").await;
    }
    let first = listed.last().unwrap();
    assert_eq!(first["event_type"], "media.uploaded");
    assert_eq!(first["payload"]["type"], "media.uploaded");
    assert_eq!(first["payload"]["data"]["media_id"], a);
    let mut failures = Vec::new();
    for delivery in &listed {
        let detail = server
            .get(
                key,
                &format!("/v1/webhooks/{id}/deliveries/{}", delivery["id"]),
            )
            .await;
        let attempts = detail.expect(200, None)["attempts"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(
            attempts.len() as i64,
            delivery["attempts"].as_i64().unwrap()
        );
        let (last, earlier) = attempts.split_last().unwrap();
        assert!((200..300).contains(&last["status"].as_i64().unwrap()));
        failures.extend(earlier.iter().cloned());
    }
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures.iter().any(|f| f["status"] == 500), "{failures:?}");
    assert!(
        failures
            .iter()
            .any(|f| f["status"].is_null() && f["error"].as_str().unwrap().contains("no answer")),
        "{failures:?}"
    );
}

#[tokio::test]
async fn dead_letters_are_listed_and_redelivered_and_filters_and_secrets_apply() {
    let mut env = FAST.to_vec();
    env.push(("MEDIALIB_WEBHOOK_MAX_ATTEMPTS", "2"));
    let server = TestServer::start_with(&env).await;
    let receiver = Receiver::start().await;
    let webhook = add_webhook(&server, &receiver, json!(["media.deleted"])).await;
    let id = webhook["id"].as_i64().unwrap();
    receiver.script([Answer::Status(503), Answer::Status(500)]);

    let key = &server.admin;
    let a = server.upload(key, "d/a.png", b"a").await;
    server.delete_media(key, a).await.expect(200, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    let dead = loop {
        let dead = deliveries(&server, id, "&status=dead").await;
        if !dead.is_empty() {
            break dead;
        }
        assert!(Instant::now() < deadline, "never dead-lettered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(dead.len(), 1, "only the delete: the upload is filtered out");
    assert_eq!(dead[0]["event_type"], "media.deleted");
    assert_eq!(dead[0]["attempts"], 2);
    assert_eq!(dead[0]["last_status"], 500);
    assert!(receiver.accepted().is_empty());

    // A new secret: the receiver refuses messages signed with the old one.
    let rotated = server
        .post(key, &format!("/v1/webhooks/{id}/rotate-secret"), json!({}))
        .await
        .expect(200, None)
        .clone();
    assert_ne!(rotated["secret"], webhook["secret"]);
    receiver.set_secret(rotated["secret"].as_str().unwrap());
    let redelivered = server
        .post(
            key,
            &format!("/v1/webhooks/{id}/deliveries/{}/redeliver", dead[0]["id"]),
            json!({}),
        )
        .await
        .expect(200, None)
        .clone();
    assert_eq!(redelivered["status"], "pending");
    assert_eq!(redelivered["attempts"], 0);
    let got = wait_for(&receiver, 1).await;
    assert_eq!(got[0].event_type, "media.deleted");
    assert_eq!(got[0].media_id, Some(a));
    assert_eq!(receiver.bad_signatures(), 0);

    // Disabled, it receives nothing; enabled again, what happened meanwhile is skipped.
    server
        .send(
            Method::PATCH,
            &format!("/v1/webhooks/{id}"),
            Some(key),
            Some(json!({ "enabled": false })),
        )
        .await
        .expect(200, None);
    let b = server.upload(key, "d/b.png", b"b").await;
    server.delete_media(key, b).await.expect(200, None);
    tokio::time::sleep(Duration::from_millis(500)).await;
    server
        .send(
            Method::PATCH,
            &format!("/v1/webhooks/{id}"),
            Some(key),
            Some(json!({ "enabled": true, "event_types": ["media.uploaded"] })),
        )
        .await
        .expect(200, None);
    let c = server.upload(key, "d/c.png", b"c").await;
    let got = wait_for(&receiver, 2).await;
    assert_eq!(got[1].media_id, Some(c), "b's events were skipped: {got:?}");
    assert_eq!(got[1].event_type, "media.uploaded");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(distinct(&receiver.accepted()).len(), 2);

    server
        .delete(key, &format!("/v1/webhooks/{id}"))
        .await
        .expect(204, None);
    server
        .get(key, &format!("/v1/webhooks/{id}"))
        .await
        .expect(404, Some("webhook_not_found"));
}

#[tokio::test]
async fn only_the_tenants_admins_manage_its_webhooks_and_bad_input_is_a_400() {
    let server = TestServer::start().await;
    let receiver = Receiver::start().await;
    let webhook = add_webhook(&server, &receiver, json!(["media.deleted"])).await;
    let id = webhook["id"].as_i64().unwrap();
    let member = server.key("default", "mia", "member");
    let viewer = server.key("default", "vic", "viewer");
    let other = server.key("other", "olga", "admin");
    for key in [&member, &viewer] {
        server
            .get(key, "/v1/webhooks")
            .await
            .expect(403, Some("forbidden"));
        server
            .post(key, "/v1/webhooks", json!({ "url": receiver.url }))
            .await
            .expect(403, Some("forbidden"));
    }
    server
        .get(&other, &format!("/v1/webhooks/{id}"))
        .await
        .expect(404, Some("webhook_not_found"));
    server
        .post(
            &other,
            &format!("/v1/webhooks/{id}/rotate-secret"),
            json!({}),
        )
        .await
        .expect(404, Some("webhook_not_found"));
    let listed = server.get(&other, "/v1/webhooks").await;
    assert_eq!(listed.expect(200, None)["items"], json!([]));
    let listed = server.get(&server.admin, "/v1/webhooks").await;
    assert_eq!(listed.expect(200, None)["items"][0]["id"], id);

    for url in ["ftp://example.com/x", "not a url", "https://"] {
        server
            .post(&server.admin, "/v1/webhooks", json!({ "url": url }))
            .await
            .expect(400, Some("invalid_url"));
    }
    server
        .post(
            &server.admin,
            "/v1/webhooks",
            json!({ "url": receiver.url, "event_types": ["media.exploded"] }),
        )
        .await
        .expect(400, None);
    server
        .get(
            &server.admin,
            &format!("/v1/webhooks/{id}/deliveries?status=lost"),
        )
        .await
        .expect(400, None);
    server
        .get(&server.admin, &format!("/v1/webhooks/{id}/deliveries/999"))
        .await
        .expect(404, Some("delivery_not_found"));
}

// Multi-threaded: the receiver answers while the test waits for the CLI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn medialib_deliver_sends_what_is_due_once() {
    // The server's own dispatcher looks once at startup, then not for an hour.
    let server = TestServer::start_with(&[("MEDIALIB_WEBHOOK_INTERVAL_MS", "3600000")]).await;
    let receiver = Receiver::start().await;
    add_webhook(&server, &receiver, json!([])).await;
    let key = &server.admin;
    let a = server.upload(key, "c/a.png", b"a").await;
    server.delete_media(key, a).await.expect(200, None);
    assert!(receiver.accepted().is_empty());

    let summary: Value = serde_json::from_str(&server.cli(&["deliver", "--json"])).unwrap();
    let listed = server.get(key, "/v1/webhooks").await;
    let hook = listed.expect(200, None)["items"][0]["id"].as_i64().unwrap();
    let sent = deliveries(&server, hook, "").await;
    assert_eq!(summary["enqueued"], 2, "{summary}");
    assert_eq!(summary["delivered"], 2, "{summary} {sent:?}");
    assert_eq!(summary["delivered"], 2, "{summary}");
    let got = distinct(&receiver.accepted());
    assert_eq!(
        got.iter()
            .map(|r| r.event_type.as_str())
            .collect::<Vec<_>>(),
        ["media.uploaded", "media.deleted"]
    );
    let again: Value = serde_json::from_str(&server.cli(&["deliver", "--json"])).unwrap();
    assert_eq!(again["attempted"], 0, "nothing left: {again}");
    assert_eq!(receiver.accepted().len(), 2);
}

#[tokio::test]
async fn two_instances_share_delivery_without_sending_an_event_twice() {
    let server = TestServer::start_with(&FAST).await;
    let peer = server.start_peer(&FAST, "server-2.log");
    let receiver = Receiver::start().await;
    add_webhook(&server, &receiver, json!([])).await;
    let key = &server.admin;
    for n in 0..15 {
        let id = server.upload(key, &format!("p/{n}.png"), b"p").await;
        // Half the deletes go through the other instance.
        let base = if n % 2 == 0 { &server.base } else { &peer.base };
        let deleted = server
            .http
            .delete(format!("{base}/v1/media/{id}"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.status(), 200);
    }
    let got = wait_for(&receiver, 30).await;
    // Both dispatchers ran the whole time; give a duplicate the time to show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.accepted().len(),
        30,
        "each event sent once: {:?}",
        receiver.accepted()
    );
    assert_eq!(got.len(), 30);
    assert_eq!(receiver.bad_signatures(), 0);
}
