//! Real ringgated processes on loopback addresses 127.0.0.1-4 (all of
//! 127.0.0.0/8 is loopback on Linux; nothing leaves the machine).
//!
//! ```text
//!   127.0.0.1 node 1 ─┐
//!   127.0.0.2 node 2 ─┼─ token ring, key K
//!   127.0.0.3 node 3 ─┤
//!   127.0.0.4 node 4 ─┘  (second test: killed, then restarted)
//!   127.0.0.5 node 5 ── "intruder" of the first test: same peers, wrong key
//! ```

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
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
    // The daemon refuses a key file anyone else may read.
    fs::set_permissions(&key_file, fs::Permissions::from_mode(0o600)).unwrap();
    let mut config = format!(
        "node_id = {id}\nlisten = \"127.0.0.{}:{port}\"\nkey_file = \"{}\"\ncontrol_socket = \"{}\"\nkernel_module = \"optional\"\nstate_file = \"epoch-{id}\"\n",
        id,
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

/// The daemon's output lines: `deliver ...` and `membership ...`.
fn output(d: &Daemon) -> Vec<String> {
    fs::read_to_string(&d.deliveries)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// The messages the daemon delivered, in order.
fn delivered(d: &Daemon) -> Vec<String> {
    output(d)
        .into_iter()
        .filter(|l| l.starts_with("deliver "))
        .collect()
}

/// The messages delivered since the daemon's latest membership change.
fn delivered_in_current_ring(d: &Daemon) -> Vec<String> {
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

/// Whether the daemon is operational in a ring of exactly `members`.
fn in_ring(d: &Daemon, members: &[u16]) -> bool {
    ask(&d.socket, "status")
        .is_some_and(|s| s["operational"] == true && s["members"] == serde_json::json!(members))
}

fn terminate(mut d: Daemon) {
    Command::new("kill")
        .arg("-TERM")
        .arg(d.child.id().to_string())
        .status()
        .unwrap();
    let status = d.child.wait().unwrap();
    assert!(status.success(), "daemon exit status {status}");
    assert!(!d.socket.exists(), "control socket left behind");
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
        wait_for("one ring of all three", || in_ring(d, &members));
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

    // An intruder with the wrong key, which tries to form a ring with the
    // members and sends them its Joins.
    let intruder = start(&dir, 5, port, &[1, 2, 3, 5], WRONG_KEY);
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
    for d in daemons {
        terminate(d);
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn killing_a_daemon_forms_a_ring_of_the_rest_and_a_restart_joins_it_back() {
    let dir = std::env::temp_dir().join(format!("ringgate-rejoin-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let port = 10000 + (std::process::id() % 20000) as u16;
    let all = [1, 2, 3, 4];
    let mut daemons: Vec<Daemon> = all
        .iter()
        .map(|id| start(&dir, *id, port, &all, KEY))
        .collect();
    for d in &daemons {
        wait_for("one ring of all four", || in_ring(d, &all));
    }
    for (i, d) in daemons.iter().enumerate() {
        assert_eq!(
            ask(&d.socket, &format!("send before-{}", i + 1)).unwrap()["ok"],
            true
        );
    }
    wait_for("4 deliveries everywhere", || {
        daemons.iter().all(|d| delivered(d).len() == 4)
    });

    // Node 4 dies without a word; the others notice the lost token and form
    // a ring of three, which goes on delivering.
    let killed_at = Instant::now();
    drop(daemons.pop());
    let survivors = [1, 2, 3];
    for d in &daemons {
        wait_for("a ring of the three survivors", || in_ring(d, &survivors));
    }
    eprintln!(
        "ring of survivors operational {:?} after the kill",
        killed_at.elapsed()
    );
    for (i, d) in daemons.iter().enumerate() {
        assert_eq!(
            ask(&d.socket, &format!("send without-4-from-{}", i + 1)).unwrap()["ok"],
            true
        );
    }
    wait_for("the survivors to deliver", || {
        daemons
            .iter()
            .all(|d| delivered_in_current_ring(d).len() == 3)
    });
    let reference = delivered_in_current_ring(&daemons[0]);
    for d in &daemons[1..] {
        assert_eq!(
            delivered_in_current_ring(d),
            reference,
            "survivors disagree on order"
        );
    }
    // Everything delivered before the kill is still there, once.
    for d in &daemons {
        let all_delivered = delivered(d);
        for n in 1..=4 {
            let text = format!(" before-{n}");
            assert_eq!(
                all_delivered.iter().filter(|l| l.ends_with(&text)).count(),
                1,
                "{text}"
            );
        }
    }

    // A restarted node 4 joins back without stopping the others.
    daemons.push(start(&dir, 4, port, &all, KEY));
    for d in &daemons {
        wait_for("node 4 back in the ring", || in_ring(d, &all));
    }
    for (i, d) in daemons.iter().enumerate() {
        assert_eq!(
            ask(&d.socket, &format!("send rejoined-{}", i + 1)).unwrap()["ok"],
            true
        );
    }
    wait_for("all four to deliver after the rejoin", || {
        daemons
            .iter()
            .all(|d| delivered_in_current_ring(d).len() == 4)
    });
    let reference = delivered_in_current_ring(&daemons[3]);
    for d in &daemons[..3] {
        assert_eq!(
            delivered_in_current_ring(d),
            reference,
            "order differs after the rejoin"
        );
    }
    for d in daemons {
        terminate(d);
    }
    let _ = fs::remove_dir_all(&dir);
}
