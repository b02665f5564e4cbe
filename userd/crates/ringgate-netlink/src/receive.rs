//! The answer to one request, read datagram by datagram: data messages go to
//! the caller as they come, and the exchange ends at the ack, the refusal or
//! the dump's `NLMSG_DONE`. This is a plain state machine over bytes, with
//! no socket, so each case is tested with hand-built datagrams.
//!
//! It always reads to the end of its answer: a part left unread would be
//! taken for the answer to the next request on the socket.

use crate::error::{Error, KernelError};
use crate::extack::{parse_done, parse_error, Ack};
use crate::names::Set;
use crate::wire::{
    messages, GENL_HDRLEN, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_DUMP_INTR,
};

const EPERM: i32 = 1;

/// Where an exchange stands after a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// More datagrams belong to this answer.
    More,
    /// The answer is complete. `interrupted` says the kernel flagged a dump
    /// part (or its end) as raced by a change, so the dump may be
    /// inconsistent.
    Finished { interrupted: bool },
}

/// One request's answer, being read.
pub(crate) struct Exchange<'r> {
    op: &'static str,
    request: &'r [u8],
    set: Option<Set>,
    seq: u32,
    port: u32,
    interrupted: bool,
    /// The first error the caller's handler returned; the rest of the answer
    /// is still read (and not handed over), then this is returned.
    failure: Option<Error>,
}

impl<'r> Exchange<'r> {
    /// The exchange of `request` (whole, as sent: its sequence number and
    /// port are read from its header). `set` is the attribute set of its
    /// attributes, used to name the attribute a refusal points at.
    pub(crate) fn new(op: &'static str, request: &'r [u8], set: Option<Set>) -> Exchange<'r> {
        let word = |at: usize| u32::from_ne_bytes(request[at..at + 4].try_into().expect("4 bytes"));
        Exchange {
            op,
            request,
            set,
            seq: word(8),
            port: word(12),
            interrupted: false,
            failure: None,
        }
    }

    /// Reads one datagram, handing each data message's attributes (after
    /// the generic netlink header) to `on_data`.
    pub(crate) fn feed(
        &mut self,
        datagram: &[u8],
        on_data: &mut dyn FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<Step, Error> {
        for message in messages(datagram) {
            let message = message.map_err(|t| self.malformed(t.0))?;
            // Messages of an earlier request (one abandoned half-read) are
            // not this answer; iproute2 skips them the same way.
            if message.seq != self.seq || message.port != self.port {
                continue;
            }
            if message.flags & NLM_F_DUMP_INTR != 0 {
                self.interrupted = true;
            }
            match message.kind {
                NLMSG_NOOP => {}
                NLMSG_OVERRUN => return Err(Error::Socket("the kernel reports an overrun".into())),
                NLMSG_ERROR => {
                    let ack = parse_error(message.flags, message.payload)
                        .map_err(|t| self.malformed(t.0))?;
                    return self.end(ack);
                }
                NLMSG_DONE => return self.end(parse_done(message.flags, message.payload)),
                _ => {
                    let Some(attrs) = message.payload.get(GENL_HDRLEN..) else {
                        return Err(self.malformed("a message shorter than its genl header".into()));
                    };
                    if self.failure.is_none() {
                        if let Err(e) = on_data(attrs) {
                            self.failure = Some(e);
                        }
                    }
                }
            }
        }
        Ok(Step::More)
    }

    /// The end of the answer: a refusal, or what the handler found, or done.
    fn end(&mut self, ack: Ack) -> Result<Step, Error> {
        if ack.code != 0 {
            return Err(self.refusal(ack));
        }
        match self.failure.take() {
            Some(e) => Err(e),
            None => Ok(Step::Finished {
                interrupted: self.interrupted,
            }),
        }
    }

    fn refusal(&self, ack: Ack) -> Error {
        let errno = ack.code.saturating_neg();
        if errno == EPERM {
            // Generic netlink refuses GENL_ADMIN_PERM commands before the
            // module sees them, without an explanation: say what is needed.
            return Error::PermissionDenied(self.op);
        }
        Error::Kernel(KernelError {
            op: self.op,
            errno,
            culprit: ack.ext.culprit(self.request, self.set),
            message: ack.ext.message,
        })
    }

    fn malformed(&self, why: String) -> Error {
        Error::Malformed { op: self.op, why }
    }
}

#[cfg(test)]
mod tests {
    use super::{Error, Exchange, Set, Step};
    use crate::error::Culprit;
    use crate::testbytes::*;
    use crate::wire::{attrs, Builder, NLM_F_ACK, NLM_F_DUMP};
    use ringgate_uapi as uapi;

    const FAMILY: u16 = 0x1c;
    const SEQ: u32 = 7;
    const PORT: u32 = 4242;

    fn request(cmd: u8, dump: bool) -> Vec<u8> {
        let flags = if dump {
            NLM_F_DUMP | NLM_F_ACK
        } else {
            NLM_F_ACK
        };
        Builder::genl(FAMILY, flags, cmd, 1).finish(SEQ, PORT)
    }

