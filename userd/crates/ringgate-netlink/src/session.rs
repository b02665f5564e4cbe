//! Settings and NAT sessions: requests and the decoding of their replies.

use std::fmt;
use std::net::SocketAddrV4;

use ringgate_uapi as uapi;
use serde::Serialize;

use crate::decode::{name_in, name_or_number, Decoder};
use crate::names::Set;
use crate::wire::attrs;
use crate::{Client, Error, Proto};

/// What happens to the sessions of a back-end taken down or removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DownPolicy {
    /// They go on until they end or expire.
    #[default]
    Keep,
    /// They are removed at once.
    Drop,
    /// A policy of a newer module, by its UAPI number.
    Unknown(u32),
}

impl DownPolicy {
    pub(crate) fn uapi(self) -> u32 {
        match self {
            DownPolicy::Keep => uapi::RINGGATE_DOWN_POLICY_KEEP,
            DownPolicy::Drop => uapi::RINGGATE_DOWN_POLICY_DROP,
            DownPolicy::Unknown(n) => n,
        }
    }

    pub(crate) fn from_uapi(n: u32) -> DownPolicy {
        [DownPolicy::Keep, DownPolicy::Drop]
            .into_iter()
            .find(|p| p.uapi() == n)
            .unwrap_or(DownPolicy::Unknown(n))
    }

    /// `keep` or `drop`; `None` for a policy of a newer module.
    pub fn name(self) -> Option<&'static str> {
        name_in(uapi::RINGGATE_DOWN_POLICY_NAMES, self.uapi())
            .filter(|_| !matches!(self, DownPolicy::Unknown(_)))
    }
}

/// The name, or the number of a policy without one here.
impl fmt::Display for DownPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.pad(name),
            None => f.pad(&self.uapi().to_string()),
        }
    }
}

impl Serialize for DownPolicy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        name_or_number(self.name(), self.uapi(), s)
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

/// Where a NAT session is in its life (the spec's `session-stage`), kept by
/// number so that a stage of a newer module is shown, not refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stage(pub u32);

impl Stage {
    /// The spec name (`established`); `None` for a stage of a newer module.
    pub fn name(self) -> Option<&'static str> {
        name_in(uapi::RINGGATE_SESSION_STAGE_NAMES, self.0)
    }
}

/// The name, or the number of a stage without one here.
impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.pad(name),
            None => f.pad(&self.0.to_string()),
        }
    }
}

impl Serialize for Stage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        name_or_number(self.name(), self.0, s)
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
    pub stage: Stage,
    pub expires_ms: u32,
    pub owner: u16,
}

/// The `u32` settings, in the order of [`Config`]'s fields after `node_id`.
const CONFIG_U32: [u16; 5] = [
    uapi::RINGGATE_A_CONFIG_MAX_SESSIONS,
    uapi::RINGGATE_A_CONFIG_TIMEOUT_SYN,
    uapi::RINGGATE_A_CONFIG_TIMEOUT_ESTABLISHED,
    uapi::RINGGATE_A_CONFIG_TIMEOUT_CLOSING,
    uapi::RINGGATE_A_CONFIG_TIMEOUT_UDP,
];

impl Config {
    pub(crate) fn decode(payload: &[u8]) -> Result<Config, Error> {
        let d = Decoder {
            op: "config-get",
            set: Set::Config,
        };
        let (mut node_id, mut down_policy) = (None, None);
        let mut values = [None; 5];
        for attr in attrs(payload) {
            let (k, p) = (attr.kind, attr.payload);
            if k == uapi::RINGGATE_A_CONFIG_NODE_ID {
                node_id = Some(d.u16(k, p)?);
            } else if k == uapi::RINGGATE_A_CONFIG_DOWN_POLICY {
                down_policy = Some(DownPolicy::from_uapi(d.u32(k, p)?));
            } else if let Some(i) = CONFIG_U32.iter().position(|c| *c == k) {
                values[i] = Some(d.u32(k, p)?);
            }
        }
        let value = |i: usize| d.need(CONFIG_U32[i], values[i]);
        Ok(Config {
            node_id: d.need(uapi::RINGGATE_A_CONFIG_NODE_ID, node_id)?,
            max_sessions: value(0)?,
            timeout_syn: value(1)?,
            timeout_established: value(2)?,
            timeout_closing: value(3)?,
            timeout_udp: value(4)?,
            down_policy: d.need(uapi::RINGGATE_A_CONFIG_DOWN_POLICY, down_policy)?,
        })
    }
}

