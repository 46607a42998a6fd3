//! Authentication, tenant isolation and the role/grant matrix on every media endpoint.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn missing_malformed_and_revoked_keys_get_401_with_a_bearer_challenge() {
    let server = TestServer::start().await;
    let json_key = server.cli(&[
        "keys", "create", "--tenant", "default", "--user", "u1", "--role", "member", "--json",
    ]);
    let created: serde_json::Value = serde_json::from_str(&json_key).unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    server.get(&key, "/v1/usage").await.expect(200, None);

    let tampered = format!("{}x", &key[..key.len() - 1]);
    for token in [
        None,
        Some("nonsense"),
        Some("mlk_abc_def"),
        Some(tampered.as_str()),
    ] {
        let reply = server.send(Method::GET, "/v1/media", token, None).await;
        reply.expect(401, Some("unauthorized"));
        assert_eq!(reply.headers["www-authenticate"], "Bearer");
    }

    // Revoked by another process: refused once the server's cached copy of the key is older
    // than `key_cache_secs` (1 s by default).
    server.cli(&["keys", "revoke", created["id"].as_str().unwrap()]);
    let revoked_at = std::time::Instant::now();
    loop {
        let reply = server.get(&key, "/v1/usage").await;
        if reply.status == 401 {
            reply.expect(401, Some("unauthorized"));
            break;
        }
        reply.expect(200, None);
        assert!(
            revoked_at.elapsed() < std::time::Duration::from_secs(5),
            "a revoked key still works after the key cache's second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let listed = server.cli(&["keys", "list", "--json"]);
    assert!(listed.contains("\"revoked\":true"), "{listed}");
    assert!(!listed.contains(&key), "secrets are never listed");
}

#[tokio::test]
async fn tenant_parameter_must_name_the_keys_tenant() {
    let server = TestServer::start().await;
    server.key("acme", "x", "admin");
    server
        .get(&server.admin, "/v1/media?tenant=default")
        .await
        .expect(200, None);
    server
        .get(&server.admin, "/v1/media?tenant=acme")
        .await
        .expect(403, Some("tenant_mismatch"));
    server
        .get(&server.admin, "/v1/usage?tenant=nope")
        .await
        .expect(403, Some("tenant_mismatch"));
    let id = server.upload(&server.admin, "t.jpg", b"t").await;
    server
        .delete(&server.admin, &format!("/v1/media/{id}?tenant=acme"))
        .await
        .expect(403, Some("tenant_mismatch"));
    server
        .get(&server.admin, &format!("/v1/media/{id}"))
        .await
        .expect(200, None);
}

/// Every media endpoint, as (method, path template, body).
fn endpoints() -> Vec<(Method, &'static str, Option<serde_json::Value>)> {
    vec![
        (Method::GET, "/v1/media/{id}", None),
        (Method::GET, "/v1/media/{id}/content", None),
        (
            Method::PUT,
            "/v1/media/{id}/tags",
            Some(json!({"tags": ["x"]})),
        ),
        (Method::POST, "/v1/media/{id}/share", None),
        (Method::DELETE, "/v1/media/{id}/share", None),
        (
            Method::POST,
            "/v1/media/{id}/grants",
            Some(json!({"user_id": "zed", "permission": "read"})),
        ),
        (Method::GET, "/v1/media/{id}/grants", None),
        (Method::DELETE, "/v1/media/{id}/grants/zed", None),
        (Method::DELETE, "/v1/media/{id}", None),
    ]
}

async fn status_of(
    server: &TestServer,
    key: &str,
    method: &Method,
    template: &str,
    body: &Option<serde_json::Value>,
    id: i64,
) -> (u16, String) {
    let path = template.replace("{id}", &id.to_string());
    let reply = server
        .send(method.clone(), &path, Some(key), body.clone())
        .await;
    (
        reply.status.as_u16(),
        reply.body["code"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test]
async fn other_tenants_and_ungranted_members_cannot_even_see_media() {
    let server = TestServer::start().await;
    let owner = server.key("default", "alice", "member");
    let stranger = server.key("default", "bob", "member");
    let foreign_admin = server.key("acme", "root", "admin");
    let id = server.upload(&owner, "secret.jpg", b"s").await;
    for caller in [&stranger, &foreign_admin] {
        for (method, template, body) in endpoints() {
            let (status, code) = status_of(&server, caller, &method, template, &body, id).await;
            assert_eq!(
                (status, code.as_str()),
                (404, "media_not_found"),
                "{method} {template}"
            );
        }
        let listed = server.get(caller, "/v1/media").await;
        assert!(!ids(listed.expect(200, None)).contains(&id));
        let bulk_reply = server
            .post(caller, "/v1/media/bulk-delete", bulk(&[id]))
            .await;
        assert_eq!(bulk_reply.expect(200, None)["results"][0]["status"], 404);
    }
    server
        .get(&owner, &format!("/v1/media/{id}"))
        .await
        .expect(200, None);
    server.assert_blobs(server.blobs().await, 1);
}

#[tokio::test]
async fn read_grantees_and_viewers_see_but_may_not_change_or_delete() {
    let server = TestServer::start().await;
    let owner = server.key("default", "alice", "member");
    let reader = server.key("default", "rita", "member");
    let viewer = server.key("default", "vic", "viewer");
    let id = server.upload(&owner, "shared.jpg", b"data").await;
    server.grant(&owner, id, "rita", "read").await;

    for caller in [&reader, &viewer] {
        server
            .get(caller, &format!("/v1/media/{id}"))
            .await
            .expect(200, None);
        let content = server
            .http
            .get(format!("{}/v1/media/{id}/content", server.base))
            .bearer_auth(caller)
            .send()
            .await
            .unwrap();
        assert_eq!(content.status(), 200);
        assert_eq!(content.bytes().await.unwrap().as_ref(), b"data");
        for (method, template, body) in endpoints().into_iter().skip(2) {
            let (status, code) = status_of(&server, caller, &method, template, &body, id).await;
            assert_eq!(
                (status, code.as_str()),
                (403, "forbidden"),
                "{method} {template}"
            );
        }
        assert!(ids(server.get(caller, "/v1/media").await.expect(200, None)).contains(&id));
    }
    server
        .try_upload(&viewer, "v.jpg", b"v", "")
        .await
        .expect(403, Some("forbidden"));
    let bulk_reply = server
        .post(&reader, "/v1/media/bulk-delete", bulk(&[id]))
        .await;
    assert_eq!(
        bulk_reply.expect(200, None)["results"][0]["code"],
        "forbidden"
    );
    server
        .get(&owner, &format!("/v1/media/{id}"))
        .await
        .expect(200, None);
}

#[tokio::test]
async fn delete_grantees_may_delete_but_not_manage() {
    let server = TestServer::start().await;
    let owner = server.key("default", "alice", "member");
    let deleter = server.key("default", "dan", "member");
    let id = server.upload(&owner, "d.jpg", b"d").await;
    server.grant(&owner, id, "dan", "delete").await;
    server
        .send(
            Method::PUT,
            &format!("/v1/media/{id}/tags"),
            Some(&deleter),
            Some(json!({"tags": ["x"]})),
        )
        .await
        .expect(403, Some("forbidden"));
    server
        .post(&deleter, &format!("/v1/media/{id}/share"), json!({}))
        .await
        .expect(403, Some("forbidden"));
    let receipt = server.delete_media(&deleter, id).await;
    assert_eq!(receipt.expect(200, None)["removed"]["access_grants"], 1);
}

#[tokio::test]
async fn owners_and_tenant_admins_may_do_everything() {
    let server = TestServer::start().await;
    let owner = server.key("default", "alice", "member");
    for caller in [owner.clone(), server.admin.clone()] {
        let id = server
            .upload(&owner, &format!("{}.jpg", &caller[4..10]), b"o")
            .await;
        for (method, template, body) in endpoints() {
            let (status, _) = status_of(&server, &caller, &method, template, &body, id).await;
            assert!(
                matches!(status, 200 | 201 | 204),
                "{method} {template} gave {status}"
            );
        }
    }
}

#[tokio::test]
async fn revoked_grants_stop_working() {
    let server = TestServer::start().await;
    let owner = server.key("default", "alice", "member");
    let reader = server.key("default", "rita", "member");
    let id = server.upload(&owner, "g.jpg", b"g").await;
    server.grant(&owner, id, "rita", "read").await;
    let grants = server.get(&owner, &format!("/v1/media/{id}/grants")).await;
    assert_eq!(grants.expect(200, None)[0]["user_id"], "rita");
    server
        .delete(&owner, &format!("/v1/media/{id}/grants/rita"))
        .await
        .expect(204, None);
    server
        .get(&reader, &format!("/v1/media/{id}"))
        .await
        .expect(404, Some("media_not_found"));
    server
        .delete(&owner, &format!("/v1/media/{id}/grants/rita"))
        .await
        .expect(404, Some("grant_not_found"));
    server
        .post(
            &owner,
            &format!("/v1/media/{id}/grants"),
            json!({"user_id": "rita", "permission": "own"}),
        )
        .await
        .expect(400, Some("invalid_body"));
}

/// Keys expire, rotate with an overlap in which both work, and record when they were last used
/// (written in the background and at shutdown); the listing shows all of it.
#[tokio::test]
async fn keys_expire_rotate_with_an_overlap_and_record_their_last_use() {
    let mut server = TestServer::start_with(&[("MEDIALIB_KEY_CACHE_SECS", "0")]).await;
    server.key("acme", "setup", "admin");
    let short = server.cli(&[
        "keys",
        "create",
        "--tenant",
        "acme",
        "--user",
        "bob",
        "--role",
        "member",
        "--expires-in",
        "2s",
    ]);
    let old = server.cli(&[
        "keys", "create", "--tenant", "acme", "--user", "alice", "--role", "member",
    ]);
    let idle = server.cli(&[
        "keys", "create", "--tenant", "acme", "--user", "carol", "--role", "viewer",
    ]);
    let old_id = old.split('_').nth(1).expect("key id").to_owned();
    server.get(&short, "/v1/media").await.expect(200, None);
    server.get(&old, "/v1/media").await.expect(200, None);

    let rotated: serde_json::Value = serde_json::from_str(&server.cli(&[
        "keys",
        "rotate",
        &old_id,
        "--overlap",
        "2s",
        "--json",
    ]))
    .expect("JSON");
    let new = rotated["key"].as_str().expect("the new key").to_owned();
    assert_eq!(rotated["user_id"], "alice");
    assert_eq!(rotated["role"], "member");
    assert_ne!(rotated["id"], old_id.as_str());
    // During the overlap both keys work.
    server.get(&old, "/v1/media").await.expect(200, None);
    server.get(&new, "/v1/media").await.expect(200, None);

    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    for gone in [&short, &old] {
        server
            .get(gone, "/v1/media")
            .await
            .expect(401, Some("unauthorized"));
    }
    server.get(&new, "/v1/media").await.expect(200, None);
    // An expired key cannot be rotated again.
    let output = std::process::Command::new(BIN)
        .current_dir(server.dir.path())
        .env("MEDIALIB_DATABASE_URL", &server.backend.database_url)
        .env("MEDIALIB_BLOB_URL", &server.backend.blob_url)
        .args(["keys", "rotate", &old_id])
        .output()
        .expect("run medialib");
    assert!(!output.status.success());

    // Uses are written at shutdown at the latest.
    assert!(server.terminate());
    let listed: serde_json::Value =
        serde_json::from_str(&server.cli(&["keys", "list", "--json"])).expect("JSON");
    let row = |id: &str| {
        listed
            .as_array()
            .expect("rows")
            .iter()
            .find(|row| row["id"] == id)
            .unwrap_or_else(|| panic!("{id} listed: {listed}"))
            .clone()
    };
    let new_id = rotated["id"].as_str().expect("id");
    let idle_id = idle.split('_').nth(1).expect("key id");
    assert!(row(new_id)["last_used_at"].is_string(), "{listed}");
    assert!(row(&old_id)["last_used_at"].is_string(), "{listed}");
    assert!(row(idle_id)["last_used_at"].is_null(), "{listed}");
    assert!(row(&old_id)["expires_at"].is_string(), "{listed}");
    assert!(row(new_id)["expires_at"].is_null(), "{listed}");
    let text = server.cli(&["keys", "list"]);
    let old_line = text
        .lines()
        .find(|line| line.starts_with(&old_id))
        .expect("old key listed");
    assert!(old_line.contains("\texpired\t"), "{old_line}");
}
