//! The command line (docs: api.md, "Command line").

use crate::config;
use std::path::PathBuf;

pub enum Command {
    Serve,
    CheckConfig,
    Passwd(String),
    ImportSupervisord(PathBuf),
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
  pistack --version

--config defaults to $PISTACK_CONFIG, then /etc/pistack/pistack.json";

pub fn parse(args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut config_flag = None;
    let mut words = Vec::new();
    let mut args = args.peekable();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" | "-c" => {
                config_flag = Some(args.next().ok_or("--config needs a file")?);
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
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
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
        Some(w) => return Err(format!("unexpected arguments starting at {w:?}")),
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
