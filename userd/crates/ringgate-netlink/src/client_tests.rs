//! The client end to end over scripted datagrams: family resolution, dumps
//! raced by changes, failed dumps, refusals, and values this build does not
//! know.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex};

use ringgate_uapi as uapi;

use crate::scripted::{family_answer, Answer, Record, Scripted, FAMILY, PORT};
use crate::testbytes::*;
use crate::{Client, DownPolicy, Error, Proto, Scheduler, ServiceKey, Session, Stage};

fn connect(answers: Vec<Answer>) -> (Client, Arc<Mutex<Record>>) {
    let mut all = vec![family_answer()];
    all.extend(answers);
    let (transport, record) = Scripted::new(all);
    (Client::over(Box::new(transport)).unwrap(), record)
}

fn vip_part(flags: u16, seq: u32, last: u8) -> Vec<u8> {
    genl(
        FAMILY,
        NLM_F_MULTI | flags,
        seq,
        PORT,
        uapi::RINGGATE_CMD_VIP_GET,
        &[
            nla(uapi::RINGGATE_A_VIP_ADDR, &[10, 0, 0, last]),
            nla(uapi::RINGGATE_A_VIP_OWNED, &[1]),
            nla(uapi::RINGGATE_A_VIP_GARP_COUNT, &3u32.to_ne_bytes()),
        ],
    )
}

/// A dump whose every part and end are flagged NLM_F_DUMP_INTR, one
/// datagram each, as when the pool changes under a long dump.
fn raced_vip_dump() -> Answer {
    Box::new(|seq| {
        vec![
            vip_part(NLM_F_DUMP_INTR, seq, 1),
            vip_part(NLM_F_DUMP_INTR, seq, 2),
            vip_part(NLM_F_DUMP_INTR, seq, 3),
            done(NLM_F_DUMP_INTR, seq, PORT, 0, &[]),
        ]
    })
}

fn clean_vip_dump(lasts: &'static [u8]) -> Answer {
    Box::new(move |seq| {
        let mut datagrams: Vec<Vec<u8>> = lasts.iter().map(|l| vip_part(0, seq, *l)).collect();
        datagrams.push(done(0, seq, PORT, 0, &[]));
        datagrams
    })
}

#[test]
fn connect_says_the_module_is_not_loaded_when_the_family_is_unknown() {
    let (transport, _) = Scripted::new(vec![Box::new(|seq| vec![error(seq, PORT, -2, &[])])]);
    let err = Client::over(Box::new(transport)).err().unwrap();
    assert!(matches!(err, Error::ModuleNotLoaded), "{err:?}");
}

/// The raced dump is read to its end before the retry is sent, the retry
/// succeeds, and its answer is the one returned.
#[test]
fn an_interrupted_dump_is_drained_then_retried() {
    let (client, record) = connect(vec![raced_vip_dump(), clean_vip_dump(&[7, 5])]);
    let vips = client.vip_list().unwrap();
    let addrs: Vec<Ipv4Addr> = vips.iter().map(|v| v.addr).collect();
    assert_eq!(
        addrs,
        [Ipv4Addr::new(10, 0, 0, 5), Ipv4Addr::new(10, 0, 0, 7)]
    );
    let record = record.lock().unwrap();
    assert_eq!(record.sent.len(), 3, "getfamily, the raced dump, the retry");
    assert_eq!(
        record.sent_with_unread, 0,
        "a request went out before the last answer was read"
    );
}

/// A dump that never settles gives up after a bounded number of tries, and
/// the error names what kept changing.
#[test]
fn a_dump_that_keeps_changing_gives_up_naming_the_object() {
    let answers = (0..crate::client::DUMP_ATTEMPTS)
        .map(|_| raced_vip_dump())
        .collect();
    let (client, record) = connect(answers);
    let err = client.vip_list().unwrap_err();
    assert_eq!(
        err.to_string(),
        "the VIP pool kept changing while it was being listed (5 attempts); try again"
    );
    assert_eq!(record.lock().unwrap().sent_with_unread, 0);

    let service_dump = |seq| vec![done(NLM_F_DUMP_INTR, seq, PORT, 0, &[])];
    let answers = (0..crate::client::DUMP_ATTEMPTS)
        .map(|_| Box::new(service_dump) as Answer)
        .collect();
    let (client, _) = connect(answers);
    let err = client.services().unwrap_err().to_string();
    assert!(err.starts_with("the service table kept changing"), "{err}");
}

