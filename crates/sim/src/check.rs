//! The invariants, checked after every event, and what a failure reports.
//!
//! * Rule 1 (exclusive addresses). No two clients hold unexpired DHCPACKs
//!   for the same address at the same time; and no serving server's table
//!   shows an address ACTIVE (and unexpired) for a client other than the one
//!   that holds a valid DHCPACK for it, by a decision taken after that
//!   client asked (an older entry is replication lag, and the first half of
//!   the rule stays the backstop).
//! * Rule 2 (durable before the ACK). Every DHCPACK a client accepts was
//!   sent after the lease it grants (this client, ACTIVE, ending no earlier
//!   than the ACK says) was on that server's disk; when a server restarts,
//!   every lease it granted that a client still holds is there; and a
//!   server never forgets a held binding: once its table shows a client's
//!   held lease, it keeps showing it (active, for that client, ending no
//!   earlier) until the lease ends ([`Rule::KeptByServer`], checked around
//!   every input of every server).
//! * Rule 3 (convergence). Once every fault is healed and time passes, both
//!   servers are in normal and both tables show every held lease for its
//!   holder.
//!
//! Time and clocks. Clients count a lease from the moment they sent the
//! request (RFC 2131 §4.4.1), in true time. Servers count in their own wall
//! clock, in whole seconds. The failover protocol assumes synchronised
//! clocks (ISC: "both servers must be kept NTP-synchronised"), so when the
//! simulation skews a clock by up to `s`, an overlap of up to `s` (plus 1 s
//! of rounding) is not counted as a violation: [`Checker::tolerance_ms`].
//!
//! Known issues. Three behaviours of ISC dhcpd, which Tandem first copied,
//! can take a held address away. Tandem now deviates from ISC to prevent all
//! three (`tests/findings.rs` keeps one reproduction per variant, F1-F6, as
//! regression tests), and no class is excused by default any more:
//! [`Allowances::isc`] and [`Allowances::strict`] are the same. The classes
//! stay so that a behaviour can be excused again while it is investigated;
//! an excused holding stays excused until its client gets a new DHCPACK.
//! * [`KnownIssue::PeerUpdateOverwrite`] (F1, F5, F6): a binding update from
//!   the peer carrying older information (an EXPIRED accepted under ISC's
//!   65 s allowance, a RELEASED from before the client came back, an ACTIVE
//!   with an older `ends` or for another client, a pool-balancing BACKUP)
//!   replaces a binding a client still holds. ISC detects duelling updates
//!   only while its own update is in flight (`fo.c:5222`); a local change
//!   that is queued but not yet sent, or a renewal answered without an
//!   update (`dhcp-cache-threshold`), loses.
//! * [`KnownIssue::PartnerDownReuse`] (F2): entering partner-down sets
//!   `tsfp = STOS + MCLT` on expired leases (ISC `failover.c:1972`), so an
//!   address is reused at `STOS + 2 MCLT` even when the down peer may have
//!   renewed it further (draft-12 §7.1.5: wait the MCLT beyond the
//!   potential expiration times).
//! * [`KnownIssue::ShortenedRenewal`] (F4): a server answers the holder's
//!   own request with a lease shorter than the one it holds, because its
//!   tsfp for the lease (lowered by a stale option 18 from the peer) makes
//!   the MCLT rule cut it; harmful if that DHCPACK is lost.
//!
//! The MCLT rule itself (isc-failover.md §3.4) is checked on every DHCPACK
//! ([`Rule::Mclt`]); the allowances never excuse a lease that broke it.

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;

use tandem_lease::{BindingState, FailoverState, Lease};

use crate::client::{Binding, Client};
use crate::server::SimServer;
use crate::world::World;
use crate::Ms;

