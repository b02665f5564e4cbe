//! The words of a `cluster edit` request (what `ringgatectl
//! vip|service|backend` sends on a gateway), read into the cluster's
//! `ConfigEdit`. The edit itself travels on the ring and is applied in
//! agreed order to the configuration in force (see
//! `ringgate_cluster::config::ConfigEdit`); only what can be checked
//! without the cluster's state is checked here, so a malformed request
//! never reaches the ring.
//!
//! The request words (after `cluster edit`):
//! `vip add|del VIP`,
//! `service add VIP PROTO PORT [SCHEDULER] [mode nat|http]`, `service set VIP PROTO PORT SCHEDULER`,
//! `service del VIP PROTO PORT`,
//! `backend add VIP PROTO PORT ADDR:PORT [WEIGHT]`,
//! `backend set VIP PROTO PORT ADDR:PORT WEIGHT`,
//! `backend del VIP PROTO PORT ADDR:PORT`.

use std::net::{Ipv4Addr, SocketAddrV4};

use ringgate_cluster::config::{self, ConfigEdit, ServiceMode, ServiceRef, DEFAULT_SCHEDULER};
use ringgate_netlink::uapi;
use ringgate_netlink::Scheduler;

// The cluster refuses edits beyond what a module holds by its own copy of
// the module's limits: they must be the module's.
const _: () = assert!(config::MODULE_MAX_VIPS == uapi::RINGGATE_MAX_VIPS as usize);
const _: () = assert!(config::MODULE_MAX_SERVICES == uapi::RINGGATE_MAX_SERVICES as usize);
const _: () = assert!(config::MODULE_MAX_BACKENDS == uapi::RINGGATE_MAX_BACKENDS as usize);

/// The largest weight a module accepts for a back-end.
pub const MAX_WEIGHT: u32 = 1000;
/// The weights a module accepts for a back-end.
const WEIGHTS: std::ops::RangeInclusive<u32> = 1..=MAX_WEIGHT;

/// Parses the words of a `cluster edit` request.
pub fn parse(words: &[&str]) -> Result<ConfigEdit, String> {
    Ok(match words {
        ["vip", "add", vip] => ConfigEdit::AddVip(vip_addr(vip)?),
        ["vip", "del", vip] => ConfigEdit::DelVip(vip_addr(vip)?),
        ["service", "add", v, p, n] => ConfigEdit::AddService(service(v, p, n)?, None),
        ["service", "add", v, p, n, s] => {
            ConfigEdit::AddService(service(v, p, n)?, Some(scheduler(s)?))
        }
        ["service", "add", v, p, n, "mode", m] => add_in_mode(service(v, p, n)?, None, m)?,
        ["service", "add", v, p, n, s, "mode", m] => {
            add_in_mode(service(v, p, n)?, Some(scheduler(s)?), m)?
        }
        ["service", "set", v, p, n, s] => ConfigEdit::SetService(service(v, p, n)?, scheduler(s)?),
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

/// `service add ... mode M`: an HTTP service is its own edit, and has
/// the proxy's weighted round robin only.
fn add_in_mode(
    key: ServiceRef,
    scheduler: Option<String>,
    mode: &str,
) -> Result<ConfigEdit, String> {
    match ServiceMode::from_name(mode) {
        Some(ServiceMode::Nat) => Ok(ConfigEdit::AddService(key, scheduler)),
        Some(ServiceMode::Http) if key.proto != 6 => {
            Err("mode http: the service must be tcp".into())
        }
        Some(ServiceMode::Http) => match scheduler.as_deref() {
            None | Some(DEFAULT_SCHEDULER) => Ok(ConfigEdit::AddHttpService(key)),
            Some(other) => Err(format!(
                "mode http: scheduler {other} is not the proxy's (wrr only)"
            )),
        },
        None => Err(format!("mode {mode:?} is not nat or http")),
    }
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
        parse(&line.split_whitespace().collect::<Vec<_>>())
    }

    #[test]
    fn the_words_become_the_edit() {
        let http = ServiceRef {
            vip: Ipv4Addr::new(10, 0, 0, 100),
            proto: 6,
            port: 80,
        };
        let be: SocketAddrV4 = "10.1.0.2:8080".parse().unwrap();
        assert_eq!(edit("vip add 10.0.0.100"), Ok(ConfigEdit::AddVip(http.vip)));
        assert_eq!(
            edit("backend add 10.0.0.100 tcp 80 10.1.0.2:8080 5"),
            Ok(ConfigEdit::AddBackend(http, be, Some(5)))
        );
        assert_eq!(
            edit("service add 10.0.0.100 udp 53"),
            Ok(ConfigEdit::AddService(
                ServiceRef {
                    proto: 17,
                    port: 53,
                    ..http
                },
                None
            ))
        );
        assert_eq!(
            edit("service add 10.0.0.100 tcp 80 mode http"),
            Ok(ConfigEdit::AddHttpService(http))
        );
        assert_eq!(
            edit("service add 10.0.0.100 tcp 80 lc mode nat"),
            Ok(ConfigEdit::AddService(http, Some("lc".into())))
        );
        assert_eq!(
            edit("service set 10.0.0.100 tcp 80 hash"),
            Ok(ConfigEdit::SetService(http, "hash".into()))
        );
        assert_eq!(
            edit("backend del 10.0.0.100 tcp 80 10.1.0.2:8080"),
            Ok(ConfigEdit::DelBackend(http, be))
        );
    }

    #[test]
    fn malformed_words_are_refused_before_the_ring() {
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
            ("service add 10.0.0.100 udp 53 mode http", "must be tcp"),
            ("service add 10.0.0.100 tcp 80 hash mode http", "wrr only"),
            ("service add 10.0.0.100 tcp 80 mode l7", "not nat or http"),
        ] {
            let e = edit(line).unwrap_err();
            assert!(e.contains(reason), "{line}: {e}");
        }
    }
}
