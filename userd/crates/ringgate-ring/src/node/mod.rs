//! One ring member as a deterministic state machine.
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
//! and lets senders forget it. `ring.rs` holds that operational part;
//! `membership.rs` forms new rings when the token is lost, a member falls
//! silent or a node joins, with `reach.rs` judging who hears whom;
//! `recovery.rs` recovers the old ring's messages so that survivors agree
//! on them; `transfer.rs` plans state transfer to joining nodes;
//! `outbox.rs` queues application messages by priority and `message.rs`
//! batches them; `freshness.rs` refuses replayed datagrams, and
//! `epoch_notice.rs` tells a node restarted below its old epoch so;
//! `pace.rs` lengthens the timeouts while hosts or network are slow.

mod epoch_notice;
mod freshness;
mod membership;
mod message;
mod outbox;
mod pace;
mod reach;
mod recovery;
mod ring;
mod transfer;

pub use freshness::frame;
pub use outbox::Priority;

use std::collections::VecDeque;

use crate::auth::ClusterKey;
use crate::keyring::{Keyring, KeyringError, KeyringStatus};
use crate::limits::{MAX_DATAGRAM, MAX_MESSAGE, MAX_NODES, MAX_SNAPSHOT};
use crate::wire::{Body, NodeId, Packet, RingId, RESERVED_NODE_IDS, RING_ID_LEN};

use epoch_notice::NoticeLimiter;
use freshness::{unframe, ReplayGuard, Verdict};
use membership::Gather;
use message::{MSG_APP, MSG_SAFE};
use outbox::Outbox;
use pace::Pace;
use reach::Reach;
use recovery::Recovery;
use ring::RingState;

/// Time in microseconds on the caller's monotonic clock.
pub type Micros = u64;

/// Tunables; the defaults suit a LAN and bring a new ring up within about
/// 60 ms of a member's death.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long a node waits for its successor to acknowledge the token
    /// before sending it again.
    pub token_retransmit_us: Micros,
    /// How long the representative holds the token when two whole
    /// rotations carried nothing, so an idle ring does not spin at full
    /// speed. A message submitted anywhere releases it at once: at the
    /// representative directly, elsewhere by asking it (`HoldCancel`).
    pub token_hold_us: Micros,
    /// No token visit for this long (plus `token_loss_per_member_us` for
    /// each member, as a rotation takes longer in a larger ring) means the
    /// token or a member is lost: the node starts forming a new ring.
    pub token_loss_us: Micros,
    pub token_loss_per_member_us: Micros,
    /// How long the set of nodes a forming node hears from must stay
    /// unchanged before the representative (the lowest of them) commits.
    pub gather_settle_us: Micros,
    /// How much longer a forming node waits for the representative's Commit
    /// before it tries the next lowest node.
    pub consensus_us: Micros,
    /// How often a forming node repeats its Join.
    pub join_interval_us: Micros,
    /// How often the representative of a ring that lacks some configured
    /// nodes asks them to merge (after a partition heals or a node restarts).
    pub merge_probe_us: Micros,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            token_retransmit_us: 5_000,
            token_hold_us: 1_000,
            token_loss_us: 24_000,
            token_loss_per_member_us: 2_000,
            gather_settle_us: 10_000,
            consensus_us: 20_000,
            join_interval_us: 5_000,
            merge_probe_us: 50_000,
        }
    }
}

/// Where a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// Every other configured node.
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
    /// the same order. `first` and `last` are the sequence numbers, in the
    /// ring of the latest `Membership` event, of its first and last carriage
    /// packets.
    Deliver {
        first: u64,
        last: u64,
        /// The message's place among the small messages batched into the
        /// same carriage packet (0 when alone): with `first`, it names the
        /// message within the ring.
        index: u16,
        origin: NodeId,
        payload: Vec<u8>,
    },
    /// Every message of the current ring delivered so far whose `last` is
    /// at most `seq` is held by every member. Never runs ahead of delivery.
    Safe { seq: u64 },
    /// This node is the donor of a state transfer: its application passes
    /// a snapshot of its state as of the membership event just before to
    /// `Node::submit_snapshot`, before it handles any later event. The
    /// `receivers` hold back the new ring's messages until it arrives.
    SnapshotRequested {
        ring: RingId,
        receivers: Vec<NodeId>,
    },
    /// The snapshot this node waited for, from the donor: the application
    /// takes it as its state; the new ring's messages follow.
    Snapshot { origin: NodeId, data: Vec<u8> },
    /// A new ring is installed, and every member holds what it recovered.
    /// Every message delivered before this event belongs to the previous
    /// ring, and the members that came from the same previous ring (the
    /// transitional membership) delivered exactly the same messages of it.
    Membership {
        ring: RingId,
        /// Every member, ascending.
        members: Vec<NodeId>,
        /// The members that came from this node's previous ring (this node
        /// included; only this node after a start).
        transitional: Vec<NodeId>,
        /// Members not in the transitional membership.
        joined: Vec<NodeId>,
        /// Members of the previous ring not in the transitional membership.
        left: Vec<NodeId>,
        /// Whether the ring holds a majority of the configured nodes (the
        /// primary component): at most one ring at a time can.
        primary: bool,
        /// The donor this node receives a snapshot from before any message
        /// of this ring (`Event::Snapshot`), if it joins without the state
        /// the others built (see `transfer`).
        snapshot_from: Option<NodeId>,
    },
}

