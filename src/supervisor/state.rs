//! The process state machine: supervisord's states and transitions, as one table,
//! with no processes in it. The supervisor thread feeds it [`Event`]s (a request,
//! a timer, a child's exit) and carries out the [`Step`]s it answers (spawn, send a
//! signal, arm a timer, publish a transition), so every rule about *when* a
//! program starts, restarts or gives up lives here and is tested here alone.
//!
//! The table (supervisord 4.2.5's `process.py`, same names and meanings):
//!
//! | from                          | event              | to        | actions, notes |
//! |-------------------------------|--------------------|-----------|----------------|
//! | STOPPED EXITED FATAL UNKNOWN  | Start              | STARTING  | spawn, arm `startsecs`; the retry count starts afresh |
//! | STARTING                      | StartSecsElapsed   | RUNNING   | it survived `startsecs`; the retry count is reset |
//! | STARTING                      | Exited             | BACKOFF   | exited too quickly: a failed start |
//! | STARTING                      | SpawnFailed        | BACKOFF   | could not even exec: a failed start |
//! | STARTING RUNNING              | Stop               | STOPPING  | `stopsignal` to the group, arm `stopwaitsecs` |
//! | RUNNING                       | Exited             | EXITED    | then a restart if `autorestart` says so: `true`, or `unexpected` and the code is not in `exitcodes` |
//! | EXITED                        | (restart, ran ≥ 1 s) | STARTING | at once |
//! | EXITED                        | (restart, ran < 1 s) | —       | arm the rest of the second since it started ([`RESPAWN_FLOOR`]) |
//! | EXITED (restart armed)        | RespawnElapsed     | STARTING  | spawn again (while shutting down: nothing) |
//! | EXITED (restart armed)        | Stop               | STOPPED   | the restart is dropped |
//! | BACKOFF                       | (retries left)     | —         | arm a delay of N s after the N-th failure (1, 2, 3 ...) |
//! | BACKOFF                       | BackoffElapsed     | STARTING  | spawn again |
//! | BACKOFF                       | (no retries left)  | FATAL     | after `startretries` retries, i.e. `startretries + 1` tries |
//! | BACKOFF                       | Stop               | STOPPED   | the pending retry is dropped |
//! | STOPPING                      | StopTimedOut       | STOPPING  | SIGKILL to the group |
//! | STOPPING                      | Exited             | STOPPED   | |
//! | STOPPED BACKOFF EXITED FATAL  | Exited             | UNKNOWN   | impossible: no process was running |
//! | UNKNOWN                       | Stop               | STOPPED   | |
//!
//! Refused, with the state for the message: Start while STARTING, RUNNING, BACKOFF
//! (supervisord's ALREADY_STARTED) or STOPPING; Stop while STOPPED, EXITED (no
//! restart armed) or FATAL (NOT_RUNNING). Stop while STOPPING is accepted and does
//! nothing more. Every other pair is a late timer or report and is ignored;
//! [`Machine::handle`] lists each one, and its tests hold the whole table as rows.

use super::config::AutoRestart;
use serde::Serialize;
use std::time::Duration;

/// The shortest time between a start and an automatic restart (s6-supervise's
/// rule): a program that lived less than this is restarted only once this much
/// has passed since it started, so a program that exits at once is started about
/// once a second instead of as fast as the machine can fork. One that ran longer
/// is restarted at once.
pub const RESPAWN_FLOOR: Duration = Duration::from_secs(1);

/// supervisord's process states, with its names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Stopped,
    Starting,
    Running,
    Backoff,
    Stopping,
    Exited,
    Fatal,
    Unknown,
}

