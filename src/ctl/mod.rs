//! `pistack ctl`: the command line for a running daemon (docs/api.md, "Command
//! line"). It speaks the JSON API, over the local control socket or `--url`;
//! [`args`] reads the command line, [`client`] carries requests, [`output`]
//! lays out answers.

mod args;
mod client;
mod output;

use args::{Action, Command, Gpio, Options};
use client::{Response, Target};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Exit codes (documented in [`args::USAGE`]): supervisorctl's where it has one.
pub const OK: i32 = 0;
pub const FAILED: i32 = 1;
pub const USAGE: i32 = 2;
pub const NOT_RUNNING: i32 = 3;
pub const NO_SUCH_NAME: i32 = 4;
pub const DENIED: i32 = 5;
pub const UNREACHABLE: i32 = 7;

/// Run `pistack ctl WORDS`; the exit code.
pub fn run(config: &Path, words: Vec<String>) -> i32 {
    // `pistack ctl events -f | head` ends quietly, as other command-line tools do,
    // rather than with a panic on the closed pipe.
    // SAFETY: setting a signal's disposition to the default has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let (options, command) = match args::parse(words) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("pistack ctl: {e}\n{}", args::USAGE);
            return USAGE;
        }
    };
    if command == Command::Help {
        println!("{}", args::USAGE);
        return OK;
    }
    let ctl = Ctl {
        target: target(config, &options),
        json: options.json,
    };
    match ctl.run(&command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pistack ctl: {e}");
            match e {
                client::Error::Unreachable(_) => UNREACHABLE,
                client::Error::Denied(_) => DENIED,
                client::Error::Protocol(_) => FAILED,
            }
        }
    }
}

/// `--url` (with `--token` or `$PISTACK_TOKEN`), else the socket: `--socket`,
/// `$PISTACK_SOCKET`, the config's `control.socket`, where the daemon puts it by
/// default when that exists (the client has no `$RUNTIME_DIRECTORY`: under
/// systemd that is `/run/pistack/`), else `/run/pistack/control.sock`.
fn target(config: &Path, o: &Options) -> Target {
    if let Some(url) = &o.url {
        let token = o
            .token
            .clone()
            .or_else(|| std::env::var("PISTACK_TOKEN").ok());
        return Target::Url {
            base: url.clone(),
            token,
            ca: o
                .ca
                .clone()
                .or_else(|| std::env::var_os("PISTACK_CA").map(PathBuf::from)),
        };
    }
    if let Some(s) = o
        .socket
        .clone()
        .or_else(|| std::env::var_os("PISTACK_SOCKET").map(PathBuf::from))
    {
        return Target::Socket(s);
    }
    let loaded = crate::config::load(config).ok();
    if let Some(s) = loaded.as_ref().and_then(|c| c.control.socket.clone()) {
        return Target::Socket(s);
    }
    let run = PathBuf::from("/run/pistack/control.sock");
    match loaded.map(|c| c.control_socket()) {
        Some(own) if own.exists() || !run.exists() => Target::Socket(own),
        _ => Target::Socket(run),
    }
}

struct Ctl {
    target: Target,
    json: bool,
}

type Outcome = Result<i32, client::Error>;

