//! The receive loop against the running kernel's own generic netlink
//! controller, which every Linux host has: no module, VM or privilege is
//! needed, and it checks the byte layouts the other tests write by hand
//! against what a real kernel sends (capped acks, extack, multi-part dumps).

use crate::client::Conn;
use crate::error::Error;
use crate::transport::NetlinkSocket;
use crate::wire::{
    attrs, Builder, CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, CTRL_CMD_GETFAMILY, GENL_ID_CTRL,
    NLM_F_ACK, NLM_F_DUMP,
};

/// A connection, or `None` where the host forbids netlink sockets (then
/// there is nothing to check against).
fn conn() -> Option<Conn> {
    match NetlinkSocket::open() {
        Ok(socket) => Some(Conn {
            io: Box::new(socket),
            seq: 0,
        }),
        Err(e) => {
            eprintln!("no netlink socket on this host ({e}); skipped");
            None
        }
    }
}

#[test]
fn the_controllers_family_dump_is_read_to_done() {
    let Some(mut conn) = conn() else { return };
    let request = Builder::genl(GENL_ID_CTRL, NLM_F_DUMP | NLM_F_ACK, CTRL_CMD_GETFAMILY, 1);
    let mut names = Vec::new();
    let interrupted = conn
        .exchange("getfamily", &request, None, &mut |payload| {
            for attr in attrs(payload) {
                if attr.kind == CTRL_ATTR_FAMILY_NAME {
                    names.push(
                        String::from_utf8_lossy(attr.payload)
                            .trim_end_matches('\0')
                            .to_string(),
                    );
                }
            }
            Ok(())
        })
        .unwrap();
    assert!(!interrupted);
    assert!(names.iter().any(|n| n == "nlctrl"), "{names:?}");
    // The socket is left clean: a second request gets its own answer.
    let mut again = Builder::genl(GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY, 1);
    again.put(CTRL_ATTR_FAMILY_NAME, b"nlctrl\0");
    let mut id = None;
    conn.exchange("getfamily", &again, None, &mut |payload| {
        id = attrs(payload)
            .find(|a| a.kind == CTRL_ATTR_FAMILY_ID)
            .map(|a| a.payload.to_vec());
        Ok(())
    })
    .unwrap();
    assert_eq!(id, Some(GENL_ID_CTRL.to_ne_bytes().to_vec()));
}

/// A family id of one byte fails the controller's policy (a u16): the
/// kernel's refusal comes with its extack explanation.
#[test]
fn a_real_refusal_is_read_with_its_explanation() {
    let Some(mut conn) = conn() else { return };
    let mut request = Builder::genl(GENL_ID_CTRL, NLM_F_ACK, CTRL_CMD_GETFAMILY, 1);
    request.put(CTRL_ATTR_FAMILY_ID, &[1]);
    match conn.exchange("getfamily", &request, None, &mut |_| Ok(())) {
        Err(Error::Kernel(k)) => {
            assert!(k.errno > 0, "{k}");
            assert!(k.message.is_some(), "no extack message in {k}");
        }
        other => panic!("a one-byte family id read as {other:?}"),
    }
}
