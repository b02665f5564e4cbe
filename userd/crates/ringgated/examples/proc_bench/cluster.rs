//! A cluster of real `ringgated` processes on 127.0.0.<id> addresses (all
//! of 127.0.0.0/8 is loopback on Linux: nothing leaves the machine), each
//! with its stdout read by a thread of the benchmark that timestamps every
//! delivery and membership line as the application would see it.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The bench's cluster key (authentication is always on in ringgated).
const KEY: &str = "8f2a7c01d3e4b5a69788a9bacbdcedfe0f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// What one node's application saw, timestamped on the bench's clock.
#[derive(Default)]
pub struct Seen {
    /// (delivered at, intended send time) of every bench message, in µs.
    pub deliveries: Vec<(u64, u64)>,
    /// (at, members) of every membership line.
    pub memberships: Vec<(u64, Vec<u16>)>,
}

pub struct Node {
    child: Child,
    pub socket: PathBuf,
    pub seen: Arc<Mutex<Seen>>,
}

impl Node {
    /// Kills the process without a word, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Microseconds on the bench's clock.
pub fn micros(epoch: Instant) -> u64 {
    epoch.elapsed().as_micros() as u64
}

/// Starts `n` daemons and waits until they are one operational ring.
pub fn start(
    ringgated: &Path,
    dir: &Path,
    n: u16,
    port: u16,
    epoch: Instant,
) -> Result<Vec<Node>, String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let key = dir.join("key");
    fs::write(&key, KEY).map_err(|e| e.to_string())?;
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).map_err(|e| e.to_string())?;
    let mut nodes = Vec::new();
    for id in 1..=n {
        let socket = dir.join(format!("ctl-{id}"));
        let mut config = format!(
            "node_id = {id}\nlisten = \"127.0.0.{id}:{port}\"\nkey_file = \"{}\"\ncontrol_socket = \"{}\"\nkernel_module = \"optional\"\nstate_file = \"epoch-{id}\"\n",
            key.display(),
            socket.display()
        );
        for peer in (1..=n).filter(|p| *p != id) {
            config.push_str(&format!(
                "[[peers]]\nid = {peer}\naddress = \"127.0.0.{peer}:{port}\"\n"
            ));
        }
        let path = dir.join(format!("node-{id}.toml"));
        fs::write(&path, config).map_err(|e| e.to_string())?;
        let log = fs::File::create(dir.join(format!("log-{id}"))).map_err(|e| e.to_string())?;
        let mut child = Command::new(ringgated)
            .arg("--config")
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{}: {e}", ringgated.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        let reader_seen = Arc::clone(&seen);
        thread::spawn(move || read_output(stdout, &reader_seen, epoch));
        nodes.push(Node {
            child,
            socket,
            seen,
        });
    }
    let all: Vec<u16> = (1..=n).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !nodes.iter().all(|node| in_ring(&node.socket, &all)) {
        if Instant::now() > deadline {
            return Err(format!(
                "{n} daemons formed no ring within 20 s; logs in {}",
                dir.display()
            ));
        }
        thread::sleep(Duration::from_millis(20));
    }
    Ok(nodes)
}

/// Reads `deliver <first> <origin> <len> <intended µs> <padding>` and
/// `membership <seq> <rep> <members> ...` lines.
fn read_output(stdout: impl std::io::Read, seen: &Mutex<Seen>, epoch: Instant) {
    // One buffer for every line, as corosync's client reuses its own: the
    // bench's work should not weigh on the two shared cores.
    let mut reader = BufReader::with_capacity(1 << 16, stdout);
    let mut raw = Vec::new();
    loop {
        raw.clear();
        match reader.read_until(b'\n', &mut raw) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let at = micros(epoch);
        if let Some(rest) = raw.strip_prefix(b"deliver ") {
            // `deliver <first> <origin> <len> <intended> ...`
            let intended = rest
                .split(|b| *b == b' ')
                .nth(3)
                .and_then(|w| std::str::from_utf8(w).ok()?.parse::<u64>().ok());
            if let Some(intended) = intended {
                seen.lock().unwrap().deliveries.push((at, intended));
            }
            continue;
        }
        let line = String::from_utf8_lossy(&raw);
        let mut words = line.trim_end().split(' ');
        if words.next() == Some("membership") {
            let members = words
                .nth(2)
                .unwrap_or("")
                .split(',')
                .filter_map(|m| m.parse().ok())
                .collect();
            seen.lock().unwrap().memberships.push((at, members));
        }
    }
}

/// One request on a new connection, as `ringgatectl` sends it.
pub fn ask(socket: &Path, line: &str) -> Option<serde_json::Value> {
    let mut stream = UnixStream::connect(socket).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    writeln!(stream, "{line}").ok()?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).ok()?;
    serde_json::from_str(&answer).ok()
}

fn in_ring(socket: &Path, members: &[u16]) -> bool {
    ask(socket, "status")
        .is_some_and(|s| s["operational"] == true && s["members"] == serde_json::json!(members))
}

/// The node's count of messages delivered to its application.
pub fn delivered(socket: &Path) -> Option<u64> {
    ask(socket, "status")?["counters"]["delivered_messages"].as_u64()
}
