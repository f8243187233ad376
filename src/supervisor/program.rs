//! One program's record: what it is (name, group, configuration, log files) and
//! what it is doing (its state machine, its process, its timer). It is the only
//! record of a program: the supervisor thread ([`super::runner`]) changes it and
//! requests read it, both through [`super::Shared`]; the API's
//! [`ProcessInfo`](super::ProcessInfo) is computed from it when asked for.

use super::config::ProgramConfig;
use super::logs::{RotatingLog, SharedLog};
use super::state::Machine;
use super::ProcessInfo;
use std::path::Path;
use std::time::Instant;

/// What the one timer of a program is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    StartSecs,
    Backoff,
    Respawn,
    StopWait,
}

pub struct Program {
    pub name: String,
    /// `config.group`, or the name.
    pub group: String,
    pub config: ProgramConfig,
    pub stdout: SharedLog,
    pub stderr: SharedLog,
    pub machine: Machine,
    /// The running process (the leader of its process group).
    pub pid: Option<u32>,
    /// `/proc/<pid>/stat` start time of `pid`, for the records.
    pub start_time: u64,
    /// When `pid` was spawned: how long it lived decides how soon it is restarted.
    pub spawned_at: Instant,
    /// The pid that just ended, for the events its exit causes.
    pub ended_pid: Option<u32>,
    /// Unix time of the last spawn.
    pub started_at: Option<u64>,
    pub exit_status: Option<i32>,
    /// Unix time the last process ended (supervisord's `laststop`).
    pub stopped_at: Option<u64>,
    /// Whether `exitcodes` has the last exit (for rules' `unexpected`).
    pub exit_expected: Option<bool>,
    /// The message of the last transition.
    pub message: String,
    pub timer: Option<(Instant, Timer)>,
    /// SIGKILL was sent because `stopwaitsecs` passed.
    pub killed: bool,
    /// Bumped on every published change, so that a waiter can tell "the
    /// STARTING I caused" from a later one.
    pub seq: u64,
}

impl Program {
    /// A STOPPED program whose output goes to `log_dir/<name>.out` and `.err`.
    pub fn new(name: &str, config: &ProgramConfig, log_dir: &Path) -> Program {
        Program {
            name: name.to_string(),
            group: config.group.clone().unwrap_or_else(|| name.to_string()),
            stdout: RotatingLog::shared(log_dir.join(format!("{name}.out")), config.stdout_log),
            stderr: RotatingLog::shared(log_dir.join(format!("{name}.err")), config.stderr_log),
            config: config.clone(),
            machine: Machine::default(),
            pid: None,
            start_time: 0,
            spawned_at: Instant::now(),
            ended_pid: None,
            started_at: None,
            exit_status: None,
            stopped_at: None,
            exit_expected: None,
            message: String::new(),
            timer: None,
            killed: false,
            seq: 0,
        }
    }

    /// The program as the API shows it, `uptime_s` computed for now.
    pub fn info(&self) -> ProcessInfo {
        ProcessInfo {
            name: self.name.clone(),
            group: self.group.clone(),
            description: self.config.description.clone(),
            state: self.machine.state,
            pid: self.pid,
            started_at: self.started_at,
            uptime_s: match (self.pid, self.started_at) {
                (Some(_), Some(t)) => Some(crate::events::now_s().saturating_sub(t)),
                _ => None,
            },
            exit_status: self.exit_status,
            stopped_at: self.stopped_at,
            restarts: self.machine.restarts,
            autostart: self.config.autostart,
            command: self.config.command.clone(),
            message: self.message.clone(),
        }
    }
}
