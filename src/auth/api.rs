//! `/api/auth/...`: sessions and users, a thin layer over [`Auth`].

use super::{Auth, Caller, Error, Level, UserPatch};
use crate::http::reply::{ApiError, Reply};
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

pub fn routes(auth: Arc<Auth>) -> Vec<Route> {
    let a = || auth.clone();
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
                let client = ctx.remote.map(|ip| ip.to_string()).unwrap_or_default();
                Ok(Reply::ok(&login.login(
                    &body.name,
                    &body.password,
                    &client,
                )?))
            },
        ),
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
                    &json!({"valid": true, "user": user_of(caller), "token": caller.claims}),
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
                    .or_else(|| ctx.header("authorization").and_then(super::bearer_token))
                    .ok_or_else(|| {
                        ApiError::bad_request("refresh_token: give it in the body or as Bearer")
                    })?;
                logout.logout(&token)?;
                Ok(Reply::ok(&json!({"revoked": true})))
            },
        ),
        Route::new(
            "POST",
            "/api/auth/session/logout-all",
            USER,
            "End every login of the caller",
            move |ctx| {
                let n = logout_all.logout_all(&ctx.caller()?.id)?;
                Ok(Reply::ok(&json!({"revoked": n})))
            },
        ),
        Route::new("GET", "/api/auth/session/me", USER, "The caller", |ctx| {
            Ok(Reply::ok(&user_of(ctx.caller()?)))
        }),
        Route::new("GET", "/api/auth/users", ADMIN, "List users", move |_| {
            Ok(Reply::ok(&list.list_users()))
        }),
        Route::new(
            "POST",
            "/api/auth/users",
            ADMIN,
            "Create a user (Admin: only level User)",
            move |ctx| {
                let body: NewUser = ctx.json()?;
                let caller = ctx.caller()?;
                if caller.level != Level::Root && body.level != Level::User {
                    return Err(ApiError::forbidden(
                        "an Admin may create only users of level User",
                    ));
                }
                Ok(Reply::json(
                    201,
                    &create.create_user(&body.name, &body.password, body.level)?,
                ))
            },
        ),
        Route::new(
            "GET",
            "/api/auth/users/{id}",
            USER,
            "One user (Admin+, or the user itself)",
            move |ctx| {
                let caller = ctx.caller()?;
                let id = ctx.param("id");
                if caller.level < Level::Admin && caller.id != id {
                    return Err(ApiError::forbidden("a User may read only itself"));
                }
                Ok(Reply::ok(&get.get_user(id)?))
            },
        ),
        Route::new(
            "PATCH",
            "/api/auth/users/{id}",
            USER,
            "Change a user (rules by level)",
            move |ctx| {
                let body: UserPatch = ctx.json()?;
                let caller = ctx.caller()?;
                let id = ctx.param("id");
                // Before the lookup: a User must not learn which ids exist.
                if caller.level == Level::User && caller.id != id {
                    return Err(ApiError::forbidden("a User may change only itself"));
                }
                let target = patch.get_user(id)?;
                let client = ctx.remote.map(|ip| ip.to_string()).unwrap_or_default();
                authorize_patch(&patch, caller, &target, &body, &client)?;
                Ok(Reply::ok(&patch.update_user(&target.id, &body)?))
            },
        ),
        Route::new(
            "DELETE",
            "/api/auth/users/{id}",
            ROOT,
            "Delete a user",
            move |ctx| {
                delete.delete_user(ctx.param("id"))?;
                Ok(Reply::no_content())
            },
        ),
    ]
}

fn user_of(caller: &Caller) -> super::User {
    super::User {
        id: caller.id.clone(),
        name: caller.name.clone(),
        level: caller.level,
        created_at: caller.created_at,
    }
}

/// PATCH rules: Root may change anything; an Admin may set the password of a
/// User; anyone may change their own password by giving the current one.
fn authorize_patch(
    auth: &Auth,
    caller: &Caller,
    target: &super::User,
    body: &UserPatch,
    client: &str,
) -> Result<(), ApiError> {
    if caller.level == Level::Root {
        return Ok(());
    }
    let only_password = body.name.is_none() && body.level.is_none() && body.password.is_some();
    if !only_password {
        return Err(ApiError::forbidden(
            "only a Root may change a name or a level",
        ));
    }
    if caller.id == target.id {
        let current = body.current_password.as_deref().ok_or_else(|| {
            ApiError::bad_request("current_password: required to change your own password")
        })?;
        auth.check_password(&caller.id, current, client)?;
        return Ok(());
    }
    if caller.level == Level::Admin && target.level == Level::User {
        return Ok(());
    }
    Err(ApiError::forbidden("you may not change this user"))
}
