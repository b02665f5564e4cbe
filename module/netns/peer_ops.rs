// SPDX-License-Identifier: GPL-2.0

//! The peer table's one change: replaced whole, as the daemon knows it.

use kernel::prelude::*;

use super::NetState;
use crate::glue::{Sleepable, Versioned};
use crate::peers::PeerTable;

impl Versioned for PeerTable {
    /// Nothing reads a version of the peer table: the daemon gives it whole.
    fn advance_generation(&mut self) {}

    /// No change waits for the readers of the old table: a packet that a
    /// reader still sends to a node just removed is lost, as it would have
    /// been a moment earlier. The daemon sets the table from the ring's
    /// thread, at every membership change and announcement, and an RCU
    /// grace period there (tens of milliseconds on a busy host) would hold
    /// the token.
    fn withdraws(_old: &PeerTable, _new: &PeerTable) -> bool {
        false
    }
}

impl NetState {
    /// Publishes `table` in place of the current one, unless they are equal.
    /// Packets see the old table or the new one, never a mix.
    pub(crate) fn set_peers(&self, context: &mut Sleepable, table: &PeerTable) -> Result {
        self.peers.update(context, |current, _| {
            *current = *table;
            Ok(())
        })
    }
}
