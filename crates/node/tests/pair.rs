//! Two Nodes running the mission's failover pair (examples/mission), back to
//! back in one process.

mod common;

use std::net::Ipv4Addr;

use common::*;
use tandem_lease::BindingState;
use tandem_node::{FailoverState, Input};
use tandem_wire::MessageType;

const MCLT: u32 = 1800;
const POOL: usize = 101;

fn normal_pair() -> Pair {
    let mut pair = Pair::mission();
    pair.advance_until(120, Pair::both_normal);
    pair
}

#[test]
fn mission_pair_reaches_normal_and_balances() {
    let pair = normal_pair();
    for side in &pair.sides {
        assert!(
            side.logged("failover peer foo: Both servers normal"),
            "{}: {:#?}",
            side.name,
            side.logs
        );
        assert!(side.logged("balancing pool 10.0.0.100-10.0.0.200"));
    }
    // The primary gave about half of its FREE leases to the secondary.
    let (p, s) = (&pair.sides[P], &pair.sides[S]);
    let backup = p.count(BindingState::Backup);
    assert!((40..=60).contains(&backup), "backup {backup}");
    assert_eq!(p.count(BindingState::Free) + backup, POOL);
    // Both tables agree lease by lease.
    for l in p.node().engine().all_leases() {
        let theirs = s.lease(l.addr).expect("same pool");
        assert_eq!(l.binding_state, theirs.binding_state, "{}", l.addr);
    }
    assert_bndupds_durable(p);
    assert_bndupds_durable(s);
    // The state records were persisted on both sides.
    for side in &pair.sides {
        let db = side.db();
        let rec = db.failover.get("foo").expect("state record");
        assert_eq!(rec.me.map(|e| e.state), Some(FailoverState::Normal));
    }
}

#[test]
fn ack_on_primary_is_mclt_long_and_reaches_the_secondary() {
    let mut pair = normal_pair();
    let ack = pair
        .dora(P, MAC_PRIMARY, 0)
        .expect("primary answers its client");
    assert_eq!(msg_type(&ack), Some(MessageType::Ack));
    // First ACK: the peer has acknowledged nothing yet, so the MCLT rule
    // grants MCLT (isc-failover.md §3.4), not the configured 16200 s.
    assert_eq!(lease_time(&ack), Some(MCLT));
    let addr = ack.yiaddr;
    let theirs = pair.sides[S].lease(addr).expect("secondary has the lease");
    assert_eq!(theirs.binding_state, BindingState::Active);
    let hw = theirs.hardware.expect("hardware on the secondary");
    assert_eq!(hw.addr, MAC_PRIMARY.to_vec());
    // The BNDACK came back: tsfp now covers the lease, so a renewal gets
    // the full configured time.
    let mine = pair.sides[P].lease(addr).expect("lease");
    assert!(mine.tsfp > pair.wall, "tsfp {} after ack", mine.tsfp);
    // Past the 25 % dhcp-cache-threshold, so the renewal is a new commit.
    pair.advance(u64::from(MCLT) / 4 + 50);
    let renewed = pair.renew(P, MAC_PRIMARY, addr).expect("renewal");
    assert_eq!(msg_type(&renewed), Some(MessageType::Ack));
    assert!(lease_time(&renewed).is_some_and(|t| t > MCLT));
    // The secondary stays silent for the primary's client.
    let d = client(MessageType::Discover, MAC_PRIMARY, 9);
    assert!(pair.packet(S, &d).is_empty());
    assert_bndupds_durable(&pair.sides[P]);
    assert_bndupds_durable(&pair.sides[S]);
}

