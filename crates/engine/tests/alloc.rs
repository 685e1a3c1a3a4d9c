//! Allocation, host reservations, classes, permits, lease times, options.

mod common;

use std::net::Ipv4Addr;

use common::*;
use tandem_config::{Expr, OptionCode, Param, Permit, PermitKind};
use tandem_engine::Lease;
use tandem_lease::{BindingState, Hardware};
use tandem_wire::MessageType::*;

fn lease_for(addr: [u8; 4], m: [u8; 6], state: BindingState, ends: u64) -> Lease {
    let mut l = Lease::new(Ipv4Addr::from(addr), state);
    l.hardware = Some(Hardware {
        htype: 1,
        addr: m.to_vec(),
    });
    l.starts = ends.saturating_sub(600);
    l.ends = ends;
    l
}

#[test]
fn returning_client_gets_previous_address_from_lease_file() {
    let (b, _) = basic();
    let leases = vec![lease_for(
        [10, 0, 0, 103],
        mac(1),
        BindingState::Active,
        T0 + 100,
    )];
    let mut h = Harness::with_leases(b.build(), leases);
    let offer = only_reply(&h.send(&client(Some(Discover), mac(1), 1)));
    assert_eq!(offer.packet.yiaddr, Ipv4Addr::new(10, 0, 0, 103));
    // An expired (now free) lease of the client is also found again.
    let leases = vec![lease_for(
        [10, 0, 0, 104],
        mac(1),
        BindingState::Free,
        T0 - 5000,
    )];
    let mut h = Harness::with_leases(basic().0.build(), leases);
    let offer = only_reply(&h.send(&client(Some(Discover), mac(1), 1)));
    assert_eq!(offer.packet.yiaddr, Ipv4Addr::new(10, 0, 0, 104));
}

#[test]
fn client_identifier_wins_over_hardware() {
    let (b, _) = basic();
    let uid = [1, 2, 0, 0, 0, 1, 1];
    let mut by_uid = lease_for([10, 0, 0, 101], mac(7), BindingState::Active, T0 + 100);
    by_uid.uid = Some(uid.to_vec());
    let by_hw = lease_for([10, 0, 0, 102], mac(1), BindingState::Active, T0 + 200);
    let mut h = Harness::with_leases(b.build(), vec![by_uid, by_hw]);
    let d = with(client(Some(Discover), mac(1), 1), 61, &uid);
    assert_eq!(
        only_reply(&h.send(&d)).packet.yiaddr,
        Ipv4Addr::new(10, 0, 0, 101)
    );
}

#[test]
fn hardware_match_with_other_uid_is_not_reused() {
    let (b, _) = basic();
    let mut l = lease_for([10, 0, 0, 101], mac(1), BindingState::Active, T0 + 100);
    l.uid = Some(vec![1, 9, 9]);
    let mut h = Harness::with_leases(b.build(), vec![l]);
    let d = with(client(Some(Discover), mac(1), 1), 61, &[1, 8, 8]);
    assert_ne!(
        only_reply(&h.send(&d)).packet.yiaddr,
        Ipv4Addr::new(10, 0, 0, 101)
    );
}

#[test]
fn host_reservation_wins_and_is_not_persisted() {
    let (mut b, _) = basic();
    let host = b.host("printer", mac(5), Some([10, 0, 0, 20]));
    let hs = b.cfg.hosts[host].scope;
    b.stmt(hs, opt(12, b"printer"));
    let leases = vec![lease_for(
        [10, 0, 0, 103],
        mac(5),
        BindingState::Active,
        T0 + 100,
    )];
    let mut h = Harness::with_leases(b.build(), leases);
    let offer = only_reply(&h.send(&with(client(Some(Discover), mac(5), 1), 55, &[12, 3])));
    assert_eq!(offer.packet.yiaddr, Ipv4Addr::new(10, 0, 0, 20));
    assert_eq!(offer.packet.options.get(12), Some(&b"printer"[..]));
    let eff = h.send(&with(client(Some(Request), mac(5), 2), 50, &[10, 0, 0, 20]));
    let ack = only_reply(&eff);
    assert_eq!(msg_type(&ack.packet), Some(5));
    assert_eq!(ack.packet.yiaddr, Ipv4Addr::new(10, 0, 0, 20));
    assert!(persisted(&eff).is_empty(), "fixed addresses are not leases");
    assert!(h.engine.lease(Ipv4Addr::new(10, 0, 0, 20)).is_none());
    // A REQUEST for another address from a reserved client is NAKed.
    let eff = h.send(&with(
        client(Some(Request), mac(5), 3),
        50,
        &[10, 0, 0, 103],
    ));
    assert_eq!(msg_type(&only_reply(&eff).packet), Some(6));
}

