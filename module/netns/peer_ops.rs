// SPDX-License-Identifier: GPL-2.0

//! The peer table's one change: replaced whole, as the daemon knows it.

use kernel::prelude::*;

use super::NetState;
use crate::glue::Sleepable;
use crate::peers::PeerTable;

impl NetState {
    /// Publishes `table` in place of the current one. Packets see the old
    /// table or the new one, never a mix.
    pub(crate) fn set_peers(&self, context: &mut Sleepable, table: KBox<PeerTable>) -> Result {
        self.peers
            .replace_with(context, |_, _| Ok(Some(table)), |_, _| {})?;
        Ok(())
    }
}
