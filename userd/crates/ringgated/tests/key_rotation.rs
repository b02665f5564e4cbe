//! Real ringgated processes rotate the cluster key through the control
//! socket (what `ringgatectl ring key add|use|retire` sends), one node at a
//! time, without re-forming the ring; afterwards a datagram captured under
//! the old key is refused and changes nothing.
//!
//! ```text
//!   nodes 1, 2 ──> relay 127.0.0.3 (captures, replays) ──> 127.0.0.13 node 3
//! ```

mod support;

use std::time::Duration;

use support::{ask, in_ring, key_file, lines_starting, start, status, wait_for, Relay};

const NEW_KEY: &str = "a1a2a3a4a5a6a7a8a9aaabacadaeafb0a1a2a3a4a5a6a7a8a9aaabacadaeafb0";

#[test]
fn the_cluster_key_rotates_without_a_new_ring_and_the_old_key_is_refused() {
    let dir = support::scratch("key-rotation");
    let port = 20000 + (std::process::id() % 20000) as u16 + 13;
    let all = [1, 2, 3];
    let relay = Relay::start(3, port);
    let daemons: Vec<_> = all
        .iter()
        .map(|id| start(&dir, *id, port, &all, &[3]))
        .collect();
    for d in &daemons {
        wait_for("one ring of all three", || in_ring(d, &all));
    }
    let ring_before = status(&daemons[0])["ring_seq"].clone();
    let old_datagram = relay
        .captured()
        .last()
        .cloned()
        .expect("a datagram to node 3");

    // Bad requests are refused and change nothing.
    let refused = ask(&daemons[0].socket, "key add relative.key").unwrap();
    assert!(
        refused["error"].as_str().unwrap().contains("absolute"),
        "{refused}"
    );
    let refused = ask(&daemons[0].socket, "key retire").unwrap();
    assert!(refused["error"]
        .as_str()
        .unwrap()
        .contains("nothing to retire"));

    let new_key = key_file(&dir, "new.key", NEW_KEY);
    let steps = [
        format!("key add {}", new_key.display()),
        "key use".into(),
        "key retire".into(),
    ];
    for (s, step) in steps.iter().enumerate() {
        for (i, d) in daemons.iter().enumerate() {
            let answer = ask(&d.socket, step).unwrap();
            assert_eq!(answer["ok"], true, "{step} at node {}: {answer}", i + 1);
            // Node 1 sends in the control class, the others in bulk.
            let send = if i == 0 { "send-control" } else { "send" };
            let sent = ask(&d.socket, &format!("{send} step{s}-node{}", i + 1)).unwrap();
            assert_eq!(sent["ok"], true, "{sent}");
        }
    }
    wait_for("9 deliveries everywhere", || {
        daemons
            .iter()
            .all(|d| lines_starting(d, "deliver ").len() == 9)
    });
    for d in &daemons {
        let s = status(d);
        assert_eq!(
            s["ring_seq"], ring_before,
            "the rotation re-formed the ring"
        );
        assert_eq!(s["keys"]["accepted"], 1);
        assert_eq!(s["counters"]["unauthenticated"], 0);
    }

    // A datagram under the retired key: refused before anything reads it.
    let before = status(&daemons[2]);
    relay.replay(&old_datagram);
    wait_for("node 3 to refuse the old key", || {
        status(&daemons[2])["counters"]["unauthenticated"] == 1
    });
    std::thread::sleep(Duration::from_millis(100));
    let after = status(&daemons[2]);
    for counter in [
        "rings_installed",
        "delivered_messages",
        "replayed",
        "malformed",
    ] {
        assert_eq!(
            after["counters"][counter], before["counters"][counter],
            "{counter}"
        );
    }
    assert_eq!(after["ring_seq"], ring_before);
    let _ = std::fs::remove_dir_all(&dir);
}
