//! Review 12: defects found by an adversarial review, each shown by a test
//! that failed while the defect was there.

#[allow(dead_code)]
mod support {
    pub mod bus;
}

use ringgate_cluster::config::Settings;
use ringgate_cluster::state::Holding;
use ringgate_cluster::{ModuleAction, Output};
use support::bus::{config, Bus};

/// Was DEFECT (safety), fixed by counting from the ring-down only when
/// nobody joined: the takeover fence counted from `fence_base`, this
/// node's ring-down time, whenever its previous ring was quorate and it
/// keeps that ring's state (`state.serving`, no snapshot). A node cannot
/// tell that its ring was the *last* quorate one: while nodes 1 and 2 were
/// cut off and still forming a ring (no membership event yet: a slow
/// pace's gather timeouts reach seconds, a lossy link keeps recoveries
/// failing), nodes 3, 4, 5 went on in a quorate ring in which node 5 kept
/// serving its VIP V. Then 5 is cut off and 1, 2, 3, 4 form a ring; the
/// groups {1,2} (old ring) and {3,4} tie and the ring's plan makes node 1
/// (the group holding the lowest id) the donor, so 1 and 2 keep their stale
/// state and count V's fence from their ring-down, long past: V is taken at
/// once, while node 5 had the token a moment ago and keeps V until its self
/// fence runs out (100 ms). The `StateOffer` of 3 and 4 arrives later and
/// clears `fence_base`, but the take has already happened.
#[test]
fn a_stale_donor_group_waits_the_fence_for_an_owner_of_a_later_ring() {
    let c = config(
        &[(1, 100), (2, 100), (3, 100), (4, 100), (5, 100)],
        10,
        Settings::default(),
    );
    let mut bus = Bus::new(&c);
    bus.form(&[&[1, 2, 3, 4, 5]]);
    // The ring is lost everywhere; 1 and 2 stay cut off, unable to form a
    // ring; 3, 4, 5 form a quorate ring 30 ms later.
    bus.advance(1_000, &[1, 2, 3, 4, 5]);
    bus.advance(29_000, &[1, 2, 3, 4, 5]);
    bus.form(&[&[3, 4, 5]]);
    // 500 ms of that ring; node 5 serves its VIPs with the token coming.
    for _ in 0..50 {
        let now = bus.now;
        for id in [3, 4, 5] {
            bus.node(id).observe_token(Some(now));
        }
        bus.advance(10_000, &[1, 2]);
    }
    let v = *bus.nodes[&5]
        .held()
        .iter()
        .next()
        .expect("node 5 serves a VIP");
    assert!(matches!(
        bus.nodes[&3].state().vips[&v].holding,
        Holding::Owned { node: 5, .. }
    ));
    // Node 5 is cut off right after its last token; 1, 2, 3, 4 form a ring.
    let now = bus.now;
    bus.node(5).observe_token(Some(now));
    let before: Vec<usize> = (1..=4)
        .map(|id| bus.outputs.get(&id).map_or(0, Vec::len))
        .collect();
    bus.form(&[&[1, 2, 3, 4]]);
    assert!(bus.nodes[&5].held().contains(&v), "node 5 still holds V");
    let takers: Vec<u16> = (1..=4u16)
        .filter(|id| {
            bus.outputs[id][before[*id as usize - 1]..]
                .contains(&Output::Module(ModuleAction::TakeVip(v)))
        })
        .collect();
    assert!(
        takers.is_empty(),
        "nodes {takers:?} took {v} while node 5, whose last token was just now, still holds it"
    );
}

/// Was DEFECT (availability), fixed by ignoring the last token in a ring
/// of one: `cut_off_from` used the last token whenever the
/// ring is down, also when the ring that went down was a ring of one. The
/// ring node updates `last_token_at` only for tokens of rings of several
/// members (a lone ring's install does not either: `install` returns
/// before the update for one member), so for a lone node it is the last
/// token of its last ring with peers, possibly hours old. A lone node that
/// is quorate (a `two_node` cluster whose peer crashed, or a one-node
/// cluster) serves every VIP; the moment its ring goes down because the
/// peer comes back (its Join), `tick` finds `now >= last_token +
/// self_fence` and the node releases every VIP at once, although it cannot
/// have been cut off from peers it did not have: the whole service goes
/// dark until the new ring forms (and again each time the peer's join
/// fails, e.g. over a one-way link). Before this change the fence ran
/// from the ring-down (`ring_down_since`), giving the self fence's grace.
#[test]
fn a_lone_two_node_node_keeps_serving_while_its_peer_rejoins() {
    let settings = Settings {
        two_node: true,
        ..Settings::default()
    };
    let c = config(&[(1, 100), (2, 100)], 4, settings);
    let mut bus = Bus::new(&c);
    bus.form(&[&[1, 2]]);
    // Tokens come in the ring of two.
    let last_token = bus.now;
    bus.node(1).observe_token(Some(last_token));
    bus.advance(1_000, &[]);
    // Node 2 crashes; node 1 forms a ring of one (quorate: two_node) and
    // serves everything, fenced VIPs included, for ten seconds. Its ring
    // node's `last_token_at` stays at the ring of two's last token.
    bus.crash(2, &c);
    bus.advance(30_000, &[1]);
    bus.form(&[&[1]]);
    for _ in 0..100 {
        bus.node(1).observe_token(Some(last_token));
        bus.advance(100_000, &[]);
    }
    assert_eq!(bus.nodes[&1].held().len(), 4, "the lone node serves all");
    // Node 2 restarts and its Join arrives: node 1's ring of one goes down
    // while the ring of two forms.
    bus.node(1).observe_token(Some(last_token));
    bus.advance(1_000, &[1]);
    assert_eq!(
        bus.nodes[&1].held().len(),
        4,
        "the lone node released everything 1 ms after its ring of one went down"
    );
}
