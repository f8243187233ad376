//! The `rules` section: each rule is read from JSON into a typed [`Rule`] by one
//! function, [`parse_rule`], which is also the validator: `check-config` and the
//! daemon's start say the same, and a rule that starts is a rule that checked.
//!
//! Problems name the rule's index and the key path (`rules[2]: then[1].gpio_set.pin: ...`).

use crate::config::Config;
use crate::gpio::config::{Direction, Edge};
use crate::supervisor::state::State;
use serde_json::{Map, Value};

/// One raw rule of the file; typed by [`parse_rule`].
pub type RuleConfig = Value;

/// How long a webhook may take (connect, send, answer) unless the rule says.
pub const HTTP_TIMEOUT_S: u64 = 5;
/// The longest `http.timeout_s` a rule may ask for.
const HTTP_TIMEOUT_MAX_S: u64 = 60;

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The `name`, else `rule N`.
    pub name: String,
    pub when: When,
    pub then: Vec<Action>,
    pub cooldown_s: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct When {
    pub trigger: Trigger,
    /// Fire only on the `count`-th trigger within `within_s` (1: every trigger).
    pub count: u32,
    pub within_s: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    Process {
        /// `None` for `"*"`.
        program: Option<String>,
        /// `None`: any state.
        to: Option<State>,
        from: Option<State>,
        /// Only exits whose code is not in `exitcodes`.
        unexpected: bool,
    },
    Gpio {
        pin: String,
        /// Rising, falling or both.
        edge: Edge,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Email {
        to: Vec<String>,
        subject: String,
        body: String,
    },
    Start(String),
    Stop(String),
    Restart(String),
    GpioSet {
        pin: String,
        value: u8,
    },
    GpioToggle(String),
    GpioPulse {
        pin: String,
        ms: u64,
        value: u8,
    },
    Http {
        url: String,
        method: String,
        /// `None`: the event as JSON.
        body: Option<String>,
        timeout_s: u64,
    },
    Log(String),
}

impl Action {
    /// The action's key in the file, for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Email { .. } => "email",
            Action::Start(_) => "start",
            Action::Stop(_) => "stop",
            Action::Restart(_) => "restart",
            Action::GpioSet { .. } => "gpio_set",
            Action::GpioToggle(_) => "gpio_toggle",
            Action::GpioPulse { .. } => "gpio_pulse",
            Action::Http { .. } => "http",
            Action::Log(_) => "log",
        }
    }
}

/// The action keys; `webhook` is another name of `http`.
pub const ACTIONS: [&str; 10] = [
    "email",
    "start",
    "stop",
    "restart",
    "gpio_set",
    "gpio_toggle",
    "gpio_pulse",
    "http",
    "log",
    "webhook",
];

/// Placeholders every rule may use.
const COMMON_PLACEHOLDERS: [&str; 3] = ["rule", "hostname", "time"];
/// Placeholders of a process trigger.
pub const PROCESS_PLACEHOLDERS: [&str; 7] = [
    "name",
    "from",
    "to",
    "pid",
    "exit_status",
    "message",
    "log_tail",
];
/// Placeholders of a GPIO trigger.
pub const GPIO_PLACEHOLDERS: [&str; 3] = ["pin", "edge", "value"];

/// Every rule of the config, typed; or every problem of every rule.
pub fn parse_all(config: &Config) -> Result<Vec<Rule>, Vec<String>> {
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    let mut names: Vec<Option<String>> = Vec::new();
    for (i, raw) in config.rules.iter().enumerate() {
        let name = raw.get("name").and_then(Value::as_str);
        // Names label the rule's metrics and logs: two alike would be one series.
        if let Some(first) = name.and_then(|n| names.iter().position(|m| m.as_deref() == Some(n))) {
            problems.push(format!(
                "rules[{i}]: name: {:?} is rules[{first}]'s name too",
                name.unwrap_or("")
            ));
        }
        names.push(name.map(String::from));
        match parse_rule(i, raw, config) {
            Ok(r) => rules.push(r),
            Err(p) => problems.extend(p),
        }
    }
    if problems.is_empty() {
        Ok(rules)
    } else {
        Err(problems)
    }
}

/// The problems of every rule, for `Config::validate`.
pub fn validate(config: &Config) -> Vec<String> {
    parse_all(config).err().unwrap_or_default()
}

