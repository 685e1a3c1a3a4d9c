//! Binding rules: what a BNDUPD may do to our lease (§3.6), what a BNDACK does
//! (§3.7), the MCLT lease-time rule (§3.4), TSTP on ACK (§3.3), lease
//! ownership (§3.2, §2.1) and the BNDUPD we send for a lease (§1.6, §3.5).
//!
//! All functions are pure; the engine owns the leases and calls them.

use std::net::Ipv4Addr;

use tandem_lease::{BindingState, FailoverState, Hardware, Lease, Time, INFINITE};

use crate::hash::{peer_wants_lease, Hba};
use crate::message::{BindingUpdate, RejectReason, IP_FLAG_BOOTP, IP_FLAG_RESERVE};
use crate::Role;

use BindingState::*;

/// Largest client-hardware-address option ISC stores: `HARDWARE_ADDR_LEN` 20
/// plus the htype byte (`dhcpd.h:486-491`).
pub const MAX_CHADDR_LEN: usize = 21;

/// ISC's allowance for clock skew plus a fudge factor when the peer expires an
/// ACTIVE lease (`fo.c:6130-6139`, `fo.c:6287-6296`).
pub const EXPIRY_SKEW_ALLOWANCE: Time = 65;

/// ISC's `MAX_TIME`, the TSTP of an infinite lease (`dhcp.c:2926`).
pub const MAX_TIME: Time = INFINITE;

/// The lease time value meaning "infinite" in DHCP (option 51 0xffffffff).
pub const INFINITE_LEASE_TIME: u32 = u32::MAX;

/// What we need to know to judge an incoming BNDUPD.
#[derive(Debug, Clone, Copy)]
pub struct BindingContext<'a> {
    pub role: Role,
    /// Our failover state: normal uses ISC's strict table, every other state
    /// the conflict check (`fo.c:5413-5426`).
    pub my_state: FailoverState,
    pub now: Time,
    /// The state of our own BNDUPD for this lease that the peer has not acked
    /// yet (ISC: the lease is on the ack queue; its `desired_binding_state`).
    pub in_flight: Option<BindingState>,
    /// The primary's HBA, for MAC affinity (`fo.c:5436-5446`).
    pub hba: Option<&'a Hba>,
}

/// An accepted BNDUPD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Our lease with the peer's binding applied, to persist before the BNDACK.
    pub lease: Lease,
    /// The status the peer sent (EXPIRED/RELEASED/RESET are stored as FREE).
    pub incoming: BindingState,
    /// Our own unacked update for this lease lost the duel and must be
    /// forgotten (`dhcp_failover_ack_queue_remove`, `fo.c:5222-5231`).
    pub superseded_own_update: bool,
    /// ISC's MAC affinity: we are primary, the lease just became FREE and its
    /// client hashes to the secondary: the engine may move it to BACKUP if
    /// [`crate::balance::secondary_not_hoarding`] (`fo.c:5436-5492`).
    pub mac_affinity: bool,
}

/// A rejected BNDUPD: answered at once with a BNDACK carrying the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub reason: RejectReason,
    /// The text ISC puts in option 16.
    pub message: String,
    pub superseded_own_update: bool,
}

impl Rejected {
    fn new(reason: RejectReason, message: impl Into<String>, superseded: bool) -> Self {
        Rejected {
            reason,
            message: message.into(),
            superseded_own_update: superseded,
        }
    }
}

/// `failover_lease_is_better` (`fo.c:5115-5166`): true when our unacked update
/// (state `ours`, our lease's CLTT) beats the incoming one.
///
/// Tandem deviations: our unacked (or queued, see `peer.rs`) ACTIVE beats an
/// incoming EXPIRED or RELEASED whose CLTT is older than ours, and always
/// beats an incoming FREE or BACKUP, in both roles. ISC lets the secondary give in, so when the
/// primary re-sends a stale BACKUP (its potential-expiry long past) while the
/// secondary's ACTIVE from partner-down crosses it on the wire, ISC's
/// secondary frees a lease its client still holds while the primary keeps it
/// ACTIVE. (An ISC primary already keeps its ACTIVE in that duel.)
pub fn own_update_is_better(
    role: Role,
    ours: BindingState,
    our_cltt: Time,
    theirs: BindingState,
    their_cltt: Option<u32>,
) -> bool {
    let primary = role == Role::Primary;
    if ours == Active {
        match theirs {
            Active => {
                let their_cltt = Time::from(their_cltt.unwrap_or(0));
                return match their_cltt.cmp(&our_cltt) {
                    std::cmp::Ordering::Less => true,
                    std::cmp::Ordering::Greater => false,
                    std::cmp::Ordering::Equal => primary,
                };
            }
            // Tandem rule, stricter than ISC (for which the peer's
            // EXPIRED/RELEASED always wins): they win only if not older
            // than our client transaction. A RELEASED queued during a
            // partition, arriving after the client came back to us,
            // would free a lease the client holds again.
            // (ISC's primary already keeps its ACTIVE against RELEASED.)
            Expired | Released => {
                let older = Time::from(their_cltt.unwrap_or(0)) < our_cltt;
                return older || (primary && theirs == Released);
            }
            Free | Backup => return true,
            _ => {}
        }
    }
    // Any other local state (and ACTIVE falling through).
    theirs != Active && primary
}

/// `normal_binding_state_transition_check` (`fo.c:6061-6251`): whether the peer
/// may move our lease from `x` to `y` while we are in normal.
/// `tsfp` is the message's potential-expiration (0 when absent).
pub fn normal_transition_allowed(
    role: Role,
    x: BindingState,
    y: BindingState,
    tsfp: Time,
    ends: Time,
    now: Time,
) -> bool {
    if x == y {
        return true;
    }
    match x {
        // Free and abandoned: anything (the primary logs nothing either).
        Free | Abandoned => true,
        Active => match role {
            // "The secondary can't change the state of an active lease",
            // except RELEASED (release sent to the secondary) and ABANDONED (decline).
            Role::Primary => matches!(y, Released | Abandoned),
            Role::Secondary => match y {
                // "Can't set a lease to free or backup until the peer agrees
                // that it's expired."
                // Tandem rule, stricter than ISC: nor while our `ends` is
                // still ahead (beyond ISC's 65 s skew allowance), whatever
                // option 18 says. A stale FREE/BACKUP (pool balancing from
                // a table that misses our partner-down allocations) that
                // crosses our ACTIVE would otherwise free a lease its
                // client holds. We reject with reason 2, which ISC logs
                // and tolerates; our ACTIVE then reaches the peer.
                Free | Backup => tsfp <= now && !active_lease_still_held(ends, now),
                Expired => ends <= now + EXPIRY_SKEW_ALLOWANCE,
                Released | Abandoned | Reset | Active => true,
            },
        },
        Expired | Reset => match y {
            Free | Backup => tsfp <= now,
            _ => true,
        },
        Released | Backup => true,
    }
}

