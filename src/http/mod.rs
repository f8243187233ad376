//! The HTTP front: a pool of worker threads sharing one tiny_http server. Each
//! request goes through the router (JSON API) or to the static files of `www_dir`.
//! Every answer carries the security headers; every request gets one access-log line.
//!
//! A request reaches a worker only once its head and body are in memory (the
//! vendored tiny_http reads them, bounded and with deadlines), and routes that
//! may take seconds run on the [`slow`] pool, so the workers stay free for
//! health checks, logins, tokens and files whatever clients do.

pub mod bearer;
pub mod config;
pub mod openapi;
pub mod redirect;
pub mod reply;
pub mod request;
pub mod router;
pub mod slow;
pub mod static_files;
pub mod tls;
#[cfg(test)]
mod vendor_tests;

use crate::auth::Auth;
use config::HttpConfig;
use reply::{ApiError, Reply};
use request::{parse_query, Ctx};
use router::{Access, Handler, Lane, Match, Router};
use slow::SlowPool;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Everything a worker needs to answer a request.
pub struct Site {
    pub router: Router,
    pub auth: Arc<Auth>,
    pub www_dir: PathBuf,
    pub max_body_bytes: usize,
    pub stats: Arc<Stats>,
}

/// Request counts, for `/metrics` and the info history.
#[derive(Default)]
pub struct Stats {
    pub by_class: [AtomicU64; 6],
    /// By route pattern (not the raw path: bounded by the route table) and status.
    by_route: std::sync::Mutex<std::collections::BTreeMap<(&'static str, u16), u64>>,
}

/// The `route` label of a request outside the API (a file of the web page).
const STATIC_ROUTE: &str = "static";
/// The `route` label of an API path no route has (answered 404).
const NO_ROUTE: &str = "none";

impl Stats {
    fn count(&self, route: &'static str, status: u16) {
        let class = (status / 100).min(5) as usize;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        let mut by_route = self.by_route.lock().unwrap_or_else(|p| p.into_inner());
        *by_route.entry((route, status)).or_insert(0) += 1;
    }

    /// Requests answered so far, all statuses.
    pub fn total(&self) -> u64 {
        self.by_class
            .iter()
            .map(|n| n.load(Ordering::Relaxed))
            .sum()
    }

