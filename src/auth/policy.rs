//! Who may do what to users: one function per decision, each the only place its
//! rule is written. The router checks each route's floor level first (see
//! `http::router::Access`); these are the finer rules on top, decided here in
//! the core so that they can be tested without HTTP.

use super::{Error, Level, User, UserPatch};

/// Listing every user: Admin and Root.
pub fn may_list(caller: &User) -> Result<(), Error> {
    if caller.level < Level::Admin {
        return Err(Error::Forbidden(
            "only an Admin or a Root may list users".into(),
        ));
    }
    Ok(())
}

/// Creating a user of `level`: Root any level, an Admin only `User`s.
pub fn may_create(caller: &User, level: Level) -> Result<(), Error> {
    match caller.level {
        Level::Root => Ok(()),
        Level::Admin if level == Level::User => Ok(()),
        Level::Admin => Err(Error::Forbidden(
            "an Admin may create only users of level User".into(),
        )),
        Level::User => Err(Error::Forbidden(
            "only an Admin or a Root may create users".into(),
        )),
    }
}

/// Reading user `id`: Admin and Root any, a User only itself. Decided on the id
/// alone, so that a User learns nothing of which ids exist.
pub fn may_read(caller: &User, id: &str) -> Result<(), Error> {
    if caller.level < Level::Admin && caller.id != id {
        return Err(Error::Forbidden("a User may read only itself".into()));
    }
    Ok(())
}

/// Deleting a user: Root only. (The last-Root rule is the users' own.)
pub fn may_delete(caller: &User) -> Result<(), Error> {
    if caller.level != Level::Root {
        return Err(Error::Forbidden("only a Root may delete users".into()));
    }
    Ok(())
}

/// What a permitted change still needs.
#[derive(Debug, PartialEq, Eq)]
pub enum PatchNeeds<'a> {
    Nothing,
    /// A change of one's own password: this must be the current one.
    CurrentPassword(&'a str),
}

/// Changing user `id` (`target`, `None` when there is no such user): Root may
/// change anything; an Admin may set the password of a User; anyone may change
/// their own password by giving the current one. A User gets the same answer for
/// an unknown id as for another user's (no id oracle).
pub fn may_patch<'a>(
    caller: &User,
    id: &str,
    target: Option<&User>,
    patch: &'a UserPatch,
) -> Result<PatchNeeds<'a>, Error> {
    if caller.level == Level::User && caller.id != id {
        return Err(Error::Forbidden("a User may change only itself".into()));
    }
    let target = target.ok_or_else(|| Error::NotFound(format!("no user with id {id}")))?;
    if caller.level == Level::Root {
        return Ok(PatchNeeds::Nothing);
    }
    let only_password = patch.name.is_none() && patch.level.is_none() && patch.password.is_some();
    if !only_password {
        return Err(Error::Forbidden(
            "only a Root may change a name or a level".into(),
        ));
    }
    if caller.id == target.id {
        return match patch.current_password.as_deref() {
            Some(current) => Ok(PatchNeeds::CurrentPassword(current)),
            None => Err(Error::Invalid(
                "current_password: required to change your own password".into(),
            )),
        };
    }
    if caller.level == Level::Admin && target.level == Level::User {
        return Ok(PatchNeeds::Nothing);
    }
    Err(Error::Forbidden("you may not change this user".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, level: Level) -> User {
        User {
            id: id.into(),
            name: id.into(),
            level,
            created_at: 0,
        }
    }

    fn forbidden<T: std::fmt::Debug>(r: Result<T, Error>) -> bool {
        matches!(r, Err(Error::Forbidden(_)))
    }

    const LEVELS: [Level; 3] = [Level::User, Level::Admin, Level::Root];

    #[test]
    fn create_list_read_delete_by_level() {
        let (u, a, r) = (
            user("u", Level::User),
            user("a", Level::Admin),
            user("r", Level::Root),
        );
        for level in LEVELS {
            assert!(may_create(&r, level).is_ok());
            assert_eq!(may_create(&a, level).is_ok(), level == Level::User);
            assert!(forbidden(may_create(&u, level)));
        }
        assert!(forbidden(may_list(&u)));
        assert!(may_list(&a).is_ok() && may_list(&r).is_ok());
        assert!(may_read(&u, "u").is_ok());
        assert!(forbidden(may_read(&u, "a")));
        assert!(forbidden(may_read(&u, "no-such-id")));
        assert!(may_read(&a, "r").is_ok() && may_read(&r, "u").is_ok());
        assert!(forbidden(may_delete(&u)) && forbidden(may_delete(&a)));
        assert!(may_delete(&r).is_ok());
    }

    fn password(current: Option<&str>) -> UserPatch {
        UserPatch {
            password: Some("a-new-password".into()),
            current_password: current.map(String::from),
            ..UserPatch::default()
        }
    }

    #[test]
    fn patch_rules() {
        let (u, u2, a, a2, r) = (
            user("u", Level::User),
            user("u2", Level::User),
            user("a", Level::Admin),
            user("a2", Level::Admin),
            user("r", Level::Root),
        );
        let rename = UserPatch {
            name: Some("x".into()),
            ..UserPatch::default()
        };
        let promote = UserPatch {
            level: Some(Level::Root),
            ..UserPatch::default()
        };
        // Root: anything, with no current password.
        for t in [&u, &a, &r] {
            for p in [&rename, &promote, &password(None)] {
                assert_eq!(may_patch(&r, &t.id, Some(t), p), Ok(PatchNeeds::Nothing));
            }
        }
        // Admin: the password of a User only.
        assert_eq!(
            may_patch(&a, "u", Some(&u), &password(None)),
            Ok(PatchNeeds::Nothing)
        );
        assert!(forbidden(may_patch(&a, "a2", Some(&a2), &password(None))));
        assert!(forbidden(may_patch(&a, "r", Some(&r), &password(None))));
        assert!(forbidden(may_patch(&a, "u", Some(&u), &promote)));
        // Self-service: own password, with the current one.
        for me in [&u, &a] {
            let p = password(Some("old"));
            assert_eq!(
                may_patch(me, &me.id, Some(me), &p),
                Ok(PatchNeeds::CurrentPassword("old"))
            );
            assert!(matches!(
                may_patch(me, &me.id, Some(me), &password(None)),
                Err(Error::Invalid(_))
            ));
            assert!(forbidden(may_patch(me, &me.id, Some(me), &rename)));
        }
        // A User: another's id and an unknown one answer the same.
        let p = password(Some("old"));
        assert_eq!(
            may_patch(&u, "u2", Some(&u2), &p),
            may_patch(&u, "no-such-id", None, &p)
        );
        assert!(forbidden(may_patch(&u, "u2", Some(&u2), &p)));
        // Admin and Root may learn that an id is unknown (they may list users).
        assert!(matches!(
            may_patch(&a, "no-such-id", None, &p),
            Err(Error::NotFound(_))
        ));
        assert!(matches!(
            may_patch(&r, "no-such-id", None, &rename),
            Err(Error::NotFound(_))
        ));
    }
}
