//! Runs the probes: a pool of threads shares one table of back-ends, and
//! each worker takes the back-end that is due soonest and not already
//! being probed. A pool rather than one thread keeps back-ends that time
//! out from delaying the checks of the others. The pool is as large as the
//! configuration needs (each back-end keeps a worker busy for at most
//! timeout/interval of the time, so their sum, rounded up, plus one, lets
//! every probe start on time even if every back-end hangs), between
//! `MIN_WORKERS` and `MAX_WORKERS`: beyond that, checks run late, and the
//! log says so.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use ringgate_cluster::config::HealthCheck;
use ringgate_cluster::model::BackendId;

use super::{probe, Verdict};

/// The fewest and the most probes that may run at once (and threads the
/// checker owns).
const MIN_WORKERS: usize = 4;
const MAX_WORKERS: usize = 64;

/// Workers that let every probe start on time even if every back-end hangs
/// until its timeout.
pub fn workers_needed(targets: &[(BackendId, HealthCheck)]) -> usize {
    let busy: f64 = targets
        .iter()
        .map(|(_, c)| f64::from(c.timeout_ms) / f64::from(c.interval_ms.max(1)))
        .sum();
    busy.ceil() as usize + 1
}

/// Checks back-ends in the background; dropping it stops the checks.
pub struct Checker {
    shared: Arc<Shared>,
    /// Workers started so far (the pool only grows).
    workers: Mutex<usize>,
}

struct Shared {
    table: Mutex<Table>,
    /// Signalled when the table changes in a way that can make a waiting
    /// worker's next job earlier: a new configuration, a finished probe, or
    /// the stop.
    wake: Condvar,
}

#[derive(Default)]
struct Table {
    backends: BTreeMap<BackendId, Entry>,
    /// Whether any verdict (or the set of back-ends) changed since the
    /// last `changes()`.
    changed: bool,
    stop: bool,
}

struct Entry {
    check: HealthCheck,
    verdict: Verdict,
    due: Instant,
    /// A worker is probing it now; no other worker takes it meanwhile.
    busy: bool,
}

/// What a worker does next.
enum Job {
    Probe(BackendId, HealthCheck),
    WaitUntil(Instant),
    Idle,
    Stop,
}

impl Checker {
    /// Starts checking `targets`, every back-end first right away. A thread
    /// that cannot be started leaves fewer workers; with none, verdicts
    /// stay up, which cannot vote a back-end down.
    pub fn spawn(targets: Vec<(BackendId, HealthCheck)>) -> Checker {
        let shared = Arc::new(Shared {
            table: Mutex::new(Table::default()),
            wake: Condvar::new(),
        });
        let checker = Checker {
            shared,
            workers: Mutex::new(0),
        };
        checker.replace(targets);
        checker.changes();
        checker
    }

    /// Starts workers up to what `targets` need.
    fn grow(&self, targets: &[(BackendId, HealthCheck)]) {
        let needed = workers_needed(targets);
        if needed > MAX_WORKERS {
            eprintln!(
                "ringgated: the health checks need {needed} probes at once when back-ends hang; \
                 at most {MAX_WORKERS} run, so some checks may run late"
            );
        }
        let wanted = needed.clamp(MIN_WORKERS, MAX_WORKERS);
        let mut workers = self.workers.lock().unwrap_or_else(PoisonError::into_inner);
        while *workers < wanted {
            let n = *workers;
            let shared = Arc::clone(&self.shared);
            let started = thread::Builder::new()
                .name(format!("health-{n}"))
                .spawn(move || work(&shared));
            if let Err(e) = started {
                eprintln!("ringgated: health check thread {n} not started: {e}");
                return;
            }
            *workers += 1;
        }
    }

