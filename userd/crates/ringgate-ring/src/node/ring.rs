//! The operational ring: token passing, broadcast, retransmission, agreed
//! and safe delivery within one ring configuration.

use std::collections::BTreeMap;

use super::message::{unbatch, MSG_APP, MSG_BATCH, MSG_SAFE};
use super::{Destination, Event, Micros, Node, Phase, Priority};
use crate::limits::{MAX_FRAGMENT, MAX_RTR, MAX_SEND_PER_VISIT, ROTATION_SENDS, WINDOW};
use crate::wire::{Body, Carriage, NodeId, RingId, Token};

/// A token this node passed on and keeps until its successor acknowledges it.
pub(super) struct SentToken {
    /// Resent as a new datagram each time: a byte-for-byte copy would be
    /// refused as a replay.
    token: Token,
    /// When it was first sent: the acknowledgement times the hand-over.
    first_sent_at: Micros,
    /// When it was sent, until it is sent again: the acknowledgement of a
    /// token sent once times the round trip (`pace`). After a resend, which
    /// copy an acknowledgement answers is unknown (Karn's rule), so only
    /// the whole hand-over is timed.
    sent_at: Option<Micros>,
    pub(super) resend_at: Micros,
}

/// How a token came to be used.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arrival {
    /// It came from the predecessor (or, alone, it went round the ring of one).
    Rotated,
    /// The representative held it idle and uses it again for a message just
    /// submitted: it has not travelled since this node last saw it.
    Reused,
}

/// A complete message taken from the store: first and last sequence
/// numbers, origin, and the message (kind byte first).
pub(super) type Complete = (u64, u64, NodeId, Vec<u8>);

/// Everything that starts afresh with each ring.
pub(super) struct RingState {
    pub(super) id: RingId,
    /// Ascending; the token goes from each member to the next.
    pub(super) members: Vec<NodeId>,
    /// The incarnation of each member that agreed to the ring.
    pub(super) epochs: Vec<u64>,
    pub(super) successor: NodeId,
    /// The only member a token may come from.
    predecessor: NodeId,
    /// Carriage packets above what is stable and delivered, by sequence
    /// number: for reassembly, delivery, retransmission and recovery.
    pub(super) store: BTreeMap<u64, Carriage>,
    /// Everything up to here has been received.
    pub(super) my_aru: u64,
    /// Everything up to here has been delivered.
    pub(super) delivered: u64,
    /// Everything up to here is held by every member.
    pub(super) stable: u64,
    /// The token's seq as this node last passed it on: until its next
    /// visit, the others assign at most `ROTATION_SENDS` above it.
    seen_seq: u64,
    /// When the token last came round (`pace` times rotations by it).
    last_visit_at: Option<Micros>,
    /// The token's aru and seq at this node's previous visit.
    previous_visit_aru: u64,
    previous_visit_seq: u64,
    /// Successive visits at which the token carried nothing new since this
    /// node's previous visit (a token used again without travelling does
    /// not count).
    idle_visits: u32,
    /// This member (not the representative) passed on an idle token: the
    /// representative may be holding it, and a message submitted here asks
    /// for it back (`HoldCancel`) once.
    may_be_held: bool,
    /// The last `Safe` notice given.
    announced_safe: u64,
    pub(super) last_token_seq: u64,
    pub(super) sent_token: Option<SentToken>,
    /// The token of a ring with this node as its only member.
    pub(super) solo_token: Option<Token>,
    /// An idle ring's token, held by the representative until the time given.
    pub(super) held_token: Option<(Token, Micros)>,
}

impl RingState {
    pub(super) fn new(id: RingId, members: Vec<NodeId>, epochs: Vec<u64>, me: NodeId) -> RingState {
        let position = members.iter().position(|m| *m == me).unwrap_or(0);
        let successor = members[(position + 1) % members.len()];
        let predecessor = members[(position + members.len() - 1) % members.len()];
        RingState {
            id,
            members,
            epochs,
            successor,
            predecessor,
            store: BTreeMap::new(),
            my_aru: 0,
            delivered: 0,
            stable: 0,
            seen_seq: 0,
            last_visit_at: None,
            previous_visit_aru: 0,
            previous_visit_seq: 0,
            idle_visits: 0,
            may_be_held: false,
            announced_safe: 0,
            last_token_seq: 0,
            sent_token: None,
            solo_token: None,
            held_token: None,
        }
    }

