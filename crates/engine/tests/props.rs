//! Properties: the engine never panics on any input, counts what it drops,
//! and never gives one address to two clients.

mod common;

use std::collections::HashMap;
use std::net::Ipv4Addr;

use common::*;
use proptest::prelude::*;
use tandem_engine::Effect;
use tandem_lease::BindingState;
use tandem_wire::MessageType;

fn harness() -> Harness {
    let (mut b, s) = basic();
    let _ = s;
    let s2 = b.subnet([10, 1, 0, 0], 24);
    b.pool_with(s2, &[([10, 1, 0, 10], [10, 1, 0, 13], true)], vec![], true);
    b.host("fixed", mac(9), Some([10, 0, 0, 9]));
    Harness::new(b.build())
}

fn sample_packets() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, m) in [
        Some(MessageType::Discover),
        Some(MessageType::Request),
        Some(MessageType::Release),
        Some(MessageType::Decline),
        Some(MessageType::Inform),
        None,
    ]
    .into_iter()
    .enumerate()
    {
        let mut p = with(
            with(client(m, mac(i as u8), 42), 55, &[1, 3, 6, 15, 51, 82]),
            50,
            &[10, 0, 0, 105],
        );
        if i % 2 == 0 {
            p = with(p, 82, &[1, 2, 3, 4, 5, 2, 10, 1, 0, 0]);
            p.giaddr = Ipv4Addr::new(10, 1, 0, 1);
        }
        if i == 3 {
            p.ciaddr = Ipv4Addr::new(10, 0, 0, 105);
        }
        out.push(p.encode());
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        let mut h = harness();
        let rx = rx_on(ETH0, Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST);
        let _ = h.engine.handle_packet(h.now, &rx, &bytes);
        let st = h.engine.stats();
        prop_assert_eq!(st.received, 1);
        if tandem_wire::Packet::decode(&bytes).is_err() {
            prop_assert_eq!(st.dropped_malformed, 1);
        }
    }

    #[test]
    fn mutated_packets_never_panic(
        which in 0usize..6,
        edits in proptest::collection::vec((0usize..600, any::<u8>()), 1..8),
        cut in 0usize..700,
        ifindex in prop_oneof![Just(ETH0), Just(ETH1), Just(99u32)],
    ) {
        let mut h = harness();
        let mut bytes = sample_packets().swap_remove(which);
        for (at, v) in edits {
            if let Some(b) = bytes.get_mut(at) {
                *b = v;
            }
        }
        bytes.truncate(cut.max(1));
        let rx = rx_on(ifindex, Ipv4Addr::new(10, 0, 0, 105), Ipv4Addr::BROADCAST);
        let eff = h.engine.handle_packet(h.now, &rx, &bytes);
        // Whatever came out decodes as a reply.
        for s in sent(&eff) {
            prop_assert_eq!(s.packet.op, 2);
        }
        let _ = h.engine.tick(h.now);
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn one_address_never_bound_to_two_clients(
        steps in proptest::collection::vec((0u8..6, 0u8..5, 0u64..400), 1..40),
    ) {
        let mut h = harness();
        let mut offered: HashMap<u8, Ipv4Addr> = HashMap::new();
        for (client_no, action, wait) in steps {
            let m = mac(client_no);
            let eff = match action {
                0 => h.send(&client(Some(MessageType::Discover), m, 1)),
                1 => match offered.get(&client_no) {
                    Some(a) => h.send(&with(client(Some(MessageType::Request), m, 2), 50, &a.octets())),
                    None => h.send(&with(client(Some(MessageType::Request), m, 2), 50, &[10, 0, 0, 100 + client_no])),
                },
                2 => {
                    let mut p = client(Some(MessageType::Release), m, 3);
                    p.ciaddr = offered.get(&client_no).copied().unwrap_or(Ipv4Addr::new(10, 0, 0, 101));
                    h.send(&p)
                }
                3 => h.send(&with(client(Some(MessageType::Decline), m, 4), 50,
                    &offered.get(&client_no).copied().unwrap_or(Ipv4Addr::new(10, 0, 0, 102)).octets())),
                _ => h.advance(wait),
            };
            for s in sent(&eff) {
                if s.packet.yiaddr.is_unspecified() {
                    continue;
                }
                offered.insert(client_no, s.packet.yiaddr);
            }
            // Every ACKed lease belongs to the client it was sent to, and no
            // other unexpired ACTIVE lease has that client's... address.
            for l in persisted(&eff) {
                if l.binding_state == BindingState::Active {
                    let hw = l.hardware.as_ref().map(|h| h.addr.clone());
                    prop_assert_eq!(hw, Some(m.to_vec()));
                }
            }
            prop_assert_eq!(h.engine.check_invariants(), Ok(()));
            let mut owners: HashMap<Ipv4Addr, Vec<u8>> = HashMap::new();
            for l in h.engine.leases() {
                if l.binding_state == BindingState::Active && l.ends > h.now.wall {
                    let hw = l.hardware.as_ref().map(|h| h.addr.clone()).unwrap_or_default();
                    prop_assert!(owners.insert(l.addr, hw).is_none());
                }
            }
            for e in &eff {
                if let Effect::Reply { .. } = e {
                    // Top-level replies are never ACKs.
                    let s = sent(std::slice::from_ref(e));
                    prop_assert_ne!(msg_type(&s[0].packet), Some(5));
                }
            }
        }
    }
}
