//! Real ringgated processes: the token thread never waits for stdout's
//! reader, and the control socket is private, replaces only a stale socket
//! and serves every client although one of them idles.

mod support;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::{ask, counter, wait_for, Daemon, KEY};

/// Starts node `id` (at 127.0.0.<id>) with the given stdout.
fn start(dir: &Path, id: u16, port: u16, members: &[u16], stdout: Stdio) -> Daemon {
    support::start_with(dir, id, port, members, &[], KEY, Some(stdout))
}

#[test]
fn a_stalled_or_closed_stdout_never_stops_the_ring() {
    let dir = support::scratch("stdout");
    let port = 20000 + (std::process::id() % 20000) as u16;
    let members = [1, 2];
    // Node 1's stdout is a pipe nobody reads: it fills after 64 KiB. Node
    // 2's is a pipe whose reader is gone: every write fails with EPIPE.
    let mut stalled = start(&dir, 1, port, &members, Stdio::piped());
    let mut closed = start(&dir, 2, port, &members, Stdio::piped());
    drop(closed.child.stdout.take());
    for d in [&stalled, &closed] {
        wait_for("a ring of both", || {
            ask(&d.socket, "status").is_some_and(|s| s["operational"] == true)
        });
    }
    // Far more output than a pipe holds.
    let messages = 600;
    let text = "x".repeat(400);
    for k in 0..messages {
        let answer = ask(&stalled.socket, &format!("send {k} {text}")).unwrap();
        assert_eq!(answer["ok"], true, "{answer}");
    }
    for d in [&stalled, &closed] {
        wait_for("every message delivered", || {
            counter(&d.socket, "delivered_messages") == Some(messages)
        });
    }
    // The ring counts a delivery when it hands the line to the writer
    // thread, which counts it dropped only once its write fails: on a busy
    // host the status can come in between (a CI run).
    wait_for("every line of the closed stdout dropped", || {
        counter(&closed.socket, "output_dropped").is_some_and(|n| n >= messages)
    });
    assert!(
        closed.child.try_wait().unwrap().is_none(),
        "the daemon with a closed stdout exited"
    );
    assert_eq!(counter(&stalled.socket, "token_losses"), Some(0));
    assert_eq!(counter(&closed.socket, "token_losses"), Some(0));
    // What the stalled reader finally reads is whole lines, in order.
    let mut out = String::new();
    let mut pipe = stalled.child.stdout.take().unwrap();
    drop(closed);
    let _ = stalled.child.kill();
    pipe.read_to_string(&mut out).unwrap();
    let delivered: Vec<&str> = out.lines().filter(|l| l.starts_with("deliver ")).collect();
    assert!(delivered.len() > 10, "{} lines", delivered.len());
    assert!(
        delivered[0].ends_with(&format!(" 0 {text}")),
        "{}",
        delivered[0]
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn the_control_socket_is_private_replaces_only_a_stale_socket_and_serves_past_an_idle_client() {
    let dir = support::scratch("control");
    let port = 40000 + (std::process::id() % 20000) as u16;
    // A socket left behind by a dead daemon: nothing listens on it.
    drop(UnixListener::bind(dir.join("ctl-3")).unwrap());
    let daemon = start(&dir, 3, port, &[3], Stdio::null());
    wait_for("the daemon to answer", || {
        ask(&daemon.socket, "status").is_some()
    });
    let meta = fs::metadata(&daemon.socket).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    // A client that connects and says nothing holds nobody else up.
    let _idle = UnixStream::connect(&daemon.socket).unwrap();
    let asked = Instant::now();
    assert!(
        ask(&daemon.socket, "status").is_some(),
        "blocked by an idle client"
    );
    assert!(asked.elapsed() < Duration::from_secs(1));

    // A second daemon on the same socket path refuses to start and leaves
    // the live socket alone.
    let mut second = start(&dir, 3, port + 1, &[3], Stdio::null());
    let status = second.child.wait().unwrap();
    assert!(!status.success());
    assert!(
        ask(&daemon.socket, "status").is_some(),
        "the live socket was taken over"
    );

    // Anything but a socket at the path is left in place, and the daemon
    // does not start.
    let file = dir.join("ctl-4");
    fs::write(&file, "not a socket").unwrap();
    let mut blocked = start(&dir, 4, port, &[4], Stdio::null());
    assert!(!blocked.child.wait().unwrap().success());
    assert_eq!(fs::read_to_string(&file).unwrap(), "not a socket");
    let log = fs::read_to_string(dir.join("log-4")).unwrap();
    assert!(log.contains("control_socket"), "{log}");
    drop(daemon);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn one_connection_carries_many_requests_answered_in_order() {
    let dir = support::scratch("pipelined");
    let port = 45000 + (std::process::id() % 15000) as u16;
    let daemon = start(&dir, 6, port, &[6], Stdio::null());
    wait_for("the daemon to answer", || {
        ask(&daemon.socket, "status").is_some()
    });
    let mut stream = UnixStream::connect(&daemon.socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // Sent at once, before reading any answer.
    let requests = "send one\nnonsense\nsend two\nstatus\n";
    stream.write_all(requests.as_bytes()).unwrap();
    let mut answers = BufReader::new(&stream).lines();
    let mut next = || -> serde_json::Value {
        serde_json::from_str(&answers.next().unwrap().unwrap()).unwrap()
    };
    assert_eq!(next()["ok"], true);
    assert!(next()["error"]
        .as_str()
        .unwrap()
        .contains("unknown request"));
    assert_eq!(next()["ok"], true);
    let status = next();
    assert_eq!(status["node_id"], 6, "{status}");
    drop(daemon);
    let _ = fs::remove_dir_all(&dir);
}

/// A lone node has no datagrams and no timers to wake its ring thread: a
/// request that waited for them would take up to a 20 ms tick. The control
/// socket wakes the ring thread, so a hundred requests in a row take far
/// less than a hundred ticks.
#[test]
fn a_control_request_wakes_the_ring_thread() {
    let dir = support::scratch("wake");
    let port = 46000 + (std::process::id() % 15000) as u16;
    let daemon = start(&dir, 7, port, &[7], Stdio::null());
    wait_for("the daemon to answer", || {
        ask(&daemon.socket, "status").is_some()
    });
    let stream = UnixStream::connect(&daemon.socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut answers = BufReader::new(&stream).lines();
    let started = Instant::now();
    for _ in 0..100 {
        // One at a time: each waits for its answer.
        writeln!(&stream, "status").unwrap();
        answers.next().unwrap().unwrap();
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(500),
        "100 requests took {took:?}: they wait for the ring thread's tick"
    );
    drop(daemon);
    let _ = fs::remove_dir_all(&dir);
}

/// A client that submits far faster than the ring delivers is slowed
/// down, not refused: its answers come as its messages get into the ring's
/// queue, and every message is delivered once, in order. (Before, a full
/// queue refused a message at once, and at full load such a client got
/// five refusals for each message taken.)
#[test]
fn a_client_that_outruns_the_ring_waits_instead_of_being_refused() {
    let dir = support::scratch("outrun");
    let port = 47000 + (std::process::id() % 15000) as u16;
    let members = [1, 2];
    let daemons: Vec<Daemon> = members
        .iter()
        .map(|id| support::start(&dir, *id, port, &members, &[]))
        .collect();
    for d in &daemons {
        wait_for("a ring of both", || support::in_ring(d, &members));
    }
    // Four times the ring's queue (4096 messages), written at once.
    let messages = 16_384;
    let stream = UnixStream::connect(&daemons[0].socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let text = "x".repeat(1000);
        let mut all = String::new();
        for k in 0..messages {
            all.push_str(&format!("send {k} {text}\n"));
        }
        writer.write_all(all.as_bytes()).unwrap();
    });
    let mut refusals = Vec::new();
    for line in BufReader::new(&stream).lines().take(messages) {
        let line = line.unwrap();
        if line != r#"{"ok":true}"# {
            refusals.push(line);
        }
    }
    sender.join().unwrap();
    assert!(
        refusals.is_empty(),
        "{} of {messages} refused, the first: {}",
        refusals.len(),
        refusals[0]
    );
    for d in &daemons {
        wait_for("every message delivered", || {
            counter(&d.socket, "delivered_messages") == Some(messages as u64)
        });
    }
    let delivered = support::lines_starting(&daemons[1], "deliver ");
    for (k, line) in delivered.iter().enumerate() {
        let text = line.splitn(5, ' ').nth(4).unwrap();
        assert!(
            text.starts_with(&format!("{k} ")),
            "{k}th delivery: {line:.40}"
        );
    }
    drop(daemons);
    let _ = fs::remove_dir_all(&dir);
}
