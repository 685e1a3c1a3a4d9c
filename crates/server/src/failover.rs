//! The server's side of failover: what the serve loop needs to drive
//! `tandem_node::Node`'s relationships with real sockets, kept out of the
//! loop itself.
//!
//! * [`resolve_ipv4`]: `address` / `peer address` may be host names (ISC
//!   evaluates them as option caches, `dhcp_failover_state_match`).
//! * [`peer_listens`] and [`node_input`]: the node's listen table and link
//!   events in `tandem_net::peerlink`'s terms and back.
//! * [`ShutdownPhase`]: SIGTERM and OMAPI `control state = 2` hand the
//!   relationships over before the process exits (isc-failover.md §2.6),
//!   bounded in time.
//! * [`FailoverDesk`]: OMAPI's `failover-state` object over the node's
//!   [`PeerInfo`]s; `local-state` changes are collected and fed to the node
//!   after the request.

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use tandem_failover::Role;
use tandem_lease::FailoverState;
use tandem_net::peerlink::{LinkInput, PeerListen};
use tandem_node::{Input, Listen, PeerInfo};
use tandem_omapi::objects::failover_state::{FailoverStateObject, Hierarchy, PeerState};
use tandem_omapi::IscResult;

use crate::omapi::FailoverView;

/// How long a clean shutdown may take before the process exits anyway.
/// The node waits up to 10 s for the peer to reach partner-down
/// (`tandem_failover::peer`, "Clean shutdown"); ISC's countdown is about
/// 4 s per phase plus at most 5 s for the peer (`dhcpd.c:1664-1761`).
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(15);

/// The first IPv4 address `name` resolves to (a dotted quad resolves to
/// itself without a lookup).
pub fn resolve_ipv4(name: &str) -> Option<Ipv4Addr> {
    if let Ok(a) = name.parse::<Ipv4Addr>() {
        return Some(a);
    }
    (name, 0u16).to_socket_addrs().ok()?.find_map(|a| match a {
        SocketAddr::V4(v4) => Some(*v4.ip()),
        SocketAddr::V6(_) => None,
    })
}

/// The node's listen table as the link layer takes it.
pub fn peer_listens(listens: &[Listen]) -> Vec<PeerListen> {
    listens
        .iter()
        .map(|l| PeerListen {
            peer: l.peer,
            local: l.local,
            remote_addr: l.remote_addr,
        })
        .collect()
}

/// What the node hears of a link event.
pub fn node_input(input: LinkInput) -> Input {
    match input {
        LinkInput::Connected { peer, conn } => Input::PeerConnected { peer, conn },
        LinkInput::ConnectFailed { peer } => Input::PeerConnectFailed { peer },
        LinkInput::Bytes { conn, bytes } => Input::PeerBytes { conn, bytes },
        LinkInput::Closed { conn } => Input::PeerClosed { conn },
    }
}

/// Where a clean shutdown stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownPhase {
    /// Serving.
    Running,
    /// `Input::Shutdown` was fed; waiting for `Effect::ShutdownComplete`
    /// until `deadline`.
    HandingOver { deadline: Instant },
    /// The node said it is done, or the deadline passed, or a second
    /// signal insisted: flush the store and exit.
    Done,
}

impl ShutdownPhase {
    /// A shutdown request (signal or OMAPI). Returns true if it is the
    /// first one, i.e. `Input::Shutdown` must be fed now. A second request
    /// while handing over ends the wait (an operator pressing ^C twice).
    pub fn request(&mut self, now: Instant) -> bool {
        match *self {
            ShutdownPhase::Running => {
                *self = ShutdownPhase::HandingOver {
                    deadline: now + SHUTDOWN_DEADLINE,
                };
                true
            }
            ShutdownPhase::HandingOver { .. } | ShutdownPhase::Done => {
                *self = ShutdownPhase::Done;
                false
            }
        }
    }

    /// The node answered `ShutdownComplete`.
    pub fn complete(&mut self) {
        if *self != ShutdownPhase::Running {
            *self = ShutdownPhase::Done;
        }
    }