/// Why a message was not accepted for sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("message of {0} bytes exceeds the {MAX_MESSAGE}-byte limit")]
    TooLarge(usize),
    #[error("the queue of {0:?} messages waiting for the token is full; try again later")]
    Backlog(Priority),
}

/// Why a node could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("a ring has 1 to {MAX_NODES} configured nodes; got {0}")]
    Size(usize),
    #[error("node {0} is not among the configured nodes")]
    NotMember(NodeId),
    #[error("node {0} is listed twice")]
    Duplicate(NodeId),
    #[error("node id {0} is reserved by the protocol (0 and 65535 are)")]
    Reserved(NodeId),
}

/// Counters of what the node refused and did, for operators.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Datagrams longer than the protocol ever sends.
    pub oversized: u64,
    pub unauthenticated: u64,
    pub malformed: u64,
    pub non_member: u64,
    pub other_ring: u64,
    pub duplicate_tokens: u64,
    /// Tokens from a member other than the predecessor (replayed copies).
    pub misdirected_tokens: u64,
    /// Copies of datagrams taken before, older than the replay window, or of
    /// an earlier epoch of their sender.
    pub replayed: u64,
    /// Of `replayed`, those of an earlier epoch: replays of a dead process,
    /// or a node restarted without its state file below its old epoch (see
    /// `epoch_notice`). A growing count deserves an operator's look.
    pub stale_epochs: u64,
    /// `StaleEpoch` notices sent about such datagrams (rate-limited).
    pub stale_epoch_notices: u64,
    /// Times this node raised its own epoch because a peer refused it.
    pub epoch_raises: u64,
    pub out_of_window: u64,
    pub token_retransmits: u64,
    pub data_retransmits: u64,
    /// Joins of nodes outside the ring that did not start a new formation:
    /// the merged ring could not hold everyone (a one-way link somewhere).
    pub merges_declined: u64,
    /// Token visits (one per rotation); the runtime derives rotation time from it.
    pub token_visits: u64,
    /// Messages delivered to the application.
    pub delivered_messages: u64,
    /// Rings this node installed.
    pub rings_installed: u64,
    /// Times no token came for `token_loss_us`.
    pub token_losses: u64,
    /// Times the application asked for a new ring (`reform`).
    pub reforms: u64,
    /// Times a message found the ring idle and this node asked the
    /// representative to pass on the token it may hold (`HoldCancel`).
    pub hold_cancels_sent: u64,
}

/// Where the node is in the life of a ring.
enum Phase {
    /// Forming a new ring; no ring is installed.
    Gather(Gather),
    /// In a new ring, exchanging the previous rings' packets.
    Recovery(Recovery),
    Operational,
}

/// One node of a ring.
pub struct Node {
    id: NodeId,
    keys: Keyring,
    config: Config,
    /// Every configured node, this one included, ascending.
    universe: Vec<NodeId>,
    phase: Phase,
    /// The installed ring (none while forming one).
    ring: Option<RingState>,
    /// The last operational ring, kept until a new ring has recovered it.
    old: Option<RingState>,
    /// Sequence number of the last ring installed; never decreases.
    installed_seq: u64,
    /// When the token last came (or the ring was installed): the ring
    /// counts as lost if none comes within `token_loss_timeout` of it.
    token_since: Option<Micros>,
    /// When this node last used the token of a ring of several members, or
    /// installed a ring; unlike `token_since`, kept when the ring is lost.
    last_token: Option<Micros>,
    /// How slow hosts and network have recently been (see `pace`).
    pace: Pace,
    /// When the representative next asks missing nodes to merge.
    probe_at: Option<Micros>,
    /// Ring-level messages (kind byte first) waiting for the token: recovery
    /// messages, which go before any application message.
    recovery_queue: VecDeque<Vec<u8>>,
    /// Application messages (kind byte first) waiting for the token.
    outbox: Outbox,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
    /// This incarnation's epoch and the counter of the last datagram sent.
    epoch: u64,
    counter: u64,
    replay_guard: ReplayGuard,
    notices: NoticeLimiter,
    /// Who this node hears and who hears it (see `reach`).
    reach: Reach,
    /// While this node waits for a snapshot: the donor, and the deliveries
    /// and safety notices held back until it comes (see `transfer`).
    held: Option<(NodeId, Vec<Event>)>,
    /// This node has no state the others built (it never received the
    /// snapshot it waited for).
    stateless: bool,
}

