//! `/api/supervisor/...`: a thin layer over [`Supervisor`] (docs/api.md, "Supervisor").

use super::config::{signal_number, SIGNAL_FORMS};
use super::state::State;
use super::{Error, Supervisor};
use crate::audit::{Action, Audit};
use crate::auth::Level;
use crate::events::{Numbered, ProcessEvent};
use crate::http::reply::{ApiError, Reply};
use crate::http::request::{whole, Ctx};
use crate::http::router::{Access, Route};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

const USER: Access = Access::AtLeast(Level::User);
const ADMIN: Access = Access::AtLeast(Level::Admin);

/// Default and largest `bytes` of the log endpoint.
const LOG_DEFAULT: u64 = 16 * 1024;
const LOG_MAX: u64 = 1024 * 1024;

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let message = e.to_string();
        match e {
            Error::NoSuchProgram(_) | Error::NoSuchGroup(_) => ApiError::not_found(message),
            Error::AlreadyRunning { .. }
            | Error::Stopping(_)
            | Error::NotRunning { .. }
            | Error::StillRunning(_) => ApiError::conflict(message),
            Error::ShuttingDown | Error::Gone => ApiError::unavailable(message),
            Error::Signal { .. } | Error::Log { .. } => ApiError::internal(message),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignalBody {
    signal: Value,
}

/// The signal number of a `{"signal": ...}` body: a name, with or without SIG, or a number.
fn signal_of(ctx: &Ctx) -> Result<i32, ApiError> {
    let body: SignalBody = ctx.json()?;
    match &body.signal {
        Value::String(s) => signal_number(s),
        Value::Number(n) => n.as_i64().and_then(|n| signal_number(&n.to_string())),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::bad_request(format!(
            "signal: unknown signal {}; use {SIGNAL_FORMS}",
            body.signal
        ))
    })
}

/// Every body these routes read, decoded from `ctx` as they decode it (for the
/// fuzz targets, fuzz/fuzz_targets/bodies.rs).
#[doc(hidden)]
pub fn decode_bodies(ctx: &Ctx) -> Vec<Result<(), ApiError>> {
    vec![signal_of(ctx).map(drop)]
}

/// `?wait=false` (also `0`, `no`) answers at once; anything else waits.
fn wait(ctx: &Ctx) -> Result<bool, ApiError> {
    match ctx.query("wait") {
        None | Some("") | Some("true") | Some("1") | Some("yes") => Ok(true),
        Some("false") | Some("0") | Some("no") => Ok(false),
        Some(v) => Err(ApiError::bad_request(format!(
            "query parameter wait must be true or false, not {v:?}"
        ))),
    }
}

/// The `wait` query parameter of the start and stop routes, as [`wait`] reads it.
fn wait_query() -> [(&'static str, &'static str, Value); 1] {
    let values = ["true", "false", "1", "0", "yes", "no", ""];
    [(
        "wait",
        "false (0, no): answer at once, without waiting",
        json!({"type": "string", "enum": values}),
    )]
}

/// A process event as `GET /api/supervisor/events` shows it: supervisord's
/// event name in `kind`, without the bus's `expected`.
#[derive(Serialize)]
struct Change<'a> {
    kind: String,
    name: &'a str,
    from: State,
    to: State,
    pid: Option<u32>,
    exit_status: Option<i32>,
    message: &'a str,
}

impl Change<'_> {
    fn of(e: &ProcessEvent) -> Change<'_> {
        Change {
            kind: format!("PROCESS_STATE_{}", e.to),
            name: &e.name,
            from: e.from,
            to: e.to,
            pid: e.pid,
            exit_status: e.exit_status,
            message: &e.message,
        }
    }
}

/// A POST route that changes a program (`{name}`) or a group (`{group}`):
/// `act` does it and answers; the audit trail notes it as `action`, failed or not.
fn acting(
    pattern: &'static str,
    summary: &'static str,
    audit: Arc<Audit>,
    action: Action,
    act: impl Fn(&str, &Ctx) -> Result<Reply, ApiError> + Send + Sync + 'static,
) -> Route {
    let param = if pattern.contains("{group}") {
        "group"
    } else {
        "name"
    };
    Route::new("POST", pattern, ADMIN, summary, move |ctx| {
        let target = ctx.param(param);
        let result = act(target, ctx);
        audit.note(ctx, None, action, target, "", result)
    })
    .slow()
}

/// Every `/api/supervisor` route but reload: programs, groups, then what is read.
pub fn routes(sup: Arc<Supervisor>, audit: Arc<Audit>) -> Vec<Route> {
    let mut routes = program_routes(&sup, &audit);
    routes.extend(group_routes(&sup, &audit));
    routes.extend(read_routes(&sup));
    routes
}

