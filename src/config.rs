//! The configuration file (docs: `conf/README.md`): strict parsing, defaults so that
//! `{}` is valid, relative paths against the file's folder, environment overrides.
//!
//! Parsing is two steps. serde rejects unknown keys and wrong types with a line and
//! column; `validate` then checks what types cannot say and names the key path.

pub use crate::auth::config::AuthConfig;
pub use crate::email::config::{EmailConfig, SmtpConfig};
use crate::gpio::config::GpioConfig;
pub use crate::http::config::HttpConfig;
pub use crate::info::config::InfoConfig;
use crate::metrics::MetricsConfig;
pub use crate::rules::config::RuleConfig;
use crate::supervisor::config::ProgramConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
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
    pub rules: Vec<RuleConfig>,
    pub metrics: MetricsConfig,
    pub control: ControlConfig,
}

/// The local control socket (`pistack ctl`, supervisorctl over `unix://`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlConfig {
    /// Where it is; `null`: `$RUNTIME_DIRECTORY/control.sock` (systemd's
    /// `RuntimeDirectory=pistack`, so `/run/pistack/`), else `<state_dir>/control.sock`.
    pub socket: Option<PathBuf>,
}

impl Config {
    /// The control socket's path (see [`ControlConfig::socket`]).
    pub fn control_socket(&self) -> PathBuf {
        if let Some(p) = &self.control.socket {
            return p.clone();
        }
        match std::env::var_os("RUNTIME_DIRECTORY") {
            // systemd may list several, separated by ':'; ours is the first.
            Some(dirs) if !dirs.is_empty() => {
                let dirs = dirs.to_string_lossy().into_owned();
                let first = dirs.split(':').next().unwrap_or_default();
                Path::new(first).join("control.sock")
            }
            _ => self.state_dir.join("control.sock"),
        }
    }
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
            control: ControlConfig::default(),
        }
    }
}

/// Why the configuration file could not be used. Shown (with `Display`) as one
/// line per problem, each starting with the file's path as compilers do, so that
/// `check-config` and a failed start say the same.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read: missing, unreadable, not UTF-8.
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Not JSON, an unknown key or a wrong type, at a line and column.
    Syntax { path: PathBuf, error: SyntaxError },
    /// An environment override (`SMTP_PORT`, ...) has a value that cannot be used.
    Env { path: PathBuf, problem: String },
    /// Well-formed, but values that cannot work; each problem names its key path.
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, error } => {
                writeln!(f, "{}: cannot read the file: {error}", path.display())
            }
            ConfigError::Syntax { path, error } => writeln!(f, "{}: {error}", path.display()),
            ConfigError::Env { path, problem } => writeln!(f, "{}: {problem}", path.display()),
            ConfigError::Invalid { path, problems } => {
                for p in problems {
                    writeln!(f, "{}: {p}", path.display())?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// JSON the file's types do not accept: where, and serde's words for what.
#[derive(Debug)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {} column {}: {}",
            self.line, self.column, self.message
        )
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
    let path_buf = || path.to_path_buf();
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path_buf(),
        error,
    })?;
    let mut config = parse(&text).map_err(|error| ConfigError::Syntax {
        path: path_buf(),
        error,
    })?;
    apply_env(&mut config, |k| std::env::var(k).ok()).map_err(|problem| ConfigError::Env {
        path: path_buf(),
        problem,
    })?;
    let base = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let base = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
    config.resolve_paths(&base);
    let problems = config.validate();
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(ConfigError::Invalid {
            path: path_buf(),
            problems,
        })
    }
}

/// Parse the JSON text; the error names line, column and the offending key.
pub fn parse(text: &str) -> Result<Config, SyntaxError> {
    serde_json::from_str(text).map_err(|e| {
        let what = e.to_string();
        // serde_json appends " at line L column C"; the place goes first instead.
        let message = match what.rfind(" at line ") {
            Some(i) => what[..i].to_string(),
            None => what,
        };
        SyntaxError {
            line: e.line(),
            column: e.column(),
            message,
        }
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
        if let Some(p) = self.control.socket.as_mut() {
            absolute(base, p);
        }
        if let Some(crate::http::tls::TlsConfig::Files { cert, key }) = self.http.tls.as_mut() {
            absolute(base, cert);
            absolute(base, key);
        }
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
        problems.extend(self.http.validate());
        problems.extend(self.auth.validate());
        for (name, program) in &self.programs {
            problems.extend(crate::supervisor::config::validate(name, program));
        }
        problems.extend(self.gpio.validate());
        problems.extend(self.email.validate());
        problems.extend(crate::info::config::validate(&self.info));
        problems.extend(crate::rules::config::validate(self));
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_object_is_valid() {
        let c = parse("{}").unwrap();
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        assert_eq!(c.http.bind, "0.0.0.0:8080");
        assert_eq!(c.auth.pbkdf2_iterations, None);
    }

    #[test]
    fn unknown_key_is_named_with_its_place() {
        let err = parse("{\n  \"http\": {\n    \"bnid\": \"x\"\n  }\n}")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("line 3 column"), "{err}");
        assert!(err.contains("bnid"), "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = parse("{\"http\": {\"workers\": \"four\"}}")
            .unwrap_err()
            .to_string();
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
    fn every_error_starts_with_the_path() {
        let dir = std::env::temp_dir().join(format!("pistack-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.json");
        let e = load(&missing).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}: cannot read the file: ", missing.display())),
            "{e}"
        );
        let bad = dir.join("bad.json");
        std::fs::write(&bad, r#"{"http":{"workers":0,"max_body_bytes":1}}"#).unwrap();
        let e = load(&bad).unwrap_err().to_string();
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 2, "{e}");
        assert!(
            lines
                .iter()
                .all(|l| l.starts_with(&format!("{}: http.", bad.display()))),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn relative_paths_follow_the_file() {
        let mut c = parse(r#"{"state_dir":"../var","http":{"www_dir":"/abs"}}"#).unwrap();
        c.resolve_paths(Path::new("/etc/pistack"));
        assert_eq!(c.state_dir, Path::new("/etc/var"));
        assert_eq!(c.http.www_dir, Path::new("/abs"));
    }
}
