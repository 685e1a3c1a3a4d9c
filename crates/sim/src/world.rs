//! The simulated world: two servers, their disks and clocks, the TCP link
//! between them, the DHCP clients and the LAN, all driven by one event queue
//! ordered by virtual time.
//!
//! * Clocks. True time `now` is in ms from the start of the run. Each server
//!   has a monotonic clock (`mono_base + now`) and a wall clock
//!   (`T0 + now + skew`), where the skew is set by faults.
//! * Disk. `Effect::Persist` joins the current batch; the batch becomes
//!   durable after a small random delay (one "fdatasync" for everything
//!   queued meanwhile), and only then are the held effects carried out and
//!   `Persisted` fed back. The durable part is the lease file's text, printed
//!   with `tandem_lease::print_record`. A crash discards the batch and all
//!   memory; a restart parses the text, folds it (`tandem_lease::fold`) and
//!   builds a new node from it: what the real server does with `-lf`.
//! * TCP. In-order byte delivery with random delay (and random splits). A
//!   partition either cuts connections silently (the ends find out through
//!   their receive timers) or resets them, and refuses new ones. A killed
//!   process's connections are closed by its kernel (the peer sees EOF); a
//!   power loss leaves them silently dead.
//! * LAN. Broadcasts reach both servers, unicasts the addressed one, each
//!   datagram independently lost or delayed; replies go to the client with
//!   the reply's chaddr.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

use tandem_config::Config;
use tandem_failover::message::Body;
use tandem_failover::FrameDecoder;
use tandem_lease::{
    fold, print_header, print_record, BindingState, FailoverState, LeaseDb, Record,
};
use tandem_node::{ConnId, Destination, Effect, Input, Interface, LogLevel, Now, RxMeta};
use tandem_wire::{MessageType, Packet};

use crate::check::{fmt_ms, Cause, Checker, Evidence, Failure, Rule, Violation};
use crate::client::{id_of, Client, ClientEvent, Outgoing};
use crate::config::{PairParams, PRIMARY_ADDR, SECONDARY_ADDR};
use crate::rng::Rng;
use crate::server::SimServer;
use crate::Ms;

/// Wall clock at `now == 0`, in ms since the epoch (2023-11-14).
pub const T0_WALL_MS: i64 = 1_700_000_000_000;
/// Index of the primary in [`World::servers`].
pub const P: usize = 0;
/// Index of the secondary.
pub const S: usize = 1;
/// The relationship's name in the mission's configs.
pub const PEER_NAME: &str = "foo";

/// Timing of the simulated hardware.
#[derive(Debug, Clone)]
pub struct Params {
    pub pair: PairParams,
    /// One-way LAN delay, ms (min, max).
    pub dhcp_delay: (Ms, Ms),
    /// One-way delay between the servers, ms.
    pub tcp_delay: (Ms, Ms),
    /// From a write entering the batch to the batch being synced, ms.
    pub disk_delay: (Ms, Ms),
    /// Lease-file rewrites (ISC: hourly), ms between them.
    pub rewrite_every: (Ms, Ms),
}

impl Default for Params {
    fn default() -> Self {
        Params {
            pair: PairParams::default(),
            dhcp_delay: (1, 8),
            tcp_delay: (1, 25),
            disk_delay: (1, 20),
            rewrite_every: (120_000, 600_000),
        }
    }
}

/// Faults and operator actions, applied by scenarios or by the chaos
/// generator.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Cut the link between the servers: established connections die
    /// (silently, or reset), new ones are refused until [`Fault::Heal`].
    Partition {
        silent: bool,
    },
    Heal,
    /// kill -9 (`power_loss: false`: the kernel closes the sockets) or a
    /// power loss (connections die silently). Unsynced writes are lost.
    Crash {
        server: usize,
        power_loss: bool,
    },
    /// Start a stopped server from its lease file.
    Restart {
        server: usize,
    },
    /// Clean shutdown (SIGTERM); restart after the given delay, if any.
    Shutdown {
        server: usize,
        restart_after: Option<Ms>,
    },
    /// Set a server's wall clock offset from true time, ms.
    Skew {
        server: usize,
        ms: i64,
    },
    /// Probability that a DHCP datagram (either way) is lost.
    DhcpLoss(f64),
    /// Clients cannot reach this server (or can again).
    ClientsCutOff {
        server: usize,
        cut: bool,
    },
    /// The operator sets the server's relationship to partner-down (OMAPI
    /// `local-state`), as ISC's manual says to do when the peer is down.
    PartnerDown {
        server: usize,
    },
}

/// What happened, counted.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub events: u64,
    pub discovers: u64,
    pub offers: u64,
    pub acks: u64,
    pub naks: u64,
    pub releases: u64,
    pub expiries: u64,
    pub syncs: u64,
    pub rewrites: u64,
    pub crashes: u64,
    pub restarts: u64,
    pub shutdowns: u64,
    pub partitions: u64,
    pub partner_downs: u64,
    pub skews: u64,
    pub peer_messages: u64,
    pub connections: u64,
    /// Double holdings excused as known issues (see `check`).
    pub excused_peer_update_overwrite: u64,
    pub excused_partner_down_reuse: u64,
    pub excused_shortened_renewal: u64,
}

#[derive(Debug)]
pub(crate) enum Event {
    ClientWake {
        client: usize,
        at: Ms,
    },
    ClientLife {
        client: usize,
    },
    ToServer {
        server: usize,
        rx: RxMeta,
        bytes: Vec<u8>,
    },
    ToClient {
        client: usize,
        bytes: Vec<u8>,
        evidence: Option<Evidence>,
    },
    Tick {
        server: usize,
        inc: u32,
    },
    Timers {
        server: usize,
        inc: u32,
        at: Ms,
    },
    DiskSync {
        server: usize,
        inc: u32,
    },
    ConnectArrive {
        from: usize,
        inc: u32,
        peer: usize,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    },
    ConnectFailed {
        server: usize,
        inc: u32,
        peer: usize,
    },
    Connected {
        key: u64,
        side: usize,
    },
    PeerBytes {
        key: u64,
        side: usize,
        bytes: Vec<u8>,
    },
    PeerClosed {
        key: u64,
        side: usize,
        reset: bool,
    },
    Fault(Fault),
    Chaos,
}

