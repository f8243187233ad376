//! The one error type of the auth core. `api.rs` maps each variant to a status;
//! the `Display` text is what the client (or `pistack passwd`) reads.

use std::path::Path;

/// Why an auth operation failed. Each message says what to do next; show them
/// with `Display`, never `Debug`.
#[derive(Debug, PartialEq)]
pub enum Error {
    /// The request itself is wrong (a bad name, a short password): fix and resend.
    Invalid(String),
    /// No valid credentials or token: log in (again).
    Unauthenticated(String),
    /// The caller is known but its level does not allow this.
    Forbidden(String),
    /// No such user.
    NotFound(String),
    /// The change clashes with the state (a taken name, the last Root).
    Conflict(String),
    /// Too many wrong passwords for this account from this address.
    Throttled { retry_after_s: u64 },
    /// Every password-check slot stayed busy for as long as a caller waits.
    Busy,
    /// The disk (or quota) of the state dir is full; nothing was changed.
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

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Storage(e.to_string())
    }
}

/// The error of a failed write of `path`.
pub(super) fn write_error(path: &Path, e: std::io::Error) -> Error {
    if crate::store::is_disk_full(&e) {
        Error::DiskFull(path.display().to_string())
    } else {
        Error::Storage(format!("{}: {e}", path.display()))
    }
}
