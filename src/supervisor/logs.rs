//! Program output: each stream of each program goes to `<state_dir>/logs/<name>.out`
//! (or `.err`), rotated at `max_bytes` keeping `backups` older files (`.out.1` is
//! the newest of them), so the output of a program never takes more than
//! `max_bytes * (backups + 1)` of the SD card.
//!
//! A reader thread per pipe drains it into the file as fast as the child writes:
//! the child never waits for us beyond the pipe's own buffer, and when the disk
//! fails (full, read-only) the output is dropped rather than the child blocked.

use super::config::LogConfig;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// One rotating log file. Shared (behind a mutex) by every reader of the stream,
/// so that a leftover reader of an earlier process and the current one keep one
/// size count and one bound.
pub struct RotatingLog {
    path: PathBuf,
    max_bytes: u64,
    backups: u32,
    file: Option<File>,
    size: u64,
    /// Whether the last failure was already logged (so a full disk logs once).
    failing: bool,
}

pub type SharedLog = Arc<Mutex<RotatingLog>>;

impl RotatingLog {
    pub fn new(path: PathBuf, config: LogConfig) -> RotatingLog {
        RotatingLog {
            path,
            max_bytes: config.max_bytes.max(1),
            backups: config.backups,
            file: None,
            size: 0,
            failing: false,
        }
    }

