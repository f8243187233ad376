//! The OpenAPI 3 document, generated from the route table so it cannot drift from
//! what is routed. `/api/<service>/apispec.json` is the same document cut to one
//! service, as the original's flasgger pages were.

use super::router::{Access, Route};
use serde_json::{json, Map, Value};

pub fn document(routes: &[Route], service: Option<&str>) -> Value {
    let mut paths = Map::new();
    for route in routes
        .iter()
        .filter(|r| service.is_none_or(|s| r.service() == s))
    {
        let params: Vec<Value> = route
            .pattern
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": route.summary,
            "tags": [route.service()],
            "responses": {
                "default": {"description": "JSON; errors are {\"message\": ...}",
                            "content": {"application/json": {"schema": {"type": "object"}}}}
            }
        });
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        match route.access {
            Access::Public => op["security"] = json!([]),
            Access::AtLeast(level) => {
                op["security"] = json!([{"bearer": []}]);
                op["x-level"] = json!(format!("{level:?}+"));
            }
        }
        let entry = paths
            .entry(route.pattern.to_string())
            .or_insert_with(|| json!({}));
        entry[route.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": match service { Some(s) => format!("pistack {s}"), None => "pistack".to_string() },
            "version": env!("CARGO_PKG_VERSION"),
            "description": "One daemon for a Raspberry Pi: auth, supervisor, io, info, email. Levels: Root > Admin > User."
        },
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        "security": [{"bearer": []}],
        "paths": paths
    })
}
