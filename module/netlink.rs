// SPDX-License-Identifier: GPL-2.0

//! Handlers of the `ringgate` generic netlink family.
//!
//! Each handler translates request attributes into calls on the namespace's
//! state and the results into reply attributes; the policy tables generated
//! from the YAML spec have already refused unknown, mistyped and out-of-range
//! attributes before a handler runs.

use kernel::prelude::*;

use crate::glue::{uapi, Reply, Request};
use crate::hooks::Hook;

/// The hooks a request names: the one in `attr`, or all of them.
fn selected_hooks(req: &Request<'_>, attr: u32) -> Result<impl Iterator<Item = Hook>> {
    let only = match req.get_u32(attr) {
        Some(raw) => Some(Hook::from_uapi(raw).ok_or(EINVAL)?),
        None => None,
    };
    Ok(Hook::ALL
        .into_iter()
        .filter(move |hook| only.map_or(true, |only| only == *hook)))
}

/// `status-get`: module version and per-hook counters of this namespace.
pub(crate) fn status_get(req: &Request<'_>) -> Result {
    let hooks = selected_hooks(req, uapi::RINGGATE_A_STATUS_HOOK)?;
    let mut reply = req.reply()?;
    reply.put_str(uapi::RINGGATE_A_STATUS_VERSION, crate::VERSION)?;
    for hook in hooks {
        let totals = req.net().counters.totals(hook);
        reply.nest(uapi::RINGGATE_A_STATUS_HOOKS, |stats: &mut Reply<'_>| {
            stats.put_u32(uapi::RINGGATE_A_HOOK_STATS_HOOK, hook.uapi())?;
            stats.put_uint(uapi::RINGGATE_A_HOOK_STATS_PACKETS, totals.packets)?;
            stats.put_uint(uapi::RINGGATE_A_HOOK_STATS_BYTES, totals.bytes)
        })?;
    }
    reply.send()
}

/// `counters-reset`: zeroes the named hook's counters, or all of them.
pub(crate) fn counters_reset(req: &Request<'_>) -> Result {
    for hook in selected_hooks(req, uapi::RINGGATE_A_STATUS_HOOK)? {
        req.net().counters.reset(hook);
    }
    Ok(())
}
