//! Relayed clients, link selection, network selection.

mod common;

use std::net::Ipv4Addr;

use common::*;
use tandem_engine::Destination;
use tandem_wire::MessageType::*;
use tandem_wire::Packet;

fn two_subnets() -> Builder {
    let (mut b, _) = basic();
    let s2 = b.subnet([10, 1, 0, 0], 24);
    let sc = b.subnet_scope(s2);
    b.stmt(sc, opt(3, &[10, 1, 0, 1]));
    b.range(s2, [10, 1, 0, 10], [10, 1, 0, 19]);
    let s3 = b.subnet([10, 2, 0, 0], 24);
    b.range(s3, [10, 2, 0, 10], [10, 2, 0, 19]);
    b
}

fn relayed(p: Packet, giaddr: [u8; 4]) -> Packet {
    let mut p = p;
    p.giaddr = Ipv4Addr::from(giaddr);
    p.hops = 1;
    p
}

fn from_relay(h: &mut Harness, p: &Packet) -> Vec<tandem_engine::Effect> {
    h.send_rx(p, &rx_on(ETH0, p.giaddr, SERVER))
}

#[test]
fn giaddr_selects_subnet_and_reply_goes_to_relay_with_82() {
    let mut h = Harness::new(two_subnets().build());
    let agent = [1, 4, b'p', b'o', b'r', b't', 2, 3, 9, 9, 9];
    let d = with(
        relayed(client(Some(Discover), mac(1), 1), [10, 1, 0, 1]),
        82,
        &agent,
    );
    let eff = from_relay(&mut h, &d);
    let o = only_reply(&eff);
    assert_eq!(o.packet.yiaddr.octets()[..3], [10, 1, 0]);
    assert_eq!(
        o.to,
        Destination::Relay {
            giaddr: Ipv4Addr::new(10, 1, 0, 1),
            port: 67
        }
    );
    assert_eq!(o.packet.giaddr, Ipv4Addr::new(10, 1, 0, 1));
    assert_eq!(o.packet.options.get(82), Some(&agent[..]));
    assert_eq!(opt_addr(&o.packet, 3), Some(Ipv4Addr::new(10, 1, 0, 1)));
    // Relayed: the server identifier is the receiving interface's address.
    assert_eq!(opt_addr(&o.packet, 54), Some(SERVER));
    assert!(logs(&eff).contains(&"DHCPDISCOVER from 02:00:00:00:01:01 via 10.1.0.1".to_owned()));

    let r = with(
        with(
            relayed(client(Some(Request), mac(1), 2), [10, 1, 0, 1]),
            50,
            &o.packet.yiaddr.octets(),
        ),
        82,
        &agent,
    );
    let ack = only_reply(&from_relay(&mut h, &r));
    assert_eq!(msg_type(&ack.packet), Some(5));
    assert!(matches!(ack.to, Destination::Relay { .. }));
    assert_eq!(ack.packet.options.get(82), Some(&agent[..]));
}

#[test]
fn link_selection_overrides_giaddr() {
    let mut h = Harness::new(two_subnets().build());
    // RFC 3011 subnet selection (option 118).
    let d = with(
        relayed(client(Some(Discover), mac(1), 1), [10, 1, 0, 1]),
        118,
        &[10, 2, 0, 0],
    );
    let o = only_reply(&from_relay(&mut h, &d));
    assert_eq!(o.packet.yiaddr.octets()[..3], [10, 2, 0]);
    assert!(
        matches!(o.to, Destination::Relay { giaddr, .. } if giaddr == Ipv4Addr::new(10, 1, 0, 1))
    );
    // RFC 3527 link selection sub-option of 82 wins over 118.
    let d = with(
        with(
            relayed(client(Some(Discover), mac(2), 2), [10, 1, 0, 1]),
            118,
            &[10, 2, 0, 0],
        ),
        82,
        &[5, 4, 10, 0, 0, 0],
    );
    let o = only_reply(&from_relay(&mut h, &d));
    assert_eq!(o.packet.yiaddr.octets()[..3], [10, 0, 0]);
}

#[test]
fn unknown_giaddr_is_dropped_with_isc_log() {
    let mut h = Harness::new(two_subnets().build());
    let d = relayed(client(Some(Discover), mac(1), 1), [172, 16, 0, 1]);
    let eff = from_relay(&mut h, &d);
    assert!(sent(&eff).is_empty());
    assert_eq!(
        logs(&eff),
        vec!["DHCPDISCOVER from 02:00:00:00:01:01 via 172.16.0.1: unknown network segment"]
    );
}

#[test]
fn interface_without_subnet_ignores_local_clients() {
    let mut h = Harness::new(two_subnets().build());
    let d = client(Some(Discover), mac(1), 1);
    let eff = h.send_rx(&d, &rx_on(ETH1, Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST));
    assert!(sent(&eff).is_empty());
    assert!(logs(&eff)[0].ends_with("via eth1: unknown network segment"));
}

#[test]
fn relayed_nak_goes_to_relay() {
    let mut h = Harness::new(two_subnets().build());
    let r = with(
        relayed(client(Some(Request), mac(1), 1), [10, 1, 0, 1]),
        50,
        &[10, 0, 0, 105],
    );
    let nak = only_reply(&from_relay(&mut h, &r));
    assert_eq!(msg_type(&nak.packet), Some(6));
    assert_eq!(
        nak.to,
        Destination::Relay {
            giaddr: Ipv4Addr::new(10, 1, 0, 1),
            port: 67
        }
    );
    assert!(nak.packet.broadcast());
}

#[test]
fn broadcast_bit_means_broadcast_reply() {
    let mut h = Harness::new(two_subnets().build());
    let mut d = client(Some(Discover), mac(1), 1);
    d.flags = 0x8000;
    let o = only_reply(&h.send(&d));
    assert_eq!(o.to, Destination::Broadcast { ifindex: ETH0 });
    assert!(o.packet.broadcast());
}

#[test]
fn relayed_inform_without_ciaddr_goes_to_relay() {
    let mut h = Harness::new(two_subnets().build());
    let inf = relayed(client(Some(Inform), mac(1), 1), [10, 1, 0, 1]);
    let eff = from_relay(&mut h, &inf);
    let ack = only_reply(&eff);
    assert!(matches!(ack.to, Destination::Relay { .. }));
    assert!(ack.packet.broadcast());
    assert_eq!(opt_addr(&ack.packet, 3), Some(Ipv4Addr::new(10, 1, 0, 1)));
}
