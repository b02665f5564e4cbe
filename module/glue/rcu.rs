// SPDX-License-Identifier: GPL-2.0

//! Read-copy-update for tables that packets read and netlink rarely changes.

use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};

use kernel::ffi::c_void;
use kernel::prelude::*;
use kernel::sync::Arc;

use super::bindings;

/// Proof that the code holding it may sleep: it runs in process context,
/// outside any RCU read-side section or atomic context. The glue makes one
/// for each netlink request, dump and sweep step it hands to the module, and
/// nothing else can. Opening a read-side section borrows it mutably
/// (`RcuSection::read_lock`), so while a section is open the code cannot call
/// what needs it to sleep (`RcuBox::replace_with`, `RcuBox::update`): the
/// borrow checker refuses what would otherwise be a sleep in an RCU read-side
/// section, found only at run time and only with lockdep.
pub(crate) struct Sleepable {
    /// The proof is for the context that received it: not `Send`.
    _not_send: PhantomData<*mut ()>,
}

impl Sleepable {
    /// # Safety
    ///
    /// The caller runs in process context, may sleep, and is outside any RCU
    /// read-side section, for the lifetime of the value.
    pub(super) unsafe fn assume() -> Sleepable {
        Sleepable {
            _not_send: PhantomData,
        }
    }

    /// Lets the scheduler run something else if it wants to: long loops in
    /// process context (a large request) call it now and then.
    pub(crate) fn yield_now(&mut self) {
        // `self` proves process context outside any RCU read-side section.
        // SAFETY: As just said, where `cond_resched` may sleep.
        unsafe { bindings::rg_cond_resched() }
    }
}

/// Proof that the code holding it runs inside an RCU read-side section: a
/// netfilter hook (the glue creates one for each hook call) or a `read_lock`,
/// which holds the context's `Sleepable` for as long as it lasts.
pub(crate) struct RcuSection<'a> {
    /// Sections are not `Send`: they end on the CPU they began on.
    _not_send: PhantomData<*mut ()>,
    /// The `Sleepable` a `read_lock` borrowed.
    _sleepable: PhantomData<&'a mut Sleepable>,
    unlock: bool,
}

impl<'a> RcuSection<'a> {
    /// Opens a read-side section that lasts until the value is dropped; the
    /// context cannot sleep (and cannot prove it may) until then.
    pub(crate) fn read_lock(_context: &'a mut Sleepable) -> RcuSection<'a> {
        // SAFETY: `rcu_read_lock` has no preconditions; `Drop` unlocks.
        unsafe { bindings::rg_rcu_read_lock() };
        RcuSection {
            _not_send: PhantomData,
            _sleepable: PhantomData,
            unlock: true,
        }
    }
}

impl RcuSection<'static> {
    /// The section a netfilter hook already runs in.
    ///
    /// # Safety
    ///
    /// The caller runs inside an RCU read-side section for the lifetime of
    /// the value.
    pub(super) unsafe fn assume_held() -> RcuSection<'static> {
        RcuSection {
            _not_send: PhantomData,
            _sleepable: PhantomData,
            unlock: false,
        }
    }
}

impl Drop for RcuSection<'_> {
    fn drop(&mut self) {
        if self.unlock {
            // SAFETY: `read_lock` locked, and this is the matching unlock.
            unsafe { bindings::rg_rcu_read_unlock() };
        }
    }
}

/// The configuration mutex of one namespace: every writer of that
/// namespace's `RcuBox`es holds it, so each works on the latest values and
/// changes that span tables (a slot's counts and its back-end) are never
/// interleaved. Namespaces have their own, so a VIP takeover in one never
/// waits behind a resize in another.
pub(crate) struct ConfigMutex(NonNull<c_void>);

// SAFETY: A kernel mutex may be locked, unlocked and freed from any thread
// (in process context, which `lock` requires).
unsafe impl Send for ConfigMutex {}
// SAFETY: As above; `&ConfigMutex` only allows locking it.
unsafe impl Sync for ConfigMutex {}

impl ConfigMutex {
    pub(crate) fn new() -> Result<Arc<ConfigMutex>> {
        // SAFETY: No preconditions; `Drop` frees what this allocates.
        let mutex = NonNull::new(unsafe { bindings::rg_mutex_new() }).ok_or(ENOMEM)?;
        Ok(Arc::new(ConfigMutex(mutex), GFP_KERNEL)?)
    }