#[test]
fn requested_address_honoured_when_free() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let d = with(client(Some(Discover), mac(1), 1), 50, &[10, 0, 0, 104]);
    assert_eq!(
        only_reply(&h.send(&d)).packet.yiaddr,
        Ipv4Addr::new(10, 0, 0, 104)
    );
    // Held for client 1 now: client 2 asking for it gets another address.
    let d = with(client(Some(Discover), mac(2), 2), 50, &[10, 0, 0, 104]);
    assert_ne!(
        only_reply(&h.send(&d)).packet.yiaddr,
        Ipv4Addr::new(10, 0, 0, 104)
    );
    // Outside the range: ignored.
    let d = with(client(Some(Discover), mac(3), 3), 50, &[10, 0, 0, 5]);
    let got = only_reply(&h.send(&d)).packet.yiaddr;
    assert!(u32::from(got) >= u32::from(Ipv4Addr::new(10, 0, 0, 100)));
}

#[test]
fn exhaustion_logs_no_free_leases() {
    let mut b = Builder::new();
    let s = b.subnet([10, 0, 0, 0], 24);
    b.range(s, [10, 0, 0, 100], [10, 0, 0, 101]);
    let mut h = Harness::new(b.build());
    for i in 1..=2 {
        let a = only_reply(&h.send(&client(Some(Discover), mac(i), 1)))
            .packet
            .yiaddr;
        only_reply(&h.send(&with(client(Some(Request), mac(i), 2), 50, &a.octets())));
    }
    let eff = h.send(&client(Some(Discover), mac(3), 3));
    assert!(sent(&eff).is_empty());
    assert!(logs(&eff).contains(
        &"DHCPDISCOVER from 02:00:00:00:01:03 via eth0: network 10.0.0.0/24: no free leases"
            .to_owned()
    ));
}

#[test]
fn abandoned_lease_reclaimed_only_when_nothing_else() {
    let mut b = Builder::new();
    let s = b.subnet([10, 0, 0, 0], 24);
    b.range(s, [10, 0, 0, 100], [10, 0, 0, 101]);
    let mut ab = Lease::new(Ipv4Addr::new(10, 0, 0, 101), BindingState::Abandoned);
    ab.ends = T0 + 80_000;
    let mut h = Harness::with_leases(b.build(), vec![ab]);
    let a = only_reply(&h.send(&client(Some(Discover), mac(1), 1)))
        .packet
        .yiaddr;
    assert_eq!(a, Ipv4Addr::new(10, 0, 0, 100));
    only_reply(&h.send(&with(client(Some(Request), mac(1), 2), 50, &a.octets())));
    let eff = h.send(&client(Some(Discover), mac(2), 3));
    assert_eq!(only_reply(&eff).packet.yiaddr, Ipv4Addr::new(10, 0, 0, 101));
    assert!(logs(&eff).contains(&"Reclaiming abandoned lease 10.0.0.101.".to_owned()));
    let eff = h.send(&with(
        client(Some(Request), mac(2), 4),
        50,
        &[10, 0, 0, 101],
    ));
    assert_eq!(persisted(&eff)[0].binding_state, BindingState::Active);
}