struct Scheduled {
    at: Ms,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    /// Reversed: `BinaryHeap` pops the earliest event, FIFO among equals.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

enum Pending {
    Persist {
        records: Vec<Record>,
        then: Vec<Effect>,
        notify: Option<u64>,
        wall: u64,
    },
    Rewrite(Vec<Record>),
}

/// A server's disk: the durable lease file and the batch being written.
#[derive(Default)]
pub struct Disk {
    /// The lease file, as text (durable).
    pub text: String,
    /// `fold` of `text`, kept up to date for the checks.
    pub db: LeaseDb,
    pending: Vec<Pending>,
    sync_scheduled: bool,
}

/// One of the two servers.
pub struct Slot<N> {
    pub name: &'static str,
    pub addr: Ipv4Addr,
    config: Arc<Config>,
    pub node: Option<N>,
    /// Incarnation: bumped at every start, so that events meant for a
    /// previous process are dropped.
    pub inc: u32,
    pub disk: Disk,
    pub skew_ms: i64,
    mono_base: u64,
    timer_at: Option<Ms>,
    timer_storm: (Ms, u32),
    pub shutdown_at: Option<Ms>,
    restart_after_shutdown: Option<Ms>,
    /// A restart is scheduled (after a clean shutdown).
    restart_at: Option<Ms>,
    pub down_since: Option<Ms>,
    /// Failover states entered, with when.
    pub states: Vec<(Ms, FailoverState)>,
    state: Option<FailoverState>,
    pub logs: VecDeque<String>,
    /// Every log line, when [`World::keep_logs`] is set.
    pub all_logs: Vec<String>,
    pub clients_cut: bool,
    next_rewrite: Ms,
}

impl<N> Slot<N> {
    /// A restart is already on its way.
    pub fn restart_pending(&self) -> bool {
        self.restart_after_shutdown.is_some() || self.restart_at.is_some()
    }

    /// `recover@12.000s -> normal@13.020s ...`
    pub fn state_history(&self) -> String {
        self.states
            .iter()
            .map(|(t, s)| format!("{}@{}", s.keyword(), fmt_ms(*t)))
            .collect::<Vec<_>>()
            .join(" -> ")
    }

    /// Some kept log line contains `needle` (see [`World::keep_logs`]).
    pub fn logged(&self, needle: &str) -> bool {
        self.all_logs.iter().any(|l| l.contains(needle))
    }

    /// When the current partner-down began (a restart in partner-down
    /// keeps its start-of-state, as ISC does).
    pub fn partner_down_since(&self) -> Option<Ms> {
        let mut since = None;
        for (t, s) in self.states.iter().rev() {
            match s {
                FailoverState::PartnerDown => since = Some(*t),
                FailoverState::Startup => {}
                _ => break,
            }
        }
        since
    }

    /// Whether the server went through `seq` in this order (not
    /// necessarily consecutively) since `since`.
    pub fn went_through(&self, since: Ms, seq: &[FailoverState]) -> bool {
        let mut want = seq.iter().peekable();
        for (t, s) in &self.states {
            if *t < since {
                continue;
            }
            if want.peek() == Some(&s) {
                want.next();
            }
        }
        want.peek().is_none()
    }
}

struct End {
    server: usize,
    inc: u32,
    id: ConnId,
    peer: usize,
    open: bool,
    /// Decodes what this end sends, for the trace and the protocol check.
    tap: FrameDecoder,
    /// Decodes what this end receives, to see which bindings a delivery
    /// touches.
    rx_tap: FrameDecoder,
}

struct Conn {
    ends: [End; 2],
    broken: bool,
    /// Time of the last delivery scheduled towards each end (TCP keeps order).
    last: [Ms; 2],
}

/// Network conditions.
#[derive(Debug, Clone, Default)]
pub struct Net {
    pub partitioned: bool,
    pub dhcp_loss: f64,
}

/// Ring buffer of the last events.
pub struct Trace {
    lines: VecDeque<String>,
    cap: usize,
    echo: bool,
}

impl Trace {
    fn new(cap: usize) -> Trace {
        Trace {
            lines: VecDeque::with_capacity(cap),
            cap,
            echo: std::env::var_os("SIM_TRACE").is_some(),
        }
    }
    fn push(&mut self, line: String) {
        if self.echo {
            eprintln!("{line}");
        }
        if self.lines.len() == self.cap {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }
    pub fn lines(&self) -> Vec<String> {
        self.lines.iter().cloned().collect()
    }
}

/// Active operator partner-down episode: `survivor` was forced into
/// partner-down because `down` was down. Until both are back in normal,
/// the chaos generator keeps to what operators promise (the down server
/// comes back only when it can reach its partner).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Episode {
    pub survivor: usize,
    pub down: usize,
}

/// The chaos generator's settings (see `chaos.rs`).
#[derive(Debug, Clone)]
pub struct ChaosParams {
    /// No new faults after this time.
    pub until: Ms,
    /// Time between two decisions, ms.
    pub gap: (Ms, Ms),
    /// Clients power-cycle, release and come back.
    pub client_life: bool,
}

/// The whole simulation.
pub struct World<N> {
    pub seed: u64,
    pub scenario: String,
    pub now: Ms,
    seq: u64,
    queue: BinaryHeap<Scheduled>,
    pub rng: Rng,
    pub params: Params,
    pub servers: Vec<Slot<N>>,
    pub clients: Vec<Client>,
    client_wake: Vec<Option<Ms>>,
    conns: BTreeMap<u64, Conn>,
    next_key: u64,
    next_conn_id: ConnId,
    pub net: Net,
    pub trace: Trace,
    pub checker: Checker,
    pub stats: Stats,
    pub(crate) chaos: Option<ChaosParams>,
    pub episode: Option<Episode>,
    pub clients_frozen: bool,
    /// Keep every log line of the servers (scenarios that look for one).
    pub keep_logs: bool,
    violation: Option<Violation>,
    repro: Option<String>,
}

fn interface(addr: Ipv4Addr, k: usize) -> Interface {
    Interface {
        index: 1,
        name: "eth0".into(),
        addrs: vec![(addr, 24)],
        mac: vec![0x52, 0x54, 0, 0, 0, k as u8],
    }
}

fn summarize(body: &Body) -> String {
    let name = body.message_type().map_or("unknown", |t| t.name());
    match body {
        Body::BndUpd(b) => format!(
            "{name} {} st={} hw={} ends={} tstp={} cltt={}",
            b.assigned_addr
                .map_or_else(|| "-".into(), |a| a.to_string()),
            b.binding_status
                .and_then(BindingState::from_code)
                .map_or("?", |s| s.keyword()),
            b.chaddr
                .as_ref()
                .and_then(|c| c.last())
                .map_or_else(|| "-".into(), |x| format!("..{x:02x}")),
            b.lease_expiry.unwrap_or(0),
            b.potential_expiry.unwrap_or(0),
            b.cltt.unwrap_or(0)
        ),
        Body::BndAck(a) => format!(
            "{name} {}{}",
            a.binding
                .assigned_addr
                .map_or_else(|| "-".into(), |a| a.to_string()),
            a.reject_reason
                .map_or_else(String::new, |r| format!(" REJECT {r}"))
        ),
        Body::State(s) => format!(
            "{name} {}{}",
            s.server_state
                .and_then(FailoverState::from_code)
                .map_or("?", |s| s.keyword()),
            if s.server_flags.unwrap_or(0) & 1 != 0 {
                " (startup)"
            } else {
                ""
            }
        ),
        Body::ConnectAck(a) if a.reject_reason.is_some() => {
            format!("{name} REJECT {}", a.reject_reason.unwrap_or(0))
        }
        _ => name.to_owned(),
    }
}

/// A peer's update replaced an ACTIVE binding by something that ends it
/// sooner or gives it to someone else.
fn peer_change_loses(old: Option<&tandem_lease::Lease>, new: Option<&tandem_lease::Lease>) -> bool {
    let (Some(o), Some(n)) = (old, new) else {
        return false;
    };
    o.binding_state == BindingState::Active
        && (n.binding_state != BindingState::Active
            || n.hardware != o.hardware
            || n.uid != o.uid
            || n.ends < o.ends)
}

fn input_label(i: &Input) -> &'static str {
    match i {
        Input::Packet { .. } => "a DHCP packet",
        Input::Tick => "a tick",
        Input::Timers => "its timers",
        Input::PeerConnected { .. } => "a peer connection",
        Input::PeerConnectFailed { .. } => "a failed connect",
        Input::PeerBytes { .. } => "a message from its peer",
        Input::PeerClosed { .. } => "a closed peer connection",
        Input::Persisted { .. } => "a completed write",
        Input::SetLocalState { .. } => "an operator state change",
        Input::Shutdown => "shutdown",
    }
}

