// SPDX-License-Identifier: GPL-2.0

//! What ringgate does with a packet at each netfilter hook.
//!
//! Every hook counts what it sees. The ARP hooks enforce VIP ownership
//! (`arp`); pre-routing and forward NAT VIP traffic to back-ends and back
//! (`nat`).

use crate::arp;
use crate::glue::{self, Packet, RcuSection};
use crate::nat;
use crate::netns::NetState;

/// The hook points, numbered as `enum ringgate_hook` in the UAPI header.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Hook {
    PreRouting,
    LocalIn,
    Forward,
    LocalOut,
    PostRouting,
    ArpIn,
    ArpOut,
}

/// How many hook points there are; every per-hook array has this length.
pub(crate) const HOOK_COUNT: usize = Hook::ALL.len();

// The glue registers and counts as many hooks as there are here.
const _: () = assert!(HOOK_COUNT == glue::RG_HOOK_COUNT);

impl Hook {
    /// Every hook, in UAPI order.
    pub(crate) const ALL: [Hook; 7] = [
        Hook::PreRouting,
        Hook::LocalIn,
        Hook::Forward,
        Hook::LocalOut,
        Hook::PostRouting,
        Hook::ArpIn,
        Hook::ArpOut,
    ];

    /// The hook with UAPI number `raw`, if there is one.
    pub(crate) fn from_uapi(raw: u32) -> Option<Hook> {
        Hook::ALL.iter().copied().find(|hook| hook.uapi() == raw)
    }

    /// The UAPI number of this hook.
    pub(crate) fn uapi(self) -> u32 {
        match self {
            Hook::PreRouting => glue::uapi::RINGGATE_HOOK_PRE_ROUTING,
            Hook::LocalIn => glue::uapi::RINGGATE_HOOK_LOCAL_IN,
            Hook::Forward => glue::uapi::RINGGATE_HOOK_FORWARD,
            Hook::LocalOut => glue::uapi::RINGGATE_HOOK_LOCAL_OUT,
            Hook::PostRouting => glue::uapi::RINGGATE_HOOK_POST_ROUTING,
            Hook::ArpIn => glue::uapi::RINGGATE_HOOK_ARP_IN,
            Hook::ArpOut => glue::uapi::RINGGATE_HOOK_ARP_OUT,
        }
    }

    /// Position of this hook in per-hook arrays.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// What the hook tells netfilter to do with the packet.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Verdict {
    Accept,
    Drop,
}

/// Runs for every packet at every hook of a namespace; bounded, allocation-free
/// work (an ARP packet costs one binary search of the VIP pool; see `nat` for
/// pre-routing).
pub(crate) fn inspect(
    net: &NetState,
    hook: Hook,
    packet: &mut Packet<'_>,
    rcu: &RcuSection,
) -> Verdict {
    net.counters.count(hook, packet.len());
    // Read once here: the logic below takes the moment as an argument.
    let clock = net.clock();
    match hook {
        Hook::PreRouting => return nat::pre_routing(net, packet, rcu, clock),
        Hook::Forward => return nat::forward(net, packet, rcu, clock.now),
        Hook::LocalOut => return nat::local_out(net, packet, rcu, clock.now),
        _ => {}
    }
    if !matches!(hook, Hook::ArpIn | Hook::ArpOut) {
        return Verdict::Accept;
    }
    let Some(request) = packet.arp() else {
        return Verdict::Accept;
    };
    let verdict = arp::verdict(net.vips.read(rcu), hook, &request);
    if verdict == Verdict::Drop {
        net.count_arp_suppressed();
    }
    verdict
}
