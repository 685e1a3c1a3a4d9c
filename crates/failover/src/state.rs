//! ISC's failover state machine as pure tables (isc-failover.md §2).
//!
//! * [`serving`]: the service state of §2.1 (`dhcp_failover_set_service_state`
//!   `fo.c:1655-1756`).
//! * [`on_link_lost`]: §2.2 "the active link drops" (`dhcp_failover_state_transition`
//!   "disconnect" `fo.c:1536-1592`), also used when the 15 s startup timer fires.
//! * [`on_peer_state`]: §2.3, the reaction to the peer's STATE
//!   (`dhcp_failover_peer_state_changed` `fo.c:2024-2441`).
//! * [`on_update_done`]: §2.4/§2.5, the reaction to UPDDONE
//!   (`dhcp_failover_process_update_done` `fo.c:5804-5880`).
//!
//! These functions only decide; `peer.rs` carries the decisions out (persisting
//! the state, sending STATE, UPDREQ, …).
//!
//! # Deviations from ISC (all to avoid crashing or wedging an ISC peer)
//!
//! * ISC in **conflict-done** `log_fatal`s (the dhcpd process exits) when the peer
//!   reports any state other than normal, shutdown, potential-conflict or
//!   resolution-interrupted (`fo.c:2282-2287`). So whenever the peer reports
//!   conflict-done and our state would be one of those fatal ones, we move to
//!   **potential-conflict** (where, as a secondary whose peer is conflict-done,
//!   we send UPDREQ at once, `fo.c:1919-1924`, and the §2.5 sequence completes).
//!   ISC would stay, and two ISC servers would stay wedged or crash.
//! * In our own conflict-done row, a peer state ISC calls fatal is logged and
//!   answered with potential-conflict (paused/unknown/startup: stay) instead of
//!   exiting.

use tandem_lease::{FailoverState, Time};

use crate::Role;

use FailoverState::*;

/// What a server may do for clients of pools shared with this peer (§2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceMode {
    /// No DHCP service at all (also ISC's "startup" service state).
    NotResponding,
    /// Normal: DISCOVER/BOOTP load-balanced, allocate from own pool, MCLT rule.
    Cooperating,
    /// Communications-interrupted: serve everyone, own pool only, MCLT rule.
    NotCooperating,
    /// Partner-down: serve everyone; the peer's leases after MCLT.
    PartnerDown,
    /// Tandem extension, never returned by [`serving`]: in recover-wait, renew
    /// a binding this server already knows (same client, same address) but
    /// allocate nothing (see `peer.rs`).
    RenewOnly,
}

/// ISC's service state for (my state, peer state) (`fo.c:1655-1756`).
/// The peer's partner-down, potential-conflict, conflict-done and
/// resolution-interrupted silence us whatever our own state (`fo.c:1719-1740`).
pub fn serving(my: FailoverState, peer: FailoverState) -> ServiceMode {
    let mode = match my {
        PartnerDown => ServiceMode::PartnerDown,
        Normal => ServiceMode::Cooperating,
        CommunicationsInterrupted => ServiceMode::NotCooperating,
        _ => ServiceMode::NotResponding,
    };
    match peer {
        PartnerDown | PotentialConflict | ConflictDone | ResolutionInterrupted => {
            ServiceMode::NotResponding
        }
        _ => mode,
    }
}

/// The result of losing the active link (or of the 15 s startup timer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkLost {
    /// Move unacked updates back onto the send queue (conflict-done only in
    /// ISC, `dhcp_failover_rescind_updates` `fo.c:1561`).
    pub rescind: bool,
    /// The state to enter, if any.
    pub next: Option<FailoverState>,
}

