//! Release before take: a VIP is never held by two nodes' modules at
//! overlapping times, and once the ring is stable every VIP has exactly one
//! holder on the quorate side (none anywhere when no side is quorate).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ringgate_cluster::model::{Micros, NodeId};

use crate::support::sim::Interval;

pub fn no_two_holders(intervals: &[Interval]) -> Result<(), String> {
    let mut by_vip: BTreeMap<Ipv4Addr, Vec<&Interval>> = BTreeMap::new();
    for i in intervals {
        by_vip.entry(i.vip).or_default().push(i);
    }
    for (vip, list) in by_vip {
        for (n, a) in list.iter().enumerate() {
            for b in &list[n + 1..] {
                if a.node == b.node {
                    continue;
                }
                let a_end = a.to.unwrap_or(Micros::MAX);
                let b_end = b.to.unwrap_or(Micros::MAX);
                if a.from < b_end && b.from < a_end {
                    return Err(format!(
                        "VIP {vip} held by node {} from {} to {:?} and by node {} from {} to {:?}",
                        a.node, a.from, a.to, b.node, b.from, b.to
                    ));
                }
            }
        }
    }
    Ok(())
}

pub fn one_holder_when_stable(
    holders: &BTreeMap<Ipv4Addr, Vec<NodeId>>,
    vips: &[Ipv4Addr],
    quorate: bool,
) -> Result<(), String> {
    if !quorate {
        return match holders.iter().find(|(_, h)| !h.is_empty()) {
            Some((vip, h)) => Err(format!("no side is quorate, yet {h:?} hold {vip}")),
            None => Ok(()),
        };
    }
    for vip in vips {
        match holders.get(vip).map(Vec::as_slice) {
            Some([_]) => {}
            other => return Err(format!("stable ring: VIP {vip} held by {other:?}")),
        }
    }
    Ok(())
}

/// A VIP the agreed configuration no longer has (an edit removed it) is
/// held by nobody once the ring is stable: its owner released it.
pub fn nobody_holds_the_unconfigured(
    holders: &BTreeMap<Ipv4Addr, Vec<NodeId>>,
    vips: &[Ipv4Addr],
) -> Result<(), String> {
    match holders
        .iter()
        .find(|(vip, h)| !vips.contains(vip) && !h.is_empty())
    {
        Some((vip, h)) => Err(format!(
            "stable ring: VIP {vip}, no longer configured, still held by {h:?}"
        )),
        None => Ok(()),
    }
}
