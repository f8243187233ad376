//! `pistack import-supervisord FILE`: the `[program:x]` sections of a
//! supervisord.conf as pistack's `programs` (printed as a config document that
//! `check-config` accepts), with what has no equivalent reported on stderr.
//!
//! Mapped: command (split like a shell), directory, environment, user,
//! autostart, autorestart, exitcodes, startsecs, startretries, stopsignal,
//! stopwaitsecs, priority, `[group:x]` membership, log rotation sizes.
//! `%(here)s`, `%(ENV_X)s`, `%(program_name)s`, `%(group_name)s`,
//! `%(process_num)s`, `%(numprocs)s` and `%(host_node_name)s` are expanded.

mod ini;
mod words;

use super::config::{signal_number, AutoRestart, ProgramConfig};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The result of an import: the programs, notes (no equivalent, changed
/// meaning) and errors (a value that could not be used).
#[derive(Debug, Default)]
pub struct Outcome {
    pub programs: BTreeMap<String, ProgramConfig>,
    pub notes: Vec<String>,
    pub errors: Vec<String>,
}

/// The command: print the JSON on stdout, the notes and errors on stderr; exit 1
/// when there were errors or the file could not be read.
pub fn run(path: &Path) -> i32 {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "pistack import-supervisord: cannot read {}: {e}",
                path.display()
            );
            return 1;
        }
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let here = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let env = |k: &str| std::env::var(k).ok();
    let out = convert(&text, &here, &env);
    let file = path.display();
    for n in &out.notes {
        eprintln!("{file}:{n}");
    }
    for e in &out.errors {
        eprintln!("{file}:{e} (error)");
    }
    let doc = serde_json::json!({ "programs": out.programs });
    let text = match serde_json::to_string_pretty(&doc) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pistack import-supervisord: {e}");
            return 1;
        }
    };
    // Not println!: a closed pipe (`| head`) is an error to report, not a panic.
    if let Err(e) = writeln!(std::io::stdout().lock(), "{text}") {
        eprintln!("pistack import-supervisord: cannot write the output: {e}");
        return 1;
    }
    i32::from(!out.errors.is_empty())
}

