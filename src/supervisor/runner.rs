//! The supervisor thread: drives every program's state machine and process, and
//! is the only thread that forks (so PR_SET_PDEATHSIG, which follows the forking
//! *thread*, fires exactly when supervision ends), signals and reaps.
//!
//! Each running process has three small helper threads: two drain its stdout and
//! stderr into the log files ([`super::logs::pump`]) and one blocks in `waitid`
//! until it ends, kills whatever it left in its process group, and reports the
//! exit here. This thread itself blocks in `recv` / `recv_timeout` until a
//! message comes or the nearest timer is due: no polling, no periodic wake-up.
//!
//! The programs' records live in [`Shared`]; this thread holds their lock for a
//! whole step (the fork included, about a millisecond), so a reader never sees
//! half a transition, and logs and publishes to the bus only after letting go.

use super::config::signal_number;
use super::config::ProgramConfig;
use super::logs;
use super::process::{self, Exit, SpawnError};
use super::program::{Program, Timer};
use super::records::{self, Record};
use super::reload::{self, Changes};
use super::state::{Action, Event, Policy, Refusal, State, Step};
use super::{Error, Msg, Request, Shared};
use crate::events::{self, Bus, ProcessEvent};
use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Stack of the per-process helper threads: they only copy bytes or wait.
const HELPER_STACK: usize = 64 * 1024;
/// How long an exit waits for the process's output to be drained into its logs.
const DRAIN_WAIT: Duration = Duration::from_millis(500);

/// How long shutdown waits for one priority level beyond its `stopwaitsecs`
/// (after SIGKILL a process in uninterruptible sleep may take a moment).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

struct Shutdown {
    /// Program indexes by priority, highest first; one level at a time.
    levels: Vec<Vec<usize>>,
    level: usize,
    /// When the current level was told to stop, and until when it may take.
    deadline: Option<Instant>,
}

