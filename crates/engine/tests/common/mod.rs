//! Test helpers: configurations built from the model, client packets, and a
//! harness that drives the engine with a synthetic clock.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use tandem_config::{
    Class, Config, Expr, Host, HostAddr, OptionCode, OptionHow, Param, Permit, Pool, Range, Scope,
    ScopeId, ScopeKind, SharedNetwork, Span, Stmt, Subnet, Value,
};
use tandem_engine::{Destination, Effect, Engine, Interface, Lease, Now, Record, RxMeta};
use tandem_lease::Hardware;
use tandem_wire::{MessageType, Options, Packet};

pub const ETH0: u32 = 2;
pub const ETH1: u32 = 3;
pub const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

/// Builds a `Config` the way lowering would.
pub struct Builder {
    pub cfg: Config,
}

pub fn dhcp(code: u32) -> OptionCode {
    OptionCode {
        space: "dhcp".into(),
        code,
    }
}

pub fn opt(code: u32, value: &[u8]) -> Stmt {
    Stmt::Option {
        code: dhcp(code),
        how: OptionHow::Set,
        value: Value::Const(value.to_vec()),
    }
}

pub fn param(p: Param, value: &[u8]) -> Stmt {
    Stmt::Param {
        param: p,
        value: Value::Const(value.to_vec()),
    }
}

pub fn secs(p: Param, n: u32) -> Stmt {
    param(p, &n.to_be_bytes())
}

impl Builder {
    pub fn new() -> Builder {
        let mut cfg = Config::default();
        cfg.scopes.push(Scope {
            parent: None,
            kind: ScopeKind::Global,
            statements: Vec::new(),
            span: Span::default(),
            authoritative: false,
        });
        Builder { cfg }
    }

    fn scope(&mut self, parent: ScopeId, kind: ScopeKind) -> ScopeId {
        let authoritative = self.cfg.scopes[parent].authoritative;
        self.cfg.scopes.push(Scope {
            parent: Some(parent),
            kind,
            statements: Vec::new(),
            span: Span::default(),
            authoritative,
        });
        self.cfg.scopes.len() - 1
    }

    pub fn stmt(&mut self, scope: ScopeId, s: Stmt) -> &mut Self {
        self.cfg.scopes[scope].statements.push(s);
        self
    }

    pub fn authoritative(&mut self, scope: ScopeId, on: bool) -> &mut Self {
        self.cfg.scopes[scope].authoritative = on;
        self
    }

    pub fn shared_network(&mut self, name: &str) -> usize {
        let idx = self.cfg.shared_networks.len();
        let scope = self.scope(0, ScopeKind::SharedNetwork(idx));
        self.cfg.shared_networks.push(SharedNetwork {
            name: name.into(),
            explicit: true,
            scope,
            subnets: vec![],
            pools: vec![],
            interface: None,
            span: Span::default(),
        });
        idx
    }

    /// A subnet in its own implicit shared network. Returns the subnet index.
    pub fn subnet(&mut self, net: [u8; 4], prefix: u8) -> usize {
        let name = format!("{}/{}", Ipv4Addr::from(net), prefix);
        let idx = self.cfg.shared_networks.len();
        let scope = self.scope(0, ScopeKind::SharedNetwork(idx));
        self.cfg.shared_networks.push(SharedNetwork {
            name,
            explicit: false,
            scope,
            subnets: vec![],
            pools: vec![],
            interface: None,
            span: Span::default(),
        });
        self.subnet_in(idx, net, prefix)
    }

    pub fn subnet_in(&mut self, sn: usize, net: [u8; 4], prefix: u8) -> usize {
        let idx = self.cfg.subnets.len();
        let parent = self.cfg.shared_networks[sn].scope;
        let scope = self.scope(parent, ScopeKind::Subnet(idx));
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        self.cfg.subnets.push(Subnet {
            network: Ipv4Addr::from(net),
            netmask: Ipv4Addr::from(mask),
            prefix_len: prefix,
            scope,
            shared_network: sn,
            interface: None,
            span: Span::default(),
        });
        self.cfg.shared_networks[sn].subnets.push(idx);
        idx
    }

    pub fn subnet_scope(&self, subnet: usize) -> ScopeId {
        self.cfg.subnets[subnet].scope
    }

    /// `range` written in a subnet (ISC's ad-hoc pool).
    pub fn range(&mut self, subnet: usize, start: [u8; 4], end: [u8; 4]) -> usize {
        self.pool_with(subnet, &[(start, end, false)], vec![], true)
    }

