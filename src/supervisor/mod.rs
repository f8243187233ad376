//! Process supervision, supervisord's job done in-process (docs/api.md
//! "Supervisor", docs/config.md `programs`).
//!
//! One supervisor thread ([`runner`]) owns every program's state machine
//! ([`state`]) and is the only one to fork, signal and reap. It sleeps in a
//! channel receive until something happens — a request from [`Supervisor`], a
//! child's exit reported by that child's waiter thread, or the next timer
//! (`startsecs`, a BACKOFF delay, `stopwaitsecs`) — so an idle daemon does not
//! wake up at all. Each program has one record ([`program::Program`]) in
//! [`Shared`], which that thread changes and requests read (and wait on, through
//! a condvar); transitions also go to the ring of recent events and the bus.

pub mod api;
pub mod config;
pub mod import;
mod logs;
mod process;
mod program;
mod records;
pub mod reload;
mod runner;
pub mod state;

use crate::events::{Bus, Numbered, ProcessEvent, Ring};
use config::{signal_name, ProgramConfig};
use program::Program;
use serde::Serialize;
use state::State;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How many process events the ring keeps for `GET /events`.
const EVENT_RING: usize = 1000;

/// Why a request to the supervisor failed; [`api`] maps each to a status.
#[derive(Debug)]
pub enum Error {
    /// No program has this name (404).
    NoSuchProgram(String),
    /// No program is in this group (404).
    NoSuchGroup(String),
    /// Start while it is STARTING, RUNNING or BACKOFF (409).
    AlreadyRunning { name: String, state: State },
    /// A reload found this program still running after it was told to stop (409).
    StillRunning(String),
    /// Start while it is STOPPING (409).
    Stopping(String),
    /// Stop or signal while it has no process (409).
    NotRunning { name: String, state: State },
    /// Start while the daemon shuts down (503).
    ShuttingDown,
    /// The supervisor thread has ended (503).
    Gone,
    /// The kernel refused to deliver a signal (500).
    Signal {
        name: String,
        signal: i32,
        error: std::io::Error,
    },
    /// A program's log file could not be read (500).
    Log {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NoSuchProgram(name) => write!(
                f,
                "no program named {name:?}; GET /api/supervisor/processes lists them"
            ),
            Error::NoSuchGroup(group) => write!(
                f,
                "no program is in group {group:?}; GET /api/supervisor/processes shows each one's group"
            ),
            Error::AlreadyRunning { name, state } => write!(
                f,
                "{name} is already running ({state}); stop it first, or use restart"
            ),
            Error::StillRunning(name) => write!(
                f,
                "{name} did not stop, so the new configuration was not applied; stop it and reload again"
            ),
            Error::Stopping(name) => {
                write!(f, "{name} is stopping; start it once it is STOPPED")
            }
            Error::NotRunning { name, state } => write!(f, "{name} is not running ({state})"),
            Error::ShuttingDown => f.write_str("the daemon is shutting down"),
            Error::Gone => {
                f.write_str("the supervisor has stopped; restart the daemon (its log says why)")
            }
            Error::Signal {
                name,
                signal,
                error,
            } => write!(f, "cannot send {} to {name}: {error}", signal_name(*signal)),
            Error::Log { path, error } => write!(f, "cannot read {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for Error {}

/// A program as the API shows it (docs/api.md's `Process`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProcessInfo {
    pub name: String,
    pub group: String,
    pub description: String,
    pub state: State,
    pub pid: Option<u32>,
    pub started_at: Option<u64>,
    pub uptime_s: Option<u64>,
    pub exit_status: Option<i32>,
    /// Unix time the last process ended.
    pub stopped_at: Option<u64>,
    pub restarts: u32,
    pub autostart: bool,
    pub command: Vec<String>,
    pub message: String,
}

/// One program's answer to a group operation.
pub type Outcome = (String, Result<ProcessInfo, Error>);

/// What the supervisor thread shares with request threads.
struct Shared {
    /// Every program's record, in priority order (then by name). Only the
    /// supervisor thread changes them.
    programs: Mutex<Vec<Program>>,
    /// Notified after every change of `programs`.
    changed: Condvar,
    events: Ring<ProcessEvent>,
}

impl Shared {
    fn programs(&self) -> MutexGuard<'_, Vec<Program>> {
        self.programs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A request to the supervisor thread.
enum Request {
    Start,
    Stop,
    Signal(i32),
}

/// A start or a stop, of one program or of several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Start,
    Stop,
}

impl Change {
    fn request(self) -> Request {
        match self {
            Change::Start => Request::Start,
            Change::Stop => Request::Stop,
        }
    }
}

/// How a start or stop of several programs proceeds: the one difference
/// between the HTTP API's group routes and supervisord's XML-RPC methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    /// Ask every program first, then wait for them side by side (a group
    /// waits out `startsecs` once, not once per member). A program that is
    /// already so is skipped; any other refusal ends the whole operation.
    Together,
    /// supervisord's: those not already so, one after the other, each
    /// waited for before the next is asked; each one's own outcome.
    OneByOne,
}

/// The indices of the programs of `group` in `programs`, in their (priority)
/// order; `NoSuchGroup` when none is in it. Every group lookup goes through here.
fn group_indices_in(programs: &[Program], group: &str) -> Result<Vec<usize>, Error> {
    let found: Vec<usize> = (programs.iter().enumerate())
        .filter(|(_, p)| p.group == group)
        .map(|(i, _)| i)
        .collect();
    if found.is_empty() {
        return Err(Error::NoSuchGroup(group.to_string()));
    }
    Ok(found)
}

enum Msg {
    /// A request about program `index`; the reply is the table `seq` after it.
    Request {
        index: usize,
        what: Request,
        reply: mpsc::SyncSender<Result<u64, Error>>,
    },
    /// The process `pid` of program `index` has ended (not yet reaped); `at`
    /// is when its waiter saw it, which decides whether it outlived `startsecs`.
    Exited {
        index: usize,
        pid: u32,
        at: std::time::Instant,
    },
    /// Replace the table by the one for `programs` (a reload); the changed and
    /// removed programs have been stopped.
    Replace {
        programs: BTreeMap<String, ProgramConfig>,
        log_dir: PathBuf,
        reply: mpsc::SyncSender<Result<reload::Changes, Error>>,
    },
    /// Stop every program in reverse priority, then end the thread.
    Shutdown,
}

/// The handle the API (and later the rules) use. Cheap to share in an `Arc`.
pub struct Supervisor {
    tx: Mutex<Sender<Msg>>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    log_dir: PathBuf,
    /// Requests find a program by index: they hold this for reading from the
    /// lookup to the answer, and a reload, which moves programs, for writing.
    gate: RwLock<()>,
}

impl Supervisor {
    /// Kill what an earlier run left behind, start the supervisor thread and the
    /// autostart programs (ascending priority).
    pub fn start(
        programs: &BTreeMap<String, ProgramConfig>,
        state_dir: &Path,
        bus: Arc<Bus>,
    ) -> Result<Arc<Supervisor>, String> {
        let log_dir = state_dir.join("logs");
        crate::store::ensure_dir(&log_dir)
            .map_err(|e| format!("cannot create {}: {e}", log_dir.display()))?;
        let records_path = state_dir.join("supervisor.json");
        let killed = records::kill_leftovers(&records_path);
        if killed > 0 {
            log::warn!("supervisor: killed {killed} processes left over from an earlier run");
        }

        let mut ordered: Vec<(&String, &ProgramConfig)> = programs.iter().collect();
        ordered.sort_by(|a, b| (a.1.priority, a.0).cmp(&(b.1.priority, b.0)));
        let shared = Arc::new(Shared {
            programs: Mutex::new(
                ordered
                    .iter()
                    .map(|(name, config)| Program::new(name, config, &log_dir))
                    .collect(),
            ),
            changed: Condvar::new(),
            events: Ring::new(EVENT_RING),
        });
        let (tx, rx) = mpsc::channel();
        let runner = runner::Runner::new(shared.clone(), bus, tx.clone(), rx, records_path);
        let thread = std::thread::Builder::new()
            .name("supervisor".into())
            .spawn(move || runner.run())
            .map_err(|e| format!("cannot start the supervisor thread: {e}"))?;
        Ok(Arc::new(Supervisor {
            tx: Mutex::new(tx),
            shared,
            thread: Mutex::new(Some(thread)),
            log_dir,
            gate: RwLock::new(()),
        }))
    }

