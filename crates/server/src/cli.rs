//! dhcpd 4.4's command line, parsed by hand (single-dash long flags such as
//! `-cf` are not something a getopt-style parser takes). Pure: the
//! environment is passed in.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// Debian's (and most distributions') `_PATH_DHCPD_CONF`.
pub const DEFAULT_CONFIG: &str = "/etc/dhcp/dhcpd.conf";
/// `_PATH_DHCPD_DB`.
pub const DEFAULT_LEASES: &str = "/var/lib/dhcp/dhcpd.leases";
/// `_PATH_DHCPD_PID`.
pub const DEFAULT_PID: &str = "/run/dhcpd.pid";
/// The DHCP server port (`getservbyname("dhcp")` in dhcpd; we use the number).
pub const DEFAULT_PORT: u16 = 67;
/// dhcpd's limit on interface names (`sizeof(interface_info.name)` - 1).
const MAX_IFNAME: usize = 15;

/// What the invocation asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Serve.
    Run,
    /// `-t`: check the configuration, exit 0 or 1.
    CheckConfig,
    /// `-T`: check the configuration and the lease file, exit 0 or 1.
    CheckLeases,
    /// `--help` / `-h`.
    Help,
    /// `--version`.
    Version,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub action: Action,
    /// Don't detach (`-f`, `-d`, `-t`, `-T`).
    pub foreground: bool,
    /// Log to stderr instead of syslog (`-d`; also `-t`/`-T` output).
    pub log_to_stderr: bool,
    /// `-q`: no banner and no interface listing.
    pub quiet: bool,
    pub config_file: PathBuf,
    pub lease_file: PathBuf,
    pub pid_file: PathBuf,
    /// Given with `-cf` (or PATH_DHCPD_CONF), not defaulted.
    pub config_file_given: bool,
    pub lease_file_given: bool,
    pub pid_file_given: bool,
    /// `--no-pid`.
    pub no_pid_file: bool,
    /// `-p PORT`: server port; clients get PORT+1.
    pub port: Option<u16>,
    /// Interfaces named on the command line (empty: automatic).
    pub interfaces: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            action: Action::Run,
            foreground: false,
            log_to_stderr: false,
            quiet: false,
            config_file: PathBuf::from(DEFAULT_CONFIG),
            lease_file: PathBuf::from(DEFAULT_LEASES),
            pid_file: PathBuf::from(DEFAULT_PID),
            config_file_given: false,
            lease_file_given: false,
            pid_file_given: false,
            no_pid_file: false,
            port: None,
            interfaces: Vec::new(),
        }
    }
}

impl Options {
    /// The server port (67 unless `-p` / DHCPD_PORT).
    pub fn server_port(&self) -> u16 {
        self.port.unwrap_or(DEFAULT_PORT)
    }
    /// dhcpd: `remote_port = local_port + 1`.
    pub fn client_port(&self) -> u16 {
        self.server_port().saturating_add(1)
    }
    /// Whether a pid file is written: not with `--no-pid`, `-t` or `-T`.
    pub fn writes_pid_file(&self) -> bool {
        !self.no_pid_file && self.action == Action::Run
    }
}

/// A command line dhcpd would refuse (or that asks for what Tandem lacks).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    #[error("No argument for command: {0}")]
    MissingArgument(String),
    #[error("Unknown command {0}")]
    UnknownFlag(String),
    #[error("Invalid port number specification: {0}")]
    InvalidPort(String),
    /// dhcpd allows 1..=65535; the client port PORT+1 must exist too.
    #[error("Port number specified is out of range (1-65534): {0}")]
    PortOutOfRange(String),
    #[error("DHCPv6 (-6) is not supported: Tandem serves DHCPv4 only")]
    Ipv6Unsupported,
    #[error("{flag} is not supported: {why}")]
    Unsupported {
        flag: &'static str,
        why: &'static str,
    },
    #[error("{0}: interface name too long (is {1})")]
    InterfaceNameTooLong(String, usize),
    #[error("argument is not valid UTF-8: {0:?}")]
    NotUtf8(OsString),
}

