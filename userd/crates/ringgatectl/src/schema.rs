//! The JSON that `--json` prints: one schema for every listing, owned here
//! so that it stays stable while the client's Rust types change. Addresses
//! and ports are always separate fields (`addr` and `port`, or
//! `<what>_addr`/`vip` and `<what>_port`, as the spec's attributes are
//! named); enum values are spec names, or numbers for values a newer module
//! has and this build does not know. README.md documents it.

use std::net::Ipv4Addr;

use ringgate_netlink::{
    Backend, Config, Proto, Scheduler, Service, Session, Stage, Status, Traffic, Vip,
};
use serde::Serialize;

/// A VIP of the pool (`vip list`).
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct VipJson {
    pub addr: Ipv4Addr,
    pub owned: bool,
    pub garp_count: u32,
}

impl From<&Vip> for VipJson {
    fn from(v: &Vip) -> VipJson {
        VipJson {
            addr: v.addr,
            owned: v.owned,
            garp_count: v.garp_count,
        }
    }
}

/// A service with its back-ends (`service list`, `backend list`).
#[derive(Debug, Serialize)]
pub(crate) struct ServiceJson {
    pub vip: Ipv4Addr,
    pub port: u16,
    pub proto: Proto,
    pub scheduler: Scheduler,
    pub backends: Vec<BackendJson>,
}

#[derive(Debug, Serialize)]
pub(crate) struct BackendJson {
    pub addr: Ipv4Addr,
    pub port: u16,
    pub weight: u32,
    pub up: bool,
    pub active_conns: u32,
    pub inactive_conns: u32,
    /// Cumulative counters (absent from a module too old to keep them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
}

impl From<&Backend> for BackendJson {
    fn from(b: &Backend) -> BackendJson {
        BackendJson {
            addr: *b.addr.ip(),
            port: b.addr.port(),
            weight: b.weight,
            up: b.up,
            active_conns: b.active_conns,
            inactive_conns: b.inactive_conns,
            traffic: b.traffic,
        }
    }
}

impl From<&Service> for ServiceJson {
    fn from(s: &Service) -> ServiceJson {
        ServiceJson {
            vip: s.key.vip,
            port: s.key.port,
            proto: s.key.proto,
            scheduler: s.scheduler,
            backends: s.backends.iter().map(BackendJson::from).collect(),
        }
    }
}

/// A NAT session (`sessions`), its fields named as the spec's attributes.
#[derive(Debug, Serialize)]
pub(crate) struct SessionJson {
    pub proto: Proto,
    pub client_addr: Ipv4Addr,
    pub client_port: u16,
    pub vip: Ipv4Addr,
    pub vip_port: u16,
    pub backend_addr: Ipv4Addr,
    pub backend_port: u16,
    pub stage: Stage,
    pub expires_ms: u32,
    pub owner: u16,
    /// A connection a back-end opened to the outside (see `sessions`).
    pub outbound: bool,
}

impl From<&Session> for SessionJson {
    fn from(s: &Session) -> SessionJson {
        SessionJson {
            proto: s.proto,
            client_addr: *s.client.ip(),
            client_port: s.client.port(),
            vip: *s.vip.ip(),
            vip_port: s.vip.port(),
            backend_addr: *s.backend.ip(),
            backend_port: s.backend.port(),
            stage: s.stage,
            expires_ms: s.expires_ms,
            owner: s.owner,
            outbound: s.outbound,
        }
    }
}

/// `status` and `config show` have no address in them: the client's types
/// already serialize in this schema's form, checked by the tests below.
pub(crate) fn status(s: &Status) -> serde_json::Value {
    serde_json::to_value(s).expect("a status serializes")
}

pub(crate) fn config(c: &Config) -> serde_json::Value {
    serde_json::to_value(c).expect("a config serializes")
}

