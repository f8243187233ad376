//! The supervisor thread: owns every program's state machine and process, and
//! is the only thread that forks (so PR_SET_PDEATHSIG, which follows the forking
//! *thread*, fires exactly when supervision ends), signals and reaps.
//!
//! Each running process has three small helper threads: two drain its stdout and
//! stderr into the log files ([`super::logs::pump`]) and one blocks in `waitid`
//! until it ends, kills whatever it left in its process group, and reports the
//! exit here. This thread itself blocks in `recv` / `recv_timeout` until a
//! message comes or the nearest timer is due: no polling, no periodic wake-up.

use super::config::{signal_name, signal_number, ProgramConfig};
use super::logs;
use super::process::{self, Exit};
use super::records::{self, Record};
use super::state::{Action, Event, Machine, Policy, Refusal, State, Step};
use super::{Error, Msg, Request, Shared};
use crate::events::{self, Bus, ProcessEvent};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Stack of the per-process helper threads: they only copy bytes or wait.
const HELPER_STACK: usize = 64 * 1024;

/// How long shutdown waits for one priority level beyond its `stopwaitsecs`
/// (after SIGKILL a process in uninterruptible sleep may take a moment).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    StartSecs,
    Backoff,
    Respawn,
    StopWait,
}

struct Program {
    name: String,
    group: String,
    config: ProgramConfig,
    machine: Machine,
    pid: Option<u32>,
    /// `/proc/<pid>/stat` start time of `pid`, for the records.
    start_time: u64,
    /// When `pid` was spawned: how long it lived decides how soon it is restarted.
    spawned_at: Instant,
    /// The pid that just ended, for the events its exit causes.
    ended_pid: Option<u32>,
    started_at: Option<u64>,
    exit_status: Option<i32>,
    message: String,
    timer: Option<(Instant, Timer)>,
    /// SIGKILL was sent because `stopwaitsecs` passed.
    killed: bool,
}

struct Shutdown {
    /// Program indexes by priority, highest first; one level at a time.
    levels: Vec<Vec<usize>>,
    level: usize,
    /// When the current level was told to stop, and until when it may take.
    deadline: Option<Instant>,
}

pub(super) struct Runner {
    programs: Vec<Program>,
    shared: Arc<Shared>,
    bus: Arc<Bus>,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    records_path: PathBuf,
    /// What `records_path` holds now, so that it is rewritten only when a
    /// process appears that it does not name.
    recorded: Vec<Record>,
    shutdown: Option<Shutdown>,
}

impl Runner {
    /// `programs` in priority order, the same order as `shared.table`.
    pub(super) fn new(
        programs: Vec<(String, ProgramConfig)>,
        shared: Arc<Shared>,
        bus: Arc<Bus>,
        tx: Sender<Msg>,
        rx: Receiver<Msg>,
        records_path: PathBuf,
    ) -> Runner {
        let programs = programs
            .into_iter()
            .map(|(name, config)| Program {
                group: config.group.clone().unwrap_or_else(|| name.clone()),
                name,
                config,
                machine: Machine::default(),
                pid: None,
                start_time: 0,
                spawned_at: Instant::now(),
                ended_pid: None,
                started_at: None,
                exit_status: None,
                message: String::new(),
                timer: None,
                killed: false,
            })
            .collect();
        Runner {
            programs,
            shared,
            bus,
            tx,
            rx,
            records_path,
            recorded: Vec::new(),
            shutdown: None,
        }
    }

    pub(super) fn run(mut self) {
        for i in 0..self.programs.len() {
            if self.programs[i].config.autostart {
                let _ = self.feed(i, Event::Start);
            }
        }
        loop {
            let msg = match self.next_deadline() {
                Some(at) => match self
                    .rx
                    .recv_timeout(at.saturating_duration_since(Instant::now()))
                {
                    Ok(m) => Some(m),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => Some(Msg::Shutdown),
                },
                None => Some(self.rx.recv().unwrap_or(Msg::Shutdown)),
            };
            if let Some(msg) = msg {
                self.on_message(msg);
            }
            self.fire_timers();
            if self.advance_shutdown() {
                break;
            }
        }
        self.save_records(true);
        log::info!("supervisor: every program is stopped");
    }

    fn next_deadline(&self) -> Option<Instant> {
        let timers = self
            .programs
            .iter()
            .filter_map(|p| p.timer.map(|(at, _)| at));
        let shutdown = self.shutdown.as_ref().and_then(|s| s.deadline);
        timers.chain(shutdown).min()
    }

