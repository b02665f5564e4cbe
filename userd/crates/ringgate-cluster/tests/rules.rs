//! One test per rule of the cluster state machine, on a perfect agreed bus
//! (`support/bus.rs`): each fails if its rule is broken.

mod support {
    pub mod bus;
}

use ringgate_cluster::config::Settings;
use ringgate_cluster::message::{Message, Stamped};
use ringgate_cluster::model::{BackendId, VipLoad};
use ringgate_cluster::state::{CommandError, Holding};
use ringgate_cluster::{ClusterNode, Command, ModuleAction, Output};
use std::net::Ipv4Addr;
use support::bus::{config, membership, vip, Bus};

const FENCE: u64 = 220_000;

fn three(vips: u8) -> (ringgate_cluster::config::ClusterConfig, Bus) {
    let c = config(&[(1, 100), (2, 100), (3, 100)], vips, Settings::default());
    let bus = Bus::new(&c);
    (c, bus)
}

fn owner(bus: &Bus, at: NodeIdLike, v: Ipv4Addr) -> Holding {
    bus.nodes[&at].state().vips[&v].holding
}
type NodeIdLike = u16;

#[test]
fn a_fresh_cluster_spreads_vips_by_weight_and_every_member_agrees() {
    let c = config(&[(1, 100), (2, 300)], 8, Settings::default());
    let mut bus = Bus::new(&c);
    bus.form(&[&[1, 2]]);
    assert_eq!(bus.nodes[&1].state(), bus.nodes[&2].state());
    let holders = bus.holders();
    assert_eq!(holders.len(), 8, "{holders:?}");
    let on_2 = holders.values().filter(|h| *h == &vec![2]).count();
    assert_eq!(on_2, 6, "weight 300 against 100 carries three quarters");
}

#[test]
fn failover_reassigns_at_once_and_takes_after_the_fence() {
    let (c, mut bus) = three(6);
    bus.form(&[&[1, 2, 3]]);
    let of_3: Vec<Ipv4Addr> = bus.nodes[&3].held().iter().copied().collect();
    assert_eq!(of_3.len(), 2);
    bus.crash(3, &c);
    bus.form(&[&[1, 2]]);
    // Reassigned in the agreed state the moment the membership changed...
    for v in &of_3 {
        assert!(
            matches!(owner(&bus, 1, *v), Holding::Owned { node, fenced: true } if node != 3),
            "{:?}",
            owner(&bus, 1, *v)
        );
    }
    assert_eq!(bus.nodes[&1].state(), bus.nodes[&2].state());
    // ...but nobody answers for them until the fence has passed.
    bus.advance(FENCE - 1, &[]);
    for v in &of_3 {
        assert!(!bus.holders().contains_key(v));
    }
    bus.advance(1, &[]);
    for v in &of_3 {
        assert_eq!(bus.holders()[v].len(), 1);
    }
}

#[test]
fn a_move_takes_only_after_the_old_owner_released() {
    let (_, mut bus) = three(3);
    bus.form(&[&[1, 2, 3]]);
    let v = *bus.nodes[&1].held().iter().next().unwrap();
    let now = bus.now;
    bus.node(1).command(now, Command::MoveVip { vip: v, to: 2 });
    bus.settle();
    assert_eq!(bus.holders()[&v], vec![2]);
    // Node 1's outputs: the release, then the broadcast that lets 2 take.
    let outs = &bus.outputs[&1];
    let release = outs
        .iter()
        .position(|o| *o == Output::Module(ModuleAction::ReleaseVip(v)))
        .unwrap();
    let released = outs
        .iter()
        .position(|o| matches!(o, Output::Broadcast { payload, .. }
            if matches!(Stamped::decode(payload).map(|s| s.message), Ok(Message::Released { vip, .. }) if vip == v)))
        .unwrap();
    assert!(release < released);
    // Node 2 took it only when the release was delivered: withholding the
    // release keeps the VIP unowned by 2.
    let (_, mut bus) = three(3);
    bus.form(&[&[1, 2, 3]]);
    let v = *bus.nodes[&1].held().iter().next().unwrap();
    let mut state = bus.nodes[&2].state().clone();
    let stamped = Stamped {
        at: 5,
        message: Message::MoveVip {
            request: 1,
            vip: v,
            to: 2,
        },
    };
    state.apply_message(1, &stamped);
    assert_eq!(
        state.vips[&v].holding,
        Holding::Handoff {
            from: 1,
            to: Some(2)
        }
    );
    // A release with the wrong epoch, or from another node, changes nothing.
    let epoch = state.vips[&v].epoch;
    for (from, e) in [(1, epoch - 1), (3, epoch)] {
        state.apply_message(
            from,
            &Stamped {
                at: 6,
                message: Message::Released { vip: v, epoch: e },
            },
        );
        assert!(matches!(state.vips[&v].holding, Holding::Handoff { .. }));
    }
    state.apply_message(
        1,
        &Stamped {
            at: 6,
            message: Message::Released { vip: v, epoch },
        },
    );
    assert_eq!(
        state.vips[&v].holding,
        Holding::Owned {
            node: 2,
            fenced: false
        }
    );
}

