//! The data plane's settings: `config-get`, `config-set` and the decoding
//! of their reply.

use std::fmt;

use ringgate_uapi as uapi;
use serde::Serialize;

use crate::decode::{name_in, name_or_number, spec_names, Decoder};
use crate::names::Set;
use crate::wire::attrs;
use crate::{Client, Error};

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
        [DownPolicy::Keep, DownPolicy::Drop]
            .into_iter()
            .find(|policy| policy.name() == Some(s))
            .ok_or_else(|| {
                format!(
                    "unknown policy {s:?} ({})",
                    spec_names(uapi::RINGGATE_DOWN_POLICY_NAMES)
                )
            })
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
            set: Set::CONFIG,
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

impl Client {
    /// The data plane's settings.
    pub fn config(&self) -> Result<Config, Error> {
        self.get(uapi::RINGGATE_CMD_CONFIG_GET, |_| {}, Config::decode)
    }

    /// Starts or renews the VIP ownership lease: owned VIPs stay owned for
    /// `ms` milliseconds from now, and are released by the module if no
    /// renewal comes in time; 0 ends the lease. Once a lease has run out,
    /// the VIPs it covered are released for good (a renewal does not bring
    /// them back), so the caller takes them again if it still should own them.
    pub fn owner_lease(&self, ms: u32) -> Result<(), Error> {
        self.call(
            uapi::RINGGATE_CMD_OWNER_LEASE,
            |r| {
                r.put_u32(uapi::RINGGATE_A_CONFIG_OWNER_LEASE_MS, ms);
            },
            &mut |_| Ok(()),
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
}