/// List, show, start, stop, restart and signal programs.
fn program_routes(sup: &Arc<Supervisor>, audit: &Arc<Audit>) -> Vec<Route> {
    let s = || sup.clone();
    let (list, one, start, stop, restart, signal) = (s(), s(), s(), s(), s(), s());
    let t = || audit.clone();
    let t_signal = t();
    vec![
        Route::new("GET", "/api/supervisor/processes", USER, "Every program, in priority order", move |_| {
            Ok(Reply::ok(&list.list()))
        }),
        Route::new("GET", "/api/supervisor/processes/{name}", USER, "One program", move |ctx| {
            Ok(Reply::ok(&one.get(ctx.param("name"))?))
        }),
        acting(
            "/api/supervisor/processes/{name}/start",
            "Start a program; answers once it is RUNNING or has failed (BACKOFF/FATAL), or at once with ?wait=false; 409 when already running",
            t(),
            Action::Start,
            move |name, ctx| Ok(Reply::ok(&start.start_program(name, wait(ctx)?)?)),
        )
        .query(&wait_query())
        .fails(409, "The program is running already"),
        acting(
            "/api/supervisor/processes/{name}/stop",
            "Stop a program: stopsignal to its process group, SIGKILL after stopwaitsecs; answers once STOPPED (?wait=false: at once); 409 when not running",
            t(),
            Action::Stop,
            move |name, ctx| Ok(Reply::ok(&stop.stop_program(name, wait(ctx)?)?)),
        )
        .query(&wait_query())
        .fails(409, "The program is not running"),
        acting(
            "/api/supervisor/processes/{name}/restart",
            "Stop (if running) and start a program, waiting for both",
            t(),
            Action::Restart,
            move |name, _| Ok(Reply::ok(&restart.restart_program(name)?)),
        ),
        Route::new(
            "POST",
            "/api/supervisor/processes/{name}/signal",
            ADMIN,
            "Send a signal to a program's process group: body {\"signal\":\"HUP\"} (a name, with or without SIG, or a number); 409 when not running",
            move |ctx| {
                let sig = signal_of(ctx)?;
                let name = ctx.param("name");
                let result = signal.signal_program(name, sig).map(|p| Reply::ok(&p));
                let detail = super::config::signal_name(sig);
                t_signal.note(ctx, None, Action::Signal, name, &detail, result.map_err(ApiError::from))
            },
        )
        .body(json!({"type": "object", "required": ["signal"], "additionalProperties": false,
                     "properties": {"signal": {"oneOf": [
                         {"type": "string", "pattern": super::config::signal_pattern()},
                         {"type": "integer", "minimum": 1, "maximum": 64}]}}}))
        .fails(409, "The program is not running"),
    ]
}

/// Start, stop and restart a group (supervisorctl's `group:*`).
fn group_routes(sup: &Arc<Supervisor>, audit: &Arc<Audit>) -> Vec<Route> {
    let s = || sup.clone();
    let (g_start, g_stop, g_restart) = (s(), s(), s());
    let t = || audit.clone();
    vec![
        acting(
            "/api/supervisor/groups/{group}/start",
            "Start every program of a group that is not running (supervisorctl start group:*); answers once none is STARTING (?wait=false: at once); 404 for an unknown group",
            t(),
            Action::GroupStart,
            move |group, ctx| Ok(Reply::ok(&g_start.start_group(group, wait(ctx)?)?)),
        )
        .query(&wait_query()),
        acting(
            "/api/supervisor/groups/{group}/stop",
            "Stop every running program of a group, in reverse priority (supervisorctl stop group:*); answers once all are stopped (?wait=false: at once)",
            t(),
            Action::GroupStop,
            move |group, ctx| Ok(Reply::ok(&g_stop.stop_group(group, wait(ctx)?)?)),
        )
        .query(&wait_query()),
        acting(
            "/api/supervisor/groups/{group}/restart",
            "Stop a group, then start all of it, waiting for both (supervisorctl restart group:*)",
            t(),
            Action::GroupRestart,
            move |group, _| Ok(Reply::ok(&g_restart.restart_group(group)?)),
        ),
    ]
}

/// A program's log and the ring of process events.
fn read_routes(sup: &Arc<Supervisor>) -> Vec<Route> {
    let (log, events) = (sup.clone(), sup.clone());
    vec![
        Route::new(
            "GET",
            "/api/supervisor/processes/{name}/log",
            ADMIN,
            "The end of a program's log as text: ?stream=stdout|stderr&bytes=N (default 16384, at most 1048576)",
            move |ctx| {
                let stderr = match ctx.query("stream") {
                    None | Some("") | Some("stdout") => false,
                    Some("stderr") => true,
                    Some(v) => return Err(ApiError::bad_request(format!("stream must be stdout or stderr, not {v:?}"))),
                };
                let bytes = ctx.query_u64("bytes", LOG_DEFAULT, LOG_MAX)?;
                Ok(Reply::text(200, log.tail(ctx.param("name"), stderr, bytes)?))
            },
        )
        .query(&[
            ("stream", "stdout (default) or stderr", json!({"type": "string", "enum": ["stdout", "stderr", ""]})),
            ("bytes", "How much of the end (default 16384)", whole(LOG_MAX)),
        ])
        .answers("text/plain")
        .responds(200, json!({"type": "string"})),
        Route::new(
            "GET",
            "/api/supervisor/events",
            USER,
            "Process state changes, oldest first: ?after=SEQ&limit=N (default 100, at most 1000); a bounded ring",
            move |ctx| {
                let (after, limit) = ctx.page(1000)?;
                let all = events.events(after, limit);
                let list: Vec<Numbered<Change>> = all.iter().map(|e| e.view(Change::of)).collect();
                Ok(Reply::ok(&list))
            },
        )
        .query(&Ctx::page_query(1000)),
    ]
}
