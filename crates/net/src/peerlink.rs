//! Failover TCP links (ISC's `failover peer` connections, §1.1 of
//! `docs/isc-failover.md`): one listener per distinct `address`:`port`,
//! outbound connections bound to `address` with an ephemeral port, and per
//! connection a reader task and a writer task.
//!
//! Ownership: [`PeerLinks`] lives on the task that owns the node; every I/O
//! task only reports [`LinkEvent`]s through an [`EventSink`], and the owner
//! passes each one back to [`PeerLinks::event`], which turns it into what
//! the node must be told ([`LinkInput`]) plus an optional log line. All
//! bookkeeping (connection ids, the listen table, which connections are
//! live) is therefore single-threaded, and events of a connection that was
//! closed in the meantime are dropped in one place.
//!
//! Order: a connection's id is assigned, and its reader started, only when
//! the owner handles its `Connected`/`Accepted` event, so `Bytes` and
//! `Closed` of a connection always come after the node heard of it.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use tandem_engine::LogLevel;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A connection id, unique for the lifetime of one [`PeerLinks`]
/// (same type as `tandem_failover::peer::ConnId`).
pub type ConnId = u64;

/// ISC retries a listener that could not be set up after 90 seconds
/// (`dhcp_failover_startup`, `fo.c:104-137`; §6 "Reconnect").
pub const LISTEN_RETRY: Duration = Duration::from_secs(90);
/// Bound on one outbound connect. ISC leaves it to the kernel (minutes of
/// SYN retries); 15 s matches its link start-up timeout (`fo.c:341`), and
/// the node then schedules its own 5 s reconnect.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a closed connection may take to flush what was queued for it
/// (a DISCONNECT, typically) before the socket is dropped.
pub const CLOSE_FLUSH: Duration = Duration::from_secs(5);
/// Pause after a failed `accept` (EMFILE and the like), so that the
/// listener does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);
const LISTEN_BACKLOG: u32 = 16;
const READ_BUFFER: usize = 16 * 1024;

/// Where to listen for one relationship, and whom to accept there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerListen {
    /// The relationship (index of the `failover peer` block).
    pub peer: usize,
    /// `address`:`port` of the relationship.
    pub local: SocketAddrV4,
    /// `peer address`: the only source accepted for this relationship.
    pub remote_addr: Ipv4Addr,
}

/// Where the I/O tasks report to. Must not block (an unbounded channel send).
pub type EventSink = Arc<dyn Fn(LinkEvent) + Send + Sync>;

/// Something one of the link tasks saw; hand it to [`PeerLinks::event`].
#[derive(Debug)]
pub struct LinkEvent(Event);

#[derive(Debug)]
enum Event {
    Listening {
        local: SocketAddrV4,
        bound: SocketAddr,
    },
    ListenFailed {
        local: SocketAddrV4,
        error: io::Error,
    },
    AcceptFailed {
        local: SocketAddrV4,
        error: io::Error,
    },
    Accepted {
        local: SocketAddrV4,
        remote: SocketAddr,
        stream: TcpStream,
    },
    Connected {
        peer: usize,
        stream: TcpStream,
    },
    ConnectFailed {
        peer: usize,
        remote: SocketAddrV4,
        error: io::Error,
    },
    Bytes {
        conn: ConnId,
        bytes: Vec<u8>,
    },
    Closed {
        conn: ConnId,
        error: Option<io::Error>,
    },
}

/// What the node must be told about a link (the node's `Input::Peer*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkInput {
    Connected { peer: usize, conn: ConnId },
    ConnectFailed { peer: usize },
    Bytes { conn: ConnId, bytes: Vec<u8> },
    Closed { conn: ConnId },
}

/// A log line for the server's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkLog {
    pub level: LogLevel,
    pub message: String,
}

/// The result of handling one [`LinkEvent`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Handled {
    pub input: Option<LinkInput>,
    pub log: Option<LinkLog>,
}

impl Handled {
    fn input(input: LinkInput) -> Self {
        Handled {
            input: Some(input),
            log: None,
        }
    }

    fn log(level: LogLevel, message: String) -> Self {
        Handled {
            input: None,
            log: Some(LinkLog { level, message }),
        }
    }
}