impl Node {
    /// A node among the configured `universe` of nodes that has never been
    /// in a ring; it starts forming a ring with whichever of them answer.
    pub fn new(
        id: NodeId,
        universe: &[NodeId],
        key: ClusterKey,
        config: Config,
        now: Micros,
    ) -> Result<Node, SetupError> {
        Node::with_epoch(id, universe, key, config, now, 0)
    }

    /// Like `new`, for a process of a node that may have run before:
    /// `epoch` is this incarnation's number, which must grow with every
    /// restart (ringgated keeps a counter in its state file). It heads
    /// every datagram, so the others refuse anything of an earlier process
    /// as a replay, and it names every ring this node forms as
    /// representative, so a restarted representative never reuses the id
    /// of a ring it formed before, whatever the wall clock says.
    pub fn with_epoch(
        id: NodeId,
        universe: &[NodeId],
        key: ClusterKey,
        config: Config,
        now: Micros,
        epoch: u64,
    ) -> Result<Node, SetupError> {
        if universe.is_empty() || universe.len() > MAX_NODES {
            return Err(SetupError::Size(universe.len()));
        }
        if let Some(id) = universe.iter().find(|n| RESERVED_NODE_IDS.contains(n)) {
            return Err(SetupError::Reserved(*id));
        }
        let mut sorted = universe.to_vec();
        sorted.sort_unstable();
        if let Some(pair) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(SetupError::Duplicate(pair[0]));
        }
        if !sorted.contains(&id) {
            return Err(SetupError::NotMember(id));
        }
        let mut node = Node {
            id,
            keys: Keyring::new(key),
            config,
            universe: sorted,
            phase: Phase::Operational,
            ring: None,
            old: None,
            installed_seq: 0,
            token_since: None,
            last_token: None,
            pace: Pace::default(),
            probe_at: None,
            recovery_queue: VecDeque::new(),
            outbox: Outbox::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            epoch,
            counter: 0,
            replay_guard: ReplayGuard::default(),
            notices: NoticeLimiter::default(),
            reach: Reach::default(),
            held: None,
            stateless: false,
        };
        // The node forms a ring with whichever configured nodes it hears.
        node.start_gather(now);
        Ok(node)
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// This process's epoch: the one it started with, or higher once a peer
    /// told it that epoch was below its predecessor's (see `epoch_notice`);
    /// the caller stores it so the next start counts on from there.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The installed ring, or while forming one, the last one installed
    /// (with representative 0).
    pub fn ring(&self) -> RingId {
        match &self.ring {
            Some(r) => r.id,
            None => RingId {
                seq: self.installed_seq,
                rep: 0,
                epoch: 0,
            },
        }
    }

    /// The members of the installed ring (empty while forming one).
    pub fn members(&self) -> &[NodeId] {
        self.ring.as_ref().map_or(&[], |r| &r.members)
    }

    /// Whether the node is in an operational ring (formed and recovered).
    pub fn is_operational(&self) -> bool {
        matches!(self.phase, Phase::Operational) && self.ring.is_some()
    }

    /// Accepts `key` as well as the current one (step 1 of a key rollover;
    /// see `keyring`).
    pub fn add_key(&mut self, key: ClusterKey) -> Result<(), KeyringError> {
        self.keys.add(key)
    }

    /// Sends with the key added last (step 2).
    pub fn use_newest_key(&mut self) -> Result<(), KeyringError> {
        self.keys.use_newest()
    }

    /// Accepts only the key this node sends with (step 3).
    pub fn retire_key(&mut self) -> Result<(), KeyringError> {
        self.keys.retire()
    }

    /// When this node last used the token of a ring of several members (or
    /// installed a ring). A node that no longer gets the token can tell how
    /// long it has been cut off from this, whatever its token-loss timeout
    /// (which a slow pace lengthens) says.
    pub fn last_token_at(&self) -> Option<Micros> {
        self.last_token
    }

