//! OMAPI on `omapi-port`: what ISC's omshell (and `tandem ctl`) talk to.
//!
//! * A listener task accepts TCP connections on `0.0.0.0:omapi-port` (ISC binds INADDR_ANY
//!   and has no statement to choose the address; see docs/omapi.md for limiting access).
//!   If the port cannot be bound, the error is logged and the bind retried every 5 s, as
//!   dhcpd's `omapi_listener_start` does.
//! * One task per connection drives a [`tandem_omapi::Session`]: framing, signatures and
//!   protocol errors are the session's; object requests go to the engine task over a
//!   channel ([`Call`]) and come back on a oneshot, so the engine task stays the only owner
//!   of lease and host state.
//! * The engine task answers with [`OmapiState`] (the objects are in [`dispatch`]). Host
//!   and group changes are written to the lease file through the same group commit as
//!   leases and answered only once on disk; a failed write is undone and answered with an
//!   I/O error.
//! * `control` `state = 2` answers, then pulls the one shutdown trigger ([`shutdown_channel`])
//!   that ends the serve loop the way SIGTERM does.
//! * With `omapi-key`, every message must be signed with that key; the session refuses the
//!   others, and the refusals are logged here.

pub mod dispatch;

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tandem_config::Config;
use tandem_engine::{Engine, LogLevel, Record};
use tandem_omapi::objects::failover_state::{FailoverStateObject, PeerState};
use tandem_omapi::wire::{Decoder, Frame, Limits};
use tandem_omapi::{
    Action, Failure, IscResult, Key, KeyError, KeyRing, ObjectReply, ObjectRequest, Op, RequestId,
    Session, Value,
};
use tandem_store::StoreError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

use crate::log::Logger;
use crate::serve::Extras;

pub use dispatch::{requested_local_state, Dispatcher, Outcome, Undo};

/// ISC retries a failed OMAPI bind after 5 seconds.
const BIND_RETRY: Duration = Duration::from_secs(5);
/// Connections served at once; more are closed at accept (ISC has no limit).
pub const MAX_CONNECTIONS: usize = 64;
/// A client that does not take our answer within this time is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests queued from all connections to the engine task.
pub const CALL_QUEUE: usize = 256;

/// The failover relationships as the `failover-state` object shows them. The failover
/// driver implements it; until then `failover-state` opens answer "not found".
pub trait FailoverView {
    /// The relationship named `name` (the bytes the client sent), with ISC's attributes.
    fn state(&self, name: &[u8]) -> Option<FailoverStateObject>;

    /// `set local-state = N` + `update`. The state is already Tandem's reading of N (see
    /// [`requested_local_state`]: 1 and 4 both arrive as partner-down). `Err` is the ISC
    /// result omshell prints ("can't update object: ...").
    fn set_local_state(&mut self, name: &str, state: PeerState) -> Result<(), IscResult>;
}

/// Why OMAPI cannot start (fatal at startup, as in dhcpd: `log_fatal("OMAPI key %s: %s")`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OmapiError {
    #[error("OMAPI key {0}: not found")]
    UnknownKey(String),
    #[error("OMAPI key {name}: {source}")]
    Key { name: String, source: KeyError },
}

/// What the configuration asks of OMAPI.
#[derive(Debug, Clone)]
pub struct OmapiSetup {
    pub port: u16,
    pub keys: KeyRing,
}

impl OmapiSetup {
    /// `omapi-port` (none: no listener) and the keys; `omapi-key` must name a declared key
    /// with an algorithm OMAPI can use. Keys declared for other uses (DDNS) with other
    /// algorithms are left out of the ring.
    pub fn from_config(config: &Config) -> Result<Option<OmapiSetup>, OmapiError> {
        let mut keys = Vec::new();
        for k in &config.keys {
            match Key::new(k.name.clone(), &k.algorithm, k.secret.clone()) {
                Ok(key) => keys.push(key),
                Err(source) => {
                    let is_omapi_key = config
                        .omapi_key
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(&k.name));
                    if is_omapi_key {
                        return Err(OmapiError::Key {
                            name: k.name.clone(),
                            source,
                        });
                    }
                }
            }
        }
        let ring = KeyRing::new(keys, config.omapi_key.as_deref()).map_err(|e| match e {
            KeyError::UnknownOmapiKey(n) => OmapiError::UnknownKey(n),
            source => OmapiError::Key {
                name: config.omapi_key.clone().unwrap_or_default(),
                source,
            },
        })?;
        Ok(config
            .omapi_port
            .map(|port| OmapiSetup { port, keys: ring }))
    }
}

