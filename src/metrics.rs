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

pub type Source = Box<dyn Fn(&mut Writer) + Send + Sync>;

#[derive(Default)]
pub struct Metrics {
    sources: Vec<Source>,
}

impl Metrics {
    pub fn add(&mut self, source: Source) {
        self.sources.push(source);
    }

    pub fn render(&self) -> String {
        let mut out = Writer::default();
        out.family(
            "pistack_build_info",
            Kind::Gauge,
            "The running pistack's version (always 1).",
        )
        .sample(&[("version", env!("CARGO_PKG_VERSION"))], 1);
        for source in &self.sources {
            source(&mut out);
        }
        out.text
    }
}

/// A family's Prometheus type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// The exposition being written. Samples can only be written through a
/// [`Family`], which writes HELP and TYPE first and borrows the writer until it is
/// dropped: a family's samples are together by construction, and a name used
/// twice is refused, so no subsystem can interleave or repeat a family.
#[derive(Default)]
pub struct Writer {
    text: String,
    names: Vec<&'static str>,
}

impl Writer {
    /// Start family `name`. A second family of the same name gets no lines (and
    /// an error in the log): promtool would refuse the whole page.
    pub fn family(&mut self, name: &'static str, kind: Kind, help: &str) -> Family<'_> {
        let repeated = self.names.contains(&name);
        if repeated {
            log::error!("metrics: the family {name} is written twice; its second part is left out");
        } else {
            self.names.push(name);
            let kind = match kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
            };
            let help = help.replace('\\', "\\\\").replace('\n', "\\n");
            let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        }
        Family {
            writer: self,
            name,
            skip: repeated,
        }
    }
}

/// One family being written: see [`Writer::family`].
pub struct Family<'a> {
    writer: &'a mut Writer,
    name: &'static str,
    skip: bool,
}

impl Family<'_> {
    /// One sample; label values are escaped here.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl std::fmt::Display) -> &mut Self {
        if self.skip {
            return self;
        }
        let out = &mut self.writer.text;
        out.push_str(self.name);
        if !labels.is_empty() {
            out.push('{');
            for (n, (k, v)) in labels.iter().enumerate() {
                if n > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{k}=\"{}\"", label(v));
            }
            out.push('}');
        }
        let _ = writeln!(out, " {value}");
        self
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_is_help_type_then_its_samples_and_never_twice() {
        let mut w = Writer::default();
        w.family("a_total", Kind::Counter, "As.")
            .sample(&[("x", "q\"\\\n")], 1)
            .sample(&[], 2);
        w.family("b", Kind::Gauge, "Bs.")
            .sample(&[("p", "1"), ("q", "2")], 0.5);
        w.family("a_total", Kind::Counter, "Again.").sample(&[], 3);
        assert_eq!(
            w.text,
            "# HELP a_total As.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\"} 1\na_total 2\n\
             # HELP b Bs.\n# TYPE b gauge\nb{p=\"1\",q=\"2\"} 0.5\n"
        );
    }
}
