//! The `tandem` server: dhcpd-compatible command line, daemonizing, logging,
//! and the wiring of config, lease store, engine and sockets.
//!
//! Process structure (why in this order):
//! 1. Parse the command line (pure, [`cli`]).
//! 2. Without `-f`/`-d`/`-t`/`-T`, fork at once, while the process has a
//!    single thread ([`daemon`]); the parent waits for the child's "ready"
//!    byte and exits with its status, so errors found while loading still
//!    reach the terminal and the exit status (dhcpd 4.4 does the same).
//! 3. Load the configuration, open the lease file, discover interfaces,
//!    bind the sockets, build the engine ([`startup`]). Still one thread.
//! 4. Write the pid file, tell the parent, detach, then start the store's
//!    writer thread and a current-thread tokio runtime with one task that
//!    owns the engine ([`serve`]).

pub mod cli;
pub mod ctl;
pub mod daemon;
pub mod failover;
pub mod listen;
pub mod log;
pub mod omapi;
pub mod serve;
pub mod startup;

use std::ffi::OsString;
use std::process::ExitCode;

use cli::Action;
use log::{Logger, Sinks};
use startup::Started;

/// Tandem's version, printed by `--version` and in the banner.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs the program with `argv` (program name first); returns the exit status.
pub fn main_with_args(argv: Vec<OsString>) -> ExitCode {
    let prog = cli::program_name(argv.first().map(OsString::as_os_str));
    // `tandem ctl ...`: the OMAPI client, not the server.
    if argv.get(1).is_some_and(|a| a == "ctl") {
        return ctl::main(argv.into_iter().skip(2).collect());
    }
    let mut opts = match cli::parse(argv.into_iter().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{prog}: {e}");
            eprintln!("{}", cli::usage(&prog));
            return ExitCode::FAILURE;
        }
    };
    match opts.action {
        Action::Help => {
            print!("{}", cli::help(&prog));
            return ExitCode::SUCCESS;
        }
        Action::Version => {
            // dhcpd prints "isc-dhcpd-4.4.3" on stderr.
            eprintln!("tandem-{VERSION}");
            return ExitCode::SUCCESS;
        }
        Action::Run | Action::CheckConfig | Action::CheckLeases => {}
    }
    if let Err(e) = cli::apply_env(&mut opts, |k| std::env::var_os(k)) {
        eprintln!("{prog}: {e}");
        return ExitCode::FAILURE;
    }
    if let Ok(cwd) = std::env::current_dir() {
        cli::make_absolute(&mut opts, &cwd);
    }

    // Fork first, single-threaded; the parent never returns from here.
    let mut ready = None;
    if !opts.foreground {
        match daemon::fork_and_wait_for_child() {
            Ok(pipe) => ready = Some(pipe),
            Err(e) => {
                eprintln!("{prog}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }

    // Until the server runs, lines go to the terminal (and to syslog unless
    // -d, -t or -T), as with dhcpd.
    let mut log = Logger::new(
        &prog,
        Sinks {
            stderr: true,
            syslog: !opts.log_to_stderr,
        },
    );
    log.set_stderr_warnings_only(opts.quiet);

    let prepared = match startup::start(&mut opts, &mut log) {
        Ok(Started::Checked) => return ExitCode::SUCCESS,
        Ok(Started::Serve(p)) => p,
        Err(e) => {
            for line in e.to_string().lines() {
                log.error(line);
            }
            if let Some(mut r) = ready {
                r.notify(1);
            }
            return ExitCode::FAILURE;
        }
    };

    // dhcpd: the pid file is written by the process that serves, after
    // everything loaded; a failure to write it is logged, not fatal.
    let pid_file = if opts.writes_pid_file() {
        match daemon::PidFile::write(&opts.pid_file) {
            Ok(p) => Some(p),
            Err(e) => {
                log.error(&e.to_string());
                None
            }
        }
    } else {
        None
    };

    if let Some(mut r) = ready {
        r.notify(0);
        if let Err(e) = daemon::detach() {
            log.error(&e.to_string());
        }
    }
    // dhcpd: "If we were requested to log to stdout on the command line,
    // keep doing so; otherwise, stop."
    log.set_stderr_warnings_only(false);
    log.set_sinks(Sinks {
        stderr: opts.log_to_stderr,
        syslog: !opts.log_to_stderr,
    });

    let status = serve::run(prepared, &opts, log);
    if let Some(p) = pid_file {
        p.remove();
    }
    status
}
