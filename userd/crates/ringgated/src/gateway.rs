//! The daemon's gateway half: it feeds the cluster state machine
//! (`ringgate_cluster::ClusterNode`) with what the ring delivers, the
//! clock, the module's measured load and the operator's commands, and
//! carries out its outputs in order: module actions over netlink, each
//! finished before the broadcasts that follow it are submitted (a release
//! must be done before the `Released` message lets a peer take the VIP),
//! broadcasts and snapshots to the ring, answers to waiting commands.
//!
//! It also keeps the module's ownership lease renewed from the ring's own
//! thread (a daemon that dies or hangs stops the node answering within the
//! lease) and keeps the replicated state on disk, written atomically.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use ringgate_cluster::config::{ClusterConfig, HealthCheck, ServiceMode};
use ringgate_cluster::model::{BackendId, Micros, Vip};
use ringgate_cluster::state::MoveReason;
use ringgate_cluster::{ClusterNode, Command, ModuleAction, Output};
use ringgate_netlink::{Client, Error};
use ringgate_ring::keyring::Keyring;
use ringgate_ring::node::{Event, Priority, SubmitError};
use ringgate_ring::wire::RingId;
use serde_json::Value;

use crate::cluster_file::ClusterOptions;
use crate::cluster_outbox::ClusterOutbox;
use crate::health::Checker;
use crate::http_load::{self, HttpLoad, HttpRates};
use crate::http_proxy::HttpProxy;
use crate::links;
use crate::load_meter::{self, Totals};
use crate::module_sync::ModuleSync;
use crate::peer_links::{LinkReader, PeerLinks};
use crate::persister::Persister;
use crate::release_gate::{Broadcast, ReleaseGate};
use crate::runtime::UdpRing;
use crate::session_sync;
use crate::session_worker::{SessionCounters, SessionWorker};
use crate::snat_shares::SnatShares;
use crate::state_file;
use crate::turn_phases::TurnPhases;
use crate::vip_owners::VipOwners;

/// How often the module's per-VIP load is read.
const MEASURE_EVERY: Duration = Duration::from_secs(1);
/// The state is written at most this often, unless something an operator
/// did or a state transfer changed it (then at once).
const PERSIST_EVERY: Duration = Duration::from_secs(1);
/// Commands waiting for the ring's agreement; more are refused.
const MAX_PENDING: usize = 64;
/// After this, a command's client has given up (the control socket waits
/// 10 s) and its entry is dropped.
const PENDING_TIMEOUT: Duration = Duration::from_secs(15);

fn log(msg: &str) {
    eprintln!("ringgated: {msg}");
}

/// An operator's request, answered with JSON or an error.
pub type Reply = Sender<Result<Value, String>>;

pub struct Gateway {
    node: ClusterNode,
    module: Option<ModuleSync>,
    /// Commands waiting for agreement, with when they were sent.
    pending: HashMap<u64, (Instant, Reply)>,
    persisted_at: Option<Instant>,
    dirty: bool,
    urgent: bool,
    measured: Option<(Instant, BTreeMap<Vip, Totals>)>,
    lease_renewed: Option<Instant>,
    /// When a lease renewal last came late (see `keep_lease`).
    stalled_at: Option<Instant>,
    /// The state machine's self fence as `drain` last saw it: each fence
    /// is logged once, whether the ring still ran or had gone down.
    fenced_seen: bool,
    /// The ring's keys, which seal the state file.
    keys: Keyring,
    /// The lease length the module was last given.
    lease_sent_ms: Option<u32>,
    /// Hand-overs held while the module refuses to release their VIP.
    releases: ReleaseGate,
    /// A snapshot the ring asked for and has not taken yet.
    snapshot: Option<(RingId, Vec<u8>)>,
    /// Cluster messages waiting for room in the ring's queues.
    outbox: ClusterOutbox,
    persister: Persister,
    /// The last (module owns, node holds) difference corrected and logged.
    last_mismatch: Option<(BTreeSet<Vip>, BTreeSet<Vip>)>,
    /// Module requests refused (for status), and the latest reason.
    module_errors: u64,
    last_module_error: Option<String>,
    /// This node's sessions carried to its peers' modules, and theirs to
    /// its own (see `session_sync`), on the worker's thread; `None`
    /// without a module.
    sessions: Option<SessionWorker>,
    /// Membership changes seen, each of which makes the worker announce
    /// every session again.
    memberships: u64,
    /// Without a session worker: whether this node still owes the ring's
    /// current members the (empty) end of a full announcement, which a
    /// joiner waits for (see `table_wait`).
    empty_table_due: bool,
    /// Where the peers are, for the module to send packets of their
    /// sessions to them (see `peer_links`); used only with a module.
    peers: PeerLinks,
    /// Which node the module was told owns each VIP (see `vip_owners`).
    vip_owners: VipOwners,
    /// The outbound translation's ports shared among the ring's members
    /// (see `snat_shares`).
    snat: SnatShares,
    /// Reads this node's links (`None` without a module, or if its thread
    /// could not be started: then no peer gets packets from this node).
    link_reader: Option<LinkReader>,
    /// Checks the configured back-ends; its verdicts go to the cluster,
    /// which decides by majority (see `ringgate_cluster::health`).
    checker: Checker,
    /// `ringgate-l7d`, serving the HTTP-mode services (see `http_proxy`).
    proxy: HttpProxy,
    /// Its counters, read on a thread of their own; `None` if that thread
    /// could not be started (the load then leaves HTTP traffic out).
    http_load: Option<HttpLoad>,
    /// The HTTP rates, between the proxy's readings.
    http_rates: HttpRates,
    /// Where the ring thread's current turn spends its time (see
    /// `turn_phases`).
    phases: TurnPhases,
}

