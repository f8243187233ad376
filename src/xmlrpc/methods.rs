//! supervisord 4.2.5's `supervisor.*` and `system.*` methods, mapped onto the
//! supervisor core: same names, field names, state codes and fault codes
//! (supervisor/xmlrpc.py `Faults`, rpcinterface.py), so supervisorctl and the
//! tools written for supervisord work unchanged. Nothing here knows HTTP.

use super::value::{Call, Value};
use crate::auth::Level;
use crate::supervisor::config::ProgramConfig;
use crate::supervisor::reload;
use crate::supervisor::state::State;
use crate::supervisor::{Change, Error, ProcessInfo, Supervisor};
use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

/// supervisord's fault codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    UnknownMethod = 1,
    IncorrectParameters = 2,
    BadArguments = 3,
    SignatureUnsupported = 4,
    ShutdownState = 6,
    BadName = 10,
    BadSignal = 11,
    NoFile = 20,
    Failed = 30,
    AbnormalTermination = 40,
    SpawnError = 50,
    AlreadyStarted = 60,
    NotRunning = 70,
    Success = 80,
    AlreadyAdded = 90,
    StillRunning = 91,
    CantReread = 92,
}

impl FaultCode {
    fn name(self) -> &'static str {
        match self {
            FaultCode::UnknownMethod => "UNKNOWN_METHOD",
            FaultCode::IncorrectParameters => "INCORRECT_PARAMETERS",
            FaultCode::BadArguments => "BAD_ARGUMENTS",
            FaultCode::SignatureUnsupported => "SIGNATURE_UNSUPPORTED",
            FaultCode::ShutdownState => "SHUTDOWN_STATE",
            FaultCode::BadName => "BAD_NAME",
            FaultCode::BadSignal => "BAD_SIGNAL",
            FaultCode::NoFile => "NO_FILE",
            FaultCode::Failed => "FAILED",
            FaultCode::AbnormalTermination => "ABNORMAL_TERMINATION",
            FaultCode::SpawnError => "SPAWN_ERROR",
            FaultCode::AlreadyStarted => "ALREADY_STARTED",
            FaultCode::NotRunning => "NOT_RUNNING",
            FaultCode::Success => "SUCCESS",
            FaultCode::AlreadyAdded => "ALREADY_ADDED",
            FaultCode::StillRunning => "STILL_RUNNING",
            FaultCode::CantReread => "CANT_REREAD",
        }
    }
}

/// An XML-RPC fault: its code and supervisord's `"NAME: detail"` text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: FaultCode,
    pub text: String,
}

impl Fault {
    pub fn new(code: FaultCode, detail: &str) -> Fault {
        let text = if detail.is_empty() {
            code.name().to_string()
        } else {
            format!("{}: {detail}", code.name())
        };
        Fault { code, text }
    }
}

impl From<Error> for Fault {
    fn from(e: Error) -> Fault {
        let code = match &e {
            Error::NoSuchProgram(_) | Error::NoSuchGroup(_) => FaultCode::BadName,
            Error::AlreadyRunning { .. } => FaultCode::AlreadyStarted,
            Error::NotRunning { .. } => FaultCode::NotRunning,
            Error::ShuttingDown => FaultCode::ShutdownState,
            Error::StillRunning(_) => FaultCode::StillRunning,
            Error::Stopping(_) | Error::Gone | Error::Signal { .. } | Error::Log { .. } => {
                FaultCode::Failed
            }
        };
        Fault::new(code, &e.to_string())
    }
}

/// One method: name, `[return type, param types...]`, help text, who may call it.
struct Method {
    name: &'static str,
    signature: &'static [&'static str],
    help: &'static str,
    level: Level,
}

const fn m(
    name: &'static str,
    signature: &'static [&'static str],
    help: &'static str,
    level: Level,
) -> Method {
    Method {
        name,
        signature,
        help,
        level,
    }
}

use Level::{Admin, Root, User};