    pub fn pool_with(
        &mut self,
        subnet: usize,
        ranges: &[([u8; 4], [u8; 4], bool)],
        permits: Vec<Permit>,
        implicit: bool,
    ) -> usize {
        let idx = self.cfg.pools.len();
        let sn = self.cfg.subnets[subnet].shared_network;
        let parent = self.cfg.subnets[subnet].scope;
        let scope = self.scope(parent, ScopeKind::Pool(idx));
        self.cfg.pools.push(Pool {
            scope,
            shared_network: sn,
            subnet: Some(subnet),
            ranges: ranges
                .iter()
                .map(|(s, e, d)| Range {
                    start: Ipv4Addr::from(*s),
                    end: Ipv4Addr::from(*e),
                    dynamic_bootp: *d,
                })
                .collect(),
            implicit,
            permits,
            failover_peer: None,
            span: Span::default(),
        });
        self.cfg.shared_networks[sn].pools.push(idx);
        idx
    }

    pub fn pool_scope(&self, pool: usize) -> ScopeId {
        self.cfg.pools[pool].scope
    }

    pub fn host(&mut self, name: &str, mac: [u8; 6], fixed: Option<[u8; 4]>) -> usize {
        let idx = self.cfg.hosts.len();
        let scope = self.scope(0, ScopeKind::Host(idx));
        self.cfg.hosts.push(Host {
            name: name.into(),
            scope,
            hardware: Some(Hardware {
                htype: 1,
                addr: mac.to_vec(),
            }),
            client_id: None,
            host_identifier: None,
            fixed_addresses: fixed
                .map(|a| vec![HostAddr::Ip(Ipv4Addr::from(a))])
                .unwrap_or_default(),
            span: Span::default(),
        });
        idx
    }

    pub fn class(&mut self, name: &str, match_if: Option<Expr>) -> ScopeId {
        let idx = self.cfg.classes.len();
        let scope = self.scope(0, ScopeKind::Class(idx));
        self.cfg.classes.push(Class {
            name: name.into(),
            scope,
            match_if,
            match_value: None,
            spawn_with: None,
            lease_limit: None,
            subclasses: vec![],
            span: Span::default(),
        });
        scope
    }

    pub fn build(&self) -> Arc<Config> {
        Arc::new(self.cfg.clone())
    }
}

pub fn eth0() -> Interface {
    Interface {
        index: ETH0,
        name: "eth0".into(),
        addrs: vec![(SERVER, 24)],
        mac: vec![2, 0, 0, 0, 0, 0xfe],
    }
}

pub fn eth1() -> Interface {
    Interface {
        index: ETH1,
        name: "eth1".into(),
        addrs: vec![(Ipv4Addr::new(192, 168, 50, 1), 24)],
        mac: vec![2, 0, 0, 0, 0, 0xfd],
    }
}

pub fn mac(n: u8) -> [u8; 6] {
    [2, 0, 0, 0, 1, n]
}

/// A client message as a client would send it.
pub fn client(msg: Option<MessageType>, mac: [u8; 6], xid: u32) -> Packet {
    let mut chaddr = [0u8; 16];
    chaddr[..6].copy_from_slice(&mac);
    let mut options = Options::default();
    if let Some(m) = msg {
        options.insert(53, vec![m as u8]);
    }
    Packet {
        op: 1,
        htype: 1,
        hlen: 6,
        hops: 0,
        xid,
        secs: 0,
        flags: 0,
        ciaddr: Ipv4Addr::UNSPECIFIED,
        yiaddr: Ipv4Addr::UNSPECIFIED,
        siaddr: Ipv4Addr::UNSPECIFIED,
        giaddr: Ipv4Addr::UNSPECIFIED,
        chaddr,
        sname: vec![],
        file: vec![],
        has_cookie: msg.is_some(),
        options,
    }
}

pub fn with(mut p: Packet, code: u8, value: &[u8]) -> Packet {
    p.options.insert(code, value.to_vec());
    p
}

pub const T0: u64 = 1_700_000_000;

pub struct Harness {
    pub engine: Engine,
    pub now: Now,
}

pub fn rx_on(ifindex: u32, src: Ipv4Addr, dst: Ipv4Addr) -> RxMeta {
    RxMeta {
        ifindex,
        src: SocketAddrV4::new(src, 68),
        dst,
    }
}

impl Harness {
    pub fn new(config: Arc<Config>) -> Harness {
        Harness::with_leases(config, vec![])
    }

