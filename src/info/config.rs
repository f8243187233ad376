//! The `info` section of the configuration (docs: `conf/README.md`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct InfoConfig {
    /// `null` (the default): `/api/info/weather` answers 404 "no weather is configured".
    pub weather: Option<WeatherConfig>,
    /// Seconds between two samples of the history ring (1 to 3600). The ring keeps
    /// [`super::history::CAPACITY`] samples: 24 h at the default of 60.
    pub history_interval_s: u64,
}

impl Default for InfoConfig {
    fn default() -> Self {
        InfoConfig {
            weather: None,
            history_interval_s: 60,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeatherConfig {
    pub url: String,
    pub name: String,
    pub latitude: f64,
    pub longitude: f64,
    pub cache_s: u64,
    /// The one timeout of a fetch (connect, send, answer). No HTTP worker waits
    /// for the provider longer than this.
    pub timeout_s: u64,
}

impl Default for WeatherConfig {
    fn default() -> Self {
        WeatherConfig {
            url: "https://api.open-meteo.com/v1/forecast".into(),
            name: "Warsaw".into(),
            latitude: 52.23,
            longitude: 21.01,
            cache_s: 600,
            timeout_s: 5,
        }
    }
}

/// What serde cannot check, each problem naming its key path.
pub fn validate(info: &InfoConfig) -> Vec<String> {
    let mut problems = Vec::new();
    if !(1..=3600).contains(&info.history_interval_s) {
        problems.push("info.history_interval_s: must be 1 to 3600".into());
    }
    if let Some(w) = &info.weather {
        if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
            problems.push("info.weather.url: must start with http:// or https://".into());
        }
        if !(-90.0..=90.0).contains(&w.latitude) || !(-180.0..=180.0).contains(&w.longitude) {
            problems.push("info.weather.latitude/longitude: out of range".into());
        }
        if w.cache_s == 0 {
            problems.push("info.weather.cache_s: must be above 0".into());
        }
        if !(1..=60).contains(&w.timeout_s) {
            problems.push("info.weather.timeout_s: must be 1 to 60".into());
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_named() {
        assert!(validate(&InfoConfig::default()).is_empty());
        let bad = InfoConfig {
            weather: Some(WeatherConfig {
                url: "ftp://x".into(),
                timeout_s: 0,
                cache_s: 0,
                ..WeatherConfig::default()
            }),
            history_interval_s: 0,
        };
        assert_eq!(
            validate(&bad),
            vec![
                "info.history_interval_s: must be 1 to 3600",
                "info.weather.url: must start with http:// or https://",
                "info.weather.cache_s: must be above 0",
                "info.weather.timeout_s: must be 1 to 60",
            ]
        );
    }
}
