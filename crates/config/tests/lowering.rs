//! How declarations lower into the model: scopes, pools, hosts, classes,
//! and ISC's odd corners.

mod common;

use std::net::Ipv4Addr;

use common::parse;
use tandem_config::*;

fn ip(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
    Ipv4Addr::new(a, b, c, d)
}

#[test]
fn ranges_in_a_subnet_make_one_implicit_pool() {
    let c = parse(
        "subnet 10.0.0.0 netmask 255.255.255.0 {\n  range 10.0.0.10 10.0.0.20;\n  range dynamic-bootp 10.0.0.30;\n  range 10.0.0.50 10.0.0.40;\n}\n",
    );
    assert_eq!(c.pools.len(), 1);
    let p = &c.pools[0];
    assert!(p.implicit);
    assert!(p.permits.is_empty());
    assert_eq!(p.subnet, Some(0));
    assert_eq!(
        p.ranges,
        vec![
            Range {
                start: ip(10, 0, 0, 10),
                end: ip(10, 0, 0, 20),
                dynamic_bootp: false
            },
            Range {
                start: ip(10, 0, 0, 30),
                end: ip(10, 0, 0, 30),
                dynamic_bootp: true
            },
            // High-to-low is allowed and normalised.
            Range {
                start: ip(10, 0, 0, 40),
                end: ip(10, 0, 0, 50),
                dynamic_bootp: false
            },
        ]
    );
    assert_eq!(c.scopes[p.scope].parent, Some(c.subnets[0].scope));
    assert_eq!(c.shared_networks[0].pools, vec![0]);
    assert_eq!(c.shared_networks[0].name, "10.0.0.0/24");
}

#[test]
fn shared_network_pools_and_scopes() {
    let c = parse(
        r#"
shared-network "campus" {
  option domain-name "x";
  subnet 10.1.0.0 netmask 255.255.255.0 { }
  subnet 10.2.0.0 netmask 255.255.255.0 { }
  pool {
    allow members of "late";
    range 10.2.0.5 10.2.0.9;
    host in-pool { hardware ethernet 00:11:22:33:44:55; }
  }
  group {
    # A subnet in a group gets its own (implicit) network, as in ISC.
    subnet 10.3.0.0 netmask 255.255.255.0 { }
  }
}
"#
        .replace("allow members of \"late\";", "")
        .as_str(),
    );
    assert_eq!(c.shared_networks.len(), 2);
    let n = &c.shared_networks[0];
    assert!(n.explicit);
    assert_eq!(n.name, "campus");
    assert_eq!(n.subnets, vec![0, 1]);
    assert_eq!(c.shared_networks[1].subnets, vec![2]);
    assert!(!c.shared_networks[1].explicit);
    let p = &c.pools[0];
    assert_eq!(p.subnet, None);
    assert_eq!(p.shared_network, 0);
    assert_eq!(c.scopes[p.scope].parent, Some(n.scope));
    // Hosts are global but keep the scope they were written in.
    let h = &c.hosts[0];
    assert_eq!(c.scopes[h.scope].parent, Some(p.scope));
    assert_eq!(
        h.hardware,
        Some(tandem_lease::Hardware {
            htype: 1,
            addr: vec![0, 0x11, 0x22, 0x33, 0x44, 0x55]
        })
    );
}