/// Every back-end with a health check in `config`, with its check.
fn health_targets(config: &ClusterConfig) -> Vec<(BackendId, HealthCheck)> {
    let mut targets = Vec::new();
    for v in &config.vips {
        for s in &v.services {
            let Some(check) = &s.health else { continue };
            for b in &s.backends {
                let id = BackendId {
                    vip: v.addr,
                    proto: s.proto,
                    port: s.port,
                    addr: b.addr,
                    backend_port: b.port,
                };
                targets.push((id, check.clone()));
            }
        }
    }
    targets
}

/// Whether `backend` belongs to an HTTP-mode service of `config`.
fn is_http(config: &ClusterConfig, backend: &BackendId) -> bool {
    config
        .vips
        .iter()
        .filter(|v| v.addr == backend.vip)
        .flat_map(|v| &v.services)
        .any(|s| s.proto == backend.proto && s.port == backend.port && s.mode == ServiceMode::Http)
}

impl Gateway {
    /// Starts from the state file if there is one (a restart), else from
    /// the configuration file; releases whatever a predecessor left owned
    /// in the module and starts the ownership lease. `keys` are the ring's:
    /// the state file is sealed with them (see `state_file`).
    pub fn start(
        me: u16,
        options: ClusterOptions,
        client: Option<Client>,
        keys: Keyring,
    ) -> Result<Gateway, String> {
        let node = match std::fs::read(&options.state_file) {
            Ok(bytes) => {
                let refuse = |e: &dyn std::fmt::Display| {
                    format!(
                        "cluster state file {}: {e} (move it away to start from the configuration file)",
                        options.state_file.display()
                    )
                };
                let state = state_file::open(&keys, &bytes).map_err(|e| refuse(&e))?;
                let mut node = ClusterNode::restore(me, state).map_err(|e| refuse(&e))?;
                node.bring(options.config.clone());
                log(&format!(
                    "cluster state restored from {} (configuration version {})",
                    options.state_file.display(),
                    node.state().config.version
                ));
                node
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                ClusterNode::new(me, options.config.clone())
            }
            Err(e) => {
                return Err(format!(
                    "cluster state file {}: {e}",
                    options.state_file.display()
                ))
            }
        };
        let module = client.map(ModuleSync::new);
        let options_state_file = options.state_file.clone();
        let proxy = HttpProxy::new(options.http_proxy.clone());
        let http_load = match HttpLoad::start(options.http_proxy.status_socket.clone()) {
            Ok(reader) => Some(reader),
            Err(e) => {
                log(&format!(
                    "reading the HTTP proxy's load: {e}; the VIPs' load leaves HTTP traffic out"
                ));
                None
            }
        };
        let checker = Checker::spawn(health_targets(&node.state().config));
        let mut gateway = Gateway {
            node,
            module,
            pending: HashMap::new(),
            persisted_at: None,
            dirty: false,
            urgent: false,
            measured: None,
            lease_renewed: None,
            module_errors: 0,
            last_module_error: None,
            checker,
            last_mismatch: None,
            stalled_at: None,
            fenced_seen: false,
            keys,
            lease_sent_ms: None,
            releases: ReleaseGate::default(),
            snapshot: None,
            outbox: ClusterOutbox::default(),
            persister: Persister::spawn(options_state_file),
            sessions: None,
            memberships: 0,
            empty_table_due: false,
            peers: PeerLinks::new(),
            vip_owners: VipOwners::new(),
            snat: SnatShares::default(),
            link_reader: None,
            proxy,
            http_load,
            http_rates: HttpRates::default(),
            phases: TurnPhases::default(),
        };
        if let Some(module) = &gateway.module {
            // Sessions record the node that created them: session sync
            // announces this node's own and imports the others as theirs.
            let mut errors = module.release_all();
            errors.extend(module.disown_sessions(me)?);
            gateway.note_errors(errors);
            gateway.renew_lease(Instant::now());
            gateway.sessions = Some(SessionWorker::spawn(me));
            gateway.link_reader = match LinkReader::spawn() {
                Ok(reader) => Some(reader),
                Err(e) => {
                    log(&format!(
                        "links thread not started: {e}; no packet is sent to a session's owner"
                    ));
                    None
                }
            };
        }
        Ok(gateway)
    }

