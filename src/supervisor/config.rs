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

/// Signal names accepted by `stopsignal` and the signal endpoint.
pub fn signal_number(name: &str) -> Option<i32> {
    let name = name.trim_start_matches("SIG");
    Some(match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        "TERM" => libc::SIGTERM,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "ALRM" => libc::SIGALRM,
        "WINCH" => libc::SIGWINCH,
        _ => return None,
    })
}

/// Problems of one program, each naming the key (`programs.NAME.KEY: ...`).
pub fn validate(name: &str, p: &ProgramConfig) -> Vec<String> {
    let mut errors = Vec::new();
    let mut err = |key: &str, msg: String| errors.push(format!("programs.{name}.{key}: {msg}"));
    if !valid_name(name) {
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
            format!(
                "unknown signal {:?} (use TERM, INT, HUP, QUIT, KILL, USR1, USR2)",
                p.stopsignal
            ),
        );
    }
    if p.stdout_log.max_bytes == 0 || p.stderr_log.max_bytes == 0 {
        err("stdout_log/stderr_log", "max_bytes must be above 0".into());
    }
    errors
}

pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}
