//! Starting, signalling, waiting for and reaping one program's process, with
//! `std::process` and a few libc calls.
//!
//! Every child is set up in `pre_exec` (between fork and exec, where only
//! async-signal-safe calls are allowed):
//! - the daemon's blocked-signal mask is undone ([`crate::signals::reset_in_child`]),
//!   else the child would be deaf to SIGTERM;
//! - it leads its own process group, so stop and signals reach its children too;
//! - it drops to `user` (groups, gid, uid) when that is set;
//! - `PR_SET_PDEATHSIG` = SIGKILL, so it dies with the daemon even when the
//!   daemon is SIGKILLed. Set *after* the uid change, which clears it.
//!
//! PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the
//! process. So [`spawn`] must only be called from the supervisor thread, which
//! lives exactly as long as the daemon's supervision.

use super::config::{signal_name, ProgramConfig};
use std::ffi::CString;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{ChildStderr, ChildStdout, Command, Stdio};

/// The daemon's own environment that its programs must not inherit: its secrets,
/// and systemd's notify / socket-activation / journal variables, which describe
/// the daemon, not them. A program's `environment` may still set any of them.
const PRIVATE_ENV: [&str; 8] = [
    "AUTH_SECRET",
    "PISTACK_ROOT_PASSWORD",
    "NOTIFY_SOCKET",
    "WATCHDOG_PID",
    "WATCHDOG_USEC",
    "LISTEN_FDS",
    "LISTEN_PID",
    "JOURNAL_STREAM",
];

/// A process just started.
pub struct Spawned {
    pub pid: u32,
    pub stdout: ChildStdout,
    pub stderr: ChildStderr,
}

/// Who to run a program as, looked up before the fork (the lookup is not
/// async-signal-safe).
pub struct Credentials {
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
    pub groups: Vec<libc::gid_t>,
    pub home: String,
    pub name: String,
}

/// Why a program could not be started; shown as its `message`, so each says
/// what to change.
#[derive(Debug)]
pub enum SpawnError {
    /// `command` is empty (check-config refuses that, so only a hand-made config).
    EmptyCommand,
    /// `user` names no user of this system.
    NoSuchUser(String),
    /// `user` cannot be passed to the system (it holds a NUL).
    BadUserName(String),
    /// The user has more groups than the system allows.
    TooManyGroups(String),
    /// `directory` is missing, not a folder, or not reachable.
    Directory {
        command: String,
        directory: PathBuf,
        error: io::Error,
    },
    /// No such command: a path that does not exist, or a name not in `PATH`.
    NotFound {
        command: String,
        path: Option<String>,
        error: io::Error,
    },
    /// The command exists but may not be run (not executable, no permission).
    PermissionDenied { command: String, error: io::Error },
    /// Switching to `user` was refused.
    SetUser {
        command: String,
        user: String,
        error: io::Error,
    },
    /// Any other failure of fork or exec.
    Os { command: String, error: io::Error },
    /// The output pipes were not created.
    NoPipes,
    /// The thread that waits for the process could not be started.
    NoWatcher(io::Error),
}

impl std::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SpawnError::EmptyCommand => f.write_str(
                "the command is empty; set command to a list, e.g. [\"/bin/sleep\", \"60\"]",
            ),
            SpawnError::NoSuchUser(user) => {
                write!(f, "no such user: {user}; create it or change user")
            }
            SpawnError::BadUserName(user) => write!(f, "user {user:?} is not a valid name"),
            SpawnError::TooManyGroups(user) => write!(f, "user {user} is in too many groups"),
            SpawnError::Directory {
                command,
                directory,
                error,
            } => write!(
                f,
                "cannot run {command} in directory {}: {error}; create it, or fix directory",
                directory.display()
            ),
            SpawnError::NotFound {
                command,
                path: Some(path),
                error,
            } => write!(
                f,
                "cannot run {command}: {error}; it is not in PATH ({path}): \
                 give its full path in command, or set PATH in environment"
            ),
            SpawnError::NotFound {
                command,
                path: None,
                error,
            } => write!(
                f,
                "cannot run {command}: {error}; check the path in command"
            ),
            SpawnError::PermissionDenied { command, error } => write!(
                f,
                "cannot run {command}: {error}; it must be an executable file \
                 (chmod +x) that the program's user may read, in folders it may enter"
            ),
            SpawnError::SetUser {
                command,
                user,
                error,
            } => write!(
                f,
                "cannot run {command} as user {user}: {error} \
                 (the daemon needs root or CAP_SETUID/CAP_SETGID)"
            ),
            SpawnError::Os { command, error } => write!(f, "cannot run {command}: {error}"),
            SpawnError::NoPipes => f.write_str("the output pipes were not created"),
            SpawnError::NoWatcher(e) => write!(f, "cannot start a thread to watch it: {e}"),
        }
    }
}

impl std::error::Error for SpawnError {}

