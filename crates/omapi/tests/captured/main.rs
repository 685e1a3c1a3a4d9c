//! Replays of real omshell ↔ ISC dhcpd 4.4.3-P1 traffic (see `vectors.rs`).

mod vectors;

use std::net::Ipv4Addr;
use std::time::Instant;

use tandem_omapi::objects::control::{ControlObject, ControlState};
use tandem_omapi::objects::failover_state::{
    hba_for_split, FailoverStateChange, FailoverStateKey, FailoverStateObject, Hierarchy, PeerState,
};
use tandem_omapi::objects::group::GroupObject;
use tandem_omapi::objects::host::{HostChange, HostObject};
use tandem_omapi::objects::lease::{LeaseKey, LeaseObject};
use tandem_omapi::objects::Hardware;
use tandem_omapi::wire::{decode_stream, Decoder, Frame, Intro, Limits, Received};
use tandem_omapi::{
    Action, Attributes, Failure, IscResult, Key, KeyRing, Message, ObjectReply, ObjectRequest,
    ObjectType, Op, Operation, Session, Value,
};
use vectors::*;

const ALL: [&Capture; 16] = [
    &N1_FAILOVER,
    &N2_LEASE_IP,
    &N3_LEASE_NOTFOUND,
    &N4_LEASE_HW,
    &N5_HOST_CREATE,
    &N6_HOST_OPEN_REMOVE,
    &N7_GROUP_CREATE,
    &N8_FAILOVER_NOTFOUND,
    &N9_UNKNOWN_TYPE,
    &N10_HOST_FIXED,
    &N99_CONTROL,
    &K1_FAILOVER,
    &K2_WRONGKEY,
    &K3_NOKEY,
    &K4_UNKNOWNKEY,
    &K99_CONTROL,
];

fn omapi_key() -> Key {
    Key::from_base64("omapi_key", "hmac-md5", "dGFuZGVtLW9tYXBpLWtleQ==").unwrap()
}

fn decode(bytes: &[u8]) -> Vec<Received> {
    let (intro, msgs, left) = decode_stream(bytes).unwrap();
    assert_eq!(intro, Intro::ISC);
    assert_eq!(left, 0);
    msgs
}

fn messages(c: &Capture, dir: Dir) -> Vec<Message> {
    decode(&c.bytes(dir))
        .into_iter()
        .map(|r| r.message)
        .collect()
}

#[test]
fn every_capture_decodes_and_reencodes_to_the_same_bytes() {
    for c in ALL {
        assert!(c.script.contains("connect"), "{}", c.name);
        for dir in [Dir::C, Dir::S] {
            let bytes = c.bytes(dir);
            let msgs = decode(&bytes);
            assert!(!msgs.is_empty(), "{} {dir:?}", c.name);
            // Our encoder writes exactly what omshell and dhcpd wrote.
            let mut again = Intro::ISC.encode().to_vec();
            for r in &msgs {
                again.extend_from_slice(&r.message.encode().unwrap());
            }
            assert_eq!(again, bytes, "{} {dir:?}", c.name);
            // Byte-by-byte feeding gives the same messages.
            let mut d = Decoder::new(Limits::default());
            let mut trickled = Vec::new();
            for b in &bytes {
                d.push(std::slice::from_ref(b));
                while let Some(f) = d.next_frame().unwrap() {
                    if let Frame::Message(r) = f {
                        trickled.push(r);
                    }
                }
            }
            assert_eq!(trickled, msgs, "{} {dir:?}", c.name);
            tandem_omapi::decode_for_fuzz(&bytes);
        }
    }
}

