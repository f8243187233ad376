//! The users: their record in `users.json`, their view in the API, and the
//! changes to them, with the rule that there is always a Root.

use super::{password, policy, sessions, Auth, Error, Level, State};
use crate::events::now_s;
use serde::{Deserialize, Serialize};

/// A user as `users.json` stores it. Never leaves the core: the API shows [`User`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct UserRecord {
    pub id: String,
    pub name: String,
    pub level: Level,
    pub created_at: u64,
    pub password_hash: String,
}

/// A user as the API shows it: never a hash.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub level: Level,
    pub created_at: u64,
}

impl From<&UserRecord> for User {
    fn from(r: &UserRecord) -> User {
        User {
            id: r.id.clone(),
            name: r.name.clone(),
            level: r.level,
            created_at: r.created_at,
        }
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

pub fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

fn check_name(name: &str) -> Result<(), Error> {
    if !valid_name(name) {
        return Err(Error::Invalid("name: 1-32 of A-Z a-z 0-9 _ . -".into()));
    }
    Ok(())
}

fn not_found(id: &str) -> Error {
    Error::NotFound(format!("no user with id {id}"))
}

fn taken(name: &str) -> Error {
    Error::Conflict(format!("the name {name:?} is taken; choose another"))
}

/// Where user `id` is in the list.
fn index_of(state: &State, id: &str) -> Result<usize, Error> {
    state
        .users
        .iter()
        .position(|u| u.id == id)
        .ok_or_else(|| not_found(id))
}

/// Refuse to take the Root level away from the last Root (by a change or a deletion).
fn keep_a_root(state: &State, idx: usize, new_level: Option<Level>) -> Result<(), Error> {
    let roots = state
        .users
        .iter()
        .filter(|u| u.level == Level::Root)
        .count();
    let demoted = new_level != Some(Level::Root);
    if state.users[idx].level == Level::Root && demoted && roots == 1 {
        return Err(Error::Conflict(
            "this is the last Root; make another Root first".into(),
        ));
    }
    Ok(())
}

impl Auth {
    pub fn list_users(&self, caller: &User) -> Result<Vec<User>, Error> {
        policy::may_list(caller)?;
        Ok(self.lock().users.iter().map(User::from).collect())
    }

    /// User `id`, as `caller` may see it.
    pub fn read_user(&self, caller: &User, id: &str) -> Result<User, Error> {
        policy::may_read(caller, id)?;
        self.get_user(id)
    }

    fn get_user(&self, id: &str) -> Result<User, Error> {
        self.lock()
            .user(id)
            .map(User::from)
            .ok_or_else(|| not_found(id))
    }

    pub fn find_by_name(&self, name: &str) -> Option<User> {
        self.lock().user_named(name).map(User::from)
    }

    /// Create a user as `caller` may.
    pub fn add_user(
        &self,
        caller: &User,
        name: &str,
        pass: &str,
        level: Level,
    ) -> Result<User, Error> {
        policy::may_create(caller, level)?;
        self.create_user(name, pass, level)
    }

    pub(super) fn create_user(&self, name: &str, pass: &str, level: Level) -> Result<User, Error> {
        check_name(name)?;
        password::check_rules(pass)?;
        let hash = password::hash(pass, self.cost)?;
        let mut state = self.lock();
        if state.user_named(name).is_some() {
            return Err(taken(name));
        }
        let record = UserRecord {
            id: crate::random::uuid()?,
            name: name.to_string(),
            level,
            created_at: now_s(),
            password_hash: hash,
        };
        let user = User::from(&record);
        let mut users = state.users.clone();
        users.push(record);
        self.commit(&mut state, None, Some(users))?;
        Ok(user)
    }

    /// Change user `id` as `caller` may ([`policy::may_patch`]); a change of one's
    /// own password is checked like a login from `client`.
    pub fn patch_user(
        &self,
        caller: &User,
        id: &str,
        patch: &UserPatch,
        client: &str,
    ) -> Result<User, Error> {
        let target = self.get_user(id).ok();
        match policy::may_patch(caller, id, target.as_ref(), patch)? {
            policy::PatchNeeds::Nothing => {}
            policy::PatchNeeds::CurrentPassword(current) => {
                self.check_password(id, current, client)?
            }
        }
        self.update_user(id, patch)
    }

    /// Apply a permitted change. A new password ends the user's sessions.
    fn update_user(&self, id: &str, patch: &UserPatch) -> Result<User, Error> {
        if let Some(name) = &patch.name {
            check_name(name)?;
        }
        let new_hash = match &patch.password {
            Some(p) => {
                password::check_rules(p)?;
                Some(password::hash(p, self.cost)?)
            }
            None => None,
        };
        let mut state = self.lock();
        let idx = index_of(&state, id)?;
        if let Some(name) = &patch.name {
            if state.users.iter().any(|u| &u.name == name && u.id != id) {
                return Err(taken(name));
            }
        }
        if let Some(level) = patch.level {
            keep_a_root(&state, idx, Some(level))?;
        }
        let mut users = state.users.clone();
        let rec = &mut users[idx];
        if let Some(name) = &patch.name {
            rec.name = name.clone();
        }
        if let Some(level) = patch.level {
            rec.level = level;
        }
        let mut families = None;
        if let Some(h) = new_hash {
            rec.password_hash = h;
            let mut f = state.families.clone();
            if sessions::revoke_user(&mut f, id) > 0 {
                families = Some(f);
            }
        }
        let updated = User::from(&*rec);
        self.commit(&mut state, families, Some(users))?;
        Ok(updated)
    }

    /// Delete user `id` as `caller` may; its sessions end first.
    pub fn delete_user(&self, caller: &User, id: &str) -> Result<(), Error> {
        policy::may_delete(caller)?;
        let mut state = self.lock();
        let idx = index_of(&state, id)?;
        keep_a_root(&state, idx, None)?;
        let mut users = state.users.clone();
        users.remove(idx);
        let mut families = state.families.clone();
        let families = (sessions::revoke_user(&mut families, id) > 0).then_some(families);
        self.commit(&mut state, families, Some(users))
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

#[cfg(test)]
mod tests {
    use super::super::test_support::{root_password, temp_auth};
    use super::*;

    #[test]
    fn password_change_ends_sessions_and_last_root_stays() {
        let (auth, dir) = temp_auth("pw");
        let t = auth.login("root", &root_password(&dir), "t").unwrap();
        let root = auth.find_by_name("root").unwrap();
        auth.set_password_by_name("root", "a new password").unwrap();
        assert!(auth.authenticate(Some(&t.access_token)).is_err());
        assert!(auth.login("root", "a new password", "t").is_ok());
        assert!(matches!(
            auth.delete_user(&root, &root.id),
            Err(Error::Conflict(_))
        ));
        let patch = UserPatch {
            level: Some(Level::User),
            ..UserPatch::default()
        };
        assert!(matches!(
            auth.patch_user(&root, &root.id, &patch, "t"),
            Err(Error::Conflict(_))
        ));
    }

    #[test]
    fn the_file_record_keeps_the_hash_the_view_does_not() {
        let (auth, dir) = temp_auth("record");
        let root = auth.find_by_name("root").unwrap();
        let view = serde_json::to_value(&root).unwrap();
        assert_eq!(
            view.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["created_at", "id", "level", "name"]
        );
        let file: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("users.json")).unwrap()).unwrap();
        let rec = &file["users"][0];
        assert_eq!(rec["id"], view["id"]);
        assert!(rec["password_hash"]
            .as_str()
            .unwrap()
            .starts_with("$pbkdf2-sha256$"));
    }
}
