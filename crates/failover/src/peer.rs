//! One failover relationship (`failover peer "NAME"`) as a sans-I/O state
//! machine: fed with `(now, input)`, it returns [`Action`]s. It owns no socket,
//! no clock and no lease: the driver opens TCP connections, decodes frames
//! ([`crate::message::FrameDecoder`]), fires timers, persists records, and
//! gives read access to the relationship's leases through [`LeaseView`].
//!
//! # Driving it
//!
//! ```text
//! let (mut peer, actions) = Peer::new(config, saved_record, now);
//! run(actions);                                   // OpenConnection, PersistState, Schedule…
//! loop {
//!     let actions = peer.handle(now, input, &leases);
//!     run(actions);                               // in order, see below
//! }
//! ```
//! * Actions must be executed **in order**. [`Action::PersistState`] is a
//!   barrier: the record must be durable before any later action of the same
//!   batch runs (ISC refuses a transition it cannot write, `fo.c:1846-1853`).
//!   If writing fails, drop the rest of the batch and feed
//!   [`Input::StatePersistFailed`] as the very next input: the state reverts.
//! * [`Action::ApplyBinding`] is a peer's BNDUPD that passed the acceptance
//!   rules. Persist the lease, then feed [`Input::BindingPersisted`] (or
//!   `BindingPersistFailed`): only then is the BNDACK sent. We send each
//!   BNDACK as soon as its lease is durable instead of ISC's batching (flush
//!   at half the window or after 2 s, `fo.c:2965-3003`): the store already
//!   groups fsyncs, and a prompt ack shortens the peer's MCLT-bound window.
//! * [`Action::Schedule`] asks for [`Input::Timer`] at a monotonic time. The
//!   peer remembers its own deadlines and ignores early or cancelled timers,
//!   so a driver may also just call [`Peer::handle_timeouts`] periodically.
//! * The engine feeds [`Input::LeaseChanged`] after committing a propagated
//!   lease change (ACK, expiry, release, abandon, balancing move). It must set
//!   `rewind_binding_state = binding_state` at that commit (a conservative
//!   form of ISC's write before sending, `fo.c:4731-4736`). The BNDUPD is built
//!   from the lease as [`LeaseView`] shows it when it is sent, as ISC does.
//!
//! # Connections (§1.1, §1.6, §1.7)
//!
//! Both servers listen and both connect. The primary sends CONNECT on every
//! connection, including accepted ones; the secondary answers CONNECTACK then
//! STATE; the primary then sends STATE. The first connection to complete the
//! handshake is the link; a second one is refused with reason 7 (duplicate
//! connection). CONNECT is checked in ISC's order: relationship name (8),
//! clock within 60 s (4), 32-byte HBA (18), no link yet (7), MCLT present (5).
//! A clock mismatch is logged with the measured offset; both sides keep
//! retrying every 5 s, so the link comes up as soon as the clocks agree.
//! Without CONNECT/CONNECTACK within 15 s a connection is closed. Messages
//! other than CONNECT, CONNECTACK and DISCONNECT on a connection that is not
//! the link are ignored.
//!
//! Timers (§6): receive timer = our `max-response-delay`, re-armed by every
//! message on the link; CONTACT after `partner max-response-delay / 3` s of
//! silence on our side (at least 1 s: ISC floods CONTACTs when the peer sent
//! no option 19 — we do not); startup 15 s; reconnect 5 s.
//!
//! # Tandem deviations and extensions
//!
//! * **Option 14 absent**: ISC never sends a BNDUPD (window 0); we use a window
//!   of 1.
//! * **UPDREQALL on every new link while in recover** (see `link_up`), so
//!   that a pair where both servers lost their lease files cannot deadlock.
//! * **UPDREQALL instead of UPDREQ** until an UPDREQALL has completed since
//!   we were last in recover (`send_update_request`).
//! * **Unacked updates on link loss** are always put back at the head of the
//!   send queue (ISC does it only when leaving normal, potential-conflict or
//!   partner-down and in conflict-done, so a partner-down server could lose
//!   window slots).
//! * **Clean shutdown** (§2.6): from normal we enter shutdown and then wait
//!   (up to `shutdown_wait_secs`, default 10) until the peer is partner-down
//!   *and* our send queue, unacked updates and pending acks are drained, so
//!   that the saved `recover` state gets `stos = now − MCLT` and the restart
//!   skips recover-wait more often than with ISC's fixed ~5 s.
//! * **Safe automatic partner-down** (`safe_partner_down = Some(S)`): in
//!   communications-interrupted we go to partner-down only on evidence that
//!   the peer is not serving clients: at least 3 [`Input::ClientRetrySeen`]
//!   with `secs >= S` (clients that retried S seconds without an answer) after
//!   at least S seconds in communications-interrupted. A cut link alone never
//!   causes it. ISC's timer-only `auto-partner-down` still works as in ISC.
//! * **Hot standby** (`hot_standby`): the secondary answers nobody while
//!   cooperating; a hot-standby primary answers every client (no load
//!   balancing). Pool balancing keeps only a reserve on the secondary (see
//!   `balance.rs`).
//! * **Renew in recover-wait**: [`Peer::service_mode`] is
//!   [`ServiceMode::RenewOnly`]: the engine may renew a binding it already
//!   holds (same client, same address; the MCLT rule applies) and allocates
//!   nothing until recover-done. ISC answers nobody in recover-wait.
//! * **Pool-definition check between Tandems**: CONNECT (always) and
//!   CONNECTACK (when the CONNECT's vendor class starts with `tandem`) carry
//!   option 29 = `"tandem" 0x01 0x08 <8-byte digest of the pool ranges>`. ISC
//!   skips option 29. A differing digest is logged as an error.
//! * **After a local command** the state table is applied at once to the
//!   peer state on record when that leads to normal
//!   (`state::reapply_peer_state`); ISC waits for the peer's next STATE,
//!   which never comes when the peer waits for us (e.g. forced partner-down
//!   facing a peer in recover-done).
//! * **Duelling updates**: our unacked ACTIVE beats an incoming FREE/BACKUP in
//!   both roles, and an EXPIRED/RELEASED with an older CLTT
//!   (`binding::own_update_is_better`). A queued, not yet sent ACTIVE of ours
//!   duels too (ISC: only one in flight); if ours wins it is sent next, if
//!   theirs wins ours is dropped from the queue (`on_bndupd`).
//! * **Partner-down**: entering it always records a fresh STOS, also from
//!   startup (ISC keeps the saved one), and [`Action::ExpiredTsfp`] raises
//!   `tsfp` to `binding::partner_down_reuse_after` (draft-12 §7.1.5) instead
//!   of setting ISC's `STOS + MCLT`.
//! * **Conflict-done safety**: never a state that makes an ISC peer in
//!   conflict-done exit (`state` module docs).
//! * **Local commands** that would make an ISC peer exit or panic
//!   (`state::isc_would_panic`) are refused with an error log, and so is
//!   `startup`.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::Ipv4Addr;

use tandem_lease::{FailoverState, FailoverStateRecord, Lease, PeerStateEntry, Time};

use crate::binding::{self, AckedUpdate, BindingContext};
use crate::hash::{self, Hba};
use crate::message::CodecError;
use crate::message::{
    reject_reason_text, BindingAck, BindingUpdate, Body, Connect, ConnectAck, Disconnect, Message,
    MessageType, RejectReason, StateMsg, FLAG_STARTUP, PROTOCOL_VERSION,
};
use crate::state::{self, PeerStateEvent, ServiceMode, Step};
use crate::{Now, Role};

use FailoverState::*;

/// Identifies one TCP connection to or from the peer (chosen by the driver).
pub type ConnId = u64;

/// Link start-up timeout (`fo.c:341`).
pub const LINK_STARTUP_SECS: u64 = 15;
/// State start-up timer (`fo.c:1924-1936`).
pub const STARTUP_SECS: u64 = 15;
/// Reconnect delay after a link closes or a connect fails (`fo.c:359-372`).
pub const RECONNECT_SECS: u64 = 5;
/// Largest clock difference accepted at CONNECT/CONNECTACK (§7).
pub const MAX_CLOCK_SKEW: i64 = 60;
/// ISC's default `max-response-delay`, used when the peer sent no option 19.
pub const DEFAULT_MAX_RESPONSE_DELAY: u32 = 20;
/// Client retries needed before safe partner-down acts.
pub const SAFE_PARTNER_DOWN_EVIDENCE: u32 = 3;
/// Magic at the start of our option 29.
pub const TANDEM_VENDOR_MAGIC: &[u8] = b"tandem";

/// `failover peer "NAME" { … }` as this crate needs it. The server converts
/// `tandem_config::FailoverPeer` into this (the crate does not depend on the
/// config parser). [`PeerConfig::new`] fills in ISC's defaults (§5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// The relationship name, compared byte for byte with option 22.
    pub name: String,
    pub role: Role,
    /// `mclt`: required on the primary. The secondary learns it from CONNECT
    /// (until then: the leases file's `mclt`, else this value).
    pub mclt: Option<u32>,
    /// The primary's HBA (`split`/`hba`); ignored on the secondary.
    pub hba: Option<Hba>,
    /// `max-response-delay` (20): our receive timer, sent as option 19.
    pub max_response_delay: u32,
    /// `max-unacked-updates` (100): sent as option 14.
    pub max_unacked_updates: u32,
    /// `load balance max seconds` (0 = load balancing off).
    pub load_balance_max_seconds: u32,
    /// `auto-partner-down` seconds (0 = off).
    pub auto_partner_down: u32,
    /// `max-lease-misbalance` % (15).
    pub max_lease_misbalance: u32,
    /// `max-lease-ownership` % (10).
    pub max_lease_ownership: u32,
    /// `min-balance` (60) and `max-balance` (3600) seconds.
    pub min_balance: u32,
    pub max_balance: u32,
    /// Tandem `hot-standby;`.
    pub hot_standby: bool,
    /// Tandem `safe-partner-down SECS;`.
    pub safe_partner_down: Option<u32>,
    /// Digest of this relationship's pool ranges ([`pool_digest`]).
    pub pool_digest: Option<[u8; 8]>,
    /// Longest wait for the peer to reach partner-down on clean shutdown.
    pub shutdown_wait_secs: u32,
}

impl PeerConfig {
    pub fn new(name: impl Into<String>, role: Role) -> Self {
        PeerConfig {
            name: name.into(),
            role,
            mclt: None,
            hba: None,
            max_response_delay: DEFAULT_MAX_RESPONSE_DELAY,
            max_unacked_updates: 100,
            load_balance_max_seconds: 0,
            auto_partner_down: 0,
            max_lease_misbalance: 15,
            max_lease_ownership: 10,
            min_balance: 60,
            max_balance: 3600,
            hot_standby: false,
            safe_partner_down: None,
            pool_digest: None,
            shutdown_wait_secs: 10,
        }
    }
}