    pub fn node(&self) -> &ClusterNode {
        &self.node
    }

    /// The steps of the ring thread's current turn, timed.
    pub fn phases(&mut self) -> &mut TurnPhases {
        &mut self.phases
    }

    /// Hands one event of the ring node to the state machine.
    pub fn on_event(&mut self, ring: &mut UdpRing, event: Event) {
        let now = ring.now();
        let event = match event {
            // Session batches go to the session worker, moved, not copied
            // (up to 26 KB each). This node's own come back too: skipped.
            Event::Deliver {
                origin, payload, ..
            } if session_sync::is_batch(&payload) => {
                if let Some(sessions) = &self.sessions {
                    if origin != self.node.id() {
                        sessions.import(origin, payload, self.memberships);
                    }
                }
                self.phases.lap("handing a session batch to the worker");
                return;
            }
            // Where a peer is on the segments: for the module's peer table.
            Event::Deliver {
                origin, payload, ..
            } if links::is_links(&payload) => {
                if self.module.is_some() && origin != self.node.id() {
                    if let Err(e) = self.peers.heard(origin, &payload) {
                        log(&format!("links announced by node {origin} ignored: {e}"));
                    }
                    self.give_peer_table(Instant::now());
                }
                self.phases.lap("a peer's links");
                return;
            }
            event => event,
        };
        if let Event::Membership { members, .. } = &event {
            // A node that joined has none of this node's sessions yet.
            self.memberships += 1;
            self.empty_table_due = self.sessions.is_none();
            // A node that left must get no more packets at once.
            self.peers.membership(members);
            self.snat.membership(members);
            self.give_snat();
            self.give_peer_table(Instant::now());
            self.phases
                .lap("the module's peer table and ports after a membership");
        }
        if matches!(event, Event::Membership { .. } | Event::Snapshot { .. }) {
            self.urgent = true;
        }
        // Every input may find the self fence run out: it must know the
        // ring node's latest token first.
        self.node.observe_token(ring.node().last_token_at());
        self.node.handle_ring_event(now, event);
        self.phases.lap("the cluster state machine");
        self.drain(ring);
    }

    /// Lets time pass: the state machine's timers, the load reading, the
    /// lease, and the state file. Call after every turn of the loop.
    pub fn pump(&mut self, ring: &mut UdpRing) {
        let now = ring.now();
        // First at the room the last token visit made.
        for line in self.outbox.retry(ring.node(), now) {
            log(&line);
        }
        self.phases.lap("the cluster outbox");
        let operational = ring.node().is_operational();
        let instant = Instant::now();
        // A thread that was not scheduled for longer than the self fence
        // finds the state machine's latch unset (it is set at its next
        // input) and its ring node still operational (the token's loss is
        // noticed at its next timeout); and after a second or more the
        // periodic check below is due in the same turn. Its peers may have
        // taken its VIPs meanwhile: a take there would announce them with
        // gratuitous ARP and steer the clients away from their new owner.
        // So the self fence is latched, and what it releases is released,
        // before the lease is checked and before anything may take a VIP
        // back (see `may_take_back`).
        self.node.observe_token(ring.node().last_token_at());
        self.node.tick(now, operational);
        self.phases.lap("the cluster state machine");
        // Each module request the outputs make is timed on its own
        // (`drain`); what is left is the outputs' other work.
        self.drain(ring);
        self.phases.lap("the cluster state machine's outputs");
        self.keep_lease(instant);
        self.phases.lap("the ownership lease");
        if self
            .measured
            .as_ref()
            .is_none_or(|(at, _)| instant.duration_since(*at) >= MEASURE_EVERY)
        {
            self.measure(instant);
            self.phases.lap("reading the module's load");
            self.update_proxy(instant);
            self.phases.lap("the HTTP proxy's configuration");
            let may_take = self.may_take_back(ring, instant);
            self.reconcile_ownership(may_take, "the periodic check");
            self.phases.lap("checking the module's VIPs");
        }
        // After a stall past the lease, the VIPs this node still holds are
        // taken back as soon as it is safe, not at the next periodic check.
        if self.stalled_at.is_some() && self.may_take_back(ring, instant) {
            self.stalled_at = None;
            self.reconcile_ownership(true, "the ring went on after a stall");
            self.phases.lap("taking VIPs back after a stall");
        }
        self.retry_releases(ring);
        self.phases.lap("retrying releases");
        self.send_snapshot(ring);
        self.phases.lap("the state transfer");
        self.sync_sessions(ring);
        self.phases.lap("submitting session batches");
        self.report_table(ring);
        self.sync_peers(ring, instant);
        self.phases.lap("the peer table and ports");
        self.give_vip_owners(instant);
        self.phases.lap("the VIPs' owner nodes");
        let verdicts = self.checker.changes();
        if !verdicts.is_empty() {
            self.node.observe_health(&verdicts);
        }
        self.node.observe_token(ring.node().last_token_at());
        self.node.tick(now, operational);
        self.phases.lap("the cluster state machine");
        self.drain(ring);
        self.persist_if_due(instant);
        self.phases.lap("sealing the state file");
    }

