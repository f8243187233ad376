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

const USER: Access = Access::AtLeast(Level::User);
const ADMIN: Access = Access::AtLeast(Level::Admin);
const ROOT: Access = Access::AtLeast(Level::Root);

pub fn routes(auth: Arc<Auth>, audit: Arc<Audit>) -> Vec<Route> {
    let a = || auth.clone();
    let t = || audit.clone();
    let (t_login, t_logout, t_logout_all, t_create, t_patch, t_delete) =
        (t(), t(), t(), t(), t(), t());
    let login = a();
    let refresh = a();
    let logout = a();
    let logout_all = a();
    let list = a();
    let create = a();
    let get = a();
    let patch = a();
    let delete = a();
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
        ),
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
        ),
        Route::new("GET", "/api/auth/session/me", USER, "The caller", |ctx| {
            Ok(Reply::ok(&ctx.caller()?.user))
        }),
        Route::new("GET", "/api/auth/users", ADMIN, "List users", move |ctx| {
            Ok(Reply::ok(&list.list_users(&ctx.caller()?.user)?))
        }),
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
        ),
        Route::new(
            "GET",
            "/api/auth/users/{id}",
            USER,
            "One user (Admin+, or the user itself)",
            move |ctx| {
                let caller = &ctx.caller()?.user;
                Ok(Reply::ok(&get.read_user(caller, ctx.param("id"))?))
            },
        ),
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
        ),
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
