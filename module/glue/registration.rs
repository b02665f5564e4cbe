// SPDX-License-Identifier: GPL-2.0

//! Registration of a per-namespace state type with the kernel, built the
//! way `rust/kernel` abstractions are (`net/phy.rs`'s `Adapter<T: Driver>`):
//! the module implements `Namespace` for its state, and `Registration<T>`
//! hands the C glue a table of `Adapter<T>`'s `extern "C"` callbacks. The C
//! side (pernet operations, netfilter hooks, the generic netlink family, the
//! sweep's delayed work) calls only through that table, so this layer never
//! names a type of the module above it.

use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::error::to_result;
use kernel::ffi::{c_int, c_uint, c_ulong, c_void};
use kernel::prelude::*;

use super::{bindings, Dump, Hook, NetHandle, Packet, RcuSection, Request, Sleepable, Verdict};

/// The state the module keeps for each network namespace.
///
/// A namespace's state is created (`init`) before its hooks can run and
/// dropped (its exit) only after they are unregistered and an RCU grace
/// period has passed, after its sweep is cancelled, and while no netlink
/// request of the namespace runs: the methods never see freed state.
pub(crate) trait Namespace: Sized + Send + Sync {
    /// Creates the state of the namespace `net`.
    fn init(net: NetHandle) -> Result<KBox<Self>>;

    /// Decides what happens to `packet` at `hook`. Runs in packet context,
    /// inside the RCU read-side section `rcu`: must not sleep.
    fn hook(&self, hook: Hook, packet: &mut Packet<'_>, rcu: &RcuSection<'_>) -> Verdict;

    /// Does a bounded step of periodic cleanup, in process context
    /// (`context`); the ticks until the next step. Runs once started
    /// (`NetHandle::start_sweep`).
    fn sweep(&self, context: &mut Sleepable) -> u64;

    /// Answers a request of the generic netlink family's command `cmd`
    /// (`RINGGATE_CMD_*`), which its policy has validated. Process context
    /// (`context`).
    fn request(&self, cmd: u32, request: &Request<'_>, context: &mut Sleepable) -> Result;

    /// Fills one part of a dump of command `cmd`. Process context
    /// (`context`).
    fn dump(&self, cmd: u32, dump: &mut Dump<'_>, context: &mut Sleepable) -> Result;
}

/// The registration of `T` with the kernel: pernet operations (and through
/// them the netfilter hooks and the sweep of every namespace) and the generic
/// netlink family. Dropping it undoes both.
pub(crate) struct Registration<T: Namespace> {
    _state: PhantomData<T>,
}

impl<T: Namespace> Registration<T> {
    /// Registers; called once, from module init.
    pub(crate) fn new() -> Result<Self> {
        // The table is a promoted constant, so it lives as long as the module.
        let callbacks: &'static bindings::rg_callbacks = &Adapter::<T>::CALLBACKS;
        // Called once from module init; `Drop` alone unregisters; the table outlives both.
        // SAFETY: As just said: one registration, undone once, with a static table.
        to_result(unsafe { bindings::rg_glue_register(callbacks) })?;
        Ok(Registration {
            _state: PhantomData,
        })
    }
}

impl<T: Namespace> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: `new` registered successfully, and this runs exactly once.
        unsafe { bindings::rg_glue_unregister() }
    }
}

/// The `extern "C"` callbacks of a `Namespace` type, as the C glue calls them.
struct Adapter<T: Namespace>(PhantomData<T>);

impl<T: Namespace> Adapter<T> {
    /// The table the C glue calls through; its field types are the C
    /// prototypes (bindgen), so a callback of the wrong type does not compile.
    const CALLBACKS: bindings::rg_callbacks = bindings::rg_callbacks {
        net_init: Some(Self::net_init),
        net_exit: Some(Self::net_exit),
        sweep: Some(Self::sweep),
        hook: Some(Self::hook),
        doit: Some(Self::doit),
        dumpit: Some(Self::dumpit),
    };

    /// Creates a namespace's state; called by the glue's pernet init.
    ///
    /// # Safety
    ///
    /// `net` is a namespace being set up.
    unsafe extern "C" fn net_init(net: *mut bindings::net) -> *mut c_void {
        let Some(net) = NonNull::new(net) else {
            return core::ptr::null_mut();
        };
        match T::init(NetHandle::new(net)) {
            Ok(state) => KBox::into_raw(state).cast(),
            Err(_) => core::ptr::null_mut(),
        }
    }

    /// Frees a namespace's state; called by the glue's pernet exit after its
    /// hooks are unregistered, an RCU grace period has passed and its sweep
    /// is cancelled.
    ///
    /// # Safety
    ///
    /// `state` is null or came from `net_init`, and nothing uses it any more.
    unsafe extern "C" fn net_exit(state: *mut c_void) {
        if !state.is_null() {
            // SAFETY: Per the contract above, `state` is an unused `KBox::into_raw` pointer.
            drop(unsafe { KBox::from_raw(state.cast::<T>()) });
        }
    }