/// What a failed `Command::spawn` of `command` means, checked in the order a
/// person would: the folder first, then the command itself.
fn spawn_error(command: &str, config: &ProgramConfig, error: io::Error) -> SpawnError {
    let command = command.to_string();
    if let Some(directory) = &config.directory {
        let problem = match std::fs::metadata(directory) {
            Err(e) => Some(e),
            Ok(m) if !m.is_dir() => Some(io::Error::from_raw_os_error(libc::ENOTDIR)),
            Ok(_) => None,
        };
        if let Some(error) = problem {
            return SpawnError::Directory {
                command,
                directory: directory.clone(),
                error,
            };
        }
    }
    match (error.raw_os_error(), &config.user) {
        (Some(libc::EPERM), Some(user)) => SpawnError::SetUser {
            command,
            user: user.clone(),
            error,
        },
        (Some(libc::ENOENT), _) => {
            let path =
                (!command.contains('/')).then(|| {
                    config.environment.get("PATH").cloned().unwrap_or_else(|| {
                        std::env::var("PATH").unwrap_or_else(|_| "not set".into())
                    })
                });
            SpawnError::NotFound {
                command,
                path,
                error,
            }
        }
        (Some(libc::EACCES), _) => SpawnError::PermissionDenied { command, error },
        _ => SpawnError::Os { command, error },
    }
}

