//! Users, sessions and tokens. The core knows nothing of HTTP: it answers with
//! [`Error`], which `api.rs` turns into statuses.
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
pub mod jwt;
pub mod password;
pub mod slots;
pub mod throttle;

use crate::config::AuthConfig;
use crate::events::now_s;
use crate::store;
use jwt::Claims;
use serde::{Deserialize, Serialize};
use slots::Slots;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use throttle::Throttle;

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

/// A user as the API shows it: never a hash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub level: Level,
    pub created_at: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct UserRecord {
    #[serde(flatten)]
    user: User,
    password_hash: String,
}

/// One login and every token rotated from it. Ending a login removes its family:
/// a token whose family is gone is refused, which is all a revoked one needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Family {
    user_id: String,
    created_at: u64,
    expires_at: u64,
    /// The only refresh token of the family that may be used now.
    current_jti: String,
    /// Order of last use (login or refresh) among all families: the least
    /// recently used goes first when a user has too many. Seconds would tie.
    #[serde(default)]
    last_use: u64,
}

/// Live logins kept per user; a new one beyond this ends the oldest. Bounds
/// `sessions.json` (rewritten at every login) for scripts that log in and never
/// log out.
const MAX_SESSIONS_PER_USER: usize = 50;

#[derive(Default, Serialize, Deserialize)]
struct UsersFile {
    users: Vec<UserRecord>,
}

#[derive(Default, Serialize, Deserialize)]
struct SessionsFile {
    families: BTreeMap<String, Family>,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: String,
    pub name: String,
    pub level: Level,
    pub created_at: u64,
    pub claims: Claims,
}

/// What a login or refresh hands out.
#[derive(Debug, Serialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub user: User,
}

/// Why an auth operation failed. Each message says what to do next; show them
/// with `Display`.
#[derive(Debug, PartialEq)]
pub enum Error {
    /// The request itself is wrong (a bad name, a short password): fix and resend.
    Invalid(String),
    /// No valid credentials or token: log in (again).
    Unauthenticated(String),
    /// The caller is known but may not do this.
    Forbidden(String),
    NotFound(String),
    /// The change clashes with the state (a taken name, the last Root).
    Conflict(String),
    /// Too many wrong passwords for this account from this address.
    Throttled {
        retry_after_s: u64,
    },
    /// Every password-check slot stayed busy for as long as a caller waits.
    Busy,
    /// The state dir's disk (or quota) is full; nothing was changed.
    DiskFull(String),
    /// Any other failure to read or write state, or to get random bytes.
    Storage(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Invalid(m)
            | Error::Unauthenticated(m)
            | Error::Forbidden(m)
            | Error::NotFound(m)
            | Error::Conflict(m) => f.write_str(m),
            Error::Throttled { retry_after_s } => {
                write!(f, "too many failed logins; try again in {retry_after_s} s")
            }
            Error::Busy => f.write_str("too many password checks at once; try again in 1 s"),
            Error::DiskFull(path) => write!(
                f,
                "could not save {path}: the disk is full; free some space and try again \
                 (nothing was changed)"
            ),
            Error::Storage(m) => write!(f, "could not save: {m}"),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Storage(e.to_string())
    }
}

/// The error of a failed write of `path`.
fn write_error(path: &Path, e: std::io::Error) -> Error {
    if store::is_disk_full(&e) {
        Error::DiskFull(path.display().to_string())
    } else {
        Error::Storage(format!("{}: {e}", path.display()))
    }
}

/// Changes to a user (PATCH); `None` leaves a field as it is.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub name: Option<String>,
    pub password: Option<String>,
    pub level: Option<Level>,
    pub current_password: Option<String>,
}

struct State {
    users: Vec<UserRecord>,
    families: BTreeMap<String, Family>,
}

impl State {
    fn user(&self, id: &str) -> Option<&UserRecord> {
        self.users.iter().find(|u| u.user.id == id)
    }
}

pub struct Auth {
    state: Mutex<State>,
    secret: Vec<u8>,
    settings: AuthConfig,
    users_path: PathBuf,
    sessions_path: PathBuf,
    throttle: Throttle,
    /// Verified against when the name is unknown, so that timing does not tell
    /// which names exist. Made on first need: hashing at full cost on every start
    /// would cost a Pi Zero seconds.
    dummy_hash: std::sync::OnceLock<String>,
    /// Every password check (login, `current_password`) runs in one of these.
    slots: Slots,
}

