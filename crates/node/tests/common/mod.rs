//! Two Nodes back to back: an in-process network (PeerSend bytes become the
//! other side's PeerBytes), a disk that persists at once, and a fake clock.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::sync::Arc;

use tandem_config::Config;
use tandem_failover::message::{BindingUpdate, Body, FrameDecoder};
use tandem_lease::{fold, BindingState, Lease, LeaseDb, Record};
use tandem_node::{
    ConnId, Destination, Effect, FailoverState, Input, Interface, Node, Now, RxMeta,
};
use tandem_wire::{MessageType, Options, Packet};

pub const T0: u64 = 1_700_000_000;
pub const IFINDEX: u32 = 2;
pub const P: usize = 0;
pub const S: usize = 1;

fn example(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/mission")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `examples/mission/NAME` with its `include` of master.conf replaced by
/// master.conf's text, through the real parser.
pub fn mission(name: &str) -> Arc<Config> {
    let master = example("master.conf");
    let text: String = example(name)
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("include") {
                master.clone()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    parse(&text)
}

pub fn parse(text: &str) -> Arc<Config> {
    match tandem_config::parse_str(Path::new("test.conf"), text) {
        Ok(c) => Arc::new(c),
        Err(e) => panic!("config does not parse: {e:?}"),
    }
}

pub fn interface(addr: Ipv4Addr) -> Interface {
    Interface {
        index: IFINDEX,
        name: "eth0".into(),
        addrs: vec![(addr, 24)],
        mac: vec![2, 0, 0, 0, 0, addr.octets()[3]],
    }
}

/// A client message as a client would send it.
pub fn client(msg: MessageType, mac: [u8; 6], xid: u32) -> Packet {
    let mut chaddr = [0u8; 16];
    chaddr[..6].copy_from_slice(&mac);
    let mut options = Options::default();
    options.insert(53, vec![msg as u8]);
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
        has_cookie: true,
        options,
    }
}

pub fn with(mut p: Packet, code: u8, value: &[u8]) -> Packet {
    p.options.insert(code, value.to_vec());
    p
}

pub fn msg_type(p: &Packet) -> Option<MessageType> {
    p.message_type()
}

pub fn lease_time(p: &Packet) -> Option<u32> {
    let v = p.options.get(51)?;
    Some(u32::from_be_bytes(v.try_into().ok()?))
}

pub struct Side {
    pub name: &'static str,
    pub config: Arc<Config>,
    pub addr: Ipv4Addr,
    pub node: Option<Node>,
    /// Everything persisted, in order (the lease file).
    pub disk: Vec<Record>,
    pub logs: Vec<String>,
    pub replies: Vec<(Packet, Destination)>,
    pub shutdown_complete: bool,
    /// Each BNDUPD sent, with the number of records on disk at that moment.
    pub bndupds_sent: Vec<(BindingUpdate, usize)>,
}

impl Side {
    pub fn node(&self) -> &Node {
        self.node.as_ref().expect("side is up")
    }
    pub fn lease(&self, addr: Ipv4Addr) -> Option<Lease> {
        self.node().engine().lease(addr).cloned()
    }
    pub fn count(&self, state: BindingState) -> usize {
        self.node()
            .engine()
            .all_leases()
            .filter(|l| l.binding_state == state)
            .count()
    }
    pub fn state(&self) -> FailoverState {
        self.node().peer_infos()[0].local_state
    }
    pub fn logged(&self, needle: &str) -> bool {
        self.logs.iter().any(|l| l.contains(needle))
    }
    /// The lease file as it would be read back.
    pub fn db(&self) -> LeaseDb {
        fold(self.disk.iter().cloned())
    }
}

pub struct Pair {
    pub sides: Vec<Side>,
    pub wall: u64,
    pub mono: u64,
    pub network_up: bool,
    /// Deliver peer bytes one at a time (the node must reassemble frames).
    pub trickle: bool,
    /// conn → (side that owns it, the other end's conn, broken)
    links: HashMap<ConnId, (usize, ConnId, bool)>,
    next_conn: ConnId,
    queue: VecDeque<(usize, Input)>,
}

impl Pair {
    /// The mission's primary and secondary, fresh lease files.
    pub fn mission() -> Pair {
        Pair::new(
            mission("primary.conf"),
            Ipv4Addr::new(10, 0, 0, 10),
            mission("secondary.conf"),
            Ipv4Addr::new(10, 0, 0, 20),
        )
    }

    pub fn new(pc: Arc<Config>, pa: Ipv4Addr, sc: Arc<Config>, sa: Ipv4Addr) -> Pair {
        let side = |name, config, addr| Side {
            name,
            config,
            addr,
            node: None,
            disk: Vec::new(),
            logs: Vec::new(),
            replies: Vec::new(),
            shutdown_complete: false,
            bndupds_sent: Vec::new(),
        };
        let mut pair = Pair {
            sides: vec![side("primary", pc, pa), side("secondary", sc, sa)],
            wall: T0,
            mono: 1_000,
            network_up: true,
            trickle: false,
            links: HashMap::new(),
            next_conn: 1,
            queue: VecDeque::new(),
        };
        pair.start(P, LeaseDb::default());
        pair.start(S, LeaseDb::default());
        pair
    }

    pub fn now(&self) -> Now {
        Now {
            wall: self.wall,
            mono_ms: self.mono,
        }
    }

    /// (Re)starts side `i` from `db`.
    pub fn start(&mut self, i: usize, db: LeaseDb) {
        let now = self.now();
        let side = &mut self.sides[i];
        side.shutdown_complete = false;
        let (node, effects) = Node::new(
            Arc::clone(&side.config),
            vec![interface(side.addr)],
            db,
            &|_| None,
            now,
        )
        .expect("node starts");
        side.node = Some(node);
        self.apply(i, effects);
        self.settle();
    }

    /// Side `i` stops at once (a crash): its connections die silently.
    pub fn crash(&mut self, i: usize) {
        self.sides[i].node = None;
        for (_, _, broken) in self.links.values_mut() {
            *broken = true;
        }
        self.links.retain(|_, (owner, _, _)| *owner != i);
        self.queue.retain(|(s, _)| *s != i);
    }

    /// Cuts the network: open connections stop delivering (each side finds
    /// out through its receive timer) and new ones fail.
    pub fn cut(&mut self) {
        self.network_up = false;
        for (_, _, broken) in self.links.values_mut() {
            *broken = true;
        }
    }

    pub fn heal(&mut self) {
        self.network_up = true;
    }

    pub fn input(&mut self, i: usize, input: Input) {
        self.queue.push_back((i, input));
        self.settle();
    }

    pub fn settle(&mut self) {
        let mut steps = 0;
        while let Some((i, input)) = self.queue.pop_front() {
            steps += 1;
            assert!(steps < 1_000_000, "the pair does not settle");
            let now = self.now();
            let Some(node) = self.sides[i].node.as_mut() else {
                continue;
            };
            let effects = node.handle(now, input);
            self.apply(i, effects);
        }
    }

    /// Advances the clock one second at a time: failover timers, then the
    /// engine's tick, on both sides.
    pub fn advance(&mut self, secs: u64) {
        for _ in 0..secs {
            self.wall += 1;
            self.mono += 1_000;
            for i in 0..self.sides.len() {
                let Some(node) = self.sides[i].node.as_ref() else {
                    continue;
                };
                if node.next_timeout().is_some_and(|t| t <= self.mono) {
                    self.queue.push_back((i, Input::Timers));
                }
                self.queue.push_back((i, Input::Tick));
                self.settle();
            }
        }
    }

    /// Advances until `done` holds, at most `limit` seconds; returns the
    /// seconds it took.
    pub fn advance_until(&mut self, limit: u64, done: impl Fn(&Pair) -> bool) -> u64 {
        for t in 0..limit {
            if done(self) {
                return t;
            }
            self.advance(1);
        }
        assert!(done(self), "condition not reached in {limit} s");
        limit
    }

    pub fn both_normal(&self) -> bool {
        self.sides.iter().all(|s| {
            s.node.is_some()
                && s.state() == FailoverState::Normal
                && s.node().peer_infos()[0].partner_state == FailoverState::Normal
        })
    }

    /// Sends a client packet to side `i`; returns the replies.
    pub fn packet(&mut self, i: usize, p: &Packet) -> Vec<Packet> {
        let before = self.sides[i].replies.len();
        let rx = RxMeta {
            ifindex: IFINDEX,
            src: SocketAddrV4::new(p.ciaddr, 68),
            dst: if p.ciaddr.is_unspecified() {
                Ipv4Addr::BROADCAST
            } else {
                self.sides[i].addr
            },
        };
        self.input(
            i,
            Input::Packet {
                rx,
                bytes: p.encode(),
            },
        );
        self.sides[i].replies[before..]
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// DISCOVER + REQUEST on side `i`; returns the ACK (or the last reply).
    pub fn dora(&mut self, i: usize, mac: [u8; 6], secs: u16) -> Option<Packet> {
        let mut d = client(MessageType::Discover, mac, u32::from(mac[5]));
        d.secs = secs;
        let offer = self.packet(i, &d).into_iter().next()?;
        assert_eq!(msg_type(&offer), Some(MessageType::Offer));
        let sid = offer.options.get(54)?.to_vec();
        let mut r = client(MessageType::Request, mac, u32::from(mac[5]));
        r.secs = secs;
        let r = with(with(r, 50, &offer.yiaddr.octets()), 54, &sid);
        self.packet(i, &r).into_iter().next()
    }

    /// A RENEWING request (unicast, ciaddr set) on side `i`.
    pub fn renew(&mut self, i: usize, mac: [u8; 6], addr: Ipv4Addr) -> Option<Packet> {
        let mut r = client(MessageType::Request, mac, 7);
        r.ciaddr = addr;
        self.packet(i, &r).into_iter().next()
    }

    pub fn apply(&mut self, i: usize, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Reply { bytes, to, .. } => {
                    let p = Packet::decode(&bytes).expect("reply decodes");
                    self.sides[i].replies.push((p, to));
                }
                Effect::Log { message, .. } => self.sides[i].logs.push(message),
                Effect::Persist {
                    records,
                    then,
                    notify,
                } => {
                    self.sides[i].disk.extend(records);
                    self.apply(i, then);
                    if let Some(token) = notify {
                        self.queue
                            .push_back((i, Input::Persisted { token, ok: true }));
                    }
                }
                Effect::PeerConnect { peer, .. } => {
                    let other = 1 - i;
                    if self.network_up && self.sides[other].node.is_some() {
                        let (a, b) = (self.next_conn, self.next_conn + 1);
                        self.next_conn += 2;
                        self.links.insert(a, (i, b, false));
                        self.links.insert(b, (other, a, false));
                        self.queue
                            .push_back((i, Input::PeerConnected { peer, conn: a }));
                        self.queue
                            .push_back((other, Input::PeerConnected { peer: 0, conn: b }));
                    } else {
                        self.queue.push_back((i, Input::PeerConnectFailed { peer }));
                    }
                }
                Effect::PeerSend { conn, bytes } => {
                    let mut d = FrameDecoder::new();
                    d.push(&bytes);
                    if let Ok(Some(m)) = d.next_message() {
                        if let Body::BndUpd(b) = m.body {
                            let n = self.sides[i].disk.len();
                            self.sides[i].bndupds_sent.push((b, n));
                        }
                    }
                    if let Some(&(_, far, broken)) = self.links.get(&conn) {
                        if !broken {
                            let other = 1 - i;
                            if self.trickle {
                                for b in bytes {
                                    self.queue.push_back((
                                        other,
                                        Input::PeerBytes {
                                            conn: far,
                                            bytes: vec![b],
                                        },
                                    ));
                                }
                            } else {
                                self.queue
                                    .push_back((other, Input::PeerBytes { conn: far, bytes }));
                            }
                        }
                    }
                }
                Effect::PeerClose { conn } => {
                    if let Some((_, far, broken)) = self.links.remove(&conn) {
                        if !broken && self.links.remove(&far).is_some() {
                            self.queue
                                .push_back((1 - i, Input::PeerClosed { conn: far }));
                        }
                    }
                }
                Effect::ShutdownComplete => self.sides[i].shutdown_complete = true,
            }
        }
    }
}