impl Session {
    pub(crate) fn decode(payload: &[u8]) -> Result<Session, Error> {
        use uapi::*;
        let d = Decoder {
            op: "session-get",
            set: Set::Session,
        };
        let mut proto = None;
        let (mut ca, mut cp, mut va, mut vp, mut ba, mut bp) = (None, None, None, None, None, None);
        let (mut stage, mut expires_ms, mut owner) = (None, None, None);
        for attr in attrs(payload) {
            let (k, p) = (attr.kind, attr.payload);
            match k {
                RINGGATE_A_SESSION_PROTO => proto = Some(Proto::from_number(d.u8(k, p)?)),
                RINGGATE_A_SESSION_CLIENT_ADDR => ca = Some(d.addr(k, p)?),
                RINGGATE_A_SESSION_CLIENT_PORT => cp = Some(d.u16(k, p)?),
                RINGGATE_A_SESSION_VIP => va = Some(d.addr(k, p)?),
                RINGGATE_A_SESSION_VIP_PORT => vp = Some(d.u16(k, p)?),
                RINGGATE_A_SESSION_BACKEND_ADDR => ba = Some(d.addr(k, p)?),
                RINGGATE_A_SESSION_BACKEND_PORT => bp = Some(d.u16(k, p)?),
                RINGGATE_A_SESSION_STAGE => stage = Some(Stage(d.u32(k, p)?)),
                RINGGATE_A_SESSION_EXPIRES_MS => expires_ms = Some(d.u32(k, p)?),
                RINGGATE_A_SESSION_OWNER => owner = Some(d.u16(k, p)?),
                _ => {}
            }
        }
        let pair = |a, ak, p, pk| Ok::<_, Error>(SocketAddrV4::new(d.need(ak, a)?, d.need(pk, p)?));
        Ok(Session {
            proto: d.need(RINGGATE_A_SESSION_PROTO, proto)?,
            client: pair(
                ca,
                RINGGATE_A_SESSION_CLIENT_ADDR,
                cp,
                RINGGATE_A_SESSION_CLIENT_PORT,
            )?,
            vip: pair(va, RINGGATE_A_SESSION_VIP, vp, RINGGATE_A_SESSION_VIP_PORT)?,
            backend: pair(
                ba,
                RINGGATE_A_SESSION_BACKEND_ADDR,
                bp,
                RINGGATE_A_SESSION_BACKEND_PORT,
            )?,
            stage: d.need(RINGGATE_A_SESSION_STAGE, stage)?,
            expires_ms: d.need(RINGGATE_A_SESSION_EXPIRES_MS, expires_ms)?,
            owner: d.need(RINGGATE_A_SESSION_OWNER, owner)?,
        })
    }
}

impl Client {
    /// The data plane's settings.
    pub fn config(&self) -> Result<Config, Error> {
        self.get(
            "config-get",
            uapi::RINGGATE_CMD_CONFIG_GET,
            |_| {},
            Config::decode,
        )
    }

    /// Changes the settings given.
    pub fn config_set(&self, change: &ConfigChange) -> Result<(), Error> {
        let values = [
            change.max_sessions,
            change.timeout_syn,
            change.timeout_established,
            change.timeout_closing,
            change.timeout_udp,
        ];
        self.call(
            "config-set",
            uapi::RINGGATE_CMD_CONFIG_SET,
            |r| {
                if let Some(id) = change.node_id {
                    r.put_u16(uapi::RINGGATE_A_CONFIG_NODE_ID, id);
                }
                for (kind, value) in CONFIG_U32.into_iter().zip(values) {
                    if let Some(value) = value {
                        r.put_u32(kind, value);
                    }
                }
                if let Some(policy) = change.down_policy {
                    r.put_u32(uapi::RINGGATE_A_CONFIG_DOWN_POLICY, policy.uapi());
                }
            },
            &mut |_| Ok(()),
        )
    }

    /// Hands each live NAT session to `each` as its dump part arrives, so a
    /// table of a million sessions is never held in memory. The dump is a
    /// sample (sessions come and go meanwhile), so it is not retried. The
    /// first error `each` returns ends the handing over; the rest of the
    /// dump is still read, then that error is returned.
    pub fn for_each_session(
        &self,
        mut each: impl FnMut(Session) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.dump_each(
            "session-get",
            uapi::RINGGATE_CMD_SESSION_GET,
            &mut |payload| each(Session::decode(payload)?),
        )
        .map(|_interrupted| ())
    }

    /// Every live NAT session (a sample: sessions come and go meanwhile).
    pub fn sessions(&self) -> Result<Vec<Session>, Error> {
        let mut sessions = Vec::new();
        self.for_each_session(|s| {
            sessions.push(s);
            Ok(())
        })?;
        Ok(sessions)
    }
}
