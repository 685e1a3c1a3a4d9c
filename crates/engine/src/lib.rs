//! Sans-I/O DHCPv4 server core. Fed with `(now, input)`, it returns effects
//! (replies to send, records to persist before replies leave, log lines).
//! It never reads a clock or touches a socket.
//!
//! API contract (the server crate drives exactly this):
//! ```ignore
//! let mut engine = Engine::new(config, interfaces, leases_from_file, now)?;
//! let effects = engine.handle_packet(now, &rx_meta, &bytes);
//! let effects = engine.tick(now);            // call about once a second
//! for lease in engine.leases() { ... }       // for the periodic lease-file rewrite
//! ```
//!
//! # Effects and their order
//! Effects are returned in the order the driver must carry them out. A
//! DHCPACK (and a BOOTREPLY for a dynamic lease) is never returned on its
//! own: it sits in `Effect::Persist { records, then }` and may be sent only
//! after `records` are on stable storage (ISC commits before it acks). A
//! DHCPOFFER writes nothing (ISC neither): the offered lease is held in
//! memory for [`OFFER_HOLD_MS`] and then returns to its pool. DHCPRELEASE,
//! DHCPDECLINE and lease expiry ([`Engine::tick`]) emit a `Persist` whose
//! `then` holds only failover follow-ups. A renewal that ISC answers with the
//! unchanged lease (`dhcp-cache-threshold`, 25 % of the lease length by
//! default) writes nothing: its ACK comes in a `Persist` with no records, so
//! that it still waits for writes queued before it (in a failover pool only
//! when [`FailoverHooks::may_reuse_unchanged`] agrees). Startup diagnostics are
//! returned by the first `handle_packet` or `tick`.
//!
//! # Modules
//! - `topology`: subnets, shared networks, pools and hosts compiled from the
//!   configuration model;
//! - `table`: the lease table (by address, client id, hardware address,
//!   allocation queues, expiry queue, offer holds);
//! - `scope`: scope statements and classes evaluated for one client;
//! - `engine`: the message handlers (ISC `server/dhcp.c`, `bootp.c`);
//! - `reply`: option order and delivery (RFC 2131 §4.1);
//! - [`failover`]: the seam for ISC failover;
//! - `dynhost`: hosts and groups declared over OMAPI ([`Engine::add_host`], ...).

use std::net::Ipv4Addr;

mod dynhost;
mod encap;
mod engine;
mod error;
mod expr;
pub mod failover;
mod reply;
mod scope;
mod table;
mod text;
mod topology;

pub use dynhost::{
    parse_statements, GroupSnapshot, GroupSpec, HostError, HostInfo, HostOrigin, HostQuery,
    HostSnapshot, HostSpec,
};
pub use engine::FailoverPool;
pub use engine::{
    Engine, DEFAULT_ABANDON_LEASE_TIME, DEFAULT_CACHE_THRESHOLD, DEFAULT_LEASE_TIME,
    DEFAULT_MAX_LEASE_TIME, DEFAULT_MIN_LEASE_TIME, OFFER_HOLD_MS,
};
pub use error::EngineError;
pub use failover::{FailoverHooks, NoFailover};
pub use tandem_lease::{Lease, Record};

/// Time as the engine sees it: wall clock for lease times (ISC's absolute
/// seconds), monotonic milliseconds for short timers (offer holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Now {
    /// Seconds since the Unix epoch (UTC).
    pub wall: u64,
    /// Monotonic milliseconds since an arbitrary start.
    pub mono_ms: u64,
}

/// A local interface the server listens on.
#[derive(Debug, Clone)]
pub struct Interface {
    pub index: u32,
    pub name: String,
    /// IPv4 addresses with prefix lengths; the first is the primary.
    pub addrs: Vec<(Ipv4Addr, u8)>,
    pub mac: Vec<u8>,
}

/// Where and how a packet arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxMeta {
    pub ifindex: u32,
    pub src: std::net::SocketAddrV4,
    /// Destination address of the datagram (IP_PKTINFO).
    pub dst: Ipv4Addr,
}

/// How a reply must be delivered (RFC 2131 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// To the relay at giaddr, server port (67).
    Relay { giaddr: Ipv4Addr, port: u16 },
    /// Unicast UDP to ciaddr:68.
    Unicast { addr: Ipv4Addr, port: u16 },
    /// Broadcast 255.255.255.255:68 out of this interface.
    Broadcast { ifindex: u32 },
    /// Unicast to yiaddr and chaddr without ARP (packet socket); the driver
    /// falls back to broadcast if it cannot.
    Hardware {
        ifindex: u32,
        addr: Ipv4Addr,
        chaddr: Vec<u8>,
        htype: u8,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send these bytes (from interface `ifindex`, source = `src`).
    Reply {
        bytes: Vec<u8>,
        to: Destination,
        ifindex: u32,
        src: Ipv4Addr,
    },
    /// Append these records to stable storage; only after they are synced,
    /// carry out `then` (group commit: many Persist effects may share one fsync).
    Persist {
        records: Vec<Record>,
        then: Vec<Effect>,
    },
    /// A log line in ISC's wording ("DHCPACK on 10.0.0.100 to ... via eth0").
    Log { level: LogLevel, message: String },
}

/// Counters the server exports as metrics. `by_type_in` is indexed by DHCP
/// message type (1 DISCOVER ... 8 INFORM); index 0 counts BOOTP requests.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub received: u64,
    pub dropped_malformed: u64,
    pub dropped_other: u64,
    pub by_type_in: [u64; 9],
    pub offers: u64,
    pub acks: u64,
    pub naks: u64,
    pub releases: u64,
    pub declines: u64,
    pub informs: u64,
    /// DHCPDISCOVERs (and BOOTREQUESTs) left unanswered because no pool of
    /// the client's network had a lease for it.
    pub no_free_leases: u64,
}