impl State {
    pub const ALL: [State; 8] = [
        State::Stopped,
        State::Starting,
        State::Running,
        State::Backoff,
        State::Stopping,
        State::Exited,
        State::Fatal,
        State::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Stopped => "STOPPED",
            State::Starting => "STARTING",
            State::Running => "RUNNING",
            State::Backoff => "BACKOFF",
            State::Stopping => "STOPPING",
            State::Exited => "EXITED",
            State::Fatal => "FATAL",
            State::Unknown => "UNKNOWN",
        }
    }

    /// supervisord's RUNNING_STATES: a start is refused, a stop has work to do.
    pub fn is_running(self) -> bool {
        matches!(self, State::Starting | State::Running | State::Backoff)
    }

    /// The state named exactly `name` ("RUNNING"), as the rules write it.
    pub fn from_name(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to a program.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Someone asked for it to run (the API, autostart, a rule).
    Start,
    /// Someone asked for it to stop.
    Stop,
    /// The spawn asked for by [`Action::Spawn`] failed (no such file, bad user ...).
    SpawnFailed(String),
    /// The process has lived `startsecs`.
    StartSecsElapsed,
    /// The process is gone; `expected` when its code is in `exitcodes`; `how`
    /// says it for people ("exited with status 3", "killed by SIGKILL"); `lived`
    /// is how long it ran.
    Exited {
        expected: bool,
        how: String,
        lived: Duration,
    },
    /// The wait of [`Action::ArmRespawnTimer`] is over.
    RespawnElapsed,
    /// The delay of BACKOFF is over.
    BackoffElapsed,
    /// `stopwaitsecs` passed and the process is still there.
    StopTimedOut,
}

/// What the supervisor thread must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start a process (then report [`Event::SpawnFailed`] if it could not).
    Spawn,
    /// Arm the `startsecs` timer (fire [`Event::StartSecsElapsed`]).
    ArmStartTimer,
    /// Arm the BACKOFF delay of this many seconds (fire [`Event::BackoffElapsed`]).
    ArmBackoffTimer(u64),
    /// Arm the wait before an automatic restart (fire [`Event::RespawnElapsed`]).
    ArmRespawnTimer(Duration),
    /// Send `stopsignal` to the process group and arm the `stopwaitsecs` timer.
    SignalStop,
    /// SIGKILL to the process group.
    Kill,
    /// Forget any armed timer.
    ClearTimer,
}

/// One thing the machine asks for: an action, or a state change to publish.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Do(Action),
    Enter {
        from: State,
        to: State,
        message: String,
    },
}

/// Why an event was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Start while it is already on (or on its way off).
    AlreadyStarted(State),
    /// Stop while it is not running.
    NotRunning(State),
    /// An event that does not apply in this state (a late timer): nothing to do.
    Ignored,
}

/// The parts of a program's configuration the rules depend on.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub autorestart: AutoRestart,
    pub startretries: u32,
    /// False while the daemon shuts down: nothing is started again.
    pub may_restart: bool,
}

impl Policy {
    fn restarts_after(&self, expected: bool) -> bool {
        self.may_restart
            && match self.autorestart {
                AutoRestart::Always => true,
                AutoRestart::Never => false,
                AutoRestart::Unexpected => !expected,
            }
    }
}

/// One program's state and the counters the rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub state: State,
    /// Failed starts in a row (supervisord's `backoff`).
    pub backoff: u32,
    /// Times the program was started again without being asked (autorestart, retries).
    pub restarts: u32,
    /// In EXITED: an automatic restart waits for [`RESPAWN_FLOOR`]; the message
    /// its STARTING will carry.
    pub respawn: Option<String>,
}

impl Default for Machine {
    fn default() -> Self {
        Machine {
            state: State::Stopped,
            backoff: 0,
            restarts: 0,
            respawn: None,
        }
    }
}

