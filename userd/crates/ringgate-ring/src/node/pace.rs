//! Pace: how slow the hosts and the network have recently been, so that a
//! slow cluster lengthens its timeouts instead of mistaking slowness for
//! death.
//!
//! The configured timeouts assume a token hop of well under a millisecond.
//! On a loaded host (more ring processes than cores, or other work on the
//! cores) a process waits tens of milliseconds to be scheduled, and a
//! saturated ring of eight spends as long on one rotation just sending and
//! receiving. With fixed timeouts such a ring declared the token lost every
//! few rotations: each loss started a new ring, whose recovery added work,
//! so the next rotation was slower still, and an 8-node ring on two cores
//! delivered a few hundred messages a second or formed no ring at all.
//!
//! The node therefore measures, on the clock its caller passes in (nothing
//! here reads a clock):
//! - the token hop: from passing the token on to the successor's
//!   acknowledgement, which includes the time the successor's host took
//!   to run it. The round trip of a token sent once times the network
//!   and the host (`hop`); the whole hand-over, resends included, times
//!   how long a stalled successor kept the ring waiting (`handover`);
//! - the rotation: between two visits of the token;
//! - its own lateness: how long after the time it asked for
//!   (`poll_timeout`) its caller let it handle a timeout, which is how
//!   long its host left it unscheduled.
//!
//! Each is kept as a decaying maximum (it drops by an eighth per sample),
//! so one stall lengthens the timeouts at once, and they come back down
//! within a few dozen rotations once the host is quiet. The timeouts add a
//! slack derived from them (`Node::token_loss_timeout` and the gather
//! timeouts), capped at `MAX_SLACK_US`, so a dead node is still noticed
//! within that bound however slow the cluster was.
//!
//! The token's resend timeout stays as configured. A resent token costs a
//! datagram and a duplicate the successor drops, while a longer resend wait
//! makes every token lost on a lossy network cost more: with it, large
//! rings at 30 % loss on a stalling host never finished recovering in the
//! simulator. A slow cluster thus
//! delivers at a lower rate and notices deaths later; it does not lose its
//! ring to its own slowness.

use super::Micros;

/// The most a slow pace adds to a timeout.
pub const MAX_SLACK_US: Micros = 2_000_000;

/// A maximum that forgets an eighth of itself at each new sample.
fn decayed_max(current: Micros, sample: Micros) -> Micros {
    sample.max(current - current / 8)
}

#[derive(Debug, Default, Clone)]
pub(super) struct Pace {
    /// Token hand-over round trips, and this node's own lateness.
    hop_us: Micros,
    /// Whole token hand-overs, resends included.
    handover_us: Micros,
    /// Time between two visits of the token.
    rotation_us: Micros,
}

impl Pace {
    /// A token hand-over (or this node's own scheduling delay) took `us`.
    pub(super) fn hop(&mut self, us: Micros) {
        self.hop_us = decayed_max(self.hop_us, us.min(MAX_SLACK_US));
    }

    /// The successor took the token `us` after it was first sent.
    pub(super) fn handover(&mut self, us: Micros) {
        self.handover_us = decayed_max(self.handover_us, us.min(MAX_SLACK_US));
    }

    /// The token came back `us` after its previous visit.
    pub(super) fn rotation(&mut self, us: Micros) {
        self.rotation_us = decayed_max(self.rotation_us, us.min(MAX_SLACK_US));
    }

    /// What to add to the token-loss timeout of a ring of `members`: twice
    /// the longest a rotation has recently taken, measured or made of hops.
    pub(super) fn token_slack(&self, members: usize) -> Micros {
        let hop = self.hop_us.max(self.handover_us);
        let hops = hop.saturating_mul(members as Micros);
        (2 * self.rotation_us.max(hops)).min(MAX_SLACK_US)
    }

    /// What to add to a wait for one message exchange: each stage of
    /// forming a ring, where every node answers every other.
    pub(super) fn exchange_slack(&self) -> Micros {
        (2 * self.hop_us).min(MAX_SLACK_US)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_lengthens_timeouts_at_once_and_quiet_brings_them_back() {
        let mut pace = Pace::default();
        assert_eq!(pace.token_slack(8), 0);
        pace.hop(20_000);
        assert_eq!(pace.token_slack(8), MAX_SLACK_US.min(2 * 8 * 20_000));
        assert_eq!(pace.exchange_slack(), 40_000);
        for _ in 0..40 {
            pace.hop(100);
            pace.rotation(800);
        }
        assert!(pace.token_slack(8) < 5_000, "{}", pace.token_slack(8));
        // A slow hand-over lengthens the wait for the token, not resends.
        pace.handover(10_000);
        assert_eq!(pace.token_slack(8), 2 * 8 * 10_000);
        assert!(pace.exchange_slack() < 1_000);
        pace.rotation(u64::MAX);
        assert_eq!(pace.token_slack(3), MAX_SLACK_US, "capped");
    }
}