/// FNV-1a 64 over the sorted ranges: equal pool definitions give equal
/// digests on both servers.
pub fn pool_digest(ranges: &[(Ipv4Addr, Ipv4Addr)]) -> [u8; 8] {
    let mut r = ranges.to_vec();
    r.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (a, b) in r {
        for byte in a.octets().into_iter().chain(b.octets()) {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h.to_be_bytes()
}

fn vendor_options(digest: &[u8; 8]) -> Vec<u8> {
    let mut v = TANDEM_VENDOR_MAGIC.to_vec();
    v.extend_from_slice(&[1, 8]);
    v.extend_from_slice(digest);
    v
}

fn parse_pool_digest(bytes: &[u8]) -> Option<[u8; 8]> {
    let mut rest = bytes.strip_prefix(TANDEM_VENDOR_MAGIC)?;
    while let [kind, len, tail @ ..] = rest {
        let data = tail.get(..usize::from(*len))?;
        if *kind == 1 {
            return <[u8; 8]>::try_from(data).ok();
        }
        rest = tail.get(usize::from(*len)..)?;
    }
    None
}

/// Our vendor-class-identifier (option 28).
pub fn vendor_class() -> String {
    format!("tandem-{}", env!("CARGO_PKG_VERSION"))
}

/// Read access to the leases of this relationship's pools.
pub trait LeaseView {
    /// The lease at `addr`, if it is in a pool of this relationship.
    fn lease(&self, addr: Ipv4Addr) -> Option<&Lease>;
    /// Every lease of this relationship's pools.
    fn for_each_lease(&self, f: &mut dyn FnMut(&Lease));
}

impl LeaseView for BTreeMap<Ipv4Addr, Lease> {
    fn lease(&self, addr: Ipv4Addr) -> Option<&Lease> {
        self.get(&addr)
    }
    fn for_each_lease(&self, f: &mut dyn FnMut(&Lease)) {
        self.values().for_each(f)
    }
}

impl LeaseView for HashMap<Ipv4Addr, Lease> {
    fn lease(&self, addr: Ipv4Addr) -> Option<&Lease> {
        self.get(&addr)
    }
    fn for_each_lease(&self, f: &mut dyn FnMut(&Lease)) {
        self.values().for_each(f)
    }
}

/// The timers of a relationship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// No CONNECT/CONNECTACK on this connection within 15 s.
    LinkStartup(ConnId),
    /// Nothing received on the link for `max-response-delay`.
    Receive,
    /// Send CONTACT.
    Contact,
    /// 15 s in startup.
    Startup,
    /// stos + MCLT reached in recover-wait.
    RecoverWait,
    /// `auto-partner-down` seconds in communications-interrupted.
    AutoPartnerDown,
    /// Try connecting again.
    Reconnect,
    /// Bounded wait during clean shutdown.
    ShutdownWait,
    /// Timer-driven pool rebalance.
    Rebalance,
}

/// Why the engine should run pool balancing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BalanceTrigger {
    /// Entering normal: rebalance, no POOLREQ.
    EnterNormal,
    /// The rebalance timer: rebalance; POOLREQ allowed.
    Timer,
    /// The peer sent POOLREQ: rebalance and report the count.
    PoolReq,
    /// Only recompute the next rebalance time (peer reported normal).
    Check,
}

/// Log severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    Debug,
    Info,
    Error,
}

/// What the driver feeds the peer.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A TCP connection to or from the peer is established.
    Connected {
        conn: ConnId,
    },
    /// An outgoing connection attempt failed.
    ConnectFailed,
    /// A connection closed (by the peer or the network).
    Disconnected {
        conn: ConnId,
    },
    /// A decoded message.
    Message {
        conn: ConnId,
        msg: Message,
    },
    /// The frame decoder failed: ISC drops the connection.
    ProtocolError {
        conn: ConnId,
        error: CodecError,
    },
    Timer(Timer),
    /// Operator command (OMAPI `local-state`, or a state forced in config).
    SetLocalState(FailoverState),
    /// Clean shutdown (SIGTERM, OMAPI control state 2).
    Shutdown,
    /// The engine committed a propagated change of this lease.
    LeaseChanged(Lease),
    /// The lease of an [`Action::ApplyBinding`] is durable.
    BindingPersisted {
        token: u64,
    },
    /// The lease of an [`Action::ApplyBinding`] could not be stored.
    BindingPersistFailed {
        token: u64,
    },
    /// The last [`Action::PersistState`] could not be made durable.
    StatePersistFailed,
    /// A client showed `secs` of retrying (safe partner-down evidence).
    ClientRetrySeen {
        secs: u16,
    },
    /// The engine ran pool balancing for `trigger`.
    PoolBalanced {
        trigger: BalanceTrigger,
        /// Leases handed to the peer.
        moved: u32,
        /// Some pool is short enough to ask the peer (POOLREQ).
        want_poolreq: bool,
        /// Wall time of the next timer-driven rebalance.
        next_check: Option<Time>,
    },
}

/// What the peer asks the driver to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open a TCP connection to `peer address`:`peer port` and report
    /// `Connected` or `ConnectFailed`.
    OpenConnection,
    /// Encode and write a message.
    Send {
        conn: ConnId,
        msg: Message,
    },
    /// Close a connection (no `Disconnected` needs to follow).
    Close {
        conn: ConnId,
    },
    /// Feed `Input::Timer(timer)` at monotonic time `at_ms`.
    Schedule {
        at_ms: u64,
        timer: Timer,
    },
    /// Append this record to the lease file and make it durable before any
    /// later action of this batch.
    PersistState(FailoverStateRecord),
    /// Store this lease (a peer's accepted BNDUPD), then report
    /// `BindingPersisted { token }`. If `mac_affinity`, the engine may then
    /// move the lease to BACKUP when `balance::secondary_not_hoarding`.
    ApplyBinding {
        token: u64,
        lease: Lease,
        mac_affinity: bool,
    },
    /// The peer acked our update: apply with `binding::apply_bndack`.
    BindingAcked(AckedUpdate),
    /// Entered partner-down: on every EXPIRED, RELEASED and RESET lease set
    /// `tsfp = binding::partner_down_reuse_after(lease, stos, mclt)`
    /// (`fo.c:1972-2015`; Tandem keeps the draft's max, never lowers `tsfp`).
    ExpiredTsfp {
        stos: Time,
        mclt: u32,
    },
    /// Run pool balancing (`balance::plan_balance`) and report `PoolBalanced`.
    PoolRebalance(BalanceTrigger),
    /// The service mode changed.
    ServiceChanged(ServiceMode),
    /// Clean shutdown finished: the process may exit.
    ShutdownComplete,
    Log {
        level: Level,
        text: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Handshake,
    Active,
}

#[derive(Debug, Clone)]
struct Conn {
    phase: Phase,
    /// `link->xid`: one counter per connection, from 0.
    xid: u32,
}

#[derive(Debug, Clone)]
struct Link {
    conn: ConnId,
    /// The peer's option 14.
    partner_max_unacked: u32,
    /// The peer's option 19.
    partner_max_response_delay: Option<u32>,
}

#[derive(Debug, Clone)]
struct InFlight {
    addr: Ipv4Addr,
    xid: u32,
    state: tandem_lease::BindingState,
    tstp: Time,
}

#[derive(Debug, Clone)]
struct PendingAck {
    conn: ConnId,
    xid: u32,
    addr: Ipv4Addr,
}

struct Cx<'a> {
    now: Now,
    leases: &'a dyn LeaseView,
}

/// One failover relationship.
pub struct Peer {
    cfg: PeerConfig,
    me: PeerStateEntry,
    /// The state saved when entering startup.
    saved: FailoverState,
    partner: PeerStateEntry,
    mclt: u32,
    hba: Option<Hba>,
    conns: BTreeMap<ConnId, Conn>,
    link: Option<Link>,
    timers: HashMap<Timer, u64>,
    queue: VecDeque<Ipv4Addr>,
    queued: HashSet<Ipv4Addr>,
    snapshots: HashMap<Ipv4Addr, Lease>,
    in_flight: VecDeque<InFlight>,
    pending_acks: HashMap<u64, PendingAck>,
    next_token: u64,
    /// Send UPDDONE once this address is acked (ISC `send_update_done`).
    update_done_after: Option<Ipv4Addr>,
    updxid: u32,
    /// Our outstanding UPDREQ/UPDREQALL (ISC `curUPD`).
    cur_upd: Option<MessageType>,
    /// We entered recover (lost or never had the lease database) and no
    /// UPDREQALL has completed since: any update request must be UPDREQALL.
    need_full_update: bool,
    shutting_down: bool,
    finished: bool,
    comm_int_since: Time,
    retry_evidence: u32,
    revert_to: Option<(PeerStateEntry, FailoverState)>,
    persisted_in_batch: bool,
    service: ServiceMode,
    pool_mismatch: bool,
    out: Vec<Action>,
}

impl Peer {
    /// Starts a relationship: loads the saved state (`None`: recover with
    /// `stos = now`, §2.2), enters startup, and asks for a connection.
    pub fn new(
        cfg: PeerConfig,
        saved: Option<&FailoverStateRecord>,
        now: Now,
    ) -> (Peer, Vec<Action>) {
        let me = saved
            .and_then(|r| r.me)
            .filter(|e| e.state != Startup)
            .unwrap_or(PeerStateEntry {
                state: Recover,
                stos: now.wall,
            });
        let partner = saved.and_then(|r| r.partner).unwrap_or(PeerStateEntry {
            state: Unknown,
            stos: 0,
        });
        let mclt = match cfg.role {
            Role::Primary => cfg.mclt.unwrap_or(0),
            Role::Secondary => saved.and_then(|r| r.mclt).or(cfg.mclt).unwrap_or(0),
        };
        let hba = match cfg.role {
            Role::Primary => cfg.hba,
            Role::Secondary => None,
        };
        let mut p = Peer {
            cfg,
            me,
            saved: me.state,
            partner,
            mclt,
            hba,
            conns: BTreeMap::new(),
            link: None,
            timers: HashMap::new(),
            queue: VecDeque::new(),
            queued: HashSet::new(),
            snapshots: HashMap::new(),
            in_flight: VecDeque::new(),
            pending_acks: HashMap::new(),
            next_token: 1,
            update_done_after: None,
            updxid: 0,
            cur_upd: None,
            need_full_update: me.state == Recover,
            shutting_down: false,
            finished: false,
            comm_int_since: now.wall,
            retry_evidence: 0,
            revert_to: None,
            persisted_in_batch: false,
            service: ServiceMode::NotResponding,
            pool_mismatch: false,
            out: Vec::new(),
        };
        let empty = BTreeMap::new();
        let cx = Cx {
            now,
            leases: &empty,
        };
        if p.cfg.role == Role::Primary && p.hba.is_none() {
            let text = format!(
                "failover peer {}: primary has no split or hba: load balancing cannot work",
                p.cfg.name
            );
            p.error(text);
        }
        p.set_state(&cx, Startup);
        p.out.push(Action::OpenConnection);
        let out = std::mem::take(&mut p.out);
        (p, out)
    }

    // ------------------------------------------------------------ queries