/// ISC's file cannot tell "next/rewind state equal to the current one"
/// from "none" (it writes neither), and `tandem_lease` reads both as none.
fn normalized(l: &tandem_lease::Lease) -> tandem_lease::Lease {
    let mut l = l.clone();
    if l.next_binding_state == Some(l.binding_state) {
        l.next_binding_state = None;
    }
    if l.rewind_binding_state == Some(l.binding_state) {
        l.rewind_binding_state = None;
    }
    l
}

/// `written` and `read` agree, up to what the file format cannot carry.
fn same_db(written: &LeaseDb, read: &LeaseDb) -> bool {
    written.failover == read.failover
        && written.other == read.other
        && written.hosts == read.hosts
        && written.leases.len() == read.leases.len()
        && written
            .leases
            .iter()
            .zip(read.leases.iter())
            .all(|((a, w), (b, r))| a == b && normalized(w) == normalized(r))
}

/// The first difference between what was written and what reads back.
fn first_difference(written: &LeaseDb, read: &LeaseDb) -> String {
    for (a, w) in &written.leases {
        match read.leases.get(a) {
            Some(r) if normalized(r) == normalized(w) => {}
            r => return format!("written {w:?}, read back {r:?}"),
        }
    }
    if let Some(a) = read.leases.keys().find(|a| !written.leases.contains_key(a)) {
        return format!("{a} read back but never written");
    }
    if written.failover != read.failover {
        return format!(
            "failover state written {:?}, read back {:?}",
            written.failover, read.failover
        );
    }
    format!(
        "other records: written {:?}, read back {:?}",
        written.other, read.other
    )
}

impl<N: SimServer> World<N> {
    /// Two servers with empty lease files, started at t=0; no clients yet.
    pub fn new(seed: u64, scenario: &str, params: Params) -> Result<World<N>, Box<Failure>> {
        let configs = crate::config::pair(&params.pair);
        let mut rng = Rng::new(seed);
        let mut w = World {
            seed,
            scenario: scenario.to_owned(),
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            rng: rng.fork(),
            params,
            servers: Vec::new(),
            clients: Vec::new(),
            client_wake: Vec::new(),
            conns: BTreeMap::new(),
            next_key: 1,
            next_conn_id: 1,
            net: Net::default(),
            trace: Trace::new(60),
            checker: Checker::default(),
            stats: Stats::default(),
            chaos: None,
            episode: None,
            clients_frozen: false,
            keep_logs: false,
            violation: None,
            repro: None,
        };
        let configs = match configs {
            Ok(c) => c,
            Err(e) => {
                let v = Violation::new(Rule::Boot, format!("config: {}", e.message));
                return Err(w.failure(v));
            }
        };
        for (k, (name, addr, config)) in [("primary", PRIMARY_ADDR), ("secondary", SECONDARY_ADDR)]
            .into_iter()
            .zip(configs)
            .map(|((n, a), c)| (n, a, c))
            .enumerate()
        {
            w.servers.push(Slot {
                name,
                addr,
                config,
                node: None,
                inc: 0,
                disk: Disk::default(),
                skew_ms: 0,
                mono_base: 5_000_000 + 1_000_000 * k as u64,
                timer_at: None,
                timer_storm: (0, 0),
                shutdown_at: None,
                restart_after_shutdown: None,
                restart_at: None,
                down_since: Some(0),
                states: Vec::new(),
                state: None,
                logs: VecDeque::new(),
                all_logs: Vec::new(),
                clients_cut: false,
                next_rewrite: 0,
            });
        }
        for k in 0..2 {
            w.boot(k);
        }
        w.take_violation()?;
        Ok(w)
    }

    // ------------------------------------------------------------ clocks

    /// Server `k`'s wall clock, ms since the epoch.
    pub fn wall_ms(&self, k: usize) -> i64 {
        self.wall_ms_at(k, self.now)
    }

    /// Server `k`'s wall clock at true time `t` (with its current skew).
    pub fn wall_ms_at(&self, k: usize, t: Ms) -> i64 {
        T0_WALL_MS + t as i64 + self.servers.get(k).map_or(0, |s| s.skew_ms)
    }

    fn now_of(&self, k: usize) -> Now {
        Now {
            wall: self.wall_ms(k).div_euclid(1000).max(0) as u64,
            mono_ms: self.servers.get(k).map_or(0, |s| s.mono_base) + self.now,
        }
    }

    // ------------------------------------------------------------ queue

    pub(crate) fn schedule(&mut self, at: Ms, event: Event) {
        self.seq += 1;
        self.queue.push(Scheduled {
            at: at.max(self.now),
            seq: self.seq,
            event,
        });
    }

    pub(crate) fn note(&mut self, what: String) {
        self.trace.push(format!("{:>10} {what}", fmt_ms(self.now)));
    }

    pub(crate) fn fail(&mut self, v: Violation) {
        if self.violation.is_none() {
            self.note(format!("VIOLATION {v}"));
            self.violation = Some(v);
        }
    }

    fn take_violation(&mut self) -> Result<(), Box<Failure>> {
        match self.violation.take() {
            Some(v) => Err(self.failure(v)),
            None => Ok(()),
        }
    }

    /// A failure report for `v` at the current time.
    pub fn failure(&self, v: Violation) -> Box<Failure> {
        let strict = if self.checker.allow == crate::check::Allowances::strict() {
            "SIM_STRICT=1 "
        } else {
            ""
        };
        let repro = self.repro.clone().unwrap_or_else(|| {
            format!(
                "{strict}SIM_SEED={} cargo test --release -p tandem-sim --test seeds -- --nocapture",
                self.seed
            )
        });
        Box::new(Failure {
            seed: self.seed,
            scenario: self.scenario.clone(),
            at: self.now,
            violation: v,
            trace: self.trace.lines(),
            logs: self
                .servers
                .iter()
                .map(|s| (s.name.to_owned(), s.logs.iter().cloned().collect()))
                .collect(),
            repro,
        })
    }

    /// Process every event up to `t` (inclusive), checking the invariants
    /// after each.
    pub fn run_until(&mut self, t: Ms) -> Result<(), Box<Failure>> {
        while self.queue.peek().is_some_and(|e| e.at <= t) {
            let Some(next) = self.queue.pop() else { break };
            self.now = next.at;
            self.stats.events += 1;
            self.dispatch(next.event);
            self.take_violation()?;
            if let Err(v) = self.check_now() {
                return Err(self.failure(v));
            }
        }
        self.now = self.now.max(t);
        Ok(())
    }