/// Which invariant broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Rule 1: two clients hold the same address.
    Exclusive,
    /// Rule 1: a server's table gives a held address to someone else.
    TableExclusive,
    /// Rule 2: a DHCPACK left before its lease was durable.
    DurableBeforeAck,
    /// Rule 2: a restart lost a lease that a client still holds.
    KeptAcrossRestart,
    /// A DHCPACK granted more than the MCLT beyond what the peer knows.
    Mclt,
    /// Rule 2: a server's table dropped a binding a client still holds.
    KeptByServer,
    /// Rule 3: no convergence after the faults healed.
    Convergence,
    /// A packet or stream that breaks the protocol (undecodable, missing
    /// mandatory options, lease file that does not read back).
    Protocol,
    /// Something that must end did not (clean shutdown, timer storm).
    Liveness,
    /// A server could not start.
    Boot,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Exclusive => "rule 1 (no address held by two clients)",
            Rule::TableExclusive => "rule 1 (server table agrees with the holder)",
            Rule::DurableBeforeAck => "rule 2 (lease durable before the DHCPACK)",
            Rule::KeptAcrossRestart => "rule 2 (ACKed lease kept across restart)",
            Rule::Mclt => "MCLT rule (lease time bounded by what the peer knows)",
            Rule::KeptByServer => "rule 2 (a server keeps a binding its client holds)",
            Rule::Convergence => "rule 3 (convergence after heal)",
            Rule::Protocol => "protocol",
            Rule::Liveness => "liveness",
            Rule::Boot => "boot",
        })
    }
}

/// A broken invariant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule}: {detail}")]
pub struct Violation {
    pub rule: Rule,
    pub detail: String,
}

impl Violation {
    pub fn new(rule: Rule, detail: impl Into<String>) -> Violation {
        Violation {
            rule,
            detail: detail.into(),
        }
    }
}

/// A failed run: everything needed to understand and reproduce it.
#[derive(Debug, Clone)]
pub struct Failure {
    pub seed: u64,
    pub scenario: String,
    pub at: Ms,
    pub violation: Violation,
    /// The last events, oldest first.
    pub trace: Vec<String>,
    /// The last log lines of each server.
    pub logs: Vec<(String, Vec<String>)>,
    /// One command line that replays this run.
    pub repro: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "simulation failed: scenario {} seed {} at t={}",
            self.scenario,
            self.seed,
            fmt_ms(self.at)
        )?;
        writeln!(f, "  {}", self.violation)?;
        writeln!(f, "last {} events:", self.trace.len())?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        for (name, lines) in &self.logs {
            writeln!(f, "last log lines of {name}:")?;
            for l in lines {
                writeln!(f, "  {l}")?;
            }
        }
        writeln!(f, "reproduce with:")?;
        write!(f, "  {}", self.repro)
    }
}

/// `t=123.456s`.
pub fn fmt_ms(t: Ms) -> String {
    format!("{}.{:03}s", t / 1000, t % 1000)
}

/// Proof attached to a DHCPACK when the server sends it: what that
/// server's disk held for the address at that moment.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub server: usize,
    /// Server wall clock (s) when the node emitted the write that the ACK
    /// waited for (the ACK's lease time counts from about then).
    pub issued_wall: u64,
    pub durable: Option<Lease>,
    /// The server runs failover (the MCLT rule applies).
    pub failover: bool,
}

/// A loss of a held address that ISC's own rules allow (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KnownIssue {
    PeerUpdateOverwrite,
    PartnerDownReuse,
    ShortenedRenewal,
}

/// What an input to a server was, for telling known issues apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Bytes from the failover peer.
    Peer,
    /// A DHCP packet from this client.
    Client(usize),
    Other,
}

/// Which known issues the checker excuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowances {
    pub peer_update_overwrite: bool,
    pub partner_down_reuse: bool,
    pub shortened_renewal: bool,
}

impl Allowances {
    /// ISC's behaviour, minus what Tandem fixed: only
    /// [`KnownIssue::PeerUpdateOverwrite`] is still excused (F1 and ISC's
    /// 65 s EXPIRED allowance). Partner-down reuse (F2) and shortened
    /// renewals (F4) are fixed in tandem-failover, so they fail the run.
    pub fn isc() -> Allowances {
        Allowances {
            peer_update_overwrite: false,
            partner_down_reuse: false,
            shortened_renewal: false,
        }
    }

    /// Nothing excused.
    pub fn strict() -> Allowances {
        Allowances {
            peer_update_overwrite: false,
            partner_down_reuse: false,
            shortened_renewal: false,
        }
    }

    /// `SIM_STRICT=1` selects [`Allowances::strict`].
    pub fn from_env() -> Allowances {
        if std::env::var_os("SIM_STRICT").is_some_and(|v| v != "0") {
            Allowances::strict()
        } else {
            Allowances::isc()
        }
    }
}

impl Default for Allowances {
    fn default() -> Self {
        Allowances::from_env()
    }
}

