//! `/api/io/...`: a thin layer over [`Gpio`]: parse, call, map errors to statuses.

use super::{Error, Gpio};
use crate::audit::{Action, Audit};
use crate::auth::Level;
use crate::http::reply::{ApiError, Reply};
use crate::http::request::Ctx;
use crate::http::router::{Access, Route};
use serde_json::{json, Map, Value};
use std::sync::Arc;

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            Error::NoSuchPin(m) => ApiError::not_found(m),
            Error::Unavailable(m) => ApiError::unavailable(m),
            Error::Conflict(m) => ApiError::conflict(m),
            Error::Invalid(m) => ApiError::bad_request(m),
        }
    }
}

const USER: Access = Access::AtLeast(Level::User);
const ADMIN: Access = Access::AtLeast(Level::Admin);

/// The 409 of the routes that drive an output.
const INPUT: &str = "The pin is an input; only outputs can be driven";

/// The routes; literal paths come before `{name}` ones (the router matches in order).
pub fn routes(gpio: Arc<Gpio>, audit: Arc<Audit>) -> Vec<Route> {
    let g = || gpio.clone();
    let t = || audit.clone();
    let (t_write, t_toggle, t_pulse) = (t(), t(), t());
    let (list, events, chips, read, write, toggle, pulse) = (g(), g(), g(), g(), g(), g(), g());
    let mut routes = vec![
        Route::new(
            "GET",
            "/api/io/gpio",
            USER,
            "List the configured pins with their values",
            move |_| Ok(Reply::ok(&list.list())),
        ),
        Route::new(
            "GET",
            "/api/io/gpio/events",
            USER,
            "Edges of input pins (?after=SEQ&limit=N)",
            move |ctx| {
                let (after, limit) = ctx.page(super::RING_CAPACITY)?;
                Ok(Reply::ok(&events.events(after, limit)))
            },
        )
        .query(&Ctx::page_query(super::RING_CAPACITY)),
        Route::new(
            "GET",
            "/api/io/chips",
            ADMIN,
            "GPIO chips and their lines, as gpioinfo shows them",
            move |_| Ok(Reply::ok(&chips.chips()?)),
        ),
    ];
    if gpio.backend_kind() == "sim" {
        let sim = g();
        let t_sim = t();
        routes.push(
            Route::new(
                "PUT",
                "/api/io/sim/gpio/{name}",
                ADMIN,
                "Sim backend only: set the physical level outside an input pin ({\"level\":0|1})",
                move |ctx| {
                    let name = ctx.param("name");
                    let body = object(ctx, &["level"])?;
                    let level = bit(body.get("level"), "level")?;
                    let result = sim.sim_input(name, level).map(|p| Reply::ok(&p));
                    let detail = format!("level {level}");
                    t_sim.note(
                        ctx,
                        None,
                        Action::GpioSimInput,
                        name,
                        &detail,
                        result.map_err(ApiError::from),
                    )
                },
            )
            .body(bit_body("level")),
        );
    }
    routes.extend([
        Route::new("GET", "/api/io/gpio/{name}", USER, "One pin, its value read now", move |ctx| {
            Ok(Reply::ok(&read.read(ctx.param("name"))?))
        }),
        Route::new("PUT", "/api/io/gpio/{name}", ADMIN, "Set an output pin ({\"value\":0|1|true|false})", move |ctx| {
            let name = ctx.param("name");
            let body = object(ctx, &["value"])?;
            let value = bit(body.get("value"), "value")?;
            let result = write.write(name, value).map(|p| Reply::ok(&p));
            let detail = format!("value {value}");
            t_write.note(ctx, None, Action::GpioWrite, name, &detail, result.map_err(ApiError::from))
        })
        .body(bit_body("value"))
        .fails(409, INPUT)
        .slow(), // waits while a pulse holds the pin
        Route::new("POST", "/api/io/gpio/{name}/toggle", ADMIN, "Invert an output pin", move |ctx| {
            let name = ctx.param("name");
            let result = toggle.toggle(name).map(|p| Reply::ok(&p));
            t_toggle.note(ctx, None, Action::GpioToggle, name, "", result.map_err(ApiError::from))
        })
        .fails(409, INPUT)
        .slow(), // waits while a pulse holds the pin
        Route::new(
            "POST",
            "/api/io/gpio/{name}/pulse",
            ADMIN,
            "Drive an output to value (default 1) for ms (1-10000), then to the opposite; answers after the pulse",
            move |ctx| {
                let (ms, value) = pulse_body(ctx)?;
                let name = ctx.param("name");
                let result = pulse.pulse(name, value, ms).map(|p| Reply::ok(&p));
                let detail = format!("value {value} for {ms} ms");
                t_pulse.note(ctx, None, Action::GpioPulse, name, &detail, result.map_err(ApiError::from))
            },
        )
        .body(json!({"type": "object", "required": ["ms"], "additionalProperties": false,
                     "properties": {"ms": {"type": "integer", "minimum": 1, "maximum": 10000},
                                    "value": bit_schema()}}))
        .fails(409, INPUT)
        .slow(),
    ]);
    routes
}