    fn index(&self, name: &str) -> Result<usize, Error> {
        self.shared
            .programs()
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| Error::NoSuchProgram(name.to_string()))
    }

    fn send(&self, msg: Msg) -> Result<(), Error> {
        self.tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(msg)
            .map_err(|_| Error::Gone)
    }

    fn request(&self, index: usize, what: Request) -> Result<u64, Error> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Msg::Request { index, what, reply })?;
        answer.recv().map_err(|_| Error::Gone)?
    }

    /// Wait (on the condvar, no polling) until `done` holds for program `index`
    /// or `timeout` passes; the program as it is then.
    fn wait_for(
        &self,
        index: usize,
        timeout: Duration,
        done: impl Fn(&Program) -> bool,
    ) -> ProcessInfo {
        let programs = self.shared.programs();
        let (programs, _) = self
            .shared
            .changed
            .wait_timeout_while(programs, timeout, |t| !t.get(index).is_some_and(&done))
            .unwrap_or_else(|p| p.into_inner());
        programs[index].info()
    }

    /// The configuration of every program in the table now.
    pub fn configs(&self) -> BTreeMap<String, ProgramConfig> {
        let programs = self.shared.programs();
        programs
            .iter()
            .map(|p| (p.name.clone(), p.config.clone()))
            .collect()
    }

    pub fn list(&self) -> Vec<ProcessInfo> {
        self.shared.programs().iter().map(Program::info).collect()
    }

    fn read_gate(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, name: &str) -> Result<ProcessInfo, Error> {
        let _gate = self.read_gate();
        let i = self.index(name)?;
        Ok(self.shared.programs()[i].info())
    }

    /// Start `name`; with `wait`, answer once it is RUNNING or has failed
    /// (BACKOFF, FATAL) — or was stopped meanwhile.
    pub fn start_program(&self, name: &str, wait: bool) -> Result<ProcessInfo, Error> {
        self.change_program(name, Change::Start, wait)
    }

    /// Stop `name`; with `wait`, answer once it has stopped.
    pub fn stop_program(&self, name: &str, wait: bool) -> Result<ProcessInfo, Error> {
        self.change_program(name, Change::Stop, wait)
    }

    /// Start or stop `name`; with `wait`, as [`Supervisor::settle`] leaves it.
    pub fn change_program(
        &self,
        name: &str,
        change: Change,
        wait: bool,
    ) -> Result<ProcessInfo, Error> {
        let _gate = self.read_gate();
        self.change_locked(name, change, wait)
    }

    fn change_locked(&self, name: &str, change: Change, wait: bool) -> Result<ProcessInfo, Error> {
        let i = self.index(name)?;
        let seq = self.request(i, change.request())?;
        Ok(self.settle(i, seq, change, wait))
    }

    /// Program `index` after a start or stop was accepted (as table `seq`):
    /// with `wait`, once it has left STARTING (RUNNING, BACKOFF, FATAL, or
    /// stopped meanwhile) or STOPPING; at once otherwise.
    fn settle(&self, index: usize, seq: u64, change: Change, wait: bool) -> ProcessInfo {
        if !wait {
            return self.shared.programs()[index].info();
        }
        let config = self.shared.programs()[index].config.clone();
        match change {
            Change::Start => {
                self.wait_for(index, Duration::from_secs(config.startsecs + 30), |p| {
                    p.seq != seq || p.machine.state != State::Starting
                })
            }
            Change::Stop => {
                self.wait_for(index, Duration::from_secs(config.stopwaitsecs + 30), |p| {
                    p.machine.state != State::Stopping
                })
            }
        }
    }

    /// Stop (when running) and start again, waiting for both.
    pub fn restart_program(&self, name: &str) -> Result<ProcessInfo, Error> {
        let _gate = self.read_gate();
        match self.change_locked(name, Change::Stop, true) {
            Ok(_) | Err(Error::NotRunning { .. }) => {}
            Err(e) => return Err(e),
        }
        self.change_locked(name, Change::Start, true)
    }

    /// The indices of the programs of `group`, in priority order.
    fn group_indices(&self, group: &str) -> Result<Vec<usize>, Error> {
        group_indices_in(&self.shared.programs(), group)
    }

    fn infos(&self, indices: &[usize]) -> Vec<ProcessInfo> {
        let programs = self.shared.programs();
        indices.iter().map(|&i| programs[i].info()).collect()
    }

    /// Start or stop the programs at `indices` (given in priority order; a
    /// stop goes last first) at `pace`; the programs asked, each with its
    /// outcome (with `wait`, as [`Supervisor::settle`] leaves it). The caller
    /// holds the gate.
    fn change_many(
        &self,
        indices: &[usize],
        change: Change,
        wait: bool,
        pace: Pace,
    ) -> Result<Vec<Outcome>, Error> {
        let mut order = indices.to_vec();
        if change == Change::Stop {
            order.reverse();
        }
        // Who is already so is decided before the first is asked, as supervisord does.
        let todo: Vec<(usize, String)> = {
            let programs = self.shared.programs();
            let already =
                |i: usize| programs[i].machine.state.is_running() == (change == Change::Start);
            (order.into_iter())
                .filter(|&i| pace == Pace::Together || !already(i))
                .map(|i| (i, programs[i].name.clone()))
                .collect()
        };
        let mut asked = Vec::new();
        let mut outcomes = Vec::new();
        for (i, name) in todo {
            match (self.request(i, change.request()), pace) {
                (Ok(seq), Pace::Together) => asked.push((i, name, seq)),
                (Ok(seq), Pace::OneByOne) => {
                    outcomes.push((name, Ok(self.settle(i, seq, change, wait))));
                }
                (Err(Error::AlreadyRunning { .. } | Error::NotRunning { .. }), Pace::Together) => {}
                (Err(e), Pace::Together) => return Err(e),
                (Err(e), Pace::OneByOne) => outcomes.push((name, Err(e))),
            }
        }
        for (i, name, seq) in asked {
            outcomes.push((name, Ok(self.settle(i, seq, change, wait))));
        }
        Ok(outcomes)
    }

    /// `supervisorctl start group:*` over HTTP: start every program of `group`
    /// that is not already running ([`Pace::Together`]); every member as it is then.
    pub fn start_group(&self, group: &str, wait: bool) -> Result<Vec<ProcessInfo>, Error> {
        let _gate = self.read_gate();
        let indices = self.group_indices(group)?;
        self.change_many(&indices, Change::Start, wait, Pace::Together)?;
        Ok(self.infos(&indices))
    }

    /// `supervisorctl stop group:*` over HTTP: stop every running program of
    /// `group`, in reverse priority order ([`Pace::Together`]); every member as it is then.
    pub fn stop_group(&self, group: &str, wait: bool) -> Result<Vec<ProcessInfo>, Error> {
        let _gate = self.read_gate();
        let indices = self.group_indices(group)?;
        self.change_many(&indices, Change::Stop, wait, Pace::Together)?;
        Ok(self.infos(&indices))
    }

    /// `supervisorctl restart group:*`: stop the group, then start all of it.
    pub fn restart_group(&self, group: &str) -> Result<Vec<ProcessInfo>, Error> {
        self.stop_group(group, true)?;
        self.start_group(group, true)
    }

    /// Send `sig` to the program's process group.
    pub fn signal_program(&self, name: &str, sig: i32) -> Result<ProcessInfo, Error> {
        let _gate = self.read_gate();
        let i = self.index(name)?;
        self.request(i, Request::Signal(sig))?;
        Ok(self.shared.programs()[i].info())
    }

    /// The names of the programs in `group`, in priority order.
    pub fn group_members(&self, group: &str) -> Result<Vec<String>, Error> {
        let programs = self.shared.programs();
        let indices = group_indices_in(&programs, group)?;
        Ok(indices.iter().map(|&i| programs[i].name.clone()).collect())
    }

    /// Start every program of `group` that is not running, one after the other
    /// in priority order, or stop every running one, last first, with each
    /// one's outcome (XML-RPC's startProcessGroup and stopProcessGroup).
    pub fn group_each(
        &self,
        group: &str,
        change: Change,
        wait: bool,
    ) -> Result<Vec<Outcome>, Error> {
        let _gate = self.read_gate();
        let indices = self.group_indices(group)?;
        self.change_many(&indices, change, wait, Pace::OneByOne)
    }

    /// The same for those of `names` (supervisord's "all" semantics).
    pub fn each(&self, names: &[String], change: Change, wait: bool) -> Vec<Outcome> {
        let _gate = self.read_gate();
        let indices: Vec<usize> = names.iter().filter_map(|n| self.index(n).ok()).collect();
        // OneByOne keeps every refusal in its outcome: it never fails as a whole.
        self.change_many(&indices, change, wait, Pace::OneByOne)
            .unwrap_or_default()
    }

    /// Apply a new configuration's programs without touching the unchanged ones
    /// (see [`reload`]): stop the changed and removed ones, swap the table,
    /// start the added and changed ones that are `autostart`.
    pub fn reload(
        &self,
        programs: &BTreeMap<String, ProgramConfig>,
    ) -> Result<reload::Changes, Error> {
        let _gate = self.gate.write().unwrap_or_else(|p| p.into_inner());
        let planned = reload::diff(&self.shared.programs(), programs);
        for name in planned.to_stop() {
            match self.change_locked(name, Change::Stop, true) {
                Ok(_) | Err(Error::NotRunning { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Msg::Replace {
            programs: programs.clone(),
            log_dir: self.log_dir.clone(),
            reply,
        })?;
        let changes = answer.recv().map_err(|_| Error::Gone)??;
        log::info!(
            "supervisor: reloaded; added {:?}, changed {:?}, removed {:?}",
            changes.added,
            changes.changed,
            changes.removed
        );
        Ok(changes)
    }

    /// The last `bytes` of a program's stdout or stderr log.
    pub fn tail(&self, name: &str, stderr: bool, bytes: u64) -> Result<Vec<u8>, Error> {
        let log = self.log(name, stderr)?;
        let log = log.lock().unwrap_or_else(|p| p.into_inner());
        log.tail(bytes).map_err(|error| Error::Log {
            path: log.path().to_path_buf(),
            error,
        })
    }

    /// Empty a program's stdout and stderr logs.
    pub fn clear_logs(&self, name: &str) -> Result<(), Error> {
        for stderr in [false, true] {
            let log = self.log(name, stderr)?;
            let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
            log.clear().map_err(|error| Error::Log {
                path: log.path().to_path_buf(),
                error,
            })?;
        }
        Ok(())
    }

    /// The path of a program's stdout or stderr log file.
    pub fn log_path(&self, name: &str, stderr: bool) -> Result<PathBuf, Error> {
        let log = self.log(name, stderr)?;
        let path = log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .path()
            .to_path_buf();
        Ok(path)
    }

    fn log(&self, name: &str, stderr: bool) -> Result<logs::SharedLog, Error> {
        let _gate = self.read_gate();
        let i = self.index(name)?;
        let log = {
            let programs = self.shared.programs();
            let p = &programs[i];
            if stderr {
                p.stderr.clone()
            } else {
                p.stdout.clone()
            }
        };
        Ok(log)
    }

    /// Process events after `after`, oldest first.
    pub fn events(&self, after: u64, limit: usize) -> Vec<Numbered<ProcessEvent>> {
        self.shared.events.after(after, limit)
    }

    /// Stop every program in reverse priority and end the supervisor thread.
    pub fn shutdown(&self) {
        if self.send(Msg::Shutdown).is_err() {
            return;
        }
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            if h.join().is_err() {
                log::error!("the supervisor thread panicked while stopping");
            }
        }
    }

    /// Prometheus lines: each program's state (1 for the current one) and restarts.
    pub fn write_metrics(&self, out: &mut crate::metrics::Writer) {
        use crate::metrics::Kind;
        let list = self.list();
        let mut f = out.family(
            "pistack_process_state",
            Kind::Gauge,
            "Each program's current state (the sample present is 1).",
        );
        for p in &list {
            f.sample(&[("name", &p.name), ("state", p.state.as_str())], 1);
        }
        let mut f = out.family(
            "pistack_process_restarts_total",
            Kind::Counter,
            "Restarts the supervisor made on its own (autorestart, retries).",
        );
        for p in &list {
            f.sample(&[("name", &p.name)], p.restarts);
        }
    }

    /// For `/api/health`: the supervisor thread is alive.
    pub fn check(&self) -> Result<(), String> {
        match &*self.thread.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(h) if h.is_finished() => Err("the supervisor thread has stopped".into()),
            Some(_) => Ok(()),
            None => Err("stopped".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Event;

    #[test]
    fn every_transition_reaches_the_bus_and_the_ring() {
        let dir = std::env::temp_dir().join(format!("pistack-sup-bus-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let program = ProgramConfig {
            command: vec!["sh".into(), "-c".into(), "exit 4".into()],
            startsecs: 0,
            autorestart: config::AutoRestart::Never,
            ..ProgramConfig::default()
        };
        let bus = Arc::new(Bus::new());
        let rx = bus.subscribe(16);
        let programs = BTreeMap::from([("once".to_string(), program)]);
        let sup = Supervisor::start(&programs, &dir, bus.clone()).unwrap();
        let mut seen = Vec::new();
        while seen.len() < 3 {
            match rx.recv_timeout(Duration::from_secs(10)).unwrap() {
                Event::Process(e) => seen.push((e.from, e.to, e.exit_status, e.expected)),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(
            seen,
            [
                (State::Stopped, State::Starting, None, None),
                (State::Starting, State::Running, None, None),
                // 4 is not in exitcodes (the default [0]): unexpected.
                (State::Running, State::Exited, Some(4), Some(false)),
            ]
        );
        assert_eq!(sup.events(0, 10).len(), 3);
        assert_eq!(sup.get("once").unwrap().state, State::Exited);
        sup.shutdown();
        assert!(sup.check().is_err(), "the thread has ended");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// XML-RPC's pace: those already so are left out of the answer, the
    /// others answered one by one (a stop last first); HTTP's answers every member.
    #[test]
    fn one_by_one_answers_only_the_members_it_changed() {
        let dir = std::env::temp_dir().join(format!("pistack-sup-each-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let sleeper = |priority| ProgramConfig {
            command: vec!["sleep".into(), "1000".into()],
            group: Some("g".into()),
            startsecs: 0,
            autostart: false,
            priority,
            ..ProgramConfig::default()
        };
        let programs =
            BTreeMap::from([("a".to_string(), sleeper(1)), ("b".to_string(), sleeper(2))]);
        let sup = Supervisor::start(&programs, &dir, Arc::new(Bus::new())).unwrap();
        let answered = |outcomes: Vec<Outcome>| -> Vec<(String, Option<State>)> {
            outcomes
                .into_iter()
                .map(|(n, r)| (n, r.ok().map(|p| p.state)))
                .collect()
        };
        assert_eq!(sup.start_program("a", true).unwrap().state, State::Running);
        assert_eq!(
            answered(sup.group_each("g", Change::Start, true).unwrap()),
            [("b".to_string(), Some(State::Running))],
            "a was running already: left out"
        );
        assert_eq!(
            answered(sup.group_each("g", Change::Stop, true).unwrap()),
            [
                ("b".to_string(), Some(State::Stopped)),
                ("a".to_string(), Some(State::Stopped))
            ],
            "a stop goes last first"
        );
        assert!(sup.group_each("g", Change::Stop, true).unwrap().is_empty());
        assert!(matches!(
            sup.group_each("nope", Change::Start, true),
            Err(Error::NoSuchGroup(_))
        ));
        let names = vec!["b".to_string(), "a".to_string(), "gone".to_string()];
        assert_eq!(
            answered(sup.each(&names, Change::Start, false)).len(),
            2,
            "an unknown name is passed over"
        );
        sup.shutdown();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn group_actions_reach_every_member_and_only_them() {
        let dir = std::env::temp_dir().join(format!("pistack-sup-group-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let sleeper = |group: Option<&str>| ProgramConfig {
            command: vec!["sleep".into(), "1000".into()],
            group: group.map(str::to_string),
            startsecs: 0,
            autostart: false,
            ..ProgramConfig::default()
        };
        let programs = BTreeMap::from([
            ("a".to_string(), sleeper(Some("g"))),
            ("b".to_string(), sleeper(Some("g"))),
            ("c".to_string(), sleeper(None)),
        ]);
        let sup = Supervisor::start(&programs, &dir, Arc::new(Bus::new())).unwrap();
        let states = |list: Vec<ProcessInfo>| -> Vec<(String, State)> {
            list.into_iter().map(|p| (p.name, p.state)).collect()
        };
        let both = |s: State| vec![("a".to_string(), s), ("b".to_string(), s)];
        assert_eq!(
            states(sup.start_group("g", true).unwrap()),
            both(State::Running)
        );
        assert_eq!(sup.get("c").unwrap().state, State::Stopped);
        assert_eq!(
            states(sup.start_group("g", true).unwrap()),
            both(State::Running),
            "members already running are skipped, not refused"
        );
        assert_eq!(
            states(sup.restart_group("g").unwrap()),
            both(State::Running)
        );
        assert_eq!(
            states(sup.stop_group("g", true).unwrap()),
            both(State::Stopped)
        );
        assert!(matches!(
            sup.start_group("nope", true),
            Err(Error::NoSuchGroup(_))
        ));
        assert!(
            matches!(sup.stop_group("a", true), Err(Error::NoSuchGroup(_))),
            "a program's name is not its group's"
        );
        sup.shutdown();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
