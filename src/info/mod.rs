//! Info: what the original's `info_service` told (the machine, its network, the
//! weather), plus the board's own health and a short history for the dashboard.
//! Everything is read from `/proc`, `/sys` and libc calls when asked; nothing is
//! run. The only thread of its own is the history sampler (one wake-up a minute).

pub mod api;
pub mod config;
pub mod history;
pub mod network;
pub mod pi;
pub mod system;
pub mod weather;

use config::InfoConfig;
use history::{History, Sample};
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use system::CpuTimes;
use weather::Weather;

/// Why an info answer cannot be given (404 for `NotConfigured`, else 503 at the API).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The machine's facts cannot be read (`/proc` or `/sys` missing, statvfs failed).
    Unavailable(String),
    /// `info.weather` is not in the config (404: this daemon has no weather).
    NotConfigured,
    /// The weather provider failed and no answer young enough is cached.
    Provider(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unavailable(m) => f.write_str(m),
            Error::NotConfigured => f.write_str(
                "no weather is configured: add \"info\": {\"weather\": {...}} to the config (see conf/README.md)",
            ),
            Error::Provider(m) => write!(f, "weather provider: {m}"),
        }
    }
}

/// Counts answered HTTP requests (the history's request rate).
pub type RequestCounter = Box<dyn Fn() -> u64 + Send + Sync>;

pub struct Info {
    state_dir: PathBuf,
    /// The previous `/proc/stat` reading of `GET /system`, for its CPU %.
    cpu: Mutex<CpuTracker>,
    history: History,
    weather: Option<Arc<Weather>>,
    requests: RequestCounter,
    sampler: Mutex<Option<JoinHandle<()>>>,
}

/// CPU % from two readings of `/proc/stat` at least `MIN_GAP` apart; a reading
/// sooner than that repeats the last figure (a 10 ms window says nothing).
#[derive(Default)]
struct CpuTracker {
    prev: Option<(Instant, CpuTimes)>,
    last: Option<f64>,
}

const MIN_GAP: Duration = Duration::from_secs(1);
const SAMPLER_STACK: usize = 128 * 1024;

impl CpuTracker {
    fn update(&mut self, now: CpuTimes) -> Option<f64> {
        match self.prev {
            Some((at, _)) if at.elapsed() < MIN_GAP => {}
            Some((_, before)) => {
                self.last = now.percent_since(&before).or(self.last);
                self.prev = Some((Instant::now(), now));
            }
            None => self.prev = Some((Instant::now(), now)),
        }
        self.last
    }
}

impl Info {
    /// Set up, and start the history sampler. A sampler that cannot start is
    /// logged and shown in health; the rest works.
    pub fn start(config: &InfoConfig, state_dir: PathBuf, requests: RequestCounter) -> Arc<Info> {
        let mut cpu = CpuTracker::default();
        if let Ok(now) = system::cpu_times() {
            cpu.update(now);
        }
        let info = Arc::new(Info {
            state_dir,
            cpu: Mutex::new(cpu),
            history: History::new(config.history_interval_s),
            weather: config.weather.clone().map(|w| Arc::new(Weather::new(w))),
            requests,
            sampler: Mutex::new(None),
        });
        let me = info.clone();
        match std::thread::Builder::new()
            .name("info-history".into())
            .stack_size(SAMPLER_STACK)
            .spawn(move || me.sample_forever())
        {
            Ok(h) => *info.sampler.lock().unwrap_or_else(|p| p.into_inner()) = Some(h),
            Err(e) => log::error!("cannot start the info history thread: {e}"),
        }
        info
    }

    pub fn system(&self) -> Result<system::System, Error> {
        let mut s = system::read(&self.state_dir)?;
        let now = system::cpu_times()?;
        s.cpu_percent = self
            .cpu
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .update(now);
        Ok(s)
    }

    pub fn network(&self) -> Result<network::Network, Error> {
        network::read(system::hostname()?)
    }

    /// Is `info.weather` configured (and so `/api/info/weather` routed)?
    pub fn has_weather(&self) -> bool {
        self.weather.is_some()
    }

    pub fn weather(&self) -> Result<weather::Report, Error> {
        self.weather.as_ref().ok_or(Error::NotConfigured)?.current()
    }

    pub fn history(&self, since: u64) -> history::Series {
        self.history.since(since)
    }

