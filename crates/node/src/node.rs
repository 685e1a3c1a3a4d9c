//! [`Node`]: the engine and its failover relationships behind one
//! `handle(now, input) -> effects`.
//!
//! # Ordering rules
//!
//! * A peer's [`Action::PersistState`] is a barrier: the rest of its batch
//!   goes into the `then` of the state record's `Persist` (ISC refuses a
//!   transition it cannot write, `fo.c:1846-1853`).
//! * A BNDUPD never leaves before the lease it describes is durable. A
//!   BNDUPD sent for an engine commit rides in the `then` of that engine
//!   batch's last `Persist`, after the client's reply. Any other BNDUPD (a
//!   window slot freed by a BNDACK, UPDREQ answers) is wrapped, with the rest
//!   of its batch, in a `Persist` with no records: drivers complete Persists
//!   in order, so that one completes only after every write issued before it.
//! * A peer's binding ([`Action::ApplyBinding`]) is persisted with a `notify`
//!   token; its BNDACK goes out when `Input::Persisted` comes back.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex};

use tandem_config::Config;
use tandem_engine::{Engine, Interface, LogLevel, Now};
use tandem_failover::balance::{
    plan_balance, secondary_not_hoarding, BalanceParams, RebalanceTiming,
};
use tandem_failover::binding::{apply_bndack, partner_down_reuse_after, AckOutcome, AckedUpdate};
use tandem_failover::hash::Hba;
use tandem_failover::message::{Body, FrameDecoder};
use tandem_failover::peer::{BalanceTrigger, Level};
use tandem_failover::{Action, Input as PeerInput, LeaseView, Peer, PeerConfig, Role};
use tandem_lease::{BindingState, FailoverState, Lease, LeaseDb, Record, Time};

use crate::convert::{rel_spec, saved_state, RelSpec};
use crate::hooks::{lock, NodeHooks, Shared};
use crate::{ConnId, Effect, Input, Listen, NodeError, PeerInfo};

type PeerParams = (String, Role, Option<Hba>, PeerConfig, FailoverState);

/// What an `Effect::Persist { notify: Some(token) }` was for.
#[derive(Debug, Clone, Copy)]
enum Pending {
    /// A `PersistState` barrier of relationship `peer`.
    State { peer: usize },
    /// The lease of an `ApplyBinding` (`token` is the peer's).
    Binding {
        peer: usize,
        token: u64,
        addr: Ipv4Addr,
        mac_affinity: bool,
    },
}

/// Per relationship, what the node keeps beside the `Peer`.
#[derive(Debug)]
struct Rel {
    spec: RelSpec,
    decl: DeclKey,
    partner_max_unacked: Option<u32>,
    partner_max_response_delay: Option<u32>,
    last_sent: Option<Time>,
    last_received: Option<Time>,
    skew: i64,
    last_balance: Option<Time>,
    shutdown_complete: bool,
}

#[derive(Debug)]
struct Conn {
    peer: usize,
    decoder: FrameDecoder,
}

/// One relationship's leases as the engine holds them.
struct RelView<'a> {
    engine: &'a Engine,
    name: &'a str,
}

impl LeaseView for RelView<'_> {
    fn lease(&self, addr: Ipv4Addr) -> Option<&Lease> {
        if self.engine.lease_failover_peer(addr) == Some(self.name) {
            self.engine.lease(addr)
        } else {
            None
        }
    }
    fn for_each_lease(&self, f: &mut dyn FnMut(&Lease)) {
        self.engine.failover_leases(self.name).for_each(f)
    }
}

