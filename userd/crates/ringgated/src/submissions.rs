//! Messages that applications submit through the control socket, as the
//! ring's thread takes them.
//!
//! A batch goes into the ring's queue at once while its class's queue has
//! room. When the queue is full, the rest of the batch waits here, in order,
//! and goes in as token visits drain the queue; its client gets the answers
//! only then. A client that submits faster than the ring delivers is slowed
//! down, the way a full pipe slows a writer. Before this, it was refused and
//! retried, and at full load the refusals (five for every message taken)
//! cost the daemon more than the messages it carried.
//!
//! Nothing here blocks: the ring's thread looks again at its next turn.
//! A batch that has waited `PATIENCE` is refused for the rest, so a client
//! hears back before its own answer timeout even if the ring has stalled.
//! What waits is bounded by the control socket: each client has at most one
//! batch of lines handed over at a time.

use std::collections::VecDeque;
use std::sync::mpsc::Sender;

use ringgate_ring::limits::MAX_MESSAGE;
use ringgate_ring::node::{Micros, Node, Priority, SubmitError};

/// The answers to one batch, one per message, in order.
pub type Answers = Vec<Result<(), String>>;

/// How long a batch waits for room before the rest of it is refused: well
/// inside the control socket's 5-second answer timeout.
pub const PATIENCE: Micros = 2_000_000;

/// The ring's queue of messages waiting for the token (a `Node`; tests use
/// a stand-in).
pub trait Queue {
    fn room_for(&self, priority: Priority) -> bool;
    fn take(
        &mut self,
        now: Micros,
        priority: Priority,
        payload: Vec<u8>,
    ) -> Result<(), SubmitError>;
}

impl Queue for Node {
    fn room_for(&self, priority: Priority) -> bool {
        self.has_room(priority)
    }

    fn take(
        &mut self,
        now: Micros,
        priority: Priority,
        payload: Vec<u8>,
    ) -> Result<(), SubmitError> {
        self.submit_with(now, priority, payload)
    }
}

/// A batch some of whose messages are not in the ring's queue yet.
struct Waiting {
    messages: std::vec::IntoIter<Vec<u8>>,
    answers: Answers,
    reply: Sender<Answers>,
    since: Micros,
}

/// Batches waiting for room, one line per class, so a control message never
/// waits behind bulk ones.
#[derive(Default)]
pub struct Submissions {
    control: VecDeque<Waiting>,
    bulk: VecDeque<Waiting>,
}

impl Submissions {
    /// Takes a batch of one class: queued as far as there is room, and the
    /// rest kept, behind any batch of its class that is waiting already.
    pub fn offer(
        &mut self,
        queue: &mut impl Queue,
        now: Micros,
        priority: Priority,
        messages: Vec<Vec<u8>>,
        reply: Sender<Answers>,
    ) {
        let answers = Vec::with_capacity(messages.len());
        self.line(priority).push_back(Waiting {
            messages: messages.into_iter(),
            answers,
            reply,
            since: now,
        });
        self.advance(queue, now, priority);
    }

    /// Queues what now fits (the token drained the queue), and refuses the
    /// rest of batches that waited too long. Called at every turn.
    pub fn retry(&mut self, queue: &mut impl Queue, now: Micros) {
        for priority in [Priority::Control, Priority::Bulk] {
            self.advance(queue, now, priority);
        }
    }

    /// Messages waiting (the tests read it).
    pub fn waiting(&self) -> usize {
        self.control
            .iter()
            .chain(&self.bulk)
            .map(|w| w.messages.len())
            .sum()
    }

    fn line(&mut self, priority: Priority) -> &mut VecDeque<Waiting> {
        match priority {
            Priority::Control => &mut self.control,
            Priority::Bulk => &mut self.bulk,
        }
    }