/// Every method served; `system.listMethods` answers these names.
const METHODS: &[Method] = &[
    m("supervisor.getAPIVersion", &["string"], "The version of the RPC API (3.0, as supervisord 4.2.5).", User),
    m("supervisor.getVersion", &["string"], "Deprecated alias of getAPIVersion (supervisorctl still calls it).", User),
    m("supervisor.getSupervisorVersion", &["string"], "The version of the server: supervisord's it stands in for, and pistack's.", User),
    m("supervisor.getIdentification", &["string"], "The identifier of this server.", User),
    m("supervisor.getState", &["struct"], "The server state: {statecode, statename}; 1 RUNNING, -1 SHUTDOWN.", User),
    m("supervisor.getPID", &["int"], "The PID of the daemon.", User),
    m("supervisor.readLog", &["string", "int", "int"], "The daemon's own log: pistack logs to the journal, so this is a NO_FILE fault.", User),
    m("supervisor.getAllProcessInfo", &["array"], "getProcessInfo of every program, in priority order.", User),
    m("supervisor.getProcessInfo", &["struct", "string"], "Info about one program (name or group:name).", User),
    m("supervisor.startProcess", &["boolean", "string", "boolean"], "Start a program (name, group:name or group:*); wait (default true) for it to be RUNNING.", Admin),
    m("supervisor.startProcessGroup", &["array", "string", "boolean"], "Start every program of a group; one {name, group, status, description} each.", Admin),
    m("supervisor.startAllProcesses", &["array", "boolean"], "Start every program that is not running.", Admin),
    m("supervisor.stopProcess", &["boolean", "string", "boolean"], "Stop a program (name, group:name or group:*); wait (default true) for it to stop.", Admin),
    m("supervisor.stopProcessGroup", &["array", "string", "boolean"], "Stop every running program of a group.", Admin),
    m("supervisor.stopAllProcesses", &["array", "boolean"], "Stop every running program, in reverse priority order.", Admin),
    m("supervisor.signalProcess", &["boolean", "string", "string"], "Send a signal (name such as HUP, or number) to a program's process group.", Admin),
    m("supervisor.signalProcessGroup", &["array", "string", "string"], "Send a signal to every program of a group that has a process.", Admin),
    m("supervisor.signalAllProcesses", &["array", "string"], "Send a signal to every program that has a process.", Admin),
    m("supervisor.readProcessStdoutLog", &["string", "string", "int", "int"], "Read length bytes of a program's stdout log from offset (a negative offset with length 0: that many bytes from the end).", Admin),
    m("supervisor.readProcessStderrLog", &["string", "string", "int", "int"], "The same for stderr.", Admin),
    m("supervisor.tailProcessStdoutLog", &["array", "string", "int", "int"], "[bytes, offset, overflow]: up to length bytes of stdout after offset; the next offset to ask for.", Admin),
    m("supervisor.tailProcessStderrLog", &["array", "string", "int", "int"], "The same for stderr.", Admin),
    m("supervisor.clearProcessLogs", &["boolean", "string"], "Empty a program's stdout and stderr logs.", Admin),
    m("supervisor.clearAllProcessLogs", &["array"], "Empty every program's logs.", Admin),
    m("supervisor.getAllConfigInfo", &["array"], "The programs of the configuration file, with inuse: whether each is in the running table.", User),
    m("supervisor.reloadConfig", &["array"], "Re-read the configuration file: [[added, changed, removed]] group names; nothing is applied (supervisorctl reread).", Root),
    m("supervisor.addProcessGroup", &["boolean", "string"], "Add a group of the re-read configuration to the running table (started if autostart).", Root),
    m("supervisor.removeProcessGroup", &["boolean", "string"], "Remove a stopped group from the running table.", Root),
    m("system.listMethods", &["array"], "The names of the methods served.", User),
    m("system.methodHelp", &["string", "string"], "The help text of a method.", User),
    m("system.methodSignature", &["array", "string"], "[return type, parameter types...] of a method.", User),
    m("system.multicall", &["array", "array"], "Run an array of {methodName, params}; one [result] or fault struct each.", User),
];

/// The policy: the level a caller needs for `call`. A multicall needs the
/// highest level among its calls; an unknown method needs only User (it faults).
pub fn required_level(call: &Call) -> Level {
    let of = |name: &str| {
        METHODS
            .iter()
            .find(|m| m.name == name)
            .map_or(Level::User, |m| m.level)
    };
    let mut level = of(&call.method);
    if call.method == "system.multicall" {
        if let Some(Value::Array(calls)) = call.params.first() {
            for c in calls {
                if let Some(Value::Str(name)) = c.member("methodName") {
                    level = level.max(of(name));
                }
            }
        }
    }
    level
}

