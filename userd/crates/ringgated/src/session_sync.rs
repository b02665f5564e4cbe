//! Session sync: this node's NAT sessions carried over the ring to every
//! peer's module, so that when one of this node's VIPs moves (its death, a
//! move, a drain) the new owner translates its established connections as
//! this node did: same back-end, same translation.
//!
//! Every `SYNC_EVERY` the daemon dumps its module's sessions, keeps those it
//! owns (the module records the node id of the node that created each
//! one), and announces the ones new or changed since it last announced them
//! in batches of `BATCH` (one ring message each, bulk priority, so a VIP
//! move never waits behind them). A session is changed when its stage
//! moved on or its expiry moved later by more than a quarter of what the
//! last announcement gave it (traffic keeps refreshing it here; the peers'
//! copies live only as long as announced). Peers import what they receive
//! into their modules as sessions of their origin. A session that ends here
//! is not announced: the peers' copies expire on their own.
//!
//! When the ring's membership changes everything is announced again, so a
//! node that joined gets the whole table, and again every minute (see
//! `session_worker`). Each such full announcement has a number, carried by
//! its batches, and ends with a marker giving how many batches it had: a
//! node that imported all of them holds the sender's whole table (a batch
//! lost or dropped on the way leaves the count short). A joiner takes no
//! VIP until it holds every member's (see `TableWait`). This is outside the replicated state machine: a lost
//! batch costs at most the sessions it carried, until the next change of
//! each, the next membership change or the next full announcement sends
//! them again. The netlink side runs on its own thread (`session_worker`).
//!
//! Wire format of one batch (integers big-endian):
//!
//! ```text
//!   magic    4 bytes  "RGSS"
//!   version  u8       2
//!   kind     u8       0 changes, 1 part of a full announcement, 2 the end
//!                     of one
//!   full     u32      the full announcement's number (0 for changes)
//!   count    u16      sessions; for kind 2, the announcement's batches
//!   count x  proto u8, stage u8, owner u16, client addr u32, client port
//!            u16, vip u32, vip port u16, back-end addr u32, back-end port
//!            u16, expires_ms u32 (26 bytes; kinds 0 and 1 only)
//! ```
//!
//! The stage byte's top bit (`OUTBOUND`) marks an outbound connection (see
//! the module's outbound translation): client is then the remote end, vip
//! the translated source, back-end the host behind the cluster. A daemon
//! from before it refuses a batch holding one (an unknown stage), as its
//! module could not take the session anyway; the others' batches it reads.

use std::collections::{BTreeSet, HashMap};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use ringgate_cluster::model::Vip;
use ringgate_netlink::ctnetlink::{Existing, TcpState, TrackedFlow};
use ringgate_netlink::{Proto, Session, Stage};

/// How often the module's sessions are read, at most.
pub const SYNC_EVERY: Duration = Duration::from_millis(200);
/// A read that takes long spaces the next ones out: the worker spends at
/// most a fifth of its time reading (a dump of a large table on a slow
/// machine took most of a CPU every 200 ms, on every node, and starved the
/// ring's threads: under a flood of new sessions the ring lost members
/// again and again). Reads stay at most `SLOWEST_READ_EVERY` apart.
const READ_DUTY_DIVISOR: u32 = 5;
pub const SLOWEST_READ_EVERY: Duration = Duration::from_secs(2);
/// Reads of the whole table are at most this far apart; the reads between
/// them ask the module only for this node's sessions that changed since
/// the read before (see `ReadKind`).
pub const WHOLE_READ_EVERY_MAX: Duration = Duration::from_secs(10);
/// How far back before the previous read began a read of recent changes
/// reaches: a session the previous read's dump had already passed when it
/// changed is in this one, whatever the kernel's tick.
pub const RECENT_OVERLAP: Duration = Duration::from_millis(500);
/// The longest window the module takes (`changed-within-ms`'s maximum);
/// a longer one is a whole read.
const RECENT_WINDOW_MAX: Duration = Duration::from_secs(3600);
/// Sessions per ring message: 26 bytes each, about 26 KB a message.
pub const BATCH: usize = 1000;

const MAGIC: &[u8; 4] = b"RGSS";
const VERSION: u8 = 2;
const HEADER: usize = 12;
const ENTRY: usize = 26;
const KIND_CHANGES: u8 = 0;
const KIND_FULL: u8 = 1;
const KIND_END: u8 = 2;
/// The stage byte's flag of an outbound connection.
const OUTBOUND: u8 = 0x80;
/// The largest table the module holds (`max-sessions`) in batches fits
/// the end marker's count.
const _: () = assert!(1_048_576usize.div_ceil(BATCH) <= u16::MAX as usize);

