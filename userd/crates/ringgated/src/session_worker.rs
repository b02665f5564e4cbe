//! Session sync's netlink work, on its own thread: reading the module's
//! session table, importing the peers' batches, adopting a dead node's
//! sessions and writing conntrack entries after a takeover.
//!
//! Each of these can take long (a dump of a large table, thousands of
//! conntrack inserts), and the ring's thread must not wait for any of
//! them: a token held past the self fence makes the node release every VIP
//! (seen: 180 ms without a token, right after a takeover, while the ring's
//! thread wrote the taken sessions' conntrack entries). So the ring's
//! thread only hands work over and submits the batches this thread made;
//! this thread runs at a lower priority, so it also does not take the CPU
//! from the ring's thread on a busy node.
//!
//! Everything queued is bounded. Imports waiting beyond
//! `MAX_QUEUED_IMPORTS` are dropped and counted (the full announcement
//! every node makes every `FULL_RESYNC_EVERY` brings them again). Batches
//! for the ring wait in a queue of `MAX_READY`, which the worker blocks on
//! (the ring's thread empties it every turn); a batch the ring refuses
//! makes the worker announce everything again. Requests other than imports
//! (the ring's state, a VIP taken) are handled before any queued import.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ringgate_cluster::model::Vip;
use ringgate_netlink::ctnetlink::Conntrack;
use ringgate_netlink::{Client, ConntrackMode, Session, SessionFilter};

use crate::module_sync::ModuleSync;
use crate::session_events::{self, FreshSessions};
use crate::session_sync::{self, Batch, ReadKind, SessionSync, SYNC_EVERY};
use crate::table_wait::{TableState, TableWait};

/// Peer batches of changes waiting to be imported; more are dropped (and
/// counted).
pub const MAX_QUEUED_IMPORTS: usize = 64;
/// Peer batches waiting to be imported beyond which a part of a full
/// announcement is dropped too: room for two whole tables of the largest
/// size (1,049 batches each). Changes come one small batch per ring turn
/// and node under a flood of new connections (the module notifies each),
/// and a full announcement dropped behind them kept a joiner from the
/// table for its 30 s wait (cluster-join-sync, once in CI); a part of one
/// is therefore dropped only if the worker is this far behind.
pub const MAX_QUEUED_FULL_PARTS: usize = 2048;
/// Batches made and not yet taken by the ring's thread; the worker waits
/// for room.
pub const MAX_READY: usize = 16;
/// Module errors not yet taken by the ring's thread; more are only logged.
const MAX_ERRORS: usize = 64;
/// A node that left the ring counts as gone for adoption this long, even
/// if it is back: a daemon restarted at once (systemd) can rejoin before
/// the node that took its VIPs has adopted their sessions, and, having
/// disowned them on start (see `ModuleSync::disown_sessions`), never
/// announces them again. Well beyond the takeover fence and a read.
pub const DEPARTED_FOR: Duration = Duration::from_secs(10);
/// How often the worker tries again to open its netlink socket.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);
/// Every node announces its whole table this often, so that a batch a peer
/// dropped (or a peer that missed one) is made good within this time.
pub const FULL_RESYNC_EVERY: Duration = Duration::from_secs(60);
/// The worker's nice value: above the ring's thread's (0), so the ring's
/// thread gets the CPU first when both want it.
const NICE: i32 = 10;

fn log(msg: &str) {
    eprintln!("ringgated: {msg}");
}

/// Counts of session sync, for the status view.
#[derive(Default, Debug)]
pub struct SessionCounters {
    // Relaxed atomics: each count stands alone, and the status view only
    // needs a recent value of each.
    /// Sessions this node announced to its peers (batches the ring took).
    pub announced: AtomicU64,
    /// Whether the worker has its netlink socket to the module.
    pub connected: AtomicBool,
    /// Peer sessions the module imported, and the ones it refused.
    pub imported: AtomicU64,
    pub import_refused: AtomicU64,
    /// Peer batches dropped because the import queue was full.
    pub import_dropped: AtomicU64,
    /// Peer batches that did not decode.
    pub batches_malformed: AtomicU64,
    /// Reads of the module's whole table, and of this node's recent
    /// changes only (see `session_sync::ReadKind`).
    pub whole_reads: AtomicU64,
    pub recent_reads: AtomicU64,
}

impl SessionCounters {
    /// The counts as the status view shows them.
    pub fn to_json(&self) -> serde_json::Value {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        serde_json::json!({
            "connected": self.connected.load(Ordering::Relaxed),
            "announced": get(&self.announced),
            "imported": get(&self.imported),
            "import_refused": get(&self.import_refused),
            "import_dropped": get(&self.import_dropped),
            "batches_malformed": get(&self.batches_malformed),
            "whole_reads": get(&self.whole_reads),
            "recent_reads": get(&self.recent_reads),
        })
    }
}

