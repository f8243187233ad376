//! `POST /api/supervisor/reload`: a thin layer over [`Reloader`].

use super::{Error, Reloader};
use crate::auth::Level;
use crate::http::reply::{ApiError, Reply};
use crate::http::router::{Access, Route};
use std::sync::Arc;

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            Error::Config(_) | Error::Rules(_) => ApiError::bad_request(e.to_string()),
            Error::Gpio(g) => g.into(),
            Error::Supervisor(s) => s.into(),
        }
    }
}

/// Root only: it runs whatever the file says.
pub fn route(reloader: Arc<Reloader>) -> Route {
    Route::new(
        "POST",
        "/api/supervisor/reload",
        Access::AtLeast(Level::Root),
        "Re-read the configuration file and apply its programs, pins and TLS certificate (as SIGHUP): changed programs are restarted with their new configuration, removed ones stopped, added ones started (autostart), the others keep running; changed pins are requested again, removed ones released, added ones requested, the others untouched. 200 {\"added\",\"changed\",\"removed\",\"pins\",\"tls\"}; 400 when the file is invalid or the running rules need a pin it removes",
        move |_| Ok(Reply::ok(&reloader.reload()?)),
    )
    .fails(
        400,
        "The configuration file is not valid, or the running rules need a pin it removes; the message says why",
    )
    .slow() // stops and starts the changed programs
}