/// A dump failing part-way is an error, and the next request on the same
/// client still gets its own answer.
#[test]
fn a_failed_dump_is_an_error_and_the_client_goes_on() {
    let failed: Answer = Box::new(|seq| {
        vec![
            vip_part(0, seq, 1),
            done(
                0,
                seq,
                PORT,
                -90,
                &[nla(NLMSGERR_ATTR_MSG, b"entry too big\0")],
            ),
        ]
    });
    let (client, _) = connect(vec![failed, clean_vip_dump(&[2])]);
    let err = client.vip_list().unwrap_err();
    assert_eq!(
        err.to_string(),
        "the kernel refused vip-get: entry too big (errno 90)"
    );
    assert_eq!(client.vip_list().unwrap().len(), 1);
}

fn refusal(code: i32, extack: Vec<Vec<u8>>) -> Answer {
    Box::new(move |seq| vec![error(seq, PORT, code, &extack)])
}

fn key() -> ServiceKey {
    ServiceKey {
        vip: Ipv4Addr::new(10, 0, 0, 100),
        port: 80,
        proto: Proto::Tcp,
    }
}

/// The kernel's own words are kept where a fixed text would contradict
/// them: its ENOENT for backend-del may mean the service is missing.
#[test]
fn refusals_keep_the_kernels_explanation() {
    let text = nla(NLMSGERR_ATTR_MSG, b"no such service or back-end\0");
    let (client, _) = connect(vec![refusal(-2, vec![text])]);
    let err = client
        .backend_del(key(), "10.8.0.2:8080".parse().unwrap())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "the kernel refused backend-del: no such service or back-end (errno 2)"
    );
}

/// `service-set`'s ENOENT has two causes, so the kernel's words say which.
#[test]
fn a_service_set_refused_for_a_vip_not_in_the_pool_says_so() {
    let text = nla(
        NLMSGERR_ATTR_MSG,
        b"the service's VIP is not in this namespace's pool\0",
    );
    let (client, _) = connect(vec![refusal(-2, vec![text])]);
    let err = client.service_set(key(), Scheduler::Hash).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the kernel refused service-set: the service's VIP is not in this namespace's pool (errno 2)"
    );
}

/// Making sure a service exists is one request: the kernel's EEXIST means
/// it is there (left as it was), any other refusal is an error.
#[test]
fn ensuring_a_service_is_one_add_and_an_existing_one_is_fine() {
    let exists = nla(NLMSGERR_ATTR_MSG, b"the service already exists\0");
    let (client, record) = connect(vec![
        refusal(-17, vec![exists]),
        refusal(0, vec![]),
        refusal(-2, vec![]),
    ]);
    client.service_ensure(key()).unwrap();
    client.service_ensure(key()).unwrap();
    let err = client.service_ensure(key()).unwrap_err();
    assert!(matches!(err, Error::VipNotInPool(_)), "{err:?}");
    let record = record.lock().unwrap();
    assert_eq!(record.sent.len(), 4, "getfamily and one service-add each");
    for request in &record.sent[1..] {
        // The genetlink command follows the 16-byte netlink header.
        assert_eq!(request[16], uapi::RINGGATE_CMD_SERVICE_ADD);
    }
}