/// What the ring's thread asks of the worker.
enum Request {
    /// The ring's members, or `None` while it is not operational;
    /// `generation` counts membership changes, each of which makes this
    /// node announce everything again (a joiner has none of it yet).
    Ring {
        members: Option<Vec<u16>>,
        generation: u64,
    },
    /// A peer's batch, as delivered in membership generation `generation`.
    Import {
        origin: u16,
        payload: Vec<u8>,
        generation: u64,
    },
    /// This node's module took `vip`.
    Taken(Vip),
    /// The ring refused a batch: everything goes again.
    AnnounceAgain,
}

impl Request {
    fn is_import(&self) -> bool {
        matches!(self, Request::Import { .. })
    }
}

/// The ring thread's handle on the worker. Dropping it stops the worker.
pub struct SessionWorker {
    requests: Sender<Request>,
    /// The sessions the module notified, not yet announced.
    fresh: FreshSessions,
    /// Batches to submit to the ring.
    batches: Receiver<Vec<u8>>,
    /// Module requests that failed, for the daemon's error count.
    errors: Receiver<String>,
    queued_imports: Arc<AtomicUsize>,
    counters: Arc<SessionCounters>,
    /// The last ring state handed over.
    sent_ring: Option<(Option<Vec<u16>>, u64)>,
    /// 1 + the membership generation in which the module came to hold the
    /// session table (see `table_wait`); 0 before that.
    table_held: Arc<AtomicU64>,
}

impl SessionWorker {
    /// Starts the worker for node `me`, on its own netlink socket. If the
    /// socket or the thread cannot be had, the error is logged and session
    /// sync does nothing (the cluster runs without it).
    pub fn spawn(me: u16) -> SessionWorker {
        let (requests, inbox) = mpsc::channel();
        let (ready, batches) = mpsc::sync_channel(MAX_READY);
        let (failed, errors) = mpsc::sync_channel(MAX_ERRORS);
        let queued_imports = Arc::new(AtomicUsize::new(0));
        let counters = Arc::new(SessionCounters::default());
        let table_held = Arc::new(AtomicU64::new(0));
        let worker = Worker {
            table: TableWait::new(Instant::now()),
            table_held: Arc::clone(&table_held),
            waiting_logged: None,
            slow_read_logged: false,
            me,
            inbox,
            ready,
            failed,
            queued_imports: Arc::clone(&queued_imports),
            counters: Arc::clone(&counters),
            sync: SessionSync::default(),
            members: None,
            generation: None,
            taken: BTreeSet::new(),
            last_full: None,
            last_members: Vec::new(),
            departed: Vec::new(),
        };
        let fresh = FreshSessions::default();
        session_events::spawn(me, fresh.clone());
        let started = thread::Builder::new()
            .name("sessions".to_string())
            .spawn(move || worker.run());
        if let Err(e) = started {
            log(&format!(
                "session sync thread not started: {e}; sessions are not synced"
            ));
        }
        SessionWorker {
            requests,
            fresh,
            batches,
            errors,
            queued_imports,
            counters,
            sent_ring: None,
            table_held,
        }
    }

    /// The membership generation in which the module came to hold the
    /// session table (or stopped waiting for it), if it has.
    pub fn table_held_in(&self) -> Option<u64> {
        self.table_held.load(Ordering::Relaxed).checked_sub(1)
    }

    pub fn counters(&self) -> &SessionCounters {
        &self.counters
    }

    /// Tells the worker the ring's state (`None`: not operational), if it
    /// changed since last told. Allocates only then: called every turn.
    pub fn ring(&mut self, members: Option<&[u16]>, generation: u64) {
        let unchanged = self
            .sent_ring
            .as_ref()
            .is_some_and(|(m, g)| *g == generation && m.as_deref() == members);
        if unchanged {
            return;
        }
        let state = (members.map(<[u16]>::to_vec), generation);
        let (members, generation) = state.clone();
        if self
            .requests
            .send(Request::Ring {
                members,
                generation,
            })
            .is_ok()
        {
            self.sent_ring = Some(state);
        }
    }

    /// Queues a peer's batch, delivered in membership generation
    /// `generation`, for import, or drops it (counted) if the worker is
    /// that far behind: `MAX_QUEUED_IMPORTS` for changes,
    /// `MAX_QUEUED_FULL_PARTS` for parts of a full announcement. An end
    /// marker (a few bytes, one per full announcement) is never dropped:
    /// without it a joiner would wait for the next full announcement.
    pub fn import(&self, origin: u16, payload: Vec<u8>, generation: u64) {
        if session_sync::is_end(&payload) {
            let _ = self.requests.send(Request::Import {
                origin,
                payload,
                generation,
            });
            return;
        }
        let bound = if session_sync::is_full_part(&payload) {
            MAX_QUEUED_FULL_PARTS
        } else {
            MAX_QUEUED_IMPORTS
        };
        let queued = self.queued_imports.fetch_add(1, Ordering::Relaxed);
        let sent = queued < bound
            && self
                .requests
                .send(Request::Import {
                    origin,
                    payload,
                    generation,
                })
                .is_ok();
        if !sent {
            self.queued_imports.fetch_sub(1, Ordering::Relaxed);
            let dropped = self.counters.import_dropped.fetch_add(1, Ordering::Relaxed);
            // The first drop and then one in a hundred: a worker this far
            // behind would otherwise fill the log too.
            if dropped.is_multiple_of(100) {
                log(&format!(
                    "session batch from node {origin} dropped: {bound} batches wait for import already ({} dropped in all; the next full announcement brings them again)",
                    dropped + 1
                ));
            }
        }
    }