/// §2.2 "The active link drops or times out" (`fo.c:1550-1592`). In startup,
/// the saved state decides, and the server leaves startup for it.
pub fn on_link_lost(my: FailoverState, saved: FailoverState) -> LinkLost {
    let in_startup = my == Startup;
    let effective = if in_startup { saved } else { my };
    let stay = if in_startup { Some(saved) } else { None };
    match effective {
        ConflictDone => LinkLost {
            rescind: true,
            next: stay,
        },
        CommunicationsInterrupted
        | PartnerDown
        | Paused
        | Recover
        | RecoverDone
        | RecoverWait
        | ResolutionInterrupted
        | Shutdown => LinkLost {
            rescind: false,
            next: stay,
        },
        PotentialConflict | Unknown => LinkLost {
            rescind: false,
            next: Some(ResolutionInterrupted),
        },
        Normal => LinkLost {
            rescind: false,
            next: Some(CommunicationsInterrupted),
        },
        // A saved state of startup cannot happen (ISC: log_fatal); stay.
        Startup => LinkLost {
            rescind: false,
            next: None,
        },
    }
}

/// One thing to do in reaction to the peer's STATE or UPDDONE, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `dhcp_failover_set_state(new)`.
    Enter(FailoverState),
    /// Send UPDREQALL.
    SendUpdReqAll,
    /// Send UPDREQ.
    SendUpdReq,
    /// Send the queued BNDUPDs now (comm-interrupted → normal, `fo.c:2336-2342`).
    SendUpdates,
    /// Reschedule the pool-balance check (`dhcp_failover_state_pool_check`).
    PoolCheck,
    /// Log at info level.
    Info(String),
    /// Log at error level.
    Error(String),
}

/// The peer's STATE, as the table needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerStateEvent {
    pub role: Role,
    /// Our current state.
    pub my: FailoverState,
    /// Our saved state, used instead of `my` while `my` is startup.
    pub saved: FailoverState,
    /// The peer state we had on record.
    pub previous: FailoverState,
    /// The raw server-state the peer reported (absent option = 0).
    pub reported: u8,
    /// The STARTUP bit of server-flags.
    pub startup_flag: bool,
}

/// What to do with a peer STATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStateOutcome {
    /// False when ISC ignores the message entirely (same state reported again
    /// while we are in a state that does not care, `fo.c:2036-2072`): the peer
    /// state is not even recorded.
    pub record: bool,
    /// The peer state to record (an invalid code is recorded as unknown-state).
    pub peer: FailoverState,
    pub steps: Vec<Step>,
}

/// §2.3: `dhcp_failover_peer_state_changed` (`fo.c:2024-2441`), plus the
/// conflict-done safety deviation described in the module docs.
pub fn on_peer_state(name: &str, ev: PeerStateEvent) -> PeerStateOutcome {
    let mut o = isc_peer_state(name, ev);
    // Tandem deviation: never sit in a state that makes an ISC peer in
    // conflict-done exit (module docs).
    if ev.reported == ConflictDone.code() && (o.record || !o.steps.is_empty()) {
        let after = final_state(ev.my, &o.steps);
        if !conflict_done_tolerates(after) {
            o.steps.push(Step::Enter(PotentialConflict));
        }
    }
    o
}

/// Tandem: after an operator changed our state, re-applies the §2.3 table to
/// the peer state already on record, as if the peer had just reported it,
/// **when that leads to normal**. ISC waits for the peer's next STATE, which
/// never comes when the peer is itself waiting for us (e.g. we are forced to
/// partner-down while the peer sits in recover-done, or to
/// communications-interrupted while it is normal). Reactions towards the
/// conflict states are left to the peer's own next STATE: the record may be
/// stale (a dead link not yet detected), and acting on it could create a
/// pairing ISC forbids (normal facing resolution-interrupted).
pub fn reapply_peer_state(name: &str, mut ev: PeerStateEvent) -> Vec<Step> {
    ev.reported = ev.previous.code();
    let o = isc_peer_state_inner(name, ev, false);
    if ev.my != Startup && final_state(ev.my, &o.steps) == Normal && ev.my != Normal {
        o.steps
    } else {
        Vec::new()
    }
}

/// ISC's own reaction, without the safety deviation.
fn isc_peer_state(name: &str, ev: PeerStateEvent) -> PeerStateOutcome {
    isc_peer_state_inner(name, ev, true)
}

