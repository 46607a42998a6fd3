//! The `Allow` header of `405 method_not_allowed` answers (RFC 9110 §15.5.6): the methods the
//! documented routes take at the requested path, read from the specs themselves.

use serde_json::Value;

/// The methods of every documented path, as `(segments, methods)`.
#[derive(Debug, Clone, Default)]
pub struct AllowedMethods(Vec<(Vec<String>, String)>);

impl AllowedMethods {
    /// From finished OpenAPI documents.
    pub fn from_specs<'a>(specs: impl IntoIterator<Item = &'a str>) -> Self {
        let mut routes = Vec::new();
        for spec in specs {
            let Ok(doc) = serde_json::from_str::<Value>(spec) else {
                continue;
            };
            let Some(paths) = doc["paths"].as_object() else {
                continue;
            };
            for (path, item) in paths {
                let Some(item) = item.as_object() else {
                    continue;
                };
                let mut methods: Vec<String> = item
                    .keys()
                    .map(|method| method.to_ascii_uppercase())
                    .collect();
                if methods.iter().any(|m| m == "GET") {
                    methods.push("HEAD".to_owned());
                }
                methods.sort();
                let segments = path.split('/').map(str::to_owned).collect();
                routes.push((segments, methods.join(", ")));
            }
        }
        Self(routes)
    }

    /// The `Allow` value for a request path, if a documented path matches it. A template
    /// segment (`{id}`) matches any one segment; a trailing `{path}` matches the rest, as the
    /// delete by path takes slashes unencoded too.
    pub fn of(&self, path: &str) -> Option<&str> {
        let requested: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .find(|(template, _)| matches(template, &requested))
            .map(|(_, methods)| methods.as_str())
    }
}

fn matches(template: &[String], requested: &[&str]) -> bool {
    let rest = template.last().is_some_and(|last| last == "{path}");
    if requested.len() < template.len() || (!rest && requested.len() != template.len()) {
        return false;
    }
    template.iter().zip(requested).all(|(expected, got)| {
        if expected.starts_with('{') {
            !got.is_empty()
        } else {
            expected == got
        }
    })
}

#[cfg(test)]
mod tests {
    use super::AllowedMethods;

    const SPEC: &str = r#"{"paths": {
        "/v1/media": {"get": {}, "post": {}},
        "/v1/media/{id}": {"get": {}, "delete": {}},
        "/v1/media/by-path/{path}": {"delete": {}}
    }}"#;

    #[test]
    fn the_documented_methods_of_the_matching_path() {
        let allowed = AllowedMethods::from_specs([SPEC]);
        assert_eq!(allowed.of("/v1/media"), Some("GET, HEAD, POST"));
        assert_eq!(allowed.of("/v1/media/7"), Some("DELETE, GET, HEAD"));
        assert_eq!(allowed.of("/v1/media/by-path/a/b.jpg"), Some("DELETE"));
        assert_eq!(allowed.of("/v1/nothing"), None);
        assert_eq!(allowed.of("/v1/media/7/extra"), None);
    }
}
