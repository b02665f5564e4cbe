//! The cluster layer's own messages wait for room in the ring's queues
//! instead of being lost.
//!
//! Local applications share the ring's queues with the cluster layer (the
//! control socket's `send` and `send-control`). Under their flood a queue
//! can be full at the moment the cluster has something to say, and such a
//! message (an operator's command, a VIP hand-over, a load report) was
//! logged and dropped: the command was never agreed, and a lost hand-over
//! leaves its VIP without an owner. Here it waits, in order within its
//! class, and goes in ahead of anything new of its class as soon as the
//! ring has room: `Gateway::pump`, which runs after every turn, tries
//! first, before the session batches and the applications' waiting lines.

use std::collections::VecDeque;

use ringgate_ring::node::{Micros, Priority, SubmitError};

use crate::release_gate::Broadcast;
use crate::submissions::Queue;

/// Messages of one class that may wait. The cluster sends a few messages a
/// second; this many wait only if the ring took none for minutes.
pub const MAX_WAITING: usize = 4096;
/// Bytes that may wait, both classes together: configuration and state
/// offers can be tens of kilobytes each.
pub const MAX_WAITING_BYTES: usize = 16 << 20;

/// Cluster messages the ring had no room for yet.
#[derive(Default)]
pub struct ClusterOutbox {
    control: VecDeque<Vec<u8>>,
    bulk: VecDeque<Vec<u8>>,
    bytes: usize,
}

impl ClusterOutbox {
    /// Puts `broadcasts` behind what waits of their class, then hands the
    /// ring all it has room for. Returns a line to log for each message
    /// given up (beyond `MAX_WAITING`, or too large for the ring).
    pub fn send(
        &mut self,
        queue: &mut impl Queue,
        now: Micros,
        broadcasts: Vec<Broadcast>,
    ) -> Vec<String> {
        // What waits goes first, into the room the last token visit made,
        // so the bounds below count only what still finds none.
        let mut given_up = self.retry(queue, now);
        for (priority, payload) in broadcasts {
            let waiting = self.line(priority).len();
            if waiting >= MAX_WAITING || self.bytes + payload.len() > MAX_WAITING_BYTES {
                given_up.push(format!(
                    "cluster message dropped: {waiting} {priority:?} messages ({} bytes in all) \
                     wait for the ring already",
                    self.bytes
                ));
                continue;
            }
            self.bytes += payload.len();
            self.line(priority).push_back(payload);
        }
        given_up.extend(self.retry(queue, now));
        given_up
    }

    /// Hands the ring what waits, in order within each class, while it has
    /// room; control first, so a VIP move never waits behind a load report.
    pub fn retry(&mut self, queue: &mut impl Queue, now: Micros) -> Vec<String> {
        let mut given_up = Vec::new();
        for priority in [Priority::Control, Priority::Bulk] {
            while queue.room_for(priority) {
                let Some(payload) = self.line(priority).pop_front() else {
                    break;
                };
                self.bytes -= payload.len();
                // A copy, so that a queue that refuses after all (it said it
                // had room) does not lose the message: cluster messages are
                // few and small.
                match queue.take(now, priority, payload.clone()) {
                    Ok(()) => {}
                    Err(SubmitError::Backlog(_)) => {
                        self.bytes += payload.len();
                        self.line(priority).push_front(payload);
                        break;
                    }
                    Err(e @ SubmitError::TooLarge(_)) => {
                        given_up.push(format!("cluster message not sent: {e}"))
                    }
                }
            }
        }
        given_up
    }

    /// Messages waiting for room, of both classes.
    pub fn waiting(&self) -> usize {
        self.control.len() + self.bulk.len()
    }

