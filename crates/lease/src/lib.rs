//! Lease records, ISC binding states, failover states, and the `dhcpd.leases`
//! text format (parse and print). Pure: no I/O. The journal that appends these
//! records to disk lives in `tandem-store`.
//!
//! * [`parse`] / [`parse_bytes`] read a whole file into [`Record`]s, in file
//!   order. They never fail: an unreadable record becomes a warning with its
//!   line, an incomplete last record (a crash in the middle of a write)
//!   becomes the [`TornTail`].
//! * [`print_record`] and [`print_header`] write ISC 4.4's exact layout;
//!   `parse(print(r)) == [r]` for every record.
//! * [`fold`] applies records in order into a [`LeaseDb`] (the last record for
//!   an address wins).

use std::net::Ipv4Addr;

mod fold;
mod lex;
mod parse;
mod print;
pub mod time;

pub use fold::{fold, LeaseDb};
pub use parse::{
    parse, parse_bytes, ParseOutcome, ParseWarning, SyntaxError, TornTail, WarningKind,
};
pub use print::{hardware_type_name, print_header, print_record, quote};

/// Print a batch of records (no header), as one string ready for one write.
pub fn print_records<'a>(records: impl IntoIterator<Item = &'a Record>) -> String {
    let mut out = String::new();
    for r in records {
        print_record(r, &mut out);
    }
    out
}

/// Seconds since the Unix epoch (UTC), as ISC writes and reads them.
pub type Time = u64;

/// `ends` value ISC uses for an infinite lease.
pub const INFINITE: Time = 0x7fff_ffff;

/// ISC binding states (`dhcpd.h`; draft-ietf-dhc-failover-12 §12.3 codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BindingState {
    Free = 1,
    Active = 2,
    Expired = 3,
    Released = 4,
    Abandoned = 5,
    Reset = 6,
    Backup = 7,
}

impl BindingState {
    /// The keyword ISC writes in `binding state X;`.
    pub fn keyword(self) -> &'static str {
        match self {
            BindingState::Free => "free",
            BindingState::Active => "active",
            BindingState::Expired => "expired",
            BindingState::Released => "released",
            BindingState::Abandoned => "abandoned",
            BindingState::Reset => "reset",
            BindingState::Backup => "backup",
        }
    }
    pub fn from_keyword(s: &str) -> Option<Self> {
        Some(match s {
            "free" => BindingState::Free,
            "active" => BindingState::Active,
            "expired" => BindingState::Expired,
            "released" => BindingState::Released,
            "abandoned" => BindingState::Abandoned,
            "reset" => BindingState::Reset,
            "backup" => BindingState::Backup,
            _ => return None,
        })
    }
    pub fn code(self) -> u8 {
        self as u8
    }
    pub fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            1 => BindingState::Free,
            2 => BindingState::Active,
            3 => BindingState::Expired,
            4 => BindingState::Released,
            5 => BindingState::Abandoned,
            6 => BindingState::Reset,
            7 => BindingState::Backup,
            _ => return None,
        })
    }
}

/// Failover server states, with ISC 4.4's wire codes (`failover.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailoverState {
    Unknown = 0,
    Startup = 1,
    Normal = 2,
    CommunicationsInterrupted = 3,
    PartnerDown = 4,
    PotentialConflict = 5,
    Recover = 6,
    Paused = 7,
    Shutdown = 8,
    RecoverDone = 9,
    ResolutionInterrupted = 10,
    ConflictDone = 11,
    RecoverWait = 254,
}

impl FailoverState {
    /// The name ISC uses in logs and in `dhcpd.leases` (`my state X`).
    pub fn keyword(self) -> &'static str {
        match self {
            FailoverState::Unknown => "unknown-state",
            FailoverState::Startup => "startup",
            FailoverState::Normal => "normal",
            FailoverState::CommunicationsInterrupted => "communications-interrupted",
            FailoverState::PartnerDown => "partner-down",
            FailoverState::PotentialConflict => "potential-conflict",
            FailoverState::Recover => "recover",
            FailoverState::Paused => "paused",
            FailoverState::Shutdown => "shutdown",
            FailoverState::RecoverDone => "recover-done",
            FailoverState::ResolutionInterrupted => "resolution-interrupted",
            FailoverState::ConflictDone => "conflict-done",
            FailoverState::RecoverWait => "recover-wait",
        }
    }
    pub fn from_keyword(s: &str) -> Option<Self> {
        Some(match s {
            "unknown-state" => FailoverState::Unknown,
            "startup" => FailoverState::Startup,
            "normal" => FailoverState::Normal,
            "communications-interrupted" => FailoverState::CommunicationsInterrupted,
            "partner-down" => FailoverState::PartnerDown,
            "potential-conflict" => FailoverState::PotentialConflict,
            "recover" => FailoverState::Recover,
            "paused" => FailoverState::Paused,
            "shutdown" => FailoverState::Shutdown,
            "recover-done" => FailoverState::RecoverDone,
            "resolution-interrupted" => FailoverState::ResolutionInterrupted,
            "conflict-done" => FailoverState::ConflictDone,
            "recover-wait" => FailoverState::RecoverWait,
            _ => return None,
        })
    }
    pub fn code(self) -> u8 {
        self as u8
    }
    pub fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            0 => FailoverState::Unknown,
            1 => FailoverState::Startup,
            2 => FailoverState::Normal,
            3 => FailoverState::CommunicationsInterrupted,
            4 => FailoverState::PartnerDown,
            5 => FailoverState::PotentialConflict,
            6 => FailoverState::Recover,
            7 => FailoverState::Paused,
            8 => FailoverState::Shutdown,
            9 => FailoverState::RecoverDone,
            10 => FailoverState::ResolutionInterrupted,
            11 => FailoverState::ConflictDone,
            254 => FailoverState::RecoverWait,
            _ => return None,
        })
    }
}

