//! `status-get` and `counters-reset`, and the decoding of the status.

use ringgate_uapi as uapi;
use serde::Serialize;

use crate::decode::Decoder;
use crate::names::Set;
use crate::wire::{attrs, Builder};
use crate::{Client, Error, Hook};

/// What one hook has seen in the namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookStats {
    pub hook: Hook,
    pub packets: u64,
    pub bytes: u64,
}

/// The module's status in the caller's namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub version: String,
    pub hooks: Vec<HookStats>,
    /// ARP packets dropped for VIPs this node does not own.
    pub arp_suppressed: u64,
    /// Gratuitous ARP packets sent on taking VIPs.
    pub garp_sent: u64,
    /// NAT sessions in the table.
    pub sessions: u64,
    /// New connections dropped because the session table was full.
    pub sessions_dropped: u64,
    /// Half-open or closing sessions evicted to make room for new ones.
    pub sessions_evicted: u64,
    /// New connections dropped because no back-end was up.
    pub no_backend: u64,
    /// Packets of a VIP's services dropped because this node does not
    /// serve the VIP (0 from a module older than the attribute).
    pub not_owner: u64,
    /// Packets of sessions another node owns, sent on to that node (0
    /// from a module older than the attribute).
    pub redirected: u64,
    /// Connections met mid-stream and given a session, their service
    /// hashing clients to back-ends (0 from a module older than the
    /// attribute).
    pub picked_up: u64,
    /// Buckets of the session table that may hold an entry, a gauge: what
    /// a scan of the table locks (0 from a module older than the
    /// attribute).
    pub session_buckets_used: u64,
    /// Outbound connections refused because no port of this node's range
    /// was free towards their destination (0 from a module older than the
    /// attribute).
    pub snat_no_port: u64,
}

const OP: &str = "status-get";

fn hook_stats(payload: &[u8]) -> Result<HookStats, Error> {
    let d = Decoder {
        op: OP,
        set: Set::HOOK_STATS,
    };
    let (mut hook, mut packets, mut bytes) = (None, None, None);
    for attr in attrs(payload) {
        let p = attr.payload;
        match attr.kind {
            uapi::RINGGATE_A_HOOK_STATS_HOOK => {
                hook = Some(Hook::from_number(d.u32(attr.kind, p)?))
            }
            uapi::RINGGATE_A_HOOK_STATS_PACKETS => packets = Some(d.uint(attr.kind, p)?),
            uapi::RINGGATE_A_HOOK_STATS_BYTES => bytes = Some(d.uint(attr.kind, p)?),
            // Attributes a newer module adds are skipped, not fatal.
            _ => {}
        }
    }
    Ok(HookStats {
        hook: d.need(uapi::RINGGATE_A_HOOK_STATS_HOOK, hook)?,
        packets: d.need(uapi::RINGGATE_A_HOOK_STATS_PACKETS, packets)?,
        bytes: d.need(uapi::RINGGATE_A_HOOK_STATS_BYTES, bytes)?,
    })
}

impl Status {
    pub(crate) fn decode(payload: &[u8]) -> Result<Status, Error> {
        let d = Decoder {
            op: OP,
            set: Set::STATUS,
        };
        let mut version = None;
        let mut hooks = Vec::new();
        let mut counters = [None; 11];
        let slots = [
            uapi::RINGGATE_A_STATUS_ARP_SUPPRESSED,
            uapi::RINGGATE_A_STATUS_GARP_SENT,
            uapi::RINGGATE_A_STATUS_SESSIONS,
            uapi::RINGGATE_A_STATUS_SESSIONS_DROPPED,
            uapi::RINGGATE_A_STATUS_SESSIONS_EVICTED,
            uapi::RINGGATE_A_STATUS_NO_BACKEND,
            uapi::RINGGATE_A_STATUS_NOT_OWNER,
            uapi::RINGGATE_A_STATUS_REDIRECTED,
            uapi::RINGGATE_A_STATUS_PICKED_UP,
            uapi::RINGGATE_A_STATUS_SESSION_BUCKETS_USED,
            uapi::RINGGATE_A_STATUS_SNAT_NO_PORT,
        ];
        for attr in attrs(payload) {
            if attr.kind == uapi::RINGGATE_A_STATUS_VERSION {
                let text = attr.payload.split(|b| *b == 0).next().unwrap_or_default();
                version = Some(String::from_utf8_lossy(text).into_owned());
            } else if attr.kind == uapi::RINGGATE_A_STATUS_HOOKS {
                hooks.push(hook_stats(attr.payload)?);
            } else if let Some(i) = slots.iter().position(|k| *k == attr.kind) {
                counters[i] = Some(d.uint(attr.kind, attr.payload)?);
            }
        }
        let counter = |i: usize| d.need(slots[i], counters[i]);
        Ok(Status {
            version: d.need(uapi::RINGGATE_A_STATUS_VERSION, version)?,
            hooks,
            arp_suppressed: counter(0)?,
            garp_sent: counter(1)?,
            sessions: counter(2)?,
            sessions_dropped: counter(3)?,
            sessions_evicted: counter(4)?,
            no_backend: counter(5)?,
            // Added later than the others: an older module does not send
            // it, and has no such drops.
            not_owner: counters[6].unwrap_or(0),
            redirected: counters[7].unwrap_or(0),
            picked_up: counters[8].unwrap_or(0),
            session_buckets_used: counters[9].unwrap_or(0),
            snat_no_port: counters[10].unwrap_or(0),
        })
    }
}

fn hook_attr(request: &mut Builder, hook: Option<Hook>) {
    if let Some(hook) = hook {
        request.put_u32(uapi::RINGGATE_A_STATUS_HOOK, hook.uapi());
    }
}

impl Client {
    /// The module version and this namespace's hook counters (of one hook, or all).
    pub fn status(&self, hook: Option<Hook>) -> Result<Status, Error> {
        self.get(
            uapi::RINGGATE_CMD_STATUS_GET,
            |r| hook_attr(r, hook),
            Status::decode,
        )
    }

    /// Zeroes this namespace's counters (of one hook, or all).
    pub fn reset_counters(&self, hook: Option<Hook>) -> Result<(), Error> {
        self.call(
            uapi::RINGGATE_CMD_COUNTERS_RESET,
            |r| hook_attr(r, hook),
            &mut |_| Ok(()),
        )
    }
}
