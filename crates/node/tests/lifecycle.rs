//! Lease life cycle across the pair (expiry, partner-down), effect order,
//! and a hub with two relationships.

mod common;

use std::net::{Ipv4Addr, SocketAddrV4};

use common::*;
use tandem_failover::message::{Body, FrameDecoder};
use tandem_lease::{BindingState, Record};
use tandem_node::{Effect, FailoverState, Input, Node, Now, RxMeta};
use tandem_wire::MessageType;

const MCLT: u64 = 1800;

fn normal_pair() -> Pair {
    let mut pair = Pair::mission();
    pair.advance_until(120, Pair::both_normal);
    pair
}

fn invariants(pair: &Pair) {
    for s in &pair.sides {
        if let Some(n) = &s.node {
            n.engine()
                .check_invariants()
                .expect("lease table consistent");
        }
    }
}

fn is_bndupd(bytes: &[u8]) -> bool {
    let mut d = FrameDecoder::new();
    d.push(bytes);
    matches!(d.next_message(), Ok(Some(m)) if matches!(m.body, Body::BndUpd(_)))
}

#[test]
fn ack_then_bndupd_inside_the_commit() {
    let mut pair = normal_pair();
    let mac = MAC_PRIMARY;
    let mut d = client(MessageType::Discover, mac, 1);
    d.secs = 0;
    let offer = pair.packet(P, &d).pop().expect("offer");
    let r = with(
        with(
            client(MessageType::Request, mac, 1),
            50,
            &offer.yiaddr.octets(),
        ),
        54,
        offer.options.get(54).expect("sid"),
    );
    let now = pair.now();
    let rx = RxMeta {
        ifindex: IFINDEX,
        src: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
        dst: Ipv4Addr::BROADCAST,
    };
    let effects = pair.sides[P].node.as_mut().expect("up").handle(
        now,
        Input::Packet {
            rx,
            bytes: r.encode(),
        },
    );
    // Exactly: ... Persist { [lease], then: [.., Reply(ACK), .., PeerSend(BNDUPD)] }.
    let (records, then) = effects
        .iter()
        .find_map(|e| match e {
            Effect::Persist { records, then, .. } => Some((records, then)),
            _ => None,
        })
        .expect("the ACK is held behind a Persist");
    assert!(records
        .iter()
        .any(|r| matches!(r, Record::Lease(l) if l.addr == offer.yiaddr
            && l.binding_state == BindingState::Active)));
    let reply = then
        .iter()
        .position(|e| matches!(e, Effect::Reply { .. }))
        .expect("ACK in then");
    let update = then
        .iter()
        .position(|e| matches!(e, Effect::PeerSend { bytes, .. } if is_bndupd(bytes)))
        .expect("BNDUPD in then");
    assert!(reply < update, "the client's ACK goes first");
    // No BNDUPD anywhere outside the commit.
    assert!(!effects
        .iter()
        .any(|e| matches!(e, Effect::PeerSend { bytes, .. } if is_bndupd(bytes))));
    pair.apply(P, effects);
    pair.settle();
    assert_eq!(
        pair.sides[S].lease(offer.yiaddr).map(|l| l.binding_state),
        Some(BindingState::Active)
    );
}

#[test]
fn expiry_goes_through_the_primary_and_its_ack() {
    let mut pair = normal_pair();
    let ack = pair.dora(P, MAC_PRIMARY, 0).expect("ack");
    let addr = ack.yiaddr;
    let ends = pair.sides[P].lease(addr).expect("lease").ends;
    // Just past `ends`: the secondary (normal) does not expire it itself.
    pair.advance(ends - pair.wall);
    pair.advance_until(5, |p| {
        p.sides[P].lease(addr).map(|l| l.binding_state) == Some(BindingState::Free)
    });
    // The primary sent EXPIRED, the secondary stored it as FREE and acked,
    // the ack freed the lease on the primary.
    assert_eq!(
        pair.sides[S].lease(addr).map(|l| l.binding_state),
        Some(BindingState::Free)
    );
    let on_disk = pair.sides[P]
        .db()
        .leases
        .get(&addr)
        .map(|l| l.binding_state);
    assert_eq!(on_disk, Some(BindingState::Free));
    invariants(&pair);
    assert_bndupds_durable(&pair.sides[P]);
}

#[test]
fn freed_lease_of_a_secondary_client_moves_to_backup() {
    let mut pair = normal_pair();
    // The primary serves the secondary's client once it waited long enough.
    let mac = mac_for(false, 0);
    let ack = pair.dora(P, mac, 10).expect("ack");
    let addr = ack.yiaddr;
    pair.advance(MCLT + 5);
    // MAC affinity (`fo.c:5620-5668`): freed, then handed to the secondary.
    for s in &pair.sides {
        assert_eq!(
            s.lease(addr).map(|l| l.binding_state),
            Some(BindingState::Backup),
            "{}",
            s.name
        );
    }
    invariants(&pair);
}

