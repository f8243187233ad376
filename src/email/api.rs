//! `/api/email/...`: a thin layer over [`Mailer`]: parse, call, map errors to statuses.

use super::{EmailError, Mailer, Message};
use crate::auth::Level;
use crate::http::reply::{ApiError, Reply};
use crate::http::request::Ctx;
use crate::http::router::{Access, Route};
use serde_json::{json, Map, Value};
use std::sync::Arc;

impl From<EmailError> for ApiError {
    fn from(e: EmailError) -> ApiError {
        let message = e.to_string();
        match e {
            EmailError::NotConfigured | EmailError::Full(_) => ApiError::unavailable(message),
            EmailError::Invalid { .. } => ApiError::bad_request(message),
            EmailError::NoSuchMessage(_) => ApiError::not_found(message),
            EmailError::NotFailed { .. } => ApiError::conflict(message),
            EmailError::Storage(_) => ApiError::internal(message),
        }
    }
}

const ADMIN: Access = Access::AtLeast(Level::Admin);

pub fn routes(mailer: Arc<Mailer>) -> Vec<Route> {
    let (send, outbox, retry) = (mailer.clone(), mailer.clone(), mailer);
    vec![
        Route::new(
            "POST",
            "/api/email/send",
            ADMIN,
            "Queue a mail ({\"to\":\"a@b\"|[...],\"subject\",\"body\"}); 202 once it is on disk",
            move |ctx| {
                let id = send.enqueue(message(ctx)?)?;
                Ok(Reply::json(202, &json!({"id": id, "status": "queued"})))
            },
        )
        .body(json!({"type": "object", "required": ["to", "subject", "body"],
                     "additionalProperties": false,
                     "properties": {"to": {"oneOf": [{"type": "string", "format": "email"},
                                                     {"type": "array", "minItems": 1,
                                                      "maxItems": super::MAX_RECIPIENTS,
                                                      "items": {"type": "string", "format": "email"}}]},
                                    "subject": {"type": "string", "maxLength": 500,
                                                "pattern": "^[^\\r\\n]*$"},
                                    "body": {"type": "string"}}}))
        .responds(202, json!({"type": "object", "required": ["id", "status"],
                              "properties": {"id": {"type": "string"}, "status": {"type": "string"}}}))
        .fails(503, "No SMTP relay is configured, or the outbox is full"),
        Route::new(
            "GET",
            "/api/email/outbox",
            ADMIN,
            "The outbox, oldest first: queued, sent and failed messages",
            move |_| Ok(Reply::ok(&outbox.list())),
        ),
        Route::new(
            "POST",
            "/api/email/outbox/{id}/retry",
            ADMIN,
            "Queue a failed message again",
            move |ctx| {
                let id = ctx.param("id");
                retry.retry(id)?;
                Ok(Reply::json(202, &json!({"id": id, "status": "queued"})))
            },
        )
        .fails(409, "The message has not failed: it is queued or sent"),
    ]
}

/// The `/send` body decoded and checked as the route and the core do (for the
/// fuzz targets, fuzz/fuzz_targets/bodies.rs).
#[doc(hidden)]
pub fn decode_bodies(ctx: &Ctx) -> Vec<Result<(), ApiError>> {
    vec![message(ctx).and_then(|m| super::check(&m).map_err(ApiError::from))]
}

/// The body of `/send` as a [`Message`]; each error names its field.
fn message(ctx: &Ctx) -> Result<Message, ApiError> {
    const FIELDS: &str = "to, subject, body";
    let Value::Object(map) = ctx.json::<Value>()? else {
        return Err(ApiError::bad_request(format!(
            "the body must be a JSON object with {FIELDS}"
        )));
    };
    if let Some(k) = map
        .keys()
        .find(|k| !["to", "subject", "body"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "unknown field \"{k}\"; expected {FIELDS}"
        )));
    }
    let to = match map.get("to") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ApiError::bad_request("to: every address must be a string"))?,
        None => return Err(ApiError::bad_request("to: missing")),
        Some(_) => {
            return Err(ApiError::bad_request(
                "to: must be an address or a list of addresses",
            ))
        }
    };
    Ok(Message {
        to,
        subject: text(&map, "subject")?,
        body: text(&map, "body")?,
    })
}

fn text(map: &Map<String, Value>, field: &str) -> Result<String, ApiError> {
    match map.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        None => Err(ApiError::bad_request(format!("{field}: missing"))),
        Some(_) => Err(ApiError::bad_request(format!("{field}: must be a string"))),
    }
}
