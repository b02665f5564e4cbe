// SPDX-License-Identifier: GPL-2.0

//! What ringgate does with a packet at each netfilter hook.
//!
//! Every hook counts what it sees. The ARP hooks enforce VIP ownership
//! (`arp`); pre-routing and forward NAT VIP traffic to back-ends and back
//! (`nat`).

use crate::arp;
use crate::glue::{Hook, Packet, RcuSection, Verdict};
use crate::headers;
use crate::nat;
use crate::netns::NetState;

/// Runs for every packet at every hook of a namespace; bounded, allocation-free
/// work (an ARP packet costs one binary search of the VIP pool; see `nat` for
/// pre-routing).
pub(crate) fn inspect(
    net: &NetState,
    hook: Hook,
    packet: &mut Packet<'_>,
    rcu: &RcuSection<'_>,
) -> Verdict {
    net.counters.count(hook, packet.len());
    // Read once here: the logic below takes the moment as an argument.
    let clock = net.clock();
    let way = match hook {
        Hook::PreRouting => return nat::pre_routing(net, packet, rcu, clock),
        Hook::Forward => return nat::forward(net, packet, rcu, clock.now),
        Hook::LocalOut => return nat::local_out(net, packet, rcu, clock.now),
        Hook::LocalIn | Hook::PostRouting => return Verdict::Accept,
        Hook::ArpIn => arp::Way::In,
        Hook::ArpOut => arp::Way::Out,
    };
    let Some(message) = headers::arp(packet) else {
        return Verdict::Accept;
    };
    if arp::suppressed(net.vips.read(rcu), net.leased(clock.now), way, &message) {
        net.count_arp_suppressed();
        return Verdict::Drop;
    }
    Verdict::Accept
}
