// SPDX-License-Identifier: GPL-2.0

//! A namespace's settings: node id, session limit, timeouts, down policy,
//! conntrack mode.

use core::sync::atomic::Ordering;

use super::{NetState, Refusal};
use crate::glue::{uapi, Sleepable};
use crate::sessions::Timeouts;

/// The settings a `config-set` request changes; `None` leaves one as it is.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Settings {
    pub(crate) node_id: Option<u16>,
    pub(crate) max_sessions: Option<u32>,
    pub(crate) down_policy: Option<u32>,
    pub(crate) conntrack: Option<u32>,
    pub(crate) timeout_syn: Option<u32>,
    pub(crate) timeout_established: Option<u32>,
    pub(crate) timeout_closing: Option<u32>,
    pub(crate) timeout_udp: Option<u32>,
}

impl NetState {
    /// Changes the settings given. The only step that can fail (a resize)
    /// goes first, so a refused change changes nothing.
    pub(crate) fn configure(
        &self,
        context: &mut Sleepable,
        settings: &Settings,
    ) -> Result<(), Refusal> {
        if let Some(max) = settings.max_sessions {
            self.resize_sessions(context, max)?;
        }
        if let Some(id) = settings.node_id {
            self.node_id.store(id, Ordering::Relaxed);
        }
        if let Some(policy) = settings.down_policy {
            self.down_policy.store(policy, Ordering::Relaxed);
        }
        if let Some(mode) = settings.conntrack {
            self.conntrack_mode.store(mode, Ordering::Relaxed);
        }
        let timeouts = [
            settings.timeout_syn,
            settings.timeout_established,
            settings.timeout_closing,
            settings.timeout_udp,
        ];
        for (slot, value) in self.timeouts.iter().zip(timeouts) {
            if let Some(value) = value {
                slot.store(value, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    pub(crate) fn timeouts(&self) -> Timeouts {
        let t = |i: usize| self.timeouts[i].load(Ordering::Relaxed);
        Timeouts {
            syn: t(0),
            established: t(1),
            closing: t(2),
            udp: t(3),
        }
    }

    pub(crate) fn node_id(&self) -> u16 {
        self.node_id.load(Ordering::Relaxed)
    }

    pub(crate) fn max_sessions(&self) -> u32 {
        self.max_sessions.load(Ordering::Relaxed)
    }

    pub(crate) fn down_policy(&self) -> u32 {
        self.down_policy.load(Ordering::Relaxed)
    }

    /// `enum ringgate_conntrack_mode`.
    pub(crate) fn conntrack_mode(&self) -> u32 {
        self.conntrack_mode.load(Ordering::Relaxed)
    }

    /// Whether conntrack may see translated packets; read once per packet.
    pub(crate) fn tracked(&self) -> bool {
        self.conntrack_mode() == uapi::RINGGATE_CONNTRACK_MODE_TRACKED
    }
}
