//! Real ringgated processes with a one-way link: node 1's datagrams never
//! reach node 3, every other direction works. (The link is cut by the
//! relay in front of node 3, a test-only stand-in for an nftables rule,
//! which would need root and network namespaces.) The nodes settle in a
//! stable ring of nodes that hear each other, and all three come together
//! once the link heals.
//!
//! ```text
//!   127.0.0.1 node 1 ──X──> relay 127.0.0.3 ──> 127.0.0.13 node 3
//!   127.0.0.2 node 2 ─────> relay 127.0.0.3 ──> 127.0.0.13 node 3
//!   node 3 ──> nodes 1 and 2 directly
//! ```

mod support;

use std::time::Duration;

use support::{in_ring, lines_starting, start, status, wait_for, Relay};

#[test]
fn a_one_way_link_gives_a_stable_ring_of_the_nodes_that_hear_each_other() {
    let dir = support::scratch("one-way");
    let port = 20000 + (std::process::id() % 20000) as u16;
    let all = [1, 2, 3];
    let relay = Relay::start(3, port);
    relay.drop_from(Some(1));
    let daemons: Vec<_> = all
        .iter()
        .map(|id| start(&dir, *id, port, &all, &[3]))
        .collect();

    // Node 2 hears both others; nodes 1 and 3 cannot share a ring.
    wait_for("a ring of two that hear each other", || {
        in_ring(&daemons[1], &[1, 2]) || in_ring(&daemons[1], &[2, 3])
    });
    std::thread::sleep(Duration::from_secs(1));
    let rings = |i: usize| lines_starting(&daemons[i], "membership ").len();
    let settled: Vec<usize> = (0..3).map(rings).collect();
    let pair = status(&daemons[1])["members"].clone();
    std::thread::sleep(Duration::from_secs(3));
    let later: Vec<usize> = (0..3).map(rings).collect();
    // A loaded host may lose a token now and then (the others share these
    // cores); a ring per Join would show hundreds more.
    assert!(
        settled.iter().zip(&later).all(|(a, b)| b - a <= 2),
        "rings kept forming while the link stayed cut (membership lines per node: {settled:?} after 1 s, {later:?} 3 s later)"
    );
    assert_eq!(status(&daemons[1])["members"], pair);
    assert!(
        settled.iter().all(|n| *n <= 5),
        "too many rings while settling: {settled:?}"
    );
    assert!(relay.dropped() > 0, "the relay dropped nothing");
    // Two of three configured nodes: the primary component.
    let last = lines_starting(&daemons[1], "membership ").pop().unwrap();
    assert!(last.ends_with(" primary"), "{last}");

    relay.drop_from(None);
    for d in &daemons {
        wait_for("all three in one ring after the link heals", || {
            in_ring(d, &all)
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
}
