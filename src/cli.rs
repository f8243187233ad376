//! The command line (docs/api.md, "Command line").

use crate::config;
use std::path::PathBuf;

pub enum Command {
    Serve,
    CheckConfig,
    Passwd(String),
    ImportSupervisord(PathBuf),
    /// `ctl ...`: the words after `ctl`, for [`crate::ctl`].
    Ctl(Vec<String>),
    Version,
    Help,
}

pub struct Args {
    pub config: PathBuf,
    pub command: Command,
}

pub const USAGE: &str = "\
usage:
  pistack [--config FILE] serve            run the daemon (the default)
  pistack [--config FILE] check-config     validate the configuration; exit 1 on any problem
  pistack [--config FILE] passwd NAME      set NAME's password from stdin (daemon stopped)
  pistack import-supervisord FILE          print a supervisord.conf's programs as pistack JSON
  pistack [--config FILE] ctl COMMAND ...  control the daemon (pistack ctl help)
  pistack --version

--config defaults to $PISTACK_CONFIG, then /etc/pistack/pistack.json";

/// A command line that cannot be run; shown before the usage text.
#[derive(Debug, PartialEq, Eq)]
pub enum UsageError {
    /// `--config` (or `-c`) at the end, without its file.
    ConfigNeedsFile,
    /// An option pistack does not have.
    UnknownOption(String),
    /// Words that are no command, or a command with the wrong number of arguments.
    Unexpected(String),
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UsageError::ConfigNeedsFile => write!(f, "--config needs a file"),
            UsageError::UnknownOption(o) => write!(f, "unknown option {o}"),
            UsageError::Unexpected(w) => write!(f, "unexpected arguments starting at {w:?}"),
        }
    }
}

pub fn parse(args: impl Iterator<Item = String>) -> Result<Args, UsageError> {
    let mut config_flag = None;
    let mut words = Vec::new();
    let mut args = args.peekable();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" | "-c" => {
                config_flag = Some(args.next().ok_or(UsageError::ConfigNeedsFile)?);
            }
            s if s.starts_with("--config=") => {
                config_flag = Some(s["--config=".len()..].to_string())
            }
            "--version" | "-V" => {
                return Ok(Args {
                    config: PathBuf::new(),
                    command: Command::Version,
                })
            }
            "--help" | "-h" | "help" => {
                return Ok(Args {
                    config: PathBuf::new(),
                    command: Command::Help,
                })
            }
            s if s.starts_with('-') => return Err(UsageError::UnknownOption(s.to_string())),
            "ctl" if words.is_empty() => {
                return Ok(Args {
                    config: config::resolve_path(config_flag.as_deref()),
                    command: Command::Ctl(args.collect()),
                })
            }
            _ => words.push(a),
        }
    }
    let command = match words.first().map(String::as_str) {
        None | Some("serve") if words.len() <= 1 => Command::Serve,
        Some("check-config") if words.len() == 1 => Command::CheckConfig,
        Some("passwd") if words.len() == 2 => Command::Passwd(words[1].clone()),
        Some("import-supervisord") if words.len() == 2 => {
            Command::ImportSupervisord(words[1].clone().into())
        }
        Some(w) => return Err(UsageError::Unexpected(w.to_string())),
        None => Command::Serve,
    };
    Ok(Args {
        config: config::resolve_path(config_flag.as_deref()),
        command,
    })
}

/// `check-config`: every problem with its place, exit 1 on any.
pub fn check_config(path: &std::path::Path) -> i32 {
    match config::load(path) {
        Ok(c) => {
            println!(
                "{}: ok ({} programs, {} pins, {} rules)",
                path.display(),
                c.programs.len(),
                c.gpio.pins.len(),
                c.rules.len()
            );
            0
        }
        Err(e) => {
            eprint!("{e}");
            1
        }
    }
}

/// `passwd NAME`: the new password is the first line of stdin. Refused while a
/// daemon holds the state dir, since it would overwrite the change.
pub fn passwd(path: &std::path::Path, name: &str) -> i32 {
    let run = || -> Result<(), String> {
        let config = config::load(path).map_err(|e| e.to_string())?;
        crate::store::ensure_dir(&config.state_dir).map_err(|e| e.to_string())?;
        let _lock = crate::store::StateLock::acquire(&config.state_dir)?;
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        let password = line.trim_end_matches(['\n', '\r']);
        let auth = crate::auth::Auth::open(&config.auth, &config.state_dir)?;
        auth.set_password_by_name(name, password)
            .map_err(|e| e.to_string())?;
        println!("password of {name} changed; their sessions are ended");
        Ok(())
    };
    match run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("pistack passwd: {}", e.trim_end());
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Result<Args, UsageError> {
        parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn bad_command_lines_say_what_is_wrong() {
        let err = |line: &str| words(line).err().map(|e| e.to_string());
        assert_eq!(err("--config").as_deref(), Some("--config needs a file"));
        assert_eq!(err("--nope").as_deref(), Some("unknown option --nope"));
        assert_eq!(
            err("passwd").as_deref(),
            Some("unexpected arguments starting at \"passwd\"")
        );
        assert!(matches!(words("").unwrap().command, Command::Serve));
        let a = words("-c /x.json check-config").unwrap();
        assert!(matches!(a.command, Command::CheckConfig));
        assert_eq!(a.config, PathBuf::from("/x.json"));
    }
}