/// Parses `argv` (without the program name). dhcpd scans for `--version`,
/// `--help` and `-h` before anything else, so they win over any error.
pub fn parse<I>(args: I) -> Result<Options, CliError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    for a in &args {
        if a == "--version" {
            return Ok(Options {
                action: Action::Version,
                ..Options::default()
            });
        }
        if a == "--help" || a == "-h" {
            return Ok(Options {
                action: Action::Help,
                ..Options::default()
            });
        }
    }

    let mut o = Options::default();
    let mut check_config = false;
    let mut check_leases = false;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let arg = arg.into_string().map_err(CliError::NotUtf8)?;
        match arg.as_str() {
            "-4" => {}
            "-6" => return Err(CliError::Ipv6Unsupported),
            "-f" => o.foreground = true,
            "-d" => {
                o.foreground = true;
                o.log_to_stderr = true;
            }
            "-q" => o.quiet = true,
            "-t" => check_config = true,
            "-T" => check_leases = true,
            "--no-pid" => o.no_pid_file = true,
            "-p" => {
                let v = value(&mut it, &arg)?;
                o.port = Some(parse_port(&v)?);
            }
            "-cf" => {
                o.config_file = PathBuf::from(value(&mut it, &arg)?);
                o.config_file_given = true;
            }
            "-lf" => {
                o.lease_file = PathBuf::from(value(&mut it, &arg)?);
                o.lease_file_given = true;
            }
            "-pf" => {
                o.pid_file = PathBuf::from(value(&mut it, &arg)?);
                o.pid_file_given = true;
            }
            "-user" | "-group" | "-chroot" => {
                value(&mut it, &arg)?;
                return Err(CliError::Unsupported {
                    flag: static_flag(&arg),
                    why: "run Tandem under the wanted user and root directory from the \
                          service manager (systemd User=, RootDirectory=, capabilities \
                          CAP_NET_BIND_SERVICE, CAP_NET_RAW)",
                });
            }
            "-s" => {
                value(&mut it, &arg)?;
                return Err(CliError::Unsupported {
                    flag: "-s",
                    why: "dhcpd's debugging option to send every reply to one address \
                          is not implemented",
                });
            }
            "-tf" | "-play" => {
                value(&mut it, &arg)?;
                return Err(CliError::Unsupported {
                    flag: static_flag(&arg),
                    why: "dhcpd's trace files are not implemented",
                });
            }
            s if s.starts_with('-') => return Err(CliError::UnknownFlag(arg)),
            _ => {
                if arg.len() > MAX_IFNAME {
                    let len = arg.len();
                    return Err(CliError::InterfaceNameTooLong(arg, len));
                }
                o.interfaces.push(arg);
            }
        }
    }
    // dhcpd: -t and -T run in the foreground and print to stderr; -T
    // checks the configuration too.
    if check_config || check_leases {
        o.action = if check_leases {
            Action::CheckLeases
        } else {
            Action::CheckConfig
        };
        o.foreground = true;
        o.log_to_stderr = true;
    }
    Ok(o)
}

/// dhcpd's environment overrides, applied only where the command line gave
/// nothing: PATH_DHCPD_CONF, PATH_DHCPD_DB, PATH_DHCPD_PID and DHCPD_PORT.
pub fn apply_env(o: &mut Options, env: impl Fn(&str) -> Option<OsString>) -> Result<(), CliError> {
    if !o.config_file_given {
        if let Some(v) = env("PATH_DHCPD_CONF") {
            o.config_file = PathBuf::from(v);
            o.config_file_given = true;
        }
    }
    if !o.lease_file_given {
        if let Some(v) = env("PATH_DHCPD_DB") {
            o.lease_file = PathBuf::from(v);
            o.lease_file_given = true;
        }
    }
    if !o.pid_file_given {
        if let Some(v) = env("PATH_DHCPD_PID") {
            o.pid_file = PathBuf::from(v);
            o.pid_file_given = true;
        }
    }
    if o.port.is_none() {
        if let Some(v) = env("DHCPD_PORT") {
            let v = v.into_string().map_err(CliError::NotUtf8)?;
            o.port = Some(parse_port(&v)?);
        }
    }
    Ok(())
}

/// Makes the three paths absolute against `cwd`: the daemon changes its
/// directory to `/`, and SIGHUP re-reads the configuration afterwards
/// (dhcpd does this for the lease file).
pub fn make_absolute(o: &mut Options, cwd: &Path) {
    for p in [&mut o.config_file, &mut o.lease_file, &mut o.pid_file] {
        if p.is_relative() {
            *p = cwd.join(&*p);
        }
    }
}

fn value(it: &mut impl Iterator<Item = OsString>, flag: &str) -> Result<String, CliError> {
    let v = it
        .next()
        .ok_or_else(|| CliError::MissingArgument(flag.to_string()))?;
    v.into_string().map_err(CliError::NotUtf8)
}