    /// Tells the worker this node's module took `vip`.
    pub fn taken(&self, vip: Vip) {
        let _ = self.requests.send(Request::Taken(vip));
    }

    /// Asks for everything to be announced again (the ring refused a
    /// batch).
    pub fn announce_again(&self) {
        let _ = self.requests.send(Request::AnnounceAgain);
    }

    /// The batches announcing the sessions the module notified since the
    /// last call (see `session_events`).
    pub fn fresh_batches(&self) -> Vec<Vec<u8>> {
        self.fresh.take_batches()
    }

    /// The batches the worker made since the last call, in order.
    pub fn batches(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        self.batches.try_iter()
    }

    /// Module errors the worker met (and logged) since the last call.
    pub fn errors(&self) -> Vec<String> {
        self.errors.try_iter().collect()
    }

    /// Counts the sessions of a batch the ring took.
    pub fn announced(&self, sessions: usize) {
        self.counters
            .announced
            .fetch_add(sessions as u64, Ordering::Relaxed);
    }
}

/// The worker thread's state.
struct Worker {
    me: u16,
    inbox: Receiver<Request>,
    ready: SyncSender<Vec<u8>>,
    failed: SyncSender<String>,
    queued_imports: Arc<AtomicUsize>,
    counters: Arc<SessionCounters>,
    sync: SessionSync,
    members: Option<Vec<u16>>,
    generation: Option<u64>,
    /// VIPs taken since the last read, whose sessions of other nodes get
    /// conntrack entries at the next read.
    taken: BTreeSet<Vip>,
    /// When everything was last announced.
    last_full: Option<Instant>,
    /// The members of the last operational ring, and the nodes that left
    /// a ring since, with when (see `DEPARTED_FOR`).
    last_members: Vec<u16>,
    departed: Vec<(u16, Instant)>,
    /// Whether the module holds the session table yet.
    table: TableWait,
    table_held: Arc<AtomicU64>,
    /// The generation whose wait was last logged as slow.
    waiting_logged: Option<u64>,
    /// Whether a slow read was logged (once: see `SessionSync::pace`).
    slow_read_logged: bool,
}

/// How often a whole read of `module`'s sessions is due, by its timeouts
/// (see `session_sync::whole_read_every`); every read is whole if they
/// cannot be read.
fn whole_every(module: &ModuleSync) -> Duration {
    match module.client().config() {
        Ok(c) => {
            let shortest = [
                c.timeout_syn,
                c.timeout_established,
                c.timeout_closing,
                c.timeout_udp,
            ]
            .into_iter()
            .min()
            .unwrap_or(0);
            session_sync::whole_read_every(Duration::from_secs(u64::from(shortest)))
        }
        Err(_) => SYNC_EVERY,
    }
}

/// Whether a session created by `owner`, of a VIP node `me` owns, is `me`'s
/// to adopt: its creator is not in the ring, or left it lately (and may be
/// back, without its sessions).
pub fn adoptable(owner: u16, me: u16, members: &[u16], departed: &[(u16, Instant)]) -> bool {
    owner != me && (!members.contains(&owner) || departed.iter().any(|(n, _)| *n == owner))
}