    /// One step of a namespace's sweep, from its delayed work.
    ///
    /// # Safety
    ///
    /// `state` is a live `net_init` pointer: the glue cancels the work
    /// (synchronously) before the state is freed.
    unsafe extern "C" fn sweep(state: *mut c_void) -> c_ulong {
        // Without a state there is nothing to sweep: look again in a second.
        let Some(state) = NonNull::new(state) else {
            return super::timer_delay(super::hz());
        };
        // SAFETY: Per the contract above, `state` points to a live `T`.
        let state = unsafe { state.cast::<T>().as_ref() };
        // SAFETY: A delayed work runs in process context, outside any RCU read-side section.
        let mut context = unsafe { Sleepable::assume() };
        super::timer_delay(state.sweep(&mut context))
    }

    /// The netfilter hook of every namespace.
    ///
    /// # Safety
    ///
    /// `state` is the `net_init` pointer of the namespace the packet is in
    /// (still alive: hooks are unregistered before it is freed), and `skb`
    /// is the packet being processed, valid for the duration of the call,
    /// which netfilter makes inside an RCU read-side section; `target` is
    /// null or valid for writes for the duration of the call.
    unsafe extern "C" fn hook(
        state: *mut c_void,
        skb: *mut bindings::sk_buff,
        hook: c_uint,
        target: *mut bindings::rg_l2_target,
    ) -> bindings::rg_verdict {
        let (Some(state), Some(hook), Some(skb)) = (
            NonNull::new(state),
            Hook::from_uapi(hook),
            NonNull::new(skb),
        ) else {
            return bindings::RG_VERDICT_ACCEPT;
        };
        // SAFETY: Per the contract above, `state` points to a live `T`.
        let state = unsafe { state.cast::<T>().as_ref() };
        // SAFETY: Per the contract above, `skb` is ours for this call.
        let mut packet = unsafe { Packet::from_raw(skb) };
        // SAFETY: Netfilter runs hooks inside an RCU read-side section.
        let rcu = unsafe { RcuSection::assume_held() };
        match state.hook(hook, &mut packet, &rcu) {
            Verdict::Accept => bindings::RG_VERDICT_ACCEPT,
            Verdict::Drop => bindings::RG_VERDICT_DROP,
            Verdict::Forward(to) => {
                // The glue passes a target to fill; without one (it never
                // does) the packet cannot be sent, so it is dropped.
                let Some(mut slot) = NonNull::new(target) else {
                    return bindings::RG_VERDICT_DROP;
                };
                let Ok(ifindex) = c_int::try_from(to.ifindex) else {
                    return bindings::RG_VERDICT_DROP;
                };
                // SAFETY: The glue's `target` is valid for writes for the duration of the call.
                let slot = unsafe { slot.as_mut() };
                slot.ifindex = ifindex;
                slot.mac = to.mac;
                bindings::RG_VERDICT_FORWARD
            }
        }
    }

    /// Every doit op of the family.
    ///
    /// # Safety
    ///
    /// `state` is the live state of the request's namespace (the requesting
    /// socket holds the namespace, and module unload unregisters the family
    /// before any state is freed), `info` the request, valid for the call.
    unsafe extern "C" fn doit(
        state: *mut c_void,
        cmd: c_uint,
        info: *mut bindings::genl_info,
    ) -> c_int {
        let (Some(state), Some(info)) = (NonNull::new(state), NonNull::new(info)) else {
            return ENODEV.to_errno();
        };
        // SAFETY: Per the contract above, `state` points to a live `T`.
        let state = unsafe { state.cast::<T>().as_ref() };
        // SAFETY: Per the contract above, `info` is valid for this call.
        let request = unsafe { Request::from_raw(info) };
        // Generic netlink calls doit from the sender's system call.
        // SAFETY: So this is process context, outside any RCU read-side section.
        let mut context = unsafe { Sleepable::assume() };
        match state.request(cmd, &request, &mut context) {
            Ok(()) => 0,
            Err(err) => err.to_errno(),
        }
    }

    /// Every dumpit op of the family: one part of a dump.
    ///
    /// # Safety
    ///
    /// As for `doit`; `skb` and `cb` are the dumpit callback's arguments.
    unsafe extern "C" fn dumpit(
        state: *mut c_void,
        cmd: c_uint,
        skb: *mut bindings::sk_buff,
        cb: *mut bindings::netlink_callback,
    ) -> c_int {
        let (Some(state), Some(skb), Some(cb)) =
            (NonNull::new(state), NonNull::new(skb), NonNull::new(cb))
        else {
            return ENODEV.to_errno();
        };
        // SAFETY: Per the contract above, `state` points to a live `T`.
        let state = unsafe { state.cast::<T>().as_ref() };
        // SAFETY: Per the contract above, `skb` and `cb` are valid for this call.
        let mut dump = unsafe { Dump::from_raw(skb, cb) };
        // Netlink calls dumpit from a system call (the request's or a later receive's),
        // under the socket's callback mutex.
        // SAFETY: So this is process context, outside any RCU read-side section.
        let mut context = unsafe { Sleepable::assume() };
        match state.dump(cmd, &mut dump, &mut context) {
            Ok(()) => dump.written(),
            Err(err) => err.to_errno(),
        }
    }
}
