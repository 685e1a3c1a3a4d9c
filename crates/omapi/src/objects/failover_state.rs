//! `failover-state`: one failover peer relationship (server/failover.c
//! `dhcp_failover_state_stuff`, `_get_value`, `_set_value`, `_lookup`).
//!
//! Lookup by `name` (the peer name of `failover peer "foo"`, compared byte for byte) or
//! `handle`. Cannot be created or removed (`ISC_R_NOTIMPLEMENTED`). Only `local-state` can
//! be changed: `set local-state = 4` + `update` moves this server to partner-down.

use std::net::Ipv4Addr;

use super::handle_key;
use crate::result::IscResult;
use crate::wire::{Attributes, Value};

/// Failover states with ISC's numbers (includes/failover.h `enum failover_state`;
/// dhcpd(8) lists them for omshell users). 1 is startup in 4.4 (partner-down in 3.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PeerState {
    /// 0: not a protocol state; the partner's state before it spoke.
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
    /// 254 (the draft gives it no number; ISC uses 254).
    RecoverWait,
}

impl PeerState {
    pub fn code(self) -> u32 {
        match self {
            PeerState::Unknown => 0,
            PeerState::Startup => 1,
            PeerState::Normal => 2,
            PeerState::CommunicationsInterrupted => 3,
            PeerState::PartnerDown => 4,
            PeerState::PotentialConflict => 5,
            PeerState::Recover => 6,
            PeerState::Paused => 7,
            PeerState::Shutdown => 8,
            PeerState::RecoverDone => 9,
            PeerState::ResolutionInterrupted => 10,
            PeerState::ConflictDone => 11,
            PeerState::RecoverWait => 254,
        }
    }

    pub fn from_code(code: u32) -> Option<PeerState> {
        Some(match code {
            0 => PeerState::Unknown,
            1 => PeerState::Startup,
            2 => PeerState::Normal,
            3 => PeerState::CommunicationsInterrupted,
            4 => PeerState::PartnerDown,
            5 => PeerState::PotentialConflict,
            6 => PeerState::Recover,
            7 => PeerState::Paused,
            8 => PeerState::Shutdown,
            9 => PeerState::RecoverDone,
            10 => PeerState::ResolutionInterrupted,
            11 => PeerState::ConflictDone,
            254 => PeerState::RecoverWait,
            _ => return None,
        })
    }

    /// The name dhcpd logs and writes in the lease file.
    pub fn name(self) -> &'static str {
        match self {
            PeerState::Unknown => "unknown-state",
            PeerState::Startup => "startup",
            PeerState::Normal => "normal",
            PeerState::CommunicationsInterrupted => "communications-interrupted",
            PeerState::PartnerDown => "partner-down",
            PeerState::PotentialConflict => "potential-conflict",
            PeerState::Recover => "recover",
            PeerState::Paused => "paused",
            PeerState::Shutdown => "shutdown",
            PeerState::RecoverDone => "recover-done",
            PeerState::ResolutionInterrupted => "resolution-interrupted",
            PeerState::ConflictDone => "conflict-done",
            PeerState::RecoverWait => "recover-wait",
        }
    }
}

/// This server's role (`i_am`: primary 0, secondary 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hierarchy {
    Primary,
    Secondary,
}

impl Hierarchy {
    pub fn code(self) -> u32 {
        match self {
            Hierarchy::Primary => 0,
            Hierarchy::Secondary => 1,
        }
    }
}

