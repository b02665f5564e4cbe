//! The local control socket `ringgatectl` talks to: a Unix stream socket
//! where a client sends request lines and reads one JSON line for each, in
//! order. `ringgatectl` sends one and hangs up; an application that submits
//! many messages keeps its connection, so a message costs a line, not a
//! connection and a thread. Lines that arrive together are handed to the
//! ring together and answered together, so a client that writes ahead of
//! the answers is not held to one message per turn of the ring thread.
//!
//! Requests: `status`; `send <text>` and `send-control <text>` (broadcast a
//! message on the ring, of the bulk or the control class; answered once the
//! message is in the ring's queue, so a client that outruns the ring waits
//! for room rather than being refused, see `submissions`);
//! `key add <absolute path>`, `key use`, `key retire` (the steps of a
//! cluster key rollover: accept a new key too, send with it, accept only
//! it). A key file is read and checked here, as the config's is (mode 0600,
//! hex); a bad one is refused before the ring sees anything.
//!
//! A gateway (a daemon with a `[cluster]` section) also serves
//! `cluster status`, `cluster config`, `cluster move VIP NODE`,
//! `cluster drain NODE`, `cluster undrain NODE` and
//! `cluster apply BASE PATH` (replace the configuration with the `[cluster]`
//! section shape of the TOML file at the absolute PATH, made against version
//! BASE or `current`) and `cluster edit ...` (one change to the VIPs,
//! services or back-ends, see `config_edit`). Commands are answered once the
//! ring agreed on their outcome, the same on every node.
//!
//! Anyone who may send here speaks for the whole cluster, so the socket is
//! created with mode 0600 and every connection's peer credentials are
//! checked: only root and the daemon's own user are served. Each client is
//! served on a thread of its own with timeouts, so an idle or slow client
//! holds nobody else up.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use ringgate_ring::auth::ClusterKey;
use ringgate_ring::node::Priority;

use crate::cluster_file::ClusterFile;
use crate::config::read_private_key;
use crate::ring_handle::RingHandle;
use crate::runtime::{ClusterRequest, Control, KeyChange, RingStatus};
use crate::submissions::Answers;
use ringgate_cluster::Command;

/// Longest request line accepted; a longer one ends the connection.
const MAX_REQUEST: u64 = 64 * 1024;
/// How long a client may take to send its next request or read an answer
/// (an idle connection is closed after it), and how long it waits for the
/// ring to answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// Clients served at once; more are turned away, so a flood of idle
/// connections cannot exhaust threads.
const MAX_CLIENTS: usize = 32;

/// Binds the socket and serves it on a thread. Whatever is at `path` is
/// removed only if it is a stale socket (nothing listens on it any more).
pub fn serve(path: &Path, to_ring: RingHandle) -> Result<(), String> {
    let fail = |e: &dyn std::fmt::Display| format!("control_socket {}: {e}", path.display());
    remove_stale(path).map_err(|e| fail(&e))?;
    let listener = UnixListener::bind(path).map_err(|e| fail(&e))?;
    // Peer credentials are checked too; the mode keeps other users from
    // even connecting.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| fail(&e))?;
    let me = rustix::process::getuid();
    let clients = Arc::new(AtomicUsize::new(0));
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if clients.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS {
                clients.fetch_sub(1, Ordering::AcqRel);
                let _ = refuse(stream, "too many control clients; try again");
                continue;
            }
            let (to_ring, clients) = (to_ring.clone(), Arc::clone(&clients));
            thread::spawn(move || {
                let _ = serve_client(stream, me, &to_ring);
                clients.fetch_sub(1, Ordering::AcqRel);
            });
        }
    });
    Ok(())
}

/// Removes a socket nobody listens on; refuses to touch anything else.
fn remove_stale(path: &Path) -> Result<(), String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    if !meta.file_type().is_socket() {
        return Err("exists and is not a socket; not removing it".into());
    }
    match UnixStream::connect(path) {
        Ok(_) => Err("another process is listening on it".into()),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => {
            std::fs::remove_file(path).map_err(|e| e.to_string())
        }
        Err(e) => Err(format!("cannot tell whether it is stale: {e}")),
    }
}

