//! One member of an operational ring, as a deterministic state machine.
//!
//! The caller feeds it datagrams (`handle_datagram`) and the passage of time
//! (`handle_timeout`), and drains what it wants sent (`poll_transmit`), what
//! it delivers (`poll_event`) and when it next needs the clock
//! (`poll_timeout`). Nothing here reads a clock, opens a socket or spawns a
//! thread, so a simulator can run many nodes in one process, reproducibly.
//!
//! Ordering follows Totem SRP: only the token holder broadcasts; it gives each
//! carriage packet the next sequence number, so every member delivers in
//! sequence order (agreed delivery). Members that miss a packet ask for it in
//! the token's retransmission list; the token's all-received-up-to field
//! tells when every member has a packet, which makes it safe (safe delivery)
//! and lets senders forget it. This module handles a fixed membership; ring
//! reformation on token loss and joins build on it.

use std::collections::{BTreeMap, VecDeque};

use crate::auth::ClusterKey;
use crate::limits::{
    MAX_FRAGMENT, MAX_MESSAGE, MAX_NODES, MAX_PENDING, MAX_RTR, MAX_SEND_PER_VISIT, WINDOW,
};
use crate::wire::{Body, Carriage, NodeId, Packet, RingId, Token};

/// Time in microseconds on the caller's monotonic clock.
pub type Micros = u64;

/// Tunables; the defaults suit a LAN.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long a node waits for its successor to acknowledge the token
    /// before sending it again.
    pub token_retransmit_us: Micros,
    /// How long the representative holds the token when a whole rotation
    /// carried nothing, so an idle ring does not spin at full speed. A
    /// message submitted there releases it at once.
    pub token_hold_us: Micros,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            token_retransmit_us: 5_000,
            token_hold_us: 1_000,
        }
    }
}

/// Where a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// Every other member of the ring.
    AllOthers,
    Node(NodeId),
}

/// A datagram to send, already authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub destination: Destination,
    pub datagram: Vec<u8>,
}

/// What the node hands to its application, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A message in agreed order: every member delivers the same messages in
    /// the same order. `first` and `last` are the sequence numbers of its
    /// first and last carriage packets.
    Deliver {
        first: u64,
        last: u64,
        origin: NodeId,
        payload: Vec<u8>,
    },
    /// Every message delivered so far whose `last` is at most `seq` is held
    /// by every member: it is safe. Never runs ahead of delivery.
    Safe { seq: u64 },
}

/// Why a message was not accepted for sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("message of {0} bytes exceeds the {MAX_MESSAGE}-byte limit")]
    TooLarge(usize),
    #[error("{MAX_PENDING} messages are already waiting for the token")]
    Backlog,
}

/// Why a ring could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("a ring has 1 to {MAX_NODES} members; got {0}")]
    Size(usize),
    #[error("node {0} is not among the members")]
    NotMember(NodeId),
    #[error("node {0} is listed twice")]
    Duplicate(NodeId),
}

/// Counters of what the node refused and did, for operators.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub unauthenticated: u64,
    pub malformed: u64,
    pub non_member: u64,
    pub other_ring: u64,
    pub duplicate_tokens: u64,
    pub out_of_window: u64,
    pub token_retransmits: u64,
    pub data_retransmits: u64,
    /// Token visits (one per rotation); the runtime derives rotation time from it.
    pub token_visits: u64,
    /// Messages delivered to the application.
    pub delivered_messages: u64,
}

/// A token this node passed on and keeps until its successor acknowledges it.
struct SentToken {
    token_seq: u64,
    datagram: Vec<u8>,
    resend_at: Micros,
}

/// One ring member.
pub struct Node {
    id: NodeId,
    key: ClusterKey,
    config: Config,
    ring: RingId,
    members: Vec<NodeId>,
    successor: NodeId,
    /// Carriage packets above `stable`, by sequence number: for reassembly,
    /// delivery and retransmission. At most `WINDOW` of them.
    store: BTreeMap<u64, Carriage>,
    /// Everything up to here has been received.
    my_aru: u64,
    /// Everything up to here has been delivered.
    delivered: u64,
    /// Everything up to here is held by every member and forgotten here.
    stable: u64,
    /// The token's aru at this node's previous visit (for safe delivery).
    previous_visit_aru: u64,
    /// The last `Safe` notice given.
    announced_safe: u64,
    last_token_seq: u64,
    sent_token: Option<SentToken>,
    /// The token of a ring with this node as its only member, kept between
    /// visits instead of being sent to itself.
    solo_token: Option<Token>,
    /// An idle ring's token, held by the representative until the time given.
    held_token: Option<(Token, Micros)>,
    /// The token's `seq` at this node's previous visit, to recognise idle rotations.
    previous_visit_seq: u64,
    pending: VecDeque<Vec<u8>>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
}

