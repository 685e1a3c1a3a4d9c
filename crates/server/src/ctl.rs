//! `tandem ctl`: a command-line client beside omshell, over the same OMAPI port and key.
//!
//! ```text
//! tandem ctl [--host H] [--port P] [--key NAME:SECRET] [--config FILE] [--json] COMMAND
//!   failover show [NAME]          failover partner-down NAME        shutdown
//!   lease show ADDR | --mac MAC [--htype N] | --client-id HEX
//!   host add NAME --mac MAC [--ip IP] [--client-id HEX] [--statements TEXT] [--group G]
//!   host remove NAME              host show NAME
//! ```
//! Without `--port` or `--key`, the values come from the server's dhcpd.conf when it can be
//! read (`--config`, else `$PATH_DHCPD_CONF`, else /etc/dhcp/dhcpd.conf): `omapi-port`, and
//! the key named by `omapi-key`. `failover show` without a name shows every `failover peer`
//! of that file (OMAPI cannot list objects).

pub mod client;
pub mod render;

use std::ffi::OsString;
use std::net::{Ipv4Addr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tandem_omapi::{Attributes, Key, Value};
use thiserror::Error;

use client::{ClientError, Connection};
use render::{Object, Output};

/// dhcpd's usual `omapi-port`.
pub const DEFAULT_PORT: u16 = 7911;
const DEFAULT_CONFIG: &str = crate::cli::DEFAULT_CONFIG;

/// A parsed `tandem ctl` command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlArgs {
    pub host: String,
    pub port: Option<u16>,
    /// `NAME:SECRET` (base64 secret, as omshell's `key NAME SECRET`).
    pub key: Option<(String, String)>,
    pub config: Option<PathBuf>,
    pub json: bool,
    pub timeout: Duration,
    pub command: Command,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    FailoverShow(Option<String>),
    FailoverPartnerDown(String),
    Shutdown,
    LeaseShow(LeaseBy),
    HostAdd(HostArgs),
    HostRemove(String),
    HostShow(String),
    Help,
}

/// How `lease show` finds the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseBy {
    Address(Ipv4Addr),
    Hardware { htype: u8, mac: Vec<u8> },
    ClientId(Vec<u8>),
}

/// `host add`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostArgs {
    pub name: String,
    pub mac: Option<Vec<u8>>,
    pub htype: u8,
    pub ip: Vec<Ipv4Addr>,
    pub client_id: Option<Vec<u8>>,
    pub statements: Option<String>,
    pub group: Option<String>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum UsageError {
    #[error("{0}")]
    Message(String),
    #[error("{flag} needs a value")]
    MissingValue { flag: String },
    #[error("bad {what}: {value:?}")]
    Bad { what: &'static str, value: String },
    #[error("unknown argument {0:?}")]
    Unknown(String),
}

fn bad(what: &'static str, value: &str) -> UsageError {
    UsageError::Bad {
        what,
        value: value.to_string(),
    }
}

/// Hex octets with or without `:`/`-` separators (`02:00:00:00:01:01`, `0102...`).
pub fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() > 1 {
        return parts
            .iter()
            .map(|p| match p.len() {
                1 | 2 => u8::from_str_radix(p, 16).ok(),
                _ => None,
            })
            .collect();
    }
    if s.is_empty() {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [_, _] => std::str::from_utf8(pair)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok()),
            _ => None,
        })
        .collect()
}

pub fn usage() -> &'static str {
    "Usage: tandem ctl [--host H] [--port P] [--key NAME:SECRET] [--config FILE] [--json]\n\
     \x20                 [--timeout SECS] COMMAND\n\
     Commands:\n\
     \x20 failover show [NAME]            the failover-state object(s)\n\
     \x20 failover partner-down NAME      set local-state = 4 (partner-down)\n\
     \x20 shutdown                        stop the server (control state = 2)\n\
     \x20 lease show ADDR | --mac MAC [--htype N] | --client-id HEX\n\
     \x20 host add NAME --mac MAC [--ip IP[,IP...]] [--client-id HEX] [--statements TEXT] [--group G]\n\
     \x20 host remove NAME\n\
     \x20 host show NAME\n\
     Defaults: --host 127.0.0.1; --port and --key from the config's omapi-port and omapi-key\n\
     (--config, else $PATH_DHCPD_CONF, else /etc/dhcp/dhcpd.conf), else port 7911 and no key."
}