/// What a `failover-state` open or refresh reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailoverStateObject {
    /// `name`: the peer name (string).
    pub name: String,
    /// `partner-address`: the peer's address. ISC 4.4 writes `sizeof` a pointer's worth of
    /// the pointer itself here (8 bytes of garbage on 64-bit, the "display bug" omshell
    /// shows); we write the 4 address bytes, which is what its `get_value` gives.
    pub partner_address: Ipv4Addr,
    /// `partner-port`: 4-byte integer.
    pub partner_port: u16,
    /// `local-address`: as `partner-address`.
    pub local_address: Ipv4Addr,
    /// `local-port`: 4-byte integer.
    pub local_port: u16,
    /// `max-outstanding-updates`: `max-unacked-updates` (4-byte integer).
    pub max_outstanding_updates: u32,
    /// `mclt`: seconds (4-byte integer).
    pub mclt: u32,
    /// `load-balance-max-secs`: `load balance max seconds` (4-byte integer).
    pub load_balance_max_secs: u32,
    /// `load-balance-hba`: the 32-byte hash bucket bitmap (256 buckets, bit set = this
    /// server's; with `split 128` on the primary, 16 bytes of ff then 16 of 00). Omitted
    /// when there is none.
    pub load_balance_hba: Option<[u8; 32]>,
    /// `partner-state`: 4-byte integer ([`PeerState`] code).
    pub partner_state: PeerState,
    /// `local-state`: 4-byte integer ([`PeerState`] code); the one writable attribute.
    pub local_state: PeerState,
    /// `partner-stos`: when the partner entered its state (4-byte time).
    pub partner_stos: i64,
    /// `local-stos`: when this server entered its state (4-byte time).
    pub local_stos: i64,
    /// `hierarchy`: 0 primary, 1 secondary (4-byte integer).
    pub hierarchy: Hierarchy,
    /// `last-packet-sent`: time of the last failover message sent (4-byte time).
    pub last_packet_sent: i64,
    /// `last-timestamp-received`: the peer's timestamp in its last message (4-byte time).
    pub last_timestamp_received: i64,
    /// `skew`: estimated clock difference to the peer, seconds (4-byte integer).
    pub skew: i32,
    /// `max-response-delay`: seconds (4-byte integer).
    pub max_response_delay: u32,
    /// `cur-unacked-updates`: updates sent and not yet acknowledged (4-byte integer).
    pub cur_unacked_updates: u32,
}

impl FailoverStateObject {
    /// The values in `dhcp_failover_state_stuff`'s order.
    pub fn to_values(&self) -> Attributes {
        let mut v = Attributes::new()
            .with("name", Value::string(&self.name))
            .with("partner-address", Value::ipv4(self.partner_address))
            .with("partner-port", Value::int(u32::from(self.partner_port)))
            .with("local-address", Value::ipv4(self.local_address))
            .with("local-port", Value::int(u32::from(self.local_port)))
            .with(
                "max-outstanding-updates",
                Value::int(self.max_outstanding_updates),
            )
            .with("mclt", Value::int(self.mclt))
            .with(
                "load-balance-max-secs",
                Value::int(self.load_balance_max_secs),
            );
        if let Some(hba) = &self.load_balance_hba {
            v.push("load-balance-hba", Value::data(hba.to_vec()));
        }
        v.with("partner-state", Value::int(self.partner_state.code()))
            .with("local-state", Value::int(self.local_state.code()))
            .with("partner-stos", Value::time(self.partner_stos))
            .with("local-stos", Value::time(self.local_stos))
            .with("hierarchy", Value::int(self.hierarchy.code()))
            .with("last-packet-sent", Value::time(self.last_packet_sent))
            .with(
                "last-timestamp-received",
                Value::time(self.last_timestamp_received),
            )
            .with("skew", Value::signed(self.skew))
            .with("max-response-delay", Value::int(self.max_response_delay))
            .with("cur-unacked-updates", Value::int(self.cur_unacked_updates))
    }
}

/// The hash bucket bitmap of `split N` (server/confpars.c): bit `b % 8` of byte `b / 8` is
/// set for every bucket `b < N`. The bitmap names the primary's buckets on both peers (the
/// secondary reads it inverted), so both report the same `load-balance-hba`.
pub fn hba_for_split(split: u16) -> [u8; 32] {
    let mut hba = [0u8; 32];
    for bucket in 0..split.min(256) {
        hba[usize::from(bucket / 8)] |= 1 << (bucket % 8);
    }
    hba
}