fn refuse(mut stream: UnixStream, why: &str) -> std::io::Result<()> {
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    writeln!(stream, "{}", serde_json::json!({ "error": why }))
}

/// Serves one client, if it runs as root or as the daemon's user.
fn serve_client(
    stream: UnixStream,
    me: rustix::process::Uid,
    to_ring: &RingHandle,
) -> std::io::Result<()> {
    let peer = rustix::net::sockopt::get_socket_peercred(&stream)?;
    if !(peer.uid.is_root() || peer.uid == me) {
        return refuse(stream, "permission denied");
    }
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let mut reader = BufReader::new(&stream);
    let mut writer = std::io::BufWriter::new(&stream);
    loop {
        // Every line already here goes to the ring before any answer is
        // awaited; the answers then go back in order.
        let mut batch = Batch::default();
        loop {
            let mut line = String::new();
            let read = std::io::Read::take(&mut reader, MAX_REQUEST).read_line(&mut line)?;
            if read == 0 {
                // The client hung up; what it sent still gets done.
                for pending in batch.close(to_ring) {
                    let _ = answer(pending, &mut writer);
                }
                return writer.flush();
            }
            if !line.ends_with('\n') && read as u64 == MAX_REQUEST {
                return refuse(stream.try_clone()?, "request line too long");
            }
            batch.add(line.trim_end_matches('\n'), to_ring);
            if reader.buffer().is_empty() || batch.lines >= MAX_BATCH {
                break;
            }
        }
        for pending in batch.close(to_ring) {
            answer(pending, &mut writer)?;
        }
        writer.flush()?;
    }
}

/// The requests of one read, on their way to the ring. Consecutive `send`
/// lines of one class travel as one request (one hand-over, one answer
/// channel), since at full load a channel per message was most of what the
/// control thread did.
#[derive(Default)]
struct Batch {
    pending: Vec<Pending>,
    /// Messages gathered and not yet handed over, and their class.
    sends: Option<(Priority, Vec<Vec<u8>>)>,
    lines: usize,
}

impl Batch {
    fn add(&mut self, line: &str, to_ring: &RingHandle) {
        self.lines += 1;
        let (word, text) = line.split_once(' ').unwrap_or((line, ""));
        let priority = match word {
            "send" => Priority::Bulk,
            "send-control" => Priority::Control,
            _ => {
                self.hand_over(to_ring);
                self.pending.push(Pending::One(request(line, to_ring)));
                return;
            }
        };
        match &mut self.sends {
            Some((p, messages)) if *p == priority => messages.push(text.as_bytes().to_vec()),
            _ => {
                self.hand_over(to_ring);
                self.sends = Some((priority, vec![text.as_bytes().to_vec()]));
            }
        }
    }

    /// Hands the gathered messages to the ring.
    fn hand_over(&mut self, to_ring: &RingHandle) {
        if let Some((priority, messages)) = self.sends.take() {
            let (tx, rx) = channel();
            let count = messages.len();
            to_ring.send(Control::Send(priority, messages, tx));
            self.pending.push(Pending::Sent(rx, count));
        }
    }

    fn close(mut self, to_ring: &RingHandle) -> Vec<Pending> {
        self.hand_over(to_ring);
        self.pending
    }
}

/// Writes the answer lines of one request: one per line it came from.
fn answer(pending: Pending, writer: &mut impl Write) -> std::io::Result<()> {
    let (rx, count) = match pending {
        Pending::One(one) => return writeln!(writer, "{}", finish(one)),
        Pending::Sent(rx, count) => (rx, count),
    };
    // `submissions::PATIENCE` keeps the ring's answer well inside this.
    match rx.recv_timeout(CLIENT_TIMEOUT) {
        Ok(answers) => {
            for result in answers {
                match result {
                    Ok(()) => writer.write_all(b"{\"ok\":true}\n")?,
                    Err(e) => writeln!(writer, "{}", serde_json::json!({ "error": e }))?,
                }
            }
        }
        Err(_) => {
            for _ in 0..count {
                writeln!(
                    writer,
                    "{}",
                    serde_json::json!({ "error": "the ring is stopping" })
                )?;
            }
        }
    }
    Ok(())
}

