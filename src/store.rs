//! State on disk. Every write is atomic (temp file, fsync, rename, fsync of the
//! folder), so a power cut on an SD card leaves the old file or the new one, never a
//! torn one. A lock file keeps a second daemon (and `passwd`) off a state dir in use.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// What marks a temp file of [`write_atomic`]: `.<name>.tmp<pid>`.
const TEMP_MARK: &str = ".tmp";

/// Write `bytes` to `path` atomically with the given mode.
///
/// The rename is the commit point: an error before it leaves the old file (and no
/// temp file), so a caller that keeps its old state on `Err` agrees with the disk.
/// A failed fsync of the folder after the rename is only logged, since the new
/// file is already the one that is read; answering `Err` then would make the
/// caller keep a state the disk no longer has.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("state");
    let tmp = dir.join(format!(".{name}{TEMP_MARK}{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        log::warn!(
            "{} is written, but syncing {} failed ({e}); a power cut now may lose it",
            path.display(),
            dir.display()
        );
    }
    Ok(())
}

/// Is this the error of a full disk (or of a used-up quota)? Such a write is
/// worth retrying once space is freed, unlike most I/O errors.
pub fn is_disk_full(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

/// Is `name` a temp file left by an interrupted [`write_atomic`]?
fn is_temp_name(name: &str) -> bool {
    name.starts_with('.')
        && name.rsplit_once(TEMP_MARK).is_some_and(|(stem, pid)| {
            stem.len() > 1 && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())
        })
}

/// Remove the temp files that writes interrupted by a crash or a power cut left
/// in `dir`. They hold copies of state (password hashes among it), and nothing
/// else would ever remove them. Only safe while [`StateLock`] is held: then no
/// other process is writing in `dir`. Returns how many were removed.
pub fn remove_stale_temps(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let stale = entry.file_name().to_str().is_some_and(is_temp_name)
            && entry.file_type().is_ok_and(|t| t.is_file());
        if stale {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// Serialize `value` as pretty JSON and write it atomically (mode 0600).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes, 0o600)
}

/// Read a JSON state file; `Ok(None)` when it does not exist yet.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is not valid: {e}; move it away to start afresh",
                    path.display()
                ),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Rename a state file that cannot be read to `<name>.json.bad`, kept for a
/// look, so that the next write starts afresh; where it went, if the rename worked.
pub fn move_aside(path: &Path) -> Option<PathBuf> {
    let bad = path.with_extension("json.bad");
    std::fs::rename(path, &bad).ok().map(|()| bad)
}

/// Create the state dir (0700) if needed.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(dir)?;
    if meta.permissions().mode() & 0o077 != 0 {
        // Best effort: a state dir shared with a group (packaging) is the admin's choice.
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// An exclusive `flock` on `<state_dir>/pistack.lock`, held for the life of the value.
/// The kernel drops it when the process dies, so a crash never leaves a stale lock.
/// Taking it also removes the temp files of interrupted writes: with the lock held,
/// nobody else can be in the middle of one.
pub struct StateLock {
    _file: File,
}

impl StateLock {
    pub fn acquire(state_dir: &Path) -> Result<StateLock, String> {
        let path = state_dir.join("pistack.lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        // SAFETY: flock on an fd we own; no memory is shared with the kernel.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            return Err(format!(
                "{} is in use by another pistack (pid {}); stop it first (systemctl stop pistack)",
                state_dir.display(),
                if holder.is_empty() { "unknown" } else { holder }
            ));
        }
        file.set_len(0).map_err(|e| e.to_string())?;
        let _ = writeln!(file, "{}", std::process::id());
        match remove_stale_temps(state_dir) {
            Ok(0) => {}
            Ok(n) => log::info!(
                "removed {n} temp file(s) of interrupted writes from {}",
                state_dir.display()
            ),
            Err(e) => log::warn!(
                "cannot clean temp files of interrupted writes in {}: {e}",
                state_dir.display()
            ),
        }
        Ok(StateLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pistack-store-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn json_round_trip_and_missing_file() {
        let d = tempdir("rt");
        let p = d.join("x.json");
        assert_eq!(read_json::<Vec<u32>>(&p).unwrap(), None);
        write_json(&p, &vec![1u32, 2]).unwrap();
        assert_eq!(read_json::<Vec<u32>>(&p).unwrap(), Some(vec![1, 2]));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::write(&p, b"{broken").unwrap();
        assert!(read_json::<Vec<u32>>(&p)
            .unwrap_err()
            .to_string()
            .contains("move it away"));
    }

    #[test]
    fn the_lock_removes_temp_files_of_interrupted_writes() {
        let d = tempdir("temps");
        for name in [
            ".users.json.tmp4242",
            ".sessions.json.tmp1",
            ".secret.key.tmp77",
        ] {
            std::fs::write(d.join(name), b"copy of state").unwrap();
        }
        for name in ["users.json", ".tmp1", ".x.tmp", ".x.tmpabc", "a.tmp1"] {
            std::fs::write(d.join(name), b"kept").unwrap();
        }
        let _lock = StateLock::acquire(&d).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".tmp1",
                ".x.tmp",
                ".x.tmpabc",
                "a.tmp1",
                "pistack.lock",
                "users.json"
            ]
        );
    }

    #[test]
    fn second_lock_is_refused() {
        let d = tempdir("lock");
        let first = StateLock::acquire(&d).unwrap();
        let err = StateLock::acquire(&d).err().unwrap();
        assert!(err.contains("in use"), "{err}");
        drop(first);
        assert!(StateLock::acquire(&d).is_ok());
    }
}
