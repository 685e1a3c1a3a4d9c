//! The engine: packet dispatch, lease lookup and allocation, and the
//! DHCPDISCOVER / DHCPREQUEST / DHCPRELEASE / DHCPDECLINE / DHCPINFORM /
//! BOOTREQUEST handlers, following RFC 2131 and ISC dhcpd's `server/dhcp.c`
//! and `server/bootp.c` where the RFC leaves a choice.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use tandem_config::{AccessFlag, AllowMode, Config, Param, PermitKind, ScopeId, Stmt};
use tandem_lease::{BindingState, Hardware, Lease, Record, Time, INFINITE};
use tandem_wire::{code, relay_suboptions, MessageType, Packet, BOOTREQUEST, FLAG_BROADCAST};

use crate::error::EngineError;
use crate::failover::{FailoverHooks, NoFailover};
use crate::reply::{self, ReplyKind};
use crate::scope::{classify, Executor, Facts, Membership, OptionState};
use crate::table::{hw_key, ClientKey, LeaseTable};
use crate::text::{client_text, hex_colon, hostname_from_option, hostname_part};
use crate::topology::{FixedLease, Topology};
use crate::{Destination, Effect, Interface, LogLevel, Now, RxMeta, Stats};

mod peering;
pub use peering::FailoverPool;

/// ISC `DEFAULT_DEFAULT_LEASE_TIME` (`includes/dhcpd.h`).
pub const DEFAULT_LEASE_TIME: u32 = 43_200;
/// ISC `DEFAULT_MAX_LEASE_TIME`.
pub const DEFAULT_MAX_LEASE_TIME: u32 = 86_400;
/// ISC `DEFAULT_MIN_LEASE_TIME`.
pub const DEFAULT_MIN_LEASE_TIME: u32 = 300;
/// ISC `DEFAULT_ABANDON_LEASE_TIME`.
pub const DEFAULT_ABANDON_LEASE_TIME: u32 = 86_400;
/// How long an offered lease is held for the client. ISC `dhcpdiscover`:
/// "Set the lease to really expire in 2 minutes".
pub const OFFER_HOLD_MS: u64 = 120_000;
/// RFC 2132 §9.2: 0xffffffff is an infinite lease time.
const INFINITE_LEASE_TIME: u32 = u32::MAX;

/// A lease picked for a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pick {
    /// A host declaration's fixed address (never in the lease table).
    Fixed(FixedLease),
    /// A lease of the table.
    Dynamic(Ipv4Addr),
}

impl Pick {
    fn addr(self) -> Ipv4Addr {
        match self {
            Pick::Fixed(f) => f.addr,
            Pick::Dynamic(a) => a,
        }
    }
}

/// What the handlers know about the client of one packet.
struct Client<'p> {
    pkt: &'p Packet,
    raw: &'p [u8],
    /// `None` for BOOTP.
    msg: Option<MessageType>,
    uid: Option<Vec<u8>>,
    hw: Hardware,
    key: ClientKey,
    /// Host declarations matching the client (ISC precedence).
    hosts: Vec<usize>,
    known: bool,
    classes: Vec<Membership>,
    /// The shared network the packet came from (`locate_network`).
    network: Option<usize>,
    /// Option 82 as received, or stashed from the client's lease.
    agent: Option<Vec<u8>>,
    /// Log text: the client's hardware address (or identifier).
    who: String,
    /// Log text: giaddr, or the receiving interface's name.
    via: String,
    ifindex: u32,
    /// The datagram's source address.
    src: Ipv4Addr,
}

impl Client<'_> {
    fn facts(&self) -> Facts<'_> {
        Facts {
            packet: Some(self.pkt),
            raw: self.raw,
            agent: self.agent.as_deref(),
            known: self.known,
            host_name: None,
            leased: None,
            lease_time: None,
        }
    }

    fn relayed(&self) -> bool {
        !self.pkt.giaddr.is_unspecified()
    }

    /// ISC: a lease is the client's if its uid matches, or, when the lease
    /// has no uid, its hardware address matches.
    fn owns(&self, lease: &Lease) -> bool {
        match &lease.uid {
            Some(u) => self.uid.as_deref() == Some(u.as_slice()),
            None => lease.hardware.as_ref() == Some(&self.hw),
        }
    }

    fn requested_lease_time(&self) -> Option<u32> {
        let v = self.pkt.options.get(code::LEASE_TIME)?;
        <[u8; 4]>::try_from(v).ok().map(u32::from_be_bytes)
    }
}

/// Statements to run when a lease is released or expires, recorded at commit.
#[derive(Debug, Clone, Default)]
struct LeaseEvents {
    on_release: Vec<Stmt>,
    on_expiry: Vec<Stmt>,
}

/// The sans-I/O DHCPv4 server core. See the crate documentation.
#[derive(Debug)]
pub struct Engine {
    topo: Topology,
    interfaces: Vec<Interface>,
    /// Shared network served on each interface (by index).
    iface_network: HashMap<u32, usize>,
    table: LeaseTable,
    stats: Stats,
    hooks: Box<dyn FailoverHooks>,
    /// Option 82 of each lease's last exchange, for renewals that arrive
    /// without it (ISC `stash-agent-options`, memory only).
    agent_stash: HashMap<Ipv4Addr, Vec<u8>>,
    lease_events: HashMap<Ipv4Addr, LeaseEvents>,
    /// `abandon-lease-time` (global, fixed at startup as in ISC).
    abandon_lease_time: u32,
    /// Effects produced outside a call (startup diagnostics), returned by
    /// the next `handle_packet` or `tick`.
    pending: Vec<Effect>,
}

fn log(level: LogLevel, message: impl Into<String>) -> Effect {
    Effect::Log {
        level,
        message: message.into(),
    }
}

fn info(message: impl Into<String>) -> Effect {
    log(LogLevel::Info, message)
}

/// `ends` for a lease of `secs` seconds from `now` (ISC `leaseTimeCheck`:
/// never past the maximum time; infinite is `0x7fffffff`).
fn ends_after(now: Time, secs: u32) -> Time {
    if secs == INFINITE_LEASE_TIME {
        return INFINITE;
    }
    now.saturating_add(u64::from(secs)).min(INFINITE - 1)
}

/// The next state ISC records for a lease in `state` (`next binding state`
/// is written only when it differs).
fn next_state(
    hooks: &dyn FailoverHooks,
    peer: Option<&str>,
    state: BindingState,
) -> Option<BindingState> {
    hooks.expiry_state(peer, state).filter(|n| *n != state)
}

impl Engine {
    /// Builds the engine from a configuration, the interfaces it serves, and
    /// the leases read from the lease file (later entries for the same
    /// address win). Every address of every range becomes a lease.
    pub fn new(
        config: Arc<Config>,
        interfaces: Vec<Interface>,
        leases: Vec<Lease>,
        now: Now,
    ) -> Result<Engine, EngineError> {
        Self::with_failover(config, interfaces, leases, Box::new(NoFailover), now)
    }

    /// [`Engine::new`] with failover hooks in place before the startup run
    /// of lease timers (with a peer, an ended lease becomes EXPIRED, not FREE).
    pub fn with_failover(
        config: Arc<Config>,
        interfaces: Vec<Interface>,
        leases: Vec<Lease>,
        hooks: Box<dyn FailoverHooks>,
        now: Now,
    ) -> Result<Engine, EngineError> {
        let topo = Topology::new(config)?;
        let (table, twice) = LeaseTable::new(&topo);
        let abandon_lease_time =
            global_u32(&topo.config, Param::AbandonLeaseTime).unwrap_or(DEFAULT_ABANDON_LEASE_TIME);
        let mut engine = Engine {
            topo,
            interfaces: Vec::new(),
            iface_network: HashMap::new(),
            table,
            stats: Stats::default(),
            hooks,
            agent_stash: HashMap::new(),
            lease_events: HashMap::new(),
            abandon_lease_time,
            pending: Vec::new(),
        };
        for w in &engine.topo.warnings {
            engine.pending.push(log(LogLevel::Warn, w.clone()));
        }
        for a in twice {
            engine
                .pending
                .push(log(LogLevel::Warn, format!("lease {a} is declared twice!")));
        }
        let mut unknown = 0usize;
        for lease in leases {
            let addr = lease.addr;
            if !engine.table.replace(lease) {
                // ISC drops lease-file entries outside every range at rewrite.
                if unknown < 5 {
                    engine.pending.push(log(
                        LogLevel::Warn,
                        format!("lease {addr}: no range declares this address; dropped"),
                    ));
                }
                unknown += 1;
            }
        }
        if unknown > 5 {
            engine.pending.push(log(
                LogLevel::Warn,
                format!("{unknown} leases in the lease file are outside every range"),
            ));
        }
        engine.set_interfaces(interfaces);
        // Leases that ended while the server was down change state now (ISC
        // runs its pool timers at startup); the records come out of the
        // first call with the rest of the startup effects.
        let expired = engine.tick(now);
        engine.pending = expired;
        Ok(engine)
    }

    /// Replaces the failover hooks (see [`crate::failover`]).
    pub fn set_failover(&mut self, hooks: Box<dyn FailoverHooks>) {
        self.hooks = hooks;
    }

