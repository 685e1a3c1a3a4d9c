//! What the world needs from a server: the `tandem-node` contract, behind a
//! trait so that the same world can also run a control (two DHCP engines
//! with no failover, see [`crate::lone`]) that must make the checker fire.

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;

use tandem_config::Config;
use tandem_lease::{FailoverState, Lease, LeaseDb, Record};
use tandem_node::{Effect, Input, Interface, Listen, Node, Now};

/// One server as a pure state machine (`tandem_node::Node`'s API).
pub trait SimServer: Sized {
    type Error: fmt::Display;

    /// Start from a configuration and the folded lease file (`Node::new`).
    fn boot(
        config: Arc<Config>,
        interfaces: Vec<Interface>,
        db: LeaseDb,
        now: Now,
    ) -> Result<(Self, Vec<Effect>), Self::Error>;

    fn handle(&mut self, now: Now, input: Input) -> Vec<Effect>;

    /// Monotonic ms of the earliest timer.
    fn next_timeout(&self) -> Option<u64>;

    fn listens(&self) -> Vec<Listen>;

    /// The lease table's entry for `addr`.
    fn lease(&self, addr: Ipv4Addr) -> Option<&Lease>;

    /// The local state of the (single) failover relationship; `None` when
    /// the server has none.
    fn failover_state(&self) -> Option<FailoverState>;

    /// Whether the relationship's link is up (handshake done).
    fn connected(&self) -> bool;

    /// What a lease-file rewrite writes.
    fn rewrite_records(&self) -> Vec<Record>;
}

impl SimServer for Node {
    type Error = tandem_node::NodeError;

    fn boot(
        config: Arc<Config>,
        interfaces: Vec<Interface>,
        db: LeaseDb,
        now: Now,
    ) -> Result<(Self, Vec<Effect>), Self::Error> {
        // The mission's configs name peers by address; nothing to resolve.
        Node::new(config, interfaces, db, &|_| None, now)
    }

    fn handle(&mut self, now: Now, input: Input) -> Vec<Effect> {
        Node::handle(self, now, input)
    }

    fn next_timeout(&self) -> Option<u64> {
        Node::next_timeout(self)
    }

    fn listens(&self) -> Vec<Listen> {
        Node::listens(self)
    }

    fn lease(&self, addr: Ipv4Addr) -> Option<&Lease> {
        self.engine().lease(addr)
    }

    fn failover_state(&self) -> Option<FailoverState> {
        self.peer_infos().first().map(|p| p.local_state)
    }

    fn connected(&self) -> bool {
        self.peer_infos().first().is_some_and(|p| p.connected)
    }

    fn rewrite_records(&self) -> Vec<Record> {
        self.leases_for_rewrite()
    }
}