    /// Reads this node's links when due, announces them when due, and
    /// gives the module a new peer table when it changed.
    fn sync_peers(&mut self, ring: &mut UdpRing, now: Instant) {
        if self.module.is_none() {
            return;
        }
        match self.link_reader.as_ref().and_then(LinkReader::latest) {
            Some(Ok(fresh)) => self.peers.local(fresh),
            Some(Err(e)) => log(&e),
            None => {}
        }
        if ring.node().is_operational() {
            if let Some(payload) = self.peers.announcement(now) {
                let ring_now = ring.now();
                // Refused when the queue is full: the next turn tries again.
                if ring
                    .node()
                    .submit_with(ring_now, Priority::Control, payload)
                    .is_ok()
                {
                    self.peers.sent(now);
                }
            }
        }
        self.give_snat();
        self.give_peer_table(now);
    }

    /// Gives the module this node's share of the outbound translation, and
    /// the peer table every member's ports, if they changed (see
    /// `snat_shares`); a refusal is tried again at the next turn.
    fn give_snat(&mut self) {
        let me = self.node.id();
        let config = &self.node.state().config;
        let configured: Vec<u16> = config.nodes.iter().map(|n| n.id).collect();
        let (plan, due) = self.snat.due(config.snat.as_ref(), &configured, me);
        self.peers.ports(plan.ports);
        if !due {
            return;
        }
        let Some(module) = &self.module else {
            return;
        };
        match module.client().snat_set(plan.module.as_ref()) {
            Ok(()) => {
                match &plan.module {
                    Some(s) => log(&format!(
                        "outbound translation: {}/{} leaves from {} with {}",
                        s.source,
                        s.prefix_len,
                        s.to,
                        match s.ports {
                            Some(p) => format!("ports {}-{}", p.first, p.last),
                            None => "no ports here".into(),
                        }
                    )),
                    None => log("outbound translation: off"),
                }
                self.snat.given(plan.module, true);
            }
            Err(e) => {
                self.snat.given(plan.module, false);
                self.note_errors(vec![format!("set the module's outbound translation: {e}")]);
            }
        }
    }

    /// Gives the module the peer table the ring's members make, if it
    /// changed (see `peer_links`).
    fn give_peer_table(&mut self, now: Instant) {
        let Some(module) = &self.module else {
            return;
        };
        let Some((table, left_out)) = self.peers.table_to_give(self.node.id(), now) else {
            return;
        };
        if left_out > 0 {
            log(&format!(
                "peer table: {left_out} routes left out (the module holds {})",
                crate::peer_links::MAX_PEERS
            ));
        }
        match module.client().peer_set(&table) {
            Ok(()) => {
                let nodes: BTreeSet<u16> = table.iter().map(|p| p.node).collect();
                log(&format!(
                    "peer table: {} routes to nodes {nodes:?}",
                    table.len()
                ));
                self.peers.given(table, Ok(()), now);
            }
            Err(e) => {
                self.peers.given(table, Err(()), now);
                self.note_errors(vec![format!("set the module's peer table: {e}")]);
            }
        }
    }

    /// Tells the module which node owns each VIP whose owner changed since
    /// it was last told (see `vip_owners`). A VIP it refuses (not in its
    /// pool yet, say) is tried again a second later.
    fn give_vip_owners(&mut self, now: Instant) {
        if self.module.is_none() {
            return;
        }
        for (vip, node) in self.vip_owners.to_give(self.node.state(), now) {
            let Some(module) = &self.module else {
                return;
            };
            // A VIP the module's pool does not have is done with: the
            // configuration that adds it tells every owner again. Another
            // refusal is logged and counted once, not at every retry, while
            // the refusals go on (an older module without the attribute).
            let accepted = match module.client().vip_set_owner_node(vip, node) {
                Ok(()) | Err(Error::NoSuchVip(_)) => true,
                Err(e) => {
                    if !self.vip_owners.refused(vip) {
                        self.note_errors(vec![format!(
                            "record node {node} as owner of VIP {vip}: {e}"
                        )]);
                    }
                    false
                }
            };
            self.vip_owners.given(vip, node, accepted, now);
        }
    }

