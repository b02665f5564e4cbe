//! Services and their back-ends: requests and the decoding of the dump.

use std::net::{Ipv4Addr, SocketAddrV4};

use neli::genl::Genlmsghdr;
use ringgate_uapi as uapi;
use serde::Serialize;

use crate::Error;

/// TCP or UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub(crate) fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
        }
    }

    fn from_number(n: u8) -> Option<Proto> {
        match n {
            6 => Some(Proto::Tcp),
            17 => Some(Proto::Udp),
            _ => None,
        }
    }
}

impl std::str::FromStr for Proto {
    type Err = String;
    fn from_str(s: &str) -> Result<Proto, String> {
        match s {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            other => Err(format!("unknown protocol {other:?} (tcp or udp)")),
        }
    }
}

/// How a service picks the back-end of a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Scheduler {
    /// Weighted round-robin.
    #[default]
    Wrr,
    /// Consistent hashing of the client address (Maglev).
    Hash,
    /// Weighted least-connections.
    Lc,
}

impl Scheduler {
    pub(crate) fn uapi(self) -> u32 {
        match self {
            Scheduler::Wrr => uapi::RINGGATE_SCHEDULER_WRR,
            Scheduler::Hash => uapi::RINGGATE_SCHEDULER_HASH,
            Scheduler::Lc => uapi::RINGGATE_SCHEDULER_LC,
        }
    }

    const ALL: [Scheduler; 3] = [Scheduler::Wrr, Scheduler::Hash, Scheduler::Lc];

    fn from_uapi(n: u32) -> Option<Scheduler> {
        Scheduler::ALL.into_iter().find(|s| s.uapi() == n)
    }

    /// The name the CLI and the JSON output use.
    pub fn name(self) -> &'static str {
        match self {
            Scheduler::Wrr => "wrr",
            Scheduler::Hash => "hash",
            Scheduler::Lc => "lc",
        }
    }
}

impl std::str::FromStr for Scheduler {
    type Err = String;
    fn from_str(s: &str) -> Result<Scheduler, String> {
        Scheduler::ALL
            .into_iter()
            .find(|scheduler| scheduler.name() == s)
            .ok_or_else(|| format!("unknown scheduler {s:?} (wrr, hash or lc)"))
    }
}

/// What names a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ServiceKey {
    pub vip: Ipv4Addr,
    pub port: u16,
    pub proto: Proto,
}

impl std::fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let proto = match self.proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        };
        write!(f, "{}:{}/{proto}", self.vip, self.port)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backend {
    pub addr: SocketAddrV4,
    pub weight: u32,
    pub up: bool,
    /// Sessions opening, established or UDP.
    pub active_conns: u32,
    /// Sessions closing or reset, not yet expired.
    pub inactive_conns: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    #[serde(flatten)]
    pub key: ServiceKey,
    pub scheduler: Scheduler,
    pub backends: Vec<Backend>,
}

fn u32_of(payload: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(payload.try_into().ok()?))
}

fn u16_of(payload: &[u8]) -> Option<u16> {
    Some(u16::from_ne_bytes(payload.try_into().ok()?))
}

impl Service {
    pub(crate) fn from_reply(reply: &Genlmsghdr<u8, u16>) -> Result<Service, Error> {
        let malformed = |why: &str| Error::Malformed {
            op: "service-get",
            why: why.to_string(),
        };
        let (mut vip, mut port, mut proto) = (None, None, None);
        let mut scheduler = Scheduler::Wrr;
        let mut backends = Vec::new();
        for attr in reply.attrs().iter() {
            let payload = attr.nla_payload().as_ref();
            match *attr.nla_type().nla_type() {
                uapi::RINGGATE_A_SERVICE_VIP => {
                    let octets: [u8; 4] = payload.try_into().map_err(|_| malformed("vip"))?;
                    vip = Some(Ipv4Addr::from(octets));
                }
                uapi::RINGGATE_A_SERVICE_PORT => port = u16_of(payload),
                uapi::RINGGATE_A_SERVICE_PROTO => {
                    proto = payload.first().and_then(|p| Proto::from_number(*p))
                }
                uapi::RINGGATE_A_SERVICE_SCHEDULER => {
                    scheduler = u32_of(payload)
                        .and_then(Scheduler::from_uapi)
                        .ok_or_else(|| malformed("scheduler"))?
                }
                uapi::RINGGATE_A_SERVICE_BACKENDS => {
                    let nested = attr
                        .get_attr_handle::<u16>()
                        .map_err(|e| malformed(&format!("backends: {e}")))?;
                    let (mut addr, mut bport, mut weight, mut up) = (None, None, 1, true);
                    let (mut active_conns, mut inactive_conns) = (0, 0);
                    for inner in nested.iter() {
                        let p = inner.nla_payload().as_ref();
                        match *inner.nla_type().nla_type() {
                            uapi::RINGGATE_A_BACKEND_ADDR => {
                                let octets: [u8; 4] =
                                    p.try_into().map_err(|_| malformed("backend addr"))?;
                                addr = Some(Ipv4Addr::from(octets));
                            }
                            uapi::RINGGATE_A_BACKEND_PORT => bport = u16_of(p),
                            uapi::RINGGATE_A_BACKEND_WEIGHT => weight = u32_of(p).unwrap_or(1),
                            uapi::RINGGATE_A_BACKEND_UP => up = p.first() == Some(&1),
                            uapi::RINGGATE_A_BACKEND_ACTIVE_CONNS => {
                                active_conns = u32_of(p).unwrap_or(0)
                            }
                            uapi::RINGGATE_A_BACKEND_INACTIVE_CONNS => {
                                inactive_conns = u32_of(p).unwrap_or(0)
                            }
                            _ => {}
                        }
                    }
                    backends.push(Backend {
                        addr: SocketAddrV4::new(
                            addr.ok_or_else(|| malformed("backend without addr"))?,
                            bport.ok_or_else(|| malformed("backend without port"))?,
                        ),
                        weight,
                        up,
                        active_conns,
                        inactive_conns,
                    });
                }
                _ => {}
            }
        }
        Ok(Service {
            key: ServiceKey {
                vip: vip.ok_or_else(|| malformed("no vip"))?,
                port: port.ok_or_else(|| malformed("no port"))?,
                proto: proto.ok_or_else(|| malformed("no proto"))?,
            },
            scheduler,
            backends,
        })
    }
}