/// What one read of the module's sessions asks for.
///
/// A whole read gives every session: what adoption, conntrack entries for
/// a taken VIP and a full announcement need. Between whole reads a read
/// asks only for this node's sessions that changed since the last read
/// began (made, given a packet, moved to another stage or given to this
/// node): under a steady flow of short connections the table holds a
/// minute of closed ones, and reading all of them five times a second on
/// every node took a fifth of a CPU each in the bench VM, for the few that
/// changed. A change a recent read's window missed (the worker began it
/// more than `RECENT_OVERLAP` late, relative to the kernel, against the
/// read before) waits for the next whole read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    Whole,
    /// This node's sessions changed within the window.
    Recent(Duration),
}

/// How often a whole read is due, given the shortest timeout of the
/// module's stages: within a quarter of it, so that a change a recent read
/// missed is announced well before the copy a peer holds expires; at most
/// `WHOLE_READ_EVERY_MAX`, and never more often than the reads themselves.
pub fn whole_read_every(shortest_timeout: Duration) -> Duration {
    (shortest_timeout / 4).clamp(SYNC_EVERY, WHOLE_READ_EVERY_MAX)
}

/// What names a session: its client's flow to the VIP.
type Key = (Proto, SocketAddrV4, SocketAddrV4);

/// What a peer was last told of a session.
struct Announced {
    backend: SocketAddrV4,
    stage: Stage,
    /// When the peers' copies expire unless told again.
    expires: Instant,
    /// The lifetime that announcement gave them.
    lifetime: Duration,
}

/// This node's side of session sync: what it announced.
pub struct SessionSync {
    announced: HashMap<Key, Announced>,
    last_read: Option<Instant>,
    /// How long after a read the next one is due (see `pace`).
    read_every: Duration,
    /// Whether the next read announces everything, as full announcement
    /// `last_full + 1`.
    full_due: bool,
    last_full: u32,
    /// When the last read that succeeded began: a read of recent changes
    /// covers everything since (less `RECENT_OVERLAP`). `None`: nothing
    /// read yet, or a read failed since.
    covered_since: Option<Instant>,
    /// When the last whole read that succeeded began, and how often one is
    /// due (see `whole_read_every`).
    last_whole: Option<Instant>,
    whole_every: Duration,
}

impl Default for SessionSync {
    fn default() -> Self {
        SessionSync {
            announced: HashMap::new(),
            last_read: None,
            read_every: SYNC_EVERY,
            // A daemon that starts has announced nothing yet.
            full_due: true,
            last_full: 0,
            covered_since: None,
            last_whole: None,
            whole_every: SYNC_EVERY,
        }
    }
}

impl SessionSync {
    /// Whether the module's sessions are due to be read.
    pub fn due(&self, now: Instant) -> bool {
        self.last_read
            .is_none_or(|at| now.duration_since(at) >= self.read_every)
    }

    /// When the next read is due; `None`: now.
    pub fn next_read(&self) -> Option<Instant> {
        self.last_read.map(|at| at + self.read_every)
    }

    /// Spaces the reads by how long the last one took (see
    /// `READ_DUTY_DIVISOR`).
    pub fn pace(&mut self, took: Duration) {
        self.read_every = took
            .saturating_mul(READ_DUTY_DIVISOR)
            .clamp(SYNC_EVERY, SLOWEST_READ_EVERY);
    }

    /// How long after a read the next one is due.
    pub fn read_every(&self) -> Duration {
        self.read_every
    }

    /// Records a read (or a failed attempt) at `now`.
    pub fn mark_read(&mut self, now: Instant) {
        self.last_read = Some(now);
    }

    /// Makes a read due at once.
    pub fn read_now(&mut self) {
        self.last_read = None;
    }

    /// What the read due at `now` asks for; `whole_wanted` when the caller
    /// needs every session anyway (a VIP taken, a node departed lately).
    pub fn read_kind(&self, now: Instant, whole_wanted: bool) -> ReadKind {
        let whole_due = self
            .last_whole
            .is_none_or(|at| now.duration_since(at) >= self.whole_every);
        match self.covered_since {
            Some(since) if !whole_wanted && !whole_due && !self.full_due => {
                let window = now.duration_since(since) + RECENT_OVERLAP;
                if window > RECENT_WINDOW_MAX {
                    ReadKind::Whole
                } else {
                    ReadKind::Recent(window)
                }
            }
            _ => ReadKind::Whole,
        }
    }

    /// Sets how often a whole read is due (see `whole_read_every`).
    pub fn set_whole_every(&mut self, every: Duration) {
        self.whole_every = every;
    }

    /// Records a read of `kind` begun at `began` that failed: the next read
    /// is a whole one, since what this one should have covered is unknown.
    pub fn read_failed(&mut self, began: Instant) {
        self.mark_read(began);
        self.covered_since = None;
    }