/// Reads the configuration file's programs again (for `reloadConfig`).
pub type Loader = Box<dyn Fn() -> Result<Programs, String> + Send + Sync>;
type Programs = BTreeMap<String, ProgramConfig>;

/// The methods' view of the daemon.
pub struct Rpc {
    pub supervisor: Arc<Supervisor>,
    pub load: Loader,
}

fn incorrect(detail: &str) -> Fault {
    Fault::new(FaultCode::IncorrectParameters, detail)
}

/// Exactly `min..=max` parameters.
fn arity(params: &[Value], min: usize, max: usize) -> Result<(), Fault> {
    if params.len() < min || params.len() > max {
        return Err(incorrect(&format!(
            "takes {min} to {max} parameters, got {}",
            params.len()
        )));
    }
    Ok(())
}

fn string(params: &[Value], i: usize) -> Result<&str, Fault> {
    match params.get(i) {
        Some(Value::Str(s)) => Ok(s),
        _ => Err(incorrect(&format!("parameter {} must be a string", i + 1))),
    }
}

/// A signal as a name (`HUP`, `SIGHUP`) or a number; `BAD_SIGNAL` otherwise.
fn signal_param(params: &[Value], i: usize) -> Result<i32, Fault> {
    let sig = match params.get(i) {
        Some(Value::Str(s)) => crate::supervisor::config::signal_number(s),
        Some(Value::Int(n)) => crate::supervisor::config::signal_number(&n.to_string()),
        _ => None,
    };
    sig.ok_or_else(|| Fault::new(FaultCode::BadSignal, &format!("{:?}", params.get(i))))
}

fn int(params: &[Value], i: usize) -> Result<i64, Fault> {
    match params.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        _ => Err(incorrect(&format!("parameter {} must be an int", i + 1))),
    }
}

/// An optional boolean (`wait`), true when absent.
fn flag(params: &[Value], i: usize) -> Result<bool, Fault> {
    match params.get(i) {
        None => Ok(true),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::Int(n)) => Ok(*n != 0),
        _ => Err(incorrect(&format!("parameter {} must be a boolean", i + 1))),
    }
}

/// What a supervisord name means here.
enum Target {
    Program(String),
    Group(String),
}

/// `name`, `group:name` or `group:*` (supervisord's `split_namespec`). A bare
/// name is a program, else a group of that name.
fn target(sup: &Supervisor, spec: &str) -> Result<Target, Fault> {
    let bad = || Fault::new(FaultCode::BadName, spec);
    let is_group = |g: &str| sup.group_members(g).is_ok();
    match spec.split_once(':') {
        Some((group, "*")) => is_group(group)
            .then(|| Target::Group(group.to_string()))
            .ok_or_else(bad),
        Some((group, name)) => sup
            .get(name)
            .is_ok_and(|p| p.group == group)
            .then(|| Target::Program(name.to_string()))
            .ok_or_else(bad),
        None if sup.get(spec).is_ok() => Ok(Target::Program(spec.to_string())),
        None if is_group(spec) => Ok(Target::Group(spec.to_string())),
        None => Err(bad()),
    }
}

fn program(sup: &Supervisor, spec: &str) -> Result<String, Fault> {
    match target(sup, spec)? {
        Target::Program(name) => Ok(name),
        Target::Group(_) => Err(Fault::new(FaultCode::BadName, spec)),
    }
}

/// `*ProcessGroup` names a group; `startProcess` and the others a namespec.
fn target_of(sup: &Supervisor, method: &str, spec: &str) -> Result<Target, Fault> {
    if method.ends_with("ProcessGroup") {
        Ok(Target::Group(spec.to_string()))
    } else {
        target(sup, spec)
    }
}

/// `start*` starts, `stop*` stops.
fn change_of(method: &str) -> Change {
    if method.starts_with("start") {
        Change::Start
    } else {
        Change::Stop
    }
}

/// The names of every program, in priority order (the `*AllProcesses` methods).
fn all_names(sup: &Supervisor) -> Vec<String> {
    sup.list().into_iter().map(|i| i.name).collect()
}

/// One family of methods: the answer to `method` (without its `supervisor.`
/// or `system.` prefix), `None` when the name is not one of the family's.
type Family = fn(&Rpc, &str, &[Value]) -> Result<Option<Value>, Fault>;