    /// Drops packets every member has and this node has delivered.
    fn forget_stable(&mut self) {
        let keep_from = self.stable.min(self.delivered) + 1;
        self.store = self.store.split_off(&keep_from);
    }

    /// Takes the message starting directly after `delivered` if it is
    /// complete, and, for safe delivery, held by every member.
    fn next_complete(&mut self) -> Option<Complete> {
        let head = self.store.get(&(self.delivered + 1))?;
        if head.index != 0 {
            return None;
        }
        let message = self.assemble(head.first, head.count, head.origin)?;
        if message.3.first() == Some(&MSG_SAFE) && message.1 > self.stable {
            return None;
        }
        self.delivered = message.1;
        Some(message)
    }

    /// The message whose first packet is `first`, if every packet is here.
    fn assemble(&self, first: u64, count: u16, origin: NodeId) -> Option<Complete> {
        let last = first + u64::from(count) - 1;
        let mut payload = Vec::new();
        for seq in first..=last {
            payload.extend_from_slice(&self.store.get(&seq)?.payload);
        }
        Some((first, last, origin, payload))
    }

    /// After recovery: every complete message above `delivered`, in order,
    /// skipping gaps. Survivors of this ring hold the same packets above
    /// what each delivered (recovery made it so), and a gap can only be a
    /// message of a node that did not survive, so every survivor takes the
    /// same messages here.
    pub(super) fn drain_survivors(&mut self) -> Vec<Complete> {
        let mut out = Vec::new();
        let mut next = self.delivered + 1;
        let heads: Vec<(u64, u16, NodeId)> = self
            .store
            .range(next..)
            .filter(|(_, c)| c.index == 0)
            .map(|(_, c)| (c.first, c.count, c.origin))
            .collect();
        for (first, count, origin) in heads {
            if first < next {
                continue;
            }
            if let Some(message) = self.assemble(first, count, origin) {
                next = message.1 + 1;
                out.push(message);
            }
        }
        self.delivered = next - 1;
        out
    }
}

impl Node {
    pub(super) fn receive_token(&mut self, from: NodeId, token: Token, now: Micros) {
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        let ring_id = ring.id;
        // The token goes from each member to the next only. A token from
        // any other member is a copy addressed elsewhere (a replay): its hop
        // count may well be above what this node last saw, and taking it
        // would fork the token, so two members assign the same sequence
        // numbers.
        if from != ring.predecessor {
            self.stats.misdirected_tokens += 1;
            return;
        }
        // Since this node passed the token on, the others assigned at most a
        // rotation's sends; anything beyond is refused, so sequence
        // arithmetic on it cannot overflow.
        if token.seq > ring.seen_seq.saturating_add(ROTATION_SENDS) {
            self.stats.out_of_window += 1;
            return;
        }
        let duplicate = token.token_seq <= ring.last_token_seq;
        if !duplicate {
            ring.last_token_seq = token.token_seq;
        }
        // Acknowledge even a duplicate: the first acknowledgement may be the
        // packet that was lost.
        self.send(
            ring_id,
            Destination::Node(from),
            Body::TokenAck {
                token_seq: token.token_seq,
            },
        );
        if duplicate {
            self.stats.duplicate_tokens += 1;
            return;
        }
        self.visit(token, now);
    }

    pub(super) fn receive_token_ack(&mut self, from: NodeId, token_seq: u64, now: Micros) {
        if let Some(ring) = self.ring.as_mut() {
            if from != ring.successor {
                return;
            }
            if let Some(sent) = ring.sent_token.take_if(|s| s.token.token_seq == token_seq) {
                if let Some(sent_at) = sent.sent_at {
                    self.pace.hop(now.saturating_sub(sent_at));
                }
                self.pace.handover(now.saturating_sub(sent.first_sent_at));
            }
        }
    }

