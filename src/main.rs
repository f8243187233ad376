//! pistack: one daemon for a Raspberry Pi. `main` parses the command line and wires
//! the subsystems together; each subsystem lives in its own module (see README,
//! "Map of the code").

mod audit;
mod auth;
mod cli;
mod config;
#[cfg(test)]
mod config_docs;
mod events;
mod gpio;
mod health;
mod http;
mod logging;
mod metrics;
mod names;
mod random;
mod signals;
mod store;
mod supervisor;
mod systemd;

use std::sync::{Arc, OnceLock};

fn main() {
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("pistack: {e}\n{}", cli::USAGE);
            std::process::exit(2);
        }
    };
    let code = match args.command {
        cli::Command::Version => {
            println!("pistack {}", env!("CARGO_PKG_VERSION"));
            0
        }
        cli::Command::Help => {
            println!("{}", cli::USAGE);
            0
        }
        cli::Command::CheckConfig => cli::check_config(&args.config),
        cli::Command::Passwd(name) => cli::passwd(&args.config, &name),
        cli::Command::ImportSupervisord(file) => supervisor::import::run(&file),
        cli::Command::Serve => {
            logging::init();
            match serve(&args.config) {
                Ok(()) => 0,
                Err(e) => {
                    log::error!("{}", e.trim_end());
                    1
                }
            }
        }
    };
    std::process::exit(code);
}

/// The daemon: start every subsystem, serve until SIGTERM/SIGINT, stop in order.
fn serve(config_path: &std::path::Path) -> Result<(), String> {
    // Before any thread exists, so that every thread inherits the mask.
    signals::block_shutdown_signals();
    let config = config::load(config_path).map_err(|e| e.to_string())?;
    store::ensure_dir(&config.state_dir)
        .map_err(|e| format!("state_dir {}: {e}", config.state_dir.display()))?;
    let _lock = store::StateLock::acquire(&config.state_dir).map_err(|e| e.to_string())?;

    let auth =
        Arc::new(auth::Auth::open(&config.auth, &config.state_dir).map_err(|e| e.to_string())?);
    let bus = Arc::new(events::Bus::new());
    let supervisor =
        supervisor::Supervisor::start(&config.programs, &config.state_dir, bus.clone())
            .map_err(|e| e.to_string())?;
    let gpio = gpio::Gpio::open(&config.gpio, bus);
    let (router, stats) = router(&config, &auth, &supervisor, &gpio);

    let site = Arc::new(http::Site {
        router,
        auth,
        www_dir: config.http.www_dir.clone(),
        max_body_bytes: config.http.max_body_bytes,
        stats,
    });
    let server = match http::HttpServer::start(&config.http, site) {
        Ok(s) => s,
        Err(e) => {
            supervisor.shutdown();
            return Err(e.to_string());
        }
    };
    log::info!(
        "pistack {} listening on http://{} (state in {})",
        env!("CARGO_PKG_VERSION"),
        server.addr,
        config.state_dir.display()
    );
    systemd::notify("READY=1");
    systemd::spawn_watchdog(server.addr);

    let sig = signals::wait_for_shutdown();
    log::info!("signal {sig}: shutting down");
    systemd::notify("STOPPING=1");
    server.stop();
    supervisor.shutdown();
    log::info!("stopped");
    Ok(())
}

/// Every route, with health and metrics fed by the subsystems; and the HTTP
/// counters the metrics read.
fn router(
    config: &config::Config,
    auth: &Arc<auth::Auth>,
    supervisor: &Arc<supervisor::Supervisor>,
    gpio: &Arc<gpio::Gpio>,
) -> (http::router::Router, Arc<http::Stats>) {
    let mut health = health::Health::new();
    health.add(health::Service::Auth, Box::new(|| Ok(())));
    let (s, g) = (supervisor.clone(), gpio.clone());
    health.add(health::Service::Supervisor, Box::new(move || s.check()));
    health.add(health::Service::Io, Box::new(move || g.health()));

    let stats = Arc::new(http::Stats::default());
    let mut metrics = metrics::Metrics::default();
    let (h, s, g) = (stats.clone(), supervisor.clone(), gpio.clone());
    metrics.add(Box::new(move |out| h.write_metrics(out)));
    metrics.add(Box::new(move |out| s.write_metrics(out)));
    metrics.add(Box::new(move |out| g.write_metrics(out)));

    let docs = Arc::new(OnceLock::new());
    let audit = Arc::new(audit::Audit::new());
    let mut routes = health::routes(Arc::new(health), docs.clone());
    routes.extend(auth::api::routes(auth.clone(), audit.clone()));
    routes.extend(supervisor::api::routes(supervisor.clone(), audit.clone()));
    routes.extend(gpio::api::routes(gpio.clone(), audit.clone()));
    routes.push(audit::route(audit));
    routes.push(metrics::route(Arc::new(metrics), &config.metrics));
    let router = http::router::Router::new(routes);
    let _ = docs.set(health::documents(router.routes()));
    (router, stats)
}