/// Pulls the serve loop's shutdown (the path SIGTERM takes). Cloneable, idempotent.
#[derive(Debug, Clone)]
pub struct ShutdownTrigger(Arc<watch::Sender<Option<&'static str>>>);

/// The serve loop's side of [`ShutdownTrigger`].
#[derive(Debug)]
pub struct ShutdownWatch(watch::Receiver<Option<&'static str>>);

/// One trigger for every way to stop the server but signals (OMAPI `control`, and whatever
/// else needs it later), one watch for the serve loop.
pub fn shutdown_channel() -> (ShutdownTrigger, ShutdownWatch) {
    let (tx, rx) = watch::channel(None);
    (ShutdownTrigger(Arc::new(tx)), ShutdownWatch(rx))
}

impl ShutdownTrigger {
    /// Asks for a shutdown; `reason` ends up in "Received {reason}, shutting down.".
    pub fn trigger(&self, reason: &'static str) {
        self.0.send_if_modified(|v| {
            if v.is_none() {
                *v = Some(reason);
                true
            } else {
                false
            }
        });
    }
}

impl ShutdownWatch {
    /// Resolves with the reason once a shutdown is asked for; never if none is.
    pub async fn requested(&mut self) -> &'static str {
        loop {
            if let Some(r) = *self.0.borrow_and_update() {
                return r;
            }
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The reason logged when `control` asks for the shutdown.
pub const CONTROL_SHUTDOWN: &str = "OMAPI shutdown (control state 2)";

/// From a connection task to the engine task.
#[derive(Debug)]
pub enum Call {
    /// An object request; the answer goes back on `reply`.
    Request {
        peer: SocketAddr,
        request: ObjectRequest,
        reply: oneshot::Sender<Answer>,
    },
    /// A line for the engine task's log (the logger belongs to it).
    Log { level: LogLevel, message: String },
}

/// The engine task's answer to one request.
#[derive(Debug)]
pub struct Answer {
    pub id: RequestId,
    pub reply: ObjectReply,
    /// Shut the server down once this answer is written.
    pub shutdown: bool,
}

/// Starts the listener (and with it the connection tasks) on the current runtime.
pub fn spawn_listener(setup: OmapiSetup, calls: mpsc::Sender<Call>, trigger: ShutdownTrigger) {
    tokio::spawn(listen(setup, calls, trigger));
}

async fn log(calls: &mpsc::Sender<Call>, level: LogLevel, message: String) {
    let _ = calls.send(Call::Log { level, message }).await;
}

async fn listen(setup: OmapiSetup, calls: mpsc::Sender<Call>, trigger: ShutdownTrigger) {
    let listener = loop {
        match TcpListener::bind((Ipv4Addr::UNSPECIFIED, setup.port)).await {
            Ok(l) => break l,
            Err(e) => {
                log(
                    &calls,
                    LogLevel::Error,
                    format!("Can't start OMAPI protocol on port {}: {e}", setup.port),
                )
                .await;
                tokio::time::sleep(BIND_RETRY).await;
            }
        }
    };
    let signed = if setup.keys.is_required() {
        " (messages must be signed)"
    } else {
        " (no key: anyone who can reach it can control the server)"
    };
    log(
        &calls,
        LogLevel::Info,
        format!("Listening for OMAPI on TCP port {}{signed}", setup.port),
    )
    .await;
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: wait a little rather than spin.
                log(&calls, LogLevel::Error, format!("OMAPI accept failed: {e}")).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if active.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            log(
                &calls,
                LogLevel::Warn,
                format!("OMAPI: {MAX_CONNECTIONS} connections open; closing the one from {peer}"),
            )
            .await;
            continue;
        }
        active.fetch_add(1, Ordering::Relaxed);
        let (keys, calls, trigger, active) = (
            setup.keys.clone(),
            calls.clone(),
            trigger.clone(),
            Arc::clone(&active),
        );
        tokio::spawn(async move {
            connection(stream, peer, keys, &calls, &trigger).await;
            active.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Watches the answers a session sends for refusals, to log them.
struct RefusalWatch {
    decoder: Decoder,
}

impl RefusalWatch {
    fn new() -> Self {
        RefusalWatch {
            decoder: Decoder::new(Limits::default()),
        }
    }

    /// The refusal texts among the messages in `bytes` (the server's own output).
    fn refusals(&mut self, bytes: &[u8]) -> Vec<&'static str> {
        self.decoder.push(bytes);
        let mut out = Vec::new();
        while let Ok(Some(frame)) = self.decoder.next_frame() {
            let Frame::Message(r) = frame else { continue };
            if r.message.op != Op::Status {
                continue;
            }
            let result = r.message.message.get("result").and_then(Value::as_u32);
            match result.map(IscResult) {
                Some(IscResult::NOKEYS) => out.push("a message without the required signature"),
                Some(IscResult::INVALIDKEY) => {
                    out.push("a message with a bad signature or a key other than omapi-key")
                }
                Some(IscResult::KEY_UNKNOWN) => out.push("a message signed with an unknown key"),
                _ => {}
            }
        }
        out
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    keys: KeyRing,
    calls: &mpsc::Sender<Call>,
    trigger: &ShutdownTrigger,
) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let mut session = Session::new(keys).initial_xid(initial_xid());
    let mut watch = RefusalWatch::new();
    let mut waiting: VecDeque<(RequestId, oneshot::Receiver<Answer>)> = VecDeque::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut actions = session.start();
    loop {
        for action in std::mem::take(&mut actions) {
            match action {
                Action::Send(bytes) => {
                    if !send(&mut wr, &mut watch, calls, peer, &bytes).await {
                        return;
                    }
                }
                Action::Close => {
                    let _ = wr.shutdown().await;
                    return;
                }
                Action::Request(request) => {
                    let (tx, rx) = oneshot::channel();
                    let id = request.id;
                    let call = Call::Request {
                        peer,
                        request,
                        reply: tx,
                    };
                    if calls.send(call).await.is_err() {
                        return; // The engine task is gone: the server is stopping.
                    }
                    waiting.push_back((id, rx));
                }
            }
        }
        tokio::select! {
            r = rd.read(&mut buf), if session.wants_input() => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => actions = session.handle(Instant::now(), buf.get(..n).unwrap_or_default()),
            },
            answer = async {
                match waiting.front_mut() {
                    Some((_, rx)) => rx.await,
                    None => std::future::pending().await,
                }
            } => {
                waiting.pop_front();
                let Ok(answer) = answer else { return };
                let shutdown = answer.shutdown;
                actions = match session.reply(answer.id, answer.reply) {
                    Ok(a) => a,
                    Err(e) => {
                        log(calls, LogLevel::Error, format!("OMAPI: answer to {peer} lost: {e}")).await;
                        Vec::new()
                    }
                };
                if shutdown {
                    // The answer goes out first, then the server (ISC's omshell sees the
                    // server go before its answer; ours gets the answer).
                    for a in std::mem::take(&mut actions) {
                        if let Action::Send(bytes) = a {
                            if !send(&mut wr, &mut watch, calls, peer, &bytes).await {
                                break;
                            }
                        }
                    }
                    let _ = wr.flush().await;
                    trigger.trigger(CONTROL_SHUTDOWN);
                    return;
                }
            },
        }
    }
}

/// Writes bytes the session produced, logging the refusals among them; false when the
/// client is gone or does not read.
async fn send(
    wr: &mut tokio::net::tcp::OwnedWriteHalf,
    watch: &mut RefusalWatch,
    calls: &mpsc::Sender<Call>,
    peer: SocketAddr,
    bytes: &[u8],
) -> bool {
    for what in watch.refusals(bytes) {
        log(
            calls,
            LogLevel::Warn,
            format!("OMAPI: refused {what} from {peer}"),
        )
        .await;
    }
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(bytes)).await,
        Ok(Ok(()))
    )
}

/// ISC starts a connection's ids at `random()`; an unpredictable start will do.
fn initial_xid() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos ^ std::process::id().wrapping_mul(2_654_435_761)
}

/// A lease-file write the engine task must make before answering.
#[derive(Debug)]
pub struct PersistRequest {
    pub records: Vec<Record>,
    pub token: PersistToken,
}

/// Names a change waiting for its write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PersistToken(u64);

#[derive(Debug)]
struct Waiting {
    id: RequestId,
    reply_to: oneshot::Sender<Answer>,
    reply: ObjectReply,
    undo: Undo,
    log: String,
}

/// The engine task's OMAPI state: the objects' handles and the answers waiting for the disk.
#[derive(Debug)]
pub struct OmapiState {
    dispatcher: Dispatcher,
    trigger: ShutdownTrigger,
    next_token: u64,
    waiting: HashMap<PersistToken, Waiting>,
}

impl OmapiState {
    pub fn new(keys: &KeyRing, trigger: ShutdownTrigger) -> OmapiState {
        OmapiState {
            dispatcher: Dispatcher::new(keys.reserved_handles()),
            trigger,
            next_token: 0,
            waiting: HashMap::new(),
        }
    }

    /// Handles one call. A returned [`PersistRequest`] must be committed, and its outcome
    /// given to [`OmapiState::persisted`].
    pub fn call(
        &mut self,
        engine: &mut Engine,
        failover: Option<&mut dyn FailoverView>,
        log: &Logger,
        now: u64,
        call: Call,
    ) -> Option<PersistRequest> {
        let (peer, request, reply_to) = match call {
            Call::Log { level, message } => {
                log.log(level, &message);
                return None;
            }
            Call::Request {
                peer,
                request,
                reply,
            } => (peer, request, reply),
        };
        let id = request.id;
        match self
            .dispatcher
            .handle(engine, failover, &request.operation, now)
        {
            Outcome::Reply(reply) => {
                let _ = reply_to.send(Answer {
                    id,
                    reply,
                    shutdown: false,
                });
                None
            }
            Outcome::Shutdown(reply) => {
                let key = request
                    .key
                    .map(|k| format!(", key {k}"))
                    .unwrap_or_default();
                log.info(&format!(
                    "OMAPI: shutdown requested by {peer}{key} (control state = 2)"
                ));
                let answer = Answer {
                    id,
                    reply,
                    shutdown: true,
                };
                // The connection shuts the server down once the answer is written; if it
                // is gone already, do it here.
                if reply_to.send(answer).is_err() {
                    self.trigger.trigger(CONTROL_SHUTDOWN);
                }
                None
            }
            Outcome::Persist {
                records,
                undo,
                reply,
                log: line,
            } => {
                let token = PersistToken(self.next_token);
                self.next_token += 1;
                let line = format!("{line} (from {peer})");
                self.waiting.insert(
                    token,
                    Waiting {
                        id,
                        reply_to,
                        reply,
                        undo,
                        log: line,
                    },
                );
                Some(PersistRequest { records, token })
            }
        }
    }

    /// The write of `token` finished: answer, or undo and answer with an I/O error.
    pub fn persisted(
        &mut self,
        engine: &mut Engine,
        log: &Logger,
        token: PersistToken,
        result: Result<(), StoreError>,
    ) {
        let Some(w) = self.waiting.remove(&token) else {
            return;
        };
        let reply = match result {
            Ok(()) => {
                log.info(&w.log);
                w.reply
            }
            Err(e) => {
                log.error(&format!(
                    "Lease file write failed, OMAPI change undone: {e} [{}]",
                    w.log
                ));
                self.dispatcher.undo(engine, w.undo);
                ObjectReply::Failed(Failure::new(IscResult::IOERROR, None))
            }
        };
        let _ = w.reply_to.send(Answer {
            id: w.id,
            reply,
            shutdown: false,
        });
    }
}

/// Whether an extras record is an OMAPI group (kept as text by the lease crate).
fn is_group_record(r: &Record) -> bool {
    matches!(r, Record::Other(t) if tandem_engine::GroupSpec::from_record_text(t).is_some())
}

/// Makes the records carried into lease-file rewrites match the engine's hosts and groups
/// (groups first: ISC reads a host's `group` only if the group came before).
pub fn sync_extras(extras: &mut Extras, engine: &Engine) {
    extras
        .records
        .retain(|r| !matches!(r, Record::Host(_)) && !is_group_record(r));
    extras
        .records
        .extend(engine.group_records().into_iter().map(Record::Other));
    extras
        .records
        .extend(engine.host_records().into_iter().map(Record::Host));
}

/// Enters the lease file's hosts and groups into the engine at startup.
pub fn restore(engine: &mut Engine, extras: &mut Extras, log: &Logger) {
    let hosts: Vec<&tandem_lease::HostRecord> = extras
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Host(h) => Some(h),
            _ => None,
        })
        .collect();
    let groups: Vec<&str> = extras
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Other(t) if is_group_record(r) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    for e in engine.restore_hosts(hosts, groups) {
        log.warn(&format!("lease file: {e}; skipped"));
    }
    sync_extras(extras, engine);
}

#[cfg(test)]
mod tests;