/// Rule `i`, checked for shape and for names of programs, pins, placeholders
/// and actions that exist.
pub fn parse_rule(i: usize, raw: &Value, config: &Config) -> Result<Rule, Vec<String>> {
    let mut p = Problems::default();
    let Some(obj) = raw.as_object() else {
        p.push("must be an object with \"when\" and \"then\"".to_string());
        return Err(p.at_rule(i));
    };
    for key in obj.keys() {
        if !["name", "when", "then", "cooldown_s"].contains(&key.as_str()) {
            p.push(format!(
                "unknown key {key:?} (expected name, when, then, cooldown_s)"
            ));
        }
    }
    let name = match obj.get("name") {
        None => format!("rule {i}"),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => {
            p.push("name: a non-empty string".into());
            String::new()
        }
    };
    let cooldown_s = match obj.get("cooldown_s") {
        None => 0,
        Some(v) => v.as_u64().unwrap_or_else(|| {
            p.push("cooldown_s: a whole number of seconds".into());
            0
        }),
    };
    let when = match obj.get("when").and_then(Value::as_object) {
        Some(when) => parse_when(when, config, &mut p),
        None => {
            p.push("when: missing or not an object".into());
            None
        }
    };
    let allowed = placeholders_of(when.as_ref().map(|w| &w.trigger));
    let then = parse_then(obj.get("then"), config, &allowed, &mut p);
    match when {
        Some(when) if p.0.is_empty() => Ok(Rule {
            name,
            when,
            then,
            cooldown_s,
        }),
        _ => Err(p.at_rule(i)),
    }
}

#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, s: String) {
        self.0.push(s);
    }

    fn at_rule(self, i: usize) -> Vec<String> {
        self.0
            .into_iter()
            .map(|p| format!("rules[{i}]: {p}"))
            .collect()
    }
}

/// The placeholders a rule with this trigger may use (all, when the trigger is bad:
/// its own problem is reported already).
fn placeholders_of(trigger: Option<&Trigger>) -> Vec<&'static str> {
    let mut all: Vec<&'static str> = COMMON_PLACEHOLDERS.to_vec();
    match trigger {
        Some(Trigger::Process { .. }) => all.extend(PROCESS_PLACEHOLDERS),
        Some(Trigger::Gpio { .. }) => all.extend(GPIO_PLACEHOLDERS),
        None => {
            all.extend(PROCESS_PLACEHOLDERS);
            all.extend(GPIO_PLACEHOLDERS);
        }
    }
    all
}

/// `{word}` placeholders of `text` (a word: lowercase letters and `_`); other
/// braces, such as a JSON body's, are text.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close)
                if close > 0
                    && after[..close]
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'_') =>
            {
                found.push(&after[..close]);
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    found
}

fn parse_when(when: &Map<String, Value>, config: &Config, p: &mut Problems) -> Option<When> {
    for key in when.keys() {
        let known = [
            "process",
            "to",
            "from",
            "unexpected",
            "gpio",
            "edge",
            "count",
            "within_s",
        ];
        if !known.contains(&key.as_str()) {
            p.push(format!(
                "when: unknown key {key:?} (expected {})",
                known.join(", ")
            ));
        }
    }
    let trigger = if let Some(program) = when.get("process") {
        parse_process_trigger(program, when, config, p)
    } else if let Some(pin) = when.get("gpio") {
        parse_gpio_trigger(pin, when, config, p)
    } else {
        p.push("when: needs \"process\" or \"gpio\"".into());
        None
    };
    let count = match when.get("count") {
        None => 1,
        Some(v) => match v.as_u64().filter(|n| (1..=1000).contains(n)) {
            Some(n) => n as u32,
            None => {
                p.push("when.count: a whole number from 1 to 1000".into());
                1
            }
        },
    };
    let within_s = match when.get("within_s") {
        None if count > 1 => {
            p.push("when.within_s: needed with count above 1 (the window to count in)".into());
            0
        }
        None => 0,
        Some(v) => match v.as_u64().filter(|n| *n >= 1) {
            Some(n) => n,
            None => {
                p.push("when.within_s: a whole number of seconds, at least 1".into());
                0
            }
        },
    };
    Some(When {
        trigger: trigger?,
        count,
        within_s,
    })
}

