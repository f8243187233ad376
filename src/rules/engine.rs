//! The decisions of the rules, without threads or I/O: does an event match a
//! trigger, has it happened `count` times within `within_s`, is the rule cooling
//! down, what do the placeholders say, and may one more rule mail go out this
//! hour or is it held for the digest. The rules thread ([`super`]) feeds it the
//! events and the clock; everything here is tested with made-up instants.

use super::config::{Rule, Trigger};
use crate::email::Message;
use crate::events::Event;
use crate::gpio::config::Edge;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What a matching event did to a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Run the actions.
    Fire,
    /// Counted, but not yet `count` times within `within_s`.
    Counting,
    /// It would fire, but the rule fired less than `cooldown_s` ago.
    Suppressed,
}

/// Whether `event` is what `trigger` waits for.
pub fn matches(trigger: &Trigger, event: &Event) -> bool {
    match (trigger, event) {
        (
            Trigger::Process {
                program,
                to,
                from,
                unexpected,
            },
            Event::Process(e),
        ) => {
            program.as_ref().is_none_or(|p| *p == e.name)
                && to.is_none_or(|s| s == e.to)
                && from.is_none_or(|s| s == e.from)
                && (!unexpected || e.expected == Some(false))
        }
        (Trigger::Gpio { pin, edge }, Event::Gpio(e)) => {
            *pin == e.pin && (*edge == Edge::Both || *edge == e.edge)
        }
        _ => false,
    }
}

/// One rule and what it remembers: recent triggers (for `count`) and its last firing.
struct Slot {
    rule: Rule,
    hits: VecDeque<Instant>,
    last_fired: Option<Instant>,
}

impl Slot {
    /// A matching event at `now`.
    fn hit(&mut self, now: Instant) -> Outcome {
        let window = Duration::from_secs(self.rule.when.within_s);
        self.hits.push_back(now);
        while self.hits.front().is_some_and(|t| {
            now.saturating_duration_since(*t) >= window && self.rule.when.count > 1
        }) {
            self.hits.pop_front();
        }
        if self.hits.len() < self.rule.when.count as usize {
            return Outcome::Counting;
        }
        // The count starts again: the next firing needs `count` new triggers.
        self.hits.clear();
        let cooldown = Duration::from_secs(self.rule.cooldown_s);
        if self
            .last_fired
            .is_some_and(|t| now.saturating_duration_since(t) < cooldown)
        {
            return Outcome::Suppressed;
        }
        self.last_fired = Some(now);
        Outcome::Fire
    }
}

pub struct Engine {
    slots: Vec<Slot>,
}

impl Engine {
    pub fn new(rules: Vec<Rule>) -> Engine {
        Engine {
            slots: rules
                .into_iter()
                .map(|rule| Slot {
                    rule,
                    hits: VecDeque::new(),
                    last_fired: None,
                })
                .collect(),
        }
    }

    pub fn rule(&self, i: usize) -> &Rule {
        &self.slots[i].rule
    }

    /// Every rule `event` matches, with what it did to each, in rule order.
    pub fn on_event(&mut self, event: &Event, now: Instant) -> Vec<(usize, Outcome)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter(|(_, s)| matches(&s.rule.when.trigger, event))
            .map(|(i, s)| (i, s.hit(now)))
            .collect()
    }
}

/// The values of the placeholders for one firing.
pub struct Values<'a> {
    pub rule: &'a str,
    pub hostname: &'a str,
    pub time: &'a str,
    pub event: &'a Event,
    /// The program's stderr tail, read only when a template asks for it.
    pub log_tail: Option<&'a str>,
}

