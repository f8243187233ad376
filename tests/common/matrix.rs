//! The level matrix: one request per endpoint with the status each level gets
//! (tests/http.rs asserts them; tests/openapi_statuses.rs records them).

use super::{Daemon, Resp, ROOT_PASSWORD};
use serde_json::{json, Value};

/// (method, path, body, expected status for Root, Admin, User, no token).
/// `{root}` in a path is root's id, `{victim}` a fresh user's id.
#[rustfmt::skip]
pub fn matrix() -> Vec<(&'static str, &'static str, Value, [u16; 4])> {
    vec![
        ("GET", "/api/health", json!(null), [200, 200, 200, 200]),
        ("GET", "/api/openapi.json", json!(null), [200, 200, 200, 200]),
        ("POST", "/api/auth/session/login", json!({"name":"root","password":ROOT_PASSWORD}), [200, 200, 200, 200]),
        ("POST", "/api/auth/session/refresh", json!({}), [400, 400, 400, 400]),
        ("POST", "/api/auth/session/validate", json!(null), [200, 200, 200, 401]),
        // The caller's Bearer token names the session to end; without one, 400.
        ("POST", "/api/auth/session/logout", json!({}), [200, 200, 200, 400]),
        ("POST", "/api/auth/session/logout-all", json!(null), [200, 200, 200, 401]),
        ("GET", "/api/auth/session/me", json!(null), [200, 200, 200, 401]),
        ("GET", "/api/auth/users", json!(null), [200, 200, 403, 401]),
        ("POST", "/api/auth/users", json!({"name":"n{n}","password":"long-enough","level":"User"}), [201, 201, 403, 401]),
        ("GET", "/api/auth/users/{root}", json!(null), [200, 200, 403, 401]),
        ("PATCH", "/api/auth/users/{root}", json!({"name":"root"}), [200, 403, 403, 401]),
        ("PATCH", "/api/auth/users/{victim}", json!({"password":"new-password"}), [200, 200, 403, 401]),
        ("DELETE", "/api/auth/users/{victim}", json!(null), [204, 403, 403, 401]),
        ("GET", "/metrics", json!(null), [200, 200, 200, 401]),
        ("GET", "/api/io/gpio", json!(null), [200, 200, 200, 401]),
        ("GET", "/api/io/gpio/events", json!(null), [200, 200, 200, 401]),
        ("GET", "/api/io/chips", json!(null), [200, 200, 403, 401]),
        ("PUT", "/api/io/sim/gpio/BUTTON", json!({"level":1}), [200, 200, 403, 401]),
        ("GET", "/api/io/gpio/LED", json!(null), [200, 200, 200, 401]),
        ("PUT", "/api/io/gpio/LED", json!({"value":1}), [200, 200, 403, 401]),
        ("POST", "/api/io/gpio/LED/toggle", json!(null), [200, 200, 403, 401]),
        ("POST", "/api/io/gpio/LED/pulse", json!({"ms":1}), [200, 200, 403, 401]),
        ("GET", "/api/supervisor/processes", json!(null), [200, 200, 200, 401]),
        ("GET", "/api/supervisor/processes/sleeper", json!(null), [200, 200, 200, 401]),
        // Past the level check, a running program cannot be started again, nor a stopped one stopped.
        ("POST", "/api/supervisor/processes/sleeper/start", json!(null), [409, 409, 403, 401]),
        ("POST", "/api/supervisor/processes/idle/stop", json!(null), [409, 409, 403, 401]),
        ("POST", "/api/supervisor/processes/sleeper/restart", json!(null), [200, 200, 403, 401]),
        ("POST", "/api/supervisor/processes/sleeper/signal", json!({"signal":"CONT"}), [200, 200, 403, 401]),
        ("GET", "/api/supervisor/processes/sleeper/log", json!(null), [200, 200, 403, 401]),
        ("GET", "/api/supervisor/events", json!(null), [200, 200, 200, 401]),
        // A group action skips members already in the wanted state: 200, not 409.
        ("POST", "/api/supervisor/groups/sleeper/start", json!(null), [200, 200, 403, 401]),
        ("POST", "/api/supervisor/groups/idle/stop", json!(null), [200, 200, 403, 401]),
        ("POST", "/api/supervisor/groups/sleeper/restart", json!(null), [200, 200, 403, 401]),
        ("GET", "/api/audit", json!(null), [200, 200, 403, 401]),
        // A redirect to /docs.html, which the client follows.
        ("GET", "/api/docs", json!(null), [200, 200, 200, 200]),
        ("GET", "/api/info/system", json!(null), [200, 200, 200, 401]),
        ("GET", "/api/info/network", json!(null), [200, 200, 200, 401]),
        // The provider is a closed port: past the level check, 503 saying so.
        ("GET", "/api/info/weather", json!(null), [503, 503, 503, 401]),
        ("GET", "/api/info/history", json!(null), [200, 200, 200, 401]),
        // The matrix's daemon has no SMTP relay: past the level check, 503.
        ("POST", "/api/email/send", json!({"to":"a@b.example","subject":"s","body":"b"}), [503, 503, 403, 401]),
        ("GET", "/api/email/outbox", json!(null), [200, 200, 403, 401]),
        ("POST", "/api/email/outbox/m1/retry", json!(null), [404, 404, 403, 401]),
        // The config file is unchanged: nothing to do, but only a Root may ask.
        ("POST", "/api/supervisor/reload", json!(null), [200, 403, 403, 401]),
        // Any user reaches the XML-RPC handler (an empty body is a fault);
        // its methods' levels are tests/supervisorctl.rs's.
        ("POST", "/RPC2", json!(null), [200, 200, 200, 401]),
        ("GET", "/api/rules", json!(null), [200, 200, 200, 401]),
        ("GET", "/api/rules/events", json!(null), [200, 200, 200, 401]),
    ]
}