#[test]
fn a_minority_releases_everything_and_the_majority_takes_over() {
    let (_, mut bus) = three(6);
    bus.form(&[&[1, 2, 3]]);
    let of_1: Vec<Ipv4Addr> = bus.nodes[&1].held().iter().copied().collect();
    bus.form(&[&[1], &[2, 3]]);
    assert!(bus.nodes[&1].held().is_empty(), "the minority released");
    assert!(!bus.nodes[&1].state().quorate);
    bus.advance(FENCE, &[]);
    let holders = bus.holders();
    assert_eq!(holders.len(), 6);
    assert!(holders.values().all(|h| h.len() == 1 && h[0] != 1));
    // Heal: one owner per VIP again, agreed by all.
    bus.form(&[&[1, 2, 3]]);
    bus.advance(FENCE, &[]);
    assert!(bus.holders().values().all(|h| h.len() == 1));
    assert_eq!(bus.holders().len(), 6);
    assert_eq!(bus.nodes[&1].state(), bus.nodes[&3].state());
    let _ = of_1;
}

#[test]
fn a_lone_node_of_two_serves_only_with_the_two_node_option() {
    for two_node in [false, true] {
        let settings = Settings {
            two_node,
            ..Settings::default()
        };
        let c = config(&[(1, 100), (2, 100)], 2, settings);
        let mut bus = Bus::new(&c);
        bus.form(&[&[1, 2]]);
        bus.form(&[&[1], &[2]]);
        bus.advance(FENCE, &[]);
        let serving = bus.holders().len();
        assert_eq!(serving, if two_node { 2 } else { 0 }, "two_node {two_node}");
    }
}

#[test]
fn a_ring_that_stays_down_releases_after_the_self_fence() {
    let (_, mut bus) = three(3);
    bus.form(&[&[1, 2, 3]]);
    let held = bus.nodes[&1].held().len();
    assert!(held > 0);
    let self_fence = Settings::default().self_fence_us;
    bus.advance(1, &[1]);
    bus.advance(self_fence - 1, &[1]);
    assert_eq!(
        bus.nodes[&1].held().len(),
        held,
        "a short gap changes nothing"
    );
    bus.advance(1, &[1]);
    assert!(bus.nodes[&1].held().is_empty());
    assert!(Settings::default().takeover_fence_us > self_fence);
}

#[test]
fn concurrent_configuration_changes_resolve_by_version_everywhere() {
    let (c, mut bus) = three(2);
    bus.form(&[&[1, 2, 3]]);
    let base = bus.nodes[&1].state().config.version;
    let mut a = c.clone();
    a.vips.push(ringgate_cluster::config::VipConfig {
        addr: vip(10),
        services: Vec::new(),
    });
    let mut b = c.clone();
    b.vips.truncate(1);
    let now = bus.now;
    let ra = bus.node(1).command(
        now,
        Command::ChangeConfig {
            base_version: base,
            config: a,
        },
    );
    let rb = bus.node(2).command(
        now,
        Command::ChangeConfig {
            base_version: base,
            config: b,
        },
    );
    bus.settle();
    let done = |bus: &Bus, id, r| {
        bus.outputs[&id].iter().find_map(|o| match o {
            Output::CommandDone { request, result } if *request == r => Some(result.clone()),
            _ => None,
        })
    };
    assert_eq!(done(&bus, 1, ra), Some(Ok(())));
    assert_eq!(
        done(&bus, 2, rb),
        Some(Err(CommandError::VersionConflict {
            base,
            current: base + 1
        }))
    );
    for id in [1, 2, 3] {
        let s = bus.nodes[&id].state();
        assert_eq!(s.config.version, base + 1);
        assert!(s.vips.contains_key(&vip(10)));
        assert!(bus
            .actions(id)
            .iter()
            .any(|a| matches!(a, ModuleAction::ApplyConfig(c) if c.version == base + 1)));
    }
    assert_eq!(bus.holders().len(), 3);
}