    /// The interfaces changed (addresses added or removed).
    pub fn set_interfaces(&mut self, interfaces: Vec<Interface>) {
        self.iface_network.clear();
        for iface in &interfaces {
            match self.topo.network_for_interface(iface) {
                Some(n) => {
                    self.iface_network.insert(iface.index, n);
                }
                None => {
                    // ISC: "No subnet declaration for eth1 (...)" and then
                    // it ignores requests on that interface.
                    let addrs: Vec<String> =
                        iface.addrs.iter().map(|(a, _)| a.to_string()).collect();
                    self.pending.push(info(format!(
                        "No subnet declaration for {} ({}); ignoring requests on {} \
                         that do not come through a relay.",
                        iface.name,
                        if addrs.is_empty() {
                            "no IPv4 addresses".to_owned()
                        } else {
                            addrs.join(", ")
                        },
                        iface.name
                    )));
                }
            }
        }
        self.interfaces = interfaces;
    }

    /// Installs a new configuration. Leases whose addresses are still in a
    /// range keep their state; addresses of new ranges start FREE; leases
    /// outside every new range are dropped (as ISC does on restart). On
    /// error the old configuration stays.
    pub fn reload(&mut self, config: Arc<Config>, now: Now) -> Result<Vec<Effect>, EngineError> {
        let mut topo = Topology::new(config)?;
        // Hosts and groups declared over OMAPI outlive the configuration file.
        topo.dynamic = self.topo.dynamic.clone();
        let (mut table, twice) = LeaseTable::new(&topo);
        let mut out = std::mem::take(&mut self.pending);
        for w in &topo.warnings {
            out.push(log(LogLevel::Warn, w.clone()));
        }
        for a in twice {
            out.push(log(LogLevel::Warn, format!("lease {a} is declared twice!")));
        }
        let mut dropped = 0usize;
        for e in self.table.iter() {
            if !table.replace(e.lease.clone()) && e.lease.binding_state != BindingState::Free {
                dropped += 1;
            }
        }
        if dropped > 0 {
            out.push(log(
                LogLevel::Warn,
                format!("reload: {dropped} leases are outside every range and were dropped"),
            ));
        }
        self.abandon_lease_time =
            global_u32(&topo.config, Param::AbandonLeaseTime).unwrap_or(DEFAULT_ABANDON_LEASE_TIME);
        self.agent_stash.retain(|a, _| table.get(*a).is_some());
        self.lease_events.retain(|a, _| table.get(*a).is_some());
        self.topo = topo;
        self.table = table;
        let interfaces = std::mem::take(&mut self.interfaces);
        self.set_interfaces(interfaces);
        // Interface diagnostics, and leases of the new configuration whose
        // time is up.
        out.extend(self.tick(now));
        Ok(out)
    }

    /// The leases ISC writes when it rewrites dhcpd.leases: every lease that
    /// has a client (hardware address or uid) or is not FREE (`write_leases4`).
    pub fn leases(&self) -> impl Iterator<Item = &Lease> {
        self.table.iter().map(|e| &e.lease).filter(|l| {
            l.hardware.is_some() || l.uid.is_some() || l.binding_state != BindingState::Free
        })
    }

    /// Every lease, never-used FREE ones included.
    pub fn all_leases(&self) -> impl Iterator<Item = &Lease> {
        self.table.iter().map(|e| &e.lease)
    }

    pub fn lease(&self, addr: Ipv4Addr) -> Option<&Lease> {
        self.table.get(addr).map(|e| &e.lease)
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// For the OMAPI host table (`dynhost`).
    pub(crate) fn topo(&self) -> &Topology {
        &self.topo
    }

    pub(crate) fn topo_mut(&mut self) -> &mut Topology {
        &mut self.topo
    }

    pub(crate) fn table(&self) -> &LeaseTable {
        &self.table
    }

    /// Checks that the lease table's indexes and queues agree with the
    /// leases (for tests and debug assertions in drivers).
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        self.table.check_invariants()
    }

    /// Number of offers currently held.
    pub fn offers_held(&self) -> usize {
        self.table.hold_count()
    }

    /// Timers: ends expired offer holds, and moves leases whose `ends` has
    /// passed to their next state (ACTIVE and ABANDONED to FREE without
    /// failover). Changed leases are returned in one `Persist` with nothing
    /// in `then`: ISC commits expiries to the lease file as they happen
    /// (`pool_timer` calls `supersede_lease` with commit set), but no reply
    /// waits on them.
    pub fn tick(&mut self, now: Now) -> Vec<Effect> {
        let mut out = std::mem::take(&mut self.pending);
        self.table.expire_holds(now.mono_ms);
        let mut records = Vec::new();
        let mut then = Vec::new();
        for addr in self.table.take_due(now.wall) {
            let Some(entry) = self.table.get(addr) else {
                continue;
            };
            let old = entry.lease.clone();
            let peer = self.pool_peer(entry.pool).map(str::to_owned);
            let peer = peer.as_deref();
            let Some(next) = self.hooks.expiry_state(peer, old.binding_state) else {
                // Waits for the failover peer (its BNDACK, or a state change).
                self.table.park(addr, None);
                continue;
            };
            if let Some(at) = self
                .hooks
                .expiry_not_before(peer, &old, now)
                .filter(|t| *t > now.wall)
            {
                self.table.park(addr, Some(at));
                continue;
            }
            if old.binding_state == BindingState::Active {
                if let Some(ev) = self.lease_events.remove(&addr) {
                    out.extend(self.run_event(&ev.on_expiry, None, &old));
                }
                self.agent_stash.remove(&addr);
            }
            let mut new = old;
            new.binding_state = next;
            new.next_binding_state = next_state(self.hooks.as_ref(), peer, next);
            self.hooks.prepare_change(peer, &mut new, now);
            self.table.replace(new.clone());
            then.extend(self.hooks.after_commit(peer, &new));
            records.push(Record::Lease(new));
        }
        if !records.is_empty() {
            out.push(Effect::Persist { records, then });
        }
        out
    }

    /// Handles one received datagram. Never panics on any input: packets
    /// that fail validation are counted in `dropped_malformed` and dropped.
    pub fn handle_packet(&mut self, now: Now, rx: &RxMeta, bytes: &[u8]) -> Vec<Effect> {
        let mut out = std::mem::take(&mut self.pending);
        self.stats.received += 1;
        let pkt = match Packet::decode(bytes) {
            Ok(p) => p,
            Err(_) => {
                self.stats.dropped_malformed += 1;
                return out;
            }
        };
        if pkt.op != BOOTREQUEST {
            self.stats.dropped_malformed += 1;
            return out;
        }
        let msg = match pkt.options.get(code::MESSAGE_TYPE) {
            // No option 53 (or an empty one): BOOTP, as ISC dispatches it.
            None | Some([]) => None,
            Some([t, ..]) => match MessageType::from_u8(*t) {
                Some(m) => Some(m),
                None => {
                    // 9..=18 are lease query and bulk lease query messages
                    // (RFC 4388, 6926): valid, but not ours to answer.
                    if (9..=18).contains(t) {
                        self.stats.dropped_other += 1;
                    } else {
                        self.stats.dropped_malformed += 1;
                    }
                    return out;
                }
            },
        };
        // A client with no hardware address must identify itself with
        // option 61 (RFC 4390 IPoIB sets hlen 0); otherwise we cannot answer.
        if pkt.hlen == 0 && pkt.client_id().is_none() {
            self.stats.dropped_malformed += 1;
            return out;
        }
        let slot = msg.map_or(0, |m| m as usize);
        if let Some(c) = self.stats.by_type_in.get_mut(slot) {
            *c += 1;
        }
        if matches!(
            msg,
            Some(MessageType::Offer | MessageType::Ack | MessageType::Nak)
        ) {
            // Server messages sent to a server: ISC ignores them.
            self.stats.dropped_other += 1;
            return out;
        }
        let client = self.client(&pkt, bytes, rx, msg, now);
        match msg {
            None => self.bootp(now, &client, &mut out),
            Some(MessageType::Discover) => self.discover(now, &client, &mut out),
            Some(MessageType::Request) => self.request(now, &client, &mut out),
            Some(MessageType::Release) => self.release(now, &client, &mut out),
            Some(MessageType::Decline) => self.decline(now, &client, &mut out),
            Some(MessageType::Inform) => self.inform(now, &client, &mut out),
            Some(MessageType::Offer | MessageType::Ack | MessageType::Nak) => {}
        }
        out
    }

    // ---- client context ----------------------------------------------

