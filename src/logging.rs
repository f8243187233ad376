//! A small logger: on a terminal (or a file), lines that start with the local time
//! in RFC 3339 (`2026-12-02T15:04:05.123+01:00 INFO  ...`); when systemd connected
//! stderr to the journal (`JOURNAL_STREAM`), journald's `<priority>` prefix and no
//! time (the journal stamps lines itself), so `journalctl -p err` works. Written by
//! hand because simplelog cannot emit those prefixes.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

struct Logger {
    journald: bool,
    level: LevelFilter,
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= self.level
            && (m.target().starts_with("pistack")
                || m.target() == "access"
                || m.level() <= Level::Warn)
    }

    fn log(&self, r: &Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let line = if self.journald {
            journald_line(r.level(), &r.args().to_string())
        } else {
            terminal_line(SystemTime::now(), r.level(), &r.args().to_string())
        };
        // One write per line keeps lines whole when threads log at once.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// `<N>message`: the syslog priority journald reads from a stream.
fn journald_line(level: Level, message: &str) -> String {
    let prio = match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    };
    format!("<{prio}>{message}\n")
}

fn terminal_line(now: SystemTime, level: Level, message: &str) -> String {
    format!("{} {level:<5} {message}\n", local_rfc3339(now))
}

/// `now` in the local time zone as RFC 3339 with milliseconds and the offset,
/// e.g. `2026-12-02T15:04:05.123+01:00` (`Z` is not used: `+00:00` says the same).
/// The zone comes from the C library (`TZ`, else `/etc/localtime`); should it
/// fail, the time is given in UTC.
pub fn local_rfc3339(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    // On 32-bit musl (the Pi Zero build) libc deprecates the alias ahead of its
    // move to musl 1.2's 64-bit time_t; it is still what localtime_r is declared with.
    #[allow(deprecated)]
    let secs = since.as_secs() as libc::time_t;
    // SAFETY: `tm` is a plain C struct for which all zeroes is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is the thread-safe
    // variant and writes only into `tm`. On failure it returns null: then gmtime_r,
    // which cannot fail for a time a SystemTime can hold.
    let (tm, offset_s) = unsafe {
        if libc::localtime_r(&secs, &mut tm).is_null() {
            libc::gmtime_r(&secs, &mut tm);
            (tm, 0)
        } else {
            (tm, tm.tm_gmtoff)
        }
    };
    let sign = if offset_s < 0 { '-' } else { '+' };
    let offset_min = offset_s.unsigned_abs() / 60;
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{sign}{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        since.subsec_millis(),
        offset_min / 60,
        offset_min % 60
    )
}

/// Install the logger; `PISTACK_LOG` (error, warn, info, debug) sets the level.
pub fn init() {
    let level = match std::env::var("PISTACK_LOG").as_deref() {
        Ok("error") => LevelFilter::Error,
        Ok("warn") => LevelFilter::Warn,
        Ok("debug") => LevelFilter::Debug,
        Ok("trace") => LevelFilter::Trace,
        _ => LevelFilter::Info,
    };
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    if log::set_boxed_logger(Box::new(Logger { journald, level })).is_ok() {
        log::set_max_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn journald_lines_are_a_priority_and_the_message() {
        assert_eq!(journald_line(Level::Error, "boom"), "<3>boom\n");
        assert_eq!(journald_line(Level::Warn, "hm"), "<4>hm\n");
        assert_eq!(journald_line(Level::Info, "GET / 200"), "<6>GET / 200\n");
        assert_eq!(journald_line(Level::Debug, "d"), "<7>d\n");
    }

    /// The shape of a local RFC 3339 time: `YYYY-MM-DDThh:mm:ss.mmm+hh:mm`.
    fn is_rfc3339_local(s: &str) -> bool {
        const SHAPE: &str = "9999-99-99T99:99:99.999+99:99";
        s.len() == SHAPE.len()
            && s.chars().zip(SHAPE.chars()).all(|(c, k)| match k {
                '9' => c.is_ascii_digit(),
                '+' => c == '+' || c == '-',
                k => c == k,
            })
    }

    #[test]
    fn terminal_lines_start_with_the_local_time() {
        let t = UNIX_EPOCH + Duration::from_millis(1_796_224_629_042);
        let line = terminal_line(t, Level::Warn, "disk full");
        let (stamp, rest) = line.split_once(' ').unwrap();
        assert!(is_rfc3339_local(stamp), "{line}");
        assert_eq!(&stamp[19..23], ".042");
        assert_eq!(rest, "WARN  disk full\n");
    }

    /// The offset and the wall time agree: local time minus the offset is UTC.
    #[test]
    fn the_offset_turns_local_time_into_utc() {
        // 2026-12-02T14:37:09Z
        let t = UNIX_EPOCH + Duration::from_secs(1_796_222_229);
        let s = local_rfc3339(t);
        assert!(is_rfc3339_local(&s), "{s}");
        let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
        let offset = (n(24..26) * 60 + n(27..29)) * if &s[23..24] == "-" { -1 } else { 1 };
        let local_min = n(11..13) * 60 + n(14..16);
        let utc_min = (local_min - offset).rem_euclid(24 * 60);
        assert_eq!(utc_min, 14 * 60 + 37, "{s}");
        assert_eq!(&s[17..19], "09");
    }
}
