//! A small logger: plain lines on stderr, or journald's `<priority>` prefixes when
//! systemd connected stderr to the journal (`JOURNAL_STREAM`), so `journalctl -p err`
//! works. Written by hand because simplelog cannot emit those prefixes.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;

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
            let prio = match r.level() {
                Level::Error => 3,
                Level::Warn => 4,
                Level::Info => 6,
                Level::Debug | Level::Trace => 7,
            };
            format!("<{prio}>{}\n", r.args())
        } else {
            let secs = crate::events::now_ms();
            format!(
                "{}.{:03} {:<5} {}\n",
                secs / 1000,
                secs % 1000,
                r.level(),
                r.args()
            )
        };
        // One write per line keeps lines whole when threads log at once.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
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