    fn on_message(&mut self, msg: Msg) {
        match msg {
            Msg::Request { index, what, reply } => {
                let answer = self.request(index, what);
                // The requester may have gone (client hung up): nothing to do.
                let _ = reply.send(answer);
            }
            Msg::Exited { index, pid, at } => self.exited(index, pid, at),
            Msg::Shutdown => {
                if self.shutdown.is_none() {
                    log::info!("supervisor: stopping every program, highest priority first");
                    self.shutdown = Some(Shutdown {
                        levels: self.stop_levels(),
                        level: 0,
                        deadline: None,
                    });
                }
            }
        }
    }

    fn request(&mut self, i: usize, what: Request) -> Result<u64, Error> {
        let name = self.programs[i].name.clone();
        match what {
            Request::Start if self.shutdown.is_some() => {
                return Err(Error::Unavailable("the daemon is shutting down".into()))
            }
            Request::Start => self.feed(i, Event::Start).map_err(|r| match r {
                Refusal::AlreadyStarted(State::Stopping) => {
                    Error::Conflict(format!("{name} is stopping; start it once it is STOPPED"))
                }
                Refusal::AlreadyStarted(s) => {
                    Error::Conflict(format!("{name} is already running ({s})"))
                }
                _ => Error::Conflict(format!("{name} cannot start now")),
            })?,
            Request::Stop => self.feed(i, Event::Stop).map_err(|r| match r {
                Refusal::NotRunning(s) => Error::Conflict(format!("{name} is not running ({s})")),
                _ => Error::Conflict(format!("{name} cannot stop now")),
            })?,
            Request::Signal(sig) => match self.programs[i].pid {
                Some(pid) => process::signal_group(pid, sig).map_err(|e| {
                    Error::Io(format!("cannot send {} to {name}: {e}", signal_name(sig)))
                })?,
                None => {
                    let state = self.programs[i].machine.state;
                    return Err(Error::Conflict(format!("{name} is not running ({state})")));
                }
            },
        }
        Ok(self.shared.table()[i].seq)
    }

    /// Give `event` to program `i`'s machine and carry out what it answers.
    fn feed(&mut self, i: usize, event: Event) -> Result<(), Refusal> {
        let p = &self.programs[i];
        let policy = Policy {
            autorestart: p.config.autorestart,
            startretries: p.config.startretries,
            may_restart: self.shutdown.is_none(),
        };
        let steps = self.programs[i].machine.handle(event, &policy)?;
        let mut spawn_error = None;
        let mut running_now = false;
        for step in steps {
            match step {
                Step::Do(Action::Spawn) => spawn_error = self.spawn(i).err(),
                Step::Do(Action::ArmStartTimer) if self.programs[i].config.startsecs == 0 => {
                    // No timer: RUNNING is entered right below, before any exit
                    // message can be taken.
                    self.programs[i].timer = None;
                    running_now = true;
                }
                Step::Do(action) => self.act(i, action),
                Step::Enter { from, to, message } => self.publish(i, from, to, message),
            }
        }
        // Follow-ups of a spawn, fed only now that STARTING is published.
        if let Some(why) = spawn_error {
            let _ = self.feed(i, Event::SpawnFailed(why));
        } else if running_now {
            let _ = self.feed(i, Event::StartSecsElapsed);
        }
        Ok(())
    }

    fn act(&mut self, i: usize, action: Action) {
        let now = Instant::now();
        let p = &mut self.programs[i];
        match action {
            Action::Spawn => {} // done by `feed`, which needs the result
            Action::ArmStartTimer => {
                p.timer = Some((
                    now + Duration::from_secs(p.config.startsecs),
                    Timer::StartSecs,
                ))
            }
            Action::ArmBackoffTimer(secs) => {
                p.timer = Some((now + Duration::from_secs(secs), Timer::Backoff))
            }
            Action::ArmRespawnTimer(wait) => p.timer = Some((now + wait, Timer::Respawn)),
            Action::ClearTimer => p.timer = None,
            Action::SignalStop => {
                let sig = signal_number(&p.config.stopsignal).unwrap_or(libc::SIGTERM);
                if let Some(pid) = p.pid {
                    if let Err(e) = process::signal_group(pid, sig) {
                        log::warn!("{}: cannot send {}: {e}", p.name, signal_name(sig));
                    }
                    // A stopped (SIGSTOP) process only sees the signal once continued.
                    if sig != libc::SIGKILL && sig != libc::SIGCONT {
                        let _ = process::signal_group(pid, libc::SIGCONT);
                    }
                }
                p.timer = Some((
                    now + Duration::from_secs(p.config.stopwaitsecs),
                    Timer::StopWait,
                ));
            }
            Action::Kill => {
                if let Some(pid) = p.pid {
                    log::warn!(
                        "{}: still running {} s after {}; sending SIGKILL",
                        p.name,
                        p.config.stopwaitsecs,
                        p.config.stopsignal
                    );
                    p.killed = true;
                    if let Err(e) = process::signal_group(pid, libc::SIGKILL) {
                        log::warn!("{}: cannot send SIGKILL: {e}", p.name);
                    }
                }
            }
        }
    }