    pub fn run_for(&mut self, d: Ms) -> Result<(), Box<Failure>> {
        self.run_until(self.now + d)
    }

    /// Run until `cond` holds (checked after every event) or `limit` passes;
    /// returns whether it held.
    pub fn run_until_cond(
        &mut self,
        limit: Ms,
        mut cond: impl FnMut(&World<N>) -> bool,
    ) -> Result<bool, Box<Failure>> {
        while !cond(self) {
            let Some(next) = self.queue.peek() else {
                return Ok(false);
            };
            if next.at > limit {
                self.now = limit;
                return Ok(cond(self));
            }
            let Some(next) = self.queue.pop() else { break };
            self.now = next.at;
            self.stats.events += 1;
            self.dispatch(next.event);
            self.take_violation()?;
            if let Err(v) = self.check_now() {
                return Err(self.failure(v));
            }
        }
        Ok(true)
    }

    /// Apply a fault now (through the queue, so it is traced and checked
    /// like any event).
    pub fn apply(&mut self, fault: Fault) -> Result<(), Box<Failure>> {
        self.schedule(self.now, Event::Fault(fault));
        self.run_until(self.now)
    }

    // ------------------------------------------------------------ queries

    /// The counters, with the known issues excused so far.
    pub fn summary(&self) -> Stats {
        let mut st = self.stats.clone();
        for issue in self.checker.excused.values() {
            match issue {
                crate::check::KnownIssue::PeerUpdateOverwrite => {
                    st.excused_peer_update_overwrite += 1
                }
                crate::check::KnownIssue::PartnerDownReuse => st.excused_partner_down_reuse += 1,
                crate::check::KnownIssue::ShortenedRenewal => st.excused_shortened_renewal += 1,
            }
        }
        st
    }

    pub fn is_up(&self, k: usize) -> bool {
        self.servers.get(k).is_some_and(|s| s.node.is_some())
    }

    pub fn state(&self, k: usize) -> Option<FailoverState> {
        self.servers
            .get(k)
            .and_then(|s| s.node.as_ref())
            .and_then(|n| n.failover_state())
    }

    pub fn node(&self, k: usize) -> Option<&N> {
        self.servers.get(k).and_then(|s| s.node.as_ref())
    }

    /// Clients holding a lease now.
    pub fn bound_clients(&self) -> usize {
        self.clients
            .iter()
            .filter(|c| c.holding(self.now).is_some())
            .count()
    }

    // ------------------------------------------------------------ clients

    /// Add `n` clients that power on at random times within `spread` ms.
    pub fn add_clients(&mut self, n: usize, spread: Ms) {
        for _ in 0..n {
            let id = self.clients.len();
            let with_id = self.rng.chance(0.5);
            let bflag = self.rng.chance(0.3);
            self.clients.push(Client::new(id, with_id, bflag));
            self.client_wake.push(None);
            let at = self.now + self.rng.between(0, spread);
            self.schedule(at, Event::ClientLife { client: id });
        }
    }

    /// Add one client, powered off, with no life of its own (scripted
    /// scenarios power it on and off).
    pub fn add_client(&mut self, with_client_id: bool) -> usize {
        let id = self.clients.len();
        self.clients.push(Client::new(id, with_client_id, false));
        self.client_wake.push(None);
        id
    }

    /// The lease client `c` holds now.
    pub fn holding(&self, c: usize) -> Option<&crate::client::Binding> {
        self.clients.get(c).and_then(|cl| cl.holding(self.now))
    }

    /// Server `k` has a write in its batch that a DHCP reply waits for.
    pub fn reply_waits_for_disk(&self, k: usize) -> bool {
        fn has_reply(effects: &[Effect]) -> bool {
            effects.iter().any(|e| match e {
                Effect::Reply { .. } => true,
                Effect::Persist { then, .. } => has_reply(then),
                _ => false,
            })
        }
        self.servers.get(k).is_some_and(|s| {
            s.disk.pending.iter().any(|p| match p {
                Pending::Persist { then, .. } => has_reply(then),
                Pending::Rewrite(_) => false,
            })
        })
    }

    /// The command line printed in failure reports.
    pub fn set_repro(&mut self, cmd: impl Into<String>) {
        self.repro = Some(cmd.into());
    }

    /// Power a client on now.
    pub fn power_on(&mut self, c: usize) {
        let now = self.now;
        let Some(client) = self.clients.get_mut(c) else {
            return;
        };
        let out = client.power_on(now, &mut self.rng);
        self.note(format!("client {c} powers on"));
        self.client_out(c, out);
        self.client_rearm(c);
    }

    pub fn power_off(&mut self, c: usize) {
        if let Some(client) = self.clients.get_mut(c) {
            client.power_off();
            self.note(format!("client {c} powers off"));
        }
    }

    pub fn release(&mut self, c: usize) {
        let now = self.now;
        let Some(client) = self.clients.get_mut(c) else {
            return;
        };
        if let Some((out, addr)) = client.release(now, &mut self.rng) {
            self.stats.releases += 1;
            self.note(format!("client {c} releases {addr}"));
            self.client_out(c, vec![out]);
        }
    }

    fn client_rearm(&mut self, c: usize) {
        let Some(client) = self.clients.get(c) else {
            return;
        };
        let want = client.next_wake();
        if let Some(at) = want {
            if self.client_wake.get(c).copied().flatten() != Some(at) {
                if let Some(slot) = self.client_wake.get_mut(c) {
                    *slot = Some(at);
                }
                self.schedule(at, Event::ClientWake { client: c, at });
            }
        }
    }

    fn client_out(&mut self, c: usize, out: Vec<Outgoing>) {
        for o in out {
            let (src, dst, bytes) = match o {
                Outgoing::Broadcast { src, bytes } => (src, None, bytes),
                Outgoing::Unicast { server, src, bytes } => (src, Some(server), bytes),
            };
            let what = Packet::decode(&bytes)
                .ok()
                .map(|p| {
                    let t = p.message_type().map_or("BOOTP", |m| m.name());
                    if p.message_type() == Some(MessageType::Discover) {
                        self.stats.discovers += 1;
                    }
                    format!("{t} xid={:08x} secs={} ciaddr={}", p.xid, p.secs, p.ciaddr)
                })
                .unwrap_or_default();
            match dst {
                None => self.note(format!("client {c} -> * {what}")),
                Some(d) => self.note(format!("client {c} -> {d} {what}")),
            }
            for k in 0..self.servers.len() {
                let addr = self.servers[k].addr;
                if dst.is_some_and(|d| d != addr) {
                    continue;
                }
                if self.servers[k].clients_cut || self.rng.chance(self.net.dhcp_loss) {
                    continue;
                }
                let rx = RxMeta {
                    ifindex: 1,
                    src: SocketAddrV4::new(src, 68),
                    dst: dst.unwrap_or(Ipv4Addr::BROADCAST),
                };
                let (lo, hi) = self.params.dhcp_delay;
                let at = self.now + self.rng.between(lo, hi);
                self.schedule(
                    at,
                    Event::ToServer {
                        server: k,
                        rx,
                        bytes: bytes.clone(),
                    },
                );
            }
        }
    }

