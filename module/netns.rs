// SPDX-License-Identifier: GPL-2.0

//! The state ringgate keeps for one network namespace.

use kernel::prelude::*;

use crate::counters::HookCounters;
use crate::glue;

/// Everything one namespace owns. Created before the namespace's hooks are
/// registered and dropped only after they are gone (see `glue`).
pub(crate) struct NetState {
    pub(crate) counters: HookCounters,
}

impl NetState {
    /// Allocates the state of a new namespace.
    pub(crate) fn new() -> Result<KBox<NetState>> {
        let counters = HookCounters::new(glue::nr_cpu_ids())?;
        Ok(KBox::new(NetState { counters }, GFP_KERNEL)?)
    }
}