/// A refusal that points at an attribute is about the request's form, so
/// it is not re-labelled as "no such VIP" even though the errno matches.
#[test]
fn a_refusal_naming_an_attribute_is_not_relabelled() {
    let extack = vec![
        nla(NLMSGERR_ATTR_MSG, b"required attribute missing\0"),
        nla(NLMSGERR_ATTR_MISS_TYPE, &1u32.to_ne_bytes()),
    ];
    let plain = vec![nla(
        NLMSGERR_ATTR_MSG,
        b"no such VIP in this namespace's pool\0",
    )];
    let (client, _) = connect(vec![refusal(-2, extack), refusal(-2, plain)]);
    let vip = Ipv4Addr::new(10, 9, 0, 201);
    let err = client.vip_del(vip).unwrap_err().to_string();
    assert!(err.contains("missing attribute addr"), "{err}");
    let err = client.vip_del(vip).unwrap_err();
    assert!(matches!(err, Error::NoSuchVip(v) if v == vip), "{err:?}");
}

fn service_part(seq: u32, proto: u8, scheduler: u32) -> Vec<u8> {
    genl(
        FAMILY,
        NLM_F_MULTI,
        seq,
        PORT,
        uapi::RINGGATE_CMD_SERVICE_GET,
        &[
            nla(uapi::RINGGATE_A_SERVICE_VIP, &[10, 0, 0, 100]),
            nla(uapi::RINGGATE_A_SERVICE_PORT, &80u16.to_ne_bytes()),
            nla(uapi::RINGGATE_A_SERVICE_PROTO, &[proto]),
            nla(uapi::RINGGATE_A_SERVICE_SCHEDULER, &scheduler.to_ne_bytes()),
            nest(
                uapi::RINGGATE_A_SERVICE_BACKENDS,
                &[
                    nla(uapi::RINGGATE_A_BACKEND_ADDR, &[10, 8, 0, 2]),
                    nla(uapi::RINGGATE_A_BACKEND_PORT, &8080u16.to_ne_bytes()),
                    nla(uapi::RINGGATE_A_BACKEND_WEIGHT, &3u32.to_ne_bytes()),
                    nla(uapi::RINGGATE_A_BACKEND_UP, &[1]),
                    nla(uapi::RINGGATE_A_BACKEND_ACTIVE_CONNS, &4u32.to_ne_bytes()),
                    nla(uapi::RINGGATE_A_BACKEND_INACTIVE_CONNS, &0u32.to_ne_bytes()),
                ],
            ),
        ],
    )
}

/// A service with a scheduler and a protocol of a newer module is listed
/// with their numbers, beside the services this build knows all about.
#[test]
fn unknown_schedulers_and_protocols_do_not_fail_the_listing() {
    let dump: Answer = Box::new(|seq| {
        vec![
            service_part(seq, 6, 1),
            service_part(seq, 132, 9),
            done(0, seq, PORT, 0, &[]),
        ]
    });
    let (client, _) = connect(vec![dump]);
    let services = client.services().unwrap();
    assert_eq!(services[0].scheduler, Scheduler::Hash);
    assert_eq!(services[0].backends[0].weight, 3);
    assert_eq!(services[1].scheduler, Scheduler::Unknown(9));
    assert_eq!(services[1].key.proto, Proto::Unknown(132));
    assert_eq!(services[1].key.to_string(), "10.0.0.100:80/132");
    assert_eq!(services[1].scheduler.to_string(), "9");
    let json = serde_json::to_value(&services[1]).unwrap();
    assert_eq!(json["scheduler"], 9);
    assert_eq!(json["proto"], 132);
    assert_eq!(
        serde_json::to_value(&services[0]).unwrap()["scheduler"],
        "hash"
    );
}

fn session_part(seq: u32, stage: u32, with_owner: bool) -> Vec<u8> {
    session_part_flagged(0, seq, stage, with_owner)
}

/// A session dump part with `flags` beside NLM_F_MULTI.
fn session_part_flagged(flags: u16, seq: u32, stage: u32, with_owner: bool) -> Vec<u8> {
    let attrs = session_attrs(stage, with_owner.then_some(7));
    genl(
        FAMILY,
        NLM_F_MULTI | flags,
        seq,
        PORT,
        uapi::RINGGATE_CMD_SESSION_GET,
        &attrs,
    )
}