#[test]
fn omshell_open_of_failover_state_decodes_as_expected() {
    let c = messages(&N1_FAILOVER, Dir::C);
    assert_eq!(c.len(), 3);
    assert_eq!(
        c[0],
        Message {
            authid: 0,
            op: Op::Open,
            handle: 0,
            id: 0x6b8b_4567,
            rid: 0,
            message: Attributes::new().with("type", Value::string("failover-state")),
            object: Attributes::new().with("name", Value::string("foo")),
            signature: vec![],
        }
    );
    // `refresh` and `update` use the handle the server gave, and the next ids.
    assert_eq!(
        (c[1].op, c[1].handle, c[1].id),
        (Op::Refresh, 1, 0x6b8b_4568)
    );
    assert!(c[1].object.is_empty());
    assert_eq!(
        (c[2].op, c[2].handle, c[2].id),
        (Op::Update, 1, 0x6b8b_4569)
    );
    // Only what changed since the last answer: `set local-state = 4`, an int.
    assert_eq!(
        c[2].object,
        Attributes::new().with("local-state", Value::int(4))
    );
    let s = messages(&N1_FAILOVER, Dir::S);
    assert_eq!(
        s.iter()
            .map(|m| (m.op, m.handle, m.id, m.rid))
            .collect::<Vec<_>>(),
        vec![
            (Op::Update, 1, 0x771b_0a00, 0x6b8b_4567),
            (Op::Update, 1, 0x771b_0a01, 0x6b8b_4568),
            (Op::Status, 0, 0x771b_0a02, 0x6b8b_4569),
        ]
    );
    assert!(s[0].message.is_empty());
    assert_eq!(
        s[2].message,
        Attributes::new().with("result", Value::int(0))
    );
}

/// What dhcpd reported for `failover peer "foo"` in the captures (state startup before the
/// update), with the addresses as 4 bytes.
fn foo_state(stos: u32, local_state: PeerState) -> FailoverStateObject {
    FailoverStateObject {
        name: "foo".into(),
        partner_address: Ipv4Addr::new(10, 0, 0, 20),
        partner_port: 647,
        local_address: Ipv4Addr::new(10, 0, 0, 10),
        local_port: 647,
        max_outstanding_updates: 10,
        mclt: 1800,
        load_balance_max_secs: 3,
        load_balance_hba: Some(hba_for_split(128)),
        partner_state: PeerState::Unknown,
        local_state,
        partner_stos: i64::from(stos),
        local_stos: i64::from(stos),
        hierarchy: Hierarchy::Primary,
        last_packet_sent: 0,
        last_timestamp_received: 0,
        skew: 0,
        max_response_delay: 30,
        cur_unacked_updates: 0,
    }
}

/// dhcpd 4.4 writes 8 bytes of a pointer as `partner-address` and `local-address`; put the
/// real addresses in their place to compare the rest.
fn fix_addresses(mut m: Message) -> Message {
    for (name, addr) in [
        ("partner-address", Ipv4Addr::new(10, 0, 0, 20)),
        ("local-address", Ipv4Addr::new(10, 0, 0, 10)),
    ] {
        if m.object.contains(name) {
            m.object.set(name, Value::ipv4(addr));
        }
    }
    m.signature.clear();
    m
}

/// Drive a session with the client's segments, answering requests with `app`; returns
/// the bytes the session sent.
fn replay(
    c: &Capture,
    keys: KeyRing,
    xid: u32,
    mut app: impl FnMut(&ObjectRequest) -> ObjectReply,
) -> (Vec<u8>, Vec<ObjectRequest>) {
    let mut s = Session::new(keys).initial_xid(xid);
    let mut out = Vec::new();
    let mut requests = Vec::new();
    let mut run = |actions: Vec<Action>, s: &mut Session, out: &mut Vec<u8>| {
        let mut queue = actions;
        while !queue.is_empty() {
            let mut next = Vec::new();
            for a in queue {
                match a {
                    Action::Send(b) => out.extend_from_slice(&b),
                    Action::Close => panic!("{}: session closed", c.name),
                    Action::Request(r) => {
                        next.extend(s.reply(r.id, app(&r)).unwrap());
                        requests.push(r);
                    }
                }
            }
            queue = next;
        }
    };
    let start = s.start();
    run(start, &mut s, &mut out);
    for (dir, hex) in c.segments {
        if *dir == Dir::C {
            let actions = s.handle(Instant::now(), &unhex(hex));
            run(actions, &mut s, &mut out);
        }
    }
    assert_eq!(s.pending_requests(), 0);
    (out, requests)
}