    /// Locks until the guard is dropped. Sleeps: process context only.
    fn lock(&self) -> ConfigGuard<'_> {
        // SAFETY: The mutex is live while `self` is; `ConfigGuard::drop` unlocks.
        unsafe { bindings::rg_mutex_lock(self.0.as_ptr()) };
        ConfigGuard(self)
    }
}

impl Drop for ConfigMutex {
    fn drop(&mut self) {
        // SAFETY: Allocated by `new`; no guard borrows it any more.
        unsafe { bindings::rg_mutex_free(self.0.as_ptr()) };
    }
}

/// A held `ConfigMutex`.
struct ConfigGuard<'a>(&'a ConfigMutex);

impl Drop for ConfigGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: `lock` locked it, and this is the matching unlock.
        unsafe { bindings::rg_mutex_unlock(self.0 .0.as_ptr()) };
    }
}

/// A table whose changes get a new generation number, which dumps compare
/// between their parts to flag a change.
pub(crate) trait Versioned {
    fn advance_generation(&mut self);

    /// Whether replacing `old` by `new` withdraws something readers of
    /// `old` may still act on (a VIP that stops being owned): then the
    /// writer waits until no reader sees `old` before it returns, so that
    /// what the change promises holds as soon as the request is answered.
    /// Other changes (additions, a take) publish and return at once.
    fn withdraws(_old: &Self, _new: &Self) -> bool {
        true
    }
}

/// A heap value that readers see without a lock and writers replace whole:
/// a writer copies the current value, changes the copy, publishes it, and
/// frees the value it replaced after an RCU grace period, when no reader can
/// still see it. Writers take the namespace's configuration mutex, so each
/// works on the latest value (netlink ops of the family run in parallel).
///
/// Readers on any CPU see `&T`, and whichever writer replaces a value drops
/// it, so sharing an `RcuBox` needs `T: Send + Sync`.
pub(crate) struct RcuBox<T> {
    /// Never null; owned (as a `KBox`) by this `RcuBox`.
    current: AtomicPtr<T>,
    writers: Arc<ConfigMutex>,
    /// Owns a `T` (for drop check and the auto traits, which `AtomicPtr`
    /// would grant for any `T`).
    _owns: PhantomData<*mut T>,
}

// SAFETY: Sending an `RcuBox` sends the `T` it owns.
unsafe impl<T: Send> Send for RcuBox<T> {}
// SAFETY: A shared `RcuBox` hands out `&T` to any thread and lets any thread
// replace (and so drop) the value.
unsafe impl<T: Send + Sync> Sync for RcuBox<T> {}

impl<T> RcuBox<T> {
    /// A box whose writers take `writers`.
    pub(crate) fn new(value: KBox<T>, writers: &Arc<ConfigMutex>) -> RcuBox<T> {
        RcuBox {
            current: AtomicPtr::new(KBox::into_raw(value)),
            writers: writers.clone(),
            _owns: PhantomData,
        }
    }

    /// Publishes the value `make` returns, if any, in place of the current
    /// one (which `make` sees). After a grace period, when no reader can
    /// still see the old value, `settle` gets it and the new one, and then
    /// the old one is freed. Both run under the configuration mutex, so no
    /// other writer comes between. Whether a value was published. Sleeps:
    /// `context` proves that it may, and `make` gets it back (it runs under
    /// a mutex, where it may sleep too, or read other tables).
    pub(crate) fn replace_with(
        &self,
        context: &mut Sleepable,
        make: impl FnOnce(&T, &mut Sleepable) -> Result<Option<KBox<T>>>,
        settle: impl FnOnce(&T, &T),
    ) -> Result<bool> {
        self.replace_with_waiting(context, make, settle, &core::cell::Cell::new(true))
    }