/// One Tandem server: the DHCP engine plus one failover `Peer` per
/// `failover peer` block. See the crate documentation for the contract.
pub struct Node {
    config: Arc<Config>,
    engine: Engine,
    shared: Arc<Mutex<Shared>>,
    rels: Vec<Rel>,
    conns: HashMap<ConnId, Conn>,
    pending: HashMap<u64, Pending>,
    next_token: u64,
    shutting_down: bool,
    shutdown_reported: bool,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = lock(&self.shared);
        let peers: Vec<(&str, FailoverState)> =
            s.peers.iter().map(|p| (p.name(), p.state())).collect();
        f.debug_struct("Node")
            .field("peers", &peers)
            .field("connections", &self.conns.len())
            .field("pending_persists", &self.pending.len())
            .finish_non_exhaustive()
    }
}

fn log_level(l: Level) -> LogLevel {
    match l {
        Level::Debug => LogLevel::Debug,
        Level::Info => LogLevel::Info,
        Level::Error => LogLevel::Error,
    }
}

fn fo_now(now: Now) -> tandem_failover::Now {
    tandem_failover::Now {
        wall: now.wall,
        mono_ms: now.mono_ms,
    }
}

/// The engine's effects as node effects (1:1; `then` stays in place).
fn map_engine(effects: Vec<tandem_engine::Effect>) -> Vec<Effect> {
    effects
        .into_iter()
        .map(|e| match e {
            tandem_engine::Effect::Reply {
                bytes,
                to,
                ifindex,
                src,
            } => Effect::Reply {
                bytes,
                to,
                ifindex,
                src,
            },
            tandem_engine::Effect::Log { level, message } => Effect::Log { level, message },
            tandem_engine::Effect::Persist { records, then } => Effect::Persist {
                records,
                then: map_engine(then),
                notify: None,
            },
        })
        .collect()
}

fn own_free(role: Role) -> (BindingState, BindingState) {
    match role {
        Role::Primary => (BindingState::Free, BindingState::Backup),
        Role::Secondary => (BindingState::Backup, BindingState::Free),
    }
}

impl Node {
    /// Builds the node: one `Peer` per `failover peer` block (saved state
    /// from the config's `failover peer "x" state` declarations, then the
    /// lease file's), the engine with the peers' hooks in place, and the
    /// startup effects (state records, connections, expiries).
    pub fn new(
        config: Arc<Config>,
        interfaces: Vec<Interface>,
        db: LeaseDb,
        resolve: &dyn Fn(&str) -> Option<Ipv4Addr>,
        now: Now,
    ) -> Result<(Node, Vec<Effect>), NodeError> {
        let mut shared = Shared::default();
        let mut rels = Vec::new();
        let mut startup = Vec::new();
        for fp in &config.failover_peers {
            let spec = rel_spec(&config, fp, resolve)?;
            let saved = saved_state(&config, &db, &fp.name, now.wall);
            let (peer, actions) = Peer::new(spec.cfg.clone(), saved.as_ref(), fo_now(now));
            shared.by_name.insert(fp.name.clone(), shared.peers.len());
            shared.peers.push(peer);
            startup.push(actions);
            rels.push(Rel {
                decl: DeclKey::new(&config, fp),
                spec,
                partner_max_unacked: None,
                partner_max_response_delay: None,
                last_sent: None,
                last_received: None,
                skew: 0,
                last_balance: None,
                shutdown_complete: false,
            });
        }
        let shared = Arc::new(Mutex::new(shared));
        let engine = Engine::with_failover(
            Arc::clone(&config),
            interfaces,
            db.leases.into_values().collect(),
            Box::new(NodeHooks(Arc::clone(&shared))),
            now,
        )?;
        let mut node = Node {
            config,
            engine,
            shared,
            rels,
            conns: HashMap::new(),
            pending: HashMap::new(),
            next_token: 1,
            shutting_down: false,
            shutdown_reported: false,
        };
        let mut out = Vec::new();
        for (i, actions) in startup.into_iter().enumerate() {
            out.extend(node.run_actions(now, i, actions, false));
        }
        // The engine's startup diagnostics and the expiries of leases that
        // ended while we were down.
        let effects = node.engine.tick(now);
        out.extend(node.after_engine(now, effects));
        Ok((node, out))
    }