/// Parses the arguments after `ctl`.
pub fn parse(args: &[String]) -> Result<CtlArgs, UsageError> {
    let mut host = "127.0.0.1".to_string();
    let mut port = None;
    let mut key = None;
    let mut config = None;
    let mut json = false;
    let mut timeout = Duration::from_secs(10);
    let mut words: Vec<String> = Vec::new();
    let mut it = args.iter();
    // Options of `lease show` / `host add` are collected with the words and read below.
    while let Some(a) = it.next() {
        let mut value = |flag: &str| {
            it.next().cloned().ok_or(UsageError::MissingValue {
                flag: flag.to_string(),
            })
        };
        match a.as_str() {
            "--host" => host = value(a)?,
            "--port" => {
                let v = value(a)?;
                port = Some(v.parse::<u16>().map_err(|_| bad("port", &v))?);
            }
            "--key" => {
                let v = value(a)?;
                let (n, s) = v
                    .split_once(':')
                    .ok_or_else(|| bad("key (NAME:SECRET)", &v))?;
                key = Some((n.to_string(), s.to_string()));
            }
            "--config" => config = Some(PathBuf::from(value(a)?)),
            "--timeout" => {
                let v = value(a)?;
                let secs: u64 = v.parse().map_err(|_| bad("timeout", &v))?;
                timeout = Duration::from_secs(secs.max(1));
            }
            "--json" => json = true,
            "-h" | "--help" => words = vec!["help".into()],
            _ => words.push(a.clone()),
        }
    }
    let command = parse_command(&words)?;
    Ok(CtlArgs {
        host,
        port,
        key,
        config,
        json,
        timeout,
        command,
    })
}

fn parse_command(words: &[String]) -> Result<Command, UsageError> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match w.as_slice() {
        [] | ["help"] => Ok(Command::Help),
        ["failover", "show"] => Ok(Command::FailoverShow(None)),
        ["failover", "show", name] => Ok(Command::FailoverShow(Some(name.to_string()))),
        ["failover", "partner-down", name] => Ok(Command::FailoverPartnerDown(name.to_string())),
        ["shutdown"] => Ok(Command::Shutdown),
        ["lease", "show", rest @ ..] => parse_lease(rest).map(Command::LeaseShow),
        ["host", "add", name, rest @ ..] => parse_host_add(name, rest).map(Command::HostAdd),
        ["host", "remove", name] => Ok(Command::HostRemove(name.to_string())),
        ["host", "show", name] => Ok(Command::HostShow(name.to_string())),
        _ => Err(UsageError::Message(format!(
            "unknown command: {}",
            words.join(" ")
        ))),
    }
}

fn parse_lease(rest: &[&str]) -> Result<LeaseBy, UsageError> {
    match rest {
        [addr] if !addr.starts_with('-') => addr
            .parse()
            .map(LeaseBy::Address)
            .map_err(|_| bad("address", addr)),
        ["--mac", mac] => Ok(LeaseBy::Hardware {
            htype: 1,
            mac: parse_hex(mac).ok_or_else(|| bad("MAC", mac))?,
        }),
        ["--mac", mac, "--htype", t] | ["--htype", t, "--mac", mac] => Ok(LeaseBy::Hardware {
            htype: t.parse().map_err(|_| bad("hardware type", t))?,
            mac: parse_hex(mac).ok_or_else(|| bad("MAC", mac))?,
        }),
        ["--client-id", id] => Ok(LeaseBy::ClientId(
            parse_hex(id).ok_or_else(|| bad("client id", id))?,
        )),
        _ => Err(UsageError::Message(
            "lease show needs ADDR, --mac MAC or --client-id HEX".into(),
        )),
    }
}

