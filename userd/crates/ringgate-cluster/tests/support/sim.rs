//! A seeded simulation of whole gateway clusters: real `ringgate_ring`
//! nodes, each with a `ClusterNode` on top, exchange datagrams through an
//! in-memory network that loses, duplicates, delays and reorders them, on a
//! virtual clock, while the scenario partitions and heals the network,
//! crashes and restarts nodes, starts nodes late, changes loads and issues
//! operator commands.
//!
//! The harness only drives and records: what each node's module held and
//! when (a crashed daemon's module holds nothing, as the kernel releases a
//! dead daemon's VIPs), the digest of each node's replicated state after
//! every input, the moves each node logged, and state transfers. The
//! checkers in `tests/checks/` read these records.

use std::cmp::Reverse;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BinaryHeap};
use std::hash::{Hash, Hasher};
use std::net::Ipv4Addr;

use ringgate_cluster::config::ClusterConfig;
use ringgate_cluster::model::{Micros, NodeId, VipLoad};
use ringgate_cluster::state::VipMove;
use ringgate_cluster::{ClusterNode, Command, ModuleAction, Output};
use ringgate_ring::auth::ClusterKey;
use ringgate_ring::node::{Config, Destination, Event, Node, Priority};
use ringgate_ring::wire::RingId;

/// SplitMix64: small, seedable, good enough to drive a simulation.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A VIP held by one node's module from `from` until `to` (open: still).
#[derive(Debug, Clone)]
pub struct Interval {
    pub node: NodeId,
    pub incarnation: usize,
    pub vip: Ipv4Addr,
    pub from: Micros,
    pub to: Option<Micros>,
}

/// A node's replicated state after it had applied the given prefix of a
/// ring's inputs.
#[derive(Debug, Clone)]
pub struct Digest {
    pub node: NodeId,
    pub incarnation: usize,
    pub ring: RingId,
    /// Hash of the deliveries applied since the membership event, and how
    /// many: nodes that applied the same prefix must agree.
    pub prefix: u64,
    pub count: u64,
    pub state: u64,
    /// Whether the node is the donor of a state transfer or a receiver
    /// that just took the snapshot (for the transfer checker).
    pub via_snapshot: bool,
}

/// A state transfer as a receiver lived it.
#[derive(Debug, Clone)]
pub struct Transfer {
    pub node: NodeId,
    pub incarnation: usize,
    pub ring: RingId,
    /// Inputs the receiver's state machine changed on before the snapshot.
    pub applied_before_snapshot: u64,
    /// VIPs its module took before the snapshot.
    pub took_before_snapshot: u64,
    pub snapshot_taken: bool,
}

#[derive(Default)]
pub struct Records {
    pub intervals: Vec<Interval>,
    pub digests: Vec<Digest>,
    /// Moves each incarnation logged; `None` where its whole state was
    /// replaced (its history jumps there).
    pub moves: Vec<(usize, Option<VipMove>)>,
    pub transfers: Vec<Transfer>,
}

/// A scheduled disturbance.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Nodes in different groups cannot reach each other.
    Partition(Vec<u8>),
    /// Nodes of group 0 cannot reach nodes of group 1; the other way works
    /// (a one-way link, as a misconfigured firewall makes).
    OneWay(Vec<u8>),
    Heal,
    Crash(usize),
    Start(usize),
    /// The true per-VIP load changes (index of VIP, packets per second).
    Load(Vec<u64>),
    /// An operator command at the node of this index.
    Command(usize, Command),
}

/// A datagram on the wire: arrival time, send order (a tie-breaker that
/// keeps runs reproducible), receiver index, bytes.
type InFlight = (Micros, u64, usize, Vec<u8>);

struct Running {
    ring: Node,
    cluster: ClusterNode,
    incarnation: usize,
    ring_id: Option<RingId>,
    prefix: u64,
    count: u64,
    /// The index of this node's open transfer record while it waits.
    transfer: Option<usize>,
    /// Broadcasts refused by a full ring queue, retried.
    retry: Vec<(Priority, Vec<u8>)>,
}

pub struct Sim {
    pub ids: Vec<NodeId>,
    pub config: ClusterConfig,
    ring_config: Config,
    key: ClusterKey,
    rng: Rng,
    loss_percent: u64,
    dup_percent: u64,
    max_delay_us: u64,
    running: Vec<Option<Running>>,
    incarnations: usize,
    group: Vec<u8>,
    one_way: bool,
    /// Percent of datagrams held back past the token retransmit time, so
    /// they arrive stale, after their retransmission.
    pub late_percent: u64,
    network: BinaryHeap<Reverse<InFlight>>,
    sent: u64,
    /// The true load of each VIP (packets per second), by VIP index.
    loads: Vec<u64>,
    pub now: Micros,
    pub records: Records,
}

