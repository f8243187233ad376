//! Current weather from Open-Meteo's forecast API (or anything answering its JSON),
//! through ureq with one global timeout.
//!
//! One fetch at a time: the first request after the cache runs out starts a fetch
//! thread, and every request that comes meanwhile waits on a condvar for its result,
//! never longer than `timeout_s` from the fetch's start, even if the fetch thread
//! is stuck (ureq's timeout does not cover DNS). When the provider fails, the last good answer
//! is served, marked `cached` and `stale` with its age, for up to
//! [`STALE_FACTOR`] × `cache_s`; after that the answer is 503 with the reason.
//!
//! https URLs (Open-Meteo's own) go through [`crate::tls_client`] with the
//! system's CA certificates.

use super::config::WeatherConfig;
use super::Error;
use serde::Serialize;
use serde_json::Value;
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How many `cache_s` a last good answer may be old and still be served when the
/// provider fails.
pub const STALE_FACTOR: u32 = 3;
/// After a failed fetch, the next one waits this long (or `cache_s` if shorter),
/// so that a dead provider is not asked once per request.
const RETRY_AFTER: Duration = Duration::from_secs(30);
/// Larger answers are cut (Open-Meteo's current block is well under 1 KiB).
const MAX_ANSWER_BYTES: u64 = 256 * 1024;
const FETCH_STACK: usize = 256 * 1024;
pub const ATTRIBUTION: &str = "Weather data by Open-Meteo.com (CC BY 4.0)";

/// What the provider said, in our units.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Current {
    pub temperature_c: f64,
    pub wind_speed_kmh: Option<f64>,
    pub weather_code: Option<u8>,
    /// The provider's time of the observation, as it sent it (ISO 8601, UTC).
    pub observed_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Location {
    pub name: String,
    pub latitude: f64,
    pub longitude: f64,
}

/// `GET /api/info/weather`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub location: Location,
    #[serde(flatten)]
    pub current: Current,
    pub description: Option<&'static str>,
    /// Unix seconds of the fetch that got this answer.
    pub fetched_at: u64,
    pub age_s: u64,
    /// The answer comes from the cache, not from a fetch made for this request.
    pub cached: bool,
    /// The latest fetch failed (`provider_error` says why) and this is the last good answer.
    pub stale: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_error: Option<String>,
    pub attribution: &'static str,
}

struct Observation {
    current: Current,
    fetched_at: u64,
    at: Instant,
}

#[derive(Default)]
struct State {
    last: Option<Observation>,
    /// The latest fetch failed, after `last`: when and why.
    failure: Option<(Instant, String)>,
    /// A fetch thread is running since then.
    fetching: Option<Instant>,
    /// Fetches finished, so that a waiter sees that "its" fetch ended.
    finished: u64,
    /// Requests sent to the provider, for `/metrics`.
    attempts: u64,
}

pub struct Weather {
    config: WeatherConfig,
    agent: ureq::Agent,
    state: Mutex<State>,
    done: Condvar,
}

