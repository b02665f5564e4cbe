//! Recovering the old rings' messages in a new ring, and announcing it.
//!
//! In recovery, each member re-broadcasts, as messages of the new ring, every
//! packet of its last operational ring that is not known to be held by all,
//! then a marker naming that old ring. Delivery is in sequence order, so
//! once every member's marker is delivered, this node holds all that any
//! member held of its old ring. That is not enough to go on: if the new
//! ring failed now, a member still lacking some of those packets would
//! recover the old ring again, from other packets, after this node had
//! announced the new ring naming it. So, as corosync waits for its
//! recovery messages to be stable, the ring goes operational only once the
//! token's aru covered the last marker at two visits of this node: every
//! member then holds every recovered packet. The survivors of one old ring
//! hold the same packets of it above what each delivered and deliver the
//! same remaining messages, skipping only messages of nodes that did not
//! survive. Then the membership change is delivered, in order with the
//! messages, naming the members that came from the same old ring
//! (transitional), those that joined and those that left.

use std::collections::BTreeMap;

use super::message::{
    MSG_APP, MSG_BATCH, MSG_RECOVERED, MSG_RECOVERY_DONE, MSG_SAFE, MSG_SNAPSHOT,
};
use super::{Event, Micros, Node, Phase};
use crate::limits::RECOVERY_SPAN;
use crate::wire::{Body, NodeId, Packet, RingId, RING_ID_LEN};

/// Where a node is in the recovery of a new ring.
pub(super) struct Recovery {
    /// The last ring this node was operational in (none: default).
    from: RingId,
    /// That ring's members.
    from_members: Vec<NodeId>,
    /// The old ring each member's delivered marker names.
    markers: BTreeMap<NodeId, RingId>,
    /// The old ring of each member that has the state the others built
    /// there (not one still waiting for a snapshot), for the transfer plan.
    state_from: BTreeMap<NodeId, RingId>,
    /// The sequence number of the last marker, once all are delivered.
    last_marker: Option<u64>,
}

/// The ring a marker names (a malformed one names none), and whether its
/// sender lacks that ring's state (it waited for a snapshot).
fn read_marker(body: &[u8]) -> (RingId, bool) {
    let ring = RingId::decode_from(body).unwrap_or_default();
    let stateless = body.get(crate::wire::RING_ID_LEN) == Some(&1);
    (ring, stateless)
}

impl Node {
    /// Queues this node's recovery messages for a ring just installed:
    /// what it holds of its old ring beyond what is stable, then its marker.
    pub(super) fn queue_recovery(&mut self) -> Recovery {
        // A node still waiting for a snapshot hands over what it held back
        // (it was delivered in the old ring) and counts as one without
        // state: it receives a snapshot in the new ring.
        if self.held.is_some() {
            self.release_held();
            self.stateless = true;
        }
        let mut from = RingId::default();
        let mut from_members = Vec::new();
        if let Some(old) = &self.old {
            from = old.id;
            from_members = old.members.clone();
            for carriage in old.store.values().filter(|c| c.seq > old.stable) {
                let packet = Packet {
                    sender: self.id,
                    ring: old.id,
                    body: Body::Data(carriage.clone()),
                };
                let mut message = vec![MSG_RECOVERED];
                message.extend_from_slice(&packet.encode());
                self.recovery_queue.push_back(message);
            }
        }
        let mut marker = vec![MSG_RECOVERY_DONE];
        from.encode_into(&mut marker);
        marker.push(u8::from(self.stateless));
        self.recovery_queue.push_back(marker);
        Recovery {
            from,
            from_members,
            markers: BTreeMap::new(),
            state_from: BTreeMap::new(),
            last_marker: None,
        }
    }