/// One lease as ISC keeps it (and writes it in a `lease A.B.C.D { ... }` block).
/// Times are absolute seconds since the epoch; 0 means "not set".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub addr: Ipv4Addr,
    pub starts: Time,
    pub ends: Time,
    /// Time sent to partner (failover).
    pub tstp: Time,
    /// Time sent from partner (failover).
    pub tsfp: Time,
    /// Acked time sent from partner (failover).
    pub atsfp: Time,
    /// Client last transaction time.
    pub cltt: Time,
    pub binding_state: BindingState,
    pub next_binding_state: Option<BindingState>,
    pub rewind_binding_state: Option<BindingState>,
    /// Hardware type and address (`hardware ethernet 02:..;`).
    pub hardware: Option<Hardware>,
    /// Raw client identifier (option 61 value, type byte included).
    pub uid: Option<Vec<u8>>,
    pub client_hostname: Option<String>,
    /// `reserved;` flag (failover IP-flags RESERVE).
    pub reserved: bool,
    /// `dynamic-bootp;` flag (failover IP-flags BOOTP).
    pub bootp: bool,
    /// `set NAME = VALUE;` statements carried on the lease: the name, and the
    /// value's source text as ISC writes it (`"text"` with ISC's escapes, see
    /// [`quote`]; `%123` for a number; `true`/`false`). One entry per name.
    pub vars: Vec<(String, String)>,
    /// Other statements on the lease, kept verbatim and written back as they
    /// are: `on expiry { ... }` / `on release { ... }` blocks, relay agent
    /// options (`option agent.circuit-id ...;`), `billing class "x";`.
    pub statements: Vec<String>,
}

impl Lease {
    /// A never-used lease in the given state (ISC: `ends == 0`).
    pub fn new(addr: Ipv4Addr, state: BindingState) -> Self {
        Lease {
            addr,
            starts: 0,
            ends: 0,
            tstp: 0,
            tsfp: 0,
            atsfp: 0,
            cltt: 0,
            binding_state: state,
            next_binding_state: None,
            rewind_binding_state: None,
            hardware: None,
            uid: None,
            client_hostname: None,
            reserved: false,
            bootp: false,
            vars: Vec::new(),
            statements: Vec::new(),
        }
    }
}

/// A hardware address with its ARP hardware type (1 = Ethernet).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hardware {
    pub htype: u8,
    pub addr: Vec<u8>,
}

/// One side's state in a `failover peer "NAME" state { ... }` block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerStateEntry {
    pub state: FailoverState,
    /// Start time of state (STOS). 0 when a hand-written block left out
    /// `at DATE`: ISC then uses the time the file is read.
    pub stos: Time,
}

/// `failover peer "NAME" state { my state X at T; partner state Y at T; mclt N; }`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverStateRecord {
    pub peer: String,
    pub me: Option<PeerStateEntry>,
    pub partner: Option<PeerStateEntry>,
    pub mclt: Option<u32>,
}

/// Everything a `dhcpd.leases` file can hold, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Lease(Lease),
    FailoverState(FailoverStateRecord),
    /// A host declared over OMAPI (`host NAME { dynamic; ... }`), or its deletion.
    Host(HostRecord),
    /// `server-duid`, `authoring-byte-order`, and other top-level lines kept as written.
    Other(String),
}

/// A host object created (or deleted) over OMAPI, as ISC stores it in the lease file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRecord {
    pub name: String,
    pub deleted: bool,
    pub hardware: Option<Hardware>,
    pub uid: Option<Vec<u8>>,
    pub fixed_address: Option<Ipv4Addr>,
    /// Statements inside `supersede`/`option` lines, kept as text.
    pub statements: Vec<String>,
}