    /// Tells the cluster when this node's module holds the session table,
    /// so that it may be given VIPs (the node sends that once per ring
    /// while the cluster does not list it). A node without a module has no
    /// table to wait for; it tells the joiners, which wait for every
    /// member's, that it has no session.
    fn report_table(&mut self, ring: &mut UdpRing) {
        let now = ring.now();
        let held = match &self.sessions {
            Some(sessions) => sessions.table_held_in() == Some(self.memberships),
            None => {
                if self.empty_table_due && ring.node().is_operational() {
                    let marker = session_sync::encode_end(0, 0);
                    // Refused when the queue is full: the next turn tries
                    // again.
                    if ring.node().submit_with(now, Priority::Bulk, marker).is_ok() {
                        self.empty_table_due = false;
                    }
                }
                true
            }
        };
        if held {
            self.node.report_table_held(now);
        }
    }

    /// Tells the session worker how the ring stands and submits the
    /// batches it made. A batch the ring has no room for is not lost: the
    /// worker announces everything again at its next read.
    fn sync_sessions(&mut self, ring: &mut UdpRing) {
        let Some(sessions) = &mut self.sessions else {
            return;
        };
        let operational = ring.node().is_operational();
        let members = operational.then(|| ring.node().members());
        sessions.ring(members, self.memberships);
        let now = ring.now();
        let mut refused = false;
        // Taken whether or not the ring runs. While it does not they are
        // dropped: they are in the module's table, which the worker's reads
        // announce (all of it after the next membership change).
        let fresh = sessions.fresh_batches();
        let fresh = if operational { fresh } else { Vec::new() };
        for batch in fresh.into_iter().chain(sessions.batches()) {
            if refused {
                // Everything goes again anyway.
                continue;
            }
            let count_of = session_sync::count(&batch);
            match ring.node().submit_with(now, Priority::Bulk, batch) {
                Ok(_) => sessions.announced(count_of),
                Err(e) => {
                    log(&format!(
                        "session batch not sent, all sessions go again: {e}"
                    ));
                    sessions.announce_again();
                    refused = true;
                }
            }
        }
        // The worker logged them already.
        let mut errors = sessions.errors();
        self.module_errors += errors.len() as u64;
        if let Some(last) = errors.pop() {
            self.last_module_error = Some(last);
        }
    }

    /// Session sync's counts, for the status view.
    pub fn session_counters(&self) -> Option<&SessionCounters> {
        self.sessions.as_ref().map(SessionWorker::counters)
    }

    /// Whether VIPs the module lost to its lease may be taken back now: the
    /// ring is up, this node is not self-fenced (its token came within the
    /// self fence), and, after a stall, a token came since. A token means
    /// the ring this node is in still runs, so no peer has taken its VIPs
    /// over: that needs a new ring without it. (A late packet of a ring
    /// the others left would be such a token only within the self fence,
    /// which the peers' takeover fence outlasts.)
    fn may_take_back(&self, ring: &mut UdpRing, instant: Instant) -> bool {
        if !ring.node().is_operational() || self.node.self_fenced() {
            return false;
        }
        let Some(stall) = self.stalled_at else {
            return true;
        };
        let now = ring.now();
        ring.node().last_token_at().is_some_and(|t| {
            let age = Duration::from_micros(now.saturating_sub(t));
            instant.checked_sub(age).is_some_and(|token| token > stall)
        })
    }

    /// When the state machine next needs a tick, in ring time.
    pub fn poll_timeout(&self) -> Option<Micros> {
        self.node.poll_timeout()
    }

    /// Sends an operator's command to the cluster; `reply` gets the agreed
    /// outcome once the ring delivered it.
    pub fn command(&mut self, ring: &mut UdpRing, command: Command, reply: Reply) {
        if self.pending.len() >= MAX_PENDING {
            let _ = reply.send(Err(
                "too many commands waiting for the ring; try again".into()
            ));
            return;
        }
        // A command the ring never answers (sent while this node waited for
        // a state transfer, say) is given up with the control socket's
        // timeout, so the map cannot fill up.
        let now = Instant::now();
        self.pending
            .retain(|_, (sent, _)| now.duration_since(*sent) < PENDING_TIMEOUT);
        let request = self.node.command(ring.now(), command);
        self.pending.insert(request, (now, reply));
        self.drain(ring);
    }

    /// Stops serving: releases every VIP and ends the lease, and writes the
    /// state, so a clean stop leaves nothing owned and a restart resumes.
    pub fn shutdown(&mut self) {
        if let Some(module) = &self.module {
            let mut errors = module.release_all();
            // With a release refused, the lease is left to run out: ending
            // it would leave that VIP owned for good.
            if errors.is_empty() {
                if let Err(e) = module.client().owner_lease(0) {
                    errors.push(format!("end the ownership lease: {e}"));
                }
            }
            self.note_errors(errors);
        }
        self.proxy.stop();
        self.write_state();
        self.persister.finish();
    }

