//! Application messages waiting for the token, in two priority classes.
//!
//! Control messages (a VIP moving, say) go before any bulk message (session
//! sync) at every token visit, and bulk messages never fill the whole
//! window: `CONTROL_RESERVE` carriage packets of it stay free for control
//! messages, so a control message waits for no bulk message, only for the
//! token. Each class has a bounded queue; a full one refuses the submit at
//! once (backpressure), and nothing here ever blocks the token.

use std::collections::VecDeque;

use super::SubmitError;
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

    /// Queues a message, or refuses it if its class's queue is full.
    pub(super) fn push(&mut self, priority: Priority, message: Vec<u8>) -> Result<(), SubmitError> {
        let limit = match priority {
            Priority::Control => MAX_PENDING_CONTROL,
            Priority::Bulk => MAX_PENDING,
        };
        let queue = self.queue(priority);
        if queue.len() >= limit {
            return Err(SubmitError::Backlog(priority));
        }
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

    pub(super) fn pop(&mut self, priority: Priority) -> Option<Vec<u8>> {
        self.queue(priority).pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_goes_first_and_full_queues_refuse() {
        let mut outbox = Outbox::default();
        outbox.push(Priority::Bulk, b"bulk".to_vec()).unwrap();
        outbox.push(Priority::Control, b"vip".to_vec()).unwrap();
        assert_eq!(outbox.front().map(|(p, _)| p), Some(Priority::Control));
        outbox.pop(Priority::Control);
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
