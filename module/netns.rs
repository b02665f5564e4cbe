// SPDX-License-Identifier: GPL-2.0

//! The state ringgate keeps for one network namespace, and everything done
//! to it: the netlink handlers translate requests into calls of its methods
//! (`vip_ops`, `service_ops`, `session_ops`, `settings`), the hooks run its
//! packet path, the sweep its session table's cleanup.

use core::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use kernel::prelude::*;
use kernel::str::CStr;

use crate::clock::Clock;
use crate::counters::HookCounters;
use crate::glue::{self, uapi, ConfigMutex, Group, NetHandle, Notification, RcuBox, RcuSection};
use crate::lease::LeaseEnd;
use crate::peers::{PeerTable, MAX_PEERS};
use crate::services::{ServiceTable, MAX_SERVICES};
use crate::sessions::{SessionTable, SessionView, Timeouts, DEFAULT_MAX_SESSIONS};
use crate::snat::Snat;
use crate::upsert::Conflict;
use crate::vips::VipTable;

// The peer table holds what `peer-set` may give it.
const _: () = assert!(MAX_PEERS == uapi::RINGGATE_MAX_PEERS as usize);

mod namespace;
mod peer_ops;
mod service_ops;
mod session_ops;
mod settings;
mod snat_ops;
mod status;
mod vip_ops;

pub(crate) use settings::Settings;
pub(crate) use vip_ops::VipChange;

/// Why the state refused a change: the error, and when there is one to
/// give, the sentence the requester reads in netlink's extended ack.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Refusal {
    pub(crate) err: Error,
    pub(crate) why: Option<&'static CStr>,
}

impl Refusal {
    pub(crate) const fn new(err: Error, why: &'static CStr) -> Refusal {
        Refusal {
            err,
            why: Some(why),
        }
    }

    /// This refusal if `err` is the error it explains, else `err` unexplained.
    pub(crate) fn or(self, err: Error) -> Refusal {
        if err == self.err {
            self
        } else {
            Refusal::from(err)
        }
    }
}

impl Refusal {
    /// A request that conflicts with its object's existence (see
    /// `upsert`), explained: `exists` for `EEXIST`, `missing` for `ENOENT`.
    pub(crate) fn conflict(
        conflict: Conflict,
        exists: &'static CStr,
        missing: &'static CStr,
    ) -> Refusal {
        match conflict {
            Conflict::Exists => Refusal::new(EEXIST, exists),
            Conflict::Missing => Refusal::new(ENOENT, missing),
        }
    }
}

impl From<Error> for Refusal {
    fn from(err: Error) -> Refusal {
        Refusal { err, why: None }
    }
}

/// Everything one namespace owns. Created before the namespace's hooks are
/// registered and dropped only after they are gone (see `glue::Namespace`,
/// which `namespace` implements for it).
/// Room for one session's attributes in a notification: eleven attributes
/// of at most 8 bytes each with their headers, and some to spare.
const SESSION_NTF_SIZE: u32 = 128;

pub(crate) struct NetState {
    net: NetHandle,
    pub(crate) counters: HookCounters,
    /// `enum ringgate_down_policy`: what happens to a down back-end's sessions.
    down_policy: AtomicU32,
    /// `enum ringgate_conntrack_mode`: whether conntrack sees translated
    /// packets (see `nat`).
    conntrack_mode: AtomicU32,
    /// Set once the namespace has had a service: until then the NAT path
    /// has nothing to do, and skips even parsing the packet.
    nat_active: AtomicBool,
    /// When (jiffies) the last table-full notification went out.
    last_full_notice: AtomicU64,
    pub(crate) vips: RcuBox<VipTable>,
    pub(crate) services: RcuBox<ServiceTable>,
    /// A one-bucket placeholder until NAT is activated; replaced whole when
    /// its size is configured (see `resize_sessions`).
    pub(crate) sessions: RcuBox<SessionTable>,
    max_sessions: AtomicU32,
    /// The bucket the next sweep starts at.
    sweep_cursor: AtomicUsize,
    node_id: AtomicU16,
    /// Seconds, in the order syn, established, closing, udp.
    timeouts: [AtomicU32; 4],
    /// Each service slot's connection counter, for its scheduler.
    turns: [AtomicU32; MAX_SERVICES],
    no_backend: AtomicU64,
    not_owner: AtomicU64,
    /// Where the other nodes are, for packets of their sessions (`peers`).
    pub(crate) peers: RcuBox<PeerTable>,
    /// Packets sent on to their session's owner.
    redirected: AtomicU64,
    /// Connections met mid-stream and given a session (see `nat::pick_up`).
    picked_up: AtomicU64,
    /// Outbound translation (see `snat`); off until `snat-set`.
    pub(crate) snat: RcuBox<Snat>,
    /// Outbound connections refused: no port of the range was free.
    snat_no_port: AtomicU64,
    /// ARP packets dropped for VIPs this node does not own. Only such
    /// packets touch it, so one shared counter costs the fast path nothing.
    arp_suppressed: AtomicU64,
    garp_sent: AtomicU64,
    /// When (jiffies) the VIP ownership lease ends; `LeaseEnd::NONE` when
    /// no lease runs (see `lease`).
    lease_end: AtomicU64,
    /// A session notification found nobody of this namespace listening
    /// while a lease ran; cleared by a renewal (see `announcer_missing`).
    pub(crate) announcer_gone: AtomicBool,
}

