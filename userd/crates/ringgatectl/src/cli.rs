//! The command line, as clap reads it. Kept apart from what the commands
//! do, so that the completions, the man page and the restore-file parser
//! are all generated from this one definition.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

use crate::exit::EXIT_CODES_HELP;
use crate::values::{
    backend_addr, bounded, port, ConntrackModeValue, DownPolicyValue, HookValue, ProtoValue,
    SchedulerValue,
};
use ringgate_netlink::uapi;

#[derive(Parser)]
#[command(
    name = "ringgatectl",
    version,
    about = "Control a ringgate gateway node",
    after_help = EXIT_CODES_HELP,
)]
pub(crate) struct Cli {
    /// Print JSON instead of a table, in the schema README.md documents
    /// (as `ip -j`); accepted before or after the subcommand.
    #[arg(short = 'j', long, global = true)]
    pub json: bool,
    /// The local ringgated's control socket (its config's
    /// control_socket). The cluster, node and ring commands talk to it;
    /// while a gateway daemon answers there, vip, service and back-end
    /// changes go through it to the whole cluster instead of straight to
    /// this node's module.
    #[arg(
        long,
        global = true,
        value_name = "PATH",
        default_value = "/run/ringgated.sock"
    )]
    pub socket: PathBuf,
    /// Work in the network namespace NAME (as `ip -n NAME`; one of `ip
    /// netns list`) instead of this process's own. Needs CAP_SYS_ADMIN.
    #[arg(short = 'n', long = "netns", global = true, value_name = "NAME")]
    pub netns: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Module version and this network namespace's per-hook counters.
    Status {
        /// Show only this hook.
        #[arg(long, value_enum)]
        hook: Option<HookValue>,
    },
    /// Manage this network namespace's counters.
    Counters {
        #[command(subcommand)]
        action: CountersAction,
    },
    /// The pool of virtual IPs of this network namespace (on a gateway,
    /// additions and removals go to the whole cluster: see --socket).
    Vip {
        #[command(subcommand)]
        action: VipAction,
    },
    /// Services: a VIP, port and protocol NAT'd to back-ends (on a
    /// gateway, changes go to the whole cluster: see --socket).
    Service {
        #[command(subcommand)]
        action: ServiceAction,
    },
    /// The back-end servers of services (on a gateway, changes go to the
    /// whole cluster: see --socket).
    Backend {
        #[command(subcommand)]
        action: BackendAction,
    },
    /// The NAT sessions of this network namespace.
    Sessions,
    /// Outbound translation: connections that hosts of a prefix (the
    /// back-ends) open through this node to the outside leave from a VIP,
    /// with a port of a range (on a gateway the cluster sets it).
    Snat {
        #[command(subcommand)]
        action: SnatAction,
    },
    /// The data plane's settings in this network namespace.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Print the module's notifications (VIP taken or released, session
    /// table full) as they come, one line each; a loss of notifications is
    /// said and answered by printing the current state.
    Monitor,
    /// Print this namespace's configuration (settings, VIP pool, services,
    /// back-ends) as ringgatectl command lines, for `restore`.
    Save,
    /// Apply a file of ringgatectl lines (as `save` prints them): what is
    /// missing is added, what differs is set, nothing is removed. The whole
    /// file is checked first; a bad line is reported by number and nothing
    /// is changed. A request the kernel refuses stops the restore, and what
    /// was sent before it is undone.
    Restore {
        /// The file to apply; `-` reads standard input.
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
    /// Print a completion script for SHELL (e.g. `ringgatectl completions
    /// bash > /etc/bash_completion.d/ringgatectl`).
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page (roff), e.g. `ringgatectl man | man -l -`, or
    /// write it and one page per subcommand (ringgatectl-vip-add.1, ...)
    /// into a directory.
    Man {
        /// Write every page into this directory instead of printing one.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The gateway cluster as the local ringgated sees it, and changes to
    /// its configuration (agreed by every node).
    Cluster {
        #[command(subcommand)]
        action: Option<ClusterAction>,
    },
    /// Cluster nodes: drain one before maintenance, or undo that.
    Node {
        #[command(subcommand)]
        action: NodeAction,
    },
    /// The token ring as the local ringgated sees it.
    Ring {
        #[command(subcommand)]
        action: Option<RingAction>,
    },
}

#[derive(Subcommand)]
pub(crate) enum VipAction {
    /// Add a VIP to the pool, not owned (the address must also be configured
    /// on an interface before it can be owned).
    Add {
        addr: Ipv4Addr,
        /// Gratuitous ARP pairs sent when this node takes the VIP (1-16, default 3).
        #[arg(long, value_parser = bounded(&uapi::RINGGATE_SET_VIP, uapi::RINGGATE_A_VIP_GARP_COUNT))]
        garp_count: Option<u32>,
    },
    /// Change a VIP's garp-count.
    Set {
        addr: Ipv4Addr,
        /// Gratuitous ARP pairs sent when this node takes the VIP (1-16).
        #[arg(long, required = true, value_parser = bounded(&uapi::RINGGATE_SET_VIP, uapi::RINGGATE_A_VIP_GARP_COUNT))]
        garp_count: Option<u32>,
    },
    /// Remove a VIP from the pool.
    Del { addr: Ipv4Addr },
    /// List the pool.
    List,
    /// Take a VIP: answer ARP for it, announced by gratuitous ARP (a
    /// module alone; on a gateway, `vip move`).
    Own { addr: Ipv4Addr },
    /// Release a VIP: stop answering ARP for it.
    Release { addr: Ipv4Addr },
    /// Move a VIP to another cluster node through the local ringgated (the
    /// load balancer then leaves it there for its hold time).
    Move {
        addr: Ipv4Addr,
        /// The node id to move it to.
        node: u16,
    },
}

/// The service a command is about.
#[derive(clap::Args)]
pub(crate) struct ServiceArgs {
    /// The VIP (in the pool).
    pub vip: Ipv4Addr,
    /// The port clients connect to (1-65535).
    #[arg(value_parser = port(uapi::RINGGATE_A_SERVICE_PORT))]
    pub port: u16,
    /// The service's protocol.
    #[arg(long, value_enum, default_value = "tcp")]
    pub proto: ProtoValue,
}

#[derive(Subcommand)]
pub(crate) enum ServiceAction {
    /// Create a service (an existing one is refused and left as it is).
    Add {
        #[command(flatten)]
        service: ServiceArgs,
        /// How the service picks the back-end of a new connection (default
        /// wrr; a service already there keeps its own).
        #[arg(long, value_enum)]
        scheduler: Option<SchedulerValue>,
        /// nat: the module translates connections to the back-ends; http:
        /// ringgate-l7d proxies them and resumes downloads a failing
        /// back-end cut (TCP, wrr; on a gateway cluster only).
        #[arg(long, value_enum, default_value = "nat")]
        mode: ModeValue,
    },
    /// Change an existing service's scheduler.
    Set {
        #[command(flatten)]
        service: ServiceArgs,
        /// How the service picks the back-end of a new connection.
        #[arg(long, value_enum)]
        scheduler: SchedulerValue,
    },
    /// Remove a service.
    Del(ServiceArgs),
    /// List services and their back-ends.
    List,
}

/// How a service is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ModeValue {
    Nat,
    Http,
}