/// Which relationship an inbound connection belongs to: the first one on
/// that listener whose `peer address` is the connection's source
/// (`dhcp_failover_listener_signal` / `dhcp_failover_state_match`,
/// `fo.c:1101-1170`, `fo.c:3666-3690`).
pub fn match_inbound(table: &[PeerListen], local: SocketAddrV4, source: Ipv4Addr) -> Option<usize> {
    table
        .iter()
        .filter(|l| l.local == local && l.remote_addr == source)
        .map(|l| l.peer)
        .min()
}

struct Listener {
    task: JoinHandle<()>,
    bound: Option<SocketAddr>,
}

struct Conn {
    writer: mpsc::UnboundedSender<Vec<u8>>,
    writer_task: JoinHandle<()>,
    reader_task: JoinHandle<()>,
}

/// The failover links of one server. Must be used inside a tokio runtime.
pub struct PeerLinks {
    sink: EventSink,
    table: Vec<PeerListen>,
    listeners: BTreeMap<SocketAddrV4, Listener>,
    conns: HashMap<ConnId, Conn>,
    next_conn: ConnId,
}

impl PeerLinks {
    pub fn new(sink: EventSink) -> Self {
        PeerLinks {
            sink,
            table: Vec::new(),
            listeners: BTreeMap::new(),
            conns: HashMap::new(),
            next_conn: 1,
        }
    }

    /// Makes the listeners match `table`: one per distinct `local`
    /// ("one listener is shared per distinct address and port", §1.1).
    /// Listeners no longer named are stopped; connections stay.
    pub fn set_listens(&mut self, table: Vec<PeerListen>) {
        let wanted: Vec<SocketAddrV4> = table.iter().map(|l| l.local).collect();
        self.listeners.retain(|local, l| {
            let keep = wanted.contains(local);
            if !keep {
                l.task.abort();
            }
            keep
        });
        for local in wanted {
            if !self.listeners.contains_key(&local) {
                let sink = self.sink.clone();
                let task = tokio::spawn(listen_loop(local, sink));
                self.listeners.insert(local, Listener { task, bound: None });
            }
        }
        self.table = table;
    }

    /// The address a listener actually bound (useful when `local` has port 0).
    pub fn bound_addr(&self, local: SocketAddrV4) -> Option<SocketAddr> {
        self.listeners.get(&local).and_then(|l| l.bound)
    }

    /// Opens a connection from `local` (port 0: ephemeral) to `remote` for
    /// relationship `peer`; the outcome comes back as an event.
    pub fn connect(&self, peer: usize, local: SocketAddrV4, remote: SocketAddrV4) {
        let sink = self.sink.clone();
        tokio::spawn(async move {
            let event = match connect(local, remote).await {
                Ok(stream) => Event::Connected { peer, stream },
                Err(error) => Event::ConnectFailed {
                    peer,
                    remote,
                    error,
                },
            };
            sink(LinkEvent(event));
        });
    }

    /// Queues bytes for a connection. Returns false if it is not open
    /// (closed meanwhile: the node hears `Closed` or already closed it).
    pub fn send(&self, conn: ConnId, bytes: Vec<u8>) -> bool {
        match self.conns.get(&conn) {
            Some(c) => c.writer.send(bytes).is_ok(),
            None => false,
        }
    }