impl NetState {
    /// Allocates the state of a new namespace.
    fn new(net: NetHandle) -> Result<KBox<NetState>> {
        let counters = HookCounters::new()?;
        // One mutex for all of the namespace's tables: a change to one may
        // depend on another (a back-end's slot and its connection counts).
        let writers = ConfigMutex::new()?;
        let vips = RcuBox::new(KBox::new(VipTable::EMPTY, GFP_KERNEL)?, &writers);
        let services = RcuBox::new(ServiceTable::new_empty()?, &writers);
        // A placeholder until the namespace's first service (`activate_nat`).
        let sessions = RcuBox::new(Self::session_table(0, 1, None)?, &writers);
        let peers = RcuBox::new(KBox::new(PeerTable::EMPTY, GFP_KERNEL)?, &writers);
        let snat = RcuBox::new(KBox::new(Snat::OFF, GFP_KERNEL)?, &writers);
        let d = Timeouts::DEFAULT;
        Ok(KBox::new(
            NetState {
                net,
                last_full_notice: AtomicU64::new(0),
                nat_active: AtomicBool::new(false),
                down_policy: AtomicU32::new(0),
                // Tracked by default: it costs nothing where nothing uses
                // conntrack, and where something does, a stateful ruleset
                // then works as it does with nftables DNAT.
                conntrack_mode: AtomicU32::new(uapi::RINGGATE_CONNTRACK_MODE_TRACKED),
                counters,
                vips,
                services,
                sessions,
                max_sessions: AtomicU32::new(DEFAULT_MAX_SESSIONS as u32),
                sweep_cursor: AtomicUsize::new(0),
                node_id: AtomicU16::new(0),
                timeouts: [
                    AtomicU32::new(d.syn),
                    AtomicU32::new(d.established),
                    AtomicU32::new(d.closing),
                    AtomicU32::new(d.udp),
                ],
                turns: [const { AtomicU32::new(0) }; MAX_SERVICES],
                no_backend: AtomicU64::new(0),
                not_owner: AtomicU64::new(0),
                peers,
                redirected: AtomicU64::new(0),
                picked_up: AtomicU64::new(0),
                snat,
                snat_no_port: AtomicU64::new(0),
                arp_suppressed: AtomicU64::new(0),
                garp_sent: AtomicU64::new(0),
                lease_end: AtomicU64::new(LeaseEnd::NONE.0),
                announcer_gone: AtomicBool::new(false),
            },
            GFP_KERNEL,
        )?)
    }

    /// The moment now, read once by whoever calls into the domain logic
    /// (a hook, the sweep, a request), which takes it as an argument.
    pub(crate) fn clock(&self) -> Clock {
        Clock::new(glue::jiffies(), glue::hz())
    }

    /// Whether `addr` (network byte order) is an address of this
    /// namespace: a packet to it is this node's own.
    pub(crate) fn is_local_address(&self, addr: u32, rcu: &RcuSection<'_>) -> bool {
        self.net.has_address(addr, rcu)
    }

    /// Whether owned VIPs are owned at tick `now`: no lease, or one that
    /// still runs. One relaxed load: the packet path asks it.
    pub(crate) fn leased(&self, now: u64) -> bool {
        LeaseEnd(self.lease_end.load(Ordering::Relaxed)).running(now)
    }

