//! The last touches on a generated OpenAPI document, for what poem-openapi cannot say:
//! public operations declare `security: []` (not "unspecified"), a success response
//! without a description of its own is described by its schema, and unsigned integers state
//! their `minimum` of 0 (poem-openapi states only their format).

use poem::endpoint::make_sync;
use poem::{Endpoint, Response};
use serde_json::{json, Map, Value};

/// The finished document, pretty-printed.
pub fn finish(raw: &str) -> String {
    let mut doc: Value = serde_json::from_str(raw).expect("poem-openapi writes valid JSON");
    unsigned_minimum(&mut doc);
    let schemas = doc["components"]["schemas"].clone();
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, operation) in paths.iter_mut() {
            let Some(operations) = operation.as_object_mut() else {
                continue;
            };
            for (method, operation) in operations.iter_mut() {
                let Some(operation) = operation.as_object_mut() else {
                    continue;
                };
                let authenticated = operation.contains_key("security");
                if method == "post" && path.starts_with("/v1/") && authenticated {
                    idempotent(operation);
                }
                operation.entry("security").or_insert_with(|| json!([]));
                describe_responses(operation, &schemas);
            }
        }
    }
    serde_json::to_string_pretty(&doc).expect("a JSON value serializes")
}

/// Documents `Idempotency-Key` on an authenticated POST (the `idempotency` middleware serves
/// it on every one): the header, and the 409 and 422 it can answer.
fn idempotent(operation: &mut Map<String, Value>) {
    let parameter = json!({
        "name": "Idempotency-Key",
        "in": "header",
        "required": false,
        "description": "Makes a retry safe: the first success with this key (1 to 255 visible \
            ASCII characters, e.g. a UUID) is replayed, with `Idempotency-Replayed: true`, to \
            requests with the same key and the same method, path, query, `Content-Type` and \
            body for 24 hours (`idempotency_ttl_secs`); keys are per tenant.",
        "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$" },
    });
    if let Some(parameters) = operation
        .entry("parameters")
        .or_insert_with(|| json!([]))
        .as_array_mut()
    {
        parameters.push(parameter);
    }
    let error = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json; charset=utf-8": {
                "schema": { "$ref": "#/components/schemas/ErrorBody" } } },
        })
    };
    if let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    {
        responses.entry("409").or_insert_with(|| {
            error("A request with this `Idempotency-Key` is still running (`idempotency_key_in_use`).")
        });
        responses.insert(
            "422".to_owned(),
            error(
                "This `Idempotency-Key` was used for another request (`idempotency_key_reused`).",
            ),
        );
    }
}

/// Adds `minimum: 0` to every `uint*` integer schema that has no minimum.
fn unsigned_minimum(value: &mut Value) {
    match value {
        Value::Object(object) => {
            let unsigned = object
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|format| format.starts_with("uint"));
            if unsigned && !object.contains_key("minimum") {
                object.insert("minimum".to_owned(), json!(0));
            }
            object.values_mut().for_each(unsigned_minimum);
        }
        Value::Array(items) => items.iter_mut().for_each(unsigned_minimum),
        _ => {}
    }
}

fn describe_responses(operation: &mut Map<String, Value>, schemas: &Value) {
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for response in responses.values_mut() {
        if response["description"].as_str().is_some_and(str::is_empty) {
            let schema = response["content"]
                .as_object()
                .and_then(|content| content.values().next())
                .map_or(&Value::Null, |media| &media["schema"]);
            let description = describe(schema, schemas);
            response["description"] = json!(description);
        }
    }
}

/// The description of the schema a response carries.
fn describe(schema: &Value, schemas: &Value) -> String {
    let named = |reference: &Value| {
        let name = reference.as_str()?.rsplit('/').next()?;
        schemas[name]["description"].as_str().map(str::to_owned)
    };
    if let Some(description) = named(&schema["$ref"]) {
        return description;
    }
    if let Some(description) = named(&schema["items"]["$ref"]) {
        let mut item = description.trim_end_matches('.').to_owned();
        if let Some(first) = item.get_mut(..1) {
            first.make_ascii_lowercase();
        }
        return format!("A list; each item is {item}.");
    }
    "Success".to_owned()
}

/// Serves a finished document as `application/json`.
pub fn served(document: String) -> impl Endpoint<Output = Response> {
    make_sync(move |_| {
        Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(document.clone())
    })
}
