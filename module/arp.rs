// SPDX-License-Identifier: GPL-2.0

//! ARP ownership of VIPs: every node has every VIP configured, so the
//! kernel of each would answer ARP for all of them; only the owner may.

use crate::glue::{ArpTargetHw, Hook, Verdict};
use crate::headers::{Arp, ARP_REPLY, ARP_REQUEST};
use crate::vips::VipTable;

/// Whether an ARP packet may pass, given the pool.
///
/// - Arriving requests for a VIP this node does not own are dropped, so the
///   kernel never answers them. That includes another node's gratuitous
///   ARP request for a shared VIP, which the kernel would otherwise answer
///   as a conflict.
/// - Leaving packets that speak for a VIP this node does not own (a reply
///   or an announcement with the VIP as sender) are dropped, whatever made
///   the kernel send them.
pub(crate) fn verdict(vips: &VipTable, hook: Hook, arp: &Arp) -> Verdict {
    let not_owned = |addr: u32| vips.find(addr).is_some_and(|vip| !vip.owned);
    let drop = match hook {
        Hook::ArpIn => arp.op == ARP_REQUEST && not_owned(arp.target_ip),
        Hook::ArpOut => not_owned(arp.sender_ip),
        _ => false,
    };
    if drop {
        Verdict::Drop
    } else {
        Verdict::Accept
    }
}

/// The packets of one gratuitous ARP announcement of a VIP, each speaking
/// for the VIP as sender and target: the request form ("who has VIP? tell
/// VIP", target hardware address unknown), which most neighbours learn
/// from, and the reply form (target hardware address our own), for those
/// that only learn from replies.
pub(crate) const ANNOUNCEMENT: [(u32, ArpTargetHw); 2] = [
    (ARP_REQUEST, ArpTargetHw::Unknown),
    (ARP_REPLY, ArpTargetHw::Own),
];
