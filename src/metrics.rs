//! `/metrics` in Prometheus' text format. Each subsystem registers a function that
//! appends its own lines, so this module knows none of them.

use crate::http::reply::Reply;
use crate::http::router::{Access, Route};
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::sync::Arc;

/// The `metrics` section of the config.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `/metrics` without a token.
    pub public: bool,
}

pub type Source = Box<dyn Fn(&mut String) + Send + Sync>;

#[derive(Default)]
pub struct Metrics {
    sources: Vec<Source>,
}

impl Metrics {
    pub fn add(&mut self, source: Source) {
        self.sources.push(source);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# TYPE pistack_build_info gauge");
        let _ = writeln!(
            out,
            "pistack_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        for source in &self.sources {
            source(&mut out);
        }
        out
    }
}

/// A label value with `\`, `"` and newlines escaped as the format requires.
pub fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub fn route(metrics: Arc<Metrics>, config: &MetricsConfig) -> Route {
    let access = if config.public {
        Access::Public
    } else {
        Access::AtLeast(crate::auth::Level::User)
    };
    Route::new("GET", "/metrics", access, "Prometheus metrics", move |_| {
        let mut reply = Reply::text(200, metrics.render().into_bytes());
        reply.content_type = "text/plain; version=0.0.4; charset=utf-8";
        Ok(reply)
    })
    .answers("text/plain")
    .responds(200, serde_json::json!({"type": "string"}))
}