/// Password checks running at once; see [`slots`].
const CHECKS_AT_ONCE: usize = 2;
/// How long a login waits for a password-check slot before a 429.
const SLOT_WAIT: Duration = Duration::from_secs(10);

pub fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

fn check_password_rules(p: &str) -> Result<(), Error> {
    if p.chars().count() < 8 {
        return Err(Error::Invalid("password: at least 8 characters".into()));
    }
    if p.len() > 1024 {
        return Err(Error::Invalid("password: at most 1024 bytes".into()));
    }
    Ok(())
}

/// The signing secret: `AUTH_SECRET`, else `auth.secret_file`, else
/// `<state_dir>/secret.key` (64 random bytes, made on first start).
fn load_secret(settings: &AuthConfig, state_dir: &Path) -> Result<Vec<u8>, String> {
    if let Some(s) = std::env::var_os("AUTH_SECRET").filter(|s| !s.is_empty()) {
        use std::os::unix::ffi::OsStrExt;
        return Ok(s.as_bytes().to_vec());
    }
    if let Some(file) = &settings.secret_file {
        let mut bytes =
            std::fs::read(file).map_err(|e| format!("auth.secret_file {}: {e}", file.display()))?;
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        if bytes.len() < 32 {
            return Err(format!(
                "auth.secret_file {}: use at least 32 bytes",
                file.display()
            ));
        }
        return Ok(bytes);
    }
    let path = state_dir.join("secret.key");
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() >= 32 => Ok(bytes),
        Ok(_) => Err(format!(
            "{} is too short; delete it to make a new one",
            path.display()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret = crate::random::bytes::<64>().map_err(|e| e.to_string())?;
            store::write_atomic(&path, &secret, 0o600)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(secret.to_vec())
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

impl Auth {
    /// Load users and sessions from `state_dir`, creating `root` on first start.
    pub fn open(settings: &AuthConfig, state_dir: &Path) -> Result<Auth, String> {
        let secret = load_secret(settings, state_dir)?;
        let users_path = state_dir.join("users.json");
        let sessions_path = state_dir.join("sessions.json");
        let users: UsersFile = store::read_json(&users_path)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let sessions: SessionsFile = store::read_json(&sessions_path)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let auth = Auth {
            state: Mutex::new(State {
                users: users.users,
                families: sessions.families,
            }),
            secret,
            throttle: Throttle::new(
                settings.throttle_free_attempts.max(1),
                Duration::from_secs(settings.throttle_max_delay_s.max(1)),
            ),
            settings: settings.clone(),
            users_path,
            sessions_path,
            dummy_hash: std::sync::OnceLock::new(),
            slots: Slots::new(CHECKS_AT_ONCE, settings.password_checks_per_s, SLOT_WAIT),
        };
        auth.create_first_root(state_dir)?;
        {
            let mut state = auth.lock();
            let mut families = state.families.clone();
            prune(&mut families, now_s());
            if families.len() != state.families.len() {
                auth.commit(&mut state, Some(families), None)
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(auth)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn create_first_root(&self, state_dir: &Path) -> Result<(), String> {
        if !self.lock().users.is_empty() {
            return Ok(());
        }
        let file = state_dir.join("initial-root-password");
        let (password, from_env) = match std::env::var("PISTACK_ROOT_PASSWORD") {
            Ok(p) if !p.is_empty() => (p, true),
            _ => (crate::random::password().map_err(|e| e.to_string())?, false),
        };
        check_password_rules(&password)
            .map_err(|_| "PISTACK_ROOT_PASSWORD: use at least 8 characters".to_string())?;
        if !from_env {
            store::write_atomic(&file, format!("{password}\n").as_bytes(), 0o600)
                .map_err(|e| format!("{}: {e}", file.display()))?;
        }
        self.create_user("root", &password, Level::Root)
            .map_err(|e| e.to_string())?;
        if from_env {
            log::warn!("created user root with the password from PISTACK_ROOT_PASSWORD");
        } else {
            log::warn!(
                "created user root; its password is in {} (change it, then delete the file)",
                file.display()
            );
        }
        Ok(())
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
            store::write_json(&self.sessions_path, &file)
                .map_err(|e| write_error(&self.sessions_path, e))?;
            state.families = file.families;
        }
        if let Some(users) = users {
            let file = UsersFile { users };
            store::write_json(&self.users_path, &file)
                .map_err(|e| write_error(&self.users_path, e))?;
            state.users = file.users;
        }
        Ok(())
    }

    // ----- tokens ---------------------------------------------------------------

    fn issue(
        &self,
        state: &mut State,
        user: &User,
        family_id: Option<String>,
    ) -> Result<Tokens, Error> {
        let now = now_s();
        let jti = crate::random::uuid()?;
        let mut families = state.families.clone();
        let family_id = match family_id {
            Some(f) => f,
            None => {
                make_room(&mut families, &user.id);
                crate::random::uuid()?
            }
        };
        let last_use = families.values().map(|f| f.last_use).max().unwrap_or(0) + 1;
        let family = families.entry(family_id.clone()).or_insert_with(|| Family {
            user_id: user.id.clone(),
            created_at: now,
            expires_at: now + self.settings.refresh_ttl_s,
            current_jti: String::new(),
            last_use: 0,
        });
        family.last_use = last_use;
        family.current_jti = jti.clone();
        family.expires_at = now + self.settings.refresh_ttl_s;
        let claims = |typ: &str, jti: String, exp: u64| Claims {
            typ: typ.into(),
            jti,
            sub: user.id.clone(),
            nam: user.name.clone(),
            lvl: user.level.as_str().into(),
            iat: now,
            exp,
            fam: family_id.clone(),
        };
        let refresh = jwt::sign(
            &claims("refresh", jti, now + self.settings.refresh_ttl_s),
            &self.secret,
        );
        let access = jwt::sign(
            &claims(
                "access",
                crate::random::uuid()?,
                now + self.settings.access_ttl_s,
            ),
            &self.secret,
        );
        prune(&mut families, now);
        self.commit(state, Some(families), None)?;
        Ok(Tokens {
            access_token: access,
            refresh_token: refresh,
            token_type: "Bearer",
            expires_in: self.settings.access_ttl_s,
            user: user.clone(),
        })
    }

    /// Log in with name and password; `client` is the caller's address for throttling.
    pub fn login(&self, name: &str, pass: &str, client: &str) -> Result<Tokens, Error> {
        let key = Throttle::key(name, client);
        let rec = self
            .guarded_check(&key, pass, |state| {
                state.users.iter().find(|u| u.user.name == name).cloned()
            })?
            .ok_or_else(|| Error::Unauthenticated("invalid credentials".into()))?;
        let mut state = self.lock();
        self.rehash_if_needed(&mut state, &rec, pass);
        let user = state
            .user(&rec.user.id)
            .map(|u| u.user.clone())
            .ok_or_else(|| Error::Unauthenticated("invalid credentials".into()))?;
        self.issue(&mut state, &user, None)
    }

    /// Check `pass` against the user `find` picks, under the throttle of `key` and
    /// in a password-check slot. `Ok(Some(user))` when it matches. An unknown user
    /// costs as much as a known one, so timing does not tell which names exist.
    fn guarded_check(
        &self,
        key: &str,
        pass: &str,
        find: impl Fn(&State) -> Option<UserRecord>,
    ) -> Result<Option<UserRecord>, Error> {
        let throttled = |retry_after_s| Error::Throttled { retry_after_s };
        self.throttle
            .check(key, Instant::now())
            .map_err(throttled)?;
        let _slot = self.slots.acquire().ok_or(Error::Busy)?;
        // Guesses with the same key that waited beside this one may have failed.
        self.throttle
            .check(key, Instant::now())
            .map_err(throttled)?;
        let found = find(&self.lock());
        let ok = match &found {
            Some(rec) => password::verify(pass, &rec.password_hash),
            None => {
                let dummy = self.dummy_hash.get_or_init(|| {
                    password::hash("not a password", self.settings.pbkdf2_iterations)
                        .unwrap_or_default()
                });
                password::verify(pass, dummy);
                false
            }
        };
        if ok {
            self.throttle.success(key);
            Ok(found)
        } else {
            self.throttle.failure(key, Instant::now());
            Ok(None)
        }
    }

    /// Re-hash at the configured cost, if the stored hash is of another one. Best
    /// effort: a failed write leaves the old hash, which still works.
    fn rehash_if_needed(&self, state: &mut State, rec: &UserRecord, pass: &str) {
        let cost = self.settings.pbkdf2_iterations;
        if password::iterations(&rec.password_hash) == Some(cost) {
            return;
        }
        let Ok(new_hash) = password::hash(pass, cost) else {
            return;
        };
        let mut users = state.users.clone();
        if let Some(r) = users.iter_mut().find(|u| u.user.id == rec.user.id) {
            r.password_hash = new_hash;
            if let Err(e) = self.commit(state, None, Some(users)) {
                log::warn!("could not re-hash the password of {}: {e}", rec.user.name);
            }
        }
    }

    /// Rotate a refresh token. Presenting one that was already rotated revokes its
    /// whole family: someone holds a copy.
    pub fn refresh(&self, token: &str) -> Result<Tokens, Error> {
        let claims = jwt::verify(token, &self.secret, now_s())
            .map_err(|e| Error::Unauthenticated(e.to_string()))?;
        if claims.typ != "refresh" {
            return Err(Error::Unauthenticated("this is not a refresh token".into()));
        }
        let mut state = self.lock();
        let family = state
            .families
            .get(&claims.fam)
            .ok_or_else(|| Error::Unauthenticated("this session has ended; log in again".into()))?;
        if family.current_jti != claims.jti {
            let mut families = state.families.clone();
            families.remove(&claims.fam);
            self.commit(&mut state, Some(families), None)?;
            log::warn!(
                "refresh token reuse for user {}: its session is revoked",
                claims.nam
            );
            return Err(Error::Unauthenticated(
                "this refresh token was already used; the session is revoked, log in again".into(),
            ));
        }
        let user = state
            .user(&claims.sub)
            .map(|u| u.user.clone())
            .ok_or_else(|| Error::Unauthenticated("the user no longer exists".into()))?;
        self.issue(&mut state, &user, Some(claims.fam))
    }

    /// Check an `Authorization` header value and return the caller.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Caller, Error> {
        let token = header.and_then(bearer_token).ok_or_else(|| {
            Error::Unauthenticated(
                "missing token: send Authorization: Bearer <access_token>".into(),
            )
        })?;
        let claims = jwt::verify(&token, &self.secret, now_s())
            .map_err(|e| Error::Unauthenticated(e.to_string()))?;
        if claims.typ != "access" {
            return Err(Error::Unauthenticated("this is not an access token".into()));
        }
        let state = self.lock();
        let live = state
            .families
            .get(&claims.fam)
            .is_some_and(|f| f.user_id == claims.sub);
        if !live {
            return Err(Error::Unauthenticated(
                "this session has ended; log in again".into(),
            ));
        }
        let user = state
            .user(&claims.sub)
            .ok_or_else(|| Error::Unauthenticated("the user no longer exists".into()))?;
        Ok(Caller {
            id: user.user.id.clone(),
            name: user.user.name.clone(),
            level: user.user.level,
            created_at: user.user.created_at,
            claims,
        })
    }

    /// End the login a refresh token belongs to. Idempotent; an expired token
    /// still works (its signature is what matters).
    pub fn logout(&self, token: &str) -> Result<(), Error> {
        let claims: Claims = jwt::verify_signature(token, &self.secret)
            .map_err(|e| Error::Unauthenticated(e.to_string()))?;
        let mut state = self.lock();
        let mut families = state.families.clone();
        if families.remove(&claims.fam).is_some() {
            self.commit(&mut state, Some(families), None)?;
        }
        Ok(())
    }

    /// End every login of a user; returns how many were live.
    pub fn logout_all(&self, user_id: &str) -> Result<usize, Error> {
        let mut state = self.lock();
        let mut families = state.families.clone();
        let n = revoke_user(&mut families, user_id);
        if n > 0 {
            self.commit(&mut state, Some(families), None)?;
        }
        Ok(n)
    }

    // ----- users -----------------------------------------------------------------

    pub fn list_users(&self) -> Vec<User> {
        self.lock().users.iter().map(|u| u.user.clone()).collect()
    }

    pub fn get_user(&self, id: &str) -> Result<User, Error> {
        self.lock()
            .user(id)
            .map(|u| u.user.clone())
            .ok_or_else(|| Error::NotFound(format!("no user with id {id}")))
    }

    pub fn find_by_name(&self, name: &str) -> Option<User> {
        self.lock()
            .users
            .iter()
            .find(|u| u.user.name == name)
            .map(|u| u.user.clone())
    }

    pub fn create_user(&self, name: &str, pass: &str, level: Level) -> Result<User, Error> {
        if !valid_name(name) {
            return Err(Error::Invalid("name: 1-32 of A-Z a-z 0-9 _ . -".into()));
        }
        check_password_rules(pass)?;
        let hash = password::hash(pass, self.settings.pbkdf2_iterations)?;
        let mut state = self.lock();
        if state.users.iter().any(|u| u.user.name == name) {
            return Err(Error::Conflict(format!("the name {name:?} is taken")));
        }
        let user = User {
            id: crate::random::uuid()?,
            name: name.to_string(),
            level,
            created_at: now_s(),
        };
        let mut users = state.users.clone();
        users.push(UserRecord {
            user: user.clone(),
            password_hash: hash,
        });
        self.commit(&mut state, None, Some(users))?;
        Ok(user)
    }

    /// Apply a change already authorized by the caller. A new password ends the
    /// user's sessions.
    pub fn update_user(&self, id: &str, patch: &UserPatch) -> Result<User, Error> {
        if let Some(name) = &patch.name {
            if !valid_name(name) {
                return Err(Error::Invalid("name: 1-32 of A-Z a-z 0-9 _ . -".into()));
            }
        }
        let new_hash = match &patch.password {
            Some(p) => {
                check_password_rules(p)?;
                Some(password::hash(p, self.settings.pbkdf2_iterations)?)
            }
            None => None,
        };
        let mut state = self.lock();
        let idx = state
            .users
            .iter()
            .position(|u| u.user.id == id)
            .ok_or_else(|| Error::NotFound(format!("no user with id {id}")))?;
        if let Some(name) = &patch.name {
            if state
                .users
                .iter()
                .any(|u| &u.user.name == name && u.user.id != id)
            {
                return Err(Error::Conflict(format!("the name {name:?} is taken")));
            }
        }
        if let Some(level) = patch.level {
            let roots = state
                .users
                .iter()
                .filter(|u| u.user.level == Level::Root)
                .count();
            if state.users[idx].user.level == Level::Root && level != Level::Root && roots == 1 {
                return Err(Error::Conflict(
                    "this is the last Root; make another Root first".into(),
                ));
            }
        }
        let mut users = state.users.clone();
        let rec = &mut users[idx];
        if let Some(name) = &patch.name {
            rec.user.name = name.clone();
        }
        if let Some(level) = patch.level {
            rec.user.level = level;
        }
        let mut families = None;
        if let Some(h) = new_hash {
            rec.password_hash = h;
            let mut f = state.families.clone();
            if revoke_user(&mut f, id) > 0 {
                families = Some(f);
            }
        }
        let updated = rec.user.clone();
        self.commit(&mut state, families, Some(users))?;
        Ok(updated)
    }

    /// Is `pass` the password of user `id`? For a self-service change, under the
    /// same throttle (account and `client` address) and slots as a login, so that
    /// it is no faster way to guess.
    pub fn check_password(&self, id: &str, pass: &str, client: &str) -> Result<(), Error> {
        let name = self.lock().user(id).map(|u| u.user.name.clone());
        let key = Throttle::key(name.as_deref().unwrap_or(id), client);
        match self.guarded_check(&key, pass, |state| state.user(id).cloned())? {
            Some(_) => Ok(()),
            None => Err(Error::Forbidden("current_password is wrong".into())),
        }
    }

    pub fn delete_user(&self, id: &str) -> Result<(), Error> {
        let mut state = self.lock();
        let idx = state
            .users
            .iter()
            .position(|u| u.user.id == id)
            .ok_or_else(|| Error::NotFound(format!("no user with id {id}")))?;
        let roots = state
            .users
            .iter()
            .filter(|u| u.user.level == Level::Root)
            .count();
        if state.users[idx].user.level == Level::Root && roots == 1 {
            return Err(Error::Conflict(
                "this is the last Root; make another Root first".into(),
            ));
        }
        let mut users = state.users.clone();
        users.remove(idx);
        let mut families = state.families.clone();
        let families = (revoke_user(&mut families, id) > 0).then_some(families);
        self.commit(&mut state, families, Some(users))?;
        Ok(())
    }

    /// For `pistack passwd`: set a password by name (ends that user's sessions).
    pub fn set_password_by_name(&self, name: &str, pass: &str) -> Result<User, Error> {
        let user = self
            .find_by_name(name)
            .ok_or_else(|| Error::NotFound(format!("no user named {name:?}")))?;
        self.update_user(
            &user.id,
            &UserPatch {
                password: Some(pass.to_string()),
                ..UserPatch::default()
            },
        )
    }
}

/// End every login of a user; returns how many.
fn revoke_user(families: &mut BTreeMap<String, Family>, user_id: &str) -> usize {
    let before = families.len();
    families.retain(|_, f| f.user_id != user_id);
    before - families.len()
}

/// Drop expired logins.
fn prune(families: &mut BTreeMap<String, Family>, now: u64) {
    families.retain(|_, f| f.expires_at > now);
}

/// Before a new login of `user_id`: end its least recently used ones beyond
/// [`MAX_SESSIONS_PER_USER`] - 1.
fn make_room(families: &mut BTreeMap<String, Family>, user_id: &str) {
    loop {
        let mine = families.iter().filter(|(_, f)| f.user_id == user_id);
        if mine.clone().count() < MAX_SESSIONS_PER_USER {
            return;
        }
        let Some(oldest) = mine
            .min_by_key(|(_, f)| f.last_use)
            .map(|(id, _)| id.clone())
        else {
            return;
        };
        families.remove(&oldest);
    }
}

/// The token in an `Authorization` value, tolerating what the original did:
/// `Bearer Bearer x`, `Bearer%20x`, quotes around the token.
pub fn bearer_token(header: &str) -> Option<String> {
    let mut rest = header.trim();
    loop {
        let lower = rest.get(..7).map(|s| s.to_ascii_lowercase());
        if lower.as_deref() == Some("bearer ") {
            rest = rest[7..].trim_start();
        } else if rest.get(..9).map(|s| s.to_ascii_lowercase()).as_deref() == Some("bearer%20") {
            rest = &rest[9..];
        } else {
            break;
        }
    }
    let token = rest.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    let usable = !token.is_empty() && !token.contains(' ') && !token.eq_ignore_ascii_case("bearer");
    usable.then(|| token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_variants() {
        for h in [
            "Bearer abc",
            "Bearer Bearer abc",
            "Bearer%20abc",
            "bearer \"abc\"",
            "Bearer 'abc' ",
            "abc",
        ] {
            assert_eq!(bearer_token(h).as_deref(), Some("abc"), "{h}");
        }
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Basic a b"), None);
    }

    fn temp_auth(tag: &str) -> (Auth, PathBuf) {
        let dir = std::env::temp_dir().join(format!("pistack-auth-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let settings = AuthConfig {
            pbkdf2_iterations: 1000,
            password_checks_per_s: 1000,
            ..AuthConfig::default()
        };
        (Auth::open(&settings, &dir).unwrap(), dir)
    }

    fn root_password(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("initial-root-password"))
            .unwrap()
            .trim()
            .to_string()
    }

    #[test]
    fn first_start_creates_root_with_a_random_password() {
        let (auth, dir) = temp_auth("first");
        let pw = root_password(&dir);
        assert_eq!(pw.len(), 20);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("initial-root-password"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(auth.login("root", &pw, "t").is_ok());
        assert_eq!(
            auth.login("root", "password", "t").unwrap_err(),
            Error::Unauthenticated("invalid credentials".into())
        );
    }

    #[test]
    fn refresh_rotates_and_reuse_revokes_the_family() {
        let (auth, dir) = temp_auth("rot");
        let t1 = auth.login("root", &root_password(&dir), "t").unwrap();
        let t2 = auth.refresh(&t1.refresh_token).unwrap();
        assert!(auth
            .authenticate(Some(&format!("Bearer {}", t2.access_token)))
            .is_ok());
        assert!(matches!(
            auth.refresh(&t1.refresh_token),
            Err(Error::Unauthenticated(_))
        ));
        // The thief's replay ended the legitimate holder's tokens too.
        assert!(auth.refresh(&t2.refresh_token).is_err());
        assert!(auth
            .authenticate(Some(&format!("Bearer {}", t2.access_token)))
            .is_err());
    }

    #[test]
    fn token_types_are_not_interchangeable() {
        let (auth, dir) = temp_auth("typ");
        let t = auth.login("root", &root_password(&dir), "t").unwrap();
        assert!(auth.authenticate(Some(&t.refresh_token)).is_err());
        assert!(auth.refresh(&t.access_token).is_err());
    }

    #[test]
    fn password_change_ends_sessions_and_last_root_stays() {
        let (auth, dir) = temp_auth("pw");
        let t = auth.login("root", &root_password(&dir), "t").unwrap();
        let root = auth.find_by_name("root").unwrap();
        auth.set_password_by_name("root", "a new password").unwrap();
        assert!(auth.authenticate(Some(&t.access_token)).is_err());
        assert!(auth.login("root", "a new password", "t").is_ok());
        assert!(matches!(
            auth.delete_user(&root.id),
            Err(Error::Conflict(_))
        ));
        let patch = UserPatch {
            level: Some(Level::User),
            ..UserPatch::default()
        };
        assert!(matches!(
            auth.update_user(&root.id, &patch),
            Err(Error::Conflict(_))
        ));
    }

    #[test]
    fn a_login_waits_for_a_busy_slot_then_gives_up() {
        let (mut auth, dir) = temp_auth("slots");
        auth.slots = Slots::new(CHECKS_AT_ONCE, 1000, Duration::from_millis(300));
        let pw = root_password(&dir);
        let held: Vec<_> = (0..CHECKS_AT_ONCE)
            .map(|_| auth.slots.acquire().unwrap())
            .collect();
        assert_eq!(auth.login("root", &pw, "t").unwrap_err(), Error::Busy);
        std::thread::scope(|s| {
            let waiting = s.spawn(|| auth.login("root", &pw, "t"));
            while auth.slots.waiting() == 0 {
                std::thread::yield_now();
            }
            drop(held);
            assert!(waiting.join().unwrap().is_ok());
        });
    }

    #[test]
    fn logins_per_user_are_bounded_least_recently_used_first() {
        let (auth, dir) = temp_auth("cap");
        let pw = root_password(&dir);
        auth.login("root", &pw, "t").unwrap();
        for _ in 0..MAX_SESSIONS_PER_USER {
            auth.login("root", &pw, "t").unwrap();
        }
        assert_eq!(auth.lock().families.len(), MAX_SESSIONS_PER_USER);
        // The least recently used goes, even when all began in the same second:
        // a refresh counts as use.
        let kept = auth.login("root", &pw, "t").unwrap();
        let evicted = auth.login("root", &pw, "t").unwrap();
        for _ in 0..MAX_SESSIONS_PER_USER - 2 {
            auth.login("root", &pw, "t").unwrap();
        }
        let kept = auth.refresh(&kept.refresh_token).unwrap();
        let newest = auth.login("root", &pw, "t").unwrap();
        assert!(auth.authenticate(Some(&newest.access_token)).is_ok());
        assert!(auth.authenticate(Some(&kept.access_token)).is_ok());
        assert!(auth.authenticate(Some(&evicted.access_token)).is_err());
        assert_eq!(auth.lock().families.len(), MAX_SESSIONS_PER_USER);
        // Another user's logins are not counted against root's.
        auth.create_user("other", "long-enough", Level::User)
            .unwrap();
        auth.login("other", "long-enough", "t").unwrap();
        assert_eq!(auth.lock().families.len(), MAX_SESSIONS_PER_USER + 1);
    }

    #[test]
    fn rehash_at_the_configured_cost() {
        let (auth, dir) = temp_auth("rehash");
        let pw = root_password(&dir);
        drop(auth);
        let settings = AuthConfig {
            pbkdf2_iterations: 2000,
            ..AuthConfig::default()
        };
        let auth = Auth::open(&settings, &dir).unwrap();
        auth.login("root", &pw, "t").unwrap();
        let text = std::fs::read_to_string(dir.join("users.json")).unwrap();
        assert!(text.contains("$pbkdf2-sha256$i=2000$"), "{text}");
    }
}