fn parse_host_add(name: &str, rest: &[&str]) -> Result<HostArgs, UsageError> {
    let mut h = HostArgs {
        name: name.to_string(),
        htype: 1,
        ..HostArgs::default()
    };
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let v = *it.next().ok_or(UsageError::MissingValue {
            flag: flag.to_string(),
        })?;
        match *flag {
            "--mac" => h.mac = Some(parse_hex(v).ok_or_else(|| bad("MAC", v))?),
            "--htype" => h.htype = v.parse().map_err(|_| bad("hardware type", v))?,
            "--ip" => {
                for a in v.split(',') {
                    h.ip.push(a.trim().parse().map_err(|_| bad("address", a))?);
                }
            }
            "--client-id" => h.client_id = Some(parse_hex(v).ok_or_else(|| bad("client id", v))?),
            "--statements" => h.statements = Some(v.to_string()),
            "--group" => h.group = Some(v.to_string()),
            other => return Err(UsageError::Unknown(other.to_string())),
        }
    }
    if h.mac.is_none() && h.client_id.is_none() {
        return Err(UsageError::Message(
            "host add needs --mac or --client-id (ISC: a host needs an identifier)".into(),
        ));
    }
    Ok(h)
}

/// Why a command failed.
#[derive(Debug, Error)]
pub enum CtlError {
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("bad key: {0}")]
    Key(#[from] tandem_omapi::KeyError),
    #[error("can't resolve {0}")]
    Resolve(String),
    #[error("{0}")]
    Config(String),
}

/// The configuration's OMAPI settings, when it can be read.
#[derive(Debug, Default)]
struct FromConfig {
    port: Option<u16>,
    key: Option<Key>,
    failover_peers: Vec<String>,
}

fn read_config(path: &std::path::Path) -> Result<FromConfig, String> {
    let c = tandem_config::load(path).map_err(|e| e.message.clone())?;
    let key = match &c.omapi_key {
        Some(name) => {
            let k = c
                .keys
                .iter()
                .find(|k| k.name.eq_ignore_ascii_case(name))
                .ok_or_else(|| format!("omapi-key {name}: no such key in {}", path.display()))?;
            Some(
                Key::new(k.name.clone(), &k.algorithm, k.secret.clone())
                    .map_err(|e| e.to_string())?,
            )
        }
        None => None,
    };
    Ok(FromConfig {
        port: c.omapi_port,
        key,
        failover_peers: c.failover_peers.iter().map(|p| p.name.clone()).collect(),
    })
}

