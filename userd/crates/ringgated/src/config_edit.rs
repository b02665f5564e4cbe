//! One change to the cluster's VIPs, services or back-ends, as
//! `ringgatectl vip|service|backend` asks for it while a gateway daemon
//! runs: the daemon applies it to the configuration in force and proposes
//! the result to the ring as a configuration change made against that
//! version. Two operators editing at once therefore never lose a change
//! silently: the later one is refused with a version conflict and can be
//! run again.
//!
//! The request words (after `cluster edit`):
//! `vip add|del VIP`,
//! `service add VIP PROTO PORT [SCHEDULER]`, `service set VIP PROTO PORT SCHEDULER`,
//! `service del VIP PROTO PORT`,
//! `backend add VIP PROTO PORT ADDR:PORT [WEIGHT]`,
//! `backend set VIP PROTO PORT ADDR:PORT WEIGHT`,
//! `backend del VIP PROTO PORT ADDR:PORT`.
//! They mean what the same commands mean for a module alone: an addition
//! of something already there, or a change of something missing, is
//! refused and nothing changes.

use std::net::{Ipv4Addr, SocketAddrV4};

use ringgate_cluster::config::{Backend, ClusterConfig, Service, VipConfig};
use ringgate_netlink::Scheduler;

use crate::cluster_file::module_limits;

/// The weights a module accepts for a back-end.
const WEIGHTS: std::ops::RangeInclusive<u32> = 1..=1000;

/// Which service of the configuration an edit is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceRef {
    pub vip: Ipv4Addr,
    pub proto: u8,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigEdit {
    AddVip(Ipv4Addr),
    DelVip(Ipv4Addr),
    AddService(ServiceRef, Option<String>),
    SetService(ServiceRef, String),
    DelService(ServiceRef),
    /// Creates the service (wrr) if it is not there, as the module-alone
    /// command does.
    AddBackend(ServiceRef, SocketAddrV4, Option<u32>),
    SetBackend(ServiceRef, SocketAddrV4, u32),
    DelBackend(ServiceRef, SocketAddrV4),
}

impl ConfigEdit {
    /// Parses the words of a `cluster edit` request; every word is checked
    /// here, so a malformed request never reaches the ring thread.
    pub fn parse(words: &[&str]) -> Result<Self, String> {
        Ok(match words {
            ["vip", "add", vip] => ConfigEdit::AddVip(vip_addr(vip)?),
            ["vip", "del", vip] => ConfigEdit::DelVip(vip_addr(vip)?),
            ["service", "add", v, p, n] => ConfigEdit::AddService(service(v, p, n)?, None),
            ["service", "add", v, p, n, s] => {
                ConfigEdit::AddService(service(v, p, n)?, Some(scheduler(s)?))
            }
            ["service", "set", v, p, n, s] => {
                ConfigEdit::SetService(service(v, p, n)?, scheduler(s)?)
            }
            ["service", "del", v, p, n] => ConfigEdit::DelService(service(v, p, n)?),
            ["backend", "add", v, p, n, b] => {
                ConfigEdit::AddBackend(service(v, p, n)?, backend(b)?, None)
            }
            ["backend", "add", v, p, n, b, w] => {
                ConfigEdit::AddBackend(service(v, p, n)?, backend(b)?, Some(weight(w)?))
            }
            ["backend", "set", v, p, n, b, w] => {
                ConfigEdit::SetBackend(service(v, p, n)?, backend(b)?, weight(w)?)
            }
            ["backend", "del", v, p, n, b] => ConfigEdit::DelBackend(service(v, p, n)?, backend(b)?),
            _ => {
                return Err(format!(
                    "unknown edit {:?}; expected vip add|del, service add|set|del or backend add|set|del",
                    words.join(" ")
                ))
            }
        })
    }

