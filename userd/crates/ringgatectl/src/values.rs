//! The value enums of the command line (hooks, schedulers, down-policies,
//! protocols) as clap `ValueEnum`s, their names and help taken from the
//! spec's tables, so `--help`, the completions and the man page list them
//! and no help text repeats a list by hand.

use std::net::SocketAddrV4;
use std::sync::OnceLock;

use clap::builder::{PossibleValue, RangedU64ValueParser};
use clap::ValueEnum;
use ringgate_netlink::uapi::AttrSet;
use ringgate_netlink::{uapi, ConntrackMode, DownPolicy, Hook, Proto, Scheduler};

/// A parser of a `u32` option bounded as the kernel's policy bounds
/// attribute `attr` of `set` (the spec's `checks`), so the command line
/// refuses what the kernel would, with the same limits typed once.
pub(crate) fn bounded(set: &'static AttrSet, attr: u16) -> RangedU64ValueParser<u32> {
    let spec = set
        .attr(attr)
        .unwrap_or_else(|| panic!("attribute {attr} is not in set {}", set.name));
    let min = spec.min.map_or(0, |m| u64::try_from(m).unwrap_or(0));
    let max = spec
        .max
        .map_or(u64::from(u32::MAX), |m| u64::try_from(m).unwrap_or(0));
    RangedU64ValueParser::new().range(min..=max)
}

/// A port as the spec bounds attribute `attr` of the service set (1-65535:
/// port 0 names no service), refused by the command line before anything
/// is sent.
pub(crate) fn port(attr: u16) -> impl Fn(&str) -> Result<u16, String> + Clone {
    let min = uapi::RINGGATE_SET_SERVICE
        .attr(attr)
        .and_then(|spec| spec.min)
        .map_or(0, |m| u16::try_from(m).unwrap_or(0));
    move |text: &str| {
        let port: u16 = text
            .parse()
            .map_err(|_| format!("{text:?} is not a port number"))?;
        if port < min {
            return Err(format!("port {port} is out of range ({min}-65535)"));
        }
        Ok(port)
    }
}

/// A back-end's `address:port`, its port bounded as the spec bounds the
/// back-end's port attribute.
pub(crate) fn backend_addr(text: &str) -> Result<SocketAddrV4, String> {
    let addr: SocketAddrV4 = text
        .parse()
        .map_err(|_| format!("{text:?} is not an IPv4 address:port"))?;
    let min = uapi::RINGGATE_SET_BACKEND
        .attr(uapi::RINGGATE_A_BACKEND_PORT)
        .and_then(|spec| spec.min)
        .map_or(0, |m| u16::try_from(m).unwrap_or(0));
    if addr.port() < min {
        return Err(format!(
            "port {} is out of range ({min}-65535)",
            addr.port()
        ));
    }
    Ok(addr)
}

/// A clap value wrapping a client type `$inner`, its values the names of
/// spec table `$names` (with help from `$docs`), each parsed by the
/// client's own `FromStr`.
macro_rules! spec_value {
    ($wrapper:ident, $inner:ty, $names:expr, $docs:expr) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) struct $wrapper(pub $inner);

        impl ValueEnum for $wrapper {
            fn value_variants<'a>() -> &'a [Self] {
                static ALL: OnceLock<Vec<$wrapper>> = OnceLock::new();
                ALL.get_or_init(|| {
                    $names
                        .iter()
                        .map(|(name, _)| {
                            $wrapper(
                                name.parse::<$inner>().unwrap_or_else(|_| {
                                    panic!("{name:?} of the spec does not parse")
                                }),
                            )
                        })
                        .collect()
                })
            }

            fn to_possible_value(&self) -> Option<PossibleValue> {
                let name = $names
                    .iter()
                    .map(|(name, _)| *name)
                    .find(|name| name.parse::<$inner>().ok() == Some(self.0))?;
                let value = PossibleValue::new(name);
                Some(match $docs.iter().find(|(n, _)| *n == name) {
                    Some((_, doc)) => value.help(*doc),
                    None => value,
                })
            }
        }
    };
}