    /// Feeds one input; returns the effects to carry out, in order.
    pub fn handle(&mut self, now: Now, input: Input) -> Vec<Effect> {
        match input {
            Input::Packet { rx, bytes } => {
                let effects = self.engine.handle_packet(now, &rx, &bytes);
                self.after_engine(now, effects)
            }
            Input::Tick => {
                let effects = self.engine.tick(now);
                self.after_engine(now, effects)
            }
            Input::Timers => {
                let mut out = Vec::new();
                for i in 0..self.rels.len() {
                    let actions = {
                        let mut s = lock(&self.shared);
                        let view = RelView {
                            engine: &self.engine,
                            name: &self.rels[i].spec.cfg.name,
                        };
                        match s.peers.get_mut(i) {
                            Some(p) => p.handle_timeouts(fo_now(now), &view),
                            None => Vec::new(),
                        }
                    };
                    out.extend(self.run_actions(now, i, actions, false));
                }
                out
            }
            Input::PeerConnected { peer, conn } => {
                if peer >= self.rels.len() {
                    return vec![Effect::PeerClose { conn }];
                }
                self.conns.insert(
                    conn,
                    Conn {
                        peer,
                        decoder: FrameDecoder::new(),
                    },
                );
                self.feed(now, peer, PeerInput::Connected { conn }, false)
            }
            Input::PeerConnectFailed { peer } => {
                if peer >= self.rels.len() {
                    return Vec::new();
                }
                self.feed(now, peer, PeerInput::ConnectFailed, false)
            }
            Input::PeerBytes { conn, bytes } => self.peer_bytes(now, conn, &bytes),
            Input::PeerClosed { conn } => match self.conns.remove(&conn) {
                Some(c) => self.feed(now, c.peer, PeerInput::Disconnected { conn }, false),
                None => Vec::new(),
            },
            Input::Persisted { token, ok } => self.persisted(now, token, ok),
            Input::SetLocalState { peer, state } => {
                let i = lock(&self.shared).by_name.get(&peer).copied();
                match i {
                    Some(i) => self.feed(now, i, PeerInput::SetLocalState(state), false),
                    None => vec![Effect::Log {
                        level: LogLevel::Error,
                        message: format!("failover peer {peer}: no such relationship"),
                    }],
                }
            }
            Input::Shutdown => {
                self.shutting_down = true;
                let mut out = Vec::new();
                for i in 0..self.rels.len() {
                    out.extend(self.feed(now, i, PeerInput::Shutdown, false));
                }
                out.extend(self.check_shutdown());
                out
            }
        }
    }

    /// Monotonic ms of the earliest failover timer.
    pub fn next_timeout(&self) -> Option<u64> {
        lock(&self.shared)
            .peers
            .iter()
            .filter_map(Peer::next_timeout)
            .min()
    }