    /// Forgets what was announced, so the next read announces everything
    /// (a node joined the ring, or the ring re-formed).
    pub fn announce_all_again(&mut self) {
        self.announced.clear();
        self.full_due = true;
    }

    /// Takes a fresh read of the module's sessions (`sessions`, all of
    /// them) at `now`: the encoded batches announcing those `me` owns that
    /// are new or changed (all of them, then the end marker, when a full
    /// announcement is due). Forgets sessions no longer in the table.
    pub fn changes(&mut self, me: u16, sessions: &[Session], now: Instant) -> Vec<Vec<u8>> {
        self.read_of(ReadKind::Whole, me, sessions, now)
    }

    /// Takes a read of `kind` begun at `now`: as `changes` for a whole
    /// read. A read of recent changes (`sessions` holds only what changed
    /// lately, or more from a module that ignores the filter) forgets
    /// nothing and announces what changed, as changes. While a full
    /// announcement is due, `read_kind` makes every read whole; a read of
    /// recent changes taken anyway announces nothing, so that the full one
    /// finds every session unannounced.
    pub fn read_of(
        &mut self,
        kind: ReadKind,
        me: u16,
        sessions: &[Session],
        now: Instant,
    ) -> Vec<Vec<u8>> {
        self.mark_read(now);
        if self.full_due && kind != ReadKind::Whole {
            return Vec::new();
        }
        self.covered_since = Some(now);
        let mine: Vec<&Session> = sessions.iter().filter(|s| s.owner == me).collect();
        if kind == ReadKind::Whole {
            self.last_whole = Some(now);
            let live: std::collections::HashSet<Key> =
                mine.iter().map(|s| (s.proto, s.client, s.vip)).collect();
            self.announced.retain(|key, _| live.contains(key));
        }
        let mut due = Vec::new();
        for s in mine {
            let key = (s.proto, s.client, s.vip);
            let lifetime = Duration::from_millis(u64::from(s.expires_ms));
            let expires = now + lifetime;
            let changed = match self.announced.get(&key) {
                None => true,
                Some(a) => {
                    a.backend != s.backend
                        || a.stage != s.stage
                        || expires.saturating_duration_since(a.expires) > a.lifetime / 4
                }
            };
            if changed {
                self.announced.insert(
                    key,
                    Announced {
                        backend: s.backend,
                        stage: s.stage,
                        expires,
                        lifetime,
                    },
                );
                due.push(s);
            }
        }
        if !self.full_due {
            return due
                .chunks(BATCH)
                .map(|c| encode(KIND_CHANGES, 0, c))
                .collect();
        }
        self.full_due = false;
        // Never 0, which marks changes.
        self.last_full = self.last_full.checked_add(1).unwrap_or(1);
        let full = self.last_full;
        let mut batches: Vec<Vec<u8>> = due
            .chunks(BATCH)
            .map(|c| encode(KIND_FULL, full, c))
            .collect();
        batches.push(encode_end(full, batches.len()));
        batches
    }
}

/// The conntrack entry a session needs on a node that did not carry it, if any:
/// an established or closing TCP connection, or a UDP flow (a handshake
/// not finished, or a reset connection, is left to conntrack itself).
pub fn tracked_flow(s: &Session) -> Option<TrackedFlow> {
    // Stages: 0 udp, 1 syn, 2 established, 3 closing, 4 reset.
    let tcp_state = match (s.proto, s.stage.0) {
        (Proto::Udp, 0) => None,
        (Proto::Tcp, 2) => Some(TcpState::Established),
        (Proto::Tcp, 3) => Some(TcpState::CloseWait),
        _ => return None,
    };
    // Conntrack's original direction is the opener's: the host behind the
    // cluster for an outbound connection.
    let (opener, answerer) = if s.outbound {
        (s.backend, s.client)
    } else {
        (s.client, s.backend)
    };
    Some(TrackedFlow {
        proto: s.proto,
        client: opener,
        backend: answerer,
        tcp_state,
        timeout_secs: s.expires_ms.div_ceil(1000),
        existing: Existing::Keep,
    })
}