    pub(crate) fn count_arp_suppressed(&self) {
        self.arp_suppressed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_garp_sent(&self, packets: u32) {
        self.garp_sent
            .fetch_add(u64::from(packets), Ordering::Relaxed);
    }

    /// Whether a lease runs and nobody of this namespace listens to the
    /// sessions group: the daemon that renews the lease, and announces the
    /// sessions this node creates, is gone (killed, say). A session created
    /// now would be announced by nobody, and the VIP's next owner would
    /// reset its connection: new connections are refused from that moment
    /// rather than from the lease's end, and their clients try again and
    /// reach the next owner. Known from a notification nobody here received
    /// (see `notify_session_new`) until the lease is renewed, or from nobody
    /// anywhere listening.
    pub(crate) fn announcer_missing(&self) -> bool {
        self.lease_running()
            && (self.announcer_gone.load(Ordering::Relaxed) || !self.net.sessions_listened())
    }

    fn lease_running(&self) -> bool {
        LeaseEnd(self.lease_end.load(Ordering::Relaxed)) != LeaseEnd::NONE
    }

    /// Tells the sessions group of a session this node just made, so that
    /// the daemon announces it to the cluster at once rather than at its
    /// next read of the table. Packet context: one small atomic allocation
    /// per new session, none when nobody listens; a listener whose buffer
    /// is full loses it, and its next read makes that good. False if a
    /// lease runs and nobody of this namespace listens: the caller drops
    /// the session (see `announcer_missing`). An allocation that fails says
    /// nothing of the daemon: true.
    pub(crate) fn notify_session_new(&self, session: &SessionView) -> bool {
        if !self.net.sessions_listened() {
            return !self.lease_running();
        }
        let Ok(mut n) = Notification::to_group(
            self.net,
            Group::Sessions,
            uapi::RINGGATE_CMD_SESSION_NEW_NTF,
            SESSION_NTF_SIZE,
        ) else {
            return true;
        };
        if n.attrs()
            .and_then(|a| crate::netlink::put_session(a, session))
            .is_err()
        {
            return true;
        }
        if n.send() || !self.lease_running() {
            return true;
        }
        self.announcer_gone.store(true, Ordering::Relaxed);
        false
    }

    /// Tells listeners that a VIP was taken or released.
    pub(crate) fn notify_owner(&self, addr: u32, owned: bool) {
        let Ok(mut n) = Notification::new(self.net, uapi::RINGGATE_CMD_VIP_OWNER_NTF) else {
            return;
        };
        let filled = n.attrs().and_then(|a| {
            a.put_u32(uapi::RINGGATE_A_VIP_ADDR, addr)?;
            a.put_u8(uapi::RINGGATE_A_VIP_OWNED, u8::from(owned))
        });
        if filled.is_ok() {
            let _ = n.send();
        }
    }

    /// Tells listeners the session table refused a connection, at most once
    /// a second (this runs in packet context).
    pub(crate) fn notify_table_full(&self, dropped: u64, clock: Clock) {
        let now = clock.now;
        let last = self.last_full_notice.load(Ordering::Relaxed);
        if clock.since(last) < clock.ticks(1)
            || self
                .last_full_notice
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let Ok(mut n) = Notification::new(self.net, uapi::RINGGATE_CMD_SESSIONS_FULL_NTF) else {
            return;
        };
        if n.attrs()
            .and_then(|a| a.put_uint(uapi::RINGGATE_A_STATUS_SESSIONS_DROPPED, dropped))
            .is_ok()
        {
            let _ = n.send();
        }
    }

    /// The connection counter of service slot `slot`.
    pub(crate) fn turn(&self, slot: usize) -> &AtomicU32 {
        &self.turns[slot % MAX_SERVICES]
    }

    pub(crate) fn count_no_backend(&self) {
        self.no_backend.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a packet sent on to the node that owns its session (see
    /// `nat::to_owner`).
    pub(crate) fn count_redirected(&self) {
        self.redirected.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_picked_up(&self) {
        self.picked_up.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn picked_up(&self) -> u64 {
        self.picked_up.load(Ordering::Relaxed)
    }

    pub(crate) fn redirected(&self) -> u64 {
        self.redirected.load(Ordering::Relaxed)
    }

    /// Counts a packet of a VIP's service dropped because this node does
    /// not serve the VIP (see `nat::pre_routing`).
    pub(crate) fn count_not_owner(&self) {
        self.not_owner.fetch_add(1, Ordering::Relaxed);
    }
}
