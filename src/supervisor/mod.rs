//! Process supervision (supervisord's job). Filled in by the supervision work.

pub mod config;
