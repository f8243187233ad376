//! The route table: method, path pattern with `{params}`, the level a caller needs,
//! and the handler. Each route's floor level is checked here, before any handler
//! runs; finer rules (a User may read only itself) are its subsystem core's, such
//! as `auth::policy`. The OpenAPI document is generated from the same table.

use super::reply::{ApiError, Reply};
use super::request::{percent_decode, Ctx};
use crate::auth::Level;
use serde_json::Value;
use std::sync::Arc;

/// Shared, so that a slow route's handler can be run off the worker that found it.
pub type Handler = Arc<dyn Fn(&Ctx) -> Result<Reply, ApiError> + Send + Sync>;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// Any logged-in user whose level is at least this one. Finer rules (e.g. a user
    /// may read itself) are the subsystem core's, on top of this floor.
    AtLeast(Level),
}

pub struct Route {
    pub method: &'static str,
    pub pattern: &'static str,
    pub access: Access,
    pub summary: &'static str,
    pub handler: Handler,
    /// Which threads run the handler.
    pub lane: Lane,
    /// The OpenAPI (JSON Schema) of the JSON body the handler reads, if it reads one.
    pub body: Option<Value>,
    /// The documented successful answers: status and the schema of their JSON
    /// (none given: any 2xx JSON). Errors are documented for every route alike.
    pub responses: Vec<(u16, Value)>,
    /// The media type of the successful answers.
    pub content_type: &'static str,
    /// The query parameters the handler reads; a bad value is a 400.
    pub query: Vec<QueryParam>,
    /// Error statuses the handler itself gives beyond those the route's shape
    /// implies (see `openapi::responses`), each with when it happens.
    pub errors: Vec<(u16, &'static str)>,
}

/// A query parameter a route reads, for its OpenAPI `parameters`.
pub struct QueryParam {
    pub name: &'static str,
    pub description: &'static str,
    /// The JSON Schema of the value (what the handler accepts, no more).
    pub schema: Value,
}

/// The threads a route's handler runs on, so that nothing that may wait runs
/// on the workers that answer health, tokens and files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Answers at once: run by the worker that read the request.
    Fast,
    /// May take seconds (a pulse, a wait for a program to start): the slow pool.
    Slow,
    /// Checks a password, and may wait its turn for one of the few password
    /// checks allowed at once: the password pool, so that a flood of logins
    /// neither holds the workers nor the pulses and start/stop waits.
    Password,
}

