//! pistack: one daemon for a Raspberry Pi. `main` parses the command line and wires
//! the subsystems together; each subsystem lives in its own module (see README,
//! "Map of the code").

// The subsystems live in the library (src/lib.rs); `crate::auth` etc. resolve here too.
#[cfg(test)]
mod config_docs;
use pistack::{
    audit, auth, cli, config, control, ctl, email, events, gpio, health, http, info, logging,
    memory, metrics, reload, rules, signals, store, supervisor, systemd, xmlrpc,
};

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
        cli::Command::Ctl(words) => ctl::run(&args.config, words),
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
    memory::limit_malloc_arenas();
    let config = config::load(config_path).map_err(|e| e.to_string())?;
    store::ensure_dir(&config.state_dir)
        .map_err(|e| format!("state_dir {}: {e}", config.state_dir.display()))?;
    let _lock = store::StateLock::acquire(&config.state_dir).map_err(|e| e.to_string())?;

    let mut running = Running::default();
    let started = start(&config, config_path, &mut running)?;
    log::info!(
        "pistack {} listening on {}://{} (state in {})",
        env!("CARGO_PKG_VERSION"),
        if config.http.tls.is_some() {
            "https"
        } else {
            "http"
        },
        started.addr,
        config.state_dir.display()
    );
    systemd::notify("READY=1");
    systemd::spawn_watchdog(started.addr);

    let sig = signals::wait_for_shutdown(|| started.reloader.hangup());
    log::info!("signal {sig}: shutting down");
    systemd::notify("STOPPING=1");
    running.stop_all();
    log::info!("stopped");
    Ok(())
}

/// What has been started, stopped newest first: at shutdown, and when a later
/// part fails to start, so that a failed start leaves no child or thread behind.
#[derive(Default)]
struct Running(Vec<Box<dyn FnOnce()>>);

impl Running {
    fn started(&mut self, stop: impl FnOnce() + 'static) {
        self.0.push(Box::new(stop));
    }

