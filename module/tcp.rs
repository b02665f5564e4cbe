// SPDX-License-Identifier: GPL-2.0

//! How a session follows its TCP connection: which stage it is in, judged
//! from both directions' segments, not from flags alone.
//!
//! - A connection is established once the back-end's SYN-ACK has passed and
//!   the client acknowledges it (its acknowledgement within `RST_WINDOW` of
//!   the SYN-ACK's end). A client that sends a SYN and then a bare ACK to a
//!   silent back-end has not opened anything, nor has one whose ACK does not
//!   acknowledge the SYN-ACK (a spoofed source that never saw it): such a
//!   session keeps the short handshake timeout and stays evictable.
//! - A client SYN with a new initial sequence number on a session still in
//!   its handshake is a new connection (the client gave up and reconnected
//!   from the same port); a retransmitted SYN is not.
//! - A reset counts only if it fits the connection: its sequence number
//!   within `RST_WINDOW` of what its sender has sent (or, before the
//!   back-end has sent anything, acknowledging the client's SYN, as a
//!   refusal does). A reset from someone who does not see the connection
//!   cannot make it evictable or cut its timeout; it still goes on to its
//!   receiver, whose own check (RFC 5961) turns it away.

use crate::stage::Stage;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// How far (bytes, either way) a reset's sequence number may be from the
/// next one its sender's direction would use. A legitimate reset carries a
/// number between the sender's oldest unacknowledged byte and its next one,
/// so this bounds the data in flight that a connection can have and still
/// be reset here; a blind reset hits it with a chance of 1 in 1024.
pub(crate) const RST_WINDOW: u32 = 1 << 21;

/// `Direction::marks`: this direction's next sequence number is known.
const SEQ_KNOWN: u8 = 1;
/// `Direction::marks`: the back-end's SYN-ACK has passed (kept in both of a
/// session's entries).
const SYNACK_SEEN: u8 = 2;
/// `Direction::marks`: a session another node created (imported) whose
/// sequence numbers this node has not seen: the first segment of this
/// direction that passes gives its next sequence number, as conntrack
/// picks up a connection mid-stream.
const PICK_UP: u8 = 4;
/// `Direction::marks`: a session this node made from one segment alone
/// (`nat::pick_up`, `nat::pick_up_reply`), which any host can send: the
/// connection exists only if the other end answers with anything but a
/// reset, so only that moves the session out of the handshake stage (no
/// segment of the end that made it does, a FIN included), and until then
/// any reset ends it (no sequence number is known to judge a reset by).
/// Set in both directions.
const BLIND: u8 = 8;
/// `Direction::marks`, with `BLIND`: the segment that made the session was
/// the back-end's, so the client's answer is the one that confirms it.
const MADE_BY_BACKEND: u8 = 16;

/// Which end sent the one segment a session was made from (see `BLIND`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Maker {
    Client,
    Backend,
}

/// Whether a segment with TCP `flags` opens a connection: a SYN without
/// ACK. Only such a segment creates a session; any other without one is
/// left to the kernel, which answers it with a reset.
pub(crate) fn opens(flags: u8) -> bool {
    flags & (SYN | ACK) == SYN
}

/// Whether a segment with TCP `flags` may be a connection's segment met
/// mid-stream (see `nat::pick_up`): an ACK without SYN or RST. A reset is
/// not: it ends what it names, so there is nothing to pick up.
pub(crate) fn continues(flags: u8) -> bool {
    flags & (SYN | RST | ACK) == ACK
}

/// One TCP segment's header fields that matter here (host order).
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Segment {
    pub(crate) flags: u8,
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) payload: u32,
}

impl Segment {
    /// The sequence number after this segment (SYN and FIN count one).
    fn end(&self) -> u32 {
        self.seq
            .wrapping_add(self.payload)
            .wrapping_add(u32::from(self.flags & SYN != 0))
            .wrapping_add(u32::from(self.flags & FIN != 0))
    }
}

/// What a session's entry knows of the segments its direction carries.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub(crate) struct Direction {
    /// The sequence number after the last byte this direction sent.
    next_seq: u32,
    /// The back-end's direction, before it has sent anything: the
    /// acknowledgement its answer to the client's SYN carries. The client's
    /// direction, once the SYN-ACK has passed: the acknowledgement of the
    /// SYN-ACK, which completes the handshake.
    expected_ack: u32,
    marks: u8,
}

