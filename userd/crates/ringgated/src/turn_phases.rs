//! Where a turn of the ring's thread spent its time. The token waits while
//! a turn runs, so a slow turn can make a node miss its self fence; the log
//! line that reports one names the steps that took the time (a module
//! request, the proxy's configuration, a state write), which a total alone
//! cannot tell apart.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// A step shorter than this is not named: a turn on an idle machine takes
/// well under a millisecond in all.
const WORTH_NAMING: Duration = Duration::from_millis(5);
/// A slow turn names at most this many steps (the longest ones).
const NAMED: usize = 4;

/// The steps of one turn, timed one after the other.
pub struct TurnPhases {
    lap_started: Instant,
    long: Vec<(&'static str, Duration)>,
}

impl Default for TurnPhases {
    fn default() -> Self {
        TurnPhases {
            lap_started: Instant::now(),
            long: Vec::new(),
        }
    }
}

impl TurnPhases {
    /// A new turn starts now: what the last one recorded is forgotten.
    pub fn start(&mut self) {
        self.lap_started = Instant::now();
        self.long.clear();
    }

    /// The step called `name` ended now; it began where the last one ended.
    pub fn lap(&mut self, name: &'static str) {
        let now = Instant::now();
        let took = now.duration_since(self.lap_started);
        self.lap_started = now;
        if took < WORTH_NAMING {
            return;
        }
        // The same step can run several times in a turn (one module
        // request per action): its times add up.
        match self.long.iter_mut().find(|(n, _)| *n == name) {
            Some((_, total)) => *total += took,
            None => self.long.push((name, took)),
        }
    }

    /// The longest steps of the turn, as "step 40 ms, step 12 ms", or an
    /// empty string if no step took long.
    pub fn longest(&self) -> String {
        let mut long = self.long.clone();
        long.sort_by_key(|step| std::cmp::Reverse(step.1));
        let mut text = String::new();
        for (i, (name, took)) in long.iter().take(NAMED).enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            let _ = write!(text, "{name} {} ms", took.as_millis());
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_long_steps_longest_first_and_adds_repeats() {
        let mut phases = TurnPhases::default();
        phases.start();
        phases.lap("quick");
        std::thread::sleep(Duration::from_millis(8));
        phases.lap("module request");
        std::thread::sleep(Duration::from_millis(30));
        phases.lap("proxy");
        std::thread::sleep(Duration::from_millis(8));
        phases.lap("module request");
        let text = phases.longest();
        assert!(text.starts_with("proxy "), "{text}");
        assert!(text.contains(", module request "), "{text}");
        assert!(!text.contains("quick"), "{text}");
        let module_ms: u64 = text
            .split("module request ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(module_ms >= 16, "the two requests' times add up: {text}");
        phases.start();
        assert_eq!(phases.longest(), "", "a new turn forgets the last");
    }
}
