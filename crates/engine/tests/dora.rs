//! The DHCP exchanges end to end, with hand-built packets.

mod common;

use std::net::Ipv4Addr;

use common::*;
use tandem_engine::{Destination, Effect, FailoverHooks, Lease, NoFailover, Now};
use tandem_lease::BindingState;
use tandem_wire::MessageType::*;
use tandem_wire::{MessageType, Packet};

#[test]
fn dora_offer_then_ack_inside_persist() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let m = mac(1);

    let disc = with(client(Some(Discover), m, 7), 55, &[1, 3, 6, 15]);
    let eff = h.send(&disc);
    let offer = only_reply(&eff);
    assert!(!offer.after_persist, "OFFER writes nothing");
    assert!(eff.iter().all(|e| !matches!(e, Effect::Persist { .. })));
    assert_eq!(msg_type(&offer.packet), Some(2));
    assert_eq!(offer.packet.op, 2);
    assert_eq!(offer.packet.xid, 7);
    let yiaddr = offer.packet.yiaddr;
    // ISC hands out a fresh range from the top.
    assert_eq!(yiaddr, Ipv4Addr::new(10, 0, 0, 109));
    assert_eq!(opt_addr(&offer.packet, 54), Some(SERVER));
    assert_eq!(opt_u32(&offer.packet, 51), Some(600));
    assert_eq!(
        opt_addr(&offer.packet, 1),
        Some(Ipv4Addr::new(255, 255, 255, 0))
    );
    assert_eq!(opt_addr(&offer.packet, 3), Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(offer.packet.options.get(15), Some(&b"example.org"[..]));
    assert_eq!(offer.src, SERVER);
    assert_eq!(
        offer.to,
        Destination::Hardware {
            ifindex: ETH0,
            addr: yiaddr,
            chaddr: m.to_vec(),
            htype: 1
        }
    );
    let l = logs(&eff);
    assert_eq!(l[0], "DHCPDISCOVER from 02:00:00:00:01:01 via eth0");
    assert_eq!(
        l[1],
        "DHCPOFFER on 10.0.0.109 to 02:00:00:00:01:01 via eth0"
    );
    // Nothing changed in the table: the lease is only held.
    assert_eq!(
        h.engine.lease(yiaddr).map(|l| l.binding_state),
        Some(BindingState::Free)
    );
    assert_eq!(h.engine.offers_held(), 1);

    let req = with(
        with(
            with(client(Some(Request), m, 8), 50, &yiaddr.octets()),
            54,
            &SERVER.octets(),
        ),
        12,
        b"pc1",
    );
    let eff = h.send(&req);
    // The ACK is only inside Persist.then, after the record.
    assert!(eff.iter().all(|e| !matches!(e, Effect::Reply { .. })));
    let persist = eff
        .iter()
        .find_map(|e| match e {
            Effect::Persist { records, then } => Some((records, then)),
            _ => None,
        })
        .expect("a Persist");
    assert_eq!(persist.0.len(), 1);
    assert!(matches!(persist.1.last(), Some(Effect::Reply { .. })));
    let ack = only_reply(&eff);
    assert!(ack.after_persist);
    assert_eq!(msg_type(&ack.packet), Some(5));
    assert_eq!(ack.packet.yiaddr, yiaddr);
    assert_eq!(opt_u32(&ack.packet, 51), Some(600));
    let stored = persisted(&eff);
    assert_eq!(stored.len(), 1);
    let lease = &stored[0];
    assert_eq!(lease.binding_state, BindingState::Active);
    assert_eq!(lease.starts, T0);
    assert_eq!(lease.ends, T0 + 600);
    assert_eq!(lease.cltt, T0);
    assert_eq!(
        lease.hardware.as_ref().map(|h| h.addr.clone()),
        Some(m.to_vec())
    );
    assert_eq!(lease.client_hostname.as_deref(), Some("pc1"));
    assert_eq!(lease.next_binding_state, Some(BindingState::Free));
    assert_eq!(h.engine.lease(yiaddr), Some(lease));
    assert_eq!(h.engine.offers_held(), 0);
    let l = logs(&eff);
    assert_eq!(
        l,
        vec![
            "DHCPREQUEST for 10.0.0.109 (10.0.0.1) from 02:00:00:00:01:01 via eth0".to_owned(),
            "DHCPACK on 10.0.0.109 to 02:00:00:00:01:01 (pc1) via eth0".to_owned(),
        ]
    );
    let st = h.engine.stats();
    assert_eq!((st.offers, st.acks, st.received), (1, 1, 2));
    assert_eq!(st.by_type_in[1], 1);
    assert_eq!(st.by_type_in[3], 1);
}

