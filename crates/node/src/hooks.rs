//! The engine's failover questions answered by the relationships' `Peer`s.
//!
//! The engine owns its hooks (`Box<dyn FailoverHooks>`) and the node owns the
//! engine, yet both need the peers: the engine asks them during a packet, the
//! node drives them between packets. They share one [`Shared`] behind a
//! mutex that is never contended (one node runs on one task; the engine asks
//! only while the node is inside an engine call, and the node drives the
//! peers only outside one).

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tandem_engine::{Effect, FailoverHooks, NoFailover, Now};
use tandem_failover::binding::{ack_times, partner_down_reuse_after};
use tandem_failover::hash::{client_key, effective_secs};
use tandem_failover::{Peer, Role, ServiceMode};
use tandem_lease::{BindingState, FailoverState, Lease, Time};
use tandem_wire::{MessageType, Packet};

use BindingState::*;

/// The peers and what the engine reported during its last call.
#[derive(Default)]
pub(crate) struct Shared {
    /// One per `failover peer` block, in configuration order.
    pub peers: Vec<Peer>,
    pub by_name: HashMap<String, usize>,
    /// Propagated commits (`after_commit`) since the node last looked:
    /// relationship index and address.
    pub changed: Vec<(usize, Ipv4Addr)>,
    /// `secs` of clients in failover pools (safe partner-down evidence).
    pub retries: Vec<(usize, u16)>,
}

impl Shared {
    fn peer(&self, name: Option<&str>) -> Option<(usize, &Peer)> {
        let i = *self.by_name.get(name?)?;
        Some((i, self.peers.get(i)?))
    }
}

/// Locks the shared state; a poisoned lock (a panic elsewhere) still holds
/// consistent data for our purposes, so it is used as is.
pub(crate) fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The state that decides what expiry does: the saved state while starting up.
fn effective_state(p: &Peer) -> FailoverState {
    match p.state() {
        FailoverState::Startup => p.saved_state(),
        s => s,
    }
}

/// [`FailoverHooks`] over the node's peers. A pool whose `failover peer`
/// names no configured relationship is served as without failover.
pub(crate) struct NodeHooks(pub Arc<Mutex<Shared>>);

impl fmt::Debug for NodeHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = lock(&self.0);
        f.debug_struct("NodeHooks")
            .field("peers", &s.by_name)
            .finish()
    }
}

impl FailoverHooks for NodeHooks {
    fn may_answer(&self, peer: Option<&str>, packet: &Packet, msg: Option<MessageType>) -> bool {
        let mut s = lock(&self.0);
        let Some((i, p)) = s.peer(peer) else {
            return true;
        };
        let mode = p.service_mode();
        // `check-secs-byte-order` is not read: secs as sent (ISC's default).
        let secs = effective_secs(packet.secs, false);
        let answer = match msg {
            // Load balancing applies to DISCOVER and BOOTREQUEST only (§4).
            None | Some(MessageType::Discover) => {
                p.answers_discover(secs, client_key(packet.client_id(), packet.hw_addr()))
            }
            // REQUESTs are never load-balanced; in recover-wait (RenewOnly)
            // they may renew a binding we hold: the lease lookup allocates
            // nothing new then (`may_allocate` is false).
            Some(MessageType::Request) => mode != ServiceMode::NotResponding,
            Some(MessageType::Release | MessageType::Decline) => matches!(
                mode,
                ServiceMode::Cooperating | ServiceMode::NotCooperating | ServiceMode::PartnerDown
            ),
            Some(_) => true,
        };
        if secs > 0
            && matches!(
                msg,
                None | Some(MessageType::Discover | MessageType::Request)
            )
        {
            s.retries.push((i, secs));
        }
        answer
    }