impl Rpc {
    /// Run one call: the first family that knows the method answers it.
    pub fn call(&self, call: &Call) -> Result<Value, Fault> {
        let (prefix, method) = call.method.split_once('.').unwrap_or(("", ""));
        let families: &[Family] = match prefix {
            "supervisor" => &[
                Rpc::daemon_call,
                Rpc::process_call,
                Rpc::log_call,
                Rpc::config_call,
            ],
            "system" => &[Rpc::system_call],
            _ => &[],
        };
        for family in families {
            if let Some(answer) = family(self, method, &call.params)? {
                return Ok(answer);
            }
        }
        Err(Fault::new(FaultCode::UnknownMethod, ""))
    }

    /// The daemon itself: versions, identification, state, PID, its log.
    fn daemon_call(&self, m: &str, p: &[Value]) -> Result<Option<Value>, Fault> {
        Ok(Some(match m {
            "getAPIVersion" | "getVersion" => {
                arity(p, 0, 0)?;
                Value::str("3.0")
            }
            "getSupervisorVersion" => {
                arity(p, 0, 0)?;
                Value::str(format!("4.2.5 (pistack {})", env!("CARGO_PKG_VERSION")))
            }
            "getIdentification" => {
                arity(p, 0, 0)?;
                Value::str("pistack")
            }
            "getState" => {
                arity(p, 0, 0)?;
                let (code, name) = match self.supervisor.check() {
                    Ok(()) => (1, "RUNNING"),
                    Err(_) => (-1, "SHUTDOWN"),
                };
                Value::Struct(vec![
                    ("statecode".into(), Value::Int(code)),
                    ("statename".into(), Value::str(name)),
                ])
            }
            "getPID" => {
                arity(p, 0, 0)?;
                Value::Int(std::process::id().into())
            }
            "readLog" => {
                arity(p, 2, 2)?;
                return Err(Fault::new(
                    FaultCode::NoFile,
                    "pistack logs to the journal: journalctl -u pistack",
                ));
            }
            _ => return Ok(None),
        }))
    }

    /// Describe, start, stop and signal a program, a group or all of them.
    fn process_call(&self, m: &str, p: &[Value]) -> Result<Option<Value>, Fault> {
        let sup = &self.supervisor;
        Ok(Some(match m {
            "getAllProcessInfo" => {
                arity(p, 0, 0)?;
                Value::Array(sup.list().iter().map(|i| self.info(i)).collect())
            }
            "getProcessInfo" => {
                arity(p, 1, 1)?;
                let name = program(sup, string(p, 0)?)?;
                self.info(&sup.get(&name)?)
            }
            "startProcess" | "startProcessGroup" | "stopProcess" | "stopProcessGroup" => {
                arity(p, 1, 2)?;
                let change = change_of(m);
                match target_of(sup, m, string(p, 0)?)? {
                    Target::Program(name) => {
                        Value::Bool(self.change(&name, change, flag(p, 1)?)?)
                    }
                    Target::Group(g) => self.each(sup.group_each(&g, change, flag(p, 1)?)?, change),
                }
            }
            "startAllProcesses" | "stopAllProcesses" => {
                arity(p, 0, 1)?;
                let change = change_of(m);
                self.each(sup.each(&all_names(sup), change, flag(p, 0)?), change)
            }
            "signalProcess" | "signalProcessGroup" => {
                arity(p, 2, 2)?;
                let sig = signal_param(p, 1)?;
                match target_of(sup, m, string(p, 0)?)? {
                    Target::Program(name) => {
                        sup.signal_program(&name, sig)?;
                        Value::Bool(true)
                    }
                    Target::Group(g) => self.signal_each(&sup.group_members(&g)?, sig),
                }
            }
            "signalAllProcesses" => {
                arity(p, 1, 1)?;
                let sig = signal_param(p, 0)?;
                self.signal_each(&all_names(sup), sig)
            }
            _ => return Ok(None),
        }))
    }

