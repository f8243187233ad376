//! The configuration file (docs: `conf/README.md`): strict parsing, defaults so that
//! `{}` is valid, relative paths against the file's folder, environment overrides.
//!
//! Parsing is two steps. serde rejects unknown keys and wrong types with a line and
//! column; `validate` then checks what types cannot say and names the key path.

pub use crate::email::config::{EmailConfig, SmtpConfig};
use crate::gpio::config::GpioConfig;
use crate::supervisor::config::ProgramConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const DEFAULT_PATH: &str = "/etc/pistack/pistack.json";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub state_dir: PathBuf,
    pub http: HttpConfig,
    pub auth: AuthConfig,
    pub programs: BTreeMap<String, ProgramConfig>,
    pub gpio: GpioConfig,
    pub email: EmailConfig,
    pub info: InfoConfig,
    pub rules: Vec<serde_json::Value>,
    pub metrics: MetricsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            state_dir: "/var/lib/pistack".into(),
            http: HttpConfig::default(),
            auth: AuthConfig::default(),
            programs: BTreeMap::new(),
            gpio: GpioConfig::default(),
            email: EmailConfig::default(),
            info: InfoConfig::default(),
            rules: Vec::new(),
            metrics: MetricsConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub bind: String,
    pub workers: usize,
    pub max_body_bytes: usize,
    pub www_dir: PathBuf,
    /// TLS is not built into this binary yet; only `null` is accepted.
    pub tls: Option<serde_json::Value>,
    /// A connection that sends or takes nothing for this long is closed.
    pub idle_timeout_s: u64,
    /// Connections open at once; more are closed as they arrive.
    pub max_connections: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            bind: "0.0.0.0:8080".into(),
            workers: 4,
            max_body_bytes: 64 * 1024,
            www_dir: "/usr/share/pistack/www".into(),
            tls: None,
            idle_timeout_s: 30,
            max_connections: 1024,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub secret_file: Option<PathBuf>,
    pub access_ttl_s: u64,
    pub refresh_ttl_s: u64,
    pub pbkdf2_iterations: u32,
    /// Failed logins allowed (per account and per client address) before throttling.
    pub throttle_free_attempts: u32,
    /// Longest wait a throttled client is told to take.
    pub throttle_max_delay_s: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            secret_file: None,
            access_ttl_s: 900,
            refresh_ttl_s: 30 * 24 * 3600,
            pbkdf2_iterations: 600_000,
            throttle_free_attempts: 5,
            throttle_max_delay_s: 900,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct InfoConfig {
    pub weather: Option<WeatherConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeatherConfig {
    pub url: String,
    pub name: String,
    pub latitude: f64,
    pub longitude: f64,
    pub cache_s: u64,
}

impl Default for WeatherConfig {
    fn default() -> Self {
        WeatherConfig {
            url: "https://api.open-meteo.com/v1/forecast".into(),
            name: "Warsaw".into(),
            latitude: 52.23,
            longitude: 21.01,
            cache_s: 600,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `/metrics` without a token.
    pub public: bool,
}

/// A configuration that could not be used: where and why.
#[derive(Debug)]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.problems {
            writeln!(f, "{}: {}", self.path.display(), p)?;
        }
        Ok(())
    }
}

/// Where the configuration comes from: `--config`, else `$PISTACK_CONFIG`, else the default.
pub fn resolve_path(flag: Option<&str>) -> PathBuf {
    match flag {
        Some(p) => p.into(),
        None => match std::env::var_os("PISTACK_CONFIG") {
            Some(p) if !p.is_empty() => p.into(),
            _ => DEFAULT_PATH.into(),
        },
    }
}

/// Read, parse, apply the environment, resolve paths and validate.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let fail = |problems: Vec<String>| ConfigError {
        path: path.to_path_buf(),
        problems,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(vec![format!("cannot read the file: {e}")]))?;
    let mut config = parse(&text).map_err(|e| fail(vec![e]))?;
    apply_env(&mut config, |k| std::env::var(k).ok()).map_err(|e| fail(vec![e]))?;
    let base = path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .unwrap_or(Path::new("."));
    let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    config.resolve_paths(&base);
    let problems = config.validate();
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(fail(problems))
    }
}

/// Parse the JSON text; the error names line, column and the offending key.
pub fn parse(text: &str) -> Result<Config, String> {
    serde_json::from_str(text).map_err(|e| {
        let what = e.to_string();
        // serde_json appends " at line L column C"; put the place first, as compilers do.
        let what = match what.rfind(" at line ") {
            Some(i) => what[..i].to_string(),
            None => what,
        };
        format!("line {} column {}: {}", e.line(), e.column(), what)
    })
}

