//! What a failover relationship needs from the engine beyond the
//! [`FailoverHooks`](crate::FailoverHooks) questions: read access to one
//! relationship's leases (the peer's `LeaseView`), the peer's accepted
//! BNDUPDs applied to the table, lease moves for BNDACKs and pool balancing,
//! and a second look at expiries that waited on the peer.
//!
//! None of these write anything: each returns the changed lease, and the
//! caller (`tandem-node`) persists it and tells the peer.

use std::net::Ipv4Addr;

use tandem_lease::{BindingState, Lease, Record};

use super::Engine;

/// One allocation pool of a failover relationship, for pool balancing
/// (isc-failover.md §3.9: ISC balances each pool on its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverPool {
    /// Identifies the pool for [`Engine::pool_queue`] (valid until reload).
    pub id: usize,
    /// A name for log lines: the pool's first range (`first-last`).
    pub name: String,
    /// FREE and BACKUP leases in the allocation queues.
    pub free: u32,
    pub backup: u32,
}

impl Engine {
    /// The `failover peer` of the pool holding `addr` (`None`: no such lease,
    /// or a pool without failover).
    pub fn lease_failover_peer(&self, addr: Ipv4Addr) -> Option<&str> {
        let e = self.table.get(addr)?;
        self.pool_peer(e.pool)
    }

    /// The pool ([`FailoverPool::id`]) holding `addr`.
    pub fn lease_pool(&self, addr: Ipv4Addr) -> Option<usize> {
        self.table.get(addr).map(|e| e.pool)
    }

    /// Every lease of the pools whose `failover peer` is `peer`, by address.
    pub fn failover_leases<'a>(&'a self, peer: &'a str) -> impl Iterator<Item = &'a Lease> + 'a {
        let pools: Vec<bool> = (0..self.topo.alloc_pools.len())
            .map(|p| self.pool_peer(p) == Some(peer))
            .collect();
        self.table
            .iter()
            .filter(move |e| pools.get(e.pool).copied().unwrap_or(false))
            .map(|e| &e.lease)
    }

    /// The allocation pools of relationship `peer`, with their FREE and
    /// BACKUP counts (leases in the allocation queues: an offered lease is
    /// counted again when its hold ends).
    pub fn failover_pools(&self, peer: &str) -> Vec<FailoverPool> {
        self.topo
            .alloc_pools
            .iter()
            .enumerate()
            .filter(|(i, _)| self.pool_peer(*i) == Some(peer))
            .map(|(id, ap)| FailoverPool {
                id,
                name: ap
                    .ranges
                    .first()
                    .map(|(lo, hi, _)| format!("{}-{}", Ipv4Addr::from(*lo), Ipv4Addr::from(*hi)))
                    .unwrap_or_default(),
                free: count(self.table.queue_len(id, BindingState::Free)),
                backup: count(self.table.queue_len(id, BindingState::Backup)),
            })
            .collect()
    }

    /// Pool `pool`'s queue for `state` (FREE or BACKUP) in ISC's order,
    /// oldest `ends` first (never-used leases first). Offered leases are not
    /// in it, so balancing never moves a lease a client was just offered.
    pub fn pool_queue(&self, pool: usize, state: BindingState) -> Vec<&Lease> {
        self.table
            .queue(pool, state)
            .into_iter()
            .filter_map(|a| self.table.get(a).map(|e| &e.lease))
            .collect()
    }

    /// Applies a binding the failover peer sent and our acceptance rules
    /// passed (isc-failover.md §3.6). Returns the record to persist before
    /// the BNDACK goes out, or `None` if `lease.addr` is not in the table.
    /// An offer we hold on the address is withdrawn when the binding changes
    /// hands, and per-lease memory (relay agent options, `on` events) of a
    /// previous client is forgotten.
    pub fn apply_peer_binding(&mut self, lease: Lease) -> Option<Record> {
        let addr = lease.addr;
        let old = self.table.get(addr)?.lease.clone();
        let same_client = old.hardware == lease.hardware && old.uid == lease.uid;
        if old.binding_state != lease.binding_state || !same_client {
            self.table.release_hold_at(addr);
        }
        if !same_client || lease.binding_state != BindingState::Active {
            self.agent_stash.remove(&addr);
            self.lease_events.remove(&addr);
        }
        self.table.replace(lease.clone());
        Some(Record::Lease(lease))
    }

    /// Changes one lease in place (BNDACK bookkeeping, pool balancing moves,
    /// `tsfp` on entering partner-down) and keeps every index in step.
    /// Returns the new lease (to persist), or `None` if `addr` is not ours.
    pub fn update_lease(&mut self, addr: Ipv4Addr, f: impl FnOnce(&mut Lease)) -> Option<Lease> {
        let mut lease = self.table.get(addr)?.lease.clone();
        f(&mut lease);
        if lease.addr != addr {
            return None;
        }
        self.table.replace(lease.clone());
        Some(lease)
    }

    /// Whether relationship `peer` can serve a client of network `net`
    /// itself: some pool of the network holds a lease in the state the peer
    /// allocates from (ISC `peer_has_leases`). True when that does not apply.
    pub(super) fn peer_has_leases(&self, peer: Option<&str>, net: usize) -> bool {
        let Some(state) = self.hooks.peer_free_state(peer) else {
            return true;
        };
        self.topo.network_pools.get(net).is_some_and(|pools| {
            pools
                .iter()
                .any(|&ap| self.pool_peer(ap) == peer && self.table.queue_len(ap, state) > 0)
        })
    }

    /// Looks again, at the next [`Engine::tick`], at leases whose expiry
    /// waited on failover: call after the relationship's state changed.
    pub fn recheck_expiry(&mut self) {
        self.table.wake_parked();
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