#[test]
fn a_joining_node_takes_the_snapshot_and_no_vip_until_then() {
    let (c, mut bus) = three(4);
    bus.form(&[&[1, 2]]);
    let now = bus.now;
    let mut newer = c.clone();
    newer.settings.hold_us = 5_000_000;
    let base = bus.nodes[&1].state().config.version;
    bus.node(1).command(
        now,
        Command::ChangeConfig {
            base_version: base,
            config: newer,
        },
    );
    bus.settle();
    bus.form(&[&[1, 2, 3]]);
    assert!(!bus.nodes[&3].awaiting_snapshot());
    assert_eq!(bus.nodes[&3].state(), bus.nodes[&1].state());
    assert_eq!(bus.nodes[&3].state().config.settings.hold_us, 5_000_000);
    // It joined with no VIP, and gets none except by the load rule.
    assert!(bus.nodes[&3].held().is_empty());
}

/// A node that joins is given no VIP until its module holds the session
/// table (its daemon says so): a manual move to it is refused, and a
/// failover gives the dead node's VIPs to a member that holds it. A node
/// that left holds it no more.
#[test]
fn a_joiner_gets_vips_only_once_it_holds_the_session_table() {
    let (c, mut bus) = three(4);
    bus.form(&[&[1, 2]]);
    // A cold start: nobody holds the table yet, and the VIPs go anyway.
    assert_eq!(bus.holders().len(), 4);
    bus.report_table_held(1);
    bus.report_table_held(2);
    bus.form(&[&[1, 2, 3]]);
    for n in [1, 2, 3] {
        assert_eq!(
            bus.nodes[&n].state().table_holders,
            [1, 2].into_iter().collect()
        );
    }
    let now = bus.now;
    let r = bus
        .node(1)
        .command(now, Command::MoveVip { vip: vip(1), to: 3 });
    bus.settle();
    assert!(bus.outputs[&1].contains(&Output::CommandDone {
        request: r,
        result: Err(CommandError::NoSessionTable(3))
    }));
    bus.crash(2, &c);
    bus.form(&[&[1, 3]]);
    bus.advance(FENCE, &[]);
    assert!(bus.nodes[&3].held().is_empty(), "{:?}", bus.holders());
    assert_eq!(bus.nodes[&1].held().len(), 4);
    assert_eq!(
        bus.nodes[&3].state().table_holders,
        [1].into_iter().collect()
    );
    // Once it holds the table, it may be given one.
    bus.report_table_held(3);
    let now = bus.now;
    let r = bus
        .node(3)
        .command(now, Command::MoveVip { vip: vip(1), to: 3 });
    bus.settle();
    assert!(bus.outputs[&3].contains(&Output::CommandDone {
        request: r,
        result: Ok(())
    }));
    assert_eq!(owner(&bus, 1, vip(1)).target(), Some(3));
}

/// When every member that held the session table is gone, the others take
/// the VIPs: serving without the table beats not serving.
#[test]
fn without_a_table_holder_the_vips_still_go_somewhere() {
    let (c, mut bus) = three(4);
    bus.form(&[&[1, 2, 3]]);
    bus.report_table_held(1);
    let now = bus.now;
    bus.node(1).command(
        now,
        Command::Drain {
            node: 2,
            drained: true,
        },
    );
    bus.settle();
    bus.node(1).command(
        now,
        Command::Drain {
            node: 3,
            drained: true,
        },
    );
    bus.settle();
    bus.advance(FENCE, &[]);
    assert_eq!(bus.nodes[&1].held().len(), 4, "{:?}", bus.holders());
    let now = bus.now;
    for n in [2, 3] {
        bus.node(1).command(
            now,
            Command::Drain {
                node: n,
                drained: false,
            },
        );
    }
    bus.settle();
    bus.crash(1, &c);
    bus.form(&[&[2, 3]]);
    bus.advance(FENCE, &[]);
    assert_eq!(bus.holders().len(), 4, "{:?}", bus.holders());
    assert!(bus.nodes[&2].state().table_holders.is_empty());
}