pub const MAC_PRIMARY: [u8; 6] = [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
pub const MAC_SECONDARY: [u8; 6] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];

/// A MAC (no client id) whose RFC 3074 bucket under `split 128` belongs to
/// the primary (`true`) or the secondary, the n-th such.
pub fn mac_for(primary: bool, n: usize) -> [u8; 6] {
    let hba = tandem_failover::hash::Hba::from_split(128).expect("split");
    (0u16..)
        .map(|k| {
            let [hi, lo] = k.to_be_bytes();
            [0x02, 0x10, 0x00, hi, lo, 0x01]
        })
        .filter(|m| hba.primary_serves(tandem_failover::hash::pearson_hash(m)) == primary)
        .nth(n)
        .expect("a mac")
}

/// Every BNDUPD side `i` sent described a lease already on its disk: the
/// last record for that address written before the send has the state and
/// expiry the message carried.
pub fn assert_bndupds_durable(side: &Side) {
    for (b, n) in &side.bndupds_sent {
        let addr = b.assigned_addr.expect("option 2");
        let last = side.disk[..*n].iter().rev().find_map(|r| match r {
            Record::Lease(l) if l.addr == addr => Some(l),
            _ => None,
        });
        let Some(l) = last else {
            // Never written: a lease of a range as configured (UPDREQALL
            // sends those too).
            assert_eq!(b.binding_status, Some(BindingState::Free.code()));
            assert_eq!(b.lease_expiry, Some(0), "{}: {addr}", side.name);
            continue;
        };
        assert_eq!(
            Some(l.binding_state.code()),
            b.binding_status,
            "{}: BNDUPD for {addr} sent before its state was durable",
            side.name
        );
        assert_eq!(
            b.lease_expiry,
            Some(u32::try_from(l.ends).unwrap_or(u32::MAX)),
            "{}: BNDUPD for {addr} sent before its expiry was durable",
            side.name
        );
    }
}
