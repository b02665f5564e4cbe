// SPDX-License-Identifier: GPL-2.0

//! The stages of a session's life and their idle timeouts. Pure logic with
//! no kernel dependency, so host unit tests (`module/host-tests`) compile it
//! as it is.

/// Where a connection is in its life; each stage has its timeout.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Stage {
    #[default]
    Udp,
    Syn,
    Established,
    Closing,
    Reset,
}

impl Stage {
    /// The stage a session made by a connection's first packet starts in:
    /// only a SYN opens a TCP session (see `nat`).
    pub(crate) fn first(tcp: bool) -> Stage {
        if tcp {
            Stage::Syn
        } else {
            Stage::Udp
        }
    }
}

/// Idle timeouts in seconds, per stage: short while a TCP connection opens
/// or closes, long while it is established (as IPVS and conntrack do).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub(crate) syn: u32,
    pub(crate) established: u32,
    pub(crate) closing: u32,
    pub(crate) udp: u32,
}

impl Timeouts {
    pub(crate) const DEFAULT: Timeouts = Timeouts {
        syn: 30,
        established: 900,
        closing: 60,
        udp: 30,
    };

    /// Seconds a session in `stage` lives idle. A reset connection is gone
    /// for both ends; its entry only lingers for stray packets.
    pub(crate) fn secs(&self, stage: Stage) -> u64 {
        u64::from(match stage {
            Stage::Udp => self.udp,
            Stage::Syn => self.syn,
            Stage::Established => self.established,
            Stage::Closing => self.closing,
            Stage::Reset => self.closing.min(5),
        })
    }
}

impl Stage {
    /// Whether a connection in this stage counts as active (else inactive).
    pub(crate) fn is_active(self) -> bool {
        !matches!(self, Stage::Closing | Stage::Reset)
    }

    /// The number `enum ringgate_session_stage` gives this stage.
    pub(crate) fn uapi(self) -> u32 {
        self as u32
    }

    /// The stage `enum ringgate_session_stage` numbers `n`, if any.
    pub(crate) fn from_uapi(n: u32) -> Option<Stage> {
        [
            Stage::Udp,
            Stage::Syn,
            Stage::Established,
            Stage::Closing,
            Stage::Reset,
        ]
        .into_iter()
        .find(|stage| stage.uapi() == n)
    }
}
