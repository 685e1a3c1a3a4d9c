//! The failover pair from the mission: primary and secondary both include
//! a shared master.conf.

mod common;

use std::net::Ipv4Addr;

use common::TempDir;
use tandem_config::*;

const PRIMARY: &str = r#"failover peer "foo" 
    {
    primary;
    mclt 1800;  # only specified in the primary
    split 128;  # only specified in the primary

    address 10.0.0.10;
    port 520;

    peer address 10.0.0.20;
    peer port 520;

    max-response-delay 30;
    max-unacked-updates 10;
    load balance max seconds 3;                
    }

option domain-name-servers 10.0.0.10, 10.0.0.20;

include "/usr/local/etc/dhcp/master.conf"; 
"#;

const SECONDARY: &str = r#"failover peer "foo" 
    {
    secondary;

    address 10.0.0.20;
    port 520;

    peer address 10.0.0.10;
    peer port 520;

    max-response-delay 30;
    max-unacked-updates 10;
    load balance max seconds 3;                
    }

option domain-name-servers 10.0.0.20, 10.0.0.10;

include "/usr/local/etc/dhcp/master.conf"; 
"#;

const MASTER: &str = r#"omapi-port 7911;

default-lease-time 16200;  # 4.5 hours
max-lease-time 16200;

subnet 10.0.0.0 netmask 255.255.255.0
        {
        option routers 10.0.0.1;

        pool
                {
                failover peer "foo";
                deny dynamic bootp clients;

                range 10.0.0.100  10.0.0.200;
                }
        }
"#;

fn load_pair(main: &str) -> Config {
    let dir = TempDir::new("mission");
    let master = dir.write("master.conf", MASTER);
    let text = main.replace(
        "/usr/local/etc/dhcp/master.conf",
        &master.display().to_string(),
    );
    let conf = dir.write("dhcpd.conf", &text);
    match load(&conf) {
        Ok(c) => c,
        Err(e) => panic!("{}", e.render()),
    }
}

fn global_param(c: &Config, p: Param) -> Option<Vec<u8>> {
    c.scopes[0].statements.iter().find_map(|s| match s {
        Stmt::Param {
            param,
            value: Value::Const(v),
        } if *param == p => Some(v.clone()),
        _ => None,
    })
}

fn option_in(c: &Config, scope: ScopeId, code: u32) -> Option<Vec<u8>> {
    c.scopes[scope].statements.iter().find_map(|s| match s {
        Stmt::Option {
            code: oc,
            value: Value::Const(v),
            ..
        } if oc.space == "dhcp" && oc.code == code => Some(v.clone()),
        _ => None,
    })
}