impl Direction {
    /// The client's direction, opened by `syn`.
    pub(crate) fn client(syn: &Segment) -> Direction {
        Direction {
            next_seq: syn.end(),
            expected_ack: 0,
            marks: SEQ_KNOWN,
        }
    }

    /// The back-end's direction of a connection the client opened with `syn`.
    pub(crate) fn backend(syn: &Segment) -> Direction {
        Direction {
            next_seq: 0,
            expected_ack: syn.end(),
            marks: 0,
        }
    }

    /// Either direction of a session another node created, met mid-stream:
    /// its sequence numbers are still to be learnt. A session imported in
    /// its handshake completes it here from either end: the back-end's
    /// SYN-ACK (whatever it acknowledges, as the client's SYN passed
    /// elsewhere) and the client's ACK of it, or, when the SYN-ACK passed
    /// elsewhere too, the client's first segment without SYN, as conntrack
    /// picks up a connection.
    pub(crate) fn picked_up() -> Direction {
        Direction {
            next_seq: 0,
            expected_ack: 0,
            marks: PICK_UP,
        }
    }

    /// Both directions of a session made from one segment met mid-stream,
    /// sent by `maker` (see `BLIND`): picked up, and established only once
    /// the other end answers.
    pub(crate) fn picked_up_blind(maker: Maker) -> Direction {
        let made_by = match maker {
            Maker::Client => 0,
            Maker::Backend => MADE_BY_BACKEND,
        };
        Direction {
            next_seq: 0,
            expected_ack: 0,
            marks: PICK_UP | BLIND | made_by,
        }
    }

    /// Whether the back-end's SYN-ACK has passed.
    pub(crate) fn synack_seen(&self) -> bool {
        self.marks & SYNACK_SEEN != 0
    }

    /// Records in the client's direction that the back-end's SYN-ACK passed
    /// (in the session's other direction), and `ack`, the acknowledgement
    /// of it that completes the handshake.
    pub(crate) fn mark_synack(&mut self, ack: u32) {
        if !self.synack_seen() {
            self.expected_ack = ack;
        }
        self.marks |= SYNACK_SEEN;
    }

    /// The back-end's direction: the acknowledgement its SYN-ACK asks of the
    /// client (meaningful once `synack_seen`).
    pub(crate) fn synack_ack(&self) -> u32 {
        self.next_seq
    }

    /// The client's direction, in the handshake: whether `seg` is a SYN
    /// opening another connection (a new initial sequence number), not a
    /// retransmission of the one seen.
    pub(crate) fn restarts_handshake(&self, seg: &Segment) -> bool {
        opens(seg.flags) && self.marks & SEQ_KNOWN != 0 && seg.end() != self.next_seq
    }

    /// The client's direction: whether `seg` acknowledges the back-end's
    /// SYN-ACK (or data after it, within `RST_WINDOW`).
    fn acks_synack(&self, seg: &Segment) -> bool {
        let beyond = seg.ack.wrapping_sub(self.expected_ack) as i32;
        self.synack_seen() && seg.flags & ACK != 0 && (0..=RST_WINDOW as i32).contains(&beyond)
    }

    fn rst_fits(&self, seg: &Segment) -> bool {
        if self.marks & SEQ_KNOWN != 0 {
            let distance = seg.seq.wrapping_sub(self.next_seq) as i32;
            distance.unsigned_abs() <= RST_WINDOW
        } else {
            seg.flags & ACK != 0 && seg.ack == self.expected_ack
        }
    }

    /// Whether `seg` answers the client's SYN: a SYN-ACK acknowledging it
    /// (any SYN-ACK, in a session picked up before its sequence numbers
    /// were known here).
    fn answers_syn(&self, seg: &Segment) -> bool {
        let picked_up = self.marks & (PICK_UP | SEQ_KNOWN) == PICK_UP;
        seg.flags & (SYN | ACK) == SYN | ACK && (seg.ack == self.expected_ack || picked_up)
    }

