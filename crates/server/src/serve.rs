//! The running server: one current-thread tokio runtime, one task that owns
//! the node (the engine and its failover relationships, `tandem_node`) and
//! selects over received datagrams, a 1 s tick, the node's failover timers,
//! completed lease-file commits, failover link events, and signals.
//!
//! Durability rule: the `then` effects of a `Persist` run only after the
//! store reported that the records are on disk (fdatasync). If the commit
//! failed they are dropped and the failure is logged: no ACK for a lease
//! that is not on disk. A `Persist` with `notify` is answered with
//! `Input::Persisted` after its `then` ran (ok: false, and no `then`, if
//! the write failed).
//!
//! Failover links (isc-failover.md §1.1): [`PeerLinks`] listens on every
//! relationship's `address`:`port`, connects when the node asks, and reports
//! through the same completion channel, so the node task stays the only
//! owner of all state.
//!
//! Shutdown (§2.6): SIGTERM, SIGINT or OMAPI `control state = 2` feed
//! `Input::Shutdown`; the loop keeps serving the links until the node says
//! `ShutdownComplete` (or [`crate::failover::SHUTDOWN_DEADLINE`] passed, or a
//! second signal came), then flushes the store and exits.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tandem_engine::{LogLevel, Now, Record, Stats};
use tandem_lease::HostRecord;
use tandem_net::peerlink::{EventSink, LinkEvent, PeerLinks};
use tandem_net::{AsyncDhcpSocket, DhcpSocket, Transmitter, TxStats};
use tandem_node::{Effect, Input, Node};
use tandem_store::{CommitHandle, GroupCommitter, LeaseDb, StoreError};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use crate::cli::Options;
use crate::failover::{self, FailoverDesk, ShutdownPhase};
use crate::listen::{self, SubnetDecl};
use crate::log::Logger;
use crate::startup::Prepared;

/// ISC rewrites the lease file once an hour (`db_startup`/`commit_leases`:
/// 3600 seconds after the last rewrite).
const REWRITE_INTERVAL: Duration = Duration::from_secs(3600);
/// Datagrams handled per wakeup before the task yields to the other
/// branches (ticks, commits, signals).
const RX_BUDGET: usize = 64;
/// Largest datagram read; bigger ones are counted and dropped.
const RX_BUFFER: usize = 65_535;
/// A failover timer still due right after the node ran its timers is
/// retried after this many milliseconds rather than at once.
const STUCK_TIMER_RETRY: u64 = 100;

/// The process clock, read once per wakeup.
static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Current time as the engine takes it: wall-clock seconds, and
/// milliseconds since the process started on the monotonic clock.
pub fn clock_now() -> Now {
    let start = *START.get_or_init(Instant::now);
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Now {
        wall,
        mono_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// The monotonic instant of a node time (`Now::mono_ms`), for sleeping.
fn mono_instant(mono_ms: u64) -> tokio::time::Instant {
    let start = *START.get_or_init(Instant::now);
    tokio::time::Instant::from_std(start) + Duration::from_millis(mono_ms)
}

/// Lease-file records that the node does not write itself (OMAPI hosts and
/// groups, other top-level lines), kept from the file so every rewrite
/// preserves them. The failover state records are the node's
/// (`Node::leases_for_rewrite`); ISC drops the state of a peer that is no
/// longer configured, and so do we.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    pub records: Vec<Record>,
}

impl Extras {
    pub fn from_db(db: &LeaseDb) -> Self {
        let mut records: Vec<Record> = db.other.iter().cloned().map(Record::Other).collect();
        records.extend(db.hosts.values().cloned().map(Record::Host));
        // A deletion must survive the rewrite, or a host declared in
        // dhcpd.conf and deleted over OMAPI would come back (ISC keeps these).
        records.extend(db.deleted_hosts.iter().map(|name| {
            Record::Host(HostRecord {
                name: name.clone(),
                deleted: true,
                hardware: None,
                uid: None,
                fixed_address: None,
                statements: Vec::new(),
            })
        }));
        Extras { records }
    }
}

/// Receive-side counters kept by the driver (the engine counts the rest).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RxStats {
    pub received: u64,
    /// Arrived on an interface we do not serve.
    pub foreign_interface: u64,
    /// Larger than the receive buffer.
    pub truncated: u64,
    pub recv_errors: u64,
    /// Replies dropped because their commit failed.
    pub unsynced_dropped: u64,
    pub commit_failures: u64,
}

