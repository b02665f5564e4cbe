//! The ring's thread runs at a raised priority; what it starts does not.
//!
//! The token waits whenever the ring's thread waits for a CPU. On a busy
//! host that wait was most of a message's latency at the 99th percentile,
//! and a long one ends in a self fence. corosync runs its whole process at
//! a real-time priority for the same reason; a nice value keeps the thread
//! under the ordinary scheduler, served first but never exclusively, so a
//! bug in it cannot lock a core.
//!
//! A nice value is inherited by threads and processes a thread starts, so
//! those the ring's thread starts later (health-check workers, the HTTP
//! proxy) go back to the ordinary priority first thing.

/// The ring thread's nice value.
pub const RING_NICE: i32 = -10;

/// Raises the calling thread's priority to `RING_NICE`. Needs root or
/// CAP_SYS_NICE; without them the thread keeps its priority, and says so.
pub fn raise_ring_thread() {
    if let Err(e) = rustix::process::setpriority_process(None, RING_NICE) {
        eprintln!(
            "ringgated: cannot raise the ring thread's priority to nice {RING_NICE} ({e}); \
             the token may wait for a CPU on a busy host"
        );
    }
}

/// Puts the calling thread back at nice 0 if it inherited a raised
/// priority. A lowered one (an operator's `nice`) is left alone.
pub fn ordinary() {
    if rustix::process::getpriority_process(None).is_ok_and(|nice| nice < 0) {
        let _ = rustix::process::setpriority_process(None, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_started_by_the_ring_thread_runs_at_the_ordinary_priority() {
        let nice = || rustix::process::getpriority_process(None).unwrap();
        std::thread::spawn(move || {
            raise_ring_thread();
            if nice() != RING_NICE {
                // Not root: nothing to inherit, nothing to check.
                return;
            }
            let child = std::thread::spawn(move || {
                let inherited = nice();
                ordinary();
                (inherited, nice())
            });
            assert_eq!(child.join().unwrap(), (RING_NICE, 0));
        })
        .join()
        .unwrap();
    }
}