impl Node {
    /// A member of the ring formed by `members` (in ring order, as given
    /// sorted). The lowest id starts the token.
    pub fn new(
        id: NodeId,
        members: &[NodeId],
        key: ClusterKey,
        config: Config,
        now: Micros,
    ) -> Result<Node, SetupError> {
        if members.is_empty() || members.len() > MAX_NODES {
            return Err(SetupError::Size(members.len()));
        }
        let mut sorted = members.to_vec();
        sorted.sort_unstable();
        if let Some(pair) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(SetupError::Duplicate(pair[0]));
        }
        let position = sorted
            .iter()
            .position(|m| *m == id)
            .ok_or(SetupError::NotMember(id))?;
        let successor = sorted[(position + 1) % sorted.len()];
        let rep = sorted[0];
        let mut node = Node {
            id,
            key,
            config,
            ring: RingId { seq: 1, rep },
            members: sorted,
            successor,
            store: BTreeMap::new(),
            my_aru: 0,
            delivered: 0,
            stable: 0,
            previous_visit_aru: 0,
            announced_safe: 0,
            last_token_seq: 0,
            sent_token: None,
            solo_token: None,
            held_token: None,
            previous_visit_seq: 0,
            pending: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        };
        if id == rep {
            node.last_token_seq = 1;
            node.visit(
                Token {
                    token_seq: 1,
                    ..Token::default()
                },
                now,
            );
        }
        Ok(node)
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The ring this node is in.
    pub fn ring(&self) -> RingId {
        self.ring
    }

    /// The members of the ring, in ring order.
    pub fn members(&self) -> &[NodeId] {
        &self.members
    }

    /// What the node has refused so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Queues an application message for broadcast at the next token visit
    /// (at once, if this node holds an idle token).
    pub fn submit(&mut self, now: Micros, payload: Vec<u8>) -> Result<(), SubmitError> {
        if payload.len() > MAX_MESSAGE {
            return Err(SubmitError::TooLarge(payload.len()));
        }
        if self.pending.len() >= MAX_PENDING {
            return Err(SubmitError::Backlog);
        }
        self.pending.push_back(payload);
        if let Some(token) = self.solo_token.take() {
            self.visit(token, now);
        } else if let Some((token, _)) = self.held_token.take() {
            self.visit(token, now);
        }
        Ok(())
    }

    /// Processes one received datagram. Anything unauthenticated, malformed,
    /// from a non-member or from another ring is counted and changes nothing.
    pub fn handle_datagram(&mut self, now: Micros, datagram: &[u8]) {
        let Ok(bytes) = self.key.open(datagram) else {
            self.stats.unauthenticated += 1;
            return;
        };
        let Ok(packet) = Packet::decode(bytes) else {
            self.stats.malformed += 1;
            return;
        };
        if !self.members.contains(&packet.sender) || packet.sender == self.id {
            self.stats.non_member += 1;
            return;
        }
        if packet.ring != self.ring {
            self.stats.other_ring += 1;
            return;
        }
        match packet.body {
            Body::Token(token) => self.receive_token(packet.sender, token, now),
            Body::TokenAck { token_seq } => {
                if packet.sender == self.successor
                    && self
                        .sent_token
                        .as_ref()
                        .is_some_and(|s| s.token_seq == token_seq)
                {
                    self.sent_token = None;
                }
            }
            Body::Data(carriage) => self.receive_carriage(carriage),
        }
    }

    /// Lets time pass: releases a held token, resends an unacknowledged one.
    pub fn handle_timeout(&mut self, now: Micros) {
        if self
            .held_token
            .as_ref()
            .is_some_and(|(_, until)| now >= *until)
        {
            if let Some((token, _)) = self.held_token.take() {
                self.forward(token, now);
            }
        }
        let Some(sent) = self.sent_token.as_mut() else {
            return;
        };
        if now >= sent.resend_at {
            sent.resend_at = now + self.config.token_retransmit_us;
            let datagram = sent.datagram.clone();
            self.stats.token_retransmits += 1;
            self.transmits.push_back(Transmit {
                destination: Destination::Node(self.successor),
                datagram,
            });
        }
    }