spec_value!(
    HookValue,
    Hook,
    uapi::RINGGATE_HOOK_NAMES,
    uapi::RINGGATE_HOOK_DOCS
);
spec_value!(
    SchedulerValue,
    Scheduler,
    uapi::RINGGATE_SCHEDULER_NAMES,
    uapi::RINGGATE_SCHEDULER_DOCS
);
spec_value!(
    DownPolicyValue,
    DownPolicy,
    uapi::RINGGATE_DOWN_POLICY_NAMES,
    uapi::RINGGATE_DOWN_POLICY_DOCS
);
spec_value!(
    ConntrackModeValue,
    ConntrackMode,
    uapi::RINGGATE_CONNTRACK_MODE_NAMES,
    uapi::RINGGATE_CONNTRACK_MODE_DOCS
);

/// The protocols a service may have: the spec bounds `proto` by number
/// (6 to 17) and names none, so the client's two names are the list.
const PROTO_NAMES: &[(&str, u8)] = &[("tcp", 6), ("udp", 17)];
const PROTO_DOCS: &[(&str, &str)] = &[];
spec_value!(ProtoValue, Proto, PROTO_NAMES, PROTO_DOCS);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_value_is_offered_and_parses_back() {
        let hooks: Vec<String> = HookValue::value_variants()
            .iter()
            .map(|v| v.to_possible_value().unwrap().get_name().to_string())
            .collect();
        let spec: Vec<&str> = uapi::RINGGATE_HOOK_NAMES.iter().map(|(n, _)| *n).collect();
        assert_eq!(hooks, spec);
        assert_eq!(
            SchedulerValue::from_str("lc", false).unwrap(),
            SchedulerValue(Scheduler::Lc)
        );
        assert_eq!(
            DownPolicyValue::from_str("drop", false).unwrap(),
            DownPolicyValue(DownPolicy::Drop)
        );
        assert_eq!(
            ProtoValue::from_str("udp", false).unwrap(),
            ProtoValue(Proto::Udp)
        );
        assert!(SchedulerValue::from_str("fifo", false).is_err());
    }

    /// The bounds are the spec's, and the help texts that state a range
    /// state the same one.
    #[test]
    fn option_bounds_come_from_the_spec() {
        use crate::cli::Cli;
        use clap::Parser;
        let parse = |args: &[&str]| Cli::try_parse_from(args).is_ok();
        let garp = uapi::RINGGATE_SET_VIP
            .attr(uapi::RINGGATE_A_VIP_GARP_COUNT)
            .unwrap();
        let max = garp.max.unwrap().to_string();
        let over = (garp.max.unwrap() + 1).to_string();
        assert!(parse(&[
            "ringgatectl",
            "vip",
            "add",
            "10.0.0.1",
            "--garp-count",
            &max
        ]));
        assert!(!parse(&[
            "ringgatectl",
            "vip",
            "add",
            "10.0.0.1",
            "--garp-count",
            &over
        ]));
        assert!(!parse(&[
            "ringgatectl",
            "config",
            "set",
            "--max-sessions",
            "63"
        ]));
        assert!(parse(&[
            "ringgatectl",
            "config",
            "set",
            "--max-sessions",
            "64"
        ]));
        assert!(!parse(&[
            "ringgatectl",
            "config",
            "set",
            "--timeout-udp",
            "0"
        ]));
        let help = |args: &[&str]| match Cli::try_parse_from(args) {
            Err(e) => e.to_string(),
            Ok(_) => unreachable!("--help exits"),
        };
        for (args, set, attr) in [
            (
                &["ringgatectl", "vip", "add", "--help"][..],
                &uapi::RINGGATE_SET_VIP,
                uapi::RINGGATE_A_VIP_GARP_COUNT,
            ),
            (
                &["ringgatectl", "backend", "add", "--help"],
                &uapi::RINGGATE_SET_BACKEND,
                uapi::RINGGATE_A_BACKEND_WEIGHT,
            ),
            (
                &["ringgatectl", "config", "set", "--help"],
                &uapi::RINGGATE_SET_CONFIG,
                uapi::RINGGATE_A_CONFIG_MAX_SESSIONS,
            ),
        ] {
            let spec = set.attr(attr).unwrap();
            let range = format!("{}-{}", spec.min.unwrap(), spec.max.unwrap());
            assert!(help(args).contains(&range), "{args:?} does not say {range}");
        }
    }

    #[test]
    fn possible_values_carry_the_spec_docs() {
        let wrr = SchedulerValue(Scheduler::Wrr).to_possible_value().unwrap();
        assert_eq!(
            wrr.get_help().map(ToString::to_string).as_deref(),
            Some("Weighted round-robin over the back-ends that are up.")
        );
    }
}
