//! The data plane's settings: `config-get`, `config-set` and the decoding
//! of their reply.

use ringgate_uapi as uapi;
use serde::Serialize;

use crate::decode::Decoder;
use crate::names::Set;
use crate::spec_enum::spec_enum;
use crate::wire::attrs;
use crate::{Client, Error};

spec_enum! {
    /// What happens to the sessions of a back-end taken down or removed.
    #[derive(Default)]
    pub enum DownPolicy ("policy", uapi::RINGGATE_DOWN_POLICY_NAMES) {
        /// They go on until they end or expire.
        #[default]
        Keep = uapi::RINGGATE_DOWN_POLICY_KEEP,
        /// They are removed at once.
        Drop = uapi::RINGGATE_DOWN_POLICY_DROP,
    }
}

spec_enum! {
    /// Whether conntrack sees the connections the module translates.
    #[derive(Default)]
    pub enum ConntrackMode ("conntrack mode", uapi::RINGGATE_CONNTRACK_MODE_NAMES) {
        /// Translated packets are marked untracked.
        Untracked = uapi::RINGGATE_CONNTRACK_MODE_UNTRACKED,
        /// Conntrack tracks them as client <-> back-end (the module's default).
        #[default]
        Tracked = uapi::RINGGATE_CONNTRACK_MODE_TRACKED,
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
    pub conntrack: ConntrackMode,
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
    pub conntrack: Option<ConntrackMode>,
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
        let (mut node_id, mut down_policy, mut conntrack) = (None, None, None);
        let mut values = [None; 5];
        for attr in attrs(payload) {
            let (k, p) = (attr.kind, attr.payload);
            if k == uapi::RINGGATE_A_CONFIG_NODE_ID {
                node_id = Some(d.u16(k, p)?);
            } else if k == uapi::RINGGATE_A_CONFIG_DOWN_POLICY {
                down_policy = Some(DownPolicy::from_uapi(d.u32(k, p)?));
            } else if k == uapi::RINGGATE_A_CONFIG_CONNTRACK {
                conntrack = Some(ConntrackMode::from_uapi(d.u32(k, p)?));
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
            // A module from before the setting always marked translated
            // packets untracked.
            conntrack: conntrack.unwrap_or(ConntrackMode::Untracked),
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
                if let Some(mode) = change.conntrack {
                    r.put_u32(uapi::RINGGATE_A_CONFIG_CONNTRACK, mode.uapi());
                }
            },
            &mut |_| Ok(()),
        )
    }
}