/// The largest configuration file `cluster apply` reads.
const MAX_APPLY_FILE: u64 = 1 << 20;

/// Lines of one client handed to the ring before their answers are awaited.
const MAX_BATCH: usize = 256;

/// The requests of a batch on their way.
enum Pending {
    One(Single),
    /// `send` lines handed over together, and how many.
    Sent(Receiver<Answers>, usize),
}

/// A request with one answer: given already, or waiting for the ring.
enum Single {
    Ready(serde_json::Value),
    Status(Receiver<RingStatus>),
    Done(Receiver<Result<(), String>>),
    Cluster(Receiver<Result<serde_json::Value, String>>),
}

/// How long a cluster command may wait for the ring's agreement: a ring
/// that is forming, or has no quorum, answers late or never.
const AGREEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The answer to a request, once the ring gave it.
fn finish(pending: Single) -> serde_json::Value {
    let stopping = || serde_json::json!({ "error": "the ring is stopping" });
    match pending {
        Single::Ready(value) => value,
        Single::Status(rx) => match rx.recv_timeout(CLIENT_TIMEOUT) {
            Ok(status) => serde_json::to_value(status).unwrap_or_default(),
            Err(_) => stopping(),
        },
        Single::Done(rx) => match rx.recv_timeout(CLIENT_TIMEOUT) {
            Ok(Ok(())) => serde_json::json!({ "ok": true }),
            Ok(Err(e)) => serde_json::json!({ "error": e }),
            Err(_) => stopping(),
        },
        Single::Cluster(rx) => match rx.recv_timeout(AGREEMENT_TIMEOUT) {
            Ok(Ok(value)) => value,
            Ok(Err(e)) => serde_json::json!({ "error": e }),
            Err(_) => serde_json::json!({
                "error": "no agreement within 10 s, so the outcome is unknown: a change may still be \
                          applied when the ring delivers it; check `ringgatectl cluster status` \
                          (is the ring formed and quorate? `ringgatectl ring`)"
            }),
        },
    }
}

/// Hands one request line to the ring (or answers it at once if it is bad).
fn request(line: &str, to_ring: &RingHandle) -> Single {
    match line.split_once(' ').unwrap_or((line, "")) {
        ("status", _) => {
            let (tx, rx) = channel();
            to_ring.send(Control::Status(tx));
            Single::Status(rx)
        }
        ("key", step) => match key_change(step) {
            Ok(change) => {
                let (tx, rx) = channel();
                to_ring.send(Control::Key(change, tx));
                Single::Done(rx)
            }
            Err(e) => Single::Ready(serde_json::json!({ "error": e })),
        },
        ("cluster", rest) => match cluster_request(rest) {
            Ok(request) => {
                let (tx, rx) = channel();
                to_ring.send(Control::Cluster(request, tx));
                Single::Cluster(rx)
            }
            Err(e) => Single::Ready(serde_json::json!({ "error": e })),
        },
        (other, _) => Single::Ready(serde_json::json!({
            "error": format!("unknown request {other:?}; expected status, send, send-control, key or cluster")
        })),
    }
}