/// The load rule gives nothing to a node that does not hold the session
/// table, however idle; once it does, the rule balances onto it.
#[test]
fn the_load_rule_passes_by_a_node_without_the_session_table() {
    let settings = Settings {
        hold_us: 0,
        ..Settings::default()
    };
    let c = config(&[(1, 100), (2, 100), (3, 100)], 4, settings);
    let mut bus = Bus::new(&c);
    bus.form(&[&[1, 2]]);
    bus.advance(FENCE, &[]);
    bus.report_table_held(1);
    bus.report_table_held(2);
    bus.form(&[&[1, 2, 3]]);
    bus.advance(FENCE, &[]);
    let load = VipLoad {
        packets_per_sec: 1000,
        ..VipLoad::default()
    };
    let loads: Vec<_> = (1..=4).map(|n| (vip(n), load)).collect();
    for n in [1, 2, 3] {
        bus.node(n).observe_load(&loads);
    }
    for _ in 0..30 {
        bus.advance(1_000_000, &[]);
    }
    assert!(bus.nodes[&3].held().is_empty(), "{:?}", bus.holders());
    bus.report_table_held(3);
    for _ in 0..30 {
        bus.advance(1_000_000, &[]);
    }
    assert!(!bus.nodes[&3].held().is_empty(), "{:?}", bus.holders());
}

/// The only holder of the session table is drained: its VIPs go to the
/// others, which do not hold it, rather than stay.
#[test]
fn a_drained_sole_holder_hands_its_vips_to_the_others() {
    let (_, mut bus) = three(4);
    bus.form(&[&[1, 2, 3]]);
    bus.advance(FENCE, &[]);
    bus.report_table_held(1);
    let now = bus.now;
    bus.node(2).command(
        now,
        Command::Drain {
            node: 1,
            drained: true,
        },
    );
    bus.settle();
    bus.advance(FENCE, &[]);
    assert!(bus.nodes[&1].held().is_empty(), "{:?}", bus.holders());
    assert_eq!(bus.holders().len(), 4);
}

/// A minority forgets the holders it lost too: if its state becomes the
/// cluster's (the majority's members come back without theirs), nodes
/// that restarted with empty modules do not count as holders.
#[test]
fn a_minority_state_forgets_the_holders_it_lost() {
    let (c, mut bus) = three(3);
    bus.form(&[&[1, 2, 3]]);
    bus.advance(FENCE, &[]);
    for n in [1, 2, 3] {
        bus.report_table_held(n);
    }
    bus.form(&[&[1, 2], &[3]]);
    bus.crash(1, &c);
    bus.crash(2, &c);
    bus.form(&[&[1, 2, 3]]);
    for n in [1, 2, 3] {
        assert_eq!(
            bus.nodes[&n].state().table_holders,
            [3].into_iter().collect(),
            "node {n}"
        );
    }
}

#[test]
fn a_backend_is_down_when_a_majority_of_members_sees_it_fail() {
    let mut c = config(&[(1, 100), (2, 100), (3, 100)], 1, Settings::default());
    c.vips[0].services.push(ringgate_cluster::config::Service {
        proto: 6,
        port: 80,
        scheduler: "rr".into(),
        backends: vec![ringgate_cluster::config::Backend {
            addr: Ipv4Addr::new(192, 168, 0, 9),
            port: 80,
            weight: 1,
        }],
        health: None,
        mode: Default::default(),
    });
    let backend = BackendId {
        vip: vip(1),
        proto: 6,
        port: 80,
        addr: Ipv4Addr::new(192, 168, 0, 9),
        backend_port: 80,
    };
    let mut bus = Bus::new(&c);
    bus.form(&[&[1, 2, 3]]);
    let down = ModuleAction::SetBackend { backend, up: false };
    bus.node(1).observe_health(&[(backend, false)]);
    bus.advance(1, &[]);
    assert!(
        !bus.actions(2).contains(&down),
        "one node of three is not a majority"
    );
    bus.node(3).observe_health(&[(backend, false)]);
    bus.advance(1, &[]);
    for id in [1, 2, 3] {
        assert!(bus.actions(id).contains(&down), "node {id}");
    }
    bus.node(1).observe_health(&[(backend, true)]);
    bus.advance(1, &[]);
    for id in [1, 2, 3] {
        assert_eq!(
            bus.actions(id).last(),
            Some(&ModuleAction::SetBackend { backend, up: true })
        );
    }
}