/// Whether an ACTIVE lease ending at `ends` may still be held by its client
/// at `now`, allowing ISC's clock-skew fudge (`fo.c:6130-6139`).
pub fn active_lease_still_held(ends: Time, now: Time) -> bool {
    ends > now.saturating_add(EXPIRY_SKEW_ALLOWANCE)
}

/// `conflict_binding_state_transition_check` (`fo.c:6254-6339`): any state
/// other than normal. Only an ACTIVE lease is protected.
pub fn conflict_transition_allowed(
    x: BindingState,
    y: BindingState,
    ends: Time,
    now: Time,
) -> bool {
    if x == y || x != Active {
        return true;
    }
    match y {
        Free | Backup => false,
        Expired => ends <= now + EXPIRY_SKEW_ALLOWANCE,
        Released | Reset | Abandoned | Active => true,
    }
}

/// §3.6, `dhcp_failover_process_bind_update` (`fo.c:5170-5500`) after the
/// lease lookup: the checks in ISC's order, and the lease as it must be stored.
///
/// The caller has found `my` by the update's address among the leases of this
/// relationship's pools (otherwise: reason 1, "unknown IP address").
///
/// Tandem deviations: a binding-status outside 1..=7 is rejected with reason 6
/// ("invalid binding status"); ISC would `log_fatal` in its transition check.
/// An update of the same ACTIVE binding that is not newer than ours (CLTT)
/// never lowers `ends`/`tsfp`; an accepted update sets `tstp` to its option
/// 18; FREE/BACKUP never replaces an ACTIVE lease that has not ended
/// ([`active_lease_still_held`], in normal; the other states refuse it
/// anyway).
pub fn check_incoming_binding(
    my: &Lease,
    incoming: &BindingUpdate,
    ctx: &BindingContext,
) -> Result<Accepted, Rejected> {
    use RejectReason as R;
    // 1. Options 2 and 3 (`fo.c:5184-5189`).
    let (Some(addr), Some(status)) = (incoming.assigned_addr, incoming.binding_status) else {
        return Err(Rejected::new(
            R::MissingBindInfo,
            "binding update lacks required options",
            false,
        ));
    };
    // 2. The address is ours (the caller's lookup; checked again here).
    if addr != my.addr {
        return Err(Rejected::new(R::IllegalIpAddr, "unknown IP address", false));
    }
    let Some(y) = BindingState::from_code(status) else {
        return Err(Rejected::new(
            R::MiscReject,
            format!("invalid binding status {status}"),
            false,
        ));
    };
    // 3. Duelling updates (`fo.c:5212-5232`).
    let mut superseded = false;
    if let Some(ours) = ctx.in_flight {
        if own_update_is_better(ctx.role, ours, my.cltt, y, incoming.cltt) {
            return Err(Rejected::new(
                R::LessCriticalBindInfo,
                "incoming update is less critical than outgoing update",
                false,
            ));
        }
        superseded = true;
    }
    let reject = |reason, msg: &str| Err(Rejected::new(reason, msg, superseded));

    let mut lt = my.clone();
    let mut client_changed = false;
    // 4. chaddr (`fo.c:5241-5268`).
    match &incoming.chaddr {
        Some(ch) => {
            if y == Abandoned {
                return reject(R::MiscReject, "BNDUPD to ABANDONED with a CHADDR");
            }
            if ch.len() > MAX_CHADDR_LEN {
                return reject(R::MiscReject, "chaddr too long");
            }
            let hw = ch.split_first().map(|(&htype, addr)| Hardware {
                htype,
                addr: addr.to_vec(),
            });
            client_changed |= hw != lt.hardware;
            lt.hardware = hw;
        }
        None => match y {
            Active | Expired | Released => {
                return reject(R::MissingBindInfo, "BNDUPD without CHADDR");
            }
            Abandoned => {
                client_changed = true;
                lt.hardware = None;
                lt.vars.clear();
            }
            _ => {}
        },
    }
    // 5. client-id: absent means the client sent none (`fo.c:5270-5318`).
    match &incoming.client_id {
        Some(id) => {
            if y == Abandoned {
                return reject(R::MiscReject, "BNDUPD to ABANDONED with client-id");
            }
            let uid = (!id.is_empty()).then(|| id.clone());
            client_changed |= uid != lt.uid;
            lt.uid = uid;
        }
        None => {
            if lt.uid.is_some() && !matches!(y, Reset | Free | Backup) {
                client_changed = true;
                lt.uid = None;
            }
        }
    }
    // A new client on an ACTIVE lease: drop the old binding scope (`fo.c:5345-5353`).
    if y == Active && client_changed {
        lt.vars.clear();
    }
    // Times, as absolute values with no skew correction (§7, `fo.c:5357-5366`).
    if let Some(stos) = incoming.stos {
        lt.starts = Time::from(stos);
    }
    if let Some(ends) = incoming.lease_expiry {
        lt.ends = Time::from(ends);
    }
    if let Some(pe) = incoming.potential_expiry {
        lt.tsfp = Time::from(pe);
        lt.atsfp = Time::from(pe);
        // Tandem: also `tstp` (ISC keeps our old one). The binding is the
        // peer's now, so we have nothing to send for it (`needs_update`
        // false); an echo queued before it was applied carries the peer's
        // own option 18, never a stale one of ours that, acked, would lower
        // our `tsfp` and cut our next renewal of the client to the MCLT.
        lt.tstp = Time::from(pe);
    }
    // Tandem rule, stricter than ISC (which copies options 15 and 18 as
    // they come): an update for the same binding (same client, ACTIVE on
    // both sides) that is not newer than ours (its CLTT absent or not
    // after our CLTT) never lowers `ends` or `tsfp`. A stale echo (option
    // 18 = an old `ends`, CLTT 0) would otherwise cut our next renewal of
    // a lease we granted ourselves to the MCLT while the client still
    // holds the longer lease.
    let incoming_cltt = incoming.cltt.map_or(0, Time::from);
    if my.binding_state == Active && y == Active && !client_changed && incoming_cltt <= my.cltt {
        lt.ends = lt.ends.max(my.ends);
        lt.tsfp = lt.tsfp.max(my.tsfp);
        lt.atsfp = lt.atsfp.max(my.atsfp);
        lt.tstp = lt.tstp.max(my.tstp);
    }
    // 6. IP-flags (`fo.c:5367-5400`). A flag on a lease still in our own free
    // pool must already be set here.
    let in_own_free_pool = match ctx.role {
        Role::Primary => my.binding_state == Free,
        Role::Secondary => my.binding_state == Backup,
    };
    match incoming.ip_flags {
        Some(flags) => {
            if flags & IP_FLAG_RESERVE != 0 {
                if in_own_free_pool && !my.reserved {
                    return reject(R::IpNotReserved, "Address is not reserved.");
                }
                lt.reserved = true;
            } else {
                lt.reserved = false;
            }
            if flags & IP_FLAG_BOOTP != 0 {
                if in_own_free_pool && !my.bootp {
                    return reject(R::MiscReject, "Address is not allocated to BOOTP.");
                }
                lt.bootp = true;
            } else {
                lt.bootp = false;
            }
        }
        // "Flags may only not appear if the values are zero."
        None => {
            lt.reserved = false;
            lt.bootp = false;
        }
    }
    // 7. The state transition (`fo.c:5413-5443`).
    let tsfp = Time::from(incoming.potential_expiry.unwrap_or(0));
    let x = my.binding_state;
    let ok = if ctx.my_state == FailoverState::Normal {
        normal_transition_allowed(ctx.role, x, y, tsfp, my.ends, ctx.now)
    } else {
        conflict_transition_allowed(x, y, my.ends, ctx.now)
    };
    // Tandem rule, stricter than ISC: the peer's EXPIRED or RELEASED never
    // ends an ACTIVE lease of ours that has not ended when it describes an
    // older binding: an EXPIRED whose `ends` (option 15) is before ours (we
    // renewed the client since; ISC's 65 s allowance is for clock skew on
    // the same `ends`), or a RELEASED whose CLTT is before ours (the client
    // came back to us after releasing to the peer). Rejected with reason
    // 2; our binding stays and reaches the peer with our next update.
    let peer_ends = incoming.lease_expiry.map_or(0, Time::from);
    let stale_end = x == Active
        && my.ends > ctx.now
        && match y {
            Expired => peer_ends < my.ends,
            Released => incoming_cltt < my.cltt,
            _ => false,
        };
    if ok && stale_end {
        return reject(
            R::FatalConflict,
            &format!("{}: {} of an older binding than ours", my.addr, y.keyword()),
        );
    }
    if !ok {
        return reject(
            R::FatalConflict,
            &format!(
                "{}: invalid state transition: {} to {}",
                my.addr,
                x.keyword(),
                y.keyword()
            ),
        );
    }
    // EXPIRED, RELEASED and RESET are stored as FREE (`fo.c:5444-5456`).
    let freed = matches!(y, Expired | Released | Reset);
    let new_state = if freed { Free } else { y };
    let mac_affinity = freed
        && ctx.role == Role::Primary
        && !lt.reserved
        && !lt.bootp
        && peer_wants_lease(ctx.hba, ctx.role, &lt);
    lt.binding_state = new_state;
    // An ACTIVE lease with a peer expires to EXPIRED (`mdb.c:1638-1644`).
    lt.next_binding_state = (new_state == Active).then_some(Expired);
    // "If we accept a peer's binding update, then we can't rewind a lease
    // behind the peer's state" (`fo.c:5461-5465`).
    lt.rewind_binding_state = Some(new_state);
    Ok(Accepted {
        lease: lt,
        incoming: y,
        superseded_own_update: superseded,
        mac_affinity,
    })
}

