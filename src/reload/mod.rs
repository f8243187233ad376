//! A reload: the configuration file read again and applied without a restart,
//! the same for `POST /api/supervisor/reload` (`pistack ctl reload`) and for
//! SIGHUP. Programs ([`crate::supervisor::reload`]), pins
//! ([`crate::gpio::reload`]) and the TLS certificate are applied; everything
//! else (bind address, users, rules, email, ...) is read only at start.
//!
//! Nothing is applied when the file is invalid, when it switches the GPIO
//! backend, or when the running rules (the start's: they change only with a
//! restart) would name a pin the new file removes or changes into something
//! they cannot use; the answer then says why, in check-config's words.

pub mod api;

use crate::config::{self, Config};
use crate::gpio::{self, reload::PinChanges, Gpio};
use crate::http::tls::Tls;
use crate::supervisor::{self, reload::Changes, Supervisor};
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// Why a reload applied nothing, or stopped half-way (programs applied, pins not).
#[derive(Debug)]
pub enum Error {
    /// The file cannot be read or is invalid: check-config's lines (400).
    Config(String),
    /// The running rules would name pins the new file removes or changes;
    /// check-config's lines for them (400).
    Rules(Vec<String>),
    /// The pins cannot be applied: a change of backend (400).
    Gpio(gpio::Error),
    /// The supervisor could not apply the programs: one would not stop (409),
    /// or it is shutting down (503).
    Supervisor(supervisor::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(m) => f.write_str(m.trim_end()),
            Error::Rules(lines) => write!(
                f,
                "{}\n(the running rules are those of the start and change only with a restart; \
                 keep the pins they use, or restart the daemon)",
                lines.join("\n")
            ),
            Error::Gpio(e) => write!(f, "{e}"),
            Error::Supervisor(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

/// What became of the TLS certificate.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TlsOutcome {
    /// No `http.tls`: nothing to read.
    Off,
    /// The files were read again; new connections get the new certificate.
    Reloaded,
    /// The new files could not be used; the old certificate stays.
    Kept { error: String },
}

/// What a reload did. The programs' lists stay at the top level, as before
/// pins were reloaded (`{"added","changed","removed"}` of docs/api.md).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    #[serde(flatten)]
    pub programs: Changes,
    pub pins: PinChanges,
    pub tls: TlsOutcome,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (p, g) = (&self.programs, &self.pins);
        write!(
            f,
            "programs added {:?}, changed {:?}, removed {:?}; \
             pins added {:?}, changed {:?}, removed {:?}; TLS certificate {}",
            p.added,
            p.changed,
            p.removed,
            g.added,
            g.changed,
            g.removed,
            match &self.tls {
                TlsOutcome::Off => "not configured".to_string(),
                TlsOutcome::Reloaded => "reloaded".to_string(),
                TlsOutcome::Kept { error } => format!("not reloaded, the old one stays: {error}"),
            }
        )
    }
}

/// Everything a reload reads and changes.
pub struct Reloader {
    path: PathBuf,
    /// The configuration the running rules were checked against at start.
    started: Config,
    supervisor: Arc<Supervisor>,
    gpio: Arc<Gpio>,
    tls: Option<Arc<Tls>>,
    /// One reload at a time (SIGHUP and a `ctl reload` may meet).
    busy: std::sync::Mutex<()>,
}

impl Reloader {
    pub fn new(
        path: PathBuf,
        started: Config,
        supervisor: Arc<Supervisor>,
        gpio: Arc<Gpio>,
        tls: Option<Arc<Tls>>,
    ) -> Reloader {
        Reloader {
            path,
            started,
            supervisor,
            gpio,
            tls,
            busy: std::sync::Mutex::new(()),
        }
    }

