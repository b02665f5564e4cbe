// SPDX-License-Identifier: GPL-2.0

//! The `session-get` dump.

use kernel::prelude::*;

use crate::glue::{uapi, Attrs, Dump, RcuSection, Sleepable};
use crate::netns::NetState;
use crate::sessions::{SessionView, WAYS};

fn put_session(attrs: &mut Attrs<'_>, s: &SessionView) -> Result {
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
    attrs.put_u16(uapi::RINGGATE_A_SESSION_OWNER, s.owner)
}

/// `session-get` (dump): the cursor is a (bucket, way) position,
/// `bucket * WAYS + way`. A bucket's sessions are copied out under its lock
/// and written after; when a part fills mid-bucket the next one resumes at
/// the way that did not fit, so no session is sent twice. Sessions change
/// all the time, so the dump is a sample of the table, not a snapshot; but a
/// resize replaces the table, and a cursor into the old one means nothing in
/// the new one, so each part names the table's generation and the dump is
/// flagged `NLM_F_DUMP_INTR` when it changes.
pub(crate) fn session_dump(net: &NetState, dump: &mut Dump<'_>, context: &mut Sleepable) -> Result {
    let rcu = RcuSection::read_lock(context);
    let table = net.sessions.read(&rcu);
    dump.set_generation(table.generation());
    let clock = net.clock();
    let cursor = dump.cursor();
    let (mut bucket, mut way) = (cursor / WAYS, cursor % WAYS);
    let mut views = [(0, SessionView::default()); WAYS];
    'buckets: while bucket < table.buckets() {
        let n = table.snapshot(bucket, way, &mut views, clock);
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