#[test]
fn second_client_gets_another_address_while_offer_held() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let a = only_reply(&h.send(&client(Some(Discover), mac(1), 1)))
        .packet
        .yiaddr;
    let b2 = only_reply(&h.send(&client(Some(Discover), mac(2), 2)))
        .packet
        .yiaddr;
    assert_ne!(a, b2);
    // The same client asking again gets the held address.
    let again = only_reply(&h.send(&client(Some(Discover), mac(1), 3)))
        .packet
        .yiaddr;
    assert_eq!(again, a);
    // After the hold ends, the address returns to the pool.
    h.advance(121);
    assert_eq!(h.engine.offers_held(), 0);
    let c = only_reply(&h.send(&client(Some(Discover), mac(3), 4)))
        .packet
        .yiaddr;
    assert_eq!(c, a, "the freed address is first again");
}

#[test]
fn request_for_another_server_forgets_offer() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let a = only_reply(&h.send(&client(Some(Discover), mac(1), 1)))
        .packet
        .yiaddr;
    let req = with(
        with(client(Some(Request), mac(1), 2), 50, &a.octets()),
        54,
        &[10, 0, 0, 2],
    );
    let eff = h.send(&req);
    assert!(sent(&eff).is_empty());
    assert!(persisted(&eff).is_empty());
    assert_eq!(h.engine.offers_held(), 0);
    assert_eq!(h.engine.stats().dropped_other, 1);
}

#[test]
fn renew_unicast_and_rebind_broadcast() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let m = mac(1);
    let a = only_reply(&h.send(&client(Some(Discover), m, 1)))
        .packet
        .yiaddr;
    let req = with(
        with(client(Some(Request), m, 2), 50, &a.octets()),
        54,
        &SERVER.octets(),
    );
    only_reply(&h.send(&req));
    h.advance(300);

    // RENEWING: unicast, ciaddr set, no 50/54.
    let mut renew = client(Some(Request), m, 3);
    renew.ciaddr = a;
    let eff = h
        .engine
        .handle_packet(h.now, &rx_on(ETH0, a, SERVER), &renew.encode());
    let ack = only_reply(&eff);
    assert_eq!(msg_type(&ack.packet), Some(5));
    assert_eq!(ack.packet.ciaddr, a);
    assert_eq!(ack.packet.yiaddr, a);
    assert_eq!(ack.to, Destination::Unicast { addr: a, port: 68 });
    assert_eq!(persisted(&eff)[0].ends, T0 + 300 + 600);

    // REBINDING: broadcast, ciaddr set.
    h.advance(300);
    let mut rebind = client(Some(Request), m, 4);
    rebind.ciaddr = a;
    let eff = h.engine.handle_packet(
        h.now,
        &rx_on(ETH0, a, Ipv4Addr::BROADCAST),
        &rebind.encode(),
    );
    let ack = only_reply(&eff);
    assert_eq!(msg_type(&ack.packet), Some(5));
    assert_eq!(ack.to, Destination::Unicast { addr: a, port: 68 });
}

#[test]
fn renew_of_someone_elses_lease_is_naked() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let a = only_reply(&h.send(&client(Some(Discover), mac(1), 1)))
        .packet
        .yiaddr;
    only_reply(&h.send(&with(client(Some(Request), mac(1), 2), 50, &a.octets())));
    let mut renew = client(Some(Request), mac(2), 3);
    renew.ciaddr = a;
    let eff = h
        .engine
        .handle_packet(h.now, &rx_on(ETH0, a, SERVER), &renew.encode());
    let nak = only_reply(&eff);
    assert_eq!(msg_type(&nak.packet), Some(6));
    assert_eq!(nak.to, Destination::Broadcast { ifindex: ETH0 });
    assert!(nak.packet.broadcast());
    assert_eq!(nak.packet.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(opt_addr(&nak.packet, 54), Some(SERVER));
    assert!(logs(&eff)
        .iter()
        .any(|l| l == "DHCPNAK on 10.0.0.109 to 02:00:00:00:01:02 via eth0"));
}

#[test]
fn init_reboot_wrong_network_nak_when_authoritative() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let req = with(client(Some(Request), mac(1), 1), 50, &[192, 168, 7, 7]);
    let eff = h.send(&req);
    let nak = only_reply(&eff);
    assert_eq!(msg_type(&nak.packet), Some(6));
    assert_eq!(nak.to, Destination::Broadcast { ifindex: ETH0 });
    assert_eq!(nak.packet.options.get(56), Some(&b"wrong network"[..]));
    assert!(logs(&eff).iter().any(|l| l.ends_with(": wrong network.")));
    assert_eq!(h.engine.stats().naks, 1);
}

