//! Real ringgated processes on loopback addresses 127.0.0.1-4 (all of
//! 127.0.0.0/8 is loopback on Linux; nothing leaves the machine).
//!
//! ```text
//!   127.0.0.1 node 1 ─┐
//!   127.0.0.2 node 2 ─┼─ token ring, key K
//!   127.0.0.3 node 3 ─┤
//!   127.0.0.4 node 4 ─┘  (second test: killed, then restarted)
//!   127.0.0.5 node 5 ── "intruder" of the first test: same peers, wrong key
//! ```

mod support;

use std::time::Instant;

use support::{
    ask, delivered_in_current_ring, in_ring, lines_starting, start, start_with, terminate,
    wait_for, Daemon,
};

const WRONG_KEY: &str = "00000000000000000000000000000000000000000000000000000000000000ff";

/// The messages the daemon delivered, in order.
fn delivered(d: &Daemon) -> Vec<String> {
    lines_starting(d, "deliver ")
}

#[test]
fn three_daemons_deliver_the_same_messages_in_the_same_order_and_refuse_a_wrong_key() {
    let dir = support::scratch("real");
    let port = 30000 + (std::process::id() % 20000) as u16;
    let members = [1, 2, 3];
    let daemons: Vec<Daemon> = members
        .iter()
        .map(|id| start(&dir, *id, port, &members, &[]))
        .collect();
    for d in &daemons {
        wait_for("one ring of all three", || in_ring(d, &members));
    }

    for k in 0..10 {
        for (i, d) in daemons.iter().enumerate() {
            let answer = ask(&d.socket, &format!("send node{}-msg{k}", i + 1)).unwrap();
            assert_eq!(answer["ok"], true, "{answer}");
        }
    }
    wait_for("30 deliveries everywhere", || {
        daemons.iter().all(|d| delivered(d).len() == 30)
    });
    let reference = delivered(&daemons[0]);
    for d in &daemons[1..] {
        assert_eq!(delivered(d), reference, "delivery order differs");
    }
    for k in 0..10 {
        for n in 1..=3 {
            let text = format!("node{n}-msg{k}");
            assert_eq!(
                reference
                    .iter()
                    .filter(|l| l.ends_with(&format!(" {text}")))
                    .count(),
                1,
                "{text}"
            );
        }
    }

    // An intruder with the wrong key, which tries to form a ring with the
    // members and sends them its Joins.
    let intruder = start_with(&dir, 5, port, &[1, 2, 3, 5], &[], WRONG_KEY, None);
    wait_for("node 1 to refuse the intruder", || {
        ask(&daemons[0].socket, "status")
            .is_some_and(|s| s["counters"]["unauthenticated"].as_u64() > Some(0))
    });
    let status = ask(&daemons[0].socket, "status").unwrap();
    assert_eq!(status["members"], serde_json::json!([1, 2, 3]));
    ask(&daemons[1].socket, "send after-intruder").unwrap();
    wait_for("the ring to go on", || {
        daemons.iter().all(|d| delivered(d).len() == 31)
    });
    drop(intruder);

    // SIGTERM stops every daemon cleanly.
    for d in daemons {
        terminate(d);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn killing_a_daemon_forms_a_ring_of_the_rest_and_a_restart_joins_it_back() {
    let dir = support::scratch("rejoin");
    let port = 10000 + (std::process::id() % 20000) as u16;
    let all = [1, 2, 3, 4];
    let mut daemons: Vec<Daemon> = all
        .iter()
        .map(|id| start(&dir, *id, port, &all, &[]))
        .collect();
    for d in &daemons {
        wait_for("one ring of all four", || in_ring(d, &all));
    }
    for (i, d) in daemons.iter().enumerate() {
        assert_eq!(
            ask(&d.socket, &format!("send before-{}", i + 1)).unwrap()["ok"],
            true
        );
    }
    wait_for("4 deliveries everywhere", || {
        daemons.iter().all(|d| delivered(d).len() == 4)
    });

    // Node 4 dies without a word; the others notice the lost token and form
    // a ring of three, which goes on delivering.
    let killed_at = Instant::now();
    drop(daemons.pop());
    let survivors = [1, 2, 3];
    for d in &daemons {
        wait_for("a ring of the three survivors", || in_ring(d, &survivors));
    }
    eprintln!(
        "ring of survivors operational {:?} after the kill",
        killed_at.elapsed()
    );
    for (i, d) in daemons.iter().enumerate() {
        assert_eq!(
            ask(&d.socket, &format!("send without-4-from-{}", i + 1)).unwrap()["ok"],
            true
        );
    }
    wait_for("the survivors to deliver", || {
        daemons
            .iter()
            .all(|d| delivered_in_current_ring(d).len() == 3)
    });
    let reference = delivered_in_current_ring(&daemons[0]);
    for d in &daemons[1..] {
        assert_eq!(
            delivered_in_current_ring(d),
            reference,
            "survivors disagree on order"
        );
    }
    // Everything delivered before the kill is still there, once.
    for d in &daemons {
        let all_delivered = delivered(d);
        for n in 1..=4 {
            let text = format!(" before-{n}");
            assert_eq!(
                all_delivered.iter().filter(|l| l.ends_with(&text)).count(),
                1,
                "{text}"
            );
        }
    }

    // A restarted node 4 joins back without stopping the others.
    daemons.push(start(&dir, 4, port, &all, &[]));
    for d in &daemons {
        wait_for("node 4 back in the ring", || in_ring(d, &all));
    }
    for (i, d) in daemons.iter().enumerate() {
        assert_eq!(
            ask(&d.socket, &format!("send rejoined-{}", i + 1)).unwrap()["ok"],
            true
        );
    }
    wait_for("all four to deliver after the rejoin", || {
        daemons
            .iter()
            .all(|d| delivered_in_current_ring(d).len() == 4)
    });
    let reference = delivered_in_current_ring(&daemons[3]);
    for d in &daemons[..3] {
        assert_eq!(
            delivered_in_current_ring(d),
            reference,
            "order differs after the rejoin"
        );
    }
    for d in daemons {
        terminate(d);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
