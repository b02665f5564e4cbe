//! The incarnation epoch of this process: a counter kept in the state file
//! that grows by one with every start. It names the rings this node forms
//! and heads every datagram it sends, so it must never come back, or the
//! others would take this process's packets for replays of an earlier one
//! and its rings for old rings. The wall clock plays no part once the
//! counter exists: it only seeds a counter that does not exist yet (a new
//! node, or a lost state file), so a lost file most likely restarts above
//! the old counter, which grew by one per restart while the clock grew by
//! a thousand per second. When it does not (the clock was also stepped
//! back), the peers refuse this process as a replay and tell it so; the
//! node then raises its epoch above what they saw, and the daemon stores
//! that with `store` so later starts count on from there.

use std::path::Path;

/// The epoch for a process starting now: one above the one stored at
/// `path`, or `wall_ms` if the file does not exist yet. It is stored,
/// durably, before it is returned.
pub fn next_epoch(path: &Path, wall_ms: u64) -> Result<u64, String> {
    let fail = |e: &dyn std::fmt::Display| format!("state_file {}: {e}", path.display());
    let stored = match std::fs::read_to_string(path) {
        Ok(text) => Some(
            text.trim()
                .parse::<u64>()
                .map_err(|e| fail(&format!("not an epoch ({e})")))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(fail(&e)),
    };
    let epoch = match stored {
        Some(u64::MAX) => return Err(fail(&"the epoch counter is exhausted")),
        Some(stored) => stored + 1,
        None => wall_ms,
    };
    store(path, epoch)?;
    Ok(epoch)
}

/// Stores `epoch` at `path`, durably.
pub fn store(path: &Path, epoch: u64) -> Result<(), String> {
    // A crash leaves the old or the new epoch, never a torn one.
    crate::persister::write_atomically(path, format!("{epoch}\n").as_bytes())
        .map_err(|e| format!("state_file {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_count_restarts_whatever_the_clock_says() {
        let dir = std::env::temp_dir().join(format!("ringgated-epoch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("epoch");
        let _ = std::fs::remove_file(&path);
        // A new counter is seeded from the clock; then it counts.
        assert_eq!(next_epoch(&path, 5000).unwrap(), 5000);
        assert_eq!(next_epoch(&path, 9000).unwrap(), 5001);
        // The clock stepped back by an hour: the counter goes on.
        assert_eq!(next_epoch(&path, 2000).unwrap(), 5002);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "5002\n");
        // A raised epoch, once stored, is where the next start counts from.
        store(&path, 7000).unwrap();
        assert_eq!(next_epoch(&path, 1).unwrap(), 7001);
        std::fs::write(&path, format!("{}", u64::MAX)).unwrap();
        assert!(next_epoch(&path, 1).unwrap_err().contains("exhausted"));
        std::fs::write(&path, "garbage").unwrap();
        assert!(next_epoch(&path, 1).unwrap_err().contains("state_file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
