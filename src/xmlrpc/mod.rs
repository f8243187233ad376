//! supervisord's XML-RPC interface at `/RPC2` (docs/api.md, "XML-RPC"): what
//! supervisorctl and the tools around supervisord speak. [`value`] parses and
//! writes the XML, [`methods`] maps the calls onto the supervisor core; this
//! file is the HTTP adapter: who the caller is (the control socket's peer, HTTP
//! Basic with a pistack user, or a Bearer token) and the level the call needs.

pub mod methods;
pub mod value;

use crate::auth::{Auth, Level};
use crate::http::reply::{ApiError, Reply};
use crate::http::request::Ctx;
use crate::http::router::{Access, Route};
use crate::supervisor::state::State;
use crate::supervisor::{ProcessInfo, Supervisor};
use base64::Engine;
use methods::{Fault, FaultCode, Rpc};
use std::sync::Arc;

/// The `/RPC2` route. Public in the route table: it authenticates itself, since
/// supervisorctl sends HTTP Basic credentials, not a token.
pub fn route(auth: Arc<Auth>, supervisor: Arc<Supervisor>, load: methods::Loader) -> Route {
    let rpc = Rpc { supervisor, load };
    Route::new(
        "POST",
        "/RPC2",
        Access::Public,
        "supervisord's XML-RPC interface (supervisorctl, cesi, exporters): HTTP Basic with a pistack user; User may read, Admin+ may act",
        move |ctx| handle(&auth, &rpc, ctx),
    )
    // startProcess waits for startsecs, a Basic login may wait for a password check
    .slow()
    .answers("text/xml")
    .responds(200, serde_json::json!({"type": "string"}))
    .fails(401, "No valid HTTP Basic login, Bearer token or control-socket peer")
    .fails(403, "The method needs a higher level than the caller's")
}

fn handle(auth: &Auth, rpc: &Rpc, ctx: &Ctx) -> Result<Reply, ApiError> {
    let level = caller_level(auth, ctx)?;
    let call = match value::parse_call(&ctx.body) {
        Ok(call) => call,
        Err(value::ParseError::TooLarge) => {
            return Err(ApiError::new(413, value::ParseError::TooLarge.to_string()))
        }
        Err(e) => {
            return Ok(xml(value::fault(
                FaultCode::IncorrectParameters as i32,
                &e.to_string(),
            )))
        }
    };
    let needed = methods::required_level(&call);
    if level < needed {
        return Err(ApiError::forbidden(format!(
            "{} needs level {needed:?} or higher",
            call.method
        )));
    }
    let body = match rpc.call(&call) {
        Ok(v) => value::response(&v),
        Err(Fault { code, text }) => value::fault(code as i32, &text),
    };
    Ok(xml(body))
}

fn xml(body: String) -> Reply {
    Reply {
        status: 200,
        content_type: "text/xml",
        headers: Vec::new(),
        body: body.into_bytes(),
    }
}

/// The caller's level: set already by the control socket, else from HTTP Basic
/// (checked like a login: same throttle and slots) or a Bearer token.
fn caller_level(auth: &Auth, ctx: &Ctx) -> Result<Level, ApiError> {
    if let Some(caller) = &ctx.caller {
        return Ok(caller.user.level);
    }
    let challenge = |e: ApiError| e.with_header("WWW-Authenticate", "Basic realm=\"pistack\"");
    let header = ctx.header("authorization").unwrap_or("");
    if let Some(encoded) = header.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| challenge(ApiError::unauthorized("malformed Basic credentials")))?;
        let (name, pass) = decoded.split_once(':').unwrap_or((&decoded, ""));
        let client = ctx.remote.map(|ip| ip.to_string()).unwrap_or_default();
        return match auth.check_login(name, pass, &client) {
            Ok(user) => Ok(user.level),
            Err(e) => Err(challenge(ApiError::from(e))),
        };
    }
    let token = crate::http::bearer::token(header);
    match auth.authenticate(token.as_deref()) {
        Ok(caller) => Ok(caller.user.level),
        Err(_) => Err(challenge(ApiError::unauthorized(
            "log in with HTTP Basic (a pistack user and password) or a Bearer token",
        ))),
    }
}

/// supervisord's `description` of a process (rpcinterface `_interpretProcessInfo`).
pub fn describe(i: &ProcessInfo, spawnerr: &str, now: u64) -> String {
    match i.state {
        State::Running => {
            let up = i.started_at.map_or(0, |t| now.saturating_sub(t));
            format!("pid {}, uptime {}", i.pid.unwrap_or(0), uptime(up))
        }
        State::Fatal | State::Backoff if spawnerr.is_empty() => {
            format!("unknown error (try \"tail {}\")", i.name)
        }
        State::Fatal | State::Backoff => spawnerr.to_string(),
        State::Stopped | State::Exited => match (i.started_at, i.stopped_at) {
            (Some(_), Some(stop)) => stop_time(stop),
            _ => "Not started".into(),
        },
        _ => String::new(),
    }
}

/// Python's `str(timedelta)`: `H:MM:SS`, with `N day(s), ` before it.
pub fn uptime(secs: u64) -> String {
    let (days, rest) = (secs / 86400, secs % 86400);
    let hms = format!("{}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    match days {
        0 => hms,
        1 => format!("1 day, {hms}"),
        d => format!("{d} days, {hms}"),
    }
}

/// When a process stopped, as supervisorctl shows it (`Dec 02 04:05 PM`, local time).
pub fn stop_time(t: u64) -> String {
    local_time(t, "%b %d %I:%M %p")
}

/// `t` in local time, formatted by strftime(3).
fn local_time(t: u64, format: &str) -> String {
    let Ok(fmt) = std::ffi::CString::new(format) else {
        return String::new();
    };
    // On 32-bit musl (the Pi Zero build) libc deprecates the alias ahead of its
    // move to musl 1.2's 64-bit time_t; it is still what localtime_r is declared with.
    #[allow(deprecated)]
    let t = t as libc::time_t;
    // SAFETY: localtime_r fills `tm` from `t`; strftime writes at most buf.len() bytes.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return String::new();
        }
        let mut buf = [0u8; 64];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr(), &tm);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_is_written_like_python_timedelta() {
        assert_eq!(uptime(5), "0:00:05");
        assert_eq!(uptime(3725), "1:02:05");
        assert_eq!(uptime(86400 + 61), "1 day, 0:01:01");
        assert_eq!(uptime(2 * 86400), "2 days, 0:00:00");
    }
}
