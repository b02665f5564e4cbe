// SPDX-License-Identifier: GPL-2.0

//! A network namespace as its state sees it: notifications to its
//! listeners, its devices, its defragmentation and its sweep.

use core::ptr::NonNull;

use kernel::error::code::ESRCH;
use kernel::error::to_result;
use kernel::ffi::c_int;
use kernel::prelude::*;

use super::{bindings, Attrs, RcuSection};

/// The network namespace a state belongs to, for sending it notifications,
/// finding its devices and starting its sweep. The namespace outlives its
/// state (the state is freed in the namespace's pernet exit).
#[derive(Clone, Copy)]
pub(crate) struct NetHandle(NonNull<bindings::net>);

impl NetHandle {
    /// The handle of `net`, a namespace whose state is being created.
    pub(super) fn new(net: NonNull<bindings::net>) -> Self {
        NetHandle(net)
    }

    /// Starts the namespace's sweep `delay` ticks from now; a no-op if it
    /// is started already.
    pub(crate) fn start_sweep(&self, delay: u64) {
        let delay = super::timer_delay(delay);
        // The state holding the handle exists only while the glue's state
        // of the namespace is set up.
        // SAFETY: So the handle names a live namespace with that state.
        unsafe { bindings::rg_sweep_start(self.0.as_ptr(), delay) }
    }

    /// Has the kernel reassemble fragmented IPv4 datagrams in this
    /// namespace before pre-routing (see `rg_defrag_enable`). Idempotent;
    /// the caller holds the configuration mutex.
    pub(crate) fn enable_defrag(&self) -> Result {
        // The glue serialises on the configuration mutex, which every caller holds.
        // SAFETY: The handle names a live namespace with the glue's state.
        to_result(unsafe { bindings::rg_defrag_enable(self.0.as_ptr()) })
    }
}

impl NetHandle {
    /// Whether a device of this namespace holds IPv4 address `addr`
    /// (network byte order). For the packet path: no reference is taken,
    /// and `_rcu` shows the RCU read lock the lookup needs is held.
    pub(crate) fn has_address(&self, addr: u32, _rcu: &RcuSection<'_>) -> bool {
        // The handle names a live namespace, and the caller holds the RCU
        // read lock (`_rcu`) under which the glue looks the address up.
        // SAFETY: As just said.
        unsafe { bindings::rg_addr_is_local(self.0.as_ptr(), addr) != 0 }
    }

    /// The device of this namespace that holds IPv4 address `addr`
    /// (network byte order), if one does.
    pub(crate) fn device_holding(&self, addr: u32) -> Option<NetDevice> {
        // A device found comes with a reference that `NetDevice::drop` gives back.
        // SAFETY: As just said; and the handle names a live namespace.
        NonNull::new(unsafe { bindings::rg_dev_find(self.0.as_ptr(), addr) }).map(NetDevice)
    }

    /// Whether any socket listens to the sessions group, in any namespace:
    /// netlink keeps listeners per protocol, so only a `false` says
    /// something of this namespace (nobody here either); a notification's
    /// delivery tells the rest. One bitmap read, so packet context may ask.
    pub(crate) fn sessions_listened(&self) -> bool {
        // SAFETY: The handle names a live namespace.
        unsafe { bindings::rg_sessions_listened(self.0.as_ptr()) != 0 }
    }
}

/// A network device, held by a reference for as long as the value lives.
pub(crate) struct NetDevice(NonNull<bindings::net_device>);

/// The target hardware address of an ARP packet `NetDevice::send_arp` sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArpTargetHw {
    /// Zero: the sender does not know (or name) the target's address.
    Unknown,
    /// The sending device's own address.
    Own,
}

impl NetDevice {
    /// Broadcasts an ARP packet of opcode `op` speaking for `addr`
    /// (network byte order) as both sender and target protocol address.
    pub(crate) fn send_arp(&self, op: u32, addr: u32, target_hw: ArpTargetHw) {
        let own = c_int::from(target_hw == ArpTargetHw::Own);
        // SAFETY: `self` holds a reference to the device.
        unsafe { bindings::rg_arp_send(self.0.as_ptr(), op, addr, own) }
    }
}

impl Drop for NetDevice {
    fn drop(&mut self) {
        // SAFETY: The reference `device_holding` took, given back once.
        unsafe { bindings::rg_dev_put(self.0.as_ptr()) }
    }
}

// SAFETY: The handle is only passed back to the glue, which may use a
// namespace from any context while the namespace is alive.
unsafe impl Send for NetHandle {}
// SAFETY: As above; the handle itself is immutable.
unsafe impl Sync for NetHandle {}

/// A multicast group of the family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Group {
    /// VIPs taken and released, a full session table.
    Events,
    /// Every session this node creates, as it is created.
    Sessions,
}

impl Group {
    fn number(self) -> u32 {
        match self {
            Group::Events => bindings::RG_GROUP_EVENTS,
            Group::Sessions => bindings::RG_GROUP_SESSIONS,
        }
    }
}

/// A notification to a namespace's multicast group under construction;
/// freed unless sent.
pub(crate) struct Notification {
    attrs: Option<Attrs<'static>>,
    net: NetHandle,
    group: Group,
}

impl Notification {
    /// A notification of command `cmd` to the events group; allocates
    /// atomically, so it may be built in packet context.
    pub(crate) fn new(net: NetHandle, cmd: u32) -> Result<Notification> {
        Self::to_group(net, Group::Events, cmd, 0)
    }

    /// A notification of command `cmd` to `group` with room for `size`
    /// bytes of attributes (0: a page); allocates atomically.
    pub(crate) fn to_group(
        net: NetHandle,
        group: Group,
        cmd: u32,
        size: u32,
    ) -> Result<Notification> {
        // SAFETY: No preconditions; the result is owned by `Notification`.
        let msg = NonNull::new(unsafe { bindings::rg_event_new(cmd, size) }).ok_or(ENOMEM)?;
        Ok(Notification {
            attrs: Some(Attrs::new(msg)),
            net,
            group,
        })
    }

    pub(crate) fn attrs(&mut self) -> Result<&mut Attrs<'static>> {
        self.attrs.as_mut().ok_or(EINVAL)
    }

    /// Sends it to the namespace's listeners (if any); whether a socket of
    /// the namespace listens to the group (one that had no room for it
    /// counts: it learns of the loss).
    pub(crate) fn send(mut self) -> bool {
        let Some(attrs) = self.attrs.take() else {
            return false;
        };
        // SAFETY: An unsent message owned by `self`; the glue consumes it.
        let sent = unsafe {
            bindings::rg_event_send(attrs.skb(), self.net.0.as_ptr(), self.group.number())
        };
        sent != ESRCH.to_errno()
    }
}

impl Drop for Notification {
    fn drop(&mut self) {
        if let Some(attrs) = self.attrs.take() {
            // SAFETY: Never sent, so `self` still owns it.
            unsafe { bindings::rg_event_free(attrs.skb()) }
        }
    }
}
