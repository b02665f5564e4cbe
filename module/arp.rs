// SPDX-License-Identifier: GPL-2.0

//! ARP ownership of VIPs: every node has every VIP configured, so the
//! kernel of each would answer ARP for all of them; only the owner may.
//! Pure logic with no kernel dependency (`module/host-tests` compiles it).

use crate::headers::{Arp, ARP_REPLY, ARP_REQUEST};
use crate::vips::VipTable;

/// Which way an ARP packet goes through the node.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Way {
    /// Arriving (`NF_ARP_IN`).
    In,
    /// Leaving (`NF_ARP_OUT`), whatever made the kernel send it.
    Out,
}

/// Whether an ARP packet is dropped, given the pool and whether the
/// ownership lease runs (`leased`; without it no VIP is owned, see `lease`).
///
/// - Arriving requests for a VIP this node does not own are dropped, so the
///   kernel never answers them. That includes another node's gratuitous
///   ARP request for a shared VIP, which the kernel would otherwise answer
///   as a conflict.
/// - Leaving packets that speak for a VIP this node does not own (a reply
///   or an announcement with the VIP as sender) are dropped, whatever made
///   the kernel send them.
pub(crate) fn suppressed(vips: &VipTable, leased: bool, way: Way, arp: &Arp) -> bool {
    let not_owned = |addr: u32| vips.find(addr).is_some_and(|vip| !(vip.owned && leased));
    match way {
        Way::In => arp.op == ARP_REQUEST && not_owned(arp.target_ip),
        Way::Out => not_owned(arp.sender_ip),
    }
}

/// The target hardware address of an announcement's packet.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TargetHw {
    /// Zero: a request does not name the target's address.
    Unknown,
    /// The announcing device's own address.
    Own,
}

/// The packets of one gratuitous ARP announcement of a VIP, each speaking
/// for the VIP as sender and target: the request form ("who has VIP? tell
/// VIP", target hardware address unknown), which most neighbours learn
/// from, and the reply form (target hardware address our own), for those
/// that only learn from replies.
pub(crate) const ANNOUNCEMENT: [(u32, TargetHw); 2] =
    [(ARP_REQUEST, TargetHw::Unknown), (ARP_REPLY, TargetHw::Own)];