/// A session dump whose parts and end are flagged NLM_F_DUMP_INTR, as
/// when the table is resized under it.
fn raced_session_dump(parts: usize) -> Answer {
    Box::new(move |seq| {
        let mut datagrams: Vec<Vec<u8>> = (0..parts)
            .map(|_| session_part_flagged(NLM_F_DUMP_INTR, seq, 2, true))
            .collect();
        datagrams.push(done(NLM_F_DUMP_INTR, seq, PORT, 0, &[]));
        datagrams
    })
}

/// The list the daemon builds its announcements from is read again when a
/// resize raced the dump: a raced read may miss a session, and a full
/// announcement missing one tells the peers it has ended.
#[test]
fn a_session_list_raced_by_a_resize_is_read_again() {
    let clean: Answer =
        Box::new(|seq| vec![session_part(seq, 2, true), done(0, seq, PORT, 0, &[])]);
    let (client, record) = connect(vec![raced_session_dump(3), clean]);
    assert_eq!(client.sessions().unwrap().len(), 1);
    let record = record.lock().unwrap();
    assert_eq!(record.sent.len(), 3, "getfamily, the raced dump, the retry");
    assert_eq!(record.sent_with_unread, 0);
}

/// A streamed listing cannot take back what it handed over, so a raced one
/// hands over what came and then says it cannot be trusted.
#[test]
fn a_streamed_session_listing_raced_by_a_resize_is_an_error_after_it() {
    let (client, record) = connect(vec![raced_session_dump(2), clean_vip_dump(&[1])]);
    let mut seen = 0;
    let err = client
        .for_each_session(|_| {
            seen += 1;
            Ok(())
        })
        .unwrap_err();
    assert_eq!(seen, 2);
    assert!(
        matches!(
            err,
            Error::ListingInterrupted {
                what: "session table"
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("list again"), "{err}");
    assert_eq!(client.vip_list().unwrap().len(), 1);
    assert_eq!(record.lock().unwrap().sent_with_unread, 0);
}

#[test]
fn unknown_stages_keep_their_number() {
    let dump: Answer = Box::new(|seq| {
        vec![[
            session_part(seq, uapi::RINGGATE_SESSION_STAGE_ESTABLISHED, true),
            session_part(seq, 12, true),
            done(0, seq, PORT, 0, &[]),
        ]
        .concat()]
    });
    let (client, _) = connect(vec![dump]);
    let sessions = client.sessions().unwrap();
    assert_eq!(sessions[0].stage.to_string(), "established");
    assert_eq!(sessions[1].stage, Stage(12));
    assert_eq!(sessions[1].stage.to_string(), "12");
}

/// A missing attribute is an error naming it, not a silent 0.
#[test]
fn a_missing_attribute_is_named() {
    let dump: Answer = Box::new(|seq| {
        vec![
            session_part(seq, 0, false),
            session_part(seq, 0, true),
            done(0, seq, PORT, 0, &[]),
        ]
    });
    let (client, record) = connect(vec![dump, clean_vip_dump(&[1])]);
    let err = client.sessions().unwrap_err().to_string();
    assert_eq!(err, "malformed reply to session-get: no owner attribute");
    // The rest of that dump was read, so the next request is answered.
    assert_eq!(client.vip_list().unwrap().len(), 1);
    assert_eq!(record.lock().unwrap().sent_with_unread, 0);
}

fn config_reply(seq: u32, policy: u32) -> Vec<Vec<u8>> {
    vec![[
        genl(
            FAMILY,
            0,
            seq,
            PORT,
            uapi::RINGGATE_CMD_CONFIG_GET,
            &[
                nla(uapi::RINGGATE_A_CONFIG_NODE_ID, &3u16.to_ne_bytes()),
                nla(uapi::RINGGATE_A_CONFIG_MAX_SESSIONS, &4096u32.to_ne_bytes()),
                nla(uapi::RINGGATE_A_CONFIG_TIMEOUT_SYN, &5u32.to_ne_bytes()),
                nla(
                    uapi::RINGGATE_A_CONFIG_TIMEOUT_ESTABLISHED,
                    &900u32.to_ne_bytes(),
                ),
                nla(
                    uapi::RINGGATE_A_CONFIG_TIMEOUT_CLOSING,
                    &10u32.to_ne_bytes(),
                ),
                nla(uapi::RINGGATE_A_CONFIG_TIMEOUT_UDP, &30u32.to_ne_bytes()),
                nla(uapi::RINGGATE_A_CONFIG_DOWN_POLICY, &policy.to_ne_bytes()),
            ],
        ),
        error(seq, PORT, 0, &[]),
    ]
    .concat()]
}

/// A down-policy of a newer module is shown by number, not read as "keep".
#[test]
fn an_unknown_down_policy_is_not_read_as_keep() {
    let (client, _) = connect(vec![
        Box::new(|seq| config_reply(seq, 1)),
        Box::new(|seq| config_reply(seq, 5)),
    ]);
    let config = client.config().unwrap();
    assert_eq!((config.node_id, config.timeout_udp), (3, 30));
    assert_eq!(config.down_policy, DownPolicy::Drop);
    let policy = client.config().unwrap().down_policy;
    assert_eq!(policy, DownPolicy::Unknown(5));
    assert_eq!(policy.to_string(), "5");
}

/// Sessions are handed over as their parts arrive; an error from the
/// caller stops the handing over but not the reading.
#[test]
fn sessions_stream_and_an_early_stop_still_drains_the_dump() {
    let dump: Answer = Box::new(|seq| {
        vec![
            session_part(seq, 0, true),
            session_part(seq, 1, true),
            session_part(seq, 2, true),
            done(0, seq, PORT, 0, &[]),
        ]
    });
    let (client, record) = connect(vec![dump, clean_vip_dump(&[1])]);
    let mut seen = 0;
    let err = client
        .for_each_session(|_| {
            seen += 1;
            // Handed over before the rest of the dump was received: the
            // family's answer and this session's part are all that was read.
            assert_eq!(record.lock().unwrap().received, 2);
            Err(Error::Socket("stdout closed".into()))
        })
        .unwrap_err();
    assert_eq!(err.to_string(), "netlink socket: stdout closed");
    assert_eq!(seen, 1);
    assert_eq!(client.vip_list().unwrap().len(), 1);
    assert_eq!(record.lock().unwrap().sent_with_unread, 0);
}

fn status_reply(seq: u32, hook: u32) -> Vec<Vec<u8>> {
    let counters = [
        uapi::RINGGATE_A_STATUS_ARP_SUPPRESSED,
        uapi::RINGGATE_A_STATUS_GARP_SENT,
        uapi::RINGGATE_A_STATUS_SESSIONS,
        uapi::RINGGATE_A_STATUS_SESSIONS_DROPPED,
        uapi::RINGGATE_A_STATUS_SESSIONS_EVICTED,
        uapi::RINGGATE_A_STATUS_NO_BACKEND,
    ];
    let mut attrs = vec![
        nla(uapi::RINGGATE_A_STATUS_VERSION, b"1.2.3\0"),
        nest(
            uapi::RINGGATE_A_STATUS_HOOKS,
            &[
                nla(uapi::RINGGATE_A_HOOK_STATS_HOOK, &hook.to_ne_bytes()),
                nla(uapi::RINGGATE_A_HOOK_STATS_PACKETS, &5u64.to_ne_bytes()),
                nla(uapi::RINGGATE_A_HOOK_STATS_BYTES, &300u32.to_ne_bytes()),
            ],
        ),
    ];
    attrs.extend(counters.iter().map(|k| nla(*k, &1u32.to_ne_bytes())));
    let reply = genl(FAMILY, 0, seq, PORT, uapi::RINGGATE_CMD_STATUS_GET, &attrs);
    vec![[reply, error(seq, PORT, 0, &[])].concat()]
}

/// A hook of a newer module is counted under its number.
#[test]
fn an_unknown_hook_keeps_its_number() {
    let (client, _) = connect(vec![Box::new(|seq| status_reply(seq, 11))]);
    let status = client.status(None).unwrap();
    assert_eq!(status.version, "1.2.3");
    assert_eq!(status.hooks[0].hook.to_string(), "11");
    assert_eq!((status.hooks[0].packets, status.hooks[0].bytes), (5, 300));
    assert_eq!(status.no_backend, 1);
}

fn ack() -> Answer {
    Box::new(|seq| vec![error(seq, PORT, 0, &[])])
}

/// The attributes of the last request sent, after its netlink and generic
/// netlink headers.
fn last_request_attrs(record: &Arc<Mutex<Record>>) -> Vec<u8> {
    record.lock().unwrap().sent.last().unwrap()[20..].to_vec()
}

/// `vip_set` sends only what it changes (a restore sets a garp-count
/// without touching ownership), and `backend_add` can add a back-end
/// drained (a restore of a saved down back-end).
#[test]
fn vip_set_and_backend_add_send_exactly_what_they_are_given() {
    let (client, record) = connect(vec![ack(), ack(), ack()]);
    let vip = Ipv4Addr::new(10, 0, 0, 100);
    client.vip_set(vip, None, Some(5)).unwrap();
    assert_eq!(
        last_request_attrs(&record),
        [
            nla(uapi::RINGGATE_A_VIP_ADDR, &[10, 0, 0, 100]),
            nla(uapi::RINGGATE_A_VIP_GARP_COUNT, &5u32.to_ne_bytes()),
        ]
        .concat()
    );
    client.vip_set(vip, Some(true), None).unwrap();
    assert_eq!(
        last_request_attrs(&record),
        [
            nla(uapi::RINGGATE_A_VIP_ADDR, &[10, 0, 0, 100]),
            nla(uapi::RINGGATE_A_VIP_OWNED, &[1]),
        ]
        .concat()
    );
    client
        .backend_add(key(), "10.8.0.2:8080".parse().unwrap(), None, Some(false))
        .unwrap();
    assert_eq!(
        last_request_attrs(&record),
        [
            nla(uapi::RINGGATE_A_SERVICE_VIP, &[10, 0, 0, 100]),
            nla(uapi::RINGGATE_A_SERVICE_PORT, &80u16.to_ne_bytes()),
            nla(uapi::RINGGATE_A_SERVICE_PROTO, &[6]),
            nest(
                uapi::RINGGATE_A_SERVICE_BACKEND,
                &[
                    nla(uapi::RINGGATE_A_BACKEND_ADDR, &[10, 8, 0, 2]),
                    nla(uapi::RINGGATE_A_BACKEND_PORT, &8080u16.to_ne_bytes()),
                    nla(uapi::RINGGATE_A_BACKEND_UP, &[0]),
                ]
            ),
        ]
        .concat()
    );
}

/// The reply to a `session-import` request.
fn import_answer(imported: u32, refused: u32) -> Answer {
    Box::new(move |seq| {
        let reply = genl(
            FAMILY,
            0,
            seq,
            PORT,
            uapi::RINGGATE_CMD_SESSION_IMPORT,
            &[
                nla(
                    uapi::RINGGATE_A_SESSION_BATCH_IMPORTED,
                    &imported.to_ne_bytes(),
                ),
                nla(
                    uapi::RINGGATE_A_SESSION_BATCH_REFUSED,
                    &refused.to_ne_bytes(),
                ),
            ],
        );
        vec![[reply, error(seq, PORT, 0, &[])].concat()]
    })
}

/// Sessions go in requests of `IMPORT_BATCH`, each session a nest of every
/// attribute, and the replies' counts add up.
#[test]
fn session_import_batches_and_adds_up() {
    let (client, record) = connect(vec![import_answer(128, 0), import_answer(1, 1)]);
    let session = |port: u16| Session {
        proto: Proto::Tcp,
        client: SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 1), port),
        vip: "10.9.0.100:80".parse().unwrap(),
        backend: "10.8.0.2:8080".parse().unwrap(),
        stage: Stage(2),
        expires_ms: 0,
        owner: 3,
        outbound: false,
    };
    let sessions: Vec<Session> = (1..=130).map(session).collect();
    let outcome = client.session_import(&sessions).unwrap();
    assert_eq!((outcome.imported, outcome.refused), (129, 1));
    let sent = &record.lock().unwrap().sent;
    // The family resolution, then two requests.
    assert_eq!(sent.len(), 3);
    let one = session_nest(&sessions[129]);
    assert_eq!(
        sent[2][20..],
        [session_nest(&sessions[128]), one.clone()].concat()
    );
    assert_eq!(sent[1][20..].len(), 128 * one.len());
}