#[test]
fn hosts() {
    let c = parse(
        r#"
group linux { option host-name "g"; }
host a { hardware ethernet 0:A:59:2:37:1B; fixed-address 10.0.0.1, b.example, 10.0.0.2; }
host b { hardware token-ring 01:02; uid "client-1"; }
host c { hardware fddi 01:02; uid 01:aa:bb; group linux; }
host d { option dhcp-client-identifier "FOC1947R143"; hardware ethernet 0:A:59:2:37:1B; }
host e { host-identifier option agent.circuit-id "port-1"; hardware unknown-32 01; }
host host01.example.com { hardware ethernet 01:de:ad:be:ef:01; fixed-address 172.17.0.1; }
"#,
    );
    let by = |n: &str| c.hosts.iter().find(|h| h.name == n).expect(n);
    let a = by("a");
    assert_eq!(
        a.hardware.as_ref().map(|h| h.addr.clone()),
        Some(vec![0, 0x0a, 0x59, 2, 0x37, 0x1b])
    );
    assert_eq!(
        a.fixed_addresses,
        vec![
            HostAddr::Ip(ip(10, 0, 0, 1)),
            HostAddr::Name("b.example".into()),
            HostAddr::Ip(ip(10, 0, 0, 2))
        ]
    );
    assert_eq!(by("b").hardware.as_ref().map(|h| h.htype), Some(6));
    assert_eq!(by("b").client_id, Some(b"client-1".to_vec()));
    assert_eq!(by("c").hardware.as_ref().map(|h| h.htype), Some(8));
    assert_eq!(by("c").client_id, Some(vec![1, 0xaa, 0xbb]));
    // `group linux;` puts the named group above the host.
    let g = c
        .scopes
        .iter()
        .position(|s| s.kind == ScopeKind::Group)
        .expect("group");
    assert_eq!(c.scopes[by("c").scope].parent, Some(g));
    assert_eq!(by("d").client_id, Some(b"FOC1947R143".to_vec()));
    assert_eq!(
        by("e").host_identifier,
        Some((
            OptionCode {
                space: "agent".into(),
                code: 1
            },
            b"port-1".to_vec()
        ))
    );
    assert_eq!(by("e").hardware.as_ref().map(|h| h.htype), Some(32));
    assert_eq!(by("host01.example.com").span.line, 8);
}

#[test]
fn classes_and_subclasses() {
    let c = parse(
        r#"
class "vendor" {
  match option vendor-class-identifier;
  lease limit 4;
}
subclass "vendor" "MSFT 5.0" { option domain-name "win"; }
subclass "vendor" 01:02:03;
class "agents" { spawn with option agent.circuit-id; }
subnet 10.0.0.0 netmask 255.0.0.0 {
  class "in-subnet" { match if known; }
}
class "vendor" { option host-name "again"; }
"#,
    );
    let v = &c.classes[0];
    assert_eq!(v.lease_limit, Some(4));
    assert_eq!(
        v.match_value,
        Some(Expr::OptionValue(OptionCode {
            space: "dhcp".into(),
            code: 60
        }))
    );
    assert_eq!(v.subclasses.len(), 2);
    assert_eq!(v.subclasses[0].0, b"MSFT 5.0".to_vec());
    assert_eq!(v.subclasses[1].0, vec![1, 2, 3]);
    let sub = v.subclasses[0].1;
    assert_eq!(c.scopes[sub].kind, ScopeKind::Subclass(0));
    assert_eq!(c.scopes[sub].parent, Some(v.scope));
    assert_eq!(c.scopes[sub].statements.len(), 1);
    // A redeclared class adds to the same class.
    assert_eq!(c.scopes[v.scope].statements.len(), 1);
    assert_eq!(
        c.classes[1].spawn_with,
        Some(Expr::OptionValue(OptionCode {
            space: "agent".into(),
            code: 1
        }))
    );
    let inner = &c.classes[2];
    assert_eq!(inner.match_if, Some(Expr::Known));
    assert_eq!(c.scopes[inner.scope].parent, Some(c.subnets[0].scope));
}

#[test]
fn authoritative_follows_isc() {
    // ISC copies the flag when a scope is declared: a subnet written before
    // a global `authoritative;` is not authoritative.
    let c = parse(
        "subnet 10.0.0.0 netmask 255.0.0.0 { }\nauthoritative;\nsubnet 11.0.0.0 netmask 255.0.0.0 { }\n\
         subnet 12.0.0.0 netmask 255.0.0.0 { not authoritative; }\n",
    );
    let auth: Vec<bool> = c
        .subnets
        .iter()
        .map(|s| c.scopes[s.scope].authoritative)
        .collect();
    assert_eq!(auth, vec![false, true, false]);
    let nets: Vec<bool> = c
        .shared_networks
        .iter()
        .map(|n| c.scopes[n.scope].authoritative)
        .collect();
    assert_eq!(nets, vec![false, true, false]);
    assert!(c.scopes[0].authoritative);
}