impl Machine {
    /// Take `event`; the steps to carry out, or why nothing happens (then the
    /// machine is unchanged).
    ///
    /// Every state × event pair is listed, with no catch-all, so that a new state
    /// or event does not compile until each pair has been decided (s6-supervise
    /// keeps the same full table). A "late" pair is a timer or report that was
    /// overtaken by another event: nothing to do.
    pub fn handle(&mut self, event: Event, policy: &Policy) -> Result<Vec<Step>, Refusal> {
        use State::*;
        let mut out = Vec::new();
        match (self.state, event) {
            // Start
            (Stopped | Exited | Fatal | Unknown, Event::Start) => {
                self.backoff = 0;
                self.spawn(&mut out, String::new());
            }
            (Starting | Running | Backoff | Stopping, Event::Start) => {
                return Err(Refusal::AlreadyStarted(self.state))
            }

            // Stop
            (Starting | Running, Event::Stop) => {
                out.push(Step::Do(Action::SignalStop));
                self.enter(&mut out, Stopping, String::new());
            }
            (Backoff, Event::Stop) => {
                out.push(Step::Do(Action::ClearTimer));
                self.enter(&mut out, Stopped, "stopped while waiting to retry".into());
            }
            (Exited, Event::Stop) if self.respawn.is_some() => {
                out.push(Step::Do(Action::ClearTimer));
                self.enter(&mut out, Stopped, "stopped before its restart".into());
            }
            (Stopping, Event::Stop) => {}
            (Unknown, Event::Stop) => self.enter(&mut out, Stopped, String::new()),
            (Stopped | Exited | Fatal, Event::Stop) => return Err(Refusal::NotRunning(self.state)),

            // The spawn of a Start failed, or the start lasted `startsecs`.
            (Starting, Event::SpawnFailed(why)) => self.failed_start(&mut out, policy, why),
            (Starting, Event::StartSecsElapsed) => {
                self.backoff = 0;
                self.enter(&mut out, Running, String::new());
            }
            (
                Stopped | Running | Backoff | Stopping | Exited | Fatal | Unknown,
                Event::SpawnFailed(_) | Event::StartSecsElapsed,
            ) => return Err(Refusal::Ignored),

            // The process ended.
            (Starting, Event::Exited { how, .. }) => self.failed_start(
                &mut out,
                policy,
                format!("exited too quickly ({how}); its log may say why"),
            ),
            (
                Running,
                Event::Exited {
                    expected,
                    how,
                    lived,
                },
            ) => self.exited_while_running(&mut out, policy, expected, how, lived),
            (Stopping, Event::Exited { how, .. }) => {
                out.push(Step::Do(Action::ClearTimer));
                self.enter(&mut out, Stopped, format!("stopped: {how}"));
            }
            (Stopped | Backoff | Exited | Fatal, Event::Exited { how, .. }) => {
                out.push(Step::Do(Action::ClearTimer));
                let why = format!("a process {how} while none was running");
                self.enter(&mut out, Unknown, why);
            }
            // Already UNKNOWN: nothing more is known.
            (Unknown, Event::Exited { .. }) => return Err(Refusal::Ignored),

            // Timers.
            (Backoff, Event::BackoffElapsed) if policy.may_restart => {
                self.restarts += 1;
                let why = format!("retry {} of {}", self.backoff, policy.startretries);
                self.spawn(&mut out, why);
            }
            (Exited, Event::RespawnElapsed) if self.respawn.is_some() => {
                // Shutting down: the restart is dropped and it stays EXITED.
                if let (Some(why), true) = (self.respawn.take(), policy.may_restart) {
                    self.restarts += 1;
                    self.spawn(&mut out, why);
                }
            }
            (Stopping, Event::StopTimedOut) => out.push(Step::Do(Action::Kill)),
            (
                Stopped | Starting | Running | Backoff | Exited | Fatal | Unknown,
                Event::StopTimedOut,
            ) => return Err(Refusal::Ignored),
            // Late, or (BACKOFF) while shutting down.
            (
                Stopped | Starting | Running | Backoff | Stopping | Exited | Fatal | Unknown,
                Event::BackoffElapsed | Event::RespawnElapsed,
            ) => return Err(Refusal::Ignored),
        }
        Ok(out)
    }