#[test]
fn load_balancing_follows_the_hash_and_secs() {
    let mut pair = normal_pair();
    let mut d = client(MessageType::Discover, MAC_SECONDARY, 1);
    // `load balance max seconds 3`: the primary leaves the secondary's
    // client alone while secs <= 3 ...
    d.secs = 3;
    assert!(pair.packet(P, &d).is_empty());
    assert!(pair.sides[P].logged("load balance to peer foo"));
    // ... and answers once the client has waited longer.
    d.secs = 4;
    let offer = pair.packet(P, &d);
    assert_eq!(offer.len(), 1);
    assert_eq!(msg_type(&offer[0]), Some(MessageType::Offer));
    // The secondary serves it from its BACKUP leases.
    let ack = pair.dora(S, MAC_SECONDARY, 0).expect("secondary answers");
    assert_eq!(msg_type(&ack), Some(MessageType::Ack));
    assert_eq!(lease_time(&ack), Some(MCLT));
    let theirs = pair.sides[P].lease(ack.yiaddr).expect("primary has it");
    assert_eq!(theirs.binding_state, BindingState::Active);
}

#[test]
fn link_cut_then_both_serve_from_their_own_pools() {
    let mut pair = normal_pair();
    let p_ack = pair.dora(P, MAC_PRIMARY, 0).expect("ack");
    let s_ack = pair.dora(S, MAC_SECONDARY, 0).expect("ack");
    pair.cut();
    // Each side notices through its receive timer (max-response-delay 30).
    pair.advance_until(60, |p| {
        p.sides
            .iter()
            .all(|s| s.state() == FailoverState::CommunicationsInterrupted)
    });
    // Renewals are answered on both sides, for either server's client.
    for (i, mac, addr) in [
        (P, MAC_PRIMARY, p_ack.yiaddr),
        (S, MAC_PRIMARY, p_ack.yiaddr),
        (P, MAC_SECONDARY, s_ack.yiaddr),
        (S, MAC_SECONDARY, s_ack.yiaddr),
    ] {
        let r = pair.renew(i, mac, addr).expect("renewal answered");
        assert_eq!(msg_type(&r), Some(MessageType::Ack), "side {i}");
        assert_eq!(r.yiaddr, addr);
    }
    // New clients: no load balancing, each allocates from its own pool.
    let a = pair
        .dora(P, mac_for(false, 1), 0)
        .expect("primary serves all");
    let owner_p = pair.sides[S].lease(a.yiaddr).expect("lease").binding_state;
    assert_eq!(owner_p, BindingState::Free, "taken from the primary's pool");
    let b = pair
        .dora(S, mac_for(true, 1), 0)
        .expect("secondary serves all");
    let owner_s = pair.sides[P].lease(b.yiaddr).expect("lease").binding_state;
    assert_eq!(
        owner_s,
        BindingState::Backup,
        "taken from the secondary's pool"
    );
    // The link comes back: both return to normal and exchange what happened.
    pair.heal();
    pair.advance_until(60, Pair::both_normal);
    assert_eq!(
        pair.sides[S].lease(a.yiaddr).map(|l| l.binding_state),
        Some(BindingState::Active)
    );
    assert_eq!(
        pair.sides[P].lease(b.yiaddr).map(|l| l.binding_state),
        Some(BindingState::Active)
    );
    assert_bndupds_durable(&pair.sides[P]);
    assert_bndupds_durable(&pair.sides[S]);
}

#[test]
fn partner_down_by_operator_takes_the_peers_leases_after_mclt() {
    let mut pair = normal_pair();
    pair.crash(S);
    pair.advance_until(60, |p| {
        p.sides[P].state() == FailoverState::CommunicationsInterrupted
    });
    pair.input(
        P,
        Input::SetLocalState {
            peer: "foo".into(),
            state: FailoverState::PartnerDown,
        },
    );
    assert_eq!(pair.sides[P].state(), FailoverState::PartnerDown);
    let free = pair.sides[P].count(BindingState::Free);
    // Before MCLT has passed only the primary's own leases can go out.
    let mut served = 0;
    for n in 0..free + 5 {
        if pair.dora(P, mac_for(n & 1 == 0, n), 0).is_some() {
            served += 1;
        }
    }
    assert_eq!(served, free);
    // After MCLT the secondary's BACKUP leases are the primary's too.
    pair.advance(u64::from(MCLT) + 2);
    let ack = pair
        .dora(P, mac_for(true, 500), 0)
        .expect("a BACKUP lease is allocatable in partner-down after MCLT");
    assert_eq!(msg_type(&ack), Some(MessageType::Ack));
}

