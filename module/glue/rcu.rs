// SPDX-License-Identifier: GPL-2.0

//! Read-copy-update for tables that packets read and netlink rarely changes.

use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicPtr, Ordering};

use kernel::prelude::*;

use super::bindings;

/// Proof that the code holding it runs inside an RCU read-side section: a
/// netfilter hook (the glue creates one for each hook call) or a `read_lock`.
pub(crate) struct RcuSection {
    /// Sections are not `Send`: they end on the CPU they began on.
    _not_send: PhantomData<*mut ()>,
    unlock: bool,
}

impl RcuSection {
    /// Opens a read-side section that lasts until the value is dropped.
    pub(crate) fn read_lock() -> RcuSection {
        // SAFETY: `rcu_read_lock` has no preconditions; `Drop` unlocks.
        unsafe { bindings::rg_rcu_read_lock() };
        RcuSection {
            _not_send: PhantomData,
            unlock: true,
        }
    }

    /// The section a netfilter hook already runs in.
    ///
    /// # Safety
    ///
    /// The caller runs inside an RCU read-side section for the lifetime of
    /// the value.
    pub(super) unsafe fn assume_held() -> RcuSection {
        RcuSection {
            _not_send: PhantomData,
            unlock: false,
        }
    }
}

impl Drop for RcuSection {
    fn drop(&mut self) {
        if self.unlock {
            // SAFETY: `read_lock` locked, and this is the matching unlock.
            unsafe { bindings::rg_rcu_read_unlock() };
        }
    }
}

/// A heap value that readers see without a lock and writers replace whole:
/// a writer copies the current value, changes the copy, publishes it, and
/// frees the value it replaced after an RCU grace period, when no reader can
/// still see it. Writers take the glue's configuration mutex, so each works
/// on the latest value (netlink ops of the family run in parallel).
pub(crate) struct RcuBox<T> {
    /// Never null; owned (as a `KBox`) by this `RcuBox`.
    current: AtomicPtr<T>,
}

/// The configuration mutex, held while alive.
struct ConfigLock;

impl ConfigLock {
    fn lock() -> ConfigLock {
        // SAFETY: Process context (netlink); `Drop` unlocks.
        unsafe { bindings::rg_config_lock() };
        ConfigLock
    }
}

impl Drop for ConfigLock {
    fn drop(&mut self) {
        // SAFETY: `lock` locked, and this is the matching unlock.
        unsafe { bindings::rg_config_unlock() };
    }
}

impl<T> RcuBox<T> {
    pub(crate) fn new(value: KBox<T>) -> RcuBox<T> {
        RcuBox {
            current: AtomicPtr::new(KBox::into_raw(value)),
        }
    }

    /// Publishes the value `make` returns, if any, in place of the current
    /// one (which `make` sees). After a grace period, when no reader can
    /// still see the old value, `settle` gets it and the new one, and then
    /// the old one is freed. Both run under the configuration mutex, so no
    /// other writer comes between. Whether a value was published. Sleeps:
    /// process context only.
    pub(crate) fn replace_with(
        &self,
        make: impl FnOnce(&T) -> Result<Option<KBox<T>>>,
        settle: impl FnOnce(&T, &T),
    ) -> Result<bool> {
        let _lock = ConfigLock::lock();
        let old = self.current.load(Ordering::Acquire);
        // Only writers replace `current`, and they hold the lock.
        // SAFETY: So `old` stays live while `make` looks at it.
        let Some(value) = make(unsafe { &*old })? else {
            return Ok(false);
        };
        let new = KBox::into_raw(value);
        self.current.store(new, Ordering::Release);
        // SAFETY: `synchronize_rcu` sleeps; callers are in process context.
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
    pub(crate) fn read<'a>(&'a self, _section: &'a RcuSection) -> &'a T {
        // The acquire load pairs with the release store of `update`, so the
        // value's contents are visible before its address.
        // A replaced value is freed only after a grace period, and `_section`
        // keeps this one from ending.
        // SAFETY: `current` is never null and points to a live value.
        unsafe { &*self.current.load(Ordering::Acquire) }
    }
}

impl<T: Copy> RcuBox<T> {
    /// Publishes `change` applied to a copy of the current value. If
    /// `change` fails, nothing is published and the error is returned.
    /// Sleeps (lock, allocation, grace period): process context only.
    pub(crate) fn update<R>(&self, change: impl FnOnce(&mut T) -> Result<R>) -> Result<R> {
        let mut result = None;
        self.replace_with(
            |old| {
                // Copied in place: some tables are too large for the stack.
                let mut fresh = KBox::<T>::new_uninit(GFP_KERNEL)?;
                // SAFETY: `old` is a live `T`, `fresh` a separate allocation of one.
                unsafe { core::ptr::copy_nonoverlapping(old, fresh.as_mut_ptr(), 1) };
                // SAFETY: The copy above initialised every byte of a `Copy` value.
                let mut fresh = unsafe { KBox::<MaybeUninit<T>>::assume_init(fresh) };
                result = Some(change(&mut fresh)?);
                Ok(Some(fresh))
            },
            |_, _| {},
        )?;
        // `make` always publishes when it succeeds, having set `result`.
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
