//! The load rule converges: the balancer never moves a VIP again within the
//! hold time of its previous move, never makes more moves per period than
//! allowed, and makes none at all once loads have stood still long enough.
//! Each process's log is read as one history, restarted where the process
//! replaced its whole state (a state transfer or an adopted longer
//! history), since the moves before belong to another history.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ringgate_cluster::config::Settings;
use ringgate_cluster::model::Micros;
use ringgate_cluster::state::{MoveReason, VipMove};

pub fn check(
    moves: &[(usize, Option<VipMove>)],
    settings: &Settings,
    quiet_from: Micros,
) -> Result<(), String> {
    let mut by_process: BTreeMap<usize, Vec<&Option<VipMove>>> = BTreeMap::new();
    for (process, m) in moves {
        by_process.entry(*process).or_default().push(m);
    }
    for (process, log) in by_process {
        let mut last: BTreeMap<Ipv4Addr, Micros> = BTreeMap::new();
        let mut balance_times = Vec::new();
        for m in log {
            let Some(m) = m else {
                last.clear();
                balance_times.clear();
                continue;
            };
            if m.reason == MoveReason::Balance {
                if let Some(prev) = last.get(&m.vip) {
                    if m.at < prev + settings.hold_us {
                        return Err(format!(
                            "process {process}: VIP {} balanced at {} only {} us after its last move",
                            m.vip,
                            m.at,
                            m.at - prev
                        ));
                    }
                }
                if m.at >= quiet_from {
                    return Err(format!(
                        "process {process}: VIP {} still moved by the balancer at {} though loads stood still from {}",
                        m.vip, m.at, quiet_from
                    ));
                }
                balance_times.push(m.at);
                let in_period = balance_times
                    .iter()
                    .filter(|t| **t + settings.move_period_us > m.at)
                    .count();
                if in_period > settings.max_moves_per_period as usize {
                    return Err(format!(
                        "process {process}: {in_period} balancing moves in one period"
                    ));
                }
            }
            // A hand-over's end is not a new move; its start counted.
            if m.reason != MoveReason::HandoffDone {
                last.insert(m.vip, m.at);
            }
        }
    }
    Ok(())
}
