//! Safe delivery for the cluster layer (Totem's SAFE): a message submitted
//! with `submit_safe` is handed over only once every member holds it, so a
//! node never acts on a message another member might lose with a crash;
//! messages after it in the agreed order wait behind it.

use ringgate_ring::node::{Config, Event, Priority};

use crate::net::{carries, Net};

#[test]
fn a_safe_message_is_delivered_only_once_every_member_holds_it() {
    let ids = [1, 2, 3];
    let config = Config {
        token_hold_us: 1_000_000,
        token_loss_us: 2_000_000,
        ..Config::default()
    };
    let mut net = Net::new(&ids, config);
    net.advance_until(1000, |n| n.one_ring(&ids));
    // Node 3 loses the first copy of the safe message, so it takes a
    // retransmission before every member holds it.
    net.drop_rule = Some(Box::new(|to, packet, repeats| {
        to == 3 && carries(packet, b"safe-S") && repeats == 0
    }));
    let now = net.now;
    net.node(1)
        .submit_safe(now, Priority::Control, b"safe-S".to_vec())
        .unwrap();
    net.submit(1, b"agreed-A");
    net.advance_until(1000, |n| {
        (0..3).all(|i| {
            n.events[i]
                .iter()
                .any(|e| matches!(e, Event::Deliver { payload, .. } if payload == b"agreed-A"))
        })
    });
    for (i, events) in net.events.iter().enumerate() {
        let at = events
            .iter()
            .position(|e| matches!(e, Event::Deliver { payload, .. } if payload == b"safe-S"))
            .unwrap_or_else(|| panic!("node {} never delivered S", ids[i]));
        let Event::Deliver { last, .. } = events[at] else {
            unreachable!()
        };
        // Everything delivered before S was stable already, so the notice
        // right after S covers it: S was held by every member when handed
        // over.
        assert!(
            matches!(events.get(at + 1), Some(Event::Safe { seq }) if *seq >= last),
            "node {} delivered S before every member held it: {:?}",
            ids[i],
            &events[at..]
        );
        let after = events
            .iter()
            .position(|e| matches!(e, Event::Deliver { payload, .. } if payload == b"agreed-A"))
            .unwrap();
        assert!(after > at, "A overtook S at node {}", ids[i]);
    }
}