/// Everything a metrics exporter will want, in one place.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub rx: RxStats,
    pub tx: TxStats,
    pub engine: Stats,
}

/// A completion from the store's writer thread, or a failover link event,
/// carried to the node task.
enum Completion {
    Persisted {
        result: Result<(), StoreError>,
        then: Vec<Effect>,
        notify: Option<u64>,
    },
    /// A failover connection, its bytes or its end (see [`PeerLinks`]).
    Link(LinkEvent),
    Rewritten(Result<(), StoreError>),
    /// An OMAPI host/group change is on disk (or not): answer it.
    Omapi {
        token: crate::omapi::PersistToken,
        result: Result<(), StoreError>,
    },
}

/// Why the loop ended.
enum Exit {
    /// A shutdown was asked for and the hand-over is over.
    Shutdown,
    Fatal(String),
}

/// Builds the runtime and serves until a signal; returns the exit status.
pub fn run(prepared: Box<Prepared>, opts: &Options, log: Logger) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log.error(&format!("can't start the runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(*prepared, opts.clone(), log))
}

struct Server {
    node: Node,
    /// The failover TCP connections and listeners.
    links: PeerLinks,
    shutdown: ShutdownPhase,
    /// Set once the loop ended: completions only release what waited.
    draining: bool,
    /// When `Input::Timers` was last fed (node time), to notice a timer
    /// that stays due.
    timers_fed_at: Option<u64>,
    tx: Transmitter,
    commits: CommitHandle,
    done: mpsc::UnboundedSender<Completion>,
    log: Logger,
    listen: Vec<u32>,
    rx: RxStats,
    extras: Extras,
    opts: Options,
    last_rewrite: Instant,
    /// OMAPI objects and answers waiting for the disk (None without omapi-port).
    omapi: Option<crate::omapi::OmapiState>,
}

async fn serve(p: Prepared, opts: Options, log: Logger) -> ExitCode {
    let socket = match AsyncDhcpSocket::new(p.socket) {
        Ok(s) => s,
        Err(e) => {
            log.error(&format!("can't register the DHCP socket: {e}"));
            return ExitCode::FAILURE;
        }
    };
    let (Ok(mut sigterm), Ok(mut sigint), Ok(mut sighup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        log.error("can't install signal handlers");
        return ExitCode::FAILURE;
    };
    let (done_tx, mut done_rx) = mpsc::unbounded_channel();
    let link_tx = done_tx.clone();
    let sink: EventSink = Arc::new(move |event| {
        // The receiver lives as long as the loop.
        let _ = link_tx.send(Completion::Link(event));
    });
    // The one shutdown trigger besides signals (OMAPI control state = 2).
    let (shutdown, mut shutdown_watch) = crate::omapi::shutdown_channel();
    let (omapi_tx, mut omapi_rx) = mpsc::channel(crate::omapi::CALL_QUEUE);
    let omapi = p.omapi.map(|setup| {
        let state = crate::omapi::OmapiState::new(&setup.keys, shutdown.clone());
        crate::omapi::spawn_listener(setup, omapi_tx.clone(), shutdown.clone());
        state
    });
    drop(omapi_tx);
    let mut server = Server {
        node: p.node,
        links: PeerLinks::new(sink),
        shutdown: ShutdownPhase::Running,
        draining: false,
        timers_fed_at: None,
        tx: Transmitter::new(p.packet, p.ports),
        commits: GroupCommitter::spawn(p.journal),
        done: done_tx,
        log,
        listen: p.listen,
        rx: RxStats::default(),
        extras: p.extras,
        opts,
        last_rewrite: Instant::now(),
        omapi,
    };
    // Hosts and groups created over OMAPI, from the lease file.
    crate::omapi::restore(server.node.engine_mut(), &mut server.extras, &server.log);
    // ISC rewrites the lease file when it starts, dropping superseded
    // records from the journal.
    server.rewrite();
    // Both servers listen and both connect (§1.1).
    let listens = failover::peer_listens(&server.node.listens());
    server.links.set_listens(listens);
    server.execute(socket.get_ref(), p.startup_effects);
    server.log.info("Server starting service.");

    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut buf = vec![0u8; RX_BUFFER];

    let exit = loop {
        if server.shutdown.is_done() {
            break Exit::Shutdown;
        }
        let timer = server.timer_at();
        let deadline = server
            .shutdown
            .deadline()
            .map(tokio::time::Instant::from_std);
        let running = server.shutdown == ShutdownPhase::Running;
        tokio::select! {
            _ = sigterm.recv() => server.request_shutdown(socket.get_ref(), "SIGTERM"),
            _ = sigint.recv() => server.request_shutdown(socket.get_ref(), "SIGINT"),
            _ = sighup.recv() => server.reload(socket.get_ref()),
            // Resolves at once while a request is pending: only while running.
            reason = shutdown_watch.requested(), if running => {
                server.request_shutdown(socket.get_ref(), reason)
            }
            Some(call) = omapi_rx.recv() => server.omapi_call(socket.get_ref(), call),
            Some(c) = done_rx.recv() => server.completed(socket.get_ref(), c),
            _ = tick.tick() => server.tick(socket.get_ref()),
            _ = tokio::time::sleep_until(timer.unwrap_or_else(tokio::time::Instant::now)),
                if timer.is_some() => server.timers(socket.get_ref()),
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)),
                if deadline.is_some() => server.shutdown_expired(),
            ready = socket.readable() => match ready {
                Ok(mut guard) => {
                    let now = clock_now();
                    for _ in 0..RX_BUDGET {
                        let Some(r) = guard.recv(&mut buf) else { break };
                        server.received(socket.get_ref(), now, r, &buf);
                    }
                }
                Err(e) => break Exit::Fatal(format!("DHCP socket failed: {e}")),
            },
        }
    };

    if let Exit::Fatal(why) = &exit {
        server.log.error(why);
    }
    // Flush every queued commit (one last fdatasync), then release the
    // replies that were waiting for it.
    server.draining = true;
    server.commits.shutdown();
    while let Ok(c) = done_rx.try_recv() {
        server.completed(socket.get_ref(), c);
    }
    server.log_counters();
    match exit {
        Exit::Shutdown => ExitCode::SUCCESS,
        Exit::Fatal(_) => ExitCode::FAILURE,
    }
}

