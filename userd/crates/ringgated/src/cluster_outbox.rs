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

/// Cluster messages the ring had no room for yet.
#[derive(Default)]
pub struct ClusterOutbox {
    control: VecDeque<Vec<u8>>,
    bulk: VecDeque<Vec<u8>>,
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
        let mut given_up = Vec::new();
        for (priority, payload) in broadcasts {
            let line = self.line(priority);
            if line.len() >= MAX_WAITING {
                given_up.push(format!(
                    "cluster message dropped: {MAX_WAITING} {priority:?} messages wait for the ring already"
                ));
                continue;
            }
            line.push_back(payload);
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
                match queue.take(now, priority, payload) {
                    Ok(()) => {}
                    // Room was checked on this thread just before.
                    Err(SubmitError::Backlog(_)) => break,
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
