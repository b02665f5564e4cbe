//! `ringgated`: the daemon of a ringgate gateway node.
//!
//! For now it checks that the kernel module answers in this network
//! namespace, logs what it finds, and waits for SIGTERM or SIGINT to stop
//! cleanly; the token ring and the cluster logic grow here.

use std::process::ExitCode;

use ringgate_netlink::Client;
use signal_hook::{consts::TERM_SIGNALS, iterator::Signals};

fn log(msg: &str) {
    eprintln!("ringgated[{}]: {msg}", std::process::id());
}

fn main() -> ExitCode {
    let mut signals = match Signals::new(TERM_SIGNALS) {
        Ok(s) => s,
        Err(e) => {
            log(&format!("cannot install signal handlers: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let client = match Client::connect() {
        Ok(c) => c,
        Err(e) => {
            log(&format!("{e}"));
            return ExitCode::FAILURE;
        }
    };
    match client.status(None) {
        Ok(status) => log(&format!(
            "module ringgate {} answers in this network namespace",
            status.version
        )),
        Err(e) => {
            log(&format!("{e}"));
            return ExitCode::FAILURE;
        }
    }
    log("started");
    if let Some(signal) = signals.forever().next() {
        log(&format!("signal {signal} received, stopping"));
    }
    ExitCode::SUCCESS
}