    /// Read, tail and clear a program's logs.
    fn log_call(&self, m: &str, p: &[Value]) -> Result<Option<Value>, Fault> {
        let sup = &self.supervisor;
        let stderr = m.contains("Stderr");
        Ok(Some(match m {
            "readProcessStdoutLog" | "readProcessStderrLog" => {
                arity(p, 3, 3)?;
                let name = program(sup, string(p, 0)?)?;
                let path = sup.log_path(&name, stderr)?;
                Value::Str(read_file(&path, int(p, 1)?, int(p, 2)?)?)
            }
            "tailProcessStdoutLog" | "tailProcessStderrLog" => {
                arity(p, 3, 3)?;
                let name = program(sup, string(p, 0)?)?;
                let path = sup.log_path(&name, stderr)?;
                tail_file(&path, int(p, 1)?, int(p, 2)?)
            }
            "clearProcessLogs" => {
                arity(p, 1, 1)?;
                let name = program(sup, string(p, 0)?)?;
                sup.clear_logs(&name)?;
                Value::Bool(true)
            }
            "clearAllProcessLogs" => {
                arity(p, 0, 0)?;
                let outcomes = sup.list().into_iter().map(|info| {
                    let cleared = sup.clear_logs(&info.name).map_err(Fault::from);
                    (info.name, cleared)
                });
                self.results(outcomes.collect())
            }
            _ => return Ok(None),
        }))
    }

    /// `system.*`: the methods served, their help and signatures, multicall.
    fn system_call(&self, m: &str, p: &[Value]) -> Result<Option<Value>, Fault> {
        Ok(Some(match m {
            "listMethods" => {
                arity(p, 0, 0)?;
                Value::Array(METHODS.iter().map(|m| Value::str(m.name)).collect())
            }
            "methodHelp" => {
                arity(p, 1, 1)?;
                Value::str(find(string(p, 0)?)?.help)
            }
            "methodSignature" => {
                arity(p, 1, 1)?;
                let m = find(string(p, 0)?)?;
                Value::Array(m.signature.iter().map(|t| Value::str(*t)).collect())
            }
            "multicall" => {
                arity(p, 1, 1)?;
                self.multicall(&p[0])?
            }
            _ => return Ok(None),
        }))
    }

    /// supervisorctl's `avail`, `reread` and `update`, on the core's reload.
    fn config_call(&self, method: &str, p: &[Value]) -> Result<Option<Value>, Fault> {
        if !matches!(
            method,
            "getAllConfigInfo" | "reloadConfig" | "addProcessGroup" | "removeProcessGroup"
        ) {
            return Ok(None);
        }
        let sup = &self.supervisor;
        let new = || (self.load)().map_err(|e| Fault::new(FaultCode::CantReread, &e));
        let current = sup.configs();
        let in_use = |g: &str| !reload::members(&current, g).is_empty();
        match method {
            "getAllConfigInfo" => {
                arity(p, 0, 0)?;
                let programs = new().unwrap_or_else(|_| current.clone());
                let infos = programs
                    .iter()
                    .map(|(n, c)| config_info(n, c, in_use(reload::group_of(n, c))));
                Ok(Some(Value::Array(infos.collect())))
            }
            "reloadConfig" => {
                arity(p, 0, 0)?;
                let c = reload::diff_groups(&current, &new()?);
                let names = |v: Vec<String>| Value::Array(v.into_iter().map(Value::Str).collect());
                Ok(Some(Value::Array(vec![Value::Array(vec![
                    names(c.added),
                    names(c.changed),
                    names(c.removed),
                ])])))
            }
            "addProcessGroup" => {
                arity(p, 1, 1)?;
                let group = string(p, 0)?;
                let adding = reload::members(&new()?, group);
                if adding.is_empty() {
                    return Err(Fault::new(FaultCode::BadName, group));
                }
                if in_use(group) {
                    return Err(Fault::new(FaultCode::AlreadyAdded, group));
                }
                let mut target = current.clone();
                target.extend(adding);
                sup.reload(&target)?;
                Ok(Some(Value::Bool(true)))
            }
            _ => {
                arity(p, 1, 1)?;
                let group = string(p, 0)?;
                let names = sup.group_members(group)?;
                if names
                    .iter()
                    .any(|n| sup.get(n).is_ok_and(|i| i.state.is_running()))
                {
                    return Err(Fault::new(FaultCode::StillRunning, group));
                }
                let mut target = current.clone();
                target.retain(|n, _| !names.contains(n));
                sup.reload(&target)?;
                Ok(Some(Value::Bool(true)))
            }
        }
    }

