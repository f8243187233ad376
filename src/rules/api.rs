//! `/api/rules...`: a thin layer over [`Rules`] (docs/api.md, "Rules").

use super::Rules;
use crate::auth::Level;
use crate::http::reply::Reply;
use crate::http::request::Ctx;
use crate::http::router::{Access, Route};
use std::sync::Arc;

const USER: Access = Access::AtLeast(Level::User);

pub fn routes(rules: Arc<Rules>) -> Vec<Route> {
    let (list, events) = (rules.clone(), rules);
    vec![
        Route::new("GET", "/api/rules", USER, "Every rule with its trigger, counts, last firing and last error", move |_| {
            Ok(Reply::ok(&list.list()))
        }),
        Route::new(
            "GET",
            "/api/rules/events",
            USER,
            "Rule firings, suppressions, drops and failed actions, oldest first: ?after=SEQ&limit=N (default 100, at most 1000); a bounded ring",
            move |ctx| {
                let (after, limit) = ctx.page(1000)?;
                Ok(Reply::ok(&events.events(after, limit)))
            },
        )
        .query(&Ctx::page_query(1000)),
    ]
}