    /// Switches to a new configuration. A back-end that stays keeps its
    /// verdict and schedule (a changed check applies from its next probe);
    /// a new one starts up and is checked right away.
    pub fn replace(&self, targets: Vec<(BackendId, HealthCheck)>) {
        self.grow(&targets);
        let mut table = lock(&self.shared);
        let mut old = std::mem::take(&mut table.backends);
        let now = Instant::now();
        for (id, check) in targets {
            let entry = match old.remove(&id) {
                Some(entry) => Entry { check, ..entry },
                None => {
                    table.changed = true;
                    Entry {
                        check,
                        verdict: Verdict::new(),
                        due: now,
                        busy: false,
                    }
                }
            };
            table.backends.insert(id, entry);
        }
        table.changed |= !old.is_empty();
        drop(table);
        self.shared.wake.notify_all();
    }

    /// Every verdict if any changed since the last call, else nothing.
    /// Never blocks on a probe.
    pub fn changes(&self) -> Vec<(BackendId, bool)> {
        let mut table = lock(&self.shared);
        if !std::mem::take(&mut table.changed) {
            return Vec::new();
        }
        table.verdicts()
    }

    /// Every back-end's current verdict (true: up).
    pub fn verdicts(&self) -> Vec<(BackendId, bool)> {
        lock(&self.shared).verdicts()
    }
}

/// The workers end after the probe they are running, whose result is
/// dropped. They are not waited for: a probe can take up to its timeout,
/// and shutting down should not wait on a slow back-end.
impl Drop for Checker {
    fn drop(&mut self) {
        lock(&self.shared).stop = true;
        self.shared.wake.notify_all();
    }
}

impl Table {
    fn verdicts(&self) -> Vec<(BackendId, bool)> {
        self.backends
            .iter()
            .map(|(id, e)| (*id, e.verdict.is_up()))
            .collect()
    }

    fn next_job(&mut self, now: Instant) -> Job {
        if self.stop {
            return Job::Stop;
        }
        let next = self
            .backends
            .iter_mut()
            .filter(|(_, e)| !e.busy)
            .min_by_key(|(_, e)| e.due);
        match next {
            None => Job::Idle,
            Some((_, e)) if e.due > now => Job::WaitUntil(e.due),
            Some((id, e)) => {
                e.busy = true;
                Job::Probe(*id, e.check.clone())
            }
        }
    }

    /// Records a result, unless the back-end was removed or its check
    /// changed while the probe ran (the result then says nothing about the
    /// check now configured).
    fn finish(&mut self, id: BackendId, check: &HealthCheck, passed: bool, started: Instant) {
        let Some(e) = self.backends.get_mut(&id) else {
            return;
        };
        e.busy = false;
        e.due = started + Duration::from_millis(u64::from(e.check.interval_ms));
        if e.check != *check {
            return;
        }
        if e.verdict.record(passed, check.rise, check.fall).is_some() {
            self.changed = true;
        }
    }
}

fn work(shared: &Shared) {
    crate::priority::ordinary();
    let mut table = lock(shared);
    loop {
        let now = Instant::now();
        table = match table.next_job(now) {
            Job::Stop => return,
            Job::Idle => wait(shared, table, None),
            Job::WaitUntil(due) => wait(shared, table, Some(due - now)),
            Job::Probe(id, check) => {
                drop(table);
                let target = SocketAddrV4::new(id.addr, id.backend_port);
                let timeout = Duration::from_millis(u64::from(check.timeout_ms));
                let passed = probe(target, &check.kind, timeout).is_ok();
                let mut table = lock(shared);
                table.finish(id, &check, passed, now);
                // Another worker may be idle only because this back-end
                // was busy.
                shared.wake.notify_all();
                table
            }
        };
    }
}

/// The table stays consistent even if a thread panicked while holding the
/// lock (no update leaves it half done), so a poisoned lock is used as is.
fn lock(shared: &Shared) -> MutexGuard<'_, Table> {
    shared.table.lock().unwrap_or_else(PoisonError::into_inner)
}

fn wait<'a>(
    shared: &Shared,
    table: MutexGuard<'a, Table>,
    limit: Option<Duration>,
) -> MutexGuard<'a, Table> {
    match limit {
        Some(limit) => {
            shared
                .wake
                .wait_timeout(table, limit)
                .unwrap_or_else(PoisonError::into_inner)
                .0
        }
        None => shared
            .wake
            .wait(table)
            .unwrap_or_else(PoisonError::into_inner),
    }
}

#[cfg(test)]
mod tests;