    fn line(&mut self, priority: Priority) -> &mut VecDeque<Vec<u8>> {
        match priority {
            Priority::Control => &mut self.control,
            Priority::Bulk => &mut self.bulk,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring queue with room for a set number of messages per class.
    #[derive(Default)]
    struct Room {
        control: usize,
        bulk: usize,
        taken: Vec<(Priority, Vec<u8>)>,
    }

    impl Queue for Room {
        fn room_for(&self, priority: Priority) -> bool {
            match priority {
                Priority::Control => self.control > 0,
                Priority::Bulk => self.bulk > 0,
            }
        }

        fn take(
            &mut self,
            _now: Micros,
            priority: Priority,
            payload: Vec<u8>,
        ) -> Result<(), SubmitError> {
            let room = match priority {
                Priority::Control => &mut self.control,
                Priority::Bulk => &mut self.bulk,
            };
            if *room == 0 {
                return Err(SubmitError::Backlog(priority));
            }
            *room -= 1;
            self.taken.push((priority, payload));
            Ok(())
        }
    }

    fn message(n: u8) -> Vec<u8> {
        vec![n]
    }

    #[test]
    fn a_message_the_ring_has_no_room_for_waits_and_keeps_its_order() {
        let mut outbox = ClusterOutbox::default();
        let mut ring = Room {
            control: 1,
            ..Room::default()
        };
        let sent = (1..=3).map(|n| (Priority::Control, message(n))).collect();
        assert!(outbox.send(&mut ring, 0, sent).is_empty());
        assert_eq!(ring.taken, vec![(Priority::Control, message(1))]);
        assert_eq!(outbox.waiting(), 2);
        // A new message goes behind the waiting ones, even with room.
        ring.control = 2;
        assert!(outbox
            .send(&mut ring, 1, vec![(Priority::Control, message(4))])
            .is_empty());
        ring.control = 5;
        assert!(outbox.retry(&mut ring, 2).is_empty());
        let order: Vec<u8> = ring.taken.iter().map(|(_, m)| m[0]).collect();
        assert_eq!(order, vec![1, 2, 3, 4]);
        assert_eq!(outbox.waiting(), 0);
    }

    #[test]
    fn control_never_waits_behind_bulk() {
        let mut outbox = ClusterOutbox::default();
        let mut ring = Room {
            control: 1,
            ..Room::default()
        };
        let sent = vec![
            (Priority::Bulk, message(1)),
            (Priority::Control, message(2)),
        ];
        assert!(outbox.send(&mut ring, 0, sent).is_empty());
        assert_eq!(ring.taken, vec![(Priority::Control, message(2))]);
        assert_eq!(outbox.waiting(), 1);
    }

    #[test]
    fn at_the_bound_a_message_still_goes_when_the_ring_made_room() {
        let mut outbox = ClusterOutbox::default();
        let mut full = Room::default();
        let sent = (0..MAX_WAITING)
            .map(|n| (Priority::Control, n.to_be_bytes().to_vec()))
            .collect();
        assert!(outbox.send(&mut full, 0, sent).is_empty());
        // A token visit made room for ten: the next message is not refused
        // for the bound the waiting ones reached before.
        full.control = 10;
        let given_up = outbox.send(&mut full, 1, vec![(Priority::Control, message(1))]);
        assert!(given_up.is_empty(), "{given_up:?}");
        assert_eq!(outbox.waiting(), MAX_WAITING - 10 + 1);
    }

    #[test]
    fn a_queue_that_refuses_after_all_loses_nothing() {
        /// Says it has room, and takes only one message.
        struct Liar(Vec<Vec<u8>>);
        impl Queue for Liar {
            fn room_for(&self, _: Priority) -> bool {
                true
            }
            fn take(&mut self, _: Micros, p: Priority, m: Vec<u8>) -> Result<(), SubmitError> {
                if self.0.is_empty() {
                    self.0.push(m);
                    Ok(())
                } else {
                    Err(SubmitError::Backlog(p))
                }
            }
        }
        let mut outbox = ClusterOutbox::default();
        let mut liar = Liar(Vec::new());
        let sent = (1..=3).map(|n| (Priority::Bulk, message(n))).collect();
        assert!(outbox.send(&mut liar, 0, sent).is_empty());
        assert_eq!(liar.0.len() + outbox.waiting(), 3);
    }

    #[test]
    fn large_messages_are_bounded_by_bytes() {
        let mut outbox = ClusterOutbox::default();
        let mut full = Room::default();
        let big = vec![0u8; 60 << 10];
        let sent = (0..300).map(|_| (Priority::Bulk, big.clone())).collect();
        let given_up = outbox.send(&mut full, 0, sent);
        let kept = MAX_WAITING_BYTES / big.len();
        assert_eq!(outbox.waiting(), kept);
        assert_eq!(given_up.len(), 300 - kept);
    }

    #[test]
    fn beyond_the_bound_messages_are_given_up_and_said() {
        let mut outbox = ClusterOutbox::default();
        let mut full = Room::default();
        let sent = (0..MAX_WAITING + 2)
            .map(|n| (Priority::Bulk, n.to_be_bytes().to_vec()))
            .collect();
        let given_up = outbox.send(&mut full, 0, sent);
        assert_eq!(given_up.len(), 2);
        assert!(given_up[0].contains("dropped"), "{given_up:?}");
        assert_eq!(outbox.waiting(), MAX_WAITING);
    }
}