#[test]
fn init_reboot_wrong_network_silent_when_not_authoritative() {
    let (mut b, _) = basic();
    for s in b.cfg.scopes.iter_mut() {
        s.authoritative = false;
    }
    let mut h = Harness::new(b.build());
    let req = with(client(Some(Request), mac(1), 1), 50, &[192, 168, 7, 7]);
    let eff = h.send(&req);
    assert!(sent(&eff).is_empty());
    assert!(logs(&eff)
        .iter()
        .any(|l| l.ends_with("ignored (not authoritative).")));
}

#[test]
fn init_reboot_unknown_client_in_subnet_is_silent() {
    // RFC 2131 §4.3.2: "If the DHCP server has no record of this client,
    // then it MUST remain silent" -- an address in the subnet but outside
    // every range.
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let req = with(client(Some(Request), mac(1), 1), 50, &[10, 0, 0, 7]);
    let eff = h.send(&req);
    assert!(sent(&eff).is_empty());
    assert!(logs(&eff)
        .iter()
        .any(|l| l.ends_with("unknown lease 10.0.0.7.")));
}

#[test]
fn init_reboot_for_address_in_use_is_naked() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let a = only_reply(&h.send(&client(Some(Discover), mac(1), 1)))
        .packet
        .yiaddr;
    only_reply(&h.send(&with(client(Some(Request), mac(1), 2), 50, &a.octets())));
    let eff = h.send(&with(client(Some(Request), mac(2), 3), 50, &a.octets()));
    let nak = only_reply(&eff);
    assert_eq!(msg_type(&nak.packet), Some(6));
    assert!(logs(&eff)
        .iter()
        .any(|l| l.ends_with(&format!("lease {a} unavailable."))));
}

#[test]
fn init_reboot_own_lease_is_acked() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let a = only_reply(&h.send(&client(Some(Discover), mac(1), 1)))
        .packet
        .yiaddr;
    only_reply(&h.send(&with(client(Some(Request), mac(1), 2), 50, &a.octets())));
    let eff = h.send(&with(client(Some(Request), mac(1), 3), 50, &a.octets()));
    let ack = only_reply(&eff);
    assert_eq!(msg_type(&ack.packet), Some(5));
    assert_eq!(ack.packet.yiaddr, a);
}

#[test]
fn release_then_discover_gets_same_address() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let m = mac(1);
    let a = only_reply(&h.send(&client(Some(Discover), m, 1)))
        .packet
        .yiaddr;
    only_reply(&h.send(&with(client(Some(Request), m, 2), 50, &a.octets())));
    h.advance(10);
    let mut rel = with(client(Some(Release), m, 3), 54, &SERVER.octets());
    rel.ciaddr = a;
    let eff = h
        .engine
        .handle_packet(h.now, &rx_on(ETH0, a, SERVER), &rel.encode());
    assert!(sent(&eff).is_empty());
    let stored = persisted(&eff);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].binding_state, BindingState::Free);
    assert_eq!(stored[0].ends, h.now.wall);
    assert!(logs(&eff)
        .iter()
        .any(|l| l == &format!("DHCPRELEASE of {a} from 02:00:00:00:01:01 via eth0 (found)")));
    // Another client first: it must not get the released address while
    // virgin ones remain.
    let other = only_reply(&h.send(&client(Some(Discover), mac(2), 4)))
        .packet
        .yiaddr;
    assert_ne!(other, a);
    let again = only_reply(&h.send(&client(Some(Discover), m, 5)))
        .packet
        .yiaddr;
    assert_eq!(again, a);
    assert_eq!(h.engine.stats().releases, 1);
}

#[test]
fn release_with_wrong_hardware_is_not_found() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let a = only_reply(&h.send(&client(Some(Discover), mac(1), 1)))
        .packet
        .yiaddr;
    only_reply(&h.send(&with(client(Some(Request), mac(1), 2), 50, &a.octets())));
    let mut rel = client(Some(Release), mac(9), 3);
    rel.ciaddr = a;
    let eff = h
        .engine
        .handle_packet(h.now, &rx_on(ETH0, a, SERVER), &rel.encode());
    assert!(persisted(&eff).is_empty());
    assert!(logs(&eff).iter().any(|l| l.ends_with("(not found)")));
    assert_eq!(
        h.engine.lease(a).map(|l| l.binding_state),
        Some(BindingState::Active)
    );
}

