//! Everything before serving, done on one thread so that the daemon can
//! fork safely and so that errors reach the terminal: banner, configuration,
//! lease file, interfaces, sockets, the node (engine + failover relationships).

use std::path::Path;
use std::sync::Arc;

use tandem_config::{Config, ConfigError};
use tandem_net::{DhcpSocket, NetError, PacketSocket, Ports};
use tandem_node::{Effect, Node, NodeError};
use tandem_store::{Journal, LeaseDb, StoreError};

use crate::cli::{Action, Options};
use crate::daemon::{self, DaemonError};
use crate::listen::{self, ListenError, SubnetDecl};
use crate::log::{facility_from_name, Logger};
use crate::serve::{clock_now, Extras};
use crate::VERSION;

/// Why the server could not start (exit status 1).
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{}\nConfiguration file errors encountered -- exiting", .0.render())]
    Config(Box<ConfigError>),
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    #[error("{0}")]
    Store(Box<StoreError>),
    #[error("Lease file errors encountered in {path}: {source}")]
    LeaseCheck {
        path: String,
        source: Box<StoreError>,
    },
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("can't start the DHCP engine: {0}")]
    Node(#[from] NodeError),
    #[error(transparent)]
    Omapi(#[from] crate::omapi::OmapiError),
}

/// What `start` produced.
pub enum Started {
    /// `-t` / `-T` succeeded.
    Checked,
    /// Everything is loaded and bound: serve it.
    Serve(Box<Prepared>),
}

/// The loaded server, ready for the runtime.
pub struct Prepared {
    pub config: Arc<Config>,
    /// The engine and its failover relationships.
    pub node: Node,
    /// What the node asked for while starting (state records, connections),
    /// to be carried out once the runtime runs.
    pub startup_effects: Vec<Effect>,
    pub journal: Journal,
    /// Lease-file records the node does not write itself (hosts, groups, other lines),
    /// carried into every rewrite.
    pub extras: Extras,
    pub socket: DhcpSocket,
    pub packet: Option<PacketSocket>,
    pub ports: Ports,
    /// Interface indexes served; datagrams from others are dropped.
    pub listen: Vec<u32>,
    /// `omapi-port` and the keys (none: no OMAPI listener).
    pub omapi: Option<crate::omapi::OmapiSetup>,
}

/// Loads and binds everything. `opts` is updated with what the
/// configuration overrides (`lease-file-name`, `pid-file-name`,
/// `local-port`), as dhcpd's `postconf_initialization` does.
pub fn start(opts: &mut Options, log: &mut Logger) -> Result<Started, StartupError> {
    if !opts.quiet {
        log.info(&format!("Tandem DHCP Server {VERSION}"));
        log.info("A DHCPv4 server for ISC dhcpd 4.4 configurations and lease files.");
    }

    let config =
        tandem_config::load(&opts.config_file).map_err(|e| StartupError::Config(Box::new(e)))?;
    for w in &config.warnings {
        log.warn(&format!(
            "{}:{}:{}: warning: {}",
            w.span.file.display(),
            w.span.line,
            w.span.col,
            w.message
        ));
    }
    apply_config_overrides(opts, &config);
    if let Some(name) = &config.log_facility {
        match facility_from_name(name) {
            Some(f) => log.set_facility(f),
            None => log.warn(&format!("unknown log-facility {name}; using daemon")),
        }
    }
    if !opts.quiet {
        log.info(&format!("Config file: {}", opts.config_file.display()));
        log.info(&format!("Database file: {}", opts.lease_file.display()));
        log.info(&format!("PID file: {}", opts.pid_file.display()));
    }
    // dhcpd: an omapi-key naming no usable key is fatal ("OMAPI key %s: %s").
    let omapi = crate::omapi::OmapiSetup::from_config(&config)?;
    if opts.action == Action::CheckConfig {
        return Ok(Started::Checked);
    }
    if opts.action == Action::CheckLeases {
        let report = tandem_store::check_file(&opts.lease_file).map_err(|source| {
            StartupError::LeaseCheck {
                path: opts.lease_file.display().to_string(),
                source: Box::new(source),
            }
        })?;
        for w in &report.warnings {
            log.warn(&format!("{}: {w}", opts.lease_file.display()));
        }
        if let Some(t) = &report.torn_tail {
            log.warn(&format!(
                "{}: incomplete last record at line {} (it would be dropped at start)",
                opts.lease_file.display(),
                t.line
            ));
        }
        if !opts.quiet {
            log.info(&format!(
                "Lease file {}: {} records, {} leases, {} failover peers, {} hosts.",
                opts.lease_file.display(),
                report.records,
                report.leases,
                report.failover_peers,
                report.hosts
            ));
        }
        return Ok(Started::Checked);
    }

    if opts.writes_pid_file() {
        daemon::check_not_running(&opts.pid_file)?;
    }

    let (journal, db, extras) = open_leases(&opts.lease_file, log)?;

    let subnets: Vec<SubnetDecl> = config
        .subnets
        .iter()
        .map(|s| SubnetDecl {
            network: s.network,
            netmask: s.netmask,
        })
        .collect();
    let links = tandem_net::discover()?;
    let selection = listen::select(&links, &opts.interfaces, &subnets)?;
    for w in &selection.warnings {
        log.error(w);
    }

    let ports = Ports {
        server: opts.server_port(),
        client: opts.client_port(),
    };
    let socket = DhcpSocket::bind(ports.server)?;
    // A deeper kernel queue absorbs bursts; overload sheds there.
    let _ = socket.set_recv_buffer_size(4 << 20);
    let packet = match PacketSocket::open() {
        Ok(p) => Some(p),
        Err(e) => {
            log.warn(&format!(
                "Can't open a packet socket ({e}): replies to clients without an \
                 address will be broadcast instead of unicast to their hardware address."
            ));
            None
        }
    };
    if !opts.quiet {
        for iface in &selection.listen {
            let d = listen::describe(iface, &subnets);
            log.info(&format!("Listening on {d}"));
            log.info(&format!("Sending on   {d}"));
        }
    }

    let listen: Vec<u32> = selection.listen.iter().map(|i| i.index).collect();
    let config = Arc::new(config);
    // `address` / `peer address` may be host names (resolved once, here).
    let (node, startup_effects) = Node::new(
        config.clone(),
        selection.listen,
        db,
        &crate::failover::resolve_ipv4,
        clock_now(),
    )?;

    Ok(Started::Serve(Box::new(Prepared {
        config,
        node,
        startup_effects,
        journal,
        extras,
        socket,
        packet,
        ports,
        listen,
        omapi,
    })))
}

/// dhcpd lets the configuration name the lease file, the pid file and the
/// port, and these win over the command line (`postconf_initialization`).
fn apply_config_overrides(opts: &mut Options, config: &Config) {
    if let Some(p) = &config.lease_file_name {
        opts.lease_file = p.clone();
    }
    if let Some(p) = &config.pid_file_name {
        opts.pid_file = p.clone();
    }
    if let Some(port) = config.local_port {
        if port < u16::MAX {
            opts.port = Some(port);
        }
    }
}

/// Opens (creating if missing) and folds the lease file.
fn open_leases(path: &Path, log: &mut Logger) -> Result<(Journal, LeaseDb, Extras), StartupError> {
    let (journal, outcome) =
        tandem_store::open(path).map_err(|e| StartupError::Store(Box::new(e)))?;
    if outcome.created {
        // dhcpd refuses to start without the file ("Can't open lease
        // database"); creating it is friendlier and loses nothing.
        log.warn(&format!(
            "Lease file {} did not exist: created it empty.",
            path.display()
        ));
    }
    for w in &outcome.warnings {
        log.warn(&format!("{}: {w}", path.display()));
    }
    if let Some(t) = &outcome.torn {
        log.warn(&format!(
            "{}: incomplete last record at line {} dropped (saved in {})",
            path.display(),
            t.tail.line,
            t.saved_to.display()
        ));
    }
    let db = outcome.db;
    let extras = Extras::from_db(&db);
    Ok((journal, db, extras))
}
