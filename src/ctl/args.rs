//! `pistack ctl` command lines.

use std::path::PathBuf;

pub const USAGE: &str = "\
usage: pistack [--config FILE] ctl [--json] [--socket PATH | --url URL [--token T] [--ca FILE]] COMMAND
  status [NAME|GROUP:*]...           programs: name, state, pid and uptime
  start|stop|restart NAME|GROUP:*|all...
  signal SIG NAME                    e.g. signal HUP web
  tail [-f] [--stderr] NAME          the end of a program's log; -f follows it
  events [-f]                        process state changes; -f waits for more
  gpio [NAME [0|1|toggle|pulse MS]]  pins; set, toggle or pulse one
  health                             the daemon's and each subsystem's health
  users                              the users and their levels
  passwd NAME                        set NAME's password from the first line of stdin
  reload                             re-read the config; apply added, changed, removed programs and pins

The local socket needs root or group pistack; --url (e.g. http://board:8080) needs
a token: --token or $PISTACK_TOKEN. An https:// URL is checked against the
system's CA certificates, or --ca FILE ($PISTACK_CA): the daemon's own certificate
when it is self-signed (<state_dir>/tls/cert.pem), or a private CA. Exit codes: 0 ok, 1 an action failed, 2 usage,
3 status: a program is not running, 4 status: no such program or group,
5 permission denied, 7 the daemon is not reachable.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gpio {
    List,
    Show(String),
    Set(String, u8),
    Toggle(String),
    Pulse(String, u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Status(Vec<String>),
    /// `start`, `stop` or `restart`, and the names.
    Act(Action, Vec<String>),
    Signal(String, String),
    Tail {
        follow: bool,
        stderr: bool,
        name: String,
    },
    Events {
        follow: bool,
    },
    Gpio(Gpio),
    Health,
    Users,
    Passwd(String),
    Reload,
    Help,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Restart,
}

impl Action {
    pub fn verb(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart => "restart",
        }
    }
}

#[derive(Debug, Default)]
pub struct Options {
    pub json: bool,
    pub socket: Option<PathBuf>,
    pub url: Option<String>,
    pub token: Option<String>,
    /// `--ca FILE`: the roots an https:// URL is checked against.
    pub ca: Option<PathBuf>,
}

/// Options anywhere on the line, then the command and its words.
pub fn parse(words: Vec<String>) -> Result<(Options, Command), String> {
    let mut o = Options::default();
    let mut rest = Vec::new();
    let mut it = words.into_iter();
    while let Some(w) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("{flag} needs a value"));
        match w.as_str() {
            "--json" => o.json = true,
            "--socket" => o.socket = Some(value("--socket")?.into()),
            "--url" => o.url = Some(value("--url")?),
            "--token" => o.token = Some(value("--token")?),
            "--ca" => o.ca = Some(value("--ca")?.into()),
            _ => rest.push(w),
        }
    }
    let cmd = command(&rest)?;
    Ok((o, cmd))
}

fn command(w: &[String]) -> Result<Command, String> {
    let words: Vec<&str> = w.iter().map(String::as_str).collect();
    let names = |from: usize| w[from..].to_vec();
    let wrong = || {
        format!(
            "wrong arguments for {:?}; see pistack ctl help",
            w.join(" ")
        )
    };
    Ok(match words.as_slice() {
        [] | ["help"] | ["-h"] | ["--help"] => Command::Help,
        ["status", ..] => Command::Status(names(1)),
        [verb @ ("start" | "stop" | "restart"), _, ..] => {
            let action = match *verb {
                "start" => Action::Start,
                "stop" => Action::Stop,
                _ => Action::Restart,
            };
            Command::Act(action, names(1))
        }
        ["signal", sig, name] => Command::Signal(sig.to_string(), name.to_string()),
        ["tail", rest @ ..] => {
            let (mut follow, mut stderr, mut name) = (false, false, None);
            for a in rest {
                match *a {
                    "-f" => follow = true,
                    "--stderr" | "stderr" => stderr = true,
                    "stdout" => {}
                    n if !n.starts_with('-') && name.is_none() => name = Some(n.to_string()),
                    _ => return Err(wrong()),
                }
            }
            Command::Tail {
                follow,
                stderr,
                name: name.ok_or_else(wrong)?,
            }
        }
        ["events"] => Command::Events { follow: false },
        ["events", "-f"] => Command::Events { follow: true },
        ["gpio"] => Command::Gpio(Gpio::List),
        ["gpio", name] => Command::Gpio(Gpio::Show(name.to_string())),
        ["gpio", name, "0"] => Command::Gpio(Gpio::Set(name.to_string(), 0)),
        ["gpio", name, "1"] => Command::Gpio(Gpio::Set(name.to_string(), 1)),
        ["gpio", name, "toggle"] => Command::Gpio(Gpio::Toggle(name.to_string())),
        ["gpio", name, "pulse", ms] => {
            let ms = ms
                .parse()
                .map_err(|_| format!("pulse takes milliseconds, not {ms:?}"))?;
            Command::Gpio(Gpio::Pulse(name.to_string(), ms))
        }
        ["health"] => Command::Health,
        ["users"] => Command::Users,
        ["passwd", name] => Command::Passwd(name.to_string()),
        ["reload"] => Command::Reload,
        _ => return Err(wrong()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Command, String> {
        parse(line.split_whitespace().map(String::from).collect()).map(|(_, c)| c)
    }

    #[test]
    fn command_lines() {
        assert_eq!(p("status").unwrap(), Command::Status(vec![]));
        assert_eq!(
            p("--json restart web g:*").unwrap(),
            Command::Act(Action::Restart, vec!["web".into(), "g:*".into()])
        );
        assert_eq!(
            p("tail -f --stderr web").unwrap(),
            Command::Tail {
                follow: true,
                stderr: true,
                name: "web".into()
            }
        );
        assert_eq!(
            p("gpio led pulse 50").unwrap(),
            Command::Gpio(Gpio::Pulse("led".into(), 50))
        );
        for bad in [
            "start",
            "signal HUP",
            "gpio led 2",
            "tail",
            "frob",
            "gpio led pulse x",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
        let (o, _) = parse(vec!["--url".into(), "http://x".into(), "health".into()]).unwrap();
        assert_eq!(o.url.as_deref(), Some("http://x"));
        assert!(parse(vec!["--url".into()]).is_err());
    }
}
