//! The ring's thread runs at a raised priority; what it starts does not.
//!
//! The token waits whenever the ring's thread waits for a CPU. On a busy
//! host that wait was most of a message's latency at the 99th percentile,
//! and a long one ends in a self fence. corosync runs its whole process at
//! a real-time priority for the same reason; a nice value keeps the thread
//! under the ordinary scheduler, served first but never exclusively, so a
//! bug in it cannot lock a core.
//!
//! A nice value is inherited by the threads and processes a thread starts,
//! so those the ring's thread starts later go back to the process's own
//! priority: health-check workers call `ordinary` first thing, and the HTTP
//! proxy is started through `spawn_ordinary`.

use std::io;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicI32, Ordering};

/// The ring thread's nice value unless the configuration says otherwise
/// (`ring_nice`).
pub const RING_NICE: i32 = -10;

/// The nice value the process had before the ring thread raised its own:
/// what `ordinary` goes back to.
static ORIGINAL: AtomicI32 = AtomicI32::new(0);

/// Raises the calling thread's priority to nice `to`, unless it runs at
/// that priority or a higher one already (an operator's `Nice=-15`). Needs
/// root or CAP_SYS_NICE; without them the thread keeps its priority, and
/// says so.
pub fn raise_ring_thread(to: i32) {
    let Ok(nice) = rustix::process::getpriority_process(None) else {
        return;
    };
    ORIGINAL.store(nice, Ordering::Relaxed);
    if nice <= to {
        return;
    }
    if let Err(e) = rustix::process::setpriority_process(None, to) {
        eprintln!(
            "ringgated: cannot raise the ring thread's priority to nice {to} ({e}); \
             the token may wait for a CPU on a busy host"
        );
    }
}

/// Puts the calling thread back at the process's own priority if it
/// inherited the ring thread's.
pub fn ordinary() {
    let original = ORIGINAL.load(Ordering::Relaxed);
    if rustix::process::getpriority_process(None).is_ok_and(|nice| nice < original) {
        let _ = rustix::process::setpriority_process(None, original);
    }
}

/// Starts `command` at the process's own priority: the calling thread
/// drops to it for the moment of the start, since a child inherits its
/// starter's. (Not from a thread of its own: a child's parent-death signal,
/// which `ringgate-l7d --die-with-parent` sets, fires when the thread that
/// started it ends.)
pub fn spawn_ordinary(command: &mut Command) -> io::Result<Child> {
    let raised = rustix::process::getpriority_process(None).ok();
    ordinary();
    let child = command.spawn();
    if let Some(raised) = raised.filter(|&r| r < ORIGINAL.load(Ordering::Relaxed)) {
        let _ = rustix::process::setpriority_process(None, raised);
    }
    child
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nice() -> i32 {
        rustix::process::getpriority_process(None).unwrap()
    }

    #[test]
    fn what_the_ring_thread_starts_runs_at_the_ordinary_priority() {
        std::thread::spawn(move || {
            raise_ring_thread(RING_NICE);
            if nice() != RING_NICE {
                // Not root: nothing to inherit, nothing to check.
                return;
            }
            let thread = std::thread::spawn(move || {
                let inherited = nice();
                ordinary();
                (inherited, nice())
            });
            assert_eq!(thread.join().unwrap(), (RING_NICE, 0));
            // A program, whatever it is, starts at the ordinary priority.
            let out = spawn_ordinary(Command::new("nice").stdout(std::process::Stdio::piped()))
                .unwrap()
                .wait_with_output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0");
            // And the starter is back at its raised priority.
            assert_eq!(nice(), RING_NICE);
        })
        .join()
        .unwrap();
    }
}