fn first_server_id(c: &Capture) -> u32 {
    messages(c, Dir::S)[0].id
}

#[test]
fn session_replays_the_failover_state_script() {
    let stos = 0x6b02_5b29;
    let mut state = foo_state(stos, PeerState::Startup);
    let (out, reqs) = replay(
        &N1_FAILOVER,
        KeyRing::none(),
        first_server_id(&N1_FAILOVER),
        |r| match &r.operation {
            Operation::Open { values, .. } => {
                let key = FailoverStateKey::from_values(values).unwrap();
                assert_eq!(key.name.as_deref(), Some(&b"foo"[..]));
                ObjectReply::Object {
                    handle: 1,
                    values: state.to_values(),
                }
            }
            Operation::Refresh { .. } => ObjectReply::Object {
                handle: 1,
                values: state.to_values(),
            },
            Operation::Update { values, .. } => {
                let change = FailoverStateChange::from_values(values).unwrap();
                state.local_state = change.local_state.unwrap();
                ObjectReply::Done
            }
            Operation::Delete { .. } => panic!("no delete in this script"),
        },
    );
    assert_eq!(
        reqs.iter().map(|r| r.operation.clone()).collect::<Vec<_>>(),
        vec![
            Operation::Open {
                object_type: ObjectType::FailoverState,
                values: Attributes::new().with("name", Value::string("foo")),
                create: false,
                update: false,
                exclusive: false,
            },
            Operation::Refresh {
                handle: 1,
                object_type: Some(ObjectType::FailoverState),
            },
            Operation::Update {
                handle: 1,
                object_type: Some(ObjectType::FailoverState),
                values: Attributes::new().with("local-state", Value::int(4)),
            },
        ]
    );
    assert_eq!(reqs[0].key, None);
    assert_eq!(state.local_state, PeerState::PartnerDown);
    let ours: Vec<Message> = decode(&out).into_iter().map(|r| r.message).collect();
    let isc: Vec<Message> = messages(&N1_FAILOVER, Dir::S)
        .into_iter()
        .map(fix_addresses)
        .collect();
    assert_eq!(ours, isc);
    // Apart from the addresses (4 bytes each here, 8 in dhcpd's two update messages).
    assert_eq!(out.len() + 2 * 2 * 4, N1_FAILOVER.bytes(Dir::S).len());
}