    /// Brings `ringgate-l7d` in line with the configuration and the
    /// cluster's health verdicts (a no-op when nothing changed).
    fn update_proxy(&mut self, now: Instant) {
        let state = self.node.state();
        for line in self.proxy.update(&state.config, &state.down, now) {
            log(&line);
        }
    }

    /// The ring's keys changed (a rollover step): the state file is sealed
    /// again at once, so a restart with the new key file can open it.
    pub fn rekey(&mut self, keys: Keyring) {
        self.keys = keys;
        self.dirty = true;
        self.urgent = true;
    }

    /// Module requests refused since start, and the latest reason.
    pub fn module_errors(&self) -> (u64, Option<&str>) {
        (self.module_errors, self.last_module_error.as_deref())
    }

    fn drain(&mut self, ring: &mut UdpRing) {
        while let Some(output) = self.node.poll_output() {
            let now = ring.now();
            match output {
                Output::Module(action) => {
                    let released = self.act(&action);
                    self.phases.lap(match action {
                        ModuleAction::TakeVip(_) => "taking a VIP",
                        ModuleAction::ReleaseVip(_) => "releasing a VIP",
                        ModuleAction::ApplyConfig(_) => "applying a configuration",
                        ModuleAction::SetBackend { .. } => "setting a back-end's health",
                    });
                    self.submit(ring, released);
                }
                Output::Broadcast { priority, payload } => {
                    match self.releases.pass((priority, payload)) {
                        Some(broadcast) => self.submit(ring, vec![broadcast]),
                        None => log("hand-over held back: the module has not released the VIP"),
                    }
                }
                Output::Snapshot { ring: id, data } => {
                    self.snapshot = Some((id, data));
                    self.send_snapshot(ring);
                }
                Output::CommandDone { request, result } => {
                    self.urgent = true;
                    if let Some((_, reply)) = self.pending.remove(&request) {
                        let answer = result
                            .map(|()| serde_json::json!({ "ok": true }))
                            .map_err(|e| e.to_string());
                        let _ = reply.send(answer);
                    }
                }
                Output::Moved(m) => {
                    let node =
                        |n: Option<u16>| n.map_or("nobody".to_string(), |n| format!("node {n}"));
                    log(&format!(
                        "VIP {} moves from {} to {} ({})",
                        m.vip,
                        node(m.from),
                        node(m.to),
                        reason(m.reason)
                    ));
                }
                Output::ReformRing => {
                    self.log_self_fence(ring, now);
                    log("self fence: forming the ring again");
                    ring.node().reform(now);
                }
                Output::StateReplaced => {
                    self.urgent = true;
                    log(&format!(
                        "cluster state received (configuration version {})",
                        self.node.state().config.version
                    ));
                }
            }
            self.dirty = true;
            self.phases.lap("the cluster's other outputs");
        }
        // A fence latched while the ring was down comes without
        // `ReformRing` (there is no ring to leave): said here.
        let now = ring.now();
        self.log_self_fence(ring, now);
    }

    /// Logs a self fence the first time it is seen, and notes its end.
    fn log_self_fence(&mut self, ring: &mut UdpRing, now: u64) {
        let fenced = self.node.self_fenced();
        if fenced && !self.fenced_seen {
            let since = ring
                .node()
                .last_token_at()
                .map_or(0, |t| now.saturating_sub(t));
            log(&format!(
                "no token for {} ms (self fence {} ms, the ring {}): released every VIP",
                since / 1000,
                self.node.state().config.settings.self_fence_us / 1000,
                if ring.node().is_operational() {
                    "still running"
                } else {
                    "down"
                }
            ));
        }
        self.fenced_seen = fenced;
    }

    /// Sends the snapshot the ring asked for, or keeps it to try again on
    /// the next pass (a full control queue refuses it for a moment), as
    /// long as its ring lasts: the receivers serve nothing until it comes.
    fn send_snapshot(&mut self, ring: &mut UdpRing) {
        let Some((id, data)) = self.snapshot.take() else {
            return;
        };
        if ring.node().ring() != id {
            log("state transfer dropped: its ring ended (the next ring asks again)");
            return;
        }
        let now = ring.now();
        match ring.node().submit_snapshot(now, id, data.clone()) {
            Ok(()) => {}
            Err(SubmitError::Backlog(_)) => self.snapshot = Some((id, data)),
            Err(e) => log(&format!("state transfer not sent: {e}")),
        }
    }

    /// Hands cluster messages to the ring, or keeps them until it has room
    /// (see `cluster_outbox`).
    fn submit(&mut self, ring: &mut UdpRing, broadcasts: Vec<Broadcast>) {
        let now = ring.now();
        for line in self.outbox.send(ring.node(), now, broadcasts) {
            log(&line);
        }
    }