#[test]
fn a_drained_node_hands_its_vips_over_and_gets_none() {
    let (_, mut bus) = three(6);
    bus.form(&[&[1, 2, 3]]);
    let now = bus.now;
    bus.node(1).command(
        now,
        Command::Drain {
            node: 3,
            drained: true,
        },
    );
    bus.settle();
    assert!(bus.nodes[&3].held().is_empty());
    assert_eq!(bus.holders().len(), 6);
    assert!(bus.holders().values().all(|h| h.len() == 1));
    // A manual move to it is refused; a failover passes it by.
    let now = bus.now;
    let r = bus
        .node(1)
        .command(now, Command::MoveVip { vip: vip(1), to: 3 });
    bus.settle();
    assert!(bus.outputs[&1].contains(&Output::CommandDone {
        request: r,
        result: Err(CommandError::NotEligible(3))
    }));
    let c = bus.nodes[&1].state().config.clone();
    bus.crash(2, &c);
    bus.form(&[&[1, 3]]);
    bus.advance(FENCE, &[]);
    assert!(bus.nodes[&3].held().is_empty());
    assert_eq!(bus.nodes[&1].held().len(), 6);
}

/// Loads reported over the bus: the busiest node gives a VIP to the idle
/// one, then nothing moves while the hold time runs, and a manually moved
/// VIP stays where the operator put it for the hold time.
#[test]
fn the_load_rule_moves_once_and_respects_hold_times() {
    let settings = Settings {
        hold_us: 10_000_000,
        ..Settings::default()
    };
    let c = config(&[(1, 100), (2, 100)], 4, settings);
    let mut bus = Bus::new(&c);
    bus.form(&[&[1]]); // Not quorate alone: nothing placed.
    bus.form(&[&[1, 2]]);
    // The state did not serve before (node 1 alone had no quorum), so
    // every placement waits the takeover fence.
    assert!(bus.holders().is_empty());
    bus.advance(FENCE, &[]);
    // Put everything on node 1 by hand (pinned for the hold time).
    for n in 1..=4 {
        let now = bus.now;
        bus.node(1)
            .command(now, Command::MoveVip { vip: vip(n), to: 1 });
        bus.settle();
    }
    assert_eq!(bus.nodes[&1].held().len(), 4);
    let load = VipLoad {
        packets_per_sec: 1000,
        ..VipLoad::default()
    };
    let loads: Vec<_> = (1..=4).map(|n| (vip(n), load)).collect();
    // Each node measures the traffic of the VIPs it holds.
    bus.node(1).observe_load(&loads);
    bus.node(2).observe_load(&loads);
    let moves_at = |bus: &Bus| {
        bus.outputs[&1]
            .iter()
            .filter(|o| matches!(o, Output::Moved(m) if m.reason == ringgate_cluster::state::MoveReason::Balance))
            .count()
    };
    // Within the hold time (pinned by the manual moves): nothing moves.
    for _ in 0..9 {
        bus.advance(1_000_000, &[]);
    }
    assert_eq!(moves_at(&bus), 0);
    // After it, the rule moves VIPs to node 2 until balanced, then stops.
    for _ in 0..30 {
        bus.advance(1_000_000, &[]);
    }
    assert_eq!(moves_at(&bus), 2);
    assert_eq!(bus.nodes[&2].held().len(), 2);
}

#[test]
fn persisted_state_restores_without_serving_until_a_quorate_ring() {
    let (_, mut bus) = three(3);
    bus.form(&[&[1, 2, 3]]);
    let bytes = bus.nodes[&1].persist();
    let restored = ClusterNode::restore(1, &bytes).unwrap();
    assert_eq!(restored.state().vips, bus.nodes[&1].state().vips);
    assert!(!restored.state().quorate);
    assert!(restored.held().is_empty());
    for cut in 0..bytes.len() {
        assert!(ClusterNode::restore(1, &bytes[..cut]).is_err());
    }
}

