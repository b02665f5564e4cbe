//! A tiny scripted network for regression scenarios: datagrams travel in the
//! order they were sent, without delay, and a scenario decides which of them
//! are lost. Time only moves when nothing is in flight, straight to the
//! earliest timer of a running node, so every run is the same.

use std::collections::{HashMap, VecDeque};

use ringgate_ring::auth::ClusterKey;
use ringgate_ring::limits::FRESHNESS_LEN;
use ringgate_ring::node::{frame, Config, Destination, Event, Micros, Node};
use ringgate_ring::wire::{Body, NodeId, Packet};

/// Decides whether a datagram is lost: (receiver, decoded packet, how many
/// copies of the same packet this receiver was sent before).
pub type DropRule = Box<dyn FnMut(NodeId, &Packet, usize) -> bool>;

pub struct Net {
    pub key: ClusterKey,
    pub nodes: Vec<Option<Node>>,
    pub ids: Vec<NodeId>,
    /// Everything each node handed its application, by position in `ids`.
    pub events: Vec<Vec<Event>>,
    in_flight: VecDeque<(usize, Vec<u8>)>,
    /// How often each packet was sent to each receiver while a drop rule
    /// was set (a resent packet travels in a new datagram).
    sent: HashMap<(usize, Vec<u8>), usize>,
    pub drop_rule: Option<DropRule>,
    /// Every datagram delivered, with its receiver, while `capture` is set.
    pub capture: bool,
    pub captured: Vec<(NodeId, Vec<u8>)>,
    forged: u64,
    pub now: Micros,
}

impl Net {
    /// Starts one node per id, all configured with every id.
    pub fn new(ids: &[NodeId], config: Config) -> Net {
        let key = ClusterKey::from_bytes(&[9; 32]).unwrap();
        let nodes = ids
            .iter()
            .map(|id| Some(Node::new(*id, ids, key.clone(), config.clone(), 0).unwrap()))
            .collect();
        Net {
            key,
            nodes,
            ids: ids.to_vec(),
            events: vec![Vec::new(); ids.len()],
            in_flight: VecDeque::new(),
            sent: HashMap::new(),
            drop_rule: None,
            capture: false,
            captured: Vec::new(),
            forged: 0,
            now: 0,
        }
    }

    pub fn node(&mut self, id: NodeId) -> &mut Node {
        let i = self.index(id);
        self.nodes[i].as_mut().expect("node is running")
    }

    /// Puts a packet on the wire to `to` in a fresh datagram (new counter,
    /// valid tag), as only a holder of the key could.
    pub fn forge(&mut self, to: NodeId, packet: &Packet) {
        self.forged += 1;
        let mut datagram = frame(0, u64::MAX / 2 + self.forged, &packet.encode());
        self.key.seal(&mut datagram);
        self.replay(to, datagram);
    }

    /// Puts a captured datagram on the wire again, byte for byte, to `to`.
    pub fn replay(&mut self, to: NodeId, datagram: Vec<u8>) {
        let i = self.index(to);
        self.in_flight.push_back((i, datagram));
    }

    /// Submits a message at a node, now.
    pub fn submit(&mut self, id: NodeId, payload: &[u8]) {
        let now = self.now;
        self.node(id).submit(now, payload.to_vec()).unwrap();
    }

    fn index(&self, id: NodeId) -> usize {
        self.ids
            .iter()
            .position(|x| *x == id)
            .expect("configured id")
    }

    /// The node's process dies: it sends and receives nothing more.
    pub fn crash(&mut self, id: NodeId) {
        let i = self.index(id);
        self.nodes[i] = None;
    }

    /// A new process starts for the node, with incarnation `epoch`.
    pub fn restart(&mut self, id: NodeId, epoch: u64, config: Config) {
        let i = self.index(id);
        let node = Node::with_epoch(id, &self.ids, self.key.clone(), config, self.now, epoch);
        self.nodes[i] = Some(node.unwrap());
        self.events[i].clear();
    }

    /// Collects what every node wants sent and what it delivered.
    fn collect(&mut self) {
        for from in 0..self.nodes.len() {
            let Some(node) = self.nodes[from].as_mut() else {
                continue;
            };
            while let Some(event) = node.poll_event() {
                self.events[from].push(event);
            }
            while let Some(t) = node.poll_transmit() {
                for to in 0..self.ids.len() {
                    let addressed = match t.destination {
                        Destination::AllOthers => to != from,
                        Destination::Node(id) => self.ids[to] == id,
                    };
                    if addressed {
                        self.in_flight.push_back((to, t.datagram.clone()));
                    }
                }
            }
        }
    }

