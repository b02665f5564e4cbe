// SPDX-License-Identifier: GPL-2.0

//! The outbound translation's one change: replaced whole (see `snat`).

use core::sync::atomic::Ordering;

use kernel::prelude::*;

use super::NetState;
use crate::glue::{Sleepable, Versioned};
use crate::snat::Snat;

impl Versioned for Snat {
    /// Nothing reads a version of the translation.
    fn advance_generation(&mut self) {}

    /// No change waits for the readers of the old one: a connection a
    /// reader still translates by the old prefix or range is one that
    /// opened a moment before the change, and its session lives on either
    /// way.
    fn withdraws(_old: &Snat, _new: &Snat) -> bool {
        false
    }
}

impl NetState {
    /// Publishes `snat` in place of the current translation. One that is on
    /// turns the NAT path on (a gateway may translate outbound connections
    /// and serve no VIP), with the session table it needs.
    pub(crate) fn set_snat(&self, context: &mut Sleepable, snat: &Snat) -> Result {
        if snat.is_on() {
            self.activate_nat(context)?;
        }
        self.snat.update(context, |current, _| {
            *current = *snat;
            Ok(())
        })
    }

    /// Counts an outbound connection refused for want of a free port (see
    /// `nat::outbound`).
    pub(crate) fn count_snat_no_port(&self) {
        self.snat_no_port.fetch_add(1, Ordering::Relaxed);
    }
}