    /// Closes a connection: no more events from it; what was queued is
    /// still written (for at most [`CLOSE_FLUSH`]), then the socket closes.
    pub fn close(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            retire(c);
        }
    }

    /// Open connections.
    pub fn open_count(&self) -> usize {
        self.conns.len()
    }

    /// Turns an event from a link task into what the node must hear.
    pub fn event(&mut self, LinkEvent(event): LinkEvent) -> Handled {
        match event {
            Event::Listening { local, bound } => {
                if let Some(l) = self.listeners.get_mut(&local) {
                    l.bound = Some(bound);
                }
                Handled::log(LogLevel::Debug, format!("failover: listening on {bound}"))
            }
            Event::ListenFailed { local, error } => Handled::log(
                LogLevel::Error,
                format!(
                    "failover: can't listen on {local}: {error} -- retrying in {} seconds",
                    LISTEN_RETRY.as_secs()
                ),
            ),
            Event::AcceptFailed { local, error } => Handled::log(
                LogLevel::Error,
                format!("failover: listener {local}: accept: {error}"),
            ),
            Event::Accepted {
                local,
                remote,
                stream,
            } => {
                let source = match remote {
                    SocketAddr::V4(a) => Some(*a.ip()),
                    SocketAddr::V6(a) => a.ip().to_ipv4_mapped(),
                };
                let peer = if self.listeners.contains_key(&local) {
                    source.and_then(|ip| match_inbound(&self.table, local, ip))
                } else {
                    None
                };
                match peer {
                    Some(peer) => {
                        let conn = self.register(stream);
                        Handled::input(LinkInput::Connected { peer, conn })
                    }
                    // ISC's words; dropping `stream` closes the socket.
                    None => Handled::log(
                        LogLevel::Error,
                        "failover: listener: no matching state".to_string(),
                    ),
                }
            }
            Event::Connected { peer, stream } => {
                let conn = self.register(stream);
                Handled::input(LinkInput::Connected { peer, conn })
            }
            Event::ConnectFailed {
                peer,
                remote,
                error,
            } => Handled {
                input: Some(LinkInput::ConnectFailed { peer }),
                log: Some(LinkLog {
                    level: LogLevel::Debug,
                    message: format!("failover: connect to {remote}: {error}"),
                }),
            },
            Event::Bytes { conn, bytes } => {
                if self.conns.contains_key(&conn) {
                    Handled::input(LinkInput::Bytes { conn, bytes })
                } else {
                    Handled::default()
                }
            }
            Event::Closed { conn, error } => match self.conns.remove(&conn) {
                Some(c) => {
                    retire(c);
                    Handled {
                        input: Some(LinkInput::Closed { conn }),
                        log: error.map(|e| LinkLog {
                            level: LogLevel::Debug,
                            message: format!("failover: connection {conn}: {e}"),
                        }),
                    }
                }
                None => Handled::default(),
            },
        }
    }

    fn register(&mut self, stream: TcpStream) -> ConnId {
        let conn = self.next_conn;
        self.next_conn += 1;
        // Failover messages are small and latency matters (BNDUPD/BNDACK
        // round trips hold client replies).
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        let (writer, queue) = mpsc::unbounded_channel();
        let reader_task = tokio::spawn(read_loop(conn, read, self.sink.clone()));
        let writer_task = tokio::spawn(write_loop(conn, write, queue, self.sink.clone()));
        self.conns.insert(
            conn,
            Conn {
                writer,
                writer_task,
                reader_task,
            },
        );
        conn
    }
}

impl Drop for PeerLinks {
    fn drop(&mut self) {
        for l in self.listeners.values() {
            l.task.abort();
        }
        for c in self.conns.values() {
            c.reader_task.abort();
            c.writer_task.abort();
        }
    }
}

/// Stops reading at once; lets the writer drain its queue for a bounded time.
fn retire(c: Conn) {
    c.reader_task.abort();
    drop(c.writer);
    let mut writer_task = c.writer_task;
    tokio::spawn(async move {
        if tokio::time::timeout(CLOSE_FLUSH, &mut writer_task)
            .await
            .is_err()
        {
            writer_task.abort();
        }
    });
}

fn bind_listener(local: SocketAddrV4) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::V4(local))?;
    socket.listen(LISTEN_BACKLOG)
}

async fn listen_loop(local: SocketAddrV4, sink: EventSink) {
    loop {
        let listener = match bind_listener(local) {
            Ok(l) => l,
            Err(error) => {
                sink(LinkEvent(Event::ListenFailed { local, error }));
                tokio::time::sleep(LISTEN_RETRY).await;
                continue;
            }
        };
        if let Ok(bound) = listener.local_addr() {
            sink(LinkEvent(Event::Listening { local, bound }));
        }
        loop {
            match listener.accept().await {
                Ok((stream, remote)) => sink(LinkEvent(Event::Accepted {
                    local,
                    remote,
                    stream,
                })),
                Err(error) => {
                    sink(LinkEvent(Event::AcceptFailed { local, error }));
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }
}

async fn connect(local: SocketAddrV4, remote: SocketAddrV4) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    // "The outgoing socket is bound to `address` with an ephemeral port"
    // (`dhcp_failover_link_initiate`, `fo.c:206-306`).
    socket.bind(SocketAddr::V4(local))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(SocketAddr::V4(remote))).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "connection timed out",
        )),
    }
}