impl Values<'_> {
    fn get(&self, word: &str) -> Option<String> {
        let opt = |v: Option<String>| v.unwrap_or_default();
        Some(match (word, self.event) {
            ("rule", _) => self.rule.to_string(),
            ("hostname", _) => self.hostname.to_string(),
            ("time", _) => self.time.to_string(),
            ("name", Event::Process(e)) => e.name.clone(),
            ("from", Event::Process(e)) => e.from.as_str().to_string(),
            ("to", Event::Process(e)) => e.to.as_str().to_string(),
            ("pid", Event::Process(e)) => opt(e.pid.map(|p| p.to_string())),
            ("exit_status", Event::Process(e)) => opt(e.exit_status.map(|c| c.to_string())),
            ("message", Event::Process(e)) => e.message.clone(),
            ("log_tail", Event::Process(_)) => self.log_tail.unwrap_or("").to_string(),
            ("pin", Event::Gpio(e)) => e.pin.clone(),
            ("edge", Event::Gpio(e)) => edge_name(e.edge).to_string(),
            ("value", Event::Gpio(e)) => e.value.to_string(),
            _ => return None,
        })
    }
}

pub fn edge_name(edge: Edge) -> &'static str {
    match edge {
        Edge::Rising => "rising",
        Edge::Falling => "falling",
        Edge::Both => "both",
        Edge::None => "none",
    }
}