#[test]
fn session_reproduces_isc_bytes_for_deterministic_scripts() {
    let lease = LeaseObject {
        state: 2,
        ip_address: Ipv4Addr::new(10, 0, 0, 100),
        client_identifier: vec![1, 2, 0, 0, 0, 1, 1],
        client_hostname: Some("c1".into()),
        host: None,
        subnet: 3,
        pool: 4,
        billing_class: None,
        hardware: Some(Hardware {
            htype: 1,
            address: vec![2, 0, 0, 0, 1, 1],
        }),
        ends: 0x70e1_ab20,
        starts: 0x6596_81a0,
        tstp: 0x70e1_ab20,
        tsfp: 0,
        atsfp: 0,
        cltt: 0x6596_81a0,
        flags: 0,
        variables: vec![],
    };
    let lease_app = |r: &ObjectRequest| match &r.operation {
        Operation::Open {
            object_type: ObjectType::Lease,
            values,
            ..
        } => {
            let key = LeaseKey::from_values(values).unwrap();
            let hit = key.ipv4() == Some(lease.ip_address)
                || key.hardware.as_ref() == lease.hardware.as_ref();
            if hit {
                ObjectReply::Object {
                    handle: 2,
                    values: lease.to_values(),
                }
            } else {
                ObjectReply::Failed(Failure::no_match())
            }
        }
        other => panic!("unexpected {other:?}"),
    };
    for c in [&N2_LEASE_IP, &N3_LEASE_NOTFOUND, &N4_LEASE_HW] {
        let (out, _) = replay(c, KeyRing::none(), first_server_id(c), lease_app);
        assert_eq!(out, c.bytes(Dir::S), "{}", c.name);
    }

    // Host create, then open by name and remove.
    let h1 = HostObject {
        ip_address: Some(vec![10, 0, 0, 60]),
        client_identifier: None,
        name: Some("h1".into()),
        hardware: Some(Hardware {
            htype: 1,
            address: vec![2, 0, 0, 0, 3, 3],
        }),
    };
    let (out, reqs) = replay(
        &N5_HOST_CREATE,
        KeyRing::none(),
        first_server_id(&N5_HOST_CREATE),
        |r| {
            let Operation::Open {
                object_type: ObjectType::Host,
                values,
                create: true,
                update: false,
                exclusive: true,
            } = &r.operation
            else {
                panic!("{r:?}")
            };
            let change = HostChange::from_values(values).unwrap();
            change.check_identified().unwrap();
            assert_eq!(change.ip_address, Some(Some(vec![10, 0, 0, 60])));
            ObjectReply::Object {
                handle: 5,
                values: h1.to_values(),
            }
        },
    );
    assert_eq!(reqs.len(), 1);
    assert_eq!(out, N5_HOST_CREATE.bytes(Dir::S));
    let (out, reqs) = replay(
        &N6_HOST_OPEN_REMOVE,
        KeyRing::none(),
        first_server_id(&N6_HOST_OPEN_REMOVE),
        |r| match r.operation {
            Operation::Open { .. } => ObjectReply::Object {
                handle: 5,
                values: h1.to_values(),
            },
            Operation::Delete {
                handle: 5,
                object_type: Some(ObjectType::Host),
            } => ObjectReply::Done,
            _ => panic!("{r:?}"),
        },
    );
    assert_eq!(reqs.len(), 2);
    assert_eq!(out, N6_HOST_OPEN_REMOVE.bytes(Dir::S));

    let fixed1 = HostObject {
        ip_address: Some(vec![10, 0, 0, 50]),
        client_identifier: None,
        name: Some("fixed1".into()),
        hardware: Some(Hardware {
            htype: 1,
            address: vec![2, 0, 0, 0, 2, 2],
        }),
    };
    let (out, _) = replay(
        &N10_HOST_FIXED,
        KeyRing::none(),
        first_server_id(&N10_HOST_FIXED),
        |_| ObjectReply::Object {
            handle: 7,
            values: fixed1.to_values(),
        },
    );
    assert_eq!(out, N10_HOST_FIXED.bytes(Dir::S));

    let (out, _) = replay(
        &N7_GROUP_CREATE,
        KeyRing::none(),
        first_server_id(&N7_GROUP_CREATE),
        |_| ObjectReply::Object {
            handle: 6,
            values: GroupObject { name: "g1".into() }.to_values(),
        },
    );
    assert_eq!(out, N7_GROUP_CREATE.bytes(Dir::S));

    let (out, _) = replay(
        &N8_FAILOVER_NOTFOUND,
        KeyRing::none(),
        first_server_id(&N8_FAILOVER_NOTFOUND),
        |_| ObjectReply::Failed(Failure::no_match()),
    );
    assert_eq!(out, N8_FAILOVER_NOTFOUND.bytes(Dir::S));

    // An unknown type is a refresh of handle 0: the session answers alone.
    let (out, reqs) = replay(
        &N9_UNKNOWN_TYPE,
        KeyRing::none(),
        first_server_id(&N9_UNKNOWN_TYPE),
        |r| panic!("{r:?}"),
    );
    assert!(reqs.is_empty());
    assert_eq!(out, N9_UNKNOWN_TYPE.bytes(Dir::S));

    let (out, _) = replay(
        &N99_CONTROL,
        KeyRing::none(),
        first_server_id(&N99_CONTROL),
        control_app,
    );
    assert_eq!(out, N99_CONTROL.bytes(Dir::S));
}

