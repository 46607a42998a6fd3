//! Rate limits: per key and per tenant, deletes and uploads apart, `429 rate_limited` with
//! `Retry-After` and `RateLimit-*`, bulk deletes counting their items, tenant overrides set by
//! the operator, and the compat profiles' own 429 bodies.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

fn header(reply: &Reply, name: &str) -> u64 {
    reply
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .to_str()
        .expect("ascii")
        .parse()
        .expect("a number")
}

/// Waits for the number of seconds a 429 asked for.
async fn wait_out(reply: &Reply) {
    tokio::time::sleep(Duration::from_secs(header(reply, "Retry-After"))).await;
}

#[tokio::test]
async fn a_key_over_its_delete_budget_gets_429_and_nothing_is_deleted() {
    let server = TestServer::start_with(&[
        ("MEDIALIB_RATE_LIMIT_DELETES_PER_KEY", "3"),
        ("MEDIALIB_COMPAT", "catdata"),
    ])
    .await;
    let alice = server.key("acme", "alice", "member");
    let mut ids = Vec::new();
    for n in 0..8 {
        ids.push(server.upload(&alice, &format!("f{n}.jpg"), b"x").await);
    }
    for id in &ids[..3] {
        server.delete_media(&alice, *id).await.expect(200, None);
    }
    let refused = server.delete_media(&alice, ids[3]).await;
    refused.expect(429, Some("rate_limited"));
    assert!(header(&refused, "Retry-After") >= 1);
    assert_eq!(header(&refused, "RateLimit-Limit"), 3);
    assert_eq!(header(&refused, "RateLimit-Remaining"), 0);
    assert_eq!(
        header(&refused, "RateLimit-Reset"),
        header(&refused, "Retry-After")
    );
    assert!(refused.headers.contains_key("x-request-id"));
    server
        .get(&alice, &format!("/v1/media/{}", ids[3]))
        .await
        .expect(200, None);

    // The compat profile answers in its own body.
    let catdata = server
        .http
        .delete(format!("{}/api/image/{}", server.base, ids[3]))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("sent");
    let catdata = reply(catdata).await;
    assert_eq!(catdata.status.as_u16(), 429);
    assert_eq!(catdata.body, json!({ "error": "Too Many Requests" }));
    assert!(header(&catdata, "Retry-After") >= 1);

    // Another key of the tenant has its own budget; uploads are another budget.
    let admin = server.key("acme", "root", "admin");
    server.delete_media(&admin, ids[3]).await.expect(200, None);
    server.upload(&alice, "more.jpg", b"x").await;

    // A bulk delete counts its items: once the budget is back, 3 pass and a 4th is refused.
    wait_out(&refused).await;
    server
        .post(&alice, "/v1/media/bulk-delete", bulk(&ids[4..7]))
        .await
        .expect(200, None);
    server
        .delete_media(&alice, ids[7])
        .await
        .expect(429, Some("rate_limited"));
    // Every refusal is counted, the compat profile's too.
    let refused = "medialib_rate_limited_total{budget=\"deletes\"}";
    assert_eq!(metric(&server.http, &server.base, refused).await, 3);
}

#[tokio::test]
async fn the_operator_sets_a_tenant_wide_limit_that_admins_cannot_lift() {
    let server = TestServer::start_with(&[("MEDIALIB_KEY_CACHE_SECS", "0")]).await;
    let alice = server.key("acme", "alice", "member");
    let bob = server.key("acme", "bob", "admin");
    let a = server.upload(&alice, "a.jpg", b"x").await;
    let b = server.upload(&bob, "b.jpg", b"x").await;

    let printed = server.cli(&[
        "tenants",
        "limits",
        "acme",
        "--deletes",
        "1",
        "--uploads",
        "1",
    ]);
    assert_eq!(printed, "deletes_per_second=1 uploads_per_second=1");
    let settings = server.get(&bob, "/v1/tenant/settings").await;
    assert_eq!(settings.expect(200, None)["delete_rate_limit"], 1);
    assert_eq!(settings.body["upload_rate_limit"], 1);

    // One delete per second for the whole tenant, whichever key makes it.
    server.delete_media(&alice, a).await.expect(200, None);
    let refused = server.delete_media(&bob, b).await;
    refused.expect(429, Some("rate_limited"));
    assert_eq!(header(&refused, "RateLimit-Limit"), 1);
    server.upload(&alice, "c.jpg", b"x").await;
    server
        .try_upload(&bob, "d.jpg", b"x", "")
        .await
        .expect(429, Some("rate_limited"));

    // A tenant admin's settings change does not touch the limits.
    let patched = server
        .send(
            reqwest::Method::PATCH,
            "/v1/tenant/settings",
            Some(&bob),
            Some(json!({ "trash_retention_days": 7, "delete_rate_limit": 1000 })),
        )
        .await;
    assert_eq!(patched.expect(200, None)["delete_rate_limit"], 1);

    // Back to the server's default (unlimited here).
    let printed = server.cli(&["tenants", "limits", "acme", "--deletes", "default"]);
    assert_eq!(printed, "deletes_per_second=default uploads_per_second=1");
    wait_out(&refused).await;
    server.delete_media(&bob, b).await.expect(200, None);
    let c = server.upload(&bob, "e.jpg", b"x").await;
    server.delete_media(&bob, c).await.expect(200, None);
}
