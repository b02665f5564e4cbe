//! Writes the cluster state file from a thread of its own.
//!
//! A durable write syncs the file and its directory, which can take
//! hundreds of milliseconds on a busy or slow disk; on the ring's thread
//! that would hold the token (the ring breaks after its token-loss time)
//! and delay the ownership lease's renewal (the module would release every
//! VIP). Only the newest state matters, so states queued while a write is
//! under way are skipped for the latest one.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;

pub struct Persister {
    sender: Option<Sender<Vec<u8>>>,
    thread: Option<JoinHandle<()>>,
}

impl Persister {
    pub fn spawn(path: PathBuf) -> Persister {
        let (sender, receiver) = channel::<Vec<u8>>();
        let thread = std::thread::Builder::new()
            .name("ringgated-persist".into())
            .spawn(move || write_latest(&path, &receiver))
            .ok();
        Persister {
            sender: Some(sender),
            thread,
        }
    }

    /// Queues `bytes` to be written; returns at once.
    pub fn save(&self, bytes: Vec<u8>) {
        if let Some(sender) = &self.sender {
            let _ = sender.send(bytes);
        }
    }

    /// Writes whatever is queued and waits for it (on a clean stop).
    pub fn finish(&mut self) {
        self.sender = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Persister {
    fn drop(&mut self) {
        self.finish();
    }
}

fn write_latest(path: &Path, receiver: &Receiver<Vec<u8>>) {
    while let Ok(mut bytes) = receiver.recv() {
        while let Ok(newer) = receiver.try_recv() {
            bytes = newer;
        }
        if let Err(e) = write_atomically(path, &bytes) {
            eprintln!(
                "ringgated: cluster state not saved to {}: {e}",
                path.display()
            );
        }
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or
/// the new one, never a mix: a temporary file beside it, flushed to disk,
/// then renamed over it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_state_is_on_disk_after_finish() {
        let dir = std::env::temp_dir().join(format!("ringgated-persist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state");
        let mut persister = Persister::spawn(path.clone());
        for n in 0..50u8 {
            persister.save(vec![n; 100]);
        }
        persister.finish();
        assert_eq!(std::fs::read(&path).unwrap(), vec![49u8; 100]);
        assert!(!dir.join("state.tmp").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
