// SPDX-License-Identifier: GPL-2.0

//! `NetState` as the wrapper layer sees it: what a namespace does when it is
//! created, when a packet passes one of its hooks, when its sweep is due and
//! when a netlink request or dump arrives.

use kernel::prelude::*;

use super::NetState;
use crate::glue::{
    Dump, Hook, Namespace, NetHandle, Packet, RcuSection, Request, Sleepable, Verdict,
};
use crate::{hooks, netlink};

impl Namespace for NetState {
    fn init(net: NetHandle) -> Result<KBox<Self>> {
        NetState::new(net)
    }

    fn hook(&self, hook: Hook, packet: &mut Packet<'_>, rcu: &RcuSection<'_>) -> Verdict {
        hooks::inspect(self, hook, packet, rcu)
    }

    fn sweep(&self, context: &mut Sleepable) -> u64 {
        self.sweep_sessions(context)
    }

    fn request(&self, cmd: u32, request: &Request<'_>, context: &mut Sleepable) -> Result {
        netlink::request(self, cmd, request, context)
    }

    fn dump(&self, cmd: u32, dump: &mut Dump<'_>, context: &mut Sleepable) -> Result {
        netlink::dump(self, cmd, dump, context)
    }
}