    /// Leaves the operational ring and starts forming a new one, as if the
    /// token had been lost here. The application asks for this when it can
    /// no longer trust the ring it is in (the cluster layer's self fence:
    /// the token came too late), so that a membership event settles who is
    /// in. A node not in an operational ring is forming one already.
    pub fn reform(&mut self, now: Micros) {
        if self.is_operational() {
            self.stats.reforms += 1;
            self.start_gather(now);
        }
    }

    /// The accepted keys (the daemon seals its state file with them too).
    pub fn keyring(&self) -> &Keyring {
        &self.keys
    }

    /// How many keys are accepted, and which one seals what is sent.
    pub fn key_status(&self) -> KeyringStatus {
        self.keys.status()
    }

    /// What the node has refused and done so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Queues a bulk application message for broadcast at a later token
    /// visit (see `submit_with`).
    pub fn submit(&mut self, now: Micros, payload: Vec<u8>) -> Result<(), SubmitError> {
        self.submit_with(now, Priority::Bulk, payload)
    }

    /// Queues an application message of the given class for broadcast at a
    /// later token visit (at once, if this node holds an idle token).
    /// Messages queued while no ring is operational wait for the next one.
    /// A full queue refuses the message at once (`SubmitError::Backlog`):
    /// the caller retries later; nothing waits.
    pub fn submit_with(
        &mut self,
        now: Micros,
        priority: Priority,
        payload: Vec<u8>,
    ) -> Result<(), SubmitError> {
        self.queue_app(now, priority, MSG_APP, payload)
    }

    /// Whether `submit_with` would queue a message of this class now (its
    /// queue has room), so a caller that would rather wait than be refused
    /// keeps the message until it has.
    pub fn has_room(&self, priority: Priority) -> bool {
        self.outbox.has_room(priority)
    }

    /// Like `submit_with`, for safe delivery (Totem's SAFE): every member
    /// hands the message over only once every member holds it (the token's
    /// aru covered it at two visits), and the messages after it in the
    /// agreed order wait behind it. In a ring that fails first, it is
    /// delivered with the old ring's other messages at the end of recovery,
    /// to the members that came through together.
    pub fn submit_safe(
        &mut self,
        now: Micros,
        priority: Priority,
        payload: Vec<u8>,
    ) -> Result<(), SubmitError> {
        self.queue_app(now, priority, MSG_SAFE, payload)
    }

    fn queue_app(
        &mut self,
        now: Micros,
        priority: Priority,
        kind: u8,
        payload: Vec<u8>,
    ) -> Result<(), SubmitError> {
        if payload.len() > MAX_MESSAGE {
            return Err(SubmitError::TooLarge(payload.len()));
        }
        let mut message = Vec::with_capacity(payload.len() + 1);
        message.push(kind);
        message.extend_from_slice(&payload);
        self.outbox.push(priority, message)?;
        if self.is_operational() {
            self.use_idle_token(now);
        }
        Ok(())
    }

    /// Processes one received datagram. Anything unauthenticated, malformed,
    /// from an unconfigured node or of another ring is counted and changes
    /// nothing.
    pub fn handle_datagram(&mut self, now: Micros, datagram: &[u8]) {
        if datagram.len() > MAX_DATAGRAM {
            self.stats.oversized += 1;
            return;
        }
        let Ok(bytes) = self.keys.open(datagram) else {
            self.stats.unauthenticated += 1;
            return;
        };
        let Some((epoch, counter, bytes)) = unframe(bytes) else {
            self.stats.malformed += 1;
            return;
        };
        let Ok(packet) = Packet::decode(bytes) else {
            self.stats.malformed += 1;
            return;
        };
        if !self.universe.contains(&packet.sender) || packet.sender == self.id {
            self.stats.non_member += 1;
            return;
        }
        match self.replay_guard.take(packet.sender, epoch, counter) {
            Verdict::Fresh => {}
            Verdict::Replayed => {
                self.stats.replayed += 1;
                return;
            }
            Verdict::OlderEpoch { seen } => {
                self.stats.replayed += 1;
                self.refuse_older_epoch(packet.sender, epoch, seen, now);
                return;
            }
        }
        match packet.body {
            Body::Join(join) => self.receive_join(packet.sender, packet.ring, epoch, join, now),
            Body::Commit { members, epochs } => {
                self.receive_commit(packet.sender, packet.ring, members, epochs, now)
            }
            Body::StaleEpoch { refused, seen } => self.receive_stale_epoch(refused, seen, now),
            body => {
                let Some(ring) = self.ring.as_mut() else {
                    self.stats.other_ring += 1;
                    return;
                };
                if packet.ring != ring.id || !ring.members.contains(&packet.sender) {
                    self.stats.other_ring += 1;
                    return;
                }
                match body {
                    Body::Token(token) => self.receive_token(packet.sender, token, now),
                    Body::TokenAck { token_seq } => {
                        self.receive_token_ack(packet.sender, token_seq, now)
                    }
                    Body::Data(carriage) => self.receive_carriage(carriage, now),
                    Body::HoldCancel => self.receive_hold_cancel(now),
                    Body::Join(_) | Body::Commit { .. } | Body::StaleEpoch { .. } => {}
                }
            }
        }
    }