impl Route {
    pub fn new(
        method: &'static str,
        pattern: &'static str,
        access: Access,
        summary: &'static str,
        handler: impl Fn(&Ctx) -> Result<Reply, ApiError> + Send + Sync + 'static,
    ) -> Route {
        Route {
            method,
            pattern,
            access,
            summary,
            handler: Arc::new(handler),
            lane: Lane::Fast,
            body: None,
            responses: Vec::new(),
            content_type: "application/json",
            query: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Document the query parameters the handler reads: (name, meaning, schema).
    pub fn query(mut self, params: &[(&'static str, &'static str, Value)]) -> Route {
        self.query
            .extend(params.iter().map(|(name, description, schema)| QueryParam {
                name,
                description,
                schema: schema.clone(),
            }));
        self
    }

    /// Document an error status the handler gives (a 409 of the core, a 503 of
    /// a missing relay...) and when. Only what a client can really reach: the
    /// statuses test (tests/openapi_statuses.rs) drives every one.
    pub fn fails(mut self, status: u16, when: &'static str) -> Route {
        self.errors.push((status, when));
        self
    }

    /// Document the JSON body the route reads (an OpenAPI schema object).
    pub fn body(mut self, schema: Value) -> Route {
        self.body = Some(schema);
        self
    }

    /// Document a successful answer: its status and the schema of its JSON.
    pub fn responds(mut self, status: u16, schema: Value) -> Route {
        self.responses.push((status, schema));
        self
    }

    /// Document that the route answers `content_type`, not JSON.
    pub fn answers(mut self, content_type: &'static str) -> Route {
        self.content_type = content_type;
        self
    }

    /// Mark the route as one that may take seconds (see [`Lane::Slow`]).
    pub fn slow(mut self) -> Route {
        self.lane = Lane::Slow;
        self
    }

    /// Mark the route as one that checks a password (see [`Lane::Password`]).
    pub fn password(mut self) -> Route {
        self.lane = Lane::Password;
        self
    }

    /// The service a route belongs to: `/api/<service>/...`.
    pub fn service(&self) -> &'static str {
        self.pattern
            .strip_prefix("/api/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or("")
    }
}

pub struct Router {
    routes: Vec<Route>,
}

/// The outcome of looking up a method and path.
pub enum Match<'a> {
    Found(&'a Route, Vec<(&'static str, String)>),
    /// The path exists, not with this method; the methods it has.
    WrongMethod(Vec<&'static str>),
    NotFound,
}

impl Router {
    pub fn new(routes: Vec<Route>) -> Router {
        Router { routes }
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn find(&self, method: &str, path: &str) -> Match<'_> {
        let mut allowed = Vec::new();
        // HEAD is answered as GET without a body.
        let method = if method == "HEAD" { "GET" } else { method };
        // Only the patterns with the fewest parameters that match count: the path
        // /gpio/events is that route's, for every method, not also pin "events"'s.
        let matching: Vec<_> = self
            .routes
            .iter()
            .filter_map(|r| match_pattern(r.pattern, path).map(|p| (r, p)))
            .collect();
        let fewest = matching.iter().map(|(_, p)| p.len()).min();
        for (route, params) in matching {
            if Some(params.len()) != fewest {
                continue;
            }
            if route.method == method {
                return Match::Found(route, params);
            }
            if !allowed.contains(&route.method) {
                allowed.push(route.method);
            }
        }
        if allowed.is_empty() {
            Match::NotFound
        } else {
            Match::WrongMethod(allowed)
        }
    }
}

/// Match `/api/x/{id}` against `/api/x/42`; literal segments win over parameters
/// only by route order, so list literal routes (`/gpio/events`) before `{name}` ones.
fn match_pattern(pattern: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let mut params = Vec::new();
    let mut pat = pattern.split('/');
    let mut segs = path.split('/');
    loop {
        match (pat.next(), segs.next()) {
            (None, None) => return Some(params),
            (Some(p), Some(s)) => {
                if let Some(name) = p.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    let value = percent_decode(s)?;
                    if value.is_empty() {
                        return None;
                    }
                    params.push((name, value));
                } else if p != s {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(_: &Ctx) -> Result<Reply, ApiError> {
        Ok(Reply::no_content())
    }

    fn router() -> Router {
        Router::new(vec![
            Route::new("GET", "/api/io/gpio/events", Access::Public, "", ok),
            Route::new("GET", "/api/io/gpio/{name}", Access::Public, "", ok),
            Route::new("PUT", "/api/io/gpio/{name}", Access::Public, "", ok),
            Route::new("POST", "/api/io/gpio/{name}/toggle", Access::Public, "", ok),
        ])
    }

    #[test]
    fn params_and_literals() {
        let r = router();
        match r.find("GET", "/api/io/gpio/events") {
            Match::Found(route, params) => {
                assert_eq!(route.pattern, "/api/io/gpio/events");
                assert!(params.is_empty());
            }
            _ => panic!("no match"),
        }
        match r.find("POST", "/api/io/gpio/L%20ED/toggle") {
            Match::Found(_, params) => assert_eq!(params, vec![("name", "L ED".to_string())]),
            _ => panic!("no match"),
        }
    }

    #[test]
    fn wrong_method_lists_allowed() {
        match router().find("DELETE", "/api/io/gpio/LED") {
            Match::WrongMethod(allowed) => assert_eq!(allowed, vec!["GET", "PUT"]),
            _ => panic!("expected 405"),
        }
    }

    /// A literal path is its route's for every method: PUT on /gpio/events is a
    /// 405 that allows GET, not a write of a pin named "events".
    #[test]
    fn literal_paths_shadow_parameters_for_every_method() {
        match router().find("PUT", "/api/io/gpio/events") {
            Match::WrongMethod(allowed) => assert_eq!(allowed, vec!["GET"]),
            _ => panic!("expected 405"),
        }
    }

    #[test]
    fn unknown_and_partial_paths() {
        let r = router();
        assert!(matches!(r.find("GET", "/api/io/gpio"), Match::NotFound));
        assert!(matches!(
            r.find("GET", "/api/io/gpio/a/b/c"),
            Match::NotFound
        ));
        assert!(matches!(r.find("GET", "/api/io/gpio/"), Match::NotFound));
        assert!(matches!(r.find("HEAD", "/api/io/gpio/x"), Match::Found(..)));
    }
}