    /// Delivers datagrams until none is in flight; time stands still. A
    /// ring whose token circulates without ever resting would never stop,
    /// so a scenario fails after a million datagrams.
    pub fn run_network(&mut self) {
        assert!(
            self.run_network_at_most(1_000_000),
            "the network never went quiet: a token circulates without end"
        );
    }

    /// Delivers at most `datagrams` datagrams; whether the network went
    /// quiet. For scenarios where members keep asking for a packet that is
    /// always lost: time only passes between bursts.
    pub fn run_network_at_most(&mut self, datagrams: u32) -> bool {
        self.collect();
        let mut budget = datagrams;
        while let Some((to, datagram)) = self.in_flight.pop_front() {
            let Some(left) = budget.checked_sub(1) else {
                self.in_flight.push_front((to, datagram));
                return false;
            };
            budget = left;
            let lost = match self.drop_rule.as_mut() {
                Some(rule) => {
                    let packet = decode(&self.key, &datagram);
                    let repeats = self.sent.entry((to, packet.encode())).or_default();
                    let lost = rule(self.ids[to], &packet, *repeats);
                    *repeats += 1;
                    lost
                }
                None => false,
            };
            if self.capture && !lost {
                self.captured.push((self.ids[to], datagram.clone()));
            }
            if let (false, Some(node)) = (lost, self.nodes[to].as_mut()) {
                node.handle_datagram(self.now, &datagram);
            }
            self.collect();
        }
        true
    }

    /// Moves the clock to the earliest timer of a running node, lets every
    /// node whose timer is due handle it, then runs the network dry.
    pub fn advance(&mut self) {
        self.run_network();
        self.fire_timers();
        self.run_network();
    }

    /// Like `advance`, delivering at most `datagrams` datagrams before and
    /// after the timers.
    pub fn advance_at_most(&mut self, datagrams: u32) {
        self.run_network_at_most(datagrams);
        self.fire_timers();
        self.run_network_at_most(datagrams);
    }

    fn fire_timers(&mut self) {
        let Some(next) = self
            .nodes
            .iter()
            .flatten()
            .filter_map(Node::poll_timeout)
            .min()
        else {
            return;
        };
        self.now = self.now.max(next);
        for node in self.nodes.iter_mut().flatten() {
            if node.poll_timeout().is_some_and(|t| t <= self.now) {
                node.handle_timeout(self.now);
            }
        }
    }

    /// Advances until `done` holds, at most `steps` times.
    pub fn advance_until(&mut self, steps: usize, mut done: impl FnMut(&mut Net) -> bool) {
        for _ in 0..steps {
            if done(self) {
                return;
            }
            self.advance();
        }
        assert!(done(self), "condition not reached within {steps} steps");
    }

    /// Whether every running node is operational in one ring of `members`.
    pub fn one_ring(&self, members: &[NodeId]) -> bool {
        let mut rings = self.nodes.iter().flatten().map(Node::ring);
        let first = rings.next();
        self.nodes
            .iter()
            .flatten()
            .all(|n| n.is_operational() && n.members() == members)
            && rings.all(|r| Some(r) == first)
    }

    /// The payloads a node delivered since its latest membership event.
    pub fn delivered_in_current_ring(&self, id: NodeId) -> Vec<Vec<u8>> {
        let events = &self.events[self.index(id)];
        let start = events
            .iter()
            .rposition(|e| matches!(e, Event::Membership { .. }))
            .map_or(0, |p| p + 1);
        events[start..]
            .iter()
            .filter_map(|e| match e {
                Event::Deliver { payload, .. } => Some(payload.clone()),
                _ => None,
            })
            .collect()
    }

    /// The payloads a node delivered in the ring before its latest one:
    /// between its last two membership events.
    pub fn delivered_in_previous_ring(&self, id: NodeId) -> Vec<Vec<u8>> {
        let events = &self.events[self.index(id)];
        let changes: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e, Event::Membership { .. }))
            .map(|(i, _)| i)
            .collect();
        let [.., from, to] = changes[..] else {
            panic!("node {id} installed fewer than two rings");
        };
        events[from..to]
            .iter()
            .filter_map(|e| match e {
                Event::Deliver { payload, .. } => Some(payload.clone()),
                _ => None,
            })
            .collect()
    }
}

/// Whether a packet is a data-carriage packet whose payload contains `tag`.
pub fn carries(packet: &Packet, tag: &[u8]) -> bool {
    matches!(&packet.body, Body::Data(c) if c.payload.windows(tag.len()).any(|w| w == tag))
}

/// The packet in a datagram a node sent.
pub fn decode(key: &ClusterKey, datagram: &[u8]) -> Packet {
    Packet::decode(&key.open(datagram).unwrap()[FRESHNESS_LEN..]).unwrap()
}
