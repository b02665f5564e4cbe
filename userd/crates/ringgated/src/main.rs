//! `ringgated`: the daemon of a ringgate gateway node.
//!
//! `ringgated` alone checks that the kernel module answers in this network
//! namespace and waits for SIGTERM or SIGINT. `ringgated --config FILE` also
//! joins the token ring the file describes and serves `ringgatectl ring` on
//! its control socket.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use ringgate_netlink::Client;
use ringgated::config::{Config, KernelModule};
use ringgated::{control, ring_handle, runtime};
use signal_hook::consts::TERM_SIGNALS;

fn log(msg: &str) {
    eprintln!("ringgated[{}]: {msg}", std::process::id());
}

fn check_module(required: bool) -> Result<(), String> {
    match Client::connect().and_then(|c| c.status(None)) {
        Ok(status) => {
            log(&format!(
                "module ringgate {} answers in this network namespace",
                status.version
            ));
            Ok(())
        }
        Err(e) if !required => {
            log(&format!(
                "{e}; running the ring only (kernel_module = \"optional\")"
            ));
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let config_path = match (args.next().as_deref(), args.next()) {
        (None, _) => None,
        (Some("--config"), Some(path)) => Some(PathBuf::from(path)),
        _ => return Err("usage: ringgated [--config FILE]".into()),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in TERM_SIGNALS {
        signal_hook::flag::register(*signal, Arc::clone(&stop))
            .map_err(|e| format!("signal handlers: {e}"))?;
    }
    let Some(path) = config_path else {
        check_module(true)?;
        log("started");
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        log("signal received, stopping");
        return Ok(());
    };

    let config = Config::load(&path)?;
    check_module(config.kernel_module == KernelModule::Required)?;
    let (to_ring, from_control) = ring_handle::ring_channel()?;
    control::serve(&config.control_socket, to_ring)?;
    log(&format!(
        "started: node {} on {}, ring of {:?}",
        config.node_id,
        config.listen,
        config.members()
    ));
    let result = runtime::run(&config, from_control, &stop);
    let _ = std::fs::remove_file(&config.control_socket);
    log("signal received, stopping");
    result
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log(&e);
            ExitCode::FAILURE
        }
    }
}