    /// `replace_with`, where `make` may clear `wait`: then the old value is
    /// freed after a grace period without this writer waiting for it, and
    /// `settle` is not called (only for changes readers may still see the
    /// old value of for a while; see `Versioned::withdraws`).
    fn replace_with_waiting(
        &self,
        context: &mut Sleepable,
        make: impl FnOnce(&T, &mut Sleepable) -> Result<Option<KBox<T>>>,
        settle: impl FnOnce(&T, &T),
        wait: &core::cell::Cell<bool>,
    ) -> Result<bool> {
        let _lock = self.writers.lock();
        let old = self.current.load(Ordering::Acquire);
        // Only writers replace `current`, and they hold the lock.
        // SAFETY: So `old` stays live while `make` looks at it.
        let Some(value) = make(unsafe { &*old }, context)? else {
            return Ok(false);
        };
        let new = KBox::into_raw(value);
        self.current.store(new, Ordering::Release);
        if !wait.get() {
            // `old` came from `KBox::into_raw` of a kmalloc'ed value and was
            // replaced above; only readers that started before the store can
            // see it. Callers clear `wait` only for `Copy` values (`update`),
            // which need no drop.
            // SAFETY: So `kvfree` may free it once their grace period ends.
            unsafe { bindings::rg_kvfree_rcu(old.cast()) };
            return Ok(true);
        }
        // SAFETY: `synchronize_rcu` sleeps, which `context` allows.
        unsafe { bindings::rg_synchronize_rcu() };
        // After the grace period no reader holds `old`; `new` is current, and
        // only writers, which wait for the lock, could free it.
        // SAFETY: So both are live, and nothing writes `old` any more.
        settle(unsafe { &*old }, unsafe { &*new });
        // SAFETY: `old` came from `KBox::into_raw` and was replaced above.
        drop(unsafe { KBox::from_raw(old) });
        Ok(true)
    }

    /// The current value, for as long as the read-side section lasts.
    pub(crate) fn read<'a>(&'a self, _section: &'a RcuSection<'_>) -> &'a T {
        // The acquire load pairs with the release store of `update`, so the
        // value's contents are visible before its address.
        // A replaced value is freed only after a grace period, and `_section`
        // keeps this one from ending.
        // SAFETY: `current` is never null and points to a live value.
        unsafe { &*self.current.load(Ordering::Acquire) }
    }
}

impl<T: Copy + PartialEq + Versioned> RcuBox<T> {
    /// Applies `change` to a copy of the current value and publishes it
    /// with a new generation, unless it changed nothing: then nothing is
    /// published and nobody waits for a grace period (a repeated "take this
    /// VIP" from a control plane costs a copy and a compare, not an RCU
    /// synchronisation). If `change` fails, nothing is published and the
    /// error is returned. Sleeps (lock, allocation), which `context` allows;
    /// `change` gets it back, as `replace_with`'s `make` does.
    pub(crate) fn update<R>(
        &self,
        context: &mut Sleepable,
        change: impl FnOnce(&mut T, &mut Sleepable) -> Result<R>,
    ) -> Result<R> {
        let mut result = None;
        let wait = core::cell::Cell::new(true);
        self.replace_with_waiting(
            context,
            |old, context| {
                // Copied in place: some tables are too large for the stack.
                let mut fresh = KBox::<T>::new_uninit(GFP_KERNEL)?;
                // SAFETY: `old` is a live `T`, `fresh` a separate allocation of one.
                unsafe { core::ptr::copy_nonoverlapping(old, fresh.as_mut_ptr(), 1) };
                // SAFETY: The copy above initialised every byte of a `Copy` value.
                let mut fresh = unsafe { KBox::<MaybeUninit<T>>::assume_init(fresh) };
                result = Some(change(&mut fresh, context)?);
                if *fresh == *old {
                    return Ok(None);
                }
                wait.set(T::withdraws(old, &fresh));
                fresh.advance_generation();
                Ok(Some(fresh))
            },
            |_, _| {},
            &wait,
        )?;
        // `make` sets `result` whenever it succeeds.
        result.ok_or(EINVAL)
    }
}

impl<T> Drop for RcuBox<T> {
    fn drop(&mut self) {
        // The namespace's hooks are gone and a grace period has passed
        // before its state is dropped (see the glue's pernet exit).
        // SAFETY: `current` came from `KBox::into_raw` and nobody reads it now.
        drop(unsafe { KBox::from_raw(*self.current.get_mut()) });
    }
}
