//! `ringgatectl`: the operator's command line. Each subcommand is one small
//! function; the kernel is reached through `ringgate-netlink`.

mod ring;
mod status;
mod vip;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ringgate_netlink::Hook;

#[derive(Parser)]
#[command(
    name = "ringgatectl",
    version,
    about = "Control a ringgate gateway node"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Module version and this network namespace's per-hook counters.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Show only this hook (pre-routing, local-in, forward, local-out, post-routing, arp-in, arp-out).
        #[arg(long)]
        hook: Option<Hook>,
    },
    /// Manage this network namespace's counters.
    Counters {
        #[command(subcommand)]
        action: CountersAction,
    },
    /// The pool of virtual IPs of this network namespace.
    Vip {
        #[command(subcommand)]
        action: VipAction,
    },
    /// The token ring as the local ringgated sees it.
    Ring {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The daemon's control socket (its config's control_socket).
        #[arg(long, default_value = "/run/ringgated.sock")]
        socket: PathBuf,
        #[command(subcommand)]
        action: Option<RingAction>,
    },
}

#[derive(Subcommand)]
enum VipAction {
    /// Add a VIP to the pool, not owned (the address must also be configured
    /// on an interface before it can be owned).
    Add {
        addr: Ipv4Addr,
        /// Gratuitous ARP pairs sent when this node takes the VIP (1-16, default 3).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=16))]
        garp_count: Option<u32>,
    },
    /// Remove a VIP from the pool.
    Del { addr: Ipv4Addr },
    /// List the pool.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Take a VIP: answer ARP for it, announced by gratuitous ARP.
    Own { addr: Ipv4Addr },
    /// Release a VIP: stop answering ARP for it.
    Release { addr: Ipv4Addr },
}

#[derive(Subcommand)]
enum RingAction {
    /// Broadcast a one-line message on the ring (for tests and diagnostics).
    Send { text: String },
}

#[derive(Subcommand)]
enum CountersAction {
    /// Zero the counters (needs CAP_NET_ADMIN in the namespace).
    Reset {
        /// Reset only this hook.
        #[arg(long)]
        hook: Option<Hook>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Status { json, hook } => status::show(json, hook).map_err(|e| e.to_string()),
        Command::Counters {
            action: CountersAction::Reset { hook },
        } => status::reset(hook).map_err(|e| e.to_string()),
        Command::Vip { action } => match action {
            VipAction::Add { addr, garp_count } => vip::add(addr, garp_count),
            VipAction::Del { addr } => vip::del(addr),
            VipAction::List { json } => vip::list(json),
            VipAction::Own { addr } => vip::set_owned(addr, true),
            VipAction::Release { addr } => vip::set_owned(addr, false),
        }
        .map_err(|e| e.to_string()),
        Command::Ring {
            json,
            socket,
            action,
        } => match action {
            None => ring::show(&socket, json),
            Some(RingAction::Send { text }) => ring::send(&socket, &text),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ringgatectl: {err}");
            ExitCode::FAILURE
        }
    }
}
