//! `ringgatectl sessions`.

use std::io::Write;

use ringgate_netlink::{Client, Session};

use crate::exit::Failure;
use crate::schema::SessionJson;

/// Prints each session as its dump part arrives: a table of a million
/// sessions is never held whole, neither as sessions nor as text.
pub(crate) fn show(json: bool) -> Result<(), Failure> {
    let client = Client::connect()?;
    let mut printer = Printer::new(std::io::BufWriter::new(std::io::stdout().lock()), json);
    let listed = client.for_each_session(|session| {
        printer.session(&session);
        Ok(())
    });
    // What was listed is written out whole (a JSON array closed) even when
    // the dump then reports that a resize raced it: the error that follows
    // on stderr and the exit code say the listing cannot be trusted.
    let written = printer
        .finish()
        .map(|_| ())
        .map_err(|e| Failure::other(format!("writing the sessions: {e}")));
    listed?;
    written
}

/// Writes sessions one by one, as a table or as one JSON array. A write
/// error is kept (and later writes skipped) so the dump is still read to
/// its end.
struct Printer<W: Write> {
    out: W,
    json: bool,
    written: usize,
    failed: Option<std::io::Error>,
}

impl<W: Write> Printer<W> {
    fn new(out: W, json: bool) -> Printer<W> {
        let mut printer = Printer {
            out,
            json,
            written: 0,
            failed: None,
        };
        let start = if json { "[".to_string() } else { header() };
        printer.write(&start);
        printer
    }

    fn write(&mut self, text: &str) {
        if self.failed.is_none() {
            if let Err(e) = self.out.write_all(text.as_bytes()) {
                self.failed = Some(e);
            }
        }
    }

    fn session(&mut self, session: &Session) {
        let text = if self.json {
            let item = serde_json::to_string_pretty(&SessionJson::from(session))
                .expect("sessions serialize");
            let comma = if self.written == 0 { "" } else { "," };
            format!("{comma}\n{item}")
        } else {
            row(session)
        };
        self.written += 1;
        self.write(&text);
    }

    fn finish(mut self) -> std::io::Result<W> {
        if self.json {
            self.write(if self.written == 0 { "]\n" } else { "\n]\n" });
        }
        match self.failed.take() {
            Some(e) => Err(e),
            None => {
                self.out.flush()?;
                Ok(self.out)
            }
        }
    }
}

fn header() -> String {
    format!(
        "{:<6}{:<22}{:<22}{:<22}{:<12}{:>10}{:>7}  {}\n",
        "proto", "client", "vip", "backend", "stage", "expires", "owner", "dir"
    )
}

/// One session; `dir` is `in` for a connection to a service, `out` for one
/// a back-end opened to the outside (then `client` is the remote end, `vip`
/// the translated source and `backend` the host).
fn row(s: &Session) -> String {
    format!(
        "{:<6}{:<22}{:<22}{:<22}{:<12}{:>9.1}s{:>7}  {}\n",
        s.proto,
        s.client.to_string(),
        s.vip.to_string(),
        s.backend.to_string(),
        s.stage,
        f64::from(s.expires_ms) / 1000.0,
        s.owner,
        if s.outbound { "out" } else { "in" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringgate_netlink::{Proto, Stage};

    fn table(sessions: &[Session]) -> String {
        print(sessions, false)
    }

    fn print(sessions: &[Session], json: bool) -> String {
        let mut printer = Printer::new(Vec::new(), json);
        for s in sessions {
            printer.session(s);
        }
        String::from_utf8(printer.finish().unwrap()).unwrap()
    }

    fn udp_session(stage: Stage, proto: Proto) -> Session {
        Session {
            proto,
            client: "10.9.0.1:40000".parse().unwrap(),
            vip: "10.9.0.100:9000".parse().unwrap(),
            backend: "10.8.0.2:9000".parse().unwrap(),
            stage,
            expires_ms: 1500,
            owner: 7,
            outbound: false,
        }
    }

    #[test]
    fn json_is_one_array_even_when_streamed() {
        assert_eq!(print(&[], true), "[]\n");
        let two = [
            udp_session(Stage(0), Proto::Udp),
            udp_session(Stage(9), Proto::Unknown(132)),
        ];
        let parsed: serde_json::Value = serde_json::from_str(&print(&two, true)).unwrap();
        assert_eq!(parsed[0]["stage"], "udp");
        assert_eq!(parsed[1]["stage"], 9);
        assert_eq!(parsed[1]["proto"], 132);
        assert_eq!(parsed[0]["client_addr"], "10.9.0.1");
        assert_eq!(parsed[0]["client_port"], 40000);
    }

    /// Values a newer module may send are shown by number, in their column.
    #[test]
    fn unknown_values_print_as_numbers() {
        let text = table(&[udp_session(Stage(9), Proto::Unknown(132))]);
        let row: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!((row[0], row[4]), ("132", "9"));
    }

    #[test]
    fn table_shows_each_session() {
        let sessions = [Session {
            proto: Proto::Udp,
            client: "10.9.0.1:40000".parse().unwrap(),
            vip: "10.9.0.100:9000".parse().unwrap(),
            backend: "10.8.0.2:9000".parse().unwrap(),
            stage: Stage(0),
            expires_ms: 1500,
            owner: 7,
            outbound: false,
        }];
        let text = table(&sessions);
        assert_eq!(crate::table::assert_awk_columns(&text), 8);
        let row: Vec<String> = text
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .map(String::from)
            .collect();
        assert_eq!(
            row,
            [
                "udp",
                "10.9.0.1:40000",
                "10.9.0.100:9000",
                "10.8.0.2:9000",
                "udp",
                "1.5s",
                "7",
                "in"
            ]
        );
        let outbound = Session {
            outbound: true,
            ..sessions[0].clone()
        };
        assert!(table(&[outbound])
            .lines()
            .nth(1)
            .unwrap()
            .ends_with("  out"));
    }
}
