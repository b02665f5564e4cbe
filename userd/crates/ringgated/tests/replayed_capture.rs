//! Real ringgated processes: every datagram sent to node 3 while the ring
//! formed and carried messages is captured and put on the wire again, byte
//! for byte; node 3 refuses each as a replay and nothing changes.
//!
//! ```text
//!   nodes 1, 2 ──> relay 127.0.0.3 (captures, replays) ──> 127.0.0.13 node 3
//! ```

mod support;

use std::time::Duration;

use support::{ask, in_ring, lines_starting, start, status, wait_for, Relay};

#[test]
fn a_replayed_capture_changes_nothing() {
    let dir = support::scratch("replay");
    let port = 20000 + (std::process::id() % 20000) as u16 + 7;
    let all = [1, 2, 3];
    let relay = Relay::start(3, port);
    let daemons: Vec<_> = all
        .iter()
        .map(|id| start(&dir, *id, port, &all, &[3]))
        .collect();
    for d in &daemons {
        wait_for("one ring of all three", || in_ring(d, &all));
    }
    for (i, d) in daemons.iter().enumerate() {
        assert_eq!(
            ask(&d.socket, &format!("send before-{i}")).unwrap()["ok"],
            true
        );
    }
    wait_for("3 deliveries at node 3", || {
        lines_starting(&daemons[2], "deliver ").len() == 3
    });
    let captured = relay.captured();
    assert!(
        captured.len() > 10,
        "only {} datagrams captured",
        captured.len()
    );

    let before = status(&daemons[2]);
    let output_before = support::output(&daemons[2]);
    // Paced, so the socket's receive buffer loses none of them.
    for chunk in captured.chunks(20) {
        for datagram in chunk {
            relay.replay(datagram);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let replays = captured.len() as u64;
    // Let node 3 take them all: its count of refused replays settles.
    let refused = |s: &serde_json::Value| s["counters"]["replayed"].as_u64().unwrap_or(0);
    let mut last = refused(&before);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = refused(&status(&daemons[2]));
        if now == last {
            break;
        }
        last = now;
    }
    // A datagram that never reached node 3 the first time (lost while the
    // ring formed) is new to it, not a replay; nearly all others must be
    // refused as replays, and none may change anything.
    let refused_now = last - refused(&before);
    assert!(
        refused_now * 10 >= replays * 9,
        "only {refused_now} of {replays} replays refused as such"
    );
    let after = status(&daemons[2]);
    assert_eq!(after["ring_seq"], before["ring_seq"]);
    assert_eq!(after["members"], before["members"]);
    assert_eq!(after["operational"], true);
    for counter in ["rings_installed", "delivered_messages", "token_losses"] {
        assert_eq!(
            after["counters"][counter], before["counters"][counter],
            "{counter} changed"
        );
    }
    assert_eq!(support::output(&daemons[2]), output_before);
    let _ = std::fs::remove_dir_all(&dir);
}