/// Start `config.command` for program `name`.
pub fn spawn(name: &str, group: &str, config: &ProgramConfig) -> Result<Spawned, SpawnError> {
    let (program, args) = config
        .command
        .split_first()
        .ok_or(SpawnError::EmptyCommand)?;
    let creds = match config.user.as_deref() {
        Some(user) => lookup_user(user)?,
        None => None,
    };
    let mut cmd = Command::new(program);
    for var in PRIVATE_ENV {
        cmd.env_remove(var);
    }
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("SUPERVISOR_ENABLED", "1")
        .env("SUPERVISOR_PROCESS_NAME", name)
        .env("SUPERVISOR_GROUP_NAME", group)
        .env("PISTACK_PROGRAM", name);
    if let Some(c) = &creds {
        cmd.env("HOME", &c.home)
            .env("USER", &c.name)
            .env("LOGNAME", &c.name);
    }
    cmd.envs(&config.environment);
    if let Some(dir) = &config.directory {
        cmd.current_dir(dir);
    }
    let parent = std::process::id();
    let ids = creds.map(|c| (c.uid, c.gid, c.groups));
    // SAFETY: the closure runs in the forked child before exec and makes only
    // async-signal-safe calls (sigprocmask, signal, setpgid, setgroups, setgid,
    // setuid, prctl, getppid) on data allocated before the fork.
    unsafe {
        cmd.pre_exec(move || {
            crate::signals::reset_in_child();
            if libc::setpgid(0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if let Some((uid, gid, groups)) = &ids {
                if libc::setgroups(groups.len() as _, groups.as_ptr()) != 0
                    || libc::setgid(*gid) != 0
                    || libc::setuid(*uid) != 0
                {
                    return Err(io::Error::last_os_error());
                }
            }
            // prctl is variadic and reads unsigned longs: pass exactly those.
            let (sig, zero) = (libc::SIGKILL as libc::c_ulong, 0 as libc::c_ulong);
            if libc::prctl(libc::PR_SET_PDEATHSIG, sig, zero, zero, zero) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The daemon may have died between fork and prctl: then nobody would kill us.
            if libc::getppid() as u32 != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| spawn_error(program, config, e))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(SpawnError::NoPipes);
    };
    // The Child is dropped without waiting: its exit is collected by `wait_exit`
    // and `reap`, which must stay the only ones to wait for this pid.
    Ok(Spawned {
        pid: child.id(),
        stdout,
        stderr,
    })
}

/// The uid, gid, groups and home of `user` (a name or a number). `None` when it
/// is who the daemon already is, so no switch is needed.
fn lookup_user(user: &str) -> Result<Option<Credentials>, SpawnError> {
    let cname = CString::new(user).map_err(|_| SpawnError::BadUserName(user.into()))?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: a zeroed passwd is a valid out-parameter for getpw*_r.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to live, correctly sized buffers owned here.
    let rc = unsafe {
        match user.parse::<libc::uid_t>() {
            Ok(uid) => libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result),
            Err(_) => libc::getpwnam_r(
                cname.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            ),
        }
    };
    if rc != 0 || result.is_null() {
        return Err(SpawnError::NoSuchUser(user.into()));
    }
    // SAFETY: getpw*_r succeeded, so the strings point into `buf` and are NUL-terminated.
    let (name, home) = unsafe {
        (
            std::ffi::CStr::from_ptr(pwd.pw_name)
                .to_string_lossy()
                .into_owned(),
            std::ffi::CStr::from_ptr(pwd.pw_dir)
                .to_string_lossy()
                .into_owned(),
        )
    };
    // SAFETY: plain getters.
    if unsafe { libc::geteuid() == pwd.pw_uid && libc::getegid() == pwd.pw_gid } {
        return Ok(None);
    }
    let cname = CString::new(name.clone()).map_err(|_| SpawnError::BadUserName(name.clone()))?;
    let mut groups = vec![0 as libc::gid_t; 64];
    loop {
        let mut n = groups.len() as libc::c_int;
        // SAFETY: `groups` has room for `n` entries; getgrouplist writes at most that.
        let rc =
            unsafe { libc::getgrouplist(cname.as_ptr(), pwd.pw_gid, groups.as_mut_ptr(), &mut n) };
        if rc >= 0 {
            groups.truncate(n.max(0) as usize);
            break;
        }
        if groups.len() >= 65536 {
            return Err(SpawnError::TooManyGroups(user.into()));
        }
        groups.resize((n.max(0) as usize).max(groups.len() * 2), 0);
    }
    Ok(Some(Credentials {
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
        groups,
        home,
        name,
    }))
}

/// Block until process `pid` has ended, without reaping it: the zombie keeps the
/// pid (and so the process group id) from being reused while the supervisor
/// thread still acts on it.
pub fn wait_exit(pid: u32) -> io::Result<()> {
    loop {
        // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid on our own child with a valid out-pointer.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// The status could not be collected (someone else reaped it).
    Lost,
}

impl Exit {
    /// The number for `exit_status`: the exit code, or minus the signal number
    /// (as Python's subprocess reports it, so it is never taken for a code);
    /// `None` when unknown.
    pub fn status(self) -> Option<i32> {
        match self {
            Exit::Code(c) => Some(c),
            Exit::Signal(s) => Some(-s),
            Exit::Lost => None,
        }
    }

    /// Whether `exitcodes` counts this as expected (a signal never is, as in supervisord).
    pub fn expected(self, exitcodes: &[i32]) -> bool {
        matches!(self, Exit::Code(c) if exitcodes.contains(&c))
    }

    pub fn describe(self) -> String {
        match self {
            Exit::Code(c) => format!("exited with status {c}"),
            Exit::Signal(s) => format!("was killed by {}", signal_name(s)),
            Exit::Lost => "ended (status unknown)".into(),
        }
    }
}

/// Collect the status of `pid`, which [`wait_exit`] saw end (so this does not block).
pub fn reap(pid: u32) -> Exit {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: waitpid on our own child with a valid out-pointer.
        let rc = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
        if rc == pid as libc::pid_t {
            break;
        }
        if rc < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return Exit::Lost;
    }
    if libc::WIFEXITED(status) {
        Exit::Code(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        Exit::Signal(libc::WTERMSIG(status))
    } else {
        Exit::Lost
    }
}

/// Send `sig` to every process of group `pgid`. A group already gone is no error.
pub fn signal_group(pgid: u32, sig: i32) -> io::Result<()> {
    // pgid 0 would be our own group, 1 init's: never.
    if pgid <= 1 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: killpg has no memory effects.
    let rc = unsafe { libc::killpg(pgid as libc::pid_t, sig) };
    if rc == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::ESRCH) {
        Ok(())
    } else {
        Err(e)
    }
}

/// Send `sig` to one process.
pub fn signal_pid(pid: u32, sig: i32) -> io::Result<()> {
    if pid <= 1 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: kill has no memory effects.
    if unsafe { libc::kill(pid as libc::pid_t, sig) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The parts of `/proc/<pid>/stat` the supervisor needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub state: char,
    pub pgrp: u32,
    /// Clock ticks after boot; with the pid, it names one process for good.
    pub start_time: u64,
}

pub fn proc_stat(pid: u32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parse a stat line; the command name (field 2) may hold spaces and parentheses,
/// so the fields are counted from the last `)`.
pub fn parse_stat(line: &str) -> Option<ProcStat> {
    let rest = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(ProcStat {
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// A live process (a zombie does not count: it is dead, only not yet reaped).
pub fn alive(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|s| s.state != 'Z' && s.state != 'X')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_names() {
        let line =
            "4242 (a) b (c)) S 1 4240 4240 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200";
        assert_eq!(
            parse_stat(line),
            Some(ProcStat {
                state: 'S',
                pgrp: 4240,
                start_time: 987654
            })
        );
        assert_eq!(parse_stat("garbage"), None);
        let me = proc_stat(std::process::id()).unwrap();
        assert!(me.start_time > 0);
    }

    #[test]
    fn exit_descriptions() {
        assert_eq!(Exit::Code(3).describe(), "exited with status 3");
        assert_eq!(Exit::Signal(9).describe(), "was killed by SIGKILL");
        assert_eq!(Exit::Signal(9).status(), Some(-9));
        assert!(Exit::Code(0).expected(&[0, 2]));
        assert!(!Exit::Code(1).expected(&[0, 2]));
        assert!(!Exit::Signal(15).expected(&[0, 15]));
    }

    #[test]
    fn refuses_to_signal_group_zero_or_one() {
        assert!(signal_group(0, 0).is_err());
        assert!(signal_group(1, 0).is_err());
        assert!(signal_pid(1, 0).is_err());
    }
}
