//! What the real-process tests share: daemons on 127.0.0.x addresses (all
//! of 127.0.0.0/8 is loopback on Linux; nothing leaves the machine), their
//! control sockets, and a relay that stands in for the network in front of
//! one node.
//!
//! The relay listens where the other nodes believe that node is
//! (127.0.0.<id>) and forwards to where it really listens (127.0.0.<id+10>).
//! It keeps a copy of every datagram it forwards, can drop those of a given
//! sender (a one-way link: nftables would need root and network
//! namespaces, which these tests do without), and can put captured
//! datagrams on the wire again, byte for byte (a replay).

#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::UdpSocket;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const KEY: &str = "5eb63bbbe01eeed093cb22bb8f5acdc35eb63bbbe01eeed093cb22bb8f5acdc3";

pub struct Daemon {
    pub child: Child,
    pub socket: PathBuf,
    /// Where stdout goes, unless the test gave the daemon a stdout of its
    /// own (`start_with`).
    pub output: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A scratch directory of its own for a test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringgate-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes a private key file.
pub fn key_file(dir: &Path, name: &str, hex: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, hex).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// Where node `id` listens, and where the others send to it: the same,
/// unless a relay stands in front of it.
fn listen_address(id: u16, port: u16, relayed: &[u16]) -> String {
    let host = if relayed.contains(&id) { id + 10 } else { id };
    format!("127.0.0.{host}:{port}")
}

/// Starts node `id` of a ring of `members` under the test key; nodes in
/// `relayed` listen behind a relay. Its stdout goes to a file (`output`).
pub fn start(dir: &Path, id: u16, port: u16, members: &[u16], relayed: &[u16]) -> Daemon {
    start_with(dir, id, port, members, relayed, KEY, None)
}

/// Like `start`, with the key given in hex and, if given, the stdout the
/// daemon writes to instead of the output file.
pub fn start_with(
    dir: &Path,
    id: u16,
    port: u16,
    members: &[u16],
    relayed: &[u16],
    key_hex: &str,
    stdout: Option<Stdio>,
) -> Daemon {
    start_configured(dir, id, port, members, relayed, key_hex, stdout, "")
}

/// Like `start_with`, with `extra` appended to the configuration file (a
/// `[cluster]` section makes the daemon a gateway).
#[allow(clippy::too_many_arguments)]
pub fn start_configured(
    dir: &Path,
    id: u16,
    port: u16,
    members: &[u16],
    relayed: &[u16],
    key_hex: &str,
    stdout: Option<Stdio>,
    extra: &str,
) -> Daemon {
    // The daemon refuses a key file anyone else may read.
    let key = key_file(dir, &format!("key-{id}"), key_hex);
    let socket = dir.join(format!("ctl-{id}"));
    let mut config = format!(
        "node_id = {id}\nlisten = \"{}\"\nkey_file = \"{}\"\ncontrol_socket = \"{}\"\nkernel_module = \"optional\"\nstate_file = \"epoch-{id}\"\n",
        listen_address(id, port, relayed),
        key.display(),
        socket.display()
    );
    for peer in members.iter().filter(|p| **p != id) {
        config.push_str(&format!(
            "[[peers]]\nid = {peer}\naddress = \"127.0.0.{peer}:{port}\"\n"
        ));
    }
    config.push_str(extra);
    let config_file = dir.join(format!("node-{id}.toml"));
    fs::write(&config_file, config).unwrap();
    let output = dir.join(format!("output-{id}"));
    let stdout = stdout.unwrap_or_else(|| fs::File::create(&output).unwrap().into());
    let child = Command::new(env!("CARGO_BIN_EXE_ringgated"))
        .arg("--config")
        .arg(&config_file)
        .stdout(stdout)
        .stderr(fs::File::create(dir.join(format!("log-{id}"))).unwrap())
        .spawn()
        .unwrap();
    Daemon {
        child,
        socket,
        output,
    }
}

/// Stops the daemon with SIGTERM, as an operator would: it must exit
/// cleanly and remove its control socket.
pub fn terminate(mut d: Daemon) {
    Command::new("kill")
        .arg("-TERM")
        .arg(d.child.id().to_string())
        .status()
        .unwrap();
    let status = d.child.wait().unwrap();
    assert!(status.success(), "daemon exit status {status}");
    assert!(!d.socket.exists(), "control socket left behind");
}

/// One control request and its JSON answer; gives up after two seconds
/// instead of hanging.
pub fn ask(socket: &Path, line: &str) -> Option<serde_json::Value> {
    let mut stream = UnixStream::connect(socket).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    writeln!(stream, "{line}").ok()?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).ok()?;
    serde_json::from_str(&answer).ok()
}

pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The daemon's output lines: `deliver ...` and `membership ...`.
pub fn output(d: &Daemon) -> Vec<String> {
    fs::read_to_string(&d.output)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

pub fn lines_starting(d: &Daemon, prefix: &str) -> Vec<String> {
    output(d)
        .into_iter()
        .filter(|l| l.starts_with(prefix))
        .collect()
}

/// The messages the daemon delivered since its latest membership change.
pub fn delivered_in_current_ring(d: &Daemon) -> Vec<String> {
    let lines = output(d);
    let start = lines
        .iter()
        .rposition(|l| l.starts_with("membership "))
        .map_or(0, |p| p + 1);
    lines[start..]
        .iter()
        .filter(|l| l.starts_with("deliver "))
        .cloned()
        .collect()
}

/// One of the daemon's counters (see `ringgatectl ring`).
pub fn counter(socket: &Path, name: &str) -> Option<u64> {
    ask(socket, "status")?["counters"][name].as_u64()
}

pub fn status(d: &Daemon) -> serde_json::Value {
    ask(&d.socket, "status").unwrap_or_default()
}

/// Whether the daemon is operational in a ring of exactly `members`.
pub fn in_ring(d: &Daemon, members: &[u16]) -> bool {
    let s = status(d);
    s["operational"] == true && s["members"] == serde_json::json!(members)
}

#[derive(Default)]
struct RelayState {
    captured: Vec<Vec<u8>>,
    drop_sender: Option<u16>,
    dropped: u64,
}

/// The network in front of one node (see the module's comment).
pub struct Relay {
    state: Arc<Mutex<RelayState>>,
    stop: Arc<AtomicBool>,
    out: UdpSocket,
    target: String,
}

/// The sender id in a datagram: after the epoch and counter (16 bytes),
/// the magic, version and kind (4 bytes). The test reads it as a network
/// filter would; the daemon trusts it only after the tag checks out.
fn sender_of(datagram: &[u8]) -> Option<u16> {
    let b = datagram.get(20..22)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

impl Relay {
    pub fn start(id: u16, port: u16) -> Relay {
        let socket = UdpSocket::bind(format!("127.0.0.{id}:{port}")).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let out = socket.try_clone().unwrap();
        let target = format!("127.0.0.{}:{port}", id + 10);
        let state: Arc<Mutex<RelayState>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st, to) = (Arc::clone(&state), Arc::clone(&stop), target.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !st.load(Ordering::Relaxed) {
                let Ok((len, _)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let datagram = buf[..len].to_vec();
                let mut state = s.lock().unwrap();
                if state.drop_sender.is_some() && state.drop_sender == sender_of(&datagram) {
                    state.dropped += 1;
                    continue;
                }
                state.captured.push(datagram.clone());
                drop(state);
                let _ = socket.send_to(&datagram, &to);
            }
        });
        Relay {
            state,
            stop,
            out,
            target,
        }
    }

    /// Drops every datagram of `sender` from now on (`None`: none).
    pub fn drop_from(&self, sender: Option<u16>) {
        self.state.lock().unwrap().drop_sender = sender;
    }

    pub fn dropped(&self) -> u64 {
        self.state.lock().unwrap().dropped
    }

    /// Every datagram forwarded so far.
    pub fn captured(&self) -> Vec<Vec<u8>> {
        self.state.lock().unwrap().captured.clone()
    }

    /// Puts a datagram on the wire again, byte for byte.
    pub fn replay(&self, datagram: &[u8]) {
        self.out.send_to(datagram, &self.target).unwrap();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Clients that write `line` to a daemon's control socket as fast as it
/// reads, 256 lines a write, until `stop`. Their answers are read as they
/// come, so no client ever waits for one.
pub struct Flood {
    stop: Arc<AtomicBool>,
    writers: Vec<std::thread::JoinHandle<()>>,
}

impl Flood {
    pub fn start(socket: &Path, clients: usize, line: &str) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let batch = format!("{line}\n").repeat(256);
        let writers = (0..clients)
            .map(|_| {
                let mut stream = UnixStream::connect(socket).unwrap();
                let answers = stream.try_clone().unwrap();
                std::thread::spawn(move || for _ in BufReader::new(answers).lines() {});
                let (batch, stop) = (batch.clone(), Arc::clone(&stop));
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        if stream.write_all(batch.as_bytes()).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        Flood { stop, writers }
    }

    /// Stops the clients and waits for their last write.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for writer in self.writers {
            writer.join().unwrap();
        }
    }
}