    /// Lets time pass: releases a held token, resends an unacknowledged one,
    /// notices token loss, repeats Joins, gives up on silent nodes and asks
    /// missing nodes to merge.
    pub fn handle_timeout(&mut self, now: Micros) {
        // Called this long after the time asked for: the host did not run
        // this node meanwhile, and may not run the others promptly either.
        if let Some(due) = self.poll_timeout() {
            if now > due {
                self.pace.hop(now - due);
            }
        }
        if matches!(self.phase, Phase::Gather(_)) {
            self.gather_timeout(now);
            return;
        }
        if self.token_deadline().is_some_and(|d| now >= d) {
            self.stats.token_losses += 1;
            self.start_gather(now);
            return;
        }
        self.probe_timeout(now);
        self.ring_timeout(now);
    }

    /// When `handle_timeout` next has something to do.
    pub fn poll_timeout(&self) -> Option<Micros> {
        let mut earliest = self.token_deadline();
        let mut consider = |t: Option<Micros>| {
            earliest = match (earliest, t) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        };
        if let Phase::Gather(g) = &self.phase {
            consider(Some(g.decide_at(self.id).min(g.resend_at)));
        }
        consider(self.probe_at);
        if let Some(ring) = &self.ring {
            consider(ring.sent_token.as_ref().map(|s| s.resend_at));
            consider(ring.held_token.as_ref().map(|(_, until)| *until));
        }
        earliest
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Sends the snapshot asked for by the `Event::SnapshotRequested` of
    /// `ring`: in order, as a control message, to the receivers (at most
    /// `MAX_SNAPSHOT` bytes; a full control queue refuses it, to be
    /// retried). The message names `ring`, and receivers take only a
    /// snapshot for their own ring: one queued in a ring that ended before
    /// it went out is sent in the next ring like any message, where it must
    /// not pass for the state as of the new ring's start.
    pub fn submit_snapshot(
        &mut self,
        now: Micros,
        ring: RingId,
        data: Vec<u8>,
    ) -> Result<(), SubmitError> {
        if data.len() > MAX_SNAPSHOT {
            return Err(SubmitError::TooLarge(data.len()));
        }
        let mut message = Vec::with_capacity(data.len() + 1 + RING_ID_LEN);
        message.push(message::MSG_SNAPSHOT);
        ring.encode_into(&mut message);
        message.extend_from_slice(&data);
        self.outbox.push(Priority::Control, message)?;
        if self.is_operational() {
            self.use_idle_token(now);
        }
        Ok(())
    }

    /// Hands an event to the application, or holds it back while this
    /// node waits for a snapshot.
    fn emit(&mut self, event: Event) {
        match &mut self.held {
            Some((_, held)) => held.push(event),
            None => self.events.push_back(event),
        }
    }

    /// Hands over what was held back for a snapshot, and stops holding.
    fn release_held(&mut self) {
        if let Some((_, held)) = self.held.take() {
            self.events.extend(held);
        }
    }

    /// The next delivery, safety notice or membership change.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// How long this node waits for the token before declaring it lost: the
    /// configured time, plus a slack while the ring runs slowly (`pace`).
    fn token_loss_timeout(&self) -> Micros {
        let members = self.ring.as_ref().map_or(1, |r| r.members.len());
        self.config.token_loss_us
            + self.config.token_loss_per_member_us * members as Micros
            + self.pace.token_slack(members)
    }

    /// When the ring counts as lost if no token comes first.
    fn token_deadline(&self) -> Option<Micros> {
        self.token_since
            .map(|since| since.saturating_add(self.token_loss_timeout()))
    }

    /// Queues an authenticated packet for sending.
    fn send(&mut self, ring: RingId, destination: Destination, body: Body) {
        if self.universe.len() == 1 {
            return; // Nobody to send to.
        }
        let packet = Packet {
            sender: self.id,
            ring,
            body,
        };
        self.counter += 1;
        let mut datagram = frame(self.epoch, self.counter, &packet.encode());
        self.keys.seal(&mut datagram);
        self.transmits.push_back(Transmit {
            destination,
            datagram,
        });
    }
}