/// The checker's memory.
#[derive(Debug, Clone, Default)]
pub struct Checker {
    pub allow: Allowances,
    /// Holdings a known issue took away: (address, holder, the holder's
    /// `acked_at`) → which issue. Violations about them are excused while
    /// the holder keeps that DHCPACK.
    pub excused: std::collections::BTreeMap<(Ipv4Addr, usize, Ms), KnownIssue>,
    /// When a peer's update last cut short or took over an ACTIVE binding,
    /// per (server, address).
    pub peer_changed: HashMap<(usize, Ipv4Addr), Ms>,
    /// Smallest and largest clock offset any server had during the run.
    pub min_skew_ms: i64,
    pub max_skew_ms: i64,
    /// The server whose DHCPACK gave each client its current lease.
    pub acked_by: HashMap<usize, usize>,
}

impl Checker {
    /// How much overlap the clocks can explain (see the module docs).
    pub fn tolerance_ms(&self) -> u64 {
        1000 + (self.max_skew_ms - self.min_skew_ms).unsigned_abs()
    }

    pub fn saw_skew(&mut self, ms: i64) {
        self.min_skew_ms = self.min_skew_ms.min(ms);
        self.max_skew_ms = self.max_skew_ms.max(ms);
    }
}

/// The lease in a server's table belongs to this client.
pub fn owned_by(lease: &Lease, client: &Client) -> bool {
    match (&lease.uid, &client.client_id) {
        (Some(u), Some(id)) => u == id,
        _ => lease
            .hardware
            .as_ref()
            .is_some_and(|h| h.htype == 1 && h.addr == client.mac),
    }
}

fn describe(lease: &Lease) -> String {
    let hw = lease
        .hardware
        .as_ref()
        .map(|h| {
            h.addr
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        })
        .unwrap_or_else(|| "-".into());
    format!(
        "{} {} hw {} ends {} tstp {} tsfp {}",
        lease.addr,
        lease.binding_state.keyword(),
        hw,
        lease.ends,
        lease.tstp,
        lease.tsfp
    )
}

/// States in which a server answers clients for a failover pool (ISC's
/// service states "cooperating", "not cooperating", "partner-down").
pub fn serving(state: Option<FailoverState>) -> bool {
    matches!(
        state,
        None | Some(
            FailoverState::Normal
                | FailoverState::CommunicationsInterrupted
                | FailoverState::PartnerDown
        )
    )
}

impl<S: SimServer> World<S> {
    /// A known issue already took this holding away.
    fn excused(&self, client: usize, b: &Binding) -> bool {
        self.checker
            .excused
            .contains_key(&(b.addr, client, b.acked_at))
    }

    pub(crate) fn excuse(&mut self, client: usize, b: &Binding, issue: KnownIssue, what: String) {
        if self
            .checker
            .excused
            .insert((b.addr, client, b.acked_at), issue)
            .is_none()
        {
            self.note(format!("KNOWN ISSUE {issue:?}: {what}"));
        }
    }

    /// A peer update on server `k` cut short or took over `b`'s address
    /// after the holder asked for it: the stale or duelling update, not
    /// server `k`'s own decision, lost the binding.
    fn peer_overwrote(&self, b: &Binding, k: usize) -> bool {
        self.checker.allow.peer_update_overwrite
            && self
                .checker
                .peer_changed
                .get(&(k, b.addr))
                .is_some_and(|t| *t >= b.start)
    }

    /// Partner-down reuse: server `k`, in partner-down for at least the
    /// MCLT, gave away an address whose holder got it from the other server.
    fn partner_down_reuse(&self, b: &Binding, k: usize, at: Ms) -> bool {
        let Some(slot) = self.servers.get(k) else {
            return false;
        };
        let mclt_ms = u64::from(self.params.pair.mclt) * 1000;
        self.checker.allow.partner_down_reuse
            && slot.node.as_ref().and_then(|n| n.failover_state())
                == Some(FailoverState::PartnerDown)
            && b.server_id != slot.addr
            && slot
                .partner_down_since()
                .is_some_and(|t| at + self.checker.tolerance_ms() >= t + mclt_ms)
    }

    /// Rule 1, both halves; run after every event.
    pub(crate) fn check_now(&mut self) -> Result<(), Violation> {
        let mut excused = Vec::new();
        let r = self.find_violation(&mut excused);
        for (client, b, issue, what) in excused {
            self.excuse(client, &b, issue, what);
        }
        r
    }

