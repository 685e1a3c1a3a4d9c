//! The seam where ISC failover (draft-ietf-dhc-failover-12 as ISC 4.4 runs
//! it; see `isc-failover.md`) plugs into the DHCP engine. Failover itself
//! lives in `tandem-failover`; the engine only asks these questions, at these
//! points, for pools whose `failover peer` is set:
//!
//! | Question | Asked when | ISC |
//! |---|---|---|
//! | [`FailoverHooks::may_answer`] | before answering DISCOVER, REQUEST, RELEASE, DECLINE, BOOTP | service state (`fo.c:1655`), load balancing for DISCOVER/BOOTP (`load_balance_mine`) |
//! | [`FailoverHooks::peer_free_state`] | a DISCOVER the hash gives to the peer | answered anyway if the peer has no free lease in the network (`dhcp.c:422-433`) |
//! | [`FailoverHooks::allocatable`] | choosing a new lease | primary owns FREE, secondary BACKUP (`allocate_lease`) |
//! | [`FailoverHooks::may_allocate`] | reusing or requesting a specific free lease | `lease_mine_to_reallocate` |
//! | [`FailoverHooks::may_reuse_unchanged`] | an ACK the `dhcp-cache-threshold` would answer with the unchanged lease | Tandem only: ISC reuses whatever the failover state |
//! | [`FailoverHooks::lease_time`] | OFFER and ACK | the MCLT rule (`ack_lease`, isc-failover.md §3.4) |
//! | [`FailoverHooks::prepare_commit`] | building the ACKed lease | `tstp`/`tsfp` bookkeeping (§3.3) |
//! | [`FailoverHooks::expiry_state`], [`FailoverHooks::release_state`] | expiry timer, DHCPRELEASE | ACTIVE → EXPIRED/RELEASED with a peer, FREE without; EXPIRED waits for the peer's ack |
//! | [`FailoverHooks::prepare_change`] | building any propagated change (ACK, expiry, release, decline) | `rewind binding state`, `tstp = ends` on expiry/release (§3.3) |
//! | [`FailoverHooks::expiry_not_before`] | a lease's `ends` passed and its next state is known | partner-down: EXPIRED/RELEASED/RESET wait for `tsfp` (`mdb.c:1945-1970`) |
//! | [`FailoverHooks::after_commit`] | after every persisted lease change | queue a BNDUPD: effects returned here run after the fsync, in `Persist::then` |
//!
//! A lease whose `ends` passed while [`FailoverHooks::expiry_state`] says it
//! waits (or [`FailoverHooks::expiry_not_before`] says not yet) is parked;
//! [`crate::Engine::recheck_expiry`] looks at the waiting ones again after a
//! failover state change. The entry points for the peer's side
//! ([`crate::Engine::apply_peer_binding`], [`crate::Engine::update_lease`],
//! [`crate::Engine::failover_leases`], ...) are in `peering.rs`.
//!
//! [`NoFailover`] answers as ISC does for a pool without a peer. A failover
//! implementation replaces it with [`crate::Engine::with_failover`] or
//! [`crate::Engine::set_failover`]. The engine's [`crate::Effect`] has no
//! peer-send effect: `tandem-node` (the engine plus its failover peers) learns
//! of each propagated change through [`FailoverHooks::after_commit`] and
//! places the BNDUPD after the commit itself.

use std::fmt;

use tandem_lease::{BindingState, Lease, Time};
use tandem_wire::{MessageType, Packet};

use crate::{Effect, Now};

/// Questions the engine asks about pools that name a failover peer. Every
/// method gets `peer`, the pool's `failover peer` name (`None` for a pool
/// without one), so one implementation can serve several peers.
pub trait FailoverHooks: fmt::Debug + Send {
    /// May this server answer `packet` for a pool of `peer`? False when the
    /// peer relationship is in a not-responding state, or when load balancing
    /// gives the client to the peer (DISCOVER and BOOTP only; `msg` is `None`
    /// for BOOTP).
    fn may_answer(&self, peer: Option<&str>, packet: &Packet, msg: Option<MessageType>) -> bool;

    /// The binding states this server allocates new leases from, most
    /// preferred first. Without failover: FREE. With failover: FREE on the
    /// primary, BACKUP on the secondary (plus the peer's after MCLT in
    /// partner-down, checked by `may_allocate`).
    fn allocatable(&self, peer: Option<&str>) -> &'static [BindingState];

    /// May this server give `lease` (not bound to the asking client) to a
    /// client now? ISC `lease_mine_to_reallocate`.
    fn may_allocate(&self, peer: Option<&str>, lease: &Lease, now: Now) -> bool;

