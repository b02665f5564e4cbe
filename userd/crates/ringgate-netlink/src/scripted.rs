//! A transport that answers each request with scripted datagrams, for
//! testing the client end to end without a kernel. It also checks the rule
//! a real socket cannot check for us: no request is sent while datagrams of
//! the previous answer are still unread.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};

use crate::transport::Transport;

pub const PORT: u32 = 4242;
pub const FAMILY: u16 = 0x1c;

/// Builds the datagrams answering a request, given its sequence number.
pub type Answer = Box<dyn FnOnce(u32) -> Vec<Vec<u8>> + Send>;

/// What the tests look at after the client ran.
#[derive(Default)]
pub struct Record {
    /// Every request sent, whole.
    pub sent: Vec<Vec<u8>>,
    /// Requests sent while part of the previous answer was unread.
    pub sent_with_unread: usize,
    /// Datagrams received so far.
    pub received: usize,
}

pub struct Scripted {
    answers: VecDeque<Answer>,
    pending: VecDeque<Vec<u8>>,
    record: Arc<Mutex<Record>>,
}

impl Scripted {
    pub fn new(answers: Vec<Answer>) -> (Scripted, Arc<Mutex<Record>>) {
        let record = Arc::new(Mutex::new(Record::default()));
        let scripted = Scripted {
            answers: answers.into(),
            pending: VecDeque::new(),
            record: record.clone(),
        };
        (scripted, record)
    }
}

impl Transport for Scripted {
    fn port(&self) -> u32 {
        PORT
    }

    fn send(&mut self, request: &[u8]) -> io::Result<()> {
        let mut record = self.record.lock().unwrap();
        if !self.pending.is_empty() {
            record.sent_with_unread += 1;
        }
        record.sent.push(request.to_vec());
        let seq = u32::from_ne_bytes(request[8..12].try_into().unwrap());
        let answer = self
            .answers
            .pop_front()
            .unwrap_or_else(|| panic!("no answer scripted for request {}", record.sent.len()));
        self.pending.extend(answer(seq));
        Ok(())
    }

    fn recv(&mut self) -> io::Result<Vec<u8>> {
        self.record.lock().unwrap().received += 1;
        self.pending
            .pop_front()
            .ok_or_else(|| io::Error::new(io::ErrorKind::WouldBlock, "nothing more scripted"))
    }
}
