//! The audit trail: who did what and when — logins (failed ones too, with the
//! address), logouts, program starts/stops/restarts/signals, GPIO writes and user
//! changes. The API adapters know the caller, so they record; this core keeps the
//! last [`CAPACITY`] entries in memory (no file: the journal has every one as a
//! log line) and answers `GET /api/audit`.

use crate::auth::Level;
use crate::events::{Numbered, Ring};
use crate::http::reply::{ApiError, Reply};
use crate::http::request::Ctx;
use crate::http::router::{Access, Route};
use serde::Serialize;
use std::sync::Arc;

/// Entries kept. An entry is ~200 bytes with its strings, so the ring stays
/// under ~200 KiB however busy the board is.
pub const CAPACITY: usize = 1000;

/// What was done. Serialised as `"area.verb"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Login,
    Logout,
    LogoutAll,
    UserCreate,
    UserChange,
    UserDelete,
    Start,
    Stop,
    Restart,
    Signal,
    GroupStart,
    GroupStop,
    GroupRestart,
    GpioWrite,
    GpioToggle,
    GpioPulse,
    GpioSimInput,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Login => "auth.login",
            Action::Logout => "auth.logout",
            Action::LogoutAll => "auth.logout_all",
            Action::UserCreate => "user.create",
            Action::UserChange => "user.change",
            Action::UserDelete => "user.delete",
            Action::Start => "process.start",
            Action::Stop => "process.stop",
            Action::Restart => "process.restart",
            Action::Signal => "process.signal",
            Action::GroupStart => "group.start",
            Action::GroupStop => "group.stop",
            Action::GroupRestart => "group.restart",
            Action::GpioWrite => "gpio.write",
            Action::GpioToggle => "gpio.toggle",
            Action::GpioPulse => "gpio.pulse",
            Action::GpioSimInput => "gpio.sim_input",
        }
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One thing done (docs/api.md, "Audit").
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Entry {
    /// The user's name: the caller's, or the name a login tried.
    pub user: String,
    /// The client's IP address.
    pub address: String,
    pub action: Action,
    /// What it was done to: a program, group, pin or user name.
    pub target: String,
    pub ok: bool,
    /// Why it failed (the API's message), or a detail such as the signal or value.
    pub detail: String,
}

pub struct Audit {
    ring: Ring<Entry>,
}

impl Default for Audit {
    fn default() -> Self {
        Audit::new()
    }
}

impl Audit {
    pub fn new() -> Audit {
        Audit {
            ring: Ring::new(CAPACITY),
        }
    }

    /// Keep `entry` and log it as one line.
    pub fn record(&self, entry: Entry) {
        log::info!(
            "audit: {} {} {:?} from {} {}{}{}",
            entry.user,
            entry.action.as_str(),
            entry.target,
            entry.address,
            if entry.ok { "ok" } else { "failed" },
            if entry.detail.is_empty() { "" } else { ": " },
            entry.detail
        );
        self.ring.push(entry);
    }

    pub fn after(&self, after: u64, limit: usize) -> Vec<Numbered<Entry>> {
        self.ring.after(after, limit)
    }

    /// For an adapter: record what `ctx`'s caller (or `user`, when given: a login
    /// has no caller yet) did to `target`, and how it ended; `result` passes through.
    pub fn note(
        &self,
        ctx: &Ctx,
        user: Option<&str>,
        action: Action,
        target: &str,
        detail: &str,
        result: Result<Reply, ApiError>,
    ) -> Result<Reply, ApiError> {
        let user = match user {
            Some(u) => u.to_string(),
            None => ctx
                .caller
                .as_ref()
                .map(|c| c.user.name.clone())
                .unwrap_or_default(),
        };
        let (ok, detail) = match &result {
            Ok(_) => (true, detail.to_string()),
            Err(e) => (false, format!("{} {}", e.status, e.message)),
        };
        self.record(Entry {
            user,
            address: ctx.remote.map(|ip| ip.to_string()).unwrap_or_default(),
            action,
            target: target.to_string(),
            ok,
            detail,
        });
        result
    }
}

/// `GET /api/audit?after=SEQ&limit=N` (Admin+).
pub fn route(audit: Arc<Audit>) -> Route {
    Route::new(
        "GET",
        "/api/audit",
        Access::AtLeast(Level::Admin),
        "The audit trail, oldest first: ?after=SEQ&limit=N (default 100, at most 1000); a bounded ring",
        move |ctx| {
            let (after, limit) = ctx.page(CAPACITY)?;
            Ok(Reply::ok(&audit.after(after, limit)))
        },
    )
    .query(&Ctx::page_query(CAPACITY))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(target: &str, ok: bool) -> Entry {
        Entry {
            user: "root".into(),
            address: "127.0.0.1".into(),
            action: Action::Start,
            target: target.into(),
            ok,
            detail: String::new(),
        }
    }

    #[test]
    fn keeps_the_last_entries_in_order_and_serialises_the_action() {
        let audit = Audit::new();
        for i in 0..CAPACITY + 5 {
            audit.record(entry(&format!("p{i}"), i % 2 == 0));
        }
        let all = audit.after(0, CAPACITY * 2);
        assert_eq!(all.len(), CAPACITY, "bounded");
        assert_eq!(all[0].event.target, "p5", "the oldest were dropped");
        assert_eq!(all[0].seq, 6);
        let later = audit.after(all[CAPACITY - 2].seq, 10);
        assert_eq!(later.len(), 1);
        let json = serde_json::to_value(&later[0]).unwrap();
        assert_eq!(json["action"], "process.start");
        assert_eq!(json["target"], format!("p{}", CAPACITY + 4));
        assert!(json["time"].as_u64().unwrap() > 0);
    }
}