fn seg(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Ctl {
    fn run(&self, command: &Command) -> Outcome {
        match command {
            Command::Status(names) => self.status(names),
            Command::Act(action, names) => self.act(*action, names),
            Command::Signal(sig, name) => {
                let path = format!("/api/supervisor/processes/{}/signal", seg(name));
                let r = self.call("POST", &path, Some(&json!({ "signal": sig })))?;
                self.report(&r, &format!("{name}: signalled"))
            }
            Command::Tail {
                follow,
                stderr,
                name,
            } => self.tail(*follow, *stderr, name),
            Command::Events { follow } => self.events(*follow),
            Command::Gpio(g) => self.gpio(g),
            Command::Health => {
                let r = self.call("GET", "/api/health", None)?;
                let ok = r.json()["status"] == "ok";
                if self.json {
                    println!("{}", r.json());
                } else {
                    println!("{}", r.json()["status"].as_str().unwrap_or("unknown"));
                    if let Some(subs) = r.json()["subsystems"].as_object() {
                        for (k, v) in subs {
                            println!("  {k:<12}{}", v.as_str().unwrap_or(""));
                        }
                    }
                }
                Ok(if ok { OK } else { FAILED })
            }
            Command::Users => {
                let r = self.call("GET", "/api/auth/users", None)?;
                if r.status != 200 {
                    return self.report(&r, "");
                }
                self.list(&r, |u| {
                    format!(
                        "{:<33}{:<10}{}",
                        u["name"].as_str().unwrap_or(""),
                        u["level"].as_str().unwrap_or(""),
                        u["id"].as_str().unwrap_or("")
                    )
                })
            }
            Command::Passwd(name) => self.passwd(name),
            Command::Reload => self.reload(),
            Command::Help => Ok(OK),
        }
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response, client::Error> {
        let r = self.target.call(method, path, body)?;
        match r.status {
            401 | 403 => Err(client::Error::Denied(r.message())),
            _ => Ok(r),
        }
    }

    /// 2xx: print `done` (or the JSON answer); otherwise the daemon's message.
    fn report(&self, r: &Response, done: &str) -> Outcome {
        if self.json {
            println!("{}", r.json());
        } else if (200..300).contains(&r.status) {
            println!("{done}");
        } else {
            eprintln!("pistack ctl: {}", r.message());
        }
        Ok(if (200..300).contains(&r.status) {
            OK
        } else {
            FAILED
        })
    }

    /// Each element of a JSON array answer on its own line (or the array as JSON).
    fn list(&self, r: &Response, line: impl Fn(&Value) -> String) -> Outcome {
        if r.status != 200 {
            return self.report(r, "");
        }
        let v = r.json();
        if self.json {
            println!("{v}");
        } else {
            for item in v.as_array().into_iter().flatten() {
                println!("{}", line(item));
            }
        }
        Ok(OK)
    }

    fn processes(&self) -> Result<Vec<Value>, client::Error> {
        let r = self.call("GET", "/api/supervisor/processes", None)?;
        match r.json() {
            Value::Array(list) if r.status == 200 => Ok(list),
            _ => Err(client::Error::Protocol(r.message())),
        }
    }

    /// supervisorctl's `status`: exit 3 when a shown program is not running, 4
    /// when a name matches nothing.
    fn status(&self, names: &[String]) -> Outcome {
        let all = self.processes()?;
        let mut code = OK;
        let shown: Vec<Value> = if names.is_empty() || names.iter().any(|n| n == "all") {
            all
        } else {
            let mut shown = Vec::new();
            for n in names {
                let found = select(&all, n);
                if found.is_empty() {
                    let what = if n.ends_with(":*") {
                        "no such group"
                    } else {
                        "no such process"
                    };
                    eprintln!("{n}: ERROR ({what})");
                    code = NO_SUCH_NAME;
                }
                shown.extend(found);
            }
            shown
        };
        if self.json {
            println!("{}", Value::Array(shown.clone()));
        } else {
            print!("{}", output::status_lines(&shown, crate::events::now_s()));
        }
        let stopped = |p: &Value| {
            matches!(
                p["state"].as_str(),
                Some("STOPPED" | "EXITED" | "FATAL" | "UNKNOWN")
            )
        };
        if code == OK && shown.iter().any(stopped) {
            code = NOT_RUNNING;
        }
        Ok(code)
    }

    /// `start|stop|restart NAME|GROUP:*|all`: one line per program, as
    /// supervisorctl (`web: started`, `web: ERROR (already started)`).
    fn act(&self, action: Action, names: &[String]) -> Outcome {
        let all = self.processes()?;
        let mut code = OK;
        let mut results = Vec::new();
        for n in names {
            let group = n == "all" || n.ends_with(":*");
            let targets = select(&all, n);
            if targets.is_empty() {
                println!(
                    "{n}: ERROR (no such {})",
                    if group { "group" } else { "process" }
                );
                code = FAILED;
            }
            for p in targets {
                let running = matches!(
                    p["state"].as_str(),
                    Some("STARTING" | "RUNNING" | "BACKOFF")
                );
                // As supervisord's group calls: only what needs it.
                let skip = group
                    && ((action == Action::Start && running)
                        || (action == Action::Stop && !running));
                if skip {
                    continue;
                }
                let (ok, line, answer) = self.act_one(action, &p)?;
                if !ok {
                    code = FAILED;
                }
                if !self.json {
                    println!("{line}");
                }
                results
                    .push(json!({"name": p["name"], "ok": ok, "message": line, "process": answer}));
            }
        }
        if self.json {
            println!("{}", Value::Array(results));
        }
        Ok(code)
    }

    fn act_one(&self, action: Action, p: &Value) -> Result<(bool, String, Value), client::Error> {
        let name = p["name"].as_str().unwrap_or("");
        let spec = output::namespec(p);
        let path = format!("/api/supervisor/processes/{}/{}", seg(name), action.verb());
        let r = self.call("POST", &path, None)?;
        let answer = r.json();
        if r.status != 200 {
            let why = match (action, r.status) {
                (Action::Start, 409) => "already started".to_string(),
                (Action::Stop, 409) => "not running".to_string(),
                (_, 404) => "no such process".to_string(),
                _ => r.message(),
            };
            return Ok((false, format!("{spec}: ERROR ({why})"), answer));
        }
        let state = answer["state"].as_str().unwrap_or("");
        Ok(match (action, state) {
            (Action::Stop, _) => (true, format!("{spec}: stopped"), answer),
            (_, "RUNNING") => {
                let prefix = if action == Action::Restart {
                    format!("{spec}: stopped\n")
                } else {
                    String::new()
                };
                (true, format!("{prefix}{spec}: started"), answer)
            }
            _ => (false, format!("{spec}: ERROR (spawn error)"), answer),
        })
    }

    fn tail(&self, follow: bool, stderr: bool, name: &str) -> Outcome {
        let stream = if stderr { "stderr" } else { "stdout" };
        if follow {
            use std::io::Write;
            let path = format!("/logtail/{}/{stream}", seg(name));
            let mut out = std::io::stdout();
            self.target.stream(&path, |data| {
                let _ = out.write_all(data);
                let _ = out.flush();
            })?;
            return Ok(OK);
        }
        let path = format!(
            "/api/supervisor/processes/{}/log?stream={stream}&bytes=1600",
            seg(name)
        );
        let r = self.call("GET", &path, None)?;
        if r.status != 200 {
            eprintln!("{name}: ERROR ({})", r.message());
            return Ok(FAILED);
        }
        if self.json {
            println!(
                "{}",
                json!({ "name": name, "stream": stream, "text": String::from_utf8_lossy(&r.body) })
            );
        } else {
            print!("{}", String::from_utf8_lossy(&r.body));
        }
        Ok(OK)
    }

    /// Events oldest first; with `follow`, ask again for newer ones every half second.
    fn events(&self, follow: bool) -> Outcome {
        let mut after = 0;
        loop {
            let r = self.call(
                "GET",
                &format!("/api/supervisor/events?after={after}&limit=1000"),
                None,
            )?;
            if r.status != 200 {
                return self.report(&r, "");
            }
            let list = r.json();
            let list = list.as_array().cloned().unwrap_or_default();
            for e in &list {
                after = after.max(e["seq"].as_u64().unwrap_or(0));
                if self.json {
                    println!("{e}");
                } else {
                    println!("{}", output::event_line(e));
                }
            }
            if !follow {
                return Ok(OK);
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }

    fn gpio(&self, g: &Gpio) -> Outcome {
        let pin = |name: &str| format!("/api/io/gpio/{}", seg(name));
        let r = match g {
            Gpio::List => {
                let r = self.call("GET", "/api/io/gpio", None)?;
                return self.list(&r, output::pin_line);
            }
            Gpio::Show(n) => self.call("GET", &pin(n), None)?,
            Gpio::Set(n, v) => self.call("PUT", &pin(n), Some(&json!({ "value": v })))?,
            Gpio::Toggle(n) => self.call("POST", &format!("{}/toggle", pin(n)), None)?,
            Gpio::Pulse(n, ms) => self.call(
                "POST",
                &format!("{}/pulse", pin(n)),
                Some(&json!({ "ms": ms })),
            )?,
        };
        self.report(&r, &output::pin_line(&r.json()))
    }

    /// The new password is the first line of stdin (so it is not in `ps`).
    fn passwd(&self, name: &str) -> Outcome {
        let mut line = String::new();
        if std::io::stdin().read_line(&mut line).is_err()
            || line.trim_end_matches(['\n', '\r']).is_empty()
        {
            eprintln!("pistack ctl: give the new password on the first line of stdin");
            return Ok(USAGE);
        }
        let password = line.trim_end_matches(['\n', '\r']);
        let users = self.call("GET", "/api/auth/users", None)?;
        let user = users
            .json()
            .as_array()
            .into_iter()
            .flatten()
            .find(|u| u["name"] == name)
            .cloned();
        let Some(id) = user.as_ref().and_then(|u| u["id"].as_str()) else {
            eprintln!("pistack ctl: no user named {name:?}; pistack ctl users lists them");
            return Ok(FAILED);
        };
        let r = self.call(
            "PATCH",
            &format!("/api/auth/users/{}", seg(id)),
            Some(&json!({ "password": password })),
        )?;
        self.report(
            &r,
            &format!("password of {name} changed; their sessions are ended"),
        )
    }

    /// supervisorctl `update`'s lines for programs, then a line per pin and
    /// one for the TLS certificate when there is one.
    fn reload(&self) -> Outcome {
        let r = self.call("POST", "/api/supervisor/reload", None)?;
        if self.json || r.status != 200 {
            return self.report(&r, "");
        }
        let c = r.json();
        let names = |v: &Value, k: &str| -> Vec<String> {
            let list = v[k].as_array().cloned().unwrap_or_default();
            list.iter()
                .filter_map(|n| n.as_str().map(String::from))
                .collect()
        };
        let kinds = ["removed", "changed", "added"];
        if kinds
            .iter()
            .all(|k| names(&c, k).is_empty() && names(&c["pins"], k).is_empty())
        {
            println!("no changes");
        }
        for n in names(&c, "removed") {
            println!("{n}: stopped\n{n}: removed process group");
        }
        for n in names(&c, "changed") {
            println!("{n}: stopped\n{n}: updated process group");
        }
        for n in names(&c, "added") {
            println!("{n}: added process group");
        }
        for k in kinds {
            for n in names(&c["pins"], k) {
                println!("{n}: {k} pin");
            }
        }
        match (c["tls"]["state"].as_str(), c["tls"]["error"].as_str()) {
            (Some("reloaded"), _) => println!("TLS certificate reloaded"),
            (Some("kept"), Some(e)) => println!("TLS certificate kept; the new one failed: {e}"),
            _ => {}
        }
        Ok(OK)
    }
}

/// The programs `spec` names: `all`, `GROUP:*`, `GROUP:NAME` or `NAME`.
fn select(all: &[Value], spec: &str) -> Vec<Value> {
    let pick = |f: &dyn Fn(&Value) -> bool| all.iter().filter(|p| f(p)).cloned().collect();
    match spec.split_once(':') {
        _ if spec == "all" => all.to_vec(),
        Some((g, "*")) => pick(&|p| p["group"] == g),
        Some((g, n)) => pick(&|p| p["group"] == g && p["name"] == n),
        None => pick(&|p| p["name"] == spec),
    }
}