/// `{"ms": 1-10000, "value": 0|1}` (value 1 when left out) of a pulse.
fn pulse_body(ctx: &Ctx) -> Result<(u64, u8), ApiError> {
    let body = object(ctx, &["ms", "value"])?;
    let ms = match body.get("ms") {
        None => return Err(ApiError::bad_request("ms: missing")),
        // Not a whole number: refused in the words of out of range.
        Some(v) => v.as_u64().unwrap_or(0),
    };
    super::pulse_length(ms)?;
    let value = match body.get("value") {
        None => 1,
        v => bit(v, "value")?,
    };
    Ok((ms, value))
}

/// Every body these routes read, decoded from `ctx` as they decode it (for the
/// fuzz targets, fuzz/fuzz_targets/bodies.rs).
#[doc(hidden)]
pub fn decode_bodies(ctx: &Ctx) -> Vec<Result<(), ApiError>> {
    let one = |field: &str| object(ctx, &[field]).and_then(|b| bit(b.get(field), field));
    vec![
        one("level").map(drop),
        one("value").map(drop),
        pulse_body(ctx).map(drop),
    ]
}

/// 0, 1, true or false (see [`bit`]).
fn bit_schema() -> Value {
    json!({"oneOf": [{"type": "integer", "enum": [0, 1]}, {"type": "boolean"}]})
}

/// `{"<field>": 0|1|true|false}`.
fn bit_body(field: &str) -> Value {
    json!({"type": "object", "required": [field], "additionalProperties": false,
           "properties": {field: bit_schema()}})
}

/// The body as a JSON object with only the `allowed` keys.
fn object(ctx: &Ctx, allowed: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let body: Value = ctx.json()?;
    let Value::Object(map) = body else {
        return Err(ApiError::bad_request(format!(
            "the body must be a JSON object with {}",
            allowed.join(", ")
        )));
    };
    if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "unknown field \"{k}\"; expected {}",
            allowed.join(", ")
        )));
    }
    Ok(map)
}

/// 0, 1, true or false, as 0 or 1.
fn bit(v: Option<&Value>, field: &str) -> Result<u8, ApiError> {
    match v {
        None => Err(ApiError::bad_request(format!("{field}: missing"))),
        Some(Value::Bool(b)) => Ok(u8::from(*b)),
        Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(0),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(1),
        Some(other) => Err(ApiError::bad_request(format!(
            "{field}: must be 0, 1, true or false, not {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bits() {
        assert_eq!(bit(Some(&json!(true)), "value"), Ok(1));
        assert_eq!(bit(Some(&json!(0)), "value"), Ok(0));
        assert_eq!(bit(Some(&json!(1)), "value"), Ok(1));
        for bad in [json!(2), json!(-1), json!(1.0), json!("1"), json!(null)] {
            let e = bit(Some(&bad), "value").unwrap_err();
            assert_eq!(e.status, 400);
            assert!(
                e.message.starts_with("value: must be 0, 1, true or false"),
                "{}",
                e.message
            );
        }
        assert_eq!(bit(None, "value").unwrap_err().message, "value: missing");
    }
}