impl Worker {
    fn run(mut self) {
        // Lowering one's own thread's priority needs no privilege; should
        // it fail anyway, the worker only competes on equal terms.
        let _ = rustix::process::setpriority_process(None, NICE);
        let mut module: Option<ModuleSync> = None;
        let mut tried: Option<Instant> = None;
        loop {
            if module.is_none() && tried.is_none_or(|t| t.elapsed() >= RECONNECT_EVERY) {
                module = self.connect(tried.is_none());
                tried = Some(Instant::now());
            }
            // Nothing to read for while the ring is down and no VIP was
            // taken, or without a socket: the worker then only waits for
            // requests (and, without a socket, its next attempt).
            let reads = module.is_some() && (self.members.is_some() || !self.taken.is_empty());
            let wait = match self.sync.next_read() {
                Some(at) if reads => at.saturating_duration_since(Instant::now()),
                None if reads => Duration::ZERO,
                _ if module.is_none() => RECONNECT_EVERY,
                _ => SYNC_EVERY,
            };
            let first = match self.inbox.recv_timeout(wait) {
                Ok(request) => Some(request),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            // Everything queued, control requests first: a VIP taken or a
            // ring change must not wait behind a burst of imports (every
            // peer announces everything at a membership change). Bounded:
            // imports are at most `MAX_QUEUED_IMPORTS`, and the others come
            // one per ring change, take or refused batch.
            let (imports, control): (Vec<Request>, Vec<Request>) = first
                .into_iter()
                .chain(self.inbox.try_iter())
                .partition(Request::is_import);
            for request in control.into_iter().chain(imports) {
                self.handle(module.as_ref(), request);
            }
            self.check_table();
            let Some(connected) = &module else {
                continue;
            };
            let now = Instant::now();
            let reads = self.members.is_some() || !self.taken.is_empty();
            if reads && self.sync.due(now) && !self.read(connected, now) {
                return;
            }
        }
    }

    /// Opens the worker's netlink socket to the module; logs the first
    /// failure (`first`) and a success after failures.
    fn connect(&self, first: bool) -> Option<ModuleSync> {
        match Client::connect() {
            Ok(client) => {
                if !first {
                    log("session sync: netlink socket to the module open");
                }
                self.counters.connected.store(true, Ordering::Relaxed);
                Some(ModuleSync::new(client))
            }
            Err(e) => {
                if first {
                    log(&format!(
                        "session sync: no netlink socket to the module ({e}); sessions are not synced until it opens (tried every second)"
                    ));
                }
                None
            }
        }
    }

    fn handle(&mut self, module: Option<&ModuleSync>, request: Request) {
        match request {
            Request::Ring {
                members,
                generation,
            } => {
                if self.generation != Some(generation) {
                    self.sync.announce_all_again();
                    self.generation = Some(generation);
                }
                self.table.ring(generation, Instant::now());
                if let Some(now_members) = &members {
                    let now = Instant::now();
                    self.departed
                        .retain(|(_, at)| now.duration_since(*at) < DEPARTED_FOR);
                    for gone in self
                        .last_members
                        .iter()
                        .filter(|n| !now_members.contains(n))
                    {
                        self.departed.push((*gone, now));
                    }
                    self.last_members.clone_from(now_members);
                }
                self.members = members;
            }
            Request::Import {
                origin,
                payload,
                generation,
            } => self.import(module, origin, &payload, generation),
            Request::Taken(vip) => {
                // Read at once: the sooner the entries are there, the
                // fewer packets meet a ruleset that does not know them.
                self.taken.insert(vip);
                self.sync.read_now();
            }
            Request::AnnounceAgain => self.sync.announce_all_again(),
        }
    }

    fn report(&self, errors: Vec<String>) {
        for e in errors {
            log(&format!("module refused: {e}"));
            // Already logged: if the ring's thread is behind, only the
            // count is lost.
            let _ = self.failed.try_send(e);
        }
    }

    /// Says in the log, and to the ring's thread, when the module came to
    /// hold the session table; logs a wait that takes long.
    fn check_table(&mut self) {
        let Some(members) = &self.members else {
            return;
        };
        let generation = self.table.generation();
        // Judged against the members of the wait's own generation only: an
        // import of a newer one can move the wait on before the ring's
        // thread told this worker the new members.
        if self.table_held.load(Ordering::Relaxed) == generation + 1
            || self.generation != Some(generation)
        {
            return;
        }
        let now = Instant::now();
        match self.table.state(self.me, members, now) {
            TableState::Held => {
                log(&format!(
                    "session table held: every member's sessions arrived (members {members:?}), {} ms after the membership change",
                    now.duration_since(self.table.since()).as_millis()
                ));
                self.table_held.store(generation + 1, Ordering::Relaxed);
            }
            TableState::GaveUp(missing) => {
                log(&format!(
                    "session table: the sessions of nodes {missing:?} did not arrive whole within {} s; this node takes VIPs without them (their connections through it would be reset)",
                    crate::table_wait::TABLE_WAIT.as_secs()
                ));
                self.table_held.store(generation + 1, Ordering::Relaxed);
            }
            TableState::Waiting(missing) => {
                if self.waiting_logged != Some(generation) {
                    self.waiting_logged = Some(generation);
                    log(&format!(
                        "session table: waiting for the sessions of nodes {missing:?} before this node takes any VIP"
                    ));
                }
            }
        }
    }

    /// Imports a peer's batch, delivered in membership generation
    /// `generation`, into the module as that peer's sessions, and counts it
    /// towards holding the session table.
    fn import(
        &mut self,
        module: Option<&ModuleSync>,
        origin: u16,
        payload: &[u8],
        generation: u64,
    ) {
        let now = Instant::now();
        // End markers bypass the queue's count (see `SessionWorker::import`).
        if !session_sync::is_end(payload) {
            self.queued_imports.fetch_sub(1, Ordering::Relaxed);
        }
        let (full, sessions) = match session_sync::decode(payload) {
            Ok(Batch::End { full, batches }) => {
                self.table.ended(generation, origin, full, batches, now);
                return;
            }
            Ok(Batch::Sessions { full, sessions }) => (full, sessions),
            Err(e) => {
                self.counters
                    .batches_malformed
                    .fetch_add(1, Ordering::Relaxed);
                log(&format!("session batch from node {origin} refused: {e}"));
                return;
            }
        };
        let Some(module) = module else {
            // No socket yet: the next full announcement brings it.
            self.counters.import_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        match module.client().session_import(&sessions) {
            Ok(outcome) => {
                if let Some(full) = full {
                    self.table.imported(generation, origin, full, now);
                }
                self.counters
                    .imported
                    .fetch_add(outcome.imported, Ordering::Relaxed);
                self.counters
                    .import_refused
                    .fetch_add(outcome.refused, Ordering::Relaxed);
                if outcome.refused > 0 {
                    log(&format!(
                        "node {origin}'s session batch: {} imported, {} refused by the module",
                        outcome.imported, outcome.refused
                    ));
                }
            }
            Err(e) => self.report(vec![format!("importing node {origin}'s sessions: {e}")]),
        }
    }

    /// One read of the module's sessions: conntrack entries for VIPs just
    /// taken, adoption of dead nodes' sessions, and (while the ring runs)
    /// the announcement of what is new or changed. False once the ring's
    /// thread is gone.
    fn read(&mut self, module: &ModuleSync, now: Instant) -> bool {
        self.departed
            .retain(|(_, at)| now.duration_since(*at) < DEPARTED_FOR);
        // Adoption looks for the sessions of nodes that left lately, and a
        // taken VIP's conntrack entries are written for every node's.
        let whole_wanted = !self.taken.is_empty() || !self.departed.is_empty();
        let kind = self.sync.read_kind(now, whole_wanted);
        if kind == ReadKind::Whole {
            self.sync.set_whole_every(whole_every(module));
        }
        let dump = match kind {
            ReadKind::Whole => module.client().sessions(),
            ReadKind::Recent(window) => module.client().sessions_where(SessionFilter {
                owner: Some(self.me),
                changed_within_ms: Some(u32::try_from(window.as_millis()).unwrap_or(u32::MAX)),
            }),
        };
        self.pace(now.elapsed());
        let count = match kind {
            ReadKind::Whole => &self.counters.whole_reads,
            ReadKind::Recent(_) => &self.counters.recent_reads,
        };
        count.fetch_add(1, Ordering::Relaxed);
        let sessions = match dump {
            Ok(sessions) => sessions,
            Err(e) => {
                // Tried again at the next read, whole, taken VIPs included.
                self.sync.read_failed(now);
                self.report(vec![format!("reading the module's sessions: {e}")]);
                return true;
            }
        };
        self.sync.mark_read(now);
        let Some(members) = self.members.clone() else {
            // Only a taken VIP's entries are written while the ring is down
            // (see `run`); the announcement waits for the ring.
            self.track(module, &sessions);
            return true;
        };
        if kind == ReadKind::Whole {
            self.track(module, &sessions);
            self.adopt(module, &members, &sessions);
        }
        if self
            .last_full
            .is_none_or(|at| now.duration_since(at) >= FULL_RESYNC_EVERY)
        {
            self.sync.announce_all_again();
            self.last_full = Some(now);
            if kind != ReadKind::Whole {
                // A full announcement needs the whole table: read at once.
                self.sync.read_now();
                return true;
            }
        }
        self.announce(kind, &sessions, now)
    }

    /// Writes the conntrack entries of the VIPs taken since the last whole
    /// read (see `track_taken`); kept for the next read if nothing could be
    /// written.
    fn track(&mut self, module: &ModuleSync, sessions: &[Session]) {
        let taken = std::mem::take(&mut self.taken);
        if !taken.is_empty() && !self.track_taken(module, &taken, sessions) {
            // Tried again at the next read.
            self.taken.extend(taken);
        }
    }

    /// Spaces the reads by how long the dump took (see `SessionSync::pace`);
    /// logs the first slow one.
    fn pace(&mut self, took: Duration) {
        self.sync.pace(took);
        if self.sync.read_every() > SYNC_EVERY && !self.slow_read_logged {
            self.slow_read_logged = true;
            log(&format!(
                "session sync: reading the module's sessions took {} ms; reads are spaced {} ms apart while they are that slow",
                took.as_millis(),
                self.sync.read_every().as_millis()
            ));
        }
    }

    /// Hands the batches announcing what is new or changed in `sessions`
    /// to the ring's thread, waiting for room (it takes them every turn):
    /// a table of any size goes out whole. False once that thread is gone.
    fn announce(&mut self, kind: ReadKind, sessions: &[Session], now: Instant) -> bool {
        for batch in self.sync.read_of(kind, self.me, sessions, now) {
            if self.ready.send(batch).is_err() {
                return false;
            }
        }
        true
    }

    /// Makes this node's the sessions of the VIPs its module owns that
    /// nodes no longer in the ring created: it took those VIPs over, so it
    /// announces their sessions from now on (their other copies would
    /// otherwise expire with their last announcement, and a second
    /// failover would find them gone). Read again at the next read.
    fn adopt(&mut self, module: &ModuleSync, members: &[u16], sessions: &[Session]) {
        let orphans: BTreeSet<(Vip, u16)> = sessions
            .iter()
            .filter(|s| adoptable(s.owner, self.me, members, &self.departed))
            .map(|s| (*s.vip.ip(), s.owner))
            .collect();
        if orphans.is_empty() {
            return;
        }
        let owned = match module.owned() {
            Ok(owned) => owned,
            Err(e) => {
                self.report(vec![format!("reading the module's VIPs: {e}")]);
                return;
            }
        };
        let mut errors = Vec::new();
        let mut adopted = BTreeSet::new();
        for (vip, owner) in orphans.into_iter().filter(|(vip, _)| owned.contains(vip)) {
            match module.client().session_adopt(vip, owner) {
                Ok(0) => {}
                Ok(n) => {
                    log(&format!("VIP {vip}: adopted {n} sessions of node {owner}"));
                    adopted.insert(vip);
                }
                Err(e) => errors.push(format!("adopting node {owner}'s sessions of {vip}: {e}")),
            }
        }
        self.report(errors);
        // A VIP that moved here from a live node earlier had its entries
        // written at that take; its old owner's sessions then went on
        // through the old owner, sent there before this node's conntrack
        // saw them, so those entries expired unrefreshed. When the old
        // owner dies, this node takes nothing (it holds the VIP already)
        // and meets those connections mid-stream: a stateful ruleset would
        // drop the back-end's next packet as a new connection. So the
        // adopted sessions' entries are written now (helper-59's review:
        // 3 of 5 connections broke 35 s after a move with a 20 s
        // established timeout). Entries conntrack still has are updated
        // in place, not replaced: this node served the VIP already and may
        // carry those connections (see `tracked_flows`); nothing is tried
        // again (the take's retry covers takes).
        if !adopted.is_empty() {
            let vips: Vec<String> = adopted.iter().map(Vip::to_string).collect();
            let what = format!("adopted VIP {}'s sessions", vips.join(", "));
            self.write_entries(module, &what, sessions, &adopted, false);
        }
    }

    /// After taking `taken`: in the module's tracked mode, writes conntrack
    /// entries for the sessions other nodes created, so that a stateful
    /// ruleset here passes them whichever side speaks first (see
    /// `ringgate_netlink::ctnetlink`). All of them, not only those of the
    /// VIPs taken: a VIP taken may be the back-ends' gateway address, which
    /// carries the replies of sessions of every client-side VIP. This
    /// node's own sessions are written too: a periodic read between the
    /// module's take and the `Taken` request may already have adopted a
    /// dead node's sessions, making them this node's, and leaving them out
    /// lost their entries. Entries conntrack has already are replaced where
    /// they are stale (of the VIPs taken), updated in place where they may
    /// be stale or live (other nodes' sessions), and kept where this node carries the connection
    /// (see `session_sync::tracked_flows`). After the take, not before:
    /// the VIP is served at once, and a packet that races the entries is
    /// one conntrack meets mid-stream, as without them (or, where a stale
    /// entry is there, one it finds invalid: review counted 9 and 12 such
    /// drops in `cluster-owner-stall`, which TCP resent). False if nothing could be written
    /// (to be tried again); entries conntrack refused are not.
    fn track_taken(
        &self,
        module: &ModuleSync,
        taken: &BTreeSet<Vip>,
        sessions: &[Session],
    ) -> bool {
        let vips: Vec<String> = taken.iter().map(Vip::to_string).collect();
        let what = format!("took VIP {}", vips.join(", "));
        self.write_entries(module, &what, sessions, taken, true)
    }

    /// In the module's tracked mode, writes conntrack entries for
    /// `sessions` after the VIPs `fresh` were taken (`took`) or adopted
    /// (see `track_taken` and `session_sync::tracked_flows`); `what` names the
    /// occasion in the log. False if nothing could be written (to be tried
    /// again); entries conntrack refused are not.
    fn write_entries(
        &self,
        module: &ModuleSync,
        what: &str,
        sessions: &[Session],
        fresh: &BTreeSet<Vip>,
        took: bool,
    ) -> bool {
        let tracked = match module.client().config() {
            Ok(config) => config.conntrack == ConntrackMode::Tracked,
            Err(e) => {
                self.report(vec![format!("reading the module's conntrack mode: {e}")]);
                return false;
            }
        };
        if !tracked {
            return true;
        }
        let flows = session_sync::tracked_flows(sessions, self.me, fresh, took);
        if flows.is_empty() {
            return true;
        }
        let mut conntrack = match Conntrack::open() {
            Ok(conntrack) => conntrack,
            Err(e) => {
                self.report(vec![format!("{what}: opening ctnetlink: {e}")]);
                return false;
            }
        };
        match conntrack.insert(&flows) {
            Ok(done) => {
                let first = done
                    .first_refusal
                    .map(|errno| std::io::Error::from_raw_os_error(errno).to_string());
                let refused = first.as_ref().map_or(String::new(), |first| {
                    format!(", {} refused (the first: {first})", done.refused)
                });
                log(&format!(
                    "{what}: conntrack entries: {} created, {} there already replaced (stale: of VIPs just taken), {} updated in place (may be live), {} kept{refused}",
                    done.created, done.replaced, done.updated, done.kept
                ));
                // Counted where the status shows the module's refusals
                // (logged just above, so not again).
                if let Some(first) = first {
                    let _ = self.failed.try_send(format!(
                        "{what}: conntrack refused {} entries (the first: {first})",
                        done.refused
                    ));
                }
            }
            // Not tried again: a retry would replace anew the entries
            // written before the error, which are live by then. (A socket
            // error between deleting a stale entry and writing it anew
            // leaves that connection without one, as before the entries
            // were written at all.)
            Err(e) => self.report(vec![format!("{what}: writing conntrack entries: {e}")]),
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handle whose worker never runs: what it queues stays queued.
    fn stalled() -> (SessionWorker, Receiver<Request>) {
        let (requests, inbox) = mpsc::channel();
        let (_ready, batches) = mpsc::sync_channel(MAX_READY);
        let (_failed, errors) = mpsc::sync_channel(MAX_ERRORS);
        let worker = SessionWorker {
            requests,
            fresh: FreshSessions::default(),
            batches,
            errors,
            queued_imports: Arc::new(AtomicUsize::new(0)),
            counters: Arc::new(SessionCounters::default()),
            sent_ring: None,
            table_held: Arc::new(AtomicU64::new(0)),
        };
        (worker, inbox)
    }

    #[test]
    fn imports_beyond_the_queue_are_dropped_and_counted() {
        let (worker, inbox) = stalled();
        for _ in 0..MAX_QUEUED_IMPORTS + 5 {
            worker.import(2, b"RGSS".to_vec(), 1);
        }
        // End markers are never dropped.
        worker.import(2, session_sync::encode_end(1, 3), 1);
        assert_eq!(inbox.try_iter().count(), MAX_QUEUED_IMPORTS + 1);
        let dropped = worker.counters().import_dropped.load(Ordering::Relaxed);
        assert_eq!(dropped, 5);
    }

    /// A flood of change batches must not crowd out a full announcement,
    /// which a joiner waits for.
    #[test]
    fn a_full_announcement_gets_past_a_queue_full_of_changes() {
        use std::net::{Ipv4Addr, SocketAddrV4};

        use ringgate_netlink::{Proto, Session, Stage};

        let session = Session {
            proto: Proto::Tcp,
            client: SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 1), 40000),
            vip: SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 100), 80),
            backend: SocketAddrV4::new(Ipv4Addr::new(10, 8, 0, 2), 8080),
            stage: Stage(2),
            expires_ms: 60_000,
            owner: 2,
            outbound: false,
        };
        let change = session_sync::encode_changes(std::slice::from_ref(&session)).remove(0);
        // A new SessionSync announces its first read in full.
        let part = SessionSync::default()
            .changes(2, &[session], Instant::now())
            .remove(0);
        assert!(session_sync::is_full_part(&part) && !session_sync::is_full_part(&change));
        let (worker, inbox) = stalled();
        for _ in 0..=MAX_QUEUED_IMPORTS {
            worker.import(2, change.clone(), 1);
        }
        worker.import(2, part, 1);
        assert_eq!(worker.counters().import_dropped.load(Ordering::Relaxed), 1);
        assert_eq!(inbox.try_iter().count(), MAX_QUEUED_IMPORTS + 1);
    }

