//! This node's own checks of the back-ends, whose verdicts the daemon
//! shares with the cluster (`ClusterNode::observe_health`); the cluster
//! takes a back-end out of service only when a majority of members see it
//! failing.
//!
//! - [`Verdict`]: the rise/fall rule that turns single probe results into
//!   a verdict that does not flap with every lost packet.
//! - [`probe()`]: one TCP or HTTP check, bounded by its timeout.
//! - [`Checker`]: probes every configured back-end on its interval, on a
//!   small fixed pool of threads.

mod checker;
mod probe;

pub use checker::Checker;

pub use probe::probe;

/// One back-end's verdict as this node sees it.
///
/// It starts up: a node that just joined has no evidence against a
/// back-end, and voting it down before checking would help take a working
/// back-end out of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    up: bool,
    /// Consecutive results that disagree with `up`; any agreeing result
    /// resets it, so only an unbroken run can change the verdict.
    streak: u8,
}

impl Default for Verdict {
    fn default() -> Self {
        Verdict::new()
    }
}

impl Verdict {
    pub fn new() -> Self {
        Verdict {
            up: true,
            streak: 0,
        }
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Takes one probe result: `fall` failures in a row take an up
    /// back-end down, `rise` passes in a row bring a down one up. Returns
    /// the new verdict only when it changed. The thresholds are arguments
    /// so that a configuration change applies to a run already under way;
    /// a threshold of 0 acts as 1 (validation refuses 0 anyway).
    pub fn record(&mut self, passed: bool, rise: u8, fall: u8) -> Option<bool> {
        if passed == self.up {
            self.streak = 0;
            return None;
        }
        self.streak = self.streak.saturating_add(1);
        let threshold = if self.up { fall } else { rise };
        if self.streak < threshold.max(1) {
            return None;
        }
        self.up = passed;
        self.streak = 0;
        Some(self.up)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds results and collects what `record` returned for each.
    fn run(v: &mut Verdict, results: &[bool], rise: u8, fall: u8) -> Vec<Option<bool>> {
        results.iter().map(|&r| v.record(r, rise, fall)).collect()
    }

    #[test]
    fn a_fresh_verdict_is_up_and_passes_change_nothing() {
        let mut v = Verdict::new();
        assert!(v.is_up());
        assert_eq!(run(&mut v, &[true; 5], 2, 3), vec![None; 5]);
        assert_eq!(v, Verdict::default());
    }

    #[test]
    fn fall_failures_in_a_row_take_it_down_once() {
        let mut v = Verdict::new();
        let got = run(&mut v, &[false; 5], 2, 3);
        assert_eq!(got, vec![None, None, Some(false), None, None]);
        assert!(!v.is_up());
    }

    #[test]
    fn rise_passes_in_a_row_bring_it_back_once() {
        let mut v = Verdict::new();
        run(&mut v, &[false; 3], 2, 3);
        let got = run(&mut v, &[true; 4], 2, 3);
        assert_eq!(got, vec![None, Some(true), None, None]);
        assert!(v.is_up());
    }

    #[test]
    fn flapping_below_the_threshold_never_changes_it() {
        let mut v = Verdict::new();
        let flaps = [false, false, true, false, false, true, false, false, true];
        assert_eq!(run(&mut v, &flaps, 2, 3), vec![None; flaps.len()]);
        assert!(v.is_up());
        // The same while down: single passes never reach rise 2.
        run(&mut v, &[false; 3], 2, 3);
        let flaps = [true, false, true, false, true, false];
        assert_eq!(run(&mut v, &flaps, 2, 3), vec![None; flaps.len()]);
        assert!(!v.is_up());
    }

    #[test]
    fn a_streak_does_not_carry_over_a_change() {
        let mut v = Verdict::new();
        // Down after 2; the third failure starts no run towards anything.
        assert_eq!(
            run(&mut v, &[false, false, false], 2, 2),
            vec![None, Some(false), None]
        );
        // Up takes two fresh passes, not one.
        assert_eq!(run(&mut v, &[true, true], 2, 2), vec![None, Some(true)]);
    }

    #[test]
    fn thresholds_of_one_follow_every_result() {
        let mut v = Verdict::new();
        assert_eq!(
            run(&mut v, &[false, true, true, false], 1, 1),
            vec![Some(false), Some(true), None, Some(false)]
        );
        // A zero threshold acts as one rather than changing on no result.
        let mut v = Verdict::new();
        assert_eq!(v.record(false, 0, 0), Some(false));
        assert_eq!(v.record(true, 0, 0), Some(true));
    }

    #[test]
    fn the_largest_thresholds_are_reached() {
        let mut v = Verdict::new();
        let got = run(&mut v, &[false; 100], 100, 100);
        assert_eq!(got[..99], vec![None; 99]);
        assert_eq!(got[99], Some(false));
    }

    #[test]
    fn a_lowered_threshold_applies_to_the_run_under_way() {
        let mut v = Verdict::new();
        run(&mut v, &[false; 2], 2, 5);
        assert_eq!(v.record(false, 2, 3), Some(false));
    }
}
