//! Password checks: a login, and the `current_password` of a self-service
//! change. Both go through the same throttle (per account and address) and the
//! same slots, so neither is a cheaper way to guess.

use super::throttle::Throttle;
use super::users::UserRecord;
use super::{password, Auth, Error, State, Tokens, User};
use std::time::Instant;

impl Auth {
    /// Log in with name and password; `client` is the caller's address for throttling.
    pub fn login(&self, name: &str, pass: &str, client: &str) -> Result<Tokens, Error> {
        let key = Throttle::key(name, client);
        let rec = self
            .guarded_check(&key, pass, |state| state.user_named(name).cloned())?
            .ok_or_else(|| Error::Unauthenticated("invalid credentials".into()))?;
        let mut state = self.lock();
        self.rehash_if_needed(&mut state, &rec, pass);
        let user = state
            .user(&rec.id)
            .map(User::from)
            .ok_or_else(|| Error::Unauthenticated("invalid credentials".into()))?;
        self.issue(&mut state, &user, None)
    }

    /// The user whose name and password these are, with no session issued: for
    /// HTTP Basic authentication (XML-RPC clients send it on every request). The
    /// same throttle and slots as [`Auth::login`], so it is no cheaper way to
    /// guess; a pair verified in the last minute is not hashed again (see
    /// [`super::basic`]).
    pub fn check_login(&self, name: &str, pass: &str, client: &str) -> Result<User, Error> {
        let invalid = || Error::Unauthenticated("invalid credentials".into());
        let cache_key = super::basic::key(&self.secret, name, pass);
        let hash_of = |id: &str| self.lock().user(id).map(|u| u.password_hash.clone());
        if let Some(id) = self.basic.get(&cache_key, hash_of) {
            return self.lock().user(&id).map(User::from).ok_or_else(invalid);
        }
        let key = Throttle::key(name, client);
        let rec = self
            .guarded_check(&key, pass, |state| state.user_named(name).cloned())?
            .ok_or_else(invalid)?;
        self.basic
            .put(cache_key, rec.id.clone(), rec.password_hash.clone());
        let state = self.lock();
        state.user(&rec.id).map(User::from).ok_or_else(invalid)
    }

    /// Is `pass` the password of user `id`? Throttled under the user's name and
    /// `client`, the key a login of that name from there would use.
    pub(super) fn check_password(&self, id: &str, pass: &str, client: &str) -> Result<(), Error> {
        let name = self.lock().user(id).map(|u| u.name.clone());
        let key = Throttle::key(name.as_deref().unwrap_or(id), client);
        match self.guarded_check(&key, pass, |state| state.user(id).cloned())? {
            Some(_) => Ok(()),
            None => Err(Error::Forbidden("current_password is wrong".into())),
        }
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
                    password::hash("not a password", self.cost).unwrap_or_default()
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
        let cost = self.cost;
        if password::iterations(&rec.password_hash) == Some(cost) {
            return;
        }
        let Ok(new_hash) = password::hash(pass, cost) else {
            return;
        };
        let mut users = state.users.clone();
        if let Some(r) = users.iter_mut().find(|u| u.id == rec.id) {
            r.password_hash = new_hash;
            if let Err(e) = self.commit(state, None, Some(users)) {
                log::warn!("could not re-hash the password of {}: {e}", rec.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::slots::Slots;
    use super::super::test_support::{root_password, temp_auth};
    use super::super::{Auth, AuthConfig};
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_login_waits_for_a_busy_slot_then_gives_up() {
        let (mut auth, dir) = temp_auth("slots");
        auth.slots = Slots::new(2, 1000, Duration::from_millis(300));
        let pw = root_password(&dir);
        let held: Vec<_> = (0..2).map(|_| auth.slots.acquire().unwrap()).collect();
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
    fn rehash_at_the_configured_cost() {
        let (auth, dir) = temp_auth("rehash");
        let pw = root_password(&dir);
        drop(auth);
        let settings = AuthConfig {
            pbkdf2_iterations: Some(2000),
            ..AuthConfig::default()
        };
        let auth = Auth::open(&settings, &dir).unwrap();
        auth.login("root", &pw, "t").unwrap();
        let text = std::fs::read_to_string(dir.join("users.json")).unwrap();
        assert!(text.contains("$pbkdf2-sha256$i=2000$"), "{text}");
    }

    #[test]
    fn a_basic_auth_check_is_throttled_like_a_login() {
        let (auth, dir) = temp_auth("basic");
        let pw = root_password(&dir);
        for _ in 0..5 {
            assert!(auth.check_login("root", "wrong", "10.0.0.7").is_err());
        }
        assert!(matches!(
            auth.check_login("root", &pw, "10.0.0.7"),
            Err(Error::Throttled { .. })
        ));
        assert!(matches!(
            auth.login("root", &pw, "10.0.0.7"),
            Err(Error::Throttled { .. })
        ));
        // Elsewhere, and then remembered: a client that has the password keeps
        // working while guesses from 10.0.0.7 are throttled.
        assert_eq!(
            auth.check_login("root", &pw, "10.0.0.8").unwrap().name,
            "root"
        );
        assert!(auth.check_login("root", &pw, "10.0.0.7").is_ok());
        assert!(matches!(
            auth.check_login("root", "wrong", "10.0.0.7"),
            Err(Error::Throttled { .. })
        ));
    }

    #[test]
    fn a_verified_basic_pair_is_not_hashed_again_until_the_password_changes() {
        let (mut auth, dir) = temp_auth("basic-cache");
        auth.slots = Slots::new(2, 1000, Duration::from_millis(100));
        let pw = root_password(&dir);
        assert!(auth.check_login("root", &pw, "t").is_ok());
        // With every slot taken, only a remembered pair can get through.
        let held: Vec<_> = (0..2).map(|_| auth.slots.acquire().unwrap()).collect();
        assert_eq!(auth.check_login("root", &pw, "t").unwrap().name, "root");
        assert_eq!(
            auth.check_login("root", "wrong", "t").unwrap_err(),
            Error::Busy
        );
        drop(held);
        auth.set_password_by_name("root", "another-password-1")
            .unwrap();
        let held: Vec<_> = (0..2).map(|_| auth.slots.acquire().unwrap()).collect();
        assert_eq!(
            auth.check_login("root", &pw, "t").unwrap_err(),
            Error::Busy,
            "the old password is checked afresh"
        );
        drop(held);
        assert!(auth.check_login("root", &pw, "t").is_err());
        assert!(auth.check_login("root", "another-password-1", "t").is_ok());
    }

    #[test]
    fn a_wrong_current_password_counts_like_a_failed_login() {
        let (auth, dir) = temp_auth("current");
        let root = auth.find_by_name("root").unwrap();
        for _ in 0..5 {
            assert!(matches!(
                auth.check_password(&root.id, "wrong", "10.0.0.9"),
                Err(Error::Forbidden(_))
            ));
        }
        assert!(matches!(
            auth.login("root", &root_password(&dir), "10.0.0.9"),
            Err(Error::Throttled { .. })
        ));
        assert!(auth.login("root", &root_password(&dir), "10.0.0.8").is_ok());
    }
}
