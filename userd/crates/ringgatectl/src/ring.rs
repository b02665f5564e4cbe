//! `ringgatectl ring`: the token ring as the local daemon sees it, through
//! its control socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use serde_json::Value;

/// Sends one request line to the daemon and returns its JSON answer.
fn request(socket: &Path, line: &str) -> Result<Value, String> {
    let mut stream = UnixStream::connect(socket).map_err(|e| {
        format!("cannot reach ringgated at {}: {e} (is it running with --config, and is this its control_socket?)", socket.display())
    })?;
    writeln!(stream, "{line}").map_err(|e| format!("control socket: {e}"))?;
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .map_err(|e| format!("control socket: {e}"))?;
    let value: Value =
        serde_json::from_str(&answer).map_err(|e| format!("control socket: bad answer: {e}"))?;
    match value.get("error").and_then(Value::as_str) {
        Some(error) => Err(format!("ringgated: {error}")),
        None => Ok(value),
    }
}

pub(crate) fn show(socket: &Path, json: bool) -> Result<(), String> {
    let status = request(socket, "status")?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status).unwrap_or_default()
        );
        return Ok(());
    }
    let field = |name: &str| status.get(name).cloned().unwrap_or(Value::Null);
    println!(
        "node {}  ring {}/{}  members {}",
        field("node_id"),
        field("ring_rep"),
        field("ring_seq"),
        field("members")
    );
    match field("token_rotation_us").as_u64() {
        Some(us) => println!("token rotation {us} us"),
        None => println!("token rotation: not measured yet"),
    }
    println!(
        "messages {} delivered, {:.1}/s",
        field("delivered_messages"),
        field("message_rate").as_f64().unwrap_or(0.0)
    );
    if let Some(errors) = field("errors").as_object() {
        let list: Vec<String> = errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("counters: {}", list.join(", "));
    }
    Ok(())
}

pub(crate) fn send(socket: &Path, text: &str) -> Result<(), String> {
    if text.contains('\n') {
        return Err("a message sent from the command line is one line".into());
    }
    request(socket, &format!("send {text}")).map(|_| ())
}
