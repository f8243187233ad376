//! The decisions of the rules, without threads or I/O: does an event match a
//! trigger, has it happened `count` times within `within_s`, is the rule cooling
//! down, what do the placeholders say, and may one more rule mail go out this
//! hour or is it held for the digest. The rules thread ([`super`]) feeds it the
//! events and the clock; everything here is tested with made-up instants.

use super::config::{Rule, Trigger};
use crate::email::Message;
use crate::events::Event;
use crate::gpio::config::Edge;
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

/// `email.max_per_hour` for rule mail: at most `max` mails per window (an hour,
/// `email.cap_window_s` in tests), counted from the window's first mail. What is
/// held back goes out as one digest per recipient list when the window ends.
pub struct MailCap {
    max: u32,
    window: Duration,
    started: Option<Instant>,
    sent: u32,
    held: Vec<Message>,
}

impl MailCap {
    pub fn new(max: u32, window: Duration) -> MailCap {
        MailCap {
            max,
            window,
            started: None,
            sent: 0,
            held: Vec::new(),
        }
    }

    /// Mails held for the digest now.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// One more rule mail at `now`: `Some` to send it now, `None` when it is over
    /// `max_per_hour` and held here for the digest. Call [`MailCap::due`] first,
    /// so that an ended window's digest goes out.
    pub fn admit(&mut self, message: Message, now: Instant) -> Option<Message> {
        let ended = self
            .started
            .is_none_or(|t| now.saturating_duration_since(t) >= self.window);
        if ended && self.held.is_empty() {
            self.started = Some(now);
            self.sent = 0;
        }
        if self.sent < self.max {
            self.sent += 1;
            Some(message)
        } else {
            self.held.push(message);
            None
        }
    }

    /// When the rules thread must wake for the digest; `None` while nothing is
    /// held (an idle daemon sleeps until the next event).
    pub fn deadline(&self) -> Option<Instant> {
        if self.held.is_empty() {
            None
        } else {
            self.started.map(|t| t + self.window)
        }
    }

    /// The digests due at `now`: one per recipient list of the held mails, in the
    /// order they were first held. The window starts again at the next mail.
    pub fn due(&mut self, now: Instant, hostname: &str) -> Vec<Message> {
        if self.deadline().is_none_or(|d| now < d) {
            return Vec::new();
        }
        self.started = None;
        self.sent = 0;
        digests(std::mem::take(&mut self.held), self.window, hostname)
    }

    /// Everything held, as digests now (at shutdown).
    pub fn drain(&mut self, hostname: &str) -> Vec<Message> {
        self.started = None;
        digests(std::mem::take(&mut self.held), self.window, hostname)
    }
}

/// The most of a held mail's body a digest quotes.
const DIGEST_BODY_CHARS: usize = 500;

fn digests(held: Vec<Message>, window: Duration, hostname: &str) -> Vec<Message> {
    let mut groups: Vec<(Vec<String>, Vec<Message>)> = Vec::new();
    for m in held {
        match groups.iter_mut().find(|(to, _)| *to == m.to) {
            Some((_, list)) => list.push(m),
            None => groups.push((m.to.clone(), vec![m])),
        }
    }
    groups
        .into_iter()
        .map(|(to, list)| {
            let mut body = format!(
                "{} rule mails were held back in the last {} s (email.max_per_hour reached).\n",
                list.len(),
                window.as_secs()
            );
            for (n, m) in list.iter().enumerate() {
                let quoted: String = m.body.chars().take(DIGEST_BODY_CHARS).collect();
                body.push_str(&format!("\n--- {}. {}\n{quoted}\n", n + 1, m.subject));
            }
            Message {
                to,
                subject: format!(
                    "pistack on {hostname}: digest of {} held rule mails",
                    list.len()
                ),
                body,
            }
        })
        .collect()
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

    #[test]
    fn the_cap_holds_mail_past_max_and_sends_one_digest_per_recipient_list() {
        let mut cap = MailCap::new(2, Duration::from_secs(3600));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(cap.deadline(), None);
        assert!(cap.admit(mail("a@x", "1"), at(0)).is_some());
        assert!(cap.admit(mail("a@x", "2"), at(10)).is_some());
        assert_eq!(cap.deadline(), None, "nothing held: no wake-up");
        assert!(cap.admit(mail("a@x", "3"), at(20)).is_none());
        assert!(cap.admit(mail("b@x", "4"), at(30)).is_none());
        assert!(cap.admit(mail("a@x", "5"), at(40)).is_none());
        assert_eq!(cap.held(), 3);
        assert_eq!(
            cap.deadline(),
            Some(at(3600)),
            "the window of the first mail"
        );
        assert!(cap.due(at(3599), "pi").is_empty());
        let d = cap.due(at(3600), "pi");
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
        assert!(cap.admit(mail("a@x", "6"), at(3700)).is_some());
    }

    #[test]
    fn a_window_without_held_mail_just_ends() {
        let mut cap = MailCap::new(1, Duration::from_secs(100));
        let t0 = Instant::now();
        assert!(cap.admit(mail("a@x", "1"), t0).is_some());
        assert!(cap
            .admit(mail("a@x", "2"), t0 + Duration::from_secs(99))
            .is_none());
        assert_eq!(cap.drain("pi").len(), 1);
        assert!(cap
            .admit(mail("a@x", "3"), t0 + Duration::from_secs(100))
            .is_some());
    }
}
