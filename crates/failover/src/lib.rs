//! Sans-I/O DHCPv4 failover, as ISC dhcpd 4.4 speaks it, so that Tandem can
//! pair with another Tandem or with an unmodified ISC dhcpd 4.4.3.
//!
//! The reference is `docs/isc-failover.md` (cited as §x.y), a digest of ISC's
//! `server/failover.c` (cited as `fo.c:NNN`, tag `v4_4_3`) and of
//! draft-ietf-dhc-failover-12. Where ISC and the draft differ, ISC wins.
//!
//! # Model
//!
//! Nothing here touches a socket, a file or a clock. Like quinn-proto, each
//! relationship is a state machine fed with `(now, input)` that returns
//! actions ([`peer::Peer::handle`] → [`peer::Action`]): send this message,
//! close that connection, persist this state record before going on, apply
//! this peer binding and tell me when it is durable, wake me at this time.
//! Time comes in as [`Now`]: wall-clock seconds for protocol times (STOS,
//! lease times, the 60 s clock check, MCLT) and monotonic milliseconds for
//! timers (receive timer, CONTACT, startup).
//!
//! | module | what | ISC |
//! |---|---|---|
//! | [`message`] | 12-byte header, message types 1-12, options 1-29, ISC's decoding rules, a streaming frame decoder, an encoder in ISC's option order | §1.2-§1.6, `fo.c:437-893`, `fo.c:4247-4871` |
//! | [`hash`] | RFC 3074 Pearson hash with ISC's table, HBA (`split`, polarity), `load balance max seconds` | §4, `fo.c:5918-6053` |
//! | [`state`] | the state tables: service state, link loss, the peer's STATE, UPDDONE | §2, `fo.c:1530-2441`, `fo.c:5804-5880` |
//! | [`binding`] | BNDUPD acceptance, BNDACK effects, the MCLT rule, TSTP, ownership, the BNDUPD we send | §3, `fo.c:5115-5687`, `fo.c:6061-6447`, `dhcp.c:2888-2949` |
//! | [`balance`] | pool balancing math and the rebalance timer | §3.9, `fo.c:2449-2810` |
//! | [`peer`] | one relationship: handshake, timers, state changes, update queue, conflict resolution, recovery, clean shutdown | §1.7, §2, §3.5-§3.8, §6 |
//!
//! The lease table is not ours: the engine owns it, gives the peer read access
//! through [`peer::LeaseView`], feeds [`peer::Input::LeaseChanged`] after each
//! propagated commit, and applies [`peer::Action::ApplyBinding`] /
//! [`peer::Action::BindingAcked`] (with [`binding::apply_bndack`]). The engine
//! asks the peer what it may do: [`peer::Peer::service_mode`],
//! [`peer::Peer::answers_discover`], [`peer::Peer::may_allocate`],
//! [`peer::Peer::lease_time`] (or the pure functions in [`binding`]).
//!
//! # Tandem extensions (beyond ISC; details in [`peer`])
//!
//! * safe automatic partner-down: only on evidence from clients' `secs`,
//!   never because a link is cut;
//! * hot standby: the secondary answers nobody while the primary is up;
//! * in recover-wait, renew bindings already known, allocate nothing new;
//! * pool-definition mismatch detection between two Tandems (option 29);
//! * a bounded "do better" clean shutdown that waits for partner-down and an
//!   empty queue, so the restart skips recover-wait;
//! * never a reaction that would make an ISC peer exit (conflict-done rules);
//! * rule 1 ("never hand one address to two clients") over ISC parity, found
//!   by `tandem-sim` (findings F2-F6), each rule stricter than ISC but
//!   harmless to an ISC peer (at worst it sees a BNDUPD rejected):
//!   - partner-down reuses an ended lease only after
//!     `max(ends, tstp, tsfp, STOS) + MCLT` (draft-12 §7.1.5), never
//!     lowering `tsfp` ([`binding::partner_down_reuse_after`]); ISC uses
//!     `STOS + MCLT`;
//!   - entering partner-down always records a fresh STOS, also from startup;
//!   - an update of the same binding (same client, ACTIVE) that is not newer
//!     (CLTT) never lowers `ends`/`tsfp`; an accepted update sets `tstp` to
//!     the peer's option 18, so we never echo a stale one back;
//!   - duelling updates also against our queued, unsent ACTIVE, and our
//!     ACTIVE beats an EXPIRED/RELEASED with an older CLTT;
//!   - FREE/BACKUP never replaces an ACTIVE lease whose `ends` is more than
//!     65 s ahead, whatever option 18 says.
//!
//! The configuration is this crate's own [`peer::PeerConfig`] (the server
//! converts `tandem_config::FailoverPeer` into it), so that this crate does
//! not depend on the config parser.

pub mod balance;
pub mod binding;
pub mod hash;
pub mod message;
pub mod peer;
pub mod state;

pub use message::{decode_for_fuzz, CodecError, FrameDecoder, Message};
pub use peer::{Action, Input, LeaseView, Peer, PeerConfig};
pub use state::ServiceMode;

/// Which side of the relationship this server is (`primary;` / `secondary;`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Primary,
    Secondary,
}

/// Time as the failover peer sees it (same shape as `tandem_engine::Now`,
/// defined here so that this crate does not depend on the engine).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Now {
    /// Seconds since the Unix epoch (UTC): protocol times.
    pub wall: u64,
    /// Monotonic milliseconds since an arbitrary start: timers.
    pub mono_ms: u64,
}

#[cfg(test)]
mod sim;
