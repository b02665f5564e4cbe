//! Where `vip`, `service` and `backend` changes go. On a gateway (a
//! ringgated with a `[cluster]` section answers on the control socket) the
//! cluster owns the configuration: a change made to one module alone would
//! differ from every other node and be undone by the next agreed change. So
//! there the change goes to the daemon, which proposes it to the ring, and
//! "ok" means every node applies it. With no daemon, or one that runs the
//! ring only, the change goes straight to this node's module, as before.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use ringgate_netlink::{Scheduler, ServiceKey};

use crate::cli::ModeValue;
use crate::exit::{Failure, Status};
use crate::ring::{ask, request};

/// How long the daemon may take to say whether it runs the cluster (its
/// status is answered by the ring thread, without the ring's agreement).
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// The daemon's wording when its configuration has no `[cluster]` section.
const RING_ONLY: &str = "runs the ring only";
/// The daemon's wording of "not there" (`ringgated::config_edit::NOT_FOUND`).
const NOT_FOUND: &str = "is not in the cluster's configuration";

/// Whether a gateway daemon of this network namespace answers at
/// `socket`. Nothing listening there means no daemon runs; a daemon of
/// another namespace (the socket is a path every namespace sees) drives
/// another module, so this namespace's module is changed directly. Any
/// other failure to ask is an error, so a change is never made to the
/// module alone by mistake (a socket this user may not open, a hung
/// daemon).
pub(crate) fn runs(socket: &Path) -> Result<bool, Failure> {
    let stream = match UnixStream::connect(socket) {
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => {
            return Ok(false)
        }
        Err(e) => {
            return Err(Failure::other(format!(
                "cannot ask ringgated at {} whether it runs the cluster: {e}",
                socket.display()
            )))
        }
        Ok(stream) => stream,
    };
    match ask(stream, "cluster status", STATUS_TIMEOUT) {
        Ok(status) => {
            let own = std::fs::read_link("/proc/self/ns/net")
                .map_err(|e| Failure::other(format!("/proc/self/ns/net: {e}")))?;
            match status["netns"].as_str() {
                Some(theirs) => Ok(theirs == own.display().to_string()),
                // Guessing either way could change one module around the
                // cluster: say so instead.
                None => Err(Failure::other(format!(
                    "ringgated at {} runs the cluster but does not say which network \
                     namespace it serves, so it is unclear where this change belongs; \
                     use `ringgatectl cluster apply` or a daemon of this version",
                    socket.display()
                ))),
            }
        }
        Err(e) if e.contains(RING_ONLY) => Ok(false),
        Err(e) => Err(Failure::other(e)),
    }
}

/// Refuses what only a module alone has: on a gateway the cluster decides.
pub(crate) fn refuse(what: &str, instead: &str) -> Failure {
    Failure::bad_input(format!(
        "{what} is decided by the gateway cluster here (ringgated runs); {instead}"
    ))
}

pub(crate) fn vip(socket: &Path, step: &str, addr: Ipv4Addr) -> Result<(), Failure> {
    edit(socket, &format!("vip {step} {addr}"))
}

pub(crate) fn service(
    socket: &Path,
    step: &str,
    key: ServiceKey,
    scheduler: Option<Scheduler>,
) -> Result<(), Failure> {
    let scheduler = scheduler.map_or(String::new(), |s| format!(" {s}"));
    edit(
        socket,
        &format!("service {step} {}{scheduler}", service_words(key)),
    )
}

pub(crate) fn backend(
    socket: &Path,
    step: &str,
    key: ServiceKey,
    backend: SocketAddrV4,
    weight: Option<u32>,
) -> Result<(), Failure> {
    let weight = weight.map_or(String::new(), |w| format!(" {w}"));
    edit(
        socket,
        &format!("backend {step} {} {backend}{weight}", service_words(key)),
    )
}

/// `service add` on a gateway: the mode travels only when it is http, so
/// a daemon of the previous version still takes a plain add.
pub(crate) fn service_add(
    socket: &Path,
    key: ServiceKey,
    scheduler: Option<Scheduler>,
    mode: ModeValue,
) -> Result<(), Failure> {
    let scheduler = scheduler.map_or(String::new(), |s| format!(" {s}"));
    let mode = match mode {
        ModeValue::Nat => "",
        ModeValue::Http => " mode http",
    };
    edit(
        socket,
        &format!("service add {}{scheduler}{mode}", service_words(key)),
    )
}

fn service_words(key: ServiceKey) -> String {
    format!("{} {} {}", key.vip, key.proto, key.port)
}

/// Sends one edit; the answer comes once the ring agreed on it.
fn edit(socket: &Path, words: &str) -> Result<(), Failure> {
    match request(socket, &format!("cluster edit {words}")) {
        Ok(_) => Ok(()),
        Err(e) => Err(Failure {
            status: if e.contains(NOT_FOUND) {
                Status::NotFound
            } else {
                Status::Failure
            },
            message: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixListener;

    /// A daemon that answers every request with `answer`, on a fresh socket.
    fn fake_daemon(name: &str, answer: &'static str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("rgctl-{name}-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut line = String::new();
                let _ = BufReader::new(&stream).read_line(&mut line);
                let _ = writeln!(stream, "{answer}");
            }
        });
        path
    }

    fn own_netns() -> String {
        std::fs::read_link("/proc/self/ns/net")
            .unwrap()
            .display()
            .to_string()
    }

    #[test]
    fn the_daemon_is_used_only_for_its_own_namespace() {
        let same = format!(r#"{{"node":1,"netns":"{}"}}"#, own_netns());
        let same: &'static str = Box::leak(same.into_boxed_str());
        assert!(runs(&fake_daemon("same", same)).unwrap());
        let other = fake_daemon("other", r#"{"node":1,"netns":"net:[1]"}"#);
        assert!(!runs(&other).unwrap());
        let ring_only = fake_daemon(
            "ring-only",
            r#"{"error":"this daemon runs the ring only (its configuration has no [cluster] section)"}"#,
        );
        assert!(!runs(&ring_only).unwrap());
        assert!(!runs(Path::new("/nonexistent/ringgated.sock")).unwrap());
    }

    #[test]
    fn a_daemon_that_does_not_name_its_namespace_is_not_guessed_about() {
        for answer in [r#"{"node":1,"netns":null}"#, r#"{"node":1}"#] {
            let socket = fake_daemon("unnamed", answer);
            let e = runs(&socket).unwrap_err();
            assert!(
                e.message.contains("does not say which network"),
                "{}",
                e.message
            );
        }
    }
}