    /// Moves the next sequence number on, but only within a window of
    /// where it was: a forged segment cannot drag it far. The back-end's
    /// direction learns its first sequence number only from the SYN-ACK
    /// that answers the client's SYN, so a stray or forged segment cannot
    /// plant one.
    fn saw(&mut self, seg: &Segment) {
        let end = seg.end();
        if self.marks & SEQ_KNOWN == 0 && self.marks & PICK_UP != 0 && seg.flags & SYN == 0 {
            self.next_seq = end;
            self.marks |= SEQ_KNOWN;
            return;
        }
        if self.marks & SEQ_KNOWN == 0 {
            if self.answers_syn(seg) {
                self.next_seq = end;
                // The same as before, unless picked up: then the SYN-ACK
                // tells what the client's SYN was.
                self.expected_ack = seg.ack;
                self.marks |= SEQ_KNOWN;
            }
            return;
        }
        let ahead = end.wrapping_sub(self.next_seq) as i32;
        if ahead > 0 && ahead.unsigned_abs() <= RST_WINDOW {
            self.next_seq = end;
        }
    }

    /// Takes what `other`, a later copy of this direction, knows more.
    pub(crate) fn merge(&mut self, other: &Direction) {
        if other.marks & SEQ_KNOWN != 0 {
            let ahead = other.next_seq.wrapping_sub(self.next_seq) as i32;
            if self.marks & SEQ_KNOWN == 0 || ahead > 0 {
                self.next_seq = other.next_seq;
            }
        }
        if other.synack_seen() && !self.synack_seen() {
            self.expected_ack = other.expected_ack;
        }
        // A blind copy keeps the end that made it: two ends' segments made
        // copies at once (or a peer's copy arrived), and the first decides
        // whose answer confirms.
        let maker = if self.marks & BLIND != 0 {
            self.marks & MADE_BY_BACKEND
        } else {
            other.marks & MADE_BY_BACKEND
        };
        self.marks = (self.marks | other.marks) & !MADE_BY_BACKEND | maker;
    }

    /// The stage of a connection in `stage` after `seg` passes in this
    /// direction (`from_client`: the client's), updating what this
    /// direction knows. `None`: a reset that does not fit the connection,
    /// which changes nothing (not even the session's expiry).
    pub(crate) fn after(
        &mut self,
        stage: Stage,
        from_client: bool,
        seg: &Segment,
    ) -> Option<Stage> {
        if seg.flags & RST != 0 {
            if self.marks & BLIND != 0 && stage == Stage::Syn {
                // The back-end's answer to a segment of a connection it
                // does not have (or the client giving up): nothing to keep.
                return Some(Stage::Reset);
            }
            return self.rst_fits(seg).then_some(stage.max(Stage::Reset));
        }
        self.saw(seg);
        if self.marks & BLIND != 0 && stage == Stage::Syn {
            // Made from one end's segment alone and not answered yet (only
            // the answer moves it out of the handshake): that end's
            // segments, a FIN included, show nothing; the other end's show
            // the connection exists.
            let from_maker = from_client == (self.marks & MADE_BY_BACKEND == 0);
            let seen = if from_maker || seg.flags & SYN != 0 {
                Stage::Syn
            } else if seg.flags & FIN != 0 {
                Stage::Closing
            } else {
                Stage::Established
            };
            return Some(seen);
        }
        let seen = if seg.flags & FIN != 0 {
            Stage::Closing
        } else if seg.flags & SYN != 0 {
            if !from_client && self.answers_syn(seg) {
                // The back-end's own direction keeps the SYN's
                // acknowledgement in `expected_ack`.
                self.marks |= SYNACK_SEEN;
            }
            Stage::Syn
        } else if from_client && self.acks_synack(seg) {
            Stage::Established
        } else if from_client && self.marks & PICK_UP != 0 && seg.flags & ACK != 0 {
            // A session picked up in its handshake: the client acknowledges
            // a SYN-ACK this node never saw.
            Stage::Established
        } else {
            // A client's ACK before any SYN-ACK, or the back-end's data
            // before the handshake ends: nothing has been established.
            stage
        };
        // A connection never goes back to an earlier stage.
        Some(stage.max(seen))
    }
}