fn isc_peer_state_inner(name: &str, ev: PeerStateEvent, same_check: bool) -> PeerStateOutcome {
    let reported = FailoverState::from_code(ev.reported);
    let mut steps = Vec::new();

    // Same state again (`fo.c:2036-2072`). `state->me.state` must be non-zero.
    if same_check && reported == Some(ev.previous) && ev.my != Unknown {
        match ev.my {
            Startup => {
                let to = if ev.saved == ResolutionInterrupted {
                    PotentialConflict
                } else {
                    ev.saved
                };
                return PeerStateOutcome {
                    record: false,
                    peer: ev.previous,
                    steps: vec![Step::Enter(to)],
                };
            }
            Normal | PotentialConflict | RecoverDone | Shutdown | Paused | RecoverWait => {
                return PeerStateOutcome {
                    record: false,
                    peer: ev.previous,
                    steps,
                };
            }
            // Disconnected-ish states always process it.
            _ => {}
        }
    }

    let Some(new) = reported else {
        // `fo.c:2096-2118`: "Invalid state" → shutdown.
        steps.push(Step::Error(format!(
            "failover peer {name}: Invalid state: {}",
            ev.reported
        )));
        steps.push(Step::Enter(Shutdown));
        return PeerStateOutcome {
            record: true,
            peer: Unknown,
            steps,
        };
    };

    let in_startup = ev.my == Startup;
    let row = if in_startup { ev.saved } else { ev.my };
    match row {
        Normal => match new {
            Normal => steps.push(Step::PoolCheck),
            PartnerDown => steps.push(Step::Enter(if in_startup {
                Recover
            } else {
                PotentialConflict
            })),
            PotentialConflict | ResolutionInterrupted | ConflictDone => {
                steps.push(Step::Error(format!(
                    "Peer {name}: Invalid state transition {} to {}.",
                    ev.previous.keyword(),
                    new.keyword()
                )));
                steps.push(Step::Enter(Shutdown));
            }
            Recover | Shutdown => steps.push(Step::Enter(PartnerDown)),
            Paused => steps.push(Step::Enter(CommunicationsInterrupted)),
            RecoverWait | RecoverDone | Unknown | Startup | CommunicationsInterrupted => {}
        },
        Recover => match new {
            Recover => {
                steps.push(Step::Info(format!(
                    "failover peer {name}: requesting full update from peer"
                )));
                if ev.my == Recover {
                    steps.push(Step::SendUpdReqAll);
                }
            }
            PotentialConflict | ResolutionInterrupted | ConflictDone | Normal => {
                steps.push(Step::Enter(PotentialConflict))
            }
            PartnerDown | CommunicationsInterrupted => {
                if ev.my == Recover {
                    steps.push(Step::SendUpdReqAll);
                }
            }
            Shutdown => steps.push(Step::Enter(PartnerDown)),
            Paused | RecoverDone | RecoverWait | Unknown | Startup => {}
        },
        PotentialConflict => match new {
            Normal => {
                steps.push(Step::Error(format!(
                    "Peer {name} moves to normal during conflict resolution - panic, shutting down."
                )));
                steps.push(Step::Enter(Shutdown));
            }
            ConflictDone => {
                if ev.previous == PotentialConflict {
                    steps.push(Step::SendUpdReq);
                } else {
                    steps.push(Step::Error(format!(
                        "Peer {name}: Unexpected move to conflict-done."
                    )));
                }
            }
            Recover => steps.push(Step::Enter(Recover)),
            Shutdown => steps.push(Step::Enter(PartnerDown)),
            RecoverDone | RecoverWait | PotentialConflict | PartnerDown
            | CommunicationsInterrupted | ResolutionInterrupted | Paused | Unknown | Startup => {}
        },
        ConflictDone => match new {
            Normal | Shutdown => steps.push(Step::Enter(new)),
            PotentialConflict | ResolutionInterrupted => {}
            // ISC: log_fatal (`fo.c:2282-2287`). We do not exit.
            Paused | Unknown | Startup => steps.push(Step::Error(format!(
                "Peer {name}: Invalid attempt to move from {} to {} while local state is conflict-done.",
                ev.previous.keyword(),
                new.keyword()
            ))),
            CommunicationsInterrupted | PartnerDown | Recover | RecoverDone | RecoverWait
            | ConflictDone => {
                steps.push(Step::Error(format!(
                    "Peer {name}: Invalid attempt to move from {} to {} while local state is conflict-done; restarting conflict resolution.",
                    ev.previous.keyword(),
                    new.keyword()
                )));
                steps.push(Step::Enter(PotentialConflict));
            }
        },
        PartnerDown => {
            // "Take no action if other server is starting up" (`fo.c:2293`).
            if !ev.startup_flag {
                match new {
                    Recover | RecoverWait => {}
                    RecoverDone => steps.push(Step::Enter(Normal)),
                    Normal | PotentialConflict | PartnerDown | CommunicationsInterrupted
                    | ResolutionInterrupted | ConflictDone => {
                        steps.push(Step::Enter(PotentialConflict))
                    }
                    Shutdown | Paused | Unknown | Startup => {}
                }
            }
        }
        CommunicationsInterrupted => match new {
            Paused => {}
            Recover => steps.push(Step::Enter(PartnerDown)),
            Normal | CommunicationsInterrupted | RecoverDone | RecoverWait => {
                steps.push(Step::SendUpdates);
                steps.push(Step::Enter(Normal));
            }
            PotentialConflict | PartnerDown | ResolutionInterrupted | ConflictDone => {
                steps.push(Step::Enter(PotentialConflict))
            }
            Shutdown => steps.push(Step::Enter(PartnerDown)),
            Unknown | Startup => {}
        },
        ResolutionInterrupted => match new {
            Normal | Recover | PotentialConflict | PartnerDown | CommunicationsInterrupted
            | ResolutionInterrupted | ConflictDone | RecoverDone | RecoverWait => {
                steps.push(Step::Enter(PotentialConflict))
            }
            Shutdown => steps.push(Step::Enter(PartnerDown)),
            Paused | Unknown | Startup => {}
        },
        RecoverWait => {}
        RecoverDone => match new {
            RecoverDone => {
                steps.push(Step::Error(
                    "Both servers have entered recover-done!".to_string(),
                ));
                steps.push(Step::Enter(Normal));
            }
            Normal => steps.push(Step::Enter(Normal)),
            Shutdown => steps.push(Step::Enter(PartnerDown)),
            _ => {}
        },
        Shutdown | Paused | Unknown | Startup => {}
    }

    // "If we didn't make a transition out of startup …, do it now" (`fo.c:2427-2433`).
    if in_startup && !steps.iter().any(|s| matches!(s, Step::Enter(_))) && ev.saved != Startup {
        steps.push(Step::Enter(ev.saved));
    }

    PeerStateOutcome {
        record: true,
        peer: new,
        steps,
    }
}