/// The conntrack entries `sessions` need on node `me`, which just took
/// (`took` true) or adopted the VIPs `fresh`, whichever node created or
/// adopted them, and what becomes of an entry conntrack has already:
/// - a session of a VIP just taken: replaced. Before the take this node
///   did not serve the VIP, so the entry is its own from when it last
///   carried the connection, stale: its window tracking and its
///   retransmission count are of then (see `ringgate_netlink::ctnetlink`);
/// - a session of a VIP just adopted (the node served it already, it
///   takes nothing), or one another node owns: updated in place. The
///   entry may be stale the same way, or live: this node may carry the
///   connection (it served the VIP) or its other direction (it holds the
///   back-ends' gateway address), and deleting it would drop packets
///   until it is written again. An adoption in the same read as the take
///   thus leaves the entries the take just wrote in place;
/// - this node's own sessions otherwise: kept, the connections it carries
///   (`EEXIST` costs one refused request each).
pub fn tracked_flows(
    sessions: &[Session],
    me: u16,
    fresh: &BTreeSet<Vip>,
    took: bool,
) -> Vec<TrackedFlow> {
    sessions
        .iter()
        .filter_map(|s| {
            let mut flow = tracked_flow(s)?;
            flow.existing = match (fresh.contains(s.vip.ip()), took) {
                (true, true) => Existing::Replace,
                (true, false) => Existing::Update,
                (false, _) if s.owner != me => Existing::Update,
                (false, _) => Existing::Keep,
            };
            Some(flow)
        })
        .collect()
}

/// Whether a ring message is a session batch (and not a cluster message,
/// which starts with its format version, a small number).
pub fn is_batch(payload: &[u8]) -> bool {
    payload.starts_with(MAGIC)
}

/// A batch's kind byte, if it is a batch of this version.
fn kind_of(batch: &[u8]) -> Option<u8> {
    // The version too: another version's byte 5 may be anything (in
    // version 1, the high byte of a count).
    if !is_batch(batch) || batch.get(MAGIC.len()) != Some(&VERSION) {
        return None;
    }
    batch.get(MAGIC.len() + 1).copied()
}

/// Whether a batch is the end marker of a full announcement.
pub fn is_end(batch: &[u8]) -> bool {
    kind_of(batch) == Some(KIND_END)
}

/// Whether a batch is part of a full announcement (not changes).
pub fn is_full_part(batch: &[u8]) -> bool {
    kind_of(batch) == Some(KIND_FULL)
}

/// How many sessions a batch made by `changes` carries (none: an end
/// marker).
pub fn count(batch: &[u8]) -> usize {
    match (batch.get(MAGIC.len() + 1), batch.get(HEADER - 2..HEADER)) {
        (Some(&kind), Some([hi, lo])) if kind != KIND_END => {
            usize::from(u16::from_be_bytes([*hi, *lo]))
        }
        _ => 0,
    }
}

fn header(kind: u8, full: u32, count: u16, capacity: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(kind);
    out.extend_from_slice(&full.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    out
}

/// The marker that ends full announcement `full` of `batches` batches.
/// Batches announcing `sessions` as changes (new sessions notified by the
/// module, say).
pub fn encode_changes(sessions: &[Session]) -> Vec<Vec<u8>> {
    let all: Vec<&Session> = sessions.iter().collect();
    all.chunks(BATCH)
        .map(|c| encode(KIND_CHANGES, 0, c))
        .collect()
}

pub fn encode_end(full: u32, batches: usize) -> Vec<u8> {
    // At most 1,049 (the assertion above); saturated, the count would
    // only leave the announcement incomplete.
    let batches = u16::try_from(batches).unwrap_or(u16::MAX);
    header(KIND_END, full, batches, HEADER)
}

fn encode(kind: u8, full: u32, sessions: &[&Session]) -> Vec<u8> {
    // `BATCH` fits a u16.
    let mut out = header(
        kind,
        full,
        sessions.len() as u16,
        HEADER + sessions.len() * ENTRY,
    );
    for s in sessions {
        out.push(s.proto.number());
        // Stages are 0..=4; a newer module's larger number saturates and
        // is refused by the receiver's check.
        let stage = u8::try_from(s.stage.0).unwrap_or(u8::MAX);
        out.push(if s.outbound { stage | OUTBOUND } else { stage });
        out.extend_from_slice(&s.owner.to_be_bytes());
        for addr in [s.client, s.vip, s.backend] {
            out.extend_from_slice(&addr.ip().octets());
            out.extend_from_slice(&addr.port().to_be_bytes());
        }
        out.extend_from_slice(&s.expires_ms.to_be_bytes());
    }
    out
}

/// Why a batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("not a session batch")]
    NotBatch,
    #[error("session batch version {0}, this daemon reads 2")]
    Version(u8),
    #[error("session batch of kind {0}, which is none of changes (0), full (1) and end (2)")]
    Kind(u8),
    #[error("session batch of changes numbered as full announcement {0}")]
    Numbered(u32),
    #[error("session batch of {count} sessions in {len} bytes")]
    Length { count: usize, len: usize },
    #[error("session {0} of the batch: protocol {1} is neither TCP nor UDP")]
    Proto(usize, u8),
    #[error("session {0} of the batch: stage {1} is not a stage of protocol {2}")]
    Stage(usize, u8, u8),
}