/// A BNDACK that acknowledged one of our updates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckedUpdate {
    pub addr: Ipv4Addr,
    /// The binding state our BNDUPD carried.
    pub sent_state: BindingState,
    /// The TSTP our BNDUPD carried (option 18).
    pub sent_tstp: Time,
}

/// What [`apply_bndack`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AckOutcome {
    /// The lease left EXPIRED/RELEASED/RESET for FREE (or BACKUP).
    pub freed: bool,
    /// Primary only: the freed lease's client hashes to the secondary; the
    /// engine may move it to BACKUP if the secondary is not hoarding (`fo.c:5620-5668`).
    pub mac_affinity: bool,
}

/// §3.7, `dhcp_failover_process_bind_ack` success path (`fo.c:5574-5640`).
///
/// `tsfp = atsfp =` the TSTP we sent. (ISC uses the lease's current `tstp`;
/// we use the value the acked message carried, which is never newer than what
/// the peer saw.) An acked EXPIRED/RELEASED/RESET becomes FREE, or BACKUP for
/// a reserved lease on the secondary, if the lease is still in that state.
pub fn apply_bndack(
    lease: &mut Lease,
    acked: &AckedUpdate,
    role: Role,
    hba: Option<&Hba>,
) -> AckOutcome {
    lease.tsfp = acked.sent_tstp;
    lease.atsfp = acked.sent_tstp;
    let mut out = AckOutcome::default();
    if matches!(acked.sent_state, Expired | Released | Reset)
        && lease.binding_state == acked.sent_state
    {
        let new = if role == Role::Secondary && lease.reserved {
            Backup
        } else {
            Free
        };
        lease.binding_state = new;
        lease.next_binding_state = None;
        lease.rewind_binding_state = Some(new);
        out.freed = true;
        out.mac_affinity = role == Role::Primary
            && !lease.reserved
            && !lease.bootp
            && peer_wants_lease(hba, role, lease);
    }
    out
}

