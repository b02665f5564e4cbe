//! The reply of `status-get`, decoded.

use neli::genl::Genlmsghdr;
use ringgate_uapi as uapi;
use serde::Serialize;

use crate::{Error, Hook};

/// What one hook has seen in the namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HookStats {
    #[serde(serialize_with = "hook_name")]
    pub hook: Hook,
    pub packets: u64,
    pub bytes: u64,
}

fn hook_name<S: serde::Serializer>(hook: &Hook, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(hook.name())
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
}

fn malformed(why: impl Into<String>) -> Error {
    Error::Malformed {
        op: "status-get",
        why: why.into(),
    }
}

/// Decodes an `NLA_UINT`, which the kernel sends as 4 or 8 bytes.
pub(crate) fn uint(payload: &[u8]) -> Result<u64, Error> {
    match payload.len() {
        4 => Ok(u32::from_ne_bytes(payload.try_into().map_err(|_| malformed("uint"))?).into()),
        8 => Ok(u64::from_ne_bytes(
            payload.try_into().map_err(|_| malformed("uint"))?,
        )),
        n => Err(malformed(format!("a uint attribute of {n} bytes"))),
    }
}

impl Status {
    pub(crate) fn from_reply(reply: &Genlmsghdr<u8, u16>) -> Result<Status, Error> {
        let mut version = None;
        let mut hooks = Vec::new();
        let (mut arp_suppressed, mut garp_sent) = (0, 0);
        let (mut sessions, mut sessions_dropped, mut no_backend) = (0, 0, 0);
        let mut sessions_evicted = 0;
        for attr in reply.attrs().iter() {
            let kind = *attr.nla_type().nla_type();
            if kind == uapi::RINGGATE_A_STATUS_VERSION {
                let raw = attr.nla_payload().as_ref();
                let text = raw.strip_suffix(&[0]).unwrap_or(raw);
                version = Some(String::from_utf8_lossy(text).into_owned());
            } else if kind == uapi::RINGGATE_A_STATUS_ARP_SUPPRESSED {
                arp_suppressed = uint(attr.nla_payload().as_ref())?;
            } else if kind == uapi::RINGGATE_A_STATUS_GARP_SENT {
                garp_sent = uint(attr.nla_payload().as_ref())?;
            } else if kind == uapi::RINGGATE_A_STATUS_SESSIONS {
                sessions = uint(attr.nla_payload().as_ref())?;
            } else if kind == uapi::RINGGATE_A_STATUS_SESSIONS_DROPPED {
                sessions_dropped = uint(attr.nla_payload().as_ref())?;
            } else if kind == uapi::RINGGATE_A_STATUS_SESSIONS_EVICTED {
                sessions_evicted = uint(attr.nla_payload().as_ref())?;
            } else if kind == uapi::RINGGATE_A_STATUS_NO_BACKEND {
                no_backend = uint(attr.nla_payload().as_ref())?;
            } else if kind == uapi::RINGGATE_A_STATUS_HOOKS {
                let nested = attr
                    .get_attr_handle::<u16>()
                    .map_err(|e| malformed(format!("hooks nest: {e}")))?;
                let (mut hook, mut packets, mut bytes) = (None, None, None);
                for inner in nested.iter() {
                    let payload = inner.nla_payload().as_ref();
                    match *inner.nla_type().nla_type() {
                        uapi::RINGGATE_A_HOOK_STATS_HOOK => {
                            let n = u32::from_ne_bytes(
                                payload.try_into().map_err(|_| malformed("hook id"))?,
                            );
                            hook = Some(
                                Hook::from_uapi(n)
                                    .ok_or_else(|| malformed(format!("unknown hook {n}")))?,
                            );
                        }
                        uapi::RINGGATE_A_HOOK_STATS_PACKETS => packets = Some(uint(payload)?),
                        uapi::RINGGATE_A_HOOK_STATS_BYTES => bytes = Some(uint(payload)?),
                        // Attributes a newer module adds are skipped, not fatal.
                        _ => {}
                    }
                }
                hooks.push(HookStats {
                    hook: hook.ok_or_else(|| malformed("hook stats without a hook"))?,
                    packets: packets.unwrap_or(0),
                    bytes: bytes.unwrap_or(0),
                });
            }
        }
        Ok(Status {
            version: version.ok_or_else(|| malformed("no version"))?,
            hooks,
            arp_suppressed,
            garp_sent,
            sessions,
            sessions_dropped,
            sessions_evicted,
            no_backend,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint_accepts_both_widths_and_nothing_else() {
        assert_eq!(uint(&7u32.to_ne_bytes()).unwrap(), 7);
        assert_eq!(uint(&(1u64 << 40).to_ne_bytes()).unwrap(), 1 << 40);
        assert!(uint(&[1, 2, 3]).is_err());
    }
}
