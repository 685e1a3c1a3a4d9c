//! The running server: one current-thread tokio runtime, one task that owns
//! the engine and selects over received datagrams, a 1 s tick, completed
//! lease-file commits, and signals.
//!
//! Durability rule: the `then` effects of a `Persist` run only after the
//! store reported that the records are on disk (fdatasync). If the commit
//! failed they are dropped and the failure is logged: no ACK for a lease
//! that is not on disk.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tandem_engine::{Effect, Engine, LogLevel, Now, Record, Stats};
use tandem_lease::HostRecord;
use tandem_net::{AsyncDhcpSocket, DhcpSocket, Transmitter, TxStats};
use tandem_store::{CommitHandle, GroupCommitter, LeaseDb, StoreError};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use crate::cli::Options;
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

/// The process clock, read once per wakeup.
static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Current time as the engine takes it.
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

/// Lease-file records that the engine does not own yet (failover peer
/// state, OMAPI hosts), kept from the file so every rewrite preserves them.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    pub records: Vec<Record>,
}

impl Extras {
    pub fn from_db(db: &LeaseDb) -> Self {
        let mut records: Vec<Record> = db.other.iter().cloned().map(Record::Other).collect();
        records.extend(db.failover.values().cloned().map(Record::FailoverState));
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

/// A completion from the store's writer thread, carried to the engine task.
enum Completion {
    Persisted {
        result: Result<(), StoreError>,
        then: Vec<Effect>,
    },
    Rewritten(Result<(), StoreError>),
}

/// Why the loop ended.
enum Exit {
    Signal(&'static str),
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
    engine: Engine,
    tx: Transmitter,
    commits: CommitHandle,
    done: mpsc::UnboundedSender<Completion>,
    log: Logger,
    listen: Vec<u32>,
    rx: RxStats,
    extras: Extras,
    opts: Options,
    last_rewrite: Instant,
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
    let mut server = Server {
        engine: p.engine,
        tx: Transmitter::new(p.packet, p.ports),
        commits: GroupCommitter::spawn(p.journal),
        done: done_tx,
        log,
        listen: p.listen,
        rx: RxStats::default(),
        extras: p.extras,
        opts,
        last_rewrite: Instant::now(),
    };
    // ISC rewrites the lease file when it starts, dropping superseded
    // records from the journal.
    server.rewrite();
    server.log.info("Server starting service.");

    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut buf = vec![0u8; RX_BUFFER];

    let exit = loop {
        tokio::select! {
            _ = sigterm.recv() => break Exit::Signal("SIGTERM"),
            _ = sigint.recv() => break Exit::Signal("SIGINT"),
            _ = sighup.recv() => server.reload(socket.get_ref()),
            Some(c) = done_rx.recv() => server.completed(socket.get_ref(), c),
            _ = tick.tick() => server.tick(socket.get_ref()),
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

    match &exit {
        Exit::Signal(name) => server.log.info(&format!("Received {name}, shutting down.")),
        Exit::Fatal(why) => server.log.error(why),
    }
    // Flush every queued commit (one last fdatasync), then release the
    // replies that were waiting for it.
    server.commits.shutdown();
    while let Ok(c) = done_rx.try_recv() {
        server.completed(socket.get_ref(), c);
    }
    server.log_counters();
    match exit {
        Exit::Signal(_) => ExitCode::SUCCESS,
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
        let effects = self.engine.handle_packet(now, &r.meta, bytes);
        self.execute(udp, effects);
    }

    fn tick(&mut self, udp: &DhcpSocket) {
        let effects = self.engine.tick(clock_now());
        self.execute(udp, effects);
        if self.last_rewrite.elapsed() >= REWRITE_INTERVAL {
            self.rewrite();
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
                Effect::Persist { records, then } => {
                    let done = self.done.clone();
                    self.commits.commit(
                        records,
                        Box::new(move |result| {
                            // The receiver lives as long as the loop; after
                            // it, nothing waits for these replies.
                            let _ = done.send(Completion::Persisted { result, then });
                        }),
                    );
                }
            }
        }
    }

    fn completed(&mut self, udp: &DhcpSocket, c: Completion) {
        match c {
            Completion::Persisted {
                result: Ok(()),
                then,
            } => self.execute(udp, then),
            Completion::Persisted {
                result: Err(e),
                then,
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
            }
            Completion::Rewritten(Ok(())) => {}
            Completion::Rewritten(Err(e)) => {
                self.log.error(&format!("Lease file rewrite failed: {e}"));
            }
        }
    }

    /// Writes a fresh lease file from the engine's table (ISC's
    /// `new_lease_file`: temporary file, then rename).
    fn rewrite(&mut self) {
        let mut snapshot: Vec<Record> = self.extras.records.clone();
        snapshot.extend(self.engine.leases().cloned().map(Record::Lease));
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
        let effects = match self.engine.reload(Arc::new(config), clock_now()) {
            Ok(effects) => effects,
            Err(e) => {
                self.log.error(&format!(
                    "New configuration refused: {e} -- keeping the running configuration"
                ));
                return;
            }
        };
        self.listen = selection.listen.iter().map(|i| i.index).collect();
        self.engine.set_interfaces(selection.listen);
        self.execute(udp, effects);
        self.log.info("Configuration reloaded.");
    }

    fn counters(&self) -> Counters {
        Counters {
            rx: self.rx.clone(),
            tx: self.tx.stats.clone(),
            engine: self.engine.stats().clone(),
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