    /// Start program `i`'s process and its helper threads.
    fn spawn(&mut self, i: usize) -> Result<(), String> {
        let p = &mut self.programs[i];
        p.ended_pid = None;
        p.killed = false;
        let spawned = process::spawn(&p.name, &p.group, &p.config)?;
        let pid = spawned.pid;
        p.pid = Some(pid);
        p.spawned_at = Instant::now();
        p.started_at = Some(events::now_s());
        p.exit_status = None;
        p.start_time = process::proc_stat(pid).map(|s| s.start_time).unwrap_or(0);
        let (out_log, err_log) = self.shared.logs[i].clone();
        let tx = self.tx.clone();
        let waiter = std::thread::Builder::new()
            .name(format!("wait-{pid}"))
            .stack_size(HELPER_STACK)
            .spawn(move || {
                match process::wait_exit(pid) {
                    // The leader is gone: what it left in its group goes with it.
                    // It is still a zombie here, so its pid (= the group id) is
                    // not reused yet.
                    Ok(()) => {
                        let _ = process::signal_group(pid, libc::SIGKILL);
                    }
                    Err(e) => log::error!("waiting for pid {pid} failed: {e}"),
                }
                let at = Instant::now();
                let _ = tx.send(Msg::Exited { index: i, pid, at });
            });
        if let Err(e) = waiter {
            // Without a waiter its exit would go unnoticed: do not let it run.
            let _ = process::signal_group(pid, libc::SIGKILL);
            let _ = process::wait_exit(pid);
            process::reap(pid);
            self.programs[i].pid = None;
            return Err(format!("cannot start a thread to watch it: {e}"));
        }
        for (pipe, log, tag) in [
            (
                Box::new(spawned.stdout) as Box<dyn std::io::Read + Send>,
                out_log,
                "out",
            ),
            (Box::new(spawned.stderr), err_log, "err"),
        ] {
            let started = std::thread::Builder::new()
                .name(format!("{tag}-{pid}"))
                .stack_size(HELPER_STACK)
                .spawn(move || logs::pump(pipe, log));
            if let Err(e) = started {
                // The pipe is closed with the closure: the child gets EPIPE, not a hang.
                log::warn!(
                    "{}: cannot start a thread for its std{tag}: {e}",
                    self.programs[i].name
                );
            }
        }
        self.save_records(false);
        Ok(())
    }

    /// Process `pid` of program `i` has ended at `at`: reap it and tell the machine.
    fn exited(&mut self, i: usize, pid: u32, at: Instant) {
        let exit = process::reap(pid);
        let p = &mut self.programs[i];
        if p.pid != Some(pid) {
            log::warn!("{}: pid {pid} ended but is not the current process", p.name);
            return;
        }
        p.pid = None;
        p.ended_pid = Some(pid);
        p.exit_status = exit.status();
        let mut how = exit.describe();
        if p.killed && exit == Exit::Signal(libc::SIGKILL) {
            how = format!("{how} after stopwaitsecs ({} s)", p.config.stopwaitsecs);
        }
        let expected = exit.expected(&p.config.exitcodes);
        let lived = at.saturating_duration_since(p.spawned_at);
        // It lived `startsecs` if the start timer was due when it ended, even
        // when this thread is only now getting to both (a busy machine).
        if matches!(p.timer, Some((due, Timer::StartSecs)) if due <= at) {
            p.timer = None;
            let _ = self.feed(i, Event::StartSecsElapsed);
        }
        let exited = Event::Exited {
            expected,
            how,
            lived,
        };
        if let Err(r) = self.feed(i, exited) {
            log::error!(
                "{}: exit of pid {pid} not taken: {r:?}",
                self.programs[i].name
            );
        }
        self.sync(i);
        // No write for a process that ended: a record of a dead process is
        // harmless (its start time no longer matches), and a respawn has been
        // recorded by `spawn` already.
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        for i in 0..self.programs.len() {
            let due = match self.programs[i].timer {
                Some((at, timer)) if at <= now => timer,
                _ => continue,
            };
            self.programs[i].timer = None;
            let event = match due {
                Timer::StartSecs => Event::StartSecsElapsed,
                Timer::Backoff => Event::BackoffElapsed,
                Timer::Respawn => Event::RespawnElapsed,
                Timer::StopWait => Event::StopTimedOut,
            };
            let _ = self.feed(i, event);
        }
    }