    fn client_event(&mut self, c: usize, ev: ClientEvent, evidence: Option<Evidence>) {
        match ev {
            ClientEvent::Nothing => {}
            ClientEvent::Offered { addr, server_id } => {
                self.stats.offers += 1;
                self.note(format!("client {c} takes offer {addr} from {server_id}"));
            }
            ClientEvent::Bound { binding, previous } => {
                self.stats.acks += 1;
                self.note(format!(
                    "client {c} BOUND {} for {} s from {} (until {}){}",
                    binding.addr,
                    binding.lease_secs,
                    binding.server_id,
                    fmt_ms(binding.expires),
                    previous
                        .filter(|p| p.addr != binding.addr)
                        .map_or_else(String::new, |p| format!(", dropping {}", p.addr))
                ));
                if let Err(v) = self.check_ack(c, &binding, evidence.as_ref()) {
                    self.fail(v);
                }
            }
            ClientEvent::Naked { dropped } => {
                self.stats.naks += 1;
                self.note(format!("client {c} NAKed, drops {dropped:?}"));
                self.checker.acked_by.remove(&c);
            }
            ClientEvent::Expired { addr } => {
                self.stats.expiries += 1;
                self.note(format!("client {c} lease {addr} expired"));
                self.checker.acked_by.remove(&c);
            }
            ClientEvent::Unusable { why } => {
                self.fail(Violation::new(Rule::Protocol, format!("client {c}: {why}")));
            }
        }
    }

    // ------------------------------------------------------------ servers

    fn boot(&mut self, k: usize) {
        if self.servers[k].node.is_some() {
            return;
        }
        let parsed = tandem_lease::parse(&self.servers[k].disk.text);
        if !parsed.warnings.is_empty() || parsed.torn_tail.is_some() {
            let v = Violation::new(
                Rule::Protocol,
                format!(
                    "{}'s lease file does not read back: {:?} {:?}",
                    self.servers[k].name,
                    parsed.warnings.first(),
                    parsed.torn_tail
                ),
            );
            self.fail(v);
            return;
        }
        let db = fold(parsed.records);
        if !same_db(&self.servers[k].disk.db, &db) {
            let v = Violation::new(
                Rule::Protocol,
                format!(
                    "{}'s lease file reads back different from what was written (print/parse round trip): {}",
                    self.servers[k].name,
                    first_difference(&self.servers[k].disk.db, &db)
                ),
            );
            self.fail(v);
            return;
        }
        let now = self.now_of(k);
        let slot = &mut self.servers[k];
        let iface = interface(slot.addr, k);
        match N::boot(Arc::clone(&slot.config), vec![iface], db, now) {
            Ok((node, effects)) => {
                slot.node = Some(node);
                slot.inc += 1;
                slot.down_since = None;
                slot.restart_at = None;
                slot.timer_at = None;
                slot.shutdown_at = None;
                slot.state = None;
                let inc = slot.inc;
                let (lo, hi) = self.params.rewrite_every;
                let next_rewrite = self.now + self.rng.between(lo, hi);
                self.servers[k].next_rewrite = next_rewrite;
                self.note(format!(
                    "{} STARTS (incarnation {inc})",
                    self.servers[k].name
                ));
                self.stats.restarts += u64::from(inc > 1);
                let first_tick = self.now + self.rng.between(1, 1000);
                self.schedule(first_tick, Event::Tick { server: k, inc });
                // Rule 2: what the server granted and clients hold is back.
                if let Err(v) = self.check_restart(k) {
                    self.fail(v);
                }
                // ISC rewrites the lease file at startup.
                self.rewrite(k);
                self.execute(k, effects, now.wall);
                self.after_node(k);
            }
            Err(e) => {
                let v = Violation::new(Rule::Boot, format!("{}: {e}", self.servers[k].name));
                self.fail(v);
            }
        }
    }

    fn rewrite(&mut self, k: usize) {
        let Some(node) = &self.servers[k].node else {
            return;
        };
        let records = node.rewrite_records();
        self.stats.rewrites += 1;
        self.servers[k].disk.pending.push(Pending::Rewrite(records));
        self.schedule_sync(k);
    }

    fn schedule_sync(&mut self, k: usize) {
        if self.servers[k].disk.sync_scheduled {
            return;
        }
        self.servers[k].disk.sync_scheduled = true;
        let (lo, hi) = self.params.disk_delay;
        let at = self.now + self.rng.between(lo, hi);
        let inc = self.servers[k].inc;
        self.schedule(at, Event::DiskSync { server: k, inc });
    }

    /// One fdatasync: the whole batch becomes durable, then the held
    /// effects run in order.
    fn disk_sync(&mut self, k: usize) {
        let slot = &mut self.servers[k];
        slot.disk.sync_scheduled = false;
        let items = std::mem::take(&mut slot.disk.pending);
        if items.is_empty() {
            return;
        }
        let mut records_written = 0;
        for item in &items {
            match item {
                Pending::Persist { records, .. } => {
                    for r in records {
                        print_record(r, &mut slot.disk.text);
                        slot.disk.db.apply(r.clone());
                        records_written += 1;
                    }
                }
                Pending::Rewrite(records) => {
                    let mut text = String::new();
                    print_header(&mut text);
                    for r in records {
                        print_record(r, &mut text);
                    }
                    slot.disk.text = text;
                    slot.disk.db = fold(records.iter().cloned());
                    records_written += records.len();
                }
            }
        }
        self.stats.syncs += 1;
        let name = self.servers[k].name;
        self.note(format!(
            "{name} disk sync: {} writes, {records_written} records durable",
            items.len()
        ));
        let inc = self.servers[k].inc;
        for item in items {
            if let Pending::Persist {
                then, notify, wall, ..
            } = item
            {
                if self.servers[k].inc != inc || self.servers[k].node.is_none() {
                    break;
                }
                self.execute(k, then, wall);
                if let Some(token) = notify {
                    self.feed(k, Input::Persisted { token, ok: true });
                }
            }
        }
        self.after_node(k);
    }

    /// Feed one input to server `k` and carry out the effects.
    pub(crate) fn feed(&mut self, k: usize, input: Input) {
        let now = self.now_of(k);
        if self.servers[k].node.is_none() {
            return;
        }
        let before = self.shown(k);
        let label = input_label(&input);
        let cause = match &input {
            Input::PeerBytes { .. } => Cause::Peer,
            Input::Packet { bytes, .. } => Packet::decode(bytes)
                .ok()
                .and_then(|p| id_of(p.hw_addr()))
                .map_or(Cause::Other, Cause::Client),
            _ => Cause::Other,
        };
        let Some(node) = self.servers[k].node.as_mut() else {
            return;
        };
        let effects = node.handle(now, input);
        self.execute(k, effects, now.wall);
        self.after_node(k);
        self.check_kept(k, before, label, cause);
    }

