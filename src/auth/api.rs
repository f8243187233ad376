//! `/api/auth/...`: sessions and users, a thin layer over [`Auth`]: requests
//! become calls, [`Error`]s become statuses. Who may do what is decided in the
//! core ([`super::policy`]).

use super::{Auth, Error, Level, UserPatch};
use crate::audit::{Action, Audit};
use crate::http::bearer;
use crate::http::reply::{ApiError, Reply};
use crate::http::request::Ctx;
use crate::http::router::{Access, Route};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        let message = e.to_string();
        match e {
            Error::Invalid(_) => ApiError::bad_request(message),
            Error::Unauthenticated(_) => ApiError::unauthorized(message),
            Error::Forbidden(_) => ApiError::forbidden(message),
            Error::NotFound(_) => ApiError::not_found(message),
            Error::Conflict(_) => ApiError::conflict(message),
            Error::Throttled { retry_after_s } => {
                ApiError::new(429, message).with_header("Retry-After", retry_after_s.to_string())
            }
            Error::Busy => ApiError::new(429, message).with_header("Retry-After", "1"),
            Error::DiskFull(_) => {
                log::error!("{message}");
                ApiError::unavailable(message)
            }
            Error::Storage(_) => ApiError::internal(message),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    name: String,
    password: String,
}

#[derive(Deserialize, Default)]
struct RefreshBody {
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    name: String,
    password: String,
    #[serde(default = "default_level")]
    level: Level,
}

fn default_level() -> Level {
    Level::User
}

/// The OpenAPI schemas of the bodies and answers (docs/api.md, "Auth").
mod schema {
    use serde_json::{json, Value};

