//! `/api/health`, each service's health, and the machine-readable API documents.

use crate::http::openapi;
use crate::http::reply::{ApiError, Reply};
use crate::http::router::{Access, Route};
use serde_json::{json, Map, Value};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// A subsystem's state: `Ok` or the reason it is degraded.
pub type Check = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

pub const SERVICES: [&str; 5] = ["auth", "supervisor", "io", "info", "email"];

const ABSENT: &str = "not available in this version";

enum ServiceState {
    Ok,
    /// Not built, or not configured: said, but not a fault of the daemon.
    Absent(String),
    Degraded(String),
}

pub struct Health {
    started: Instant,
    checks: Vec<(&'static str, Check)>,
    /// Services present in this build but switched off by the config, and why.
    off: Vec<(&'static str, String)>,
}

impl Health {
    pub fn new() -> Health {
        Health {
            started: Instant::now(),
            checks: Vec::new(),
            off: Vec::new(),
        }
    }

    /// Register the check of a subsystem (one of [`SERVICES`]).
    pub fn add(&mut self, service: &'static str, check: Check) {
        self.checks.push((service, check));
    }

    /// A service the config leaves off (e.g. no SMTP relay): reported with
    /// `reason` instead of "not available", and not counted as degraded.
    pub fn off(&mut self, service: &'static str, reason: impl Into<String>) {
        self.off.push((service, reason.into()));
    }

    /// One service: `Ok`, or why not. A service that registered no check is not
    /// part of this build, which is not a fault of the daemon.
    fn service(&self, service: &str) -> ServiceState {
        let mut checks = self.checks.iter().filter(|(s, _)| *s == service).peekable();
        if checks.peek().is_none() {
            let reason = self.off.iter().find(|(s, _)| *s == service);
            return ServiceState::Absent(reason.map_or(ABSENT.to_string(), |(_, r)| r.clone()));
        }
        for (_, check) in checks {
            if let Err(reason) = check() {
                return ServiceState::Degraded(reason);
            }
        }
        ServiceState::Ok
    }

    /// Per service "ok" or its reason, and whether all present ones are ok.
    pub fn report(&self) -> (bool, Map<String, Value>) {
        let mut all_ok = true;
        let mut map = Map::new();
        for service in SERVICES {
            let state = match self.service(service) {
                ServiceState::Ok => "ok".to_string(),
                ServiceState::Absent(reason) => reason,
                ServiceState::Degraded(reason) => {
                    all_ok = false;
                    reason
                }
            };
            map.insert(service.into(), Value::String(state));
        }
        (all_ok, map)
    }

    pub fn uptime_s(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

/// The routes of health and of the API documents. The documents are made from the
/// finished route table, handed in through `table` once the router is built.
pub fn routes(health: Arc<Health>, table: Arc<OnceLock<Vec<(String, Value)>>>) -> Vec<Route> {
    let overall = health.clone();
    let mut routes = vec![Route::new(
        "GET",
        "/api/health",
        Access::Public,
        "Daemon health",
        move |_| {
            let (ok, subsystems) = overall.report();
            Ok(Reply::ok(&json!({
                "status": if ok { "ok" } else { "degraded" },
                "version": env!("CARGO_PKG_VERSION"),
                "uptime_s": overall.uptime_s(),
                "subsystems": subsystems,
            })))
        },
    )];
    let docs = table.clone();
    routes.push(Route::new(
        "GET",
        "/api/openapi.json",
        Access::Public,
        "OpenAPI 3 document of the whole API",
        move |_| document(&docs, ""),
    ));
    for service in SERVICES {
        let (health_path, spec_path): (&'static str, &'static str) = match service {
            "auth" => ("/api/auth/health", "/api/auth/apispec.json"),
            "supervisor" => ("/api/supervisor/health", "/api/supervisor/apispec.json"),
            "io" => ("/api/io/health", "/api/io/apispec.json"),
            "info" => ("/api/info/health", "/api/info/apispec.json"),
            _ => ("/api/email/health", "/api/email/apispec.json"),
        };
        let one = health.clone();
        routes.push(Route::new(
            "GET",
            health_path,
            Access::Public,
            "Service health (503 unless ok)",
            move |_| Ok(service_reply(&one, service)),
        ));
        let docs = table.clone();
        routes.push(Route::new(
            "GET",
            spec_path,
            Access::Public,
            "OpenAPI document of one service",
            move |_| document(&docs, service),
        ));
    }
    routes
}

fn service_reply(health: &Health, service: &str) -> Reply {
    match health.service(service) {
        ServiceState::Ok => Reply::ok(&json!({"status": "ok", "service": service})),
        ServiceState::Absent(reason) => Reply::json(
            503,
            &json!({"status": "unavailable", "service": service, "message": reason}),
        ),
        ServiceState::Degraded(reason) => Reply::json(
            503,
            &json!({"status": "degraded", "service": service, "message": reason}),
        ),
    }
}

fn document(docs: &OnceLock<Vec<(String, Value)>>, service: &str) -> Result<Reply, ApiError> {
    docs.get()
        .and_then(|d| d.iter().find(|(s, _)| s == service))
        .map(|(_, doc)| Reply::ok(doc))
        .ok_or_else(|| ApiError::unavailable("the API document is not ready yet"))
}

/// Build the whole document (key "") and one per service, from the route table.
pub fn documents(routes: &[Route]) -> Vec<(String, Value)> {
    let mut docs = vec![(String::new(), openapi::document(routes, None))];
    for service in SERVICES {
        docs.push((
            service.to_string(),
            openapi::document(routes, Some(service)),
        ));
    }
    docs
}