    /// A state change: into the table, the ring, the bus and the log.
    fn publish(&mut self, i: usize, from: State, to: State, message: String) {
        let p = &mut self.programs[i];
        p.message = message.clone();
        let pid = p.pid.or(p.ended_pid);
        let exit_status = if p.pid.is_none() && p.ended_pid.is_some() {
            p.exit_status
        } else {
            None
        };
        if message.is_empty() {
            log::info!("{}: {from} -> {to}", p.name);
        } else {
            log::info!("{}: {from} -> {to}: {message}", p.name);
        }
        let event = ProcessEvent {
            name: p.name.clone(),
            from,
            to,
            pid,
            exit_status,
            message,
        };
        // The ring first: whoever the table change wakes must find the event.
        self.shared.events.push(event.clone());
        self.sync(i);
        self.bus.publish(events::Event::Process(event));
    }

    /// Copy program `i` into the shared table and wake whoever waits on it.
    fn sync(&self, i: usize) {
        let p = &self.programs[i];
        let mut table = self.shared.table();
        if let Some(v) = table.get_mut(i) {
            v.seq += 1;
            v.info.state = p.machine.state;
            v.info.pid = p.pid;
            v.info.started_at = p.started_at;
            v.info.exit_status = p.exit_status;
            v.info.restarts = p.machine.restarts;
            v.info.message = p.message.clone();
        }
        drop(table);
        self.shared.changed.notify_all();
    }

    /// Write the records when a process runs that they do not name (or with
    /// `always`): a crash loop then writes once per new process, not on every
    /// transition, and an exit writes nothing.
    fn save_records(&mut self, always: bool) {
        let live: Vec<Record> = self
            .programs
            .iter()
            .filter_map(|p| {
                Some(Record {
                    name: p.name.clone(),
                    pid: p.pid?,
                    pgid: p.pid?,
                    start_time: p.start_time,
                })
            })
            .collect();
        if !always && live.iter().all(|r| self.recorded.contains(r)) {
            return;
        }
        match records::save(&self.records_path, live.clone()) {
            Ok(()) => self.recorded = live,
            Err(e) => log::warn!("cannot write {}: {e}", self.records_path.display()),
        }
    }

    /// Program indexes grouped by priority, highest first.
    fn stop_levels(&self) -> Vec<Vec<usize>> {
        let mut levels: Vec<(i32, Vec<usize>)> = Vec::new();
        for (i, p) in self.programs.iter().enumerate().rev() {
            match levels.last_mut() {
                Some((prio, members)) if *prio == p.config.priority => members.push(i),
                _ => levels.push((p.config.priority, vec![i])),
            }
        }
        levels.into_iter().map(|(_, m)| m).collect()
    }

    /// Move shutdown on: stop the next priority level once the current one has
    /// no process left. True when every level is done.
    fn advance_shutdown(&mut self) -> bool {
        loop {
            let Some(sd) = self.shutdown.as_mut() else {
                return false;
            };
            let Some(members) = sd.levels.get(sd.level).cloned() else {
                return true;
            };
            if sd.deadline.is_none() {
                let wait = members
                    .iter()
                    .map(|&i| self.programs[i].config.stopwaitsecs)
                    .max()
                    .unwrap_or(0);
                sd.deadline = Some(Instant::now() + Duration::from_secs(wait) + SHUTDOWN_GRACE);
                for &i in &members {
                    let _ = self.feed(i, Event::Stop);
                }
            }
            let busy: Vec<&str> = members
                .iter()
                .filter(|&&i| self.programs[i].pid.is_some())
                .map(|&i| self.programs[i].name.as_str())
                .collect();
            let Some(sd) = self.shutdown.as_mut() else {
                return false;
            };
            if !busy.is_empty() {
                if sd.deadline.is_some_and(|d| Instant::now() < d) {
                    return false;
                }
                log::error!(
                    "supervisor: {} did not stop even after SIGKILL; moving on",
                    busy.join(", ")
                );
            }
            sd.level += 1;
            sd.deadline = None;
        }
    }
}
