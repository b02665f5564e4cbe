//! Holds back a hand-over while the module still owns the VIP.
//!
//! The cluster outputs a release for the module, then the `Released`
//! message that lets the new owner take the VIP. If the module refused the
//! release (netlink failed, the module is busy or being reloaded), sending
//! `Released` anyway would make two nodes answer ARP for the VIP. So the
//! message is held here until a later release succeeds (the daemon retries
//! every pass), and the VIP stays with its old owner meanwhile, which is
//! the safe side: one node still answers, and the hand-over completes late.

use std::collections::{BTreeMap, BTreeSet};

use ringgate_cluster::message::{Message, Stamped};
use ringgate_cluster::model::Vip;
use ringgate_ring::node::Priority;

/// A broadcast, as the daemon submits it to the ring.
pub type Broadcast = (Priority, Vec<u8>);

#[derive(Default)]
pub struct ReleaseGate {
    /// VIPs the module was told to release and refused to.
    unreleased: BTreeSet<Vip>,
    /// Their `Released` messages, in the order they came.
    withheld: BTreeMap<Vip, Vec<Broadcast>>,
}

impl ReleaseGate {
    /// The outcome of a release the module was asked for.
    pub fn release_done(&mut self, vip: Vip, ok: bool) -> Vec<Broadcast> {
        if ok {
            self.unreleased.remove(&vip);
            self.withheld.remove(&vip).unwrap_or_default()
        } else {
            self.unreleased.insert(vip);
            Vec::new()
        }
    }

    /// The node takes the VIP (back): a hand-over still held names an
    /// earlier epoch, which the cluster would ignore anyway.
    pub fn taken(&mut self, vip: Vip) {
        self.unreleased.remove(&vip);
        self.withheld.remove(&vip);
    }

    /// Lets a broadcast through, or holds it if it hands over a VIP the
    /// module has not released.
    pub fn pass(&mut self, broadcast: Broadcast) -> Option<Broadcast> {
        if self.unreleased.is_empty() {
            return Some(broadcast);
        }
        let released = match Stamped::decode(&broadcast.1) {
            Ok(Stamped {
                message: Message::Released { vip, .. },
                ..
            }) => Some(vip),
            _ => None,
        };
        match released {
            Some(vip) if self.unreleased.contains(&vip) => {
                self.withheld.entry(vip).or_default().push(broadcast);
                None
            }
            _ => Some(broadcast),
        }
    }

    /// Whether the module still owns a VIP it was told to release.
    pub fn holds_any(&self) -> bool {
        !self.unreleased.is_empty()
    }

    /// The VIPs whose release is to be tried again.
    pub fn unreleased(&self) -> Vec<Vip> {
        self.unreleased.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn released(vip: Vip, epoch: u64) -> Broadcast {
        let message = Message::Released { vip, epoch };
        (Priority::Control, Stamped { at: 7, message }.encode())
    }

    #[test]
    fn a_refused_release_holds_its_hand_over_until_a_release_succeeds() {
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let mut gate = ReleaseGate::default();
        assert!(gate.release_done(a, false).is_empty());
        assert_eq!(gate.pass(released(a, 3)), None, "held while a is owned");
        // Another VIP's hand-over and other messages go through.
        assert_eq!(gate.pass(released(b, 1)), Some(released(b, 1)));
        assert_eq!(gate.unreleased(), vec![a]);
        // The retry fails again: still held.
        assert!(gate.release_done(a, false).is_empty());
        // It succeeds: the hand-over goes out now.
        assert_eq!(gate.release_done(a, true), vec![released(a, 3)]);
        assert!(gate.unreleased().is_empty());
        assert_eq!(gate.pass(released(a, 4)), Some(released(a, 4)));
    }

    #[test]
    fn taking_the_vip_back_drops_the_held_hand_over() {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let mut gate = ReleaseGate::default();
        gate.release_done(a, false);
        assert_eq!(gate.pass(released(a, 3)), None);
        gate.taken(a);
        assert!(gate.unreleased().is_empty());
        assert!(gate.release_done(a, true).is_empty());
    }
}