    /// Uses a token this node holds idle (alone, or the representative of a
    /// quiet ring) to send what was just queued.
    pub(super) fn use_idle_token(&mut self, now: Micros) {
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        // Alone, each use of the token is a full rotation. A held token,
        // though, has not travelled since this node last saw it.
        if let Some(token) = ring.solo_token.take() {
            self.visit(token, now);
        } else if let Some((token, _)) = ring.held_token.take() {
            self.use_token(token, now, Arrival::Reused);
        } else if std::mem::take(&mut ring.may_be_held) {
            // Without this, the message would wait out the hold, a whole
            // `token_hold_us`, on a ring that has nothing else to do.
            let (ring_id, rep) = (ring.id, ring.id.rep);
            self.stats.hold_cancels_sent += 1;
            self.send(ring_id, Destination::Node(rep), Body::HoldCancel);
        }
    }

    /// A member has a message and asks for the token this node may hold
    /// idle (it is sent to the representative only).
    pub(super) fn receive_hold_cancel(&mut self, now: Micros) {
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        match ring.held_token.take() {
            Some((token, _)) => self.forward(token, now),
            // The member saw the ring idle before this node did: the token
            // is still on its way here, and would be held at its coming
            // visit while the message waits. That visit does not count as
            // idle (as corosync resets its unchanged count on a cancel).
            None => ring.idle_visits = 0,
        }
    }

    /// Releases a held token and resends an unacknowledged one.
    pub(super) fn ring_timeout(&mut self, now: Micros) {
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        if ring
            .held_token
            .as_ref()
            .is_some_and(|(_, until)| now >= *until)
        {
            if let Some((token, _)) = ring.held_token.take() {
                self.forward(token, now);
            }
        }
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        let (ring_id, successor, members, epochs) = (
            ring.id,
            ring.successor,
            ring.members.clone(),
            ring.epochs.clone(),
        );
        let Some(sent) = ring.sent_token.as_mut() else {
            return;
        };
        if now < sent.resend_at {
            return;
        }
        sent.resend_at = now + self.config.token_retransmit_us;
        sent.sent_at = None;
        let token = sent.token.clone();
        self.stats.token_retransmits += 1;
        // A successor still forming may have missed the Commit; without it
        // the token means nothing to it.
        if matches!(self.phase, Phase::Recovery(_)) {
            self.send(
                ring_id,
                Destination::Node(successor),
                Body::Commit { members, epochs },
            );
        }
        self.send(ring_id, Destination::Node(successor), Body::Token(token));
    }

    /// The next message to broadcast (its class, none for a recovery
    /// message) and its number of carriage packets, if the window (the
    /// part of it the class may use) and this visit's budget allow it.
    fn next_message(&self, token: &Token, budget: usize) -> Option<(Option<Priority>, usize)> {
        let (priority, message) = match self.recovery_queue.front() {
            Some(m) => (None, m),
            None if self.is_operational() => {
                let (p, m) = self.outbox.front()?;
                (Some(p), m)
            }
            None => return None,
        };
        let window = priority.map_or(WINDOW, Priority::window);
        let count = message.len().div_ceil(MAX_FRAGMENT).max(1);
        let fits =
            count <= budget && (token.seq + count as u64).saturating_sub(token.aru) <= window;
        fits.then_some((priority, count))
    }

    /// Everything a node does with a token that has just come to it.
    pub(super) fn visit(&mut self, token: Token, now: Micros) {
        self.use_token(token, now, Arrival::Rotated);
    }

