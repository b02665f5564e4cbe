//! The events subscription over scripted datagrams.

use std::net::{Ipv4Addr, SocketAddrV4};

use ringgate_uapi as uapi;

use crate::events::Event;
use crate::scripted::{family_answer, Scripted, EVENTS_GROUP, FAMILY, SESSIONS_GROUP};
use crate::testbytes::{genl, nla};
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
        &[
            nla(uapi::RINGGATE_A_SESSION_PROTO, &[6]),
            nla(uapi::RINGGATE_A_SESSION_CLIENT_ADDR, &[10, 9, 0, 1]),
            nla(
                uapi::RINGGATE_A_SESSION_CLIENT_PORT,
                &40000u16.to_ne_bytes(),
            ),
            nla(uapi::RINGGATE_A_SESSION_VIP, &[10, 9, 0, 100]),
            nla(uapi::RINGGATE_A_SESSION_VIP_PORT, &80u16.to_ne_bytes()),
            nla(uapi::RINGGATE_A_SESSION_BACKEND_ADDR, &[10, 8, 0, 2]),
            nla(
                uapi::RINGGATE_A_SESSION_BACKEND_PORT,
                &8080u16.to_ne_bytes(),
            ),
            nla(
                uapi::RINGGATE_A_SESSION_STAGE,
                &uapi::RINGGATE_SESSION_STAGE_SYN.to_ne_bytes(),
            ),
            nla(uapi::RINGGATE_A_SESSION_EXPIRES_MS, &60000u32.to_ne_bytes()),
            nla(uapi::RINGGATE_A_SESSION_OWNER, &3u16.to_ne_bytes()),
        ],
    );
    let (io, record) = Scripted::receiving(vec![Ok(new), Err(ENOBUFS)]);
    let mut events = client.session_events_over(Box::new(io)).unwrap();
    assert_eq!(record.lock().unwrap().joined, [SESSIONS_GROUP]);
    assert_eq!(
        events.next_event().unwrap(),
        Event::SessionNew(Session {
            proto: Proto::Tcp,
            client: SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 1), 40000),
            vip: SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 100), 80),
            backend: SocketAddrV4::new(Ipv4Addr::new(10, 8, 0, 2), 8080),
            stage: Stage(uapi::RINGGATE_SESSION_STAGE_SYN),
            expires_ms: 60000,
            owner: 3,
        })
    );
    assert_eq!(events.next_event().unwrap(), Event::Lost);
}
