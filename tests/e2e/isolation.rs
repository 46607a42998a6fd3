//! The tenant-isolation matrix, generated from the committed spec: every operation that takes
//! a media id (in its path or as `ids` in its body) is called on an existing media item by
//! another tenant's admin and by a member of the owner's tenant without a grant, and on an id
//! that does not exist. Neither caller may succeed, and each must get exactly the answer
//! (status and code) a missing id gets, so that ids cannot be probed. A viewer of the owner's
//! tenant may read but must not change anything. Live and trashed items are both targets; the
//! owner's item keeps a hold, a reference and a grant, so that their sub-resource ids exist.

use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::helpers::*;

const SPEC: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../openapi/medialib.json"
));

/// An operation of the spec that names a media item.
struct Operation {
    method: Method,
    path: String,
    id: String,
    body: Option<Value>,
}

fn operations(spec: &Value) -> Vec<Operation> {
    let mut found = Vec::new();
    for (path, methods) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in methods.as_object().expect("methods") {
            let schema =
                &operation["requestBody"]["content"]["application/json; charset=utf-8"]["schema"];
            let body = (!schema.is_null()).then(|| example(spec, schema));
            let by_body = body.as_ref().is_some_and(|body| body.get("ids").is_some());
            let by_path = path.contains("{id}") || path.contains("{path}");
            if !(by_path || by_body) {
                continue;
            }
            found.push(Operation {
                method: method.to_uppercase().parse().expect("a method"),
                path: path.clone(),
                id: operation["operationId"].as_str().expect("id").to_owned(),
                body,
            });
        }
    }
    found
}

/// A minimal valid value of a schema: its required properties, each the simplest value of
/// its type that the schema's pattern and enum allow.
fn example(spec: &Value, schema: &Value) -> Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().expect("a name");
        return example(spec, &spec["components"]["schemas"][name]);
    }
    if let Some(all) = schema["allOf"].as_array() {
        return example(spec, &all[0]);
    }
    if let Some(first) = schema["enum"].as_array().and_then(|values| values.first()) {
        return first.clone();
    }
    match schema["type"].as_str() {
        Some("object") => {
            let mut object = Map::new();
            for name in schema["required"].as_array().into_iter().flatten() {
                let name = name.as_str().expect("a name");
                let value = example(spec, &schema["properties"][name]);
                object.insert(name.to_owned(), value);
            }
            Value::Object(object)
        }
        Some("array") => json!([]),
        Some("integer") => json!(1),
        Some("boolean") => json!(false),
        _ => json!("x1"),
    }
}

/// The request of `operation` on media `id` (at `path`, owned by `owner`).
fn request(
    operation: &Operation,
    id: i64,
    path: &str,
    hold: i64,
) -> (Method, String, Option<Value>) {
    let target = operation
        .path
        .replace("{id}", &id.to_string())
        .replace("{hold_id}", &hold.to_string())
        .replace("{user_id}", "grantee")
        .replace("{reference}", "post:1")
        .replace("{path}", &path.replace('/', "%2F"));
    let target = if operation.path.contains("{path}") {
        format!("{target}?owner=alice")
    } else {
        target
    };
    let body = operation.body.clone().map(|mut body| {
        if body.get("ids").is_some() {
            body["ids"] = json!([id]);
        }
        body
    });
    (operation.method.clone(), target, body)
}

/// Status and code of an answer, and for a bulk delete its one item's status and code.
fn answer(reply: &Reply) -> (u16, Value) {
    let item = &reply.body["results"][0];
    if item.is_object() {
        return (reply.status.as_u16(), json!([item["status"], item["code"]]));
    }
    (reply.status.as_u16(), reply.body["code"].clone())
}

#[tokio::test]
async fn no_caller_outside_a_media_items_access_can_use_or_probe_it() {
    let server = TestServer::start().await;
    let spec: Value = serde_json::from_str(SPEC).expect("the committed spec");
    let operations = operations(&spec);
    assert!(
        operations.len() >= 20,
        "the matrix found {} operations",
        operations.len()
    );
    let owner_admin = &server.admin;
    let alice = server.key("default", "alice", "member");
    let mallory = server.key("default", "mallory", "member");
    let viewer = server.key("default", "victor", "viewer");
    let stranger = server.key("other", "root", "admin");

    let live = server.upload(&alice, "iso/live.png", b"live").await;
    let trashed = server.upload(&alice, "iso/trashed.png", b"trashed").await;
    let hold = server
        .post(
            owner_admin,
            &format!("/v1/media/{live}/holds"),
            json!({ "reason": "case 1" }),
        )
        .await;
    let hold = hold.expect(201, None)["id"].as_i64().expect("hold id");
    server
        .post(
            owner_admin,
            &format!("/v1/media/{live}/references"),
            json!({ "ref": "post:1" }),
        )
        .await
        .expect(201, None);
    server.grant(&alice, live, "grantee", "read").await;
    server
        .post(&alice, &format!("/v1/media/{trashed}/trash"), json!({}))
        .await
        .expect(200, None);
    let missing = trashed + 1_000_000;

    let mut checked = 0;
    for operation in &operations {
        for (target, path) in [(live, "iso/live.png"), (trashed, "iso/trashed.png")] {
            for (who, key) in [
                ("another tenant's admin", &stranger),
                ("an ungranted member", &mallory),
            ] {
                let (method, url, body) =
                    request(operation, missing, "iso/missing.png", hold + 1000);
                let absent = server.send(method, &url, Some(key), body).await;
                let (method, url, body) = request(operation, target, path, hold);
                let present = server.send(method, &url, Some(key), body).await;
                assert!(
                    !present.status.is_success() || present.body["results"].is_array(),
                    "{} {} by {who} succeeded on media {target}: {}",
                    operation.id,
                    url,
                    present.body
                );
                assert_eq!(
                    answer(&present),
                    answer(&absent),
                    "{} by {who}: media {target} answers unlike a missing id ({} vs {})",
                    operation.id,
                    present.body,
                    absent.body
                );
                checked += 1;
            }
            if operation.method != Method::GET {
                let (method, url, body) = request(operation, target, path, hold);
                let by_viewer = server.send(method, &url, Some(&viewer), body).await;
                let changed = by_viewer.status.is_success()
                    && by_viewer.body["results"][0]["status"]
                        .as_u64()
                        .unwrap_or(200)
                        < 300;
                assert!(
                    !changed,
                    "{} by a viewer succeeded: {}",
                    operation.id, by_viewer.body
                );
            }
        }
    }
    assert!(checked >= 80, "{checked} comparisons");

    // Nothing changed: the live item keeps its hold, reference and grant; the other is in the
    // trash.
    let holds = server.get(&alice, &format!("/v1/media/{live}/holds")).await;
    assert_eq!(holds.expect(200, None).as_array().map(Vec::len), Some(1));
    let references = server
        .get(&alice, &format!("/v1/media/{live}/references"))
        .await;
    assert_eq!(
        references.expect(200, None).as_array().map(Vec::len),
        Some(1)
    );
    let grants = server
        .get(&alice, &format!("/v1/media/{live}/grants"))
        .await;
    assert_eq!(grants.expect(200, None).as_array().map(Vec::len), Some(1));
    let trash = server.get(&alice, "/v1/trash").await;
    assert_eq!(ids(trash.expect(200, None)), vec![trashed]);
    let media = server.get(&alice, "/v1/media").await;
    assert_eq!(ids(media.expect(200, None)), vec![live]);
}