    /// Everything a node does while it holds the token.
    fn use_token(&mut self, mut token: Token, now: Micros, arrival: Arrival) {
        if arrival == Arrival::Rotated {
            self.stats.token_visits += 1;
        }
        let Some(ring) = self.ring.as_ref() else {
            return;
        };
        let ring_id = ring.id;
        if ring.members.len() > 1 {
            self.token_since = Some(now);
            self.last_token = Some(now);
        }
        if arrival == Arrival::Rotated && ring.members.len() > 1 {
            if let Some(last) = ring.last_visit_at {
                self.pace.rotation(now.saturating_sub(last));
            }
            if let Some(ring) = self.ring.as_mut() {
                ring.last_visit_at = Some(now);
            }
        }
        let mut budget = MAX_SEND_PER_VISIT;

        // Resend what others asked for and this node still has.
        let mut still_missing = Vec::new();
        for seq in std::mem::take(&mut token.rtr) {
            let have = self.ring.as_ref().and_then(|r| r.store.get(&seq).cloned());
            match have {
                Some(carriage) if budget > 0 => {
                    budget -= 1;
                    self.stats.data_retransmits += 1;
                    self.send(ring_id, Destination::AllOthers, Body::Data(carriage));
                }
                _ => still_missing.push(seq),
            }
        }

        // Broadcast queued messages, recovery first, while the window has room.
        while let Some((priority, count)) = self.next_message(&token, budget) {
            let message = match priority {
                None => self.recovery_queue.pop_front(),
                Some(p) => self.outbox.pop_batch(p),
            }
            .unwrap_or_default();
            let first = token.seq + 1;
            for (index, chunk) in fragments(&message, count).enumerate() {
                let carriage = Carriage {
                    seq: first + index as u64,
                    first,
                    index: index as u16,
                    count: count as u16,
                    origin: self.id,
                    payload: chunk.to_vec(),
                };
                self.send(
                    ring_id,
                    Destination::AllOthers,
                    Body::Data(carriage.clone()),
                );
                // A node never refuses its own packets.
                self.accept_carriage(carriage, now);
            }
            token.seq += count as u64;
            budget -= count;
        }
        let Some(ring) = self.ring.as_mut() else {
            return;
        };

        // Totem's aru rule: lower it to what this node has, and only the node
        // that lowered it may raise it again.
        if ring.my_aru < token.aru || token.aru_id == Some(self.id) || token.aru_id.is_none() {
            token.aru = ring.my_aru.min(token.seq);
            token.aru_id = (token.aru < token.seq).then_some(self.id);
        }

        // Ask for what this node is missing.
        let mut seq = ring.my_aru + 1;
        while seq <= token.seq && still_missing.len() < MAX_RTR {
            if !ring.store.contains_key(&seq) && !still_missing.contains(&seq) {
                still_missing.push(seq);
            }
            seq += 1;
        }
        token.rtr = still_missing;

        // A packet the token's aru covered at two successive visits is held
        // by every member: the aru a visit sees may have been raised, by the
        // member that lowered it, over packets that members visited earlier
        // in the same rotation still lack, and only the next rotation lowers
        // it again for them. A reused token has made no rotation, so it
        // neither proves anything nor stands as the previous visit: the next
        // visit compares against the aru this token arrived with.
        if arrival == Arrival::Rotated {
            let safe = ring.previous_visit_aru.min(token.aru);
            ring.previous_visit_aru = token.aru;
            if safe > ring.stable {
                ring.stable = safe;
                ring.forget_stable();
                self.announce_safe();
                // A message for safe delivery may have become deliverable.
                self.deliver_ready(now);
            }
            self.finish_recovery_if_stable(now);
        }

        let operational = self.is_operational();
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        ring.seen_seq = ring.seen_seq.max(token.seq);
        if ring.successor == self.id {
            ring.solo_token = Some(token);
            return;
        }
        let idle =
            token.seq == ring.previous_visit_seq && token.aru == token.seq && token.rtr.is_empty();
        ring.previous_visit_seq = token.seq;
        ring.idle_visits = match (idle, arrival) {
            (false, _) => 0,
            (true, Arrival::Rotated) => ring.idle_visits.saturating_add(1),
            (true, Arrival::Reused) => ring.idle_visits,
        };
        // The representative holds the token at its second idle visit in a
        // row, the others expect it held after their first (as corosync's
        // seqno_unchanged_const, one less for the others). Between the
        // representative's two idle visits every other member passed the
        // token once with nothing new on it, so each knows to ask for it
        // back before it is held.
        // (Members share their timeouts: with no hold here, there is none
        // to cancel.)
        let is_rep = self.id == ring.id.rep;
        let holds = self.config.token_hold_us > 0;
        ring.may_be_held = holds && !is_rep && ring.idle_visits >= 1;
        if ring.idle_visits >= 2 && operational && is_rep && holds {
            ring.held_token = Some((token, now + self.config.token_hold_us));
            return;
        }
        self.forward(token, now);
    }

