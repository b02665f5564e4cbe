// SPDX-License-Identifier: GPL-2.0

//! The state ringgate keeps for one network namespace.

use core::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use kernel::prelude::*;

use crate::clock::Clock;
use crate::counters::HookCounters;
use crate::glue::{self, uapi, ConfigMutex, NetHandle, Notification, RcuBox};
use crate::services::{BackendSlot, ServiceTable, MAX_SERVICES};
use crate::sessions::{SessionTable, Timeouts, DEFAULT_MAX_SESSIONS};
use crate::vips::VipTable;

/// Everything one namespace owns. Created before the namespace's hooks are
/// registered and dropped only after they are gone (see `glue`).
pub(crate) struct NetState {
    net: NetHandle,
    pub(crate) counters: HookCounters,
    /// `enum ringgate_down_policy`: what happens to a down back-end's sessions.
    down_policy: AtomicU32,
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
    /// ARP packets dropped for VIPs this node does not own. Only such
    /// packets touch it, so one shared counter costs the fast path nothing.
    arp_suppressed: AtomicU64,
    garp_sent: AtomicU64,
}

impl NetState {
    /// Allocates the state of a new namespace.
    pub(crate) fn new(net: NetHandle) -> Result<KBox<NetState>> {
        let counters = HookCounters::new()?;
        // One mutex for all of the namespace's tables: a change to one may
        // depend on another (a back-end's slot and its connection counts).
        let writers = ConfigMutex::new()?;
        let vips = RcuBox::new(KBox::new(VipTable::EMPTY, GFP_KERNEL)?, &writers);
        let services = RcuBox::new(ServiceTable::new_empty()?, &writers);
        // A placeholder until the namespace's first service (`activate_nat`).
        let sessions = RcuBox::new(Self::session_table(0, 1)?, &writers);
        let d = Timeouts::DEFAULT;
        Ok(KBox::new(
            NetState {
                net,
                last_full_notice: AtomicU64::new(0),
                nat_active: AtomicBool::new(false),
                down_policy: AtomicU32::new(0),
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
                arp_suppressed: AtomicU64::new(0),
                garp_sent: AtomicU64::new(0),
            },
            GFP_KERNEL,
        )?)
    }

    /// The moment now, read once by whoever calls into the domain logic
    /// (a hook, the sweep, a request), which takes it as an argument.
    pub(crate) fn clock(&self) -> Clock {
        Clock::new(glue::jiffies(), glue::hz())
    }

