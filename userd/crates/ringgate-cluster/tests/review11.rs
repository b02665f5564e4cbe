//! Review 11: defects found by an adversarial review, each shown by a test
//! that failed while the defect was there.

#[allow(dead_code)]
mod support {
    pub mod bus;
}

use ringgate_cluster::config::Settings;
use ringgate_cluster::ClusterNode;
use support::bus::{config, membership, Bus};

// A state file from another cluster: refused by ringgated, which seals the
// file with the cluster key (ringgated tests/review_fixes.rs,
// `a_state_file_from_another_cluster_is_refused`).

/// DEFECT: a configuration within every module limit (256 VIPs, 32
/// services, 32 back-ends each, HTTP checks), whose back-ends a majority
/// sees failing (a back-end network outage), makes the replicated state
/// larger than the ring's largest message (`ringgate_ring::limits::
/// MAX_MESSAGE`, 64 KiB): the donor's `submit_snapshot` then fails
/// (ringgated gateway.rs logs "state transfer not sent" and goes on), so
/// every node that joins waits for a snapshot forever and serves nothing,
/// and `StateOffer` is never sent either. `ClusterConfig::validate` bounds
/// the configuration (32 KiB) but nothing bounds the state built on it.
#[test]
fn the_state_of_a_valid_configuration_fits_a_snapshot() {
    use ringgate_cluster::config::{Backend, CheckKind, HealthCheck, Service};
    use ringgate_cluster::model::BackendId;
    use std::net::Ipv4Addr;
    let mut c = config(&[(1, 100), (2, 100), (3, 100)], 0, Settings::default());
    c.vips = (0..256u32)
        .map(|n| ringgate_cluster::config::VipConfig {
            addr: Ipv4Addr::from(0x0a00_0000 + 1 + n),
            services: Vec::new(),
        })
        .collect();
    for (i, v) in c.vips.iter_mut().take(32).enumerate() {
        v.services.push(Service {
            proto: 6,
            port: 80,
            scheduler: "wrr".into(),
            backends: (0..32u32)
                .map(|b| Backend {
                    addr: Ipv4Addr::from(0x0a01_0000 + (i as u32) * 256 + b + 1),
                    port: 8080,
                    weight: 1,
                })
                .collect(),
            mode: Default::default(),
            health: Some(HealthCheck {
                kind: CheckKind::Http {
                    path: format!("/{}", "h".repeat(255)),
                    expect_status: 200,
                },
                interval_ms: 1000,
                timeout_ms: 500,
                rise: 2,
                fall: 3,
            }),
        });
    }
    c.validate().expect("a configuration within every limit");
    let mut bus = Bus::new(&c);
    bus.form(&[&[1, 2, 3]]);
    let all: Vec<(BackendId, bool)> = c
        .vips
        .iter()
        .flat_map(|v| {
            v.services.iter().flat_map(move |s| {
                s.backends.iter().map(move |b| {
                    (
                        BackendId {
                            vip: v.addr,
                            proto: s.proto,
                            port: s.port,
                            addr: b.addr,
                            backend_port: b.port,
                        },
                        false,
                    )
                })
            })
        })
        .collect();
    // Every node sees every back-end fail.
    for id in [1, 2, 3] {
        bus.node(id).observe_health(&all);
    }
    for _ in 0..3 {
        bus.advance(1_000_000, &[]);
    }
    assert_eq!(bus.nodes[&1].state().down.len(), 1024);
    let size = bus.nodes[&1].persist().len();
    assert!(
        size <= ringgate_ring::limits::MAX_SNAPSHOT,
        "the state is {size} bytes, more than a snapshot may be ({})",
        ringgate_ring::limits::MAX_SNAPSHOT
    );
}

/// DEFECT: a command this node sends while it waits for a snapshot is
/// delivered (held back by the ring) and dropped unanswered
/// (`handle_delivery` returns early when `awaiting_snapshot`): no
/// `Output::CommandDone` ever comes. ringgated (gateway.rs `command`) keeps
/// the reply in `pending` until CommandDone, with no expiry: each such
/// command leaks an entry, and after `MAX_PENDING` (64) the daemon refuses
/// every command ("too many commands waiting") until restarted. With the
/// snapshot-too-large defect a joiner waits forever, so every command
/// through it leaks. The control client times out after 10 s meanwhile.
#[test]
fn a_command_sent_while_awaiting_a_snapshot_is_answered() {
    use ringgate_cluster::{Command, Output};
    use ringgate_ring::node::Event;
    let c = config(&[(1, 100), (2, 100), (3, 100)], 3, Settings::default());
    let mut node = ClusterNode::new(3, c.clone());
    node.handle_ring_event(10, membership(4, 1, &[1, 2, 3], &[3], Some(1)));
    while node.poll_output().is_some() {}
    let request = node.command(
        20,
        Command::Drain {
            node: 2,
            drained: true,
        },
    );
    let mut sent = Vec::new();
    let mut answered = false;
    while let Some(o) = node.poll_output() {
        match o {
            Output::Broadcast { payload, .. } => sent.push(payload),
            Output::CommandDone { request: r, .. } if r == request => answered = true,
            _ => {}
        }
    }
    // The ring delivers this node's own message (held back for the
    // snapshot, which never comes before the ring ends).
    for payload in sent {
        node.handle_ring_event(
            30,
            Event::Deliver {
                first: 1,
                last: 1,
                index: 0,
                origin: 3,
                payload,
            },
        );
    }
    // The next ring: a singleton, minority.
    node.handle_ring_event(40, membership(8, 3, &[3], &[3], None));
    node.tick(1_000_000, true);
    answered |= std::iter::from_fn(|| node.poll_output())
        .any(|o| matches!(o, Output::CommandDone { request: r, .. } if r == request));
    assert!(answered, "request {request} was never answered");
}

/// The other half of the defect above: a command sent in one ring and
/// delivered in the next, where this node waits for the cluster's state,
/// was applied by the others but not here; its sender says the outcome is
/// unknown instead of never answering.
#[test]
fn a_command_delivered_while_awaiting_a_snapshot_is_answered() {
    use ringgate_cluster::state::CommandError;
    use ringgate_cluster::{Command, Output};
    use ringgate_ring::node::Event;
    let c = config(&[(1, 100), (2, 100), (3, 100)], 3, Settings::default());
    let mut node = ClusterNode::new(3, c);
    node.handle_ring_event(10, membership(4, 1, &[1, 2, 3], &[3], None));
    while node.poll_output().is_some() {}
    let request = node.command(
        20,
        Command::Drain {
            node: 2,
            drained: true,
        },
    );
    let sent: Vec<Vec<u8>> = std::iter::from_fn(|| node.poll_output())
        .filter_map(|o| match o {
            Output::Broadcast { payload, .. } => Some(payload),
            _ => None,
        })
        .collect();
    // A new ring forms before the message goes out; this node is its
    // snapshot's receiver, and the message is delivered in it.
    node.handle_ring_event(30, membership(8, 1, &[1, 2, 3], &[3], Some(1)));
    for payload in sent {
        node.handle_ring_event(
            40,
            Event::Deliver {
                first: 1,
                last: 1,
                index: 0,
                origin: 3,
                payload,
            },
        );
    }
    let answer = std::iter::from_fn(|| node.poll_output()).find_map(|o| match o {
        Output::CommandDone { request: r, result } if r == request => Some(result),
        _ => None,
    });
    assert_eq!(answer, Some(Err(CommandError::OutcomeUnknown)));
}