fn check_common(c: &Config) {
    assert_eq!(c.omapi_port, Some(7911));
    // 16200 = 0x3f48 seconds.
    assert_eq!(
        global_param(c, Param::DefaultLeaseTime),
        Some(vec![0, 0, 0x3f, 0x48])
    );
    assert_eq!(
        global_param(c, Param::MaxLeaseTime),
        Some(vec![0, 0, 0x3f, 0x48])
    );

    assert_eq!(c.subnets.len(), 1);
    let s = &c.subnets[0];
    assert_eq!(s.network, Ipv4Addr::new(10, 0, 0, 0));
    assert_eq!(s.netmask, Ipv4Addr::new(255, 255, 255, 0));
    assert_eq!(s.prefix_len, 24);
    assert_eq!(option_in(c, s.scope, 3), Some(vec![10, 0, 0, 1]));

    // A lone subnet sits in an implicit shared network.
    let net = &c.shared_networks[s.shared_network];
    assert!(!net.explicit);
    assert_eq!(net.subnets, vec![0]);

    assert_eq!(c.pools.len(), 1);
    let p = &c.pools[0];
    assert!(!p.implicit);
    assert_eq!(p.subnet, Some(0));
    assert_eq!(p.failover_peer.as_deref(), Some("foo"));
    assert_eq!(
        p.permits,
        vec![Permit {
            allow: false,
            kind: PermitKind::DynamicBootpClients
        }]
    );
    assert_eq!(
        p.ranges,
        vec![Range {
            start: Ipv4Addr::new(10, 0, 0, 100),
            end: Ipv4Addr::new(10, 0, 0, 200),
            dynamic_bootp: false
        }]
    );
    assert_eq!(c.scope_chain(p.scope), vec![0, net.scope, s.scope, p.scope]);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn primary() {
    let c = load_pair(PRIMARY);
    check_common(&c);
    assert_eq!(option_in(&c, 0, 6), Some(vec![10, 0, 0, 10, 10, 0, 0, 20]));
    assert_eq!(c.failover_peers.len(), 1);
    let f = &c.failover_peers[0];
    assert_eq!(f.name, "foo");
    assert_eq!(f.role, Role::Primary);
    assert_eq!(f.mclt, Some(1800));
    assert_eq!(f.split, Some(128));
    // split 128: the first 128 hash buckets (bytes 0..16) are the primary's.
    let mut hba = [0u8; 32];
    hba[..16].fill(0xff);
    assert_eq!(f.hba, Some(hba));
    assert_eq!(f.address, Some(HostAddr::Ip(Ipv4Addr::new(10, 0, 0, 10))));
    assert_eq!(f.port, 520);
    assert_eq!(
        f.peer_address,
        Some(HostAddr::Ip(Ipv4Addr::new(10, 0, 0, 20)))
    );
    assert_eq!(f.peer_port, 520);
    assert_eq!(f.max_response_delay, 30);
    assert_eq!(f.max_unacked_updates, 10);
    assert_eq!(f.load_balance_max_seconds, 3);
    // ISC's defaults for what is not written.
    assert_eq!(f.auto_partner_down, 0);
    assert_eq!(f.max_lease_misbalance, 15);
    assert_eq!(f.max_lease_ownership, 10);
    assert_eq!(f.min_balance, 60);
    assert_eq!(f.max_balance, 3600);
    assert_eq!(f.extensions, FailoverExtensions::default());
    assert_eq!(f.span.line, 1);
}

#[test]
fn secondary() {
    let c = load_pair(SECONDARY);
    check_common(&c);
    assert_eq!(option_in(&c, 0, 6), Some(vec![10, 0, 0, 20, 10, 0, 0, 10]));
    let f = &c.failover_peers[0];
    assert_eq!(f.role, Role::Secondary);
    assert_eq!(f.mclt, None);
    assert_eq!(f.split, None);
    assert_eq!(f.hba, None);
    assert_eq!(f.address, Some(HostAddr::Ip(Ipv4Addr::new(10, 0, 0, 20))));
    assert_eq!(
        f.peer_address,
        Some(HostAddr::Ip(Ipv4Addr::new(10, 0, 0, 10)))
    );
}

#[test]
fn defaults_extensions_and_state() {
    let c = common::parse(
        r#"
failover peer "p" {
  secondary;
  address peer-a.example.com;
  peer address peer-b.example.com;
  hot-standby;
  safe-partner-down 300;
  auto-partner-down 3600;
  max-lease-misbalance 20;
  max-lease-ownership 12;
  min-balance 30;
  max-balance 1800;
}
failover peer "p" state {
  my state partner-down at 4 2024/01/10 12:00:00;
  partner state communications-interrupted;
  mclt 900;
}
shared-network n {
  subnet 10.1.0.0 netmask 255.255.0.0 { }
  pool { failover peer "p"; range 10.1.0.10 10.1.0.20; }
}
"#,
    );
    let f = &c.failover_peers[0];
    assert_eq!(f.port, 647);
    assert_eq!(f.peer_port, 647);
    assert_eq!(f.max_response_delay, 20);
    assert_eq!(f.max_unacked_updates, 100);
    assert_eq!(f.address, Some(HostAddr::Name("peer-a.example.com".into())));
    assert_eq!(
        f.peer_address,
        Some(HostAddr::Name("peer-b.example.com".into()))
    );
    assert!(f.extensions.hot_standby);
    assert_eq!(f.extensions.safe_partner_down, Some(300));
    assert_eq!(
        (
            f.auto_partner_down,
            f.max_lease_misbalance,
            f.max_lease_ownership
        ),
        (3600, 20, 12)
    );
    assert_eq!((f.min_balance, f.max_balance), (30, 1800));
    let st = &c.failover_states[0];
    assert_eq!(st.peer, "p");
    // 2024-01-10 12:00:00 UTC
    assert_eq!(
        st.my_state,
        Some((
            tandem_lease::FailoverState::PartnerDown,
            Some(1_704_888_000)
        ))
    );
    assert_eq!(
        st.partner_state,
        Some((tandem_lease::FailoverState::CommunicationsInterrupted, None))
    );
    assert_eq!(st.mclt, Some(900));
    assert_eq!(c.pools[0].failover_peer.as_deref(), Some("p"));
    assert!(c.shared_networks[0].explicit);
}

#[test]
fn shared_network_default_peer_and_no_failover() {
    let c = common::parse(
        r#"
failover peer "f" { primary; mclt 60; hba ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00; peer address 10.9.9.9; }
shared-network n {
  failover peer "f";
  subnet 10.2.0.0 netmask 255.255.255.0 {
    pool { range 10.2.0.10 10.2.0.20; }
    pool { no failover peer; range dynamic-bootp 10.2.0.30 10.2.0.40; }
  }
}
"#,
    );
    assert_eq!(c.pools[0].failover_peer.as_deref(), Some("f"));
    assert_eq!(c.pools[1].failover_peer, None);
    assert!(c.pools[1].ranges[0].dynamic_bootp);
    let mut hba = [0u8; 32];
    hba[..16].fill(0xff);
    assert_eq!(c.failover_peers[0].hba, Some(hba));
    assert_eq!(c.failover_peers[0].split, None);
}