    /// Prometheus family: requests answered, by route pattern and status.
    pub fn write_metrics(&self, out: &mut crate::metrics::Writer) {
        let by_route = self.by_route.lock().unwrap_or_else(|p| p.into_inner());
        let mut f = out.family(
            "pistack_http_requests_total",
            crate::metrics::Kind::Counter,
            "HTTP requests answered, by route pattern (static: the web page; none: no such endpoint) and status.",
        );
        for ((route, status), n) in by_route.iter() {
            f.sample(&[("route", route), ("status", &status.to_string())], n);
        }
    }
}

pub struct HttpServer {
    server: Arc<tiny_http::Server>,
    workers: Vec<JoinHandle<()>>,
    slow: Arc<SlowPool<SlowJob>>,
    password: Arc<SlowPool<SlowJob>>,
    redirect: Option<redirect::Redirect>,
    pub addr: SocketAddr,
}

/// Threads of the password pool: more than the password checks allowed at once
/// (`auth/slots.rs`), so that a login waits its turn there, in arrival order.
const PASSWORD_WORKERS: usize = 6;

/// A request for a slow route, waiting for a thread of the slow pool.
struct SlowJob {
    request: tiny_http::Request,
    handler: Handler,
    ctx: Box<Ctx>,
    log: AccessLog,
}

/// What the access-log line of a request needs.
struct AccessLog {
    started: Instant,
    method: String,
    path: String,
    from_watchdog: bool,
    /// The route pattern, for the counts by route.
    route: &'static str,
}

/// What a worker does with an API request: answer it, or pass it to a pool.
enum Outcome {
    Reply(Reply),
    Queued(Lane, Handler, Box<Ctx>),
}

impl HttpServer {
    /// Bind and start `config.workers` threads; with `tls`, every connection
    /// is HTTPS, and `config.redirect_bind` sends plain clients there.
    pub fn start(
        config: &HttpConfig,
        site: Arc<Site>,
        tls: Option<&tls::Tls>,
    ) -> Result<HttpServer, String> {
        let listener = TcpListener::bind(&config.bind)
            .map_err(|e| format!("cannot listen on {}: {e} (is another server using it? set http.bind or PISTACK_BIND)", config.bind))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let limits = tiny_http::ConnectionLimits {
            idle_timeout: Some(Duration::from_secs(config.idle_timeout_s)),
            max_connections: config.max_connections,
            max_connections_per_client: config.max_connections_per_client,
            loopback_reserve: config::LOOPBACK_RESERVE,
            max_body_bytes: site.max_body_bytes,
        };
        let acceptor = tls.as_ref().map(|t| t.acceptor());
        let server = tiny_http::Server::from_listener_with_limits(listener, acceptor, limits)
            .map_err(|e| format!("cannot start the HTTP server: {e}"))?;
        let redirect = match (&config.redirect_bind, &tls) {
            (Some(bind), Some(_)) => Some(redirect::Redirect::start(bind, addr.port(), limits)?),
            _ => None,
        };
        let server = Arc::new(server);
        let slow = pool("http-slow", config.slow_workers, &site)?;
        let password = pool("http-password", PASSWORD_WORKERS, &site)?;
        let workers = (0..config.workers)
            .map(|i| {
                let (server, site) = (server.clone(), site.clone());
                let pools = Pools {
                    slow: slow.clone(),
                    password: password.clone(),
                };
                std::thread::Builder::new()
                    .name(format!("http-{i}"))
                    .spawn(move || {
                        while let Ok(request) = server.recv() {
                            handle(&site, &pools, request);
                        }
                    })
                    .map_err(|e| format!("cannot start an HTTP worker: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HttpServer {
            server,
            workers,
            slow,
            password,
            redirect,
            addr,
        })
    }

    /// Stop taking requests, let the workers finish the ones they hold, and return.
    pub fn stop(self) {
        for _ in &self.workers {
            self.server.unblock();
        }
        for w in self.workers {
            let _ = w.join();
        }
        self.slow.stop();
        self.password.stop();
        if let Some(r) = self.redirect {
            r.stop();
        }
    }
}

/// The pools a worker hands requests to.
struct Pools {
    slow: Arc<SlowPool<SlowJob>>,
    password: Arc<SlowPool<SlowJob>>,
}

/// A pool of `threads` that run queued handlers and answer their requests.
fn pool(name: &str, threads: usize, site: &Arc<Site>) -> Result<Arc<SlowPool<SlowJob>>, String> {
    let site = site.clone();
    SlowPool::start(name, threads, move |job: SlowJob| {
        let reply = run(&job.handler, &job.ctx);
        finish(&site, job.request, reply, job.log);
    })
}

fn handle(site: &Site, pools: &Pools, mut request: tiny_http::Request) {
    let started = Instant::now();
    let method = request.method().as_str().to_string();
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let path = path.to_string();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_ascii_lowercase(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let remote = request.remote_addr().map(|a| a.ip());

    let from_watchdog = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case(crate::systemd::WATCHDOG_HEADER));
    let is_api = is_api_path(&path);
    let mut route = STATIC_ROUTE;
    let outcome = if is_api {
        let (pattern, outcome) = api(site, &mut request, &method, &path, query, headers, remote);
        route = pattern;
        outcome
    } else if method == "GET" || method == "HEAD" {
        Outcome::Reply(static_files::serve(&site.www_dir, &path, &headers))
    } else {
        Outcome::Reply(
            ApiError::new(405, format!("{method} is not allowed on the page; use GET"))
                .with_header("Allow", "GET, HEAD")
                .into_reply(),
        )
    };
    let log = AccessLog {
        started,
        method,
        path,
        from_watchdog,
        route,
    };
    let (lane, handler, ctx) = match outcome {
        Outcome::Reply(reply) => return finish(site, request, reply, log),
        Outcome::Queued(lane, handler, ctx) => (lane, handler, ctx),
    };
    let job = SlowJob {
        request,
        handler,
        ctx,
        log,
    };
    let (pool, busy) = match lane {
        Lane::Password => (
            &pools.password,
            "the server is busy checking other passwords; try again shortly",
        ),
        _ => (
            &pools.slow,
            "the server is busy with other long requests (pulses, start/stop waits); try again shortly",
        ),
    };
    if let Err(job) = pool.submit(job) {
        let busy = ApiError::unavailable(busy)
            .with_header("Retry-After", "1")
            .into_reply();
        finish(site, job.request, busy, job.log);
    }
}

fn run(handler: &Handler, ctx: &Ctx) -> Reply {
    match handler(ctx) {
        Ok(reply) => reply,
        Err(e) => e.into_reply(),
    }
}

/// Answer, count and log a request.
fn finish(site: &Site, request: tiny_http::Request, reply: Reply, log: AccessLog) {
    let status = reply.status;
    site.stats.count(log.route, status);
    respond(request, reply);
    if !log.from_watchdog {
        let AccessLog {
            started,
            method,
            path,
            ..
        } = log;
        log::info!(target: "access", "{method} {path} {status} {}ms", started.elapsed().as_millis());
    }
}

/// The paths the route table answers (the rest is the static page).
fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path == "/metrics" || path == "/RPC2"
}

/// A request that came another way than tiny_http (the control socket): its
/// body read already, its caller known. The same routes, levels and handlers.
pub fn dispatch(
    site: &Site,
    method: &str,
    url: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    caller: crate::auth::Caller,
) -> Reply {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    if !is_api_path(path) {
        return ApiError::not_found(format!(
            "no such endpoint: {path} (the control socket serves /api/..., /metrics and /RPC2)"
        ))
        .into_reply();
    }
    let (route, params) = match site.router.find(method, path) {
        Match::Found(route, params) => (route, params),
        Match::WrongMethod(allowed) => {
            return ApiError::new(
                405,
                format!(
                    "{method} is not allowed on {path}; use {}",
                    allowed.join(" or ")
                ),
            )
            .with_header("Allow", allowed.join(", "))
            .into_reply()
        }
        Match::NotFound => {
            return ApiError::not_found(format!("no such endpoint: {path}")).into_reply()
        }
    };
    if let Access::AtLeast(level) = route.access {
        if caller.user.level < level {
            return ApiError::forbidden(format!(
                "{} needs level {level:?} or higher",
                route.pattern
            ))
            .into_reply();
        }
    }
    let ctx = Ctx {
        params,
        query: parse_query(query),
        headers,
        body,
        remote: None,
        caller: Some(caller),
    };
    let reply = match ctx.single_query(&route.query) {
        Ok(()) => run(&route.handler, &ctx),
        Err(e) => e.into_reply(),
    };
    site.stats.count(route.pattern, reply.status);
    reply
}

fn api(
    site: &Site,
    request: &mut tiny_http::Request,
    method: &str,
    path: &str,
    query: &str,
    headers: Vec<(String, String)>,
    remote: Option<std::net::IpAddr>,
) -> (&'static str, Outcome) {
    let (route, params) = match site.router.find(method, path) {
        Match::Found(route, params) => (route, params),
        Match::WrongMethod(allowed) => {
            return (
                NO_ROUTE,
                Outcome::Reply(
                    ApiError::new(
                        405,
                        format!(
                            "{method} is not allowed on {path}; use {}",
                            allowed.join(" or ")
                        ),
                    )
                    .with_header("Allow", allowed.join(", "))
                    .into_reply(),
                ),
            )
        }
        Match::NotFound => {
            return (
                NO_ROUTE,
                Outcome::Reply(
                    ApiError::not_found(format!("no such endpoint: {path}")).into_reply(),
                ),
            )
        }
    };
    let reply = |r: Reply| (route.pattern, Outcome::Reply(r));
    let mut ctx = Ctx {
        params,
        query: parse_query(query),
        headers,
        body: Vec::new(),
        remote,
        caller: None,
    };
    if let Access::AtLeast(level) = route.access {
        let token = ctx.header("authorization").and_then(bearer::token);
        match site.auth.authenticate(token.as_deref()) {
            Ok(caller) if caller.user.level >= level => ctx.caller = Some(caller),
            Ok(caller) => {
                return reply(
                    ApiError::forbidden(format!(
                        "{} needs level {} or higher; {} is {}",
                        route.pattern,
                        level.as_str(),
                        caller.user.name,
                        caller.user.level.as_str()
                    ))
                    .into_reply(),
                )
            }
            Err(e) => return reply(ApiError::from(e).into_reply()),
        }
    }
    if let Err(e) = ctx.single_query(&route.query) {
        return reply(e.into_reply());
    }
    match read_body(request, site.max_body_bytes) {
        Ok(body) => ctx.body = body,
        Err(e) => return reply(e.into_reply()),
    }
    match route.lane {
        Lane::Fast => reply(run(&route.handler, &ctx)),
        lane => (
            route.pattern,
            Outcome::Queued(lane, route.handler.clone(), Box::new(ctx)),
        ),
    }
}

/// The body, refused with 413 past `max` bytes. tiny_http has read it into
/// memory already (and refused a larger one itself): this never waits on the socket.
fn read_body(request: &mut tiny_http::Request, max: usize) -> Result<Vec<u8>, ApiError> {
    let too_big = || ApiError::new(413, format!("the body is over the limit of {max} bytes"));
    if request.body_length().is_some_and(|n| n > max) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    request
        .as_reader()
        .take(max as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| ApiError::bad_request(format!("could not read the body: {e}")))?;
    if body.len() > max {
        return Err(too_big());
    }
    Ok(body)
}

const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("Content-Security-Policy", "default-src 'self'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
];

/// Write the answer; tiny_http leaves out the body itself for HEAD.
fn respond(request: tiny_http::Request, reply: Reply) {
    let secure = request.secure();
    let mut headers = Vec::with_capacity(9);
    let mut push = |name: &str, value: &str| {
        if let Ok(h) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            headers.push(h);
        }
    };
    // A 204 has no content, so no type of content either.
    if reply.status != 204 {
        push("Content-Type", reply.content_type);
    }
    for (name, value) in SECURITY_HEADERS {
        push(name, value);
    }
    if secure {
        push("Strict-Transport-Security", "max-age=31536000");
    }
    if reply.content_type.starts_with("application/json") {
        push("Cache-Control", "no-store");
    }
    for (name, value) in &reply.headers {
        push(name, value);
    }
    let len = reply.body.len();
    let body = std::io::Cursor::new(reply.body);
    let response = tiny_http::Response::new(
        tiny_http::StatusCode(reply.status),
        headers,
        body,
        Some(len),
        None,
    );
    // A client that went away is not our error.
    let _ = request.respond(response);
}