/// The state after applying `steps` from `my`.
fn final_state(my: FailoverState, steps: &[Step]) -> FailoverState {
    steps
        .iter()
        .filter_map(|s| match s {
            Step::Enter(st) => Some(*st),
            _ => None,
        })
        .next_back()
        .unwrap_or(my)
}

/// The states an ISC server in conflict-done accepts from its peer without
/// exiting (`fo.c:2264-2289`).
pub fn conflict_done_tolerates(peer: FailoverState) -> bool {
    matches!(
        peer,
        Normal | Shutdown | PotentialConflict | ResolutionInterrupted
    )
}

/// Whether an ISC server in state `isc` would exit or panic when its peer
/// reports `reported` (used by tests and by the local-command guard).
/// ISC in potential-conflict seeing normal goes to shutdown ("panic").
pub fn isc_would_panic(isc: FailoverState, reported: FailoverState) -> bool {
    match isc {
        ConflictDone => !conflict_done_tolerates(reported),
        PotentialConflict => reported == Normal,
        _ => false,
    }
}

/// UPDDONE received (`fo.c:5804-5880`).
pub fn on_update_done(
    role: Role,
    my: FailoverState,
    peer: FailoverState,
    stos: Time,
    mclt: u32,
    now: Time,
) -> Vec<Step> {
    match my {
        PotentialConflict => {
            if peer == ConflictDone {
                match role {
                    Role::Secondary => vec![Step::Enter(Normal)],
                    Role::Primary => vec![
                        Step::Error(
                            "Secondary is in conflict_done state after conflict resolution, this is illegal."
                                .to_string(),
                        ),
                        Step::Enter(Shutdown),
                    ],
                }
            } else {
                match role {
                    Role::Primary => vec![Step::Enter(ConflictDone)],
                    Role::Secondary => {
                        vec![Step::Error("Spurious update-done message.".to_string())]
                    }
                }
            }
        }
        ConflictDone => vec![Step::Error("Spurious update-done message.".to_string())],
        Recover => {
            // Wait for MCLT unless both came up in recover (`fo.c:5857-5876`).
            if stos + u64::from(mclt) > now && peer != Recover && peer != RecoverDone {
                vec![Step::Enter(RecoverWait)]
            } else {
                vec![Step::Enter(RecoverDone)]
            }
        }
        _ => vec![],
    }
}