    #[test]
    fn the_ring_state_goes_over_only_when_it_changed() {
        let (mut worker, inbox) = stalled();
        worker.ring(Some(&[1, 2]), 1);
        worker.ring(Some(&[1, 2]), 1);
        worker.ring(None, 1);
        worker.ring(Some(&[1, 2]), 2);
        let told: Vec<(Option<Vec<u16>>, u64)> = inbox
            .try_iter()
            .filter_map(|r| match r {
                Request::Ring {
                    members,
                    generation,
                } => Some((members, generation)),
                _ => None,
            })
            .collect();
        assert_eq!(
            told,
            [(Some(vec![1, 2]), 1), (None, 1), (Some(vec![1, 2]), 2)]
        );
    }

    /// A table of more batches than the queue holds goes out whole (the
    /// worker used to drop what did not fit and start over, so sessions
    /// past the 16,000th were never announced).
    #[test]
    fn a_table_larger_than_the_queue_is_announced_whole() {
        use std::net::{Ipv4Addr, SocketAddrV4};

        use ringgate_netlink::{Proto, Stage};

        let (_requests, inbox) = mpsc::channel();
        let (ready, batches) = mpsc::sync_channel(MAX_READY);
        let (failed, _errors) = mpsc::sync_channel(MAX_ERRORS);
        let mut worker = Worker {
            me: 1,
            inbox,
            ready,
            failed,
            queued_imports: Arc::new(AtomicUsize::new(0)),
            counters: Arc::new(SessionCounters::default()),
            sync: SessionSync::default(),
            members: Some(vec![1, 2]),
            generation: Some(1),
            taken: BTreeSet::new(),
            last_full: None,
            last_members: Vec::new(),
            departed: Vec::new(),
            table: TableWait::new(Instant::now()),
            table_held: Arc::new(AtomicU64::new(0)),
            waiting_logged: None,
            slow_read_logged: false,
        };
        let total = 2 * MAX_READY * session_sync::BATCH + 500;
        let table: Vec<Session> = (0..total)
            .map(|i| Session {
                proto: Proto::Tcp,
                client: SocketAddrV4::new(Ipv4Addr::from(0x0a09_0000 + i as u32), 40000),
                vip: "10.9.0.100:80".parse().unwrap(),
                backend: "10.8.0.2:8080".parse().unwrap(),
                stage: Stage(2),
                expires_ms: 900_000,
                owner: 1,
                outbound: false,
            })
            .collect();
        // The ring's thread, slower than the worker.
        let ring = thread::spawn(move || {
            let mut clients = std::collections::HashSet::new();
            for batch in batches.iter() {
                thread::sleep(Duration::from_millis(2));
                if let Ok(Batch::Sessions { sessions, .. }) = session_sync::decode(&batch) {
                    for s in sessions {
                        clients.insert(s.client);
                    }
                }
            }
            clients.len()
        });
        assert!(worker.announce(ReadKind::Whole, &table, Instant::now()));
        drop(worker);
        assert_eq!(ring.join().unwrap(), total);
    }