    pub fn config(&self) -> &PeerConfig {
        &self.cfg
    }
    pub fn name(&self) -> &str {
        &self.cfg.name
    }
    pub fn role(&self) -> Role {
        self.cfg.role
    }
    /// Our state (startup while starting up; see [`Peer::saved_state`]).
    pub fn state(&self) -> FailoverState {
        self.me.state
    }
    /// Our start time of state.
    pub fn stos(&self) -> Time {
        self.me.stos
    }
    /// The state we will resume after startup.
    pub fn saved_state(&self) -> FailoverState {
        self.saved
    }
    pub fn partner_state(&self) -> FailoverState {
        self.partner.state
    }
    pub fn mclt(&self) -> u32 {
        self.mclt
    }
    /// The primary's HBA (configured, or learned from CONNECT).
    pub fn hba(&self) -> Option<&Hba> {
        self.hba.as_ref()
    }
    /// True once the handshake completed on some connection.
    pub fn is_connected(&self) -> bool {
        self.link.is_some()
    }
    /// The last peer pool digest differed from ours.
    pub fn pool_mismatch(&self) -> bool {
        self.pool_mismatch
    }
    /// BNDUPDs waiting to be sent, and sent but not acked.
    pub fn pending_updates(&self) -> (usize, usize) {
        (self.queue.len(), self.in_flight.len())
    }

    /// The record ISC writes (`write_failover_state` `db.c:766-818`): the
    /// saved state while in startup; `mclt` on the secondary only.
    pub fn record(&self) -> FailoverStateRecord {
        let mut me = self.me;
        if me.state == Startup {
            me.state = self.saved;
        }
        FailoverStateRecord {
            peer: self.cfg.name.clone(),
            me: Some(me),
            partner: Some(self.partner),
            mclt: (self.cfg.role == Role::Secondary).then_some(self.mclt),
        }
    }

    /// What this server may do for clients of the relationship's pools, with
    /// Tandem's extensions (module docs) on top of [`state::serving`].
    pub fn service_mode(&self) -> ServiceMode {
        let base = state::serving(self.me.state, self.partner.state);
        if self.me.state == RecoverWait
            && !matches!(
                self.partner.state,
                PotentialConflict | ConflictDone | ResolutionInterrupted
            )
        {
            return ServiceMode::RenewOnly;
        }
        if base == ServiceMode::Cooperating
            && self.cfg.hot_standby
            && self.cfg.role == Role::Secondary
        {
            return ServiceMode::NotResponding;
        }
        base
    }

    /// Whether to answer a DISCOVER or BOOTREQUEST (load balancing, §4):
    /// `secs` already corrected ([`hash::effective_secs`]), `key` from
    /// [`hash::client_key`]. REQUESTs are never load-balanced.
    pub fn answers_discover(&self, secs: u16, key: &[u8]) -> bool {
        match self.service_mode() {
            ServiceMode::Cooperating => {
                (self.cfg.hot_standby && self.cfg.role == Role::Primary)
                    || hash::load_balance_mine(
                        self.hba.as_ref(),
                        self.cfg.role,
                        self.cfg.load_balance_max_seconds,
                        secs,
                        key,
                    )
            }
            ServiceMode::NotCooperating | ServiceMode::PartnerDown => true,
            ServiceMode::NotResponding | ServiceMode::RenewOnly => false,
        }
    }

    /// Whether a new client may be given `lease` now (§3.2).
    pub fn may_allocate(&self, lease: &Lease, now: Time) -> bool {
        match self.service_mode() {
            ServiceMode::NotResponding | ServiceMode::RenewOnly => false,
            _ => binding::may_allocate(
                lease,
                self.cfg.role,
                self.me.state,
                self.me.stos,
                self.mclt,
                now,
            ),
        }
    }

    /// The lease time to grant for `desired` on `lease` (§3.4).
    pub fn lease_time(&self, desired: u32, lease: &Lease, now: Time) -> u32 {
        binding::mclt_lease_time(desired, lease.tsfp, now, self.mclt)
    }

    /// The earliest pending timer (monotonic ms).
    pub fn next_timeout(&self) -> Option<u64> {
        self.timers.values().copied().min()
    }

    // ------------------------------------------------------------ input

    /// Fires every timer that is due.
    pub fn handle_timeouts(&mut self, now: Now, leases: &dyn LeaseView) -> Vec<Action> {
        let mut due: Vec<(u64, Timer)> = self
            .timers
            .iter()
            .filter(|(_, &at)| at <= now.mono_ms)
            .map(|(t, &at)| (at, *t))
            .collect();
        due.sort();
        let mut out = Vec::new();
        for (_, t) in due {
            out.extend(self.handle(now, Input::Timer(t), leases));
        }
        out
    }

    /// Feeds one input; returns the actions to execute, in order.
    pub fn handle(&mut self, now: Now, input: Input, leases: &dyn LeaseView) -> Vec<Action> {
        if self.finished {
            return Vec::new();
        }
        let cx = Cx { now, leases };
        let start = (self.me, self.saved);
        self.persisted_in_batch = false;
        match input {
            Input::StatePersistFailed => self.on_state_persist_failed(&cx),
            _ => {
                self.revert_to = None;
                self.dispatch(&cx, input);
            }
        }
        if self.persisted_in_batch {
            self.revert_to = Some(start);
        }
        self.check_shutdown_done(&cx);
        let mode = self.service_mode();
        if mode != self.service {
            self.service = mode;
            self.out.push(Action::ServiceChanged(mode));
        }
        std::mem::take(&mut self.out)
    }

    fn dispatch(&mut self, cx: &Cx, input: Input) {
        match input {
            Input::Connected { conn } => self.on_connected(cx, conn),
            Input::ConnectFailed => self.schedule_reconnect(cx),
            Input::Disconnected { conn } => {
                if self.conns.remove(&conn).is_some() {
                    self.conn_closed(cx, conn);
                }
            }
            Input::Message { conn, msg } => self.on_message(cx, conn, msg),
            Input::ProtocolError { conn, error } => {
                if self.conns.contains_key(&conn) {
                    self.error(format!("failover peer {}: {error}", self.cfg.name));
                    self.close(cx, conn);
                }
            }
            Input::Timer(t) => self.on_timer(cx, t),
            Input::SetLocalState(s) => self.on_set_local_state(cx, s),
            Input::Shutdown => self.on_shutdown(cx),
            Input::LeaseChanged(lease) => self.on_lease_changed(cx, lease),
            Input::BindingPersisted { token } => self.on_binding_persisted(cx, token, true),
            Input::BindingPersistFailed { token } => self.on_binding_persisted(cx, token, false),
            Input::StatePersistFailed => self.on_state_persist_failed(cx),
            Input::ClientRetrySeen { secs } => self.on_client_retry(cx, secs),
            Input::PoolBalanced {
                trigger,
                moved,
                want_poolreq,
                next_check,
            } => self.on_pool_balanced(cx, trigger, moved, want_poolreq, next_check),
        }
    }

    // ------------------------------------------------------------ helpers

    fn log(&mut self, level: Level, text: impl Into<String>) {
        self.out.push(Action::Log {
            level,
            text: text.into(),
        });
    }
    fn info(&mut self, text: impl Into<String>) {
        self.log(Level::Info, text);
    }
    fn error(&mut self, text: impl Into<String>) {
        self.log(Level::Error, text);
    }

    fn arm_at(&mut self, timer: Timer, at_ms: u64) {
        self.timers.insert(timer, at_ms);
        self.out.push(Action::Schedule { at_ms, timer });
    }
    fn arm(&mut self, cx: &Cx, timer: Timer, secs: u64) {
        self.arm_at(
            timer,
            cx.now.mono_ms.saturating_add(secs.saturating_mul(1000)),
        );
    }
    /// Arms a timer for a wall-clock time.
    fn arm_wall(&mut self, cx: &Cx, timer: Timer, at: Time) {
        self.arm(cx, timer, at.saturating_sub(cx.now.wall));
    }
    fn cancel(&mut self, timer: Timer) {
        self.timers.remove(&timer);
    }

    fn next_xid(&mut self, conn: ConnId) -> u32 {
        match self.conns.get_mut(&conn) {
            Some(c) => {
                let x = c.xid;
                c.xid = c.xid.wrapping_add(1);
                x
            }
            None => 0,
        }
    }

    fn send_with_xid(&mut self, cx: &Cx, conn: ConnId, xid: u32, body: Body) {
        let msg = Message::new(cx.now.wall as u32, xid, body);
        self.out.push(Action::Send { conn, msg });
        // Every message sent on the link re-arms CONTACT (`fo.c:4334-4350`).
        if let Some(link) = &self.link {
            if link.conn == conn {
                let mrd = link
                    .partner_max_response_delay
                    .unwrap_or(DEFAULT_MAX_RESPONSE_DELAY);
                self.arm(cx, Timer::Contact, u64::from((mrd / 3).max(1)));
            }
        }
    }
    fn send_new(&mut self, cx: &Cx, conn: ConnId, body: Body) {
        let xid = self.next_xid(conn);
        self.send_with_xid(cx, conn, xid, body);
    }
    /// Sends on the link, if there is one.
    fn send_link(&mut self, cx: &Cx, body: Body) -> bool {
        match self.link.as_ref().map(|l| l.conn) {
            Some(conn) => {
                self.send_new(cx, conn, body);
                true
            }
            None => false,
        }
    }

    fn close(&mut self, cx: &Cx, conn: ConnId) {
        if self.conns.remove(&conn).is_some() {
            self.out.push(Action::Close { conn });
            self.conn_closed(cx, conn);
        }
    }

    fn schedule_reconnect(&mut self, cx: &Cx) {
        if self.link.is_none()
            && !self.shutting_down
            && !self.timers.contains_key(&Timer::Reconnect)
        {
            self.arm(cx, Timer::Reconnect, RECONNECT_SECS);
        }
    }

    fn persist(&mut self) {
        self.persisted_in_batch = true;
        let r = self.record();
        self.out.push(Action::PersistState(r));
    }

    fn drained(&self) -> bool {
        self.queue.is_empty() && self.in_flight.is_empty() && self.pending_acks.is_empty()
    }

    fn state_body(&self) -> Body {
        let (state, flags) = if self.me.state == Startup {
            (self.saved, FLAG_STARTUP)
        } else {
            (self.me.state, 0)
        };
        Body::State(StateMsg {
            server_state: Some(state.code()),
            server_flags: Some(flags),
            stos: Some(u32::try_from(self.me.stos).unwrap_or(u32::MAX)),
        })
    }

    fn our_vendor_options(&self) -> Option<Vec<u8>> {
        self.cfg.pool_digest.as_ref().map(vendor_options)
    }

    fn check_pool_digest(&mut self, theirs: Option<&[u8]>) {
        let (Some(ours), Some(theirs)) = (self.cfg.pool_digest, theirs.and_then(parse_pool_digest))
        else {
            return;
        };
        if ours == theirs {
            self.pool_mismatch = false;
        } else {
            self.pool_mismatch = true;
            self.error(format!(
                "failover peer {}: the peer's pool definitions differ from ours (digest {} vs {}): both servers must declare the same ranges for this relationship",
                self.cfg.name,
                hex(&theirs),
                hex(&ours)
            ));
        }
    }

