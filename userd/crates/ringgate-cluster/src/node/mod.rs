//! One node's cluster state machine: the replicated state plus what only
//! this node knows (what its module holds, its fences, its measurements).
//!
//! Inputs: [`ClusterNode::handle_ring_event`] for every event of the ring
//! node, [`ClusterNode::tick`] with the clock and whether the ring is
//! operational, [`ClusterNode::observe_load`] and
//! [`ClusterNode::observe_health`], [`ClusterNode::command`].
//! Outputs: [`ClusterNode::poll_output`], in order, and
//! [`ClusterNode::poll_timeout`] for when to tick next.

mod module;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use ringgate_ring::node::{Event, Priority};
use ringgate_ring::wire::RingId;

use crate::codec::DecodeError;
use crate::config::{ClusterConfig, ConfigEdit};
use crate::message::{Message, RequestId, Stamped};
use crate::model::{BackendId, Micros, NodeId, Vip, VipLoad};
use crate::state::{CommandError, Outcome, ReplicatedState, VipMove};

/// What the local module must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleAction {
    /// Stop answering ARP for the VIP and stop serving it.
    ReleaseVip(Vip),
    /// Start answering for the VIP and announce it with gratuitous ARP.
    TakeVip(Vip),
    /// Make the module's VIPs, services and back-ends match this
    /// configuration (the daemon computes the difference).
    ApplyConfig(ClusterConfig),
    SetBackend {
        backend: BackendId,
        up: bool,
    },
}

/// What the daemon must do, in this order: a release is always output
/// before the `Released` broadcast that lets another node take the VIP, so
/// the daemon must finish each module action before it submits the
/// broadcasts that follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Module(ModuleAction),
    /// Submit to the ring with this priority.
    Broadcast {
        priority: Priority,
        payload: Vec<u8>,
    },
    /// Answer the ring's `SnapshotRequested` of `ring` with
    /// `Node::submit_snapshot`.
    Snapshot {
        ring: RingId,
        data: Vec<u8>,
    },
    /// The agreed outcome of an operator's request made on this node.
    CommandDone {
        request: RequestId,
        result: Result<(), CommandError>,
    },
    /// A VIP changed owner in the replicated state (for the log).
    Moved(VipMove),
    /// The whole replicated state was replaced (a state transfer, or a
    /// longer history offered): worth logging and persisting.
    StateReplaced,
    /// The self fence ran out while the ring node still counts its ring as
    /// operational (a slow token, not yet declared lost): call
    /// `Node::reform`, so that a membership event says whether this node is
    /// still in; it serves nothing until then.
    ReformRing,
}

/// An operator's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Replace the configuration, made against `base_version`.
    ChangeConfig {
        base_version: u64,
        config: ClusterConfig,
    },
    /// One change to the configuration in force when it is agreed.
    EditConfig(ConfigEdit),
    MoveVip {
        vip: Vip,
        to: NodeId,
    },
    Drain {
        node: NodeId,
        drained: bool,
    },
}

pub struct ClusterNode {
    me: NodeId,
    state: ReplicatedState,
    /// The configuration this process started with (file or disk), offered
    /// to every ring it is in until the cluster has one as new.
    brought: ClusterConfig,
    /// No ring seen yet by this process: its state is its own (file or
    /// disk), not the cluster's.
    fresh: bool,
    /// In a ring whose state this node waits for (a state transfer).
    awaiting_snapshot: bool,
    ring: Option<RingId>,
    ring_operational: bool,
    ring_down_since: Option<Micros>,
    /// Members of the current ring.
    ring_size: usize,
    /// The self fence ran out in the current ring: nothing is served until
    /// the next membership event, even if a token comes after all (a late
    /// packet of a ring the others may have left already).
    self_fenced: bool,
    /// When the ring node last used the token (see `observe_token`); none
    /// until the daemon reports it.
    last_token: Option<Micros>,
    /// When this node lost the ring before the current one, if that ring
    /// was the quorate one whose state it carries on: takeover fences of
    /// this ring count from then (see `module`).
    fence_base: Option<Micros>,
    /// What the module holds, as this node told it.
    held: BTreeSet<Vip>,
    /// When a fenced take of (VIP, epoch) may happen.
    fence_until: BTreeMap<(Vip, u64), Micros>,
    /// Hand-overs whose `Released` this node has broadcast in this ring.
    released_sent: BTreeSet<(Vip, u64)>,
    /// The ring in which this node last said it holds the session table.
    table_held_sent: Option<RingId>,
    applied_config: Option<u64>,
    applied_down: BTreeSet<BackendId>,
    local_loads: BTreeMap<Vip, VipLoad>,
    local_health: BTreeMap<BackendId, bool>,
    health_changed: bool,
    next_report_at: Micros,
    next_request: RequestId,
    outputs: VecDeque<Output>,
    /// The latest time this node was given.
    last_now: Micros,
    /// The agreed time this node last saw change, and its local time then
    /// (unset until the first input gives a local time).
    agreed_seen: Option<(Micros, Micros)>,
    /// Agreed messages that did not decode (the same on every member).
    pub undecodable: u64,
    /// The outcomes of this node's commands delivered in the current ring
    /// event, given out after the module actions that event caused: an
    /// operator told "ok" finds this node's module changed.
    answers: Vec<Output>,
}

