//! REVIEW (rev10, adversarial): failing reproducers, not fixes.
use ringgate_ring::node::Config;
use ringgate_ring::wire::Body;
use crate::net::{decode, Net};

/// A restarted receiver has an empty replay guard: captured datagrams of a
/// dead node's old session are all taken again.
#[test]
fn rev10_review_replayed_joins_to_a_restarted_receiver() {
    let mut net = Net::new(&[1, 2, 3], Config::default());
    net.capture = true;
    net.advance_until(1000, |n| n.one_ring(&[1, 2, 3]));
    net.capture = false;
    net.crash(3);
    net.advance_until(1000, |n| n.one_ring(&[1, 2]));
    let key = net.key.clone();
    let joins: Vec<Vec<u8>> = net.captured.iter().filter(|(to, d)| {
        let p = decode(&key, d); *to == 1 && p.sender == 3 && matches!(p.body, Body::Join(_))
    }).map(|(_, d)| d.clone()).collect();
    assert!(!joins.is_empty());
    net.restart(1, 1, Config::default());
    net.advance_until(1000, |n| n.one_ring(&[1, 2]));
    let before = net.node(1).stats().rings_installed;
    for j in &joins { net.replay(1, j.clone()); net.advance(); }
    net.advance_until(1000, |n| n.one_ring(&[1, 2]));
    let st = net.node(1).stats().clone();
    eprintln!("joins replayed {} rings before {} after {} replayed {}", joins.len(), before, st.rings_installed, st.replayed);
    assert_eq!(net.node(1).stats().rings_installed, before, "replayed old Joins re-formed the ring");
}

/// A node restarted with a lower epoch (state_file lost + clock stepped back:
/// ringgated then seeds the epoch from wall_ms) is refused forever as a replay.
#[test]
fn rev10_review_restart_with_lower_epoch_is_locked_out() {
    let mut net = Net::new(&[1, 2, 3], Config::default());
    net.restart(3, 5000, Config::default());
    net.advance_until(1000, |n| n.one_ring(&[1, 2, 3]));
    net.crash(3);
    net.advance_until(1000, |n| n.one_ring(&[1, 2]));
    net.restart(3, 4000, Config::default());
    net.advance_until(5000, |n| n.one_ring(&[1, 2, 3]));
    let r = net.node(1).stats().replayed;
    assert!(net.one_ring(&[1, 2, 3]), "node 3 never rejoins; node 1 refused {r} of its datagrams as replays");
}