    fn stop_all(&mut self) {
        while let Some(stop) = self.0.pop() {
            stop();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// What `serve` needs of the started daemon.
struct Started {
    addr: std::net::SocketAddr,
    reloader: Arc<reload::Reloader>,
}

/// Starts every subsystem in the order they depend on each other, each one's
/// stop registered in `running` as soon as it runs.
fn start(
    config: &config::Config,
    config_path: &std::path::Path,
    running: &mut Running,
) -> Result<Started, String> {
    let auth =
        Arc::new(auth::Auth::open(&config.auth, &config.state_dir).map_err(|e| e.to_string())?);
    let bus = Arc::new(events::Bus::new());
    let mailer =
        email::Mailer::start(&config.email, &config.state_dir).map_err(|e| e.to_string())?;
    running.started({
        let mailer = mailer.clone();
        move || mailer.shutdown()
    });
    let supervisor =
        supervisor::Supervisor::start(&config.programs, &config.state_dir, bus.clone())
            .map_err(|e| e.to_string())?;
    running.started({
        let supervisor = supervisor.clone();
        move || supervisor.shutdown()
    });
    let gpio = gpio::Gpio::open(&config.gpio, bus.clone());
    let actuators = rules::Actuators {
        supervisor: supervisor.clone(),
        gpio: gpio.clone(),
        mailer: mailer.clone(),
    };
    let rules = rules::Rules::start(config, actuators, &bus)?;
    running.started({
        let rules = rules.clone();
        move || rules.shutdown()
    });
    let stats = Arc::new(http::Stats::default());
    let answered = stats.clone();
    let info = info::Info::start(
        &config.info,
        config.state_dir.clone(),
        Box::new(move || answered.total()),
    );
    let tls = match &config.http.tls {
        Some(t) => Some(Arc::new(
            http::tls::Tls::start(t, &config.state_dir).map_err(|e| e.to_string())?,
        )),
        None => None,
    };
    let reloader = Arc::new(reload::Reloader::new(
        config_path.to_path_buf(),
        config.clone(),
        supervisor.clone(),
        gpio.clone(),
        tls.clone(),
    ));
    let parts = Parts {
        auth: auth.clone(),
        supervisor: supervisor.clone(),
        gpio,
        info,
        mailer,
        rules,
        stats: stats.clone(),
        reloader: reloader.clone(),
    };
    let site = Arc::new(http::Site {
        router: router(config, config_path, parts),
        auth,
        www_dir: config.http.www_dir.clone(),
        max_body_bytes: config.http.max_body_bytes,
        stats,
    });
    let server = http::HttpServer::start(&config.http, site.clone(), tls.as_deref())
        .map_err(|e| e.to_string())?;
    let addr = server.addr;
    running.started(move || server.stop());
    let control = control::ControlServer::start(&config.control_socket(), site, supervisor)?;
    log::info!("control socket {}", control.path().display());
    running.started(move || control.stop());
    Ok(Started { addr, reloader })
}

/// Reads the programs of the configuration file again (a reload).
fn programs_of(
    path: &std::path::Path,
) -> impl Fn() -> Result<std::collections::BTreeMap<String, supervisor::config::ProgramConfig>, String>
       + Send
       + Sync
       + 'static {
    let path = path.to_path_buf();
    move || {
        config::load(&path)
            .map(|c| c.programs)
            .map_err(|e| e.to_string())
    }
}

/// The running subsystems whose routes, health and metrics the router serves.
struct Parts {
    auth: Arc<auth::Auth>,
    supervisor: Arc<supervisor::Supervisor>,
    gpio: Arc<gpio::Gpio>,
    info: Arc<info::Info>,
    mailer: Arc<email::Mailer>,
    rules: Arc<rules::Rules>,
    stats: Arc<http::Stats>,
    reloader: Arc<reload::Reloader>,
}

/// Every route, with health and metrics fed by the subsystems.
fn router(
    config: &config::Config,
    config_path: &std::path::Path,
    parts: Parts,
) -> http::router::Router {
    let Parts {
        auth,
        supervisor,
        gpio,
        info,
        mailer,
        rules,
        stats,
        reloader,
    } = parts;
    let mut health = health::Health::new();
    health.add(health::Service::Auth, Box::new(|| Ok(())));
    let (s, g, i, r) = (
        supervisor.clone(),
        gpio.clone(),
        info.clone(),
        rules.clone(),
    );
    health.add(health::Service::Supervisor, Box::new(move || s.check()));
    health.add(health::Service::Io, Box::new(move || g.health()));
    health.add(health::Service::Info, Box::new(move || i.check()));
    health.add(health::Service::Rules, Box::new(move || r.check()));
    if mailer.configured() {
        let m = mailer.clone();
        health.add(health::Service::Email, Box::new(move || m.health()));
    } else {
        health.off(health::Service::Email, "no SMTP configured");
    }

    let mut metrics = metrics::Metrics::default();
    let (h, s, g, i) = (stats, supervisor.clone(), gpio.clone(), info.clone());
    metrics.add(Box::new(move |out| h.write_metrics(out)));
    metrics.add(Box::new(move |out| s.write_metrics(out)));
    metrics.add(Box::new(move |out| g.write_metrics(out)));
    metrics.add(Box::new(move |out| i.write_metrics(out)));
    let (m, r) = (mailer.clone(), rules.clone());
    metrics.add(Box::new(move |out| m.write_metrics(out)));
    metrics.add(Box::new(move |out| r.write_metrics(out)));

    let docs = Arc::new(OnceLock::new());
    let audit = Arc::new(audit::Audit::new());
    let mut routes = health::routes(Arc::new(health), docs.clone());
    routes.extend(auth::api::routes(auth.clone(), audit.clone()));
    routes.extend(supervisor::api::routes(supervisor.clone(), audit.clone()));
    routes.push(reload::api::route(reloader));
    routes.push(xmlrpc::route(
        auth,
        supervisor,
        Box::new(programs_of(config_path)),
    ));
    routes.extend(gpio::api::routes(gpio, audit.clone()));
    routes.extend(info::api::routes(info));
    routes.extend(email::api::routes(mailer));
    routes.extend(rules::api::routes(rules));
    routes.push(audit::route(audit));
    routes.push(metrics::route(Arc::new(metrics), &config.metrics));
    let router = http::router::Router::new(routes);
    let _ = docs.set(health::documents(router.routes()));
    router
}