/// The text `--json` prints: pretty, as `ip -j -p` and most scripts'
/// `grep '"packets": 0'` expect, ending with a newline.
pub(crate) fn pretty(value: &impl Serialize) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("output serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringgate_netlink::{ConntrackMode, DownPolicy, HookStats, ServiceKey};
    use serde_json::json;

    fn service() -> Service {
        Service {
            key: ServiceKey {
                vip: Ipv4Addr::new(10, 9, 0, 100),
                port: 80,
                proto: Proto::Tcp,
            },
            scheduler: Scheduler::Hash,
            backends: vec![Backend {
                addr: "10.8.0.2:8080".parse().unwrap(),
                weight: 3,
                up: false,
                active_conns: 1,
                inactive_conns: 2,
                traffic: Some(Traffic {
                    conns: 5,
                    packets_in: 6,
                    bytes_in: 7,
                    packets_out: 8,
                    bytes_out: 9,
                }),
            }],
        }
    }

    /// The whole schema, field by field: a change here is a change of the
    /// documented interface, and must be one on purpose.
    #[test]
    fn services_and_backends_have_separate_addresses_and_ports() {
        let got = serde_json::to_value(ServiceJson::from(&service())).unwrap();
        assert_eq!(
            got,
            json!({
                "vip": "10.9.0.100", "port": 80, "proto": "tcp", "scheduler": "hash",
                "backends": [{"addr": "10.8.0.2", "port": 8080, "weight": 3, "up": false,
                              "active_conns": 1, "inactive_conns": 2,
                              "traffic": {"conns": 5, "packets_in": 6, "bytes_in": 7,
                                          "packets_out": 8, "bytes_out": 9}}]
            })
        );
    }

    #[test]
    fn sessions_have_separate_addresses_and_ports() {
        let session = Session {
            proto: Proto::Udp,
            client: "10.9.0.1:40000".parse().unwrap(),
            vip: "10.9.0.100:9000".parse().unwrap(),
            backend: "10.8.0.2:9000".parse().unwrap(),
            stage: Stage(0),
            expires_ms: 1500,
            owner: 7,
            outbound: false,
        };
        assert_eq!(
            serde_json::to_value(SessionJson::from(&session)).unwrap(),
            json!({
                "proto": "udp", "client_addr": "10.9.0.1", "client_port": 40000,
                "vip": "10.9.0.100", "vip_port": 9000,
                "backend_addr": "10.8.0.2", "backend_port": 9000,
                "stage": "udp", "expires_ms": 1500, "owner": 7, "outbound": false
            })
        );
    }

    #[test]
    fn vips_status_and_config_keep_their_fields() {
        let vip = Vip {
            addr: Ipv4Addr::new(10, 9, 0, 100),
            owned: true,
            garp_count: 3,
            owner_node: 0,
        };
        assert_eq!(
            serde_json::to_value(VipJson::from(&vip)).unwrap(),
            json!({"addr": "10.9.0.100", "owned": true, "garp_count": 3})
        );
        let status = Status {
            version: "1.2.3".into(),
            hooks: vec![HookStats {
                hook: "arp-in".parse().unwrap(),
                packets: 3,
                bytes: 126,
            }],
            arp_suppressed: 4,
            garp_sent: 6,
            sessions: 1,
            sessions_dropped: 2,
            sessions_evicted: 5,
            no_backend: 7,
            not_owner: 8,
            redirected: 9,
            picked_up: 10,
            session_buckets_used: 11,
            snat_no_port: 12,
        };
        assert_eq!(
            super::status(&status),
            json!({
                "version": "1.2.3", "hooks": [{"hook": "arp-in", "packets": 3, "bytes": 126}],
                "arp_suppressed": 4, "garp_sent": 6, "sessions": 1, "sessions_dropped": 2,
                "sessions_evicted": 5, "no_backend": 7, "not_owner": 8,
                "redirected": 9, "picked_up": 10, "session_buckets_used": 11,
                "snat_no_port": 12
            })
        );
        let config = Config {
            node_id: 7,
            max_sessions: 64,
            timeout_syn: 30,
            timeout_established: 900,
            timeout_closing: 60,
            timeout_udp: 8,
            down_policy: DownPolicy::Drop,
            conntrack: ConntrackMode::Untracked,
        };
        assert_eq!(
            super::config(&config),
            json!({
                "node_id": 7, "max_sessions": 64, "timeout_syn": 30, "timeout_established": 900,
                "timeout_closing": 60, "timeout_udp": 8, "down_policy": "drop",
                "conntrack": "untracked"
            })
        );
    }
}
