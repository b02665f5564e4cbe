//! The representative of an idle ring holds the token for `token_hold_us`
//! so that the ring does not spin. A message submitted at another member
//! used to wait out the hold (1 ms by default, the largest part of a
//! message's latency on a lightly loaded ring); now the member asks the
//! representative for the token (`HoldCancel`).
//!
//! The network here has no delay and time moves only to timers, so a
//! message that goes out before the clock moves did not wait for the hold.

use ringgate_ring::node::Config;

use crate::net::Net;

/// A hold far longer than anything else in the scenario: waiting it out
/// would show as the clock moving.
fn config() -> Config {
    Config {
        token_hold_us: 1_000_000,
        token_loss_us: 2_000_000,
        ..Config::default()
    }
}

fn delivered_everywhere(net: &Net, ids: &[u16], payload: &[u8]) -> bool {
    ids.iter().all(|id| {
        net.delivered_in_current_ring(*id)
            .contains(&payload.to_vec())
    })
}

#[test]
fn a_message_beside_a_held_token_goes_out_without_waiting_for_the_hold() {
    let ids = [1, 2, 3, 4];
    let mut net = Net::new(&ids, config());
    net.advance_until(1000, |n| n.one_ring(&ids));
    net.run_network();
    // Quiet: node 1, the representative, holds the token.

    let before = net.now;
    net.submit(3, b"from-3");
    net.run_network();
    assert!(
        delivered_everywhere(&net, &ids, b"from-3"),
        "a message of node 3 waited for the representative's hold"
    );

    // Node 2 lies between the representative and the last sender: the
    // token it last passed on carried node 3's message, so it has not seen
    // the ring idle yet when the representative's first idle visit comes.
    // The representative holds only at its second, after node 2 saw one.
    net.submit(2, b"from-2");
    net.run_network();
    assert!(
        delivered_everywhere(&net, &ids, b"from-2"),
        "a message of node 2 waited for the representative's hold"
    );
    assert_eq!(net.now, before, "the clock moved: something waited");
    assert_eq!(net.node(2).stats().hold_cancels_sent, 1);
    assert_eq!(net.node(3).stats().hold_cancels_sent, 1);
}

#[test]
fn a_message_at_any_point_of_the_last_rotations_goes_out_without_waiting() {
    // A member that saw the ring idle may ask for the token before the
    // representative holds it (the token is still on its way there). Every
    // point of the rotations that follow a message is tried: the second
    // message, submitted there, must never wait out the hold.
    let ids = [1, 2, 3, 4];
    let mut went_quiet = false;
    for datagrams in 1..200 {
        let mut net = Net::new(&ids, config());
        net.advance_until(1000, |n| n.one_ring(&ids));
        net.run_network();
        let before = net.now;
        net.submit(3, b"first");
        if net.run_network_at_most(datagrams) {
            // Past the point where the ring went quiet again.
            went_quiet = true;
            break;
        }
        net.submit(2, b"second");
        net.run_network();
        assert!(
            delivered_everywhere(&net, &ids, b"second"),
            "a message submitted after {datagrams} datagrams waited for the hold"
        );
        assert_eq!(
            net.now, before,
            "the clock moved after {datagrams} datagrams"
        );
    }
    assert!(
        went_quiet,
        "the ring never went quiet: not every point was tried"
    );
}

#[test]
fn a_busy_ring_sends_no_hold_cancels() {
    // A cancel costs a datagram. While messages keep coming, every member
    // finds messages on the token at each visit, so none asks for it: only
    // the messages that woke the idle ring did.
    let ids = [1, 2, 3];
    let mut net = Net::new(&ids, config());
    net.advance_until(1000, |n| n.one_ring(&ids));
    net.run_network();
    let cancels = |net: &mut Net| -> u64 {
        ids.iter()
            .map(|id| net.node(*id).stats().hold_cancels_sent)
            .sum()
    };
    for id in ids {
        net.submit(id, &[0, id as u8]);
    }
    net.run_network_at_most(4);
    let woke = cancels(&mut net);
    assert!(woke >= 1, "the idle ring was woken without a cancel");
    for round in 1..=50u8 {
        for id in ids {
            net.submit(id, &[round, id as u8]);
        }
        // A few datagrams: the token moves on, and new messages come
        // before it has gone round.
        net.run_network_at_most(4);
    }
    net.run_network();
    assert_eq!(cancels(&mut net), woke, "a busy ring sent hold cancels");
    for id in ids {
        assert_eq!(net.delivered_in_current_ring(id).len(), 153);
    }
}