pub(super) struct Runner {
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

/// The transitions of one step, logged and sent to the bus once the lock is let go.
type Published = Vec<ProcessEvent>;

impl Runner {
    pub(super) fn new(
        shared: Arc<Shared>,
        bus: Arc<Bus>,
        tx: Sender<Msg>,
        rx: Receiver<Msg>,
        records_path: PathBuf,
    ) -> Runner {
        Runner {
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
        self.autostart();
        while self.step() {}
        let shared = Arc::clone(&self.shared);
        self.save_records(&shared.programs(), true);
        log::info!("supervisor: every program is stopped");
    }

    /// Start the `autostart` programs, in priority order.
    fn autostart(&mut self) {
        let n = self.shared.programs().len();
        for i in 0..n {
            if self.shared.programs()[i].config.autostart {
                let _ = self.feed(i, Event::Start);
            }
        }
    }

    /// Wait for the next message or timer and act on it; false once shutdown
    /// has stopped every program.
    fn step(&mut self) -> bool {
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
        !self.advance_shutdown()
    }

    fn next_deadline(&self) -> Option<Instant> {
        let programs = self.shared.programs();
        let timers = programs.iter().filter_map(|p| p.timer.map(|(at, _)| at));
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
            Msg::Replace {
                programs,
                log_dir,
                reply,
            } => {
                let _ = reply.send(self.replace(&programs, &log_dir));
            }
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

    /// Carry out a request; the program's `seq` after it.
    fn request(&mut self, i: usize, what: Request) -> Result<u64, Error> {
        let (name, state, pid) = {
            let programs = self.shared.programs();
            let p = &programs[i];
            (p.name.clone(), p.machine.state, p.pid)
        };
        let refused = |r: Refusal| match r {
            Refusal::AlreadyStarted(State::Stopping) => Error::Stopping(name.clone()),
            Refusal::AlreadyStarted(state) => Error::AlreadyRunning {
                name: name.clone(),
                state,
            },
            Refusal::NotRunning(state) => Error::NotRunning {
                name: name.clone(),
                state,
            },
            // Start and Stop are never ignored (see the table); nothing to do.
            Refusal::Ignored => Error::NotRunning {
                name: name.clone(),
                state,
            },
        };
        match what {
            Request::Start if self.shutdown.is_some() => return Err(Error::ShuttingDown),
            Request::Start => self.feed(i, Event::Start).map_err(refused)?,
            Request::Stop => self.feed(i, Event::Stop).map_err(refused)?,
            Request::Signal(signal) => match pid {
                Some(pid) => process::signal_group(pid, signal).map_err(|error| Error::Signal {
                    name: name.clone(),
                    signal,
                    error,
                })?,
                None => return Err(Error::NotRunning { name, state }),
            },
        }
        Ok(self.shared.programs()[i].seq)
    }

    /// Give `event` to program `i`'s machine and carry out what it answers.
    fn feed(&mut self, i: usize, event: Event) -> Result<(), Refusal> {
        let shared = Arc::clone(&self.shared);
        let mut published = Published::new();
        let result = {
            let mut programs = shared.programs();
            let result = self.feed_locked(&mut programs[i], i, event, &mut published);
            self.save_records(&programs, false);
            result
        };
        self.after_step(published);
        result
    }

    fn feed_locked(
        &self,
        p: &mut Program,
        i: usize,
        event: Event,
        published: &mut Published,
    ) -> Result<(), Refusal> {
        let policy = Policy {
            autorestart: p.config.autorestart,
            startretries: p.config.startretries,
            may_restart: self.shutdown.is_none(),
        };
        let steps = p.machine.handle(event, &policy)?;
        let mut spawn_error = None;
        let mut running_now = false;
        for step in steps {
            match step {
                Step::Do(Action::Spawn) => spawn_error = self.spawn(p, i).err(),
                Step::Do(Action::ArmStartTimer) if p.config.startsecs == 0 => {
                    // No timer: RUNNING is entered right below, before any exit
                    // message can be taken.
                    p.timer = None;
                    running_now = true;
                }
                Step::Do(action) => act(p, action),
                Step::Enter { from, to, message } => {
                    published.push(self.publish(p, from, to, message))
                }
            }
        }
        // Follow-ups of a spawn, fed only now that STARTING is published.
        if let Some(why) = spawn_error {
            let _ = self.feed_locked(p, i, Event::SpawnFailed(why.to_string()), published);
        } else if running_now {
            let _ = self.feed_locked(p, i, Event::StartSecsElapsed, published);
        }
        Ok(())
    }

    /// Once the lock is let go: wake the waiters, log and publish the transitions.
    fn after_step(&self, published: Published) {
        self.shared.changed.notify_all();
        for event in published {
            let ProcessEvent {
                name,
                from,
                to,
                message,
                ..
            } = &event;
            if message.is_empty() {
                log::info!("{name}: {from} -> {to}");
            } else {
                log::info!("{name}: {from} -> {to}: {message}");
            }
            self.bus.publish(events::Event::Process(event));
        }
    }

    /// Start program `i`'s process and its helper threads.
    fn spawn(&self, p: &mut Program, i: usize) -> Result<(), SpawnError> {
        p.ended_pid = None;
        p.killed = false;
        let spawned = process::spawn(&p.name, &p.group, &p.config)?;
        let pid = spawned.pid;
        p.pid = Some(pid);
        p.spawned_at = Instant::now();
        p.started_at = Some(events::now_s());
        p.exit_status = None;
        p.exit_expected = None;
        p.start_time = process::proc_stat(pid).map(|s| s.start_time).unwrap_or(0);
        let tx = self.tx.clone();
        let pumps = logs::Pumps::new(2);
        let drained = pumps.clone();
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
                // The exit's time is the leader's; its last output is in the
                // logs before the exit is reported.
                let at = Instant::now();
                drained.wait(DRAIN_WAIT);
                let _ = tx.send(Msg::Exited { index: i, pid, at });
            });
        if let Err(e) = waiter {
            // Without a waiter its exit would go unnoticed: do not let it run.
            let _ = process::signal_group(pid, libc::SIGKILL);
            let _ = process::wait_exit(pid);
            process::reap(pid);
            p.pid = None;
            return Err(SpawnError::NoWatcher(e));
        }
        for (pipe, log, tag) in [
            (
                Box::new(spawned.stdout) as Box<dyn std::io::Read + Send>,
                p.stdout.clone(),
                "out",
            ),
            (Box::new(spawned.stderr), p.stderr.clone(), "err"),
        ] {
            let pumping = pumps.clone();
            let started = std::thread::Builder::new()
                .name(format!("{tag}-{pid}"))
                .stack_size(HELPER_STACK)
                .spawn(move || logs::pump(pipe, log, pumping));
            if let Err(e) = started {
                pumps.done();
                // The pipe is closed with the closure: the child gets EPIPE, not a hang.
                log::warn!("{}: cannot start a thread for its std{tag}: {e}", p.name);
            }
        }
        Ok(())
    }

