//! The VIP pool: requests and the decoding of their replies.

use std::net::Ipv4Addr;

use neli::genl::Genlmsghdr;
use ringgate_uapi as uapi;
use serde::Serialize;

use crate::Error;

/// One VIP of the namespace's pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vip {
    pub addr: Ipv4Addr,
    /// Whether this node owns it (answers ARP for it).
    pub owned: bool,
    /// Gratuitous ARP pairs sent when this node takes it.
    pub garp_count: u32,
}

impl Vip {
    pub(crate) fn from_reply(op: &'static str, reply: &Genlmsghdr<u8, u16>) -> Result<Vip, Error> {
        let malformed = |why: &str| Error::Malformed {
            op,
            why: why.to_string(),
        };
        let (mut addr, mut owned, mut garp_count) = (None, None, None);
        for attr in reply.attrs().iter() {
            let payload = attr.nla_payload().as_ref();
            match *attr.nla_type().nla_type() {
                uapi::RINGGATE_A_VIP_ADDR => {
                    let octets: [u8; 4] = payload.try_into().map_err(|_| malformed("addr"))?;
                    addr = Some(Ipv4Addr::from(octets));
                }
                uapi::RINGGATE_A_VIP_OWNED => {
                    owned = Some(payload.first().ok_or_else(|| malformed("owned"))? == &1)
                }
                uapi::RINGGATE_A_VIP_GARP_COUNT => {
                    let raw: [u8; 4] = payload.try_into().map_err(|_| malformed("garp-count"))?;
                    garp_count = Some(u32::from_ne_bytes(raw));
                }
                // Attributes a newer module adds are skipped, not fatal.
                _ => {}
            }
        }
        Ok(Vip {
            addr: addr.ok_or_else(|| malformed("no addr"))?,
            owned: owned.ok_or_else(|| malformed("no owned"))?,
            garp_count: garp_count.unwrap_or(0),
        })
    }
}
