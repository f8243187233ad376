//! Process supervision, supervisord's job done in-process (docs/api.md
//! "Supervisor", docs/config.md `programs`).
//!
//! One supervisor thread ([`runner`]) owns every program's state machine
//! ([`state`]) and is the only one to fork, signal and reap. It sleeps in a
//! channel receive until something happens — a request from [`Supervisor`], a
//! child's exit reported by that child's waiter thread, or the next timer
//! (`startsecs`, a BACKOFF delay, `stopwaitsecs`) — so an idle daemon does not
//! wake up at all. It publishes what it does into [`Shared`]: a table that
//! requests read (and wait on, through a condvar), the ring of recent events, and
//! the event bus.

pub mod api;
pub mod config;
pub mod import;
mod logs;
mod process;
mod records;
mod runner;
pub mod state;

use crate::events::{Bus, Numbered, ProcessEvent, Ring};
use config::ProgramConfig;
use logs::{RotatingLog, SharedLog};
use serde::Serialize;
use state::State;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How many process events the ring keeps for `GET /events`.
const EVENT_RING: usize = 1000;

/// A failed request, mapped to an HTTP status by [`api`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    NotFound(String),
    Conflict(String),
    /// The supervisor is shutting down or gone.
    Unavailable(String),
    Io(String),
}

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
    pub restarts: u32,
    pub autostart: bool,
    pub command: Vec<String>,
    pub message: String,
}

/// A program's row in the shared table, kept current by the supervisor thread.
#[derive(Debug, Clone)]
struct View {
    info: ProcessInfo,
    /// Bumped on every change, so a waiter can tell "the STARTING I caused" from
    /// a later one.
    seq: u64,
    startsecs: u64,
    stopwaitsecs: u64,
}

/// What the supervisor thread shares with request threads.
struct Shared {
    /// Programs in priority order (then by name).
    table: Mutex<Vec<View>>,
    changed: Condvar,
    events: Ring<ProcessEvent>,
    /// (stdout, stderr) of each program, same order as `table`.
    logs: Vec<(SharedLog, SharedLog)>,
}

impl Shared {
    fn table(&self) -> MutexGuard<'_, Vec<View>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A request to the supervisor thread.
enum Request {
    Start,
    Stop,
    Signal(i32),
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
    /// Stop every program in reverse priority, then end the thread.
    Shutdown,
}

/// The handle the API (and later the rules) use. Cheap to share in an `Arc`.
pub struct Supervisor {
    tx: Mutex<Sender<Msg>>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
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
        let mut table = Vec::new();
        let mut logs = Vec::new();
        for (name, config) in &ordered {
            table.push(View {
                info: ProcessInfo {
                    name: name.to_string(),
                    group: config.group.clone().unwrap_or_else(|| name.to_string()),
                    description: config.description.clone(),
                    state: State::Stopped,
                    pid: None,
                    started_at: None,
                    uptime_s: None,
                    exit_status: None,
                    restarts: 0,
                    autostart: config.autostart,
                    command: config.command.clone(),
                    message: String::new(),
                },
                seq: 0,
                startsecs: config.startsecs,
                stopwaitsecs: config.stopwaitsecs,
            });
            logs.push((
                RotatingLog::shared(log_dir.join(format!("{name}.out")), config.stdout_log),
                RotatingLog::shared(log_dir.join(format!("{name}.err")), config.stderr_log),
            ));
        }
        let shared = Arc::new(Shared {
            table: Mutex::new(table),
            changed: Condvar::new(),
            events: Ring::new(EVENT_RING),
            logs,
        });
        let (tx, rx) = mpsc::channel();
        let runner = runner::Runner::new(
            ordered
                .iter()
                .map(|(n, c)| (n.to_string(), (*c).clone()))
                .collect(),
            shared.clone(),
            bus,
            tx.clone(),
            rx,
            records_path,
        );
        let thread = std::thread::Builder::new()
            .name("supervisor".into())
            .spawn(move || runner.run())
            .map_err(|e| format!("cannot start the supervisor thread: {e}"))?;
        Ok(Arc::new(Supervisor {
            tx: Mutex::new(tx),
            shared,
            thread: Mutex::new(Some(thread)),
        }))
    }

    fn index(&self, name: &str) -> Result<usize, Error> {
        self.shared
            .table()
            .iter()
            .position(|v| v.info.name == name)
            .ok_or_else(|| Error::NotFound(format!("no program named {name:?}")))
    }

    fn send(&self, msg: Msg) -> Result<(), Error> {
        self.tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(msg)
            .map_err(|_| Error::Unavailable("the supervisor has stopped".into()))
    }

