// SPDX-License-Identifier: GPL-2.0

//! An array of buckets, each guarded by its own spinlock: the session table's
//! storage. Packets of different flows take different locks, so there is no
//! lock every packet contends for.

use core::cell::UnsafeCell;
use core::ptr::NonNull;

use kernel::alloc::KVVec;
use kernel::ffi::c_void;
use kernel::prelude::*;

use super::bindings;

pub(crate) struct LockedBuckets<T: Copy> {
    locks: NonNull<c_void>,
    buckets: KVVec<UnsafeCell<T>>,
}

// SAFETY: Every access to a bucket happens under that bucket's spinlock (see
// `with`), so the buckets may be shared between CPUs like a locked value.
unsafe impl<T: Copy + Send> Sync for LockedBuckets<T> {}
// SAFETY: The locks and the buckets are plain memory owned by this value.
unsafe impl<T: Copy + Send> Send for LockedBuckets<T> {}

impl<T: Copy> LockedBuckets<T> {
    /// `n` buckets, each starting as `empty`.
    pub(crate) fn new(n: usize, empty: T) -> Result<Self> {
        // `with` indexes modulo the count: there must be a bucket.
        if n == 0 {
            return Err(EINVAL);
        }
        let count = u32::try_from(n).map_err(|_| EINVAL)?;
        let mut buckets = KVVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            buckets.push(UnsafeCell::new(empty), GFP_KERNEL)?;
        }
        // SAFETY: Allocates and initialises `count` spinlocks.
        let locks = NonNull::new(unsafe { bindings::rg_locks_new(count) }).ok_or(ENOMEM)?;
        Ok(LockedBuckets { locks, buckets })
    }

    pub(crate) fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Runs `f` on bucket `i` (modulo the count) with its lock held and
    /// bottom halves disabled; `f` must not sleep.
    pub(crate) fn with<R>(&self, i: usize, f: impl FnOnce(&mut T) -> R) -> R {
        let i = i % self.buckets.len().max(1);
        let lock_index = i as u32;
        // SAFETY: `locks` has one lock per bucket; `rg_unlock` below releases it.
        unsafe { bindings::rg_lock(self.locks.as_ptr(), lock_index) };
        // SAFETY: The bucket's lock is held, so this is the only reference.
        let result = f(unsafe { &mut *self.buckets[i].get() });
        // SAFETY: Taken above on this CPU.
        unsafe { bindings::rg_unlock(self.locks.as_ptr(), lock_index) };
        result
    }

    /// Runs `f` on buckets `i` and `j` (modulo the count) with both their
    /// locks held and bottom halves disabled; when they are the same bucket,
    /// `f` gets it once and `None`. `f` must not sleep.
    pub(crate) fn with_pair<R>(
        &self,
        i: usize,
        j: usize,
        f: impl FnOnce(&mut T, Option<&mut T>) -> R,
    ) -> R {
        let n = self.buckets.len().max(1);
        let (i, j) = (i % n, j % n);
        let (lock_i, lock_j) = (i as u32, j as u32);
        // SAFETY: `locks` has one lock per bucket; `rg_unlock_pair` below releases both.
        unsafe { bindings::rg_lock_pair(self.locks.as_ptr(), lock_i, lock_j) };
        // Both buckets' locks are held, and there are two references only when `i != j`.
        // SAFETY: So these are the only references to the two buckets, and they do not alias.
        let result = unsafe {
            let first = &mut *self.buckets[i].get();
            let second = (j != i).then(|| &mut *self.buckets[j].get());
            f(first, second)
        };
        // SAFETY: Taken above on this CPU.
        unsafe { bindings::rg_unlock_pair(self.locks.as_ptr(), lock_i, lock_j) };
        result
    }
}

impl<T: Copy> Drop for LockedBuckets<T> {
    fn drop(&mut self) {
        // SAFETY: Allocated in `new`; nothing uses the locks any more.
        unsafe { bindings::rg_locks_free(self.locks.as_ptr()) };
    }
}
