//! A seeded, deterministic simulation of whole clusters: nodes exchange
//! datagrams through a network that loses, duplicates, delays and reorders
//! them, on a virtual clock, while the scenario partitions (both ways or one
//! way only) and heals the network, crashes and restarts nodes and starts nodes late (joins),
//! and stalls nodes as an overloaded host does (a node that is not scheduled
//! handles nothing until it runs again).
//!
//! Checkers outside the protocol code read only what each node delivered
//! (messages, safety notices, membership changes) and verify every run:
//! - agreed membership views: every node that installs a ring lists the
//!   same members, itself among them;
//! - one order per ring: a sequence number of a ring names the same message
//!   everywhere, and each node delivers in ascending order;
//! - virtual synchrony: nodes that move together from one ring to the next
//!   delivered exactly the same messages in the first; each names as
//!   transitional exactly those that came from its previous ring, and a
//!   ring is announced only once its members hold what was recovered in it
//!   (`checks/virtual_synchrony.rs`);
//! - no duplicates, no corruption;
//! - safe means safe: a message declared safe in a ring is delivered by every
//!   node that installed that ring and is still running at the end;
//! - nothing lost: every node still running delivered every message it
//!   submitted;
//! - progress: once the network heals, all running nodes form one ring and
//!   deliver a message from each of them.
//!
//! A failing seed is reported with the command that reruns it alone:
//! `RINGGATE_SIM_SEED=<seed> cargo test -p ringgate-ring --test simulator -- --nocapture`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::io::Write;

#[path = "checks/virtual_synchrony.rs"]
mod virtual_synchrony;

use ringgate_ring::auth::ClusterKey;
use ringgate_ring::limits::{FRESHNESS_LEN, MAX_NODES, WINDOW};
use ringgate_ring::node::{Config, Destination, Event, Micros, Node};
use ringgate_ring::wire::{NodeId, RingId};
use virtual_synchrony::Step;

/// SplitMix64: small, seedable, and good enough to drive a simulation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone, Debug)]
enum Fault {
    /// Nodes in different groups cannot reach each other.
    Partition(Vec<u8>),
    /// Nodes of group 0 cannot reach nodes of group 1; the other way works
    /// (a one-way link, as a misconfigured firewall makes).
    OneWay(Vec<u8>),
    Heal,
    /// The node's process dies; everything it held is gone.
    Crash(usize),
    /// A fresh process starts for the node (a restart, or a late join).
    Start(usize),
    /// Node `to` loses every copy of message `k` of node `origin`'s first
    /// process, in any packet carrying it (retransmitted or recovered),
    /// until `Unblock`: a member that cannot finish a ring's recovery.
    Blackhole {
        to: usize,
        origin: usize,
        k: usize,
    },
    Unblock,
}

#[derive(Clone, Debug)]
struct Scenario {
    nodes: usize,
    /// The configured node ids, by position.
    ids: Vec<NodeId>,
    loss_percent: u64,
    dup_percent: u64,
    max_delay_us: u64,
    /// Packets held back longer than the token retransmit time, so that
    /// they arrive stale, after their retransmission.
    late_percent: u64,
    /// Packets an attacker captured and replays later, to any node, until
    /// the faults end.
    replay_percent: u64,
    /// A large ring whose nodes all submit far more than the window holds.
    saturated: bool,
    /// An overloaded host: after handling a datagram or a timeout, a node
    /// stalls with this chance (percent) for up to `stall_us`, handling
    /// nothing until it runs again (0: never).
    stall_percent: u64,
    stall_us: Micros,
    messages_per_node: usize,
    max_message: usize,
    /// Nodes that are not running at time 0 (they join later).
    late: Vec<usize>,
    faults: Vec<(Micros, Fault)>,
}

/// Application messages are submitted within this time.
const TRAFFIC_US: Micros = 300_000;
/// How late a late packet arrives at most: several token retransmit times.
const MAX_LATENESS_US: Micros = 30_000;