impl Weather {
    pub fn new(config: WeatherConfig) -> Weather {
        let mut agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(config.timeout_s))
            .user_agent(concat!("pistack/", env!("CARGO_PKG_VERSION")));
        if let Some(tls) = crate::tls_client::system() {
            agent = agent.tls_connector(tls);
        }
        let agent = agent.build();
        Weather {
            config,
            agent,
            state: Mutex::new(State::default()),
            done: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cache(&self) -> Duration {
        Duration::from_secs(self.config.cache_s)
    }

    /// The current weather: cached, fetched (one fetch at a time), or the last good
    /// one while the provider fails.
    pub fn current(self: &Arc<Self>) -> Result<Report, Error> {
        let mut st = self.lock();
        if let Some(obs) = st.last.as_ref().filter(|o| o.at.elapsed() < self.cache()) {
            return Ok(self.report(obs, true, None));
        }
        if st.fetching.is_none() {
            if let Some((at, reason)) = &st.failure {
                if at.elapsed() < RETRY_AFTER.min(self.cache()) {
                    let reason = reason.clone();
                    return self.fallback(&st, reason);
                }
            }
            self.start_fetch(&mut st)?;
        }
        let seen = st.finished;
        let started = st.fetching.unwrap_or_else(Instant::now);
        let deadline = started + Duration::from_secs(self.config.timeout_s);
        while st.finished == seen {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let reason = format!(
                    "the provider did not answer within {} s",
                    self.config.timeout_s
                );
                return self.fallback(&st, reason);
            }
            st = self
                .done
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        match (&st.failure, &st.last) {
            (None, Some(obs)) => Ok(self.report(obs, false, None)),
            (Some((_, reason)), _) => {
                let reason = reason.clone();
                self.fallback(&st, reason)
            }
            (None, None) => Err(Error::Provider("no answer yet".into())),
        }
    }

    fn start_fetch(self: &Arc<Self>, st: &mut State) -> Result<(), Error> {
        let me = self.clone();
        std::thread::Builder::new()
            .name("weather".into())
            .stack_size(FETCH_STACK)
            .spawn(move || me.fetch_and_store())
            .map_err(|e| Error::Unavailable(format!("cannot start the weather fetch: {e}")))?;
        st.fetching = Some(Instant::now());
        st.attempts += 1;
        Ok(())
    }

    fn fetch_and_store(&self) {
        let result = fetch(&self.agent, &self.config);
        let mut st = self.lock();
        st.fetching = None;
        st.finished += 1;
        match result {
            Ok(current) => {
                st.last = Some(Observation {
                    current,
                    fetched_at: crate::events::now_s(),
                    at: Instant::now(),
                });
                st.failure = None;
            }
            Err(reason) => {
                log::warn!("weather: {reason}");
                st.failure = Some((Instant::now(), reason));
            }
        }
        self.done.notify_all();
    }

    /// The last good answer if it is young enough, else 503 with `reason`.
    fn fallback(&self, st: &State, reason: String) -> Result<Report, Error> {
        let limit = self.cache() * STALE_FACTOR;
        match st.last.as_ref().filter(|o| o.at.elapsed() <= limit) {
            Some(obs) => Ok(self.report(obs, true, Some(reason))),
            None => Err(Error::Provider(reason)),
        }
    }

    fn report(&self, obs: &Observation, cached: bool, provider_error: Option<String>) -> Report {
        Report {
            location: Location {
                name: self.config.name.clone(),
                latitude: self.config.latitude,
                longitude: self.config.longitude,
            },
            current: obs.current.clone(),
            description: obs.current.weather_code.map(describe),
            fetched_at: obs.fetched_at,
            age_s: obs.at.elapsed().as_secs(),
            cached,
            stale: provider_error.is_some(),
            provider_error,
            attribution: ATTRIBUTION,
        }
    }

    /// Prometheus lines: requests sent to the provider.
    pub fn write_metrics(&self, out: &mut crate::metrics::Writer) {
        let attempts = self.lock().attempts;
        out.family(
            "pistack_weather_fetches_total",
            crate::metrics::Kind::Counter,
            "Requests sent to the weather provider.",
        )
        .sample(&[], attempts);
    }
}

/// One request to the provider; the error is a sentence for the API's answer.
fn fetch(agent: &ureq::Agent, config: &WeatherConfig) -> Result<Current, String> {
    let answer = agent
        .get(&config.url)
        .query("latitude", &config.latitude.to_string())
        .query("longitude", &config.longitude.to_string())
        .query("current", "temperature_2m,weather_code,wind_speed_10m")
        .query("wind_speed_unit", "kmh")
        .query("timezone", "GMT")
        .call();
    let body = |r: ureq::Response| {
        let mut text = String::new();
        r.into_reader()
            .take(MAX_ANSWER_BYTES)
            .read_to_string(&mut text)
            .map(|_| text)
            .map_err(|e| format!("reading the provider's answer: {e}"))
    };
    match answer {
        Ok(r) => parse(&body(r)?),
        Err(ureq::Error::Status(code, r)) => {
            let reason = body(r)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| v["reason"].as_str().map(str::to_string))
                .unwrap_or_default();
            Err(format!("the provider answered HTTP {code} {reason}")
                .trim_end()
                .to_string())
        }
        Err(ureq::Error::Transport(t)) => Err(format!("cannot reach the provider: {t}")),
    }
}

