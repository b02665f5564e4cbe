//! The status socket: every connection gets one JSON document with each
//! service's back-ends and counters, then the socket closes. Mode 0600, as
//! `ringgated`'s control socket: it names the back-ends and their health,
//! which only the node's administrator needs.

use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::AsyncWriteExt;
use tokio::net::UnixListener;

use crate::proxy::Service;

pub fn document(services: &[Arc<Service>]) -> serde_json::Value {
    let services: Vec<_> = services
        .iter()
        .map(|service| {
            serde_json::json!({
                "listen": service.listen.to_string(),
                "backends": service.backends(),
                "resting_connections": service.resting_connections(),
                "counters": service.metrics.to_json(),
            })
        })
        .collect();
    serde_json::json!({ "services": services })
}

/// Binds the socket, removing only a stale socket left at its path.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "something other than a socket is at this path",
            ))
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// The services being served; a reload replaces the list.
pub type Served = Arc<Mutex<Vec<Arc<Service>>>>;

pub async fn serve(listener: UnixListener, services: Served) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        };
        // A copy of the list: the lock is not held while the document is made.
        let now: Vec<Arc<Service>> = services
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut text = document(&now).to_string();
        text.push('\n');
        tokio::spawn(async move {
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                stream.write_all(text.as_bytes()),
            )
            .await;
        });
    }
}