/// The environment variables the original's `.env` used, plus pistack's own.
fn apply_env(config: &mut Config, get: impl Fn(&str) -> Option<String>) -> Result<(), String> {
    if let Some(bind) = get("PISTACK_BIND") {
        config.http.bind = bind;
    }
    let host = get("SMTP_HOST");
    let port = get("SMTP_PORT");
    if host.is_some() || port.is_some() {
        let smtp = config.email.smtp.get_or_insert_with(SmtpConfig::default);
        if let Some(host) = host {
            smtp.host = host;
        }
        if let Some(port) = port {
            smtp.port = port
                .parse()
                .map_err(|_| format!("SMTP_PORT {port:?} is not a port number"))?;
        }
    }
    if let Some(from) = get("SMTP_FROM") {
        config.email.from = Some(from);
    }
    Ok(())
}

/// Make `p` absolute against `base`, folding `.` and `..` so logs show clean paths.
fn absolute(base: &Path, p: &mut PathBuf) {
    use std::path::Component;
    let joined = base.join(&*p);
    let mut clean = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                clean.pop();
            }
            other => clean.push(other),
        }
    }
    *p = clean;
}

impl Config {
    fn resolve_paths(&mut self, base: &Path) {
        absolute(base, &mut self.state_dir);
        absolute(base, &mut self.http.www_dir);
        if let Some(p) = self.auth.secret_file.as_mut() {
            absolute(base, p);
        }
        if let Some(smtp) = self.email.smtp.as_mut() {
            for p in [&mut smtp.password_file, &mut smtp.ca_file]
                .into_iter()
                .flatten()
            {
                absolute(base, p);
            }
        }
        for program in self.programs.values_mut() {
            if let Some(p) = program.directory.as_mut() {
                absolute(base, p);
            }
        }
    }

    /// Everything serde cannot check, each problem naming its key path.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.http.bind.parse::<SocketAddr>().is_err() {
            problems.push(format!(
                "http.bind: {:?} is not an address:port such as 0.0.0.0:8080",
                self.http.bind
            ));
        }
        if !(1..=64).contains(&self.http.workers) {
            problems.push("http.workers: must be 1 to 64".into());
        }
        if self.http.max_body_bytes < 1024 {
            problems.push("http.max_body_bytes: must be at least 1024".into());
        }
        if self.http.tls.as_ref().is_some_and(|t| !t.is_null()) {
            problems.push(
                "http.tls: this build has no TLS; put a TLS proxy in front or leave it null".into(),
            );
        }
        if self.http.idle_timeout_s == 0 {
            problems.push("http.idle_timeout_s: must be above 0".into());
        }
        if self.http.max_connections < 8 {
            problems.push("http.max_connections: must be at least 8".into());
        }
        if self.auth.pbkdf2_iterations < 1000 {
            problems.push("auth.pbkdf2_iterations: must be at least 1000".into());
        }
        if self.auth.access_ttl_s == 0 || self.auth.refresh_ttl_s < self.auth.access_ttl_s {
            problems.push(
                "auth.access_ttl_s/refresh_ttl_s: both above 0, refresh at least as long as access"
                    .into(),
            );
        }
        for (name, program) in &self.programs {
            problems.extend(crate::supervisor::config::validate(name, program));
        }
        for (name, pin) in &self.gpio.pins {
            problems.extend(crate::gpio::config::validate(name, pin));
        }
        problems.extend(shared_lines(&self.gpio.pins));
        problems.extend(self.email.validate());
        if let Some(w) = &self.info.weather {
            if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
                problems.push("info.weather.url: must start with http:// or https://".into());
            }
            if !(-90.0..=90.0).contains(&w.latitude) || !(-180.0..=180.0).contains(&w.longitude) {
                problems.push("info.weather.latitude/longitude: out of range".into());
            }
        }
        for (i, rule) in self.rules.iter().enumerate() {
            problems.extend(validate_rule(i, rule, self));
        }
        problems
    }
}

/// Two pins on one line would fight over it (the second gets EBUSY at start).
/// Only literal chip and line spellings are compared: a chip named by label and
/// by path can still be the same one, which the daemon then reports at start.
fn shared_lines(pins: &BTreeMap<String, crate::gpio::config::PinConfig>) -> Vec<String> {
    let mut problems = Vec::new();
    let list: Vec<_> = pins.iter().collect();
    for (i, (a, pa)) in list.iter().enumerate() {
        for (b, pb) in &list[i + 1..] {
            if pa.chip == pb.chip && pa.line == pb.line {
                problems.push(format!(
                    "gpio.pins.{b}.line: the same line as pin {a} (chip {}); one line, one pin",
                    pa.chip
                ));
            }
        }
    }
    problems
}