impl Scenario {
    fn from_seed(seed: u64) -> Scenario {
        let mut rng = Rng(seed ^ 0x5EED);
        // A few seeds fill rings of up to MAX_NODES to the window; the rest
        // are smaller rings under every other fault.
        let saturated = rng.chance(2);
        let nodes = if saturated {
            17 + rng.below((MAX_NODES - 16) as u64) as usize
        } else {
            2 + rng.below(15) as usize
        };
        let mut s = Scenario {
            nodes,
            ids: node_ids(&mut rng, nodes),
            loss_percent: rng.below(if saturated { 3 } else { 31 }),
            dup_percent: rng.below(if saturated { 3 } else { 11 }),
            max_delay_us: 50 + rng.below(2000),
            late_percent: if !saturated && rng.chance(25) {
                1 + rng.below(10)
            } else {
                0
            },
            replay_percent: if !saturated && rng.chance(25) {
                1 + rng.below(5)
            } else {
                0
            },
            saturated,
            stall_percent: 0,
            stall_us: 0,
            messages_per_node: if saturated {
                // More than the window holds, and not much more: large
                // rings cost the most simulated time.
                (WINDOW as usize + 64).div_ceil(nodes) + rng.below(16) as usize
            } else {
                1 + rng.below(12) as usize
            },
            max_message: [16, 1000, 5000][rng.below(if saturated { 2 } else { 3 }) as usize],
            late: Vec::new(),
            faults: Vec::new(),
        };
        // Few seeds keep every node up and connected, so the ring itself is
        // tested against the hostile network alone.
        let fault_count = if saturated || rng.chance(8) {
            0
        } else {
            1 + rng.below(3)
        };
        let mut at = 0;
        for _ in 0..fault_count {
            at += rng.below(150_000);
            let node = rng.below(nodes as u64) as usize;
            match rng.below(4) {
                0 => {
                    let groups = (0..nodes).map(|_| rng.below(2) as u8).collect();
                    s.faults.push((at, Fault::Partition(groups)));
                    s.faults
                        .push((at + 20_000 + rng.below(180_000), Fault::Heal));
                }
                3 => {
                    // Long enough for the stability check below to see
                    // whether the nodes settle while the link stays cut.
                    let groups = (0..nodes).map(|_| rng.below(2) as u8).collect();
                    s.faults.push((at, Fault::OneWay(groups)));
                    s.faults
                        .push((at + 100_000 + rng.below(500_000), Fault::Heal));
                }
                1 => {
                    s.faults.push((at, Fault::Crash(node)));
                    // Node 0 always comes back, so someone is left to check.
                    if node == 0 || rng.chance(80) {
                        s.faults
                            .push((at + 10_000 + rng.below(190_000), Fault::Start(node)));
                    }
                }
                _ if !s.late.contains(&node) => {
                    s.late.push(node);
                    s.faults.push((at, Fault::Start(node)));
                }
                _ => {}
            }
        }
        // Some seeds have one node miss a message by every route while two
        // other nodes crash one after the other: the survivors of the
        // first crash cannot finish recovering at that node, and the second
        // crash ends their ring during its recovery.
        if !saturated && nodes >= 4 && rng.chance(12) {
            let mut picks: Vec<usize> = Vec::new();
            while picks.len() < 4 {
                let n = rng.below(nodes as u64) as usize;
                if !picks.contains(&n) && !s.late.contains(&n) {
                    picks.push(n);
                }
                if picks.len() + s.late.len() >= nodes && picks.len() < 4 {
                    break;
                }
            }
            if let [to, origin, first, second] = picks[..] {
                let k = rng.below(s.messages_per_node as u64) as usize;
                let crash = 150_000 + rng.below(150_000);
                let crash_again = crash + 20_000 + rng.below(60_000);
                s.faults.push((0, Fault::Blackhole { to, origin, k }));
                s.faults.push((crash, Fault::Crash(first)));
                s.faults.push((crash_again, Fault::Crash(second)));
                s.faults
                    .push((crash_again + 50_000 + rng.below(100_000), Fault::Unblock));
                for n in [first, second] {
                    if n == 0 || rng.chance(80) {
                        s.faults
                            .push((crash_again + 200_000 + rng.below(100_000), Fault::Start(n)));
                    }
                }
            }
        }
        s.faults.sort_by_key(|f| f.0);
        // Drawn last, so the seeds without stalls stay what they were.
        if !saturated && rng.chance(15) {
            s.stall_percent = 1 + rng.below(5);
            s.stall_us = 5_000 + rng.below(30_000);
        }
        s
    }

    /// The fault classes this scenario exercises, for the seed report.
    fn classes(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let has = |f: fn(&Fault) -> bool| self.faults.iter().any(|(_, x)| f(x));
        for (present, name) in [
            (self.loss_percent > 0, "loss"),
            (self.dup_percent > 0, "duplication"),
            (self.late_percent > 0, "stale packets"),
            (self.replay_percent > 0, "replays"),
            (self.saturated, "saturated large ring"),
            (self.stall_percent > 0, "overloaded host"),
            (has(|f| matches!(f, Fault::Partition(_))), "partition"),
            (has(|f| matches!(f, Fault::OneWay(_))), "one-way partition"),
            (
                has(|f| matches!(f, Fault::Blackhole { .. })),
                "message lost by every route",
            ),
            (has(|f| matches!(f, Fault::Crash(_))), "crash"),
            (!self.late.is_empty(), "late join"),
            (self.ids.contains(&(u16::MAX - 1)), "highest node id"),
        ] {
            if present {
                out.push(name);
            }
        }
        out
    }

    /// Whether nothing but loss and duplication disturbs the ring.
    fn fault_free(&self) -> bool {
        self.faults.is_empty()
            && !self.saturated
            && self.stall_percent == 0
            && self.late_percent == 0
            && self.replay_percent == 0
    }
}

