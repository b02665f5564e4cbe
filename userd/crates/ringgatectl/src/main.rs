//! `ringgatectl`: the operator's command line. Each subcommand is one small
//! function; the kernel is reached through `ringgate-netlink`.

mod backend;
mod cli;
mod cluster;
mod config;
mod exit;
mod gateway;
mod generated_docs;
mod monitor;
mod netns;
mod restore;
mod ring;
mod save;
mod schema;
mod sessions;
mod snat;
mod state;
mod status;
mod table;
mod traffic;
mod values;
mod vip;

use std::process::ExitCode;

use clap::Parser;

use cli::{
    BackendAction, Cli, ClusterAction, Command, ConfigAction, CountersAction, KeyStep, ModeValue,
    NodeAction, RingAction, ServiceAction, SnatAction, VipAction,
};
use exit::Failure;

/// Output to a reader that went away (`ringgatectl sessions | head`) ends
/// the program quietly, as it does a C tool, instead of a Rust panic on the
/// next `println!`: the default action of SIGPIPE is restored (Rust ignores
/// the signal and reports EPIPE, which `println!` turns into a panic).
fn die_quietly_on_closed_output() {
    // SAFETY: Setting a signal's disposition to its default, before any
    // thread is started, has no other effect on this process.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

fn run(cli: Cli) -> Result<(), Failure> {
    // Before anything opens a socket: a socket stays in the namespace it
    // was opened in.
    if let Some(name) = &cli.netns {
        netns::check_applies(name, &cli.command)?;
        if netns::uses_the_module(&cli.command) {
            netns::enter(name)?;
        }
    }
    let json = cli.json;
    let socket = cli.socket;
    // Changes to VIPs, services and back-ends go to the cluster when a
    // gateway daemon runs here (see `gateway`); asked once, and only for
    // those commands.
    let on_gateway = || gateway::runs(&socket);
    match cli.command {
        Command::Status { hook } => status::show(json, hook.map(|h| h.0)),
        Command::Counters {
            action: CountersAction::Reset { hook },
        } => status::reset(hook.map(|h| h.0)),
        Command::Vip { action } => match action {
            VipAction::Add { addr, garp_count } if on_gateway()? => match garp_count {
                Some(_) => Err(Failure::bad_input(
                    "--garp-count is this node's module setting, and the VIP is added by the \
                     gateway cluster here (ringgated runs): add the VIP, then set it on each \
                     node with `ringgatectl vip set VIP --garp-count N`",
                )),
                None => gateway::vip(&socket, "add", addr),
            },
            VipAction::Add { addr, garp_count } => vip::add(addr, garp_count),
            // The garp count is this node's module setting, not the
            // cluster's: it goes to the module on a gateway too.
            VipAction::Set { addr, garp_count } => vip::set_garp_count(addr, garp_count),
            VipAction::Del { addr } if on_gateway()? => gateway::vip(&socket, "del", addr),
            VipAction::Del { addr } => vip::del(addr),
            VipAction::List => vip::list(json),
            VipAction::Own { .. } | VipAction::Release { .. } if on_gateway()? => Err(
                gateway::refuse("VIP ownership", "use `ringgatectl vip move VIP NODE`"),
            ),
            VipAction::Own { addr } => vip::set_owned(addr, true),
            VipAction::Release { addr } => vip::set_owned(addr, false),
            VipAction::Move { addr, node } => {
                cluster::move_vip(&socket, addr, node).map_err(Failure::other)
            }
        },
        Command::Service { action } => match action {
            ServiceAction::Add {
                service,
                scheduler,
                mode,
            } if on_gateway()? => gateway::service_add(
                &socket,
                backend::key(&service),
                scheduler.map(|s| s.0),
                mode,
            ),
            ServiceAction::Add {
                mode: ModeValue::Http,
                ..
            } => Err(Failure::bad_input(
                "--mode http needs the gateway cluster: ringgated runs ringgate-l7d for it \
                 (without ringgated, run ringgate-l7d with its own configuration file)"
                    .to_string(),
            )),
            ServiceAction::Add {
                service, scheduler, ..
            } => backend::service_add(backend::key(&service), scheduler.map(|s| s.0)),
            ServiceAction::Set { service, scheduler } if on_gateway()? => {
                gateway::service(&socket, "set", backend::key(&service), Some(scheduler.0))
            }
            ServiceAction::Set { service, scheduler } => {
                backend::service_set(backend::key(&service), scheduler.0)
            }
            ServiceAction::Del(service) if on_gateway()? => {
                gateway::service(&socket, "del", backend::key(&service), None)
            }
            ServiceAction::Del(service) => backend::service_del(backend::key(&service)),
            ServiceAction::List => backend::list(json),
        },
        Command::Backend { action } => match action {
            BackendAction::Add {
                service,
                backend,
                weight,
                down,
                ..
            } if on_gateway()? => {
                if down {
                    return Err(gateway::refuse(
                        "A back-end's up or down state",
                        "its health check decides it; add it without --down",
                    ));
                }
                gateway::backend(&socket, "add", backend::key(&service), backend, weight)
            }
            BackendAction::Add {
                service,
                backend,
                weight,
                down,
                up,
            } => backend::add(
                backend::key(&service),
                backend,
                weight,
                BackendAction::state(down, up),
            ),
            BackendAction::Set {
                service,
                backend,
                weight,
                down,
                up,
            } if on_gateway()? => match (weight, down || up) {
                (Some(weight), false) => gateway::backend(
                    &socket,
                    "set",
                    backend::key(&service),
                    backend,
                    Some(weight),
                ),
                _ => Err(gateway::refuse(
                    "A back-end's up or down state",
                    "its health check decides it; change its --weight, or remove it",
                )),
            },
            BackendAction::Set {
                service,
                backend,
                weight,
                down,
                up,
            } => backend::set(
                backend::key(&service),
                backend,
                weight,
                BackendAction::state(down, up),
            ),
            BackendAction::Del { service, backend } if on_gateway()? => {
                gateway::backend(&socket, "del", backend::key(&service), backend, None)
            }
            BackendAction::Del { service, backend } => {
                backend::del(backend::key(&service), backend)
            }
            BackendAction::List { stats, rate } => backend::list_traffic(json, stats, rate),
        },
        Command::Sessions => sessions::show(json),
        Command::Snat { action } => match action {
            SnatAction::Show => snat::show(json),
            SnatAction::Set { .. } | SnatAction::Off if on_gateway()? => Err(gateway::refuse(
                "The outbound translation",
                "set [cluster.snat] and `ringgatectl cluster apply FILE`",
            )),
            SnatAction::Set { source, to, ports } => snat::set(&source, to, ports.as_deref()),
            SnatAction::Off => snat::off(),
        },
        Command::Config { action } => match action {
            ConfigAction::Show => config::show(json),
            ConfigAction::Set(args) => config::set(&args),
        },
        Command::Monitor => monitor::run(json),
        Command::Save => save::run(),
        Command::Completions { shell } => generated_docs::completions(shell),
        Command::Man { dir } => generated_docs::man(dir.as_deref()),
        Command::Restore { .. } if on_gateway()? => Err(gateway::refuse(
            "The configuration",
            "change it with `ringgatectl cluster apply FILE`",
        )),
        Command::Restore { file } => restore::run(&file),
        Command::Cluster { action } => match action {
            None | Some(ClusterAction::Status) => cluster::status(&socket, json),
            Some(ClusterAction::Config) => cluster::config(&socket),
            Some(ClusterAction::Apply { file, base }) => cluster::apply(&socket, &file, base),
        }
        .map_err(Failure::other),
        Command::Node { action } => match action {
            NodeAction::Drain { node, undo } => cluster::drain(&socket, node, undo),
        }
        .map_err(Failure::other),
        Command::Ring { action } => match action {
            None => ring::show(&socket, json),
            Some(RingAction::Send { text, control }) => ring::send(&socket, &text, control),
            Some(RingAction::Key { step }) => match step {
                KeyStep::Add { file } => ring::key_add(&socket, &file),
                KeyStep::Use => ring::key_step(&socket, "use"),
                KeyStep::Retire => ring::key_step(&socket, "retire"),
            },
        }
        .map_err(Failure::other),
    }
}

fn main() -> ExitCode {
    die_quietly_on_closed_output();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("ringgatectl: {failure}");
            failure.exit_code()
        }
    }
}