#[test]
fn decline_abandons_and_address_is_not_reused_first() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let m = mac(1);
    let a = only_reply(&h.send(&client(Some(Discover), m, 1)))
        .packet
        .yiaddr;
    only_reply(&h.send(&with(client(Some(Request), m, 2), 50, &a.octets())));
    let eff = h.send(&with(client(Some(Decline), m, 3), 50, &a.octets()));
    assert!(sent(&eff).is_empty());
    let stored = persisted(&eff);
    assert_eq!(stored[0].binding_state, BindingState::Abandoned);
    assert_eq!(stored[0].ends, T0 + 86_400);
    assert!(stored[0].hardware.is_none() && stored[0].uid.is_none());
    let l = logs(&eff);
    assert!(l.contains(&format!("Abandoning IP address {a}: declined.")));
    assert!(l.contains(&format!(
        "DHCPDECLINE of {a} from 02:00:00:00:01:01 via eth0: abandoned"
    )));
    // The same client asks again: a different address.
    let next = only_reply(&h.send(&client(Some(Discover), m, 4)))
        .packet
        .yiaddr;
    assert_ne!(next, a);
    assert_eq!(h.engine.stats().declines, 1);
    // After abandon-lease-time the address is free again.
    let eff = h.advance(86_400);
    assert!(persisted(&eff)
        .iter()
        .any(|l| l.addr == a && l.binding_state == BindingState::Free));
}

#[test]
fn inform_gets_options_without_lease() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let mut inf = with(client(Some(Inform), mac(1), 9), 55, &[3, 6, 51, 1]);
    let ca = Ipv4Addr::new(10, 0, 0, 42);
    inf.ciaddr = ca;
    let eff = h
        .engine
        .handle_packet(h.now, &rx_on(ETH0, ca, SERVER), &inf.encode());
    let ack = only_reply(&eff);
    assert!(!ack.after_persist);
    assert_eq!(msg_type(&ack.packet), Some(5));
    assert_eq!(ack.packet.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(ack.packet.ciaddr, ca);
    assert_eq!(
        opt_u32(&ack.packet, 51),
        None,
        "no lease time in an INFORM reply"
    );
    assert_eq!(opt_addr(&ack.packet, 3), Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(ack.to, Destination::Unicast { addr: ca, port: 68 });
    assert!(persisted(&eff).is_empty());
    let l = logs(&eff);
    assert!(l.contains(&"DHCPINFORM from 10.0.0.42 via eth0".to_owned()));
    assert!(l.contains(&"DHCPACK to 10.0.0.42 (02:00:00:00:01:01) via eth0".to_owned()));
    assert_eq!(h.engine.stats().informs, 1);
}

#[test]
fn lease_expires_to_free_on_tick() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let a = only_reply(&h.send(&client(Some(Discover), mac(1), 1)))
        .packet
        .yiaddr;
    only_reply(&h.send(&with(client(Some(Request), mac(1), 2), 50, &a.octets())));
    assert!(persisted(&h.advance(599)).is_empty());
    let eff = h.advance(1);
    let stored = persisted(&eff);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].binding_state, BindingState::Free);
    assert_eq!(stored[0].next_binding_state, None);
    // The client keeps its claim: it gets the same address back.
    let again = only_reply(&h.send(&client(Some(Discover), mac(1), 3)))
        .packet
        .yiaddr;
    assert_eq!(again, a);
}

#[test]
fn early_renewal_reuses_lease_without_write() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let m = mac(1);
    let a = only_reply(&h.send(&client(Some(Discover), m, 1)))
        .packet
        .yiaddr;
    only_reply(&h.send(&with(client(Some(Request), m, 2), 50, &a.octets())));
    // 100 s into a 600 s lease: under 25 %, the lease is reused.
    h.advance(100);
    let mut renew = client(Some(Request), m, 3);
    renew.ciaddr = a;
    let eff = h
        .engine
        .handle_packet(h.now, &rx_on(ETH0, a, SERVER), &renew.encode());
    let ack = only_reply(&eff);
    assert!(ack.after_persist, "still ordered behind pending writes");
    assert!(persisted(&eff).is_empty());
    assert_eq!(opt_u32(&ack.packet, 51), Some(500));
    assert_eq!(h.engine.lease(a).map(|l| l.ends), Some(T0 + 600));
    // At 200 s (over 25 %), the renewal is a new commit.
    h.advance(100);
    let eff = h
        .engine
        .handle_packet(h.now, &rx_on(ETH0, a, SERVER), &renew.encode());
    assert_eq!(persisted(&eff)[0].ends, T0 + 200 + 600);
}

