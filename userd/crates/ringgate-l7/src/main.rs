//! `ringgate-l7d --config FILE`: serves the HTTP-mode services of a gateway.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use ringgate_l7::config::Config;
use ringgate_l7::proxy::{serve, Service};
use ringgate_l7::{listener, status};
use tokio::sync::Semaphore;

fn usage() -> ExitCode {
    eprintln!("usage: ringgate-l7d --config FILE [--check]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, check) = match args.as_slice() {
        [flag, path] if flag == "--config" => (PathBuf::from(path), false),
        [flag, path, check] if flag == "--config" && check == "--check" => {
            (PathBuf::from(path), true)
        }
        _ => return usage(),
    };
    let config = match Config::load(&path) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("ringgate-l7d: {error}");
            return ExitCode::from(2);
        }
    };
    if check {
        return ExitCode::SUCCESS;
    }
    // The proxy gives way to ringgated: a busy proxy must not delay the token.
    if let Err(error) = rustix::process::setpriority_process(None, config.nice) {
        eprintln!("ringgate-l7d: nice {}: {error}", config.nice);
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads)
        .thread_name("ringgate-l7")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ringgate-l7d: runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ringgate-l7d: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> Result<(), String> {
    // Everything is bound before anything is served: a bad address stops the
    // start with nothing half running.
    let mut bound = Vec::new();
    for service in &config.services {
        let socket = listener::bind(service.listen)
            .map_err(|e| format!("listen {}: {e}", service.listen))?;
        let service = Arc::new(Service::new(
            service.listen,
            &service.backends,
            config.settings.clone(),
        ));
        bound.push((socket, service));
    }
    let status_listener = status::bind(&config.status_socket)
        .map_err(|e| format!("status_socket {}: {e}", config.status_socket.display()))?;
    let permits = Arc::new(Semaphore::new(config.settings.max_connections));
    let services: Vec<_> = bound.iter().map(|(_, service)| service.clone()).collect();
    for (socket, service) in bound {
        tokio::spawn(serve(socket, service, permits.clone()));
    }
    tokio::spawn(status::serve(status_listener, services));
    eprintln!("ringgate-l7d: serving {} services", config.services.len());
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("signal: {e}"))?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let _ = std::fs::remove_file(&config.status_socket);
    Ok(())
}