    fn vip_part(flags: u16, seq: u32, last_octet: u8) -> Vec<u8> {
        genl(
            FAMILY,
            NLM_F_MULTI | flags,
            seq,
            PORT,
            uapi::RINGGATE_CMD_VIP_GET,
            &[nla(uapi::RINGGATE_A_VIP_ADDR, &[10, 0, 0, last_octet])],
        )
    }

    /// Feeds the datagrams in turn, collecting the last octet of each
    /// VIP handed over; returns the steps and what was collected.
    fn run(request: &[u8], datagrams: &[Vec<u8>]) -> (Vec<Result<Step, Error>>, Vec<u8>) {
        let mut exchange = Exchange::new("vip-get", request, Some(Set::VIP));
        let mut seen = Vec::new();
        let mut steps = Vec::new();
        for d in datagrams {
            steps.push(exchange.feed(d, &mut |a| {
                seen.push(attrs(a).next().unwrap().payload[3]);
                Ok(())
            }));
        }
        (steps, seen)
    }

    #[test]
    fn a_dump_ends_at_done() {
        let req = request(uapi::RINGGATE_CMD_VIP_GET, true);
        let first = [vip_part(0, SEQ, 1), vip_part(0, SEQ, 2)].concat();
        let last = [vip_part(0, SEQ, 3), done(0, SEQ, PORT, 0, &[])].concat();
        let (steps, seen) = run(&req, &[first, last]);
        assert!(matches!(steps[0], Ok(Step::More)));
        assert!(matches!(
            steps[1],
            Ok(Step::Finished { interrupted: false })
        ));
        assert_eq!(seen, [1, 2, 3]);
    }

    /// A dump that fails part-way ends with NLMSG_DONE carrying a negative
    /// errno and the kernel's explanation: that is a failure, not a short
    /// list (iproute2 and YNL read it the same way).
    #[test]
    fn a_failed_dump_is_an_error_not_a_short_list() {
        let req = request(uapi::RINGGATE_CMD_VIP_GET, true);
        let datagram = [
            vip_part(0, SEQ, 1),
            done(
                0,
                SEQ,
                PORT,
                -12,
                &[nla(NLMSGERR_ATTR_MSG, b"out of memory in dump\0")],
            ),
        ]
        .concat();
        let (steps, _) = run(&req, &[datagram]);
        match &steps[0] {
            Err(Error::Kernel(k)) => {
                assert_eq!((k.op, k.errno), ("vip-get", 12));
                assert_eq!(k.message.as_deref(), Some("out of memory in dump"));
            }
            other => panic!("a failed dump read as {other:?}"),
        }
    }

    /// The parts flagged NLM_F_DUMP_INTR are read on to NLMSG_DONE, so no
    /// part of this dump is left for the next request (the retry) to trip on.
    #[test]
    fn an_interrupted_dump_is_read_to_done_and_reported() {
        let req = request(uapi::RINGGATE_CMD_VIP_GET, true);
        let first = [vip_part(NLM_F_DUMP_INTR, SEQ, 1), vip_part(0, SEQ, 2)].concat();
        let second = vip_part(NLM_F_DUMP_INTR, SEQ, 3);
        let last = done(NLM_F_DUMP_INTR, SEQ, PORT, 0, &[]);
        let (steps, seen) = run(&req, &[first, second, last]);
        assert!(matches!(steps[0], Ok(Step::More)));
        assert!(matches!(steps[1], Ok(Step::More)));
        assert!(matches!(steps[2], Ok(Step::Finished { interrupted: true })));
        assert_eq!(seen, [1, 2, 3]);
    }

    #[test]
    fn messages_of_an_earlier_request_are_skipped() {
        let req = request(uapi::RINGGATE_CMD_VIP_GET, true);
        let stale = [vip_part(0, SEQ - 1, 9), done(0, SEQ - 1, PORT, 0, &[])].concat();
        let ours = [vip_part(0, SEQ, 1), done(0, SEQ, PORT, 0, &[])].concat();
        let (steps, seen) = run(&req, &[stale, ours]);
        assert!(matches!(steps[0], Ok(Step::More)));
        assert!(matches!(steps[1], Ok(Step::Finished { .. })));
        assert_eq!(seen, [1]);
    }

    #[test]
    fn a_do_request_ends_at_its_ack() {
        let req = request(uapi::RINGGATE_CMD_VIP_GET, false);
        let datagram = [vip_part(0, SEQ, 5), error(SEQ, PORT, 0, &[])].concat();
        let (steps, seen) = run(&req, &[datagram]);
        assert!(matches!(
            steps[0],
            Ok(Step::Finished { interrupted: false })
        ));
        assert_eq!(seen, [5]);
    }