#[test]
fn partner_down_frees_ended_leases_after_mclt() {
    let mut pair = normal_pair();
    let ack = pair.dora(P, MAC_PRIMARY, 0).expect("ack");
    let addr = ack.yiaddr;
    pair.crash(S);
    pair.advance_until(60, |p| {
        p.sides[P].state() == FailoverState::CommunicationsInterrupted
    });
    // Ended while communications are interrupted: EXPIRED, waiting for an
    // ack that cannot come.
    pair.advance(MCLT);
    assert_eq!(
        pair.sides[P].lease(addr).map(|l| l.binding_state),
        Some(BindingState::Expired)
    );
    let down_at = pair.wall;
    let before = pair.sides[P].lease(addr).expect("lease").clone();
    pair.input(
        P,
        Input::SetLocalState {
            peer: "foo".into(),
            state: FailoverState::PartnerDown,
        },
    );
    // Partner-down (draft-12 §7.1.5, stricter than ISC's `stos + MCLT`):
    // tsfp = max(ends, potential expirations, stos) + MCLT, never lower;
    // FREE once that has passed. The secondary acked a potential
    // expiration beyond `down_at` here, so ISC's value would be too early.
    let reuse_at = before.ends.max(before.tsfp).max(before.tstp).max(down_at) + MCLT;
    assert!(before.tsfp > down_at, "scenario: acked tsfp after stos");
    let l = pair.sides[P].lease(addr).expect("lease");
    assert_eq!(l.tsfp, reuse_at);
    assert!(l.tsfp >= before.tsfp);
    pair.advance(reuse_at - pair.wall - 10);
    assert_eq!(
        pair.sides[P].lease(addr).map(|l| l.binding_state),
        Some(BindingState::Expired)
    );
    pair.advance(20);
    assert_eq!(
        pair.sides[P].lease(addr).map(|l| l.binding_state),
        Some(BindingState::Free)
    );
    invariants(&pair);
}

#[test]
fn secondary_expires_actives_itself_when_not_cooperating() {
    let mut pair = normal_pair();
    let ack = pair.dora(S, MAC_SECONDARY, 0).expect("ack");
    let addr = ack.yiaddr;
    let ends = pair.sides[S].lease(addr).expect("lease").ends;
    // The link dies just before `ends`: the lease ends while the secondary
    // still believes it is in normal, so it waits ...
    pair.advance(ends - pair.wall - 5);
    pair.crash(P);
    pair.advance(10);
    assert_eq!(pair.sides[S].state(), FailoverState::Normal);
    assert_eq!(
        pair.sides[S].lease(addr).map(|l| l.binding_state),
        Some(BindingState::Active)
    );
    invariants(&pair);
    // ... until its receive timer ends normal.
    pair.advance(30);
    assert_eq!(
        pair.sides[S].state(),
        FailoverState::CommunicationsInterrupted
    );
    assert_eq!(
        pair.sides[S].lease(addr).map(|l| l.binding_state),
        Some(BindingState::Expired)
    );
    invariants(&pair);
}

const HUB: &str = r#"
failover peer "a" {
  primary; address 10.9.0.1; peer address 10.9.0.2; mclt 600; split 128;
}
failover peer "b" {
  primary; address 10.9.0.1; port 648; peer address 10.9.0.3; mclt 600; split 128;
}
subnet 10.9.0.0 netmask 255.255.255.0 { range 10.9.0.100 10.9.0.110; }
subnet 10.1.0.0 netmask 255.255.255.0 {
  pool { failover peer "a"; range 10.1.0.100 10.1.0.110; }
}
subnet 10.2.0.0 netmask 255.255.255.0 {
  pool { failover peer "b"; range 10.2.0.100 10.2.0.110; }
}
"#;

fn relayed(net: u8, mac: [u8; 6]) -> Input {
    let mut d = client(MessageType::Discover, mac, 5);
    d.giaddr = Ipv4Addr::new(10, net, 0, 1);
    Input::Packet {
        rx: RxMeta {
            ifindex: IFINDEX,
            src: SocketAddrV4::new(d.giaddr, 67),
            dst: Ipv4Addr::new(10, 9, 0, 1),
        },
        bytes: d.encode(),
    }
}

fn offers(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::Reply { .. }))
        .count()
}