/// Lookup keys of an open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailoverStateKey {
    pub handle: Option<u32>,
    /// The peer name, bytes as sent.
    pub name: Option<Vec<u8>>,
}

impl FailoverStateKey {
    /// `DHCP_R_NOKEYS` when neither `handle` nor `name` is given.
    pub fn from_values(values: &Attributes) -> Result<FailoverStateKey, IscResult> {
        let key = FailoverStateKey {
            handle: handle_key(values)?,
            name: super::bytes_key(values, "name"),
        };
        if key.handle.is_none() && key.name.is_none() {
            return Err(IscResult::NOKEYS);
        }
        Ok(key)
    }
}

/// What an update asks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FailoverStateChange {
    /// `local-state`: the state to move to.
    pub local_state: Option<PeerState>,
}

/// The attributes ISC accepts and ignores ("the fastest way to make dhcpctl do something
/// vaguely sane"): an update that echoes them back succeeds.
const READ_ONLY: [&str; 18] = [
    "name",
    "partner-address",
    "local-address",
    "partner-port",
    "local-port",
    "max-outstanding-updates",
    "mclt",
    "load-balance-max-secs",
    "load-balance-hba",
    "partner-state",
    "partner-stos",
    "local-stos",
    "hierarchy",
    "last-packet-sent",
    "last-timestamp-received",
    "skew",
    "max-response-delay",
    "cur-unacked-updates",
];

impl FailoverStateChange {
    /// ISC's rules: `local-state` must be a 4-byte integer (`DHCP_R_INVALIDARG`); we also
    /// refuse numbers that name no state (ISC would pass them to its state machine). The
    /// read-only attributes are accepted and ignored; any other name is `ISC_R_NOTFOUND`.
    pub fn from_values(values: &Attributes) -> Result<FailoverStateChange, IscResult> {
        let mut change = FailoverStateChange::default();
        for (name, value) in values.iter() {
            if name == "local-state" {
                let code = value.as_u32().ok_or(IscResult::INVALIDARG)?;
                change.local_state = Some(PeerState::from_code(code).ok_or(IscResult::INVALIDARG)?);
            } else if !READ_ONLY.contains(&name) {
                return Err(IscResult::NOTFOUND);
            }
        }
        Ok(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip() {
        for code in (0..=11).chain([254]) {
            let s = PeerState::from_code(code).unwrap();
            assert_eq!(s.code(), code);
        }
        assert_eq!(PeerState::from_code(12), None);
        assert_eq!(PeerState::PartnerDown.name(), "partner-down");
    }

    #[test]
    fn split_128_is_the_captured_bitmap() {
        let hba = hba_for_split(128);
        assert_eq!(&hba[..16], &[0xff; 16]);
        assert_eq!(&hba[16..], &[0; 16]);
        assert_eq!(hba_for_split(0), [0; 32]);
        assert_eq!(hba_for_split(256), [0xff; 32]);
        assert_eq!(hba_for_split(3)[0], 0b0000_0111);
    }

    #[test]
    fn change_rules() {
        let ok = Attributes::new()
            .with("local-state", Value::int(4))
            .with("mclt", Value::int(1));
        assert_eq!(
            FailoverStateChange::from_values(&ok),
            Ok(FailoverStateChange {
                local_state: Some(PeerState::PartnerDown)
            })
        );
        let short = Attributes::new().with("local-state", Value::data(vec![4]));
        assert_eq!(
            FailoverStateChange::from_values(&short),
            Err(IscResult::INVALIDARG)
        );
        let unknown = Attributes::new().with("frob", Value::int(1));
        assert_eq!(
            FailoverStateChange::from_values(&unknown),
            Err(IscResult::NOTFOUND)
        );
        assert_eq!(
            FailoverStateKey::from_values(&Attributes::new()),
            Err(IscResult::NOKEYS)
        );
        assert_eq!(
            FailoverStateKey::from_values(&Attributes::new().with("name", Value::string("foo")))
                .map(|k| k.name),
            Ok(Some(b"foo".to_vec()))
        );
    }
}
