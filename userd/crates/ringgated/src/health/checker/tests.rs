//! The checker against real sockets on 127.0.0.1 only. Time-dependent
//! assertions poll with a generous deadline, so a slow machine makes them
//! slower, not flaky.

use std::net::{Ipv4Addr, TcpListener};
use std::thread;

use ringgate_cluster::config::CheckKind;

use super::*;

const DEADLINE: Duration = Duration::from_secs(10);

fn check() -> HealthCheck {
    HealthCheck {
        kind: CheckKind::Tcp,
        interval_ms: 100,
        timeout_ms: 50,
        rise: 2,
        fall: 2,
    }
}

fn backend(port: u16) -> BackendId {
    BackendId {
        vip: Ipv4Addr::new(10, 0, 0, 1),
        proto: 6,
        port: 80,
        addr: Ipv4Addr::LOCALHOST,
        backend_port: port,
    }
}

fn listen(port: u16) -> TcpListener {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("bind 127.0.0.1")
}

fn port_of(listener: &TcpListener) -> u16 {
    listener.local_addr().expect("local addr").port()
}

/// Polls `f` until it returns something, or fails the test at the deadline.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(start.elapsed() < DEADLINE, "no {what} within {DEADLINE:?}");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_backend_that_goes_away_goes_down_and_comes_back_up() {
    let listener = listen(0);
    let port = port_of(&listener);
    let id = backend(port);
    let checker = Checker::spawn(vec![(id, check())]);
    assert_eq!(checker.verdicts(), vec![(id, true)]);
    assert_eq!(checker.changes(), vec![]);

    drop(listener);
    let change = eventually("down verdict", || {
        Some(checker.changes()).filter(|c| !c.is_empty())
    });
    assert_eq!(change, vec![(id, false)]);
    assert_eq!(checker.verdicts(), vec![(id, false)]);

    let _listener = listen(port);
    let change = eventually("up verdict", || {
        Some(checker.changes()).filter(|c| !c.is_empty())
    });
    assert_eq!(change, vec![(id, true)]);
    // Reported once: nothing new until the next change.
    assert_eq!(checker.changes(), vec![]);
}

#[test]
fn replace_keeps_the_verdicts_of_backends_that_stay() {
    let closed = backend(port_of(&listen(0)));
    let checker = Checker::spawn(vec![(closed, check())]);
    eventually("down verdict", || {
        Some(()).filter(|()| checker.verdicts() == vec![(closed, false)])
    });
    assert_eq!(checker.changes(), vec![(closed, false)]);

    let listener = listen(0);
    let open = backend(port_of(&listener));
    let slower = HealthCheck {
        interval_ms: 200,
        ..check()
    };
    checker.replace(vec![(open, check()), (closed, slower)]);
    let mut expected = vec![(open, true), (closed, false)];
    expected.sort();
    assert_eq!(checker.verdicts(), expected);
    // A new back-end changes the list, so it is reported.
    assert_eq!(checker.changes(), expected);

    checker.replace(vec![(open, check())]);
    assert_eq!(checker.changes(), vec![(open, true)]);
    checker.replace(vec![]);
    assert_eq!(checker.changes(), vec![]);
    assert_eq!(checker.verdicts(), vec![]);
    assert_eq!(checker.changes(), vec![]);
}

#[test]
fn dropping_the_checker_ends_its_threads() {
    let listener = listen(0);
    let checker = Checker::spawn(vec![(backend(port_of(&listener)), check())]);
    let shared = Arc::clone(&checker.shared);
    // One back-end needs fewer than the smallest pool.
    assert_eq!(Arc::strong_count(&shared), MIN_WORKERS + 2);
    drop(checker);
    eventually("thread exit", || {
        Some(()).filter(|()| Arc::strong_count(&shared) == 1)
    });
}

#[test]
fn the_pool_grows_with_what_the_checks_may_keep_busy() {
    let slow = |interval_ms, timeout_ms| HealthCheck {
        interval_ms,
        timeout_ms,
        ..check()
    };
    let many = |n: u16, c: HealthCheck| -> Vec<(BackendId, HealthCheck)> {
        (0..n).map(|i| (backend(1000 + i), c.clone())).collect()
    };
    // Each back-end may keep a worker busy for timeout/interval of the time.
    assert_eq!(workers_needed(&many(16, slow(200, 150))), 13);
    assert_eq!(workers_needed(&many(4, slow(1000, 100))), 2);
    assert_eq!(workers_needed(&[]), 1);
    let listener = listen(0);
    let checker = Checker::spawn(many(16, slow(200, 150)));
    assert_eq!(Arc::strong_count(&checker.shared), 13 + 1);
    // It never shrinks, and stops at MAX_WORKERS.
    checker.replace(many(200, slow(100, 100)));
    assert_eq!(Arc::strong_count(&checker.shared), MAX_WORKERS + 1);
    drop(listener);
}

fn table_with(id: BackendId, due: Instant) -> Table {
    let mut table = Table::default();
    table.backends.insert(
        id,
        Entry {
            check: check(),
            verdict: Verdict::new(),
            due,
            busy: false,
        },
    );
    table
}

#[test]
fn a_backend_being_probed_is_not_handed_out_twice() {
    let now = Instant::now();
    let mut table = table_with(backend(1), now);
    assert!(matches!(table.next_job(now), Job::Probe(id, _) if id == backend(1)));
    assert!(matches!(table.next_job(now), Job::Idle));
    table.finish(backend(1), &check(), true, now);
    let due = now + Duration::from_millis(100);
    assert!(matches!(table.next_job(now), Job::WaitUntil(t) if t == due));
    table.stop = true;
    assert!(matches!(table.next_job(due), Job::Stop));
}

#[test]
fn a_result_for_a_check_that_changed_meanwhile_is_dropped() {
    let now = Instant::now();
    let mut table = table_with(backend(1), now);
    let other = HealthCheck { fall: 1, ..check() };
    table.finish(backend(1), &other, false, now);
    assert_eq!(table.verdicts(), vec![(backend(1), true)]);
    assert!(!table.changed);
    // With the configured check, fall 2 needs two failures.
    table.finish(backend(1), &check(), false, now);
    table.finish(backend(1), &check(), false, now);
    assert_eq!(table.verdicts(), vec![(backend(1), false)]);
    assert!(table.changed);
    // A back-end removed meanwhile is ignored.
    table.finish(backend(2), &check(), false, now);
    assert_eq!(table.backends.len(), 1);
}