    fn client<'p>(
        &self,
        pkt: &'p Packet,
        raw: &'p [u8],
        rx: &RxMeta,
        msg: Option<MessageType>,
        now: Now,
    ) -> Client<'p> {
        let uid = pkt.client_id().map(<[u8]>::to_vec);
        let hw = Hardware {
            htype: pkt.htype,
            addr: pkt.hw_addr().to_vec(),
        };
        let key = match &uid {
            Some(u) => ClientKey::Uid(u.clone()),
            None => ClientKey::Hw(hw_key(hw.htype, &hw.addr)),
        };
        let ifname = self
            .interfaces
            .iter()
            .find(|i| i.index == rx.ifindex)
            .map_or_else(|| format!("if{}", rx.ifindex), |i| i.name.clone());
        let via = if pkt.giaddr.is_unspecified() {
            ifname
        } else {
            pkt.giaddr.to_string()
        };
        let who = client_text(pkt.htype, pkt.hw_addr(), uid.as_deref());
        let mut agent = pkt.relay_agent_info().map(<[u8]>::to_vec);
        if agent.is_none()
            && msg == Some(MessageType::Request)
            && !pkt.ciaddr.is_unspecified()
            && pkt.giaddr.is_unspecified()
        {
            // ISC `dhcp()`: a unicast renewal carries no agent options, so
            // "pretend the last values we observed were provided", if the
            // lease is the client's and has not expired.
            agent = self.stashed_agent(pkt.ciaddr, uid.as_deref(), &hw, now);
        }
        let mut client = Client {
            pkt,
            raw,
            msg,
            uid,
            hw,
            key,
            hosts: Vec::new(),
            known: false,
            classes: Vec::new(),
            network: None,
            agent,
            who,
            via,
            ifindex: rx.ifindex,
            src: *rx.src.ip(),
        };
        let facts = client.facts();
        client.hosts = self.topo.find_hosts(
            client.uid.as_deref(),
            client.hw.htype,
            &client.hw.addr,
            &|c| facts.option(c),
        );
        client.known = !client.hosts.is_empty();
        let facts = client.facts();
        client.classes = classify(&self.topo.config, &facts);
        client.network = self.locate_network(&client);
        client
    }

    fn stashed_agent(
        &self,
        ciaddr: Ipv4Addr,
        uid: Option<&[u8]>,
        hw: &Hardware,
        now: Now,
    ) -> Option<Vec<u8>> {
        let stash = self.agent_stash.get(&ciaddr)?;
        let lease = &self.table.get(ciaddr)?.lease;
        if lease.ends < now.wall {
            return None;
        }
        let matches = match &lease.uid {
            Some(u) => uid == Some(u.as_slice()),
            None => lease.hardware.as_ref() == Some(hw),
        };
        matches.then(|| stash.clone())
    }

    /// ISC `locate_network`: the relay agent's link selection sub-option
    /// (RFC 3527, option 82 sub-option 5), else the subnet selection option
    /// (RFC 3011, option 118), else giaddr, else the receiving interface.
    fn locate_network(&self, cl: &Client<'_>) -> Option<usize> {
        let selector = cl
            .pkt
            .relay_agent_info()
            .and_then(relay_suboptions)
            .and_then(|subs| {
                subs.into_iter()
                    .find(|(c, _)| *c == 5)
                    .map(|(_, v)| v.to_vec())
            })
            .or_else(|| cl.pkt.options.get(code::LINK_SELECTION).map(<[u8]>::to_vec));
        let addr = match selector {
            // "If it's not valid, fail."
            Some(v) => Ipv4Addr::from(<[u8; 4]>::try_from(v.as_slice()).ok()?),
            None if cl.relayed() => cl.pkt.giaddr,
            None => return self.iface_network.get(&cl.ifindex).copied(),
        };
        self.topo
            .find_subnet(addr)
            .and_then(|s| self.topo.subnet_network(s))
    }

    fn pool_peer(&self, alloc_pool: usize) -> Option<&str> {
        let ap = self.topo.alloc_pools.get(alloc_pool)?;
        self.topo
            .config
            .pools
            .get(ap.config_pool)?
            .failover_peer
            .as_deref()
    }

    /// ISC `permitted` over a pool's allow and deny lists: a pool serves the
    /// client if no deny entry matches and, when there are allow entries, one
    /// of them matches.
    fn permitted(&self, cl: &Client<'_>, alloc_pool: usize, now: Now) -> bool {
        let Some(ap) = self.topo.alloc_pools.get(alloc_pool) else {
            return false;
        };
        let Some(pool) = self.topo.config.pools.get(ap.config_pool) else {
            return false;
        };
        let bootp = cl.msg.is_none();
        if pool.implicit {
            // ISC's ad-hoc pools for ranges written in a subnet: a
            // `dynamic-bootp` range "permits all clients", any other range
            // denies dynamic BOOTP clients.
            return ap.dynamic_bootp || !bootp;
        }
        let matches = |kind: &PermitKind| match kind {
            PermitKind::UnknownClients => !cl.known,
            PermitKind::KnownClients => cl.known,
            PermitKind::AllClients => true,
            PermitKind::DynamicBootpClients => bootp,
            PermitKind::AuthenticatedClients => false,
            PermitKind::UnauthenticatedClients => true,
            PermitKind::MembersOf(name) => cl.classes.iter().any(|m| &m.name == name),
            PermitKind::After(t) => now.wall > *t,
        };
        let mut has_allow = false;
        let mut allowed = false;
        for p in &pool.permits {
            if p.allow {
                has_allow = true;
                allowed |= matches(&p.kind);
            } else if matches(&p.kind) {
                return false;
            }
        }
        !has_allow || allowed
    }

    fn in_network(&self, subnet: usize, net: usize) -> bool {
        self.topo.subnet_network(subnet) == Some(net)
    }

    // ---- lease lookup and allocation ------------------------------------

    /// A lease already associated with the client that it may have again
    /// (ISC `find_lease` for uid and hardware matches).
    fn reusable(&self, cl: &Client<'_>, addr: Ipv4Addr, net: usize, now: Now) -> bool {
        let Some(e) = self.table.get(addr) else {
            return false;
        };
        let l = &e.lease;
        if !self.in_network(e.subnet, net)
            || !self.permitted(cl, e.pool, now)
            || self.table.held_by_other(addr, &cl.key)
            || l.binding_state == BindingState::Abandoned
        {
            return false;
        }
        l.binding_state == BindingState::Active
            || self.hooks.may_allocate(self.pool_peer(e.pool), l, now)
    }

    /// The client's previous lease: its held offer, then leases recorded for
    /// its client identifier, then for its hardware address (a hardware match
    /// must not carry another client's uid). ACTIVE leases first, then the
    /// most recently used.
    fn previous_lease(&self, cl: &Client<'_>, net: usize, now: Now) -> Option<Ipv4Addr> {
        if let Some(a) = self.table.held_for(&cl.key) {
            if self.reusable(cl, a, net, now) {
                return Some(a);
            }
        }
        let best = |addrs: Vec<Ipv4Addr>, need_uid_match: bool| -> Option<Ipv4Addr> {
            addrs
                .into_iter()
                .filter(|a| self.reusable(cl, *a, net, now))
                .filter(|a| {
                    !need_uid_match
                        || self
                            .table
                            .get(*a)
                            .is_some_and(|e| e.lease.uid.is_none() || e.lease.uid == cl.uid)
                })
                .max_by_key(|a| {
                    self.table.get(*a).map_or((false, 0), |e| {
                        (e.lease.binding_state == BindingState::Active, e.lease.ends)
                    })
                })
        };
        if let Some(uid) = &cl.uid {
            if let Some(a) = best(self.table.by_uid(uid), false) {
                return Some(a);
            }
        }
        best(self.table.by_hw(&hw_key(cl.hw.htype, &cl.hw.addr)), true)
    }

    /// Whether the address a client asks for (option 50 in a DISCOVER) can
    /// be offered: it is the client's, or it is free for anyone.
    fn requested_usable(&self, cl: &Client<'_>, addr: Ipv4Addr, net: usize, now: Now) -> bool {
        let Some(e) = self.table.get(addr) else {
            return false;
        };
        if cl.owns(&e.lease) {
            return self.reusable(cl, addr, net, now);
        }
        self.in_network(e.subnet, net)
            && self.permitted(cl, e.pool, now)
            && !self.table.held_by_other(addr, &cl.key)
            && self
                .hooks
                .may_allocate(self.pool_peer(e.pool), &e.lease, now)
    }

    /// ISC `allocate_lease`: over the permitted pools of the network, take
    /// each pool's first free lease (oldest `ends`; abandoned only when the
    /// pool has no free lease), then prefer a non-abandoned lease, then a
    /// lease no client has used, then the oldest `ends`.
    fn allocate(&self, cl: &Client<'_>, net: usize, now: Now) -> Option<(Ipv4Addr, bool)> {
        let pools = self.topo.network_pools.get(net)?;
        let mut best: Option<((bool, bool, Time), Ipv4Addr)> = None;
        for &ap in pools {
            if !self.permitted(cl, ap, now) {
                continue;
            }
            let peer = self.pool_peer(ap);
            let mut cand = self.hooks.allocatable(peer).iter().find_map(|&state| {
                let a = self.table.first_in_queue(ap, state, now.wall)?;
                let l = &self.table.get(a)?.lease;
                self.hooks.may_allocate(peer, l, now).then_some((a, false))
            });
            if cand.is_none() {
                cand = self
                    .table
                    .first_in_queue(ap, BindingState::Abandoned, now.wall)
                    // With a peer, an abandoned lease is reclaimed only by
                    // the server that may reallocate it (`lease_mine_to_reallocate`).
                    .filter(|&a| {
                        peer.is_none()
                            || self
                                .table
                                .get(a)
                                .is_some_and(|e| self.hooks.may_allocate(peer, &e.lease, now))
                    })
                    .map(|a| (a, true));
            }
            let Some((a, abandoned)) = cand else {
                continue;
            };
            let Some(l) = self.table.get(a).map(|e| &e.lease) else {
                continue;
            };
            let rank = (abandoned, l.uid.is_some() || l.hardware.is_some(), l.ends);
            let better = match &best {
                Some((r, _)) => rank < *r,
                None => true,
            };
            if better {
                best = Some((rank, a));
            }
        }
        best.map(|((abandoned, _, _), a)| (a, abandoned))
    }

    // ---- DHCPDISCOVER -------------------------------------------------

    fn discover(&mut self, now: Now, cl: &Client<'_>, out: &mut Vec<Effect>) {
        let prefix = |host: Option<&str>| {
            format!(
                "DHCPDISCOVER from {}{}via {}",
                cl.who,
                hostname_part(host),
                cl.via
            )
        };
        let Some(net) = cl.network else {
            self.stats.dropped_other += 1;
            out.push(info(format!(
                "DHCPDISCOVER from {} via {}: unknown network segment",
                cl.who, cl.via
            )));
            return;
        };
        let mut pick = self.topo.fixed_lease_in(&cl.hosts, net).map(Pick::Fixed);
        if pick.is_none() {
            if let Some(req) = cl.pkt.requested_address() {
                if self.requested_usable(cl, req, net, now) {
                    pick = Some(Pick::Dynamic(req));
                }
            }
        }
        if pick.is_none() {
            pick = self.previous_lease(cl, net, now).map(Pick::Dynamic);
        }
        let known_host = pick.and_then(|p| match p {
            Pick::Dynamic(a) => self.table.get(a)?.lease.client_hostname.clone(),
            Pick::Fixed(_) => None,
        });
        let msg = prefix(known_host.as_deref());
        if pick.is_none() {
            match self.allocate(cl, net, now) {
                Some((a, abandoned)) => {
                    if abandoned {
                        out.push(log(
                            LogLevel::Error,
                            format!("Reclaiming abandoned lease {a}."),
                        ));
                    }
                    pick = Some(Pick::Dynamic(a));
                }
                None => {
                    self.stats.no_free_leases += 1;
                    out.push(log(
                        LogLevel::Error,
                        format!(
                            "{msg}: network {}: no free leases",
                            self.topo.network_name(net)
                        ),
                    ));
                    return;
                }
            }
        }
        let Some(pick) = pick else {
            return;
        };
        if let Pick::Dynamic(a) = pick {
            let peer = self
                .table
                .get(a)
                .and_then(|e| self.pool_peer(e.pool))
                .map(str::to_owned);
            // ISC answers a client the hash gives to the peer anyway when
            // the peer has no free lease in this network (`dhcp.c:422-433`).
            if !self.hooks.may_answer(peer.as_deref(), cl.pkt, cl.msg)
                && self.peer_has_leases(peer.as_deref(), net)
            {
                out.push(log(
                    LogLevel::Debug,
                    format!("{msg}: load balance to peer {}", peer.unwrap_or_default()),
                ));
                return;
            }
        }
        self.lease_reply(now, cl, pick, MessageType::Offer, msg, out);
    }

    // ---- DHCPREQUEST --------------------------------------------------

    fn is_our_server_id(&self, sid: Ipv4Addr) -> bool {
        self.topo.configured_server_ids.contains(&sid)
            || self
                .interfaces
                .iter()
                .any(|i| i.addrs.iter().any(|(a, _)| *a == sid))
    }

    fn request(&mut self, now: Now, cl: &Client<'_>, out: &mut Vec<Effect>) {
        let pkt = cl.pkt;
        let requested = pkt.requested_address();
        let cip = requested.unwrap_or(pkt.ciaddr);
        let sid = pkt.server_id();
        let cip_subnet = self.topo.find_subnet(cip);
        let lease_host = self
            .table
            .get(cip)
            .filter(|e| cl.owns(&e.lease))
            .and_then(|e| e.lease.client_hostname.clone());
        let msg = format!(
            "DHCPREQUEST for {cip}{} from {}{}via {}",
            sid.map(|s| format!(" ({s})")).unwrap_or_default(),
            cl.who,
            hostname_part(lease_host.as_deref()),
            cl.via
        );

        // RFC 2131 §4.3.2 (SELECTING): "If the server identifier is not
        // ours, the client has declined our offer": forget it, stay silent.
        if let Some(s) = sid {
            if !self.is_our_server_id(s) {
                self.table.release_hold_of(&cl.key);
                self.stats.dropped_other += 1;
                out.push(log(LogLevel::Debug, format!("{msg}: not our server id")));
                return;
            }
        }

        // ISC `dhcprequest`: when the packet says where it came from (a
        // requested address in a broadcast, or a relay), an address that is
        // not on that network is NAKed by an authoritative server. A unicast
        // renewal off the local wire can't be told from INIT-REBOOT, so it is
        // treated as RENEWING and not checked.
        let claims_network = cl.network.is_none()
            || (!pkt.ciaddr.is_unspecified() && cl.relayed())
            || (requested.is_some() && pkt.ciaddr.is_unspecified());
        if claims_network {
            match cl.network {
                None => {
                    if let Some(s) = cip_subnet.filter(|s| self.topo.subnet_authoritative(*s)) {
                        out.push(info(format!("{msg}: wrong network.")));
                        self.nak(cl, cip, "wrong network", Some(s), out);
                    } else {
                        let why = if cip_subnet.is_some() {
                            "not authoritative"
                        } else {
                            "unknown subnet"
                        };
                        out.push(info(format!("{msg}: ignored ({why}).")));
                    }
                    return;
                }
                Some(net) => {
                    if self.topo.network_subnet_for(net, cip).is_none() {
                        if self.topo.network_authoritative(net) {
                            out.push(info(format!("{msg}: wrong network.")));
                            self.nak(cl, cip, "wrong network", None, out);
                        } else {
                            out.push(info(format!("{msg}: ignored (not authoritative).")));
                        }
                        return;
                    }
                }
            }
        }

        // The lease is looked up on the network of the requested address.
        let Some(net) = cip_subnet.and_then(|s| self.topo.subnet_network(s)) else {
            out.push(info(format!("{msg}: unknown lease {cip}.")));
            return;
        };
        match self.find_for_request(cl, cip, net, now) {
            RequestLookup::Grant(pick) => {
                if let Pick::Dynamic(a) = pick {
                    if self
                        .table
                        .get(a)
                        .is_some_and(|e| e.lease.binding_state == BindingState::Abandoned)
                    {
                        out.push(log(
                            LogLevel::Error,
                            format!("Reclaiming REQUESTed abandoned IP address {a}."),
                        ));
                    }
                    let peer = self
                        .table
                        .get(a)
                        .and_then(|e| self.pool_peer(e.pool))
                        .map(str::to_owned);
                    if !self.hooks.may_answer(peer.as_deref(), pkt, cl.msg) {
                        out.push(log(LogLevel::Debug, format!("{msg}: not responding")));
                        return;
                    }
                }
                self.lease_reply(now, cl, pick, MessageType::Ack, msg, out);
            }
            RequestLookup::Unavailable(reason) => {
                // ISC drops a REQUEST for a lease of a failover pool while
                // the relationship is not responding (`dhcp.c:562-570`): a
                // server in startup or recover must not NAK a binding its
                // peer may have made.
                let peer = self
                    .table
                    .get(cip)
                    .and_then(|e| self.pool_peer(e.pool))
                    .map(str::to_owned);
                if peer.is_some() && !self.hooks.may_answer(peer.as_deref(), pkt, cl.msg) {
                    out.push(log(LogLevel::Debug, format!("{msg}: not responding")));
                    return;
                }
                out.push(info(format!("{msg}: lease {cip} unavailable.")));
                self.nak(cl, cip, reason, cip_subnet, out);
            }
            RequestLookup::Unknown => {
                out.push(info(format!("{msg}: unknown lease {cip}.")));
            }
        }
    }

    /// ISC `find_lease` for a DHCPREQUEST: the lease must be the requested
    /// address. A fixed address that differs, a lease in use by another
    /// client, or a pool that doesn't permit the client makes the address
    /// "ours" but unavailable (NAK); an address we have no lease for, or one
    /// another server may hold, gets no answer.
    fn find_for_request(
        &self,
        cl: &Client<'_>,
        cip: Ipv4Addr,
        net: usize,
        now: Now,
    ) -> RequestLookup {
        if let Some(f) = self.topo.fixed_lease_in(&cl.hosts, net) {
            return if f.addr == cip {
                RequestLookup::Grant(Pick::Fixed(f))
            } else {
                RequestLookup::Unavailable("requested address is incorrect")
            };
        }
        let Some(e) = self.table.get(cip) else {
            return RequestLookup::Unknown;
        };
        let l = &e.lease;
        let peer = self.pool_peer(e.pool);
        if self.table.held_by_other(cip, &cl.key) {
            return RequestLookup::Unavailable("requested address not available");
        }
        // An offer we hold for the client counts as its lease (ISC binds the
        // offered lease to the client in memory).
        if cl.owns(l) || self.table.held_for(&cl.key) == Some(cip) {
            // The client's own lease: ACTIVE, or reusable (FREE without a
            // peer), or abandoned with the client still on it, which ISC
            // reclaims ("previous bugginess on the part of the client, or a
            // server database loss, caused the lease to be abandoned").
            if !matches!(
                l.binding_state,
                BindingState::Active | BindingState::Abandoned
            ) && !self.hooks.may_allocate(peer, l, now)
            {
                // ISC: "lease in transition state" or "owned by peer".
                return RequestLookup::Unknown;
            }
        } else {
            match l.binding_state {
                BindingState::Active => {
                    return RequestLookup::Unavailable("requested address not available")
                }
                BindingState::Free | BindingState::Backup => {
                    if !self.hooks.may_allocate(peer, l, now) {
                        return RequestLookup::Unknown;
                    }
                }
                // Abandoned, expired, released or reset under another
                // client: ISC rejects it without a NAK ("If we're rejecting
                // it because the peer has it, don't set ours").
                _ => return RequestLookup::Unknown,
            }
        }
        if !self.permitted(cl, e.pool, now) {
            return RequestLookup::Unavailable("requested address not available");
        }
        RequestLookup::Grant(Pick::Dynamic(cip))
    }

    /// Sends a DHCPNAK (RFC 2131 §4.3.2; ISC `nak_lease`): message type,
    /// server identifier, a message (56), option 82 echoed; broadcast bit
    /// set; to the relay or broadcast.
    fn nak(
        &mut self,
        cl: &Client<'_>,
        cip: Ipv4Addr,
        message: &str,
        subnet: Option<usize>,
        out: &mut Vec<Effect>,
    ) {
        let Some(sid) = self.interface_address(cl, subnet) else {
            out.push(self.no_address_log(cl));
            return;
        };
        let mut reply = cl.pkt.new_reply(MessageType::Nak);
        reply.flags |= FLAG_BROADCAST;
        reply.options.insert(code::SERVER_ID, sid.octets().to_vec());
        reply
            .options
            .insert(code::MESSAGE, message.as_bytes().to_vec());
        if let Some(agent) = cl.pkt.relay_agent_info() {
            reply.options.insert(code::RELAY_AGENT_INFO, agent.to_vec());
        }
        let (bytes, _) = reply.encode_reply(cl.pkt.reply_size_limit());
        let to = reply::destination(
            cl.pkt,
            ReplyKind::Nak,
            true,
            Ipv4Addr::UNSPECIFIED,
            cl.ifindex,
        );
        self.stats.naks += 1;
        out.push(info(format!(
            "DHCPNAK on {cip} to {} via {}",
            hex_colon(cl.pkt.hw_addr()),
            cl.via
        )));
        out.push(Effect::Reply {
            bytes,
            to,
            ifindex: cl.ifindex,
            src: sid,
        });
    }

    // ---- building OFFER / ACK / BOOTREPLY (ISC `ack_lease`) ------------

    /// The host declaration whose statements apply to a lease: the fixed
    /// address's host, else a matching host without a fixed address (ISC).
    fn option_host(&self, cl: &Client<'_>, pick: Pick) -> Option<usize> {
        match pick {
            Pick::Fixed(f) => Some(f.host),
            Pick::Dynamic(_) => cl.hosts.iter().copied().find(|&h| {
                self.topo
                    .host(h)
                    .is_some_and(|host| host.fixed_addresses.is_empty())
            }),
        }
    }

    /// Runs the scopes for a client and lease: subnet chain, pool, classes
    /// (ISC runs them last-matched first, so the first-matched class wins),
    /// then the host.
    fn run_scopes<'a>(
        &self,
        config: &'a Config,
        facts: Facts<'a>,
        cl: &Client<'_>,
        subnet: Option<usize>,
        pool: Option<usize>,
        host: Option<usize>,
    ) -> Executor<'a> {
        let mut ex = Executor::new(config, facts);
        match subnet.and_then(|s| config.subnets.get(s)) {
            Some(s) => ex.run_chain(s.scope),
            None => ex.run_chain(0),
        }
        if let Some(p) = pool
            .and_then(|ap| self.topo.alloc_pools.get(ap))
            .and_then(|ap| config.pools.get(ap.config_pool))
        {
            ex.run_chain(p.scope);
        }
        let mut classes: Vec<ScopeId> = cl.classes.iter().map(|m| m.scope).collect();
        for name in ex.state.added_classes.clone() {
            if let Some(c) = config.classes.iter().find(|c| c.name == name) {
                if !classes.contains(&c.scope) {
                    classes.push(c.scope);
                }
            }
        }
        for scope in classes.iter().rev() {
            ex.run_chain(*scope);
        }
        if let Some(h) = host.and_then(|h| self.topo.host_scope(h)) {
            ex.run_chain(h);
        }
        // A host declared over OMAPI: its group's statements, then its own.
        for body in host
            .map(|h| self.topo.dynamic.bodies(h))
            .unwrap_or_default()
        {
            ex.run_body(body);
        }
        ex
    }

    /// The address the server answers from: the configured server
    /// identifier, else the receiving interface's address in the client's
    /// subnet (for relayed packets, the interface's primary address, as ISC
    /// uses `interface->addresses[0]`).
    fn server_identifier(
        &self,
        st: &OptionState,
        cl: &Client<'_>,
        subnet: Option<usize>,
    ) -> Option<Ipv4Addr> {
        if let Some(v) = st.get(code::SERVER_ID) {
            if let Ok(a) = <[u8; 4]>::try_from(v) {
                return Some(Ipv4Addr::from(a));
            }
        }
        if let Some(a) = st.param_addr(Param::ServerIdentifier) {
            return Some(a);
        }
        self.interface_address(cl, subnet)
    }

    fn interface_address(&self, cl: &Client<'_>, subnet: Option<usize>) -> Option<Ipv4Addr> {
        let iface = self.interfaces.iter().find(|i| i.index == cl.ifindex)?;
        if !cl.relayed() {
            if let Some(s) = subnet.and_then(|s| self.topo.config.subnets.get(s)) {
                if let Some((a, _)) = iface.addrs.iter().find(|(a, _)| s.contains(*a)) {
                    return Some(*a);
                }
            }
        }
        iface.addrs.first().map(|(a, _)| *a)
    }

    fn no_address_log(&self, cl: &Client<'_>) -> Effect {
        log(
            LogLevel::Error,
            format!(
                "Interface {} appears to have no IPv4 addresses, and so the server \
                 cannot select a source address.",
                cl.via
            ),
        )
    }

    /// Lease time (ISC `ack_lease`): the client's requested time (option 51)
    /// or `default-lease-time`, at most `max-lease-time`, at least
    /// `min-lease-time` (the failover bound comes after, in `lease_reply`).
    fn desired_lease_time(&self, st: &OptionState, cl: &Client<'_>) -> u32 {
        let default = st
            .param_u32(Param::DefaultLeaseTime)
            .unwrap_or(DEFAULT_LEASE_TIME);
        let max = st
            .param_u32(Param::MaxLeaseTime)
            .unwrap_or(DEFAULT_MAX_LEASE_TIME);
        let mut lt = cl.requested_lease_time().unwrap_or(default).min(max);
        let min = st
            .param_u32(Param::MinLeaseTime)
            .unwrap_or(DEFAULT_MIN_LEASE_TIME.min(max));
        if lt < min {
            lt = if min != 0 { min } else { default };
        }
        lt
    }

    /// ISC: a BOOTP lease is infinite unless `dynamic-bootp-lease-length` or
    /// `dynamic-bootp-lease-cutoff` says otherwise.
    fn bootp_lease_time(st: &OptionState, now: Now) -> u32 {
        let mut lt = INFINITE_LEASE_TIME;
        if let Some(len) = st.param_u32(Param::DynamicBootpLeaseLength) {
            lt = len;
        }
        if let Some(cutoff) = st.param_u32(Param::DynamicBootpLeaseCutoff) {
            lt = u32::try_from(u64::from(cutoff).saturating_sub(now.wall)).unwrap_or(u32::MAX - 1);
        }
        lt
    }

    /// Builds and records an OFFER, ACK or BOOTREPLY for a picked lease.
    fn lease_reply(
        &mut self,
        now: Now,
        cl: &Client<'_>,
        pick: Pick,
        kind: MessageType,
        msg: String,
        out: &mut Vec<Effect>,
    ) {
        let bootp = cl.msg.is_none();
        let addr = pick.addr();
        let (subnet, pool) = match pick {
            Pick::Fixed(f) => (f.subnet, None),
            Pick::Dynamic(a) => match self.table.get(a) {
                Some(e) => (e.subnet, Some(e.pool)),
                None => return,
            },
        };
        let peer = pool.and_then(|p| self.pool_peer(p)).map(str::to_owned);
        let peer = peer.as_deref();
        let old = match pick {
            Pick::Dynamic(a) => self.table.get(a).map(|e| e.lease.clone()),
            Pick::Fixed(_) => None,
        }
        .unwrap_or_else(|| Lease::new(addr, BindingState::Free));
        let host = self.option_host(cl, pick);
        let host_name = host.and_then(|h| self.topo.host(h)).map(|h| h.name.clone());
        let mut facts = cl.facts();
        facts.host_name = host_name.as_deref();
        facts.leased = Some(addr);
        let config = Arc::clone(&self.topo.config);
        let mut ex = self.run_scopes(&config, facts, cl, Some(subnet), pool, host);

        // Drop the request if this client isn't allowed (ISC order).
        let unknown_denied = ex.state.param_flag(Param::BootUnknownClients) == Some(false)
            || ex.state.access(AccessFlag::UnknownClients) != AllowMode::Allow;
        let checks = [
            (
                host.is_none() && unknown_denied,
                AccessFlag::UnknownClients,
                "unknown client",
            ),
            (
                bootp && ex.state.access(AccessFlag::Bootp) != AllowMode::Allow,
                AccessFlag::Bootp,
                "bootp disallowed",
            ),
            (
                ex.state.access(AccessFlag::Booting) != AllowMode::Allow,
                AccessFlag::Booting,
                "booting disallowed",
            ),
        ];
        for (refused, flag, why) in checks {
            if refused {
                out.append(&mut ex.state.logs);
                if ex.state.access(flag) != AllowMode::Ignore {
                    out.push(info(format!("{msg}: {why}")));
                }
                return;
            }
        }
        if kind == MessageType::Offer {
            if let Some(min_secs) = ex.state.param_u32(Param::MinSecs) {
                if u32::from(cl.pkt.secs) < min_secs {
                    out.append(&mut ex.state.logs);
                    out.push(info(format!(
                        "{msg}: configured min-secs value ({min_secs}) is greater than secs \
                         field ({}).  message dropped.",
                        cl.pkt.secs
                    )));
                    return;
                }
            }
        }

        let reuse = kind == MessageType::Ack
            && !bootp
            && matches!(pick, Pick::Dynamic(_))
            && reusable_ack(&ex.state, cl, &old, now)
            // Failover pools: only when the peer already has this binding
            // (see `FailoverHooks::may_reuse_unchanged`); otherwise commit.
            && self.hooks.may_reuse_unchanged(peer, &old, now);
        // `desired` is what the configuration grants; `lease_time` what the
        // client gets after the failover bound (the MCLT rule, §3.4).
        let (desired, lease_time) = if bootp {
            let t = Self::bootp_lease_time(&ex.state, now);
            (t, t)
        } else if reuse {
            // "Restore expiry to its original value": the ACK tells the time
            // left on the unchanged lease.
            let t = remaining(&old, now);
            (t, t)
        } else {
            let d = self.desired_lease_time(&ex.state, cl);
            (d, self.hooks.lease_time(peer, &old, d, now))
        };
        ex.set_lease_facts(Some(addr), Some(lease_time));

        let Some(sid) = self.server_identifier(&ex.state, cl, Some(subnet)) else {
            out.append(&mut ex.state.logs);
            out.push(self.no_address_log(cl));
            return;
        };

        // Options ISC adds itself.
        let st = &mut ex.state;
        if !bootp {
            st.set(code::LEASE_TIME, lease_time.to_be_bytes().to_vec());
            // "Validate any configured renew or rebinding times against the
            // determined lease time": drop a T2 not below the lease time and
            // a T1 not below T2.
            let mut limit = lease_time;
            if let Some(t2) = st.get(code::REBINDING_TIME).and_then(be_u32) {
                if t2 >= limit {
                    st.remove(code::REBINDING_TIME);
                } else {
                    limit = t2;
                }
            }
            if st
                .get(code::RENEWAL_TIME)
                .and_then(be_u32)
                .is_some_and(|t1| t1 >= limit)
            {
                st.remove(code::RENEWAL_TIME);
            }
        }
        if st.get(code::SUBNET_MASK).is_none() {
            if let Some(s) = self.topo.config.subnets.get(subnet) {
                st.set(code::SUBNET_MASK, s.netmask.octets().to_vec());
            }
        }
        if st.param_flag(Param::UseHostDeclNames) == Some(true) && st.get(code::HOST_NAME).is_none()
        {
            if let Some(n) = &host_name {
                st.set(code::HOST_NAME, n.as_bytes().to_vec());
            }
        }

        crate::encap::apply_option_spaces(&config, st);

        let reply_type = if bootp { MessageType::Ack } else { kind };
        let mut reply = cl.pkt.new_reply(reply_type);
        if bootp {
            reply.options.remove(code::MESSAGE_TYPE);
            reply.ciaddr = cl.pkt.ciaddr;
            reply.has_cookie =
                cl.pkt.has_cookie || st.param_flag(Param::AlwaysReplyRfc1048) == Some(true);
        } else {
            reply.options.insert(code::SERVER_ID, sid.octets().to_vec());
        }
        reply.yiaddr = addr;
        let mut logs = std::mem::take(&mut st.logs);
        self.fill_boot_fields(&mut reply, st, cl, &mut logs, bootp);
        let prl = st
            .get(code::PARAMETER_REQUEST_LIST)
            .map(<[u8]>::to_vec)
            .or_else(|| cl.pkt.parameter_request_list().map(<[u8]>::to_vec));
        for (c, v) in reply::ordered_options(st, prl.as_deref(), cl.msg) {
            reply.options.insert(c, v);
        }
        if let Some(agent) = cl.pkt.relay_agent_info() {
            reply.options.insert(code::RELAY_AGENT_INFO, agent.to_vec());
        }
        if st.param_flag(Param::AlwaysBroadcast) == Some(true) {
            reply.flags |= FLAG_BROADCAST;
        }
        let (bytes, report) = if bootp {
            reply.encode_bootp_reply(cl.pkt, cl.raw.len())
        } else {
            reply.encode_reply(cl.pkt.reply_size_limit())
        };
        let to = reply::destination(
            cl.pkt,
            if bootp {
                ReplyKind::Bootp
            } else {
                ReplyKind::Lease
            },
            reply.broadcast(),
            addr,
            cl.ifindex,
        );

        if !report.dropped.is_empty() {
            logs.push(log(
                LogLevel::Warn,
                format!(
                    "reply to {} too large: options {:?} left out",
                    cl.who, report.dropped
                ),
            ));
        }
        let client_hostname = cl.pkt.hostname().and_then(hostname_from_option);
        let what = if bootp {
            "BOOTREPLY"
        } else {
            reply_type.name()
        };
        let sent = info(format!(
            "{what} on {addr} to {}{}via {}",
            cl.who,
            hostname_part(client_hostname.as_deref()),
            cl.via
        ));
        let send = Effect::Reply {
            bytes,
            to,
            ifindex: cl.ifindex,
            src: sid,
        };

        if kind == MessageType::Offer {
            out.append(&mut logs);
            out.push(info(msg));
            // ISC writes nothing for an offer; the lease is only held.
            if let Pick::Dynamic(a) = pick {
                self.table
                    .hold(a, cl.key.clone(), now.mono_ms.saturating_add(OFFER_HOLD_MS));
            }
            self.stats.offers += 1;
            out.push(sent);
            out.push(send);
            return;
        }

        // ISC runs `on commit` statements before it logs and commits; what
        // they `set` is kept on the lease.
        let on_commit = std::mem::take(&mut ex.state.on_commit);
        if !on_commit.is_empty() {
            ex.run_body(&on_commit);
            logs.append(&mut ex.state.logs);
        }
        let events = LeaseEvents {
            on_release: std::mem::take(&mut ex.state.on_release),
            on_expiry: std::mem::take(&mut ex.state.on_expiry),
        };
        let vars = std::mem::take(&mut ex.state.vars);
        let stash_agent = ex.state.param_flag(Param::StashAgentOptions) != Some(false);
        drop(ex);
        self.stats.acks += 1;
        out.append(&mut logs);
        out.push(info(msg));

        let Pick::Dynamic(a) = pick else {
            // A fixed address is not a lease ISC records ("Don't call
            // supersede_lease on a mocked-up lease"): nothing to persist.
            out.push(sent);
            out.push(send);
            return;
        };
        if reuse {
            // ISC `reuse_lease`: nothing written, no failover update. The
            // empty Persist keeps the ACK behind any write still in flight
            // for this lease (a retransmitted REQUEST).
            self.table.release_hold_of(&cl.key);
            out.push(log(
                LogLevel::Debug,
                format!(
                    "reuse_lease: lease age {} (secs) under the dhcp-cache-threshold, \
                     reply with unaltered, existing lease for {a}",
                    now.wall.saturating_sub(old.starts)
                ),
            ));
            out.push(Effect::Persist {
                records: Vec::new(),
                then: vec![sent, send],
            });
            return;
        }

        let mut new = old.clone();
        new.starts = now.wall;
        new.ends = ends_after(now.wall, lease_time);
        new.cltt = now.wall;
        new.binding_state = BindingState::Active;
        new.next_binding_state = next_state(self.hooks.as_ref(), peer, BindingState::Active);
        new.hardware = Some(cl.hw.clone());
        new.uid = cl.uid.clone();
        new.client_hostname = client_hostname;
        new.bootp = bootp;
        new.vars = vars
            .iter()
            .map(|(n, v)| (n.clone(), tandem_lease::quote(v)))
            .collect();
        // ISC 4.4 binds the vendor class on the lease for lease queries.
        if let Some(vci) = cl
            .pkt
            .options
            .get(code::VENDOR_CLASS_ID)
            .filter(|v| !v.is_empty())
        {
            if !new.vars.iter().any(|(n, _)| n == "vendor-class-identifier") {
                new.vars.push((
                    "vendor-class-identifier".to_owned(),
                    tandem_lease::quote(vci),
                ));
            }
        }
        self.hooks
            .prepare_commit(peer, &old, &mut new, desired, now);
        self.hooks.prepare_change(peer, &mut new, now);

        let mut records = vec![Record::Lease(new.clone())];
        self.table.release_hold_of(&cl.key);
        self.table.release_hold_at(a);
        self.table.replace(new.clone());
        // ISC keeps the relay agent options seen with the lease for later
        // unicast renewals (`stash-agent-options`, on unless set false).
        if let Some(agent) = cl.pkt.relay_agent_info() {
            if stash_agent {
                self.agent_stash.insert(a, agent.to_vec());
            }
        }
        if events.on_release.is_empty() && events.on_expiry.is_empty() {
            self.lease_events.remove(&a);
        } else {
            self.lease_events.insert(a, events);
        }

        // ISC `find_lease`: a client REQUESTing one address "shouldn't still
        // be using the old one": its other active leases on this network are
        // released.
        if cl.msg == Some(MessageType::Request) && cl.pkt.ciaddr.is_unspecified() {
            records.extend(self.release_duplicates(cl, a, subnet, now));
        }

        let mut then = vec![sent, send];
        for r in &records {
            if let Record::Lease(l) = r {
                let p = self
                    .table
                    .get(l.addr)
                    .and_then(|e| self.pool_peer(e.pool))
                    .map(str::to_owned);
                then.extend(self.hooks.after_commit(p.as_deref(), l));
            }
        }
        out.push(Effect::Persist { records, then });
    }

    /// `siaddr` from `next-server`, `file` from `filename`, `sname` from
    /// `server-name`. BOOTP keeps ISC's defaults: the interface address as
    /// next server and the client's own file name.
    fn fill_boot_fields(
        &self,
        reply: &mut Packet,
        st: &OptionState,
        cl: &Client<'_>,
        logs: &mut Vec<Effect>,
        bootp: bool,
    ) {
        if let Some(a) = st.param_addr(Param::NextServer) {
            reply.siaddr = a;
        } else if bootp {
            if let Some(a) = self.interface_address(cl, None) {
                reply.siaddr = a;
            }
        }
        if let Some(f) = st.param(Param::Filename) {
            if f.len() >= tandem_wire::FILE_LEN {
                logs.push(info(format!(
                    "file name longer than packet field truncated - field: {} name: {}",
                    tandem_wire::FILE_LEN,
                    f.len()
                )));
            }
            reply.file = f.iter().copied().take(tandem_wire::FILE_LEN).collect();
        } else if bootp {
            reply.file = cl.pkt.file.clone();
        }
        if let Some(s) = st.param(Param::ServerName) {
            if s.len() >= tandem_wire::SNAME_LEN {
                logs.push(info(format!(
                    "server name longer than packet field truncated - field: {} name: {}",
                    tandem_wire::SNAME_LEN,
                    s.len()
                )));
            }
            reply.sname = s.iter().copied().take(tandem_wire::SNAME_LEN).collect();
        }
    }

    /// Releases the client's other ACTIVE leases on the same network.
    fn release_duplicates(
        &mut self,
        cl: &Client<'_>,
        keep: Ipv4Addr,
        subnet: usize,
        now: Now,
    ) -> Vec<Record> {
        let Some(net) = self.topo.subnet_network(subnet) else {
            return Vec::new();
        };
        let mut addrs = match &cl.uid {
            Some(u) => self.table.by_uid(u),
            None => self.table.by_hw(&hw_key(cl.hw.htype, &cl.hw.addr)),
        };
        addrs.retain(|a| *a != keep);
        let mut records = Vec::new();
        for a in addrs {
            let Some(e) = self.table.get(a) else {
                continue;
            };
            if e.lease.binding_state != BindingState::Active
                || !cl.owns(&e.lease)
                || !self.in_network(e.subnet, net)
            {
                continue;
            }
            let peer = self.pool_peer(e.pool).map(str::to_owned);
            let mut l = e.lease.clone();
            l.binding_state = self.hooks.release_state(peer.as_deref());
            l.next_binding_state =
                next_state(self.hooks.as_ref(), peer.as_deref(), l.binding_state);
            l.ends = now.wall;
            self.hooks.prepare_change(peer.as_deref(), &mut l, now);
            self.table.replace(l.clone());
            self.agent_stash.remove(&a);
            self.lease_events.remove(&a);
            records.push(Record::Lease(l));
        }
        records
    }

    fn run_event(&self, body: &[Stmt], cl: Option<&Client<'_>>, lease: &Lease) -> Vec<Effect> {
        if body.is_empty() {
            return Vec::new();
        }
        let mut facts = cl.map(Client::facts).unwrap_or_default();
        facts.leased = Some(lease.addr);
        let mut ex = Executor::new(&self.topo.config, facts);
        ex.run_body(body);
        std::mem::take(&mut ex.state.logs)
    }

    // ---- DHCPRELEASE ---------------------------------------------------

    /// ISC `dhcprelease`: find the lease by client identifier and ciaddr,
    /// else by ciaddr; the hardware address must match; an unexpired lease
    /// becomes FREE (RELEASED with failover). RFC 2131 §4.3.4.
    fn release(&mut self, now: Now, cl: &Client<'_>, out: &mut Vec<Effect>) {
        let cip = cl.pkt.ciaddr;
        if cl.pkt.requested_address().is_some() {
            out.push(info(format!(
                "DHCPRELEASE from {} specified requested-address.",
                hex_colon(cl.pkt.hw_addr())
            )));
        }
        let found = self
            .table
            .get(cip)
            .filter(|e| e.lease.hardware.as_ref() == Some(&cl.hw))
            .filter(|e| match (&cl.uid, &e.lease.uid) {
                (Some(c), Some(l)) => c == l,
                _ => true,
            })
            .map(|e| (e.lease.clone(), e.pool));
        let msg = format!(
            "DHCPRELEASE of {cip} from {}{}via {} ({}found)",
            cl.who,
            hostname_part(
                found
                    .as_ref()
                    .and_then(|(l, _)| l.client_hostname.as_deref())
            ),
            cl.via,
            if found.is_some() { "" } else { "not " }
        );
        self.table.release_hold_of(&cl.key);
        let Some((lease, pool)) = found else {
            out.push(info(msg));
            return;
        };
        let peer = self.pool_peer(pool).map(str::to_owned);
        let peer = peer.as_deref();
        if !self.hooks.may_answer(peer, cl.pkt, cl.msg) {
            out.push(info(format!("{}: ignored", peer.unwrap_or_default())));
            return;
        }
        self.stats.releases += 1;
        if lease.binding_state != BindingState::Active || lease.ends <= now.wall {
            out.push(info(msg));
            return;
        }
        if let Some(ev) = self.lease_events.remove(&cip) {
            out.extend(self.run_event(&ev.on_release, Some(cl), &lease));
        }
        let mut new = lease;
        new.binding_state = self.hooks.release_state(peer);
        new.next_binding_state = next_state(self.hooks.as_ref(), peer, new.binding_state);
        new.ends = now.wall;
        self.hooks.prepare_change(peer, &mut new, now);
        self.table.replace(new.clone());
        self.agent_stash.remove(&cip);
        out.push(info(msg));
        let then = self.hooks.after_commit(peer, &new);
        out.push(Effect::Persist {
            records: vec![Record::Lease(new)],
            then,
        });
    }

    // ---- DHCPDECLINE ---------------------------------------------------

    /// RFC 2131 §4.3.3: the server "MUST mark the network address as not
    /// available". ISC `dhcpdecline` abandons the lease for
    /// `abandon-lease-time` and forgets its client.
    fn decline(&mut self, now: Now, cl: &Client<'_>, out: &mut Vec<Effect>) {
        let Some(addr) = cl.pkt.requested_address() else {
            // "DHCPDECLINE must specify address."
            self.stats.dropped_other += 1;
            return;
        };
        let entry = self
            .table
            .get(addr)
            .map(|e| (e.lease.clone(), e.subnet, e.pool));
        let msg = format!(
            "DHCPDECLINE of {addr} from {}{}via {}",
            cl.who,
            hostname_part(
                entry
                    .as_ref()
                    .and_then(|(l, _, _)| l.client_hostname.as_deref())
            ),
            cl.via
        );
        let facts = cl.facts();
        let config = Arc::clone(&self.topo.config);
        let ex = self.run_scopes(&config, facts, cl, entry.as_ref().map(|e| e.1), None, None);
        let mode = ex.state.access(AccessFlag::Declines);
        out.extend(ex.state.logs.iter().cloned());
        drop(ex);
        self.table.release_hold_of(&cl.key);
        let status = match (&entry, mode) {
            (_, AllowMode::Deny | AllowMode::Ignore) => "ignored",
            (None, _) => "not found",
            (Some((lease, _, pool)), AllowMode::Allow) => {
                let peer = self.pool_peer(*pool).map(str::to_owned);
                let peer = peer.as_deref();
                if !self.hooks.may_answer(peer, cl.pkt, cl.msg) {
                    out.push(info(format!("{}: ignored", peer.unwrap_or_default())));
                    return;
                }
                let mut new = lease.clone();
                new.binding_state = BindingState::Abandoned;
                new.next_binding_state =
                    next_state(self.hooks.as_ref(), peer, BindingState::Abandoned);
                new.ends = ends_after(now.wall, self.abandon_lease_time);
                new.hardware = None;
                new.uid = None;
                self.hooks.prepare_change(peer, &mut new, now);
                self.table.release_hold_at(addr);
                self.table.replace(new.clone());
                self.agent_stash.remove(&addr);
                self.lease_events.remove(&addr);
                self.stats.declines += 1;
                out.push(log(
                    LogLevel::Error,
                    format!("Abandoning IP address {addr}: declined."),
                ));
                let then = self.hooks.after_commit(peer, &new);
                out.push(Effect::Persist {
                    records: vec![Record::Lease(new)],
                    then,
                });
                "abandoned"
            }
        };
        if mode != AllowMode::Ignore {
            out.push(info(format!("{msg}: {status}")));
        }
    }

    // ---- DHCPINFORM ----------------------------------------------------

    /// RFC 2131 §4.3.5 and ISC `dhcpinform`: configuration only, no lease,
    /// no lease time; answered only for subnets we are authoritative for.
    fn inform(&mut self, now: Now, cl: &Client<'_>, out: &mut Vec<Effect>) {
        let _ = now;
        let pkt = cl.pkt;
        let ciaddr_zero = pkt.ciaddr.is_unspecified();
        let cip = if ciaddr_zero { cl.src } else { pkt.ciaddr };
        let msg = format!("DHCPINFORM from {cip} via {}", cl.via);
        if cip.is_unspecified() {
            out.push(info(format!("{msg}: ignored (null source address).")));
            return;
        }
        let mut sip = cip;
        let mut addr_type = if ciaddr_zero { "source" } else { "client" };
        if ciaddr_zero && cl.relayed() {
            sip = pkt.giaddr;
            addr_type = "relay";
        }
        let selector = pkt
            .relay_agent_info()
            .and_then(relay_suboptions)
            .and_then(|subs| {
                subs.into_iter()
                    .find(|(c, _)| *c == 5)
                    .map(|(_, v)| v.to_vec())
            })
            .or_else(|| pkt.options.get(code::LINK_SELECTION).map(<[u8]>::to_vec));
        if let Some(v) = selector {
            match <[u8; 4]>::try_from(v.as_slice()) {
                Ok(a) => {
                    sip = Ipv4Addr::from(a);
                    addr_type = "selected";
                }
                Err(_) => {
                    out.push(info(format!(
                        "{msg}: ignored (invalid subnet selection option)."
                    )));
                    return;
                }
            }
        }
        let Some(subnet) = self.topo.find_subnet(sip) else {
            out.push(info(format!(
                "{msg}: unknown subnet for {addr_type} address {sip}"
            )));
            return;
        };
        if !self.topo.subnet_authoritative(subnet) {
            let net = self
                .topo
                .config
                .subnets
                .get(subnet)
                .map_or(Ipv4Addr::UNSPECIFIED, |s| s.network);
            out.push(info(format!("{msg}: not authoritative for subnet {net}")));
            return;
        }
        let pool = if ciaddr_zero {
            None
        } else {
            self.table.get(cip).map(|e| e.pool)
        };
        // ISC: a host with this fixed address first, else one without any.
        let host = cl
            .hosts
            .iter()
            .copied()
            .find(|&h| {
                self.topo.host(h).is_some_and(|host| {
                    host.fixed_addresses
                        .contains(&tandem_config::HostAddr::Ip(cip))
                })
            })
            .or_else(|| {
                cl.hosts.iter().copied().find(|&h| {
                    self.topo
                        .host(h)
                        .is_some_and(|host| host.fixed_addresses.is_empty())
                })
            });
        let host_name = host.and_then(|h| self.topo.host(h)).map(|h| h.name.clone());
        let mut facts = cl.facts();
        facts.host_name = host_name.as_deref();
        let config = Arc::clone(&self.topo.config);
        let mut ex = self.run_scopes(&config, facts, cl, Some(subnet), pool, host);
        let Some(sid) = self.server_identifier(&ex.state, cl, Some(subnet)) else {
            out.push(self.no_address_log(cl));
            return;
        };
        let st = &mut ex.state;
        // RFC 2131 §3.4: the server "MUST NOT send a lease expiration time".
        st.remove(code::LEASE_TIME);
        st.remove(code::RENEWAL_TIME);
        st.remove(code::REBINDING_TIME);
        crate::encap::apply_option_spaces(&config, st);
        let mut reply = pkt.new_reply(MessageType::Ack);
        reply.ciaddr = pkt.ciaddr;
        reply.options.insert(code::SERVER_ID, sid.octets().to_vec());
        let mut logs = std::mem::take(&mut st.logs);
        self.fill_boot_fields(&mut reply, st, cl, &mut logs, false);
        let prl = st
            .get(code::PARAMETER_REQUEST_LIST)
            .map(<[u8]>::to_vec)
            .or_else(|| pkt.parameter_request_list().map(<[u8]>::to_vec));
        for (c, v) in reply::ordered_options(st, prl.as_deref(), cl.msg) {
            reply.options.insert(c, v);
        }
        if let Some(agent) = pkt.relay_agent_info() {
            reply.options.insert(code::RELAY_AGENT_INFO, agent.to_vec());
        }
        let (to, force_broadcast) = reply::inform_destination(pkt, cip);
        if force_broadcast {
            reply.flags |= FLAG_BROADCAST;
        }
        let (bytes, _) = reply.encode_reply(pkt.reply_size_limit());
        self.stats.informs += 1;
        out.append(&mut logs);
        out.push(info(msg));
        let who = if pkt.htype != 0 && pkt.hlen != 0 {
            hex_colon(pkt.hw_addr())
        } else {
            "<no client hardware address>".to_owned()
        };
        let via = match &to {
            Destination::Relay { giaddr, .. } => giaddr.to_string(),
            _ => self
                .interfaces
                .iter()
                .find(|i| i.index == cl.ifindex)
                .map_or_else(|| format!("if{}", cl.ifindex), |i| i.name.clone()),
        };
        out.push(info(format!("DHCPACK to {cip} ({who}) via {via}")));
        out.push(Effect::Reply {
            bytes,
            to,
            ifindex: cl.ifindex,
            src: sid,
        });
    }

    // ---- BOOTP ---------------------------------------------------------

    /// ISC `bootp`: a fixed address, the client's previous lease, or a new
    /// lease from a range that allows dynamic BOOTP; the lease is infinite
    /// unless configured otherwise, and committed before the reply.
    fn bootp(&mut self, now: Now, cl: &Client<'_>, out: &mut Vec<Effect>) {
        let msg = format!(
            "BOOTREQUEST from {} via {}",
            hex_colon(cl.pkt.hw_addr()),
            cl.via
        );
        let Some(net) = cl.network else {
            self.stats.dropped_other += 1;
            out.push(info(format!("{msg}: network unknown")));
            return;
        };
        let pick = match self.topo.fixed_lease_in(&cl.hosts, net) {
            Some(f) => Pick::Fixed(f),
            None => {
                let found = self
                    .previous_lease(cl, net, now)
                    .or_else(|| self.allocate(cl, net, now).map(|(a, _)| a));
                match found {
                    Some(a) => Pick::Dynamic(a),
                    None => {
                        self.stats.no_free_leases += 1;
                        out.push(info(format!(
                            "{msg}: BOOTP from dynamic client and no dynamic leases"
                        )));
                        return;
                    }
                }
            }
        };
        if let Pick::Dynamic(a) = pick {
            let peer = self
                .table
                .get(a)
                .and_then(|e| self.pool_peer(e.pool))
                .map(str::to_owned);
            if !self.hooks.may_answer(peer.as_deref(), cl.pkt, None) {
                out.push(info(format!(
                    "{msg}: load balance to peer {}",
                    peer.unwrap_or_default()
                )));
                return;
            }
        }
        self.lease_reply(now, cl, pick, MessageType::Ack, msg, out);
    }
}