/// Every state, for exhaustive tests.
pub const ALL_STATES: [FailoverState; 13] = [
    Unknown,
    Startup,
    Normal,
    CommunicationsInterrupted,
    PartnerDown,
    PotentialConflict,
    Recover,
    Paused,
    Shutdown,
    RecoverDone,
    ResolutionInterrupted,
    ConflictDone,
    RecoverWait,
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// §2.3 as a data table: for each row (our state), the states a peer STATE
    /// can move us to (ISC's table, plus potential-conflict where the
    /// conflict-done safety rule applies).
    fn allowed_next(row: FailoverState) -> &'static [FailoverState] {
        match row {
            Normal => &[
                PotentialConflict,
                Recover,
                Shutdown,
                PartnerDown,
                CommunicationsInterrupted,
            ],
            Recover => &[PotentialConflict, PartnerDown],
            PotentialConflict => &[Shutdown, Recover, PartnerDown],
            ConflictDone => &[Normal, Shutdown, PotentialConflict],
            PartnerDown => &[Normal, PotentialConflict],
            CommunicationsInterrupted => &[PartnerDown, Normal, PotentialConflict],
            ResolutionInterrupted => &[PotentialConflict, PartnerDown],
            RecoverDone => &[Normal, PartnerDown, PotentialConflict],
            RecoverWait | Paused | Unknown => &[PotentialConflict],
            Shutdown | Startup => &[],
        }
    }

    fn state() -> impl Strategy<Value = FailoverState> {
        proptest::sample::select(ALL_STATES.to_vec())
    }

    fn ev(my: FailoverState, previous: FailoverState, reported: FailoverState) -> PeerStateEvent {
        PeerStateEvent {
            role: Role::Primary,
            my,
            saved: Normal,
            previous,
            reported: reported.code(),
            startup_flag: false,
        }
    }

    fn enters(o: &PeerStateOutcome) -> Vec<FailoverState> {
        o.steps
            .iter()
            .filter_map(|s| match s {
                Step::Enter(st) => Some(*st),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn iscs_table_spot_checks() {
        let o = on_peer_state("f", ev(Normal, Normal, Shutdown));
        assert_eq!(enters(&o), vec![PartnerDown]);
        let o = on_peer_state("f", ev(Normal, Normal, PartnerDown));
        assert_eq!(enters(&o), vec![PotentialConflict]);
        let o = on_peer_state("f", ev(PartnerDown, Unknown, RecoverDone));
        assert_eq!(enters(&o), vec![Normal]);
        let o = on_peer_state("f", ev(CommunicationsInterrupted, Unknown, Normal));
        assert_eq!(o.steps[0], Step::SendUpdates);
        assert_eq!(enters(&o), vec![Normal]);
        let o = on_peer_state("f", ev(PotentialConflict, Normal, Normal));
        // Same state while in potential-conflict: ignored.
        assert!(!o.record && o.steps.is_empty());
        let o = on_peer_state("f", ev(PotentialConflict, ConflictDone, Normal));
        assert_eq!(enters(&o), vec![Shutdown]);
        let o = on_peer_state("f", ev(PotentialConflict, PotentialConflict, ConflictDone));
        assert_eq!(o.steps, vec![Step::SendUpdReq]);
        let o = on_peer_state("f", ev(Recover, Unknown, PartnerDown));
        assert_eq!(o.steps, vec![Step::SendUpdReqAll]);
        let o = on_peer_state("f", ev(ConflictDone, PotentialConflict, Normal));
        assert_eq!(enters(&o), vec![Normal]);
    }

    #[test]
    fn startup_uses_saved_state() {
        let mut e = ev(Startup, Unknown, PartnerDown);
        e.saved = Normal;
        // Saved normal, peer partner-down: recover (not potential-conflict).
        assert_eq!(enters(&on_peer_state("f", e)), vec![Recover]);
        // No transition from the table: leave startup for the saved state.
        e.reported = Normal.code();
        assert_eq!(enters(&on_peer_state("f", e)), vec![Normal]);
        // Same state reported again while in startup.
        let mut e = ev(Startup, PartnerDown, PartnerDown);
        e.saved = ResolutionInterrupted;
        assert_eq!(enters(&on_peer_state("f", e)), vec![PotentialConflict]);
        // Recover row in startup: no UPDREQALL (entering recover sends it).
        let mut e = ev(Startup, Unknown, PartnerDown);
        e.saved = Recover;
        let o = on_peer_state("f", e);
        assert_eq!(o.steps, vec![Step::Enter(Recover)]);
    }

    #[test]
    fn partner_down_ignores_startup_flag() {
        let mut e = ev(PartnerDown, Unknown, Normal);
        e.startup_flag = true;
        assert!(on_peer_state("f", e).steps.is_empty());
        e.startup_flag = false;
        assert_eq!(enters(&on_peer_state("f", e)), vec![PotentialConflict]);
    }

    #[test]
    fn invalid_code_means_shutdown() {
        let mut e = ev(Normal, Normal, Normal);
        e.reported = 77;
        let o = on_peer_state("f", e);
        assert_eq!(enters(&o), vec![Shutdown]);
        assert_eq!(o.peer, Unknown);
    }

    #[test]
    fn reapply_only_towards_normal() {
        let e = ev(PartnerDown, RecoverDone, RecoverDone);
        assert_eq!(
            enters(&PeerStateOutcome {
                record: true,
                peer: RecoverDone,
                steps: reapply_peer_state("f", e)
            }),
            vec![Normal]
        );
        let e = ev(PartnerDown, Normal, Normal);
        assert!(
            reapply_peer_state("f", e).is_empty(),
            "PD facing normal: wait for the peer"
        );
        let e = ev(CommunicationsInterrupted, Normal, Normal);
        assert_eq!(
            reapply_peer_state("f", e).last(),
            Some(&Step::Enter(Normal))
        );
    }

    #[test]
    fn link_lost_table() {
        assert_eq!(
            on_link_lost(Normal, Unknown).next,
            Some(CommunicationsInterrupted)
        );
        assert_eq!(
            on_link_lost(PotentialConflict, Unknown).next,
            Some(ResolutionInterrupted)
        );
        assert_eq!(
            on_link_lost(Unknown, Unknown).next,
            Some(ResolutionInterrupted)
        );
        assert_eq!(on_link_lost(PartnerDown, Unknown).next, None);
        assert!(on_link_lost(ConflictDone, Unknown).rescind);
        assert_eq!(
            on_link_lost(Startup, Normal).next,
            Some(CommunicationsInterrupted)
        );
        assert_eq!(on_link_lost(Startup, Recover).next, Some(Recover));
        assert_eq!(on_link_lost(Startup, PartnerDown).next, Some(PartnerDown));
    }

    #[test]
    fn update_done_table() {
        assert_eq!(
            on_update_done(Role::Primary, PotentialConflict, PotentialConflict, 0, 0, 0),
            vec![Step::Enter(ConflictDone)]
        );
        assert_eq!(
            on_update_done(Role::Secondary, PotentialConflict, ConflictDone, 0, 0, 0),
            vec![Step::Enter(Normal)]
        );
        assert_eq!(
            on_update_done(Role::Secondary, Recover, PartnerDown, 1000, 3600, 2000),
            vec![Step::Enter(RecoverWait)]
        );
        assert_eq!(
            on_update_done(Role::Secondary, Recover, Recover, 1000, 3600, 2000),
            vec![Step::Enter(RecoverDone)]
        );
        assert_eq!(
            on_update_done(Role::Secondary, Recover, PartnerDown, 1000, 3600, 4601),
            vec![Step::Enter(RecoverDone)]
        );
    }

    #[test]
    fn serving_table() {
        assert_eq!(serving(Normal, Normal), ServiceMode::Cooperating);
        assert_eq!(
            serving(CommunicationsInterrupted, Unknown),
            ServiceMode::NotCooperating
        );
        assert_eq!(serving(PartnerDown, Recover), ServiceMode::PartnerDown);
        assert_eq!(serving(Normal, PartnerDown), ServiceMode::NotResponding);
        assert_eq!(serving(Startup, Normal), ServiceMode::NotResponding);
        assert_eq!(
            serving(RecoverWait, PartnerDown),
            ServiceMode::NotResponding
        );
    }

    proptest! {
        /// Every transition is one ISC's table allows from that row.
        #[test]
        fn transitions_in_allowed_set(my in state(), saved in state(), prev in state(),
                                      reported in any::<u8>(), flag in any::<bool>(),
                                      primary in any::<bool>()) {
            let e = PeerStateEvent {
                role: if primary { Role::Primary } else { Role::Secondary },
                my, saved, previous: prev, reported, startup_flag: flag,
            };
            let o = on_peer_state("f", e);
            let row = if my == Startup { saved } else { my };
            let enters = enters(&o);
            for (i, st) in enters.iter().enumerate() {
                let ok = allowed_next(row).contains(st)
                    // leaving startup for the saved state
                    || (my == Startup && (*st == saved || *st == PotentialConflict) )
                    // an invalid code always means shutdown
                    || (FailoverState::from_code(reported).is_none() && *st == Shutdown)
                    // the conflict-done safety step, always last
                    || (*st == PotentialConflict && i == enters.len() - 1);
                prop_assert!(ok, "{:?} row {:?} reported {} -> {:?}", my, row, reported, st);
            }
            prop_assert!(enters.len() <= 2);
        }

        /// We never end in a state that makes an ISC peer in conflict-done exit.
        #[test]
        fn never_fatal_for_conflict_done_peer(my in state(), saved in state(), prev in state(),
                                              flag in any::<bool>(), primary in any::<bool>()) {
            let e = PeerStateEvent {
                role: if primary { Role::Primary } else { Role::Secondary },
                my, saved, previous: prev, reported: ConflictDone.code(), startup_flag: flag,
            };
            let o = on_peer_state("f", e);
            if o.record {
                let after = final_state(my, &o.steps);
                prop_assert!(conflict_done_tolerates(after), "{:?} -> {:?}", my, after);
            }
        }

        /// The service state never serves while the peer demands silence.
        #[test]
        fn silence_when_peer_demands(my in state(), peer in state()) {
            let m = serving(my, peer);
            if matches!(peer, PartnerDown | PotentialConflict | ConflictDone | ResolutionInterrupted) {
                prop_assert_eq!(m, ServiceMode::NotResponding);
            }
            if m == ServiceMode::PartnerDown { prop_assert_eq!(my, PartnerDown); }
            prop_assert!(m != ServiceMode::RenewOnly);
        }

        #[test]
        fn link_lost_never_serves_more(my in state(), saved in state()) {
            let l = on_link_lost(my, saved);
            if let Some(next) = l.next {
                // Losing the link never grants partner-down or normal.
                prop_assert!(next != PartnerDown || (my == Startup && saved == PartnerDown) || my == PartnerDown);
                prop_assert!(next != Normal || (my == Startup && saved == Normal));
            }
        }
    }
}