/// A receiver whose ring ends before the donor's snapshot comes is handed
/// the held-back deliveries (as the ring does): it must apply none of them,
/// since they belong to a state it never received, and must serve nothing.
#[test]
fn a_receiver_applies_nothing_before_its_snapshot() {
    use ringgate_ring::node::Event;
    let c = config(&[(1, 100), (2, 100), (3, 100)], 3, Settings::default());
    let mut node = ClusterNode::new(3, c.clone());
    node.handle_ring_event(10, membership(4, 1, &[1, 2, 3], &[3], Some(1)));
    let before = node.state().clone();
    let move_it = Stamped {
        at: 20,
        message: Message::MoveVip {
            request: 1,
            vip: vip(1),
            to: 3,
        },
    };
    node.handle_ring_event(
        20,
        Event::Deliver {
            first: 1,
            last: 1,
            index: 0,
            origin: 1,
            payload: move_it.encode(),
        },
    );
    node.tick(30, true);
    assert_eq!(node.state(), &before);
    assert!(node.held().is_empty());
}

/// Several fresh nodes forming their first ring together have no state the
/// ring could transfer: they start from the same empty state and adopt the
/// newest configuration any of them offers.
#[test]
fn a_cold_start_adopts_the_newest_offered_configuration() {
    let old = config(&[(1, 100), (2, 100), (3, 100)], 2, Settings::default());
    let mut newer = old.clone();
    newer.version = 7;
    newer.vips.push(ringgate_cluster::config::VipConfig {
        addr: vip(9),
        services: Vec::new(),
    });
    let mut bus = Bus::new(&old);
    bus.nodes.insert(2, ClusterNode::new(2, newer));
    bus.form(&[&[1, 2, 3]]);
    for id in [1, 2, 3] {
        assert_eq!(bus.nodes[&id].state().config.version, 7, "node {id}");
    }
    assert_eq!(bus.nodes[&1].state(), bus.nodes[&3].state());
    assert_eq!(bus.holders().len(), 3);
}

/// A cold start in two groups, neither with quorum: offers made there are
/// ignored, so when the groups merge every node offers its configuration
/// again, and the cluster does not stay without one.
#[test]
fn a_cold_start_in_minority_groups_still_gets_a_configuration() {
    let c = config(
        &[(1, 100), (2, 100), (3, 100), (4, 100)],
        3,
        Settings::default(),
    );
    let mut bus = Bus::new(&c);
    bus.form(&[&[1, 2], &[3, 4]]);
    assert!(bus.holders().is_empty());
    bus.form(&[&[1, 2, 3, 4]]);
    for id in [1, 2, 3, 4] {
        assert_eq!(bus.nodes[&id].state().config.version, 1, "node {id}");
    }
    assert_eq!(bus.holders().len(), 3);
}

/// The ring node turns operational before the daemon drains the membership
/// event of the new ring; until this node has applied that event (it may be
/// a receiver of a state transfer there) a self-fenced node takes nothing.
#[test]
fn a_self_fenced_node_waits_for_the_membership_event() {
    let (_, mut bus) = three(3);
    bus.form(&[&[1, 2, 3]]);
    assert!(!bus.nodes[&1].held().is_empty());
    let self_fence = Settings::default().self_fence_us;
    bus.advance(1, &[1]);
    bus.advance(self_fence, &[1]);
    assert!(bus.nodes[&1].held().is_empty());
    let now = bus.now + 1;
    bus.node(1).tick(now, true);
    assert!(
        bus.nodes[&1].held().is_empty(),
        "took on the ring's word alone"
    );
    bus.form(&[&[1, 2, 3]]);
    assert!(!bus.nodes[&1].held().is_empty());
}

