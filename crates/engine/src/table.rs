//! The in-memory lease table: the single source of truth for bindings.
//!
//! Every address of every range is a [`Lease`] (FREE with `ends` 0 until
//! first used), kept by address, with indexes by client identifier and by
//! hardware address, allocation queues per pool (ISC's `free`, `backup` and
//! `abandoned` lists, sorted by `ends`), an expiry queue, and offer holds.
//!
//! Offer holds are memory only (ISC writes nothing for a DHCPOFFER): a held
//! lease leaves its allocation queue until the hold ends, so another client
//! is not offered the same address meanwhile.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;

use tandem_lease::{BindingState, Lease, Time, INFINITE};

use crate::topology::Topology;

/// A lease and where it lives.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub lease: Lease,
    /// Index into `Topology::alloc_pools`.
    pub pool: usize,
    /// Index into `Config::subnets`.
    pub subnet: usize,
}

/// Who an offer is held for: the client identifier when the client sent
/// one, else its hardware type and address (ISC identifies clients the same
/// way, uid first).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ClientKey {
    Uid(Vec<u8>),
    Hw(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Hold {
    client: ClientKey,
    until_ms: u64,
}

/// ISC sorts its pool queues by `ends` (`sort_time`); among equal times the
/// chain built by `new_address_range` puts the highest address first, which
/// is why ISC hands out a fresh range from the top. `Reverse` does the same.
type QueueKey = (Time, Reverse<u32>);

#[derive(Debug, Clone, Default)]
struct PoolQueues {
    free: BTreeSet<QueueKey>,
    backup: BTreeSet<QueueKey>,
    abandoned: BTreeSet<QueueKey>,
}

#[derive(Debug, Default)]
pub(crate) struct LeaseTable {
    entries: BTreeMap<u32, Entry>,
    by_uid: HashMap<Vec<u8>, BTreeSet<u32>>,
    by_hw: HashMap<Vec<u8>, BTreeSet<u32>>,
    queues: Vec<PoolQueues>,
    /// `(ends, addr)` of leases with a timed state change.
    expiry: BTreeSet<(Time, u32)>,
    /// Leases whose `ends` has passed but whose next state waits on failover
    /// (the peer's BNDACK, or `tsfp` in partner-down): `Some(t)` to look again
    /// at `t`, `None` until [`LeaseTable::wake_parked`]. Disjoint from `expiry`.
    parked: HashMap<u32, Option<Time>>,
    parked_until: BTreeSet<(Time, u32)>,
    holds: HashMap<u32, Hold>,
    holds_by_client: HashMap<ClientKey, u32>,
}

/// The key of the hardware index: htype followed by the address, as ISC's
/// `hardware_addr.hbuf`.
pub(crate) fn hw_key(htype: u8, addr: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(addr.len() + 1);
    key.push(htype);
    key.extend_from_slice(addr);
    key
}

impl LeaseTable {
    /// A table with every address of every range FREE. Returns the table and
    /// the addresses declared in more than one range (the first keeps them;
    /// ISC warns "lease X is declared twice!").
    pub fn new(topo: &Topology) -> (LeaseTable, Vec<Ipv4Addr>) {
        let mut queues = vec![PoolQueues::default(); topo.alloc_pools.len()];
        let mut entries: Vec<(u32, Entry)> = Vec::new();
        let mut twice = Vec::new();
        // Built in bulk: a /16 is 65k leases, and sorted input lets the
        // B-trees be built in one pass.
        let mut seen: BTreeSet<(u32, u32)> = BTreeSet::new();
        for (pi, pool) in topo.alloc_pools.iter().enumerate() {
            for &(lo, hi, subnet) in &pool.ranges {
                // Ranges are few; an overlap check per range is cheap.
                let overlap: Vec<(u32, u32)> = seen
                    .iter()
                    .copied()
                    .filter(|&(a, b)| a <= hi && lo <= b)
                    .collect();
                seen.insert((lo, hi));
                let mut free = Vec::new();
                for a in lo..=hi {
                    if overlap.iter().any(|&(x, y)| (x..=y).contains(&a)) {
                        twice.push(Ipv4Addr::from(a));
                        continue;
                    }
                    entries.push((
                        a,
                        Entry {
                            lease: Lease::new(Ipv4Addr::from(a), BindingState::Free),
                            pool: pi,
                            subnet,
                        },
                    ));
                    free.push((0, Reverse(a)));
                }
                if let Some(q) = queues.get_mut(pi) {
                    q.free.extend(free);
                }
            }
        }
        entries.sort_unstable_by_key(|(a, _)| *a);
        let table = LeaseTable {
            entries: entries.into_iter().collect(),
            queues,
            ..LeaseTable::default()
        };
        (table, twice)
    }

    pub fn get(&self, addr: Ipv4Addr) -> Option<&Entry> {
        self.entries.get(&u32::from(addr))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// Replace the lease at its address (which must be in the table),
    /// keeping every index in step. Returns false if the address is not ours.
    pub fn replace(&mut self, lease: Lease) -> bool {
        let a = u32::from(lease.addr);
        if !self.entries.contains_key(&a) {
            return false;
        }
        self.unindex(a);
        if let Some(e) = self.entries.get_mut(&a) {
            e.lease = lease;
        }
        self.index(a);
        true
    }

    /// Leases recorded for a client identifier.
    pub fn by_uid(&self, uid: &[u8]) -> Vec<Ipv4Addr> {
        self.by_uid
            .get(uid)
            .map(|s| s.iter().map(|a| Ipv4Addr::from(*a)).collect())
            .unwrap_or_default()
    }

    /// Leases recorded for a hardware address (key from [`hw_key`]).
    pub fn by_hw(&self, key: &[u8]) -> Vec<Ipv4Addr> {
        self.by_hw
            .get(key)
            .map(|s| s.iter().map(|a| Ipv4Addr::from(*a)).collect())
            .unwrap_or_default()
    }

    /// The head of pool `pool`'s queue for `state` (FREE or BACKUP) that is
    /// usable at `now`: ISC takes the first lease of the queue, and only if
    /// its `ends` has passed.
    pub fn first_in_queue(&self, pool: usize, state: BindingState, now: Time) -> Option<Ipv4Addr> {
        let q = self.queues.get(pool)?;
        let set = match state {
            BindingState::Free => &q.free,
            BindingState::Backup => &q.backup,
            BindingState::Abandoned => &q.abandoned,
            _ => return None,
        };
        let &(ends, Reverse(a)) = set.first()?;
        // Abandoned leases are reclaimable whatever their `ends` (ISC
        // `allocate_lease`: the `ends > cur_time` test skips them).
        if state != BindingState::Abandoned && ends > now {
            return None;
        }
        Some(Ipv4Addr::from(a))
    }

    /// Leases due for a timed state change at `now`, removed from the expiry
    /// queue (the caller replaces each lease, which re-queues it if needed,
    /// or [`park`](Self::park)s it). Parked leases whose time has come are
    /// due again.
    pub fn take_due(&mut self, now: Time) -> Vec<Ipv4Addr> {
        let mut due = Vec::new();
        while let Some(&(t, a)) = self.expiry.first() {
            if t > now {
                break;
            }
            self.expiry.pop_first();
            due.push(Ipv4Addr::from(a));
        }
        while let Some(&(t, a)) = self.parked_until.first() {
            if t > now {
                break;
            }
            self.parked_until.pop_first();
            self.parked.remove(&a);
            due.push(Ipv4Addr::from(a));
        }
        due
    }

    /// Keeps a lease just taken by [`take_due`](Self::take_due) aside until
    /// `until` (or until [`wake_parked`](Self::wake_parked) when `None`).
    pub fn park(&mut self, addr: Ipv4Addr, until: Option<Time>) {
        let a = u32::from(addr);
        let Some(e) = self.entries.get(&a) else {
            return;
        };
        if !has_timed_change(&e.lease) {
            return;
        }
        self.expiry.remove(&(e.lease.ends, a));
        if let Some(Some(t)) = self.parked.insert(a, until) {
            self.parked_until.remove(&(t, a));
        }
        if let Some(t) = until {
            self.parked_until.insert((t, a));
        }
    }

    /// Returns every parked lease to the expiry queue (the failover state
    /// changed: its next state may no longer wait). Returns how many.
    pub fn wake_parked(&mut self) -> usize {
        let parked: Vec<u32> = self.parked.keys().copied().collect();
        self.parked.clear();
        self.parked_until.clear();
        for a in &parked {
            if let Some(e) = self.entries.get(a) {
                self.expiry.insert((e.lease.ends, *a));
            }
        }
        parked.len()
    }

    /// How many leases pool `pool`'s queue for `state` holds.
    pub fn queue_len(&self, pool: usize, state: BindingState) -> usize {
        let Some(q) = self.queues.get(pool) else {
            return 0;
        };
        match state {
            BindingState::Free => q.free.len(),
            BindingState::Backup => q.backup.len(),
            BindingState::Abandoned => q.abandoned.len(),
            _ => 0,
        }
    }

    /// Addresses of pool `pool`'s queue for `state` (FREE, BACKUP or
    /// ABANDONED) in allocation order, oldest `ends` first. Held offers are
    /// not in any queue.
    pub fn queue(&self, pool: usize, state: BindingState) -> Vec<Ipv4Addr> {
        let Some(q) = self.queues.get(pool) else {
            return Vec::new();
        };
        let set = match state {
            BindingState::Free => &q.free,
            BindingState::Backup => &q.backup,
            BindingState::Abandoned => &q.abandoned,
            _ => return Vec::new(),
        };
        set.iter()
            .map(|&(_, Reverse(a))| Ipv4Addr::from(a))
            .collect()
    }

    // ---- offer holds -------------------------------------------------

    /// Hold `addr` for `client` until `until_ms` (monotonic). A client holds
    /// at most one offer; a new hold replaces its previous one.
    pub fn hold(&mut self, addr: Ipv4Addr, client: ClientKey, until_ms: u64) {
        self.release_hold_of(&client);
        self.release_hold_at(addr);
        let a = u32::from(addr);
        if !self.entries.contains_key(&a) {
            return;
        }
        self.unindex(a);
        self.holds.insert(
            a,
            Hold {
                client: client.clone(),
                until_ms,
            },
        );
        self.holds_by_client.insert(client, a);
        self.index(a);
    }

    /// The address held for `client`, if any.
    pub fn held_for(&self, client: &ClientKey) -> Option<Ipv4Addr> {
        self.holds_by_client.get(client).map(|a| Ipv4Addr::from(*a))
    }

    /// Whether `addr` is held for a client other than `client`.
    pub fn held_by_other(&self, addr: Ipv4Addr, client: &ClientKey) -> bool {
        self.holds
            .get(&u32::from(addr))
            .is_some_and(|h| &h.client != client)
    }

    pub fn release_hold_of(&mut self, client: &ClientKey) {
        if let Some(a) = self.holds_by_client.get(client).copied() {
            self.release_hold_at(Ipv4Addr::from(a));
        }
    }

    pub fn release_hold_at(&mut self, addr: Ipv4Addr) {
        let a = u32::from(addr);
        if !self.holds.contains_key(&a) {
            return;
        }
        self.unindex(a);
        if let Some(h) = self.holds.remove(&a) {
            self.holds_by_client.remove(&h.client);
        }
        self.index(a);
    }

    /// Ends the holds whose time has come; returns how many.
    pub fn expire_holds(&mut self, now_ms: u64) -> usize {
        let due: Vec<u32> = self
            .holds
            .iter()
            .filter(|(_, h)| h.until_ms <= now_ms)
            .map(|(a, _)| *a)
            .collect();
        for a in &due {
            self.release_hold_at(Ipv4Addr::from(*a));
        }
        due.len()
    }

    pub fn hold_count(&self) -> usize {
        self.holds.len()
    }

    // ---- indexes -----------------------------------------------------

    fn index(&mut self, a: u32) {
        let held = self.holds.contains_key(&a);
        let Some(e) = self.entries.get(&a) else {
            return;
        };
        let l = &e.lease;
        if let Some(uid) = &l.uid {
            self.by_uid.entry(uid.clone()).or_default().insert(a);
        }
        if let Some(hw) = &l.hardware {
            self.by_hw
                .entry(hw_key(hw.htype, &hw.addr))
                .or_default()
                .insert(a);
        }
        if !held {
            if let Some(q) = self.queues.get_mut(e.pool) {
                let key = (l.ends, Reverse(a));
                match l.binding_state {
                    BindingState::Free => {
                        q.free.insert(key);
                    }
                    BindingState::Backup => {
                        q.backup.insert(key);
                    }
                    BindingState::Abandoned => {
                        q.abandoned.insert(key);
                    }
                    _ => {}
                }
            }
        }
        if has_timed_change(l) {
            self.expiry.insert((l.ends, a));
        }
    }

    fn unindex(&mut self, a: u32) {
        let Some(e) = self.entries.get(&a) else {
            return;
        };
        let l = &e.lease;
        if let Some(uid) = &l.uid {
            if let Some(set) = self.by_uid.get_mut(uid) {
                set.remove(&a);
                if set.is_empty() {
                    self.by_uid.remove(uid);
                }
            }
        }
        if let Some(hw) = &l.hardware {
            let key = hw_key(hw.htype, &hw.addr);
            if let Some(set) = self.by_hw.get_mut(&key) {
                set.remove(&a);
                if set.is_empty() {
                    self.by_hw.remove(&key);
                }
            }
        }
        if let Some(q) = self.queues.get_mut(e.pool) {
            let key = (l.ends, Reverse(a));
            q.free.remove(&key);
            q.backup.remove(&key);
            q.abandoned.remove(&key);
        }
        self.expiry.remove(&(l.ends, a));
        if let Some(Some(t)) = self.parked.remove(&a) {
            self.parked_until.remove(&(t, a));
        }
    }

    /// Consistency check: every index agrees with the leases.
    pub fn check_invariants(&self) -> Result<(), String> {
        for (a, e) in &self.entries {
            let l = &e.lease;
            if u32::from(l.addr) != *a {
                return Err(format!("lease {} filed at {}", l.addr, Ipv4Addr::from(*a)));
            }
            let held = self.holds.contains_key(a);
            let q = self.queues.get(e.pool).ok_or("no queue")?;
            let key = (l.ends, Reverse(*a));
            let in_free = q.free.contains(&key);
            let want_free = !held && l.binding_state == BindingState::Free;
            if in_free != want_free {
                return Err(format!(
                    "{}: free queue {in_free}, expected {want_free}",
                    l.addr
                ));
            }
            let queued = self.expiry.contains(&(l.ends, *a));
            let parked = self.parked.contains_key(a);
            if has_timed_change(l) != (queued || parked) || (queued && parked) {
                return Err(format!("{}: expiry queue disagrees", l.addr));
            }
            if let Some(uid) = &l.uid {
                if !self.by_uid.get(uid).is_some_and(|s| s.contains(a)) {
                    return Err(format!("{}: missing from uid index", l.addr));
                }
            }
        }
        let free_total: usize = self.queues.iter().map(|q| q.free.len()).sum();
        let free_leases = self
            .entries
            .iter()
            .filter(|(a, e)| {
                e.lease.binding_state == BindingState::Free && !self.holds.contains_key(a)
            })
            .count();
        if free_total != free_leases {
            return Err(format!(
                "free queues {free_total} != free leases {free_leases}"
            ));
        }
        let expiry_total = self
            .entries
            .values()
            .filter(|e| has_timed_change(&e.lease))
            .count();
        if expiry_total != self.expiry.len() + self.parked.len() {
            return Err("stale entries in expiry queue".into());
        }
        let timed_parked = self.parked.values().filter(|t| t.is_some()).count();
        if timed_parked != self.parked_until.len() {
            return Err("parked lease times disagree".into());
        }
        if self.holds.len() != self.holds_by_client.len() {
            return Err("hold maps disagree".into());
        }
        Ok(())
    }
}

/// Leases that change state by themselves when `ends` passes (ISC's active,
/// expired and abandoned queues; FREE and BACKUP wait to be allocated).
/// Infinite leases never do.
fn has_timed_change(l: &Lease) -> bool {
    !matches!(l.binding_state, BindingState::Free | BindingState::Backup) && l.ends < INFINITE
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tandem_config::{Config, Pool, Range, Scope, ScopeKind, SharedNetwork, Span, Subnet};

    use super::*;

    fn topo(ranges: &[(u32, u32)]) -> Topology {
        let mut cfg = Config::default();
        for (kind, parent) in [
            (ScopeKind::Global, None),
            (ScopeKind::SharedNetwork(0), Some(0)),
            (ScopeKind::Subnet(0), Some(1)),
            (ScopeKind::Pool(0), Some(2)),
        ] {
            cfg.scopes.push(Scope {
                parent,
                kind,
                statements: vec![],
                span: Span::default(),
                authoritative: false,
            });
        }
        cfg.shared_networks.push(SharedNetwork {
            name: "net".into(),
            explicit: false,
            scope: 1,
            subnets: vec![0],
            pools: vec![0],
            interface: None,
            span: Span::default(),
        });
        cfg.subnets.push(Subnet {
            network: Ipv4Addr::new(10, 0, 0, 0),
            netmask: Ipv4Addr::new(255, 255, 255, 0),
            prefix_len: 24,
            scope: 2,
            shared_network: 0,
            interface: None,
            span: Span::default(),
        });
        cfg.pools.push(Pool {
            scope: 3,
            shared_network: 0,
            subnet: Some(0),
            ranges: ranges
                .iter()
                .map(|&(a, b)| Range {
                    start: Ipv4Addr::new(10, 0, 0, a as u8),
                    end: Ipv4Addr::new(10, 0, 0, b as u8),
                    dynamic_bootp: false,
                })
                .collect(),
            implicit: true,
            permits: vec![],
            failover_peer: None,
            span: Span::default(),
        });
        Topology::new(Arc::new(cfg)).expect("topology")
    }

    fn ip(n: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, n)
    }

    #[test]
    fn overlapping_ranges_keep_first_and_report() {
        let (t, twice) = LeaseTable::new(&topo(&[(10, 20), (15, 25), (30, 29)]));
        assert_eq!(twice, (15..=20).map(ip).collect::<Vec<_>>());
        assert_eq!(t.iter().count(), 11 + 5 + 2);
        assert_eq!(t.check_invariants(), Ok(()));
    }

    #[test]
    fn queue_order_top_of_range_then_lru_and_holds() {
        let (mut t, _) = LeaseTable::new(&topo(&[(10, 12)]));
        assert_eq!(t.first_in_queue(0, BindingState::Free, 100), Some(ip(12)));
        let mut used = Lease::new(ip(12), BindingState::Free);
        used.ends = 50;
        assert!(t.replace(used));
        assert_eq!(t.first_in_queue(0, BindingState::Free, 100), Some(ip(11)));
        let key = ClientKey::Hw(vec![1, 2]);
        t.hold(ip(11), key.clone(), 1_000);
        t.hold(ip(10), ClientKey::Hw(vec![3]), 2_000);
        assert_eq!(t.first_in_queue(0, BindingState::Free, 100), Some(ip(12)));
        assert_eq!(
            t.first_in_queue(0, BindingState::Free, 10),
            None,
            "ends in the future"
        );
        assert!(t.held_by_other(ip(11), &ClientKey::Hw(vec![3])));
        assert!(!t.held_by_other(ip(11), &key));
        // A new hold for the same client replaces its old one.
        t.hold(ip(12), key.clone(), 1_500);
        assert_eq!(t.held_for(&key), Some(ip(12)));
        assert_eq!(t.hold_count(), 2);
        assert_eq!(t.check_invariants(), Ok(()));
        assert_eq!(t.expire_holds(1_999), 1);
        assert_eq!(t.expire_holds(2_000), 1);
        assert_eq!(t.first_in_queue(0, BindingState::Free, 100), Some(ip(11)));
        assert_eq!(t.check_invariants(), Ok(()));
    }

    #[test]
    fn parked_leases_wait_then_return() {
        let (mut t, _) = LeaseTable::new(&topo(&[(10, 12)]));
        for (a, ends) in [(10, 100), (11, 100)] {
            let mut l = Lease::new(ip(a), BindingState::Expired);
            l.ends = ends;
            t.replace(l);
        }
        let due = t.take_due(150);
        assert_eq!(due.len(), 2);
        // .10 waits for an event, .11 until 300.
        t.park(ip(10), None);
        t.park(ip(11), Some(300));
        assert_eq!(t.check_invariants(), Ok(()));
        assert!(t.take_due(299).is_empty());
        assert_eq!(t.take_due(300), vec![ip(11)]);
        t.park(ip(11), None);
        assert_eq!(t.check_invariants(), Ok(()));
        // A replacement un-parks (the new lease is indexed by its own ends).
        let mut l = Lease::new(ip(11), BindingState::Free);
        l.ends = 100;
        t.replace(l);
        assert_eq!(t.check_invariants(), Ok(()));
        assert_eq!(t.wake_parked(), 1);
        assert_eq!(t.check_invariants(), Ok(()));
        assert_eq!(t.take_due(301), vec![ip(10)]);
        t.park(ip(10), None);
        // Parking a lease with no timed change is a no-op.
        t.park(ip(12), Some(5));
        assert_eq!(t.check_invariants(), Ok(()));
        assert_eq!(t.queue_len(0, BindingState::Free), 2);
        assert_eq!(t.queue(0, BindingState::Free), vec![ip(12), ip(11)]);
    }

    #[test]
    fn indexes_follow_replacements_and_expiry() {
        let (mut t, _) = LeaseTable::new(&topo(&[(10, 12)]));
        let mut l = Lease::new(ip(10), BindingState::Active);
        l.uid = Some(vec![9]);
        l.hardware = Some(tandem_lease::Hardware {
            htype: 1,
            addr: vec![2, 2],
        });
        l.ends = 500;
        t.replace(l.clone());
        assert_eq!(t.by_uid(&[9]), vec![ip(10)]);
        assert_eq!(t.by_hw(&hw_key(1, &[2, 2])), vec![ip(10)]);
        assert!(t.take_due(499).is_empty());
        assert_eq!(t.take_due(500), vec![ip(10)]);
        l.binding_state = BindingState::Free;
        l.uid = None;
        t.replace(l);
        assert!(t.by_uid(&[9]).is_empty());
        assert_eq!(t.check_invariants(), Ok(()));
        assert!(!t.replace(Lease::new(ip(99), BindingState::Free)));
    }
}
