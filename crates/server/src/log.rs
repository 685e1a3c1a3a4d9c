//! The log sink: stderr lines without timestamps (dhcpd -d), or syslog(3)
//! with dhcpd's conventions (tag = program name, facility from
//! `log-facility`, default LOG_DAEMON).

use std::ffi::CString;
use std::io::Write;

use tandem_engine::LogLevel;

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sinks {
    pub stderr: bool,
    pub syslog: bool,
}

/// The process's logger. Owned by one task: no locking.
#[derive(Debug)]
pub struct Logger {
    sinks: Sinks,
    /// Messages below Warn are suppressed on stderr (`-q` during startup).
    stderr_warnings_only: bool,
    ident: &'static std::ffi::CStr,
    facility: libc::c_int,
    syslog_open: bool,
}

impl Logger {
    /// `ident` is the syslog tag; it is leaked once (openlog keeps the pointer).
    pub fn new(ident: &str, sinks: Sinks) -> Self {
        let ident =
            CString::new(ident.replace('\0', "")).unwrap_or_else(|_| CString::from(c"tandem"));
        let mut logger = Logger {
            sinks: Sinks {
                stderr: false,
                syslog: false,
            },
            stderr_warnings_only: false,
            ident: Box::leak(ident.into_boxed_c_str()),
            facility: libc::LOG_DAEMON,
            syslog_open: false,
        };
        logger.set_sinks(sinks);
        logger
    }

    pub fn sinks(&self) -> Sinks {
        self.sinks
    }

    pub fn set_sinks(&mut self, sinks: Sinks) {
        self.sinks = sinks;
        if sinks.syslog && !self.syslog_open {
            self.open_syslog();
        }
    }

    /// Only warnings and errors on stderr (used for `-q`).
    pub fn set_stderr_warnings_only(&mut self, on: bool) {
        self.stderr_warnings_only = on;
    }

    /// Switches to `log-facility` (re-opening syslog like dhcpd does).
    pub fn set_facility(&mut self, facility: libc::c_int) {
        if facility != self.facility {
            self.facility = facility;
            if self.syslog_open {
                self.open_syslog();
            }
        }
    }

    fn open_syslog(&mut self) {
        // SAFETY: ident is 'static and NUL-terminated.
        unsafe {
            libc::openlog(
                self.ident.as_ptr(),
                libc::LOG_NDELAY | libc::LOG_PID,
                self.facility,
            )
        };
        self.syslog_open = true;
    }

    pub fn log(&self, level: LogLevel, message: &str) {
        if self.sinks.stderr && (!self.stderr_warnings_only || level_is_warning(level)) {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{message}");
        }
        if self.sinks.syslog {
            // An interior NUL can't go through syslog(3); cut there.
            let text = message.split('\0').next().unwrap_or("");
            if let Ok(c) = CString::new(text) {
                // SAFETY: "%s" with one NUL-terminated argument.
                unsafe { libc::syslog(priority(level), c"%s".as_ptr(), c.as_ptr()) };
            }
        }
    }

    pub fn error(&self, message: &str) {
        self.log(LogLevel::Error, message);
    }
    pub fn warn(&self, message: &str) {
        self.log(LogLevel::Warn, message);
    }
    pub fn info(&self, message: &str) {
        self.log(LogLevel::Info, message);
    }
}

fn level_is_warning(level: LogLevel) -> bool {
    matches!(level, LogLevel::Error | LogLevel::Warn)
}

fn priority(level: LogLevel) -> libc::c_int {
    match level {
        LogLevel::Error => libc::LOG_ERR,
        LogLevel::Warn => libc::LOG_WARNING,
        LogLevel::Info => libc::LOG_INFO,
        LogLevel::Debug => libc::LOG_DEBUG,
    }
}

/// `log-facility NAME;` as dhcpd's syslog enumeration spells it.
pub fn facility_from_name(name: &str) -> Option<libc::c_int> {
    Some(match name.to_ascii_lowercase().as_str() {
        "kern" => libc::LOG_KERN,
        "user" => libc::LOG_USER,
        "mail" => libc::LOG_MAIL,
        "daemon" => libc::LOG_DAEMON,
        "auth" => libc::LOG_AUTH,
        "syslog" => libc::LOG_SYSLOG,
        "lpr" => libc::LOG_LPR,
        "news" => libc::LOG_NEWS,
        "uucp" => libc::LOG_UUCP,
        "cron" => libc::LOG_CRON,
        "authpriv" => libc::LOG_AUTHPRIV,
        "ftp" => libc::LOG_FTP,
        "local0" => libc::LOG_LOCAL0,
        "local1" => libc::LOG_LOCAL1,
        "local2" => libc::LOG_LOCAL2,
        "local3" => libc::LOG_LOCAL3,
        "local4" => libc::LOG_LOCAL4,
        "local5" => libc::LOG_LOCAL5,
        "local6" => libc::LOG_LOCAL6,
        "local7" => libc::LOG_LOCAL7,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facilities() {
        assert_eq!(facility_from_name("local7"), Some(libc::LOG_LOCAL7));
        assert_eq!(facility_from_name("Daemon"), Some(libc::LOG_DAEMON));
        assert_eq!(facility_from_name("authpriv"), Some(libc::LOG_AUTHPRIV));
        assert_eq!(facility_from_name("local8"), None);
    }

    #[test]
    fn priorities() {
        assert_eq!(priority(LogLevel::Error), libc::LOG_ERR);
        assert_eq!(priority(LogLevel::Debug), libc::LOG_DEBUG);
    }
}