    /// An import of a newer membership generation can reach the worker
    /// before the ring's thread told it the new members: the table is not
    /// judged against the old members then.
    #[test]
    fn the_table_is_judged_against_its_own_generations_members() {
        let (_requests, inbox) = mpsc::channel();
        let (ready, _batches) = mpsc::sync_channel(MAX_READY);
        let (failed, _errors) = mpsc::sync_channel(MAX_ERRORS);
        let table_held = Arc::new(AtomicU64::new(0));
        let mut worker = Worker {
            me: 3,
            inbox,
            ready,
            failed,
            queued_imports: Arc::new(AtomicUsize::new(0)),
            counters: Arc::new(SessionCounters::default()),
            sync: SessionSync::default(),
            members: None,
            generation: None,
            taken: BTreeSet::new(),
            last_full: None,
            last_members: Vec::new(),
            departed: Vec::new(),
            table: TableWait::new(Instant::now()),
            table_held: Arc::clone(&table_held),
            waiting_logged: None,
            slow_read_logged: false,
        };
        let ring = |members: &[u16], generation| Request::Ring {
            members: Some(members.to_vec()),
            generation,
        };
        worker.handle(None, ring(&[1, 3], 1));
        // Node 1's empty table, delivered after node 2 joined.
        worker.handle(
            None,
            Request::Import {
                origin: 1,
                payload: session_sync::encode_end(5, 0),
                generation: 2,
            },
        );
        worker.check_table();
        worker.handle(None, ring(&[1, 2, 3], 2));
        worker.check_table();
        assert_eq!(
            table_held.load(Ordering::Relaxed),
            0,
            "held without node 2's table"
        );
        worker.handle(
            None,
            Request::Import {
                origin: 2,
                payload: session_sync::encode_end(1, 0),
                generation: 2,
            },
        );
        worker.check_table();
        assert_eq!(
            table_held.load(Ordering::Relaxed),
            3,
            "held in generation 2"
        );
    }

    #[test]
    fn sessions_of_gone_or_lately_departed_nodes_are_adoptable() {
        let now = Instant::now();
        let members = [1, 2, 3];
        // Node 3 left and is back (a restart faster than the adoption).
        let departed = [(3, now)];
        assert!(adoptable(3, 1, &members, &departed));
        assert!(adoptable(4, 1, &members, &[]));
        assert!(adoptable(0, 1, &members, &[]));
        assert!(!adoptable(2, 1, &members, &departed));
        assert!(!adoptable(1, 1, &members, &departed));
        assert!(!adoptable(3, 1, &members, &[]));
    }

    #[test]
    fn a_batch_counts_its_sessions() {
        assert_eq!(
            session_sync::count(b"RGSS\x02\x00\x00\x00\x00\x00\x01\x02"),
            258
        );
        assert_eq!(session_sync::count(&session_sync::encode_end(1, 258)), 0);
        assert_eq!(session_sync::count(b"RGSS"), 0);
    }
}