impl ClusterNode {
    /// A node starting from the configuration of its file. A file's
    /// configuration counts as version 1 at least, so it beats the empty
    /// configuration of a cold start (see `handle_membership`).
    pub fn new(me: NodeId, mut config: ClusterConfig) -> ClusterNode {
        config.version = config.version.max(1);
        ClusterNode::with_state(me, ReplicatedState::new(config))
    }

    /// A node starting from the state it last saved with `persist`.
    pub fn restore(me: NodeId, bytes: &[u8]) -> Result<ClusterNode, DecodeError> {
        Ok(ClusterNode::with_state(
            me,
            ReplicatedState::restored(bytes)?,
        ))
    }

    fn with_state(me: NodeId, state: ReplicatedState) -> ClusterNode {
        ClusterNode {
            me,
            brought: state.config.clone(),
            state,
            fresh: true,
            awaiting_snapshot: false,
            ring: None,
            ring_operational: false,
            ring_down_since: None,
            ring_size: 0,
            self_fenced: false,
            last_token: None,
            fence_base: None,
            held: BTreeSet::new(),
            fence_until: BTreeMap::new(),
            released_sent: BTreeSet::new(),
            table_held_sent: None,
            applied_config: None,
            applied_down: BTreeSet::new(),
            local_loads: BTreeMap::new(),
            local_health: BTreeMap::new(),
            health_changed: false,
            next_report_at: 0,
            next_request: 1,
            outputs: VecDeque::new(),
            answers: Vec::new(),
            last_now: 0,
            agreed_seen: None,
            undecodable: 0,
        }
    }

    /// Also brings `config` (the file's, when the node restored its state
    /// from disk): offered to every ring like the restored one, it wins if
    /// its version is newer than the cluster's, so an operator can replace
    /// the configuration by raising the file's version.
    pub fn bring(&mut self, config: ClusterConfig) {
        if config.version > self.brought.version {
            self.brought = config;
        }
    }

    pub fn id(&self) -> NodeId {
        self.me
    }

    /// The replicated state (read-only).
    pub fn state(&self) -> &ReplicatedState {
        &self.state
    }

    /// The ring of the latest membership event.
    pub fn ring_id(&self) -> Option<RingId> {
        self.ring
    }

    /// Whether this node waits for a state transfer.
    pub fn awaiting_snapshot(&self) -> bool {
        self.awaiting_snapshot
    }

    /// Whether the self fence ran out in the current ring (nothing is
    /// served until the next membership event).
    pub fn self_fenced(&self) -> bool {
        self.self_fenced
    }

    /// The VIPs this node's module holds.
    pub fn held(&self) -> &BTreeSet<Vip> {
        &self.held
    }