#[test]
fn odd_statements_isc_accepts() {
    // accept/09 and accept/14: a misspelling and a shell line are read as
    // expressions.
    let c = parse("authorative;\nDHCPD_INTERFACE=\"eth0\" ;\nAllow booting;\n");
    let s = &c.scopes[0].statements;
    assert_eq!(s[0], Stmt::Eval(Expr::Variable("authorative".into())));
    assert_eq!(
        s[1],
        Stmt::Eval(Expr::Equal(
            Box::new(Expr::Variable("DHCPD_INTERFACE".into())),
            Box::new(Expr::Const(b"eth0".to_vec()))
        ))
    );
    assert_eq!(
        s[2],
        Stmt::AccessControl {
            what: AccessFlag::Booting,
            allow: AllowMode::Allow
        }
    );
    assert_eq!(c.warnings.len(), 2);
    assert_eq!(c.warnings[0].span.line, 1);
}

#[test]
fn executable_statements() {
    let c = parse(
        r#"
on commit or release {
  set ip = binary-to-ascii(10, 8, ".", leased-address);
  log(info, concat("ip ", ip));
  execute("/bin/true", ip);
  unset ip;
}
switch (option vendor-class-identifier) {
  case "a": option host-name "a"; break;
  default: option host-name "b";
}
if known { add "c"; } else if option host-name = "x" { break; } else { }
eval "x";
ddns-update-style none;
ping-check true;
"#
        .replace("add \"c\";", "")
        .as_str(),
    );
    let s = &c.scopes[0].statements;
    match &s[0] {
        Stmt::On { events, body } => {
            assert_eq!(events, &vec![LeaseEvent::Commit, LeaseEvent::Release]);
            assert_eq!(body.len(), 4);
            assert!(matches!(
                &body[1],
                Stmt::Log {
                    priority: LogPriority::Info,
                    ..
                }
            ));
            assert!(
                matches!(&body[2], Stmt::Execute { command, args } if command == "/bin/true" && args.len() == 1)
            );
        }
        other => panic!("{other:?}"),
    }
    match &s[1] {
        Stmt::Switch { body, .. } => {
            assert!(matches!(body[0], Stmt::Case(Expr::Const(_))));
            assert_eq!(body[2], Stmt::Break);
            assert_eq!(body[3], Stmt::DefaultCase);
            assert_eq!(body.len(), 5);
        }
        other => panic!("{other:?}"),
    }
    match &s[2] {
        Stmt::If {
            branches,
            otherwise,
        } => {
            assert_eq!(branches.len(), 2);
            assert!(otherwise.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&s[3], Stmt::Eval(Expr::Const(_))));
    // execute, eval and ping-check warn; ddns-update-style none does not.
    let w: Vec<&str> = c.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w[0].starts_with("execute"));
    assert!(w[1].starts_with("statement evaluated as an expression"));
    assert!(w[2].starts_with("ping-check"));
    // ddns-update-style other than none warns once.
    let c = parse("ddns-update-style interim;\nddns-update-style standard;\n");
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].message.contains("DDNS"));
}

#[test]
fn pool_permits() {
    let c = parse(
        r#"
class "c" { match if known; }
subnet 10.0.0.0 netmask 255.0.0.0 {
  pool {
    allow unknown-clients; deny known clients; allow all clients;
    deny dynamic bootp clients; allow authenticated clients;
    deny unauthenticated clients; allow members of "c"; deny known-clients;
    allow after 4 2030/01/01 00:00:00;
    range 10.0.0.1 10.0.0.2;
  }
}
"#,
    );
    let kinds: Vec<(bool, PermitKind)> = c.pools[0]
        .permits
        .iter()
        .map(|p| (p.allow, p.kind.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (true, PermitKind::UnknownClients),
            (false, PermitKind::KnownClients),
            (true, PermitKind::AllClients),
            (false, PermitKind::DynamicBootpClients),
            (true, PermitKind::AuthenticatedClients),
            (false, PermitKind::UnauthenticatedClients),
            (true, PermitKind::MembersOf("c".into())),
            (false, PermitKind::KnownClients),
            (true, PermitKind::After(1_893_456_000)),
        ]
    );
}