    /// Track the failover state and re-arm the node's timer.
    fn after_node(&mut self, k: usize) {
        let Some(node) = &self.servers[k].node else {
            return;
        };
        let st = node.failover_state();
        let next = node.next_timeout();
        if st != self.servers[k].state {
            self.servers[k].state = st;
            if let Some(s) = st {
                self.servers[k].states.push((self.now, s));
                let name = self.servers[k].name;
                self.note(format!("{name} STATE {}", s.keyword()));
            }
        }
        self.end_episode_if_normal();
        let Some(t) = next else {
            self.servers[k].timer_at = None;
            return;
        };
        let at = t.saturating_sub(self.servers[k].mono_base).max(self.now);
        if let Some(cur) = self.servers[k].timer_at {
            if cur <= at && cur >= self.now {
                return;
            }
        }
        self.servers[k].timer_at = Some(at);
        let inc = self.servers[k].inc;
        self.schedule(at, Event::Timers { server: k, inc, at });
    }

    fn end_episode_if_normal(&mut self) {
        if self.episode.is_some() && (0..2).all(|k| self.state(k) == Some(FailoverState::Normal)) {
            self.note("partner-down episode over: both normal".into());
            self.episode = None;
        }
    }

    fn execute(&mut self, k: usize, effects: Vec<Effect>, wall: u64) {
        for e in effects {
            if self.servers[k].node.is_none() {
                break;
            }
            match e {
                Effect::Reply { bytes, to, .. } => self.send_reply(k, bytes, to, wall),
                Effect::Log { level, message } => self.log(k, level, message),
                Effect::Persist {
                    records,
                    then,
                    notify,
                } => {
                    self.servers[k].disk.pending.push(Pending::Persist {
                        records,
                        then,
                        notify,
                        wall,
                    });
                    self.schedule_sync(k);
                }
                Effect::PeerConnect {
                    peer,
                    local,
                    remote,
                } => {
                    let (lo, hi) = self.params.tcp_delay;
                    let at = self.now + self.rng.between(lo, hi);
                    let inc = self.servers[k].inc;
                    self.schedule(
                        at,
                        Event::ConnectArrive {
                            from: k,
                            inc,
                            peer,
                            local,
                            remote,
                        },
                    );
                }
                Effect::PeerSend { conn, bytes } => self.peer_send(k, conn, bytes),
                Effect::PeerClose { conn } => self.peer_close(k, conn),
                Effect::ShutdownComplete => self.shutdown_complete(k),
            }
        }
    }

    fn log(&mut self, k: usize, level: LogLevel, message: String) {
        if level == LogLevel::Debug {
            return;
        }
        let keep = self.keep_logs;
        let slot = &mut self.servers[k];
        if keep {
            slot.all_logs.push(message.clone());
        }
        if slot.logs.len() == 12 {
            slot.logs.pop_front();
        }
        slot.logs
            .push_back(format!("{} {message}", fmt_ms(self.now)));
    }

    fn send_reply(&mut self, k: usize, bytes: Vec<u8>, to: Destination, wall: u64) {
        let name = self.servers[k].name;
        let pkt = match Packet::decode(&bytes) {
            Ok(p) => p,
            Err(e) => {
                self.fail(Violation::new(
                    Rule::Protocol,
                    format!("{name} sent an undecodable reply: {e}"),
                ));
                return;
            }
        };
        if let Destination::Relay { giaddr, .. } = to {
            self.fail(Violation::new(
                Rule::Protocol,
                format!("{name} sent a reply to relay {giaddr}, but there is no relay"),
            ));
            return;
        }
        let msg = pkt.message_type();
        let evidence = (msg == Some(MessageType::Ack)).then(|| Evidence {
            server: k,
            issued_wall: wall,
            durable: self.servers[k].disk.db.leases.get(&pkt.yiaddr).cloned(),
            failover: self.servers[k]
                .node
                .as_ref()
                .is_some_and(|n| n.failover_state().is_some()),
        });
        let Some(c) = id_of(pkt.hw_addr()).filter(|c| *c < self.clients.len()) else {
            self.note(format!("{name} replies to an unknown chaddr"));
            return;
        };
        let lost = self.servers[k].clients_cut || self.rng.chance(self.net.dhcp_loss);
        self.note(format!(
            "{name} -> client {c} {} {} xid={:08x}{}",
            msg.map_or("BOOTREPLY", |m| m.name()),
            pkt.yiaddr,
            pkt.xid,
            if lost { " (lost)" } else { "" }
        ));
        if lost {
            return;
        }
        let (lo, hi) = self.params.dhcp_delay;
        let at = self.now + self.rng.between(lo, hi);
        self.schedule(
            at,
            Event::ToClient {
                client: c,
                bytes,
                evidence,
            },
        );
    }

    fn shutdown_complete(&mut self, k: usize) {
        // "Clean shutdown is complete: flush the store and exit."
        for _ in 0..100 {
            if self.servers[k].disk.pending.is_empty() {
                break;
            }
            self.disk_sync(k);
        }
        self.stats.shutdowns += 1;
        let name = self.servers[k].name;
        self.note(format!("{name} EXITS after clean shutdown"));
        self.stop(k, false);
        if let Some(d) = self.servers[k].restart_after_shutdown.take() {
            self.servers[k].restart_at = Some(self.now + d);
            self.schedule(self.now + d, Event::Fault(Fault::Restart { server: k }));
        }
    }

    /// The process is gone: memory and the unsynced batch with it.
    fn stop(&mut self, k: usize, power_loss: bool) {
        let slot = &mut self.servers[k];
        slot.node = None;
        slot.disk.pending.clear();
        slot.disk.sync_scheduled = false;
        slot.timer_at = None;
        slot.shutdown_at = None;
        slot.state = None;
        slot.down_since = Some(self.now);
        let mut closes = Vec::new();
        for (key, c) in self.conns.iter_mut() {
            for side in 0..2 {
                if c.ends[side].server == k && c.ends[side].open {
                    c.ends[side].open = false;
                    let other = 1 - side;
                    if c.ends[other].open && !c.broken {
                        if power_loss {
                            c.broken = true;
                        } else {
                            closes.push((*key, other, c.last[other]));
                        }
                    }
                }
            }
        }
        for (key, side, last) in closes {
            let (lo, hi) = self.params.tcp_delay;
            let at = (self.now + self.rng.between(lo, hi)).max(last);
            if let Some(c) = self.conns.get_mut(&key) {
                c.last[side] = at;
            }
            self.schedule(
                at,
                Event::PeerClosed {
                    key,
                    side,
                    reset: false,
                },
            );
        }
        self.prune_conns();
    }

    fn prune_conns(&mut self) {
        self.conns.retain(|_, c| c.ends.iter().any(|e| e.open));
    }

    // ------------------------------------------------------------ TCP

    fn server_by_addr(&self, a: Ipv4Addr) -> Option<usize> {
        self.servers.iter().position(|s| s.addr == a)
    }

