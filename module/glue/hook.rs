// SPDX-License-Identifier: GPL-2.0

//! The netfilter hooks the glue registers in a namespace, and what a hook
//! may tell netfilter to do with a packet.

use super::bindings;

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

// The C glue registers and counts as many hooks as there are here.
const _: () = assert!(HOOK_COUNT == bindings::RG_HOOK_COUNT as usize);

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
            Hook::PreRouting => bindings::RINGGATE_HOOK_PRE_ROUTING,
            Hook::LocalIn => bindings::RINGGATE_HOOK_LOCAL_IN,
            Hook::Forward => bindings::RINGGATE_HOOK_FORWARD,
            Hook::LocalOut => bindings::RINGGATE_HOOK_LOCAL_OUT,
            Hook::PostRouting => bindings::RINGGATE_HOOK_POST_ROUTING,
            Hook::ArpIn => bindings::RINGGATE_HOOK_ARP_IN,
            Hook::ArpOut => bindings::RINGGATE_HOOK_ARP_OUT,
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
    /// At pre-routing only: the glue sends the packet, unchanged, to the
    /// target's hardware address out the device it came in on (and drops
    /// it if it cannot).
    Forward(L2Target),
}

/// Where `Verdict::Forward` sends a packet.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct L2Target {
    /// The device the packet came in on.
    pub(crate) ifindex: u32,
    pub(crate) mac: [u8; 6],
}
