//! `ringgatectl`: the operator's command line. Each subcommand is one small
//! function; the kernel is reached through `ringgate-netlink`.

mod backend;
mod ring;
mod sessions;
mod status;
mod vip;

use std::net::{Ipv4Addr, SocketAddrV4};

use ringgate_netlink::{ConfigChange, DownPolicy, Proto, Scheduler};
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
    /// Services: a VIP, port and protocol NAT'd to back-ends.
    Service {
        #[command(subcommand)]
        action: ServiceAction,
    },
    /// The back-end servers of services.
    Backend {
        #[command(subcommand)]
        action: BackendAction,
    },
    /// The NAT sessions of this network namespace.
    Sessions {
        #[arg(long)]
        json: bool,
    },
    /// The data plane's settings in this network namespace.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
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

/// The service a command is about.
#[derive(clap::Args)]
struct ServiceArgs {
    /// The VIP (in the pool).
    vip: Ipv4Addr,
    /// The port clients connect to.
    port: u16,
    /// tcp or udp.
    #[arg(long, default_value = "tcp")]
    proto: Proto,
}

#[derive(Subcommand)]
enum ServiceAction {
    /// Create a service, or change its scheduler.
    Add {
        #[command(flatten)]
        service: ServiceArgs,
        /// wrr (weighted round-robin), hash (consistent hashing of the client
        /// address) or lc (weighted least-connections).
        #[arg(long, default_value = "wrr")]
        scheduler: Scheduler,
    },
    /// Remove a service.
    Del(ServiceArgs),
    /// List services and their back-ends.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum BackendAction {
    /// Add a back-end (creating the service if needed).
    Add {
        #[command(flatten)]
        service: ServiceArgs,
        /// The back-end's address and port, e.g. 10.1.0.2:8080.
        backend: SocketAddrV4,
        /// Its share of new connections (1-1000, default 1).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        weight: Option<u32>,
    },
    /// Change a back-end's weight or state.
    Set {
        #[command(flatten)]
        service: ServiceArgs,
        backend: SocketAddrV4,
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        weight: Option<u32>,
        /// Take it out of scheduling (its sessions go on).
        #[arg(long, conflicts_with = "up")]
        down: bool,
        /// Put it back into scheduling.
        #[arg(long)]
        up: bool,
    },
    /// Remove a back-end.
    Del {
        #[command(flatten)]
        service: ServiceArgs,
        backend: SocketAddrV4,
    },
    /// List services and their back-ends.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Show the settings.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Change settings (those not given keep their values).
    Set {
        /// This node's id; sessions record it as their owner.
        #[arg(long)]
        node_id: Option<u16>,
        /// Sessions the table holds (64-1048576). Live sessions move into the
        /// resized table; those a smaller one has no room for are dropped.
        #[arg(long, value_parser = clap::value_parser!(u32).range(64..=1_048_576))]
        max_sessions: Option<u32>,
        /// Seconds a TCP handshake may take.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=86_400))]
        timeout_syn: Option<u32>,
        /// Seconds an established TCP session lives idle.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=86_400))]
        timeout_established: Option<u32>,
        /// Seconds a TCP session lives after a FIN.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=86_400))]
        timeout_closing: Option<u32>,
        /// Seconds a UDP session lives idle.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=86_400))]
        timeout_udp: Option<u32>,
        /// Sessions of a back-end taken down or removed: keep or drop.
        #[arg(long)]
        down_policy: Option<DownPolicy>,
    },
}

#[derive(Subcommand)]
enum RingAction {
    /// Broadcast a one-line message on the ring (for tests and diagnostics).
    Send {
        text: String,
        /// Send it in the control class, ahead of bulk messages.
        #[arg(long)]
        control: bool,
    },
    /// Rotate the cluster key: do each step on every node before the next.
    Key {
        #[command(subcommand)]
        step: KeyStep,
    },
}

#[derive(Subcommand)]
enum KeyStep {
    /// Step 1: accept the key in FILE too (hex, mode 0600); keep sending
    /// with the current one.
    Add { file: PathBuf },
    /// Step 2: send with the key added last.
    Use,
    /// Step 3: accept only the key this node sends with.
    Retire,
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

/// Output to a reader that went away (`ringgatectl sessions | head`) ends
/// the program quietly, as it does a C tool, instead of a Rust panic on the
/// next `println!`: the default action of SIGPIPE is restored (Rust ignores
/// the signal and reports EPIPE, which `println!` turns into a panic).
fn die_quietly_on_closed_output() {
    // SAFETY: Setting a signal's disposition to its default, before any
    // thread is started, has no other effect on this process.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

fn main() -> ExitCode {
    die_quietly_on_closed_output();
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
        Command::Service { action } => match action {
            ServiceAction::Add {
                service: s,
                scheduler,
            } => backend::service_add(backend::key(s.vip, s.port, s.proto), scheduler),
            ServiceAction::Del(s) => backend::service_del(backend::key(s.vip, s.port, s.proto)),
            ServiceAction::List { json } => backend::list(json),
        }
        .map_err(|e| e.to_string()),
        Command::Backend { action } => match action {
            BackendAction::Add {
                service: s,
                backend,
                weight,
            } => backend::add(backend::key(s.vip, s.port, s.proto), backend, weight),
            BackendAction::Set {
                service: s,
                backend,
                weight,
                down,
                up,
            } => {
                let state = if down {
                    Some(false)
                } else if up {
                    Some(true)
                } else {
                    None
                };
                backend::set(backend::key(s.vip, s.port, s.proto), backend, weight, state)
            }
            BackendAction::Del {
                service: s,
                backend,
            } => backend::del(backend::key(s.vip, s.port, s.proto), backend),
            BackendAction::List { json } => backend::list(json),
        }
        .map_err(|e| e.to_string()),
        Command::Sessions { json } => sessions::show(json),
        Command::Config { action } => match action {
            ConfigAction::Show { json } => sessions::config_show(json),
            ConfigAction::Set {
                node_id,
                max_sessions,
                timeout_syn,
                timeout_established,
                timeout_closing,
                timeout_udp,
                down_policy,
            } => sessions::config_set(&ConfigChange {
                node_id,
                max_sessions,
                timeout_syn,
                timeout_established,
                timeout_closing,
                timeout_udp,
                down_policy,
            }),
        }
        .map_err(|e| e.to_string()),
        Command::Ring {
            json,
            socket,
            action,
        } => match action {
            None => ring::show(&socket, json),
            Some(RingAction::Send { text, control }) => ring::send(&socket, &text, control),
            Some(RingAction::Key { step }) => match step {
                KeyStep::Add { file } => ring::key_add(&socket, &file),
                KeyStep::Use => ring::key_step(&socket, "use"),
                KeyStep::Retire => ring::key_step(&socket, "retire"),
            },
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
