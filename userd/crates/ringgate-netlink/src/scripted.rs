//! A transport that answers each request with scripted datagrams, for
//! testing the client end to end without a kernel. It also checks the rule
//! a real socket cannot check for us: no request is sent while datagrams of
//! the previous answer are still unread.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};

use crate::testbytes::{error, genl, nest, nla};
use crate::transport::Transport;

pub const PORT: u32 = 4242;
pub const FAMILY: u16 = 0x1c;
/// The id the controller gives the family's `events` group.
pub const EVENTS_GROUP: u32 = 9;
pub const SESSIONS_GROUP: u32 = 10;

/// `CTRL_CMD_NEWFAMILY`, `CTRL_ATTR_FAMILY_ID`, `CTRL_ATTR_MCAST_GROUPS`,
/// `CTRL_ATTR_MCAST_GRP_NAME` and `_ID` of `linux/genetlink.h`, and the
/// controller's id, `GENL_ID_CTRL`.
const CTRL_CMD_NEWFAMILY: u8 = 1;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_MCAST_GROUPS: u16 = 7;
const CTRL_ATTR_MCAST_GRP_NAME: u16 = 1;
const CTRL_ATTR_MCAST_GRP_ID: u16 = 2;
const GENL_ID_CTRL: u16 = 0x10;

/// The controller's answer resolving the family: its id and its two
/// multicast groups (in a nest of group nests, as the kernel lays it out).
pub fn family_answer() -> Answer {
    Box::new(|seq| {
        let groups = nest(
            CTRL_ATTR_MCAST_GROUPS,
            &[
                nest(
                    1,
                    &[
                        nla(CTRL_ATTR_MCAST_GRP_NAME, b"events\0"),
                        nla(CTRL_ATTR_MCAST_GRP_ID, &EVENTS_GROUP.to_ne_bytes()),
                    ],
                ),
                nest(
                    2,
                    &[
                        nla(CTRL_ATTR_MCAST_GRP_NAME, b"sessions\0"),
                        nla(CTRL_ATTR_MCAST_GRP_ID, &SESSIONS_GROUP.to_ne_bytes()),
                    ],
                ),
            ],
        );
        let reply = genl(
            GENL_ID_CTRL,
            0,
            seq,
            PORT,
            CTRL_CMD_NEWFAMILY,
            &[nla(CTRL_ATTR_FAMILY_ID, &FAMILY.to_ne_bytes()), groups],
        );
        vec![[reply, error(seq, PORT, 0, &[])].concat()]
    })
}

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
    /// Multicast groups joined.
    pub joined: Vec<u32>,
}

pub struct Scripted {
    answers: VecDeque<Answer>,
    pending: VecDeque<io::Result<Vec<u8>>>,
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

    /// A transport that receives `items` (datagrams, or errnos such as
    /// ENOBUFS) without being asked, as a multicast subscriber does.
    pub fn receiving(items: Vec<Result<Vec<u8>, i32>>) -> (Scripted, Arc<Mutex<Record>>) {
        let (mut scripted, record) = Scripted::new(Vec::new());
        scripted.pending = items
            .into_iter()
            .map(|item| item.map_err(io::Error::from_raw_os_error))
            .collect();
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
        self.pending.extend(answer(seq).into_iter().map(Ok));
        Ok(())
    }

    fn join(&mut self, group: u32) -> io::Result<()> {
        self.record.lock().unwrap().joined.push(group);
        Ok(())
    }

    fn recv(&mut self) -> io::Result<Vec<u8>> {
        self.record.lock().unwrap().received += 1;
        self.pending.pop_front().unwrap_or_else(|| {
            Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "nothing more scripted",
            ))
        })
    }
}
