// SPDX-License-Identifier: GPL-2.0

//! `vip-add`, `vip-del`, `vip-set` and `vip-get` (do and dump).

use kernel::c_str;
use kernel::prelude::*;

use crate::glue::{uapi, Attrs, Dump, RcuSection, Request};
use crate::vips::{Change, Vip};

/// Writes one VIP's attributes.
fn put_vip(attrs: &mut Attrs<'_>, vip: &Vip) -> Result {
    attrs.put_u32(uapi::RINGGATE_A_VIP_ADDR, vip.addr)?;
    attrs.put_u8(uapi::RINGGATE_A_VIP_OWNED, u8::from(vip.owned))?;
    attrs.put_u32(uapi::RINGGATE_A_VIP_GARP_COUNT, u32::from(vip.garp_count))
}

/// The address a request names. The policy passes any 4 bytes; addresses
/// that can never be a VIP are refused here.
fn vip_addr(req: &Request<'_>) -> Result<u32> {
    let addr = req.require_u32(uapi::RINGGATE_A_VIP_ADDR)?;
    // Network byte order: the first octet is the lowest byte in memory.
    let first_octet = addr.to_ne_bytes()[0];
    if addr == 0 || addr == u32::MAX || first_octet == 127 || first_octet >= 224 {
        return Err(req.fail(
            EINVAL,
            c_str!("a VIP is a unicast IPv4 address (not 0, loopback, multicast or broadcast)"),
        ));
    }
    Ok(addr)
}

/// `vip-add`: adds a VIP, not owned; adding one already there changes
/// nothing but its GARP count.
pub(crate) fn vip_add(req: &Request<'_>) -> Result {
    let addr = vip_addr(req)?;
    // The policy bounds the count to 1..=RINGGATE_MAX_GARP_COUNT.
    let garp_count = match req.get_u32(uapi::RINGGATE_A_VIP_GARP_COUNT) {
        Some(count) => Some(u8::try_from(count).map_err(|_| EINVAL)?),
        None => None,
    };
    req.net()
        .vips
        .update(|table| {
            let change = table.add(addr, garp_count)?;
            Ok(change)
        })
        .map(|_| ())
        .map_err(|err| {
            if err == ENOSPC {
                req.fail(err, c_str!("the VIP pool is full (RINGGATE_MAX_VIPS)"))
            } else {
                err
            }
        })
}

/// `vip-del`: removes a VIP.
pub(crate) fn vip_del(req: &Request<'_>) -> Result {
    let addr = vip_addr(req)?;
    req.net()
        .vips
        .update(|table| {
            table.remove(addr)?;
            Ok(())
        })
        .map_err(|err| not_in_pool(req, err))
}

/// `vip-set`: takes or releases a VIP; taking one announces it with
/// gratuitous ARP after the pool says it is owned, so the announcements are
/// not themselves suppressed.
pub(crate) fn vip_set(req: &Request<'_>) -> Result {
    let addr = vip_addr(req)?;
    let owned = req.require_u8(uapi::RINGGATE_A_VIP_OWNED)? == 1;
    let net = req.net();
    let in_pool = {
        let rcu = RcuSection::read_lock();
        net.vips.read(&rcu).find(addr).is_some()
    };
    if !in_pool {
        return Err(not_in_pool(req, ENOENT));
    }
    if owned {
        // Refuse before changing anything if no interface here holds it.
        req.send_garp(addr, 0).map_err(|err| {
            req.fail(
                err,
                c_str!("the VIP is not configured on any interface of this namespace"),
            )
        })?;
    }
    let (change, garp_count) = net
        .vips
        .update(|table| {
            let change = table.set_owned(addr, owned)?;
            let garp_count = table.find(addr).map_or(0, |vip| vip.garp_count);
            Ok((change, garp_count))
        })
        .map_err(|err| not_in_pool(req, err))?;
    if change == Change::Changed {
        net.notify_owner(addr, owned);
    }
    if owned && change == Change::Changed {
        let sent = req.send_garp(addr, garp_count)?;
        net.count_garp_sent(sent);
    }
    Ok(())
}

/// `vip-get` (do): one VIP.
pub(crate) fn vip_get(req: &Request<'_>) -> Result {
    let addr = vip_addr(req)?;
    let vip = {
        let rcu = RcuSection::read_lock();
        req.net().vips.read(&rcu).find(addr).copied()
    };
    let vip = vip.ok_or_else(|| not_in_pool(req, ENOENT))?;
    let mut reply = req.reply()?;
    put_vip(reply.attrs()?, &vip)?;
    reply.send()
}

/// `vip-get` (dump): every VIP, as many per part as fit. The cursor is an
/// index into the sorted pool; a change between parts is flagged to the
/// reader through the table's generation.
pub(crate) fn vip_dump(dump: &mut Dump<'_>) -> Result {
    let net = dump.net();
    let rcu = RcuSection::read_lock();
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

fn not_in_pool(req: &Request<'_>, err: Error) -> Error {
    if err == ENOENT {
        req.fail(err, c_str!("no such VIP in this namespace's pool"))
    } else {
        err
    }
}