/// `template` with each known `{word}` replaced; unknown ones (check-config
/// refuses them) and other braces are left as they are.
pub fn render(template: &str, values: &Values) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let word = after.find('}').map(|close| &after[..close]);
        match word.and_then(|w| values.get(w).map(|v| (w, v))) {
            Some((w, v)) => {
                out.push_str(&v);
                rest = &after[w.len() + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The last `lines` lines of `text` (a log's end, which may start mid-line).
pub fn last_lines(text: &str, lines: usize) -> String {
    let trimmed = text.trim_end_matches('\n');
    let start = trimmed
        .rmatch_indices('\n')
        .nth(lines.saturating_sub(1))
        .map(|(i, _)| i + 1)
        .unwrap_or(0);
    trimmed[start..].to_string()
}

/// Held mails a digest quotes at most. Past that they are only counted (per
/// recipient list), so that a storm costs neither memory nor SD-card writes
/// without bound: the held mails are saved on every change (`held.rs`).
pub const MAX_QUOTED: usize = 100;
/// The most of a held mail's body a digest quotes (cut when it is held).
const DIGEST_BODY_CHARS: usize = 500;

/// How long after a digest that could not be queued (a full spool or disk) it
/// is tried again.
pub const DIGEST_RETRY: Duration = Duration::from_secs(60);

/// What [`MailCap::admit`] did with one rule mail.
#[derive(Debug, Clone, PartialEq)]
pub enum Admitted {
    /// Under `max_per_hour`: send it now.
    Send(Message),
    /// Held for the digest, which will quote it.
    Held,
    /// Held past [`MAX_QUOTED`]: only counted in the digest.
    Counted,
}

/// Mails held past [`MAX_QUOTED`] for one recipient list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unquoted {
    pub to: Vec<String>,
    pub count: u64,
}

/// The cap as it is saved: wall-clock time, since an [`Instant`] does not
/// survive a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapState {
    /// Unix milliseconds at which the current window ends (`None` before the
    /// first rule mail).
    pub window_ends_ms: Option<u64>,
    /// Rule mails sent in the current window.
    pub sent: u32,
    /// Held for the digest and quoted in it, oldest first.
    pub held: Vec<Message>,
    /// Held past [`MAX_QUOTED`], counted only.
    #[serde(default)]
    pub unquoted: Vec<Unquoted>,
}

/// `email.max_per_hour` for rule mail: at most `max` mails per window (an hour,
/// `email.cap_window_s` in tests), counted from the window's first mail. What is
/// held back goes out as one digest per recipient list when the window ends.
pub struct MailCap {
    max: u32,
    window: Duration,
    /// When the window of the first mail ends; `None` before any.
    ends: Option<Instant>,
    sent: u32,
    held: Vec<Message>,
    unquoted: Vec<Unquoted>,
}

impl MailCap {
    pub fn new(max: u32, window: Duration) -> MailCap {
        MailCap {
            max,
            window,
            ends: None,
            sent: 0,
            held: Vec::new(),
            unquoted: Vec::new(),
        }
    }

    /// The cap as saved at `wall_ms` (unix ms), `now` being the same moment.
    pub fn state(&self, now: Instant, wall_ms: u64) -> CapState {
        CapState {
            window_ends_ms: self
                .ends
                .map(|e| wall_ms + e.saturating_duration_since(now).as_millis() as u64),
            sent: self.sent,
            held: self.held.clone(),
            unquoted: self.unquoted.clone(),
        }
    }

    /// The cap from a saved `state`, `now` and `wall_ms` being the same moment.
    /// A window that ended while the daemon was down ends now (its digest is
    /// due at once). The Pi has no clock battery: a wall clock set back makes
    /// the saved end look far away, so the window is never longer than a
    /// window from now; a clock set forward only ends it sooner.
    pub fn restore(
        max: u32,
        window: Duration,
        state: CapState,
        now: Instant,
        wall_ms: u64,
    ) -> MailCap {
        let mut held = state.held;
        held.truncate(MAX_QUOTED);
        let ends = state
            .window_ends_ms
            .map(|e| now + Duration::from_millis(e.saturating_sub(wall_ms)).min(window))
            // Held mail always has a window that ends, or it would never go out.
            .or((!held.is_empty() || !state.unquoted.is_empty()).then_some(now));
        MailCap {
            max,
            window,
            ends,
            sent: state.sent,
            held,
            unquoted: state.unquoted,
        }
    }

    /// Mails held for the digest now, quoted or not.
    pub fn held(&self) -> u64 {
        self.held.len() as u64 + self.unquoted.iter().map(|u| u.count).sum::<u64>()
    }

    fn holds_any(&self) -> bool {
        !self.held.is_empty() || !self.unquoted.is_empty()
    }

    /// One more rule mail at `now`: sent now, or over `max_per_hour` and held
    /// here for the digest. Call [`MailCap::due`] first, so that an ended
    /// window's digest goes out.
    pub fn admit(&mut self, mut message: Message, now: Instant) -> Admitted {
        let ended = self.ends.is_none_or(|e| now >= e);
        if ended && !self.holds_any() {
            self.ends = Some(now + self.window);
            self.sent = 0;
        }
        if self.sent < self.max {
            self.sent += 1;
            return Admitted::Send(message);
        }
        if self.held.len() < MAX_QUOTED {
            message.body = message.body.chars().take(DIGEST_BODY_CHARS).collect();
            self.held.push(message);
            return Admitted::Held;
        }
        match self.unquoted.iter_mut().find(|u| u.to == message.to) {
            Some(u) => u.count += 1,
            None => self.unquoted.push(Unquoted {
                to: message.to,
                count: 1,
            }),
        }
        Admitted::Counted
    }

    /// When the rules thread must wake for the digest; `None` while nothing is
    /// held (an idle daemon sleeps until the next event).
    pub fn deadline(&self) -> Option<Instant> {
        if self.holds_any() {
            self.ends
        } else {
            None
        }
    }

    /// If the window has ended at `now` with mail held: its digests to `send`,
    /// one per recipient list of the held mails, in the order they were first
    /// held (see [`MailCap::drain`]). The window starts again at the next mail;
    /// a digest `send` refused stays held and is tried again [`DIGEST_RETRY`]
    /// later. Whether the window was due.
    pub fn due(&mut self, now: Instant, hostname: &str, send: impl FnMut(Message) -> bool) -> bool {
        if self.deadline().is_none_or(|d| now < d) {
            return false;
        }
        self.drain(hostname, send);
        if self.holds_any() {
            self.ends = Some(now + DIGEST_RETRY);
        } else {
            self.ends = None;
            self.sent = 0;
        }
        true
    }

    /// Everything held, as digests to `send` now (at shutdown). A recipient
    /// list's mail is let go only when `send` took its digest (answered true).
    /// The window and its count stay, so that a restart within the hour does
    /// not let a storm through. Whether anything was held.
    pub fn drain(&mut self, hostname: &str, mut send: impl FnMut(Message) -> bool) -> bool {
        if !self.holds_any() {
            return false;
        }
        for digest in digests(&self.held, &self.unquoted, self.window, hostname) {
            let to = digest.to.clone();
            if send(digest) {
                self.held.retain(|m| m.to != to);
                self.unquoted.retain(|u| u.to != to);
            }
        }
        true
    }
}

/// One recipient list's part of the held mail.
struct Group<'a> {
    to: Vec<String>,
    quoted: Vec<&'a Message>,
    unquoted: u64,
}

/// The group of recipient list `to`, made on first use (first held, first listed).
fn group_of<'g, 'm>(groups: &'g mut Vec<Group<'m>>, to: &[String]) -> &'g mut Group<'m> {
    let i = match groups.iter().position(|g| g.to == to) {
        Some(i) => i,
        None => {
            groups.push(Group {
                to: to.to_vec(),
                quoted: Vec::new(),
                unquoted: 0,
            });
            groups.len() - 1
        }
    };
    &mut groups[i]
}

fn digests(
    held: &[Message],
    unquoted: &[Unquoted],
    window: Duration,
    hostname: &str,
) -> Vec<Message> {
    let mut groups = Vec::new();
    for m in held {
        group_of(&mut groups, &m.to).quoted.push(m);
    }
    for u in unquoted {
        group_of(&mut groups, &u.to).unquoted += u.count;
    }
    groups
        .into_iter()
        .map(|g| digest(g, window, hostname))
        .collect()
}

fn digest(g: Group, window: Duration, hostname: &str) -> Message {
    let total = g.quoted.len() as u64 + g.unquoted;
    let mut body = format!(
        "{total} rule mails were held back in the last {} s (email.max_per_hour reached).\n",
        window.as_secs()
    );
    if g.unquoted > 0 {
        body.push_str(&format!(
            "{} of them are not quoted here (at most {MAX_QUOTED} are).\n",
            g.unquoted
        ));
    }
    for (n, m) in g.quoted.iter().enumerate() {
        body.push_str(&format!("\n--- {}. {}\n{}\n", n + 1, m.subject, m.body));
    }
    Message {
        to: g.to,
        subject: format!("pistack on {hostname}: digest of {total} held rule mails"),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{GpioEvent, ProcessEvent};
    use crate::rules::config::{Action, When};
    use crate::supervisor::state::State;

    fn process(name: &str, from: State, to: State, expected: Option<bool>) -> Event {
        Event::Process(ProcessEvent {
            name: name.into(),
            from,
            to,
            pid: Some(42),
            exit_status: expected.map(|e| if e { 0 } else { 3 }),
            expected,
            message: "m".into(),
        })
    }

    fn gpio(pin: &str, edge: Edge) -> Event {
        Event::Gpio(GpioEvent {
            pin: pin.into(),
            edge,
            value: u8::from(edge == Edge::Rising),
            timestamp_ns: None,
        })
    }

    fn rule(trigger: Trigger, count: u32, within_s: u64, cooldown_s: u64) -> Rule {
        Rule {
            name: "r".into(),
            when: When {
                trigger,
                count,
                within_s,
            },
            then: vec![Action::Log("x".into())],
            cooldown_s,
        }
    }

    fn any_exit(unexpected: bool) -> Trigger {
        Trigger::Process {
            program: None,
            to: Some(State::Exited),
            from: None,
            unexpected,
        }
    }

    #[test]
    fn process_triggers_match_name_states_and_expectedness() {
        let exited = |name, expected| process(name, State::Running, State::Exited, expected);
        let named = Trigger::Process {
            program: Some("a".into()),
            to: Some(State::Exited),
            from: Some(State::Running),
            unexpected: false,
        };
        assert!(matches(&named, &exited("a", Some(true))));
        assert!(!matches(&named, &exited("b", Some(true))));
        assert!(!matches(
            &named,
            &process("a", State::Starting, State::Exited, None)
        ));
        assert!(!matches(
            &named,
            &process("a", State::Running, State::Fatal, None)
        ));
        assert!(matches(&any_exit(false), &exited("b", Some(true))));
        assert!(matches(&any_exit(true), &exited("b", Some(false))));
        assert!(!matches(&any_exit(true), &exited("b", Some(true))));
        assert!(!matches(&any_exit(true), &exited("b", None)));
        assert!(!matches(&any_exit(false), &gpio("a", Edge::Rising)));
    }

    #[test]
    fn gpio_triggers_match_pin_and_edge() {
        let falling = Trigger::Gpio {
            pin: "B".into(),
            edge: Edge::Falling,
        };
        let both = Trigger::Gpio {
            pin: "B".into(),
            edge: Edge::Both,
        };
        assert!(matches(&falling, &gpio("B", Edge::Falling)));
        assert!(!matches(&falling, &gpio("B", Edge::Rising)));
        assert!(!matches(&falling, &gpio("C", Edge::Falling)));
        assert!(matches(&both, &gpio("B", Edge::Rising)));
        assert!(!matches(
            &both,
            &process("B", State::Running, State::Exited, None)
        ));
    }

    #[test]
    fn count_within_window_fires_on_the_nth_and_starts_again() {
        let mut e = Engine::new(vec![rule(any_exit(false), 3, 10, 0)]);
        let ev = process("a", State::Running, State::Exited, Some(true));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let outcome = |e: &mut Engine, t| e.on_event(&ev, t)[0].1;
        assert_eq!(outcome(&mut e, at(0)), Outcome::Counting);
        assert_eq!(outcome(&mut e, at(1)), Outcome::Counting);
        assert_eq!(outcome(&mut e, at(2)), Outcome::Fire);
        // The count starts again after a firing.
        assert_eq!(outcome(&mut e, at(3)), Outcome::Counting);
        assert_eq!(outcome(&mut e, at(4)), Outcome::Counting);
        // Too slow: by 14 the trigger at 3 is out of the window, and at 15 the one at 4.
        assert_eq!(outcome(&mut e, at(14)), Outcome::Counting);
        assert_eq!(outcome(&mut e, at(25)), Outcome::Counting);
        assert_eq!(outcome(&mut e, at(26)), Outcome::Counting);
        assert_eq!(outcome(&mut e, at(27)), Outcome::Fire);
    }

    #[test]
    fn cooldown_suppresses_until_it_has_passed() {
        let mut e = Engine::new(vec![rule(any_exit(false), 1, 0, 60)]);
        let ev = process("a", State::Running, State::Exited, Some(true));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(e.on_event(&ev, at(0)), vec![(0, Outcome::Fire)]);
        assert_eq!(e.on_event(&ev, at(59)), vec![(0, Outcome::Suppressed)]);
        // A suppressed trigger does not extend the cooldown.
        assert_eq!(e.on_event(&ev, at(60)), vec![(0, Outcome::Fire)]);
        assert!(e.on_event(&gpio("x", Edge::Rising), at(61)).is_empty());
    }

    #[test]
    fn placeholders_are_replaced_and_other_braces_kept() {
        let ev = process("web", State::Running, State::Exited, Some(false));
        let v = Values {
            rule: "r1",
            hostname: "pi",
            time: "T",
            event: &ev,
            log_tail: Some("boom"),
        };
        assert_eq!(
            render("{name} {from}->{to} ({exit_status}) on {hostname} at {time}: {log_tail} [{rule}] {pid}", &v),
            "web RUNNING->EXITED (3) on pi at T: boom [r1] 42"
        );
        assert_eq!(
            render(r#"{"a": "{name}"} {pin} {"#, &v),
            r#"{"a": "web"} {pin} {"#
        );
        let g = gpio("BTN", Edge::Falling);
        let v = Values { event: &g, ..v };
        assert_eq!(render("{pin} {edge} {value}", &v), "BTN falling 0");
    }

    #[test]
    fn last_lines_of_a_log() {
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(last_lines("a\nb", 5), "a\nb");
        assert_eq!(last_lines("", 3), "");
    }

    fn mail(to: &str, subject: &str) -> Message {
        Message {
            to: vec![to.into()],
            subject: subject.into(),
            body: format!("body of {subject}"),
        }
    }

    /// The digests `due` sends, all taken.
    fn due(cap: &mut MailCap, now: Instant) -> Vec<Message> {
        let mut out = Vec::new();
        cap.due(now, "pi", |m| {
            out.push(m);
            true
        });
        out
    }

    fn drain(cap: &mut MailCap) -> Vec<Message> {
        let mut out = Vec::new();
        cap.drain("pi", |m| {
            out.push(m);
            true
        });
        out
    }

    impl Admitted {
        fn is_send(&self) -> bool {
            matches!(self, Admitted::Send(_))
        }
        fn is_held(&self) -> bool {
            *self == Admitted::Held
        }
    }

    #[test]
    fn the_cap_holds_mail_past_max_and_sends_one_digest_per_recipient_list() {
        let mut cap = MailCap::new(2, Duration::from_secs(3600));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(cap.deadline(), None);
        assert!(cap.admit(mail("a@x", "1"), at(0)).is_send());
        assert!(cap.admit(mail("a@x", "2"), at(10)).is_send());
        assert_eq!(cap.deadline(), None, "nothing held: no wake-up");
        assert!(cap.admit(mail("a@x", "3"), at(20)).is_held());
        assert!(cap.admit(mail("b@x", "4"), at(30)).is_held());
        assert!(cap.admit(mail("a@x", "5"), at(40)).is_held());
        assert_eq!(cap.held(), 3);
        assert_eq!(
            cap.deadline(),
            Some(at(3600)),
            "the window of the first mail"
        );
        assert!(due(&mut cap, at(3599)).is_empty());
        let d = due(&mut cap, at(3600));
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].to, vec!["a@x"]);
        assert!(
            d[0].subject.contains("digest of 2 held"),
            "{}",
            d[0].subject
        );
        assert!(d[0].body.contains("--- 1. 3\nbody of 3"), "{}", d[0].body);
        assert!(d[0].body.contains("--- 2. 5"), "{}", d[0].body);
        assert_eq!(d[1].to, vec!["b@x"]);
        assert_eq!(cap.held(), 0);
        assert_eq!(cap.deadline(), None);
        // A new window: mail goes out again.
        assert!(cap.admit(mail("a@x", "6"), at(3700)).is_send());
    }

    #[test]
    fn a_window_without_held_mail_just_ends() {
        let mut cap = MailCap::new(1, Duration::from_secs(100));
        let t0 = Instant::now();
        assert!(cap.admit(mail("a@x", "1"), t0).is_send());
        assert!(cap
            .admit(mail("a@x", "2"), t0 + Duration::from_secs(99))
            .is_held());
        assert_eq!(drain(&mut cap).len(), 1);
        assert!(cap
            .admit(mail("a@x", "3"), t0 + Duration::from_secs(100))
            .is_send());
    }

    #[test]
    fn the_saved_cap_comes_back_with_its_window_count_and_held_mail() {
        let window = Duration::from_secs(100);
        let mut cap = MailCap::new(1, window);
        let t0 = Instant::now();
        let wall0 = 1_000_000;
        assert!(cap.admit(mail("a@x", "1"), t0).is_send());
        assert!(cap.admit(mail("a@x", "2"), t0).is_held());
        let saved = cap.state(t0 + Duration::from_secs(30), wall0 + 30_000);
        assert_eq!(saved.window_ends_ms, Some(wall0 + 100_000));
        assert_eq!(saved.sent, 1);
        assert_eq!(saved.held, vec![mail("a@x", "2")]);
        let json = serde_json::to_string(&saved).unwrap();
        let back: CapState = serde_json::from_str(&json).unwrap();
        assert_eq!(back, saved);

        // Restarted 10 s later: 60 s of the window are left, and the cap is not reset.
        let t1 = Instant::now();
        let mut cap = MailCap::restore(1, window, back.clone(), t1, wall0 + 40_000);
        assert_eq!(cap.held(), 1);
        assert_eq!(cap.deadline(), Some(t1 + Duration::from_secs(60)));
        assert!(
            cap.admit(mail("a@x", "3"), t1).is_held(),
            "still over the cap"
        );
        assert!(due(&mut cap, t1 + Duration::from_secs(59)).is_empty());
        let d = due(&mut cap, t1 + Duration::from_secs(60));
        assert_eq!(d.len(), 1);
        assert!(
            d[0].subject.contains("digest of 2 held"),
            "{}",
            d[0].subject
        );
        assert!(d[0].body.contains("--- 1. 2\n") && d[0].body.contains("--- 2. 3\n"));

        // Down past the window's end: the digest is due at once.
        let cap = MailCap::restore(1, window, back.clone(), t1, wall0 + 500_000);
        assert_eq!(cap.deadline(), Some(t1));
        // The wall clock set back (no clock battery): never more than a window.
        let cap = MailCap::restore(1, window, back, t1, 0);
        assert_eq!(cap.deadline(), Some(t1 + window));
    }

    #[test]
    fn past_max_quoted_held_mail_is_counted_per_recipient_list_and_bodies_are_cut() {
        let mut cap = MailCap::new(1, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(cap.admit(mail("a@x", "0"), t0).is_send());
        let long = Message {
            body: "é".repeat(2 * DIGEST_BODY_CHARS),
            ..mail("a@x", "long")
        };
        assert!(cap.admit(long, t0).is_held());
        for n in 1..MAX_QUOTED {
            assert!(cap.admit(mail("a@x", &n.to_string()), t0).is_held());
        }
        assert_eq!(cap.admit(mail("a@x", "x"), t0), Admitted::Counted);
        assert_eq!(cap.admit(mail("b@x", "y"), t0), Admitted::Counted);
        assert_eq!(cap.admit(mail("a@x", "z"), t0), Admitted::Counted);
        let saved = cap.state(t0, 0);
        assert_eq!(saved.held.len(), MAX_QUOTED);
        assert_eq!(saved.held[0].body.chars().count(), DIGEST_BODY_CHARS);
        assert_eq!(
            saved.unquoted,
            vec![
                Unquoted {
                    to: vec!["a@x".into()],
                    count: 2
                },
                Unquoted {
                    to: vec!["b@x".into()],
                    count: 1
                }
            ]
        );
        assert_eq!(cap.held(), MAX_QUOTED as u64 + 3);
        let d = drain(&mut cap);
        assert_eq!(d.len(), 2);
        assert!(d[0]
            .subject
            .contains(&format!("digest of {} held", MAX_QUOTED + 2)));
        assert!(
            d[0].body.contains("2 of them are not quoted here"),
            "{}",
            d[0].body
        );
        assert!(
            d[1].subject.contains("digest of 1 held"),
            "{}",
            d[1].subject
        );
        assert!(!d[1].body.contains("--- 1."), "{}", d[1].body);
    }

    #[test]
    fn a_digest_that_cannot_be_queued_stays_held_and_is_tried_again_later() {
        let mut cap = MailCap::new(1, Duration::from_secs(100));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert!(cap.admit(mail("a@x", "1"), at(0)).is_send());
        assert!(cap.admit(mail("a@x", "2"), at(1)).is_held());
        assert!(cap.admit(mail("b@x", "3"), at(2)).is_held());
        // The spool takes b's digest and refuses a's.
        let mut tried = Vec::new();
        assert!(cap.due(at(100), "pi", |m| {
            tried.push(m.to.clone());
            m.to == ["b@x"]
        }));
        assert_eq!(tried, [vec!["a@x".to_string()], vec!["b@x".to_string()]]);
        assert_eq!(cap.held(), 1, "a's mail is still held");
        assert_eq!(cap.deadline(), Some(at(100) + DIGEST_RETRY));
        assert!(
            cap.admit(mail("a@x", "4"), at(110)).is_held(),
            "no new window yet"
        );
        let d = due(&mut cap, at(100) + DIGEST_RETRY);
        assert_eq!(d.len(), 1);
        assert!(
            d[0].subject.contains("digest of 2 held"),
            "{}",
            d[0].subject
        );
        assert_eq!(cap.deadline(), None);
        assert!(!cap.drain("pi", |_| true), "nothing held");
    }
}