/// §3.4, `ack_lease` (`dhcp.c:2888-2949`): the lease time a server may grant
/// (or offer) given what the peer has acknowledged.
///
/// ```text
/// granted = desired
/// if desired > MCLT:
///     if tsfp <= now:                    granted = MCLT
///     elif now + desired > tsfp + MCLT:  granted = (tsfp - now) + MCLT
/// ```
/// The rule applies in every failover state, partner-down included (§2.1).
pub fn mclt_lease_time(desired: u32, lease_tsfp: Time, now: Time, mclt: u32) -> u32 {
    if desired <= mclt {
        return desired;
    }
    if lease_tsfp <= now {
        return mclt;
    }
    let limit = lease_tsfp + Time::from(mclt);
    if now + Time::from(desired) > limit {
        // (tsfp - now) + mclt < desired here, so it fits in u32.
        u32::try_from(limit - now).unwrap_or(desired)
    } else {
        desired
    }
}

/// Times to store on a DHCPACK (§3.3, `dhcp.c:2888-2949`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckTimes {
    /// The lease time to grant (option 51).
    pub granted: u32,
    /// The new TSTP: `now + desired + granted/2`, or `MAX_TIME` for an
    /// infinite lease; at most `MAX_TIME - 1` otherwise.
    pub tstp: Time,
    /// The lease's TSFP, lowered to TSTP if TSTP went below it ("make sure we
    /// don't offer an old-expiry-time lease for this lease before the change
    /// is ack'd").
    pub tsfp: Time,
}

/// The MCLT rule plus TSTP for a DHCPACK. (A DHCPOFFER uses only
/// [`mclt_lease_time`] and leaves TSTP alone.)
pub fn ack_times(desired: u32, lease_tsfp: Time, now: Time, mclt: u32) -> AckTimes {
    let granted = mclt_lease_time(desired, lease_tsfp, now, mclt);
    let tstp = if desired == INFINITE_LEASE_TIME {
        MAX_TIME
    } else {
        (now + Time::from(desired) + Time::from(granted / 2)).min(MAX_TIME - 1)
    };
    AckTimes {
        granted,
        tstp,
        tsfp: lease_tsfp.min(tstp),
    }
}

/// `lease_mine_to_reallocate` (`fo.c:6341-6447`): whether this server may
/// allocate `lease` to a new client.
///
/// * ACTIVE: never.
/// * FREE/ABANDONED: the primary; the secondary only in partner-down once
///   `max(stos, tsfp) + MCLT` has passed. BACKUP: the mirror image.
/// * EXPIRED/RELEASED: if the last state the peer may know (rewind) is our own
///   free state; else like RESET: in partner-down once `tsfp` has passed
///   (entering partner-down raised `tsfp` to [`partner_down_reuse_after`],
///   see `peer.rs`).
///
/// `my_state` stands for ISC's service state: call this only when the service
/// mode allows allocation at all (`state::serving`).
pub fn may_allocate(
    lease: &Lease,
    role: Role,
    my_state: FailoverState,
    stos: Time,
    mclt: u32,
    now: Time,
) -> bool {
    let partner_down = my_state == FailoverState::PartnerDown;
    // "stos+mclt or tsfp+mclt has expired, whichever is greater".
    let peer_lease_usable = || {
        partner_down
            && if lease.tsfp < stos {
                stos + Time::from(mclt) < now
            } else {
                lease.tsfp + Time::from(mclt) < now
            }
    };
    match lease.binding_state {
        Active => false,
        Free | Abandoned => role == Role::Primary || peer_lease_usable(),
        Backup => role == Role::Secondary || peer_lease_usable(),
        Expired | Released => {
            let own_free = match role {
                Role::Primary => Free,
                Role::Secondary => Backup,
            };
            lease.rewind_binding_state == Some(own_free) || (partner_down && lease.tsfp < now)
        }
        Reset => partner_down && lease.tsfp < now,
    }
}

/// The time after which a lease that ended (EXPIRED, RELEASED, RESET) may
/// be given to another client in partner-down: stored as its `tsfp` when we
/// enter partner-down and when it ends there, checked by [`may_allocate`].
///
/// Draft-12 §7.1.5: a server in partner-down "must wait the MCLT beyond the
/// max(lease-expiration-time, sent-potential-expiration-time,
/// acked-potential-expiration-time, received-potential-expiration-time)",
/// and not before `STOS + MCLT`. ISC sets `tsfp = STOS + MCLT` instead
/// (`fo.c:1972-2015`), which can be earlier than what the down peer
/// promised its client (a renewal we never heard of is bounded only by the
/// peer's potential expiration + MCLT). Tandem takes the max and never
/// lowers `tsfp`. An infinite lease stays unusable.
pub fn partner_down_reuse_after(lease: &Lease, stos: Time, mclt: u32) -> Time {
    let latest = lease.ends.max(lease.tsfp).max(lease.tstp).max(stos);
    if latest >= MAX_TIME {
        return MAX_TIME;
    }
    latest.saturating_add(Time::from(mclt)).min(MAX_TIME)
}

fn wire_time(t: Time) -> u32 {
    u32::try_from(t).unwrap_or(u32::MAX)
}

/// The BNDUPD ISC would send for this lease (`dhcp_failover_send_bind_update`
/// `fo.c:4659-4785`): 2, 3, (4), (5), 13, 18 (TSTP), 25 (`starts`), (6 if
/// non-zero), (12 if non-zero); options in parentheses only when they apply.
///
/// Tandem rule: an ABANDONED lease is sent without chaddr and client-id, since
/// ISC rejects ABANDONED carrying either (§3.6 rules 4-5).
pub fn binding_update_for(lease: &Lease) -> BindingUpdate {
    let abandoned = lease.binding_state == Abandoned;
    let mut flags = 0u16;
    if lease.reserved {
        flags |= IP_FLAG_RESERVE;
    }
    if lease.bootp {
        flags |= IP_FLAG_BOOTP;
    }
    BindingUpdate {
        assigned_addr: Some(lease.addr),
        binding_status: Some(lease.binding_state.code()),
        client_id: match &lease.uid {
            Some(uid) if !uid.is_empty() && !abandoned => Some(uid.clone()),
            _ => None,
        },
        chaddr: match &lease.hardware {
            Some(hw) if !abandoned => {
                let mut v = Vec::with_capacity(hw.addr.len() + 1);
                v.push(hw.htype);
                v.extend_from_slice(&hw.addr);
                v.truncate(MAX_CHADDR_LEN);
                Some(v)
            }
            _ => None,
        },
        lease_expiry: Some(wire_time(lease.ends)),
        potential_expiry: Some(wire_time(lease.tstp)),
        stos: Some(wire_time(lease.starts)),
        cltt: (lease.cltt != 0).then(|| wire_time(lease.cltt)),
        ip_flags: (flags != 0).then_some(flags),
        request_options: None,
        reply_options: None,
    }
}