    /// The configuration with this edit made (its version unchanged: the
    /// ring gives the next one), checked against what every module holds.
    pub fn apply(&self, config: &ClusterConfig) -> Result<ClusterConfig, String> {
        let mut next = config.clone();
        match self {
            ConfigEdit::AddVip(vip) => {
                if next.vips.iter().any(|v| v.addr == *vip) {
                    return Err(format!(
                        "VIP {vip} is already in the cluster's configuration"
                    ));
                }
                next.vips.push(VipConfig {
                    addr: *vip,
                    services: Vec::new(),
                });
            }
            ConfigEdit::DelVip(vip) => {
                let at = vip_index(&next, *vip)?;
                let services = next.vips[at].services.len();
                if services > 0 {
                    return Err(format!(
                        "VIP {vip} still has {services} service(s); remove them first"
                    ));
                }
                next.vips.remove(at);
            }
            ConfigEdit::AddService(key, sched) => {
                let vip = vip_entry(&mut next, key.vip)?;
                if vip.services.iter().any(|s| same(s, key)) {
                    return Err(format!("service {} already exists", show(key)));
                }
                vip.services.push(new_service(key, sched.clone()));
            }
            ConfigEdit::SetService(key, sched) => {
                service_entry(&mut next, key)?.scheduler = sched.clone();
            }
            ConfigEdit::DelService(key) => {
                let vip = vip_entry(&mut next, key.vip)?;
                let before = vip.services.len();
                vip.services.retain(|s| !same(s, key));
                if vip.services.len() == before {
                    return Err(not_found(&format!("service {}", show(key))));
                }
            }
            ConfigEdit::AddBackend(key, addr, weight) => {
                let vip = vip_entry(&mut next, key.vip)?;
                if !vip.services.iter().any(|s| same(s, key)) {
                    vip.services.push(new_service(key, None));
                }
                let service = service_entry(&mut next, key)?;
                if backend_index(service, *addr).is_some() {
                    return Err(format!("back-end {addr} of {} already exists", show(key)));
                }
                service.backends.push(Backend {
                    addr: *addr.ip(),
                    port: addr.port(),
                    weight: weight.unwrap_or(1),
                });
            }
            ConfigEdit::SetBackend(key, addr, weight) => {
                let service = service_entry(&mut next, key)?;
                let at = backend_index(service, *addr)
                    .ok_or_else(|| not_found(&format!("back-end {addr} of {}", show(key))))?;
                service.backends[at].weight = *weight;
            }
            ConfigEdit::DelBackend(key, addr) => {
                let service = service_entry(&mut next, key)?;
                let at = backend_index(service, *addr)
                    .ok_or_else(|| not_found(&format!("back-end {addr} of {}", show(key))))?;
                service.backends.remove(at);
            }
        }
        module_limits(&next.vips)?;
        next.validate().map_err(|e| e.to_string())?;
        Ok(next)
    }
}

/// The one wording of "not there", which `ringgatectl` turns into its
/// not-found exit status, as it does the module's ENOENT.
pub const NOT_FOUND: &str = "is not in the cluster's configuration";

fn not_found(what: &str) -> String {
    format!("{what} {NOT_FOUND}")
}

fn new_service(key: &ServiceRef, scheduler: Option<String>) -> Service {
    Service {
        proto: key.proto,
        port: key.port,
        scheduler: scheduler.unwrap_or_else(|| Scheduler::default().to_string()),
        backends: Vec::new(),
        health: None,
    }
}

fn same(service: &Service, key: &ServiceRef) -> bool {
    service.proto == key.proto && service.port == key.port
}

fn show(key: &ServiceRef) -> String {
    let proto = if key.proto == 17 { "udp" } else { "tcp" };
    format!("{}:{} {proto}", key.vip, key.port)
}

fn vip_index(config: &ClusterConfig, vip: Ipv4Addr) -> Result<usize, String> {
    config
        .vips
        .iter()
        .position(|v| v.addr == vip)
        .ok_or_else(|| not_found(&format!("VIP {vip}")))
}

fn vip_entry(config: &mut ClusterConfig, vip: Ipv4Addr) -> Result<&mut VipConfig, String> {
    let at = vip_index(config, vip)?;
    Ok(&mut config.vips[at])
}

fn service_entry<'a>(
    config: &'a mut ClusterConfig,
    key: &ServiceRef,
) -> Result<&'a mut Service, String> {
    vip_entry(config, key.vip)?
        .services
        .iter_mut()
        .find(|s| same(s, key))
        .ok_or_else(|| not_found(&format!("service {}", show(key))))
}

fn backend_index(service: &Service, addr: SocketAddrV4) -> Option<usize> {
    service
        .backends
        .iter()
        .position(|b| b.addr == *addr.ip() && b.port == addr.port())
}

fn vip_addr(word: &str) -> Result<Ipv4Addr, String> {
    let addr = word
        .parse()
        .map_err(|_| format!("{word:?} is not an IPv4 address"))?;
    ringgate_netlink::check_vip_addr(addr).map_err(|e| e.to_string())?;
    Ok(addr)
}

fn service(vip: &str, proto: &str, port: &str) -> Result<ServiceRef, String> {
    let proto = match proto {
        "tcp" => 6,
        "udp" => 17,
        other => return Err(format!("{other:?} is not tcp or udp")),
    };
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{port:?} is not a port (1 to 65535)"))?;
    Ok(ServiceRef {
        vip: vip_addr(vip)?,
        proto,
        port,
    })
}

fn scheduler(word: &str) -> Result<String, String> {
    word.parse::<Scheduler>().map_err(|e| e.to_string())?;
    Ok(word.to_string())
}

fn backend(word: &str) -> Result<SocketAddrV4, String> {
    let addr: SocketAddrV4 = word
        .parse()
        .map_err(|_| format!("{word:?} is not a back-end ADDR:PORT"))?;
    if addr.port() == 0 {
        return Err(format!("{word}: the port must not be 0"));
    }
    Ok(addr)
}