/// Node ids: consecutive from 1, a block ending at the highest usable id, or
/// scattered with both ends of the usable range (1 and 65534) among them.
fn node_ids(rng: &mut Rng, nodes: usize) -> Vec<NodeId> {
    let top = u16::MAX - 1; // 65535 is reserved.
    let mut ids: Vec<NodeId> = match rng.below(3) {
        0 => (1..=nodes as NodeId).collect(),
        1 => (top + 1 - nodes as NodeId..=top).collect(),
        _ => {
            let mut ids = vec![1, top];
            while ids.len() < nodes {
                let id = 2 + rng.below(u64::from(top) - 2) as NodeId;
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            ids
        }
    };
    // The simulator lists nodes in any order; the ring sorts them.
    for i in (1..ids.len()).rev() {
        ids.swap(i, rng.below(i as u64 + 1) as usize);
    }
    ids
}

/// The defaults suit a LAN. A network that loses a fifth of its packets
/// needs longer timeouts, as corosync tells operators of lossy networks:
/// with a 30 ms token-loss timeout a 16-node ring there would declare the
/// token lost on most rotations and never finish forming. Seeds with little
/// loss run the defaults.
fn config_for(s: &Scenario) -> Config {
    if s.loss_percent <= 5 {
        return Config::default();
    }
    Config {
        token_loss_us: 100_000,
        token_loss_per_member_us: 20_000,
        gather_settle_us: 20_000,
        consensus_us: 50_000,
        merge_probe_us: 100_000,
        ..Config::default()
    }
}

/// What the checkers see of one node's life (one process: a restart is a
/// new incarnation).
#[derive(Debug, Clone)]
enum Seen {
    /// Ring, members, transitional members.
    Membership(RingId, Vec<NodeId>, Vec<NodeId>),
    Deliver {
        first: u64,
        last: u64,
        /// Place within a batch of small messages in one carriage packet.
        index: u16,
        tag: String,
    },
    Safe(u64),
    /// A state-transfer snapshot arrived; held-back deliveries follow.
    Snapshot,
}

/// One process of a node.
struct Incarnation {
    node: usize,
    alive: bool,
    seen: Vec<Seen>,
    submitted: Vec<String>,
    /// The latest ring installed, what was delivered in it (last sequence
    /// number and tag), and how much of that the safe checker has covered.
    ring: Option<RingId>,
    ring_delivered: Vec<(u64, String)>,
    ring_tags: HashSet<String>,
    safe_checked: usize,
    /// Every tag delivered, in any ring.
    delivered_tags: HashSet<String>,
    /// Waiting for a snapshot: its deliveries are held back, so what it
    /// received cannot be seen yet.
    waiting: bool,
}

impl Incarnation {
    /// Records what the node handed its application.
    fn see(&mut self, seen: Seen) {
        match &seen {
            Seen::Membership(ring, ..) => {
                self.ring = Some(*ring);
                self.ring_delivered.clear();
                self.ring_tags.clear();
                self.safe_checked = 0;
            }
            Seen::Deliver { last, tag, .. } => {
                self.ring_delivered.push((*last, tag.clone()));
                self.ring_tags.insert(tag.clone());
                self.delivered_tags.insert(tag.clone());
            }
            Seen::Safe(_) => {}
            Seen::Snapshot => self.waiting = false,
        }
        self.seen.push(seen);
    }
}

struct InFlight {
    to: usize,
    datagram: Vec<u8>,
}

/// Tags look like `3/0/7|`: node id, incarnation, message number.
fn tag_of(payload: &[u8]) -> String {
    let end = payload.iter().position(|b| *b == b'|').map_or(0, |p| p + 1);
    String::from_utf8_lossy(&payload[..end]).into_owned()
}

struct Sim {
    s: Scenario,
    rng: Rng,
    key: ClusterKey,
    ids: Vec<NodeId>,
    /// The running process of each node, if any, and its incarnation index.
    running: Vec<Option<(Node, usize)>>,
    incarnations: Vec<Incarnation>,
    group: Vec<u8>,
    /// Whether `group` cuts one direction only (group 0 to group 1).
    one_way: bool,
    network: BinaryHeap<Reverse<(Micros, usize)>>,
    packets: Vec<Option<InFlight>>,
    /// Every submitted payload by tag, to check what arrives.
    payloads: HashMap<String, Vec<u8>>,
    now: Micros,
    /// RINGGATE_SIM_DUMP_AFTER=<us>: print every packet sent from then on.
    dump_after: Option<Micros>,
    /// When the last fault is over.
    quiet_at: Micros,
    /// Packets refused as out of window by processes that crashed since.
    refused: u64,
    /// When each ring was announced, and by which node.
    announced: Vec<(Micros, usize)>,
    /// A node that loses every datagram holding these bytes (a tag).
    blackhole: Option<(usize, Vec<u8>)>,
    /// Until when each node stalls (see `Scenario::stall_percent`).
    stalled_until: Vec<Micros>,
}

impl Sim {
    fn start(&mut self, n: usize) {
        if self.running[n].is_some() {
            return;
        }
        // Each incarnation's epoch is above the last, as ringgated's
        // persisted counter makes it; the virtual clock serves.
        let node = Node::with_epoch(
            self.ids[n],
            &self.ids,
            self.key.clone(),
            config_for(&self.s),
            self.now,
            self.now,
        )
        .expect("valid configuration");
        self.incarnations.push(Incarnation {
            node: n,
            alive: true,
            seen: Vec::new(),
            submitted: Vec::new(),
            ring: None,
            ring_delivered: Vec::new(),
            ring_tags: HashSet::new(),
            safe_checked: 0,
            delivered_tags: HashSet::new(),
            waiting: false,
        });
        self.running[n] = Some((node, self.incarnations.len() - 1));
    }

    fn submit(&mut self, n: usize, extra: usize) -> Result<(), String> {
        let Some((node, inc)) = self.running[n].as_mut() else {
            return Ok(()); // Down: the message is never sent.
        };
        let incarnation = &mut self.incarnations[*inc];
        let tag = format!("{}/{}/{}|", self.ids[n], *inc, incarnation.submitted.len());
        let mut payload = tag.clone().into_bytes();
        payload.extend((0..extra).map(|i| (i % 251) as u8));
        node.submit(self.now, payload.clone())
            .map_err(|e| format!("submit: {e}"))?;
        incarnation.submitted.push(tag.clone());
        self.payloads.insert(tag, payload);
        Ok(())
    }

    /// Moves what every node sends onto the wire and records what it delivers.
    fn drain(&mut self) -> Result<(), String> {
        let mut announced = Vec::new();
        for from in 0..self.s.nodes {
            let Some((node, inc)) = self.running[from].as_mut() else {
                continue;
            };
            let inc = *inc;
            let transmits: Vec<_> = std::iter::from_fn(|| node.poll_transmit()).collect();
            let events: Vec<_> = std::iter::from_fn(|| node.poll_event()).collect();
            for t in transmits {
                if self.dump_after.is_some_and(|after| self.now >= after) {
                    let packet = self
                        .key
                        .open(&t.datagram)
                        .ok()
                        .and_then(|b| b.get(FRESHNESS_LEN..))
                        .and_then(|b| ringgate_ring::wire::Packet::decode(b).ok());
                    eprintln!(
                        "{} {} -> {:?}: {:?}",
                        self.now,
                        self.ids[from],
                        t.destination,
                        packet.map(|p| (p.ring, p.body))
                    );
                }
                let targets: Vec<usize> = match t.destination {
                    Destination::AllOthers => (0..self.s.nodes).filter(|n| *n != from).collect(),
                    Destination::Node(id) => {
                        self.ids.iter().position(|x| *x == id).into_iter().collect()
                    }
                };
                for to in targets {
                    if self.replaying() && self.rng.chance(self.s.replay_percent) {
                        self.replay(from, &t.datagram);
                    }
                    if self.cut(from, to) || self.blackholed(to, &t.datagram) {
                        continue;
                    }
                    let copies = if self.rng.chance(self.s.dup_percent) {
                        2
                    } else {
                        1
                    };
                    for _ in 0..copies {
                        if self.rng.chance(self.s.loss_percent) {
                            continue;
                        }
                        let mut at = self.now + 1 + self.rng.below(self.s.max_delay_us);
                        if self.rng.chance(self.s.late_percent) {
                            at += MAX_LATENESS_US / 6 + self.rng.below(MAX_LATENESS_US);
                        }
                        self.network.push(Reverse((at, self.packets.len())));
                        self.packets.push(Some(InFlight {
                            to,
                            datagram: t.datagram.clone(),
                        }));
                    }
                }
            }
            for event in events {
                let seen = match event {
                    Event::Deliver {
                        first,
                        last,
                        index,
                        origin,
                        payload,
                    } => {
                        let tag = tag_of(&payload);
                        if self.payloads.get(&tag) != Some(&payload) {
                            return Err(format!(
                                "node {} delivered a corrupt or unknown message {tag:?}",
                                self.ids[from]
                            ));
                        }
                        if !tag.starts_with(&format!("{origin}/")) {
                            return Err(format!(
                                "message {tag} delivered as coming from node {origin}"
                            ));
                        }
                        Seen::Deliver {
                            first,
                            last,
                            index,
                            tag,
                        }
                    }
                    Event::Safe { seq } => Seen::Safe(seq),
                    // The simulated application has no state of its own:
                    // an empty snapshot lets the receivers go on.
                    Event::SnapshotRequested { ring, .. } => {
                        if let Some((node, _)) = self.running[from].as_mut() {
                            node.submit_snapshot(self.now, ring, Vec::new())
                                .map_err(|e| format!("snapshot: {e}"))?;
                        }
                        continue;
                    }
                    Event::Snapshot { .. } => Seen::Snapshot,
                    Event::Membership {
                        ring,
                        members,
                        transitional,
                        snapshot_from,
                        ..
                    } => {
                        self.incarnations[inc].waiting = snapshot_from.is_some();
                        self.announced.push((self.now, from));
                        Seen::Membership(ring, members, transitional)
                    }
                };
                if let Seen::Safe(seq) = seen {
                    announced.push((inc, seq));
                }
                self.incarnations[inc].see(seen);
            }
        }
        for (inc, seq) in announced {
            self.check_safe_now(inc, seq)?;
        }
        Ok(())
    }

    /// Safe means every member has received the message, so at the moment
    /// one member announces it, every member still in that ring has
    /// delivered it (delivery follows receipt at once, in order). This
    /// catches a false safe even when no crash follows to expose it.
    fn check_safe_now(&mut self, x: usize, seq: u64) -> Result<(), String> {
        let ring = self.incarnations[x].ring;
        let start = self.incarnations[x].safe_checked;
        let newly_safe: Vec<String> = self.incarnations[x].ring_delivered[start..]
            .iter()
            .take_while(|(last, _)| *last <= seq)
            .map(|(_, tag)| tag.clone())
            .collect();
        self.incarnations[x].safe_checked += newly_safe.len();
        for (y, other) in self.incarnations.iter().enumerate() {
            if y == x || !other.alive || other.ring != ring || other.waiting {
                continue;
            }
            if let Some(tag) = newly_safe.iter().find(|t| !other.ring_tags.contains(*t)) {
                return Err(format!(
                    "at {} us node {} announced {tag} safe in ring {ring:?}, which node {} has not received",
                    self.now, self.ids[self.incarnations[x].node], self.ids[other.node]
                ));
            }
        }
        Ok(())
    }

    /// Replays happen while the faults last; afterwards the network must
    /// let the nodes come together.
    fn replaying(&self) -> bool {
        self.now < self.quiet_at
    }

    /// Sends a captured datagram again, later, to any node but its sender.
    fn replay(&mut self, from: usize, datagram: &[u8]) {
        let to = self.rng.below(self.s.nodes as u64) as usize;
        if to == from {
            return;
        }
        let at = self.now + 1 + self.rng.below(100_000);
        self.network.push(Reverse((at, self.packets.len())));
        self.packets.push(Some(InFlight {
            to,
            datagram: datagram.to_vec(),
        }));
    }

    /// Whether node `n` is not running at this moment (its host is busy).
    fn stalled(&self, n: usize) -> bool {
        self.stalled_until[n] > self.now
    }

    /// After node `n` handled something, its host may take the core away.
    fn maybe_stall(&mut self, n: usize) {
        if self.s.stall_percent > 0 && self.rng.chance(self.s.stall_percent) {
            self.stalled_until[n] = self.now + 1 + self.rng.below(self.s.stall_us);
        }
    }

    /// Whether `to` loses this datagram to the blackhole fault.
    fn blackholed(&self, to: usize, datagram: &[u8]) -> bool {
        self.blackhole.as_ref().is_some_and(|(node, tag)| {
            *node == to && datagram.windows(tag.len()).any(|w| w == tag.as_slice())
        })
    }

    /// Whether the network lets nothing from `from` reach `to`.
    fn cut(&self, from: usize, to: usize) -> bool {
        if self.one_way {
            self.group[from] == 0 && self.group[to] == 1
        } else {
            self.group[from] != self.group[to]
        }
    }

    fn apply(&mut self, fault: Fault) {
        match fault {
            Fault::Partition(groups) => {
                self.group = groups;
                self.one_way = false;
            }
            Fault::OneWay(groups) => {
                self.group = groups;
                self.one_way = true;
            }
            Fault::Heal => {
                self.group = vec![0; self.s.nodes];
                self.one_way = false;
            }
            Fault::Crash(n) => {
                if let Some((node, inc)) = self.running[n].take() {
                    self.incarnations[inc].alive = false;
                    self.refused += node.stats().out_of_window;
                }
            }
            Fault::Start(n) => self.start(n),
            Fault::Blackhole { to, origin, k } => {
                // The origin's first process: its incarnation number is its
                // place among the nodes started at time 0.
                let inc = (0..origin).filter(|n| !self.s.late.contains(n)).count();
                let tag = format!("{}/{inc}/{k}|", self.ids[origin]).into_bytes();
                self.blackhole = Some((to, tag));
            }
            Fault::Unblock => self.blackhole = None,
        }
    }

    /// The ring every running node is operational in, if they all are in
    /// the same one and it has exactly the running nodes as members.
    fn one_ring(&self) -> Option<RingId> {
        let mut members: Vec<NodeId> = (0..self.s.nodes)
            .filter(|n| self.running[*n].is_some())
            .map(|n| self.ids[n])
            .collect();
        members.sort_unstable();
        let mut running = self.running.iter().flatten();
        let ring = running.next()?.0.ring();
        self.running
            .iter()
            .flatten()
            .all(|(node, _)| {
                node.is_operational() && node.ring() == ring && node.members() == members
            })
            .then_some(ring)
    }

    /// Whether every running node delivered every message in `finals`.
    fn all_delivered(&self, finals: &[String]) -> bool {
        self.running.iter().flatten().all(|(_, inc)| {
            finals
                .iter()
                .all(|f| self.incarnations[*inc].delivered_tags.contains(f))
        })
    }
}

/// When the last fault is over and the traffic submitted.
fn quiet_at(s: &Scenario) -> Micros {
    s.faults.last().map_or(0, |f| f.0).max(TRAFFIC_US) + 1
}

/// What a run that passed every check did, summed over the nodes running
/// at its end.
struct Outcome {
    token_losses: u64,
    rings_installed: u64,
}

/// Runs one scenario to completion; `Err` says which property broke.
fn simulate(seed: u64, s: Scenario) -> Result<Outcome, String> {
    let mut sim = Sim {
        rng: Rng(seed),
        key: ClusterKey::from_bytes(&[7; 32]).unwrap(),
        ids: s.ids.clone(),
        running: (0..s.nodes).map(|_| None).collect(),
        incarnations: Vec::new(),
        group: vec![0; s.nodes],
        one_way: false,
        network: BinaryHeap::new(),
        packets: Vec::new(),
        payloads: HashMap::new(),
        now: 0,
        dump_after: std::env::var("RINGGATE_SIM_DUMP_AFTER")
            .ok()
            .and_then(|v| v.parse().ok()),
        quiet_at: quiet_at(&s),
        refused: 0,
        announced: Vec::new(),
        blackhole: None,
        stalled_until: vec![0; s.nodes],
        s: s.clone(),
    };
    for n in 0..s.nodes {
        if !s.late.contains(&n) {
            sim.start(n);
        }
    }
    // Each node submits its messages at random times; each running node
    // submits one more once the last fault is over.
    let mut plan: Vec<(Micros, usize, usize)> = Vec::new();
    // A saturated ring gets all of it at once, queued before the ring forms.
    let traffic_us = if s.saturated { 1 } else { TRAFFIC_US };
    for n in 0..s.nodes {
        for _ in 0..s.messages_per_node {
            plan.push((
                sim.rng.below(traffic_us),
                n,
                sim.rng.below(s.max_message as u64) as usize,
            ));
        }
    }
    plan.sort_by_key(|p| Reverse(p.0));
    let mut faults: Vec<(Micros, Fault)> = s.faults.iter().rev().cloned().collect();
    let quiet_at = sim.quiet_at;
    let mut finals: Option<(RingId, Vec<String>)> = None;
    let deadline: Micros = quiet_at + 60_000_000;
    // RINGGATE_SIM_TRACE=<us> prints every node's state at that interval.
    let trace: Option<Micros> = std::env::var("RINGGATE_SIM_TRACE")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut next_trace = 0;
    let mut steps_at_now = 0u32;

    loop {
        sim.drain()?;
        // Progress: once the faults are over, all running nodes must come
        // together in one ring and deliver a message from each of them. A
        // loss-induced reformation may legitimately leave a node out of the
        // ring a batch is delivered in, so each full ring gets a new batch.
        if sim.now >= quiet_at {
            if let Some(ring) = sim.one_ring() {
                if finals.as_ref().is_none_or(|(r, _)| *r != ring) {
                    let before: Vec<usize> =
                        sim.incarnations.iter().map(|i| i.submitted.len()).collect();
                    for n in 0..s.nodes {
                        sim.submit(n, 8)?;
                    }
                    let batch = sim
                        .incarnations
                        .iter()
                        .zip(before)
                        .filter_map(|(i, b)| i.submitted.get(b).cloned())
                        .collect();
                    finals = Some((ring, batch));
                    sim.drain()?;
                }
            }
            if finals.as_ref().is_some_and(|(ring, batch)| {
                sim.one_ring() == Some(*ring) && sim.all_delivered(batch)
            }) {
                break;
            }
        }
        if trace.is_some_and(|_| sim.now >= next_trace) {
            next_trace = sim.now + trace.unwrap_or(0);
            for (node, _) in sim.running.iter().flatten() {
                eprintln!(
                    "{:>9} node {:>2} ring {:?} members {:?} op {} {:?}",
                    sim.now,
                    node.id(),
                    node.ring(),
                    node.members(),
                    node.is_operational(),
                    node.stats()
                );
            }
        }
        if sim.now > deadline {
            let states: Vec<String> = sim
                .running
                .iter()
                .flatten()
                .map(|(n, _)| {
                    format!(
                        "{}: ring {:?} members {:?} operational {}",
                        n.id(),
                        n.ring(),
                        n.members(),
                        n.is_operational()
                    )
                })
                .collect();
            let missing: Vec<String> = sim
                .running
                .iter()
                .flatten()
                .map(|(n, inc)| {
                    let seen = &sim.incarnations[*inc].seen;
                    let lacking: Vec<&String> = finals
                        .iter()
                        .flat_map(|(_, batch)| batch)
                        .filter(|f| {
                            !seen
                                .iter()
                                .any(|s| matches!(s, Seen::Deliver { tag, .. } if tag == *f))
                        })
                        .collect();
                    format!("{} lacks {lacking:?}", n.id())
                })
                .collect();
            return Err(format!(
                "no progress 60 s after the network healed; nodes {states:?}; finals {missing:?}"
            ));
        }

        // Advance the clock to the next thing that happens.
        let next = [
            sim.network.peek().map(|Reverse((at, _))| *at),
            // A stalled node's timers wait until it runs again.
            sim.running
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let timer = r.as_ref()?.0.poll_timeout()?;
                    Some(timer.max(sim.stalled_until[i]))
                })
                .min(),
            plan.last().map(|p| p.0),
            faults.last().map(|f| f.0),
            (sim.now < quiet_at).then_some(quiet_at),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else {
            return Err("nothing left to happen, yet not settled".into());
        };
        // A node whose timer stays due after handling it would spin here
        // forever; catch that instead of hanging.
        steps_at_now = if next <= sim.now { steps_at_now + 1 } else { 0 };
        if steps_at_now > 100_000 {
            let timers: Vec<_> = sim
                .running
                .iter()
                .flatten()
                .map(|(n, _)| (n.id(), n.poll_timeout()))
                .collect();
            return Err(format!(
                "the clock is stuck at {} us; node timers {timers:?}",
                sim.now
            ));
        }
        sim.now = sim.now.max(next);
        let now = sim.now;

        while faults.last().is_some_and(|f| f.0 <= now) {
            let (_, fault) = faults.pop().unwrap();
            sim.apply(fault);
        }
        while plan.last().is_some_and(|p| p.0 <= now) {
            let (_, n, extra) = plan.pop().unwrap();
            sim.submit(n, extra)?;
        }
        while sim
            .network
            .peek()
            .is_some_and(|Reverse((at, _))| *at <= now)
        {
            let Reverse((_, index)) = sim.network.pop().unwrap();
            if let Some(p) = sim.packets[index].take() {
                let to = p.to;
                if sim.stalled(to) {
                    // It waits in the socket buffer until the node runs.
                    sim.network.push(Reverse((sim.stalled_until[to], index)));
                    sim.packets[index] = Some(p);
                    continue;
                }
                if let Some((node, _)) = sim.running[to].as_mut() {
                    node.handle_datagram(now, &p.datagram);
                    sim.maybe_stall(to);
                }
            }
        }
        for n in 0..s.nodes {
            if sim.stalled(n) {
                continue;
            }
            let Some((node, _)) = sim.running[n].as_mut() else {
                continue;
            };
            if node.poll_timeout().is_some_and(|t| t <= now) {
                node.handle_timeout(now);
                sim.maybe_stall(n);
            }
        }
    }
    sim.drain()?;
    // Every packet a member sends lies within what the others accept:
    // stale and replayed copies lie below it, so nothing is ever refused.
    let refused = sim.refused
        + sim
            .running
            .iter()
            .flatten()
            .map(|(n, _)| n.stats().out_of_window)
            .sum::<u64>();
    if refused > 0 {
        return Err(format!("{refused} packets refused as out of window"));
    }
    check_settling(&sim)?;
    check_history(&sim)?;
    let running = || sim.running.iter().flatten().map(|(n, _)| n.stats());
    Ok(Outcome {
        token_losses: running().map(|s| s.token_losses).sum(),
        rings_installed: running().map(|s| s.rings_installed).sum(),
    })
}