    /// Replace the table by the one for `new` (see [`reload`](super::reload)):
    /// every changed or removed program must have been stopped. Starts the added
    /// and changed ones that are `autostart`.
    fn replace(
        &mut self,
        new: &BTreeMap<String, ProgramConfig>,
        log_dir: &Path,
    ) -> Result<Changes, Error> {
        if self.shutdown.is_some() {
            return Err(Error::ShuttingDown);
        }
        let changes = {
            let mut programs = self.shared.programs();
            let changes = reload::diff(&programs, new);
            let busy = changes
                .to_stop()
                .find(|name| programs.iter().any(|p| &p.name == *name && p.pid.is_some()));
            if let Some(name) = busy {
                return Err(Error::StillRunning(name.clone()));
            }
            let old = std::mem::take(&mut *programs);
            *programs = reload::rebuild(old, new, log_dir);
            changes
        };
        self.shared.changed.notify_all();
        let n = self.shared.programs().len();
        for i in 0..n {
            let (name, autostart) = {
                let programs = self.shared.programs();
                (programs[i].name.clone(), programs[i].config.autostart)
            };
            let fresh = changes.added.contains(&name) || changes.changed.contains(&name);
            if fresh && autostart {
                let _ = self.feed(i, Event::Start);
            }
        }
        Ok(changes)
    }

    /// Process `pid` has ended at `at`: reap it and tell its program's machine.
    /// The program is found by pid: a reload may have moved it from index `i`.
    fn exited(&mut self, i: usize, pid: u32, at: Instant) {
        let exit = process::reap(pid);
        let shared = Arc::clone(&self.shared);
        let mut published = Published::new();
        {
            let mut programs = shared.programs();
            let i = programs
                .iter()
                .position(|p| p.pid == Some(pid))
                .unwrap_or(i);
            if i >= programs.len() {
                log::warn!("pid {pid} ended; its program was removed");
                return;
            }
            let p = &mut programs[i];
            if p.pid != Some(pid) {
                log::warn!("{}: pid {pid} ended but is not the current process", p.name);
                return;
            }
            let event = ended(p, pid, exit, at);
            // It lived `startsecs` if the start timer was due when it ended, even
            // when this thread is only now getting to both (a busy machine).
            if matches!(p.timer, Some((due, Timer::StartSecs)) if due <= at) {
                p.timer = None;
                let _ = self.feed_locked(p, i, Event::StartSecsElapsed, &mut published);
            }
            if self.feed_locked(p, i, event, &mut published).is_err() {
                let state = p.machine.state;
                log::warn!("{}: pid {pid} ended while {state}; nothing to do", p.name);
            }
            p.seq += 1;
            // Written only for a respawn: a record of the process that ended is
            // harmless (its start time no longer matches).
            self.save_records(&programs, false);
        }
        self.after_step(published);
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        let n = self.shared.programs().len();
        for i in 0..n {
            let due = {
                let mut programs = self.shared.programs();
                let p = &mut programs[i];
                match p.timer {
                    Some((at, timer)) if at <= now => {
                        p.timer = None;
                        timer
                    }
                    _ => continue,
                }
            };
            let event = match due {
                Timer::StartSecs => Event::StartSecsElapsed,
                Timer::Backoff => Event::BackoffElapsed,
                Timer::Respawn => Event::RespawnElapsed,
                Timer::StopWait => Event::StopTimedOut,
            };
            let _ = self.feed(i, event);
        }
    }