/// The ring's state transfer takes the largest group's state, the lowest id
/// breaking ties, which may be a restarted node's stale one. The receiver
/// offers the state it had; the longer history wins everywhere, so no agreed
/// change is lost.
#[test]
fn a_stale_donor_does_not_roll_the_cluster_back() {
    let (c, mut bus) = three(3);
    bus.form(&[&[1, 2, 3]]);
    let mut newer = c.clone();
    newer.settings.hold_us = 7_000_000;
    let now = bus.now;
    bus.node(3).command(
        now,
        Command::ChangeConfig {
            base_version: 1,
            config: newer,
        },
    );
    bus.settle();
    // Agreed state outside the configuration: node 1 is drained.
    let now = bus.now;
    bus.node(3).command(
        now,
        Command::Drain {
            node: 1,
            drained: true,
        },
    );
    bus.settle();
    bus.crash(1, &c);
    bus.form(&[&[1], &[2, 3]]);
    bus.crash(2, &c);
    bus.form(&[&[1], &[3]]);
    // One node each: a tie, which the ring gives to node 1, the stale one.
    bus.form(&[&[1, 3]]);
    for id in [1, 3] {
        let s = bus.nodes[&id].state();
        assert_eq!(s.config.settings.hold_us, 7_000_000, "node {id}");
        assert!(s.drained.contains(&1), "node {id} forgot the drain");
    }
    assert_eq!(bus.nodes[&1].state(), bus.nodes[&3].state());
    bus.advance(FENCE, &[]);
    assert_eq!(bus.holders().len(), 3);
    assert!(bus.holders().values().all(|h| h == &vec![3]));
}

/// Every byte of every kind of message flipped, cut or extended, delivered
/// as an agreed message: nothing panics, and two members fed the same bytes
/// stay identical.
#[test]
fn mutated_deliveries_never_panic_and_keep_members_identical() {
    let (c, mut bus) = three(3);
    bus.form(&[&[1, 2, 3]]);
    let state = bus.nodes[&1].state().encode();
    let samples = [
        Message::Load {
            loads: vec![(vip(1), VipLoad::default())],
        },
        Message::ConfigChange {
            request: 1,
            base_version: 1,
            config: c.clone(),
        },
        Message::ConfigOffer { config: c.clone() },
        Message::MoveVip {
            request: 2,
            vip: vip(2),
            to: 2,
        },
        Message::Drain {
            request: 3,
            node: 2,
            drained: true,
        },
        Message::Released {
            vip: vip(1),
            epoch: 1,
        },
        Message::StateOffer { state },
    ];
    let mut seed = 0x9e37_79b9_u64;
    for message in samples {
        let bytes = Stamped { at: 9, message }.encode();
        for i in 0..bytes.len().min(400) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut mutated = bytes.clone();
            match seed % 3 {
                0 => mutated[i] ^= (seed >> 8) as u8 | 1,
                1 => mutated.truncate(i),
                _ => mutated.insert(i, (seed >> 16) as u8),
            }
            for id in [1, 2] {
                let now = bus.now;
                bus.node(id).handle_ring_event(
                    now,
                    ringgate_ring::node::Event::Deliver {
                        first: 0,
                        last: 0,
                        index: 0,
                        origin: 3,
                        payload: mutated.clone(),
                    },
                );
            }
            assert_eq!(bus.nodes[&1].state(), bus.nodes[&2].state());
        }
    }
}

/// Stamps extrapolate the agreed time with the sender's own monotonic
/// clock, so nodes whose clocks have unrelated origins (boot times) still
/// agree on a time that moves at the pace of real time.
#[test]
fn message_stamps_do_not_depend_on_the_local_clock_origin() {
    use ringgate_ring::node::Event;
    use ringgate_ring::wire::RingId;
    let c = config(&[(1, 100)], 1, Settings::default());
    let boot = 9_000_000_000_000; // This node's monotonic clock started long ago.
    let mut node = ClusterNode::new(1, c);
    node.handle_ring_event(
        boot,
        Event::Membership {
            ring: RingId {
                seq: 1,
                rep: 1,
                epoch: 0,
            },
            members: vec![1],
            transitional: vec![1],
            joined: vec![],
            left: vec![],
            primary: true,
            snapshot_from: None,
        },
    );
    node.tick(boot + 2_500_000, true);
    let stamps: Vec<u64> = std::iter::from_fn(|| node.poll_output())
        .filter_map(|o| match o {
            Output::Broadcast { payload, .. } => Stamped::decode(&payload).ok(),
            _ => None,
        })
        .filter(|s| matches!(s.message, Message::Load { .. }))
        .map(|s| s.at)
        .collect();
    assert_eq!(stamps, vec![2_500_000]);
}

