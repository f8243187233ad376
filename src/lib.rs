//! pistack's subsystems as a library, so that `main.rs` wires them and the fuzz
//! targets (fuzz/) can reach the parsers the daemon runs: the JWT decoder, the
//! request bodies, the config loader and the supervisord.conf importer. Each
//! subsystem is a module with a core that knows nothing of HTTP and a thin
//! adapter (`api.rs`); see README, "Map of the code".

pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod control;
pub mod ctl;
pub mod email;
pub mod events;
pub mod gpio;
pub mod health;
pub mod http;
pub mod info;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod names;
pub mod random;
pub mod reload;
pub mod rules;
pub mod signals;
pub mod store;
pub mod supervisor;
pub mod systemd;
pub mod tls_client;
pub mod xmlrpc;