    pub fn with_leases(config: Arc<Config>, leases: Vec<Lease>) -> Harness {
        let now = Now {
            wall: T0,
            mono_ms: 1_000,
        };
        let mut engine = Engine::new(config, vec![eth0(), eth1()], leases, now)
            .expect("engine accepts the configuration");
        // Startup diagnostics come out of the first call.
        let _ = engine.tick(now);
        Harness { engine, now }
    }

    pub fn advance(&mut self, secs: u64) -> Vec<Effect> {
        self.now.wall += secs;
        self.now.mono_ms += secs * 1000;
        self.engine.tick(self.now)
    }

    /// Broadcast from a local client on eth0.
    pub fn send(&mut self, p: &Packet) -> Vec<Effect> {
        let dst = if p.ciaddr.is_unspecified() {
            Ipv4Addr::BROADCAST
        } else {
            SERVER
        };
        let src = p.ciaddr;
        self.send_rx(p, &rx_on(ETH0, src, dst))
    }

    pub fn send_rx(&mut self, p: &Packet, rx: &RxMeta) -> Vec<Effect> {
        let bytes = p.encode();
        self.engine.handle_packet(self.now, rx, &bytes)
    }
}

/// A reply as the driver would send it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub packet: Packet,
    pub to: Destination,
    pub src: Ipv4Addr,
    pub ifindex: u32,
    /// Whether the reply was held behind a Persist.
    pub after_persist: bool,
    pub len: usize,
}

fn collect(effects: &[Effect], after: bool, out: &mut Vec<Sent>) {
    for e in effects {
        match e {
            Effect::Reply {
                bytes,
                to,
                ifindex,
                src,
            } => out.push(Sent {
                packet: Packet::decode(bytes).expect("reply decodes"),
                to: to.clone(),
                src: *src,
                ifindex: *ifindex,
                after_persist: after,
                len: bytes.len(),
            }),
            Effect::Persist { then, .. } => collect(then, true, out),
            Effect::Log { .. } => {}
        }
    }
}

pub fn sent(effects: &[Effect]) -> Vec<Sent> {
    let mut out = Vec::new();
    collect(effects, false, &mut out);
    out
}

pub fn only_reply(effects: &[Effect]) -> Sent {
    let s = sent(effects);
    assert_eq!(s.len(), 1, "expected one reply, got {effects:#?}");
    s.into_iter().next().expect("one reply")
}

pub fn logs(effects: &[Effect]) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(effects: &[Effect], out: &mut Vec<String>) {
        for e in effects {
            match e {
                Effect::Log { message, .. } => out.push(message.clone()),
                Effect::Persist { then, .. } => walk(then, out),
                Effect::Reply { .. } => {}
            }
        }
    }
    walk(effects, &mut out);
    out
}

pub fn persisted(effects: &[Effect]) -> Vec<Lease> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Persist { records, .. } => Some(records),
            _ => None,
        })
        .flatten()
        .filter_map(|r| match r {
            Record::Lease(l) => Some(l.clone()),
            _ => None,
        })
        .collect()
}

pub fn msg_type(p: &Packet) -> Option<u8> {
    p.options.get(53).and_then(|v| v.first().copied())
}

pub fn opt_u32(p: &Packet, code: u8) -> Option<u32> {
    p.options
        .get(code)
        .and_then(|v| <[u8; 4]>::try_from(v).ok())
        .map(u32::from_be_bytes)
}

pub fn opt_addr(p: &Packet, code: u8) -> Option<Ipv4Addr> {
    p.options
        .get(code)
        .and_then(|v| <[u8; 4]>::try_from(v).ok())
        .map(Ipv4Addr::from)
}

/// The usual test network: 10.0.0.0/24 on eth0, range .100-.109, routers,
/// DNS, domain name; authoritative.
pub fn basic() -> (Builder, usize) {
    let mut b = Builder::new();
    b.authoritative(0, true);
    b.stmt(0, secs(Param::DefaultLeaseTime, 600))
        .stmt(0, secs(Param::MaxLeaseTime, 7200));
    let s = b.subnet([10, 0, 0, 0], 24);
    let sc = b.subnet_scope(s);
    b.stmt(sc, opt(3, &[10, 0, 0, 1]))
        .stmt(sc, opt(6, &[10, 0, 0, 53]))
        .stmt(sc, opt(15, b"example.org"));
    b.range(s, [10, 0, 0, 100], [10, 0, 0, 109]);
    (b, s)
}

/// A configuration from dhcpd.conf text, through the real parser.
pub fn conf(text: &str) -> Arc<Config> {
    match tandem_config::parse_str(std::path::Path::new("test.conf"), text) {
        Ok(c) => Arc::new(c),
        Err(e) => panic!("config does not parse: {e:?}"),
    }
}
