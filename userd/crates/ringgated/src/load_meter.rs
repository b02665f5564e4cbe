//! Per-VIP load from the module's per-back-end traffic counters: a VIP's
//! load is the sum over its services' back-ends, turned into rates between
//! two readings. The module counts per back-end slot, so a back-end that
//! left (or a module reloaded) makes a total go down: that interval's rate
//! is taken as zero, never as the remaining lifetime total.

use std::collections::BTreeMap;
use std::time::Duration;

use ringgate_cluster::model::{Vip, VipLoad};
use ringgate_netlink::Service;

/// A VIP's cumulative counters at one reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub packets: u64,
    pub bytes: u64,
    pub conns: u64,
    /// Sessions now (a gauge, not a counter).
    pub live: u64,
}

/// Sums each VIP's services' back-ends.
pub fn totals(services: &[Service]) -> BTreeMap<Vip, Totals> {
    let mut out: BTreeMap<Vip, Totals> = BTreeMap::new();
    for service in services {
        let t = out.entry(service.key.vip).or_default();
        for b in &service.backends {
            t.live += u64::from(b.active_conns) + u64::from(b.inactive_conns);
            if let Some(traffic) = b.traffic {
                t.packets += traffic.packets_in + traffic.packets_out;
                t.bytes += traffic.bytes_in + traffic.bytes_out;
                t.conns += traffic.conns;
            }
        }
    }
    out
}

/// Rates between two readings `elapsed` apart (a VIP new in `now` is
/// measured from zero).
pub fn rates(
    before: &BTreeMap<Vip, Totals>,
    now: &BTreeMap<Vip, Totals>,
    elapsed: Duration,
) -> Vec<(Vip, VipLoad)> {
    let ms = elapsed.as_millis().max(1) as u64;
    let per_sec = |after: u64, before: u64| {
        // A total that went down lost a back-end's counts (see the module
        // comment): what the others carried meanwhile is unknown, and the
        // remaining total is lifetime traffic, not a rate; this reading
        // counts as none, and the next one measures from here.
        let delta = after.saturating_sub(before);
        delta.saturating_mul(1000) / ms
    };
    now.iter()
        .map(|(vip, t)| {
            let b = before.get(vip).copied().unwrap_or_default();
            (
                *vip,
                VipLoad {
                    packets_per_sec: per_sec(t.packets, b.packets),
                    bytes_per_sec: per_sec(t.bytes, b.bytes),
                    new_sessions_per_sec: per_sec(t.conns, b.conns),
                    live_sessions: t.live,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const V: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

    fn at(packets: u64, bytes: u64, conns: u64, live: u64) -> BTreeMap<Vip, Totals> {
        [(
            V,
            Totals {
                packets,
                bytes,
                conns,
                live,
            },
        )]
        .into()
    }

    #[test]
    fn rates_are_deltas_per_second() {
        let r = rates(
            &at(100, 10_000, 5, 3),
            &at(300, 30_000, 9, 7),
            Duration::from_millis(500),
        );
        assert_eq!(
            r,
            vec![(
                V,
                VipLoad {
                    packets_per_sec: 400,
                    bytes_per_sec: 40_000,
                    new_sessions_per_sec: 8,
                    live_sessions: 7
                }
            )]
        );
    }

    #[test]
    fn a_total_that_went_down_is_no_spike() {
        // A back-end was removed: its counts left the sum, and the rest is
        // lifetime traffic, not a second's worth.
        let r = rates(
            &at(1_000_000_000, 0, 0, 0),
            &at(999_000_000, 0, 0, 0),
            Duration::from_secs(1),
        );
        assert_eq!(r[0].1.packets_per_sec, 0);
        // A VIP first seen now is measured from zero; no reading is a
        // division by zero.
        let r = rates(&BTreeMap::new(), &at(7, 0, 0, 0), Duration::ZERO);
        assert_eq!(r[0].1.packets_per_sec, 7000);
    }
}