    /// May a renewal of `lease` within `dhcp-cache-threshold` be answered
    /// with the lease unchanged (ISC `reuse_lease`: no write, no BNDUPD)?
    /// `false` makes the engine commit the renewal as any other ACK (persist,
    /// then the peer hears of it through [`FailoverHooks::after_commit`]).
    ///
    /// Stricter than ISC, which reuses whatever the failover state: an
    /// answer that leaves no trace is safe only when the peer already holds
    /// this very binding. Outside normal, or while our last change of the
    /// lease is unacknowledged, the peer may hold (or still send) an older
    /// state — say a RELEASED queued during a partition — that would free
    /// an address the client was just told it holds. The default (no
    /// failover): `true`.
    fn may_reuse_unchanged(&self, _peer: Option<&str>, _lease: &Lease, _now: Now) -> bool {
        true
    }

    /// The lease time to grant when the configuration says `desired`
    /// (seconds; `u32::MAX` is infinite). With failover: the MCLT rule.
    fn lease_time(&self, peer: Option<&str>, lease: &Lease, desired: u32, now: Now) -> u32;

    /// Adjust the lease about to be committed by a DHCPACK (failover sets
    /// `tstp` = now + desired + granted/2 and carries `tsfp`/`atsfp`).
    fn prepare_commit(
        &self,
        peer: Option<&str>,
        old: &Lease,
        new: &mut Lease,
        desired: u32,
        now: Now,
    );

    /// The state a lease in state `from` moves to when its `ends` passes, or
    /// `None` when it waits (with a peer, EXPIRED/RELEASED/RESET wait for the
    /// peer's BNDACK outside partner-down).
    fn expiry_state(&self, peer: Option<&str>, from: BindingState) -> Option<BindingState>;

    /// The state a lease moves to on DHCPRELEASE.
    fn release_state(&self, peer: Option<&str>) -> BindingState;

    /// Adjust a lease about to be committed by a change the peer must hear
    /// about (DHCPACK after [`FailoverHooks::prepare_commit`], expiry,
    /// DHCPRELEASE, DHCPDECLINE). Without failover: nothing.
    fn prepare_change(&self, _peer: Option<&str>, _new: &mut Lease, _now: Now) {}

    /// A lease whose `ends` has passed moves to its next state only at or
    /// after the returned time (`None`: now).
    fn expiry_not_before(&self, _peer: Option<&str>, _lease: &Lease, _now: Now) -> Option<Time> {
        None
    }

    /// While load balancing is in effect for `peer`: the binding state the
    /// peer allocates from (BACKUP for a primary's peer, FREE for a
    /// secondary's). A client the hash gives to the peer is answered anyway
    /// when no pool of its network holds such a lease (`peer_has_leases`).
    /// `None` (the default): no such exception.
    fn peer_free_state(&self, _peer: Option<&str>) -> Option<BindingState> {
        None
    }

    /// Effects to carry out once `lease` is on stable storage (the failover
    /// implementation returns its "send BNDUPD" effect here). They are placed
    /// in `Effect::Persist::then`, after the client's reply.
    fn after_commit(&mut self, peer: Option<&str>, lease: &Lease) -> Vec<Effect>;
}

/// ISC's behaviour for pools without a failover peer.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFailover;

impl FailoverHooks for NoFailover {
    fn may_answer(&self, _: Option<&str>, _: &Packet, _: Option<MessageType>) -> bool {
        true
    }

    fn allocatable(&self, _: Option<&str>) -> &'static [BindingState] {
        &[BindingState::Free]
    }

    /// `lease_mine_to_reallocate` without a peer: FREE or BACKUP.
    fn may_allocate(&self, _: Option<&str>, lease: &Lease, _: Now) -> bool {
        matches!(
            lease.binding_state,
            BindingState::Free | BindingState::Backup
        )
    }

    fn lease_time(&self, _: Option<&str>, _: &Lease, desired: u32, _: Now) -> u32 {
        desired
    }

    fn prepare_commit(&self, _: Option<&str>, _: &Lease, _: &mut Lease, _: u32, _: Now) {}

    /// `mdb.c` `supersede_lease`: without a peer, ACTIVE, EXPIRED, RELEASED,
    /// ABANDONED and RESET all have `next_binding_state = FTS_FREE`.
    fn expiry_state(&self, _: Option<&str>, from: BindingState) -> Option<BindingState> {
        match from {
            BindingState::Free | BindingState::Backup => None,
            _ => Some(BindingState::Free),
        }
    }

    /// `release_lease`: FREE without a peer (RELEASED with one).
    fn release_state(&self, _: Option<&str>) -> BindingState {
        BindingState::Free
    }

    fn after_commit(&mut self, _: Option<&str>, _: &Lease) -> Vec<Effect> {
        Vec::new()
    }
}