/// How long nodes may take to settle once a one-way link is cut.
const SETTLE_US: Micros = 150_000;

/// A one-way link must not keep the nodes forming rings: when it is the
/// only fault for a while and loss is low, every node announces at most two
/// rings from `SETTLE_US` after the cut until the heal (a node that does
/// not hear another could otherwise pull the ring apart with every Join).
fn check_settling(sim: &Sim) -> Result<(), String> {
    if sim.s.loss_percent > 5
        || sim.s.late_percent > 0
        || sim.s.replay_percent > 0
        || sim.s.stall_percent > 0
    {
        return Ok(());
    }
    for (k, (start, fault)) in sim.s.faults.iter().enumerate() {
        if !matches!(fault, Fault::OneWay(_)) {
            continue;
        }
        let Some((end, Fault::Heal)) = sim.s.faults.get(k + 1) else {
            continue;
        };
        let quiet = sim.s.faults[..k]
            .iter()
            .all(|(at, f)| matches!(f, Fault::Heal) && *at <= *start)
            && sim.s.late.is_empty();
        let from = start + SETTLE_US;
        if !quiet || from >= *end {
            continue;
        }
        for n in 0..sim.s.nodes {
            let rings = sim
                .announced
                .iter()
                .filter(|(at, node)| *node == n && (from..*end).contains(at))
                .count();
            if rings > 2 {
                return Err(format!(
                    "node {} announced {rings} rings while a one-way link stayed cut ({from}..{end} us)",
                    sim.ids[n]
                ));
            }
        }
    }
    Ok(())
}

