// SPDX-License-Identifier: GPL-2.0

//! `vip-add`, `vip-del`, `vip-set` and `vip-get` (do and dump).

use kernel::c_str;
use kernel::prelude::*;

use super::refused;
use crate::glue::{uapi, Attrs, Dump, RcuSection, Request, Sleepable};
use crate::netns::NetState;
use crate::netns::{Refusal, VipChange};
use crate::upsert::Upsert;
use crate::vips::{self, Vip};

/// Writes one VIP's attributes.
fn put_vip(attrs: &mut Attrs<'_>, vip: &Vip) -> Result {
    attrs.put_u32(uapi::RINGGATE_A_VIP_ADDR, vip.addr)?;
    attrs.put_u8(uapi::RINGGATE_A_VIP_OWNED, u8::from(vip.owned))?;
    attrs.put_u32(uapi::RINGGATE_A_VIP_GARP_COUNT, u32::from(vip.garp_count))?;
    attrs.put_u16(uapi::RINGGATE_A_VIP_OWNER_NODE, vip.owner_node)
}

/// The address a request names. The policy passes any 4 bytes; addresses
/// that can never be a VIP are refused here.
fn vip_addr(req: &Request<'_>) -> Result<u32> {
    let addr = req.require_u32(uapi::RINGGATE_A_VIP_ADDR)?;
    if !vips::usable(addr) {
        return Err(req.fail(
            EINVAL,
            c_str!("a VIP is a unicast IPv4 address (not 0, loopback, multicast or broadcast)"),
        ));
    }
    Ok(addr)
}

/// The GARP count a request gives, if any.
fn garp_count(req: &Request<'_>) -> Result<Option<u8>> {
    // The policy bounds the count to 1..=RINGGATE_MAX_GARP_COUNT.
    match req.get_u32(uapi::RINGGATE_A_VIP_GARP_COUNT) {
        Some(count) => Ok(Some(u8::try_from(count).map_err(|_| EINVAL)?)),
        None => Ok(None),
    }
}

/// `vip-add`: adds a VIP, not owned.
pub(crate) fn vip_add(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    let addr = vip_addr(req)?;
    let garp_count = garp_count(req)?;
    net.set_vip(context, addr, garp_count, Upsert::ADD)
        .map_err(|refusal| refused(req, refusal))
}

/// `vip-del`: removes a VIP.
pub(crate) fn vip_del(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    let addr = vip_addr(req)?;
    net.remove_vip(context, addr)
        .map_err(|refusal| refused(req, refusal))
}

/// `vip-set`: takes or releases a VIP, sets its GARP count and the
/// cluster's owner of it.
pub(crate) fn vip_set(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    let addr = vip_addr(req)?;
    let change = VipChange {
        owned: req
            .get_u8(uapi::RINGGATE_A_VIP_OWNED)
            .map(|owned| owned == 1),
        garp_count: garp_count(req)?,
        owner_node: req.get_u16(uapi::RINGGATE_A_VIP_OWNER_NODE),
    };
    net.change_vip(context, addr, change)
        .map_err(|refusal| refused(req, refusal))
}

/// `vip-get` (do): one VIP.
pub(crate) fn vip_get(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    let addr = vip_addr(req)?;
    let vip = net.vip(context, addr).ok_or_else(|| {
        refused(
            req,
            Refusal::new(ENOENT, c_str!("no such VIP in this namespace's pool")),
        )
    })?;
    let mut reply = req.reply()?;
    put_vip(reply.attrs()?, &vip)?;
    reply.send()
}

/// `vip-get` (dump): every VIP, as many per part as fit. The cursor is an
/// index into the sorted pool; a change between parts is flagged to the
/// reader through the table's generation.
pub(crate) fn vip_dump(net: &NetState, dump: &mut Dump<'_>, context: &mut Sleepable) -> Result {
    let rcu = RcuSection::read_lock(context);
    let table = net.vips.read(&rcu);
    dump.set_generation(table.generation());
    let mut cursor = dump.cursor();
    for vip in table.entries().iter().skip(cursor) {
        if !dump.entry(|attrs| put_vip(attrs, vip))? {
            break;
        }
        cursor += 1;
    }
    dump.set_cursor(cursor);
    Ok(())
}
