//! Users, sessions and tokens. The core knows nothing of HTTP: it answers with
//! [`Error`], which `api.rs` turns into statuses.
//!
//! Its parts, one job each:
//! - `startup`: opening the state dir, the signing secret, the first Root;
//! - `users`: the users, their file record and API view, the last-Root rule;
//! - `sessions`: logins ("token families"), tokens, refresh rotation, logout;
//! - `login`: the password checks, under [`throttle`] and [`slots`];
//! - [`policy`]: who may do what to users.
//!
//! Invariants:
//! - `users.json` and `sessions.json` are written (atomically) before a change is
//!   acknowledged; a crash loses nothing that was answered. Memory changes only
//!   after its file is written, so a failed write leaves memory and disk agreeing;
//!   when both files change, sessions go first (see [`Auth::commit`]).
//! - Every token carries the id of its login ("family"). A token is valid only while
//!   its family is live, so logout, a password change, a deletion, or the reuse of a
//!   rotated refresh token ends access tokens too.
//! - Authorization uses the user's level as stored now, not the one in the token.
//! - There is always at least one Root.

pub mod api;
mod basic;
pub mod config;
pub mod cost;
mod error;
pub mod jwt;
mod login;
pub mod password;
pub mod policy;
mod sessions;
pub mod slots;
mod startup;
pub mod throttle;
mod users;

pub use config::AuthConfig;
pub use error::Error;
pub use sessions::{Caller, Tokens};
pub use users::{User, UserPatch};

use error::write_error;
use serde::{Deserialize, Serialize};
use sessions::Family;
use slots::Slots;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};
use throttle::Throttle;
use users::UserRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    User,
    Admin,
    Root,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::User => "User",
            Level::Admin => "Admin",
            Level::Root => "Root",
        }
    }
}

/// `users.json`.
#[derive(Default, Serialize, Deserialize)]
struct UsersFile {
    users: Vec<UserRecord>,
}

/// `sessions.json`.
#[derive(Default, Serialize, Deserialize)]
struct SessionsFile {
    families: BTreeMap<String, Family>,
}

/// What is in the two files, as it is in memory.
struct State {
    users: Vec<UserRecord>,
    families: BTreeMap<String, Family>,
}

impl State {
    fn user(&self, id: &str) -> Option<&UserRecord> {
        self.users.iter().find(|u| u.id == id)
    }

    fn user_named(&self, name: &str) -> Option<&UserRecord> {
        self.users.iter().find(|u| u.name == name)
    }
}

pub struct Auth {
    state: Mutex<State>,
    secret: Vec<u8>,
    settings: AuthConfig,
    /// PBKDF2 iterations of new hashes: the config's, or calibrated (see `cost`).
    cost: u32,
    users_path: PathBuf,
    sessions_path: PathBuf,
    throttle: Throttle,
    /// Verified against when the name is unknown, so that timing does not tell
    /// which names exist. Made on first need: hashing at full cost on every start
    /// would cost a Pi Zero seconds.
    dummy_hash: OnceLock<String>,
    /// Every password check (login, `current_password`) runs in one of these.
    slots: Slots,
    /// Recently verified HTTP Basic credentials (see [`basic`]).
    basic: basic::BasicCache,
}

impl Auth {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Make new sessions and/or users the state: each is written to its file
    /// first and swapped into memory only once written, so a failed write
    /// changes neither.
    ///
    /// Sessions go first. A change of both is a revocation plus a user change (a
    /// new password, a deletion); if the users write then fails, the sessions stay
    /// ended on disk and in memory while the user is unchanged in both. The
    /// request fails, but no revoked token can come back, not even after a
    /// restart. The other order could leave a new password on disk beside the
    /// sessions it should have ended.
    fn commit(
        &self,
        state: &mut State,
        families: Option<BTreeMap<String, Family>>,
        users: Option<Vec<UserRecord>>,
    ) -> Result<(), Error> {
        if let Some(families) = families {
            let file = SessionsFile { families };
            crate::store::write_json(&self.sessions_path, &file)
                .map_err(|e| write_error(&self.sessions_path, e))?;
            state.families = file.families;
        }
        if let Some(users) = users {
            let file = UsersFile { users };
            crate::store::write_json(&self.users_path, &file)
                .map_err(|e| write_error(&self.users_path, e))?;
            state.users = file.users;
        }
        Ok(())
    }
}

#[cfg(test)]
mod test_support {
    use super::{Auth, AuthConfig};
    use std::path::{Path, PathBuf};

    /// An [`Auth`] on a fresh state dir, with cheap and unbounded password checks.
    pub fn temp_auth(tag: &str) -> (Auth, PathBuf) {
        let dir = std::env::temp_dir().join(format!("pistack-auth-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let settings = AuthConfig {
            pbkdf2_iterations: Some(1000),
            password_checks_per_s: 1000,
            ..AuthConfig::default()
        };
        (Auth::open(&settings, &dir).unwrap(), dir)
    }

    pub fn root_password(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("initial-root-password"))
            .unwrap()
            .trim()
            .to_string()
    }
}
