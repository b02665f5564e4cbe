//! `ringgatectl ring`: the token ring as the local daemon sees it, through
//! its control socket.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

/// How long to wait for the daemon's answer: longer than it waits for the
/// ring's agreement (10 s), so a daemon that answers is always heard, and a
/// hung one does not hang its operator's script.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// Sends one request line to the daemon and returns its JSON answer.
pub(crate) fn request(socket: &Path, line: &str) -> Result<Value, String> {
    let stream = UnixStream::connect(socket).map_err(|e| {
        format!("cannot reach ringgated at {}: {e} (is it running with --config, and is this its control_socket?)", socket.display())
    })?;
    ask(stream, line, ANSWER_TIMEOUT)
}

/// Sends `line` on a connected socket and reads the JSON answer within
/// `timeout`.
pub(crate) fn ask(mut stream: UnixStream, line: &str, timeout: Duration) -> Result<Value, String> {
    let timed_out = |e: std::io::Error| match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => {
            format!("ringgated did not answer within {timeout:?} (is it hung?)")
        }
        _ => format!("control socket: {e}"),
    };
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("control socket: {e}"))?;
    writeln!(stream, "{line}").map_err(timed_out)?;
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .map_err(timed_out)?;
    let value: Value =
        serde_json::from_str(&answer).map_err(|e| format!("control socket: bad answer: {e}"))?;
    match value.get("error").and_then(Value::as_str) {
        Some(error) => Err(format!("ringgated: {error}")),
        None => Ok(value),
    }
}

pub(crate) fn show(socket: &Path, json: bool) -> Result<(), String> {
    show_answer(socket, "status", json, render)
}

/// Asks the daemon `line` and prints the answer: as JSON, or through
/// `render` (the ring's and the cluster's status views share this).
pub(crate) fn show_answer(
    socket: &Path,
    line: &str,
    json: bool,
    render: fn(&Value) -> String,
) -> Result<(), String> {
    let answer = request(socket, line)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
    } else {
        print!("{}", render(&answer));
    }
    Ok(())
}

/// The human-readable view of the daemon's status answer.
fn render(status: &Value) -> String {
    let field = |name: &str| status.get(name).cloned().unwrap_or(Value::Null);
    let state = match field("operational").as_bool() {
        Some(false) => "  (forming a new ring)",
        _ => "",
    };
    let mut out = format!(
        "node {}  ring {}/{}  members {}{state}\n",
        field("node_id"),
        field("ring_rep"),
        field("ring_seq"),
        field("members")
    );
    match field("token_rotation_us").as_u64() {
        Some(us) => out.push_str(&format!("token rotation {us} us\n")),
        None => out.push_str("token rotation: not measured yet\n"),
    }
    if let Some(keys) = field("keys").as_object() {
        let accepted = keys.get("accepted").cloned().unwrap_or(Value::Null);
        let sending = match keys.get("sending_newest").and_then(Value::as_bool) {
            Some(false) => ", sending with the older",
            _ => "",
        };
        out.push_str(&format!("keys {accepted} accepted{sending}\n"));
    }
    let counters = field("counters");
    let delivered = counters
        .get("delivered_messages")
        .cloned()
        .unwrap_or(Value::Null);
    let rate = field("message_rate").as_f64().unwrap_or(0.0);
    out.push_str(&format!("messages {delivered} delivered, {rate:.1}/s\n"));
    if let Some(all) = counters.as_object() {
        let list: Vec<String> = all.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out.push_str(&format!("counters: {}\n", list.join(", ")));
    }
    out
}

/// Asks the daemon to accept the key in `file` too. The daemon reads the
/// file itself (and checks its mode, as it does its config's key file), so
/// the key never passes through this process; it gets an absolute path.
pub(crate) fn key_add(socket: &Path, file: &Path) -> Result<(), String> {
    let path = std::fs::canonicalize(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let path = path
        .to_str()
        .filter(|p| !p.contains('\n'))
        .ok_or_else(|| format!("{}: not a usable path", path.display()))?;
    request(socket, &format!("key add {path}"))?;
    println!(
        "key added: accepted with the current one; `ringgatectl ring key use` on every node next"
    );
    Ok(())
}

/// The other steps of a rollover: `use` and `retire`.
pub(crate) fn key_step(socket: &Path, step: &str) -> Result<(), String> {
    request(socket, &format!("key {step}"))?;
    let next = match step {
        "use" => "sending with the new key; `ringgatectl ring key retire` on every node next",
        _ => "only the key this node sends with is accepted",
    };
    println!("{next}");
    Ok(())
}

pub(crate) fn send(socket: &Path, text: &str, control: bool) -> Result<(), String> {
    if text.contains('\n') {
        return Err("a message sent from the command line is one line".into());
    }
    let request_name = if control { "send-control" } else { "send" };
    request(socket, &format!("{request_name} {text}")).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_shows_ring_rotation_rate_and_counters() {
        let status = serde_json::json!({
            "node_id": 2, "ring_rep": 1, "ring_seq": 4, "members": [1, 2, 3],
            "operational": true, "token_rotation_us": 1200, "message_rate": 12.5,
            "counters": { "delivered_messages": 40, "unauthenticated": 3 }
        });
        let text = render(&status);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "node 2  ring 1/4  members [1,2,3]");
        assert_eq!(lines[1], "token rotation 1200 us");
        assert_eq!(lines[2], "messages 40 delivered, 12.5/s");
        assert_eq!(
            lines[3],
            "counters: delivered_messages 40, unauthenticated 3"
        );
        let forming = serde_json::json!({
            "node_id": 2, "ring_rep": 0, "ring_seq": 4, "members": [], "operational": false
        });
        assert_eq!(
            render(&forming).lines().next(),
            Some("node 2  ring 0/4  members []  (forming a new ring)")
        );
    }

    #[test]
    fn a_daemon_that_never_answers_is_given_up_on() {
        let dir = std::env::temp_dir().join(format!("rgctl-hung-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("sock");
        let _ = std::fs::remove_file(&path);
        // Accepts, reads nothing, answers nothing (a stopped daemon's
        // kernel still queues the connection).
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let stream = UnixStream::connect(&path).unwrap();
        let started = std::time::Instant::now();
        let e = ask(stream, "cluster status", Duration::from_millis(300)).unwrap_err();
        assert!(e.contains("did not answer"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(listener);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
