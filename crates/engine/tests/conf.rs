//! Scenarios on realistic dhcpd.conf text, parsed by tandem-config.

mod common;

use std::net::Ipv4Addr;

use common::*;
use tandem_engine::{Destination, Engine, Interface, LogLevel, Now};
use tandem_lease::BindingState;
use tandem_wire::MessageType::*;
use tandem_wire::Packet;

const OFFICE: &str = r#"
# A small office: one local subnet, one relayed, PXE and phones.
authoritative;
default-lease-time 3600;
max-lease-time 86400;
min-lease-time 600;
option domain-name "office.example";
option domain-name-servers 10.0.0.53, 10.0.0.54;
ddns-update-style none;

class "pxe" {
  match if substring(option vendor-class-identifier, 0, 9) = "PXEClient";
  filename "pxelinux.0";
  next-server 10.0.0.1;
}

class "phones" {
  match if option vendor-class-identifier = "VoIPPhone";
  option tftp-server-name "10.0.0.5";
}

subnet 10.0.0.0 netmask 255.255.255.0 {
  option routers 10.0.0.1;
  option broadcast-address 10.0.0.255;
  pool {
    deny members of "phones";
    range 10.0.0.100 10.0.0.149;
  }
  pool {
    allow members of "phones";
    range 10.0.0.150 10.0.0.159;
  }
}

shared-network branch {
  option domain-name "branch.example";
  subnet 10.20.0.0 netmask 255.255.255.0 {
    option routers 10.20.0.1;
    range 10.20.0.10 10.20.0.19;
  }
  subnet 10.21.0.0 netmask 255.255.255.0 {
    option routers 10.21.0.1;
    range 10.21.0.10 10.21.0.19;
  }
}

subnet 10.30.0.0 netmask 255.255.255.0 {
  not authoritative;
  range 10.30.0.10 10.30.0.19;
}

host printer {
  hardware ethernet 02:00:00:00:01:05;
  fixed-address 10.0.0.20;
  option host-name "printer";
}

host lab-pc {
  hardware ethernet 02:00:00:00:01:06;
  option domain-name "lab.example";
}
"#;