/// One incarnation's deliveries in one ring: (ring, deliveries, next ring).
struct Segment<'a> {
    ring: Option<RingId>,
    delivered: Vec<&'a Seen>,
    next: Option<RingId>,
}

fn segments(seen: &[Seen]) -> Vec<Segment<'_>> {
    let mut out = vec![Segment {
        ring: None,
        delivered: Vec::new(),
        next: None,
    }];
    for s in seen {
        match s {
            Seen::Membership(ring, ..) => {
                if let Some(last) = out.last_mut() {
                    last.next = Some(*ring);
                }
                out.push(Segment {
                    ring: Some(*ring),
                    delivered: Vec::new(),
                    next: None,
                });
            }
            Seen::Snapshot => {}
            Seen::Deliver { .. } | Seen::Safe(_) => {
                if let Some(last) = out.last_mut() {
                    last.delivered.push(s);
                }
            }
        }
    }
    out
}

fn check_history(sim: &Sim) -> Result<(), String> {
    let name = |i: usize| {
        format!(
            "node {} (incarnation {i})",
            sim.ids[sim.incarnations[i].node]
        )
    };
    let mut views: HashMap<RingId, &Vec<NodeId>> = HashMap::new();
    let mut order: HashMap<(RingId, u64, u16), &str> = HashMap::new();
    let mut transitions: HashMap<(RingId, RingId), Vec<&str>> = HashMap::new();
    // Per ring: messages declared safe, and who must deliver them.
    let mut declared_safe: HashMap<RingId, HashSet<&str>> = HashMap::new();
    let mut delivered_in: BTreeMap<(usize, RingId), HashSet<&str>> = BTreeMap::new();

    for (i, inc) in sim.incarnations.iter().enumerate() {
        let mut all = HashSet::new();
        for s in &inc.seen {
            if let Seen::Membership(ring, members, _) = s {
                if !members.contains(&sim.ids[inc.node]) {
                    return Err(format!(
                        "{} installed ring {ring:?} without itself: {members:?}",
                        name(i)
                    ));
                }
                if let Some(other) = views.insert(*ring, members) {
                    if other != members {
                        return Err(format!(
                            "ring {ring:?} installed as {other:?} and as {members:?}"
                        ));
                    }
                }
            }
        }
        for segment in segments(&inc.seen) {
            let Some(ring) = segment.ring else {
                if !segment.delivered.is_empty() {
                    return Err(format!("{} delivered before installing any ring", name(i)));
                }
                continue;
            };
            // The (first sequence number, batch index) of the last delivery.
            let mut last_at: Option<(u64, u64, u16)> = None;
            let mut safe = 0;
            let mut tags = Vec::new();
            for (position, s) in segment.delivered.iter().enumerate() {
                match s {
                    Seen::Deliver {
                        first,
                        last,
                        index,
                        tag,
                    } => {
                        // After the last delivery: past its last packet, or
                        // later in the same batch.
                        let in_order = last_at.is_none_or(|(f, l, x)| {
                            *first > l || (*first == f && *last == l && *index > x)
                        });
                        if !in_order {
                            return Err(format!("{} delivered {tag} at seq {first}/{index} after {last_at:?} in ring {ring:?}", name(i)));
                        }
                        last_at = Some((*first, *last, *index));
                        if let Some(other) = order.insert((ring, *first, *index), tag) {
                            if other != tag {
                                return Err(format!("seq {first}/{index} of ring {ring:?} is {other} at one node and {tag} at {}", name(i)));
                            }
                        }
                        if !all.insert(tag.as_str()) {
                            return Err(format!("{} delivered {tag} twice", name(i)));
                        }
                        tags.push(tag.as_str());
                    }
                    Seen::Safe(seq) => {
                        if *seq <= safe {
                            return Err(format!(
                                "{} safe notice went from {safe} to {seq}",
                                name(i)
                            ));
                        }
                        safe = *seq;
                        // What this node delivered in this ring before the
                        // notice, up to the sequence number it names.
                        for earlier in &segment.delivered[..position] {
                            if let Seen::Deliver { last, tag, .. } = earlier {
                                if *last <= *seq {
                                    declared_safe.entry(ring).or_default().insert(tag.as_str());
                                }
                            }
                        }
                    }
                    Seen::Membership(..) | Seen::Snapshot => {}
                }
            }
            delivered_in
                .entry((i, ring))
                .or_default()
                .extend(tags.iter().copied());
            if let Some(next) = segment.next {
                let entry = transitions
                    .entry((ring, next))
                    .or_insert_with(|| tags.clone());
                if *entry != tags {
                    return Err(format!(
                        "{} moved from ring {ring:?} to {next:?} having delivered {tags:?}, another node {entry:?}",
                        name(i)
                    ));
                }
            }
        }
        if inc.alive {
            if let Some(lost) = inc.submitted.iter().find(|t| !all.contains(t.as_str())) {
                return Err(format!(
                    "{} never delivered its own message {lost}",
                    name(i)
                ));
            }
        }
    }
    for (ring, safe) in &declared_safe {
        for (i, inc) in sim.incarnations.iter().enumerate() {
            let installed = inc
                .seen
                .iter()
                .any(|s| matches!(s, Seen::Membership(r, ..) if r == ring));
            if !installed || !inc.alive {
                continue;
            }
            let got = delivered_in.get(&(i, *ring));
            if let Some(missing) = safe.iter().find(|t| !got.is_some_and(|g| g.contains(*t))) {
                return Err(format!(
                    "{missing} was declared safe in ring {ring:?} but {} never delivered it there",
                    name(i)
                ));
            }
        }
    }
    let histories: Vec<(NodeId, Vec<Step<'_>>)> = sim
        .incarnations
        .iter()
        .map(|inc| {
            let steps = inc
                .seen
                .iter()
                .filter_map(|s| match s {
                    Seen::Membership(ring, members, transitional) => Some(Step::Membership {
                        ring: *ring,
                        members,
                        transitional,
                    }),
                    Seen::Deliver { tag, .. } => Some(Step::Deliver(tag)),
                    Seen::Safe(_) | Seen::Snapshot => None,
                })
                .collect();
            (sim.ids[inc.node], steps)
        })
        .collect();
    virtual_synchrony::check(&histories)
}

/// Runs one seed; a failure comes with its scenario and the command that
/// reruns it alone.
fn run_seed(seed: u64) -> Result<(), String> {
    let scenario = Scenario::from_seed(seed);
    simulate(seed, scenario.clone()).map(|_| ()).map_err(|why| {
        format!(
            "seed {seed} failed: {why}\nscenario: {scenario:?}\nrerun alone: RINGGATE_SIM_SEED={seed} cargo test -p ringgate-ring --test simulator -- --nocapture"
        )
    })
}

fn check(seed: u64) {
    if let Err(report) = run_seed(seed) {
        panic!("{report}");
    }
}

#[test]
fn clusters_agree_despite_loss_partitions_crashes_and_joins() {
    if let Ok(seed) = std::env::var("RINGGATE_SIM_SEED") {
        check(seed.parse().expect("RINGGATE_SIM_SEED is a number"));
        return;
    }
    let seeds: u64 = std::env::var("RINGGATE_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 40 } else { 400 });
    let mut mix: BTreeMap<&str, u64> = BTreeMap::new();
    let mut fault_free = 0;
    for seed in 0..seeds {
        let scenario = Scenario::from_seed(seed);
        for class in scenario.classes() {
            *mix.entry(class).or_default() += 1;
        }
        fault_free += u64::from(scenario.fault_free());
    }
    let all: Vec<u64> = (0..seeds).collect();
    let failures: Vec<String> = ringgate_seeds::sweep(&all, run_seed)
        .into_iter()
        .filter_map(|(_, result)| result.err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Written past the test harness's capture, so every run shows it.
    let report: Vec<String> = mix.iter().map(|(c, n)| format!("{c} {n}")).collect();
    let _ = writeln!(
        std::io::stderr(),
        "simulator: {seeds} seeds; fault mix: {}; fault-free (loss and duplication at most) {fault_free}",
        report.join(", ")
    );
    assert!(
        fault_free * 10 <= seeds,
        "{fault_free} of {seeds} seeds are fault-free; at most a tenth may be"
    );
}

#[test]
fn a_single_member_ring_delivers_to_itself() {
    let key = ClusterKey::from_bytes(&[1; 32]).unwrap();
    let mut node = Node::new(5, &[5], key, Config::default(), 0).unwrap();
    node.submit(0, b"alone".to_vec()).unwrap();
    let events: Vec<Event> = std::iter::from_fn(|| node.poll_event()).collect();
    assert!(
        events.contains(&Event::Deliver {
            first: 1,
            last: 1,
            index: 0,
            origin: 5,
            payload: b"alone".to_vec()
        }),
        "{events:?}"
    );
    assert!(matches!(events[0], Event::Membership { ref members, .. } if members == &[5]));
    assert_eq!(node.poll_transmit(), None);
}

#[test]
fn forged_packets_change_nothing_and_genuine_ones_form_a_ring() {
    let ids = [1, 2];
    let good = ClusterKey::from_bytes(&[1; 32]).unwrap();
    let bad = ClusterKey::from_bytes(&[2; 32]).unwrap();
    let mut b = Node::new(2, &ids, good.clone(), Config::default(), 0).unwrap();
    while b.poll_transmit().is_some() {}
    // A forger (wrong key) sends the Join a real node 1 would send.
    let mut forger = Node::new(1, &ids, bad, Config::default(), 0).unwrap();
    let forged = forger.poll_transmit().unwrap();
    b.handle_datagram(1, &forged.datagram);
    assert_eq!(b.stats().unauthenticated, 1);
    assert_eq!(
        b.poll_transmit(),
        None,
        "a refused packet makes the node send nothing"
    );
    b.handle_datagram(1, b"short");
    assert_eq!(b.stats().unauthenticated, 2);
    assert!(!b.is_operational());
    // The genuine Join is taken: b answers with its own, which names a; a,
    // the lower id, has then heard every configured node and commits the
    // ring at once, and b installs it.
    let mut a = Node::new(1, &ids, good, Config::default(), 0).unwrap();
    let join = a.poll_transmit().unwrap();
    b.handle_datagram(1, &join.datagram);
    let answer = b.poll_transmit().unwrap();
    a.handle_datagram(2, &answer.datagram);
    assert_eq!(a.members(), &[1, 2]);
    while let Some(t) = a.poll_transmit() {
        b.handle_datagram(3, &t.datagram);
    }
    assert_eq!(b.members(), &[1, 2]);
    assert_eq!(b.stats().unauthenticated, 2, "nothing genuine was refused");
}

/// Eight nodes on a host with fewer cores than nodes, where a node often
/// waits up to 25 ms to be scheduled: longer than the token retransmit
/// time, and a rotation then takes longer than the configured token-loss
/// timeout.
fn overloaded(stall_percent: u64) -> Scenario {
    let nodes = 8;
    Scenario {
        nodes,
        ids: (1..=nodes as NodeId).collect(),
        loss_percent: 0,
        dup_percent: 0,
        max_delay_us: 100,
        late_percent: 0,
        replay_percent: 0,
        saturated: false,
        stall_percent,
        stall_us: 25_000,
        messages_per_node: 40,
        max_message: 1000,
        late: Vec::new(),
        faults: Vec::new(),
    }
}

/// With fixed timeouts such a ring declared the token lost again and again
/// (233 token losses and 4,731 rings installed in this run, with stalls
/// after 2 % of events; with stalls after 10 % it never settled at all).
/// Its timeouts now follow the measured pace (`node::pace`): it forms
/// once, slows down and delivers everything; under the heavier load it
/// takes longer to settle, and then delivers everything too.
#[test]
fn an_overloaded_host_slows_the_ring_but_never_loses_it() {
    let outcome = match simulate(1, overloaded(2)) {
        Ok(outcome) => outcome,
        Err(why) => panic!("{why}"),
    };
    // Every node installs the first ring; a second formation is tolerated
    // (a stall while forming), a cascade is not.
    assert!(
        outcome.token_losses <= 1 && outcome.rings_installed <= 16,
        "{} token losses, {} rings installed by 8 nodes",
        outcome.token_losses,
        outcome.rings_installed
    );
    if let Err(why) = simulate(1, overloaded(10)) {
        panic!("under heavier load: {why}");
    }
}