    pub(crate) fn count_arp_suppressed(&self) {
        self.arp_suppressed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_garp_sent(&self, packets: u32) {
        self.garp_sent
            .fetch_add(u64::from(packets), Ordering::Relaxed);
    }

    pub(crate) fn timeouts(&self) -> Timeouts {
        let t = |i: usize| self.timeouts[i].load(Ordering::Relaxed);
        Timeouts {
            syn: t(0),
            established: t(1),
            closing: t(2),
            udp: t(3),
        }
    }

    /// Sets the timeouts given; the others stay.
    pub(crate) fn set_timeouts(
        &self,
        syn: Option<u32>,
        established: Option<u32>,
        closing: Option<u32>,
        udp: Option<u32>,
    ) {
        for (i, value) in [syn, established, closing, udp].into_iter().enumerate() {
            if let Some(value) = value {
                self.timeouts[i].store(value, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn node_id(&self) -> u16 {
        self.node_id.load(Ordering::Relaxed)
    }

    pub(crate) fn set_node_id(&self, id: u16) {
        self.node_id.store(id, Ordering::Relaxed);
    }

    pub(crate) fn max_sessions(&self) -> u32 {
        self.max_sessions.load(Ordering::Relaxed)
    }

    /// A new, empty session table for `max` sessions, numbered `generation`.
    fn session_table(max: u32, generation: u32) -> Result<KBox<SessionTable>> {
        Ok(KBox::new(
            SessionTable::new(max as usize, glue::random_u64(), generation)?,
            GFP_KERNEL,
        )?)
    }

    /// A new session table that replaces `old` (see `SessionTable::generation`).
    fn next_session_table(max: u32, old: &SessionTable) -> Result<KBox<SessionTable>> {
        Self::session_table(max, old.generation().wrapping_add(1).max(1))
    }

    /// Sizes the session table for `max` sessions (if that is a change).
    /// Before NAT is active only the setting changes (the table is allocated
    /// at activation). After, a new table takes over the live sessions: they
    /// are copied, the new table is published, and after a grace period,
    /// when no packet can still be using the old one, what changed there
    /// meanwhile (sessions opened during the copy) is copied too. Sessions a
    /// smaller table has no room for are dropped and counted. Sleeps.
    pub(crate) fn resize_sessions(&self, max: u32) -> Result {
        self.sessions.replace_with(
            |old| {
                if max == self.max_sessions() {
                    return Ok(None);
                }
                let table = if self.nat_active() {
                    let table = Self::next_session_table(max, old)?;
                    table.loads().adopt_generations(old.loads());
                    table.adopt(old, self.clock().now);
                    Some(table)
                } else {
                    None
                };
                self.max_sessions.store(max, Ordering::Relaxed);
                Ok(table)
            },
            |old, new| {
                new.adopt(old, self.clock().now);
                new.adopt_counters(old);
            },
        )?;
        Ok(())
    }

    pub(crate) fn down_policy(&self) -> u32 {
        self.down_policy.load(Ordering::Relaxed)
    }

    pub(crate) fn set_down_policy(&self, policy: u32) {
        self.down_policy.store(policy, Ordering::Relaxed);
    }

    /// Applies the down policy to a back-end just taken down or removed
    /// from its slot.
    pub(crate) fn backend_gone(&self, slot: BackendSlot) {
        if self.down_policy() == uapi::RINGGATE_DOWN_POLICY_DROP {
            let rcu = glue::RcuSection::read_lock();
            let sessions = self.sessions.read(&rcu);
            sessions.purge_backend(sessions.loads().current(slot.service, slot.backend));
        }
    }

    /// A slot got a new back-end: its connection counts start anew (the
    /// sessions of the slot's previous back-end no longer count there).
    pub(crate) fn backend_placed(&self, slot: BackendSlot) {
        if slot.new {
            let rcu = glue::RcuSection::read_lock();
            self.sessions
                .read(&rcu)
                .loads()
                .reset(slot.service, slot.backend);
        }
    }

    /// Sweeps the next stretch of the session table for expired entries
    /// (see `SessionTable::sweep`); the jiffies until the next stretch:
    /// soon while a pass is under way, a second after a pass ends. Bounded
    /// work per call, so a large table never holds the CPU long.
    pub(crate) fn sweep_sessions(&self) -> u64 {
        const BUCKETS_PER_CALL: usize = 1024;
        let rcu = glue::RcuSection::read_lock();
        let start = self.sweep_cursor.load(Ordering::Relaxed);
        let clock = self.clock();
        let next = self
            .sessions
            .read(&rcu)
            .sweep(start, BUCKETS_PER_CALL, clock.now);
        self.sweep_cursor.store(next, Ordering::Relaxed);
        if next == 0 {
            clock.ticks(1)
        } else {
            1
        }
    }

    pub(crate) fn nat_active(&self) -> bool {
        self.nat_active.load(Ordering::Relaxed)
    }

    /// Turns the NAT path on for good (sessions outlive their service),
    /// allocating the session table at its configured size: namespaces that
    /// never have a service (most, on a host with containers) keep a
    /// one-bucket table. IPv4 defragmentation is turned on with it, or a
    /// fragmented datagram's later fragments (which carry no ports) would
    /// reach the VIP untranslated. Sleeps; called before the first service is
    /// published, so no session is lost with the placeholder.
    pub(crate) fn activate_nat(&self) -> Result {
        if self.nat_active() {
            return Ok(());
        }
        self.sessions.replace_with(
            |old| {
                if self.nat_active() {
                    return Ok(None);
                }
                let table = Self::next_session_table(self.max_sessions(), old)?;
                self.net.enable_defrag()?;
                self.nat_active.store(true, Ordering::Relaxed);
                Ok(Some(table))
            },
            |_, _| {},
        )?;
        self.net.start_sweep();
        Ok(())
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
            n.send();
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
            n.send();
        }
    }

    /// The connection counter of service slot `slot`.
    pub(crate) fn turn(&self, slot: usize) -> &AtomicU32 {
        &self.turns[slot % MAX_SERVICES]
    }

    pub(crate) fn count_no_backend(&self) {
        self.no_backend.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn no_backend(&self) -> u64 {
        self.no_backend.load(Ordering::Relaxed)
    }

    pub(crate) fn arp_suppressed(&self) -> u64 {
        self.arp_suppressed.load(Ordering::Relaxed)
    }

    pub(crate) fn garp_sent(&self) -> u64 {
        self.garp_sent.load(Ordering::Relaxed)
    }
}
