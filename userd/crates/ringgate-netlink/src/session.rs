//! Settings and NAT sessions: requests and the decoding of their replies.

use std::net::{Ipv4Addr, SocketAddrV4};

use neli::genl::Genlmsghdr;
use ringgate_uapi as uapi;
use serde::Serialize;

use crate::{Error, Proto};

/// What happens to the sessions of a back-end taken down or removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DownPolicy {
    /// They go on until they end or expire.
    #[default]
    Keep,
    /// They are removed at once.
    Drop,
}

impl DownPolicy {
    pub(crate) fn uapi(self) -> u32 {
        match self {
            DownPolicy::Keep => uapi::RINGGATE_DOWN_POLICY_KEEP,
            DownPolicy::Drop => uapi::RINGGATE_DOWN_POLICY_DROP,
        }
    }
}

impl std::str::FromStr for DownPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<DownPolicy, String> {
        match s {
            "keep" => Ok(DownPolicy::Keep),
            "drop" => Ok(DownPolicy::Drop),
            other => Err(format!("unknown policy {other:?} (keep or drop)")),
        }
    }
}

/// The data plane's settings in a namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Config {
    pub node_id: u16,
    pub max_sessions: u32,
    pub timeout_syn: u32,
    pub timeout_established: u32,
    pub timeout_closing: u32,
    pub timeout_udp: u32,
    pub down_policy: DownPolicy,
}

/// Settings to change; `None` keeps a setting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigChange {
    pub node_id: Option<u16>,
    pub max_sessions: Option<u32>,
    pub timeout_syn: Option<u32>,
    pub timeout_established: Option<u32>,
    pub timeout_closing: Option<u32>,
    pub timeout_udp: Option<u32>,
    pub down_policy: Option<DownPolicy>,
}

/// One NAT session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub proto: Proto,
    pub client: SocketAddrV4,
    pub vip: SocketAddrV4,
    pub backend: SocketAddrV4,
    pub stage: &'static str,
    pub expires_ms: u32,
    pub owner: u16,
}

fn u32_of(p: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(p.try_into().ok()?))
}

fn u16_of(p: &[u8]) -> Option<u16> {
    Some(u16::from_ne_bytes(p.try_into().ok()?))
}

fn addr_of(p: &[u8]) -> Option<Ipv4Addr> {
    let octets: [u8; 4] = p.try_into().ok()?;
    Some(Ipv4Addr::from(octets))
}

impl Config {
    pub(crate) fn from_reply(reply: &Genlmsghdr<u8, u16>) -> Result<Config, Error> {
        let mut c = Config::default();
        for attr in reply.attrs().iter() {
            let p = attr.nla_payload().as_ref();
            match *attr.nla_type().nla_type() {
                uapi::RINGGATE_A_CONFIG_NODE_ID => c.node_id = u16_of(p).unwrap_or(0),
                uapi::RINGGATE_A_CONFIG_MAX_SESSIONS => c.max_sessions = u32_of(p).unwrap_or(0),
                uapi::RINGGATE_A_CONFIG_TIMEOUT_SYN => c.timeout_syn = u32_of(p).unwrap_or(0),
                uapi::RINGGATE_A_CONFIG_TIMEOUT_ESTABLISHED => {
                    c.timeout_established = u32_of(p).unwrap_or(0)
                }
                uapi::RINGGATE_A_CONFIG_TIMEOUT_CLOSING => {
                    c.timeout_closing = u32_of(p).unwrap_or(0)
                }
                uapi::RINGGATE_A_CONFIG_TIMEOUT_UDP => c.timeout_udp = u32_of(p).unwrap_or(0),
                uapi::RINGGATE_A_CONFIG_DOWN_POLICY => {
                    c.down_policy = if u32_of(p) == Some(uapi::RINGGATE_DOWN_POLICY_DROP) {
                        DownPolicy::Drop
                    } else {
                        DownPolicy::Keep
                    }
                }
                _ => {}
            }
        }
        Ok(c)
    }
}

const STAGES: [&str; 5] = ["udp", "syn", "established", "closing", "reset"];

impl Session {
    pub(crate) fn from_reply(reply: &Genlmsghdr<u8, u16>) -> Result<Session, Error> {
        let malformed = |why: &str| Error::Malformed {
            op: "session-get",
            why: why.to_string(),
        };
        let mut proto = None;
        let (mut ca, mut cp, mut va, mut vp, mut ba, mut bp) = (None, None, None, None, None, None);
        let (mut stage, mut expires_ms, mut owner) = ("udp", 0, 0);
        for attr in reply.attrs().iter() {
            let p = attr.nla_payload().as_ref();
            match *attr.nla_type().nla_type() {
                uapi::RINGGATE_A_SESSION_PROTO => {
                    proto = match p.first() {
                        Some(6) => Some(Proto::Tcp),
                        Some(17) => Some(Proto::Udp),
                        _ => None,
                    }
                }
                uapi::RINGGATE_A_SESSION_CLIENT_ADDR => ca = addr_of(p),
                uapi::RINGGATE_A_SESSION_CLIENT_PORT => cp = u16_of(p),
                uapi::RINGGATE_A_SESSION_VIP => va = addr_of(p),
                uapi::RINGGATE_A_SESSION_VIP_PORT => vp = u16_of(p),
                uapi::RINGGATE_A_SESSION_BACKEND_ADDR => ba = addr_of(p),
                uapi::RINGGATE_A_SESSION_BACKEND_PORT => bp = u16_of(p),
                uapi::RINGGATE_A_SESSION_STAGE => {
                    stage = u32_of(p)
                        .and_then(|s| STAGES.get(s as usize).copied())
                        .ok_or_else(|| malformed("stage"))?
                }
                uapi::RINGGATE_A_SESSION_EXPIRES_MS => expires_ms = u32_of(p).unwrap_or(0),
                uapi::RINGGATE_A_SESSION_OWNER => owner = u16_of(p).unwrap_or(0),
                _ => {}
            }
        }
        let pair = |a: Option<Ipv4Addr>, p: Option<u16>, what: &str| {
            Ok::<_, Error>(SocketAddrV4::new(
                a.ok_or_else(|| malformed(what))?,
                p.ok_or_else(|| malformed(what))?,
            ))
        };
        Ok(Session {
            proto: proto.ok_or_else(|| malformed("proto"))?,
            client: pair(ca, cp, "client")?,
            vip: pair(va, vp, "vip")?,
            backend: pair(ba, bp, "backend")?,
            stage,
            expires_ms,
            owner,
        })
    }
}