/// Whether UPDREQ must (re)send this lease (`dhcp_failover_generate_update_queue`
/// `fo.c:5712-5730`): not acked (`tstp > atsfp`) or on the expired queue.
pub fn needs_update(lease: &Lease) -> bool {
    lease.tstp > lease.atsfp || matches!(lease.binding_state, Expired | Released | Reset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: Time = 1_700_000_000;

    fn lease(state: BindingState) -> Lease {
        let mut l = Lease::new(Ipv4Addr::new(192, 0, 2, 10), state);
        l.hardware = Some(Hardware {
            htype: 1,
            addr: vec![0, 0x11, 0x22, 0x33, 0x44, 0x55],
        });
        l.ends = NOW + 3600;
        l.cltt = NOW - 100;
        l
    }

    fn upd(state: BindingState) -> BindingUpdate {
        BindingUpdate {
            assigned_addr: Some(Ipv4Addr::new(192, 0, 2, 10)),
            binding_status: Some(state.code()),
            chaddr: Some(vec![1, 0, 0x11, 0x22, 0x33, 0x44, 0x55]),
            lease_expiry: Some((NOW + 7200) as u32),
            potential_expiry: Some((NOW + 9000) as u32),
            stos: Some(NOW as u32),
            ..Default::default()
        }
    }

    fn ctx(role: Role, my_state: FailoverState) -> BindingContext<'static> {
        BindingContext {
            role,
            my_state,
            now: NOW,
            in_flight: None,
            hba: None,
        }
    }

    fn reason(r: Result<Accepted, Rejected>) -> Option<RejectReason> {
        r.err().map(|e| e.reason)
    }

    #[test]
    fn required_options() {
        let mut u = upd(Active);
        u.binding_status = None;
        let c = ctx(Role::Primary, FailoverState::Normal);
        assert_eq!(
            reason(check_incoming_binding(&lease(Free), &u, &c)),
            Some(RejectReason::MissingBindInfo)
        );
        let mut u = upd(Active);
        u.binding_status = Some(9);
        assert_eq!(
            reason(check_incoming_binding(&lease(Free), &u, &c)),
            Some(RejectReason::MiscReject)
        );
    }

    #[test]
    fn chaddr_and_client_id_rules() {
        let c = ctx(Role::Secondary, FailoverState::Normal);
        let mut u = upd(Active);
        u.chaddr = None;
        assert_eq!(
            reason(check_incoming_binding(&lease(Free), &u, &c)),
            Some(RejectReason::MissingBindInfo)
        );
        let u = upd(Abandoned);
        assert_eq!(
            reason(check_incoming_binding(&lease(Free), &u, &c)),
            Some(RejectReason::MiscReject)
        );
        let mut u = upd(Abandoned);
        u.chaddr = None;
        u.client_id = Some(vec![1, 2]);
        assert_eq!(
            reason(check_incoming_binding(&lease(Free), &u, &c)),
            Some(RejectReason::MiscReject)
        );
        let mut u = upd(Active);
        u.chaddr = Some(vec![1; 22]);
        assert_eq!(
            reason(check_incoming_binding(&lease(Free), &u, &c)),
            Some(RejectReason::MiscReject)
        );
        // Absent client-id erases ours on ACTIVE, keeps it on FREE.
        let mut mine = lease(Active);
        mine.uid = Some(vec![1, 2, 3]);
        mine.vars.push(("x".into(), "y".into()));
        let a = check_incoming_binding(&mine, &upd(Active), &c).unwrap();
        assert_eq!(a.lease.uid, None);
        assert!(a.lease.vars.is_empty(), "scope dropped for a new client");
        let mut mine = lease(Expired);
        mine.uid = Some(vec![1, 2, 3]);
        let mut u = upd(Free);
        u.potential_expiry = Some(NOW as u32);
        let a = check_incoming_binding(&mine, &u, &c).unwrap();
        assert_eq!(a.lease.uid, Some(vec![1, 2, 3]));
    }

    #[test]
    fn accepted_fields() {
        let c = ctx(Role::Secondary, FailoverState::Normal);
        let a = check_incoming_binding(&lease(Free), &upd(Active), &c).unwrap();
        assert_eq!(a.lease.binding_state, Active);
        assert_eq!(a.lease.starts, NOW);
        assert_eq!(a.lease.ends, NOW + 7200);
        assert_eq!(a.lease.tsfp, NOW + 9000);
        assert_eq!(a.lease.atsfp, NOW + 9000);
        assert_eq!(a.lease.cltt, NOW - 100, "the peer's CLTT is not copied");
        // EXPIRED from the primary is stored as FREE.
        let mut mine = lease(Active);
        mine.ends = NOW - 10;
        let a = check_incoming_binding(&mine, &upd(Expired), &c).unwrap();
        assert_eq!(a.lease.binding_state, Free);
        assert_eq!(a.incoming, Expired);
    }

    #[test]
    fn ip_flags_rules() {
        let c = ctx(Role::Primary, FailoverState::Normal);
        let mut u = upd(Active);
        u.ip_flags = Some(IP_FLAG_RESERVE);
        assert_eq!(
            reason(check_incoming_binding(&lease(Free), &u, &c)),
            Some(RejectReason::IpNotReserved)
        );
        let mut mine = lease(Free);
        mine.reserved = true;
        assert!(
            check_incoming_binding(&mine, &u, &c)
                .unwrap()
                .lease
                .reserved
        );
        u.ip_flags = Some(IP_FLAG_BOOTP);
        assert_eq!(
            reason(check_incoming_binding(&lease(Free), &u, &c)),
            Some(RejectReason::MiscReject)
        );
        // Not in our free pool: the flag is simply taken.
        assert!(
            check_incoming_binding(&lease(Backup), &u, &c)
                .unwrap()
                .lease
                .bootp
        );
        // Absent option clears both.
        let a = check_incoming_binding(&mine, &upd(Active), &c).unwrap();
        assert!(!a.lease.reserved && !a.lease.bootp);
    }

    #[test]
    fn normal_table_primary_active() {
        let c = ctx(Role::Primary, FailoverState::Normal);
        for y in [Expired, Free, Backup, Reset] {
            let mut u = upd(y);
            u.potential_expiry = Some(0);
            let r = check_incoming_binding(&lease(Active), &u, &c).unwrap_err();
            assert_eq!(r.reason, RejectReason::FatalConflict);
            assert_eq!(
                r.message,
                format!(
                    "192.0.2.10: invalid state transition: active to {}",
                    y.keyword()
                )
            );
        }
        for y in [Released, Active] {
            let mut u = upd(y);
            u.cltt = Some((NOW - 50) as u32);
            assert!(check_incoming_binding(&lease(Active), &u, &c).is_ok());
        }
    }

    /// Tandem: the peer's EXPIRED/RELEASED of an older binding never ends
    /// our ACTIVE lease before its `ends` (sim: a RELEASED queued during a
    /// partition; an EXPIRED from a peer that missed our renewal).
    #[test]
    fn expired_or_released_of_an_older_binding_is_rejected() {
        let mine = lease(Active); // cltt NOW - 100, ends NOW + 3600
        for state in [FailoverState::Normal, FailoverState::PartnerDown] {
            let c = ctx(Role::Primary, state);
            let mut rel = upd(Released);
            rel.cltt = Some((NOW - 200) as u32);
            let r = check_incoming_binding(&mine, &rel, &c).unwrap_err();
            assert_eq!(r.reason, RejectReason::FatalConflict);
            rel.cltt = Some((NOW - 100) as u32);
            assert!(check_incoming_binding(&mine, &rel, &c).is_ok());
        }
        // EXPIRED: only the conflict table lets it through at all.
        let c = ctx(Role::Primary, FailoverState::PartnerDown);
        let mut mine = lease(Active);
        mine.ends = NOW + 30; // within ISC's 65 s skew allowance
        let mut exp = upd(Expired);
        exp.lease_expiry = Some((NOW - 500) as u32);
        assert!(check_incoming_binding(&mine, &exp, &c).is_err());
        exp.lease_expiry = Some((NOW + 30) as u32);
        assert!(check_incoming_binding(&mine, &exp, &c).is_ok());
        // Once our `ends` has passed, ISC's rules apply unchanged.
        mine.ends = NOW - 1;
        exp.lease_expiry = Some((NOW - 500) as u32);
        assert!(check_incoming_binding(&mine, &exp, &c).is_ok());
    }

    #[test]
    fn normal_table_secondary() {
        let r = Role::Secondary;
        // ACTIVE -> EXPIRED only when our ends - 65 <= now.
        assert!(!normal_transition_allowed(
            r,
            Active,
            Expired,
            0,
            NOW + 66,
            NOW
        ));
        assert!(normal_transition_allowed(
            r,
            Active,
            Expired,
            0,
            NOW + 65,
            NOW
        ));
        assert!(normal_transition_allowed(r, Active, Expired, 0, 0, NOW));
        // FREE/BACKUP only with a potential expiry not in the future.
        assert!(!normal_transition_allowed(r, Active, Free, NOW + 1, 0, NOW));
        assert!(normal_transition_allowed(r, Active, Backup, NOW, 0, NOW));
        assert!(normal_transition_allowed(
            r,
            Active,
            Reset,
            NOW + 100,
            NOW + 100,
            NOW
        ));
        for x in [Expired, Reset] {
            assert!(!normal_transition_allowed(r, x, Free, NOW + 1, 0, NOW));
            assert!(normal_transition_allowed(r, x, Active, NOW + 1, 0, NOW));
        }
        for y in [Free, Active, Expired, Released, Abandoned, Reset, Backup] {
            for x in [Free, Abandoned, Released, Backup] {
                assert!(normal_transition_allowed(
                    Role::Primary,
                    x,
                    y,
                    NOW + 9,
                    NOW + 9,
                    NOW
                ));
                assert!(normal_transition_allowed(r, x, y, NOW + 9, NOW + 9, NOW));
            }
        }
    }

    #[test]
    fn conflict_table() {
        assert!(!conflict_transition_allowed(Active, Free, 0, NOW));
        assert!(!conflict_transition_allowed(Active, Backup, 0, NOW));
        assert!(!conflict_transition_allowed(Active, Expired, NOW + 66, NOW));
        assert!(conflict_transition_allowed(Active, Expired, NOW + 65, NOW));
        assert!(conflict_transition_allowed(
            Active,
            Released,
            NOW + 1000,
            NOW
        ));
        assert!(conflict_transition_allowed(Expired, Free, NOW + 1000, NOW));
        // The primary in partner-down accepts the secondary's EXPIRED for a
        // lease whose time has come.
        let c = ctx(Role::Primary, FailoverState::PartnerDown);
        let mut mine = lease(Active);
        mine.ends = NOW - 1;
        assert!(check_incoming_binding(&mine, &upd(Expired), &c).is_ok());
    }

    /// F2: draft-12 §7.1.5, MCLT beyond the max of every known expiry.
    #[test]
    fn partner_down_reuse_takes_the_max_and_never_lowers() {
        let mut l = lease(Expired);
        l.ends = NOW - 500;
        l.tstp = NOW - 500;
        l.tsfp = NOW + 2000; // the down peer's potential expiration
        assert_eq!(partner_down_reuse_after(&l, NOW, 300), NOW + 2300);
        l.tsfp = NOW - 400;
        assert_eq!(partner_down_reuse_after(&l, NOW, 300), NOW + 300);
        l.tsfp = MAX_TIME;
        assert_eq!(partner_down_reuse_after(&l, NOW, 300), MAX_TIME);
    }

    proptest! {
        #[test]
        fn partner_down_reuse_is_never_before_any_known_expiry(
            ends in 0u64..MAX_TIME, tsfp in 0u64..MAX_TIME, tstp in 0u64..MAX_TIME,
            stos in 0u64..MAX_TIME, mclt in 0u32..100_000,
        ) {
            let mut l = lease(Expired);
            l.ends = ends;
            l.tsfp = tsfp;
            l.tstp = tstp;
            let r = partner_down_reuse_after(&l, stos, mclt);
            let latest = ends.max(tsfp).max(tstp).max(stos);
            prop_assert!(r >= latest);
            prop_assert!(r == MAX_TIME || r == latest + Time::from(mclt));
        }
    }

    /// F4: a stale echo of the same binding never lowers `ends` or `tsfp`.
    #[test]
    fn older_update_of_the_same_binding_keeps_the_later_times() {
        let c = ctx(Role::Primary, FailoverState::Normal);
        let mut mine = lease(Active);
        mine.ends = NOW + 900;
        mine.tsfp = NOW + 1350;
        mine.atsfp = NOW + 1350;
        mine.tstp = NOW + 1350;
        let mut stale = upd(Active);
        stale.lease_expiry = Some((NOW + 100) as u32);
        stale.potential_expiry = Some((NOW - 300) as u32);
        stale.cltt = None;
        let a = check_incoming_binding(&mine, &stale, &c).unwrap();
        assert_eq!(a.lease.ends, NOW + 900);
        assert_eq!(a.lease.tsfp, NOW + 1350);
        assert_eq!(
            mclt_lease_time(900, a.lease.tsfp, NOW + 10, 300),
            900,
            "the next renewal is not cut to the MCLT"
        );
        // A newer transaction of the peer's may shorten them.
        let mut newer = stale.clone();
        newer.cltt = Some((NOW - 50) as u32);
        let a = check_incoming_binding(&mine, &newer, &c).unwrap();
        assert_eq!(a.lease.ends, NOW + 100);
        assert_eq!(a.lease.tsfp, NOW - 300);
        assert_eq!(a.lease.tstp, NOW - 300, "nothing left to send");
    }

    /// F6: FREE/BACKUP never replaces an ACTIVE lease that has not ended,
    /// whatever option 18 says (stricter than ISC).
    #[test]
    fn free_or_backup_never_replaces_a_running_active() {
        let c = ctx(Role::Secondary, FailoverState::Normal);
        let mut u = upd(Backup);
        u.potential_expiry = Some(NOW as u32);
        let mut mine = lease(Active);
        mine.ends = NOW + 600;
        assert_eq!(
            reason(check_incoming_binding(&mine, &u, &c)),
            Some(RejectReason::FatalConflict)
        );
        mine.ends = NOW + EXPIRY_SKEW_ALLOWANCE;
        assert!(check_incoming_binding(&mine, &u, &c).is_ok());
        assert!(!normal_transition_allowed(
            Role::Secondary,
            Active,
            Free,
            NOW - 1,
            NOW + 66,
            NOW
        ));
    }

    #[test]
    fn duelling_updates() {
        // Primary, our ACTIVE in flight vs their ACTIVE with an older CLTT: ours wins.
        assert!(own_update_is_better(
            Role::Primary,
            Active,
            100,
            Active,
            Some(50)
        ));
        assert!(!own_update_is_better(
            Role::Primary,
            Active,
            100,
            Active,
            Some(150)
        ));
        assert!(own_update_is_better(
            Role::Primary,
            Active,
            100,
            Active,
            Some(100)
        ));
        assert!(!own_update_is_better(
            Role::Secondary,
            Active,
            100,
            Active,
            Some(100)
        ));
        // Our ACTIVE vs their EXPIRED: theirs unless older than our CLTT (Tandem).
        assert!(!own_update_is_better(
            Role::Primary,
            Active,
            100,
            Expired,
            Some(100)
        ));
        assert!(own_update_is_better(
            Role::Primary,
            Active,
            100,
            Expired,
            Some(99)
        ));
        // Our ACTIVE vs their RELEASED: the primary keeps its own (ISC); the
        // secondary gives in unless the release is older than our CLTT (Tandem).
        assert!(own_update_is_better(
            Role::Primary,
            Active,
            100,
            Released,
            Some(150)
        ));
        assert!(!own_update_is_better(
            Role::Secondary,
            Active,
            100,
            Released,
            Some(100)
        ));
        assert!(own_update_is_better(
            Role::Secondary,
            Active,
            100,
            Released,
            Some(50)
        ));
        assert!(own_update_is_better(
            Role::Secondary,
            Active,
            100,
            Released,
            None
        ));
        // Our ACTIVE vs their FREE/BACKUP: ours, in both roles (Tandem).
        assert!(own_update_is_better(
            Role::Secondary,
            Active,
            100,
            Backup,
            None
        ));
        assert!(own_update_is_better(Role::Primary, Active, 100, Free, None));
        // Anything vs their ACTIVE: theirs.
        assert!(!own_update_is_better(Role::Primary, Free, 0, Active, None));
        let mut c = ctx(Role::Primary, FailoverState::Normal);
        c.in_flight = Some(Free);
        let r = check_incoming_binding(&lease(Free), &upd(Backup), &c).unwrap_err();
        assert_eq!(r.reason, RejectReason::LessCriticalBindInfo);
        let a = check_incoming_binding(&lease(Free), &upd(Active), &c).unwrap();
        assert!(a.superseded_own_update);
    }

    #[test]
    fn mclt_rule() {
        let mclt = 3600;
        assert_eq!(mclt_lease_time(600, 0, NOW, mclt), 600);
        assert_eq!(mclt_lease_time(86400, 0, NOW, mclt), 3600);
        assert_eq!(mclt_lease_time(86400, NOW, NOW, mclt), 3600);
        // tsfp 1000 s ahead: up to tsfp + MCLT.
        assert_eq!(mclt_lease_time(86400, NOW + 1000, NOW, mclt), 4600);
        // Desired fits within tsfp + MCLT.
        assert_eq!(mclt_lease_time(4000, NOW + 1000, NOW, mclt), 4000);
        assert_eq!(mclt_lease_time(u32::MAX, NOW + 1000, NOW, mclt), 4600);
    }

    #[test]
    fn ack_times_tstp() {
        let t = ack_times(86400, 0, NOW, 3600);
        assert_eq!(t.granted, 3600);
        assert_eq!(t.tstp, NOW + 86400 + 1800);
        assert_eq!(t.tsfp, 0);
        let t = ack_times(u32::MAX, NOW + 10, NOW, 3600);
        assert_eq!(t.tstp, MAX_TIME);
        // A shorter lease lowers tsfp to the new tstp.
        let t = ack_times(600, NOW + 100_000, NOW, 3600);
        assert_eq!(t.tstp, NOW + 900);
        assert_eq!(t.tsfp, NOW + 900);
    }

    #[test]
    fn ownership() {
        let free = lease(Free);
        let backup = lease(Backup);
        let n = FailoverState::Normal;
        let pd = FailoverState::PartnerDown;
        assert!(may_allocate(&free, Role::Primary, n, 0, 3600, NOW));
        assert!(!may_allocate(&free, Role::Secondary, n, 0, 3600, NOW));
        assert!(may_allocate(&backup, Role::Secondary, n, 0, 3600, NOW));
        assert!(!may_allocate(&backup, Role::Primary, n, 0, 3600, NOW));
        // Partner-down: only after max(stos, tsfp) + MCLT.
        assert!(!may_allocate(
            &free,
            Role::Secondary,
            pd,
            NOW - 3600,
            3600,
            NOW
        ));
        assert!(may_allocate(
            &free,
            Role::Secondary,
            pd,
            NOW - 3601,
            3600,
            NOW
        ));
        let mut f2 = free.clone();
        f2.tsfp = NOW - 100;
        assert!(!may_allocate(
            &f2,
            Role::Secondary,
            pd,
            NOW - 5000,
            3600,
            NOW
        ));
        assert!(!may_allocate(&lease(Active), Role::Primary, pd, 0, 0, NOW));
        // Expired with rewind to our own free state.
        let mut e = lease(Expired);
        e.rewind_binding_state = Some(Free);
        assert!(may_allocate(&e, Role::Primary, n, 0, 3600, NOW));
        assert!(!may_allocate(&e, Role::Secondary, n, 0, 3600, NOW));
        let mut r = lease(Reset);
        r.tsfp = NOW - 1;
        assert!(may_allocate(&r, Role::Secondary, pd, 0, 3600, NOW));
        assert!(!may_allocate(&r, Role::Secondary, n, 0, 3600, NOW));
    }

    #[test]
    fn bndack_frees_expired() {
        let mut l = lease(Expired);
        let out = apply_bndack(
            &mut l,
            &AckedUpdate {
                addr: Ipv4Addr::new(192, 0, 2, 10),
                sent_state: Expired,
                sent_tstp: NOW,
            },
            Role::Primary,
            None,
        );
        assert!(out.freed);
        assert_eq!(l.binding_state, Free);
        assert_eq!(l.tsfp, NOW);
        assert_eq!(l.atsfp, NOW);
        let mut l = lease(Released);
        l.reserved = true;
        apply_bndack(
            &mut l,
            &AckedUpdate {
                addr: Ipv4Addr::new(192, 0, 2, 10),
                sent_state: Released,
                sent_tstp: NOW,
            },
            Role::Secondary,
            None,
        );
        assert_eq!(l.binding_state, Backup);
        let mut l = lease(Active);
        let out = apply_bndack(
            &mut l,
            &AckedUpdate {
                addr: Ipv4Addr::new(192, 0, 2, 10),
                sent_state: Active,
                sent_tstp: NOW + 5,
            },
            Role::Primary,
            None,
        );
        assert!(!out.freed);
        assert_eq!(l.binding_state, Active);
        assert_eq!(l.atsfp, NOW + 5);
    }

    #[test]
    fn bndupd_for_lease() {
        let mut l = lease(Active);
        l.uid = Some(vec![1, 0, 0x11, 0x22, 0x33, 0x44, 0x55]);
        l.starts = NOW;
        l.tstp = NOW + 100;
        let b = binding_update_for(&l);
        assert_eq!(
            b.chaddr.as_deref(),
            Some(&[1, 0, 0x11, 0x22, 0x33, 0x44, 0x55][..])
        );
        assert_eq!(b.stos, Some(NOW as u32));
        assert_eq!(b.potential_expiry, Some((NOW + 100) as u32));
        assert_eq!(b.ip_flags, None);
        l.binding_state = Abandoned;
        let b = binding_update_for(&l);
        assert_eq!((b.chaddr, b.client_id), (None, None));
        // What we send for any state is accepted by an ISC-rules receiver
        // whose lease is FREE (the state check aside).
    }

    fn bstate() -> impl Strategy<Value = BindingState> {
        proptest::sample::select(vec![
            Free, Active, Expired, Released, Abandoned, Reset, Backup,
        ])
    }

    proptest! {
        /// The granted time never exceeds the desired time, is at least
        /// min(desired, MCLT), and never reaches beyond max(tsfp, now) + MCLT
        /// when that is shorter than desired.
        #[test]
        fn mclt_bounds(desired in any::<u32>(), tsfp_off in -100_000i64..100_000, mclt in 0u32..100_000) {
            let tsfp = (NOW as i64 + tsfp_off) as u64;
            let g = mclt_lease_time(desired, tsfp, NOW, mclt);
            prop_assert!(g <= desired);
            prop_assert!(g >= desired.min(mclt));
            if desired > mclt {
                prop_assert!(NOW + u64::from(g) <= tsfp.max(NOW) + u64::from(mclt));
            }
        }

        /// An ACTIVE lease never becomes FREE or BACKUP through a BNDUPD.
        #[test]
        fn active_is_protected(y in bstate(), secondary in any::<bool>(), normal in any::<bool>(),
                               pe in proptest::option::of(any::<u32>())) {
            let role = if secondary { Role::Secondary } else { Role::Primary };
            let st = if normal { FailoverState::Normal } else { FailoverState::CommunicationsInterrupted };
            let mut u = upd(y);
            u.potential_expiry = pe;
            if y == Abandoned { u.chaddr = None; }
            let c = ctx(role, st);
            if let Ok(a) = check_incoming_binding(&lease(Active), &u, &c) {
                if matches!(y, Free | Backup) {
                    // Only a secondary in normal, told the lease expired already.
                    prop_assert!(secondary && normal && u64::from(pe.unwrap_or(0)) <= NOW);
                }
                prop_assert!(a.lease.binding_state != Backup || y == Backup);
            }
        }

        /// What we send for one of our leases passes ISC's own checks 1, 4
        /// and 5 (required options, chaddr, client-id).
        #[test]
        fn our_bndupd_has_what_isc_needs(s in bstate(), uid in proptest::option::of(proptest::collection::vec(any::<u8>(), 1..10))) {
            let mut l = lease(s);
            l.uid = uid;
            let b = binding_update_for(&l);
            let mut theirs = lease(Free);
            theirs.hardware = None;
            let c = ctx(Role::Primary, FailoverState::PartnerDown);
            let r = check_incoming_binding(&theirs, &b, &c);
            prop_assert!(r.is_ok(), "{:?}", r);
        }
    }
}
