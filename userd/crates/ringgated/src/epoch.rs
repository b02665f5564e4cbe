//! The incarnation epoch of this process: it numbers the rings this node
//! forms and heads every datagram it sends, and must grow with every
//! restart, or the others would take this process's packets for replays of
//! an earlier one (and its rings for old rings). The wall clock alone can be
//! stepped backward, so the last epoch is kept in a state file and the next
//! one is above both.

use std::io::Write;
use std::path::Path;

/// The epoch for a process starting now: above the one stored at `path`
/// (none if the file does not exist yet) and at least `wall_ms`. It is
/// stored, durably, before it is returned.
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
    let epoch = stored.map_or(wall_ms, |s| s.saturating_add(1).max(wall_ms));
    // Written aside and renamed, so a crash leaves the old or the new
    // epoch, never a torn one.
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temporary).map_err(|e| fail(&e))?;
    writeln!(file, "{epoch}").map_err(|e| fail(&e))?;
    file.sync_all().map_err(|e| fail(&e))?;
    std::fs::rename(&temporary, path).map_err(|e| fail(&e))?;
    Ok(epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_grow_even_when_the_clock_steps_back() {
        let dir = std::env::temp_dir().join(format!("ringgated-epoch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("epoch");
        let _ = std::fs::remove_file(&path);
        assert_eq!(next_epoch(&path, 1000).unwrap(), 1000);
        assert_eq!(next_epoch(&path, 5000).unwrap(), 5000);
        // The clock stepped back by an hour: the epoch still grows.
        assert_eq!(next_epoch(&path, 2000).unwrap(), 5001);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "5001\n");
        std::fs::write(&path, "garbage").unwrap();
        assert!(next_epoch(&path, 1).unwrap_err().contains("state_file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
