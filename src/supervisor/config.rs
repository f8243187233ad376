//! The `programs` section: supervisord's `[program:x]` keys, same names and defaults.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One supervised program, as written in the config file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ProgramConfig {
    /// argv; the first element is looked up in `PATH` like a shell would.
    pub command: Vec<String>,
    pub directory: Option<PathBuf>,
    pub environment: BTreeMap<String, String>,
    /// Run as this user (only possible when the daemon runs as root).
    pub user: Option<String>,
    /// Display group, as supervisord's `[group:x]`.
    pub group: Option<String>,
    pub description: String,
    pub autostart: bool,
    pub autorestart: AutoRestart,
    pub exitcodes: Vec<i32>,
    pub startsecs: u64,
    pub startretries: u32,
    pub stopsignal: String,
    pub stopwaitsecs: u64,
    pub priority: i32,
    pub stdout_log: LogConfig,
    pub stderr_log: LogConfig,
}

impl Default for ProgramConfig {
    fn default() -> Self {
        ProgramConfig {
            command: Vec::new(),
            directory: None,
            environment: BTreeMap::new(),
            user: None,
            group: None,
            description: String::new(),
            autostart: true,
            autorestart: AutoRestart::Unexpected,
            exitcodes: vec![0],
            startsecs: 1,
            startretries: 3,
            stopsignal: "TERM".into(),
            stopwaitsecs: 10,
            priority: 999,
            stdout_log: LogConfig::default(),
            stderr_log: LogConfig::default(),
        }
    }
}

/// `autorestart`: `true`, `false` or `"unexpected"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoRestart {
    Always,
    Never,
    Unexpected,
}

impl Serialize for AutoRestart {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AutoRestart::Always => s.serialize_bool(true),
            AutoRestart::Never => s.serialize_bool(false),
            AutoRestart::Unexpected => s.serialize_str("unexpected"),
        }
    }
}

impl<'de> Deserialize<'de> for AutoRestart {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(true) => Ok(AutoRestart::Always),
            Raw::Bool(false) => Ok(AutoRestart::Never),
            Raw::Str(s) if s == "unexpected" => Ok(AutoRestart::Unexpected),
            Raw::Str(s) if s == "true" => Ok(AutoRestart::Always),
            Raw::Str(s) if s == "false" => Ok(AutoRestart::Never),
            Raw::Str(s) => Err(serde::de::Error::custom(format!(
                "autorestart must be true, false or \"unexpected\", not {s:?}"
            ))),
        }
    }
}

/// Rotation of one output stream's log file.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub max_bytes: u64,
    pub backups: u32,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            max_bytes: 1024 * 1024,
            backups: 2,
        }
    }
}

/// Signals by name, for `stopsignal`, the signal endpoint and messages.
const SIGNALS: [(&str, i32); 15] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ABRT", libc::SIGABRT),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("WINCH", libc::SIGWINCH),
];

/// The names [`signal_number`] takes, as a JSON Schema pattern: any case, with or
/// without SIG, or a number from 1 to 64 (for the OpenAPI document).
pub fn signal_pattern() -> String {
    let any_case = |s: &str| -> String {
        s.chars()
            .map(|c| format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase()))
            .collect()
    };
    let names: Vec<String> = SIGNALS.iter().map(|(n, _)| any_case(n)).collect();
    format!(
        "^(({})?({})|[1-9]|[1-5][0-9]|6[0-4])$",
        any_case("SIG"),
        names.join("|")
    )
}

/// How a signal may be written, for error messages.
pub const SIGNAL_FORMS: &str = "a name such as TERM, HUP, USR1 or SIGTERM (any case), \
or a number from 1 to 64, with no spaces";

/// A signal given as a name (`TERM`, `SIGTERM`, any case, as supervisord takes
/// it) or a number (`15`, 1 to 64, as `kill -l` knows them). Nothing is trimmed
/// or guessed: `"9 "`, `"+9"`, `"09"` and `" TERM"` are `None`, so a typo never
/// sends a signal other than the one meant.
pub fn signal_number(name: &str) -> Option<i32> {
    if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
        let n = name.parse::<i32>().ok()?;
        return ((1..=64).contains(&n) && n.to_string() == name).then_some(n);
    }
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    SIGNALS.iter().find(|(n, _)| *n == bare).map(|(_, v)| *v)
}