    pub fn shared(path: PathBuf, config: LogConfig) -> SharedLog {
        Arc::new(Mutex::new(RotatingLog::new(path, config)))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Empty the log and remove its backups (supervisord's `clearProcessLogs`).
    pub fn clear(&mut self) -> io::Result<()> {
        self.file = None;
        self.size = 0;
        for n in 1..=self.backups {
            match std::fs::remove_file(backup_path(&self.path, n)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        File::create(&self.path).map(drop)
    }

    /// Append `data`, rotating so that no file passes `max_bytes`. Lines are kept
    /// whole across files when they fit. Errors are logged once and the data dropped.
    pub fn write(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if let Err(e) = self.open() {
                self.fail(&e);
                return;
            }
            let room = self.max_bytes.saturating_sub(self.size) as usize;
            let take = if data.len() <= room {
                data.len()
            } else {
                match data[..room].iter().rposition(|&b| b == b'\n') {
                    Some(i) => i + 1,
                    // No whole line fits: start a new file, unless this one is
                    // empty (a line longer than a file is cut).
                    None if self.size > 0 => 0,
                    None => room,
                }
            };
            if take > 0 {
                let written = match self.file.as_mut().map(|f| f.write_all(&data[..take])) {
                    Some(Ok(())) => true,
                    Some(Err(e)) => {
                        self.fail(&e);
                        false
                    }
                    None => false,
                };
                if !written {
                    // Drop the file so the next write tries again from scratch.
                    self.file = None;
                    return;
                }
                self.size += take as u64;
                self.failing = false;
                data = &data[take..];
            }
            if !data.is_empty() {
                if let Err(e) = self.rotate() {
                    self.fail(&e);
                    return;
                }
            }
        }
    }

    fn open(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            self.size = f.metadata()?.len();
            self.file = Some(f);
        }
        Ok(())
    }

    /// `x` → `x.1` → `x.2` ...; the oldest beyond `backups` is removed. With no
    /// backups the file is emptied instead.
    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        self.size = 0;
        if self.backups == 0 {
            File::create(&self.path)?;
            return self.open();
        }
        let numbered = |n: u32| backup_path(&self.path, n);
        match std::fs::remove_file(numbered(self.backups)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        for n in (1..self.backups).rev() {
            match std::fs::rename(numbered(n), numbered(n + 1)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        std::fs::rename(&self.path, numbered(1))?;
        // Open the next file at once, so that readers rarely find none.
        self.open()
    }

    fn fail(&mut self, e: &io::Error) {
        if !self.failing {
            log::warn!(
                "cannot write {}: {e}; output is dropped until it works again",
                self.path.display()
            );
            self.failing = true;
        }
    }

    /// The last `n` bytes written: the end of the current file, preceded by the end
    /// of `.1` when the current file holds fewer than `n`.
    pub fn tail(&self, n: u64) -> io::Result<Vec<u8>> {
        let mut out = tail_of(&self.path, n)?;
        let missing = n.saturating_sub(out.len() as u64);
        if missing > 0 && self.backups > 0 {
            let mut older = tail_of(&backup_path(&self.path, 1), missing)?;
            older.append(&mut out);
            out = older;
        }
        Ok(out)
    }
}

pub fn backup_path(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// The last `n` bytes of a file; empty when it does not exist.
fn tail_of(path: &Path, n: u64) -> io::Result<Vec<u8>> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let len = f.metadata()?.len();
    let start = len.saturating_sub(n);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::with_capacity((len - start) as usize);
    f.take(n).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Drain `pipe` into `log` until the last writer closes it. Runs on its own thread.
/// The output pumps of one process that are still running. Its exit is reported
/// only once they are done (or after a bound), so that what it wrote last is in
/// its logs by then: a rule's `{log_tail}` on FATAL, or a `tail` right after the
/// exit, would miss those lines otherwise.
#[derive(Clone)]
pub struct Pumps(Arc<(Mutex<usize>, Condvar)>);

impl Pumps {
    pub fn new(count: usize) -> Pumps {
        Pumps(Arc::new((Mutex::new(count), Condvar::new())))
    }

    /// One pump has read its pipe to the end (or never started).
    pub fn done(&self) {
        let (count, changed) = &*self.0;
        let mut n = count.lock().unwrap_or_else(|p| p.into_inner());
        *n = n.saturating_sub(1);
        changed.notify_all();
    }

    /// Until every pump is done, at most `max`: a process that escaped the
    /// group and holds the pipe open delays the exit by no more than that.
    pub fn wait(&self, max: Duration) {
        let (count, changed) = &*self.0;
        let deadline = Instant::now() + max;
        let mut n = count.lock().unwrap_or_else(|p| p.into_inner());
        while *n > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            n = changed
                .wait_timeout(n, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// Says `done` when the pump returns, however it returns.
struct DoneOnDrop(Pumps);

impl Drop for DoneOnDrop {
    fn drop(&mut self) {
        self.0.done();
    }
}

pub fn pump(mut pipe: impl Read, log: SharedLog, pumps: Pumps) {
    let _done = DoneOnDrop(pumps);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .write(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::warn!("reading a program's output failed: {e}");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pistack-logs-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn size(p: &Path) -> u64 {
        std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
    }

    #[test]
    fn an_exit_waits_for_its_pumps_but_never_past_the_bound() {
        let d = dir("pumps");
        let log: SharedLog = Arc::new(Mutex::new(RotatingLog::new(
            d.join("p.err"),
            LogConfig {
                max_bytes: 1 << 20,
                backups: 0,
            },
        )));
        let pumps = Pumps::new(1);
        let (pumping, shared) = (pumps.clone(), log.clone());
        let t = std::thread::spawn(move || pump(&b"last words\n"[..], shared, pumping));
        pumps.wait(Duration::from_secs(10));
        assert_eq!(log.lock().unwrap().tail(100).unwrap(), b"last words\n");
        t.join().unwrap();
        // A pump that never ends (the pipe held open) costs the bound, no more.
        let stuck = Pumps::new(1);
        let started = Instant::now();
        stuck.wait(Duration::from_millis(50));
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(50) && waited < Duration::from_secs(5));
    }

    #[test]
    fn rotation_keeps_every_file_under_its_bound_and_lines_whole() {
        let d = dir("rot");
        let path = d.join("p.out");
        let mut log = RotatingLog::new(
            path.clone(),
            LogConfig {
                max_bytes: 100,
                backups: 2,
            },
        );
        for i in 0..1000 {
            log.write(format!("line {i:04}\n").as_bytes()); // 10 bytes each
        }
        for n in 0..=2 {
            let p = if n == 0 {
                path.clone()
            } else {
                backup_path(&path, n)
            };
            assert!(size(&p) <= 100, "{} is {} bytes", p.display(), size(&p));
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(
                text.lines().all(|l| l.len() == 9 && l.starts_with("line ")),
                "{text}"
            );
        }
        assert!(!backup_path(&path, 3).exists());
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .ends_with("line 0999\n"));
        // A chunk of several lines is split at a line end.
        log.write(b"aaaaaaaaa\nbbbbbbbbb\n");
        assert!(size(&path) <= 100);
    }

    #[test]
    fn a_long_line_is_cut_and_zero_backups_truncates() {
        let d = dir("cut");
        let path = d.join("p.err");
        let mut log = RotatingLog::new(
            path.clone(),
            LogConfig {
                max_bytes: 64,
                backups: 0,
            },
        );
        log.write(&[b'x'; 1000]);
        assert!(size(&path) <= 64);
        assert!(!backup_path(&path, 1).exists());
        log.write(b"end\n");
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("end\n"));
    }

    #[test]
    fn a_reopened_log_continues_the_size_count() {
        let d = dir("reopen");
        let path = d.join("p.out");
        let cfg = LogConfig {
            max_bytes: 50,
            backups: 1,
        };
        RotatingLog::new(path.clone(), cfg).write(&[b'a'; 40]);
        RotatingLog::new(path.clone(), cfg).write(&[b'b'; 40]);
        assert_eq!(size(&path), 40);
        assert_eq!(size(&backup_path(&path, 1)), 40);
    }

    #[test]
    fn tail_reads_across_the_rotation() {
        let d = dir("tail");
        let path = d.join("p.out");
        let mut log = RotatingLog::new(
            path.clone(),
            LogConfig {
                max_bytes: 10,
                backups: 1,
            },
        );
        log.write(b"0123456789");
        log.write(b"abc");
        assert_eq!(log.tail(5).unwrap(), b"89abc");
        assert_eq!(log.tail(2).unwrap(), b"bc");
        assert_eq!(log.tail(100).unwrap(), b"0123456789abc");
        let empty = RotatingLog::new(d.join("none"), LogConfig::default());
        assert!(empty.tail(10).unwrap().is_empty());
    }

    #[test]
    fn pump_copies_until_eof() {
        let d = dir("pump");
        let log = RotatingLog::shared(d.join("p.out"), LogConfig::default());
        pump(&b"hello\nworld\n"[..], log.clone(), Pumps::new(1));
        assert_eq!(log.lock().unwrap().tail(100).unwrap(), b"hello\nworld\n");
    }
}
