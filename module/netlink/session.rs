// SPDX-License-Identifier: GPL-2.0

//! The `session-get` dump and `session-import`.

use kernel::c_str;
use kernel::ffi::c_uint;
use kernel::prelude::*;

use crate::glue::{uapi, Attrs, Dump, RcuSection, Request, SessionNest, Sleepable};
use crate::netns::NetState;
use crate::services::{TCP, UDP};
use crate::sessions::{DumpFilter, FlowKey, Imported, SessionView, Stage, WAYS};

/// A session's attributes, as the dump and the sessions group give them.
pub(crate) fn put_session(attrs: &mut Attrs<'_>, s: &SessionView) -> Result {
    attrs.put_u8(uapi::RINGGATE_A_SESSION_PROTO, s.client.proto)?;
    attrs.put_u32(uapi::RINGGATE_A_SESSION_CLIENT_ADDR, s.client.saddr)?;
    attrs.put_u16(
        uapi::RINGGATE_A_SESSION_CLIENT_PORT,
        u16::from_be(s.client.sport),
    )?;
    attrs.put_u32(uapi::RINGGATE_A_SESSION_VIP, s.client.daddr)?;
    attrs.put_u16(
        uapi::RINGGATE_A_SESSION_VIP_PORT,
        u16::from_be(s.client.dport),
    )?;
    attrs.put_u32(uapi::RINGGATE_A_SESSION_BACKEND_ADDR, s.backend_addr)?;
    attrs.put_u16(
        uapi::RINGGATE_A_SESSION_BACKEND_PORT,
        u16::from_be(s.backend_port),
    )?;
    attrs.put_u32(uapi::RINGGATE_A_SESSION_STAGE, s.stage.uapi())?;
    attrs.put_u32(uapi::RINGGATE_A_SESSION_EXPIRES_MS, s.expires_ms)?;
    attrs.put_u16(uapi::RINGGATE_A_SESSION_OWNER, s.owner)?;
    if s.outbound {
        attrs.put_u8(uapi::RINGGATE_A_SESSION_OUTBOUND, 1)?;
    }
    Ok(())
}

/// `session-get` (dump): the cursor is a (bucket, way) position,
/// `bucket * WAYS + way`. A bucket's sessions are copied out under its lock
/// and written after; when a part fills mid-bucket the next one resumes at
/// the way that did not fit, so no session is sent twice. Sessions change
/// all the time, so the dump is a sample of the table, not a snapshot; but a
/// resize replaces the table, and a cursor into the old one means nothing in
/// the new one, so each part names the table's generation and the dump is
/// flagged `NLM_F_DUMP_INTR` when it changes.
///
/// The request may narrow the dump to one owner's sessions (`owner`) and
/// to those that changed lately (`changed-within-ms`): see
/// `sessions::DumpFilter`. Every part reads the same request, so the
/// window slides with the parts; a session that changes while the dump
/// runs is in it or in the next one.
pub(crate) fn session_dump(net: &NetState, dump: &mut Dump<'_>, context: &mut Sleepable) -> Result {
    let rcu = RcuSection::read_lock(context);
    let table = net.sessions.read(&rcu);
    dump.set_generation(table.generation());
    let clock = net.clock();
    let filter = DumpFilter {
        owner: dump.get_u16(uapi::RINGGATE_A_SESSION_OWNER),
        changed_within: dump
            .get_u32(uapi::RINGGATE_A_SESSION_CHANGED_WITHIN_MS)
            .map(|ms| clock.ticks_ms(ms)),
    };
    let cursor = dump.cursor();
    let (mut bucket, mut way) = (cursor / WAYS, cursor % WAYS);
    let mut views = [(0, SessionView::default()); WAYS];
    // Only buckets that may hold a session are locked and read.
    'buckets: loop {
        let Some(next) = table.next_occupied(bucket) else {
            bucket = table.buckets();
            way = 0;
            break;
        };
        if next != bucket {
            bucket = next;
            way = 0;
        }
        let n = table.snapshot(bucket, way, &mut views, clock, &filter);
        for (at, view) in &views[..n] {
            if !dump.entry(|attrs| put_session(attrs, view))? {
                way = *at;
                break 'buckets;
            }
        }
        bucket += 1;
        way = 0;
    }
    dump.set_cursor(bucket * WAYS + way);
    Ok(())
}

/// Sessions `session-import` handles between chances for the scheduler.
const YIELD_EVERY: u32 = 256;

/// An attribute of a session nest that must be there.
fn need<T>(nest: &SessionNest<'_>, inner: u32, value: Option<T>) -> Result<T> {
    value.ok_or_else(|| nest.missing(inner))
}