#[test]
fn lru_free_lease_is_chosen() {
    let mut b = Builder::new();
    let s = b.subnet([10, 0, 0, 0], 24);
    b.range(s, [10, 0, 0, 100], [10, 0, 0, 102]);
    let used = |a: [u8; 4], m: u8, ends: u64| lease_for(a, mac(m), BindingState::Free, ends);
    let leases = vec![
        used([10, 0, 0, 100], 10, T0 - 100),
        used([10, 0, 0, 101], 11, T0 - 900),
        used([10, 0, 0, 102], 12, T0 - 500),
    ];
    let mut h = Harness::with_leases(b.build(), leases);
    let a = only_reply(&h.send(&client(Some(Discover), mac(1), 1)))
        .packet
        .yiaddr;
    assert_eq!(a, Ipv4Addr::new(10, 0, 0, 101), "oldest ends first");
}

#[test]
fn lease_time_clamped_to_min_and_max() {
    let (mut b, s) = basic();
    let sc = b.subnet_scope(s);
    b.stmt(sc, secs(Param::MinLeaseTime, 120));
    let mut h = Harness::new(b.build());
    let ask = |h: &mut Harness, m: u8, t: u32| {
        let d = with(client(Some(Discover), mac(m), 1), 51, &t.to_be_bytes());
        opt_u32(&only_reply(&h.send(&d)).packet, 51)
    };
    assert_eq!(ask(&mut h, 1, 10), Some(120), "min-lease-time");
    assert_eq!(ask(&mut h, 2, 1_000_000), Some(7200), "max-lease-time");
    assert_eq!(ask(&mut h, 3, 3000), Some(3000), "within bounds");
    let d = client(Some(Discover), mac(4), 1);
    assert_eq!(
        opt_u32(&only_reply(&h.send(&d)).packet, 51),
        Some(600),
        "default"
    );
}

#[test]
fn isc_default_min_lease_time_is_300() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let d = with(client(Some(Discover), mac(1), 1), 51, &30u32.to_be_bytes());
    assert_eq!(opt_u32(&only_reply(&h.send(&d)).packet, 51), Some(300));
}

#[test]
fn renewal_and_rebinding_times_only_when_configured_and_valid() {
    let (mut b, s) = basic();
    let sc = b.subnet_scope(s);
    b.stmt(sc, opt(58, &300u32.to_be_bytes()))
        .stmt(sc, opt(59, &9000u32.to_be_bytes()));
    let mut h = Harness::new(b.build());
    let o = only_reply(&h.send(&client(Some(Discover), mac(1), 1))).packet;
    assert_eq!(opt_u32(&o, 58), Some(300));
    assert_eq!(
        opt_u32(&o, 59),
        None,
        "T2 not below the lease time is dropped"
    );
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let o = only_reply(&h.send(&client(Some(Discover), mac(1), 1))).packet;
    assert_eq!((opt_u32(&o, 58), opt_u32(&o, 59)), (None, None));
}

#[test]
fn options_follow_prl_order_and_53_54_first() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let d = with(client(Some(Discover), mac(1), 1), 55, &[15, 6, 3]);
    let eff = h.send(&d);
    let bytes = match &eff.last() {
        Some(tandem_engine::Effect::Reply { bytes, .. }) => bytes.clone(),
        other => panic!("{other:?}"),
    };
    // Walk the raw options.
    let mut codes = Vec::new();
    let mut i = 240;
    while i < bytes.len() {
        let c = bytes[i];
        if c == 255 {
            break;
        }
        if c == 0 {
            i += 1;
            continue;
        }
        codes.push(c);
        i += 2 + bytes[i + 1] as usize;
    }
    assert_eq!(codes, vec![53, 54, 51, 15, 6, 3, 1]);
}

#[test]
fn max_message_size_respected() {
    let (mut b, s) = basic();
    let sc = b.subnet_scope(s);
    // Many big options the client asks for.
    let mut prl = vec![];
    for code in 128u8..140 {
        b.stmt(sc, opt(u32::from(code), &[0x55; 200]));
        prl.push(code);
    }
    let mut h = Harness::new(b.build());
    let d = with(
        with(client(Some(Discover), mac(1), 1), 55, &prl),
        57,
        &1000u16.to_be_bytes(),
    );
    let r = only_reply(&h.send(&d));
    assert!(r.len <= 1000 - 28, "reply of {} octets", r.len);
    assert!(r.packet.options.get(51).is_some());
    let d = with(client(Some(Discover), mac(2), 2), 55, &prl);
    let r = only_reply(&h.send(&d));
    assert!(r.len <= 576 - 28, "default limit: {} octets", r.len);
}