/// `SIGTERM` for 15; `signal 40` for one without a name here.
pub fn signal_name(number: i32) -> String {
    match SIGNALS.iter().find(|(_, v)| *v == number) {
        Some((n, _)) => format!("SIG{n}"),
        None => format!("signal {number}"),
    }
}

/// Problems of one program, each naming the key (`programs.NAME.KEY: ...`).
pub fn validate(name: &str, p: &ProgramConfig) -> Vec<String> {
    let mut errors = Vec::new();
    let mut err = |key: &str, msg: String| errors.push(format!("programs.{name}.{key}: {msg}"));
    if !crate::names::valid(name, crate::names::MAX_LEN) {
        err("", "a program name is 1-64 of A-Z a-z 0-9 _ . -".into());
    }
    if p.command.is_empty() || p.command[0].is_empty() {
        err(
            "command",
            "must be a non-empty list, e.g. [\"/bin/sleep\", \"60\"]".into(),
        );
    }
    if signal_number(&p.stopsignal).is_none() {
        err(
            "stopsignal",
            format!("unknown signal {:?} (use {SIGNAL_FORMS})", p.stopsignal),
        );
    }
    if p.stdout_log.max_bytes == 0 || p.stderr_log.max_bytes == 0 {
        err("stdout_log/stderr_log", "max_bytes must be above 0".into());
    }
    if p.stdout_log.backups > 100 || p.stderr_log.backups > 100 {
        err(
            "stdout_log/stderr_log",
            "backups must be 100 or fewer".into(),
        );
    }
    if let Some(code) = p.exitcodes.iter().find(|c| !(0..=255).contains(*c)) {
        err(
            "exitcodes",
            format!("{code} is not an exit code (0 to 255)"),
        );
    }
    if p.user
        .as_deref()
        .is_some_and(|u| u.is_empty() || u.contains('\0'))
    {
        err("user", "must be a user name or null".into());
    }
    for key in p.environment.keys() {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            err("environment", format!("{key:?} is not a variable name"));
        }
    }
    if p.environment.values().any(|v| v.contains('\0'))
        || p.command.iter().any(|a| a.contains('\0'))
    {
        err(
            "command/environment",
            "must not contain NUL characters".into(),
        );
    }
    if p.startsecs > 3600 || p.stopwaitsecs > 3600 {
        err("startsecs/stopwaitsecs", "at most 3600 s".into());
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(signal_number("TERM"), Some(libc::SIGTERM));
        assert_eq!(signal_number("SIGHUP"), Some(libc::SIGHUP));
        assert_eq!(signal_number("usr1"), Some(libc::SIGUSR1));
        assert_eq!(signal_number("9"), Some(9));
        assert_eq!(signal_number("0"), None);
        assert_eq!(signal_number("65"), None);
        assert_eq!(signal_number("BOGUS"), None);
        assert_eq!(signal_number("Sigkill"), Some(libc::SIGKILL));
        for garbage in [
            "9 ",
            " 9",
            "+9",
            "09",
            "-9",
            "0x9",
            " KILL",
            "KILL ",
            "SIGSIGKILL",
            "",
        ] {
            assert_eq!(signal_number(garbage), None, "{garbage:?}");
        }
        assert_eq!(signal_name(libc::SIGKILL), "SIGKILL");
        assert_eq!(signal_name(40), "signal 40");
    }

    #[test]
    fn validation_names_the_key() {
        let p = ProgramConfig {
            command: vec!["sleep".into()],
            exitcodes: vec![0, 300],
            ..ProgramConfig::default()
        };
        assert_eq!(
            validate("x", &p),
            vec!["programs.x.exitcodes: 300 is not an exit code (0 to 255)"]
        );
        assert!(validate("x", &ProgramConfig::default())[0].starts_with("programs.x.command"));
    }
}