fn hash(value: impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

impl Sim {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ids: Vec<NodeId>,
        config: ClusterConfig,
        ring_config: Config,
        seed: u64,
        loss_percent: u64,
        dup_percent: u64,
        max_delay_us: u64,
    ) -> Sim {
        let n = ids.len();
        Sim {
            ids,
            loads: vec![0; config.vips.len()],
            config,
            ring_config,
            key: ClusterKey::from_bytes(&[7; 32]).expect("a valid key"),
            rng: Rng(seed ^ 0xC1A5),
            loss_percent,
            dup_percent,
            max_delay_us,
            running: (0..n).map(|_| None).collect(),
            incarnations: 0,
            group: vec![0; n],
            one_way: false,
            late_percent: 0,
            network: BinaryHeap::new(),
            sent: 0,
            now: 0,
            records: Records::default(),
        }
    }

    pub fn start(&mut self, i: usize) {
        if self.running[i].is_some() {
            return;
        }
        // Each process's epoch is above the last, as ringgated's persisted
        // counter makes it; the virtual clock serves.
        let ring = Node::with_epoch(
            self.ids[i],
            &self.ids,
            self.key.clone(),
            self.ring_config.clone(),
            self.now,
            self.now + 1,
        )
        .expect("a valid ring configuration");
        self.incarnations += 1;
        self.running[i] = Some(Running {
            ring,
            cluster: ClusterNode::new(self.ids[i], self.config.clone()),
            incarnation: self.incarnations,
            ring_id: None,
            prefix: 0,
            count: 0,
            transfer: None,
            retry: Vec::new(),
        });
    }

    /// The daemon dies: the kernel releases its VIPs at once.
    pub fn crash(&mut self, i: usize) {
        if let Some(r) = self.running[i].take() {
            for interval in &mut self.records.intervals {
                if interval.incarnation == r.incarnation && interval.to.is_none() {
                    interval.to = Some(self.now);
                }
            }
        }
    }

    pub fn apply(&mut self, fault: Fault) {
        match fault {
            Fault::Partition(groups) => {
                self.group = groups;
                self.one_way = false;
            }
            Fault::OneWay(groups) => {
                self.group = groups;
                self.one_way = true;
            }
            Fault::Heal => self.group = vec![0; self.ids.len()],
            Fault::Crash(i) => self.crash(i),
            Fault::Start(i) => self.start(i),
            Fault::Load(loads) => self.loads = loads,
            Fault::Command(i, command) => {
                let now = self.now;
                if let Some(r) = self.running[i].as_mut() {
                    r.cluster.command(now, command);
                }
            }
        }
    }

    /// Runs until `until`, applying `faults` (sorted by time) on the way.
    pub fn run(&mut self, until: Micros, faults: &[(Micros, Fault)]) {
        let mut next_fault = 0;
        self.pump();
        while self.now < until {
            let mut next = until;
            if let Some(Reverse((t, ..))) = self.network.peek() {
                next = next.min(*t);
            }
            if let Some((t, _)) = faults.get(next_fault) {
                next = next.min(*t);
            }
            for r in self.running.iter().flatten() {
                for t in [r.ring.poll_timeout(), r.cluster.poll_timeout()]
                    .into_iter()
                    .flatten()
                {
                    next = next.min(t);
                }
            }
            self.now = self.now.max(next);
            while let Some((t, fault)) = faults.get(next_fault) {
                if *t > self.now {
                    break;
                }
                self.apply(fault.clone());
                next_fault += 1;
            }
            while let Some(Reverse((t, ..))) = self.network.peek() {
                if *t > self.now {
                    break;
                }
                let Some(Reverse((_, _, to, datagram))) = self.network.pop() else {
                    break;
                };
                let now = self.now;
                if let Some(r) = self.running[to].as_mut() {
                    r.ring.handle_datagram(now, &datagram);
                }
            }
            let now = self.now;
            for r in self.running.iter_mut().flatten() {
                if r.ring.poll_timeout().is_some_and(|t| t <= now) {
                    r.ring.handle_timeout(now);
                }
            }
            self.pump();
        }
    }

    /// Moves events to the cluster state machines, their outputs to the
    /// ring and the modules, and datagrams onto the network, until quiet.
    fn pump(&mut self) {
        let now = self.now;
        for i in 0..self.ids.len() {
            let loads = self.loads.clone();
            let config_vips: Vec<Ipv4Addr> = self.config.vips.iter().map(|v| v.addr).collect();
            let Some(r) = self.running[i].as_mut() else {
                continue;
            };
            // Each node measures the true load of the VIPs its module holds.
            let measured: Vec<(Ipv4Addr, VipLoad)> = r
                .cluster
                .held()
                .iter()
                .map(|v| {
                    let pps = config_vips
                        .iter()
                        .position(|x| x == v)
                        .and_then(|p| loads.get(p).copied())
                        .unwrap_or(0);
                    (
                        *v,
                        VipLoad {
                            packets_per_sec: pps,
                            ..VipLoad::default()
                        },
                    )
                })
                .collect();
            r.cluster.observe_load(&measured);
            let operational = r.ring.is_operational();
            r.cluster.observe_token(r.ring.last_token_at());
            r.cluster.tick(now, operational);
        }
        for _ in 0..1000 {
            let mut busy = false;
            for i in 0..self.ids.len() {
                busy |= self.pump_node(i);
            }
            if !busy {
                return;
            }
        }
        panic!("the cluster never went quiet at {}", self.now);
    }

    /// One round for one node; whether anything happened.
    fn pump_node(&mut self, i: usize) -> bool {
        let now = self.now;
        let mut busy = false;
        let Some(mut r) = self.running[i].take() else {
            return false;
        };
        let node = self.ids[i];
        let trace = std::env::var("RINGGATE_CLUSTER_TRACE").is_ok();
        while let Some(event) = r.ring.poll_event() {
            busy = true;
            if trace && !matches!(event, Event::Safe { .. } | Event::Deliver { .. }) {
                eprintln!("{now} node {node} event {event:?}");
            }
            self.feed(node, &mut r, event);
        }
        for (priority, payload) in std::mem::take(&mut r.retry) {
            if r.ring.submit_with(now, priority, payload.clone()).is_err() {
                r.retry.push((priority, payload));
            }
        }
        // The daemon says its module holds the session table some time
        // after it joined (the peers' tables take a while to arrive).
        if self.rng.chance(20) {
            r.cluster.report_table_held(now);
        }
        while let Some(out) = r.cluster.poll_output() {
            busy = true;
            if trace && matches!(out, Output::Module(_) | Output::Moved(_)) {
                eprintln!("{now} node {node} output {out:?}");
            }
            match out {
                Output::Module(ModuleAction::TakeVip(vip)) => {
                    if let Some(t) = r.transfer.and_then(|t| self.records.transfers.get_mut(t)) {
                        t.took_before_snapshot += 1;
                    }
                    self.records.intervals.push(Interval {
                        node,
                        incarnation: r.incarnation,
                        vip,
                        from: now,
                        to: None,
                    });
                }
                Output::Module(ModuleAction::ReleaseVip(vip)) => {
                    for interval in &mut self.records.intervals {
                        if interval.incarnation == r.incarnation
                            && interval.vip == vip
                            && interval.to.is_none()
                        {
                            interval.to = Some(now);
                        }
                    }
                }
                Output::Module(_) | Output::CommandDone { .. } => {}
                Output::Broadcast { priority, payload } => {
                    if r.ring.submit_with(now, priority, payload.clone()).is_err() {
                        r.retry.push((priority, payload));
                    }
                }
                Output::Snapshot { ring, data } => {
                    if r.ring.submit_snapshot(now, ring, data.clone()).is_err() {
                        panic!("snapshot refused by the ring");
                    }
                }
                Output::Moved(m) => self.records.moves.push((r.incarnation, Some(m))),
                Output::StateReplaced => self.records.moves.push((r.incarnation, None)),
                Output::ReformRing => r.ring.reform(now),
            }
        }
        while let Some(t) = r.ring.poll_transmit() {
            busy = true;
            let targets: Vec<usize> = match t.destination {
                Destination::AllOthers => (0..self.ids.len()).filter(|n| *n != i).collect(),
                Destination::Node(id) => {
                    self.ids.iter().position(|x| *x == id).into_iter().collect()
                }
            };
            for to in targets {
                let cut = if self.one_way {
                    self.group[i] == 0 && self.group[to] == 1
                } else {
                    self.group[i] != self.group[to]
                };
                if cut {
                    continue;
                }
                let copies = if self.rng.chance(self.dup_percent) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    if self.rng.chance(self.loss_percent) {
                        continue;
                    }
                    let mut at = now + 1 + self.rng.below(self.max_delay_us);
                    if self.rng.chance(self.late_percent) {
                        at += 5_000 + self.rng.below(30_000);
                    }
                    self.sent += 1;
                    self.network
                        .push(Reverse((at, self.sent, to, t.datagram.clone())));
                }
            }
        }
        self.running[i] = Some(r);
        busy
    }

    /// Hands one ring event to a node's state machine and records its
    /// state's digest where the agreement checker can compare it.
    fn feed(&mut self, node: NodeId, r: &mut Running, event: Event) {
        let now = self.now;
        let mut via_snapshot = false;
        let mut record = true;
        match &event {
            Event::Membership {
                ring,
                snapshot_from,
                ..
            } => {
                r.ring_id = Some(*ring);
                r.prefix = 0;
                r.count = 0;
                r.transfer = None;
                if snapshot_from.is_some() {
                    self.records.transfers.push(Transfer {
                        node,
                        incarnation: r.incarnation,
                        ring: *ring,
                        applied_before_snapshot: 0,
                        took_before_snapshot: 0,
                        snapshot_taken: false,
                    });
                    r.transfer = Some(self.records.transfers.len() - 1);
                }
            }
            Event::Snapshot { .. } => {
                via_snapshot = true;
                if let Some(t) = r
                    .transfer
                    .take()
                    .and_then(|t| self.records.transfers.get_mut(t))
                {
                    t.snapshot_taken = true;
                }
            }
            Event::SnapshotRequested { .. } => via_snapshot = true,
            Event::Deliver {
                first,
                index,
                origin,
                ..
            } => {
                r.prefix = hash((r.prefix, first, index, origin));
                r.count += 1;
            }
            Event::Safe { .. } => record = false,
        }
        let before = r.cluster.state().encode();
        r.cluster.observe_token(r.ring.last_token_at());
        r.cluster.handle_ring_event(now, event);
        if let Some(t) = r.transfer.and_then(|t| self.records.transfers.get_mut(t)) {
            if r.cluster.state().encode() != before && !via_snapshot {
                t.applied_before_snapshot += 1;
            }
        }
        if record && !r.cluster.awaiting_snapshot() {
            if let Some(ring) = r.ring_id {
                self.records.digests.push(Digest {
                    node,
                    incarnation: r.incarnation,
                    ring,
                    prefix: r.prefix,
                    count: r.count,
                    state: hash(r.cluster.state().encode()),
                    via_snapshot,
                });
            }
        }
    }

    /// Running nodes, by index.
    pub fn running(&self) -> Vec<usize> {
        (0..self.ids.len())
            .filter(|i| self.running[*i].is_some())
            .collect()
    }

    /// Whether every running node is operational in one ring of exactly the
    /// running nodes, and what its state machine says about quorum.
    pub fn one_quorate_ring(&self) -> bool {
        let up: Vec<&Running> = self.running.iter().flatten().collect();
        let members: Vec<NodeId> = {
            let mut m: Vec<NodeId> = self.running().iter().map(|i| self.ids[*i]).collect();
            m.sort_unstable();
            m
        };
        let first = up.first().map(|r| r.ring.ring());
        !up.is_empty()
            && up.iter().all(|r| {
                r.ring.is_operational()
                    && r.ring.members() == members.as_slice()
                    && Some(r.ring.ring()) == first
                    && r.cluster.state().quorate
            })
    }

    /// The VIPs of the configuration the first running node applied.
    pub fn agreed_vips(&self) -> Vec<Ipv4Addr> {
        self.running
            .iter()
            .flatten()
            .next()
            .map(|r| {
                r.cluster
                    .state()
                    .config
                    .vips
                    .iter()
                    .map(|v| v.addr)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Which running nodes' modules hold each VIP, and who the state of the
    /// first running node says owns it.
    pub fn holders(&self) -> BTreeMap<Ipv4Addr, Vec<NodeId>> {
        let mut out: BTreeMap<Ipv4Addr, Vec<NodeId>> = BTreeMap::new();
        for (i, r) in self.running.iter().enumerate() {
            if let Some(r) = r {
                for v in r.cluster.held() {
                    out.entry(*v).or_default().push(self.ids[i]);
                }
            }
        }
        out
    }

    /// Prints each running node's view, to debug a failing seed.
    pub fn dump(&self) {
        for r in self.running.iter().flatten() {
            let st = r.cluster.status();
            eprintln!(
                "node {} ring {:?} quorate {} awaiting {} held {:?} timeout {:?} operational {}",
                st.node,
                st.ring,
                st.quorate,
                st.awaiting_snapshot,
                r.cluster.held(),
                r.cluster.poll_timeout(),
                r.ring.is_operational()
            );
            for v in &st.vips {
                eprintln!("  {} {:?} since {}", v.vip, v.holding, v.since);
            }
        }
        for (p, m) in &self.records.moves {
            eprintln!("process {p}: {m:?}");
        }
    }
}