/// A matrix path as the route table writes it.
pub fn pattern_of(path: &str) -> String {
    path.replace("/groups/sleeper", "/groups/{group}")
        .replace("/groups/idle", "/groups/{group}")
        .replace("{root}", "{id}")
        .replace("{victim}", "{id}")
        .replace("/LED", "/{name}")
        .replace("/BUTTON", "/{name}")
        .replace("/sleeper", "/{name}")
        .replace("/idle", "/{name}")
        .replace("/outbox/m1/", "/outbox/{id}/")
}

/// The sample config with every optional route present: weather at a closed port.
pub fn matrix_config() -> Value {
    let mut config = super::sample_config();
    config["info"] = json!({"weather": {"url": "http://127.0.0.1:9/v1/forecast", "timeout_s": 2}});
    config
}

/// One request of the matrix and its answer.
pub struct Row {
    pub method: &'static str,
    /// The route's pattern, e.g. `/api/auth/users/{id}`.
    pub pattern: String,
    /// The path requested.
    pub path: String,
    pub role: &'static str,
    /// The status the matrix expects.
    pub want: u16,
    pub resp: Resp,
}

/// Send every matrix request as each role (users `an-admin` and `a-user` are
/// created first) and hand each answer to `check`.
pub fn run_matrix(d: &Daemon, mut check: impl FnMut(Row)) {
    let root = d.root();
    let root_id = d.get("/api/auth/session/me", &root).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    d.user(&root, "an-admin", "Admin");
    d.user(&root, "a-user", "User");
    let token = |name: &str| {
        d.login(name, "password-of-test-user")["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut n = 0;
    for (method, path, body, expected) in matrix() {
        for (role, want) in ["Root", "Admin", "User", "none"].into_iter().zip(expected) {
            n += 1;
            // Fresh tokens and a fresh victim each time: earlier calls may end sessions.
            let token = match role {
                "Root" => Some(d.root()),
                "Admin" => Some(token("an-admin")),
                "User" => Some(token("a-user")),
                _ => None,
            };
            let victim = d.post(
                "/api/auth/users",
                &d.root(),
                json!({"name": format!("v{n}"), "password": "long-enough"}),
            );
            let concrete = path
                .replace("{root}", &root_id)
                .replace("{victim}", victim.body["id"].as_str().unwrap());
            let body =
                serde_json::from_str::<Value>(&body.to_string().replace("{n}", &n.to_string()))
                    .unwrap();
            let body = (!body.is_null()).then_some(body);
            let resp = d.call(method, &concrete, token.as_deref(), body.as_ref());
            check(Row {
                method,
                pattern: pattern_of(path),
                path: concrete,
                role,
                want,
                resp,
            });
        }
    }
}
