//! Reading a restore file: each line is a `ringgatectl` command line (the
//! leading `ringgatectl` optional), parsed by the same clap definition the
//! command line uses, so a file accepts exactly what the shell would.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

use clap::Parser;
use ringgate_netlink::{check_vip_addr, ConfigChange, Scheduler, ServiceKey, Snat};

use crate::backend::key;
use crate::cli::{
    BackendAction, Cli, Command, ConfigAction, ModeValue, ServiceAction, SnatAction, VipAction,
};
use crate::config::change;

/// What one line of a restore file asks for: the object as it should be
/// (`None` leaves a value as the namespace has it, or to the default of a
/// new object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Config(ConfigChange),
    Vip {
        addr: Ipv4Addr,
        garp_count: Option<u32>,
        /// `vip add` creates a missing VIP; `vip set` requires it.
        create: bool,
    },
    VipOwned {
        addr: Ipv4Addr,
        owned: bool,
    },
    /// `scheduler` None: `service add` without `--scheduler`, which
    /// creates a wrr service and leaves an existing one as it is.
    Service {
        key: ServiceKey,
        scheduler: Option<Scheduler>,
        create: bool,
    },
    Backend {
        key: ServiceKey,
        backend: SocketAddrV4,
        weight: Option<u32>,
        up: Option<bool>,
        create: bool,
    },
    /// `snat set` (checked as the command checks it) or `snat off`.
    Snat(Option<Snat>),
}

/// One meaningful line of the file, with its 1-based number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub number: usize,
    pub action: Action,
}

/// A line that cannot be applied, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadLine {
    pub number: usize,
    pub why: String,
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.number, self.why)
    }
}

/// Every line of `text`, or the first bad one. Blank lines and `#`
/// comments are skipped.
pub(crate) fn parse(text: &str) -> Result<Vec<Line>, BadLine> {
    let mut lines = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let content = raw.trim();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let action = parse_line(content).map_err(|why| BadLine { number, why })?;
        lines.push(Line { number, action });
    }
    Ok(lines)
}

fn parse_line(content: &str) -> Result<Action, String> {
    let mut words: Vec<&str> = content.split_whitespace().collect();
    if words.first() == Some(&"ringgatectl") {
        words.remove(0);
    }
    let argv = std::iter::once("ringgatectl").chain(words.iter().copied());
    let cli = Cli::try_parse_from(argv).map_err(|e| match e.kind() {
        // clap answers these with text to print, not with an error.
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => format!(
            "`{}` asks for help or the version, which is not a restore line",
            words.join(" ")
        ),
        clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => format!(
            "`{}` is incomplete: it names no command, which is not a restore line",
            std::iter::once("ringgatectl")
                .chain(words.iter().copied())
                .collect::<Vec<_>>()
                .join(" ")
        ),
        _ => clap_reason(&e),
    })?;
    // The file is applied to the namespace the restore runs in: a line
    // naming another would be applied here, while the same file run as a
    // shell script would change the other one.
    if let Some(name) = &cli.netns {
        return Err(format!(
            "`-n {name}` names a network namespace, and a restore applies every line to its own: run `ringgatectl -n {name} restore -f FILE` instead"
        ));
    }
    // HTTP mode is the cluster's (ringgated runs the proxy); a restore
    // goes to the module alone, which would make it a NAT service.
    if let Command::Service {
        action: ServiceAction::Add {
            mode: ModeValue::Http,
            ..
        },
    } = &cli.command
    {
        return Err("`--mode http` is for the gateway cluster (ringgated runs ringgate-l7d); a restore applies to the module alone".into());
    }
    let action = action(cli.command).ok_or_else(|| {
        format!(
            "`{}` is not a restore command (a restore file holds `config set`, `vip add|set|own|release`, `service add|set`, `backend add|set` and `snat set|off` lines)",
            words.iter().take(2).copied().collect::<Vec<_>>().join(" ")
        )
    })??;
    // Checked here, before connecting, so a bad address is the same error
    // whether or not the module is loaded.
    let vip = match &action {
        Action::Config(_) | Action::Snat(None) => None,
        Action::Snat(Some(snat)) => Some(snat.to),
        Action::Vip { addr, .. } | Action::VipOwned { addr, .. } => Some(*addr),
        Action::Service { key, .. } | Action::Backend { key, .. } => Some(key.vip),
    };
    if let Some(addr) = vip {
        check_vip_addr(addr).map_err(|e| e.to_string())?;
    }
    Ok(action)
}

