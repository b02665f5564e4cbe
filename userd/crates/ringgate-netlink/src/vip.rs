//! The VIP pool: requests and the decoding of their replies.

use std::net::Ipv4Addr;

use ringgate_uapi as uapi;
use serde::Serialize;

use crate::decode::Decoder;
use crate::names::Set;
use crate::wire::{attrs, Builder};
use crate::{Client, Error};

/// One VIP of the namespace's pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vip {
    pub addr: Ipv4Addr,
    /// Whether this node owns it (answers ARP for it).
    pub owned: bool,
    /// Gratuitous ARP pairs sent when this node takes it.
    pub garp_count: u32,
    /// The node the cluster says owns it (0: not known, or a module that
    /// does not record it).
    pub owner_node: u16,
}

impl Vip {
    pub(crate) fn decode(op: &'static str, payload: &[u8]) -> Result<Vip, Error> {
        let d = Decoder { op, set: Set::VIP };
        let (mut addr, mut owned, mut garp_count, mut owner_node) = (None, None, None, None);
        for attr in attrs(payload) {
            let p = attr.payload;
            match attr.kind {
                uapi::RINGGATE_A_VIP_ADDR => addr = Some(d.addr(attr.kind, p)?),
                uapi::RINGGATE_A_VIP_OWNED => owned = Some(d.u8(attr.kind, p)? == 1),
                uapi::RINGGATE_A_VIP_GARP_COUNT => garp_count = Some(d.u32(attr.kind, p)?),
                uapi::RINGGATE_A_VIP_OWNER_NODE => owner_node = Some(d.u16(attr.kind, p)?),
                // Attributes a newer module adds are skipped, not fatal.
                _ => {}
            }
        }
        Ok(Vip {
            addr: d.need(uapi::RINGGATE_A_VIP_ADDR, addr)?,
            owned: d.need(uapi::RINGGATE_A_VIP_OWNED, owned)?,
            garp_count: d.need(uapi::RINGGATE_A_VIP_GARP_COUNT, garp_count)?,
            // An older module has no such attribute: it knows no owner.
            owner_node: owner_node.unwrap_or(0),
        })
    }
}

/// The address attribute every VIP request carries, in network byte order.
fn put_addr(request: &mut Builder, addr: Ipv4Addr) {
    request.put(uapi::RINGGATE_A_VIP_ADDR, &addr.octets());
}

const ENOENT: i32 = 2;
const ENOSPC: i32 = 28;
const EADDRNOTAVAIL: i32 = 99;

/// Names the VIP when the kernel says it is not in the pool, or not on any
/// interface (the module's only causes of these errnos for VIP requests, and
/// what its own extack says).
fn about_vip(addr: Ipv4Addr) -> impl FnOnce(i32) -> Option<Error> {
    move |errno| match errno {
        ENOENT => Some(Error::NoSuchVip(addr)),
        EADDRNOTAVAIL => Some(Error::VipNotConfigured(addr)),
        _ => None,
    }
}

/// Refuses an address that cannot be a VIP (0, loopback, multicast,
/// broadcast or reserved) before anything is sent, so that a caller
/// validating many changes first (a restore) can check it too.
pub fn check_vip_addr(addr: Ipv4Addr) -> Result<(), Error> {
    if addr.is_unspecified()
        || addr.is_loopback()
        || addr.is_multicast()
        || addr.is_broadcast()
        || addr.octets()[0] >= 240
    {
        return Err(Error::NotUnicast(addr));
    }
    Ok(())
}

impl Client {
    /// Adds a VIP to the pool (not owned); `garp_count` sets how many
    /// gratuitous ARP pairs announce it when taken.
    pub fn vip_add(&self, addr: Ipv4Addr, garp_count: Option<u32>) -> Result<(), Error> {
        check_vip_addr(addr)?;
        self.call(
            uapi::RINGGATE_CMD_VIP_ADD,
            |r| {
                put_addr(r, addr);
                if let Some(count) = garp_count {
                    r.put_u32(uapi::RINGGATE_A_VIP_GARP_COUNT, count);
                }
            },
            &mut |_| Ok(()),
        )
        .map_err(|e| e.refine(|errno| (errno == ENOSPC).then_some(Error::PoolFull)))
    }

    /// Removes a VIP from the pool.
    pub fn vip_del(&self, addr: Ipv4Addr) -> Result<(), Error> {
        self.call(
            uapi::RINGGATE_CMD_VIP_DEL,
            |r| put_addr(r, addr),
            &mut |_| Ok(()),
        )
        .map_err(|e| e.refine(about_vip(addr)))
    }

    /// Takes (`owned`) or releases a VIP of the pool.
    pub fn vip_set_owned(&self, addr: Ipv4Addr, owned: bool) -> Result<(), Error> {
        self.vip_set(addr, Some(owned), None)
    }

    /// Changes a VIP of the pool: takes or releases it, sets its
    /// garp-count; what is `None` stays as it is (the kernel refuses a
    /// request that changes neither).
    pub fn vip_set(
        &self,
        addr: Ipv4Addr,
        owned: Option<bool>,
        garp_count: Option<u32>,
    ) -> Result<(), Error> {
        self.call(
            uapi::RINGGATE_CMD_VIP_SET,
            |r| {
                put_addr(r, addr);
                if let Some(owned) = owned {
                    r.put_u8(uapi::RINGGATE_A_VIP_OWNED, u8::from(owned));
                }
                if let Some(count) = garp_count {
                    r.put_u32(uapi::RINGGATE_A_VIP_GARP_COUNT, count);
                }
            },
            &mut |_| Ok(()),
        )
        .map_err(|e| e.refine(about_vip(addr)))
    }

    /// Records `node` as the cluster's owner of a VIP of the pool (0: not
    /// known), for the module to send it the first replies of its new
    /// connections that reach this node.
    pub fn vip_set_owner_node(&self, addr: Ipv4Addr, node: u16) -> Result<(), Error> {
        self.call(
            uapi::RINGGATE_CMD_VIP_SET,
            |r| {
                put_addr(r, addr);
                r.put_u16(uapi::RINGGATE_A_VIP_OWNER_NODE, node);
            },
            &mut |_| Ok(()),
        )
        .map_err(|e| e.refine(about_vip(addr)))
    }

    /// One VIP of the pool.
    pub fn vip_get(&self, addr: Ipv4Addr) -> Result<Vip, Error> {
        self.get(
            uapi::RINGGATE_CMD_VIP_GET,
            |r| put_addr(r, addr),
            |p| Vip::decode("vip-get", p),
        )
        .map_err(|e| e.refine(about_vip(addr)))
    }

    /// Every VIP of the pool, sorted by address. A dump the kernel flags as
    /// interrupted by a concurrent change is read to its end and tried again.
    pub fn vip_list(&self) -> Result<Vec<Vip>, Error> {
        let mut vips = self.dump_consistent(uapi::RINGGATE_CMD_VIP_GET, "VIP pool", |p| {
            Vip::decode("vip-get", p)
        })?;
        vips.sort_by_key(|v| v.addr);
        Ok(vips)
    }
}