impl Server {
    fn received(
        &mut self,
        udp: &DhcpSocket,
        now: Now,
        r: std::io::Result<tandem_net::Received>,
        buf: &[u8],
    ) {
        let r = match r {
            Ok(r) => r,
            Err(_) => {
                self.rx.recv_errors += 1;
                return;
            }
        };
        self.rx.received += 1;
        if r.truncated {
            self.rx.truncated += 1;
            return;
        }
        if !self.listen.contains(&r.meta.ifindex) {
            self.rx.foreign_interface += 1;
            return;
        }
        let Some(bytes) = buf.get(..r.len) else {
            self.rx.truncated += 1;
            return;
        };
        let input = Input::Packet {
            rx: r.meta,
            bytes: bytes.to_vec(),
        };
        let effects = self.node.handle(now, input);
        self.execute(udp, effects);
    }

    fn tick(&mut self, udp: &DhcpSocket) {
        let effects = self.node.handle(clock_now(), Input::Tick);
        self.execute(udp, effects);
        if self.last_rewrite.elapsed() >= REWRITE_INTERVAL {
            self.rewrite();
        }
    }

    /// When to feed `Input::Timers` next. A timer still due right after
    /// the node ran its timers would make the loop spin: it is retried
    /// after [`STUCK_TIMER_RETRY`] instead.
    fn timer_at(&self) -> Option<tokio::time::Instant> {
        let next = self.node.next_timeout()?;
        let next = match self.timers_fed_at {
            Some(fed) if next <= fed => fed.saturating_add(STUCK_TIMER_RETRY),
            _ => next,
        };
        Some(mono_instant(next))
    }

    /// The node's earliest failover timer is due.
    fn timers(&mut self, udp: &DhcpSocket) {
        let now = clock_now();
        self.timers_fed_at = Some(now.mono_ms);
        let effects = self.node.handle(now, Input::Timers);
        self.execute(udp, effects);
    }

    /// Feeds one input to the node and carries out what it asks.
    fn feed(&mut self, udp: &DhcpSocket, input: Input) {
        let effects = self.node.handle(clock_now(), input);
        self.execute(udp, effects);
    }