/// The session a nest of `session-import` describes. Fails, naming the
/// attribute, if one it needs is missing or a value is not one a session
/// can have; the policy has checked types and ranges.
fn imported_of(net: &NetState, req: &Request<'_>, nest: &SessionNest<'_>) -> Result<Imported> {
    use uapi::*;
    let u8_of = |inner: u32| need(nest, inner, nest.u8(inner));
    let u16_of = |inner: u32| need(nest, inner, nest.u16(inner));
    let u32_of = |inner: u32| need(nest, inner, nest.u32(inner));
    let proto = u8_of(RINGGATE_A_SESSION_PROTO)?;
    if proto != TCP && proto != UDP {
        return Err(req.fail(EINVAL, c_str!("a session's proto is 6 (TCP) or 17 (UDP)")));
    }
    let stage = Stage::from_uapi(u32_of(RINGGATE_A_SESSION_STAGE)?).ok_or(EINVAL)?;
    if (proto == UDP) != (stage == Stage::Udp) {
        return Err(req.fail(
            EINVAL,
            c_str!("a UDP session is in stage udp, a TCP session never"),
        ));
    }
    // Ports are kept in network byte order, as packets carry them.
    let port = |inner: u32| u16_of(inner).map(u16::to_be);
    let client = FlowKey {
        proto,
        saddr: u32_of(RINGGATE_A_SESSION_CLIENT_ADDR)?,
        sport: port(RINGGATE_A_SESSION_CLIENT_PORT)?,
        daddr: u32_of(RINGGATE_A_SESSION_VIP)?,
        dport: port(RINGGATE_A_SESSION_VIP_PORT)?,
    };
    let clock = net.clock();
    // A session lives at most 9/8 of its stage's timeout here (a packet of
    // its other direction pushes its expiry by an eighth), so a dump shows
    // up to that much; an import gets no more, whatever it asks.
    let timeout_ms = net.timeouts().secs(stage).saturating_mul(1125);
    let ms = nest
        .u32(RINGGATE_A_SESSION_EXPIRES_MS)
        .map_or(timeout_ms, |ms| u64::from(ms).min(timeout_ms));
    let expires = clock
        .now
        .saturating_add(clock.ticks_ms(u32::try_from(ms).unwrap_or(u32::MAX)));
    Ok(Imported {
        client,
        backend_addr: u32_of(RINGGATE_A_SESSION_BACKEND_ADDR)?,
        backend_port: port(RINGGATE_A_SESSION_BACKEND_PORT)?,
        stage,
        expires,
        owner: u16_of(RINGGATE_A_SESSION_OWNER)?,
        blind: None,
        outbound: nest.u8(RINGGATE_A_SESSION_OUTBOUND) == Some(1),
    })
}

/// `session-import`: every session of the request into the table, or, if
/// any of them is malformed, none (the whole request is read once before
/// anything changes). Bounded by the request's size, which the sender's
/// socket buffer bounds: thousands of sessions by default, tens of
/// thousands with a forced larger buffer, so the loop lets the scheduler in
/// every `YIELD_EVERY` sessions. Replies with how many were refused and how
/// many the table now holds as given (a session it had already, merged,
/// counts as imported).
pub(crate) fn session_import(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    let batch = uapi::RINGGATE_A_SESSION_BATCH_SESSION;
    let mut offset: c_uint = 0;
    while let Some(nest) = req.next_session(batch, &mut offset)? {
        imported_of(net, req, &nest)?;
    }
    let (mut imported, mut refused) = (0u32, 0u32);
    let mut offset: c_uint = 0;
    while let Some(nest) = req.next_session(batch, &mut offset)? {
        if (imported + refused) % YIELD_EVERY == YIELD_EVERY - 1 {
            context.yield_now();
        }
        let session = imported_of(net, req, &nest)?;
        if net.import_session(context, &session) {
            imported += 1;
        } else {
            refused += 1;
        }
    }
    let mut reply = req.reply()?;
    let attrs = reply.attrs()?;
    attrs.put_u32(uapi::RINGGATE_A_SESSION_BATCH_IMPORTED, imported)?;
    attrs.put_u32(uapi::RINGGATE_A_SESSION_BATCH_REFUSED, refused)?;
    reply.send()
}

/// `session-adopt`: the sessions of a VIP that another node created become
/// this node's; replies with how many.
pub(crate) fn session_adopt(net: &NetState, req: &Request<'_>, context: &mut Sleepable) -> Result {
    let vip = req.require_u32(uapi::RINGGATE_A_SESSION_BATCH_VIP)?;
    let owner = uapi::RINGGATE_A_SESSION_BATCH_OWNER;
    let from = req.get_u16(owner).ok_or_else(|| req.missing(owner))?;
    let adopted = net.adopt_sessions(context, vip, from);
    let mut reply = req.reply()?;
    let attrs = reply.attrs()?;
    attrs.put_u32(
        uapi::RINGGATE_A_SESSION_BATCH_ADOPTED,
        u32::try_from(adopted).unwrap_or(u32::MAX),
    )?;
    reply.send()
}