    fn connect_arrive(
        &mut self,
        from: usize,
        inc: u32,
        peer: usize,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) {
        if self.servers[from].inc != inc || self.servers[from].node.is_none() {
            return;
        }
        let (lo, hi) = self.params.tcp_delay;
        let d = self.rng.between(lo, hi);
        let target = self.server_by_addr(*remote.ip());
        let accept = target.and_then(|t| {
            let node = self.servers[t].node.as_ref()?;
            node.listens()
                .into_iter()
                .find(|l| l.local == remote && l.remote_addr == *local.ip())
                .map(|l| (t, l.peer))
        });
        let from_name = self.servers[from].name;
        match (self.net.partitioned, accept) {
            (false, Some((t, tpeer))) => {
                let key = self.next_key;
                self.next_key += 1;
                let (ia, ib) = (self.next_conn_id, self.next_conn_id + 1);
                self.next_conn_id += 2;
                let tinc = self.servers[t].inc;
                self.conns.insert(
                    key,
                    Conn {
                        ends: [
                            End {
                                server: from,
                                inc,
                                id: ia,
                                peer,
                                open: true,
                                tap: FrameDecoder::new(),
                                rx_tap: FrameDecoder::new(),
                            },
                            End {
                                server: t,
                                inc: tinc,
                                id: ib,
                                peer: tpeer,
                                open: true,
                                tap: FrameDecoder::new(),
                                rx_tap: FrameDecoder::new(),
                            },
                        ],
                        broken: false,
                        last: [self.now + d, self.now],
                    },
                );
                self.stats.connections += 1;
                self.note(format!(
                    "{from_name} connects to {} (conn {key})",
                    self.servers[t].name
                ));
                self.schedule(self.now, Event::Connected { key, side: 1 });
                self.schedule(self.now + d, Event::Connected { key, side: 0 });
            }
            (true, _) => {
                // SYNs vanish; the connect times out (shortened).
                let at = self.now + self.rng.between(1000, 3000);
                self.note(format!("{from_name} connect times out (partition)"));
                self.schedule(
                    at,
                    Event::ConnectFailed {
                        server: from,
                        inc,
                        peer,
                    },
                );
            }
            (false, None) => {
                self.note(format!("{from_name} connect refused"));
                self.schedule(
                    self.now + d,
                    Event::ConnectFailed {
                        server: from,
                        inc,
                        peer,
                    },
                );
            }
        }
    }

    fn find_end(&self, k: usize, id: ConnId) -> Option<(u64, usize)> {
        let inc = self.servers[k].inc;
        self.conns.iter().find_map(|(key, c)| {
            c.ends
                .iter()
                .position(|e| e.server == k && e.id == id && e.inc == inc)
                .map(|side| (*key, side))
        })
    }

    fn peer_send(&mut self, k: usize, id: ConnId, bytes: Vec<u8>) {
        let Some((key, side)) = self.find_end(k, id) else {
            return;
        };
        let name = self.servers[k].name;
        let other = 1 - side;
        let (lo, hi) = self.params.tcp_delay;
        let d = self.rng.between(lo, hi);
        let split = self
            .rng
            .chance(0.2)
            .then(|| self.rng.between(1, bytes.len().max(2) as u64 - 1) as usize);
        let Some(c) = self.conns.get_mut(&key) else {
            return;
        };
        if !c.ends[side].open {
            return;
        }
        // The wiretap: every frame must decode.
        c.ends[side].tap.push(&bytes);
        let mut notes = Vec::new();
        loop {
            match c.ends[side].tap.next_message() {
                Ok(Some(m)) => notes.push(summarize(&m.body)),
                Ok(None) => break,
                Err(e) => {
                    let v = Violation::new(
                        Rule::Protocol,
                        format!("{name} sent an undecodable failover stream: {e}"),
                    );
                    self.fail(v);
                    return;
                }
            }
        }
        let deliver = !c.broken && c.ends[other].open;
        let at = (self.now + d).max(c.last[other]);
        if deliver {
            c.last[other] = at;
        }
        self.stats.peer_messages += notes.len() as u64;
        for n in notes {
            self.note(format!(
                "{name} => {n}{}",
                if deliver { "" } else { " (lost)" }
            ));
        }
        if !deliver {
            return;
        }
        match split {
            Some(cut) if cut < bytes.len() => {
                let (a, b) = bytes.split_at(cut);
                self.schedule(
                    at,
                    Event::PeerBytes {
                        key,
                        side: other,
                        bytes: a.to_vec(),
                    },
                );
                self.schedule(
                    at,
                    Event::PeerBytes {
                        key,
                        side: other,
                        bytes: b.to_vec(),
                    },
                );
            }
            _ => self.schedule(
                at,
                Event::PeerBytes {
                    key,
                    side: other,
                    bytes,
                },
            ),
        }
    }

    fn peer_close(&mut self, k: usize, id: ConnId) {
        let Some((key, side)) = self.find_end(k, id) else {
            return;
        };
        let (lo, hi) = self.params.tcp_delay;
        let d = self.rng.between(lo, hi);
        let now = self.now;
        let Some(c) = self.conns.get_mut(&key) else {
            return;
        };
        c.ends[side].open = false;
        let other = 1 - side;
        if !c.broken && c.ends[other].open {
            let at = (now + d).max(c.last[other]);
            c.last[other] = at;
            self.schedule(
                at,
                Event::PeerClosed {
                    key,
                    side: other,
                    reset: false,
                },
            );
        }
        let name = self.servers[k].name;
        self.note(format!("{name} closes conn {key}"));
        self.prune_conns();
    }

    /// Addresses of the binding updates completed by this delivery.
    fn bindings_in(&mut self, key: u64, side: usize, bytes: &[u8]) -> Vec<Ipv4Addr> {
        let Some(c) = self.conns.get_mut(&key) else {
            return Vec::new();
        };
        let tap = &mut c.ends[side].rx_tap;
        tap.push(bytes);
        let mut out = Vec::new();
        while let Ok(Some(m)) = tap.next_message() {
            if let Body::BndUpd(b) = m.body {
                out.extend(b.assigned_addr);
            }
        }
        out
    }

    /// The end `(key, side)` is still the live socket of a running process.
    fn end_live(&self, key: u64, side: usize) -> Option<(usize, ConnId, usize)> {
        let c = self.conns.get(&key)?;
        let e = &c.ends[side];
        let slot = &self.servers[e.server];
        (e.open && slot.inc == e.inc && slot.node.is_some()).then_some((e.server, e.id, e.peer))
    }