    /// RUNNING → EXITED, then a restart if `autorestart` says so: at once after a
    /// run of [`RESPAWN_FLOOR`] or more, else once the floor has passed.
    fn exited_while_running(
        &mut self,
        out: &mut Vec<Step>,
        policy: &Policy,
        expected: bool,
        how: String,
        lived: Duration,
    ) {
        let note = if expected { "expected" } else { "unexpected" };
        self.enter(out, State::Exited, format!("{how} ({note})"));
        if !policy.restarts_after(expected) {
            return;
        }
        let why = format!("restarted after it {how}");
        match RESPAWN_FLOOR.checked_sub(lived).filter(|d| !d.is_zero()) {
            Some(wait) => {
                out.push(Step::Do(Action::ArmRespawnTimer(wait)));
                self.respawn = Some(why);
            }
            None => {
                self.restarts += 1;
                self.spawn(out, why);
            }
        }
    }

    /// Spawn and enter STARTING. The spawn comes first so that the STARTING event
    /// can carry the new pid.
    fn spawn(&mut self, out: &mut Vec<Step>, message: String) {
        out.push(Step::Do(Action::Spawn));
        out.push(Step::Do(Action::ArmStartTimer));
        self.enter(out, State::Starting, message);
    }

    /// A start that did not last `startsecs`: BACKOFF with a growing delay, or
    /// FATAL once `startretries` retries have failed too.
    fn failed_start(&mut self, out: &mut Vec<Step>, policy: &Policy, why: String) {
        self.backoff += 1;
        self.enter(out, State::Backoff, why.clone());
        if self.backoff > policy.startretries || !policy.may_restart {
            out.push(Step::Do(Action::ClearTimer));
            let tries = self.backoff;
            self.backoff = 0;
            self.enter(
                out,
                State::Fatal,
                format!("gave up after {tries} failed starts; the last: {why}"),
            );
        } else {
            out.push(Step::Do(Action::ArmBackoffTimer(u64::from(self.backoff))));
        }
    }

    fn enter(&mut self, out: &mut Vec<Step>, to: State, message: String) {
        // A pending restart belongs to the EXITED that armed it.
        self.respawn = None;
        out.push(Step::Enter {
            from: self.state,
            to,
            message,
        });
        self.state = to;
    }
}

#[cfg(test)]
mod tests {
    use super::Action::*;
    use super::State::*;
    use super::*;

    fn policy(autorestart: AutoRestart, startretries: u32) -> Policy {
        Policy {
            autorestart,
            startretries,
            may_restart: true,
        }
    }

    fn at(state: State) -> Machine {
        Machine {
            state,
            ..Machine::default()
        }
    }

    fn exited(expected: bool) -> Event {
        Event::Exited {
            expected,
            how: "exited with status 3".into(),
            lived: Duration::from_secs(5),
        }
    }