    /// The deadline passed: returns true the once it ends the hand-over.
    pub fn expire(&mut self, now: Instant) -> bool {
        match *self {
            ShutdownPhase::HandingOver { deadline } if now >= deadline => {
                *self = ShutdownPhase::Done;
                true
            }
            _ => false,
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        match *self {
            ShutdownPhase::HandingOver { deadline } => Some(deadline),
            _ => None,
        }
    }

    pub fn is_done(&self) -> bool {
        *self == ShutdownPhase::Done
    }
}

/// ISC's state numbers are the same in both crates.
pub fn peer_state(s: FailoverState) -> PeerState {
    PeerState::from_code(s as u32).unwrap_or(PeerState::Unknown)
}

fn failover_state(s: PeerState) -> Option<FailoverState> {
    use FailoverState as F;
    [
        F::Unknown,
        F::Startup,
        F::Normal,
        F::CommunicationsInterrupted,
        F::PartnerDown,
        F::PotentialConflict,
        F::Recover,
        F::Paused,
        F::Shutdown,
        F::RecoverDone,
        F::ResolutionInterrupted,
        F::ConflictDone,
        F::RecoverWait,
    ]
    .into_iter()
    .find(|f| *f as u32 == s.code())
}

/// OMAPI `failover-state` as `dhcp_failover_state_get_value` shows it.
pub fn state_object(p: &PeerInfo) -> FailoverStateObject {
    let time = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
    FailoverStateObject {
        name: p.name.clone(),
        partner_address: p.partner_addr,
        partner_port: p.partner_port,
        local_address: p.local_addr,
        local_port: p.local_port,
        max_outstanding_updates: p.max_unacked_updates,
        mclt: p.mclt,
        load_balance_max_secs: p.load_balance_max_seconds,
        load_balance_hba: p.hba,
        partner_state: peer_state(p.partner_state),
        local_state: peer_state(p.local_state),
        partner_stos: time(p.partner_stos),
        local_stos: time(p.local_stos),
        hierarchy: match p.role {
            Role::Primary => Hierarchy::Primary,
            Role::Secondary => Hierarchy::Secondary,
        },
        last_packet_sent: p.last_packet_sent.map(time).unwrap_or(0),
        last_timestamp_received: p.last_timestamp_received.map(time).unwrap_or(0),
        skew: i32::try_from(p.skew).unwrap_or(if p.skew < 0 { i32::MIN } else { i32::MAX }),
        max_response_delay: p.max_response_delay,
        cur_unacked_updates: p.cur_unacked_updates,
    }
}

/// The relationships as one OMAPI request sees them. The engine and the
/// relationships both live in the node, and OMAPI needs the engine mutably
/// while it looks at the relationships, so this is a snapshot; a
/// `local-state` change is shown at once and handed to the node after the
/// request ([`FailoverDesk::into_requests`]).
#[derive(Debug, Clone, Default)]
pub struct FailoverDesk {
    infos: Vec<PeerInfo>,
    requests: Vec<(String, FailoverState)>,
}

impl FailoverDesk {
    pub fn new(infos: Vec<PeerInfo>) -> Self {
        FailoverDesk {
            infos,
            requests: Vec::new(),
        }
    }

    /// The node inputs the request asked for, in order.
    pub fn into_requests(self) -> Vec<Input> {
        self.requests
            .into_iter()
            .map(|(peer, state)| Input::SetLocalState { peer, state })
            .collect()
    }
}

impl FailoverView for FailoverDesk {
    fn state(&self, name: &[u8]) -> Option<FailoverStateObject> {
        // dhcp_failover_state_lookup compares the name byte for byte.
        self.infos
            .iter()
            .find(|p| p.name.as_bytes() == name)
            .map(state_object)
    }