#[test]
fn pxe_class_sets_file_and_next_server() {
    let (mut b, _) = basic();
    let vci = OptionCode {
        space: "dhcp".into(),
        code: 60,
    };
    let cond = Expr::Equal(
        Box::new(Expr::Substring {
            expr: Box::new(Expr::OptionValue(vci)),
            offset: Box::new(Expr::Number(0)),
            len: Box::new(Expr::Number(9)),
        }),
        Box::new(Expr::Const(b"PXEClient".to_vec())),
    );
    let cs = b.class("pxe", Some(cond));
    b.stmt(cs, param(Param::Filename, b"pxelinux.0"))
        .stmt(cs, param(Param::NextServer, &[10, 0, 0, 1]));
    let mut h = Harness::new(b.build());
    let pxe = with(
        client(Some(Discover), mac(1), 1),
        60,
        b"PXEClient:Arch:00000:UNDI:002001",
    );
    let o = only_reply(&h.send(&pxe)).packet;
    assert_eq!(o.file, b"pxelinux.0".to_vec());
    assert_eq!(o.siaddr, Ipv4Addr::new(10, 0, 0, 1));
    let plain = only_reply(&h.send(&client(Some(Discover), mac(2), 2))).packet;
    assert!(plain.file.is_empty());
    assert_eq!(plain.siaddr, Ipv4Addr::UNSPECIFIED);
}

#[test]
fn members_of_class_pool_permit() {
    let mut b = Builder::new();
    let s = b.subnet([10, 0, 0, 0], 24);
    let vci = OptionCode {
        space: "dhcp".into(),
        code: 60,
    };
    b.class("phones", Some(Expr::Exists(vci)));
    b.pool_with(
        s,
        &[([10, 0, 0, 50], [10, 0, 0, 59], false)],
        vec![Permit {
            allow: true,
            kind: PermitKind::MembersOf("phones".into()),
        }],
        false,
    );
    b.pool_with(
        s,
        &[([10, 0, 0, 100], [10, 0, 0, 109], false)],
        vec![Permit {
            allow: false,
            kind: PermitKind::MembersOf("phones".into()),
        }],
        false,
    );
    let mut h = Harness::new(b.build());
    let phone = with(client(Some(Discover), mac(1), 1), 60, b"phone");
    let a = only_reply(&h.send(&phone)).packet.yiaddr;
    assert!((50..=59).contains(&a.octets()[3]), "{a}");
    let pc = only_reply(&h.send(&client(Some(Discover), mac(2), 2)))
        .packet
        .yiaddr;
    assert!((100..=109).contains(&pc.octets()[3]), "{pc}");
}

#[test]
fn deny_unknown_clients_pool() {
    let mut b = Builder::new();
    let s = b.subnet([10, 0, 0, 0], 24);
    b.pool_with(
        s,
        &[([10, 0, 0, 100], [10, 0, 0, 109], false)],
        vec![Permit {
            allow: false,
            kind: PermitKind::UnknownClients,
        }],
        false,
    );
    b.host("known", mac(1), None);
    let mut h = Harness::new(b.build());
    assert_eq!(sent(&h.send(&client(Some(Discover), mac(1), 1))).len(), 1);
    let eff = h.send(&client(Some(Discover), mac(2), 2));
    assert!(sent(&eff).is_empty());
    assert!(logs(&eff).iter().any(|l| l.ends_with("no free leases")));
}