#[test]
fn office_dora_with_pxe_class() {
    let mut h = Harness::new(conf(OFFICE));
    let pxe = with(
        with(
            client(Some(Discover), mac(1), 1),
            60,
            b"PXEClient:Arch:00007:UNDI:003016",
        ),
        55,
        &[1, 3, 6, 15, 66, 67],
    );
    let eff = h.send(&pxe);
    let o = only_reply(&eff).packet;
    assert_eq!(msg_type(&o), Some(2));
    assert_eq!(o.file, b"pxelinux.0".to_vec());
    assert_eq!(o.siaddr, Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(o.yiaddr, Ipv4Addr::new(10, 0, 0, 149));
    assert_eq!(opt_u32(&o, 51), Some(3600));
    assert_eq!(o.options.get(15), Some(&b"office.example"[..]));
    assert_eq!(o.options.get(6), Some(&[10, 0, 0, 53, 10, 0, 0, 54][..]));
    let req = with(
        with(
            with(client(Some(Request), mac(1), 2), 50, &o.yiaddr.octets()),
            54,
            &SERVER.octets(),
        ),
        60,
        b"PXEClient:Arch:00007:UNDI:003016",
    );
    let eff = h.send(&req);
    let ack = only_reply(&eff);
    assert!(ack.after_persist);
    assert_eq!(ack.packet.file, b"pxelinux.0".to_vec());
    let l = &persisted(&eff)[0];
    assert_eq!(l.ends, T0 + 3600);
    // ISC 4.4 records the vendor class on the lease.
    assert!(l.vars.contains(&(
        "vendor-class-identifier".to_owned(),
        "\"PXEClient:Arch:00007:UNDI:003016\"".to_owned()
    )));
}

#[test]
fn office_phones_pool_and_class_option() {
    let mut h = Harness::new(conf(OFFICE));
    let phone = with(
        with(client(Some(Discover), mac(2), 1), 60, b"VoIPPhone"),
        55,
        &[66, 3],
    );
    let o = only_reply(&h.send(&phone)).packet;
    assert!((150..=159).contains(&o.yiaddr.octets()[3]), "{}", o.yiaddr);
    assert_eq!(o.options.get(66), Some(&b"10.0.0.5"[..]));
    let pc = only_reply(&h.send(&client(Some(Discover), mac(3), 2))).packet;
    assert!((100..=149).contains(&pc.yiaddr.octets()[3]));
}

#[test]
fn office_fixed_host_and_host_options() {
    let mut h = Harness::new(conf(OFFICE));
    let o = only_reply(&h.send(&with(client(Some(Discover), mac(5), 1), 55, &[12]))).packet;
    assert_eq!(o.yiaddr, Ipv4Addr::new(10, 0, 0, 20));
    assert_eq!(o.options.get(12), Some(&b"printer"[..]));
    // A host without a fixed address gets a dynamic lease and its options.
    let o = only_reply(&h.send(&with(client(Some(Discover), mac(6), 2), 55, &[15]))).packet;
    assert!((100..=149).contains(&o.yiaddr.octets()[3]));
    assert_eq!(o.options.get(15), Some(&b"lab.example"[..]));
}

#[test]
fn office_min_lease_time() {
    let mut h = Harness::new(conf(OFFICE));
    let d = with(client(Some(Discover), mac(1), 1), 51, &60u32.to_be_bytes());
    assert_eq!(opt_u32(&only_reply(&h.send(&d)).packet, 51), Some(600));
}

fn relayed(mut p: Packet, gi: [u8; 4]) -> Packet {
    p.giaddr = Ipv4Addr::from(gi);
    p
}

#[test]
fn office_shared_network_via_relay() {
    let mut h = Harness::new(conf(OFFICE));
    // giaddr in the second subnet of the shared network: addresses from
    // either subnet may be offered; the first subnet's range is tried first.
    let d = relayed(
        with(client(Some(Discover), mac(1), 1), 55, &[3, 15]),
        [10, 21, 0, 1],
    );
    let eff = h.send_rx(&d, &rx_on(ETH0, Ipv4Addr::new(10, 21, 0, 1), SERVER));
    let o = only_reply(&eff);
    assert_eq!(o.packet.options.get(15), Some(&b"branch.example"[..]));
    let third = o.packet.yiaddr.octets()[1];
    assert!(third == 20 || third == 21, "{}", o.packet.yiaddr);
    // The router option comes from the subnet the address is in.
    assert_eq!(opt_addr(&o.packet, 3), Some(Ipv4Addr::new(10, third, 0, 1)));
    assert_eq!(
        o.to,
        Destination::Relay {
            giaddr: Ipv4Addr::new(10, 21, 0, 1),
            port: 67
        }
    );
}

#[test]
fn office_not_authoritative_subnet_stays_silent() {
    let mut h = Harness::new(conf(OFFICE));
    // INIT-REBOOT from the non-authoritative subnet asking for a foreign
    // address: ignored.
    let r = relayed(
        with(client(Some(Request), mac(1), 1), 50, &[192, 168, 9, 9]),
        [10, 30, 0, 1],
    );
    let eff = h.send_rx(&r, &rx_on(ETH0, Ipv4Addr::new(10, 30, 0, 1), SERVER));
    assert!(sent(&eff).is_empty());
    // The same from the authoritative branch network: NAK.
    let r = relayed(
        with(client(Some(Request), mac(1), 2), 50, &[192, 168, 9, 9]),
        [10, 20, 0, 1],
    );
    let eff = h.send_rx(&r, &rx_on(ETH0, Ipv4Addr::new(10, 20, 0, 1), SERVER));
    assert_eq!(msg_type(&only_reply(&eff).packet), Some(6));
    // INFORM is answered only for authoritative subnets.
    let mut inf = client(Some(Inform), mac(2), 3);
    inf.ciaddr = Ipv4Addr::new(10, 30, 0, 50);
    let eff = h.send_rx(&inf, &rx_on(ETH0, inf.ciaddr, SERVER));
    assert!(sent(&eff).is_empty());
    assert!(logs(&eff)[0].contains("not authoritative for subnet 10.30.0.0"));
}

#[test]
fn conditionals_logs_variables_and_on_commit() {
    let text = r#"
authoritative;
subnet 10.0.0.0 netmask 255.255.255.0 {
  range 10.0.0.100 10.0.0.110;
  if exists agent.circuit-id {
    option domain-name "relayed.example";
    set circuit = option agent.circuit-id;
  } elsif option host-name = "kiosk" {
    option domain-name "kiosk.example";
  } else {
    option domain-name "plain.example";
  }
  log (info, concat("lease for ", binary-to-ascii(16, 8, ":", substring(hardware, 1, 6))));
  on commit {
    log (info, concat("committed ", binary-to-ascii(10, 8, ".", leased-address)));
    execute ("/usr/local/bin/notify", "x");
  }
}
"#;
    let mut h = Harness::new(conf(text));
    let d = with(
        with(client(Some(Discover), mac(1), 1), 12, b"kiosk"),
        55,
        &[15],
    );
    let eff = h.send(&d);
    let o = only_reply(&eff).packet;
    assert_eq!(o.options.get(15), Some(&b"kiosk.example"[..]));
    assert!(logs(&eff).contains(&"lease for 2:0:0:0:1:1".to_owned()));
    let r = with(
        with(client(Some(Request), mac(1), 2), 50, &o.yiaddr.octets()),
        55,
        &[15],
    );
    let eff = h.send(&r);
    let l = logs(&eff);
    assert!(l.contains(&format!("committed {}", o.yiaddr)), "{l:?}");
    assert!(l
        .iter()
        .any(|m| m.contains("execute") && m.contains("not run")));
    // Relayed with option 82: the first branch, and the variable is kept on
    // the lease.
    let mut d = with(
        with(
            client(Some(Discover), mac(2), 3),
            82,
            &[1, 3, b'p', b'1', b'7'],
        ),
        55,
        &[15],
    );
    d.giaddr = Ipv4Addr::new(10, 0, 0, 2);
    let o = only_reply(&h.send_rx(&d, &rx_on(ETH0, d.giaddr, SERVER))).packet;
    assert_eq!(o.options.get(15), Some(&b"relayed.example"[..]));
    let mut r = with(
        with(
            client(Some(Request), mac(2), 4),
            82,
            &[1, 3, b'p', b'1', b'7'],
        ),
        50,
        &o.yiaddr.octets(),
    );
    r.giaddr = d.giaddr;
    let eff = h.send_rx(&r, &rx_on(ETH0, d.giaddr, SERVER));
    let lease = &persisted(&eff)[0];
    assert!(
        lease
            .vars
            .contains(&("circuit".to_owned(), "\"p17\"".to_owned())),
        "{:?}",
        lease.vars
    );
    // A unicast renewal without option 82 still sees the stashed agent
    // options (ISC stash-agent-options): same branch.
    let mut renew = with(client(Some(Request), mac(2), 5), 55, &[15]);
    renew.ciaddr = o.yiaddr;
    let eff = h.send_rx(&renew, &rx_on(ETH0, o.yiaddr, SERVER));
    let ack = only_reply(&eff).packet;
    assert_eq!(ack.options.get(15), Some(&b"relayed.example"[..]));
    assert!(
        ack.options.get(82).is_none(),
        "stashed options are not echoed"
    );
}

#[test]
fn subclass_match_and_deny_unknown() {
    let text = r#"
authoritative;
class "vendors" { match option vendor-class-identifier; }
subclass "vendors" "acme" { option domain-name "acme.example"; }
subclass "vendors" "globex" { option domain-name "globex.example"; }
subnet 10.0.0.0 netmask 255.255.255.0 {
  pool { allow members of "vendors"; range 10.0.0.100 10.0.0.110; }
}
"#;
    let mut h = Harness::new(conf(text));
    let d = with(
        with(client(Some(Discover), mac(1), 1), 60, b"globex"),
        55,
        &[15],
    );
    let o = only_reply(&h.send(&d)).packet;
    assert_eq!(o.options.get(15), Some(&b"globex.example"[..]));
    let eff = h.send(&with(client(Some(Discover), mac(2), 2), 60, b"initech"));
    assert!(sent(&eff).is_empty());

    let text = r#"
subnet 10.0.0.0 netmask 255.255.255.0 {
  deny unknown-clients;
  range 10.0.0.100 10.0.0.110;
}
host known { hardware ethernet 02:00:00:00:01:01; }
"#;
    let mut h = Harness::new(conf(text));
    assert_eq!(sent(&h.send(&client(Some(Discover), mac(1), 1))).len(), 1);
    let eff = h.send(&client(Some(Discover), mac(2), 2));
    assert!(sent(&eff).is_empty());
    assert!(logs(&eff).iter().any(|l| l.ends_with(": unknown client")));
}

#[test]
fn host_identifier_by_circuit_id() {
    let text = r#"
authoritative;
subnet 10.0.0.0 netmask 255.255.255.0 { range 10.0.0.100 10.0.0.110; }
subnet 10.9.0.0 netmask 255.255.255.0 { range 10.9.0.100 10.9.0.110; }
host port7 {
  host-identifier option agent.circuit-id "port7";
  fixed-address 10.9.0.7;
}
"#;
    let mut h = Harness::new(conf(text));
    let mut d = with(
        client(Some(Discover), mac(1), 1),
        82,
        &[1, 5, b'p', b'o', b'r', b't', b'7'],
    );
    d.giaddr = Ipv4Addr::new(10, 9, 0, 1);
    let o = only_reply(&h.send_rx(&d, &rx_on(ETH0, d.giaddr, SERVER))).packet;
    assert_eq!(o.yiaddr, Ipv4Addr::new(10, 9, 0, 7));
}

#[test]
fn server_identifier_and_always_broadcast() {
    let text = r#"
authoritative;
server-identifier 10.0.0.250;
always-broadcast on;
option dhcp-renewal-time 100;
option dhcp-rebinding-time 200;
subnet 10.0.0.0 netmask 255.255.255.0 { range 10.0.0.100 10.0.0.110; default-lease-time 300; }
"#;
    let mut h = Harness::new(conf(text));
    let o = only_reply(&h.send(&client(Some(Discover), mac(1), 1)));
    assert_eq!(opt_addr(&o.packet, 54), Some(Ipv4Addr::new(10, 0, 0, 250)));
    assert_eq!(o.src, Ipv4Addr::new(10, 0, 0, 250));
    assert_eq!(o.to, Destination::Broadcast { ifindex: ETH0 });
    assert_eq!(opt_u32(&o.packet, 51), Some(300));
    assert_eq!(opt_u32(&o.packet, 58), Some(100));
    assert_eq!(opt_u32(&o.packet, 59), Some(200));
    // The configured identifier counts as ours in SELECTING.
    let r = with(
        with(
            client(Some(Request), mac(1), 2),
            50,
            &o.packet.yiaddr.octets(),
        ),
        54,
        &[10, 0, 0, 250],
    );
    assert_eq!(msg_type(&only_reply(&h.send(&r)).packet), Some(5));
}

#[test]
fn encapsulated_vendor_options() {
    let text = r#"
authoritative;
option space ZTP;
option ZTP.server-image code 0 = text;
option ZTP.transfer-mode code 3 = text;
option ZTP-encapsulation code 43 = encapsulate ZTP;
option space ipxe;
option ipxe-encap-opts code 175 = encapsulate ipxe;
option ipxe.no-pxedhcp code 176 = unsigned integer 8;
subnet 10.0.0.0 netmask 255.255.255.0 {
  range 10.0.0.100 10.0.0.110;
  option ZTP.transfer-mode "ftp";
  option ipxe.no-pxedhcp 1;
}
"#;
    let mut h = Harness::new(conf(text));
    let o = only_reply(&h.send(&with(client(Some(Discover), mac(1), 1), 55, &[43, 175]))).packet;
    assert_eq!(o.options.get(43), Some(&[3, 3, b'f', b't', b'p'][..]));
    assert_eq!(o.options.get(175), Some(&[176, 1, 1][..]));
}

#[test]
fn expired_leases_from_file_are_freed_at_startup() {
    let (b, _) = basic();
    let mut l = tandem_engine::Lease::new(Ipv4Addr::new(10, 0, 0, 105), BindingState::Active);
    l.ends = T0 - 10;
    l.hardware = Some(tandem_lease::Hardware {
        htype: 1,
        addr: mac(1).to_vec(),
    });
    let now = Now {
        wall: T0,
        mono_ms: 0,
    };
    let mut engine = Engine::new(b.build(), vec![eth0()], vec![l], now).expect("engine");
    assert_eq!(
        engine
            .lease(Ipv4Addr::new(10, 0, 0, 105))
            .map(|l| l.binding_state),
        Some(BindingState::Free)
    );
    let eff = engine.tick(now);
    assert_eq!(
        persisted(&eff).len(),
        1,
        "the expiry is persisted by the first call"
    );
    assert!(persisted(&engine.tick(now)).is_empty());
}

#[test]
fn engine_is_send() {
    fn send<T: Send>() {}
    send::<Engine>();
}

#[test]
fn reload_keeps_leases_and_adds_new_ranges() {
    let v1 = r#"
authoritative;
subnet 10.0.0.0 netmask 255.255.255.0 { range 10.0.0.100 10.0.0.101; }
"#;
    let v2 = r#"
authoritative;
subnet 10.0.0.0 netmask 255.255.255.0 { range 10.0.0.100 10.0.0.105; }
"#;
    let mut h = Harness::new(conf(v1));
    let a = only_reply(&h.send(&client(Some(Discover), mac(1), 1)))
        .packet
        .yiaddr;
    only_reply(&h.send(&with(client(Some(Request), mac(1), 2), 50, &a.octets())));
    let eff = h.engine.reload(conf(v2), h.now).expect("reload");
    assert!(!eff
        .iter()
        .any(|e| matches!(e, tandem_engine::Effect::Reply { .. })));
    assert_eq!(
        h.engine.lease(a).map(|l| l.binding_state),
        Some(BindingState::Active)
    );
    assert_eq!(
        h.engine
            .lease(Ipv4Addr::new(10, 0, 0, 105))
            .map(|l| l.binding_state),
        Some(BindingState::Free)
    );
    assert_eq!(h.engine.all_leases().count(), 6);
    assert_eq!(
        h.engine.leases().count(),
        1,
        "only touched leases are rewritten"
    );
    // A bad config leaves the old one in place.
    let mut bad = (*conf(v2)).clone();
    bad.pools[0].ranges[0].end = Ipv4Addr::new(10, 0, 1, 5);
    assert!(matches!(
        h.engine.reload(std::sync::Arc::new(bad), h.now),
        Err(tandem_engine::EngineError::RangeOutsideSubnet { .. })
    ));
    assert_eq!(h.engine.all_leases().count(), 6);
    assert_eq!(h.engine.check_invariants(), Ok(()));
}

/// Every configuration ISC accepts is served: the engine starts on it and
/// answers a few exchanges on every subnet without panicking.
#[test]
fn corpus_configs_start_and_serve() {
    let dir = std::path::Path::new("/work/shared/testdata/dhcpd-conf/accept");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    let mut served = 0;
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let text = text.replace("@DIR@", &dir.display().to_string());
        let Ok(config) = tandem_config::parse_str(&path, &text) else {
            // The parser's conformance is tested in tandem-config.
            continue;
        };
        let ifaces: Vec<Interface> = config
            .subnets
            .iter()
            .enumerate()
            .map(|(i, s)| Interface {
                index: 10 + i as u32,
                name: format!("if{i}"),
                addrs: vec![(Ipv4Addr::from(u32::from(s.network) | 1), s.prefix_len)],
                mac: vec![2, 0, 0, 0, 0, 1],
            })
            .collect();
        let now = Now {
            wall: T0,
            mono_ms: 0,
        };
        let config = std::sync::Arc::new(config);
        let mut engine = match Engine::new(config.clone(), ifaces.clone(), vec![], now) {
            Ok(e) => e,
            Err(e) => panic!(
                "{}: engine refused an ISC-accepted config: {e}",
                path.display()
            ),
        };
        for e in engine.tick(now) {
            if let tandem_engine::Effect::Log {
                level: LogLevel::Error,
                message,
            } = e
            {
                panic!("{}: {message}", path.display());
            }
        }
        for (n, iface) in ifaces.iter().enumerate() {
            let m = [2, 0, 0, 9, (n >> 8) as u8, n as u8];
            let local = rx_on(iface.index, Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST);
            let d = with(
                client(Some(Discover), m, 1),
                55,
                &[1, 3, 6, 12, 15, 43, 66, 67, 119],
            );
            let eff = engine.handle_packet(now, &local, &d.encode());
            if let Some(o) = sent(&eff).first() {
                served += 1;
                let r = with(
                    with(client(Some(Request), m, 2), 50, &o.packet.yiaddr.octets()),
                    54,
                    &o.src.octets(),
                );
                let _ = engine.handle_packet(now, &local, &r.encode());
            }
            let mut relayed = client(Some(Discover), [2, 0, 0, 8, 0, n as u8], 3);
            relayed.giaddr = iface.addrs[0].0;
            let rx = rx_on(ifaces[0].index, relayed.giaddr, Ipv4Addr::new(10, 0, 0, 1));
            let _ = engine.handle_packet(now, &rx, &relayed.encode());
            let mut inf = client(Some(Inform), [2, 0, 0, 7, 0, n as u8], 4);
            inf.ciaddr = Ipv4Addr::from(u32::from(iface.addrs[0].0) + 1);
            let _ = engine.handle_packet(
                now,
                &rx_on(iface.index, inf.ciaddr, iface.addrs[0].0),
                &inf.encode(),
            );
            let _ = engine.handle_packet(now, &local, &client(None, m, 5).encode());
        }
        let later = Now {
            wall: T0 + 400_000,
            mono_ms: 400_000_000,
        };
        let _ = engine.tick(later);
        assert_eq!(engine.check_invariants(), Ok(()), "{}", path.display());
    }
    assert!(served > 0);
}

#[test]
fn a_slash_16_pool_is_served() {
    let text = r#"
authoritative;
subnet 10.0.0.0 netmask 255.255.0.0 { range 10.0.1.0 10.0.255.255; }
"#;
    let mut h = Harness::new(conf(text));
    assert_eq!(h.engine.all_leases().count(), 65_280);
    let o = only_reply(&h.send(&client(Some(Discover), mac(1), 1))).packet;
    assert_eq!(o.yiaddr, Ipv4Addr::new(10, 0, 255, 255));
    let eff = h.send(&with(
        client(Some(Request), mac(1), 2),
        50,
        &o.yiaddr.octets(),
    ));
    assert_eq!(persisted(&eff).len(), 1);
}