/// Convert the text of a supervisord.conf found in folder `here`.
pub fn convert(text: &str, here: &Path, env: &dyn Fn(&str) -> Option<String>) -> Outcome {
    let mut out = Outcome::default();
    let sections = match ini::parse(text) {
        Ok(s) => s,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    let mut groups: Vec<(String, Vec<String>, usize)> = Vec::new();
    for section in &sections {
        let line = section.line;
        let (kind, name) = section
            .name
            .split_once(':')
            .unwrap_or((section.name.as_str(), ""));
        match kind {
            "program" => {
                if let Some(p) = program(section, name.trim(), here, env, &mut out) {
                    out.programs.insert(name.trim().to_string(), p);
                }
            }
            "group" => {
                for e in &section.entries {
                    match e.key.as_str() {
                        "programs" => {
                            let members = e.value.split(',').map(|m| m.trim().to_string()).filter(|m| !m.is_empty());
                            groups.push((name.trim().to_string(), members.collect(), e.line));
                        }
                        _ => out.notes.push(format!(
                            "{}: [{}] {}: no equivalent; a group only names programs in pistack",
                            e.line, section.name, e.key
                        )),
                    }
                }
            }
            "eventlistener" => out.notes.push(format!(
                "{line}: [{}]: no equivalent; pistack's rules (config \"rules\") and GET /api/supervisor/events receive the process events",
                section.name
            )),
            "fcgi-program" => out.notes.push(format!("{line}: [{}]: FastCGI programs are not supported", section.name)),
            "include" => out.notes.push(format!("{line}: [include]: not followed; import each included file on its own")),
            "supervisord" | "unix_http_server" | "inet_http_server" | "supervisorctl" | "rpcinterface" => out.notes.push(format!(
                "{line}: [{}]: no equivalent; the pistack daemon and its HTTP API take its place",
                section.name
            )),
            _ => out.notes.push(format!("{line}: [{}]: unknown section, ignored", section.name)),
        }
    }
    for (group, members, line) in groups {
        for m in members {
            match out.programs.get_mut(&m) {
                Some(p) => p.group = Some(group.clone()),
                None => out.notes.push(format!(
                    "{line}: [group:{group}] names {m:?}, which is no [program:x] here"
                )),
            }
        }
    }
    for (name, p) in &out.programs {
        out.errors.extend(super::config::validate(name, p));
    }
    out
}

/// One `[program:name]`, or `None` when it cannot be used at all.
fn program(
    section: &ini::Section,
    name: &str,
    here: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    out: &mut Outcome,
) -> Option<ProgramConfig> {
    let here_str = here.to_string_lossy().into_owned();
    let lookup = |var: &str| -> Option<String> {
        match var {
            "here" => Some(here_str.clone()),
            "program_name" | "group_name" => Some(name.to_string()),
            "process_num" => Some("0".into()),
            "numprocs" => Some("1".into()),
            "host_node_name" => std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string()),
            v => env(v.strip_prefix("ENV_")?),
        }
    };
    let mut p = ProgramConfig::default();
    for e in &section.entries {
        let (value, missing) = ini::expand(&e.value, &lookup);
        let k = Key {
            key: &e.key,
            value,
            at: format!("{}: [program:{name}] {}", e.line, e.key),
            program: name,
        };
        for m in missing {
            let hint = match m.strip_prefix("ENV_") {
                Some(var) => format!("${var} is not set"),
                None => "no such expansion".to_string(),
            };
            k.note(
                out,
                format!("%({m})s left as written ({hint}); edit the output"),
            );
        }
        let known = process_key(&k, &mut p, here, out)
            || restart_key(&k, &mut p, out)
            || log_key(&k, &mut p, out)
            || one_process_key(&k, out);
        if !known {
            k.note(out, "unknown key, ignored".into());
        }
    }
    if p.command.is_empty() {
        out.errors.push(format!(
            "{}: [program:{name}] has no command; left out",
            section.line
        ));
        return None;
    }
    Some(p)
}

/// The key being parsed: its name, its expanded value, where it stands (the
/// prefix of every message about it) and the program it belongs to.
struct Key<'a> {
    key: &'a str,
    value: String,
    at: String,
    program: &'a str,
}

impl Key<'_> {
    /// A note about this key: no equivalent, or a changed meaning.
    fn note(&self, out: &mut Outcome, msg: String) {
        out.notes.push(format!("{}: {msg}", self.at));
    }

    /// An error about this key: a value that could not be used.
    fn error(&self, out: &mut Outcome, msg: String) {
        out.errors.push(format!("{}: {msg}", self.at));
    }

    /// The value as a whole number.
    fn number(&self) -> Result<i64, String> {
        let v = &self.value;
        v.trim()
            .parse::<i64>()
            .map_err(|_| format!("{v:?} is not a number"))
    }

    /// `stdout` or `stderr`: which stream a `std*_…` key is about.
    fn is_stdout(&self) -> bool {
        self.key.starts_with("stdout")
    }
}

/// What to run and how: command, directory, environment, user. `false` when
/// the key is not one of them.
fn process_key(k: &Key, p: &mut ProgramConfig, here: &Path, out: &mut Outcome) -> bool {
    let value = &k.value;
    match k.key {
        "command" => match words::shell_split(value) {
            Ok(argv) if !argv.is_empty() => p.command = argv,
            Ok(_) => k.error(out, "empty".into()),
            Err(err) => k.error(out, err),
        },
        "directory" => {
            let dir = PathBuf::from(value);
            if dir.is_relative() {
                k.note(out, "relative; taken relative to the file's folder".into());
            }
            p.directory = Some(here.join(dir));
        }
        "environment" => match words::env_pairs(value) {
            Ok(pairs) => p.environment.extend(pairs),
            Err(err) => k.error(out, err),
        },
        "user" => p.user = Some(value.trim().to_string()),
        _ => return false,
    }
    true
}