    /// A refusal keeps the kernel's text and names the attribute from the
    /// missing type the kernel reports, through the spec's name table.
    #[test]
    fn a_refusal_keeps_the_kernels_text_and_names_the_attribute() {
        let req = request(uapi::RINGGATE_CMD_BACKEND_SET, false);
        let refusal = error(
            SEQ,
            PORT,
            -22,
            &[
                nla(NLMSGERR_ATTR_MSG, b"required attribute missing\0"),
                nla(NLMSGERR_ATTR_MISS_TYPE, &5u32.to_ne_bytes()), // backend
            ],
        );
        let mut exchange = Exchange::new("backend-set", &req, Some(Set::SERVICE));
        let err = exchange.feed(&refusal, &mut |_| Ok(())).unwrap_err();
        let Error::Kernel(k) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(k.errno, 22);
        assert_eq!(k.message.as_deref(), Some("required attribute missing"));
        assert_eq!(k.culprit, Some(Culprit::Missing("backend".into())));
        assert_eq!(
            err.to_string(),
            "the kernel refused backend-set: required attribute missing (missing attribute backend) (errno 22)"
        );
    }

    #[test]
    fn a_refusal_with_an_offset_names_the_nested_attribute() {
        let mut b = Builder::genl(FAMILY, NLM_F_ACK, uapi::RINGGATE_CMD_BACKEND_SET, 1);
        b.put(uapi::RINGGATE_A_SERVICE_VIP, &[10, 0, 0, 1]).nest(
            uapi::RINGGATE_A_SERVICE_BACKEND,
            |n| {
                n.put_u32(uapi::RINGGATE_A_BACKEND_WEIGHT, 0);
            },
        );
        let req = b.finish(SEQ, PORT);
        // 16 (nlmsghdr) + 4 (genlmsghdr) + 8 (vip) + 4 (the nest's header).
        let refusal = error(
            SEQ,
            PORT,
            -34,
            &[nla(NLMSGERR_ATTR_OFFS, &32u32.to_ne_bytes())],
        );
        let mut exchange = Exchange::new("backend-set", &req, Some(Set::SERVICE));
        match exchange.feed(&refusal, &mut |_| Ok(())) {
            Err(Error::Kernel(k)) => {
                assert_eq!(k.culprit, Some(Culprit::Bad("backend.weight".into())));
                assert_eq!(k.message, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_missing_attribute_in_a_nest_is_named_with_its_nest() {
        let mut b = Builder::genl(FAMILY, NLM_F_ACK, uapi::RINGGATE_CMD_BACKEND_DEL, 1);
        b.put(uapi::RINGGATE_A_SERVICE_VIP, &[10, 0, 0, 1]).nest(
            uapi::RINGGATE_A_SERVICE_BACKEND,
            |n| {
                n.put(uapi::RINGGATE_A_BACKEND_ADDR, &[10, 1, 0, 2]);
            },
        );
        let req = b.finish(SEQ, PORT);
        let refusal = error(
            SEQ,
            PORT,
            -22,
            &[
                nla(NLMSGERR_ATTR_MISS_NEST, &28u32.to_ne_bytes()), // 16 + 4 + 8
                nla(NLMSGERR_ATTR_MISS_TYPE, &2u32.to_ne_bytes()),  // port
            ],
        );
        let mut exchange = Exchange::new("backend-del", &req, Some(Set::SERVICE));
        let err = exchange.feed(&refusal, &mut |_| Ok(())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the kernel refused backend-del: Invalid argument (missing attribute backend.port) (errno 22)"
        );
    }

    #[test]
    fn eperm_asks_for_cap_net_admin() {
        let req = request(uapi::RINGGATE_CMD_COUNTERS_RESET, false);
        let mut exchange = Exchange::new("counters-reset", &req, Some(Set::STATUS));
        let err = exchange
            .feed(&error(SEQ, PORT, -1, &[]), &mut |_| Ok(()))
            .unwrap_err();
        assert!(err.to_string().contains("permission denied"), "{err}");
        assert!(err.to_string().contains("CAP_NET_ADMIN"), "{err}");
    }

    /// A part the caller cannot decode does not stop the reading: the rest
    /// is drained, then the caller's error is returned.
    #[test]
    fn a_decoding_error_still_reads_to_done() {
        let req = request(uapi::RINGGATE_CMD_VIP_GET, true);
        let mut exchange = Exchange::new("vip-get", &req, Some(Set::VIP));
        let mut calls = 0;
        let mut handler = |_: &[u8]| {
            calls += 1;
            Err(Error::Malformed {
                op: "vip-get",
                why: "test".into(),
            })
        };
        let first = [vip_part(0, SEQ, 1), vip_part(0, SEQ, 2)].concat();
        assert!(matches!(
            exchange.feed(&first, &mut handler),
            Ok(Step::More)
        ));
        let last = done(0, SEQ, PORT, 0, &[]);
        assert!(matches!(
            exchange.feed(&last, &mut handler),
            Err(Error::Malformed { .. })
        ));
        assert_eq!(calls, 1);
    }
}