#[derive(Subcommand)]
pub(crate) enum BackendAction {
    /// Add a back-end (creating the service if needed).
    Add {
        #[command(flatten)]
        service: ServiceArgs,
        /// The back-end's address and port, e.g. 10.1.0.2:8080.
        #[arg(value_parser = backend_addr)]
        backend: SocketAddrV4,
        /// Its share of new connections (1-1000, default 1).
        #[arg(long, value_parser = bounded(&uapi::RINGGATE_SET_BACKEND, uapi::RINGGATE_A_BACKEND_WEIGHT))]
        weight: Option<u32>,
        /// Add it drained: out of scheduling until `backend set --up`.
        #[arg(long, conflicts_with = "up")]
        down: bool,
        /// Add it in scheduling (the default; `save` writes it explicitly).
        #[arg(long)]
        up: bool,
    },
    /// Change a back-end's weight or state (at least one of them).
    #[command(group(clap::ArgGroup::new("change").required(true).multiple(true).args(["weight", "down", "up"])))]
    Set {
        #[command(flatten)]
        service: ServiceArgs,
        #[arg(value_parser = backend_addr)]
        backend: SocketAddrV4,
        #[arg(long, value_parser = bounded(&uapi::RINGGATE_SET_BACKEND, uapi::RINGGATE_A_BACKEND_WEIGHT))]
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
        #[arg(value_parser = backend_addr)]
        backend: SocketAddrV4,
    },
    /// List services and their back-ends.
    List {
        /// Show what each back-end carried since it took its slot:
        /// connections, packets and bytes each way (in: client to back-end).
        #[arg(long, conflicts_with = "rate")]
        stats: bool,
        /// Show the rates over one second: connections, packets and bytes
        /// per second each way.
        #[arg(long)]
        rate: bool,
    },
}

