//! One Tandem server as a pure state machine: the DHCP engine plus its
//! failover relationships (one `tandem_failover::Peer` per `failover peer`
//! block). Fed with `(now, Input)`, returns `Effect`s; never reads a clock,
//! never touches a socket or a file. The `tandem` binary drives it with real
//! sockets and the group-commit store; the simulation drives two of them with
//! a virtual network, clock and disk.
//!
//! Contract (the server driver and the simulation are written against it):
//! ```ignore
//! let (mut node, effects) = Node::new(config, interfaces, lease_db, &resolve, now)?;
//! node.handle(now, Input::Packet { rx, bytes });
//! node.handle(now, Input::PeerConnected { peer, conn });   // outbound or accepted
//! node.handle(now, Input::PeerBytes { conn, bytes });
//! if node.next_timeout().is_some_and(|t| t <= now.mono_ms) { node.handle(now, Input::Timers); }
//! ```
//!
//! Inside: `node.rs` drives the engine and the peers and places their effects
//! (ordering rules in its module docs); `hooks.rs` answers the engine's
//! failover questions from the peers (service state, load balancing, MCLT,
//! ownership, expiry); `convert.rs` turns `failover peer` blocks into
//! `PeerConfig`s and loads the saved state (config declarations, then the
//! lease file). Pools without a `failover peer` are served exactly as by
//! the engine alone.

use std::net::{Ipv4Addr, SocketAddrV4};

mod convert;
mod hooks;
mod node;

pub use node::Node;
pub use tandem_engine::{Destination, Engine, Interface, LogLevel, Now, RxMeta};
pub use tandem_failover::peer::ConnId;
pub use tandem_failover::Role;
pub use tandem_lease::{FailoverState, Record};

/// What the driver feeds the node.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A DHCP datagram arrived.
    Packet { rx: RxMeta, bytes: Vec<u8> },
    /// About once a second: lease expiry, offer holds.
    Tick,
    /// `now.mono_ms >= next_timeout()`: run due failover timers.
    Timers,
    /// A TCP connection to/from peer number `peer` is up (`conn` is chosen by
    /// the driver, unique for the process lifetime).
    PeerConnected { peer: usize, conn: ConnId },
    /// An outbound connection attempt for `peer` failed.
    PeerConnectFailed { peer: usize },
    /// Bytes read from a peer connection (any split; the node reassembles frames).
    PeerBytes { conn: ConnId, bytes: Vec<u8> },
    /// The connection closed (EOF or error).
    PeerClosed { conn: ConnId },
    /// Completion of an `Effect::Persist` that carried `notify: Some(token)`.
    Persisted { token: u64, ok: bool },
    /// Operator: set a relationship's local state (OMAPI `local-state`).
    SetLocalState { peer: String, state: FailoverState },
    /// Clean shutdown (SIGTERM, OMAPI control state 2). The node answers
    /// `Effect::ShutdownComplete` when every relationship has handed over
    /// (at once when there is no failover).
    Shutdown,
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send a DHCP reply.
    Reply {
        bytes: Vec<u8>,
        to: Destination,
        ifindex: u32,
        src: Ipv4Addr,
    },
    /// A log line (ISC's wording).
    Log { level: LogLevel, message: String },
    /// Make `records` durable (group commit). Only after that: carry out
    /// `then` in order, and if `notify` is set, feed back
    /// `Input::Persisted { token, ok: true }`. If the write fails: drop
    /// `then` and feed `Persisted { token, ok: false }`.
    ///
    /// Persists complete in the order they were issued: one with no
    /// `records` completes only once every Persist issued before it has (the
    /// node uses that as a barrier, so that a BNDUPD never leaves before the
    /// lease it describes is on disk).
    Persist {
        records: Vec<Record>,
        then: Vec<Effect>,
        notify: Option<u64>,
    },
    /// Open a TCP connection from `local` (port 0 = ephemeral) to `remote`
    /// for relationship `peer`; report `PeerConnected` or `PeerConnectFailed`.
    PeerConnect {
        peer: usize,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    },
    /// Write bytes to a peer connection.
    PeerSend { conn: ConnId, bytes: Vec<u8> },
    /// Close a peer connection (no `PeerClosed` needs to follow).
    PeerClose { conn: ConnId },
    /// Clean shutdown is complete: flush the store and exit.
    ShutdownComplete,
}

/// Where the driver must listen for one relationship, and whom to accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    pub peer: usize,
    /// `address`:`port` of the `failover peer` block.
    pub local: SocketAddrV4,
    /// ISC accepts a connection only from `peer address`.
    pub remote_addr: Ipv4Addr,
}

/// Why a node could not start or reload.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Engine(#[from] tandem_engine::EngineError),
    #[error("failover peer \"{peer}\": {what} \"{name}\" does not resolve to an IPv4 address")]
    Unresolved {
        peer: String,
        what: &'static str,
        name: String,
    },
    #[error("failover peer \"{peer}\": no {what} (ISC: it may not be omitted)")]
    MissingAddress { peer: String, what: &'static str },
    #[error("failover peer \"{peer}\": {error}")]
    Hba {
        peer: String,
        error: tandem_failover::hash::HbaError,
    },
}

/// One relationship as OMAPI's `failover-state` object shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub name: String,
    pub role: Role,
    pub local_addr: Ipv4Addr,
    pub local_port: u16,
    pub partner_addr: Ipv4Addr,
    pub partner_port: u16,
    pub local_state: FailoverState,
    pub local_stos: u64,
    pub partner_state: FailoverState,
    pub partner_stos: u64,
    pub mclt: u32,
    /// The primary's hash bucket assignment (configured, or from CONNECT).
    pub hba: Option<[u8; 32]>,
    /// Ours (`max-response-delay`) and the partner's (its option 19).
    pub max_response_delay: u32,
    pub partner_max_response_delay: Option<u32>,
    /// Ours (`max-unacked-updates`) and the partner's (its option 14).
    pub max_unacked_updates: u32,
    pub partner_max_unacked_updates: Option<u32>,
    pub load_balance_max_seconds: u32,
    /// BNDUPDs sent and not yet acknowledged.
    pub cur_unacked_updates: u32,
    /// Wall time we last sent a message on the link.
    pub last_packet_sent: Option<u64>,
    /// The `time` field of the last message received.
    pub last_timestamp_received: Option<u64>,
    /// Partner clock minus ours at the last message, seconds (ISC keeps 0).
    pub skew: i64,
    pub connected: bool,
}