fn parse_process_trigger(
    program: &Value,
    when: &Map<String, Value>,
    config: &Config,
    p: &mut Problems,
) -> Option<Trigger> {
    let program = match program.as_str() {
        Some("*") => None,
        Some(name) if config.programs.contains_key(name) => Some(name.to_string()),
        Some(name) => {
            p.push(format!("when.process: no program named {name:?}"));
            Some(name.to_string())
        }
        None => {
            p.push("when.process: a program's name or \"*\"".into());
            None
        }
    };
    let mut state = |k: &str| match when.get(k) {
        None => None,
        Some(s) => {
            let state = s.as_str().and_then(State::from_name);
            if state.is_none() {
                p.push(format!("when.{k}: not a process state"));
            }
            state
        }
    };
    let (to, from) = (state("to"), state("from"));
    let unexpected = match when.get("unexpected") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            p.push("when.unexpected: true or false".into());
            false
        }
    };
    if when.contains_key("edge") {
        p.push("when.edge: only with \"gpio\"".into());
    }
    Some(Trigger::Process {
        program,
        to,
        from,
        unexpected,
    })
}

fn parse_gpio_trigger(
    pin: &Value,
    when: &Map<String, Value>,
    config: &Config,
    p: &mut Problems,
) -> Option<Trigger> {
    let Some(pin) = pin.as_str() else {
        p.push("when.gpio: a pin's name".into());
        return None;
    };
    if !config.gpio.pins.contains_key(pin) {
        p.push(format!("when.gpio: no pin named {pin:?}"));
    }
    let edge = when.get("edge").cloned().unwrap_or(Value::from("both"));
    let edge = match serde_json::from_value::<Edge>(edge.clone()) {
        Ok(e @ (Edge::Rising | Edge::Falling | Edge::Both)) => e,
        _ => {
            p.push(format!("when.edge: {edge} is not rising, falling or both"));
            Edge::Both
        }
    };
    for k in ["to", "from", "unexpected"] {
        if when.contains_key(k) {
            p.push(format!("when.{k}: only with \"process\""));
        }
    }
    Some(Trigger::Gpio {
        pin: pin.to_string(),
        edge,
    })
}

/// The actions: a non-empty list, each an object with one known key whose
/// argument has the right shape.
fn parse_then(
    then: Option<&Value>,
    config: &Config,
    allowed: &[&str],
    p: &mut Problems,
) -> Vec<Action> {
    let Some(list) = then.and_then(Value::as_array).filter(|a| !a.is_empty()) else {
        p.push("then: a non-empty list of actions".into());
        return Vec::new();
    };
    let mut actions = Vec::new();
    for (j, action) in list.iter().enumerate() {
        let one = action.as_object().filter(|a| a.len() == 1);
        let Some((kind, arg)) = one.and_then(|a| a.iter().next()) else {
            p.push(format!("then[{j}]: one of {}", ACTIONS.join(", ")));
            continue;
        };
        let at = format!("then[{j}].{kind}");
        let mut ctx = ActionCtx {
            at: &at,
            config,
            allowed,
            p,
        };
        if let Some(a) = ctx.parse(kind, arg) {
            actions.push(a);
        }
    }
    actions
}

/// What checking one action needs: its key path, the config and the placeholders.
struct ActionCtx<'a> {
    at: &'a str,
    config: &'a Config,
    allowed: &'a [&'a str],
    p: &'a mut Problems,
}

