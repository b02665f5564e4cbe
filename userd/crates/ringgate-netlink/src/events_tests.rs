//! The events subscription over scripted datagrams.

use std::net::{Ipv4Addr, SocketAddrV4};

use ringgate_uapi as uapi;

use crate::events::Event;
use crate::scripted::{family_answer, Scripted, EVENTS_GROUP, FAMILY, SESSIONS_GROUP};
use crate::testbytes::{genl, nla, session_attrs};
use crate::{Client, Proto, Session, Stage};

/// `ENOBUFS` of `errno.h`.
const ENOBUFS: i32 = 105;

fn vip_owner(addr: [u8; 4], owned: u8) -> Vec<u8> {
    genl(
        FAMILY,
        0,
        0,
        0,
        uapi::RINGGATE_CMD_VIP_OWNER_NTF,
        &[
            nla(uapi::RINGGATE_A_VIP_ADDR, &addr),
            nla(uapi::RINGGATE_A_VIP_OWNED, &[owned]),
        ],
    )
}

#[test]
fn notifications_are_decoded_and_an_overflow_reads_as_lost() {
    let (transport, _) = Scripted::new(vec![family_answer()]);
    let client = Client::over(Box::new(transport)).unwrap();
    let full = genl(
        FAMILY,
        0,
        0,
        0,
        uapi::RINGGATE_CMD_SESSIONS_FULL_NTF,
        &[nla(
            uapi::RINGGATE_A_STATUS_SESSIONS_DROPPED,
            &12u64.to_ne_bytes(),
        )],
    );
    let newer = genl(FAMILY, 0, 0, 0, 99, &[]);
    let other_family = genl(FAMILY + 1, 0, 0, 0, 1, &[]);
    let (events_io, record) = Scripted::receiving(vec![
        Ok([vip_owner([10, 0, 0, 100], 1), full].concat()),
        Err(ENOBUFS),
        Ok([other_family, newer, vip_owner([10, 0, 0, 100], 0)].concat()),
    ]);
    let mut events = client.events_over(Box::new(events_io)).unwrap();
    assert_eq!(record.lock().unwrap().joined, [EVENTS_GROUP]);
    let vip = Ipv4Addr::new(10, 0, 0, 100);
    let got: Vec<Event> = (0..5).map(|_| events.next_event().unwrap()).collect();
    assert_eq!(
        got,
        [
            Event::VipOwner {
                addr: vip,
                owned: true
            },
            Event::SessionsFull { dropped: 12 },
            Event::Lost,
            Event::Unknown { cmd: 99 },
            Event::VipOwner {
                addr: vip,
                owned: false
            },
        ]
    );
}

#[test]
fn a_notification_without_its_attributes_is_an_error_naming_them() {
    let bare = genl(FAMILY, 0, 0, 0, uapi::RINGGATE_CMD_VIP_OWNER_NTF, &[]);
    let err = crate::events::decode(FAMILY, &bare)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "malformed reply to vip-owner-ntf: no addr attribute");
}

#[test]
fn session_notifications_come_on_their_own_group_as_sessions() {
    let (transport, _) = Scripted::new(vec![family_answer()]);
    let client = Client::over(Box::new(transport)).unwrap();
    let new = genl(
        FAMILY,
        0,
        0,
        0,
        uapi::RINGGATE_CMD_SESSION_NEW_NTF,
        &session_attrs(uapi::RINGGATE_SESSION_STAGE_UDP, Some(3)),
    );
    let (io, record) = Scripted::receiving(vec![Ok(new), Err(ENOBUFS)]);
    let mut events = client.session_events_over(Box::new(io)).unwrap();
    assert_eq!(record.lock().unwrap().joined, [SESSIONS_GROUP]);
    assert_eq!(
        events.next_event().unwrap(),
        Event::SessionNew(Session {
            proto: Proto::Udp,
            client: SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 1), 40000),
            vip: SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 100), 9000),
            backend: SocketAddrV4::new(Ipv4Addr::new(10, 8, 0, 2), 9000),
            stage: Stage(uapi::RINGGATE_SESSION_STAGE_UDP),
            expires_ms: 1500,
            owner: 3,
            outbound: false,
        })
    );
    assert_eq!(events.next_event().unwrap(), Event::Lost);
}