    // ------------------------------------------------------------ states

    /// `dhcp_failover_set_state` (`fo.c:1792-2022`).
    fn set_state(&mut self, cx: &Cx, new: FailoverState) {
        let old = self.me;
        if old.state == Startup && new == Startup {
            return;
        }
        // "If we're in certain states where we're sending updates … re-schedule
        // any pending updates" (`fo.c:1800-1812`).
        // Tandem: not when entering shutdown from normal. The link stays up
        // and the in-flight updates' BNDACKs are still coming; rescinding them
        // would discard those acks and hold the hand-over until ShutdownWait.
        if matches!(old.state, Normal | PotentialConflict | PartnerDown) && new != Shutdown {
            self.rescind();
        }
        // Keep the old stos entering recover-wait or startup, or leaving startup.
        // Tandem rule, stricter than ISC: entering partner-down always starts
        // a fresh STOS, also from startup (a command during startup, or the
        // saved state). The MCLT wait before using the peer's leases must
        // start when we start assuming the peer is down: a saved STOS from
        // long ago would let us take at once an address the peer handed out
        // while we were down.
        if new == PartnerDown || (new != RecoverWait && new != Startup && old.state != Startup) {
            self.me.stos = cx.now.wall;
        }
        // Shut down while the peer took over and nothing is pending: no need to
        // wait MCLT after the restart (`fo.c:1834-1839`).
        if new == Recover
            && old.state == Shutdown
            && self.partner.state == PartnerDown
            && self.queue.is_empty()
            && self.in_flight.is_empty()
        {
            self.me.stos = cx.now.wall.saturating_sub(u64::from(self.mclt));
        }
        self.me.state = new;
        if new == Startup {
            self.saved = old.state;
        }
        if new == Recover {
            self.need_full_update = true;
        }
        self.persist();
        self.info(format!(
            "failover peer {}: I move from {} to {}",
            self.cfg.name,
            old.state.keyword(),
            new.keyword()
        ));
        if new == Normal && self.partner.state == Normal {
            self.info(format!(
                "failover peer {}: Both servers normal",
                self.cfg.name
            ));
        }
        if old.state == Startup {
            self.cancel(Timer::Startup);
        }
        // "If the state changes for any reason, cancel 'delayed auto state changes'".
        self.cancel(Timer::AutoPartnerDown);
        if self.link.is_some() {
            let body = self.state_body();
            self.send_link(cx, body);
        }
        match new {
            CommunicationsInterrupted => {
                self.comm_int_since = cx.now.wall;
                self.retry_evidence = 0;
                if self.cfg.auto_partner_down > 0 {
                    let secs = u64::from(self.cfg.auto_partner_down);
                    self.arm(cx, Timer::AutoPartnerDown, secs);
                }
            }
            Normal => {
                // Rebalance, then queue what the peer has not acked (`fo.c:1902-1915`).
                self.out
                    .push(Action::PoolRebalance(BalanceTrigger::EnterNormal));
                self.generate_update_queue(cx, false);
                if !self.queue.is_empty() {
                    self.send_updates(cx);
                    self.info(format!("Sending updates to {}.", self.cfg.name));
                }
            }
            PotentialConflict
                if self.cfg.role == Role::Primary || self.partner.state == ConflictDone =>
            {
                self.send_update_request(cx);
            }
            Startup => self.arm(cx, Timer::Startup, STARTUP_SECS),
            RecoverWait => {
                let until = self.me.stos + u64::from(self.mclt);
                if until > cx.now.wall {
                    self.arm_wall(cx, Timer::RecoverWait, until);
                } else {
                    self.set_state(cx, RecoverDone);
                }
            }
            Recover if self.link.is_some() => self.send_update_request_all(cx),
            PartnerDown => {
                self.out.push(Action::ExpiredTsfp {
                    stos: self.me.stos,
                    mclt: self.mclt,
                });
            }
            _ => {}
        }
    }

    /// Moves unacked updates back to the head of the send queue
    /// (`dhcp_failover_rescind_updates` `fo.c:1762-1790`).
    fn rescind(&mut self) {
        while let Some(f) = self.in_flight.pop_back() {
            if self.queued.insert(f.addr) {
                self.queue.push_front(f.addr);
            }
        }
    }

    fn apply_steps(&mut self, cx: &Cx, steps: Vec<Step>) {
        for step in steps {
            match step {
                Step::Enter(s) => self.set_state(cx, s),
                Step::SendUpdReqAll => self.send_update_request_all(cx),
                Step::SendUpdReq => self.send_update_request(cx),
                Step::SendUpdates => self.send_updates(cx),
                Step::PoolCheck => self.out.push(Action::PoolRebalance(BalanceTrigger::Check)),
                Step::Info(t) => self.info(t),
                Step::Error(t) => self.error(t),
            }
        }
    }

    fn on_state_persist_failed(&mut self, cx: &Cx) {
        self.error(format!(
            "Unable to record current failover state for {}",
            self.cfg.name
        ));
        if let Some((me, saved)) = self.revert_to.take() {
            self.me = me;
            self.saved = saved;
            // Tell the peer where we really are.
            if self.link.is_some() {
                let body = self.state_body();
                self.send_link(cx, body);
            }
        }
    }

    fn on_set_local_state(&mut self, cx: &Cx, s: FailoverState) {
        if s == Startup {
            self.error(format!(
                "failover peer {}: refusing to enter startup on request",
                self.cfg.name
            ));
            return;
        }
        if state::isc_would_panic(self.partner.state, s) {
            self.error(format!(
                "failover peer {}: refusing to move to {} while the peer is in {} (it would shut down or exit)",
                self.cfg.name,
                s.keyword(),
                self.partner.state.keyword()
            ));
            return;
        }
        self.set_state(cx, s);
        // Tandem: react to the peer's current state now rather than wait for
        // its next STATE (`state::reapply_peer_state`).
        if self.link.is_some() && self.me.state == s {
            let ev = PeerStateEvent {
                role: self.cfg.role,
                my: self.me.state,
                saved: self.saved,
                previous: self.partner.state,
                reported: self.partner.state.code(),
                startup_flag: false,
            };
            let steps = state::reapply_peer_state(&self.cfg.name, ev);
            self.apply_steps(cx, steps);
        }
    }

    fn on_client_retry(&mut self, cx: &Cx, secs: u16) {
        let Some(threshold) = self.cfg.safe_partner_down else {
            return;
        };
        if self.me.state != CommunicationsInterrupted || u32::from(secs) < threshold {
            return;
        }
        self.retry_evidence += 1;
        let waited = cx.now.wall.saturating_sub(self.comm_int_since);
        if waited >= u64::from(threshold) && self.retry_evidence >= SAFE_PARTNER_DOWN_EVIDENCE {
            self.info(format!(
                "failover peer {}: {} clients retried for {} s or more without an answer, {} s after communications were interrupted: moving to partner-down (safe-partner-down)",
                self.cfg.name, self.retry_evidence, threshold, waited
            ));
            self.set_state(cx, PartnerDown);
        }
    }

    // ------------------------------------------------------------ shutdown

    fn on_shutdown(&mut self, cx: &Cx) {
        if self.shutting_down {
            return;
        }
        self.shutting_down = true;
        self.cancel(Timer::Reconnect);
        match self.me.state {
            Normal => {
                self.set_state(cx, Shutdown);
                let secs = u64::from(self.cfg.shutdown_wait_secs);
                self.arm(cx, Timer::ShutdownWait, secs);
            }
            Shutdown => {
                let secs = u64::from(self.cfg.shutdown_wait_secs);
                self.arm(cx, Timer::ShutdownWait, secs);
            }
            // ISC leaves relationships in other states alone (`dhcpd.c:1714-1720`).
            _ => self.finish_shutdown(cx),
        }
    }

    fn check_shutdown_done(&mut self, cx: &Cx) {
        if self.shutting_down
            && !self.finished
            && self.me.state == Shutdown
            && (self.link.is_none() || (self.partner.state == PartnerDown && self.drained()))
        {
            self.finish_shutdown(cx);
        }
    }