impl ActionCtx<'_> {
    fn parse(&mut self, kind: &str, arg: &Value) -> Option<Action> {
        Some(match kind {
            "email" => self.email(arg)?,
            "start" => Action::Start(self.program(arg)?),
            "stop" => Action::Stop(self.program(arg)?),
            "restart" => Action::Restart(self.program(arg)?),
            "gpio_toggle" => Action::GpioToggle(self.output_pin(arg, "")?),
            "gpio_set" => {
                let obj = self.object(arg, &["pin", "value"])?;
                let pin = self.output_pin(obj.get("pin")?, ".pin")?;
                let value = self.level(obj.get("value"), ".value", None)?;
                Action::GpioSet { pin, value }
            }
            "gpio_pulse" => {
                let obj = self.object(arg, &["pin", "ms", "value"])?;
                let pin = self.output_pin(obj.get("pin")?, ".pin")?;
                let value = self.level(obj.get("value"), ".value", Some(1))?;
                let ms = obj.get("ms").and_then(Value::as_u64).unwrap_or(0);
                if let Err(e) = crate::gpio::pulse_length(ms) {
                    return self.fail(format!(".{e}"));
                }
                Action::GpioPulse { pin, ms, value }
            }
            "http" | "webhook" => self.http(arg)?,
            "log" => Action::Log(self.text(Some(arg), "")?),
            other => {
                return self.fail(format!(
                    ": unknown action {other:?} (one of {})",
                    ACTIONS.join(", ")
                ))
            }
        })
    }

    fn fail<T>(&mut self, what: String) -> Option<T> {
        self.p.push(format!("{}{what}", self.at));
        None
    }

    /// An object with only `keys`; each missing key of `required` is a problem.
    fn object<'v>(&mut self, arg: &'v Value, keys: &[&str]) -> Option<&'v Map<String, Value>> {
        let Some(obj) = arg.as_object() else {
            return self.fail(format!(": an object with {}", keys.join(", ")));
        };
        for k in obj.keys() {
            if !keys.contains(&k.as_str()) {
                self.fail::<()>(format!(
                    ": unknown key {k:?} (expected {})",
                    keys.join(", ")
                ));
            }
        }
        if keys.first().is_some_and(|k| !obj.contains_key(*k)) {
            return self.fail(format!(".{}: missing", keys[0]));
        }
        Some(obj)
    }

    fn program(&mut self, arg: &Value) -> Option<String> {
        match arg.as_str() {
            Some(name) if self.config.programs.contains_key(name) => Some(name.to_string()),
            Some(name) => self.fail(format!(": no program named {name:?}")),
            None => self.fail(": a program's name".into()),
        }
    }

    fn output_pin(&mut self, arg: &Value, key: &str) -> Option<String> {
        let Some(name) = arg.as_str() else {
            return self.fail(format!("{key}: a pin's name"));
        };
        match self.config.gpio.pins.get(name) {
            Some(pin) if pin.direction == Direction::Out => Some(name.to_string()),
            Some(_) => self.fail(format!(
                "{key}: pin {name:?} is an input; only an output can be set"
            )),
            None => self.fail(format!("{key}: no pin named {name:?}")),
        }
    }

    fn level(&mut self, v: Option<&Value>, key: &str, default: Option<u8>) -> Option<u8> {
        match (v.map(Value::as_u64), default) {
            (None, Some(d)) => Some(d),
            (Some(Some(n @ 0..=1)), _) => Some(n as u8),
            _ => self.fail(format!("{key}: 0 or 1")),
        }
    }

    /// A string whose placeholders this rule's trigger has.
    fn text(&mut self, v: Option<&Value>, key: &str) -> Option<String> {
        let Some(s) = v.and_then(Value::as_str) else {
            return self.fail(format!("{key}: a string"));
        };
        let unknown: Vec<String> = placeholders(s)
            .into_iter()
            .filter(|w| !self.allowed.contains(w))
            .map(|w| format!("{{{w}}}"))
            .collect();
        if !unknown.is_empty() {
            let known: Vec<String> = self.allowed.iter().map(|w| format!("{{{w}}}")).collect();
            return self.fail(format!(
                "{key}: unknown placeholder {} (this rule's trigger has {})",
                unknown.join(", "),
                known.join(", ")
            ));
        }
        Some(s.to_string())
    }

    fn email(&mut self, arg: &Value) -> Option<Action> {
        let obj = self.object(arg, &["to", "subject", "body"])?;
        let to: Vec<String> = match obj.get("to") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_string) => a
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            _ => return self.fail(".to: an address or a non-empty list of addresses".into()),
        };
        if let Some(bad) = to.iter().find(|a| a.parse::<lettre::Address>().is_err()) {
            return self.fail(format!(".to: {bad:?} is not an e-mail address"));
        }
        let default_subject = Value::from("pistack rule {rule} on {hostname}");
        let subject = self.text(
            Some(obj.get("subject").unwrap_or(&default_subject)),
            ".subject",
        );
        let body = match obj.get("body") {
            None => Some(String::new()),
            v => self.text(v, ".body"),
        };
        if self.config.email.smtp.is_none() {
            return self.fail(": no email.smtp in the config, so no mail could go out".into());
        }
        Some(Action::Email {
            to,
            subject: subject?,
            body: body?,
        })
    }

    fn http(&mut self, arg: &Value) -> Option<Action> {
        let obj = self.object(arg, &["url", "method", "body", "timeout_s"])?;
        let url = obj.get("url").and_then(Value::as_str).unwrap_or("");
        if !plausible_url(url) {
            return self.fail(format!(".url: {url:?} is not an http:// or https:// URL"));
        }
        let method = match obj.get("method").map(Value::as_str) {
            None => "POST".to_string(),
            Some(Some(m @ ("GET" | "POST" | "PUT"))) => m.to_string(),
            Some(_) => return self.fail(".method: GET, POST or PUT".into()),
        };
        let body = match obj.get("body") {
            None => None,
            v => Some(self.text(v, ".body")?),
        };
        let timeout_s = match obj.get("timeout_s") {
            None => HTTP_TIMEOUT_S,
            Some(v) => match v.as_u64().filter(|n| (1..=HTTP_TIMEOUT_MAX_S).contains(n)) {
                Some(n) => n,
                None => return self.fail(format!(".timeout_s: 1 to {HTTP_TIMEOUT_MAX_S}")),
            },
        };
        Some(Action::Http {
            url: url.to_string(),
            method,
            body,
            timeout_s,
        })
    }
}

