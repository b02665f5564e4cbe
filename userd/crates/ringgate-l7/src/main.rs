//! `ringgate-l7d --config FILE [--check] [--die-with-parent]`: serves the
//! HTTP-mode services of a gateway. `SIGHUP` reloads the services and their
//! back-ends; `ringgated` starts it with `--die-with-parent`, so that a
//! daemon killed outright takes its proxy along instead of leaving it
//! holding the listening ports its successor needs.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use ringgate_l7::config::Config;
use ringgate_l7::services::{Applied, Services};
use ringgate_l7::status;
use ringgate_l7::workers::Workers;
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
    // A SIGHUP ends a process by default, and ringgated may send one as
    // soon as it wrote a change: from here on it only raises this flag,
    // which `run` reads once the runtime listens for it.
    let early_hangup = Arc::new(AtomicBool::new(false));
    if let Err(error) =
        signal_hook::flag::register(signal_hook::consts::SIGHUP, early_hangup.clone())
    {
        eprintln!("ringgate-l7d: SIGHUP: {error}");
        return ExitCode::FAILURE;
    }
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
    // Client connections are served by worker threads, each with a runtime
    // of its own (see `workers`); this thread accepts them, answers the
    // status socket and handles signals and reloads. The workers start
    // after `setpriority`, whose nice value they inherit.
    let workers = match Workers::start(config.worker_threads) {
        Ok(workers) => workers,
        Err(error) => {
            eprintln!("ringgate-l7d: worker threads: {error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ringgate-l7d: runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args.config, config, workers, early_hangup)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ringgate-l7d: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    path: &Path,
    config: Config,
    workers: Arc<Workers>,
    early_hangup: Arc<AtomicBool>,
) -> Result<(), String> {
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| format!("signal: {e}"))?;
    let mut hangup = signal(SignalKind::hangup()).map_err(|e| format!("signal: {e}"))?;
    let status_listener = status::bind(&config.status_socket)
        .map_err(|e| format!("status_socket {}: {e}", config.status_socket.display()))?;
    let status_path = config.status_socket.clone();
    // The socket this process bound, to remove at exit only if it is still
    // the one at the path (a successor may have bound its own there).
    let status_inode = std::fs::metadata(&status_path).map(|m| m.ino()).ok();
    let mut proxy = Services::new(config.settings.max_connections, workers);
    // A service left out (its port still held, say by a proxy on its way
    // out) is tried again every few seconds, not only at the next change.
    let mut said = Said::default();
    let mut retry_at = said.report("started", proxy.apply(config));
    tokio::spawn(status::serve(status_listener, proxy.served()));
    // A SIGHUP between the start and now found the flag only: the file may
    // have changed after it was read.
    let mut reload = early_hangup
        .swap(false, Ordering::Relaxed)
        .then_some("reloaded");
    loop {
        if let Some(what) = reload.take() {
            match Config::load(path) {
                Ok(config) => retry_at = said.report(what, proxy.apply(config)),
                Err(error) => {
                    eprintln!(
                        "ringgate-l7d: reload refused, the running services stay as they were: {error}"
                    );
                    // A pending retry waits its turn again, not at once.
                    retry_at = retry_at.map(|_| Instant::now() + RETRY_UNBOUND);
                }
            }
        }
        let retry = async {
            match retry_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = hangup.recv() => reload = Some("reloaded"),
            _ = retry => reload = Some("retried"),
        }
    }
    let ours = std::fs::metadata(&status_path).map(|m| m.ino()).ok();
    if ours.is_some() && ours == status_inode {
        let _ = std::fs::remove_file(status_path);
    }
    Ok(())
}

/// How long a service that could not be bound waits to be tried again.
const RETRY_UNBOUND: Duration = Duration::from_secs(2);

/// What the log last said about a start or reload: a retry that changes
/// nothing (a port that stays taken) is not logged again every time; a
/// start or a reload always is.
#[derive(Default)]
struct Said {
    summary: String,
    unbound: Vec<String>,
}

impl Said {
    /// Logs what a start or reload did, naming each service left out,
    /// unless it is what was logged last; returns when to try those again.
    fn report(&mut self, what: &str, applied: Applied) -> Option<Instant> {
        let same = applied.summary == self.summary && applied.unbound == self.unbound;
        if what != "retried" || !same {
            eprintln!("ringgate-l7d: {what}: {}", applied.summary);
            for error in &applied.unbound {
                eprintln!(
                    "ringgate-l7d: {error}: not served; tried again every {} s",
                    RETRY_UNBOUND.as_secs()
                );
            }
        }
        let retry = (!applied.unbound.is_empty()).then(|| Instant::now() + RETRY_UNBOUND);
        self.summary = applied.summary;
        self.unbound = applied.unbound;
        retry
    }
}
