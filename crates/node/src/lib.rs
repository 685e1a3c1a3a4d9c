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

use std::net::{Ipv4Addr, SocketAddrV4};

pub use tandem_engine::{Destination, Interface, LogLevel, Now, RxMeta};
pub use tandem_failover::peer::ConnId;
pub use tandem_lease::{FailoverState, Record};

/// What the driver feeds the node.
#[derive(Debug, Clone)]
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
