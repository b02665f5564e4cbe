//! Application messages waiting for the token, in two priority classes.
//!
//! Control messages (a VIP moving, say) go before any bulk message (session
//! sync) at every token visit, and bulk messages never fill the whole
//! window: `CONTROL_RESERVE` carriage packets of it stay free for control
//! messages, so a control message waits for no bulk message, only for the
//! token. Each class has a bounded queue; a full one refuses the submit at
//! once (backpressure), and nothing here ever blocks the token.

use std::collections::VecDeque;

use super::{message, SubmitError};
use crate::limits::{CONTROL_RESERVE, MAX_PENDING, MAX_PENDING_CONTROL, WINDOW};

/// The class of an application message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Priority {
    /// Small, urgent messages: sent before any bulk message.
    Control,
    /// Everything else.
    Bulk,
}

impl Priority {
    /// How many carriage packets of the window messages of this class may
    /// have in flight.
    pub(super) fn window(self) -> u64 {
        match self {
            Priority::Control => WINDOW,
            Priority::Bulk => WINDOW - CONTROL_RESERVE,
        }
    }
}

#[derive(Default)]
pub(super) struct Outbox {
    control: VecDeque<Vec<u8>>,
    bulk: VecDeque<Vec<u8>>,
}

impl Outbox {
    fn queue(&mut self, priority: Priority) -> &mut VecDeque<Vec<u8>> {
        match priority {
            Priority::Control => &mut self.control,
            Priority::Bulk => &mut self.bulk,
        }
    }

    /// Whether a message of this class would be queued now.
    pub(super) fn has_room(&self, priority: Priority) -> bool {
        match priority {
            Priority::Control => self.control.len() < MAX_PENDING_CONTROL,
            Priority::Bulk => self.bulk.len() < MAX_PENDING,
        }
    }

    /// Queues a message, or refuses it if its class's queue is full.
    pub(super) fn push(&mut self, priority: Priority, message: Vec<u8>) -> Result<(), SubmitError> {
        if !self.has_room(priority) {
            return Err(SubmitError::Backlog(priority));
        }
        let queue = self.queue(priority);
        queue.push_back(message);
        Ok(())
    }

    /// The next message to send: control first.
    pub(super) fn front(&self) -> Option<(Priority, &Vec<u8>)> {
        self.control
            .front()
            .map(|m| (Priority::Control, m))
            .or_else(|| self.bulk.front().map(|m| (Priority::Bulk, m)))
    }

    /// Takes the next message of the class and, if it is small, the small
    /// ones queued behind it that fit the same carriage packet, as one
    /// batch: a burst of small messages costs one packet, not one each.
    pub(super) fn pop_batch(&mut self, priority: Priority) -> Option<Vec<u8>> {
        let queue = self.queue(priority);
        let head = queue.pop_front()?;
        let mut taken = vec![head];
        let mut len = 1;
        if message::fits(len, 0, &taken[0]) {
            len += 2 + taken[0].len() - 1;
            while let Some(next) = queue.front() {
                if !message::fits(len, taken.len(), next) {
                    break;
                }
                len += 2 + next.len() - 1;
                taken.extend(queue.pop_front());
            }
        }
        if taken.len() == 1 {
            return taken.pop();
        }
        Some(message::batch(&taken))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_messages_of_a_class_go_in_one_batch() {
        let mut outbox = Outbox::default();
        for m in [&b"\0a"[..], b"\0bb", b"\0ccc"] {
            outbox.push(Priority::Bulk, m.to_vec()).unwrap();
        }
        outbox.push(Priority::Control, b"\0vip".to_vec()).unwrap();
        let batch = outbox.pop_batch(Priority::Bulk).unwrap();
        assert_eq!(batch[0], message::MSG_BATCH);
        assert_eq!(
            message::unbatch(&batch[1..]),
            Some(vec![b"a".to_vec(), b"bb".to_vec(), b"ccc".to_vec()])
        );
        assert_eq!(outbox.pop_batch(Priority::Bulk), None);
        // A message too large to share a packet goes alone.
        let big = vec![0; crate::limits::MAX_FRAGMENT + 10];
        outbox.push(Priority::Bulk, big.clone()).unwrap();
        outbox.push(Priority::Bulk, b"\0a".to_vec()).unwrap();
        assert_eq!(outbox.pop_batch(Priority::Bulk), Some(big));
    }

    #[test]
    fn control_goes_first_and_full_queues_refuse() {
        let mut outbox = Outbox::default();
        outbox.push(Priority::Bulk, b"bulk".to_vec()).unwrap();
        outbox.push(Priority::Control, b"vip".to_vec()).unwrap();
        assert_eq!(outbox.front().map(|(p, _)| p), Some(Priority::Control));
        assert_eq!(outbox.pop_batch(Priority::Control), Some(b"vip".to_vec()));
        assert_eq!(outbox.front().map(|(p, _)| p), Some(Priority::Bulk));
        for _ in 1..MAX_PENDING {
            outbox.push(Priority::Bulk, vec![]).unwrap();
        }
        assert_eq!(
            outbox.push(Priority::Bulk, vec![]),
            Err(SubmitError::Backlog(Priority::Bulk))
        );
        // A full bulk queue holds up no control message.
        outbox.push(Priority::Control, b"vip".to_vec()).unwrap();
        assert_eq!(outbox.front().map(|(p, _)| p), Some(Priority::Control));
    }
}