    /// Passes the token to the successor and keeps it until acknowledged.
    fn forward(&mut self, mut token: Token, now: Micros) {
        let Some(ring) = self.ring.as_ref() else {
            return;
        };
        let (ring_id, successor) = (ring.id, ring.successor);
        token.token_seq += 1;
        self.send(
            ring_id,
            Destination::Node(successor),
            Body::Token(token.clone()),
        );
        let resend_at = now + self.config.token_retransmit_us;
        if let Some(ring) = self.ring.as_mut() {
            ring.sent_token = Some(SentToken {
                token,
                first_sent_at: now,
                sent_at: Some(now),
                resend_at,
            });
        }
    }

    /// Takes a carriage packet from another member.
    pub(super) fn receive_carriage(&mut self, carriage: Carriage, now: Micros) {
        let Some(ring) = self.ring.as_ref() else {
            return;
        };
        // Senders assign sequence numbers only while they hold the token, so
        // a packet lies at most a rotation's sends above what this node saw
        // on the token; that bounds the store, and it takes everything a
        // sender may legally send, whatever its window.
        if carriage.seq > ring.seen_seq.saturating_add(ROTATION_SENDS) {
            self.stats.out_of_window += 1;
            return;
        }
        self.accept_carriage(carriage, now);
    }

    /// Stores a carriage packet and delivers what it completes.
    fn accept_carriage(&mut self, carriage: Carriage, now: Micros) {
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        if carriage.seq <= ring.my_aru || ring.store.contains_key(&carriage.seq) {
            return; // Already have it.
        }
        ring.store.insert(carriage.seq, carriage);
        while ring.store.contains_key(&(ring.my_aru + 1)) {
            ring.my_aru += 1;
        }
        self.deliver_ready(now);
    }

    /// Delivers every complete message directly after `delivered`.
    fn deliver_ready(&mut self, now: Micros) {
        loop {
            let Some(ring) = self.ring.as_mut() else {
                return;
            };
            let Some(message) = ring.next_complete() else {
                return;
            };
            ring.forget_stable();
            self.handle_message(now, message);
            self.announce_safe();
        }
    }

    /// Hands an application message, or each message of a batch, to the
    /// application. A malformed batch is refused whole, alike everywhere.
    pub(super) fn deliver_app(&mut self, first: u64, last: u64, origin: NodeId, message: &[u8]) {
        let payloads = match message.split_first() {
            Some((&(MSG_APP | MSG_SAFE), payload)) => vec![payload.to_vec()],
            Some((&MSG_BATCH, batch)) => match unbatch(batch) {
                Some(payloads) => payloads,
                None => {
                    self.stats.malformed += 1;
                    return;
                }
            },
            _ => return,
        };
        for (index, payload) in payloads.into_iter().enumerate() {
            self.stats.delivered_messages += 1;
            self.emit(Event::Deliver {
                first,
                last,
                index: index as u16,
                origin,
                payload,
            });
        }
    }

    /// Tells the application how far delivered messages are safe.
    pub(super) fn announce_safe(&mut self) {
        if !self.is_operational() {
            return;
        }
        let Some(ring) = self.ring.as_mut() else {
            return;
        };
        let safe = ring.stable.min(ring.delivered);
        if safe > ring.announced_safe {
            ring.announced_safe = safe;
            self.emit(Event::Safe { seq: safe });
        }
    }
}

/// Splits a message into `count` carriage payloads (one empty payload for an
/// empty message).
fn fragments(message: &[u8], count: usize) -> impl Iterator<Item = &[u8]> {
    (0..count).map(move |i| {
        let start = (i * MAX_FRAGMENT).min(message.len());
        let end = ((i + 1) * MAX_FRAGMENT).min(message.len());
        &message[start..end]
    })
}