    /// A state change: into the program's record and the ring; the event for
    /// the log and the bus.
    fn publish(&self, p: &mut Program, from: State, to: State, message: String) -> ProcessEvent {
        p.message = message.clone();
        p.seq += 1;
        let ended = p.pid.is_none() && p.ended_pid.is_some();
        let (exit_status, expected) = if ended {
            (p.exit_status, p.exit_expected)
        } else {
            (None, None)
        };
        let event = ProcessEvent {
            name: p.name.clone(),
            from,
            to,
            pid: p.pid.or(p.ended_pid),
            exit_status,
            expected,
            message,
        };
        // Pushed while the records are locked: whoever the change wakes finds it.
        self.shared.events.push(event.clone());
        event
    }

    /// Write the records when a process runs that they do not name (or with
    /// `always`): a crash loop then writes once per new process, not on every
    /// transition, and an exit writes nothing. Called with the programs locked,
    /// so that a process is in the file before anyone can see it running (the
    /// write does not wait for the SD card: see [`records::save`]).
    fn save_records(&mut self, programs: &[Program], always: bool) {
        let live: Vec<Record> = programs
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
        for (i, p) in self.shared.programs().iter().enumerate().rev() {
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
                let wait = {
                    let programs = self.shared.programs();
                    let waits = members.iter().map(|&i| programs[i].config.stopwaitsecs);
                    waits.max().unwrap_or(0)
                };
                if let Some(sd) = self.shutdown.as_mut() {
                    sd.deadline = Some(Instant::now() + Duration::from_secs(wait) + SHUTDOWN_GRACE);
                }
                for &i in &members {
                    let _ = self.feed(i, Event::Stop);
                }
            }
            let busy: Vec<String> = {
                let programs = self.shared.programs();
                let running = members.iter().filter(|&&i| programs[i].pid.is_some());
                running.map(|&i| programs[i].name.clone()).collect()
            };
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

/// Record in `p` that its process `pid` ended with `exit` at `at`; the event
/// for its machine.
fn ended(p: &mut Program, pid: u32, exit: Exit, at: Instant) -> Event {
    p.pid = None;
    p.ended_pid = Some(pid);
    p.exit_status = exit.status();
    p.stopped_at = Some(events::now_s());
    let expected = exit.expected(&p.config.exitcodes);
    p.exit_expected = Some(expected);
    let mut how = exit.describe();
    if p.killed && exit == Exit::Signal(libc::SIGKILL) {
        how = format!("{how} after stopwaitsecs ({} s)", p.config.stopwaitsecs);
    }
    Event::Exited {
        expected,
        how,
        lived: at.saturating_duration_since(p.spawned_at),
    }
}

/// Carry out an action other than a spawn (which [`Runner::feed_locked`] does).
fn act(p: &mut Program, action: Action) {
    let now = Instant::now();
    let secs = Duration::from_secs;
    match action {
        Action::Spawn => {}
        Action::ArmStartTimer => p.timer = Some((now + secs(p.config.startsecs), Timer::StartSecs)),
        Action::ArmBackoffTimer(s) => p.timer = Some((now + secs(s), Timer::Backoff)),
        Action::ArmRespawnTimer(wait) => p.timer = Some((now + wait, Timer::Respawn)),
        Action::ClearTimer => p.timer = None,
        Action::SignalStop => {
            let sig = signal_number(&p.config.stopsignal).unwrap_or(libc::SIGTERM);
            if let Some(pid) = p.pid {
                if let Err(e) = process::signal_group(pid, sig) {
                    let signal = super::config::signal_name(sig);
                    log::warn!("{}: cannot send {signal}: {e}", p.name);
                }
                // A stopped (SIGSTOP) process only sees the signal once continued.
                if sig != libc::SIGKILL && sig != libc::SIGCONT {
                    let _ = process::signal_group(pid, libc::SIGCONT);
                }
            }
            p.timer = Some((now + secs(p.config.stopwaitsecs), Timer::StopWait));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Ring;
    use crate::supervisor::config::{AutoRestart, ProgramConfig};
    use crate::supervisor::state::RESPAWN_FLOOR;
    use std::os::unix::fs::MetadataExt;
    use std::path::Path;
    use std::sync::{Condvar, Mutex};

    fn sh(script: &str) -> ProgramConfig {
        ProgramConfig {
            command: vec!["sh".into(), "-c".into(), script.into()],
            startsecs: 0,
            autorestart: AutoRestart::Never,
            ..ProgramConfig::default()
        }
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pistack-runner-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A runner for one program `p`, its records in `dir`.
    fn runner(p: ProgramConfig, dir: &Path) -> Runner {
        let shared = Arc::new(Shared {
            programs: Mutex::new(vec![Program::new("p", &p, dir)]),
            changed: Condvar::new(),
            events: Ring::new(100),
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let records = dir.join("supervisor.json");
        Runner::new(shared, Arc::new(Bus::new()), tx, rx, records)
    }

    /// Step the runner until `done` holds for the program (at most 10 s).
    fn step_until(r: &mut Runner, done: impl Fn(&Program) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(&r.shared.programs()[0]) {
            assert!(Instant::now() < deadline, "the condition never held");
            // Bounded: a step returns on a message (the exit) or a timer.
            r.step();
        }
    }

    fn state(r: &Runner) -> State {
        r.shared.programs()[0].machine.state
    }

    #[test]
    fn records_are_written_when_a_process_appears_not_when_it_ends() {
        let dir = temp_dir("records");
        let mut r = runner(sh("exit 0"), &dir);
        let file = dir.join("supervisor.json");
        r.feed(0, Event::Start).unwrap();
        let pid = r.shared.programs()[0].pid.expect("a process");
        let first = std::fs::metadata(&file).unwrap().ino();
        assert!(std::fs::read_to_string(&file)
            .unwrap()
            .contains(&format!("\"pid\": {pid}")));
        step_until(&mut r, |p| p.machine.state == State::Exited);
        assert_eq!(
            std::fs::metadata(&file).unwrap().ino(),
            first,
            "an exit rewrote the records"
        );
        r.feed(0, Event::Start).unwrap();
        assert_ne!(std::fs::metadata(&file).unwrap().ino(), first);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_quick_exit_is_restarted_once_the_floor_has_passed() {
        let dir = temp_dir("floor");
        let mut r = runner(
            ProgramConfig {
                autorestart: AutoRestart::Always,
                ..sh("exit 1")
            },
            &dir,
        );
        r.feed(0, Event::Start).unwrap();
        let began = r.shared.programs()[0].spawned_at;
        step_until(&mut r, |p| p.machine.state == State::Exited);
        let timer = r.shared.programs()[0].timer;
        assert!(
            matches!(timer, Some((at, Timer::Respawn)) if at >= began + RESPAWN_FLOOR - Duration::from_millis(1)),
            "{timer:?}"
        );
        step_until(&mut r, |p| p.machine.restarts == 1);
        assert!(began.elapsed() >= RESPAWN_FLOOR);
        assert_ne!(state(&r), State::Exited);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_exit_of_a_process_that_is_not_the_current_one_changes_nothing() {
        let dir = temp_dir("stale");
        let mut r = runner(sh("sleep 1000"), &dir);
        r.feed(0, Event::Start).unwrap();
        let (pid, seq) = {
            let p = &r.shared.programs()[0];
            (p.pid.unwrap(), p.seq)
        };
        // Not our child: waitpid fails at once, and the pid is not p's.
        r.exited(0, 1, Instant::now());
        let p = &r.shared.programs()[0];
        assert_eq!(
            (p.machine.state, p.pid, p.seq),
            (State::Running, Some(pid), seq)
        );
        assert_eq!(r.shared.events.total(), 2, "STARTING and RUNNING only");
        let _ = process::signal_group(pid, libc::SIGKILL);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_spawn_failure_is_a_failed_start_that_names_the_directory() {
        let dir = temp_dir("nodir");
        let mut r = runner(
            ProgramConfig {
                directory: Some("/nonexistent/dir".into()),
                startretries: 0,
                ..sh("exit 0")
            },
            &dir,
        );
        r.feed(0, Event::Start).unwrap();
        let p = &r.shared.programs()[0];
        assert_eq!(p.machine.state, State::Fatal);
        assert!(
            p.message
                .contains("in directory /nonexistent/dir: No such file"),
            "{}",
            p.message
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