/// dhcpd's `validate_port`: a whole decimal number in range. Tandem also
/// needs PORT+1 for the clients, so 65535 is refused.
fn parse_port(s: &str) -> Result<u16, CliError> {
    let n: i64 = s
        .parse()
        .map_err(|_| CliError::InvalidPort(s.to_string()))?;
    match u16::try_from(n) {
        Ok(p) if (1..=65534).contains(&p) => Ok(p),
        _ => Err(CliError::PortOutOfRange(s.to_string())),
    }
}

fn static_flag(s: &str) -> &'static str {
    match s {
        "-user" => "-user",
        "-group" => "-group",
        "-chroot" => "-chroot",
        "-tf" => "-tf",
        _ => "-play",
    }
}

/// The program name for messages and the syslog tag: the basename of
/// argv[0] (dhcpd uses its own basename the same way), "tandem" if absent.
pub fn program_name(argv0: Option<&OsStr>) -> String {
    argv0
        .map(Path::new)
        .and_then(Path::file_name)
        .and_then(OsStr::to_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("tandem")
        .to_string()
}

/// dhcpd's one-screen usage (printed on a command-line error).
pub fn usage(prog: &str) -> String {
    format!(
        "Usage: {prog} [-p <UDP port #>] [-f] [-d] [-q] [-t|-T]\n\
         \x20            [-4] [-cf config-file] [-lf lease-file]\n\
         \x20            [-pf pid-file] [--no-pid]\n\
         \x20            [if0 [...ifN]]\n\
         \x20      {prog} {{--version|--help|-h}}"
    )
}

/// `--help`: every flag, and how Tandem differs from dhcpd.
pub fn help(prog: &str) -> String {
    format!(
        r#"{usage}

Tandem, a DHCPv4 server that reads ISC dhcpd 4.4's dhcpd.conf and dhcpd.leases
and takes its command line. It behaves the same whether run as `tandem` or
installed (or symlinked) as `dhcpd`.

  -4             Serve DHCPv4 (the only family Tandem serves; accepted for dhcpd
                 compatibility).
  -6             Refused: DHCPv6 is not supported.
  -f             Run in the foreground; log to syslog.
  -d             Run in the foreground and log to stderr (implies -f). Lines have
                 no timestamp, as with dhcpd. Unlike dhcpd, nothing goes to syslog.
  -q             Quiet: no banner, no file and interface listing at startup.
                 Errors are still printed (dhcpd -q sends them to syslog only).
  -t             Check the configuration file and exit: 0 if it is valid, 1 with
                 each error as FILE:LINE:COLUMN, the line and a caret.
  -T             Check the configuration and the lease file (-lf) and exit 0 or 1.
  -cf FILE       Configuration file (default {conf}; env PATH_DHCPD_CONF).
  -lf FILE       Lease file (default {leases}; env PATH_DHCPD_DB). A missing
                 file is created and the creation logged (dhcpd refuses to start).
                 `lease-file-name` in the configuration overrides it, as in dhcpd.
  -pf FILE       PID file (default {pid}; env PATH_DHCPD_PID), written by the
                 running server and removed when it exits. Not written with -t/-T.
                 `pid-file-name` in the configuration overrides it, as in dhcpd.
  --no-pid       Write no PID file (and don't check for a running server).
  -p PORT        Listen on UDP PORT instead of 67 and answer clients on PORT+1
                 (env DHCPD_PORT). `local-port` in the configuration overrides it.
  -user U, -group G, -chroot DIR
                 Refused: not supported. Use the service manager to drop
                 privileges (Tandem needs CAP_NET_BIND_SERVICE and CAP_NET_RAW).
  -s SERVER      Refused: dhcpd's debugging option is not supported.
  -tf, -play     Refused: dhcpd's trace files are not supported.
  if0 ...ifN     Listen only on these interfaces. With none, every up, broadcast-
                 capable interface with an IPv4 address inside a declared subnet.
                 A named interface without a subnet is warned about and ignored.
  --version      Print the version (to stderr, as dhcpd) and exit.
  -h, --help     Print this help and exit.

Without -f/-d/-t/-T the server detaches like dhcpd: the starting process waits
until the daemon has read its files and opened its sockets, and exits 0 (or the
failure status, with the error printed on the terminal). The daemon then logs
to syslog as "{prog}" with the `log-facility` of the configuration (default
daemon).

Signals: SIGTERM and SIGINT flush the lease file and exit. SIGHUP re-reads the
configuration (keeping the running one if the new one has errors); dhcpd has no
SIGHUP handling.

`{prog} ctl ...` is the OMAPI client (omshell's objects from the command line):
see `{prog} ctl --help`.
"#,
        usage = usage(prog),
        conf = DEFAULT_CONFIG,
        leases = DEFAULT_LEASES,
        pid = DEFAULT_PID,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, CliError> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn defaults() {
        let o = p(&[]).unwrap();
        assert_eq!(o, Options::default());
        assert_eq!(o.action, Action::Run);
        assert!(!o.foreground && !o.log_to_stderr && !o.quiet);
        assert_eq!(o.config_file, Path::new("/etc/dhcp/dhcpd.conf"));
        assert_eq!(o.lease_file, Path::new("/var/lib/dhcp/dhcpd.leases"));
        assert_eq!(o.pid_file, Path::new("/run/dhcpd.pid"));
        assert_eq!((o.server_port(), o.client_port()), (67, 68));
        assert!(o.writes_pid_file());
        assert!(o.interfaces.is_empty());
    }

    #[test]
    fn the_lab_command_line() {
        let o = p(&["-4", "-f", "-d", "-cf", "X", "-lf", "Y", "-pf", "Z", "eth0"]).unwrap();
        assert_eq!(o.action, Action::Run);
        assert!(o.foreground && o.log_to_stderr);
        assert_eq!(o.config_file, Path::new("X"));
        assert_eq!(o.lease_file, Path::new("Y"));
        assert_eq!(o.pid_file, Path::new("Z"));
        assert!(o.config_file_given && o.lease_file_given && o.pid_file_given);
        assert_eq!(o.interfaces, vec!["eth0".to_string()]);
    }

    #[test]
    fn foreground_and_debug() {
        let f = p(&["-f"]).unwrap();
        assert!(f.foreground && !f.log_to_stderr);
        let d = p(&["-d"]).unwrap();
        assert!(d.foreground && d.log_to_stderr);
        assert!(p(&["-q"]).unwrap().quiet);
    }

    #[test]
    fn check_modes() {
        let t = p(&["-t", "-cf", "a.conf"]).unwrap();
        assert_eq!(t.action, Action::CheckConfig);
        assert!(t.foreground && t.log_to_stderr);
        assert!(!t.writes_pid_file());
        let tt = p(&["-T", "-lf", "x.leases"]).unwrap();
        assert_eq!(tt.action, Action::CheckLeases);
        assert!(!tt.writes_pid_file());
        // -T includes -t, in either order.
        assert_eq!(p(&["-T", "-t"]).unwrap().action, Action::CheckLeases);
        assert_eq!(p(&["-t", "-T"]).unwrap().action, Action::CheckLeases);
        let tq = p(&["-t", "-q"]).unwrap();
        assert!(tq.quiet && tq.action == Action::CheckConfig);
    }

    #[test]
    fn port_and_client_port() {
        let o = p(&["-p", "6767"]).unwrap();
        assert_eq!((o.server_port(), o.client_port()), (6767, 6768));
        assert_eq!(p(&["-p"]), Err(CliError::MissingArgument("-p".into())));
        assert_eq!(p(&["-p", "6x"]), Err(CliError::InvalidPort("6x".into())));
        assert_eq!(p(&["-p", "0"]), Err(CliError::PortOutOfRange("0".into())));
        assert_eq!(
            p(&["-p", "65535"]),
            Err(CliError::PortOutOfRange("65535".into()))
        );
        assert_eq!(p(&["-p", "-5"]), Err(CliError::PortOutOfRange("-5".into())));
        assert_eq!(p(&["-p", "65534"]).unwrap().server_port(), 65534);
    }

    #[test]
    fn no_pid() {
        let o = p(&["--no-pid"]).unwrap();
        assert!(o.no_pid_file && !o.writes_pid_file());
    }

    #[test]
    fn missing_file_arguments() {
        for f in ["-cf", "-lf", "-pf", "-s", "-user", "-group", "-chroot"] {
            assert_eq!(p(&[f]), Err(CliError::MissingArgument(f.into())), "{f}");
        }
    }

    #[test]
    fn unsupported_flags() {
        assert_eq!(p(&["-6"]), Err(CliError::Ipv6Unsupported));
        assert_eq!(p(&["-4", "-6"]), Err(CliError::Ipv6Unsupported));
        for f in ["-user", "-group", "-chroot", "-s", "-tf", "-play"] {
            match p(&[f, "x"]) {
                Err(CliError::Unsupported { flag, .. }) => assert_eq!(flag, f),
                other => panic!("{f}: {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_flags() {
        assert_eq!(p(&["-x"]), Err(CliError::UnknownFlag("-x".into())));
        // getopt-style clustering is not dhcpd's syntax.
        assert_eq!(p(&["-fd"]), Err(CliError::UnknownFlag("-fd".into())));
        assert_eq!(p(&["--cf", "x"]), Err(CliError::UnknownFlag("--cf".into())));
    }

    #[test]
    fn help_and_version_win() {
        assert_eq!(p(&["--help"]).unwrap().action, Action::Help);
        assert_eq!(p(&["-h"]).unwrap().action, Action::Help);
        assert_eq!(p(&["--version"]).unwrap().action, Action::Version);
        // dhcpd scans for these first: an error elsewhere doesn't matter.
        assert_eq!(p(&["-x", "-6", "-h"]).unwrap().action, Action::Help);
        assert_eq!(
            p(&["-p", "0", "--version"]).unwrap().action,
            Action::Version
        );
    }

    #[test]
    fn interfaces_in_order() {
        let o = p(&["eth0", "-f", "eth1"]).unwrap();
        assert_eq!(o.interfaces, vec!["eth0".to_string(), "eth1".to_string()]);
        let long = "abcdefghijklmnop";
        assert_eq!(
            p(&[long]),
            Err(CliError::InterfaceNameTooLong(long.into(), 16))
        );
    }

    #[test]
    fn env_applies_only_where_flags_are_absent() {
        let env = |k: &str| -> Option<OsString> {
            match k {
                "PATH_DHCPD_CONF" => Some("/env/conf".into()),
                "PATH_DHCPD_DB" => Some("/env/leases".into()),
                "PATH_DHCPD_PID" => Some("/env/pid".into()),
                "DHCPD_PORT" => Some("1067".into()),
                _ => None,
            }
        };
        let mut o = p(&[]).unwrap();
        apply_env(&mut o, env).unwrap();
        assert_eq!(o.config_file, Path::new("/env/conf"));
        assert_eq!(o.lease_file, Path::new("/env/leases"));
        assert_eq!(o.pid_file, Path::new("/env/pid"));
        assert_eq!(o.server_port(), 1067);

        let mut o = p(&["-cf", "c", "-lf", "l", "-pf", "q", "-p", "99"]).unwrap();
        apply_env(&mut o, env).unwrap();
        assert_eq!(o.config_file, Path::new("c"));
        assert_eq!(o.lease_file, Path::new("l"));
        assert_eq!(o.pid_file, Path::new("q"));
        assert_eq!(o.server_port(), 99);

        let mut o = p(&[]).unwrap();
        assert_eq!(
            apply_env(&mut o, |k| (k == "DHCPD_PORT").then(|| "x".into())),
            Err(CliError::InvalidPort("x".into()))
        );
    }

    #[test]
    fn relative_paths_become_absolute() {
        let mut o = p(&["-cf", "a.conf", "-lf", "/abs/l", "-pf", "run/p"]).unwrap();
        make_absolute(&mut o, Path::new("/work/dir"));
        assert_eq!(o.config_file, Path::new("/work/dir/a.conf"));
        assert_eq!(o.lease_file, Path::new("/abs/l"));
        assert_eq!(o.pid_file, Path::new("/work/dir/run/p"));
    }

    #[test]
    fn argv0_does_not_change_parsing() {
        // The same flags mean the same thing whatever the program is called;
        // only the name printed (and the syslog tag) follows argv[0].
        assert_eq!(program_name(Some(OsStr::new("/usr/sbin/dhcpd"))), "dhcpd");
        assert_eq!(program_name(Some(OsStr::new("tandem"))), "tandem");
        assert_eq!(program_name(Some(OsStr::new(""))), "tandem");
        assert_eq!(program_name(None), "tandem");
        let o = p(&["-q", "-cf", "x"]).unwrap();
        assert_eq!(o, p(&["-q", "-cf", "x"]).unwrap());
    }

    #[test]
    fn help_mentions_every_flag() {
        let h = help("dhcpd");
        for f in [
            "-4",
            "-6",
            "-f",
            "-d",
            "-q",
            "-t",
            "-T",
            "-cf",
            "-lf",
            "-pf",
            "--no-pid",
            "-p PORT",
            "-user",
            "-group",
            "-chroot",
            "-s SERVER",
            "--version",
            "--help",
            "PATH_DHCPD_CONF",
            "PATH_DHCPD_DB",
            "PATH_DHCPD_PID",
            "SIGHUP",
        ] {
            assert!(h.contains(f), "help lacks {f}");
        }
        assert!(h.starts_with("Usage: dhcpd "));
    }
}