/// A TCP session of the test above as its nest must be: every attribute,
/// and an expiry of 0 sent as the least the module takes.
fn session_nest(s: &Session) -> Vec<u8> {
    let port = s.client.port().to_ne_bytes();
    nest(
        uapi::RINGGATE_A_SESSION_BATCH_SESSION,
        &[
            nla(uapi::RINGGATE_A_SESSION_PROTO, &[6]),
            nla(uapi::RINGGATE_A_SESSION_CLIENT_ADDR, &[10, 9, 0, 1]),
            nla(uapi::RINGGATE_A_SESSION_CLIENT_PORT, &port),
            nla(uapi::RINGGATE_A_SESSION_VIP, &[10, 9, 0, 100]),
            nla(uapi::RINGGATE_A_SESSION_VIP_PORT, &80u16.to_ne_bytes()),
            nla(uapi::RINGGATE_A_SESSION_BACKEND_ADDR, &[10, 8, 0, 2]),
            nla(
                uapi::RINGGATE_A_SESSION_BACKEND_PORT,
                &8080u16.to_ne_bytes(),
            ),
            nla(uapi::RINGGATE_A_SESSION_STAGE, &2u32.to_ne_bytes()),
            nla(uapi::RINGGATE_A_SESSION_EXPIRES_MS, &1u32.to_ne_bytes()),
            nla(uapi::RINGGATE_A_SESSION_OWNER, &3u16.to_ne_bytes()),
        ],
    )
}