/// When it starts, restarts and stops: autostart, autorestart, exitcodes, the
/// start and stop times, priority, the stop signal. `false` when the key is not
/// one of them.
fn restart_key(k: &Key, p: &mut ProgramConfig, out: &mut Outcome) -> bool {
    let value = &k.value;
    match k.key {
        "autostart" => match words::boolean(value) {
            Ok(b) => p.autostart = b,
            Err(err) => k.error(out, err),
        },
        "autorestart" => match value.trim().to_ascii_lowercase().as_str() {
            "unexpected" => p.autorestart = AutoRestart::Unexpected,
            v => match words::boolean(v) {
                Ok(true) => p.autorestart = AutoRestart::Always,
                Ok(false) => p.autorestart = AutoRestart::Never,
                Err(_) => k.error(out, format!("{v:?} is not true, false or unexpected")),
            },
        },
        "exitcodes" => match words::exit_codes(value) {
            Ok(codes) => p.exitcodes = codes,
            Err(err) => k.error(out, err),
        },
        "startsecs" | "startretries" | "stopwaitsecs" | "priority" => match k.number() {
            Ok(n) => {
                let fits = match k.key {
                    "startsecs" => u64::try_from(n).map(|n| p.startsecs = n).is_ok(),
                    "stopwaitsecs" => u64::try_from(n).map(|n| p.stopwaitsecs = n).is_ok(),
                    "startretries" => u32::try_from(n).map(|n| p.startretries = n).is_ok(),
                    _ => i32::try_from(n).map(|n| p.priority = n).is_ok(),
                };
                if !fits {
                    k.error(out, format!("{n} is out of range"));
                }
            }
            Err(err) => k.error(out, err),
        },
        "stopsignal" => match signal_number(value) {
            Some(_) => p.stopsignal = value.trim().trim_start_matches("SIG").to_string(),
            None => k.error(out, format!("unknown signal {value:?}")),
        },
        "stopasgroup" | "killasgroup" => {
            if words::boolean(value) == Ok(false) {
                k.note(
                    out,
                    "false is not kept; pistack always signals the whole process group".into(),
                );
            }
        }
        _ => return false,
    }
    true
}

/// Where the output goes: the log files, their rotation, redirect_stderr.
/// `false` when the key is not one of them.
fn log_key(k: &Key, p: &mut ProgramConfig, out: &mut Outcome) -> bool {
    let value = &k.value;
    let name = k.program;
    match k.key {
        "stdout_logfile" | "stderr_logfile" => {
            let ext = if k.is_stdout() { "out" } else { "err" };
            if value.trim() != "AUTO" {
                k.note(
                    out,
                    format!(
                        "{:?} is not kept; pistack writes <state_dir>/logs/{name}.{ext}",
                        value.trim()
                    ),
                );
            }
        }
        "stdout_logfile_maxbytes" | "stderr_logfile_maxbytes" => {
            let log = if k.is_stdout() {
                &mut p.stdout_log
            } else {
                &mut p.stderr_log
            };
            match words::byte_size(value) {
                Ok(0) => k.note(
                    out,
                    format!(
                        "0 (no rotation) is not kept; pistack always rotates, here at {} bytes",
                        log.max_bytes
                    ),
                ),
                Ok(n) => log.max_bytes = n,
                Err(err) => k.error(out, err),
            }
        }
        "stdout_logfile_backups" | "stderr_logfile_backups" => {
            match k.number().ok().and_then(|n| u32::try_from(n).ok()) {
                Some(n) if k.is_stdout() => p.stdout_log.backups = n,
                Some(n) => p.stderr_log.backups = n,
                None => k.error(out, format!("{value:?} is not a count")),
            }
        }
        "redirect_stderr" => {
            if words::boolean(value) == Ok(true) {
                k.note(
                    out,
                    format!("not kept; stderr goes to <state_dir>/logs/{name}.err"),
                );
            }
        }
        _ => return false,
    }
    true
}