    // ------------------------------------------------------------ dispatch

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::ClientWake { client, at } => {
                if let Some(slot) = self.client_wake.get_mut(client) {
                    if *slot == Some(at) {
                        *slot = None;
                    }
                }
                if self.clients_frozen {
                    return;
                }
                let now = self.now;
                let Some(cl) = self.clients.get_mut(client) else {
                    return;
                };
                if cl.next_wake() != Some(at) {
                    return;
                }
                let (out, ev) = cl.wake(now, &mut self.rng);
                self.client_out(client, out);
                self.client_event(client, ev, None);
                self.client_rearm(client);
            }
            Event::ClientLife { client } => self.client_life(client),
            Event::ToServer { server, rx, bytes } => {
                self.feed(server, Input::Packet { rx, bytes });
            }
            Event::ToClient {
                client,
                bytes,
                evidence,
            } => {
                if self.clients_frozen {
                    return;
                }
                let Ok(pkt) = Packet::decode(&bytes) else {
                    return;
                };
                let now = self.now;
                let Some(cl) = self.clients.get_mut(client) else {
                    return;
                };
                let (out, ev) = cl.receive(now, &pkt, &mut self.rng);
                self.client_out(client, out);
                self.client_event(client, ev, evidence);
                self.client_rearm(client);
            }
            Event::Tick { server, inc } => {
                if self.servers[server].inc != inc || self.servers[server].node.is_none() {
                    return;
                }
                self.feed(server, Input::Tick);
                if self.now >= self.servers[server].next_rewrite {
                    let (lo, hi) = self.params.rewrite_every;
                    self.servers[server].next_rewrite = self.now + self.rng.between(lo, hi);
                    self.rewrite(server);
                }
                if let Some(t) = self.servers[server].shutdown_at {
                    if self.now > t + 60_000 {
                        let v = Violation::new(
                            Rule::Liveness,
                            format!(
                                "{} did not finish its clean shutdown in 60 s",
                                self.servers[server].name
                            ),
                        );
                        self.fail(v);
                    }
                }
                self.schedule(self.now + 1000, Event::Tick { server, inc });
            }
            Event::Timers { server, inc, at } => {
                let mono = self.now_of(server).mono_ms;
                let slot = &mut self.servers[server];
                if slot.inc != inc || slot.timer_at != Some(at) {
                    return;
                }
                slot.timer_at = None;
                if slot.timer_storm.0 == self.now {
                    slot.timer_storm.1 += 1;
                    if slot.timer_storm.1 > 1000 {
                        let v = Violation::new(
                            Rule::Liveness,
                            format!(
                                "{}: timer storm (next_timeout stays in the past)",
                                slot.name
                            ),
                        );
                        self.fail(v);
                        return;
                    }
                } else {
                    slot.timer_storm = (self.now, 0);
                }
                let due = slot
                    .node
                    .as_ref()
                    .and_then(|n| n.next_timeout())
                    .is_some_and(|t| t <= mono);
                if due {
                    self.feed(server, Input::Timers);
                } else {
                    self.after_node(server);
                }
            }
            Event::DiskSync { server, inc } => {
                if self.servers[server].inc == inc && self.servers[server].node.is_some() {
                    self.disk_sync(server);
                }
            }
            Event::ConnectArrive {
                from,
                inc,
                peer,
                local,
                remote,
            } => self.connect_arrive(from, inc, peer, local, remote),
            Event::ConnectFailed { server, inc, peer } => {
                if self.servers[server].inc == inc {
                    self.feed(server, Input::PeerConnectFailed { peer });
                }
            }
            Event::Connected { key, side } => {
                if let Some((k, conn, peer)) = self.end_live(key, side) {
                    self.feed(k, Input::PeerConnected { peer, conn });
                }
            }
            Event::PeerBytes { key, side, bytes } => {
                if self.conns.get(&key).is_some_and(|c| c.broken) {
                    return;
                }
                if let Some((k, conn, _)) = self.end_live(key, side) {
                    let touched = self.bindings_in(key, side, &bytes);
                    let before: Vec<_> = touched
                        .iter()
                        .map(|a| self.node(k).and_then(|n| n.lease(*a)).cloned())
                        .collect();
                    self.feed(k, Input::PeerBytes { conn, bytes });
                    for (a, old) in touched.into_iter().zip(before) {
                        let new = self.node(k).and_then(|n| n.lease(a));
                        if peer_change_loses(old.as_ref(), new) {
                            self.checker.peer_changed.insert((k, a), self.now);
                        }
                    }
                }
            }
            Event::PeerClosed { key, side, reset } => {
                if !reset && self.conns.get(&key).is_some_and(|c| c.broken) {
                    return;
                }
                if let Some((k, conn, _)) = self.end_live(key, side) {
                    if let Some(c) = self.conns.get_mut(&key) {
                        c.ends[side].open = false;
                    }
                    let name = self.servers[k].name;
                    self.note(format!("{name} sees conn {key} closed"));
                    self.feed(k, Input::PeerClosed { conn });
                    self.prune_conns();
                }
            }
            Event::Fault(f) => self.fault(f),
            Event::Chaos => self.chaos_step(),
        }
    }

    fn fault(&mut self, f: Fault) {
        self.note(format!("FAULT {f:?}"));
        match f {
            Fault::Partition { silent } => {
                self.stats.partitions += 1;
                self.net.partitioned = true;
                let mut resets = Vec::new();
                for (key, c) in self.conns.iter_mut() {
                    c.broken = true;
                    if !silent {
                        for side in 0..2 {
                            if c.ends[side].open {
                                resets.push((*key, side));
                            }
                        }
                    }
                }
                for (key, side) in resets {
                    let (lo, hi) = self.params.tcp_delay;
                    let at = self.now + self.rng.between(lo, hi);
                    self.schedule(
                        at,
                        Event::PeerClosed {
                            key,
                            side,
                            reset: true,
                        },
                    );
                }
            }
            Fault::Heal => self.net.partitioned = false,
            Fault::Crash { server, power_loss } => {
                if self.servers[server].node.is_some() {
                    self.stats.crashes += 1;
                    self.servers[server].restart_after_shutdown = None;
                    self.stop(server, power_loss);
                }
            }
            Fault::Restart { server } => self.boot(server),
            Fault::Shutdown {
                server,
                restart_after,
            } => {
                if self.servers[server].node.is_some() && self.servers[server].shutdown_at.is_none()
                {
                    self.servers[server].shutdown_at = Some(self.now);
                    self.servers[server].restart_after_shutdown = restart_after;
                    self.feed(server, Input::Shutdown);
                }
            }
            Fault::Skew { server, ms } => {
                self.stats.skews += 1;
                self.checker.saw_skew(ms);
                if let Some(s) = self.servers.get_mut(server) {
                    s.skew_ms = ms;
                }
            }
            Fault::DhcpLoss(p) => self.net.dhcp_loss = p.clamp(0.0, 1.0),
            Fault::ClientsCutOff { server, cut } => {
                if let Some(s) = self.servers.get_mut(server) {
                    s.clients_cut = cut;
                }
            }
            Fault::PartnerDown { server } => {
                if self.servers[server].node.is_some() {
                    self.stats.partner_downs += 1;
                    self.feed(
                        server,
                        Input::SetLocalState {
                            peer: PEER_NAME.into(),
                            state: FailoverState::PartnerDown,
                        },
                    );
                }
            }
        }
    }

    /// Rule 3: heal every fault, restart what is down, let `settle` ms
    /// pass, stop the clients, let the network drain, and check that both
    /// servers are in normal and agree on every held lease.
    pub fn converge(&mut self, settle: Ms) -> Result<(), Box<Failure>> {
        self.chaos = None;
        self.apply(Fault::Heal)?;
        self.apply(Fault::DhcpLoss(0.0))?;
        for k in 0..self.servers.len() {
            self.apply(Fault::ClientsCutOff {
                server: k,
                cut: false,
            })?;
            if self.servers[k].skew_ms != 0 {
                self.apply(Fault::Skew { server: k, ms: 0 })?;
            }
            if self.servers[k].node.is_none() {
                self.servers[k].restart_after_shutdown = None;
                self.apply(Fault::Restart { server: k })?;
            }
        }
        self.run_for(settle)?;
        self.clients_frozen = true;
        self.note("clients frozen; draining".into());
        self.run_for(10_000)?;
        if let Err(v) = self.check_converged() {
            return Err(self.failure(v));
        }
        Ok(())
    }
}