    /// SIGHUP: the same reload, its outcome logged (a bad file keeps the
    /// running configuration).
    pub fn hangup(&self) {
        log::info!("SIGHUP: reloading {}", self.path.display());
        match self.reload() {
            Ok(report) if matches!(report.tls, TlsOutcome::Kept { .. }) => {
                log::error!("SIGHUP: reloaded; {report}")
            }
            Ok(report) => log::info!("SIGHUP: reloaded; {report}"),
            Err(e) => log::error!(
                "SIGHUP: not reloaded, the running configuration stays: {}",
                e.to_string().replace('\n', "; ")
            ),
        }
    }

    /// Read the file and apply it: programs, then pins, then the certificate.
    pub fn reload(&self) -> Result<Report, Error> {
        let _one = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        let new = config::load(&self.path).map_err(|e| Error::Config(e.to_string()))?;
        self.gpio.check_reload(&new.gpio).map_err(Error::Gpio)?;
        let problems = rules_against(&self.started, &new);
        if !problems.is_empty() {
            let path = self.path.display();
            let lines = problems.iter().map(|p| format!("{path}: {p}")).collect();
            return Err(Error::Rules(lines));
        }
        let programs = self
            .supervisor
            .reload(&new.programs)
            .map_err(Error::Supervisor)?;
        let pins = self.gpio.reload(&new.gpio).map_err(Error::Gpio)?;
        let tls = match self.tls.as_ref().map(|t| t.reload()) {
            None => TlsOutcome::Off,
            Some(Ok(())) => TlsOutcome::Reloaded,
            Some(Err(e)) => TlsOutcome::Kept {
                error: e.to_string(),
            },
        };
        Ok(Report {
            programs,
            pins,
            tls,
        })
    }
}

/// The problems the running rules (checked against `started`) would have with
/// `new`'s pins: none unless a pin they use is removed or changed unusably.
fn rules_against(started: &Config, new: &Config) -> Vec<String> {
    let mut check = started.clone();
    check.gpio = new.gpio.clone();
    crate::rules::config::validate(&check)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(v: serde_json::Value) -> Config {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn rules_that_name_a_removed_or_changed_pin_are_problems() {
        let pins =
            json!({"B": {"line": 4, "edge": "both"}, "LED": {"line": 5, "direction": "out"}});
        let started = config(json!({
            "gpio": {"pins": pins},
            "rules": [{"when": {"gpio": "B"}, "then": [{"gpio_toggle": "LED"}]}]
        }));
        assert!(rules_against(&started, &started).is_empty());
        let mut fewer = started.clone();
        fewer.gpio.pins.remove("B");
        // The new file's own rules do not matter: the running ones do.
        fewer.rules.clear();
        assert_eq!(
            rules_against(&started, &fewer),
            ["rules[0]: when.gpio: no pin named \"B\""]
        );
        let mut led_in = started.clone();
        if let Some(led) = led_in.gpio.pins.get_mut("LED") {
            led.direction = crate::gpio::config::Direction::In;
        }
        let problems = rules_against(&started, &led_in);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("LED"), "{problems:?}");
        let mut other = started.clone();
        other.gpio.pins.insert(
            "NEW".into(),
            serde_json::from_value(json!({"line": 6})).unwrap(),
        );
        assert!(
            rules_against(&started, &other).is_empty(),
            "an added pin is fine"
        );
    }

    #[test]
    fn the_report_keeps_the_programs_lists_at_the_top() {
        let r = Report {
            programs: Changes {
                added: vec!["p".into()],
                ..Changes::default()
            },
            pins: PinChanges {
                removed: vec!["LED".into()],
                ..PinChanges::default()
            },
            tls: TlsOutcome::Kept {
                error: "bad".into(),
            },
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"added": ["p"], "changed": [], "removed": [],
                   "pins": {"added": [], "changed": [], "removed": ["LED"]},
                   "tls": {"state": "kept", "error": "bad"}})
        );
        assert!(r
            .to_string()
            .contains("pins added [], changed [], removed [\"LED\"]"));
    }
}