    pub fn user() -> Value {
        json!({"type": "object", "required": ["id", "name", "level", "created_at"],
               "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                              "level": level(), "created_at": {"type": "integer"}}})
    }
    /// users::valid_name and password::check_rules as JSON Schema.
    pub fn name() -> Value {
        json!({"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,32}$"})
    }
    pub fn password() -> Value {
        json!({"type": "string", "minLength": 8, "maxLength": 1024})
    }
    pub fn level() -> Value {
        json!({"type": "string", "enum": ["Root", "Admin", "User"]})
    }
    pub fn tokens() -> Value {
        json!({"type": "object",
               "required": ["access_token", "refresh_token", "token_type", "expires_in", "user"],
               "properties": {"access_token": {"type": "string"}, "refresh_token": {"type": "string"},
                              "token_type": {"type": "string"}, "expires_in": {"type": "integer"},
                              "user": user()}})
    }
    pub fn login() -> Value {
        json!({"type": "object", "required": ["name", "password"], "additionalProperties": false,
               "properties": {"name": {"type": "string"}, "password": {"type": "string"}}})
    }
    pub fn refresh() -> Value {
        json!({"type": "object", "required": ["refresh_token"],
               "properties": {"refresh_token": {"type": "string"}}})
    }
    pub fn new_user() -> Value {
        json!({"type": "object", "required": ["name", "password"], "additionalProperties": false,
               "properties": {"name": name(), "password": password(), "level": level()}})
    }
    /// Every field may be left out or null (unchanged).
    pub fn patch() -> Value {
        // OpenAPI 3.0: an enum must list null too for null to be valid.
        let nullable = |mut v: Value| {
            v["nullable"] = json!(true);
            if let Some(values) = v.get_mut("enum").and_then(Value::as_array_mut) {
                values.push(Value::Null);
            }
            v
        };
        json!({"type": "object", "additionalProperties": false,
               "properties": {"name": nullable(name()), "password": nullable(password()),
                              "level": nullable(level()),
                              "current_password": nullable(json!({"type": "string"}))}})
    }
    pub fn revoked(kind: &str) -> Value {
        json!({"type": "object", "required": ["revoked"],
               "properties": {"revoked": {"type": kind}}})
    }
}

const USER: Access = Access::AtLeast(Level::User);
const ADMIN: Access = Access::AtLeast(Level::Admin);
const ROOT: Access = Access::AtLeast(Level::Root);

/// Every `/api/auth` route: the sessions', then the users'.
pub fn routes(auth: Arc<Auth>, audit: Arc<Audit>) -> Vec<Route> {
    let mut routes = session_routes(&auth, &audit);
    routes.extend(user_routes(&auth, &audit));
    routes
}

/// `/api/auth/session/...`: log in, refresh, validate, log out, who am I.
fn session_routes(auth: &Arc<Auth>, audit: &Arc<Audit>) -> Vec<Route> {
    let a = || auth.clone();
    let t = || audit.clone();
    let (t_login, t_logout, t_logout_all) = (t(), t(), t());
    let login = a();
    let refresh = a();
    let logout = a();
    let logout_all = a();
    vec![
        Route::new(
            "POST",
            "/api/auth/session/login",
            Access::Public,
            "Log in: tokens for name and password",
            move |ctx| {
                let body: LoginBody = ctx.json()?;
                let result = login
                    .login(&body.name, &body.password, &client(ctx))
                    .map(|tokens| Reply::ok(&tokens))
                    .map_err(ApiError::from);
                t_login.note(ctx, Some(&body.name), Action::Login, &body.name, "", result)
            },
        )
        .body(schema::login())
        .responds(200, schema::tokens())
        .fails(401, "The name or the password is wrong")
        .password(),
        Route::new(
            "POST",
            "/api/auth/session/refresh",
            Access::Public,
            "Rotate a refresh token",
            move |ctx| {
                let body: RefreshBody = ctx.json()?;
                let token = body
                    .refresh_token
                    .ok_or_else(|| ApiError::bad_request("refresh_token: missing"))?;
                Ok(Reply::ok(&refresh.refresh(&token)?))
            },
        )
        .body(schema::refresh())
        .responds(200, schema::tokens())
        .fails(
            401,
            "The refresh token is not valid: forged, expired, revoked or used already",
        ),
        Route::new(
            "POST",
            "/api/auth/session/validate",
            USER,
            "Check the access token",
            |ctx| {
                let caller = ctx.caller()?;
                Ok(Reply::ok(
                    &json!({"valid": true, "user": caller.user, "token": caller.claims}),
                ))
            },
        )
        .responds(
            200,
            json!({"type": "object", "required": ["valid", "user", "token"],
                              "properties": {"valid": {"type": "boolean"}, "user": schema::user(),
                                             "token": {"type": "object"}}}),
        ),
        Route::new(
            "POST",
            "/api/auth/session/logout",
            Access::Public,
            "End the login of a refresh token",
            move |ctx| {
                let body: RefreshBody = ctx.json_or_default()?;
                let token = body
                    .refresh_token
                    .or_else(|| ctx.header("authorization").and_then(bearer::token))
                    .ok_or_else(|| {
                        ApiError::bad_request("refresh_token: give it in the body or as Bearer")
                    })?;
                let result = logout.logout(&token).map_err(ApiError::from);
                let result = result.map(|_| Reply::ok(&json!({"revoked": true})));
                t_logout.note(ctx, None, Action::Logout, "", "", result)
            },
        )
        .responds(200, schema::revoked("boolean"))
        .fails(400, "No refresh token, neither in the body nor as Bearer")
        .fails(401, "The token is not one of this daemon's"),
        Route::new(
            "POST",
            "/api/auth/session/logout-all",
            USER,
            "End every login of the caller",
            move |ctx| {
                let n = logout_all.logout_all(&ctx.caller()?.user.id);
                let result = n.map(|n| Reply::ok(&json!({"revoked": n})));
                t_logout_all.note(
                    ctx,
                    None,
                    Action::LogoutAll,
                    "",
                    "",
                    result.map_err(ApiError::from),
                )
            },
        )
        .responds(200, schema::revoked("integer")),
        Route::new("GET", "/api/auth/session/me", USER, "The caller", |ctx| {
            Ok(Reply::ok(&ctx.caller()?.user))
        })
        .responds(200, schema::user()),
    ]
}

/// `/api/auth/users...`: list, create, read, change and delete accounts.
fn user_routes(auth: &Arc<Auth>, audit: &Arc<Audit>) -> Vec<Route> {
    let a = || auth.clone();
    let t = || audit.clone();
    let (t_create, t_patch, t_delete) = (t(), t(), t());
    let list = a();
    let create = a();
    let get = a();
    let patch = a();
    let delete = a();
    vec![
        Route::new("GET", "/api/auth/users", ADMIN, "List users", move |ctx| {
            Ok(Reply::ok(&list.list_users(&ctx.caller()?.user)?))
        })
        .responds(200, json!({"type": "array", "items": schema::user()})),
        Route::new(
            "POST",
            "/api/auth/users",
            ADMIN,
            "Create a user (Admin: only level User)",
            move |ctx| {
                let body: NewUser = ctx.json()?;
                let caller = &ctx.caller()?.user;
                let user = create.add_user(caller, &body.name, &body.password, body.level);
                let result = user.map(|u| Reply::json(201, &u)).map_err(ApiError::from);
                let level = format!("level {}", body.level.as_str());
                t_create.note(ctx, None, Action::UserCreate, &body.name, &level, result)
            },
        )
        .body(schema::new_user())
        .responds(201, schema::user())
        .fails(409, "The name is taken"),
        Route::new(
            "GET",
            "/api/auth/users/{id}",
            USER,
            "One user (Admin+, or the user itself)",
            move |ctx| {
                let caller = &ctx.caller()?.user;
                Ok(Reply::ok(&get.read_user(caller, ctx.param("id"))?))
            },
        )
        .responds(200, schema::user())
        .fails(403, "A User may read only itself"),
        Route::new(
            "PATCH",
            "/api/auth/users/{id}",
            USER,
            "Change a user (rules by level)",
            move |ctx| {
                let body: UserPatch = ctx.json()?;
                let caller = &ctx.caller()?.user;
                let user = patch.patch_user(caller, ctx.param("id"), &body, &client(ctx));
                let result = user.map(|u| Reply::ok(&u)).map_err(ApiError::from);
                let changed = patch_fields(&body);
                t_patch.note(
                    ctx,
                    None,
                    Action::UserChange,
                    ctx.param("id"),
                    &changed,
                    result,
                )
            },
        )
        .body(schema::patch())
        .responds(200, schema::user())
        .fails(
            403,
            "Not the caller's to change (rules by level), or current_password is wrong",
        )
        .fails(
            409,
            "The new name is taken, or this would demote the last Root",
        )
        .password(),
        Route::new(
            "DELETE",
            "/api/auth/users/{id}",
            ROOT,
            "Delete a user",
            move |ctx| {
                let done = delete.delete_user(&ctx.caller()?.user, ctx.param("id"));
                let result = done.map(|_| Reply::no_content()).map_err(ApiError::from);
                t_delete.note(ctx, None, Action::UserDelete, ctx.param("id"), "", result)
            },
        )
        .responds(204, json!({}))
        .fails(409, "This is the last Root"),
    ]
}

/// Every body these routes read, decoded from `ctx` as they decode it, with the
/// checks that need no stored state (names, password rules). For the fuzz targets
/// (fuzz/fuzz_targets/bodies.rs): a client's bytes get a 400, never a panic.
#[doc(hidden)]
pub fn decode_bodies(ctx: &Ctx) -> Vec<Result<(), ApiError>> {
    let name = |n: &str| match super::users::valid_name(n) {
        true => Ok(()),
        false => Err(ApiError::bad_request("name: 1-32 of A-Z a-z 0-9 _ . -")),
    };
    let password = |p: &str| super::password::check_rules(p).map_err(ApiError::from);
    vec![
        ctx.json::<LoginBody>().map(drop),
        ctx.json::<RefreshBody>().map(drop),
        ctx.json_or_default::<RefreshBody>().map(drop),
        ctx.json::<NewUser>()
            .and_then(|u| name(&u.name).and_then(|()| password(&u.password))),
        ctx.json::<UserPatch>().and_then(|p| {
            p.name.as_deref().map_or(Ok(()), name)?;
            p.password.as_deref().map_or(Ok(()), password)
        }),
    ]
}

/// The caller's address, the throttle's other half.
fn client(ctx: &Ctx) -> String {
    ctx.remote.map(|ip| ip.to_string()).unwrap_or_default()
}

/// What a PATCH changes, for the audit trail (never the values of passwords).
fn patch_fields(patch: &UserPatch) -> String {
    let mut fields = Vec::new();
    if let Some(name) = &patch.name {
        fields.push(format!("name {name}"));
    }
    if patch.password.is_some() {
        fields.push("password".to_string());
    }
    if let Some(level) = patch.level {
        fields.push(format!("level {}", level.as_str()));
    }
    fields.join(", ")
}