async fn read_loop(conn: ConnId, mut read: OwnedReadHalf, sink: EventSink) {
    let mut buf = vec![0u8; READ_BUFFER];
    let error = loop {
        match read.read(&mut buf).await {
            Ok(0) => break None,
            Ok(n) => {
                let bytes = buf.get(..n).map(<[u8]>::to_vec).unwrap_or_default();
                sink(LinkEvent(Event::Bytes { conn, bytes }));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Some(e),
        }
    };
    sink(LinkEvent(Event::Closed { conn, error }));
}

async fn write_loop(
    conn: ConnId,
    mut write: OwnedWriteHalf,
    mut queue: mpsc::UnboundedReceiver<Vec<u8>>,
    sink: EventSink,
) {
    while let Some(bytes) = queue.recv().await {
        if let Err(e) = write.write_all(&bytes).await {
            sink(LinkEvent(Event::Closed {
                conn,
                error: Some(e),
            }));
            return;
        }
    }
    // The owner closed the connection: send FIN after the queue drained.
    let _ = write.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lo(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(127, 0, 0, last)
    }

    fn harness() -> (PeerLinks, mpsc::UnboundedReceiver<LinkEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let sink: EventSink = Arc::new(move |e| {
            let _ = tx.send(e);
        });
        (PeerLinks::new(sink), rx)
    }

    /// Feeds events until one yields an input; collects the logs seen.
    async fn next_input(
        links: &mut PeerLinks,
        rx: &mut mpsc::UnboundedReceiver<LinkEvent>,
        logs: &mut Vec<String>,
    ) -> LinkInput {
        loop {
            let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("no link event within 5 s")
                .expect("sink closed");
            let h = links.event(ev);
            if let Some(l) = h.log {
                logs.push(l.message);
            }
            if let Some(i) = h.input {
                return i;
            }
        }
    }

    /// Starts a listener on 127.0.0.1 (ephemeral port) for peer 0 that
    /// accepts `remote`; returns the key and the bound address.
    async fn listening(
        links: &mut PeerLinks,
        rx: &mut mpsc::UnboundedReceiver<LinkEvent>,
        remote: Ipv4Addr,
    ) -> (SocketAddrV4, SocketAddrV4) {
        let key = SocketAddrV4::new(lo(1), 0);
        links.set_listens(vec![PeerListen {
            peer: 0,
            local: key,
            remote_addr: remote,
        }]);
        while links.bound_addr(key).is_none() {
            let ev = rx.recv().await.expect("sink closed");
            assert!(links.event(ev).input.is_none());
        }
        match links.bound_addr(key) {
            Some(SocketAddr::V4(a)) => (key, a),
            other => panic!("bound {other:?}"),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn connect_accept_exchange_and_close() {
        let (mut links, mut rx) = harness();
        let mut logs = Vec::new();
        let (_, bound) = listening(&mut links, &mut rx, lo(2)).await;

        // Outbound from 127.0.0.2 as relationship 7; the listener side
        // accepts it as relationship 0 (source matches `peer address`).
        links.connect(7, SocketAddrV4::new(lo(2), 0), bound);
        let mut out = None;
        let mut inb = None;
        while out.is_none() || inb.is_none() {
            match next_input(&mut links, &mut rx, &mut logs).await {
                LinkInput::Connected { peer: 7, conn } => out = Some(conn),
                LinkInput::Connected { peer: 0, conn } => inb = Some(conn),
                other => panic!("unexpected {other:?}"),
            }
        }
        let (out, inb) = (out.unwrap(), inb.unwrap());
        assert_ne!(out, inb);
        assert_eq!(links.open_count(), 2);

        assert!(links.send(out, b"hello ".to_vec()));
        assert!(links.send(out, b"peer".to_vec()));
        let mut got = Vec::new();
        while got.len() < 10 {
            match next_input(&mut links, &mut rx, &mut logs).await {
                LinkInput::Bytes { conn, bytes } => {
                    assert_eq!(conn, inb);
                    got.extend(bytes);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(got, b"hello peer");

        // Closing one side: queued bytes are flushed, then the other side
        // sees them followed by the close.
        assert!(links.send(inb, b"bye".to_vec()));
        links.close(inb);
        assert!(!links.send(inb, b"late".to_vec()));
        let mut got = Vec::new();
        loop {
            match next_input(&mut links, &mut rx, &mut logs).await {
                LinkInput::Bytes { conn, bytes } => {
                    assert_eq!(conn, out);
                    got.extend(bytes);
                }
                LinkInput::Closed { conn } => {
                    assert_eq!(conn, out);
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(got, b"bye");
        assert_eq!(links.open_count(), 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn inbound_from_unknown_source_is_refused() {
        let (mut links, mut rx) = harness();
        let (_, bound) = listening(&mut links, &mut rx, lo(2)).await;

        let stranger = std::net::TcpStream::connect(bound).unwrap();
        // The stranger's source is 127.0.0.1, not the peer address 127.0.0.2.
        let ev = rx.recv().await.unwrap();
        let h = links.event(ev);
        assert_eq!(h.input, None);
        assert_eq!(
            h.log.map(|l| l.message).as_deref(),
            Some("failover: listener: no matching state")
        );
        assert_eq!(links.open_count(), 0);
        // And the socket was closed.
        stranger
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 1];
        let n = std::io::Read::read(&mut &stranger, &mut buf);
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn refused_connect_is_reported() {
        let (mut links, mut rx) = harness();
        let mut logs = Vec::new();
        // A port nobody listens on: bind one, note it, close it.
        let port = std::net::TcpListener::bind((lo(1), 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        links.connect(
            3,
            SocketAddrV4::new(lo(1), 0),
            SocketAddrV4::new(lo(1), port),
        );
        assert_eq!(
            next_input(&mut links, &mut rx, &mut logs).await,
            LinkInput::ConnectFailed { peer: 3 }
        );
        assert_eq!(logs.len(), 1);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn busy_listen_address_is_reported() {
        let (mut links, mut rx) = harness();
        let taken = std::net::TcpListener::bind((lo(1), 0)).unwrap();
        let SocketAddr::V4(addr) = taken.local_addr().unwrap() else {
            panic!("not v4")
        };
        links.set_listens(vec![PeerListen {
            peer: 0,
            local: addr,
            remote_addr: lo(2),
        }]);
        let h = links.event(rx.recv().await.unwrap());
        let log = h.log.unwrap();
        assert_eq!(log.level, LogLevel::Error);
        assert!(
            log.message.contains("retrying in 90 seconds"),
            "{}",
            log.message
        );
        assert!(links.bound_addr(addr).is_none());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn peer_closing_is_reported_once() {
        let (mut links, mut rx) = harness();
        let mut logs = Vec::new();
        let (_, bound) = listening(&mut links, &mut rx, lo(1)).await;
        let client = std::net::TcpStream::connect(bound).unwrap();
        let conn = match next_input(&mut links, &mut rx, &mut logs).await {
            LinkInput::Connected { peer: 0, conn } => conn,
            other => panic!("unexpected {other:?}"),
        };
        drop(client);
        assert_eq!(
            next_input(&mut links, &mut rx, &mut logs).await,
            LinkInput::Closed { conn }
        );
        assert_eq!(links.open_count(), 0);
        // A late write to it is refused, nothing else arrives.
        assert!(!links.send(conn, vec![1]));
        assert!(tokio::time::timeout(Duration::from_millis(100), rx.recv())
            .await
            .is_err());
    }

    #[test]
    fn inbound_matching_follows_isc() {
        let l = |peer, port, last| PeerListen {
            peer,
            local: SocketAddrV4::new(lo(1), port),
            remote_addr: lo(last),
        };
        let table = [l(2, 647, 2), l(1, 647, 2), l(0, 647, 3), l(3, 648, 4)];
        let at = |port| SocketAddrV4::new(lo(1), port);
        assert_eq!(match_inbound(&table, at(647), lo(2)), Some(1));
        assert_eq!(match_inbound(&table, at(647), lo(3)), Some(0));
        assert_eq!(match_inbound(&table, at(647), lo(4)), None);
        assert_eq!(match_inbound(&table, at(648), lo(4)), Some(3));
        assert_eq!(match_inbound(&table, at(649), lo(2)), None);
    }

    proptest! {
        #[test]
        fn a_match_is_always_a_relationship_of_that_listener_and_source(
            entries in proptest::collection::vec((0usize..8, 640u16..644, 1u8..5), 0..12),
            port in 640u16..644,
            src in 1u8..5,
        ) {
            let table: Vec<PeerListen> = entries
                .iter()
                .map(|&(peer, port, last)| PeerListen {
                    peer,
                    local: SocketAddrV4::new(lo(1), port),
                    remote_addr: lo(last),
                })
                .collect();
            let local = SocketAddrV4::new(lo(1), port);
            match match_inbound(&table, local, lo(src)) {
                Some(p) => prop_assert!(table
                    .iter()
                    .any(|l| l.peer == p && l.local == local && l.remote_addr == lo(src))),
                None => prop_assert!(!table
                    .iter()
                    .any(|l| l.local == local && l.remote_addr == lo(src))),
            }
        }
    }
}