#[test]
fn hub_with_two_relationships_dispatches_by_pool() {
    let now = Now {
        wall: T0,
        mono_ms: 0,
    };
    let (mut hub, startup) = Node::new(
        parse(HUB),
        vec![interface(Ipv4Addr::new(10, 9, 0, 1))],
        Default::default(),
        &|_| None,
        now,
    )
    .expect("hub");
    let listens = hub.listens();
    assert_eq!(listens.len(), 2);
    assert_eq!(listens[0].local, "10.9.0.1:647".parse().expect("addr"));
    assert_eq!(listens[1].local, "10.9.0.1:648".parse().expect("addr"));
    assert_eq!(listens[1].remote_addr, Ipv4Addr::new(10, 9, 0, 3));
    let connects: Vec<usize> = startup
        .iter()
        .flat_map(|e| match e {
            Effect::Persist { then, .. } => then.clone(),
            e => vec![e.clone()],
        })
        .filter_map(|e| match e {
            Effect::PeerConnect { peer, remote, .. } => {
                assert_eq!(remote.port(), 647);
                Some(peer)
            }
            _ => None,
        })
        .collect();
    assert_eq!(connects, vec![0, 1]);
    assert!(hub.next_timeout().is_some());
    // The pool without failover is served at once; the failover pools not
    // while their relationships start up.
    let local = client(MessageType::Discover, mac_for(true, 0), 1);
    let rx = RxMeta {
        ifindex: IFINDEX,
        src: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68),
        dst: Ipv4Addr::BROADCAST,
    };
    let e = hub.handle(
        now,
        Input::Packet {
            rx,
            bytes: local.encode(),
        },
    );
    assert_eq!(offers(&e), 1);
    assert_eq!(offers(&hub.handle(now, relayed(1, mac_for(true, 1)))), 0);
    assert_eq!(offers(&hub.handle(now, relayed(2, mac_for(true, 2)))), 0);
    // Partner-down on "a" only: a's pool answers, b's does not.
    hub.handle(
        now,
        Input::SetLocalState {
            peer: "a".into(),
            state: FailoverState::PartnerDown,
        },
    );
    let infos = hub.peer_infos();
    assert_eq!(infos[0].name, "a");
    assert_eq!(infos[0].local_state, FailoverState::PartnerDown);
    assert_eq!(infos[1].local_state, FailoverState::Startup);
    assert_eq!(infos[1].local_port, 648);
    assert_eq!(infos[1].mclt, 600);
    assert_eq!(offers(&hub.handle(now, relayed(1, mac_for(true, 3)))), 1);
    assert_eq!(offers(&hub.handle(now, relayed(2, mac_for(true, 4)))), 0);
    // The rewrite carries both state records.
    let states: Vec<String> = hub
        .leases_for_rewrite()
        .into_iter()
        .filter_map(|r| match r {
            Record::FailoverState(f) => Some(f.peer),
            _ => None,
        })
        .collect();
    assert_eq!(states, vec!["a".to_owned(), "b".to_owned()]);
    // Reload: unchanged blocks keep running silently; a changed one is
    // reported.
    let e = hub.reload(parse(HUB), now).expect("reload");
    assert!(!e
        .iter()
        .any(|e| matches!(e, Effect::Log { message, .. } if message.contains("restarted"))));
    let changed = HUB.replacen("mclt 600", "mclt 900", 1);
    let e = hub.reload(parse(&changed), now).expect("reload");
    let notes: Vec<&String> = e
        .iter()
        .filter_map(|e| match e {
            Effect::Log { message, .. } if message.contains("restarted") => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(notes.len(), 1);
    assert!(notes[0].starts_with("failover peer a:"), "{notes:?}");
    assert_eq!(hub.peer_infos()[0].mclt, 600);
}

#[test]
fn frames_split_into_single_bytes_are_reassembled() {
    let mut pair = Pair::mission();
    pair.trickle = true;
    pair.advance_until(120, Pair::both_normal);
    let ack = pair.dora(P, MAC_PRIMARY, 0).expect("ack");
    assert_eq!(
        pair.sides[S].lease(ack.yiaddr).map(|l| l.binding_state),
        Some(BindingState::Active)
    );
}

#[test]
fn garbage_on_the_link_drops_the_connection() {
    let mut pair = normal_pair();
    assert!(pair.sides[S].node().peer_infos()[0].connected);
    // A length below 12 is a protocol error (§1.2): the connection goes.
    let now = pair.now();
    let node = pair.sides[S].node.as_mut().expect("up");
    let mut closed = Vec::new();
    for c in 1..20 {
        let e = node.handle(
            now,
            Input::PeerBytes {
                conn: c,
                bytes: vec![0, 5, 1, 12, 0, 0],
            },
        );
        closed.extend(e.into_iter().filter_map(|e| match e {
            Effect::PeerClose { conn } => Some(conn),
            _ => None,
        }));
    }
    assert_eq!(closed.len(), 1, "only the live connection is closed");
    assert!(!pair.sides[S].node().peer_infos()[0].connected);
}
