//! The replicated state must always fit one ring message: it is the
//! state-transfer snapshot, and a node that joins serves nothing until it
//! arrives. This builds the largest state a valid configuration allows.

#[allow(dead_code)]
mod support {
    pub mod bus;
}

use std::net::Ipv4Addr;

use ringgate_cluster::config::{
    Backend, CheckKind, ClusterConfig, ConfigError, HealthCheck, Service, Settings, VipConfig,
    MAX_VIPS,
};
use ringgate_cluster::model::{BackendId, NodeId};
use support::bus::{config, Bus};

/// 256 VIPs with one HTTP-checked service each, and as many back-ends as
/// the configuration's size limit lets in.
fn largest_config(nodes: &[(NodeId, u32)]) -> ClusterConfig {
    let mut c = config(nodes, 0, Settings::default());
    c.vips = (0..MAX_VIPS as u32)
        .map(|n| VipConfig {
            addr: Ipv4Addr::from(0x0a00_0001 + n),
            services: vec![Service {
                proto: 6,
                port: 80,
                scheduler: "wrr".into(),
                backends: Vec::new(),
                mode: Default::default(),
                health: Some(HealthCheck {
                    kind: CheckKind::Http {
                        path: "/".into(),
                        expect_status: 200,
                    },
                    interval_ms: 1000,
                    timeout_ms: 500,
                    rise: 2,
                    fall: 3,
                }),
            }],
        })
        .collect();
    // Add back-ends round-robin over the VIPs until one more is too many:
    // in steps of 64, then one by one (validation encodes the whole
    // configuration each time).
    let mut n = 0u32;
    for step in [64u32, 1] {
        loop {
            let before = c.clone();
            for _ in 0..step {
                let vip = (n as usize) % MAX_VIPS;
                c.vips[vip].services[0].backends.push(Backend {
                    addr: Ipv4Addr::from(0x0a10_0000 + n),
                    port: 8080,
                    weight: 1,
                });
                n += 1;
            }
            match c.validate() {
                Ok(()) => {}
                Err(ConfigError::TooLarge(_)) | Err(ConfigError::TooMany { .. }) => {
                    c = before;
                    n -= step;
                    break;
                }
                Err(e) => panic!("unexpected refusal: {e}"),
            }
        }
    }
    c.validate().expect("the largest valid configuration");
    c
}

#[test]
fn the_largest_state_fits_a_snapshot() {
    // 32 nodes (the ring's maximum) that all see every back-end fail.
    let nodes: Vec<(NodeId, u32)> = (1..=32).map(|id| (id, 100)).collect();
    let c = largest_config(&nodes);
    let all: Vec<(BackendId, bool)> = c.backends().map(|b| (b, false)).collect();
    let mut bus = Bus::new(&c);
    let ids: Vec<NodeId> = nodes.iter().map(|n| n.0).collect();
    bus.form(&[&ids]);
    for id in &ids {
        bus.node(*id).observe_health(&all);
    }
    // One report interval: every node's verdicts are delivered.
    bus.advance(1_000_000, &[]);
    let state = bus.nodes[&1].state();
    assert_eq!(state.down.len(), all.len(), "every back-end agreed down");
    let size = bus.nodes[&1].persist().len();
    println!(
        "largest state: {size} bytes ({} back-ends, {} VIPs, 32 voters)",
        all.len(),
        c.vips.len()
    );
    assert!(
        size <= ringgate_ring::limits::MAX_SNAPSHOT,
        "the state is {size} bytes, more than a snapshot may be ({})",
        ringgate_ring::limits::MAX_SNAPSHOT
    );
}