    /// Start or stop `name`; a start with `wait` is a fault unless it reached
    /// RUNNING (as supervisord: SPAWN_ERROR when it failed to start,
    /// ABNORMAL_TERMINATION when it ended otherwise).
    fn change(&self, name: &str, change: Change, wait: bool) -> Result<bool, Fault> {
        let info = self.supervisor.change_program(name, change, wait)?;
        match change {
            Change::Start => start_result(name, &info, wait).map(|()| true),
            Change::Stop => Ok(true),
        }
    }

    /// Signal those of `names` that have a process (supervisord's `isSignallable`).
    fn signal_each(&self, names: &[String], sig: i32) -> Value {
        let sup = &self.supervisor;
        let signallable = |n: &&String| {
            sup.get(n).is_ok_and(|i| {
                matches!(i.state, State::Running | State::Starting | State::Stopping)
            })
        };
        let outcomes = names
            .iter()
            .filter(signallable)
            .map(|n| (n.clone(), sup.signal_program(n, sig)))
            .collect();
        self.each(outcomes, Change::Stop)
    }

    /// supervisord's `make_allfunc` answer: one `{name, group, status,
    /// description}` per program the core started, stopped or signalled (a
    /// signal's outcome is read as a stop's: only a start's state can fail it).
    fn each(&self, outcomes: Vec<crate::supervisor::Outcome>, change: Change) -> Value {
        let results = outcomes.into_iter().map(|(name, outcome)| {
            let outcome = match outcome {
                Ok(info) if change == Change::Start => start_result(&name, &info, true),
                Ok(_) => Ok(()),
                Err(e) => Err(Fault::from(e)),
            };
            (name, outcome)
        });
        self.results(results.collect())
    }

    fn results(&self, outcomes: Vec<(String, Result<(), Fault>)>) -> Value {
        let results = outcomes.into_iter().map(|(name, outcome)| {
            let group = self
                .supervisor
                .get(&name)
                .map(|i| i.group)
                .unwrap_or_else(|_| name.clone());
            let (status, description) = match outcome {
                Ok(()) => (FaultCode::Success as i64, "OK".to_string()),
                Err(f) => (f.code as i64, f.text),
            };
            Value::Struct(vec![
                ("name".into(), Value::str(name)),
                ("group".into(), Value::str(group)),
                ("status".into(), Value::Int(status)),
                ("description".into(), Value::str(description)),
            ])
        });
        Value::Array(results.collect())
    }

    fn multicall(&self, calls: &Value) -> Result<Value, Fault> {
        let Value::Array(calls) = calls else {
            return Err(incorrect("system.multicall takes an array of structs"));
        };
        let results = calls
            .iter()
            .map(|c| {
                let one = match (c.member("methodName"), c.member("params")) {
                    (Some(Value::Str(name)), params) if name != "system.multicall" => {
                        let params = match params {
                            Some(Value::Array(p)) => p.clone(),
                            None => Vec::new(),
                            Some(_) => return fault_struct(&incorrect("params must be an array")),
                        };
                        self.call(&Call {
                            method: name.clone(),
                            params,
                        })
                    }
                    (Some(Value::Str(_)), _) => {
                        Err(incorrect("Recursive system.multicall forbidden"))
                    }
                    _ => Err(incorrect("No methodName")),
                };
                match one {
                    Ok(v) => Value::Array(vec![v]),
                    Err(f) => fault_struct(&f),
                }
            })
            .collect();
        Ok(Value::Array(results))
    }