/// Runs `tandem ctl ARGS`.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let parsed = match parse(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tandem ctl: {e}\n{}", usage());
            return ExitCode::from(2);
        }
    };
    if parsed.command == Command::Help {
        println!("{}", usage());
        return ExitCode::SUCCESS;
    }
    match run(&parsed) {
        Ok(out) => {
            let text = if parsed.json {
                out.to_json()
            } else {
                out.to_text()
            };
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let e = match e {
                CtlError::Client(ClientError::Refused {
                    result: tandem_omapi::IscResult::NOKEYS,
                    ..
                }) => format!("{e} (the server requires a key: --key NAME:SECRET)"),
                e => e.to_string(),
            };
            if parsed.json {
                println!("{{\"error\": {}}}", render::json_string(&e));
            } else {
                eprintln!("tandem ctl: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(a: &CtlArgs) -> Result<Output, CtlError> {
    let wants_config =
        a.port.is_none() || a.key.is_none() || matches!(a.command, Command::FailoverShow(None));
    let config_path = a.config.clone().or_else(|| {
        std::env::var_os("PATH_DHCPD_CONF")
            .map(PathBuf::from)
            .or_else(|| Some(PathBuf::from(DEFAULT_CONFIG)))
    });
    let from_config = match (&config_path, wants_config) {
        (Some(p), true) => match read_config(p) {
            Ok(c) => c,
            // A config named on the command line must be readable.
            Err(e) if a.config.is_some() => return Err(CtlError::Config(e)),
            Err(_) => FromConfig::default(),
        },
        _ => FromConfig::default(),
    };
    let key = match &a.key {
        Some((name, secret)) => Some(Key::from_base64(name.clone(), "hmac-md5", secret)?),
        None => from_config.key.clone(),
    };
    let port = a.port.or(from_config.port).unwrap_or(DEFAULT_PORT);
    let addr = (a.host.as_str(), port)
        .to_socket_addrs()
        .map_err(|_| CtlError::Resolve(a.host.clone()))?
        .next()
        .ok_or_else(|| CtlError::Resolve(a.host.clone()))?;
    let connect = || Connection::open(addr, key.clone(), a.timeout);
    match &a.command {
        Command::Help => Ok(Output::Message(usage().to_string())),
        Command::FailoverShow(name) => {
            let names = match name {
                Some(n) => vec![n.clone()],
                None if from_config.failover_peers.is_empty() => {
                    return Err(CtlError::Config(
                        "no failover peer declared in the configuration; name one: \
                         failover show NAME"
                            .into(),
                    ))
                }
                None => from_config.failover_peers.clone(),
            };
            let mut c = connect()?;
            let mut objects = Vec::new();
            for n in &names {
                let (_, values) = c.open_object(
                    "failover-state",
                    Attributes::new().with("name", Value::string(n)),
                    false,
                )?;
                objects.push(Object::new("failover-state", values));
            }
            Ok(if name.is_some() {
                Output::One(objects.remove(0))
            } else {
                Output::Many(objects)
            })
        }
        Command::FailoverPartnerDown(name) => {
            let mut c = connect()?;
            let (handle, _) = c.open_object(
                "failover-state",
                Attributes::new().with("name", Value::string(name)),
                false,
            )?;
            // 4 is partner-down in ISC 4.x (1 in 3.0; Tandem reads both so).
            c.update(handle, Attributes::new().with("local-state", Value::int(4)))?;
            let values = c.refresh(handle)?;
            Ok(Output::One(Object::new("failover-state", values)))
        }
        Command::Shutdown => {
            let mut c = connect()?;
            let (handle, _) = c.open_object("control", Attributes::new(), false)?;
            match c.update(handle, Attributes::new().with("state", Value::int(2))) {
                Ok(()) => Ok(Output::Message(
                    "shutdown requested: the server is stopping".into(),
                )),
                // ISC dhcpd never answers: it closes the connection when it exits (omshell
                // prints "connection reset by peer"), seconds later.
                Err(ClientError::Closed) => Ok(Output::Message(
                    "shutdown requested: the server closed the connection".into(),
                )),
                Err(ClientError::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                    ) =>
                {
                    Ok(Output::Message(
                        "shutdown requested: the server closed the connection".into(),
                    ))
                }
                Err(ClientError::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    Ok(Output::Message(
                        "shutdown requested: no answer yet (ISC dhcpd answers by closing the \
                         connection when it exits)"
                            .into(),
                    ))
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::LeaseShow(by) => {
            let values = match by {
                LeaseBy::Address(ip) => Attributes::new().with("ip-address", Value::ipv4(*ip)),
                LeaseBy::Hardware { htype, mac } => Attributes::new()
                    .with("hardware-address", Value::data(mac.clone()))
                    .with("hardware-type", Value::int(u32::from(*htype))),
                LeaseBy::ClientId(id) => {
                    Attributes::new().with("dhcp-client-identifier", Value::data(id.clone()))
                }
            };
            let (_, values) = connect()?.open_object("lease", values, false)?;
            Ok(Output::One(Object::new("lease", values)))
        }
        Command::HostAdd(h) => {
            let mut values = Attributes::new().with("name", Value::string(&h.name));
            if let Some(mac) = &h.mac {
                values.push("hardware-address", Value::data(mac.clone()));
                values.push("hardware-type", Value::int(u32::from(h.htype)));
            }
            if let Some(id) = &h.client_id {
                values.push("dhcp-client-identifier", Value::data(id.clone()));
            }
            if !h.ip.is_empty() {
                let bytes: Vec<u8> = h.ip.iter().flat_map(|a| a.octets()).collect();
                values.push("ip-address", Value::data(bytes));
            }
            if let Some(g) = &h.group {
                values.push("group", Value::string(g));
            }
            if let Some(s) = &h.statements {
                values.push("statements", Value::string(s));
            }
            let (_, values) = connect()?.open_object("host", values, true)?;
            Ok(Output::One(Object::new("host", values)))
        }
        Command::HostRemove(name) => {
            let mut c = connect()?;
            let (handle, _) = c.open_object(
                "host",
                Attributes::new().with("name", Value::string(name)),
                false,
            )?;
            c.delete(handle)?;
            Ok(Output::Message(format!("host {name} removed")))
        }
        Command::HostShow(name) => {
            let (_, values) = connect()?.open_object(
                "host",
                Attributes::new().with("name", Value::string(name)),
                false,
            )?;
            Ok(Output::One(Object::new("host", values)))
        }
    }
}

#[cfg(test)]
mod tests;