fn control_app(r: &ObjectRequest) -> ObjectReply {
    match &r.operation {
        Operation::Open {
            object_type: ObjectType::Control,
            ..
        } => ObjectReply::Object {
            handle: 8,
            values: ControlObject {
                state: ControlState::Startup,
            }
            .to_values(),
        },
        Operation::Update {
            handle: 8, values, ..
        } => {
            assert_eq!(
                tandem_omapi::objects::control::shutdown_requested(values),
                Ok(true)
            );
            ObjectReply::Done
        }
        _ => panic!("{r:?}"),
    }
}

#[test]
fn captured_signatures_verify_with_the_known_secret() {
    let key = omapi_key();
    let wrong = Key::from_base64("omapi_key", "hmac-md5", "d3Jvbmctc2VjcmV0LWtleQ==").unwrap();
    let mut signed = 0;
    for c in [&K1_FAILOVER, &K99_CONTROL] {
        for dir in [Dir::C, Dir::S] {
            for r in decode(&c.bytes(dir)) {
                let m = &r.message;
                if m.authid == 0 {
                    assert!(m.signature.is_empty());
                    continue;
                }
                signed += 1;
                assert_eq!(m.authid, 1);
                assert_eq!(m.signature.len(), 16);
                assert!(key.verify(&r.signed, &m.signature), "{} {dir:?}", c.name);
                assert!(!wrong.verify(&r.signed, &m.signature));
                let mut tampered = r.signed.clone();
                if let Some(b) = tampered.last_mut() {
                    *b ^= 1;
                }
                assert!(!key.verify(&tampered, &m.signature));
                // Signing the decoded message gives the captured bytes.
                let mut unsigned = m.clone();
                unsigned.signature.clear();
                assert_eq!(
                    unsigned.encode_signed(1, &key).unwrap(),
                    m.encode().unwrap(),
                    "{} {dir:?}",
                    c.name
                );
            }
        }
    }
    assert_eq!(signed, 8);
    // The wrong-key capture: omshell signed with the other secret.
    let c = messages(&K2_WRONGKEY, Dir::C);
    let r = decode(&K2_WRONGKEY.bytes(Dir::C)).remove(1);
    assert_eq!(c[1].authid, 1);
    assert!(!key.verify(&r.signed, &r.message.signature));
    assert!(wrong.verify(&r.signed, &r.message.signature));
}

#[test]
fn keyed_session_replays_omshell_with_key() {
    // The authenticator open, then signed requests answered with signed replies.
    let (out, reqs) = replay(
        &K99_CONTROL,
        KeyRing::required(omapi_key()),
        first_server_id(&K99_CONTROL),
        |r| {
            assert_eq!(r.key.as_deref(), Some("omapi_key"));
            match &r.operation {
                Operation::Open { .. } => ObjectReply::Object {
                    handle: 3,
                    values: ControlObject {
                        state: ControlState::Startup,
                    }
                    .to_values(),
                },
                Operation::Update { handle: 3, .. } => ObjectReply::Done,
                _ => panic!("{r:?}"),
            }
        },
    );
    assert_eq!(reqs.len(), 2);
    assert_eq!(out, K99_CONTROL.bytes(Dir::S), "signed replies differ");

    let stos = 0x6b02_5b4e;
    let state = foo_state(stos, PeerState::Startup);
    let (out, _) = replay(
        &K1_FAILOVER,
        KeyRing::required(omapi_key()),
        first_server_id(&K1_FAILOVER),
        |r| match &r.operation {
            Operation::Open { .. } => ObjectReply::Object {
                handle: 2,
                values: state.to_values(),
            },
            Operation::Update { .. } => ObjectReply::Done,
            _ => panic!("{r:?}"),
        },
    );
    let ours = decode(&out);
    let isc = decode(&K1_FAILOVER.bytes(Dir::S));
    assert_eq!(ours.len(), 3);
    for (o, i) in ours.iter().zip(&isc) {
        // Every signed reply verifies; the failover values differ only in the addresses.
        if o.message.authid != 0 {
            assert!(omapi_key().verify(&o.signed, &o.message.signature));
        }
        assert_eq!(
            fix_addresses(o.message.clone()),
            fix_addresses(i.message.clone())
        );
    }
    assert_eq!(
        ours[2].message.encode().unwrap(),
        isc[2].message.encode().unwrap()
    );
}