    /// supervisord's process info struct.
    fn info(&self, i: &ProcessInfo) -> Value {
        let stdout = self.supervisor.log_path(&i.name, false).unwrap_or_default();
        let stderr = self.supervisor.log_path(&i.name, true).unwrap_or_default();
        let spawnerr = match i.state {
            State::Backoff | State::Fatal => i.message.clone(),
            _ => String::new(),
        };
        let int = |n: Option<u64>| Value::Int(n.map_or(0, |n| n.min(i32::MAX as u64) as i64));
        let now = crate::events::now_s();
        Value::Struct(vec![
            ("name".into(), Value::str(i.name.clone())),
            ("group".into(), Value::str(i.group.clone())),
            (
                "description".into(),
                Value::str(super::describe(i, &spawnerr, now)),
            ),
            ("start".into(), int(i.started_at)),
            ("stop".into(), int(i.stopped_at)),
            ("now".into(), int(Some(now))),
            ("state".into(), Value::Int(state_code(i.state))),
            ("statename".into(), Value::str(i.state.as_str())),
            ("spawnerr".into(), Value::str(spawnerr)),
            (
                "exitstatus".into(),
                Value::Int(i.exit_status.unwrap_or(0).into()),
            ),
            ("logfile".into(), Value::str(stdout.display().to_string())),
            (
                "stdout_logfile".into(),
                Value::str(stdout.display().to_string()),
            ),
            (
                "stderr_logfile".into(),
                Value::str(stderr.display().to_string()),
            ),
            ("pid".into(), Value::Int(i.pid.unwrap_or(0).into())),
        ])
    }
}

/// A start's answer as supervisord gives it.
fn start_result(name: &str, info: &ProcessInfo, wait: bool) -> Result<(), Fault> {
    match info.state {
        State::Running => Ok(()),
        State::Starting if !wait => Ok(()),
        State::Backoff | State::Fatal => Err(Fault::new(FaultCode::SpawnError, name)),
        _ => Err(Fault::new(FaultCode::AbnormalTermination, name)),
    }
}

/// supervisord's config info struct (the fields supervisorctl and the tools read).
fn config_info(name: &str, c: &ProgramConfig, inuse: bool) -> Value {
    let signal = crate::supervisor::config::signal_number(&c.stopsignal).unwrap_or(15);
    Value::Struct(vec![
        ("name".into(), Value::str(name)),
        ("group".into(), Value::str(reload::group_of(name, c))),
        ("inuse".into(), Value::Bool(inuse)),
        ("autostart".into(), Value::Bool(c.autostart)),
        ("process_prio".into(), Value::Int(c.priority.into())),
        ("group_prio".into(), Value::Int(c.priority.into())),
        ("command".into(), Value::str(c.command.join(" "))),
        (
            "directory".into(),
            Value::str(
                c.directory
                    .as_ref()
                    .map_or("none".into(), |d| d.display().to_string()),
            ),
        ),
        (
            "uid".into(),
            Value::str(c.user.clone().unwrap_or_else(|| "none".into())),
        ),
        (
            "exitcodes".into(),
            Value::Array(
                c.exitcodes
                    .iter()
                    .map(|e| Value::Int((*e).into()))
                    .collect(),
            ),
        ),
        (
            "startsecs".into(),
            Value::Int(c.startsecs.min(i32::MAX as u64) as i64),
        ),
        ("startretries".into(), Value::Int(c.startretries.into())),
        ("stopsignal".into(), Value::Int(signal.into())),
        (
            "stopwaitsecs".into(),
            Value::Int(c.stopwaitsecs.min(i32::MAX as u64) as i64),
        ),
    ])
}

fn find(name: &str) -> Result<&'static Method, Fault> {
    METHODS
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| Fault::new(FaultCode::SignatureUnsupported, ""))
}

fn fault_struct(f: &Fault) -> Value {
    Value::Struct(vec![
        ("faultCode".into(), Value::Int(f.code as i64)),
        ("faultString".into(), Value::str(f.text.clone())),
    ])
}

/// supervisord's state codes.
pub fn state_code(s: State) -> i64 {
    match s {
        State::Stopped => 0,
        State::Starting => 10,
        State::Running => 20,
        State::Backoff => 30,
        State::Stopping => 40,
        State::Exited => 100,
        State::Fatal => 200,
        State::Unknown => 1000,
    }
}