    /// The bytes to keep on disk (after every output, or periodically).
    pub fn persist(&self) -> Vec<u8> {
        self.state.encode()
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Handles one event of the ring node, in the order the ring gave it.
    pub fn handle_ring_event(&mut self, now: Micros, event: Event) {
        self.enter(now);
        match event {
            Event::Membership {
                ring,
                members,
                transitional,
                joined,
                primary,
                snapshot_from,
                ..
            } => self.handle_membership(
                ring,
                &members,
                &transitional,
                &joined,
                primary,
                snapshot_from,
            ),
            Event::SnapshotRequested { ring, .. } => {
                self.outputs.push_back(Output::Snapshot {
                    ring,
                    data: self.state.encode(),
                });
            }
            Event::Snapshot { data, .. } => match ReplicatedState::decode(&data) {
                Ok(state) => {
                    self.state = state;
                    self.awaiting_snapshot = false;
                    self.outputs.push_back(Output::StateReplaced);
                }
                // The node stays without state and serves nothing; it will
                // be a receiver again in the next ring.
                Err(_) => self.undecodable += 1,
            },
            Event::Deliver {
                origin, payload, ..
            } => self.handle_delivery(origin, &payload),
            Event::Safe { .. } => {}
        }
        self.after_change(now);
        self.outputs.extend(self.answers.drain(..));
    }

    fn handle_membership(
        &mut self,
        ring: RingId,
        members: &[NodeId],
        transitional: &[NodeId],
        joined: &[NodeId],
        primary: bool,
        snapshot_from: Option<NodeId>,
    ) {
        let stateless = self.fresh || self.awaiting_snapshot;
        // The owners this ring fences were members of this node's previous
        // ring, and lost it about when this node did, if that ring was the
        // last quorate ring: it was quorate (serving), this node keeps its
        // state (no transfer), and every member comes straight from it
        // (nobody joined). A quorate ring formed meanwhile elsewhere would
        // share a member with this one (two majorities meet), and that
        // member would have joined from it. Anything else (a fresh start, a
        // minority, a transfer, members from elsewhere) counts the fence
        // from now.
        self.fence_base =
            if self.state.serving && !stateless && snapshot_from.is_none() && joined.is_empty() {
                self.ring_down_since
            } else {
                None
            };
        self.ring = Some(ring);
        self.ring_operational = true;
        self.ring_down_since = None;
        self.ring_size = members.len();
        self.self_fenced = false;
        if let Some(t) = &mut self.last_token {
            // The ring node used the token when it installed the ring.
            *t = (*t).max(self.last_now);
        }
        self.released_sent.clear();
        self.fresh = false;
        // Nodes from elsewhere may bring a newer configuration (from disk or
        // another partition), and offers made while the ring had no quorum
        // were ignored: so whenever members join or quorum may have come
        // back, every member offers the newest configuration it knows, and
        // the newest offered wins. A receiver offers too: its offer is
        // delivered after the snapshot, like every message of the ring.
        if !joined.is_empty() || !self.state.quorate {
            let offer = if self.brought.version > self.state.config.version {
                self.brought.clone()
            } else {
                self.state.config.clone()
            };
            if offer.version > 0 {
                self.broadcast(Priority::Control, Message::ConfigOffer { config: offer });
            }
        }
        let cold = snapshot_from.is_none() && stateless && members.len() > 1;
        if (snapshot_from.is_some() || cold) && self.state.generation() > 0 {
            // The state about to be replaced may have the longer history:
            // the ring's donor is the largest group's, not the freshest.
            let state = self.state.encode();
            self.broadcast(Priority::Control, Message::StateOffer { state });
        }
        if snapshot_from.is_some() {
            // Whatever this node had is not the cluster's state; it serves
            // nothing until the donor's snapshot arrives.
            self.awaiting_snapshot = true;
            return;
        }
        self.awaiting_snapshot = false;
        if cold {
            // Nobody in this ring has the cluster's state (a cold start of
            // several nodes at once): all start from the same empty state,
            // then adopt the newest configuration offered.
            self.state = ReplicatedState::new(ClusterConfig::empty());
        }
        self.state.apply_membership(members, transitional, primary);
    }

    fn handle_delivery(&mut self, origin: NodeId, payload: &[u8]) {
        let Ok(stamped) = Stamped::decode(payload) else {
            self.undecodable += 1;
            return;
        };
        if self.awaiting_snapshot {
            // Deliveries of a ring whose state this node never received
            // (the ring ended before the snapshot came) cannot be applied.
            // The others applied them, so a request of this node's own (sent
            // in an earlier ring) has an outcome it cannot know: say so,
            // rather than leave the operator waiting for an answer.
            if let (Some(request), true) = (stamped.message.request(), origin == self.me) {
                self.answers.push(Output::CommandDone {
                    request,
                    result: Err(CommandError::OutcomeUnknown),
                });
            }
            return;
        }
        if let Message::StateOffer { state } = &stamped.message {
            match ReplicatedState::decode(state) {
                Ok(offered) if offered.generation() > self.state.generation() => {
                    self.state.adopt(offered);
                    // Its owners were not in this node's previous ring: their
                    // fences count from now.
                    self.fence_base = None;
                    self.outputs.push_back(Output::StateReplaced);
                }
                Ok(_) => {}
                Err(_) => self.undecodable += 1,
            }
            return;
        }
        let outcome = self.state.apply_message(origin, &stamped);
        if let (Some(request), true) = (stamped.message.request(), origin == self.me) {
            let result = match outcome {
                Outcome::Refused(e) => Err(e),
                Outcome::Applied | Outcome::Ignored => Ok(()),
            };
            self.answers.push(Output::CommandDone { request, result });
        }
    }

    /// Lets time pass. `ring_operational` is the ring node's
    /// `is_operational()`: a node whose ring stays down for the self-fence
    /// time releases everything, until the next membership event.
    pub fn tick(&mut self, now: Micros, ring_operational: bool) {
        self.enter(now);
        // Only a membership event brings the ring back: the ring node turns
        // operational before the daemon has drained the event that says
        // which ring it is in, and until this node has applied that event
        // its state is the old ring's (it may even be a receiver of a state
        // transfer). A tick only notices that the ring went down.
        if !ring_operational {
            self.ring_operational = false;
            self.ring_down_since.get_or_insert(now);
        }

        if now >= self.next_report_at && ring_operational && self.state.quorate {
            self.next_report_at =
                now.saturating_add(self.state.config.settings.load_report_interval_us);
            let loads: Vec<(Vip, VipLoad)> = self
                .held
                .iter()
                .map(|v| (*v, self.local_loads.get(v).copied().unwrap_or_default()))
                .collect();
            self.broadcast_at(now, Priority::Bulk, Message::Load { loads });
            self.health_changed = !self.local_health.is_empty();
        }
        if self.health_changed && ring_operational {
            self.health_changed = false;
            let results = self.local_health.iter().map(|(b, up)| (*b, *up)).collect();
            self.broadcast_at(now, Priority::Bulk, Message::Health { results });
        }
        self.after_change(now);
    }

    /// When the ring node last used the token (`Node::last_token_at`), to
    /// be reported before every `tick` and every `handle_ring_event`. In a ring of several members, this
    /// node serves only while the token came within the self fence: a node
    /// cut off from the others stops answering that long after its last
    /// token, however long its ring node takes to declare the token lost
    /// (a slow pace lengthens that timeout by up to seconds). Peers count
    /// their takeover fence from when they noticed the loss, which is after
    /// their own last token, so the fence need not cover the token-loss
    /// timeout.
    pub fn observe_token(&mut self, at: Option<Micros>) {
        if let Some(at) = at {
            self.last_token = Some(self.last_token.map_or(at, |t| t.max(at)));
        }
    }

    /// This node's latest measurement of its VIPs' load.
    pub fn observe_load(&mut self, loads: &[(Vip, VipLoad)]) {
        self.local_loads = loads.iter().copied().collect();
    }

    /// This node's latest health check verdicts (after its rise/fall counts).
    pub fn observe_health(&mut self, results: &[(BackendId, bool)]) {
        for (backend, up) in results {
            if self.local_health.insert(*backend, *up) != Some(*up) {
                self.health_changed = true;
            }
        }
    }

    /// Sends an operator's request to the cluster; its agreed outcome comes
    /// back as `Output::CommandDone` with the returned number.
    pub fn command(&mut self, now: Micros, command: Command) -> RequestId {
        self.enter(now);
        let request = self.next_request;
        self.next_request += 1;
        if self.awaiting_snapshot {
            // Its state is not the cluster's yet, and what it sends now would
            // be delivered to it unapplied: refuse at once.
            self.outputs.push_back(Output::CommandDone {
                request,
                result: Err(CommandError::Joining),
            });
            return request;
        }
        let message = match command {
            Command::ChangeConfig {
                base_version,
                config,
            } => Message::ConfigChange {
                request,
                base_version,
                config,
            },
            Command::EditConfig(edit) => Message::ConfigEdit { request, edit },
            Command::MoveVip { vip, to } => Message::MoveVip { request, vip, to },
            Command::Drain { node, drained } => Message::Drain {
                request,
                node,
                drained,
            },
        };
        self.broadcast_at(now, Priority::Control, message);
        request
    }

    /// Tells the cluster that this node's module holds the session table
    /// (the daemon calls it whenever that is so; see `ringgated`'s session
    /// sync): until the cluster has agreed on it, this node is given no
    /// VIP. Sends `SessionTableHeld` once per ring, and only while the
    /// cluster does not list this node yet; a message lost with its ring is
    /// sent again in the next.
    pub fn report_table_held(&mut self, now: Micros) {
        self.enter(now);
        let listed = self.state.table_holders.contains(&self.me);
        let member = self.state.members.contains(&self.me);
        if listed
            || !member
            || !self.state.quorate
            || !self.ring_operational
            || self.awaiting_snapshot
            || self.ring.is_none()
            || self.table_held_sent == self.ring
        {
            return;
        }
        self.table_held_sent = self.ring;
        self.broadcast_at(now, Priority::Control, Message::SessionTableHeld);
    }

    /// When `tick` next has something to do.
    pub fn poll_timeout(&self) -> Option<Micros> {
        let fence = self.fence_until.values().copied().min();
        let self_fence = self
            .cut_off_from()
            .map(|t| t.saturating_add(self.state.config.settings.self_fence_us));
        let report = (self.state.quorate && self.ring_operational).then_some(self.next_report_at);
        [fence, self_fence, report]
            .into_iter()
            .flatten()
            .filter(|t| *t > self.last_now)
            .min()
    }

    /// Latches the self fence once it has run out, whatever input noticed
    /// it: a decision made without the latch could release at one input and
    /// take back at the next, when a late token came.
    pub(super) fn check_self_fence(&mut self, now: Micros) {
        let self_fence = self.state.config.settings.self_fence_us;
        if !self.self_fenced
            && self
                .cut_off_from()
                .is_some_and(|t| now >= t.saturating_add(self_fence))
        {
            self.self_fenced = true;
            if self.ring_operational {
                self.outputs.push_back(Output::ReformRing);
            }
        }
    }

    /// Since when this node may be cut off from its peers: its last token
    /// in a ring of several members, or when its ring went down.
    fn cut_off_from(&self) -> Option<Micros> {
        // Alone, there is no token to wait for: a lone node (of a two-node
        // cluster) is cut off only once its ring of one goes down, and its
        // last token, from a ring with peers, may be hours old.
        if self.ring_size <= 1 {
            return if self.ring_operational {
                None
            } else {
                self.ring_down_since
            };
        }
        match (self.ring_operational, self.last_token) {
            (_, Some(t)) => Some(t),
            (true, None) => None,
            (false, None) => self.ring_down_since,
        }
    }

    /// Takes the local time of an input.
    fn enter(&mut self, now: Micros) {
        self.last_now = self.last_now.max(now);
        self.agreed_seen
            .get_or_insert((self.state.agreed_now, self.last_now));
    }

    fn broadcast(&mut self, priority: Priority, message: Message) {
        self.broadcast_at(self.last_now, priority, message);
    }

    /// Stamps a message with this node's estimate of agreed time at local
    /// time `now`: the agreed time it last saw advance, plus the local time
    /// elapsed since. The largest stamp delivered becomes agreed time, so it
    /// never runs backwards nor faster than the fastest member's clock.
    fn broadcast_at(&mut self, now: Micros, priority: Priority, message: Message) {
        let (agreed, seen_at) = self.agreed_seen.unwrap_or((self.state.agreed_now, now));
        let at = agreed.saturating_add(now.saturating_sub(seen_at));
        let payload = Stamped { at, message }.encode();
        self.outputs
            .push_back(Output::Broadcast { priority, payload });
    }
}