/// `http(s)://host[:port][/path]` with a host and no spaces: what ureq can try.
fn plausible_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !host.starts_with(':') && !url.contains(char::is_whitespace)
    })
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    const PINS: &str =
        r#""gpio":{"pins":{"B":{"line":4,"edge":"both"},"LED":{"line":5,"direction":"out"}}}"#;
    const PROGRAMS: &str = r#""programs":{"web":{"command":["true"]}}"#;

    /// The problems of a config with pins B (in) and LED (out), program web,
    /// an SMTP relay, and `rules`.
    fn problems(rules: &str) -> Vec<String> {
        let text = format!(r#"{{{PINS},{PROGRAMS},"email":{{"smtp":{{}}}},"rules":{rules}}}"#);
        parse(&text).unwrap().validate()
    }

    #[test]
    fn rules_refer_to_existing_things() {
        assert_eq!(
            problems(r#"[{"when":{"gpio":"NOPE"},"then":[{"log":"x"}]}]"#),
            vec!["rules[0]: when.gpio: no pin named \"NOPE\""]
        );
    }

    #[test]
    fn every_problem_of_a_rule_is_named_in_order() {
        assert_eq!(
            problems(r#"[{"z":1,"when":{"process":"nope","to":"UP"},"then":[{"log":"x"},{"x":1}]},{"when":{}}]"#),
            vec![
                "rules[0]: unknown key \"z\" (expected name, when, then, cooldown_s)",
                "rules[0]: when.process: no program named \"nope\"",
                "rules[0]: when.to: not a process state",
                "rules[0]: then[1].x: unknown action \"x\" (one of email, start, stop, restart, gpio_set, gpio_toggle, gpio_pulse, http, log, webhook)",
                "rules[1]: when: needs \"process\" or \"gpio\"",
                "rules[1]: then: a non-empty list of actions",
            ]
        );
    }

    #[test]
    fn rule_edges_are_the_edge_filters_but_none() {
        for (edge, ok) in [
            ("rising", true),
            ("both", true),
            ("none", false),
            ("up", false),
        ] {
            let rules =
                format!(r#"[{{"when":{{"gpio":"B","edge":"{edge}"}},"then":[{{"log":"x"}}]}}]"#);
            assert_eq!(problems(&rules).is_empty(), ok, "{edge}");
        }
    }

    #[test]
    fn placeholders_must_belong_to_the_trigger() {
        assert!(problems(r#"[{"when":{"process":"*","to":"FATAL"},"then":[{"log":"{name} {exit_status} {log_tail} {hostname} {time} {rule}"}]}]"#).is_empty());
        assert_eq!(
            problems(r#"[{"when":{"gpio":"B"},"then":[{"log":"{pin} {name}"},{"email":{"to":"a@b.c","subject":"{nmae}"}}]}]"#),
            vec![
                "rules[0]: then[0].log: unknown placeholder {name} (this rule's trigger has {rule}, {hostname}, {time}, {pin}, {edge}, {value})",
                "rules[0]: then[1].email.subject: unknown placeholder {nmae} (this rule's trigger has {rule}, {hostname}, {time}, {pin}, {edge}, {value})",
            ]
        );
    }

    #[test]
    fn action_arguments_have_their_shapes() {
        let rule = |action: &str| {
            problems(&format!(
                r#"[{{"when":{{"process":"web"}},"then":[{action}]}}]"#
            ))
        };
        for (action, problem) in [
            (
                r#"{"start":"ghost"}"#,
                "then[0].start: no program named \"ghost\"",
            ),
            (r#"{"restart":3}"#, "then[0].restart: a program's name"),
            (
                r#"{"gpio_set":{"pin":"B","value":1}}"#,
                "then[0].gpio_set.pin: pin \"B\" is an input; only an output can be set",
            ),
            (
                r#"{"gpio_set":{"pin":"LED","value":2}}"#,
                "then[0].gpio_set.value: 0 or 1",
            ),
            (
                r#"{"gpio_set":{"value":1}}"#,
                "then[0].gpio_set.pin: missing",
            ),
            (
                r#"{"gpio_toggle":"GHOST"}"#,
                "then[0].gpio_toggle: no pin named \"GHOST\"",
            ),
            (
                r#"{"gpio_pulse":{"pin":"LED","ms":0}}"#,
                "then[0].gpio_pulse.ms: must be a whole number from 1 to 10000",
            ),
            (
                r#"{"gpio_pulse":{"pin":"LED","ms":5,"len":1}}"#,
                "then[0].gpio_pulse: unknown key \"len\" (expected pin, ms, value)",
            ),
            (
                r#"{"http":{"url":"ftp://x"}}"#,
                "then[0].http.url: \"ftp://x\" is not an http:// or https:// URL",
            ),
            (
                r#"{"http":{"url":"http://x","method":"DELETE"}}"#,
                "then[0].http.method: GET, POST or PUT",
            ),
            (
                r#"{"webhook":{"url":"http://x","timeout_s":0}}"#,
                "then[0].webhook.timeout_s: 1 to 60",
            ),
            (
                r#"{"email":{"to":"not an address"}}"#,
                "then[0].email.to: \"not an address\" is not an e-mail address",
            ),
            (r#"{"email":{"subject":"x"}}"#, "then[0].email.to: missing"),
            (r#"{"log":{"x":1}}"#, "then[0].log: a string"),
        ] {
            assert_eq!(
                rule(action),
                vec![format!("rules[0]: {problem}")],
                "{action}"
            );
        }
        assert!(rule(r#"{"http":{"url":"http://127.0.0.1:9/hook","method":"PUT","body":"{\"n\":\"{name}\"}"}}"#).is_empty());
        assert!(rule(r#"{"gpio_pulse":{"pin":"LED","ms":200}}"#).is_empty());
    }

    #[test]
    fn counts_need_a_window_and_mail_needs_a_relay() {
        assert_eq!(
            problems(r#"[{"when":{"process":"web","count":3},"then":[{"log":"x"}]}]"#),
            vec!["rules[0]: when.within_s: needed with count above 1 (the window to count in)"]
        );
        let text = format!(
            r#"{{{PROGRAMS},"rules":[{{"when":{{"process":"web"}},"then":[{{"email":{{"to":"a@b.c"}}}}]}}]}}"#
        );
        assert_eq!(
            parse(&text).unwrap().validate(),
            vec!["rules[0]: then[0].email: no email.smtp in the config, so no mail could go out"]
        );
    }

    #[test]
    fn names_are_unique() {
        assert_eq!(
            problems(
                r#"[{"name":"a","when":{"gpio":"B"},"then":[{"log":"x"}]},{"name":"a","when":{"gpio":"B"},"then":[{"log":"y"}]}]"#
            ),
            vec!["rules[1]: name: \"a\" is rules[0]'s name too"]
        );
    }

    #[test]
    fn a_valid_rule_is_typed() {
        let text = format!(
            r#"{{{PINS},{PROGRAMS},"rules":[{{"name":"n","when":{{"process":"web","to":"EXITED","unexpected":true,"count":2,"within_s":9}},"then":[{{"restart":"web"}},{{"gpio_pulse":{{"pin":"LED","ms":20}}}}],"cooldown_s":5}}]}}"#
        );
        let c = parse(&text).unwrap();
        let rules = super::parse_all(&c).unwrap();
        assert_eq!(
            rules[0],
            super::Rule {
                name: "n".into(),
                when: super::When {
                    trigger: super::Trigger::Process {
                        program: Some("web".into()),
                        to: Some(crate::supervisor::state::State::Exited),
                        from: None,
                        unexpected: true
                    },
                    count: 2,
                    within_s: 9
                },
                then: vec![
                    super::Action::Restart("web".into()),
                    super::Action::GpioPulse {
                        pin: "LED".into(),
                        ms: 20,
                        value: 1
                    }
                ],
                cooldown_s: 5
            }
        );
    }
}