fn weight(word: &str) -> Result<u32, String> {
    word.parse::<u32>()
        .ok()
        .filter(|w| WEIGHTS.contains(w))
        .ok_or_else(|| {
            format!(
                "{word:?} is not a weight ({} to {})",
                WEIGHTS.start(),
                WEIGHTS.end()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(line: &str) -> Result<ConfigEdit, String> {
        ConfigEdit::parse(&line.split_whitespace().collect::<Vec<_>>())
    }

    fn apply(config: &ClusterConfig, line: &str) -> Result<ClusterConfig, String> {
        edit(line)?.apply(config)
    }

    fn base() -> ClusterConfig {
        let mut c = ClusterConfig::empty();
        c.version = 4;
        c
    }

    #[test]
    fn a_vip_service_and_backend_are_added_and_removed() {
        let c = apply(&base(), "vip add 10.0.0.100").unwrap();
        let c = apply(&c, "backend add 10.0.0.100 tcp 80 10.1.0.2:8080 5").unwrap();
        let s = &c.vips[0].services[0];
        assert_eq!((s.proto, s.port, s.scheduler.as_str()), (6, 80, "wrr"));
        assert_eq!(
            (s.backends[0].addr, s.backends[0].port, s.backends[0].weight),
            (Ipv4Addr::new(10, 1, 0, 2), 8080, 5)
        );
        assert_eq!(c.version, 4, "the ring gives the next version");
        let c = apply(&c, "backend set 10.0.0.100 tcp 80 10.1.0.2:8080 7").unwrap();
        assert_eq!(c.vips[0].services[0].backends[0].weight, 7);
        let c = apply(&c, "service set 10.0.0.100 tcp 80 hash").unwrap();
        assert_eq!(c.vips[0].services[0].scheduler, "hash");
        let c = apply(&c, "backend del 10.0.0.100 tcp 80 10.1.0.2:8080").unwrap();
        assert!(c.vips[0].services[0].backends.is_empty());
        let c = apply(&c, "service del 10.0.0.100 tcp 80").unwrap();
        let c = apply(&c, "vip del 10.0.0.100").unwrap();
        assert_eq!(c, base());
    }

    #[test]
    fn an_edit_that_does_not_fit_is_refused_with_the_reason() {
        let c = apply(&base(), "vip add 10.0.0.100").unwrap();
        let c = apply(&c, "service add 10.0.0.100 udp 53 lc").unwrap();
        let refused = |line: &str, reason: &str| {
            let e = apply(&c, line).unwrap_err();
            assert!(e.contains(reason), "{line}: {e}");
        };
        refused("vip add 10.0.0.100", "already");
        refused("vip del 10.0.0.101", "not in the cluster's configuration");
        refused("vip del 10.0.0.100", "still has 1 service");
        refused("service add 10.0.0.100 udp 53", "already exists");
        refused(
            "service add 10.0.0.101 udp 53",
            "not in the cluster's configuration",
        );
        refused(
            "service set 10.0.0.100 tcp 53 wrr",
            "service 10.0.0.100:53 tcp is not in the cluster's configuration",
        );
        refused(
            "backend set 10.0.0.100 udp 53 10.1.0.2:53 3",
            "back-end 10.1.0.2:53 of 10.0.0.100:53 udp is not in",
        );
        refused("backend del 10.0.0.100 udp 53 10.1.0.2:53", NOT_FOUND);
        let c2 = apply(&c, "backend add 10.0.0.100 udp 53 10.1.0.2:53").unwrap();
        let e = apply(&c2, "backend add 10.0.0.100 udp 53 10.1.0.2:53").unwrap_err();
        assert!(e.contains("already exists"), "{e}");
    }

    #[test]
    fn malformed_words_are_refused_before_any_configuration_is_touched() {
        for (line, reason) in [
            ("vip add 127.0.0.1", "127.0.0.1"),
            ("vip add nonsense", "not an IPv4 address"),
            ("service add 10.0.0.100 sctp 80", "not tcp or udp"),
            ("service add 10.0.0.100 tcp 0", "not a port"),
            ("service set 10.0.0.100 tcp 80 fastest", "fastest"),
            ("backend add 10.0.0.100 tcp 80 10.1.0.2", "ADDR:PORT"),
            (
                "backend add 10.0.0.100 tcp 80 10.1.0.2:0",
                "port must not be 0",
            ),
            (
                "backend add 10.0.0.100 tcp 80 10.1.0.2:80 0",
                "not a weight",
            ),
            (
                "backend set 10.0.0.100 tcp 80 10.1.0.2:80 1001",
                "not a weight",
            ),
            ("backend set 10.0.0.100 tcp 80 10.1.0.2:80", "unknown edit"),
            ("vip own 10.0.0.100", "unknown edit"),
        ] {
            let e = edit(line).unwrap_err();
            assert!(e.contains(reason), "{line}: {e}");
        }
    }

    #[test]
    fn an_edit_beyond_what_a_module_holds_is_refused() {
        let mut c = apply(&base(), "vip add 10.0.0.100").unwrap();
        for i in 0..32u8 {
            c = apply(&c, &format!("backend add 10.0.0.100 tcp 80 10.1.0.{i}:80")).unwrap();
        }
        let e = apply(&c, "backend add 10.0.0.100 tcp 80 10.1.1.1:80").unwrap_err();
        assert!(e.contains("more than a service holds"), "{e}");
    }
}