/// Parses a `cluster ...` request; the configuration file of `apply` is
/// read and checked here, so a bad one never reaches the ring.
fn cluster_request(rest: &str) -> Result<ClusterRequest, String> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    let node = |s: &str| {
        s.parse::<u16>()
            .ok()
            .filter(|n| !ringgate_ring::wire::RESERVED_NODE_IDS.contains(n))
            .ok_or_else(|| format!("{s:?} is not a node id (1 to 65534)"))
    };
    let vip = |s: &str| -> Result<std::net::Ipv4Addr, String> {
        let addr = s
            .parse()
            .map_err(|_| format!("{s:?} is not an IPv4 address"))?;
        ringgate_netlink::check_vip_addr(addr).map_err(|e| e.to_string())?;
        Ok(addr)
    };
    Ok(match words.as_slice() {
        ["status"] => ClusterRequest::Status,
        ["config"] => ClusterRequest::Config,
        ["move", v, n] => ClusterRequest::Command(Command::MoveVip {
            vip: vip(v)?,
            to: node(n)?,
        }),
        [step @ ("drain" | "undrain"), n] => ClusterRequest::Command(Command::Drain {
            node: node(n)?,
            drained: *step == "drain",
        }),
        ["edit", edit @ ..] => ClusterRequest::Edit(crate::config_edit::parse(edit)?),
        ["apply", base, path] => {
            let base_version = match *base {
                "current" => None,
                n => Some(
                    n.parse::<u64>()
                        .map_err(|_| format!("{n:?} is not a configuration version"))?,
                ),
            };
            let path = Path::new(path);
            if !path.is_absolute() {
                return Err(format!("cluster apply: {path:?} is not an absolute path"));
            }
            // A regular file of bounded size: a configuration encodes to at
            // most 32 KiB, and its TOML is a few times that at most.
            let meta = std::fs::metadata(path)
                .map_err(|e| format!("cluster apply: {}: {e}", path.display()))?;
            if !meta.is_file() || meta.len() > MAX_APPLY_FILE {
                return Err(format!(
                    "cluster apply: {}: not a regular file of at most {MAX_APPLY_FILE} bytes",
                    path.display()
                ));
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cluster apply: {}: {e}", path.display()))?;
            let file: ClusterFile = toml::from_str(&text).map_err(|e| {
                format!(
                    "cluster apply: {}: {}",
                    path.display(),
                    e.to_string().trim_end()
                )
            })?;
            let dir = path.parent().unwrap_or(Path::new("/"));
            let options = file
                .into_options(dir, path.to_path_buf())
                .map_err(|e| format!("cluster apply: {}: {e}", path.display()))?;
            ClusterRequest::Apply {
                base_version,
                config: options.config,
            }
        }
        _ => {
            return Err(format!(
                "unknown cluster request {rest:?}; expected status, config, move VIP NODE, \
                 drain NODE, undrain NODE, apply BASE PATH or edit ..."
            ))
        }
    })
}

fn key_change(step: &str) -> Result<KeyChange, String> {
    match step.split_once(' ').unwrap_or((step, "")) {
        ("add", path) => {
            let path = Path::new(path);
            if !path.is_absolute() {
                return Err(format!("key add: {path:?} is not an absolute path"));
            }
            let text =
                read_private_key(path).map_err(|e| format!("key add: {}: {e}", path.display()))?;
            let key = ClusterKey::from_key_file(&text)
                .map_err(|e| format!("key add: {}: {e}", path.display()))?;
            Ok(KeyChange::Add(key))
        }
        ("use", "") => Ok(KeyChange::Use),
        ("retire", "") => Ok(KeyChange::Retire),
        _ => Err(format!(
            "unknown key request {step:?}; expected add PATH, use or retire"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_key_requests_are_refused_with_a_reason() {
        let err = |step: &str| match key_change(step) {
            Err(e) => e,
            Ok(_) => panic!("{step:?} accepted"),
        };
        assert!(err("add relative.key").contains("absolute"));
        assert!(err("add /nonexistent/ringgate.key").contains("/nonexistent/ringgate.key"));
        assert!(err("rotate").contains("unknown key request"));
        assert!(err("use now").contains("unknown key request"));
        // A directory of its own: config's tests run alongside and remove theirs.
        let dir =
            std::env::temp_dir().join(format!("ringgated-control-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("new.key");
        std::fs::write(&file, "zz").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(err(&format!("add {}", file.display())).contains("0644"));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(err(&format!("add {}", file.display())).contains("hex"));
        std::fs::write(&file, "ab".repeat(32)).unwrap();
        assert!(matches!(
            key_change(&format!("add {}", file.display())),
            Ok(KeyChange::Add(_))
        ));
        assert!(matches!(key_change("retire"), Ok(KeyChange::Retire)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
