//! Property: whatever happens to the link and to the secondary, the pair
//! never gives one address to two clients at the same time, every BNDUPD
//! describes a durable lease, and the lease tables stay consistent.

mod common;

use std::net::Ipv4Addr;

use common::*;
use proptest::prelude::*;
use tandem_node::{FailoverState, Input};
use tandem_wire::MessageType;

#[derive(Debug, Clone)]
enum Op {
    Dora {
        side: usize,
        client: usize,
        secs: u16,
    },
    Renew {
        side: usize,
        client: usize,
    },
    Advance(u64),
    Cut,
    Heal,
    CrashSecondary,
    StartSecondary {
        keep_file: bool,
    },
    /// The operator declares the (crashed) secondary down.
    PartnerDown,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..2usize, 0..12usize, prop_oneof![Just(0u16), Just(10u16)])
            .prop_map(|(side, client, secs)| Op::Dora { side, client, secs }),
        2 => (0..2usize, 0..12usize).prop_map(|(side, client)| Op::Renew { side, client }),
        3 => (1..700u64).prop_map(Op::Advance),
        1 => Just(Op::Cut),
        1 => Just(Op::Heal),
        1 => Just(Op::CrashSecondary),
        1 => any::<bool>().prop_map(|keep_file| Op::StartSecondary { keep_file }),
        1 => Just(Op::PartnerDown),
    ]
}

/// One DHCPACK: who got which address until when.
#[derive(Debug, Clone)]
struct Grant {
    client: usize,
    addr: Ipv4Addr,
    from: u64,
    until: u64,
}

fn mac(client: usize) -> [u8; 6] {
    mac_for(client & 1 == 0, client)
}

fn check(pair: &Pair) {
    for s in &pair.sides {
        if let Some(n) = &s.node {
            n.engine()
                .check_invariants()
                .expect("lease table consistent");
        }
        assert_bndupds_durable(s);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn no_address_is_granted_twice(ops in proptest::collection::vec(op(), 1..25)) {
        let mut pair = Pair::mission();
        pair.advance_until(120, Pair::both_normal);
        let mut grants: Vec<Grant> = Vec::new();
        let mut held: Vec<Option<Ipv4Addr>> = vec![None; 12];
        for op in ops {
            match op {
                Op::Dora { side, client, secs } => {
                    if pair.sides[side].node.is_none() {
                        continue;
                    }
                    if let Some(ack) = pair.dora(side, mac(client), secs) {
                        if msg_type(&ack) == Some(MessageType::Ack) {
                            let t = u64::from(lease_time(&ack).unwrap_or(0));
                            grants.push(Grant { client, addr: ack.yiaddr, from: pair.wall, until: pair.wall + t });
                            held[client] = Some(ack.yiaddr);
                        }
                    }
                }
                Op::Renew { side, client } => {
                    let Some(addr) = held[client] else { continue };
                    if pair.sides[side].node.is_none() {
                        continue;
                    }
                    if let Some(ack) = pair.renew(side, mac(client), addr) {
                        if msg_type(&ack) == Some(MessageType::Ack) {
                            let t = u64::from(lease_time(&ack).unwrap_or(0));
                            grants.push(Grant { client, addr: ack.yiaddr, from: pair.wall, until: pair.wall + t });
                        }
                    }
                }
                Op::Advance(secs) => pair.advance(secs),
                Op::Cut => pair.cut(),
                Op::Heal => pair.heal(),
                Op::CrashSecondary => {
                    if pair.sides[S].node.is_some() {
                        pair.crash(S);
                    }
                }
                Op::StartSecondary { keep_file } => {
                    if pair.sides[S].node.is_none() {
                        let db = if keep_file { pair.sides[S].db() } else { Default::default() };
                        if !keep_file {
                            pair.sides[S].disk.clear();
                            pair.sides[S].bndupds_sent.clear();
                        }
                        pair.start(S, db);
                    }
                }
                Op::PartnerDown => {
                    // Only when it is true: partner-down while the peer
                    // still serves is an operator error failover cannot fix.
                    if pair.sides[S].node.is_none() {
                        pair.input(P, Input::SetLocalState {
                            peer: "foo".into(),
                            state: FailoverState::PartnerDown,
                        });
                    }
                }
            }
            check(&pair);
        }
        // Whatever happened, once the link is back the pair returns to normal.
        pair.heal();
        if pair.sides[S].node.is_none() {
            let db = pair.sides[S].db();
            pair.start(S, db);
        }
        pair.advance_until(4_000, Pair::both_normal);
        check(&pair);
        for (i, a) in grants.iter().enumerate() {
            for b in &grants[i + 1..] {
                if a.addr == b.addr && a.client != b.client {
                    prop_assert!(
                        a.until <= b.from || b.until <= a.from,
                        "{} granted to clients {} and {} at once: {a:?} {b:?}",
                        a.addr, a.client, b.client
                    );
                }
            }
        }
    }
}
