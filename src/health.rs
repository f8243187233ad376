//! `/api/health`, each service's health, and the machine-readable API documents.

use crate::http::openapi;
use crate::http::reply::{ApiError, Reply};
use crate::http::router::{Access, Route};
use serde_json::{json, Map, Value};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// A subsystem's state: `Ok` or the reason it is degraded.
pub type Check = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// The services of the original, each with its own health and API document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Auth,
    Supervisor,
    Io,
    Info,
    Email,
    Rules,
}

impl Service {
    pub const ALL: [Service; 6] = [
        Service::Auth,
        Service::Supervisor,
        Service::Io,
        Service::Info,
        Service::Email,
        Service::Rules,
    ];

    /// The name in URLs (`/api/NAME/...`) and in the health report.
    pub fn name(self) -> &'static str {
        match self {
            Service::Auth => "auth",
            Service::Supervisor => "supervisor",
            Service::Io => "io",
            Service::Info => "info",
            Service::Email => "email",
            Service::Rules => "rules",
        }
    }

    /// `/api/NAME/health` and `/api/NAME/apispec.json`.
    fn paths(self) -> (&'static str, &'static str) {
        match self {
            Service::Auth => ("/api/auth/health", "/api/auth/apispec.json"),
            Service::Supervisor => ("/api/supervisor/health", "/api/supervisor/apispec.json"),
            Service::Io => ("/api/io/health", "/api/io/apispec.json"),
            Service::Info => ("/api/info/health", "/api/info/apispec.json"),
            Service::Email => ("/api/email/health", "/api/email/apispec.json"),
            Service::Rules => ("/api/rules/health", "/api/rules/apispec.json"),
        }
    }
}

const ABSENT: &str = "not available in this version";

enum ServiceState {
    Ok,
    /// Not built, or not configured: said, but not a fault of the daemon.
    Absent(String),
    Degraded(String),
}

pub struct Health {
    started: Instant,
    checks: Vec<(Service, Check)>,
    /// Services present in this build but switched off by the config, and why.
    off: Vec<(Service, String)>,
}

impl Default for Health {
    fn default() -> Health {
        Health::new()
    }
}

impl Health {
    pub fn new() -> Health {
        Health {
            started: Instant::now(),
            checks: Vec::new(),
            off: Vec::new(),
        }
    }

    /// Register the check of a subsystem.
    pub fn add(&mut self, service: Service, check: Check) {
        self.checks.push((service, check));
    }

    /// A service the config leaves off (e.g. no SMTP relay): reported with
    /// `reason` instead of "not available", and not counted as degraded.
    pub fn off(&mut self, service: Service, reason: impl Into<String>) {
        self.off.push((service, reason.into()));
    }

    /// One service: `Ok`, or why not. A service that registered no check is not
    /// part of this build, which is not a fault of the daemon.
    fn service(&self, service: Service) -> ServiceState {
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
        for service in Service::ALL {
            let state = match self.service(service) {
                ServiceState::Ok => "ok".to_string(),
                ServiceState::Absent(reason) => reason,
                ServiceState::Degraded(reason) => {
                    all_ok = false;
                    reason
                }
            };
            map.insert(service.name().into(), Value::String(state));
        }
        (all_ok, map)
    }

    pub fn uptime_s(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

/// A `GET` anyone may call: every route here is one.
fn public_get(
    path: &'static str,
    summary: &'static str,
    handler: impl Fn(&crate::http::request::Ctx) -> Result<Reply, ApiError> + Send + Sync + 'static,
) -> Route {
    Route::new("GET", path, Access::Public, summary, handler)
}

/// The routes of health and of the API documents. The documents are made from the
/// finished route table, handed in through `table` once the router is built.
pub fn routes(health: Arc<Health>, table: Arc<OnceLock<Documents>>) -> Vec<Route> {
    let overall = health.clone();
    let docs = table.clone();
    let mut routes = vec![
        public_get("/api/health", "Daemon health", move |_| {
            let (ok, subsystems) = overall.report();
            Ok(Reply::ok(&json!({
                "status": if ok { "ok" } else { "degraded" },
                "version": env!("CARGO_PKG_VERSION"),
                "uptime_s": overall.uptime_s(),
                "subsystems": subsystems,
            })))
        }),
        public_get(
            "/api/openapi.json",
            "OpenAPI 3 document of the whole API",
            move |_| document(&docs, None),
        ),
        // The page that renders the document is static (www/docs.html, under the
        // page's CSP); this is its address in the API's namespace.
        public_get(
            "/api/docs",
            "The API documentation page (a redirect to /docs.html, which renders /api/openapi.json)",
            |_| {
                let mut reply = Reply::text(302, b"see /docs.html\n".to_vec());
                reply.headers.push(("Location", "/docs.html".to_string()));
                Ok(reply)
            },
        )
        // what a client that follows the redirect gets
        .answers("text/html"),
    ];
    for service in Service::ALL {
        let (health_path, spec_path) = service.paths();
        let (one, docs) = (health.clone(), table.clone());
        // A client can see a 503 only where the config or the outside world
        // decides it: a service left off, and mail whose relay fails. The other
        // checks fail only when a thread of the daemon has died (`default`).
        let can_fail =
            service == Service::Email || matches!(health.service(service), ServiceState::Absent(_));
        let mut route = public_get(health_path, "Service health (503 unless ok)", move |_| {
            Ok(service_reply(&one, service))
        });
        if can_fail {
            route = route.fails(503, "The service is off or degraded; the message says why");
        }
        routes.push(route);
        routes.push(public_get(
            spec_path,
            "OpenAPI document of one service",
            move |_| document(&docs, Some(service)),
        ));
    }
    routes
}

fn service_reply(health: &Health, service: Service) -> Reply {
    let service_name = service.name();
    match health.service(service) {
        ServiceState::Ok => Reply::ok(&json!({"status": "ok", "service": service_name})),
        ServiceState::Absent(reason) => Reply::json(
            503,
            &json!({"status": "unavailable", "service": service_name, "message": reason}),
        ),
        ServiceState::Degraded(reason) => Reply::json(
            503,
            &json!({"status": "degraded", "service": service_name, "message": reason}),
        ),
    }
}

/// The API documents: the whole one (`None`) and one per service.
pub type Documents = Vec<(Option<Service>, Value)>;

fn document(docs: &OnceLock<Documents>, service: Option<Service>) -> Result<Reply, ApiError> {
    docs.get()
        .and_then(|d| d.iter().find(|(s, _)| *s == service))
        .map(|(_, doc)| Reply::ok(doc))
        .ok_or_else(|| ApiError::unavailable("the API document is not ready yet"))
}

/// Build the whole document and one per service, from the route table.
pub fn documents(routes: &[Route]) -> Documents {
    let mut docs = vec![(None, openapi::document(routes, None))];
    for service in Service::ALL {
        docs.push((
            Some(service),
            openapi::document(routes, Some(service.name())),
        ));
    }
    docs
}
