//! Real ringgated processes: node 3 restarts with a state file that holds
//! an epoch far below the one its peers took from it (what a restored old
//! backup, or a lost file and a clock stepped back, gives). The peers refuse
//! its datagrams as replays of its earlier process, tell it so, and it
//! moves above that epoch, rejoins, and stores the raised epoch.

mod support;

use support::{counter, in_ring, start, wait_for};

#[test]
fn a_daemon_restarted_below_its_old_epoch_rejoins_and_stores_the_raised_epoch() {
    let dir = support::scratch("stale-epoch");
    let port = 20000 + (std::process::id() % 20000) as u16 + 17;
    let all = [1, 2, 3];
    let mut daemons: Vec<_> = all
        .iter()
        .map(|id| start(&dir, *id, port, &all, &[]))
        .collect();
    for d in &daemons {
        wait_for("one ring of all three", || in_ring(d, &all));
    }
    let state_file = dir.join("epoch-3");
    let seen: u64 = std::fs::read_to_string(&state_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    drop(daemons.pop());
    for d in &daemons {
        wait_for("a ring of the survivors", || in_ring(d, &[1, 2]));
    }
    // The next start takes 6, far below the wall-clock epoch the peers saw.
    std::fs::write(&state_file, "5\n").unwrap();
    daemons.push(start(&dir, 3, port, &all, &[]));
    for d in &daemons {
        wait_for("node 3 back in the ring", || in_ring(d, &all));
    }
    assert!(counter(&daemons[0].socket, "stale_epochs").unwrap() > 0);
    assert_eq!(counter(&daemons[2].socket, "epoch_raises"), Some(1));
    let stored: u64 = std::fs::read_to_string(&state_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(stored, seen + 1, "the raised epoch is stored");
    let log = std::fs::read_to_string(dir.join("log-3")).unwrap();
    assert!(
        log.contains(&format!("now running as epoch {stored}")),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