/// What a DHCPREQUEST's address lookup found.
enum RequestLookup {
    Grant(Pick),
    /// The address is ours but not for this client: NAK with this message.
    Unavailable(&'static str),
    /// Not an address we can speak for: stay silent.
    Unknown,
}

/// ISC `DEFAULT_CACHE_THRESHOLD`: a renewal within this percentage of the
/// lease's length reuses the lease unchanged.
pub const DEFAULT_CACHE_THRESHOLD: u32 = 25;

/// ISC `reuse_lease`: an ACTIVE lease of the same client (same uid, same
/// hardware address, same host name) younger than `dhcp-cache-threshold`
/// percent of its length is acknowledged as it is, without a write.
fn reusable_ack(st: &OptionState, cl: &Client<'_>, old: &Lease, now: Now) -> bool {
    let thresh = match st.param(Param::DhcpCacheThreshold) {
        Some([b]) => u32::from(*b),
        Some(v) => be_u32(v).unwrap_or(DEFAULT_CACHE_THRESHOLD),
        None => DEFAULT_CACHE_THRESHOLD,
    };
    let thresh = if thresh < 100 {
        thresh
    } else {
        DEFAULT_CACHE_THRESHOLD
    };
    let same_client = old.uid == cl.uid
        && old.hardware.as_ref() == Some(&cl.hw)
        && old.client_hostname == cl.pkt.hostname().and_then(hostname_from_option);
    if thresh == 0
        || old.binding_state != BindingState::Active
        || !same_client
        || old.ends <= now.wall
    {
        return false;
    }
    let length = old.ends.saturating_sub(old.starts);
    let age = now.wall.saturating_sub(old.starts);
    age <= length / 100 * u64::from(thresh) + length % 100 * u64::from(thresh) / 100
}

/// Seconds left on a lease (infinite stays infinite).
fn remaining(l: &Lease, now: Now) -> u32 {
    if l.ends >= INFINITE {
        return INFINITE_LEASE_TIME;
    }
    u32::try_from(l.ends.saturating_sub(now.wall)).unwrap_or(INFINITE_LEASE_TIME - 1)
}

fn be_u32(v: &[u8]) -> Option<u32> {
    <[u8; 4]>::try_from(v).ok().map(u32::from_be_bytes)
}

/// A numeric parameter written at the top level of the global scope.
fn global_u32(config: &Config, param: Param) -> Option<u32> {
    let scope = config.scopes.first()?;
    scope.statements.iter().rev().find_map(|s| match s {
        Stmt::Param {
            param: p,
            value: tandem_config::Value::Const(v),
        } if *p == param => be_u32(v),
        _ => None,
    })
}