    /// The primary allocates FREE, the secondary BACKUP (§3.2); in
    /// partner-down also the peer's, subject to `may_allocate` (MCLT).
    fn allocatable(&self, peer: Option<&str>) -> &'static [BindingState] {
        let s = lock(&self.0);
        let Some((_, p)) = s.peer(peer) else {
            return NoFailover.allocatable(peer);
        };
        let partner_down = p.service_mode() == ServiceMode::PartnerDown;
        match (p.role(), partner_down) {
            (Role::Primary, false) => &[Free],
            (Role::Primary, true) => &[Free, Backup],
            (Role::Secondary, false) => &[Backup],
            (Role::Secondary, true) => &[Backup, Free],
        }
    }

    fn may_allocate(&self, peer: Option<&str>, lease: &Lease, now: Now) -> bool {
        let s = lock(&self.0);
        match s.peer(peer) {
            Some((_, p)) => p.may_allocate(lease, now.wall),
            None => NoFailover.may_allocate(peer, lease, now),
        }
    }

    /// Never in a failover pool: every renewal is committed and sent to the
    /// peer (ISC `reuse_lease` answers a renewal inside `dhcp-cache-threshold`
    /// with the lease unchanged: no write, no BNDUPD).
    ///
    /// Stricter than ISC. Without a commit the peer never learns of this
    /// transaction, so an older state of the binding it holds (a RELEASED
    /// queued during a partition, even one neither side has noticed yet) can
    /// win after the heal and free an address this answer has just confirmed
    /// to the client (simulation finding F1 and its variants). A commit gives
    /// the peer a binding with a newer CLTT, which wins.
    fn may_reuse_unchanged(&self, peer: Option<&str>, lease: &Lease, now: Now) -> bool {
        let s = lock(&self.0);
        match s.peer(peer) {
            Some(_) => false,
            None => NoFailover.may_reuse_unchanged(peer, lease, now),
        }
    }

    /// The MCLT rule (§3.4).
    fn lease_time(&self, peer: Option<&str>, lease: &Lease, desired: u32, now: Now) -> u32 {
        let s = lock(&self.0);
        match s.peer(peer) {
            Some((_, p)) => p.lease_time(desired, lease, now.wall),
            None => desired,
        }
    }

    /// DHCPACK: `tstp = now + desired + granted/2`; `tsfp` never above it
    /// (§3.3, `dhcp.c:2888-2949`).
    fn prepare_commit(
        &self,
        peer: Option<&str>,
        old: &Lease,
        new: &mut Lease,
        desired: u32,
        now: Now,
    ) {
        let s = lock(&self.0);
        if let Some((_, p)) = s.peer(peer) {
            let t = ack_times(desired, old.tsfp, now.wall, p.mclt());
            new.tstp = t.tstp;
            new.tsfp = t.tsfp;
        }
    }

    /// Every propagated change: `rewind binding state` = the new state (the
    /// failover crate's conservative form of ISC's write before sending),
    /// `atsfp` zeroed ("needs sending" is `tstp > atsfp`), `tstp = ends` on
    /// expiry and release (§3.3). In partner-down an ended lease may be
    /// reused only once `partner_down_reuse_after` has passed (ISC:
    /// `stos + MCLT`, `fo.c:1972-2015`).
    fn prepare_change(&self, peer: Option<&str>, new: &mut Lease, _now: Now) {
        let s = lock(&self.0);
        let Some((_, p)) = s.peer(peer) else {
            return;
        };
        new.rewind_binding_state = Some(new.binding_state);
        new.atsfp = 0;
        if matches!(new.binding_state, Expired | Released) {
            new.tstp = new.ends;
        }
        if matches!(new.binding_state, Expired | Released | Reset)
            && effective_state(p) == FailoverState::PartnerDown
        {
            // Draft-12 §7.1.5: MCLT beyond max(ends, potential expirations,
            // STOS), never lower (stricter than ISC's `stos + MCLT`).
            new.tsfp = new
                .tsfp
                .max(partner_down_reuse_after(new, p.stos(), p.mclt()));
        }
    }

    /// With a peer, ACTIVE and ABANDONED leases end as EXPIRED and wait for
    /// the peer's BNDACK (or partner-down) to become FREE (§3.2). In normal
    /// the secondary does not expire ACTIVE leases: it waits for the
    /// primary's EXPIRED (`mdb.c:1961-1964`).
    fn expiry_state(&self, peer: Option<&str>, from: BindingState) -> Option<BindingState> {
        let s = lock(&self.0);
        let Some((_, p)) = s.peer(peer) else {
            return NoFailover.expiry_state(peer, from);
        };
        let state = effective_state(p);
        match from {
            Active if p.role() == Role::Secondary && state == FailoverState::Normal => None,
            Active | Abandoned => Some(Expired),
            Expired | Released | Reset if state == FailoverState::PartnerDown => Some(Free),
            Expired | Released | Reset | Free | Backup => None,
        }
    }

    /// Partner-down frees ended leases once `tsfp` (raised to `stos + MCLT`)
    /// has passed (`mdb.c:1945-1970`).
    fn expiry_not_before(&self, peer: Option<&str>, lease: &Lease, _now: Now) -> Option<Time> {
        let s = lock(&self.0);
        let (_, p) = s.peer(peer)?;
        (matches!(lease.binding_state, Expired | Released | Reset)
            && effective_state(p) == FailoverState::PartnerDown)
            .then(|| lease.tsfp.saturating_add(1))
    }

    fn release_state(&self, peer: Option<&str>) -> BindingState {
        let s = lock(&self.0);
        match s.peer(peer) {
            Some(_) => Released,
            None => NoFailover.release_state(peer),
        }
    }

    /// Load balancing is in effect only when cooperating (§4).
    fn peer_free_state(&self, peer: Option<&str>) -> Option<BindingState> {
        let s = lock(&self.0);
        let (_, p) = s.peer(peer)?;
        (p.service_mode() == ServiceMode::Cooperating).then_some(match p.role() {
            Role::Primary => Backup,
            Role::Secondary => Free,
        })
    }

    /// Notes the change; the node feeds it to the peer with the BNDUPD placed
    /// after the commit (see `Node::after_engine`).
    fn after_commit(&mut self, peer: Option<&str>, lease: &Lease) -> Vec<Effect> {
        let mut s = lock(&self.0);
        if let Some((i, _)) = s.peer(peer) {
            s.changed.push((i, lease.addr));
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Time = 1_700_000_000;

    fn active(tstp: Time, atsfp: Time) -> Lease {
        let mut l = Lease::new(Ipv4Addr::new(10, 0, 0, 5), Active);
        l.starts = NOW - 60;
        l.ends = NOW + 540;
        l.tstp = tstp;
        l.atsfp = atsfp;
        l
    }

    #[test]
    fn a_pool_without_a_configured_relationship_reuses_as_isc() {
        let hooks = NodeHooks(Arc::new(Mutex::new(Shared::default())));
        let now = Now {
            wall: NOW,
            mono_ms: 0,
        };
        let pending = active(NOW + 900, 0);
        assert!(hooks.may_reuse_unchanged(None, &pending, now));
        assert!(hooks.may_reuse_unchanged(Some("nobody"), &pending, now));
    }
}