impl BackendAction {
    /// The state `--up`/`--down` ask for, if either.
    pub(crate) fn state(down: bool, up: bool) -> Option<bool> {
        match (down, up) {
            (true, _) => Some(false),
            (_, true) => Some(true),
            _ => None,
        }
    }
}

/// The settings `config set` changes; the option names are the spec's
/// attribute names, as `config show` and `save` print them.
#[derive(clap::Args, Default, Debug, PartialEq, Eq)]
#[group(required = true, multiple = true)]
pub(crate) struct ConfigArgs {
    /// This node's id; sessions record it as their owner.
    #[arg(long)]
    pub node_id: Option<u16>,
    /// Sessions the table holds (64-1048576). Live sessions move into the
    /// resized table; those a smaller one has no room for are dropped.
    #[arg(long, value_parser = bounded(&uapi::RINGGATE_SET_CONFIG, uapi::RINGGATE_A_CONFIG_MAX_SESSIONS))]
    pub max_sessions: Option<u32>,
    /// Seconds a TCP handshake may take.
    #[arg(long, value_parser = bounded(&uapi::RINGGATE_SET_CONFIG, uapi::RINGGATE_A_CONFIG_TIMEOUT_SYN))]
    pub timeout_syn: Option<u32>,
    /// Seconds an established TCP session lives idle.
    #[arg(long, value_parser = bounded(&uapi::RINGGATE_SET_CONFIG, uapi::RINGGATE_A_CONFIG_TIMEOUT_ESTABLISHED))]
    pub timeout_established: Option<u32>,
    /// Seconds a TCP session lives after a FIN.
    #[arg(long, value_parser = bounded(&uapi::RINGGATE_SET_CONFIG, uapi::RINGGATE_A_CONFIG_TIMEOUT_CLOSING))]
    pub timeout_closing: Option<u32>,
    /// Seconds a UDP session lives idle.
    #[arg(long, value_parser = bounded(&uapi::RINGGATE_SET_CONFIG, uapi::RINGGATE_A_CONFIG_TIMEOUT_UDP))]
    pub timeout_udp: Option<u32>,
    /// What happens to the sessions of a back-end taken down or removed.
    #[arg(long, value_enum)]
    pub down_policy: Option<DownPolicyValue>,
    /// Whether conntrack sees translated connections: tracked (client <->
    /// back-end, so `ct state` rules match them) or untracked (no conntrack
    /// cost; a stateful ruleset must accept `ct state untracked`).
    #[arg(long, value_enum)]
    pub conntrack: Option<ConntrackModeValue>,
}

#[derive(Subcommand)]
pub(crate) enum ConfigAction {
    /// Show the settings.
    Show,
    /// Change settings (those not given keep their values).
    Set(ConfigArgs),
}

#[derive(Subcommand)]
pub(crate) enum SnatAction {
    /// The translation, or `off`.
    Show,
    /// Translate connections from SOURCE (address/length) to VIP TO with
    /// ports FIRST-LAST of the range (replaces the translation; without
    /// ports the node opens no outbound connection, and sends replies on by
    /// port to the peers whose ranges hold them).
    Set {
        source: String,
        #[arg(long)]
        to: Ipv4Addr,
        /// FIRST-LAST, from 1024.
        #[arg(long)]
        ports: Option<String>,
    },
    /// Stop translating new connections (those translated go on).
    Off,
}