    fn set_local_state(&mut self, name: &str, state: PeerState) -> Result<(), IscResult> {
        let info = self
            .infos
            .iter_mut()
            .find(|p| p.name == name)
            .ok_or(IscResult::NOTFOUND)?;
        let wanted = failover_state(state).ok_or(IscResult::INVALIDARG)?;
        info.local_state = wanted;
        self.requests.push((name.to_string(), wanted));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_quads_resolve_without_lookup() {
        assert_eq!(resolve_ipv4("10.0.0.20"), Some(Ipv4Addr::new(10, 0, 0, 20)));
        assert_eq!(resolve_ipv4("localhost"), Some(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn every_state_number_maps_both_ways() {
        for code in (0..=11).chain([254]) {
            let p = PeerState::from_code(code).unwrap();
            let f = failover_state(p).unwrap();
            assert_eq!(f as u32, code);
            assert_eq!(peer_state(f), p);
        }
    }

    fn info(name: &str) -> PeerInfo {
        PeerInfo {
            name: name.to_string(),
            role: Role::Secondary,
            local_addr: Ipv4Addr::new(10, 0, 0, 20),
            local_port: 520,
            partner_addr: Ipv4Addr::new(10, 0, 0, 10),
            partner_port: 520,
            local_state: FailoverState::CommunicationsInterrupted,
            local_stos: 100,
            partner_state: FailoverState::Normal,
            partner_stos: 90,
            mclt: 1800,
            hba: None,
            max_response_delay: 30,
            partner_max_response_delay: Some(30),
            max_unacked_updates: 10,
            partner_max_unacked_updates: Some(10),
            load_balance_max_seconds: 3,
            cur_unacked_updates: 0,
            last_packet_sent: None,
            last_timestamp_received: Some(95),
            skew: -3,
            connected: false,
        }
    }

    #[test]
    fn desk_shows_the_relationships_and_collects_local_state_changes() {
        let mut desk = FailoverDesk::new(vec![info("foo"), info("bar")]);
        let foo = desk.state(b"foo").unwrap();
        assert_eq!(foo.hierarchy, Hierarchy::Secondary);
        assert_eq!(foo.local_state, PeerState::CommunicationsInterrupted);
        assert_eq!(foo.partner_port, 520);
        assert_eq!(
            (foo.local_stos, foo.last_packet_sent, foo.skew),
            (100, 0, -3)
        );
        // Byte-for-byte names: no case folding.
        assert!(desk.state(b"FOO").is_none());
        assert_eq!(
            desk.set_local_state("baz", PeerState::PartnerDown),
            Err(IscResult::NOTFOUND)
        );
        assert_eq!(desk.set_local_state("foo", PeerState::PartnerDown), Ok(()));
        // The answer to the update already shows the new state.
        assert_eq!(
            desk.state(b"foo").unwrap().local_state,
            PeerState::PartnerDown
        );
        assert_eq!(
            desk.into_requests(),
            vec![Input::SetLocalState {
                peer: "foo".to_string(),
                state: FailoverState::PartnerDown
            }]
        );
    }

    #[test]
    fn shutdown_hands_over_then_ends() {
        let t0 = Instant::now();
        let mut s = ShutdownPhase::Running;
        assert!(!s.expire(t0 + Duration::from_secs(100)));
        s.complete();
        assert_eq!(s, ShutdownPhase::Running, "no completion before a request");
        assert!(s.request(t0));
        assert_eq!(s.deadline(), Some(t0 + SHUTDOWN_DEADLINE));
        assert!(!s.expire(t0 + SHUTDOWN_DEADLINE - Duration::from_millis(1)));
        assert!(!s.is_done());
        s.complete();
        assert!(s.is_done());
    }

    #[test]
    fn shutdown_deadline_and_second_signal() {
        let t0 = Instant::now();
        let mut s = ShutdownPhase::Running;
        assert!(s.request(t0));
        assert!(s.expire(t0 + SHUTDOWN_DEADLINE));
        assert!(s.is_done());
        assert!(!s.expire(t0 + SHUTDOWN_DEADLINE * 2), "only once");

        let mut s = ShutdownPhase::Running;
        assert!(s.request(t0));
        assert!(
            !s.request(t0),
            "the second request does not feed Shutdown again"
        );
        assert!(s.is_done());
    }
}