/// What one batch says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    /// Sessions of the sender; `full`: the number of the full announcement
    /// they are part of (`None`: changes).
    Sessions {
        full: Option<u32>,
        sessions: Vec<Session>,
    },
    /// The sender's full announcement `full` ended; it had `batches`.
    End { full: u32, batches: u16 },
}

/// One batch. The whole batch is refused if any session is malformed, so
/// a bad batch imports nothing.
pub fn decode(payload: &[u8]) -> Result<Batch, BatchError> {
    let body = payload.strip_prefix(MAGIC).ok_or(BatchError::NotBatch)?;
    let [version, kind, f0, f1, f2, f3, hi, lo, entries @ ..] = body else {
        return Err(BatchError::Length {
            count: 0,
            len: payload.len(),
        });
    };
    if *version != VERSION {
        return Err(BatchError::Version(*version));
    }
    let full = u32::from_be_bytes([*f0, *f1, *f2, *f3]);
    let count = u16::from_be_bytes([*hi, *lo]);
    let full = match *kind {
        KIND_END if entries.is_empty() => {
            return Ok(Batch::End {
                full,
                batches: count,
            })
        }
        KIND_END => {
            return Err(BatchError::Length {
                count: 0,
                len: payload.len(),
            })
        }
        KIND_CHANGES if full != 0 => return Err(BatchError::Numbered(full)),
        KIND_CHANGES => None,
        KIND_FULL => Some(full),
        other => return Err(BatchError::Kind(other)),
    };
    Ok(Batch::Sessions {
        full,
        sessions: decode_sessions(payload.len(), usize::from(count), entries)?,
    })
}

