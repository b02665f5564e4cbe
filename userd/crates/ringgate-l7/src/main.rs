//! `ringgate-l7d --config FILE [--check] [--die-with-parent]`: serves the
//! HTTP-mode services of a gateway. `SIGHUP` reloads the services and their
//! back-ends; `ringgated` starts it with `--die-with-parent`, so that a
//! daemon killed outright takes its proxy along instead of leaving it
//! holding the listening ports its successor needs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ringgate_l7::config::Config;
use ringgate_l7::services::Services;
use ringgate_l7::status;
use tokio::signal::unix::{signal, SignalKind};

fn usage() -> ExitCode {
    eprintln!("usage: ringgate-l7d --config FILE [--check] [--die-with-parent]");
    ExitCode::from(2)
}

struct Args {
    config: PathBuf,
    check: bool,
    die_with_parent: bool,
}

fn parse_args(args: &[String]) -> Option<Args> {
    let mut config = None;
    let (mut check, mut die_with_parent) = (false, false);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" if config.is_none() => config = Some(PathBuf::from(args.next()?)),
            "--check" => check = true,
            "--die-with-parent" => die_with_parent = true,
            _ => return None,
        }
    }
    Some(Args {
        config: config?,
        check,
        die_with_parent,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(args) = parse_args(&args) else {
        return usage();
    };
    if args.die_with_parent {
        let parent = rustix::process::getppid();
        let term = Some(rustix::process::Signal::Term);
        if let Err(error) = rustix::process::set_parent_process_death_signal(term) {
            eprintln!("ringgate-l7d: --die-with-parent: {error}");
            return ExitCode::FAILURE;
        }
        // The parent may have died before the request took effect.
        if rustix::process::getppid() != parent {
            eprintln!("ringgate-l7d: the parent is gone");
            return ExitCode::FAILURE;
        }
    }
    let config = match Config::load(&args.config) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("ringgate-l7d: {error}");
            return ExitCode::from(2);
        }
    };
    if args.check {
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
    match runtime.block_on(run(&args.config, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ringgate-l7d: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(path: &Path, config: Config) -> Result<(), String> {
    // Signals first: once the status socket exists, a SIGHUP reloads
    // (ringgated waits for the socket before it sends one) instead of
    // ending the process, which is what it does by default.
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| format!("signal: {e}"))?;
    let mut hangup = signal(SignalKind::hangup()).map_err(|e| format!("signal: {e}"))?;
    let status_listener = status::bind(&config.status_socket)
        .map_err(|e| format!("status_socket {}: {e}", config.status_socket.display()))?;
    let mut proxy = Services::new(config.settings.max_connections);
    let status_path = config.status_socket.clone();
    let started = proxy.apply(config)?;
    tokio::spawn(status::serve(status_listener, proxy.served()));
    eprintln!("ringgate-l7d: {started}");
    loop {
        tokio::select! {
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = hangup.recv() => {
                let outcome = Config::load(path).and_then(|config| proxy.apply(config));
                match outcome {
                    Ok(done) => eprintln!("ringgate-l7d: reloaded: {done}"),
                    Err(error) => eprintln!(
                        "ringgate-l7d: reload refused, the running services stay as they were: {error}"
                    ),
                }
            }
        }
    }
    let _ = std::fs::remove_file(status_path);
    Ok(())
}