    /// Tries again the releases the module refused; a hand-over held for
    /// one goes out once it succeeds.
    fn retry_releases(&mut self, ring: &mut UdpRing) {
        if !self.releases.holds_any() {
            return;
        }
        let Some(module) = &self.module else { return };
        let mut ready = Vec::new();
        for vip in self.releases.unreleased() {
            let errors = module.apply(&ModuleAction::ReleaseVip(vip), &self.node.state().down);
            if errors.is_empty() {
                log(&format!(
                    "VIP {vip} released at last; its hand-over goes out"
                ));
            }
            ready.extend(self.releases.release_done(vip, errors.is_empty()));
        }
        self.submit(ring, ready);
    }

    /// Does one module action, synchronously: the next output (perhaps the
    /// broadcast that lets a peer take a released VIP) waits for it.
    /// Returns hand-overs that a successful release lets out.
    fn act(&mut self, action: &ModuleAction) -> Vec<Broadcast> {
        // A configuration with many changes takes a while on a slow
        // machine: renewing as it goes keeps the lease from running out in
        // the middle of it.
        self.keep_lease(Instant::now());
        match action {
            ModuleAction::TakeVip(vip) => log(&format!("taking VIP {vip}")),
            ModuleAction::ReleaseVip(vip) => log(&format!("releasing VIP {vip}")),
            ModuleAction::ApplyConfig(c) => {
                self.urgent = true;
                self.checker.replace(health_targets(c));
                log(&format!(
                    "applying cluster configuration version {}",
                    c.version
                ));
            }
            ModuleAction::SetBackend { backend, up } => log(&format!(
                "back-end {}:{} of {}:{} is {} for the cluster",
                backend.addr,
                backend.backend_port,
                backend.vip,
                backend.port,
                if *up { "up" } else { "down" }
            )),
        }
        if let ModuleAction::ApplyConfig(_) | ModuleAction::SetBackend { .. } = action {
            self.update_proxy(Instant::now());
        }
        // The proxy alone serves an HTTP service: the module has none.
        if let ModuleAction::SetBackend { backend, .. } = action {
            if is_http(&self.node.state().config, backend) {
                return Vec::new();
            }
        }
        let Some(module) = &self.module else {
            return Vec::new();
        };
        let errors = module.apply(action, &self.node.state().down);
        if let ModuleAction::ApplyConfig(_) = action {
            self.vip_owners.pool_applied();
        }
        let ready = match action {
            ModuleAction::ReleaseVip(vip) => self.releases.release_done(*vip, errors.is_empty()),
            ModuleAction::TakeVip(vip) => {
                self.releases.taken(*vip);
                if errors.is_empty() {
                    if let Some(sessions) = &self.sessions {
                        sessions.taken(*vip);
                    }
                }
                Vec::new()
            }
            _ => Vec::new(),
        };
        self.note_errors(errors);
        ready
    }

    fn note_errors(&mut self, errors: Vec<String>) {
        for e in errors {
            log(&format!("module refused: {e}"));
            self.module_errors += 1;
            self.last_module_error = Some(e);
        }
    }

    /// Reads the module's counters (and the HTTP proxy's, see `http_load`)
    /// and gives the state machine each owned VIP's rates since the last
    /// reading.
    fn measure(&mut self, now: Instant) {
        let Some(module) = &self.module else {
            self.measured = Some((now, BTreeMap::new()));
            return;
        };
        let services = match module.client().services() {
            Ok(s) => s,
            Err(e) => {
                // The last good reading stays: the next one measures from
                // it over the longer interval (from nothing, it would count
                // the module's lifetime traffic as one interval's).
                self.note_errors(vec![format!("read load: {e}")]);
                return;
            }
        };
        let totals = load_meter::totals(&services);
        if let Some((at, before)) = &self.measured {
            let mut loads = load_meter::rates(before, &totals, now.duration_since(*at));
            // The HTTP services' traffic never passes the module's NAT.
            if let Some(http) = &self.http_load {
                loads = http_load::merge(loads, self.http_rates.update(http.latest(), now));
            }
            self.node.observe_load(&loads);
        }
        self.measured = Some((now, totals));
    }