    /// Where to listen for each relationship, and whom to accept.
    pub fn listens(&self) -> Vec<Listen> {
        self.rels
            .iter()
            .enumerate()
            .map(|(peer, r)| Listen {
                peer,
                local: r.spec.local,
                remote_addr: *r.spec.remote.ip(),
            })
            .collect()
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// The relationships as OMAPI's `failover-state` object shows them.
    pub fn peer_infos(&self) -> Vec<PeerInfo> {
        let s = lock(&self.shared);
        self.rels
            .iter()
            .zip(s.peers.iter())
            .map(|(r, p)| {
                let rec = p.record();
                let partner = rec.partner.unwrap_or(tandem_lease::PeerStateEntry {
                    state: FailoverState::Unknown,
                    stos: 0,
                });
                PeerInfo {
                    name: p.name().to_owned(),
                    role: p.role(),
                    local_addr: *r.spec.local.ip(),
                    local_port: r.spec.local.port(),
                    partner_addr: *r.spec.remote.ip(),
                    partner_port: r.spec.remote.port(),
                    local_state: p.state(),
                    local_stos: p.stos(),
                    partner_state: partner.state,
                    partner_stos: partner.stos,
                    mclt: p.mclt(),
                    hba: p.hba().map(|h| h.0),
                    max_response_delay: r.spec.cfg.max_response_delay,
                    partner_max_response_delay: r.partner_max_response_delay,
                    max_unacked_updates: r.spec.cfg.max_unacked_updates,
                    partner_max_unacked_updates: r.partner_max_unacked,
                    load_balance_max_seconds: r.spec.cfg.load_balance_max_seconds,
                    cur_unacked_updates: u32::try_from(p.pending_updates().1).unwrap_or(u32::MAX),
                    last_packet_sent: r.last_sent,
                    last_timestamp_received: r.last_received,
                    skew: r.skew,
                    connected: p.is_connected(),
                }
            })
            .collect()
    }

    /// Everything a lease-file rewrite writes: the leases ISC writes and the
    /// current state record of every relationship.
    pub fn leases_for_rewrite(&self) -> Vec<Record> {
        let s = lock(&self.shared);
        let mut v: Vec<Record> = s
            .peers
            .iter()
            .map(|p| Record::FailoverState(p.record()))
            .collect();
        v.extend(self.engine.leases().cloned().map(Record::Lease));
        v
    }

    /// Installs a new configuration in the engine. Failover relationships
    /// keep running when their block is unchanged; a changed, added or
    /// removed block is logged: it takes effect at the next restart.
    pub fn reload(&mut self, config: Arc<Config>, now: Now) -> Result<Vec<Effect>, NodeError> {
        let mut notes = Vec::new();
        let restart = |name: &str, what: &str| Effect::Log {
            level: LogLevel::Error,
            message: format!(
                "failover peer {name}: {what}; the server must be restarted for this to take effect"
            ),
        };
        for fp in &config.failover_peers {
            match self.rels.iter().find(|r| r.spec.cfg.name == fp.name) {
                None => notes.push(restart(&fp.name, "new relationship")),
                Some(r) if r.decl != DeclKey::new(&config, fp) => {
                    notes.push(restart(&fp.name, "configuration changed"))
                }
                Some(_) => {}
            }
        }
        for r in &self.rels {
            if !config
                .failover_peers
                .iter()
                .any(|fp| fp.name == r.spec.cfg.name)
            {
                notes.push(restart(&r.spec.cfg.name, "relationship removed"));
            }
        }
        let effects = self.engine.reload(Arc::clone(&config), now)?;
        self.config = config;
        let mut out = notes;
        out.extend(self.after_engine(now, effects));
        Ok(out)
    }

    // ------------------------------------------------------------ internals

    fn token(&mut self, p: Pending) -> u64 {
        let t = self.next_token;
        self.next_token += 1;
        self.pending.insert(t, p);
        t
    }

    /// Feeds one input to peer `i` and carries out its actions.
    fn feed(&mut self, now: Now, i: usize, input: PeerInput, fresh: bool) -> Vec<Effect> {
        let actions = {
            let mut s = lock(&self.shared);
            let Some(rel) = self.rels.get(i) else {
                return Vec::new();
            };
            let view = RelView {
                engine: &self.engine,
                name: &rel.spec.cfg.name,
            };
            match s.peers.get_mut(i) {
                Some(p) => p.handle(fo_now(now), input, &view),
                None => Vec::new(),
            }
        };
        self.run_actions(now, i, actions, fresh)
    }

    /// After an engine call: feed the propagated commits to their peers and
    /// put the resulting BNDUPDs after the batch's last commit.
    fn after_engine(&mut self, now: Now, effects: Vec<tandem_engine::Effect>) -> Vec<Effect> {
        let mut out = map_engine(effects);
        let (changed, retries) = {
            let mut s = lock(&self.shared);
            (
                std::mem::take(&mut s.changed),
                std::mem::take(&mut s.retries),
            )
        };
        let last_persist = out
            .iter()
            .rposition(|e| matches!(e, Effect::Persist { .. }));
        let mut follow = Vec::new();
        for (i, addr) in changed {
            let Some(lease) = self.engine.lease(addr).cloned() else {
                continue;
            };
            follow.extend(self.feed(
                now,
                i,
                PeerInput::LeaseChanged(lease),
                last_persist.is_some(),
            ));
        }
        match last_persist.and_then(|k| out.get_mut(k)) {
            Some(Effect::Persist { then, .. }) => then.extend(follow),
            _ => out.extend(follow),
        }
        for (i, secs) in retries {
            out.extend(self.feed(now, i, PeerInput::ClientRetrySeen { secs }, false));
        }
        out
    }

    fn peer_bytes(&mut self, now: Now, conn: ConnId, bytes: &[u8]) -> Vec<Effect> {
        let Some(c) = self.conns.get_mut(&conn) else {
            return Vec::new();
        };
        let peer = c.peer;
        c.decoder.push(bytes);
        let mut msgs = Vec::new();
        let mut error = None;
        loop {
            match c.decoder.next_message() {
                Ok(Some(m)) => msgs.push(m),
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let mut out = Vec::new();
        for msg in msgs {
            if !self.conns.contains_key(&conn) {
                // Closed by the peer while handling an earlier message.
                return out;
            }
            if let Some(r) = self.rels.get_mut(peer) {
                r.last_received = Some(Time::from(msg.time));
                r.skew = i64::from(msg.time) - i64::try_from(now.wall).unwrap_or(i64::MAX);
                match &msg.body {
                    Body::Connect(c) => {
                        r.partner_max_unacked = c.max_unacked;
                        r.partner_max_response_delay = c.receive_timer;
                    }
                    Body::ConnectAck(c) => {
                        r.partner_max_unacked = c.max_unacked;
                        r.partner_max_response_delay = c.receive_timer;
                    }
                    _ => {}
                }
            }
            out.extend(self.feed(now, peer, PeerInput::Message { conn, msg }, false));
        }
        if let Some(error) = error {
            if self.conns.remove(&conn).is_some() {
                out.extend(self.feed(now, peer, PeerInput::ProtocolError { conn, error }, false));
            }
        }
        out
    }

    fn persisted(&mut self, now: Now, token: u64, ok: bool) -> Vec<Effect> {
        match self.pending.remove(&token) {
            None => Vec::new(),
            Some(Pending::State { peer }) => {
                if ok {
                    Vec::new()
                } else {
                    self.feed(now, peer, PeerInput::StatePersistFailed, false)
                }
            }
            Some(Pending::Binding {
                peer,
                token,
                addr,
                mac_affinity,
            }) => {
                if !ok {
                    return self.feed(now, peer, PeerInput::BindingPersistFailed { token }, false);
                }
                let mut out = self.feed(now, peer, PeerInput::BindingPersisted { token }, false);
                if mac_affinity {
                    out.extend(self.mac_affinity(now, peer, addr));
                }
                out
            }
        }
    }

    /// Carries out a peer's actions in order (see the module docs for the
    /// barriers). `fresh`: the effects will run inside the `then` of a
    /// `Persist` issued after every table change so far.
    fn run_actions(
        &mut self,
        now: Now,
        i: usize,
        actions: Vec<Action>,
        fresh: bool,
    ) -> Vec<Effect> {
        let mut out = Vec::new();
        let mut rest = actions.into_iter();
        while let Some(action) = rest.next() {
            match action {
                Action::PersistState(record) => {
                    let token = self.token(Pending::State { peer: i });
                    let then = self.run_actions(now, i, rest.collect(), true);
                    out.push(Effect::Persist {
                        records: vec![Record::FailoverState(record)],
                        then,
                        notify: Some(token),
                    });
                    return out;
                }
                Action::Send { conn, msg } => {
                    if !fresh && matches!(msg.body, Body::BndUpd(_)) {
                        let mut remaining = vec![Action::Send { conn, msg }];
                        remaining.extend(rest);
                        let then = self.run_actions(now, i, remaining, true);
                        out.push(Effect::Persist {
                            records: Vec::new(),
                            then,
                            notify: None,
                        });
                        return out;
                    }
                    match msg.encode() {
                        Ok(bytes) => {
                            if let Some(r) = self.rels.get_mut(i) {
                                r.last_sent = Some(now.wall);
                            }
                            out.push(Effect::PeerSend { conn, bytes });
                        }
                        Err(e) => out.push(Effect::Log {
                            level: LogLevel::Error,
                            message: format!("failover: cannot encode {:?}: {e}", msg.body),
                        }),
                    }
                }
                Action::OpenConnection => {
                    if let Some(r) = self.rels.get(i) {
                        out.push(Effect::PeerConnect {
                            peer: i,
                            local: SocketAddrV4::new(*r.spec.local.ip(), 0),
                            remote: r.spec.remote,
                        });
                    }
                }
                Action::Close { conn } => {
                    self.conns.remove(&conn);
                    out.push(Effect::PeerClose { conn });
                }
                // The peer keeps its deadlines; `next_timeout` exposes them.
                Action::Schedule { .. } => {}
                Action::ApplyBinding {
                    token,
                    lease,
                    mac_affinity,
                } => {
                    let addr = lease.addr;
                    match self.engine.apply_peer_binding(lease) {
                        Some(record) => {
                            let notify = self.token(Pending::Binding {
                                peer: i,
                                token,
                                addr,
                                mac_affinity,
                            });
                            out.push(Effect::Persist {
                                records: vec![record],
                                then: Vec::new(),
                                notify: Some(notify),
                            });
                        }
                        None => out.extend(self.feed(
                            now,
                            i,
                            PeerInput::BindingPersistFailed { token },
                            fresh,
                        )),
                    }
                }
                Action::BindingAcked(acked) => out.extend(self.binding_acked(now, i, &acked)),
                Action::ExpiredTsfp { stos, mclt } => out.extend(self.expired_tsfp(i, stos, mclt)),
                Action::PoolRebalance(trigger) => out.extend(self.rebalance(now, i, trigger)),
                Action::ServiceChanged(_) => self.engine.recheck_expiry(),
                Action::ShutdownComplete => {
                    if let Some(r) = self.rels.get_mut(i) {
                        r.shutdown_complete = true;
                    }
                    out.extend(self.check_shutdown());
                }
                Action::Log { level, text } => out.push(Effect::Log {
                    level: log_level(level),
                    message: text,
                }),
            }
        }
        out
    }

    fn check_shutdown(&mut self) -> Vec<Effect> {
        if self.shutting_down
            && !self.shutdown_reported
            && self.rels.iter().all(|r| r.shutdown_complete)
        {
            self.shutdown_reported = true;
            return vec![Effect::ShutdownComplete];
        }
        Vec::new()
    }

    /// A relationship's name, role, HBA, configuration and state.
    fn peer_params(&self, i: usize) -> Option<PeerParams> {
        let s = lock(&self.shared);
        let p = s.peers.get(i)?;
        Some((
            p.name().to_owned(),
            p.role(),
            p.hba().copied(),
            p.config().clone(),
            p.state(),
        ))
    }

    /// §3.7: the peer acked our update: `tsfp = atsfp =` the TSTP it saw;
    /// an acked EXPIRED/RELEASED/RESET becomes FREE (or BACKUP). Persisted,
    /// not propagated (ISC sends no BNDUPD for that step).
    fn binding_acked(&mut self, now: Now, i: usize, acked: &AckedUpdate) -> Vec<Effect> {
        let Some((_, role, hba, _, _)) = self.peer_params(i) else {
            return Vec::new();
        };
        let mut outcome = AckOutcome::default();
        let Some(lease) = self.engine.update_lease(acked.addr, |l| {
            outcome = apply_bndack(l, acked, role, hba.as_ref());
        }) else {
            return Vec::new();
        };
        let mut out = vec![Effect::Persist {
            records: vec![Record::Lease(lease)],
            then: Vec::new(),
            notify: None,
        }];
        if outcome.mac_affinity {
            out.extend(self.mac_affinity(now, i, acked.addr));
        }
        out
    }

    /// Primary: a freed lease whose client hashes to the secondary goes to
    /// the secondary as BACKUP if it is not hoarding (`fo.c:5444-5492`,
    /// `fo.c:5620-5668`).
    fn mac_affinity(&mut self, now: Now, i: usize, addr: Ipv4Addr) -> Vec<Effect> {
        let Some((name, role, _, cfg, state)) = self.peer_params(i) else {
            return Vec::new();
        };
        if role != Role::Primary || state != FailoverState::Normal {
            return Vec::new();
        }
        let Some(pool) = self.engine.lease_pool(addr) else {
            return Vec::new();
        };
        let Some(counts) = self
            .engine
            .failover_pools(&name)
            .into_iter()
            .find(|p| p.id == pool)
        else {
            return Vec::new();
        };
        if !secondary_not_hoarding(counts.free, counts.backup, cfg.max_lease_ownership) {
            return Vec::new();
        }
        if self.engine.lease(addr).map(|l| l.binding_state) != Some(BindingState::Free) {
            return Vec::new();
        }
        self.move_leases(now, i, &[addr], BindingState::Backup, Vec::new())
    }

    /// Moves leases to the peer's free state with `tstp = starts = now`
    /// (`fo.c:2650-2651`), persists them and tells the peer; `extra` peer
    /// inputs are fed after the moves, with their effects in the same `then`.
    fn move_leases(
        &mut self,
        now: Now,
        i: usize,
        addrs: &[Ipv4Addr],
        to: BindingState,
        extra: Vec<PeerInput>,
    ) -> Vec<Effect> {
        let mut records = Vec::new();
        let mut moved = Vec::new();
        for &a in addrs {
            if let Some(l) = self.engine.update_lease(a, |l| {
                l.binding_state = to;
                l.next_binding_state = None;
                l.rewind_binding_state = Some(to);
                l.tstp = now.wall;
                l.starts = now.wall;
                l.atsfp = 0;
            }) {
                moved.push(l.clone());
                records.push(Record::Lease(l));
            }
        }
        let fresh = !records.is_empty();
        let mut then = Vec::new();
        for input in extra {
            then.extend(self.feed(now, i, input, fresh));
        }
        for l in moved {
            then.extend(self.feed(now, i, PeerInput::LeaseChanged(l), fresh));
        }
        if records.is_empty() {
            return then;
        }
        vec![Effect::Persist {
            records,
            then,
            notify: None,
        }]
    }

    /// Entering partner-down: `tsfp` on every ended lease (`fo.c:1972-2015`),
    /// raised to the draft's max and never lowered
    /// ([`tandem_failover::binding::partner_down_reuse_after`]).
    fn expired_tsfp(&mut self, i: usize, stos: Time, mclt: u32) -> Vec<Effect> {
        let Some(name) = self.rels.get(i).map(|r| r.spec.cfg.name.clone()) else {
            return Vec::new();
        };
        let addrs: Vec<Ipv4Addr> = self
            .engine
            .failover_leases(&name)
            .filter(|l| {
                matches!(
                    l.binding_state,
                    BindingState::Expired | BindingState::Released | BindingState::Reset
                )
            })
            .map(|l| l.addr)
            .collect();
        let records: Vec<Record> = addrs
            .into_iter()
            .filter_map(|a| {
                self.engine.update_lease(a, |l| {
                    l.tsfp = partner_down_reuse_after(l, stos, mclt);
                })
            })
            .map(Record::Lease)
            .collect();
        self.engine.recheck_expiry();
        if records.is_empty() {
            return Vec::new();
        }
        vec![Effect::Persist {
            records,
            then: Vec::new(),
            notify: None,
        }]
    }

    /// §3.9: balance every pool of the relationship, then report.
    fn rebalance(&mut self, now: Now, i: usize, trigger: BalanceTrigger) -> Vec<Effect> {
        let Some((name, role, hba, cfg, state)) = self.peer_params(i) else {
            return Vec::new();
        };
        let (own, theirs) = own_free(role);
        let params = BalanceParams {
            role,
            max_lease_misbalance: cfg.max_lease_misbalance,
            max_lease_ownership: cfg.max_lease_ownership,
            hot_standby: cfg.hot_standby,
        };
        let mut out = Vec::new();
        let mut give = Vec::new();
        let mut want_poolreq = false;
        let pools = self.engine.failover_pools(&name);
        if trigger != BalanceTrigger::Check && state == FailoverState::Normal {
            for pool in &pools {
                let queue = self.engine.pool_queue(pool.id, own);
                let plan = plan_balance(
                    &params,
                    pool.free,
                    pool.backup,
                    &queue,
                    hba.as_ref(),
                    trigger == BalanceTrigger::Timer,
                );
                let [l1, l2] = plan.log_lines(&pool.name);
                out.push(Effect::Log {
                    level: LogLevel::Info,
                    message: l1,
                });
                out.push(Effect::Log {
                    level: if plan.imbalanced() {
                        LogLevel::Error
                    } else {
                        LogLevel::Info
                    },
                    message: l2,
                });
                want_poolreq |= plan.request_peer;
                give.extend(plan.give_away);
            }
            if let Some(r) = self.rels.get_mut(i) {
                r.last_balance = Some(now.wall);
            }
        }
        let moved = u32::try_from(give.len()).unwrap_or(u32::MAX);
        let next_check = (state == FailoverState::Normal)
            .then(|| self.next_balance_check(now, i, &name, &cfg))
            .flatten();
        let balanced = PeerInput::PoolBalanced {
            trigger,
            moved,
            want_poolreq,
            next_check,
        };
        out.extend(self.move_leases(now, i, &give, theirs, vec![balanced]));
        out
    }

    /// When to rebalance next (`dhcp_failover_pool_check`): the earliest
    /// over the relationship's pools, without ISC's 0-4 s random delay.
    fn next_balance_check(&self, now: Now, i: usize, name: &str, cfg: &PeerConfig) -> Option<Time> {
        let timing = RebalanceTiming {
            role: cfg.role,
            max_lease_misbalance: cfg.max_lease_misbalance,
            min_balance: cfg.min_balance,
            max_balance: cfg.max_balance,
        };
        let last = self.rels.get(i).and_then(|r| r.last_balance);
        self.engine
            .failover_pools(name)
            .iter()
            .map(|p| {
                let oldest = |s| self.engine.pool_queue(p.id, s).first().map(|l| l.ends);
                timing.next_check(
                    now.wall,
                    oldest(BindingState::Free),
                    oldest(BindingState::Backup),
                    last,
                    0,
                )
            })
            .min()
    }
}

/// What must stay equal for a relationship to keep running across a reload:
/// the block as written (names unresolved) and its pools' ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DeclKey {
    cfg: Option<tandem_failover::PeerConfig>,
    address: Option<tandem_config::HostAddr>,
    port: u16,
    peer_address: Option<tandem_config::HostAddr>,
    peer_port: u16,
}

impl DeclKey {
    fn new(config: &Config, fp: &tandem_config::FailoverPeer) -> Self {
        DeclKey {
            cfg: rel_spec(config, fp, &|_| Some(Ipv4Addr::UNSPECIFIED))
                .ok()
                .map(|s| s.cfg),
            address: fp.address.clone(),
            port: fp.port,
            peer_address: fp.peer_address.clone(),
            peer_port: fp.peer_port,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_can_move_to_another_task() {
        fn send<T: Send>() {}
        send::<Node>();
    }
}
