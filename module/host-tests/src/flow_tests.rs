// SPDX-License-Identifier: GPL-2.0

//! A session's two flows: the client's, and the back-end's answer to it as
//! translated, which is the key of the session's other entry.

use crate::flow::{FlowKey, Rewrite};

const CLIENT: u32 = 0x0100_000a;
const VIP: u32 = 0x6400_090a;
const BACKEND: u32 = 0x0200_080a;

fn client_to_vip() -> FlowKey {
    FlowKey {
        proto: 6,
        saddr: CLIENT,
        sport: 40000u16.to_be(),
        daddr: VIP,
        dport: 80u16.to_be(),
    }
}

#[test]
fn reversing_twice_gives_the_flow_back() {
    let flow = client_to_vip();
    let back = flow.reversed();
    assert_eq!((back.saddr, back.sport), (VIP, 80u16.to_be()));
    assert_eq!((back.daddr, back.dport), (CLIENT, 40000u16.to_be()));
    assert_eq!(back.reversed(), flow);
}

#[test]
fn the_backends_answer_is_the_translated_flow_reversed() {
    let to_backend = Rewrite {
        source: false,
        addr: BACKEND,
        port: 8080u16.to_be(),
    };
    let answer = to_backend.applied_to(&client_to_vip()).reversed();
    assert_eq!((answer.saddr, answer.sport), (BACKEND, 8080u16.to_be()));
    assert_eq!((answer.daddr, answer.dport), (CLIENT, 40000u16.to_be()));
    // The answer, translated back to the VIP and reversed, is the client's
    // flow again: the two entries name each other.
    let to_client = Rewrite {
        source: true,
        addr: VIP,
        port: 80u16.to_be(),
    };
    assert_eq!(to_client.applied_to(&answer).reversed(), client_to_vip());
}
