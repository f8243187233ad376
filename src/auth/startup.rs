//! Opening the auth state: the signing secret, the two state files, and the
//! first Root on a first start.

use super::{password, sessions, Auth, AuthConfig, Level, SessionsFile, State, UsersFile};
use crate::store;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Password checks running at once; see [`super::slots`].
const CHECKS_AT_ONCE: usize = 2;
/// How long a login waits for a password-check slot before a 429.
const SLOT_WAIT: Duration = Duration::from_secs(10);

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
            throttle: super::Throttle::new(
                settings.throttle_free_attempts.max(1),
                Duration::from_secs(settings.throttle_max_delay_s.max(1)),
            ),
            settings: settings.clone(),
            cost: super::cost::resolve(settings.pbkdf2_iterations, state_dir)?,
            users_path,
            sessions_path,
            dummy_hash: OnceLock::new(),
            slots: super::Slots::new(CHECKS_AT_ONCE, settings.password_checks_per_s, SLOT_WAIT),
            basic: Default::default(),
        };
        auth.create_first_root(state_dir)?;
        // Best effort: a full disk must not keep the daemon from starting, and
        // an expired login is refused by its tokens' own expiry anyway.
        if let Err(e) = auth.prune_expired() {
            log::warn!("could not drop expired logins: {e}");
        }
        Ok(auth)
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
        password::check_rules(&password)
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

    /// Drop expired logins from `sessions.json`.
    fn prune_expired(&self) -> Result<(), super::Error> {
        let mut state = self.lock();
        let mut families = state.families.clone();
        sessions::prune(&mut families, crate::events::now_s());
        if families.len() != state.families.len() {
            self.commit(&mut state, Some(families), None)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{root_password, temp_auth};
    use super::super::Error;

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
}