    /// SIGTERM, SIGINT, OMAPI `control state = 2` (isc-failover.md §2.6:
    /// relationships in normal move to shutdown and hand over to the peer).
    fn request_shutdown(&mut self, udp: &DhcpSocket, reason: &str) {
        if self.shutdown.request(Instant::now()) {
            self.log.info(&format!("Received {reason}, shutting down."));
            self.feed(udp, Input::Shutdown);
        } else {
            self.log.info(&format!(
                "Received {reason} again: exiting without waiting for the failover peers."
            ));
        }
    }

    fn shutdown_expired(&mut self) {
        if self.shutdown.expire(Instant::now()) {
            self.log.error(&format!(
                "Failover shutdown not complete after {} seconds: exiting anyway.",
                failover::SHUTDOWN_DEADLINE.as_secs()
            ));
        }
    }

    /// Carries out effects in order.
    fn execute(&mut self, udp: &DhcpSocket, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Reply { bytes, to, src, .. } => {
                    if let Err(e) = self.tx.send(udp, &bytes, &to, src) {
                        self.log.error(&e.to_string());
                    }
                }
                Effect::Log { level, message } => self.log.log(level, &message),
                Effect::Persist {
                    records,
                    then,
                    notify,
                } => {
                    let done = self.done.clone();
                    // The store completes commits in the order they were
                    // queued, which the node relies on (a `Persist` with no
                    // records orders sends after earlier writes).
                    self.commits.commit(
                        records,
                        Box::new(move |result| {
                            // The receiver lives as long as the loop; after
                            // it, nothing waits for these replies.
                            let _ = done.send(Completion::Persisted {
                                result,
                                then,
                                notify,
                            });
                        }),
                    );
                }
                Effect::PeerConnect {
                    peer,
                    local,
                    remote,
                } => self.links.connect(peer, local, remote),
                // A connection closed meanwhile: its `PeerClosed` is queued
                // (or the node closed it itself); the bytes have nowhere to go.
                Effect::PeerSend { conn, bytes } => {
                    let _ = self.links.send(conn, bytes);
                }
                Effect::PeerClose { conn } => self.links.close(conn),
                Effect::ShutdownComplete => self.shutdown.complete(),
            }
        }
    }

    fn completed(&mut self, udp: &DhcpSocket, c: Completion) {
        match c {
            Completion::Persisted {
                result: Ok(()),
                then,
                notify,
            } => {
                self.execute(udp, then);
                // After the store shut down nothing new can be written:
                // the node is not told (it is not asked anything more).
                if let (Some(token), false) = (notify, self.draining) {
                    self.feed(udp, Input::Persisted { token, ok: true });
                }
            }
            Completion::Persisted {
                result: Err(e),
                then,
                notify,
            } => {
                self.rx.commit_failures += 1;
                let held = then
                    .iter()
                    .filter(|e| matches!(e, Effect::Reply { .. }))
                    .count() as u64;
                self.rx.unsynced_dropped += held;
                self.log.error(&format!(
                    "Lease file write failed, {held} replies NOT sent: {e}"
                ));
                if let (Some(token), false) = (notify, self.draining) {
                    self.feed(udp, Input::Persisted { token, ok: false });
                }
            }
            Completion::Link(event) => {
                let handled = self.links.event(event);
                if let Some(l) = handled.log {
                    self.log.log(l.level, &l.message);
                }
                if let (Some(input), false) = (handled.input, self.draining) {
                    self.feed(udp, failover::node_input(input));
                }
            }
            Completion::Omapi { token, result } => {
                if let Some(o) = self.omapi.as_mut() {
                    o.persisted(self.node.engine_mut(), &self.log, token, result);
                }
                crate::omapi::sync_extras(&mut self.extras, self.node.engine());
            }
            Completion::Rewritten(Ok(())) => {}
            Completion::Rewritten(Err(e)) => {
                self.log.error(&format!("Lease file rewrite failed: {e}"));
            }
        }
    }

    /// An OMAPI request: answered from the engine, host and group changes written first.
    fn omapi_call(&mut self, udp: &DhcpSocket, call: crate::omapi::Call) {
        let Some(o) = self.omapi.as_mut() else { return };
        // The failover-state objects: a snapshot of the relationships; a
        // `local-state` update is fed to the node right after the request.
        let mut desk = FailoverDesk::new(self.node.peer_infos());
        let failover: Option<&mut dyn crate::omapi::FailoverView> = Some(&mut desk);
        let now = clock_now().wall;
        let persist = o.call(self.node.engine_mut(), failover, &self.log, now, call);
        for input in desk.into_requests() {
            self.feed(udp, input);
        }
        if let Some(p) = persist {
            // Rewrites carry the hosts from now on.
            crate::omapi::sync_extras(&mut self.extras, self.node.engine());
            let done = self.done.clone();
            let token = p.token;
            self.commits.commit(
                p.records,
                Box::new(move |result| {
                    let _ = done.send(Completion::Omapi { token, result });
                }),
            );
        }
    }

    /// Writes a fresh lease file from the node's leases and failover state
    /// records plus the extras (ISC's `new_lease_file`: temporary file,
    /// then rename).
    fn rewrite(&mut self) {
        let mut snapshot: Vec<Record> = self.extras.records.clone();
        snapshot.extend(self.node.leases_for_rewrite());
        let done = self.done.clone();
        self.commits.rewrite(
            snapshot,
            Box::new(move |result| {
                let _ = done.send(Completion::Rewritten(result));
            }),
        );
        self.last_rewrite = Instant::now();
    }

    /// SIGHUP (Tandem's addition; dhcpd has none): re-read the
    /// configuration, keep the running one if the new one has errors.
    fn reload(&mut self, udp: &DhcpSocket) {
        let path: PathBuf = self.opts.config_file.clone();
        self.log
            .info(&format!("Received SIGHUP: reloading {}", path.display()));
        let config = match tandem_config::load(&path) {
            Ok(c) => c,
            Err(e) => {
                for line in e.render().lines() {
                    self.log.error(line);
                }
                self.log.error(
                    "Configuration file errors encountered -- keeping the running configuration",
                );
                return;
            }
        };
        for w in &config.warnings {
            self.log.warn(&format!(
                "{}:{}:{}: warning: {}",
                w.span.file.display(),
                w.span.line,
                w.span.col,
                w.message
            ));
        }
        let subnets: Vec<SubnetDecl> = config
            .subnets
            .iter()
            .map(|s| SubnetDecl {
                network: s.network,
                netmask: s.netmask,
            })
            .collect();
        let selection = tandem_net::discover()
            .map_err(|e| e.to_string())
            .and_then(|links| {
                listen::select(&links, &self.opts.interfaces, &subnets).map_err(|e| e.to_string())
            });
        let selection = match selection {
            Ok(s) => s,
            Err(e) => {
                self.log
                    .error(&format!("{e} -- keeping the running configuration"));
                return;
            }
        };
        for w in &selection.warnings {
            self.log.error(w);
        }
        let effects = match self.node.reload(Arc::new(config), clock_now()) {
            Ok(effects) => effects,
            Err(e) => {
                self.log.error(&format!(
                    "New configuration refused: {e} -- keeping the running configuration"
                ));
                return;
            }
        };
        self.listen = selection.listen.iter().map(|i| i.index).collect();
        self.node.engine_mut().set_interfaces(selection.listen);
        self.execute(udp, effects);
        // Unchanged relationships keep their listeners and links.
        let listens = failover::peer_listens(&self.node.listens());
        self.links.set_listens(listens);
        self.log.info("Configuration reloaded.");
    }

    fn counters(&self) -> Counters {
        Counters {
            rx: self.rx.clone(),
            tx: self.tx.stats.clone(),
            engine: self.node.engine().stats().clone(),
        }
    }

    fn log_counters(&self) {
        let c = self.counters();
        self.log.log(
            LogLevel::Info,
            &format!(
                "Statistics: received {}, foreign-interface {}, truncated {}, \
                 offers {}, acks {}, naks {}, sent {} (link {}, broadcast fallbacks {}), \
                 send errors {}, commit failures {}",
                c.rx.received,
                c.rx.foreign_interface,
                c.rx.truncated,
                c.engine.offers,
                c.engine.acks,
                c.engine.naks,
                c.tx.sent_udp + c.tx.sent_link,
                c.tx.sent_link,
                c.tx.link_fallbacks,
                c.tx.errors,
                c.rx.commit_failures,
            ),
        );
    }
}