/// Rules are executed by the rules subsystem; here they are checked for shape and
/// for names that refer to programs and pins that exist.
fn validate_rule(i: usize, rule: &serde_json::Value, config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    let mut bad = |msg: String| problems.push(format!("rules[{i}]: {msg}"));
    let Some(obj) = rule.as_object() else {
        bad("must be an object with \"when\" and \"then\"".into());
        return problems;
    };
    for key in obj.keys() {
        if !["name", "when", "then", "cooldown_s"].contains(&key.as_str()) {
            bad(format!(
                "unknown key {key:?} (expected name, when, then, cooldown_s)"
            ));
        }
    }
    match obj.get("when").and_then(|w| w.as_object()) {
        Some(when) => {
            if let Some(p) = when.get("process").and_then(|p| p.as_str()) {
                if p != "*" && !config.programs.contains_key(p) {
                    bad(format!("when.process: no program named {p:?}"));
                }
                for k in ["to", "from"] {
                    if let Some(s) = when.get(k) {
                        let ok = s.as_str().is_some_and(|s| {
                            [
                                "STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED",
                                "FATAL", "UNKNOWN",
                            ]
                            .contains(&s)
                        });
                        if !ok {
                            bad(format!("when.{k}: not a process state"));
                        }
                    }
                }
            } else if let Some(pin) = when.get("gpio").and_then(|p| p.as_str()) {
                if !config.gpio.pins.contains_key(pin) {
                    bad(format!("when.gpio: no pin named {pin:?}"));
                }
                let edge = when.get("edge").and_then(|e| e.as_str()).unwrap_or("both");
                if !["rising", "falling", "both"].contains(&edge) {
                    bad(format!(
                        "when.edge: {edge:?} is not rising, falling or both"
                    ));
                }
            } else {
                bad("when: needs \"process\" or \"gpio\"".into());
            }
        }
        None => bad("when: missing or not an object".into()),
    }
    const ACTIONS: [&str; 10] = [
        "email",
        "start",
        "stop",
        "restart",
        "gpio_set",
        "gpio_toggle",
        "gpio_pulse",
        "http",
        "log",
        "webhook",
    ];
    match obj.get("then").and_then(|t| t.as_array()) {
        Some(actions) if !actions.is_empty() => {
            for (j, action) in actions.iter().enumerate() {
                let kind = action
                    .as_object()
                    .filter(|a| a.len() == 1)
                    .and_then(|a| a.keys().next());
                match kind {
                    Some(k) if ACTIONS.contains(&k.as_str()) => {}
                    _ => bad(format!("then[{j}]: one of {}", ACTIONS.join(", "))),
                }
            }
        }
        _ => bad("then: a non-empty list of actions".into()),
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_object_is_valid() {
        let c = parse("{}").unwrap();
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        assert_eq!(c.http.bind, "0.0.0.0:8080");
        assert_eq!(c.auth.pbkdf2_iterations, 600_000);
    }

    #[test]
    fn unknown_key_is_named_with_its_place() {
        let err = parse("{\n  \"http\": {\n    \"bnid\": \"x\"\n  }\n}").unwrap_err();
        assert!(err.starts_with("line 3 column"), "{err}");
        assert!(err.contains("bnid"), "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = parse("{\"http\": {\"workers\": \"four\"}}").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn bad_pin_is_named_by_validate() {
        let c = parse(r#"{"gpio":{"pins":{"LED":{"line":17,"direction":"out","edge":"rising"}}}}"#)
            .unwrap();
        let problems = c.validate();
        assert_eq!(
            problems,
            vec!["gpio.pins.LED.edge: only an input pin can watch edges"]
        );
    }

    #[test]
    fn two_pins_on_one_line_are_refused() {
        let c = parse(r#"{"gpio":{"pins":{"A":{"line":4},"B":{"line":4},"C":{"line":"GPIO4"}}}}"#)
            .unwrap();
        assert_eq!(
            c.validate(),
            vec!["gpio.pins.B.line: the same line as pin A (chip gpiochip0); one line, one pin"]
        );
    }

    #[test]
    fn rules_refer_to_existing_things() {
        let c = parse(r#"{"rules":[{"when":{"gpio":"NOPE"},"then":[{"log":"x"}]}]}"#).unwrap();
        assert_eq!(
            c.validate(),
            vec!["rules[0]: when.gpio: no pin named \"NOPE\""]
        );
    }

    #[test]
    fn environment_overrides() {
        let mut c = parse("{}").unwrap();
        let env = |k: &str| match k {
            "PISTACK_BIND" => Some("127.0.0.1:9".to_string()),
            "SMTP_PORT" => Some("2525".to_string()),
            "SMTP_FROM" => Some("a@b".to_string()),
            _ => None,
        };
        apply_env(&mut c, env).unwrap();
        assert_eq!(c.http.bind, "127.0.0.1:9");
        assert_eq!(c.email.smtp.as_ref().unwrap().port, 2525);
        assert_eq!(c.email.from.as_deref(), Some("a@b"));
        let bad = |k: &str| (k == "SMTP_PORT").then(|| "lots".to_string());
        assert!(apply_env(&mut c, bad).unwrap_err().contains("SMTP_PORT"));
    }

    #[test]
    fn relative_paths_follow_the_file() {
        let mut c = parse(r#"{"state_dir":"../var","http":{"www_dir":"/abs"}}"#).unwrap();
        c.resolve_paths(Path::new("/etc/pistack"));
        assert_eq!(c.state_dir, Path::new("/etc/var"));
        assert_eq!(c.http.www_dir, Path::new("/abs"));
    }
}