    /// One sample per interval: CPU % over the interval, memory, temperature, and
    /// the requests answered in it.
    fn sample_forever(&self) {
        let interval = Duration::from_secs(self.history.interval_s());
        let mut cpu_before = system::cpu_times().ok();
        let mut requests_before = (self.requests)();
        loop {
            std::thread::sleep(interval);
            let cpu_now = system::cpu_times().ok();
            let cpu_percent = match (cpu_now, cpu_before) {
                (Some(now), Some(before)) => now.percent_since(&before),
                _ => None,
            };
            cpu_before = cpu_now;
            let requests = (self.requests)();
            self.history.push(Sample {
                time: crate::events::now_s().min(u64::from(u32::MAX)) as u32,
                cpu_percent: cpu_percent.map_or(f32::NAN, |p| p as f32),
                memory_used_kib: system::memory_used().map_or(0, |b| (b / 1024) as u32),
                temp_c: pi::soc_temperature_c().map_or(f32::NAN, |t| t as f32),
                requests: requests.saturating_sub(requests_before) as u32,
            });
            requests_before = requests;
        }
    }

    /// For `/api/health`: the sampler runs and `/proc` answers.
    pub fn check(&self) -> Result<(), String> {
        match &*self.sampler.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(h) if !h.is_finished() => {}
            _ => return Err("the history sampler thread is not running".into()),
        }
        system::cpu_times().map(|_| ()).map_err(|e| e.to_string())
    }

    /// Prometheus lines: SoC temperature and under-voltage where the board has the
    /// sensors, the daemon's RSS, threads and open fds, weather fetches.
    pub fn write_metrics(&self, out: &mut crate::metrics::Writer) {
        let mut gauge = |name: &'static str, help: &str, value: String| {
            out.family(name, crate::metrics::Kind::Gauge, help)
                .sample(&[], value);
        };
        if let Some(t) = pi::soc_temperature_c() {
            gauge(
                "pistack_soc_temperature_celsius",
                "SoC temperature (thermal zone cpu-thermal, else the first zone).",
                t.to_string(),
            );
        }
        match pi::under_voltage() {
            pi::Voltage::Unsupported => {}
            uv => gauge(
                "pistack_under_voltage",
                "1 while the rpi_volt sensor reports under-voltage, else 0 (absent without the sensor).",
                u8::from(uv == pi::Voltage::Under).to_string(),
            ),
        }
        if let Ok(d) = system::daemon() {
            gauge(
                "pistack_daemon_resident_memory_bytes",
                "Resident memory of the pistack process.",
                d.rss_bytes.to_string(),
            );
            gauge(
                "pistack_daemon_threads",
                "Threads of the pistack process.",
                d.threads.to_string(),
            );
            gauge(
                "pistack_daemon_open_fds",
                "Open file descriptors of the pistack process.",
                d.open_fds.to_string(),
            );
        }
        if let Some(w) = &self.weather {
            w.write_metrics(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_tracker_needs_a_second_between_readings() {
        let mut t = CpuTracker::default();
        assert_eq!(
            t.update(CpuTimes {
                busy: 0,
                total: 100
            }),
            None
        );
        // Too soon: nothing new, and the first reading stays the base.
        assert_eq!(
            t.update(CpuTimes {
                busy: 50,
                total: 200
            }),
            None
        );
        t.prev = Some((
            Instant::now() - MIN_GAP,
            CpuTimes {
                busy: 0,
                total: 100,
            },
        ));
        assert_eq!(
            t.update(CpuTimes {
                busy: 25,
                total: 200
            }),
            Some(25.0)
        );
        assert_eq!(
            t.update(CpuTimes {
                busy: 99,
                total: 201
            }),
            Some(25.0)
        );
    }

    #[test]
    fn health_is_ok_only_while_the_sampler_runs() {
        let info = Info::start(&InfoConfig::default(), std::env::temp_dir(), Box::new(|| 0));
        assert_eq!(info.check(), Ok(()));
        let quiet = Info {
            state_dir: std::env::temp_dir(),
            cpu: Mutex::new(CpuTracker::default()),
            history: History::new(60),
            weather: None,
            requests: Box::new(|| 0),
            sampler: Mutex::new(None),
        };
        assert_eq!(
            quiet.check(),
            Err("the history sampler thread is not running".to_string())
        );
        assert_eq!(quiet.weather().unwrap_err(), Error::NotConfigured);
    }

    #[test]
    fn errors_say_what_to_do() {
        assert!(Error::NotConfigured.to_string().contains("info"));
        assert_eq!(
            Error::Provider("timed out".into()).to_string(),
            "weather provider: timed out"
        );
    }
}