/// What pistack has no place for: several processes per program, their
/// names, and the keys with no equivalent at all. `false` when the key is not
/// one of them.
fn one_process_key(k: &Key, out: &mut Outcome) -> bool {
    let value = &k.value;
    match k.key {
        "numprocs" => {
            if value.trim() != "1" {
                k.note(
                    out,
                    format!("{value} is not kept; pistack runs one process per program"),
                );
            }
        }
        "process_name" => {
            if value.trim() != k.program {
                k.note(
                    out,
                    "not kept; the process is named after the program".into(),
                );
            }
        }
        "umask"
        | "serverurl"
        | "numprocs_start"
        | "stdout_capture_maxbytes"
        | "stderr_capture_maxbytes"
        | "stdout_events_enabled"
        | "stderr_events_enabled"
        | "stdout_syslog"
        | "stderr_syslog" => k.note(out, "no equivalent, ignored".into()),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = include_str!("../../../tests/fixtures/supervisord.conf");

    fn env(k: &str) -> Option<String> {
        (k == "VIRTUAL_ENV").then(|| "/opt/venv".to_string())
    }

    #[test]
    fn the_seed_file_converts() {
        let out = convert(SEED, Path::new("/opt/RPiPySystem"), &env);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        let names: Vec<_> = out.programs.keys().cloned().collect();
        assert_eq!(
            names,
            [
                "auth_service",
                "control_service",
                "email_service",
                "info_service",
                "io_service",
                "supervisor_service"
            ]
        );
        let s = &out.programs["supervisor_service"];
        assert_eq!(
            s.command,
            ["/opt/venv/bin/python", "-u", "-m", "supervisor_service.app"]
        );
        assert_eq!(s.directory.as_deref(), Some(Path::new("/opt/RPiPySystem")));
        assert_eq!(
            (s.autorestart, s.startsecs, s.startretries, s.priority),
            (AutoRestart::Unexpected, 10, 3, 100)
        );
        assert_eq!(s.exitcodes, [0]);
        assert_eq!(s.group.as_deref(), Some("RaspberryPiSystem"));
        assert_eq!(s.environment["PYTHONUNBUFFERED"], "1");
        let c = &out.programs["control_service"];
        assert_eq!(c.autorestart, AutoRestart::Always);
        assert!(c
            .command
            .windows(2)
            .any(|w| w == ["--chdir", "/opt/RPiPySystem/control_service"]));
        assert_eq!(
            c.environment["GUNICORN_CMD_ARGS"],
            "--access-logfile - --error-logfile - --capture-output --enable-stdio-inheritance"
        );
        let notes = out.notes.join("\n");
        assert!(notes.contains("[eventlistener:event_listener]"), "{notes}");
        assert!(notes.contains("[unix_http_server]"), "{notes}");
        assert!(
            notes.contains("stdout_logfile_maxbytes: 0 (no rotation) is not kept"),
            "{notes}"
        );
    }

    #[test]
    fn missing_environment_variables_are_reported_not_guessed() {
        let out = convert(SEED, Path::new("/x"), &|_| None);
        assert!(out.programs["auth_service"].command[0].starts_with("%(ENV_VIRTUAL_ENV)s"));
        assert!(out
            .notes
            .iter()
            .any(|n| n.contains("$VIRTUAL_ENV is not set")));
    }

    #[test]
    fn bad_values_are_errors_with_lines() {
        let text = "[program:a]\ncommand=sleep 'x\n[program:b]\ncommand=sleep 1\nstartsecs=soon\nstopsignal=NOPE\n[program:c]\nautostart=false\n";
        let out = convert(text, Path::new("/"), &|_| None);
        assert_eq!(
            out.errors,
            vec![
                "2: [program:a] command: no closing quotation (')",
                "1: [program:a] has no command; left out",
                "5: [program:b] startsecs: \"soon\" is not a number",
                "6: [program:b] stopsignal: unknown signal \"NOPE\"",
                "7: [program:c] has no command; left out",
            ]
        );
        assert_eq!(out.programs.keys().collect::<Vec<_>>(), ["b"]);
    }
}