    /// `dhcpd.c:1726-1740`: drop the link without STATE, save recover.
    fn finish_shutdown(&mut self, cx: &Cx) {
        self.link = None;
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.out.push(Action::Close { conn });
        }
        self.conns.clear();
        if self.me.state == Shutdown {
            self.set_state(cx, Recover);
        }
        self.timers.clear();
        self.finished = true;
        self.out.push(Action::ShutdownComplete);
    }

    // ------------------------------------------------------------ connections

    fn on_connected(&mut self, cx: &Cx, conn: ConnId) {
        if self.conns.contains_key(&conn) || self.shutting_down {
            return;
        }
        self.conns.insert(
            conn,
            Conn {
                phase: Phase::Handshake,
                xid: 0,
            },
        );
        self.arm(cx, Timer::LinkStartup(conn), LINK_STARTUP_SECS);
        if self.cfg.role == Role::Primary {
            // `dhcp_failover_send_connect` (`fo.c:4483-4537`).
            let body = Body::Connect(Connect {
                relationship_name: Some(self.cfg.name.as_bytes().to_vec()),
                max_unacked: Some(self.cfg.max_unacked_updates),
                receive_timer: Some(self.cfg.max_response_delay),
                vendor_class: Some(vendor_class().into_bytes()),
                protocol_version: Some(PROTOCOL_VERSION),
                tls_request: Some(0),
                mclt: Some(self.mclt),
                hba: self.hba.map(|h| h.0.to_vec()),
                vendor_options: self.our_vendor_options(),
            });
            self.send_new(cx, conn, body);
        }
    }

    fn conn_closed(&mut self, cx: &Cx, conn: ConnId) {
        self.cancel(Timer::LinkStartup(conn));
        if self.link.as_ref().map(|l| l.conn) == Some(conn) {
            self.link_lost(cx);
        }
        self.schedule_reconnect(cx);
    }

    /// §2.2: the link dropped (`dhcp_failover_state_transition` "disconnect").
    fn link_lost(&mut self, cx: &Cx) {
        self.link = None;
        self.info(format!("peer {}: disconnected", self.cfg.name));
        self.cancel(Timer::Contact);
        self.cancel(Timer::Receive);
        self.cancel(Timer::Startup);
        self.pending_acks.clear();
        self.update_done_after = None;
        // Tandem: always resend what the peer never acked.
        self.rescind();
        let lost = state::on_link_lost(self.me.state, self.saved);
        if let Some(next) = lost.next {
            self.set_state(cx, next);
        }
    }

    fn clock_offset(&self, cx: &Cx, msg_time: u32) -> i64 {
        i64::from(msg_time) - i64::try_from(cx.now.wall).unwrap_or(i64::MAX)
    }

    fn clock_hint(offset: i64) -> String {
        format!(
            "the peer's clock is {} s {} ours; synchronise both servers with NTP (retrying every {} s)",
            offset.unsigned_abs(),
            if offset > 0 { "ahead of" } else { "behind" },
            RECONNECT_SECS
        )
    }

    /// The secondary's side of CONNECT (`fo.c:525-609`, `fo.c:1321-1362`).
    fn on_connect(&mut self, cx: &Cx, conn: ConnId, msg_time: u32, xid: u32, c: Connect) {
        let name = self.cfg.name.clone();
        let name_matches = c.relationship_name.as_deref() == Some(name.as_bytes());
        let offset = self.clock_offset(cx, msg_time);
        let refusal: Option<(RejectReason, String, String)> = if self.cfg.role == Role::Primary {
            Some((
                RejectReason::InvalidPartner,
                "both servers are configured as primary".into(),
                String::new(),
            ))
        } else if c.relationship_name.is_none() {
            Some((
                RejectReason::InvalidPartner,
                "missing relationship-name".into(),
                String::new(),
            ))
        } else if !name_matches {
            Some((
                RejectReason::InvalidPartner,
                "unknown failover relationship name".into(),
                String::new(),
            ))
        } else if offset.abs() > MAX_CLOCK_SKEW {
            Some((
                RejectReason::TimeMismatch,
                "time offset too large".into(),
                format!(" ({})", Self::clock_hint(offset)),
            ))
        } else if c.hba.as_ref().map(Vec::len) != Some(32) {
            Some((
                RejectReason::HbaConflict,
                "invalid HBA".into(),
                String::new(),
            ))
        } else if self.link.is_some() {
            Some((
                RejectReason::DuplicateConnection,
                "already connected".into(),
                String::new(),
            ))
        } else if c.mclt.is_none() {
            Some((
                RejectReason::InvalidMclt,
                "no MCLT provided".into(),
                String::new(),
            ))
        } else {
            None
        };
        let ack_name = if name_matches || c.relationship_name.is_none() {
            Some(name.as_bytes().to_vec())
        } else {
            c.relationship_name.clone()
        };
        let mut ack = ConnectAck {
            relationship_name: ack_name,
            max_unacked: Some(self.cfg.max_unacked_updates),
            receive_timer: Some(self.cfg.max_response_delay),
            vendor_class: Some(vendor_class().into_bytes()),
            protocol_version: Some(PROTOCOL_VERSION),
            tls_reply: c.tls_request.map(|_| 0),
            ..Default::default()
        };
        if let Some((reason, errmsg, detail)) = refusal {
            let who = match &c.relationship_name {
                Some(n) => String::from_utf8_lossy(n).into_owned(),
                None => "unknown".into(),
            };
            self.error(format!("Failover CONNECT from {who}: {errmsg}{detail}"));
            ack.reject_reason = Some(reason.code());
            ack.message = Some(errmsg.clone().into_bytes());
            self.send_with_xid(cx, conn, xid, Body::ConnectAck(ack));
            self.info(format!("failover: disconnect: {errmsg}"));
            self.close(cx, conn);
            return;
        }
        // Accepted: this connection is the link.
        let peer_is_tandem = c
            .vendor_class
            .as_deref()
            .is_some_and(|v| v.starts_with(TANDEM_VENDOR_MAGIC));
        if let Some(cn) = self.conns.get_mut(&conn) {
            cn.phase = Phase::Active;
        }
        self.link = Some(Link {
            conn,
            partner_max_unacked: c.max_unacked.unwrap_or(1).max(1),
            partner_max_response_delay: c.receive_timer,
        });
        self.cancel(Timer::LinkStartup(conn));
        if let Some(m) = c.mclt {
            if m != self.mclt {
                self.mclt = m;
                self.persist();
            }
        }
        self.hba = c.hba.as_deref().and_then(|h| Hba::from_bytes(h).ok());
        self.check_pool_digest(c.vendor_options.as_deref());
        if peer_is_tandem {
            ack.vendor_options = self.our_vendor_options();
        }
        self.send_with_xid(cx, conn, xid, Body::ConnectAck(ack));
        self.link_up(cx);
    }

    /// The handshake completed: send STATE (§1.7).
    fn link_up(&mut self, cx: &Cx) {
        let body = self.state_body();
        self.send_link(cx, body);
        // Tandem: a request that was outstanding on a lost link is re-sent on
        // the new one. ISC sends UPDREQALL only on entering recover or when
        // the peer reports recover, partner-down or comm-interrupted, so two
        // servers that both lost their disks can wait on each other forever
        // (us in recover, the peer in recover-wait/recover-done).
        if self.me.state == Recover {
            self.send_update_request_all(cx);
        }
    }

    /// The primary's side of CONNECTACK (`fo.c:1363-1469`).
    fn on_connectack(&mut self, cx: &Cx, conn: ConnId, msg_time: u32, a: ConnectAck) {
        self.cancel(Timer::LinkStartup(conn));
        let name = self.cfg.name.clone();
        if self.cfg.role == Role::Secondary {
            self.error(format!(
                "Failover CONNECTACK from {name}: unexpected, this server is secondary"
            ));
            self.close(cx, conn);
            return;
        }
        if let Some(reason) = a.reject_reason {
            let mut text = reject_reason_text(reason);
            if let Some(m) = &a.message {
                text.push_str(&format!(" ({})", String::from_utf8_lossy(m)));
            }
            if reason == RejectReason::TimeMismatch.code() {
                let offset = self.clock_offset(cx, msg_time);
                text.push_str(&format!(
                    "; our clock reads {}, the peer's {}: {}",
                    cx.now.wall,
                    msg_time,
                    Self::clock_hint(offset)
                ));
            }
            if a.relationship_name.is_some() {
                self.error(format!("Failover CONNECT to {name} rejected: {text}"));
                self.close(cx, conn);
                return;
            }
        }
        let offset = self.clock_offset(cx, msg_time);
        let problem: Option<(RejectReason, String)> = match &a.relationship_name {
            None => Some((
                RejectReason::InvalidPartner,
                "missing relationship-name".into(),
            )),
            Some(n) if n.as_slice() != name.as_bytes() => Some((
                RejectReason::InvalidPartner,
                format!(
                    "remote failover relationship name {} does not match",
                    String::from_utf8_lossy(n)
                ),
            )),
            Some(_) if self.link.is_some() => Some((
                RejectReason::DuplicateConnection,
                "already connected".into(),
            )),
            Some(_) if offset.abs() > MAX_CLOCK_SKEW => {
                Some((RejectReason::TimeMismatch, "time offset too large".into()))
            }
            Some(_) => None,
        };
        if let Some((reason, errmsg)) = problem {
            let detail = if reason == RejectReason::TimeMismatch {
                format!(" ({})", Self::clock_hint(offset))
            } else {
                String::new()
            };
            self.error(format!("Failover CONNECTACK from {name}: {errmsg}{detail}"));
            self.send_new(
                cx,
                conn,
                Body::Disconnect(Disconnect {
                    reject_reason: Some(reason.code()),
                    message: Some(errmsg.into_bytes()),
                }),
            );
            self.close(cx, conn);
            return;
        }
        if let Some(cn) = self.conns.get_mut(&conn) {
            cn.phase = Phase::Active;
        }
        self.link = Some(Link {
            conn,
            partner_max_unacked: a.max_unacked.unwrap_or(1).max(1),
            partner_max_response_delay: a.receive_timer,
        });
        self.check_pool_digest(a.vendor_options.as_deref());
        self.link_up(cx);
    }

    // ------------------------------------------------------------ messages

    fn on_message(&mut self, cx: &Cx, conn: ConnId, msg: Message) {
        let Some(phase) = self.conns.get(&conn).map(|c| c.phase) else {
            return;
        };
        let xid = msg.xid;
        match msg.body {
            // The CONNECTACK carries the CONNECT's xid.
            Body::Connect(c) => self.on_connect(cx, conn, msg.time, xid, c),
            Body::ConnectAck(a) => self.on_connectack(cx, conn, msg.time, a),
            Body::Disconnect(d) => {
                if let Some(r) = d.reject_reason.filter(|&r| r != 0) {
                    self.error(format!(
                        "Failover DISCONNECT from {}: {}",
                        self.cfg.name,
                        reject_reason_text(r)
                    ));
                }
                self.close(cx, conn);
            }
            body => {
                let active =
                    phase == Phase::Active && self.link.as_ref().map(|l| l.conn) == Some(conn);
                if !active {
                    self.log(
                        Level::Debug,
                        format!(
                            "failover peer {}: ignoring a {} message before the handshake",
                            self.cfg.name,
                            body.message_type().map_or("unknown", MessageType::name)
                        ),
                    );
                    return;
                }
                match body {
                    Body::BndUpd(b) => self.on_bndupd(cx, xid, b),
                    Body::BndAck(a) => self.on_bndack(cx, xid, a),
                    Body::UpdReq => self.on_update_request(cx, xid, false),
                    Body::UpdReqAll => self.on_update_request(cx, xid, true),
                    Body::UpdDone => self.on_update_done(cx),
                    Body::PoolReq => {
                        if self.me.state == Normal {
                            self.out
                                .push(Action::PoolRebalance(BalanceTrigger::PoolReq));
                        } else {
                            self.on_pool_balanced(cx, BalanceTrigger::PoolReq, 0, false, None);
                        }
                    }
                    Body::PoolResp {
                        addresses_transferred,
                    } => self.info(format!(
                        "pool response: {} leases",
                        addresses_transferred.unwrap_or(0)
                    )),
                    Body::State(s) => self.on_state(cx, s),
                    Body::Contact | Body::Unknown(_) => {}
                    Body::Connect(_) | Body::ConnectAck(_) | Body::Disconnect(_) => {}
                }
            }
        }
        // Any message on the link re-arms the receive timer (`fo.c:1505-1519`).
        if let Some(link) = &self.link {
            if link.conn == conn {
                let secs = u64::from(self.cfg.max_response_delay);
                self.arm(cx, Timer::Receive, secs);
            }
        }
    }

    fn on_state(&mut self, cx: &Cx, s: StateMsg) {
        let ev = PeerStateEvent {
            role: self.cfg.role,
            my: self.me.state,
            saved: self.saved,
            previous: self.partner.state,
            reported: s.server_state.unwrap_or(0),
            startup_flag: s.server_flags.unwrap_or(0) & FLAG_STARTUP != 0,
        };
        let o = state::on_peer_state(&self.cfg.name, ev);
        if o.record {
            let previous = self.partner.state;
            // ISC records its own receive time as the peer's STOS (`fo.c:2076`).
            self.partner = PeerStateEntry {
                state: o.peer,
                stos: cx.now.wall,
            };
            self.info(format!(
                "failover peer {}: peer moves from {} to {}",
                self.cfg.name,
                previous.keyword(),
                o.peer.keyword()
            ));
            if self.me.state == Normal && o.peer == Normal {
                self.info(format!(
                    "failover peer {}: Both servers normal",
                    self.cfg.name
                ));
            }
            self.persist();
        }
        self.apply_steps(cx, o.steps);
    }

    fn on_update_done(&mut self, cx: &Cx) {
        self.info(format!(
            "failover peer {}: peer update completed.",
            self.cfg.name
        ));
        if self.cur_upd == Some(MessageType::UpdReqAll) {
            self.need_full_update = false;
        }
        self.cur_upd = None;
        let steps = state::on_update_done(
            self.cfg.role,
            self.me.state,
            self.partner.state,
            self.me.stos,
            self.mclt,
            cx.now.wall,
        );
        self.apply_steps(cx, steps);
    }

    fn send_update_request(&mut self, cx: &Cx) {
        if self.link.is_none() {
            return;
        }
        // Restart an interrupted UPDREQALL rather than downgrade it
        // (`fo.c:4975-4979`). Tandem: also while our database is incomplete
        // (we were in recover): ISC would send UPDREQ when it goes from
        // startup-with-saved-recover straight to potential-conflict, and
        // never learn the peer's acknowledged bindings.
        if self.cur_upd == Some(MessageType::UpdReqAll) || self.need_full_update {
            self.send_update_request_all(cx);
            return;
        }
        self.send_link(cx, Body::UpdReq);
        self.cur_upd = Some(MessageType::UpdReq);
        self.info(format!("Sent update request message to {}", self.cfg.name));
    }

    fn send_update_request_all(&mut self, cx: &Cx) {
        if self.link.is_none() {
            return;
        }
        self.send_link(cx, Body::UpdReqAll);
        self.cur_upd = Some(MessageType::UpdReqAll);
        self.info(format!(
            "Sent update request all message to {}",
            self.cfg.name
        ));
    }

    fn send_update_done(&mut self, cx: &Cx) {
        if let Some(conn) = self.link.as_ref().map(|l| l.conn) {
            let xid = self.updxid;
            self.send_with_xid(cx, conn, xid, Body::UpdDone);
            self.info(format!("Sent update done message to {}", self.cfg.name));
        }
    }

    /// UPDREQ / UPDREQALL from the peer (`fo.c:5689-5802`).
    fn on_update_request(&mut self, cx: &Cx, xid: u32, all: bool) {
        if self.update_done_after.take().is_some() {
            self.info(
                "Received update request while old update still flying!  Silently discarding old request.",
            );
        }
        self.generate_update_queue(cx, all);
        self.updxid = xid;
        let what = if all {
            "Update request all"
        } else {
            "Update request"
        };
        match self.queue.back().copied() {
            Some(tail) => {
                self.update_done_after = Some(tail);
                self.send_updates(cx);
                self.info(format!("{what} from {}: sending update", self.cfg.name));
            }
            None => {
                self.send_update_done(cx);
                self.info(format!("{what} from {}: nothing pending", self.cfg.name));
            }
        }
    }

    /// `dhcp_failover_generate_update_queue` (`fo.c:5689-5734`).
    fn generate_update_queue(&mut self, cx: &Cx, everything: bool) {
        let mut add = Vec::new();
        let in_flight: HashSet<Ipv4Addr> = self.in_flight.iter().map(|f| f.addr).collect();
        cx.leases.for_each_lease(&mut |l| {
            if (everything || binding::needs_update(l)) && !in_flight.contains(&l.addr) {
                add.push(l.addr);
            }
        });
        for addr in add {
            if self.queued.insert(addr) {
                self.queue.push_back(addr);
            }
        }
    }

    fn on_lease_changed(&mut self, cx: &Cx, lease: Lease) {
        let addr = lease.addr;
        // A newer change replaces an unacked update (`fo.c:2891-2896`).
        if let Some(pos) = self.in_flight.iter().position(|f| f.addr == addr) {
            self.in_flight.remove(pos);
        }
        if self.queued.insert(addr) {
            self.queue.push_back(addr);
        }
        self.snapshots.insert(addr, lease);
        self.send_updates(cx);
    }

    /// `dhcp_failover_send_updates` (`fo.c:2812-2873`): send while the peer's
    /// window allows.
    fn send_updates(&mut self, cx: &Cx) {
        let Some((conn, window)) = self.link.as_ref().map(|l| (l.conn, l.partner_max_unacked))
        else {
            return;
        };
        while self.in_flight.len() < window as usize {
            let Some(&addr) = self.queue.front() else {
                break;
            };
            // Our BNDACK for the peer's update of this lease goes first
            // ("If there are acks pending, transmit them prior to potentially
            // sending new updates for the same lease").
            if self.pending_acks.values().any(|p| p.addr == addr) {
                break;
            }
            self.queue.pop_front();
            self.queued.remove(&addr);
            let snapshot = self.snapshots.remove(&addr);
            let Some(lease) = cx.leases.lease(addr).cloned().or(snapshot) else {
                continue;
            };
            let mut xid = self.next_xid(conn);
            // "last_xid == 0 is illegal" (`fo.c:4702-4706`).
            if xid == 0 {
                xid = self.next_xid(conn);
            }
            self.in_flight.push_back(InFlight {
                addr,
                xid,
                state: lease.binding_state,
                tstp: lease.tstp,
            });
            let b = binding::binding_update_for(&lease);
            self.send_with_xid(cx, conn, xid, Body::BndUpd(b));
        }
    }

    /// §3.6: a BNDUPD from the peer.
    fn on_bndupd(&mut self, cx: &Cx, xid: u32, b: BindingUpdate) {
        let Some(conn) = self.link.as_ref().map(|l| l.conn) else {
            return;
        };
        let addr = b.assigned_addr;
        let reject = |p: &mut Self, reason: RejectReason, message: String| {
            p.info(format!(
                "bind update on {} from {}: rejecting it: {message}",
                addr.unwrap_or(Ipv4Addr::UNSPECIFIED),
                p.cfg.name
            ));
            p.send_bndack(cx, conn, xid, addr, Some((reason, message)));
        };
        let (Some(a), Some(_)) = (addr, b.binding_status) else {
            reject(
                self,
                RejectReason::MissingBindInfo,
                "binding update lacks required options".into(),
            );
            return;
        };
        let Some(mine) = cx.leases.lease(a) else {
            reject(
                self,
                RejectReason::IllegalIpAddr,
                "unknown IP address".into(),
            );
            return;
        };
        let in_flight = self.in_flight.iter().find(|f| f.addr == a).map(|f| f.state);
        // Tandem rule, stricter than ISC (which duels only with an update
        // already sent, `fo.c:5212-5232`): an ACTIVE change of ours that is
        // queued but not sent yet duels too (CLTT decides). Otherwise an
        // older ACTIVE from the peer, arriving first after a heal, would
        // overwrite a newer grant of ours; rejected, it loses to our update,
        // which goes out next.
        let own_queued = in_flight.is_none()
            && self.queued.contains(&a)
            && mine.binding_state == tandem_lease::BindingState::Active;
        let in_flight = in_flight.or(own_queued.then_some(tandem_lease::BindingState::Active));
        let ctx = BindingContext {
            role: self.cfg.role,
            my_state: self.me.state,
            now: cx.now.wall,
            in_flight,
            hba: self.hba.as_ref(),
        };
        let result = binding::check_incoming_binding(mine, &b, &ctx);
        let superseded = match &result {
            Ok(acc) => acc.superseded_own_update,
            Err(rej) => rej.superseded_own_update,
        };
        if superseded {
            if own_queued {
                // The peer's binding is newer: ours is not sent.
                if self.queued.remove(&a) {
                    self.queue.retain(|&q| q != a);
                }
                self.snapshots.remove(&a);
            }
            if let Some(pos) = self.in_flight.iter().position(|f| f.addr == a) {
                self.in_flight.remove(pos);
            }
            self.check_update_done(cx, a);
        }
        match result {
            Ok(acc) => {
                let token = self.next_token;
                self.next_token += 1;
                self.pending_acks
                    .insert(token, PendingAck { conn, xid, addr: a });
                self.out.push(Action::ApplyBinding {
                    token,
                    lease: acc.lease,
                    mac_affinity: acc.mac_affinity,
                });
            }
            Err(rej) => reject(self, rej.reason, rej.message),
        }
    }

    fn send_bndack(
        &mut self,
        cx: &Cx,
        conn: ConnId,
        xid: u32,
        addr: Option<Ipv4Addr>,
        reject: Option<(RejectReason, String)>,
    ) {
        // Option 2 only, plus 21/16 when rejecting (§3.7).
        let (reject_reason, message) = match reject {
            Some((r, m)) => (Some(r.code()), Some(m.into_bytes())),
            None => (None, None),
        };
        let body = Body::BndAck(BindingAck {
            binding: BindingUpdate {
                assigned_addr: Some(addr.unwrap_or(Ipv4Addr::UNSPECIFIED)),
                ..Default::default()
            },
            reject_reason,
            message,
        });
        self.send_with_xid(cx, conn, xid, body);
    }

    fn on_binding_persisted(&mut self, cx: &Cx, token: u64, ok: bool) {
        let Some(p) = self.pending_acks.remove(&token) else {
            return;
        };
        if self.link.as_ref().map(|l| l.conn) != Some(p.conn) {
            return;
        }
        let reject = (!ok).then(|| {
            (
                RejectReason::MiscReject,
                "database update failed".to_string(),
            )
        });
        self.send_bndack(cx, p.conn, p.xid, Some(p.addr), reject);
        self.send_updates(cx);
    }

    /// §3.7: a BNDACK for one of our updates (`fo.c:5530-5687`).
    fn on_bndack(&mut self, cx: &Cx, xid: u32, a: BindingAck) {
        let addr = a.binding.assigned_addr.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let pos = self.in_flight.iter().position(|f| f.addr == addr);
        if let Some(reason) = a.reject_reason {
            let text = match &a.message {
                Some(m) => String::from_utf8_lossy(m).into_owned(),
                None => reject_reason_text(reason),
            };
            self.error(format!(
                "bind update on {addr} from {} rejected: {text}",
                self.cfg.name
            ));
            // Taken off the ack queue, not resent (`fo.c:5549-5561`).
            if let Some(pos) = pos {
                self.in_flight.remove(pos);
            }
            self.check_update_done(cx, addr);
            self.send_updates(cx);
            return;
        }
        let Some(pos) = pos else {
            // "Silently discard acks for leases we did not update."
            return;
        };
        let Some(f) = self.in_flight.get(pos).cloned() else {
            return;
        };
        if f.xid != xid {
            self.info(format!(
                "bind update on {addr} got ack from {}: xid mismatch.",
                self.cfg.name
            ));
            return;
        }
        self.in_flight.remove(pos);
        self.out.push(Action::BindingAcked(AckedUpdate {
            addr,
            sent_state: f.state,
            sent_tstp: f.tstp,
        }));
        self.check_update_done(cx, addr);
        self.send_updates(cx);
    }

    fn check_update_done(&mut self, cx: &Cx, addr: Ipv4Addr) {
        if self.update_done_after == Some(addr) {
            self.update_done_after = None;
            self.send_update_done(cx);
        }
    }

    fn on_pool_balanced(
        &mut self,
        cx: &Cx,
        trigger: BalanceTrigger,
        moved: u32,
        want_poolreq: bool,
        next_check: Option<Time>,
    ) {
        match trigger {
            BalanceTrigger::PoolReq => {
                self.send_link(
                    cx,
                    Body::PoolResp {
                        addresses_transferred: Some(moved),
                    },
                );
                if moved == 0 {
                    self.info(format!(
                        "peer {}: Got POOLREQ, answering negatively!  Peer may be out of leases or database inconsistent.",
                        self.cfg.name
                    ));
                }
            }
            BalanceTrigger::Timer if want_poolreq => {
                self.send_link(cx, Body::PoolReq);
            }
            _ => {}
        }
        // The rebalance timer only ever moves earlier (`fo.c:2781-2790`).
        if let Some(at) = next_check {
            if self.me.state == Normal {
                let at_ms = cx
                    .now
                    .mono_ms
                    .saturating_add(at.saturating_sub(cx.now.wall).saturating_mul(1000));
                let earlier = match self.timers.get(&Timer::Rebalance) {
                    Some(&cur) => at_ms < cur,
                    None => true,
                };
                if earlier {
                    self.arm_at(Timer::Rebalance, at_ms);
                }
            }
        }
    }

    // ------------------------------------------------------------ timers

    fn on_timer(&mut self, cx: &Cx, t: Timer) {
        match self.timers.get(&t) {
            Some(&at) if at <= cx.now.mono_ms => {
                self.timers.remove(&t);
            }
            // Early, or cancelled since it was scheduled.
            _ => return,
        }
        match t {
            Timer::LinkStartup(conn) => {
                if self.conns.get(&conn).map(|c| c.phase) == Some(Phase::Handshake) {
                    self.info("failover: link startup timeout");
                    self.close(cx, conn);
                }
            }
            Timer::Receive => {
                if let Some(conn) = self.link.as_ref().map(|l| l.conn) {
                    self.error(format!(
                        "timeout waiting for failover peer {}",
                        self.cfg.name
                    ));
                    self.close(cx, conn);
                }
            }
            Timer::Contact => {
                self.send_link(cx, Body::Contact);
            }
            Timer::Startup => {
                // "Handled like a disconnect using the saved state" (`fo.c:3162-3171`).
                if self.me.state == Startup {
                    let lost = state::on_link_lost(Startup, self.saved);
                    if let Some(next) = lost.next {
                        self.set_state(cx, next);
                    }
                }
            }
            Timer::RecoverWait => {
                if self.me.state == RecoverWait {
                    self.set_state(cx, RecoverDone);
                }
            }
            Timer::AutoPartnerDown => {
                if self.me.state == CommunicationsInterrupted {
                    self.set_state(cx, PartnerDown);
                }
            }
            Timer::Reconnect => {
                if self.link.is_none() && !self.shutting_down {
                    self.out.push(Action::OpenConnection);
                }
            }
            Timer::ShutdownWait => {
                if self.shutting_down {
                    self.finish_shutdown(cx);
                }
            }
            Timer::Rebalance => {
                if self.me.state == Normal {
                    self.out.push(Action::PoolRebalance(BalanceTrigger::Timer));
                }
            }
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_lease::BindingState;

    const T: u64 = 1_700_000_000;

    fn now() -> Now {
        Now {
            wall: T,
            mono_ms: 5_000,
        }
    }

    fn leases() -> BTreeMap<Ipv4Addr, Lease> {
        (1..=5u8)
            .map(|i| {
                let a = Ipv4Addr::new(10, 0, 0, i);
                (a, Lease::new(a, BindingState::Free))
            })
            .collect()
    }

    fn record(me: FailoverState, partner: FailoverState) -> FailoverStateRecord {
        FailoverStateRecord {
            peer: "foo".into(),
            me: Some(PeerStateEntry {
                state: me,
                stos: T - 100,
            }),
            partner: Some(PeerStateEntry {
                state: partner,
                stos: T - 100,
            }),
            mclt: Some(600),
        }
    }

    fn sent(actions: &[Action]) -> Vec<Message> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send { msg, .. } => Some(msg.clone()),
                _ => None,
            })
            .collect()
    }

    fn logs(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Log { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    fn msg(time: u64, xid: u32, body: Body) -> Input {
        Input::Message {
            conn: 1,
            msg: Message::new(time as u32, xid, body),
        }
    }

    fn good_connect() -> Connect {
        Connect {
            relationship_name: Some(b"foo".to_vec()),
            max_unacked: Some(2),
            receive_timer: Some(20),
            vendor_class: Some(b"isc-4.4.3".to_vec()),
            protocol_version: Some(1),
            tls_request: Some(0),
            mclt: Some(1800),
            hba: Some(vec![0xff; 32]),
            vendor_options: None,
        }
    }

    fn connectack_reason(actions: &[Action]) -> Option<Option<u8>> {
        sent(actions).into_iter().find_map(|m| match m.body {
            Body::ConnectAck(a) => Some(a.reject_reason),
            _ => None,
        })
    }

    fn secondary() -> Peer {
        let cfg = PeerConfig::new("foo", Role::Secondary);
        let (mut p, _) = Peer::new(cfg, Some(&record(Normal, Normal)), now());
        p.handle(now(), Input::Connected { conn: 1 }, &leases());
        p
    }

    /// F3: partner-down requested during startup starts a fresh STOS, so the
    /// MCLT wait before using the peer's leases starts now (ISC keeps the
    /// saved one).
    #[test]
    fn partner_down_from_startup_records_a_fresh_stos() {
        let cfg = PeerConfig::new("foo", Role::Secondary);
        let (mut p, _) = Peer::new(cfg, Some(&record(Normal, Normal)), now());
        assert_eq!(p.state(), Startup);
        let later = Now {
            wall: T + 50,
            mono_ms: 10_000,
        };
        let out = p.handle(later, Input::SetLocalState(PartnerDown), &leases());
        assert_eq!(p.state(), PartnerDown);
        assert_eq!(p.stos(), T + 50);
        assert!(out.iter().any(|a| matches!(
            a,
            Action::ExpiredTsfp { stos, mclt: 600 } if *stos == T + 50
        )));
        // Nothing of the peer's is usable before the fresh STOS + MCLT.
        let mut l = Lease::new(Ipv4Addr::new(10, 0, 0, 1), BindingState::Free);
        l.tsfp = T - 1000;
        assert!(!p.may_allocate(&l, T + 50 + 600));
        assert!(p.may_allocate(&l, T + 50 + 601));
    }

    /// F5: an older ACTIVE from the peer loses to our queued, not yet sent,
    /// ACTIVE (CLTT decides); ours goes out next.
    #[test]
    fn queued_own_active_beats_an_older_incoming_active() {
        let mut p = secondary();
        let mut l = leases();
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let mut mine = Lease::new(a, BindingState::Active);
        mine.hardware = Some(tandem_lease::Hardware {
            htype: 1,
            addr: vec![2, 0, 0, 0, 0, 1],
        });
        mine.cltt = T - 10;
        mine.ends = T + 900;
        mine.tstp = T + 1300;
        l.insert(a, mine.clone());
        p.handle(now(), msg(T, 1, Body::Connect(good_connect())), &l);
        assert!(p.link.is_some());
        // The peer's window is full: the change is queued, not sent.
        if let Some(link) = p.link.as_mut() {
            link.partner_max_unacked = 0;
        }
        p.handle(now(), Input::LeaseChanged(mine), &l);
        assert!(p.queued.contains(&a));
        let theirs = BindingUpdate {
            assigned_addr: Some(a),
            binding_status: Some(BindingState::Active.code()),
            chaddr: Some(vec![1, 2, 0, 0, 0, 0, 1]),
            lease_expiry: Some((T + 300) as u32),
            potential_expiry: Some((T + 600) as u32),
            stos: Some((T - 500) as u32),
            cltt: Some((T - 500) as u32),
            ..Default::default()
        };
        let out = p.handle(now(), msg(T, 7, Body::BndUpd(theirs.clone())), &l);
        let rejected = sent(&out).into_iter().any(|m| {
            matches!(m.body, Body::BndAck(ref b) if b.reject_reason
                == Some(RejectReason::LessCriticalBindInfo.code()))
        });
        assert!(rejected, "{out:?}");
        assert!(!out.iter().any(|a| matches!(a, Action::ApplyBinding { .. })));
        assert!(p.queued.contains(&a), "ours is still to be sent");
        // A newer one from the peer wins and drops our queued update.
        let newer = BindingUpdate {
            cltt: Some(T as u32),
            ..theirs
        };
        let out = p.handle(now(), msg(T, 8, Body::BndUpd(newer)), &l);
        assert!(out.iter().any(|a| matches!(a, Action::ApplyBinding { .. })));
        assert!(!p.queued.contains(&a));
    }

    #[test]
    fn connect_checks_in_iscs_order() {
        let l = leases();
        let cases: Vec<(Connect, u64, Option<u8>)> = vec![
            (
                Connect {
                    relationship_name: Some(b"bar".to_vec()),
                    ..good_connect()
                },
                T,
                Some(8),
            ),
            (
                Connect {
                    relationship_name: None,
                    ..good_connect()
                },
                T,
                Some(8),
            ),
            (good_connect(), T + 61, Some(4)),
            (good_connect(), T - 61, Some(4)),
            (
                Connect {
                    hba: Some(vec![0; 31]),
                    ..good_connect()
                },
                T,
                Some(18),
            ),
            (
                Connect {
                    hba: None,
                    ..good_connect()
                },
                T,
                Some(18),
            ),
            (
                Connect {
                    mclt: None,
                    ..good_connect()
                },
                T,
                Some(5),
            ),
            // The name is checked before the clock.
            (
                Connect {
                    relationship_name: Some(b"bar".to_vec()),
                    ..good_connect()
                },
                T + 100,
                Some(8),
            ),
            (good_connect(), T + 60, None),
        ];
        for (c, time, want) in cases {
            let mut p = secondary();
            let out = p.handle(now(), msg(time, 9, Body::Connect(c.clone())), &l);
            assert_eq!(connectack_reason(&out), Some(want), "{c:?} at {time}");
            let ack = sent(&out)
                .into_iter()
                .find(|m| matches!(m.body, Body::ConnectAck(_)))
                .unwrap();
            assert_eq!(ack.xid, 9, "CONNECTACK copies the CONNECT's xid");
            if want.is_some() {
                assert!(out.contains(&Action::Close { conn: 1 }));
                assert!(!p.is_connected());
            } else {
                assert!(p.is_connected());
                assert_eq!(p.mclt(), 1800);
                assert!(sent(&out).iter().any(|m| matches!(m.body, Body::State(_))));
            }
        }
        // A rejected unknown name is echoed back.
        let mut p = secondary();
        let c = Connect {
            relationship_name: Some(b"bar".to_vec()),
            ..good_connect()
        };
        let out = p.handle(now(), msg(T, 1, Body::Connect(c)), &l);
        let ack = sent(&out)
            .into_iter()
            .find_map(|m| match m.body {
                Body::ConnectAck(a) => Some(a),
                _ => None,
            })
            .unwrap();
        assert_eq!(ack.relationship_name.as_deref(), Some(&b"bar"[..]));
        assert_eq!(ack.tls_reply, Some(0));
        assert!(logs(&out)
            .iter()
            .any(|s| s == "Failover CONNECT from bar: unknown failover relationship name"));
    }

    #[test]
    fn second_connect_is_a_duplicate() {
        let l = leases();
        let mut p = secondary();
        p.handle(now(), msg(T, 0, Body::Connect(good_connect())), &l);
        p.handle(now(), Input::Connected { conn: 2 }, &l);
        let out = p.handle(
            now(),
            Input::Message {
                conn: 2,
                msg: Message::new(T as u32, 0, Body::Connect(good_connect())),
            },
            &l,
        );
        assert_eq!(connectack_reason(&out), Some(Some(7)));
        assert!(out.contains(&Action::Close { conn: 2 }));
        assert!(p.is_connected(), "closing the extra socket is harmless");
    }

    #[test]
    fn clock_rejection_is_explained() {
        let l = leases();
        let mut p = secondary();
        let out = p.handle(now(), msg(T + 90, 0, Body::Connect(good_connect())), &l);
        let text = logs(&out).join("\n");
        assert!(
            text.contains("time offset too large (the peer's clock is 90 s ahead of ours"),
            "{text}"
        );
        assert!(out.iter().any(|a| matches!(
            a,
            Action::Schedule {
                timer: Timer::Reconnect,
                ..
            }
        )));
    }

    /// A primary in normal with a link whose peer allows 2 unacked updates.
    fn linked_primary() -> Peer {
        let l = leases();
        let mut cfg = PeerConfig::new("foo", Role::Primary);
        cfg.mclt = Some(600);
        cfg.hba = Some(Hba::from_split(128).unwrap());
        let (mut p, _) = Peer::new(cfg, Some(&record(Normal, Normal)), now());
        let out = p.handle(now(), Input::Connected { conn: 1 }, &l);
        assert!(matches!(sent(&out)[0].body, Body::Connect(_)));
        let ack = ConnectAck {
            relationship_name: Some(b"foo".to_vec()),
            max_unacked: Some(2),
            receive_timer: Some(20),
            ..Default::default()
        };
        let out = p.handle(now(), msg(T, 0, Body::ConnectAck(ack)), &l);
        let st = sent(&out);
        match &st[0].body {
            Body::State(s) => {
                assert_eq!(s.server_state, Some(Normal.code()));
                assert_eq!(s.server_flags, Some(FLAG_STARTUP), "still in startup");
            }
            other => panic!("{other:?}"),
        }
        let state = StateMsg {
            server_state: Some(Normal.code()),
            server_flags: Some(0),
            stos: Some(T as u32),
        };
        p.handle(now(), msg(T, 1, Body::State(state)), &l);
        assert_eq!(p.state(), Normal);
        p
    }

    fn active(addr: Ipv4Addr) -> Lease {
        let mut l = Lease::new(addr, BindingState::Active);
        l.hardware = Some(tandem_lease::Hardware {
            htype: 1,
            addr: vec![1, 2, 3, 4, 5, 6],
        });
        l.tstp = T + 1000;
        l
    }

    #[test]
    fn window_and_acks() {
        let mut l = leases();
        let mut p = linked_primary();
        let mut xids = vec![];
        for i in 1..=3u8 {
            let lease = active(Ipv4Addr::new(10, 0, 0, i));
            l.insert(lease.addr, lease.clone());
            let out = p.handle(now(), Input::LeaseChanged(lease), &l);
            for m in sent(&out) {
                if let Body::BndUpd(b) = m.body {
                    assert_ne!(m.xid, 0);
                    xids.push((b.assigned_addr.unwrap(), m.xid));
                }
            }
        }
        assert_eq!(xids.len(), 2, "window of 2");
        assert_eq!(p.pending_updates(), (1, 2));
        let ack = |addr, reject: Option<u8>| {
            Body::BndAck(BindingAck {
                binding: BindingUpdate {
                    assigned_addr: Some(addr),
                    ..Default::default()
                },
                reject_reason: reject,
                message: None,
            })
        };
        // Wrong xid: logged, slot stays used.
        let (a1, x1) = xids[0];
        let out = p.handle(now(), msg(T, x1 + 7, ack(a1, None)), &l);
        assert!(logs(&out).iter().any(|s| s.contains("xid mismatch")));
        assert_eq!(p.pending_updates(), (1, 2));
        // Right xid: acked, the third update goes out.
        let out = p.handle(now(), msg(T, x1, ack(a1, None)), &l);
        assert!(out.iter().any(|a| matches!(a, Action::BindingAcked(AckedUpdate { sent_tstp, .. }) if *sent_tstp == T + 1000)));
        assert_eq!(sent(&out).len(), 1);
        assert_eq!(p.pending_updates(), (0, 2));
        // A reject: logged, dropped, not resent.
        let (a2, x2) = xids[1];
        let out = p.handle(now(), msg(T, x2, ack(a2, Some(2))), &l);
        assert!(logs(&out)
            .iter()
            .any(|s| s.contains("rejected: Fatal conflict exists")));
        assert_eq!(p.pending_updates(), (0, 1));
    }

    #[test]
    fn bndack_waits_for_persistence() {
        let l = leases();
        let mut p = linked_primary();
        let upd = BindingUpdate {
            assigned_addr: Some(Ipv4Addr::new(10, 0, 0, 2)),
            binding_status: Some(BindingState::Backup.code()),
            lease_expiry: Some(0),
            potential_expiry: Some(T as u32),
            stos: Some(T as u32),
            ..Default::default()
        };
        let out = p.handle(now(), msg(T, 44, Body::BndUpd(upd.clone())), &l);
        assert!(
            sent(&out).is_empty(),
            "no BNDACK before the lease is durable"
        );
        let token = out
            .iter()
            .find_map(|a| match a {
                Action::ApplyBinding { token, lease, .. } => {
                    assert_eq!(lease.binding_state, BindingState::Backup);
                    Some(*token)
                }
                _ => None,
            })
            .unwrap();
        let out = p.handle(now(), Input::BindingPersisted { token }, &l);
        let ack = &sent(&out)[0];
        assert_eq!(ack.xid, 44);
        assert_eq!(
            ack.body,
            Body::BndAck(BindingAck {
                binding: BindingUpdate {
                    assigned_addr: upd.assigned_addr,
                    ..Default::default()
                },
                reject_reason: None,
                message: None,
            })
        );
        // Persistence failure: a reject.
        let out = p.handle(now(), msg(T, 45, Body::BndUpd(upd)), &l);
        let token = out
            .iter()
            .find_map(|a| match a {
                Action::ApplyBinding { token, .. } => Some(*token),
                _ => None,
            })
            .unwrap();
        let out = p.handle(now(), Input::BindingPersistFailed { token }, &l);
        match &sent(&out)[0].body {
            Body::BndAck(a) => assert_eq!(a.reject_reason, Some(6)),
            other => panic!("{other:?}"),
        }
        // Unknown address: immediate reject reason 1.
        let upd = BindingUpdate {
            assigned_addr: Some(Ipv4Addr::new(10, 9, 9, 9)),
            binding_status: Some(1),
            ..Default::default()
        };
        let out = p.handle(now(), msg(T, 46, Body::BndUpd(upd)), &l);
        match &sent(&out)[0].body {
            Body::BndAck(a) => assert_eq!(a.reject_reason, Some(1)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn update_request_with_nothing_pending() {
        let l = leases();
        let mut p = linked_primary();
        let out = p.handle(now(), msg(T, 77, Body::UpdReq), &l);
        let m = &sent(&out)[0];
        assert_eq!((m.xid, &m.body), (77, &Body::UpdDone));
        assert!(logs(&out)
            .iter()
            .any(|s| s == "Update request from foo: nothing pending"));
        // UPDREQALL: every lease, then UPDDONE after the last ack.
        let out = p.handle(now(), msg(T, 78, Body::UpdReqAll), &l);
        assert_eq!(sent(&out).len(), 2, "window of 2");
        assert_eq!(p.pending_updates(), (3, 2));
    }

    #[test]
    fn poolreq_is_answered() {
        let l = leases();
        let mut p = linked_primary();
        let out = p.handle(now(), msg(T, 5, Body::PoolReq), &l);
        assert!(out.contains(&Action::PoolRebalance(BalanceTrigger::PoolReq)));
        let out = p.handle(
            now(),
            Input::PoolBalanced {
                trigger: BalanceTrigger::PoolReq,
                moved: 3,
                want_poolreq: false,
                next_check: Some(T + 60),
            },
            &l,
        );
        assert_eq!(
            sent(&out)[0].body,
            Body::PoolResp {
                addresses_transferred: Some(3)
            }
        );
        assert!(out.contains(&Action::Schedule {
            at_ms: 5_000 + 60_000,
            timer: Timer::Rebalance
        }));
        let out = p.handle(
            now(),
            Input::PoolBalanced {
                trigger: BalanceTrigger::Timer,
                moved: 0,
                want_poolreq: true,
                next_check: None,
            },
            &l,
        );
        assert_eq!(sent(&out)[0].body, Body::PoolReq);
    }

    #[test]
    fn messages_before_handshake_are_ignored() {
        let l = leases();
        let mut p = secondary();
        let out = p.handle(now(), msg(T, 1, Body::UpdReqAll), &l);
        assert!(sent(&out).is_empty());
        let out = p.handle(now(), msg(T, 2, Body::State(StateMsg::default())), &l);
        assert!(sent(&out).is_empty());
        assert_eq!(p.partner_state(), Normal, "from the record, untouched");
    }

    #[test]
    fn refuses_fatal_local_commands() {
        let l = leases();
        let mut p = linked_primary();
        let st = |s: FailoverState| StateMsg {
            server_state: Some(s.code()),
            server_flags: Some(0),
            stos: None,
        };
        // The peer goes potential-conflict: we (normal) must shut down (ISC's rule).
        p.handle(now(), msg(T, 3, Body::State(st(PotentialConflict))), &l);
        assert_eq!(p.state(), Shutdown);
        let out = p.handle(now(), Input::SetLocalState(Normal), &l);
        assert!(logs(&out)[0].contains("refusing to move to normal"));
        assert_eq!(p.state(), Shutdown);
        let out = p.handle(now(), Input::SetLocalState(Startup), &l);
        assert!(logs(&out)[0].contains("refusing"));
    }

    #[test]
    fn vendor_option_digest() {
        let d = pool_digest(&[(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 9))]);
        assert_eq!(parse_pool_digest(&vendor_options(&d)), Some(d));
        assert_eq!(parse_pool_digest(b"isc"), None);
        assert_eq!(parse_pool_digest(b"tandem\x01\x02ab"), None);
        assert_eq!(parse_pool_digest(b"tandem\x05"), None);
        // Order does not matter.
        let a = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 9));
        let b = (Ipv4Addr::new(10, 0, 1, 1), Ipv4Addr::new(10, 0, 1, 9));
        assert_eq!(pool_digest(&[a, b]), pool_digest(&[b, a]));
        assert_ne!(pool_digest(&[a]), pool_digest(&[b]));
    }
}