/// Bytes as a string, invalid UTF-8 replaced (XML cannot carry raw bytes).
fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The most one read of a log answers (supervisord has no bound; a client
/// asking for offset 0, length 0 would get a whole file).
const READ_MAX: u64 = 1024 * 1024;

/// supervisord's `readFile`: `length` bytes from `offset`; a negative offset
/// (with length 0) is that many bytes from the end; length 0 reads to the end.
fn read_file(path: &std::path::Path, offset: i64, length: i64) -> Result<String, Fault> {
    let bad_args = || Fault::new(FaultCode::BadArguments, "");
    if length < 0 || (offset < 0 && length != 0) {
        return Err(bad_args());
    }
    let failed = |_| Fault::new(FaultCode::Failed, "");
    let mut f = std::fs::File::open(path)
        .map_err(|_| Fault::new(FaultCode::NoFile, &path.display().to_string()))?;
    let size = f.metadata().map_err(failed)?.len();
    let (start, want) = if offset < 0 {
        (
            size.saturating_sub(offset.unsigned_abs()),
            offset.unsigned_abs(),
        )
    } else if length == 0 {
        (offset as u64, u64::MAX)
    } else {
        (offset as u64, length as u64)
    };
    f.seek(SeekFrom::Start(start.min(size))).map_err(failed)?;
    let mut out = Vec::new();
    f.take(want.min(READ_MAX))
        .read_to_end(&mut out)
        .map_err(failed)?;
    Ok(text(out))
}

/// supervisord's `tailFile`: `[bytes, next offset, overflow]`.
fn tail_file(path: &std::path::Path, offset: i64, length: i64) -> Value {
    let answer = |data: Vec<u8>, offset: i64, overflow: bool| {
        Value::Array(vec![
            Value::Str(text(data)),
            Value::Int(offset),
            Value::Bool(overflow),
        ])
    };
    let Ok(mut f) = std::fs::File::open(path) else {
        return answer(Vec::new(), offset, false);
    };
    let size = f.metadata().map(|m| m.len() as i64).unwrap_or(0);
    let length = length.clamp(0, READ_MAX as i64);
    let (mut offset, mut length) = (offset, length);
    let mut overflow = false;
    if size > offset.saturating_add(length) {
        overflow = true;
        offset = size - 1;
    }
    if offset.saturating_add(length) > size {
        if offset > size - 1 {
            length = 0;
        }
        offset = size - length;
    }
    let offset = offset.max(0);
    let mut data = Vec::new();
    if length > 0 && f.seek(SeekFrom::Start(offset as u64)).is_ok() {
        let _ = (&mut f).take(length as u64).read_to_end(&mut data);
    }
    answer(data, size, overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acting_needs_admin_reading_needs_user() {
        let call = |method: &str, params: Vec<Value>| Call {
            method: method.into(),
            params,
        };
        assert_eq!(
            required_level(&call("supervisor.getAllProcessInfo", vec![])),
            Level::User
        );
        assert_eq!(
            required_level(&call("supervisor.stopProcess", vec![])),
            Level::Admin
        );
        assert_eq!(required_level(&call("nope", vec![])), Level::User);
        // Logs are Admin+, as GET /api/supervisor/processes/{name}/log.
        assert_eq!(
            required_level(&call("supervisor.tailProcessStdoutLog", vec![])),
            Level::Admin
        );
        assert_eq!(
            required_level(&call("supervisor.reloadConfig", vec![])),
            Level::Root
        );
        let sub = |name: &str| Value::Struct(vec![("methodName".into(), Value::str(name))]);
        let multi = call(
            "system.multicall",
            vec![Value::Array(vec![
                sub("supervisor.getPID"),
                sub("supervisor.startAllProcesses"),
            ])],
        );
        assert_eq!(required_level(&multi), Level::Admin);
    }

    #[test]
    fn read_and_tail_follow_supervisord() {
        let path = std::env::temp_dir().join(format!("pistack-rpc-log-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_file(&path, 2, 3).unwrap(), "234");
        assert_eq!(read_file(&path, -4, 0).unwrap(), "6789");
        assert_eq!(read_file(&path, 8, 0).unwrap(), "89");
        assert_eq!(
            read_file(&path, -4, 2).unwrap_err().code,
            FaultCode::BadArguments
        );
        let parts = |v: Value| match v {
            Value::Array(a) => a,
            _ => panic!(),
        };
        let t = parts(tail_file(&path, 0, 4));
        assert_eq!(t, [Value::str("6789"), Value::Int(10), Value::Bool(true)]);
        let t = parts(tail_file(&path, 10, 4));
        assert_eq!(t, [Value::str(""), Value::Int(10), Value::Bool(false)]);
        let t = parts(tail_file(&path, 8, 4));
        assert_eq!(t, [Value::str("6789"), Value::Int(10), Value::Bool(false)]);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read_file(&path, 0, 0).unwrap_err().code, FaultCode::NoFile);
    }
}