#[test]
fn restart_with_the_lease_file_returns_to_normal() {
    let mut pair = normal_pair();
    let ack = pair.dora(P, MAC_PRIMARY, 0).expect("ack");
    let db = pair.sides[S].db();
    pair.crash(S);
    pair.advance(5);
    pair.start(S, db);
    // Saved state normal: startup, reconnect, normal again.
    pair.advance_until(120, Pair::both_normal);
    assert_eq!(
        pair.sides[S].lease(ack.yiaddr).map(|l| l.binding_state),
        Some(BindingState::Active)
    );
    assert!(pair.sides[S].count(BindingState::Backup) > 0);
}

#[test]
fn restart_without_the_lease_file_recovers_then_renews_only_in_recover_wait() {
    let mut pair = normal_pair();
    let ack = pair.dora(P, MAC_PRIMARY, 0).expect("ack");
    let addr = ack.yiaddr;
    pair.crash(S);
    pair.advance(5);
    pair.start(S, Default::default());
    // The secondary starts in recover and asks for everything (UPDREQALL);
    // the primary goes partner-down, then answers.
    pair.advance_until(120, |p| p.sides[S].state() == FailoverState::RecoverWait);
    assert_eq!(pair.sides[P].state(), FailoverState::PartnerDown);
    let l = pair.sides[S].lease(addr).expect("learned from the primary");
    assert_eq!(l.binding_state, BindingState::Active);
    // In recover-wait the secondary renews a binding it knows ...
    let r = pair
        .renew(S, MAC_PRIMARY, addr)
        .expect("renewal in recover-wait");
    assert_eq!(msg_type(&r), Some(MessageType::Ack));
    // ... and allocates nothing new.
    assert!(pair.dora(S, mac_for(false, 3), 30).is_none());
    // stos + MCLT later: recover-done, then both normal.
    pair.advance_until(u64::from(MCLT) + 120, Pair::both_normal);
    assert!(pair.sides[S].count(BindingState::Backup) > 0);
}

#[test]
fn clean_shutdown_hands_over_to_the_peer() {
    let mut pair = normal_pair();
    pair.input(P, Input::Shutdown);
    pair.advance_until(30, |p| p.sides[P].shutdown_complete);
    assert_eq!(pair.sides[S].state(), FailoverState::PartnerDown);
    let rec = pair.sides[P]
        .db()
        .failover
        .get("foo")
        .cloned()
        .expect("record");
    assert_eq!(rec.me.map(|e| e.state), Some(FailoverState::Recover));
}

#[test]
fn no_failover_shutdown_is_immediate() {
    let config = parse("subnet 10.0.0.0 netmask 255.255.255.0 { range 10.0.0.100 10.0.0.110; }\n");
    let now = tandem_node::Now {
        wall: T0,
        mono_ms: 0,
    };
    let (mut node, _) = tandem_node::Node::new(
        config,
        vec![interface(Ipv4Addr::new(10, 0, 0, 1))],
        Default::default(),
        &|_| None,
        now,
    )
    .expect("node");
    assert!(node.listens().is_empty());
    assert_eq!(node.next_timeout(), None);
    assert_eq!(
        node.handle(now, Input::Shutdown),
        vec![tandem_node::Effect::ShutdownComplete]
    );
}

#[test]
fn peer_without_free_leases_leaves_its_clients_to_us() {
    let mut pair = normal_pair();
    // The secondary hands out every BACKUP lease.
    let backup = pair.sides[S].count(BindingState::Backup);
    for n in 0..backup {
        let ack = pair
            .dora(S, mac_for(false, n), 0)
            .expect("secondary serves");
        assert_eq!(msg_type(&ack), Some(MessageType::Ack));
    }
    assert_eq!(pair.sides[P].count(BindingState::Backup), 0);
    // A new client of the secondary gets nothing there, and the primary
    // answers it at once (`peer_has_leases`, dhcp.c:422-433).
    let d = client(MessageType::Discover, mac_for(false, backup + 1), 77);
    assert!(pair.packet(S, &d).is_empty());
    let offer = pair.packet(P, &d);
    assert_eq!(offer.len(), 1);
    assert_eq!(msg_type(&offer[0]), Some(MessageType::Offer));
}