    /// When `handle_timeout` next has something to do.
    pub fn poll_timeout(&self) -> Option<Micros> {
        let resend = self.sent_token.as_ref().map(|s| s.resend_at);
        let release = self.held_token.as_ref().map(|(_, until)| *until);
        resend.into_iter().chain(release).min()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next delivery or safety notice for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn send(&mut self, destination: Destination, body: Body) {
        if self.members.len() == 1 {
            return; // Nobody to send to.
        }
        let mut datagram = Packet {
            sender: self.id,
            ring: self.ring,
            body,
        }
        .encode();
        self.key.seal(&mut datagram);
        self.transmits.push_back(Transmit {
            destination,
            datagram,
        });
    }

    fn receive_token(&mut self, from: NodeId, token: Token, now: Micros) {
        // Acknowledge even a duplicate: the first acknowledgement may be the
        // packet that was lost.
        self.send(
            Destination::Node(from),
            Body::TokenAck {
                token_seq: token.token_seq,
            },
        );
        if token.token_seq <= self.last_token_seq {
            self.stats.duplicate_tokens += 1;
            return;
        }
        self.last_token_seq = token.token_seq;
        self.visit(token, now);
    }

    /// Everything a node does while it holds the token.
    fn visit(&mut self, mut token: Token, now: Micros) {
        self.stats.token_visits += 1;
        let mut budget = MAX_SEND_PER_VISIT;

        // Resend what others asked for and this node still has.
        let mut still_missing = Vec::new();
        for seq in std::mem::take(&mut token.rtr) {
            match self.store.get(&seq).cloned() {
                Some(carriage) if budget > 0 => {
                    budget -= 1;
                    self.stats.data_retransmits += 1;
                    self.send(Destination::AllOthers, Body::Data(carriage));
                }
                _ => still_missing.push(seq),
            }
        }

        // Broadcast queued messages while the window has room.
        while let Some(message) = self.pending.front() {
            let count = message.len().div_ceil(MAX_FRAGMENT).max(1);
            if count > budget || token.seq + count as u64 - token.aru > WINDOW {
                break;
            }
            let message = self.pending.pop_front().unwrap_or_default();
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
                self.send(Destination::AllOthers, Body::Data(carriage.clone()));
                self.receive_carriage(carriage);
            }
            token.seq += count as u64;
            budget -= count;
        }

        // Totem's aru rule: lower it to what this node has, and only the node
        // that lowered it may raise it again.
        if self.my_aru < token.aru || token.aru_id == Some(self.id) || token.aru_id.is_none() {
            token.aru = self.my_aru.min(token.seq);
            token.aru_id = (token.aru < token.seq).then_some(self.id);
        }

        // Ask for what this node is missing.
        let mut seq = self.my_aru + 1;
        while seq <= token.seq && still_missing.len() < MAX_RTR {
            if !self.store.contains_key(&seq) && !still_missing.contains(&seq) {
                still_missing.push(seq);
            }
            seq += 1;
        }
        token.rtr = still_missing;

        // A packet the token's aru covered at two successive visits is held
        // by every member.
        let safe = self.previous_visit_aru.min(token.aru);
        self.previous_visit_aru = token.aru;
        if safe > self.stable {
            self.stable = safe;
            self.forget_stable();
            self.announce_safe();
        }

        if self.successor == self.id {
            self.solo_token = Some(token);
            return;
        }
        let idle =
            token.seq == self.previous_visit_seq && token.aru == token.seq && token.rtr.is_empty();
        self.previous_visit_seq = token.seq;
        if idle && self.id == self.ring.rep && self.config.token_hold_us > 0 {
            self.held_token = Some((token, now + self.config.token_hold_us));
            return;
        }
        self.forward(token, now);
    }

    /// Passes the token to the successor and keeps it until acknowledged.
    fn forward(&mut self, mut token: Token, now: Micros) {
        token.token_seq += 1;
        let token_seq = token.token_seq;
        self.send(Destination::Node(self.successor), Body::Token(token));
        if let Some(last) = self.transmits.back() {
            self.sent_token = Some(SentToken {
                token_seq,
                datagram: last.datagram.clone(),
                resend_at: now + self.config.token_retransmit_us,
            });
        }
    }

    fn receive_carriage(&mut self, carriage: Carriage) {
        if carriage.seq <= self.my_aru || self.store.contains_key(&carriage.seq) {
            return; // Already have it.
        }
        // The holder bounds what is in flight by the token's aru; this node's
        // `stable` may trail that by a rotation, hence the second window.
        if carriage.seq > self.stable + 2 * WINDOW {
            self.stats.out_of_window += 1;
            return;
        }
        self.store.insert(carriage.seq, carriage);
        while self.store.contains_key(&(self.my_aru + 1)) {
            self.my_aru += 1;
        }
        self.deliver_ready();
    }

    /// Delivers every complete message directly after `delivered`.
    fn deliver_ready(&mut self) {
        loop {
            let Some(head) = self.store.get(&(self.delivered + 1)) else {
                return;
            };
            let (first, count, origin) = (head.first, u64::from(head.count), head.origin);
            if head.index != 0 || first + count - 1 > self.my_aru {
                return;
            }
            let mut payload = Vec::new();
            for seq in first..first + count {
                if let Some(part) = self.store.get(&seq) {
                    payload.extend_from_slice(&part.payload);
                }
            }
            self.delivered = first + count - 1;
            self.stats.delivered_messages += 1;
            self.events.push_back(Event::Deliver {
                first,
                last: self.delivered,
                origin,
                payload,
            });
            self.forget_stable();
            self.announce_safe();
        }
    }

    /// Tells the application how far delivered messages are safe.
    fn announce_safe(&mut self) {
        let safe = self.stable.min(self.delivered);
        if safe > self.announced_safe {
            self.announced_safe = safe;
            self.events.push_back(Event::Safe { seq: safe });
        }
    }

    /// Drops packets every member has and this node has delivered.
    fn forget_stable(&mut self) {
        let keep_from = self.stable.min(self.delivered) + 1;
        self.store = self.store.split_off(&keep_from);
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