/// Failover hooks as without a peer, except that they refuse the
/// `dhcp-cache-threshold` reuse (as a failover relationship outside normal
/// does).
#[derive(Debug)]
struct RefuseReuse;

impl FailoverHooks for RefuseReuse {
    fn may_answer(&self, p: Option<&str>, pkt: &Packet, m: Option<MessageType>) -> bool {
        NoFailover.may_answer(p, pkt, m)
    }
    fn allocatable(&self, p: Option<&str>) -> &'static [BindingState] {
        NoFailover.allocatable(p)
    }
    fn may_allocate(&self, p: Option<&str>, l: &Lease, now: Now) -> bool {
        NoFailover.may_allocate(p, l, now)
    }
    fn may_reuse_unchanged(&self, _: Option<&str>, _: &Lease, _: Now) -> bool {
        false
    }
    fn lease_time(&self, p: Option<&str>, l: &Lease, desired: u32, now: Now) -> u32 {
        NoFailover.lease_time(p, l, desired, now)
    }
    fn prepare_commit(&self, p: Option<&str>, o: &Lease, n: &mut Lease, d: u32, now: Now) {
        NoFailover.prepare_commit(p, o, n, d, now)
    }
    fn expiry_state(&self, p: Option<&str>, from: BindingState) -> Option<BindingState> {
        NoFailover.expiry_state(p, from)
    }
    fn release_state(&self, p: Option<&str>) -> BindingState {
        NoFailover.release_state(p)
    }
    fn after_commit(&mut self, p: Option<&str>, l: &Lease) -> Vec<Effect> {
        NoFailover.after_commit(p, l)
    }
}

#[test]
fn early_renewal_commits_when_the_failover_hooks_refuse_reuse() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    h.engine.set_failover(Box::new(RefuseReuse));
    let m = mac(1);
    let a = only_reply(&h.send(&client(Some(Discover), m, 1)))
        .packet
        .yiaddr;
    only_reply(&h.send(&with(client(Some(Request), m, 2), 50, &a.octets())));
    // 100 s into a 600 s lease: reusable by age, but the hooks say no, so
    // the renewal is a full commit with a fresh lease time.
    h.advance(100);
    let mut renew = client(Some(Request), m, 3);
    renew.ciaddr = a;
    let eff = h
        .engine
        .handle_packet(h.now, &rx_on(ETH0, a, SERVER), &renew.encode());
    let ack = only_reply(&eff);
    assert!(ack.after_persist);
    let stored = persisted(&eff);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].ends, T0 + 100 + 600);
    assert_eq!(stored[0].cltt, T0 + 100);
    assert_eq!(opt_u32(&ack.packet, 51), Some(600));
    assert!(!logs(&eff).iter().any(|l| l.contains("reuse_lease")));
}

#[test]
fn malformed_and_foreign_packets_are_counted() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let rx = rx_on(ETH0, Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST);
    // Too short, and garbage.
    assert!(h.engine.handle_packet(h.now, &rx, &[1, 2, 3]).is_empty());
    // A BOOTREPLY sent to the server.
    let mut reply = client(Some(Offer), mac(1), 1);
    reply.op = 2;
    assert!(h.send(&reply).is_empty());
    // No hardware address and no client identifier.
    let mut p = client(Some(Discover), mac(1), 1);
    p.hlen = 0;
    assert!(h.send(&p).is_empty());
    // Message type 0.
    assert!(h
        .send(&with(client(Some(Discover), mac(1), 1), 53, &[0]))
        .is_empty());
    let st = h.engine.stats();
    assert_eq!((st.received, st.dropped_malformed), (4, 4));
    // A lease query (type 10) and a client-sent DHCPOFFER are valid but not
    // for us.
    assert!(h
        .send(&with(client(Some(Discover), mac(1), 1), 53, &[10]))
        .is_empty());
    assert!(h.send(&client(Some(Offer), mac(1), 1)).is_empty());
    assert_eq!(h.engine.stats().dropped_other, 2);
    assert_eq!(h.engine.stats().dropped_malformed, 4);
    // hlen 0 with a client identifier (RFC 4390) is served.
    let mut p = with(client(Some(Discover), mac(1), 1), 61, &[0xff, 1, 2, 3]);
    p.hlen = 0;
    p.htype = 32;
    p.flags = 0x8000;
    let eff = h.send(&p);
    assert_eq!(msg_type(&only_reply(&eff).packet), Some(2));
    assert!(logs(&eff)[0].starts_with("DHCPDISCOVER from ff:01:02:03 via eth0"));
}