    fn request(&self, index: usize, what: Request) -> Result<u64, Error> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.send(Msg::Request { index, what, reply })?;
        answer
            .recv()
            .map_err(|_| Error::Unavailable("the supervisor has stopped".into()))?
    }

    /// Wait (on the condvar, no polling) until `done` holds for program `index`
    /// or `timeout` passes; the program as it is then.
    fn wait_for(
        &self,
        index: usize,
        timeout: Duration,
        done: impl Fn(&View) -> bool,
    ) -> ProcessInfo {
        let table = self.shared.table();
        let (table, _) = self
            .shared
            .changed
            .wait_timeout_while(table, timeout, |t| !t.get(index).is_some_and(&done))
            .unwrap_or_else(|p| p.into_inner());
        info_now(&table[index])
    }

    pub fn list(&self) -> Vec<ProcessInfo> {
        self.shared.table().iter().map(info_now).collect()
    }

    pub fn get(&self, name: &str) -> Result<ProcessInfo, Error> {
        let i = self.index(name)?;
        Ok(info_now(&self.shared.table()[i]))
    }

    /// Start `name`; with `wait`, answer once it is RUNNING or has failed
    /// (BACKOFF, FATAL) — or was stopped meanwhile.
    pub fn start_program(&self, name: &str, wait: bool) -> Result<ProcessInfo, Error> {
        let i = self.index(name)?;
        let seq = self.request(i, Request::Start)?;
        if !wait {
            return self.get(name);
        }
        let limit = Duration::from_secs(self.shared.table()[i].startsecs + 30);
        Ok(self.wait_for(i, limit, |v| {
            v.seq != seq || v.info.state != State::Starting
        }))
    }

    /// Stop `name`; with `wait`, answer once it has stopped.
    pub fn stop_program(&self, name: &str, wait: bool) -> Result<ProcessInfo, Error> {
        let i = self.index(name)?;
        self.request(i, Request::Stop)?;
        if !wait {
            return self.get(name);
        }
        let limit = Duration::from_secs(self.shared.table()[i].stopwaitsecs + 30);
        Ok(self.wait_for(i, limit, |v| v.info.state != State::Stopping))
    }

    /// Stop (when running) and start again, waiting for both.
    pub fn restart_program(&self, name: &str) -> Result<ProcessInfo, Error> {
        match self.stop_program(name, true) {
            Ok(_) | Err(Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        self.start_program(name, true)
    }

    /// Send `sig` to the program's process group.
    pub fn signal_program(&self, name: &str, sig: i32) -> Result<ProcessInfo, Error> {
        let i = self.index(name)?;
        self.request(i, Request::Signal(sig))?;
        self.get(name)
    }

    /// The last `bytes` of a program's stdout or stderr log.
    pub fn tail(&self, name: &str, stderr: bool, bytes: u64) -> Result<Vec<u8>, Error> {
        let i = self.index(name)?;
        let (out, err) = &self.shared.logs[i];
        let log = if stderr { err } else { out };
        let log = log.lock().unwrap_or_else(|p| p.into_inner());
        log.tail(bytes)
            .map_err(|e| Error::Io(format!("cannot read {}: {e}", log.path().display())))
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

    /// For `/api/health`: the supervisor thread is alive.
    /// Prometheus lines: each program's state (1 for the current one) and restarts.
    pub fn write_metrics(&self, out: &mut String) {
        use std::fmt::Write;
        let list = self.list();
        let _ = writeln!(out, "# TYPE pistack_process_state gauge");
        for p in &list {
            let name = crate::metrics::label(&p.name);
            let _ = writeln!(
                out,
                "pistack_process_state{{name=\"{name}\",state=\"{}\"}} 1",
                p.state.as_str()
            );
        }
        let _ = writeln!(out, "# TYPE pistack_process_restarts_total counter");
        for p in &list {
            let name = crate::metrics::label(&p.name);
            let _ = writeln!(
                out,
                "pistack_process_restarts_total{{name=\"{name}\"}} {}",
                p.restarts
            );
        }
    }

    pub fn check(&self) -> Result<(), String> {
        match &*self.thread.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(h) if h.is_finished() => Err("the supervisor thread has stopped".into()),
            Some(_) => Ok(()),
            None => Err("stopped".into()),
        }
    }
}

/// The row with `uptime_s` computed for now.
fn info_now(view: &View) -> ProcessInfo {
    let mut info = view.info.clone();
    info.uptime_s = match (info.pid, info.started_at) {
        (Some(_), Some(t)) => Some(crate::events::now_s().saturating_sub(t)),
        _ => None,
    };
    info
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
                Event::Process(e) => seen.push((e.from, e.to, e.exit_status)),
                other => panic!("unexpected {other:?}"),
            }
        }
        let s = |x: &str| x.to_string();
        assert_eq!(
            seen,
            [
                (s("STOPPED"), s("STARTING"), None),
                (s("STARTING"), s("RUNNING"), None),
                (s("RUNNING"), s("EXITED"), Some(4)),
            ]
        );
        assert_eq!(sup.events(0, 10).len(), 3);
        assert_eq!(sup.get("once").unwrap().state, State::Exited);
        sup.shutdown();
        assert!(sup.check().is_err(), "the thread has ended");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
