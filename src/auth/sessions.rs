//! Logins ("token families") and their tokens: issuing, refresh rotation with
//! reuse detection, checking an access token, logout.

use super::jwt::{self, Claims};
use super::{Auth, Error, State, User};
use crate::events::now_s;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One login and every token rotated from it. Ending a login removes its family:
/// a token whose family is gone is refused, which is all a revoked one needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Family {
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

/// The authenticated caller of a request: the user as stored now, and its token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
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

fn ended() -> Error {
    Error::Unauthenticated("this session has ended; log in again".into())
}

fn user_gone() -> Error {
    Error::Unauthenticated("the user no longer exists".into())
}

impl Auth {
    /// Tokens for `user`: a new login (`family_id` `None`) or the next rotation of one.
    pub(super) fn issue(
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
        let refresh_ttl = self.settings.refresh_ttl_s;
        let family = families.entry(family_id.clone()).or_insert_with(|| Family {
            user_id: user.id.clone(),
            created_at: now,
            expires_at: now + refresh_ttl,
            current_jti: String::new(),
            last_use: 0,
        });
        family.last_use = last_use;
        family.current_jti = jti.clone();
        family.expires_at = now + refresh_ttl;
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
        let refresh = jwt::sign(&claims("refresh", jti, now + refresh_ttl), &self.secret);
        let access_exp = now + self.settings.access_ttl_s;
        let access = jwt::sign(
            &claims("access", crate::random::uuid()?, access_exp),
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

    /// Rotate a refresh token. Presenting one that was already rotated revokes its
    /// whole family: someone holds a copy.
    pub fn refresh(&self, token: &str) -> Result<Tokens, Error> {
        let claims = jwt::verify(token, &self.secret, now_s())
            .map_err(|e| Error::Unauthenticated(e.to_string()))?;
        if claims.typ != "refresh" {
            return Err(Error::Unauthenticated("this is not a refresh token".into()));
        }
        let mut state = self.lock();
        let family = state.families.get(&claims.fam).ok_or_else(ended)?;
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
            .map(User::from)
            .ok_or_else(user_gone)?;
        self.issue(&mut state, &user, Some(claims.fam))
    }

    /// Check an access token (from the `Authorization` header) and return the caller.
    pub fn authenticate(&self, token: Option<&str>) -> Result<Caller, Error> {
        let token = token.ok_or_else(|| {
            Error::Unauthenticated(
                "missing token: send Authorization: Bearer <access_token>".into(),
            )
        })?;
        let claims = jwt::verify(token, &self.secret, now_s())
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
            return Err(ended());
        }
        let user = state
            .user(&claims.sub)
            .map(User::from)
            .ok_or_else(user_gone)?;
        Ok(Caller { user, claims })
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
}

/// End every login of a user; returns how many.
pub(super) fn revoke_user(families: &mut BTreeMap<String, Family>, user_id: &str) -> usize {
    let before = families.len();
    families.retain(|_, f| f.user_id != user_id);
    before - families.len()
}

/// Drop expired logins.
pub(super) fn prune(families: &mut BTreeMap<String, Family>, now: u64) {
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

#[cfg(test)]
mod tests {
    use super::super::test_support::{root_password, temp_auth};
    use super::super::Level;
    use super::*;

    #[test]
    fn refresh_rotates_and_reuse_revokes_the_family() {
        let (auth, dir) = temp_auth("rot");
        let t1 = auth.login("root", &root_password(&dir), "t").unwrap();
        let t2 = auth.refresh(&t1.refresh_token).unwrap();
        assert!(auth.authenticate(Some(&t2.access_token)).is_ok());
        assert!(matches!(
            auth.refresh(&t1.refresh_token),
            Err(Error::Unauthenticated(_))
        ));
        // The thief's replay ended the legitimate holder's tokens too.
        assert!(auth.refresh(&t2.refresh_token).is_err());
        assert!(auth.authenticate(Some(&t2.access_token)).is_err());
    }

    #[test]
    fn token_types_are_not_interchangeable() {
        let (auth, dir) = temp_auth("typ");
        let t = auth.login("root", &root_password(&dir), "t").unwrap();
        assert!(auth.authenticate(Some(&t.refresh_token)).is_err());
        assert!(auth.refresh(&t.access_token).is_err());
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
}