/// The first line of clap's message, without its `error: ` prefix: the
/// usage and tips after it are about the command line, not the file.
fn clap_reason(error: &clap::Error) -> String {
    let text = error.to_string();
    let first = text.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

/// The action of a restore command (`None`: a command a restore does not
/// take); a malformed `snat set` is an error.
fn action(command: Command) -> Option<Result<Action, String>> {
    Some(Ok(match command {
        Command::Snat { action } => match action {
            SnatAction::Set { source, to, ports } => {
                return Some(
                    crate::snat::parse(&source, to, ports.as_deref())
                        .map(|s| Action::Snat(Some(s))),
                )
            }
            SnatAction::Off => Action::Snat(None),
            SnatAction::Show => return None,
        },
        Command::Config {
            action: ConfigAction::Set(args),
        } => Action::Config(change(&args)),
        Command::Vip { action } => match action {
            VipAction::Add { addr, garp_count } => Action::Vip {
                addr,
                garp_count,
                create: true,
            },
            VipAction::Set { addr, garp_count } => Action::Vip {
                addr,
                garp_count,
                create: false,
            },
            VipAction::Own { addr } => Action::VipOwned { addr, owned: true },
            VipAction::Release { addr } => Action::VipOwned { addr, owned: false },
            VipAction::Del { .. } | VipAction::List | VipAction::Move { .. } => return None,
        },
        Command::Service { action } => match action {
            ServiceAction::Add {
                service, scheduler, ..
            } => Action::Service {
                key: key(&service),
                scheduler: scheduler.map(|s| s.0),
                create: true,
            },
            ServiceAction::Set { service, scheduler } => Action::Service {
                key: key(&service),
                scheduler: Some(scheduler.0),
                create: false,
            },
            ServiceAction::Del(_) | ServiceAction::List => return None,
        },
        Command::Backend { action } => match action {
            BackendAction::Add {
                service,
                backend,
                weight,
                down,
                up,
            } => Action::Backend {
                key: key(&service),
                backend,
                weight,
                up: BackendAction::state(down, up),
                create: true,
            },
            BackendAction::Set {
                service,
                backend,
                weight,
                down,
                up,
            } => Action::Backend {
                key: key(&service),
                backend,
                weight,
                up: BackendAction::state(down, up),
                create: false,
            },
            BackendAction::Del { .. } | BackendAction::List { .. } => return None,
        },
        _ => return None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringgate_netlink::Proto;

    #[test]
    fn lines_with_or_without_the_program_name_comments_and_blanks() {
        let text = "# saved\n\nringgatectl vip add 10.0.0.1 --garp-count 4\n  vip own 10.0.0.1\n";
        let lines = parse(text).unwrap();
        assert_eq!(
            lines,
            [
                Line {
                    number: 3,
                    action: Action::Vip {
                        addr: Ipv4Addr::new(10, 0, 0, 1),
                        garp_count: Some(4),
                        create: true
                    }
                },
                Line {
                    number: 4,
                    action: Action::VipOwned {
                        addr: Ipv4Addr::new(10, 0, 0, 1),
                        owned: true
                    }
                },
            ]
        );
    }

    #[test]
    fn the_first_bad_line_is_named_by_number() {
        let text = "vip add 10.0.0.1\nvip own 10.0.0.1\nvip add 10.0.0.300\nvip add nonsense\n";
        let bad = parse(text).unwrap_err();
        assert_eq!(bad.number, 3);
        assert!(bad.why.contains("10.0.0.300"), "{bad}");
        assert!(!bad.why.contains("Usage"), "{bad}");
    }

    #[test]
    fn values_are_checked_as_on_the_command_line() {
        let bad = parse("backend add 10.0.0.1 80 10.1.0.2:80 --weight 0").unwrap_err();
        assert!(
            bad.to_string().starts_with("line 1: invalid value '0'"),
            "{bad}"
        );
        let bad = parse("\nbackend set 10.0.0.1 80 10.1.0.2:80 --up --down").unwrap_err();
        assert_eq!(bad.number, 2);
    }

    #[test]
    fn listings_and_removals_are_not_restore_commands() {
        for line in [
            "vip list",
            "vip del 10.0.0.1",
            "sessions",
            "status",
            "backend list",
        ] {
            let bad = parse(line).unwrap_err();
            assert!(bad.why.contains("not a restore command"), "{line}: {bad}");
        }
    }

    #[test]
    fn backend_lines_carry_their_state() {
        let lines =
            parse("backend add 10.0.0.1 53 --proto udp 10.1.0.2:53 --weight 2 --down").unwrap();
        assert_eq!(
            lines[0].action,
            Action::Backend {
                key: ServiceKey {
                    vip: Ipv4Addr::new(10, 0, 0, 1),
                    port: 53,
                    proto: Proto::Udp
                },
                backend: "10.1.0.2:53".parse().unwrap(),
                weight: Some(2),
                up: Some(false),
                create: true
            }
        );
    }
}
