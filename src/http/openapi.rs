//! The OpenAPI 3 document, generated from the route table so it cannot drift from
//! what is routed. `/api/<service>/apispec.json` is the same document cut to one
//! service, as the original's flasgger pages were.

use super::router::{Access, Lane, Route};
use crate::auth::Level;
use serde_json::{json, Map, Value};

/// The schema of every error answer: `{"message": ...}`.
fn error_schema() -> Value {
    json!({"type": "object", "required": ["message"],
           "properties": {"message": {"type": "string"}}})
}

/// The documented answers of a route: its successes (any 2xx when it declares
/// none), the errors its shape implies, and those its handler declares
/// ([`Route::fails`]). Only statuses a client can reach are listed (the
/// statuses test drives each one); anything else (a full disk, a busy pool, a
/// body past the limit) is `default`.
fn responses(route: &Route, has_params: bool) -> Value {
    let error = |why: &str| {
        json!({"description": why,
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
    };
    let success = |status: u16, schema: &Value| match status {
        204 => json!({"description": "Done; no content"}),
        _ => json!({"description": "Success",
                    "content": {route.content_type: {"schema": schema}}}),
    };
    let mut out = Map::new();
    for (status, schema) in &route.responses {
        out.insert(status.to_string(), success(*status, schema));
    }
    if route.responses.is_empty() {
        out.insert("2XX".into(), success(200, &json!({})));
    }
    // Path parameters are any non-empty text: a bad one is an unknown
    // resource (404), not a bad request. Bodies and query values can be bad.
    if route.body.is_some() || !route.query.is_empty() {
        out.insert(
            "400".into(),
            error("The request is not valid; the message says why"),
        );
    }
    if let Access::AtLeast(level) = route.access {
        out.insert("401".into(), error("No valid access token"));
        // Every logged-in caller is at least a User: only a higher floor refuses.
        if level > Level::User {
            out.insert("403".into(), error("The caller's level may not do this"));
        }
    }
    if has_params {
        out.insert("404".into(), error("No such resource"));
    }
    if route.lane == Lane::Password {
        out.insert(
            "429".into(),
            error("Too many attempts: wait Retry-After seconds"),
        );
    }
    for (status, when) in &route.errors {
        out.insert(status.to_string(), error(when));
    }
    out.insert(
        "default".into(),
        error("An error; the message says what to do next"),
    );
    Value::Object(out)
}

/// The operationId of a route: its method and pattern, e.g. `get /api/auth/users/{id}`.
fn operation_id(route: &Route) -> String {
    format!("{} {}", route.method.to_ascii_lowercase(), route.pattern)
}

/// The links of a creating route (one that answers 201 with an `id`): to each
/// route on `<its path>/{param}`, with the new resource's id, so that a client
/// (and schemathesis's stateful phase) can follow create -> read -> change -> delete.
fn links(route: &Route, routes: &[Route]) -> Option<Value> {
    route.responses.iter().find(|(status, _)| *status == 201)?;
    let prefix = format!("{}/{{", route.pattern);
    let mut out = Map::new();
    for other in routes.iter().filter(|r| r.pattern.starts_with(&prefix)) {
        let rest = &other.pattern[prefix.len()..];
        let Some(param) = rest.strip_suffix('}').filter(|p| !p.contains('/')) else {
            continue;
        };
        out.insert(
            format!("{}{}", other.method.to_ascii_lowercase(), "ById"),
            json!({"operationId": operation_id(other),
                   "parameters": {param: "$response.body#/id"}}),
        );
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

pub fn document(routes: &[Route], service: Option<&str>) -> Value {
    let mut paths = Map::new();
    for route in routes
        .iter()
        .filter(|r| service.is_none_or(|s| r.service() == s))
    {
        let mut params: Vec<Value> = route
            .pattern
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "operationId": operation_id(route),
            "summary": route.summary,
            "tags": [route.service()],
            "responses": responses(route, !params.is_empty()),
        });
        params.extend(route.query.iter().map(|q| {
            json!({"name": q.name, "in": "query", "required": false,
                   "description": q.description, "schema": q.schema})
        }));
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if let Some(links) = links(route, routes) {
            op["responses"]["201"]["links"] = links;
        }
        if let Some(schema) = &route.body {
            op["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": schema}}
            });
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
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {"Error": error_schema()}
        },
        "security": [{"bearer": []}],
        "paths": paths
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::reply::Reply;

    fn route(method: &'static str, pattern: &'static str, access: Access) -> Route {
        Route::new(method, pattern, access, "", |_| Ok(Reply::no_content()))
    }

    fn statuses(route: Route) -> Vec<String> {
        let doc = document(std::slice::from_ref(&route), None);
        let op = &doc["paths"][route.pattern][route.method.to_ascii_lowercase()];
        op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    /// Only what a client can reach: no 400 without a body or a query, no 403
    /// where every caller passes the floor, declared errors as declared.
    #[test]
    fn the_statuses_follow_the_shape_of_the_route() {
        let user = Access::AtLeast(Level::User);
        let admin = Access::AtLeast(Level::Admin);
        assert_eq!(
            statuses(route("GET", "/api/x/{id}", user)),
            ["2XX", "401", "404", "default"]
        );
        assert_eq!(
            statuses(route("POST", "/api/x/{id}/go", admin).fails(409, "busy")),
            ["2XX", "401", "403", "404", "409", "default"]
        );
        let query = route("GET", "/api/x", Access::Public).query(&[(
            "after",
            "from",
            json!({"type": "integer"}),
        )]);
        assert_eq!(statuses(query), ["2XX", "400", "default"]);
        let body = route("POST", "/api/x", Access::Public)
            .body(json!({}))
            .password();
        assert_eq!(statuses(body), ["2XX", "400", "429", "default"]);
    }

    #[test]
    fn query_parameters_are_documented_in_query() {
        let r = route("GET", "/api/x/{id}", Access::Public).query(&[(
            "limit",
            "at most",
            json!({"type": "integer", "minimum": 0}),
        )]);
        let doc = document(std::slice::from_ref(&r), None);
        let params = &doc["paths"]["/api/x/{id}"]["get"]["parameters"];
        assert_eq!(params[0]["in"], "path");
        assert_eq!(
            params[1],
            json!({"name": "limit", "in": "query", "required": false, "description": "at most",
                   "schema": {"type": "integer", "minimum": 0}})
        );
    }
}