fn decode_sessions(len: usize, count: usize, entries: &[u8]) -> Result<Vec<Session>, BatchError> {
    if entries.len() != count * ENTRY {
        return Err(BatchError::Length { count, len });
    }
    let mut sessions = Vec::with_capacity(count);
    for (i, e) in entries.chunks_exact(ENTRY).enumerate() {
        let proto = match e[0] {
            6 => Proto::Tcp,
            17 => Proto::Udp,
            other => return Err(BatchError::Proto(i, other)),
        };
        let (stage, outbound) = (e[1] & !OUTBOUND, e[1] & OUTBOUND != 0);
        // UDP sessions are in stage udp (0), TCP ones in syn..reset (1..=4).
        let stage_fits = match proto {
            Proto::Udp => stage == 0,
            _ => (1..=4).contains(&stage),
        };
        if !stage_fits {
            return Err(BatchError::Stage(i, stage, e[0]));
        }
        let addr = |at: usize| {
            SocketAddrV4::new(
                Ipv4Addr::new(e[at], e[at + 1], e[at + 2], e[at + 3]),
                u16::from_be_bytes([e[at + 4], e[at + 5]]),
            )
        };
        sessions.push(Session {
            proto,
            stage: Stage(u32::from(stage)),
            owner: u16::from_be_bytes([e[2], e[3]]),
            client: addr(4),
            vip: addr(10),
            backend: addr(16),
            expires_ms: u32::from_be_bytes([e[22], e[23], e[24], e[25]]),
            outbound,
        });
    }
    Ok(sessions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(port: u16, owner: u16, stage: u32, expires_ms: u32) -> Session {
        Session {
            proto: Proto::Tcp,
            client: SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 1), port),
            vip: "10.9.0.100:80".parse().unwrap(),
            backend: "10.8.0.2:8080".parse().unwrap(),
            stage: Stage(stage),
            expires_ms,
            owner,
            outbound: false,
        }
    }

    /// The sessions of a batch that carries some.
    fn sessions_of(batch: &[u8]) -> Vec<Session> {
        match decode(batch).unwrap() {
            Batch::Sessions { sessions, .. } => sessions,
            Batch::End { .. } => panic!("an end marker"),
        }
    }

    /// An outbound connection of host 10.8.0.2:5555 to 192.0.2.7:7,
    /// leaving from 10.9.0.100:`port`.
    fn outbound(port: u16, stage: u32) -> Session {
        Session {
            client: "192.0.2.7:7".parse().unwrap(),
            vip: SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 100), port),
            backend: "10.8.0.2:5555".parse().unwrap(),
            outbound: true,
            ..session(0, 1, stage, 60_000)
        }
    }

    #[test]
    fn an_outbound_session_keeps_its_flag_and_its_stage_on_the_wire() {
        let sessions = vec![
            outbound(20000, 2),
            session(40000, 1, 2, 900_000),
            outbound(20001, 3),
        ];
        let batches = encode_changes(&sessions);
        assert_eq!(batches.len(), 1);
        assert_eq!(sessions_of(&batches[0]), sessions);
        let udp = Session {
            proto: Proto::Udp,
            ..outbound(20002, 0)
        };
        assert_eq!(
            sessions_of(&encode_changes(std::slice::from_ref(&udp))[0]),
            [udp]
        );
        // The flag does not make a stage of another protocol pass.
        let mut bad = encode_changes(&[outbound(20003, 2)]).remove(0);
        bad[HEADER + 1] = OUTBOUND | 7;
        assert_eq!(decode(&bad), Err(BatchError::Stage(0, 7, 6)));
    }

    #[test]
    fn conntrack_sees_an_outbound_connection_from_its_host() {
        let flow = tracked_flow(&outbound(20000, 2)).unwrap();
        assert_eq!(flow.client, "10.8.0.2:5555".parse().unwrap());
        assert_eq!(flow.backend, "192.0.2.7:7".parse().unwrap());
        let flow = tracked_flow(&session(40000, 1, 2, 900_000)).unwrap();
        assert_eq!(flow.client.port(), 40000);
        assert_eq!(flow.backend, "10.8.0.2:8080".parse().unwrap());
    }

    #[test]
    fn a_batch_decodes_to_what_was_encoded() {
        let sessions = vec![session(40000, 1, 2, 900_000), session(40001, 1, 3, 5)];
        let mut sync = SessionSync::default();
        let now = Instant::now();
        // A daemon's first read is a full announcement: its batches, then
        // the marker that ends it.
        let batches = sync.changes(1, &sessions, now);
        assert_eq!(batches.len(), 2);
        assert!(batches.iter().all(|b| is_batch(b)));
        assert_eq!(
            decode(&batches[0]).unwrap(),
            Batch::Sessions {
                full: Some(1),
                sessions: sessions.clone()
            }
        );
        assert!(is_end(&batches[1]) && !is_end(&batches[0]));
        // A version 1 batch of 512 to 767 sessions has 2 at byte 5.
        let mut v1 = b"RGSS\x01\x02\x58".to_vec();
        v1.resize(7 + 600 * ENTRY, 0);
        assert!(!is_end(&v1));
        assert_eq!(
            decode(&batches[1]).unwrap(),
            Batch::End {
                full: 1,
                batches: 1
            }
        );
        assert_eq!((count(&batches[0]), count(&batches[1])), (2, 0));
        // Changes after it are not numbered.
        let moved_on = vec![session(40000, 1, 3, 900_000)];
        let batches = sync.changes(1, &moved_on, now);
        assert_eq!(
            decode(&batches[0]).unwrap(),
            Batch::Sessions {
                full: None,
                sessions: moved_on
            }
        );
        // An empty table still ends its full announcement, numbered anew.
        sync.announce_all_again();
        let batches = sync.changes(1, &[], now);
        assert_eq!(
            batches
                .iter()
                .map(|b| decode(b).unwrap())
                .collect::<Vec<_>>(),
            vec![Batch::End {
                full: 2,
                batches: 0
            }]
        );
    }

    #[test]
    fn only_own_sessions_new_or_changed_are_announced() {
        let now = Instant::now();
        let mut sync = SessionSync::default();
        let mine = session(40000, 1, 2, 900_000);
        let theirs = session(40001, 2, 2, 900_000);
        let sent = sync.changes(1, &[mine.clone(), theirs.clone()], now);
        assert_eq!(sessions_of(&sent[0]), vec![mine.clone()]);
        // Nothing changed: nothing is sent, even a second later, when the
        // expiry moved on by a second only.
        let later = now + Duration::from_secs(1);
        assert!(sync
            .changes(1, std::slice::from_ref(&mine), later)
            .is_empty());
        // The stage moved on: sent again.
        let closing = session(40000, 1, 3, 60_000);
        let sent = sync.changes(1, std::slice::from_ref(&closing), later);
        assert_eq!(sessions_of(&sent[0]), vec![closing.clone()]);
        // Refreshed by traffic well past a quarter of its lifetime: again.
        let much_later = later + Duration::from_secs(20);
        let sent = sync.changes(1, std::slice::from_ref(&closing), much_later);
        assert_eq!(sent.len(), 1);
        // Everything again after a membership change (and the end marker).
        sync.announce_all_again();
        assert_eq!(sync.changes(1, &[closing], much_later).len(), 2);
    }

    #[test]
    fn reads_between_whole_ones_ask_for_recent_changes_since_the_last_read() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut sync = SessionSync::default();
        sync.set_whole_every(Duration::from_secs(7));
        // Nothing read yet: whole.
        assert_eq!(sync.read_kind(t0, false), ReadKind::Whole);
        let mine = session(40000, 1, 2, 900_000);
        // The first read is a full announcement (and its end marker).
        assert_eq!(
            sync.read_of(ReadKind::Whole, 1, std::slice::from_ref(&mine), t0)
                .len(),
            2
        );
        // 200 ms on: this node's changes since the last read began, with
        // the overlap.
        let t1 = t0 + ms(200);
        assert_eq!(
            sync.read_kind(t1, false),
            ReadKind::Recent(ms(200) + RECENT_OVERLAP)
        );
        // A caller that needs every session gets a whole read.
        assert_eq!(sync.read_kind(t1, true), ReadKind::Whole);
        // A recent read forgets nothing it does not list: the session it
        // does not list is not announced again by the next whole read.
        let new = session(40001, 1, 1, 30_000);
        let sent = sync.read_of(ReadKind::Recent(ms(700)), 1, std::slice::from_ref(&new), t1);
        assert_eq!(sessions_of(&sent[0]), vec![new.clone()]);
        let t2 = t1 + ms(300);
        assert_eq!(
            sync.read_kind(t2, false),
            ReadKind::Recent(ms(300) + RECENT_OVERLAP)
        );
        // A failed read leaves its window unknown: the next one is whole.
        sync.read_failed(t2);
        assert_eq!(sync.read_kind(t2 + ms(200), false), ReadKind::Whole);
        assert!(sync
            .read_of(
                ReadKind::Whole,
                1,
                &[mine.clone(), new.clone()],
                t2 + ms(200)
            )
            .is_empty());
        // A whole read is due `whole_every` after the last one.
        let t3 = t2 + ms(200);
        assert_eq!(
            sync.read_kind(t3 + ms(6_999), false),
            ReadKind::Recent(ms(6_999) + RECENT_OVERLAP)
        );
        assert_eq!(sync.read_kind(t3 + ms(7_000), false), ReadKind::Whole);
        // So is a full announcement.
        sync.announce_all_again();
        assert_eq!(sync.read_kind(t3 + ms(200), false), ReadKind::Whole);
    }

    #[test]
    fn a_full_announcement_waits_for_a_whole_read() {
        let t0 = Instant::now();
        let mut sync = SessionSync::default();
        let mine = session(40000, 1, 2, 900_000);
        sync.read_of(ReadKind::Whole, 1, std::slice::from_ref(&mine), t0);
        sync.announce_all_again();
        // Were a caller to read recent changes anyway, they announce
        // nothing (a part of the table cannot be a full announcement) ...
        let recent = ReadKind::Recent(Duration::from_secs(1));
        assert!(sync
            .read_of(recent, 1, std::slice::from_ref(&mine), t0)
            .is_empty());
        // ... and the whole read then announces every session, the one the
        // recent read listed included, and the end marker.
        let sent = sync.read_of(ReadKind::Whole, 1, std::slice::from_ref(&mine), t0);
        assert_eq!(sent.len(), 2);
        assert!(matches!(
            decode(&sent[0]).unwrap(),
            Batch::Sessions { full: Some(_), .. }
        ));
        assert_eq!(sessions_of(&sent[0]), vec![mine]);
    }

    #[test]
    fn whole_reads_come_within_a_quarter_of_the_shortest_timeout() {
        let secs = Duration::from_secs;
        // The default timeouts (UDP 30 s): every 7.5 s.
        assert_eq!(whole_read_every(secs(30)), Duration::from_millis(7_500));
        // Never further apart than WHOLE_READ_EVERY_MAX, never closer than
        // the reads.
        assert_eq!(whole_read_every(secs(900)), WHOLE_READ_EVERY_MAX);
        assert_eq!(whole_read_every(secs(0)), SYNC_EVERY);
        assert_eq!(whole_read_every(secs(1)), Duration::from_millis(250));
    }

    #[test]
    fn slow_reads_space_the_next_ones_out() {
        let mut sync = SessionSync::default();
        let t0 = Instant::now();
        sync.mark_read(t0);
        assert_eq!(sync.next_read(), Some(t0 + SYNC_EVERY));
        // A read of 100 ms: the next one 500 ms after it.
        sync.pace(Duration::from_millis(100));
        assert_eq!(sync.next_read(), Some(t0 + Duration::from_millis(500)));
        assert!(!sync.due(t0 + Duration::from_millis(499)));
        assert!(sync.due(t0 + Duration::from_millis(500)));
        // Never further apart than SLOWEST_READ_EVERY, never closer than
        // SYNC_EVERY.
        sync.pace(Duration::from_secs(3));
        assert_eq!(sync.read_every(), SLOWEST_READ_EVERY);
        sync.pace(Duration::from_millis(1));
        assert_eq!(sync.read_every(), SYNC_EVERY);
    }

    #[test]
    fn batches_hold_at_most_batch_sessions() {
        let sessions: Vec<Session> = (0..2500).map(|p| session(p + 1, 1, 2, 1000)).collect();
        let batches = SessionSync::default().changes(1, &sessions, Instant::now());
        let counts: Vec<usize> = batches[..3].iter().map(|b| sessions_of(b).len()).collect();
        assert_eq!(counts, [1000, 1000, 500]);
        assert_eq!(
            decode(&batches[3]),
            Ok(Batch::End {
                full: 1,
                batches: 3
            })
        );
    }

    #[test]
    fn malformed_batches_are_refused_whole() {
        let batch = encode(
            KIND_CHANGES,
            0,
            &[&session(1, 1, 2, 1), &session(2, 1, 2, 1)],
        );
        assert_eq!(decode(b"RGSX"), Err(BatchError::NotBatch));
        assert!(matches!(
            decode(&batch[..batch.len() - 1]),
            Err(BatchError::Length { .. })
        ));
        let mut version = batch.clone();
        version[4] = 1;
        assert_eq!(decode(&version), Err(BatchError::Version(1)));
        let mut kind = batch.clone();
        kind[5] = 3;
        assert_eq!(decode(&kind), Err(BatchError::Kind(3)));
        let mut numbered = batch.clone();
        numbered[9] = 1;
        assert_eq!(decode(&numbered), Err(BatchError::Numbered(1)));
        // An end marker carries no session.
        let mut end = encode_end(4, 2);
        end.push(0);
        assert!(matches!(decode(&end), Err(BatchError::Length { .. })));
        let mut proto = batch.clone();
        proto[HEADER + ENTRY] = 1;
        assert_eq!(decode(&proto), Err(BatchError::Proto(1, 1)));
        let mut stage = batch.clone();
        stage[HEADER] = 17;
        assert_eq!(decode(&stage), Err(BatchError::Stage(0, 2, 17)));
        // A cluster message is not a batch.
        assert!(!is_batch(&[4, 1, 0, 0]));
    }

    #[test]
    fn conntrack_entries_cover_sessions_this_node_already_adopted() {
        // Node 3 adopted node 2's session (owner 3 now) in a read that came
        // before the take's: its entry must be written all the same.
        let adopted = session(40000, 3, 2, 1500);
        let created_elsewhere = session(40001, 1, 2, 1500);
        let handshake = session(40002, 3, 1, 1500);
        let flows = tracked_flows(
            &[adopted.clone(), created_elsewhere.clone(), handshake],
            3,
            &BTreeSet::new(),
            true,
        );
        let clients: Vec<_> = flows.iter().map(|f| f.client).collect();
        assert_eq!(clients, vec![adopted.client, created_elsewhere.client]);
    }

    #[test]
    fn stale_entries_are_replaced_possibly_live_ones_updated_and_carried_ones_kept() {
        // Node 3's own session of a VIP it held all along: its entry is
        // right. Node 1's session: an entry here is from when node 3 last
        // carried it, or live (node 3 carries its replies). Node 3's
        // session of the VIP it just took back, and node 1's of it: it may
        // have adopted them back in an earlier read, their entries stale.
        let own = session(40000, 3, 2, 1500);
        let others = session(40001, 1, 2, 1500);
        let mut taken_back = session(40002, 3, 2, 1500);
        taken_back.vip = "10.9.0.200:80".parse().unwrap();
        let mut others_taken = session(40003, 1, 2, 1500);
        others_taken.vip = "10.9.0.200:80".parse().unwrap();
        let fresh: BTreeSet<Vip> = ["10.9.0.200".parse().unwrap()].into();
        let existing = |took| -> Vec<Existing> {
            let sessions = [
                own.clone(),
                others.clone(),
                taken_back.clone(),
                others_taken.clone(),
            ];
            tracked_flows(&sessions, 3, &fresh, took)
                .iter()
                .map(|f| f.existing)
                .collect()
        };
        use Existing::{Keep, Replace, Update};
        assert_eq!(existing(true), vec![Keep, Update, Replace, Replace]);
        // Adopted, not taken: the node served the VIP already, and may
        // carry those connections; their entries are not deleted.
        assert_eq!(existing(false), vec![Keep, Update, Update, Update]);
    }

    #[test]
    fn conntrack_gets_established_closing_and_udp_sessions_only() {
        let state = |stage| tracked_flow(&session(1, 2, stage, 1500)).map(|f| f.tcp_state);
        assert_eq!(state(2), Some(Some(TcpState::Established)));
        assert_eq!(state(3), Some(Some(TcpState::CloseWait)));
        assert_eq!(state(1), None);
        assert_eq!(state(4), None);
        let mut udp = session(1, 2, 0, 1500);
        udp.proto = Proto::Udp;
        let flow = tracked_flow(&udp).unwrap();
        assert_eq!((flow.tcp_state, flow.timeout_secs), (None, 2));
    }
}
