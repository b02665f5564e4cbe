//! Real ringgated processes on loopback addresses 127.0.0.1-4 (all of
//! 127.0.0.0/8 is loopback on Linux; nothing leaves the machine).
//!
//! ```text
//!   127.0.0.1 node 1 ─┐
//!   127.0.0.2 node 2 ─┼─ token ring, key K
//!   127.0.0.3 node 3 ─┘
//!   127.0.0.4 node 0 ── "intruder": same peers, wrong key
//! ```

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const KEY: &str = "5eb63bbbe01eeed093cb22bb8f5acdc35eb63bbbe01eeed093cb22bb8f5acdc3";
const WRONG_KEY: &str = "00000000000000000000000000000000000000000000000000000000000000ff";

struct Daemon {
    child: Child,
    socket: PathBuf,
    deliveries: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &Path, id: u16, port: u16, members: &[u16], key: &str) -> Daemon {
    let key_file = dir.join(format!("key-{id}"));
    fs::write(&key_file, key).unwrap();
    let mut config = format!(
        "node_id = {id}\nlisten = \"127.0.0.{}:{port}\"\nkey_file = \"{}\"\ncontrol_socket = \"{}\"\nkernel_module = \"optional\"\n",
        if id == 0 { 4 } else { id },
        key_file.display(),
        dir.join(format!("ctl-{id}")).display()
    );
    for peer in members.iter().filter(|p| **p != id) {
        config.push_str(&format!(
            "[[peers]]\nid = {peer}\naddress = \"127.0.0.{peer}:{port}\"\n"
        ));
    }
    let config_file = dir.join(format!("node-{id}.toml"));
    fs::write(&config_file, config).unwrap();
    let deliveries = dir.join(format!("deliveries-{id}"));
    let child = Command::new(env!("CARGO_BIN_EXE_ringgated"))
        .arg("--config")
        .arg(&config_file)
        .stdout(fs::File::create(&deliveries).unwrap())
        .stderr(fs::File::create(dir.join(format!("log-{id}"))).unwrap())
        .spawn()
        .unwrap();
    Daemon {
        child,
        socket: dir.join(format!("ctl-{id}")),
        deliveries,
    }
}

fn ask(socket: &Path, line: &str) -> Option<serde_json::Value> {
    let mut stream = UnixStream::connect(socket).ok()?;
    writeln!(stream, "{line}").ok()?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).ok()?;
    serde_json::from_str(&answer).ok()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn delivered(d: &Daemon) -> Vec<String> {
    fs::read_to_string(&d.deliveries)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn three_daemons_deliver_the_same_messages_in_the_same_order_and_refuse_a_wrong_key() {
    let dir = std::env::temp_dir().join(format!("ringgate-real-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let port = 30000 + (std::process::id() % 20000) as u16;
    let members = [1, 2, 3];
    let daemons: Vec<Daemon> = members
        .iter()
        .map(|id| start(&dir, *id, port, &members, KEY))
        .collect();
    for d in &daemons {
        wait_for("control sockets", || ask(&d.socket, "status").is_some());
    }

    for k in 0..10 {
        for (i, d) in daemons.iter().enumerate() {
            let answer = ask(&d.socket, &format!("send node{}-msg{k}", i + 1)).unwrap();
            assert_eq!(answer["ok"], true, "{answer}");
        }
    }
    wait_for("30 deliveries everywhere", || {
        daemons.iter().all(|d| delivered(d).len() == 30)
    });
    let reference = delivered(&daemons[0]);
    for d in &daemons[1..] {
        assert_eq!(delivered(d), reference, "delivery order differs");
    }
    for k in 0..10 {
        for n in 1..=3 {
            let text = format!("node{n}-msg{k}");
            assert_eq!(
                reference
                    .iter()
                    .filter(|l| l.ends_with(&format!(" {text}")))
                    .count(),
                1,
                "{text}"
            );
        }
    }

    // An intruder with the wrong key, configured as the lowest id so that it
    // starts a token of its own and sends it to node 1.
    let intruder = start(&dir, 0, port, &[0, 1, 2, 3], WRONG_KEY);
    wait_for("node 1 to refuse the intruder", || {
        ask(&daemons[0].socket, "status")
            .is_some_and(|s| s["counters"]["unauthenticated"].as_u64() > Some(0))
    });
    let status = ask(&daemons[0].socket, "status").unwrap();
    assert_eq!(status["members"], serde_json::json!([1, 2, 3]));
    ask(&daemons[1].socket, "send after-intruder").unwrap();
    wait_for("the ring to go on", || {
        daemons.iter().all(|d| delivered(d).len() == 31)
    });
    drop(intruder);

    // SIGTERM stops every daemon cleanly.
    for mut d in daemons {
        Command::new("kill")
            .arg("-TERM")
            .arg(d.child.id().to_string())
            .status()
            .unwrap();
        let status = d.child.wait().unwrap();
        assert!(status.success(), "daemon exit status {status}");
        assert!(!d.socket.exists(), "control socket left behind");
    }
    let _ = fs::remove_dir_all(&dir);
}
