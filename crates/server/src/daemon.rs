//! Becoming a daemon the way dhcpd 4.4 does it: fork first (while the
//! process has one thread), let the child load everything with the terminal
//! still attached, and have the parent wait on a pipe for the child's "ready"
//! byte, exiting with the status it carries (1 if the child died first).
//! Then the child writes its pid file, starts a new session, moves its
//! standard streams to /dev/null and its directory to `/`.

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::unistd::{fork, pipe, setsid, ForkResult, Pid};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("Can't get pipe: {0}")]
    Pipe(#[source] nix::Error),
    #[error("Can't fork daemon: {0}")]
    Fork(#[source] nix::Error),
    #[error("There's already a DHCP server running (pid {pid} in {path}).")]
    AlreadyRunning { pid: i32, path: PathBuf },
    #[error("Can't create PID file {path}: {source}.")]
    PidFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("can't detach: {0}")]
    Detach(#[source] io::Error),
}

/// The child's end of the startup pipe.
#[derive(Debug)]
pub struct ReadyPipe {
    fd: Option<OwnedFd>,
}

impl ReadyPipe {
    /// Tells the waiting parent to exit with `status` (0: started).
    pub fn notify(&mut self, status: u8) {
        if let Some(fd) = self.fd.take() {
            let mut f = fs::File::from(fd);
            let _ = f.write_all(&[status]);
        }
    }
}

/// Forks. Returns in the child only; the parent waits for the child's
/// status byte and exits with it (1 if the pipe closes without one).
///
/// Must be called while the process is single-threaded.
pub fn fork_and_wait_for_child() -> Result<ReadyPipe, DaemonError> {
    let (read_end, write_end) = pipe().map_err(DaemonError::Pipe)?;
    // SAFETY: called before any thread is started (see `main`), so the child
    // is a complete copy of a single-threaded process.
    match unsafe { fork() }.map_err(DaemonError::Fork)? {
        ForkResult::Parent { child } => {
            drop(write_end);
            let status = wait_for_status(read_end);
            // Reap the child if it already failed; a started daemon goes on.
            if status != 0 {
                let _ = nix::sys::wait::waitpid(child, None);
            }
            // SAFETY: _exit skips destructors and atexit handlers, which
            // belong to the child now.
            unsafe { libc::_exit(i32::from(status)) }
        }
        ForkResult::Child => {
            drop(read_end);
            Ok(ReadyPipe {
                fd: Some(write_end),
            })
        }
    }
}

fn wait_for_status(read_end: OwnedFd) -> u8 {
    let mut f = fs::File::from(read_end);
    let mut b = [0u8; 1];
    loop {
        match f.read(&mut b) {
            Ok(1) => return b[0],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            _ => return 1,
        }
    }
}

/// The second half of detaching, after the parent was told: new session,
/// standard streams on /dev/null, working directory `/`.
pub fn detach() -> Result<(), DaemonError> {
    setsid().map_err(|e| DaemonError::Detach(e.into()))?;
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(DaemonError::Detach)?;
    for fd in 0..=2 {
        nix::unistd::dup2(null.as_raw_fd(), fd).map_err(|e| DaemonError::Detach(e.into()))?;
    }
    std::env::set_current_dir("/").map_err(DaemonError::Detach)?;
    Ok(())
}

/// dhcpd refuses to start while the pid file names a live process other
/// than itself. An unreadable or malformed file counts as stale.
pub fn check_not_running(path: &Path) -> Result<(), DaemonError> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok(());
    };
    let Ok(pid) = text.trim().parse::<i32>() else {
        return Ok(());
    };
    if pid > 0
        && Pid::from_raw(pid) != nix::unistd::getpid()
        && nix::sys::signal::kill(Pid::from_raw(pid), None).is_ok()
    {
        return Err(DaemonError::AlreadyRunning {
            pid,
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// A written pid file, removed by [`PidFile::remove`] on a clean exit.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes "PID\n" (mode 0644, truncating), as dhcpd does.
    pub fn write(path: &Path) -> Result<Self, DaemonError> {
        let err = |source| DaemonError::PidFile {
            path: path.to_path_buf(),
            source,
        };
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(path)
            .map_err(err)?;
        writeln!(f, "{}", std::process::id()).map_err(err)?;
        Ok(PidFile {
            path: path.to_path_buf(),
        })
    }

    pub fn remove(self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tandem-daemon-{}-{name}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        dir.join("pid")
    }

    #[test]
    fn pid_file_roundtrip() {
        let path = tmp("roundtrip");
        let pf = PidFile::write(&path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{}\n", std::process::id()));
        // Our own pid is not "another server".
        check_not_running(&path).unwrap();
        pf.remove();
        assert!(!path.exists());
    }

    #[test]
    fn live_pid_blocks_start() {
        let path = tmp("live");
        // Our parent (cargo or the shell) is alive and ours to signal.
        let parent = std::os::unix::process::parent_id() as i32;
        fs::write(&path, format!("{parent}\n")).unwrap();
        assert!(matches!(
            check_not_running(&path),
            Err(DaemonError::AlreadyRunning { pid, .. }) if pid == parent
        ));
        fs::write(&path, "garbage").unwrap();
        check_not_running(&path).unwrap();
        let _ = fs::remove_file(&path);
        check_not_running(&path).unwrap();
    }
}