    /// Handles a complete message of the installed ring.
    pub(super) fn handle_message(
        &mut self,
        now: Micros,
        (first, last, origin, message): super::ring::Complete,
    ) {
        match message.first().copied() {
            Some(MSG_APP | MSG_BATCH | MSG_SAFE | MSG_SNAPSHOT) => {
                // Only a member that saw the recovery stable sends
                // application messages in this ring, and it sends them
                // after every marker: this one proves the recovery stable.
                if matches!(&self.phase, Phase::Recovery(r) if r.last_marker.is_some()) {
                    self.finish_recovery(now);
                }
                if !self.is_operational() {
                    return;
                }
                if message[0] != MSG_SNAPSHOT {
                    self.deliver_app(first, last, origin, &message);
                } else if self
                    .held
                    .as_ref()
                    .is_some_and(|(donor, _)| *donor == origin)
                    && RingId::decode_from(&message[1..]) == self.ring.as_ref().map(|r| r.id)
                    && message.len() > RING_ID_LEN
                {
                    self.stateless = false;
                    let held = self.held.take().map(|(_, h)| h).unwrap_or_default();
                    self.events.push_back(Event::Snapshot {
                        origin,
                        data: message[1 + RING_ID_LEN..].to_vec(),
                    });
                    self.events.extend(held);
                }
            }
            Some(MSG_RECOVERED) => self.receive_recovered(&message[1..]),
            Some(MSG_RECOVERY_DONE) => {
                if let (Phase::Recovery(r), Some(ring)) = (&mut self.phase, &self.ring) {
                    let (old, stateless) = read_marker(&message[1..]);
                    r.markers.insert(origin, old);
                    if !stateless {
                        r.state_from.insert(origin, old);
                    }
                    if ring.members.iter().all(|m| r.markers.contains_key(m)) {
                        r.last_marker = Some(last);
                    }
                }
                self.finish_recovery_if_stable(now);
            }
            _ => {}
        }
    }

    /// Ends recovery once every member holds every member's marker.
    pub(super) fn finish_recovery_if_stable(&mut self, now: Micros) {
        let stable = match (&self.phase, &self.ring) {
            (Phase::Recovery(r), Some(ring)) => {
                r.last_marker.is_some_and(|last| ring.stable >= last)
            }
            _ => false,
        };
        if stable {
            self.finish_recovery(now);
        }
    }

    /// Delivers what the previous ring's survivors hold in common, then the
    /// membership change, and makes the ring operational.
    pub(super) fn finish_recovery(&mut self, now: Micros) {
        if let Some(mut old) = self.old.take() {
            for (first, last, origin, message) in old.drain_survivors() {
                self.deliver_app(first, last, origin, &message);
            }
        }
        // What the old ring delivered is handed over before the new ring
        // starts, whatever this node waits for next.
        self.release_held();
        let phase = std::mem::replace(&mut self.phase, Phase::Operational);
        let Some(ring) = &self.ring else {
            return;
        };
        let (from, from_members, markers, state_from) = match phase {
            Phase::Recovery(r) => (r.from, r.from_members, r.markers, r.state_from),
            _ => Default::default(),
        };
        // A node that was in no ring before shares its past with nobody.
        let transitional: Vec<NodeId> = ring
            .members
            .iter()
            .copied()
            .filter(|m| {
                *m == self.id || (from != RingId::default() && markers.get(m) == Some(&from))
            })
            .collect();
        let joined = ring
            .members
            .iter()
            .copied()
            .filter(|m| !transitional.contains(m))
            .collect();
        let left = from_members
            .iter()
            .copied()
            .filter(|m| !transitional.contains(m))
            .collect();
        let plan = super::transfer::plan(&ring.members, &state_from);
        let snapshot_from = plan
            .as_ref()
            .filter(|(_, receivers)| receivers.contains(&self.id))
            .map(|(donor, _)| *donor);
        self.events.push_back(Event::Membership {
            ring: ring.id,
            members: ring.members.clone(),
            transitional,
            joined,
            left,
            primary: ring.members.len() * 2 > self.universe.len(),
            snapshot_from,
        });
        match plan {
            Some((donor, receivers)) => {
                if donor == self.id {
                    self.events.push_back(Event::SnapshotRequested {
                        ring: ring.id,
                        receivers,
                    });
                }
                if let Some(donor) = snapshot_from {
                    self.held = Some((donor, Vec::new()));
                }
            }
            // Nobody has state the others built: nothing to wait for.
            None => self.stateless = false,
        }
        // Every member probes: a node outside hears from each member it can
        // hear, so its Joins say exactly which of them it reaches.
        if ring.members.len() < self.universe.len() {
            self.probe_at = Some(now + self.config.merge_probe_us);
        }
        self.announce_safe();
    }

    /// Stores a packet of this node's old ring that another survivor held.
    fn receive_recovered(&mut self, bytes: &[u8]) {
        let Some(old) = self.old.as_mut() else {
            return; // This node comes from no ring, or from another one.
        };
        let Ok(Packet {
            ring,
            body: Body::Data(carriage),
            ..
        }) = Packet::decode(bytes)
        else {
            return;
        };
        let wanted = ring == old.id
            && carriage.seq > old.delivered
            && carriage.seq <= old.delivered + RECOVERY_SPAN;
        if wanted {
            old.store.entry(carriage.seq).or_insert(carriage);
        }
    }
}