#[derive(Subcommand)]
pub(crate) enum ClusterAction {
    /// The ring, each node, each VIP, each back-end's health and the
    /// configuration version (the default).
    Status,
    /// The cluster configuration in force (JSON, the shape of the
    /// configuration file's [cluster] section).
    Config,
    /// Replace the cluster configuration with FILE (TOML, the shape of the
    /// [cluster] section without the `cluster.` prefix); refused everywhere
    /// if the configuration changed since version BASE.
    Apply {
        file: PathBuf,
        /// The version the file was made against (default: the current one).
        #[arg(long)]
        base: Option<u64>,
    },
}

#[derive(Subcommand)]
pub(crate) enum NodeAction {
    /// Hand the node's VIPs to the others and give it none until undone.
    Drain {
        /// The node id.
        node: u16,
        /// Undo a drain: the node gets VIPs again by the load rule.
        #[arg(long)]
        undo: bool,
    },
}

#[derive(Subcommand)]
pub(crate) enum RingAction {
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
pub(crate) enum KeyStep {
    /// Step 1: accept the key in FILE too (hex, mode 0600); keep sending
    /// with the current one.
    Add { file: PathBuf },
    /// Step 2: send with the key added last.
    Use,
    /// Step 3: accept only the key this node sends with.
    Retire,
}

#[derive(Subcommand)]
pub(crate) enum CountersAction {
    /// Zero the counters (needs CAP_NET_ADMIN in the namespace).
    Reset {
        /// Reset only this hook.
        #[arg(long, value_enum)]
        hook: Option<HookValue>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// `--json` is global: before the subcommand (as `ip -j`) and after it,
    /// as the per-command flag the scripts already use.
    #[test]
    fn json_is_accepted_anywhere() {
        for args in [
            &["ringgatectl", "-j", "vip", "list"][..],
            &["ringgatectl", "--json", "sessions"],
            &["ringgatectl", "vip", "list", "--json"],
            &["ringgatectl", "status", "--json", "--hook", "local-in"],
            &["ringgatectl", "config", "show", "--json"],
            &["ringgatectl", "backend", "list", "--json"],
            &["ringgatectl", "service", "list", "-j"],
        ] {
            let cli = Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert!(cli.json, "{args:?}");
        }
        assert!(
            !Cli::try_parse_from(["ringgatectl", "vip", "list"])
                .unwrap()
                .json
        );
    }

    #[test]
    fn the_help_lists_the_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(
            help.contains("3  the ringgate kernel module is not loaded"),
            "{help}"
        );
    }
}

#[cfg(test)]
mod set_and_port_tests {
    use super::*;

    /// Ports are bounded by the spec (min 1) like every other bounded
    /// value, so the command line refuses port 0 (exit 2 before connecting)
    /// instead of sending it (exit 3 without the module, a kernel EINVAL
    /// with it).
    #[test]
    fn port_zero_is_a_usage_error() {
        for args in [
            &["ringgatectl", "service", "add", "10.0.0.1", "0"][..],
            &[
                "ringgatectl",
                "backend",
                "add",
                "10.0.0.1",
                "80",
                "10.1.0.2:0",
            ],
            &[
                "ringgatectl",
                "backend",
                "set",
                "10.0.0.1",
                "0",
                "10.1.0.2:80",
                "--up",
            ],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?} parses");
        }
    }

    /// Issue 15: "a `set` with nothing to change succeeds silently". `vip
    /// set` (garp-count required) and `service set` (scheduler required)
    /// refuse it through their required arguments; `backend set` and
    /// `config set`, whose every argument is optional, refuse it too.
    #[test]
    fn a_set_with_nothing_to_change_is_refused() {
        for args in [
            &[
                "ringgatectl",
                "backend",
                "set",
                "10.0.0.1",
                "80",
                "10.1.0.2:80",
            ][..],
            &["ringgatectl", "config", "set"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?} parses");
        }
    }
}