/// `peer-set` sends one nest per peer with all three attributes, and an
/// empty table as a request with no attribute (which empties the module's).
#[test]
fn peer_set_sends_a_nest_per_peer_and_an_empty_table_as_no_attribute() {
    let (client, record) = connect(vec![ack(), ack()]);
    let peers = [
        crate::Peer {
            node: 2,
            ifindex: 4,
            mac: [2, 0, 0, 0, 0, 2],
            ports: None,
        },
        crate::Peer {
            node: 3,
            ifindex: 5,
            mac: [2, 0, 0, 0, 1, 3],
            ports: Some(crate::PortRange {
                first: 20000,
                last: 29999,
            }),
        },
    ];
    client.peer_set(&peers).unwrap();
    client.peer_set(&[]).unwrap();
    let sent = &record.lock().unwrap().sent;
    let peer_nest = |p: &crate::Peer| {
        let mut attrs = vec![
            nla(uapi::RINGGATE_A_PEER_NODE_ID, &p.node.to_ne_bytes()),
            nla(uapi::RINGGATE_A_PEER_IFINDEX, &p.ifindex.to_ne_bytes()),
            nla(uapi::RINGGATE_A_PEER_MAC, &p.mac),
        ];
        // A range, when the node has one: both of its ends.
        if let Some(ports) = p.ports {
            attrs.push(nla(
                uapi::RINGGATE_A_PEER_PORT_LO,
                &ports.first.to_ne_bytes(),
            ));
            attrs.push(nla(
                uapi::RINGGATE_A_PEER_PORT_HI,
                &ports.last.to_ne_bytes(),
            ));
        }
        nest(uapi::RINGGATE_A_PEER_TABLE_PEER, &attrs)
    };
    assert_eq!(
        sent[1][20..],
        [peer_nest(&peers[0]), peer_nest(&peers[1])].concat()
    );
    assert_eq!(sent[1][16], uapi::RINGGATE_CMD_PEER_SET);
    assert_eq!(sent[2].len(), 20);
}