    /// Renews the lease a quarter of the way through it, so three renewals
    /// in a row can be late before the node stops answering. If the daemon
    /// stalled past the whole lease, the module has released its VIPs: the
    /// ones this node should hold are taken again.
    fn keep_lease(&mut self, now: Instant) {
        if self.module.is_none() {
            return;
        }
        if self.releases.holds_any() {
            // The module refused to release a VIP this node gave up (and
            // may be self-fenced, its peers about to take over): the lease
            // is left to run out, which releases it in the module, with the
            // others, which are taken back once the release went through.
            return;
        }
        if self.lease_ms() == 0 {
            // The cluster turned the lease off: end the running one, once.
            if self.lease_sent_ms != Some(0) {
                self.renew_lease(now);
            }
            return;
        }
        // Lateness counts against the lease the module was last given (the
        // agreed length may have changed since).
        let sent = self.lease_sent_ms.unwrap_or(0).max(self.lease_ms());
        let lease = Duration::from_millis(u64::from(sent));
        let last = self.lease_renewed;
        if last.is_some_and(|t| now.duration_since(t) < lease / 4) {
            return;
        }
        self.renew_lease(now);
        // The module's clock decides when a lease ends, and a renewal can
        // reach the kernel later than the daemon sent it: a late renewal
        // may find the lease over although the daemon's own clock says it
        // renewed in time. So whenever a renewal came anywhere near the
        // end, the module's view is read back and corrected.
        if last.is_some_and(|t| now.duration_since(t) >= lease / 2) {
            // Peers may have taken the VIPs meanwhile (a stall past the
            // token-loss time ends this node's ring, which the ring node
            // notices only on its next timeout): nothing is taken back
            // here, only read and logged; `pump` takes back what the node
            // still holds once a token shows its ring went on
            // (`may_take_back`).
            self.stalled_at = Some(now);
            self.reconcile_ownership(
                false,
                &format!(
                    "a lease renewal came {} ms after the last (lease {} ms)",
                    last.map_or(0, |t| now.duration_since(t).as_millis()),
                    lease.as_millis()
                ),
            );
        }
    }

    /// Makes the module own exactly what this node holds, if it does not:
    /// a lease that ran out released everything, and an operator may have
    /// changed ownership by hand. `why` goes into the log when anything had
    /// to be corrected.
    fn reconcile_ownership(&mut self, may_take: bool, why: &str) {
        let Some(module) = &self.module else { return };
        let owned = match module.owned() {
            Ok(owned) => owned,
            Err(e) => {
                self.note_errors(vec![format!("read the module's VIPs: {e}")]);
                return;
            }
        };
        let held = self.node.held().clone();
        if owned == held {
            self.last_mismatch = None;
            return;
        }
        // The same mismatch again (a take the module keeps refusing, say)
        // is corrected again but not logged again every second.
        let mismatch = (owned.clone(), held.clone());
        let repeated = self.last_mismatch.as_ref() == Some(&mismatch);
        self.last_mismatch = Some(mismatch);
        if !repeated {
            log(&format!(
                "the module owns {owned:?} but this node holds {held:?} ({why}); correcting the module"
            ));
        }
        // Straight to the module, not through `act`, which renews the
        // lease itself.
        let down = &self.node.state().down;
        let mut errors: Vec<String> = owned
            .difference(&held)
            .flat_map(|vip| module.apply(&ModuleAction::ReleaseVip(*vip), down))
            .collect();
        if may_take {
            for vip in held.difference(&owned) {
                let refused = module.apply(&ModuleAction::TakeVip(*vip), down);
                // A VIP taken back here is taken as by `act`: the session
                // worker writes the conntrack entries its sessions need.
                if refused.is_empty() {
                    if let Some(sessions) = &self.sessions {
                        sessions.taken(*vip);
                    }
                }
                errors.extend(refused);
            }
        }
        if !repeated {
            self.note_errors(errors);
        }
    }

    /// The ownership lease in force: the cluster's agreed setting.
    pub fn lease_ms(&self) -> u32 {
        let us = self.node.state().config.settings.owner_lease_us;
        u32::try_from(us / 1000).unwrap_or(u32::MAX)
    }

    fn renew_lease(&mut self, now: Instant) {
        let ms = self.lease_ms();
        let Some(module) = &self.module else { return };
        match module.client().owner_lease(ms) {
            Ok(()) => {
                self.lease_renewed = Some(now);
                self.lease_sent_ms = Some(ms);
            }
            Err(e) => self.note_errors(vec![format!("renew the ownership lease: {e}")]),
        }
    }

    fn persist_if_due(&mut self, now: Instant) {
        if !self.dirty {
            return;
        }
        let due = self
            .persisted_at
            .is_none_or(|t| now.duration_since(t) >= PERSIST_EVERY);
        if self.urgent || due {
            self.write_state();
            self.persisted_at = Some(now);
        }
    }

    /// Hands the state to the persister thread (a durable write must not
    /// hold the ring's thread; see `persister`).
    fn write_state(&mut self) {
        self.dirty = false;
        self.urgent = false;
        self.persister
            .save(state_file::seal(&self.keys, &self.node.persist()));
    }
}

fn reason(r: MoveReason) -> &'static str {
    match r {
        MoveReason::Placement => "placement",
        MoveReason::Failover => "failover",
        MoveReason::Balance => "load balancing",
        MoveReason::Manual => "moved by hand",
        MoveReason::Drain => "its node is drained",
        MoveReason::Removed => "removed from the configuration",
        MoveReason::HandoffDone => "hand-over done",
    }
}