#[test]
fn bootp_client_gets_infinite_lease_from_dynamic_range_only() {
    let mut b = Builder::new();
    let s = b.subnet([10, 0, 0, 0], 24);
    b.range(s, [10, 0, 0, 100], [10, 0, 0, 109]);
    let mut h = Harness::new(b.build());
    let eff = h.send(&client(None, mac(1), 1));
    assert!(sent(&eff).is_empty());
    assert!(logs(&eff)
        .iter()
        .any(|l| l.ends_with("BOOTP from dynamic client and no dynamic leases")));

    let mut b = Builder::new();
    let s = b.subnet([10, 0, 0, 0], 24);
    b.pool_with(s, &[([10, 0, 0, 200], [10, 0, 0, 209], true)], vec![], true);
    let mut h = Harness::new(b.build());
    let eff = h.send(&client(None, mac(1), 1));
    let r = only_reply(&eff);
    assert!(r.after_persist);
    assert_eq!(r.packet.op, 2);
    assert!(r.packet.options.get(53).is_none());
    assert!((200..=209).contains(&r.packet.yiaddr.octets()[3]));
    let l = &persisted(&eff)[0];
    assert!(l.bootp);
    assert_eq!(l.ends, tandem_lease::INFINITE);
    assert_eq!(h.engine.stats().by_type_in[0], 1);
}

#[test]
fn bootp_fixed_host() {
    let mut b = Builder::new();
    let s = b.subnet([10, 0, 0, 0], 24);
    let _ = s;
    b.host("old", mac(1), Some([10, 0, 0, 30]));
    let mut h = Harness::new(b.build());
    let eff = h.send(&client(None, mac(1), 1));
    let r = only_reply(&eff);
    assert_eq!(r.packet.yiaddr, Ipv4Addr::new(10, 0, 0, 30));
    // ISC's BOOTP default next-server: the interface address.
    assert_eq!(r.packet.siaddr, SERVER);
    assert!(persisted(&eff).is_empty());
}

#[test]
fn requested_abandoned_address() {
    let (b, _) = basic();
    // Abandoned, but the lease file still names the client: ISC reclaims it.
    let mut mine = lease_for([10, 0, 0, 105], mac(1), BindingState::Abandoned, T0 + 5000);
    mine.starts = T0 - 10;
    // Abandoned after a decline (no client on it): another client's
    // INIT-REBOOT gets no answer.
    let mut theirs = Lease::new(Ipv4Addr::new(10, 0, 0, 106), BindingState::Abandoned);
    theirs.ends = T0 + 5000;
    let mut h = Harness::with_leases(b.build(), vec![mine, theirs]);
    let eff = h.send(&with(
        client(Some(Request), mac(1), 1),
        50,
        &[10, 0, 0, 105],
    ));
    assert_eq!(msg_type(&only_reply(&eff).packet), Some(5));
    assert!(
        logs(&eff).contains(&"Reclaiming REQUESTed abandoned IP address 10.0.0.105.".to_owned())
    );
    let eff = h.send(&with(
        client(Some(Request), mac(2), 2),
        50,
        &[10, 0, 0, 106],
    ));
    assert!(sent(&eff).is_empty());
    assert_eq!(h.engine.check_invariants(), Ok(()));
}

#[test]
fn second_request_releases_old_lease_of_same_client() {
    let (b, _) = basic();
    let mut h = Harness::new(b.build());
    let m = mac(1);
    let first = only_reply(&h.send(&client(Some(Discover), m, 1)))
        .packet
        .yiaddr;
    only_reply(&h.send(&with(client(Some(Request), m, 2), 50, &first.octets())));
    // The client asks for another free address (INIT-REBOOT with a stale
    // idea): it gets it, and its old lease is released.
    let eff = h.send(&with(client(Some(Request), m, 3), 50, &[10, 0, 0, 100]));
    assert_eq!(msg_type(&only_reply(&eff).packet), Some(5));
    let stored = persisted(&eff);
    assert_eq!(stored.len(), 2);
    assert!(stored
        .iter()
        .any(|l| l.addr == first && l.binding_state == BindingState::Free));
    assert_eq!(
        h.engine
            .leases()
            .filter(|l| l.binding_state == BindingState::Active)
            .count(),
        1
    );
}
