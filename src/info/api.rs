//! `/api/info/...`: a thin layer over [`Info`]; every route is User+.

use super::{Error, Info};
use crate::auth::Level;
use crate::http::reply::{ApiError, Reply};
use crate::http::request::whole;
use crate::http::router::{Access, Route};
use std::sync::Arc;

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            // This daemon has no weather resource at all: nothing will come back later.
            Error::NotConfigured => ApiError::not_found(e.to_string()),
            Error::Unavailable(_) | Error::Provider(_) => ApiError::unavailable(e.to_string()),
        }
    }
}

const USER: Access = Access::AtLeast(Level::User);

pub fn routes(info: Arc<Info>) -> Vec<Route> {
    let i = || info.clone();
    let (system, network, weather, history) = (i(), i(), i(), i());
    let mut routes = vec![
        Route::new(
            "GET",
            "/api/info/system",
            USER,
            "Host, OS, uptime, load, CPU %/frequency, memory, swap, disk of the state dir, SoC temperature, under-voltage (ok|under-voltage|unsupported), the daemon's pid/RSS/threads/fds",
            move |_| Ok(Reply::ok(&system.system()?)),
        ),
        Route::new(
            "GET",
            "/api/info/network",
            USER,
            "Interfaces: MAC, up, operstate, MTU, IPv4/IPv6 with prefix, rx/tx bytes, Wi-Fi signal",
            move |_| Ok(Reply::ok(&network.network()?)),
        ),
        Route::new(
            "GET",
            "/api/info/history",
            USER,
            "Sparkline series (?since=UNIX_S): CPU %, memory used, SoC temperature, requests/min; an in-memory ring of 1440 samples (28800 bytes), one per history_interval_s (60 s: 24 h)",
            move |ctx| {
                let since = ctx.query_u64("since", 0, u64::MAX)?;
                Ok(Reply::ok(&history.history(since)))
            },
        )
        .query(&[("since", "Only samples at or after this UNIX time (default 0: all)", whole(u64::MAX))]),
    ];
    // Without `info.weather` there is no weather resource, so no route: the
    // dashboard (which reads the route table) does not ask, and gets no 404.
    if info.has_weather() {
        routes.push(
            Route::new(
                "GET",
                "/api/info/weather",
                USER,
                "Current weather (Open-Meteo), cached for cache_s; the last good answer (cached, stale, age_s) for up to 3 x cache_s while the provider fails, else 503",
                move |_| Ok(Reply::ok(&weather.weather()?)),
            )
            .fails(503, "The provider fails and no answer younger than 3 x cache_s is left"),
        );
    }
    routes
}