#[test]
fn keyed_session_refuses_like_dhcpd() {
    for (c, keys) in [
        // Signed with another secret: unsigned status DHCP_R_INVALIDKEY.
        (&K2_WRONGKEY, KeyRing::required(omapi_key())),
        // No key at all: DHCP_R_NOKEYS "No authenticator on message".
        (&K3_NOKEY, KeyRing::required(omapi_key())),
        // A key the server does not know: not found.
        (&K4_UNKNOWNKEY, KeyRing::required(omapi_key())),
    ] {
        let (out, reqs) = replay(c, keys, first_server_id(c), |r| panic!("{r:?}"));
        assert!(reqs.is_empty(), "{}", c.name);
        assert_eq!(out, c.bytes(Dir::S), "{}", c.name);
    }
    let s = messages(&K2_WRONGKEY, Dir::S);
    assert_eq!(
        s[1].message.get("result"),
        Some(&Value::int(IscResult::INVALIDKEY.0))
    );
    let s = messages(&K3_NOKEY, Dir::S);
    assert_eq!(
        s[0].message.get("result"),
        Some(&Value::int(IscResult::NOKEYS.0))
    );
}

#[test]
fn a_declared_key_that_is_not_the_omapi_key_cannot_be_selected() {
    let other = Key::from_base64("omapi_key", "hmac-md5", "Zm9vYmFy").unwrap();
    let ddns = Key::from_base64("ddns", "hmac-md5", "Zm9vYmFy").unwrap();
    let ring = KeyRing::new(vec![ddns, other], Some("ddns")).unwrap();
    let mut s = Session::new(ring);
    // omshell's authenticator open for omapi_key (from the capture).
    let client = K1_FAILOVER.bytes(Dir::C);
    let first = &client[..8 + 110];
    let out: Vec<u8> = s
        .handle(Instant::now(), first)
        .into_iter()
        .flat_map(|a| match a {
            Action::Send(b) => b,
            other => panic!("{other:?}"),
        })
        .collect();
    let m = &decode(&out)[0].message;
    assert_eq!(m.op, Op::Status);
    assert_eq!(
        m.message.get("result"),
        Some(&Value::int(IscResult::INVALIDKEY.0))
    );
}

#[test]
fn segments_split_anywhere_give_the_same_requests() {
    let client = N6_HOST_OPEN_REMOVE.bytes(Dir::C);
    for cut in 0..=client.len() {
        let mut s = Session::new(KeyRing::none());
        let mut reqs = Vec::new();
        for part in [&client[..cut], &client[cut..]] {
            for a in s.handle(Instant::now(), part) {
                if let Action::Request(r) = a {
                    reqs.push(r.operation);
                }
            }
        }
        // The delete names handle 5, which this session never handed out, so it has no type.
        assert_eq!(reqs.len(), 2, "cut {cut}");
        assert!(matches!(
            reqs[1],
            Operation::Delete {
                handle: 5,
                object_type: None
            }
        ));
    }
}