    fn find_violation(
        &self,
        excused: &mut Vec<(usize, Binding, KnownIssue, String)>,
    ) -> Result<(), Violation> {
        let now = self.now;
        let tol = self.checker.tolerance_ms();
        let mut holders: HashMap<Ipv4Addr, (usize, &Binding)> = HashMap::new();
        for c in &self.clients {
            let Some(b) = c.holding(now) else { continue };
            if let Some((other, ob)) = holders.insert(b.addr, (c.id, b)) {
                // The older holding must have ended (within the clock
                // tolerance) before the newer one began.
                let (old, new, oc, nc) = if ob.acked_at <= b.acked_at {
                    (ob, b, other, c.id)
                } else {
                    (b, ob, c.id, other)
                };
                if old.expires > new.acked_at + tol {
                    if self.excused(oc, old) {
                        continue;
                    }
                    let by = self.servers.iter().position(|s| s.addr == new.server_id);
                    if by.is_some_and(|k| self.partner_down_reuse(old, k, new.acked_at)) {
                        excused.push((
                            oc,
                            old.clone(),
                            KnownIssue::PartnerDownReuse,
                            format!("{} of client {oc} given to client {nc}", b.addr),
                        ));
                        continue;
                    }
                    if by.is_some_and(|k| self.peer_overwrote(old, k)) {
                        excused.push((
                            oc,
                            old.clone(),
                            KnownIssue::PeerUpdateOverwrite,
                            format!("{} of client {oc} given to client {nc}", b.addr),
                        ));
                        continue;
                    }
                    return Err(Violation::new(
                        Rule::Exclusive,
                        format!(
                            "{} held by client {} (ACK from {} at {}, until {}) and by client {} (ACK from {} at {}, until {})",
                            b.addr,
                            oc,
                            old.server_id,
                            fmt_ms(old.acked_at),
                            fmt_ms(old.expires),
                            nc,
                            new.server_id,
                            fmt_ms(new.acked_at),
                            fmt_ms(new.expires)
                        ),
                    ));
                }
            }
        }
        for (k, slot) in self.servers.iter().enumerate() {
            let Some(node) = &slot.node else { continue };
            if !serving(node.failover_state()) {
                continue;
            }
            let wall_s = self.wall_ms(k).div_euclid(1000);
            let tol_s = (tol / 1000 + 1) as i64;
            for (addr, (cid, b)) in &holders {
                if b.expires <= now + tol || self.excused(*cid, b) {
                    continue;
                }
                let Some(lease) = node.lease(*addr) else {
                    continue;
                };
                let Some(client) = self.clients.get(*cid) else {
                    continue;
                };
                if lease.binding_state == BindingState::Active
                    && !owned_by(lease, client)
                    && (lease.ends as i64) > wall_s + tol_s
                {
                    // The table's client lost this address to a known
                    // issue already (and the table still shows it).
                    let owner_excused = self.clients.iter().any(|o| {
                        owned_by(lease, o)
                            && o.holding(now)
                                .is_some_and(|ob| ob.addr == *addr && self.excused(o.id, ob))
                    });
                    // A table entry older than the holder's request is lag
                    // (the peer's update has not arrived yet; rule 1 between
                    // the clients stays the backstop). A newer one is this
                    // server's decision to give a held address away.
                    let bound_at = lease.cltt.max(lease.starts) as i64 * 1000;
                    let stale = bound_at + tol as i64 <= self.wall_ms_at(k, b.start);
                    if owner_excused || stale {
                        continue;
                    }
                    let issue = if self.partner_down_reuse(b, k, now) {
                        Some(KnownIssue::PartnerDownReuse)
                    } else if self.peer_overwrote(b, k) {
                        Some(KnownIssue::PeerUpdateOverwrite)
                    } else {
                        None
                    };
                    if let Some(issue) = issue {
                        excused.push((
                            *cid,
                            (*b).clone(),
                            issue,
                            format!("{addr} of client {cid} given away by {}", slot.name),
                        ));
                        continue;
                    }
                    return Err(Violation::new(
                        Rule::TableExclusive,
                        format!(
                            "{} ({:?}) shows {} while client {} holds it (ACK from {} at {}, until {})",
                            slot.name,
                            node.failover_state(),
                            describe(lease),
                            cid,
                            b.server_id,
                            fmt_ms(b.acked_at),
                            fmt_ms(b.expires)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Server `k`'s table shows client `c`'s holding `b` (active, for `c`,
    /// ending no earlier than the client thinks, within the tolerance).
    fn shows(&self, k: usize, c: &Client, b: &Binding) -> bool {
        let tol = self.checker.tolerance_ms() as i64;
        self.node(k).and_then(|n| n.lease(b.addr)).is_some_and(|l| {
            l.binding_state == BindingState::Active
                && owned_by(l, c)
                && (l.ends as i64) * 1000 + tol >= self.wall_ms_at(k, b.expires)
        })
    }

    /// The holdings server `k` shows now (see [`Self::shows`]): taken
    /// before an input, compared after it by [`Self::check_kept`].
    pub(crate) fn shown(&self, k: usize) -> Vec<(usize, Binding)> {
        let tol = self.checker.tolerance_ms();
        if self.node(k).is_none() {
            return Vec::new();
        }
        self.clients
            .iter()
            .filter_map(|c| {
                let b = c.holding(self.now)?;
                (b.expires > self.now + tol && self.shows(k, c, b)).then(|| (c.id, b.clone()))
            })
            .collect()
    }

    /// After an input to server `k`: every holding it showed before, it
    /// still shows (unless the holder let go of it meanwhile).
    pub(crate) fn check_kept(
        &mut self,
        k: usize,
        before: Vec<(usize, Binding)>,
        input: &str,
        cause: Cause,
    ) {
        if self.node(k).is_none() {
            return;
        }
        for (cid, b) in before {
            let Some(c) = self.clients.get(cid) else {
                continue;
            };
            if c.holding(self.now) != Some(&b) || self.shows(k, c, &b) || self.excused(cid, &b) {
                continue;
            }
            let name = self.servers[k].name;
            let what = format!(
                "{name}'s table dropped client {cid}'s {} (ACK from {} at {}, until {}) on {input}; now: {}",
                b.addr,
                b.server_id,
                fmt_ms(b.acked_at),
                fmt_ms(b.expires),
                self.node(k)
                    .and_then(|n| n.lease(b.addr))
                    .map_or_else(|| "nothing".into(), describe)
            );
            let allow = self.checker.allow;
            let still_theirs = self
                .node(k)
                .and_then(|n| n.lease(b.addr))
                .is_some_and(|l| l.binding_state == BindingState::Active && owned_by(l, c));
            match cause {
                Cause::Peer if allow.peer_update_overwrite => {
                    self.excuse(cid, &b, KnownIssue::PeerUpdateOverwrite, what);
                }
                // The holder's own renewal answered with a shorter lease:
                // the MCLT rule applied with a potential expiration time
                // (tsfp) below what the lease already ran to.
                Cause::Client(from) if from == cid && still_theirs && allow.shortened_renewal => {
                    self.excuse(cid, &b, KnownIssue::ShortenedRenewal, what);
                }
                _ => self.fail(Violation::new(Rule::KeptByServer, what)),
            }
        }
    }

    /// Rule 2 at the client: the DHCPACK it just accepted was backed by a
    /// durable lease when the server sent it.
    pub(crate) fn check_ack(
        &mut self,
        client: usize,
        binding: &Binding,
        evidence: Option<&Evidence>,
    ) -> Result<(), Violation> {
        let Some(ev) = evidence else {
            return Err(Violation::new(
                Rule::DurableBeforeAck,
                format!("client {client} accepted a DHCPACK the world has no record of"),
            ));
        };
        let name = self.servers.get(ev.server).map_or("?", |s| s.name);
        let Some(c) = self.clients.get(client) else {
            return Ok(());
        };
        let Some(l) = &ev.durable else {
            return Err(Violation::new(
                Rule::DurableBeforeAck,
                format!(
                    "{name} sent DHCPACK {} to client {client} with nothing on disk for that address",
                    binding.addr
                ),
            ));
        };
        // isc-failover.md §3.4: the lease may not run more than the MCLT
        // beyond what the peer has acknowledged or sent (tsfp).
        // A renewal answered with the unchanged lease (dhcp-cache-threshold)
        // grants nothing new (its `starts` is older): the bound applied when
        // `ends` was set, by whichever server set it.
        let fresh = l.starts == ev.issued_wall;
        if ev.failover && fresh {
            let bound = ev.issued_wall.max(l.tsfp) + u64::from(self.params.pair.mclt);
            if l.ends > bound && l.ends != tandem_lease::INFINITE {
                return Err(Violation::new(
                    Rule::Mclt,
                    format!(
                        "{name} granted {} to client {client} until {} at wall {}, beyond max(now, tsfp {}) + MCLT {}",
                        binding.addr, l.ends, ev.issued_wall, l.tsfp, self.params.pair.mclt
                    ),
                ));
            }
        }
        let ends_needed = ev.issued_wall + u64::from(binding.lease_secs);
        if l.binding_state != BindingState::Active || !owned_by(l, c) || l.ends < ends_needed {
            return Err(Violation::new(
                Rule::DurableBeforeAck,
                format!(
                    "{name} sent DHCPACK {} for {} s at wall {} to client {client}, but its disk had: {}",
                    binding.addr,
                    binding.lease_secs,
                    ev.issued_wall,
                    describe(l)
                ),
            ));
        }
        self.checker.acked_by.insert(client, ev.server);
        Ok(())
    }

    /// Rule 2 at restart: every lease this server granted that a client
    /// still holds is in the rebuilt table.
    pub(crate) fn check_restart(&self, k: usize) -> Result<(), Violation> {
        let Some(node) = self.servers.get(k).and_then(|s| s.node.as_ref()) else {
            return Ok(());
        };
        let tol = self.checker.tolerance_ms();
        let name = self.servers[k].name;
        for c in &self.clients {
            if self.checker.acked_by.get(&c.id) != Some(&k) {
                continue;
            }
            let Some(b) = c.holding(self.now) else {
                continue;
            };
            if b.expires <= self.now + tol || self.excused(c.id, b) {
                continue;
            }
            let ok = node.lease(b.addr).is_some_and(|l| {
                l.binding_state == BindingState::Active
                    && owned_by(l, c)
                    && (l.ends as i64) * 1000 + tol as i64 >= self.wall_ms_at(k, b.expires)
            });
            if !ok && !self.peer_overwrote(b, k) {
                return Err(Violation::new(
                    Rule::KeptAcrossRestart,
                    format!(
                        "{name} restarted without client {}'s lease {} (ACKed by {name} at {}, held until {}); table has: {}",
                        c.id,
                        b.addr,
                        fmt_ms(b.acked_at),
                        fmt_ms(b.expires),
                        node.lease(b.addr).map_or_else(|| "nothing".into(), describe)
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Rule 3, after the faults healed and time passed.
    pub(crate) fn check_converged(&self) -> Result<(), Violation> {
        let tol = self.checker.tolerance_ms();
        for slot in &self.servers {
            let Some(node) = &slot.node else {
                return Err(Violation::new(
                    Rule::Convergence,
                    format!("{} is not running", slot.name),
                ));
            };
            if let Some(st) = node.failover_state() {
                if st != FailoverState::Normal || !node.connected() {
                    return Err(Violation::new(
                        Rule::Convergence,
                        format!(
                            "{} is in {} (connected: {}) after every fault healed; its states: {}",
                            slot.name,
                            st.keyword(),
                            node.connected(),
                            slot.state_history()
                        ),
                    ));
                }
            }
        }
        for c in &self.clients {
            let Some(b) = c.holding(self.now) else {
                continue;
            };
            if b.expires <= self.now + tol || self.excused(c.id, b) {
                continue;
            }
            for (k, slot) in self.servers.iter().enumerate() {
                let Some(node) = &slot.node else { continue };
                if self.peer_overwrote(b, k) || self.peer_overwrote(b, 1 - k) {
                    continue;
                }
                let ok = node
                    .lease(b.addr)
                    .is_some_and(|l| l.binding_state == BindingState::Active && owned_by(l, c));
                if !ok {
                    return Err(Violation::new(
                        Rule::Convergence,
                        format!(
                            "client {} holds {} (ACK from {} at {}, until {}) but {}'s table has: {}",
                            c.id,
                            b.addr,
                            b.server_id,
                            fmt_ms(b.acked_at),
                            fmt_ms(b.expires),
                            slot.name,
                            node.lease(b.addr).map_or_else(|| "nothing".into(), describe)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}
