//! The mail cap on disk: `<state_dir>/rule-mail-cap.json` holds the mail held
//! for the digest and the window's end and count ([`CapState`]), written
//! atomically (`store::write_json`) on every change, so a kill -9 or a power cut
//! loses no held mail and a restart does not reset the cap (which would let a
//! crash-looping program's storm through). A file that cannot be read is moved
//! aside to `.bad` and reported; the daemon then starts with an empty cap.

use super::engine::CapState;
use crate::store;
use std::fmt;
use std::path::{Path, PathBuf};

/// The file's name in the state dir.
pub const FILE: &str = "rule-mail-cap.json";

/// What can go wrong with the cap's file.
#[derive(Debug, Clone, PartialEq)]
pub enum HeldError {
    /// The file is not a saved cap (torn by hand, or from another version). It
    /// was renamed to `moved_to` (`None` when even that failed), kept for a look.
    Corrupt {
        path: PathBuf,
        reason: String,
        moved_to: Option<PathBuf>,
    },
    /// Reading or writing the file failed (permissions, a full disk, ...).
    Io { path: PathBuf, reason: String },
}

impl fmt::Display for HeldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeldError::Corrupt {
                path,
                reason,
                moved_to: Some(bad),
            } => write!(
                f,
                "{} is not valid ({reason}); moved to {}, rule mail it held is lost",
                path.display(),
                bad.display()
            ),
            HeldError::Corrupt {
                path,
                reason,
                moved_to: None,
            } => write!(
                f,
                "{} is not valid ({reason}) and could not be moved aside",
                path.display()
            ),
            HeldError::Io { path, reason } => write!(f, "{}: {reason}", path.display()),
        }
    }
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

/// The saved cap, `Ok(None)` when there is none yet. A corrupt file is moved
/// to `<file>.bad` before the error is returned, so the next save starts afresh.
pub fn load(path: &Path) -> Result<Option<CapState>, HeldError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(HeldError::Io {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| HeldError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
            moved_to: store::move_aside(path),
        })
}

/// Save `state` atomically (mode 0600: the mails may quote program logs).
pub fn save(path: &Path, state: &CapState) -> Result<(), HeldError> {
    store::write_json(path, state).map_err(|e| HeldError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::Message;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pistack-held-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn saves_and_loads_and_a_missing_file_is_no_state() {
        let d = dir("rt");
        let p = path(&d);
        assert_eq!(load(&p), Ok(None));
        let state = CapState {
            window_ends_ms: Some(1234),
            sent: 20,
            held: vec![Message {
                to: vec!["a@x".into()],
                subject: "Grüße".into(),
                body: "b".into(),
            }],
            unquoted: Vec::new(),
        };
        save(&p, &state).unwrap();
        assert_eq!(load(&p), Ok(Some(state)));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_corrupt_file_is_reported_and_moved_aside() {
        let d = dir("bad");
        let p = path(&d);
        std::fs::write(&p, b"{\"sent\": 3, \"held\": [{\"to\"").unwrap();
        let err = load(&p).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("rule-mail-cap.json is not valid"), "{text}");
        assert!(text.contains("rule-mail-cap.json.bad"), "{text}");
        assert!(!p.exists());
        assert!(d.join("rule-mail-cap.json.bad").exists());
        // What comes next starts afresh.
        assert_eq!(load(&p), Ok(None));
        let _ = std::fs::remove_dir_all(&d);
    }
}