/// Open-Meteo's JSON, either shape: `current` (`temperature_2m`, `weather_code`,
/// `wind_speed_10m`) or the older `current_weather` (`temperature`, `weathercode`,
/// `windspeed`). A weather code sent as a float (3.0) is taken.
pub fn parse(text: &str) -> Result<Current, String> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| format!("the provider's answer is not JSON: {e}"))?;
    if v["error"] == Value::Bool(true) {
        return Err(format!(
            "the provider refused: {}",
            v["reason"].as_str().unwrap_or("no reason given")
        ));
    }
    let (block, keys) = if v["current"].is_object() {
        (
            "current",
            ["temperature_2m", "weather_code", "wind_speed_10m"],
        )
    } else if v["current_weather"].is_object() {
        (
            "current_weather",
            ["temperature", "weathercode", "windspeed"],
        )
    } else {
        return Err("the provider's answer has neither \"current\" nor \"current_weather\"".into());
    };
    let b = &v[block];
    let temperature_c = b[keys[0]]
        .as_f64()
        .ok_or_else(|| format!("the provider's answer has no number {block}.{}", keys[0]))?;
    let weather_code = b[keys[1]]
        .as_f64()
        .filter(|c| (0.0..=255.0).contains(c))
        .map(|c| c.round() as u8);
    let observed_at = match &b["time"] {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    Ok(Current {
        temperature_c,
        wind_speed_kmh: b[keys[2]].as_f64(),
        weather_code,
        observed_at,
    })
}

/// WMO weather interpretation codes (WW), as Open-Meteo documents them.
pub fn describe(code: u8) -> &'static str {
    match code {
        0 => "Clear sky",
        1 => "Mainly clear",
        2 => "Partly cloudy",
        3 => "Overcast",
        45 => "Fog",
        48 => "Depositing rime fog",
        51 => "Light drizzle",
        53 => "Moderate drizzle",
        55 => "Dense drizzle",
        56 => "Light freezing drizzle",
        57 => "Dense freezing drizzle",
        61 => "Slight rain",
        63 => "Moderate rain",
        65 => "Heavy rain",
        66 => "Light freezing rain",
        67 => "Heavy freezing rain",
        71 => "Slight snowfall",
        73 => "Moderate snowfall",
        75 => "Heavy snowfall",
        77 => "Snow grains",
        80 => "Slight rain showers",
        81 => "Moderate rain showers",
        82 => "Violent rain showers",
        85 => "Slight snow showers",
        86 => "Heavy snow showers",
        95 => "Thunderstorm",
        96 => "Thunderstorm with slight hail",
        99 => "Thunderstorm with heavy hail",
        _ => "Unknown weather code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_shape() {
        let text = r#"{"latitude":52.2,"longitude":21.0,"current_units":{"temperature_2m":"°C"},
            "current":{"time":"2026-12-02T15:00","interval":900,"temperature_2m":-1.5,"weather_code":71,"wind_speed_10m":12.3}}"#;
        assert_eq!(
            parse(text).unwrap(),
            Current {
                temperature_c: -1.5,
                wind_speed_kmh: Some(12.3),
                weather_code: Some(71),
                observed_at: Some("2026-12-02T15:00".into()),
            }
        );
    }

    #[test]
    fn current_weather_shape_with_a_float_code() {
        let text = r#"{"current_weather":{"time":"2026-12-02T15:00","temperature":4.0,"windspeed":7.2,"winddirection":250,"weathercode":3.0,"is_day":1}}"#;
        let c = parse(text).unwrap();
        assert_eq!(c.temperature_c, 4.0);
        assert_eq!(c.wind_speed_kmh, Some(7.2));
        assert_eq!(c.weather_code, Some(3));
        assert_eq!(describe(c.weather_code.unwrap()), "Overcast");
    }

    #[test]
    fn missing_and_bad_answers_say_why() {
        let e = parse(r#"{"latitude":1,"hourly":{}}"#).unwrap_err();
        assert!(
            e.contains("neither \"current\" nor \"current_weather\""),
            "{e}"
        );
        let e = parse(r#"{"current":{"weather_code":1}}"#).unwrap_err();
        assert!(e.contains("current.temperature_2m"), "{e}");
        let e = parse(r#"{"error":true,"reason":"Latitude must be in range"}"#).unwrap_err();
        assert_eq!(e, "the provider refused: Latitude must be in range");
        assert!(parse("<html>").unwrap_err().contains("not JSON"));
        // A code outside WMO's range is dropped, not wrapped.
        let c = parse(r#"{"current":{"temperature_2m":1,"weather_code":-4}}"#).unwrap();
        assert_eq!((c.weather_code, c.wind_speed_kmh), (None, None));
    }

    #[test]
    fn wmo_codes() {
        assert_eq!(describe(0), "Clear sky");
        assert_eq!(describe(45), "Fog");
        assert_eq!(describe(65), "Heavy rain");
        assert_eq!(describe(99), "Thunderstorm with heavy hail");
        assert_eq!(describe(4), "Unknown weather code");
    }
}