    /// The states entered, in order.
    fn entered(steps: &[Step]) -> Vec<State> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Enter { to, .. } => Some(*to),
                Step::Do(_) => None,
            })
            .collect()
    }

    fn actions(steps: &[Step]) -> Vec<Action> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Do(a) => Some(a.clone()),
                Step::Enter { .. } => None,
            })
            .collect()
    }

    const P: Policy = Policy {
        autorestart: AutoRestart::Unexpected,
        startretries: 3,
        may_restart: true,
    };

    #[test]
    fn start_from_every_idle_state_spawns_and_arms_startsecs() {
        for from in [Stopped, Exited, Fatal, Unknown] {
            let mut m = Machine {
                state: from,
                backoff: 2,
                restarts: 5,
                respawn: None,
            };
            let steps = m.handle(Event::Start, &P).unwrap();
            assert_eq!(entered(&steps), vec![Starting], "from {from}");
            assert_eq!(actions(&steps), vec![Spawn, ArmStartTimer], "from {from}");
            // Spawn is carried out before STARTING is published.
            assert_eq!(steps[0], Step::Do(Spawn));
            assert_eq!(
                (m.backoff, m.restarts),
                (0, 5),
                "a requested start is no restart"
            );
        }
    }

    #[test]
    fn starting_to_running_after_startsecs_resets_backoff() {
        let mut m = Machine {
            state: Starting,
            backoff: 2,
            restarts: 0,
            respawn: None,
        };
        let steps = m.handle(Event::StartSecsElapsed, &P).unwrap();
        assert_eq!(entered(&steps), vec![Running]);
        assert!(actions(&steps).is_empty());
        assert_eq!(m.backoff, 0);
    }

    #[test]
    fn starting_exit_is_a_failed_start_with_growing_delay() {
        let mut m = at(Starting);
        for n in 1..=3u64 {
            let steps = m.handle(exited(true), &P).unwrap();
            assert_eq!(entered(&steps), vec![Backoff]);
            assert_eq!(actions(&steps), vec![ArmBackoffTimer(n)]);
            let Step::Enter { message, .. } = &steps[0] else {
                panic!()
            };
            assert!(message.contains("exited too quickly"), "{message}");
            let steps = m.handle(Event::BackoffElapsed, &P).unwrap();
            assert_eq!(entered(&steps), vec![Starting]);
            assert_eq!(actions(&steps), vec![Spawn, ArmStartTimer]);
            let Step::Enter { message, .. } = steps.last().unwrap() else {
                panic!()
            };
            assert_eq!(message, &format!("retry {n} of 3"));
        }
        assert_eq!(m.restarts, 3);
    }

    #[test]
    fn backoff_gives_up_after_startretries_retries() {
        // startretries 3: the first try and 3 retries, then FATAL.
        let mut m = at(Starting);
        let mut tries = 1;
        loop {
            let steps = m
                .handle(Event::SpawnFailed("no such file".into()), &P)
                .unwrap();
            if m.state == Fatal {
                assert_eq!(entered(&steps), vec![Backoff, Fatal]);
                assert_eq!(actions(&steps), vec![ClearTimer]);
                let Step::Enter { message, .. } = steps.last().unwrap() else {
                    panic!()
                };
                assert_eq!(
                    message,
                    "gave up after 4 failed starts; the last: no such file"
                );
                break;
            }
            m.handle(Event::BackoffElapsed, &P).unwrap();
            tries += 1;
        }
        assert_eq!(tries, 4);
        assert_eq!(m.backoff, 0);
    }

    #[test]
    fn startretries_zero_goes_fatal_on_the_first_failure() {
        let mut m = at(Starting);
        let steps = m
            .handle(exited(false), &policy(AutoRestart::Always, 0))
            .unwrap();
        assert_eq!(entered(&steps), vec![Backoff, Fatal]);
    }

    #[test]
    fn stop_while_starting_or_running_signals_the_group() {
        for from in [Starting, Running] {
            let mut m = at(from);
            let steps = m.handle(Event::Stop, &P).unwrap();
            assert_eq!(entered(&steps), vec![Stopping]);
            assert_eq!(actions(&steps), vec![SignalStop]);
        }
    }

    #[test]
    fn running_exit_is_exited_and_autorestart_decides() {
        let cases = [
            (AutoRestart::Unexpected, true, vec![Exited]),
            (AutoRestart::Unexpected, false, vec![Exited, Starting]),
            (AutoRestart::Always, true, vec![Exited, Starting]),
            (AutoRestart::Never, false, vec![Exited]),
        ];
        for (autorestart, expected, want) in cases {
            let mut m = at(Running);
            let steps = m.handle(exited(expected), &policy(autorestart, 3)).unwrap();
            assert_eq!(entered(&steps), want, "{autorestart:?} expected={expected}");
            let Step::Enter { message, .. } = &steps[0] else {
                panic!()
            };
            let note = if expected {
                "(expected)"
            } else {
                "(unexpected)"
            };
            assert_eq!(message, &format!("exited with status 3 {note}"));
            assert_eq!(m.restarts, u32::from(want.len() == 2));
        }
    }

    #[test]
    fn no_autorestart_while_shutting_down() {
        let mut m = at(Running);
        let p = Policy {
            may_restart: false,
            ..policy(AutoRestart::Always, 3)
        };
        assert_eq!(entered(&m.handle(exited(false), &p).unwrap()), vec![Exited]);
        let mut m = at(Backoff);
        assert_eq!(m.handle(Event::BackoffElapsed, &p), Err(Refusal::Ignored));
        let mut m = at(Starting);
        assert_eq!(
            entered(&m.handle(exited(false), &p).unwrap()),
            vec![Backoff, Fatal]
        );
    }

    #[test]
    fn stop_in_backoff_drops_the_retry() {
        let mut m = at(Backoff);
        let steps = m.handle(Event::Stop, &P).unwrap();
        assert_eq!(entered(&steps), vec![Stopped]);
        assert_eq!(actions(&steps), vec![ClearTimer]);
    }

    #[test]
    fn stopping_kills_after_stopwaitsecs_and_stops_on_exit() {
        let mut m = at(Stopping);
        let steps = m.handle(Event::StopTimedOut, &P).unwrap();
        assert_eq!(steps, vec![Step::Do(Kill)]);
        assert_eq!(m.state, Stopping);
        let steps = m
            .handle(
                Event::Exited {
                    expected: false,
                    how: "killed by SIGKILL".into(),
                    lived: Duration::from_secs(5),
                },
                &P,
            )
            .unwrap();
        assert_eq!(entered(&steps), vec![Stopped]);
        assert_eq!(actions(&steps), vec![ClearTimer]);
        let Step::Enter { message, .. } = steps.last().unwrap() else {
            panic!()
        };
        assert_eq!(message, "stopped: killed by SIGKILL");
        // Stopped by request: never restarted, whatever autorestart says.
        assert_eq!(m.restarts, 0);
    }

    #[test]
    fn stop_is_refused_when_not_running_and_idempotent_when_stopping() {
        for from in [Stopped, Exited, Fatal] {
            assert_eq!(
                at(from).handle(Event::Stop, &P),
                Err(Refusal::NotRunning(from))
            );
        }
        assert_eq!(at(Stopping).handle(Event::Stop, &P), Ok(vec![]));
        assert_eq!(
            entered(&at(Unknown).handle(Event::Stop, &P).unwrap()),
            vec![Stopped]
        );
    }

    /// The event kinds of the table, with the payload each row uses.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Ev {
        Start,
        Stop,
        SpawnFailed,
        StartSecs,
        /// Unexpected exit after 5 s.
        Exit,
        /// Unexpected exit after 200 ms.
        QuickExit,
        BackoffDone,
        StopTimeout,
        RespawnDone,
    }

    const EVENTS: [Ev; 9] = [
        Ev::Start,
        Ev::Stop,
        Ev::SpawnFailed,
        Ev::StartSecs,
        Ev::Exit,
        Ev::QuickExit,
        Ev::BackoffDone,
        Ev::StopTimeout,
        Ev::RespawnDone,
    ];

    fn event(ev: Ev) -> Event {
        let exit = |ms| Event::Exited {
            expected: false,
            how: "exited with status 3".into(),
            lived: Duration::from_millis(ms),
        };
        match ev {
            Ev::Start => Event::Start,
            Ev::Stop => Event::Stop,
            Ev::SpawnFailed => Event::SpawnFailed("no such file".into()),
            Ev::StartSecs => Event::StartSecsElapsed,
            Ev::Exit => exit(5000),
            Ev::QuickExit => exit(200),
            Ev::BackoffDone => Event::BackoffElapsed,
            Ev::StopTimeout => Event::StopTimedOut,
            Ev::RespawnDone => Event::RespawnElapsed,
        }
    }

    type Want = Result<(&'static [State], &'static [Action]), Refusal>;

    /// (state, restart armed, event) → states entered and actions, or the
    /// refusal; under [`P`] (autorestart unexpected, 3 retries), no failed start yet.
    fn table() -> Vec<(State, bool, Ev, Want)> {
        use Ev::*;
        const SPAWN: &[Action] = &[Action::Spawn, Action::ArmStartTimer];
        const CLEAR: &[Action] = &[Action::ClearTimer];
        const RETRY: &[Action] = &[Action::ArmBackoffTimer(1)];
        const WAIT: &[Action] = &[Action::ArmRespawnTimer(Duration::from_millis(800))];
        let ignored: Want = Err(Refusal::Ignored);
        let ok = |to: &'static [State], act: &'static [Action]| -> Want { Ok((to, act)) };
        let mut rows = vec![];
        let late = [
            SpawnFailed,
            StartSecs,
            BackoffDone,
            StopTimeout,
            RespawnDone,
        ];
        for (state, armed) in [
            (Stopped, false),
            (Exited, false),
            (Exited, true),
            (Fatal, false),
        ] {
            rows.push((state, armed, Start, ok(&[Starting], SPAWN)));
            rows.push((state, armed, Exit, ok(&[Unknown], CLEAR)));
            rows.push((state, armed, QuickExit, ok(&[Unknown], CLEAR)));
            for ev in late {
                if !(armed && ev == RespawnDone) {
                    rows.push((state, armed, ev, ignored.clone()));
                }
            }
            if !armed {
                rows.push((state, armed, Stop, Err(Refusal::NotRunning(state))));
            }
        }
        rows.push((Exited, true, Stop, ok(&[Stopped], CLEAR)));
        rows.push((Exited, true, RespawnDone, ok(&[Starting], SPAWN)));
        rows.extend([
            (
                Starting,
                false,
                Start,
                Err(Refusal::AlreadyStarted(Starting)),
            ),
            (
                Starting,
                false,
                Stop,
                ok(&[Stopping], &[Action::SignalStop]),
            ),
            (Starting, false, SpawnFailed, ok(&[Backoff], RETRY)),
            (Starting, false, StartSecs, ok(&[Running], &[])),
            (Starting, false, Exit, ok(&[Backoff], RETRY)),
            (Starting, false, QuickExit, ok(&[Backoff], RETRY)),
            (Running, false, Start, Err(Refusal::AlreadyStarted(Running))),
            (Running, false, Stop, ok(&[Stopping], &[Action::SignalStop])),
            (Running, false, Exit, ok(&[Exited, Starting], SPAWN)),
            (Running, false, QuickExit, ok(&[Exited], WAIT)),
            (Backoff, false, Start, Err(Refusal::AlreadyStarted(Backoff))),
            (Backoff, false, Stop, ok(&[Stopped], CLEAR)),
            (Backoff, false, Exit, ok(&[Unknown], CLEAR)),
            (Backoff, false, QuickExit, ok(&[Unknown], CLEAR)),
            (Backoff, false, BackoffDone, ok(&[Starting], SPAWN)),
            (
                Stopping,
                false,
                Start,
                Err(Refusal::AlreadyStarted(Stopping)),
            ),
            (Stopping, false, Stop, ok(&[], &[])),
            (Stopping, false, Exit, ok(&[Stopped], CLEAR)),
            (Stopping, false, QuickExit, ok(&[Stopped], CLEAR)),
            (Stopping, false, StopTimeout, ok(&[], &[Action::Kill])),
            (Unknown, false, Start, ok(&[Starting], SPAWN)),
            (Unknown, false, Stop, ok(&[Stopped], &[])),
            (Unknown, false, Exit, ignored.clone()),
            (Unknown, false, QuickExit, ignored.clone()),
        ]);
        for ev in late {
            rows.push((Unknown, false, ev, ignored.clone()));
        }
        for (state, skip) in [
            (Starting, &[SpawnFailed, StartSecs][..]),
            (Running, &[][..]),
            (Backoff, &[BackoffDone][..]),
            (Stopping, &[StopTimeout][..]),
        ] {
            for ev in late.into_iter().filter(|e| !skip.contains(e)) {
                rows.push((state, false, ev, ignored.clone()));
            }
        }
        rows
    }

    #[test]
    fn the_table_decides_every_pair() {
        let rows = table();
        for state in State::ALL {
            for ev in EVENTS {
                let n = rows
                    .iter()
                    .filter(|(s, armed, e, _)| (*s, *armed, *e) == (state, false, ev))
                    .count();
                assert_eq!(n, 1, "{state} × {ev:?}: {n} rows");
            }
        }
        for ev in EVENTS {
            let n = rows
                .iter()
                .filter(|r| (r.0, r.1, r.2) == (Exited, true, ev))
                .count();
            assert_eq!(n, 1, "EXITED (restart armed) × {ev:?}: {n} rows");
        }
        for (state, armed, ev, want) in rows {
            let before = Machine {
                respawn: armed.then(|| "restarted after it exited".to_string()),
                ..at(state)
            };
            let mut m = before.clone();
            let got = m.handle(event(ev), &P);
            let what = format!("{state} (armed: {armed}) × {ev:?}");
            match want {
                Ok((to, acts)) => {
                    let steps = got.unwrap_or_else(|r| panic!("{what}: refused {r:?}"));
                    assert_eq!(entered(&steps), to, "{what}");
                    assert_eq!(actions(&steps), acts, "{what}");
                    let waits = matches!(acts.last(), Some(Action::ArmRespawnTimer(_)));
                    assert_eq!(m.respawn.is_some(), waits, "{what}: restart armed");
                    if let Some(&last) = to.last() {
                        assert_eq!(m.state, last, "{what}");
                    }
                }
                Err(refusal) => {
                    assert_eq!(got, Err(refusal), "{what}");
                    assert_eq!(m, before, "{what}: a refusal changes nothing");
                }
            }
        }
    }

    #[test]
    fn a_quick_exit_waits_for_the_floor_then_restarts() {
        let mut m = at(Running);
        let quick = Event::Exited {
            expected: false,
            how: "exited with status 1".into(),
            lived: Duration::from_millis(300),
        };
        let steps = m.handle(quick, &P).unwrap();
        assert_eq!(
            actions(&steps),
            vec![ArmRespawnTimer(Duration::from_millis(700))]
        );
        assert_eq!((m.state, m.restarts), (Exited, 0));
        let steps = m.handle(Event::RespawnElapsed, &P).unwrap();
        let Step::Enter { message, .. } = steps.last().unwrap() else {
            panic!()
        };
        assert_eq!(message, "restarted after it exited with status 1");
        assert_eq!(
            (m.state, m.restarts, m.respawn.clone()),
            (Starting, 1, None)
        );
        // Exactly the floor is long enough.
        let mut m = at(Running);
        let just = Event::Exited {
            expected: false,
            how: "exited with status 1".into(),
            lived: RESPAWN_FLOOR,
        };
        assert_eq!(
            entered(&m.handle(just, &P).unwrap()),
            vec![Exited, Starting]
        );
    }

    #[test]
    fn no_delayed_restart_while_shutting_down() {
        let mut m = Machine {
            respawn: Some("restarted after it exited".into()),
            ..at(Exited)
        };
        let p = Policy {
            may_restart: false,
            ..P
        };
        assert_eq!(m.handle(Event::RespawnElapsed, &p), Ok(vec![]));
        assert_eq!((m.state, m.respawn.clone()), (Exited, None));
    }

    #[test]
    fn state_names_are_supervisords() {
        let all = [
            Stopped, Starting, Running, Backoff, Stopping, Exited, Fatal, Unknown,
        ];
        let names: Vec<_> = all.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL",
                "UNKNOWN"
            ]
        );
        for s in all {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(State::from_name(s.as_str()), Some(s));
        }
        assert_eq!(all, State::ALL);
        assert_eq!(State::from_name("running"), None);
    }
}