/// A node whose ring node still counts the ring as up, but which has had no
/// token for the self fence (a slow pace stretches the ring's token-loss
/// timeout by up to seconds), releases everything and asks for a new ring;
/// a token that comes after that (perhaps a late packet of a ring the
/// others have left) does not bring its VIPs back: only a membership event
/// does.
#[test]
fn no_token_for_the_self_fence_releases_until_a_new_ring_forms() {
    let (_, mut bus) = three(3);
    bus.form(&[&[1, 2, 3]]);
    let held = bus.nodes[&1].held().clone();
    assert!(!held.is_empty());
    let self_fence = Settings::default().self_fence_us;
    let last_token = bus.now;
    bus.node(1).observe_token(Some(last_token));
    bus.advance(self_fence - 1, &[]);
    assert_eq!(bus.nodes[&1].held(), &held, "a slow token changes nothing");
    let before = bus.outputs[&1].len();
    bus.advance(1, &[]);
    assert!(
        bus.nodes[&1].held().is_empty(),
        "released at the self fence"
    );
    assert!(
        bus.outputs[&1][before..]
            .iter()
            .any(|o| matches!(o, Output::ReformRing)),
        "asked for a new ring"
    );
    // A late token: nothing is taken back.
    let now = bus.now;
    bus.node(1).observe_token(Some(now));
    bus.advance(1_000, &[]);
    assert!(
        bus.nodes[&1].held().is_empty(),
        "a late token brought VIPs back"
    );
    // The new ring (the same members, all from the last quorate ring):
    // node 1 kept its VIPs and takes them again at once.
    bus.form(&[&[1, 2, 3]]);
    assert_eq!(bus.nodes[&1].held(), &held);
}

/// The takeover fence counts from when the taking node noticed its ring was
/// lost, not from when the next ring formed (which a slow network makes
/// late), as long as the owner it fences was in that ring with it; a node
/// that receives the cluster's state counts from when it got it.
#[test]
fn the_takeover_fence_counts_from_the_noticed_loss() {
    let (_, mut bus) = three(3);
    bus.form(&[&[1, 2, 3]]);
    let fence = Settings::default().takeover_fence_us;
    // The ring is lost; nodes 1 and 2 notice it at once; forming the next
    // ring takes 100 ms.
    bus.advance(1_000, &[1, 2, 3]);
    bus.advance(100_000, &[1, 2, 3]);
    let lost_at = bus.now - 100_000;
    bus.form(&[&[1, 2], &[3]]);
    let node3_vips: Vec<_> = bus.nodes[&1]
        .state()
        .vips
        .iter()
        .filter(|(_, r)| matches!(r.holding, Holding::Owned { fenced: true, .. }))
        .map(|(v, _)| *v)
        .collect();
    assert!(!node3_vips.is_empty(), "node 3's VIPs are fenced");
    // Due at the noticed loss plus the fence.
    let due = lost_at + fence;
    bus.advance(due - bus.now - 1, &[]);
    let held = |bus: &Bus| -> usize {
        node3_vips
            .iter()
            .filter(|v| bus.nodes[&1].held().contains(v) || bus.nodes[&2].held().contains(v))
            .count()
    };
    assert_eq!(held(&bus), 0, "taken before the fence ran out");
    bus.advance(1, &[]);
    assert_eq!(
        held(&bus),
        node3_vips.len(),
        "not taken when the fence ran out"
    );
}

/// The self fence holds whichever input notices it ran out. Found in the VM:
/// a ring event handled after the fence ran out released the VIPs, the next
/// (late) token and tick took them back before any tick had latched the
/// fence, and the node flapped, taking back VIPs its peers may have taken.
#[test]
fn a_self_fence_noticed_between_ticks_holds_until_a_new_ring() {
    let (_, mut bus) = three(3);
    bus.form(&[&[1, 2, 3]]);
    let held = bus.nodes[&1].held().clone();
    assert!(!held.is_empty());
    let self_fence = Settings::default().self_fence_us;
    let t0 = bus.now;
    bus.node(1).observe_token(Some(t0));
    let late = t0 + self_fence + 1;
    bus.node(1)
        .handle_ring_event(late, ringgate_ring::node::Event::Safe { seq: 1 });
    assert!(
        bus.nodes[&1].held().is_empty(),
        "released at the self fence"
    );
    bus.node(1).observe_token(Some(late + 1));
    bus.node(1).tick(late + 2, true);
    assert!(
        bus.nodes[&1].held().is_empty(),
        "a late token brought the VIPs back"
    );
}