    fn advance(&mut self, queue: &mut impl Queue, now: Micros, priority: Priority) {
        let line = self.line(priority);
        while let Some(batch) = line.front_mut() {
            while let Some(next) = batch.messages.as_slice().first() {
                // A message the ring would refuse anyway is refused at once,
                // not after waiting for room.
                if next.len() > MAX_MESSAGE || queue.room_for(priority) {
                    let Some(message) = batch.messages.next() else {
                        break;
                    };
                    let answer = queue.take(now, priority, message);
                    batch.answers.push(answer.map_err(|e| e.to_string()));
                } else if now.saturating_sub(batch.since) >= PATIENCE {
                    let refusal = SubmitError::Backlog(priority).to_string();
                    for _ in batch.messages.by_ref() {
                        batch.answers.push(Err(refusal.clone()));
                    }
                } else {
                    return;
                }
            }
            if let Some(done) = line.pop_front() {
                // A client that hung up has no one to answer; what it sent
                // is on the ring all the same.
                let _ = done.reply.send(done.answers);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{channel, Receiver};

    /// A queue of `room` places per class that records what it took.
    struct Fake {
        room: usize,
        taken: Vec<(Priority, Vec<u8>)>,
    }

    impl Queue for Fake {
        fn room_for(&self, priority: Priority) -> bool {
            self.taken.iter().filter(|(p, _)| *p == priority).count() < self.room
        }
        fn take(
            &mut self,
            _now: Micros,
            priority: Priority,
            payload: Vec<u8>,
        ) -> Result<(), SubmitError> {
            if payload.len() > MAX_MESSAGE {
                return Err(SubmitError::TooLarge(payload.len()));
            }
            self.taken.push((priority, payload));
            Ok(())
        }
    }

    impl Fake {
        /// The token took every queued message of `priority`.
        fn drain(&mut self, priority: Priority) -> Vec<Vec<u8>> {
            let (gone, kept) = self.taken.drain(..).partition(|(p, _)| *p == priority);
            self.taken = kept;
            gone.into_iter().map(|(_, m)| m).collect::<Vec<_>>()
        }
    }

    /// The messages; `BIG` stands for one over the size limit.
    fn batch(texts: &[&str]) -> Vec<Vec<u8>> {
        texts
            .iter()
            .map(|t| match *t {
                BIG => vec![b'x'; MAX_MESSAGE + 1],
                t => t.as_bytes().to_vec(),
            })
            .collect()
    }

    const BIG: &str = "<over the limit>";

    fn offer(
        s: &mut Submissions,
        q: &mut Fake,
        now: Micros,
        p: Priority,
        texts: &[&str],
    ) -> Receiver<Answers> {
        let (tx, rx) = channel();
        s.offer(q, now, p, batch(texts), tx);
        rx
    }

    #[test]
    fn a_batch_that_fits_is_answered_at_once() {
        let (mut s, mut q) = (
            Submissions::default(),
            Fake {
                room: 4,
                taken: vec![],
            },
        );
        let rx = offer(&mut s, &mut q, 0, Priority::Bulk, &["a", BIG, "b"]);
        let answers = rx.try_recv().expect("answered at once");
        assert_eq!(answers.len(), 3);
        assert!(answers[0].is_ok() && answers[2].is_ok());
        assert!(answers[1].as_ref().unwrap_err().contains("limit"));
        assert_eq!(q.drain(Priority::Bulk), batch(&["a", "b"]));
    }

    #[test]
    fn a_full_queue_makes_the_rest_wait_in_order_not_fail() {
        let (mut s, mut q) = (
            Submissions::default(),
            Fake {
                room: 2,
                taken: vec![],
            },
        );
        let first = offer(&mut s, &mut q, 0, Priority::Bulk, &["1", "2", "3"]);
        let second = offer(&mut s, &mut q, 10, Priority::Bulk, &["4", "5"]);
        assert!(first.try_recv().is_err() && second.try_recv().is_err());
        assert_eq!(s.waiting(), 3);
        // Nothing changed: nothing moves, and nothing is refused.
        s.retry(&mut q, 1_000);
        assert_eq!(s.waiting(), 3);
        // A token visit drains the queue: the waiting messages go in order.
        assert_eq!(q.drain(Priority::Bulk), batch(&["1", "2"]));
        s.retry(&mut q, 2_000);
        assert_eq!(first.try_recv().unwrap(), vec![Ok(()), Ok(()), Ok(())]);
        assert!(second.try_recv().is_err());
        assert_eq!(q.drain(Priority::Bulk), batch(&["3", "4"]));
        s.retry(&mut q, 3_000);
        assert_eq!(second.try_recv().unwrap(), vec![Ok(()), Ok(())]);
        assert_eq!(q.drain(Priority::Bulk), batch(&["5"]));
        assert_eq!(s.waiting(), 0);
    }

    #[test]
    fn control_messages_do_not_wait_behind_bulk_ones() {
        let (mut s, mut q) = (
            Submissions::default(),
            Fake {
                room: 1,
                taken: vec![],
            },
        );
        let bulk = offer(&mut s, &mut q, 0, Priority::Bulk, &["b1", "b2"]);
        let control = offer(&mut s, &mut q, 0, Priority::Control, &["c1"]);
        assert!(bulk.try_recv().is_err());
        assert_eq!(control.try_recv().unwrap(), vec![Ok(())]);
    }

    #[test]
    fn a_batch_that_waited_too_long_is_refused_for_the_rest() {
        let (mut s, mut q) = (
            Submissions::default(),
            Fake {
                room: 1,
                taken: vec![],
            },
        );
        let rx = offer(&mut s, &mut q, 5, Priority::Bulk, &["1", "2", "3"]);
        s.retry(&mut q, 5 + PATIENCE - 1);
        assert!(
            rx.try_recv().is_err(),
            "refused before its patience ran out"
        );
        s.retry(&mut q, 5 + PATIENCE);
        let answers = rx.try_recv().expect("answered once its patience ran out");
        assert!(answers[0].is_ok());
        for refused in &answers[1..] {
            assert!(
                refused.as_ref().unwrap_err().contains("full"),
                "{refused:?}"
            );
        }
        assert_eq!(s.waiting(), 0);
        // What was refused is not queued later.
        q.drain(Priority::Bulk);
        s.retry(&mut q, 5 + PATIENCE + 1);
        assert!(q.taken.is_empty());
    }

    #[test]
    fn a_message_over_the_limit_is_refused_at_once_even_behind_a_full_queue() {
        let (mut s, mut q) = (
            Submissions::default(),
            Fake {
                room: 1,
                taken: vec![],
            },
        );
        let rx = offer(&mut s, &mut q, 0, Priority::Bulk, &["1", BIG, "3"]);
        // "1" took the only place; the big one is refused without waiting,
        // and "3" waits for room.
        assert!(rx.try_recv().is_err());
        assert_eq!(s.waiting(), 1);
        q.drain(Priority::Bulk);
        s.retry(&mut q, 1);
        let answers = rx.try_recv().unwrap();
        assert!(
            answers[1].as_ref().unwrap_err().contains("limit"),
            "{answers:?}"
        );
        assert!(answers[0].is_ok() && answers[2].is_ok());
    }

    #[test]
    fn a_client_that_hung_up_still_has_its_messages_sent() {
        let (mut s, mut q) = (
            Submissions::default(),
            Fake {
                room: 1,
                taken: vec![],
            },
        );
        drop(offer(&mut s, &mut q, 0, Priority::Bulk, &["1", "2"]));
        q.drain(Priority::Bulk);
        s.retry(&mut q, 1);
        assert_eq!(q.drain(Priority::Bulk), batch(&["2"]));
        assert_eq!(s.waiting(), 0);
    }
}
