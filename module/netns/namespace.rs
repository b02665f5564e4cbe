// SPDX-License-Identifier: GPL-2.0

//! `NetState` as the wrapper layer sees it: what a namespace does when it is
//! created, when a packet passes one of its hooks, when its sweep is due and
//! when a netlink request or dump arrives.

use kernel::prelude::*;

use super::NetState;
use crate::glue::{Dump, Hook, Namespace, NetHandle, Packet, RcuSection, Request, Verdict};
use crate::{hooks, netlink};

impl Namespace for NetState {
    fn init(net: NetHandle) -> Result<KBox<Self>> {
        NetState::new(net)
    }

    fn hook(&self, hook: Hook, packet: &mut Packet<'_>, rcu: &RcuSection) -> Verdict {
        hooks::inspect(self, hook, packet, rcu)
    }

    fn sweep(&self) -> u64 {
        self.sweep_sessions()
    }

    fn request(&self, cmd: u32, request: &Request<'_>) -> Result {
        netlink::request(self, cmd, request)
    }

    fn dump(&self, cmd: u32, dump: &mut Dump<'_>) -> Result {
        netlink::dump(self, cmd, dump)
    }
}
