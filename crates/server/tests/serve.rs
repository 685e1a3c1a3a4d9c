//! The binary serving for real on the loopback interface (high ports, no
//! namespaces): DISCOVER/OFFER, REQUEST/ACK with the lease on disk before
//! the ACK, SIGTERM, the pid file, and detaching like dhcpd.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const TANDEM: &str = env!("CARGO_BIN_EXE_tandem");

const CONF: &str = "\
authoritative;
default-lease-time 600;
subnet 127.0.0.0 netmask 255.0.0.0 {
  range 127.0.0.100 127.0.0.200;
  option routers 127.0.0.1;
}
";

struct Lab {
    dir: PathBuf,
    conf: PathBuf,
    leases: PathBuf,
    pid: PathBuf,
    port: u16,
    client: UdpSocket,
}

impl Lab {
    fn new(name: &str) -> Lab {
        let dir = std::env::temp_dir().join(format!("tandem-serve-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("dhcpd.conf");
        fs::write(&conf, CONF).unwrap();
        let (port, client) = free_port_pair();
        Lab {
            leases: dir.join("dhcpd.leases"),
            pid: dir.join("dhcpd.pid"),
            conf,
            dir,
            port,
            client,
        }
    }

    fn args(&self) -> Vec<String> {
        vec![
            "-p".into(),
            self.port.to_string(),
            "-cf".into(),
            self.conf.display().to_string(),
            "-lf".into(),
            self.leases.display().to_string(),
            "-pf".into(),
            self.pid.display().to_string(),
            "lo".into(),
        ]
    }

    fn send(&self, packet: &[u8]) {
        self.client
            .send_to(packet, SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port))
            .unwrap();
    }

    /// The next reply for `xid` of message type `kind`.
    fn expect(&self, xid: u32, kind: u8) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 1500];
        while Instant::now() < deadline {
            self.client
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let Ok((n, _)) = self.client.recv_from(&mut buf) else {
                continue;
            };
            let p = &buf[..n];
            if p.len() >= 240
                && p[0] == 2
                && p[4..8] == xid.to_be_bytes()
                && msg_type(p) == Some(kind)
            {
                return p.to_vec();
            }
        }
        panic!("no reply of type {kind} for xid {xid:#x}");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A port P with P+1 free too (the client port is P+1, as with dhcpd -p).
fn free_port_pair() -> (u16, UdpSocket) {
    for _ in 0..200 {
        let probe = UdpSocket::bind("0.0.0.0:0").unwrap();
        let p = probe.local_addr().unwrap().port();
        drop(probe);
        if p >= 65534 {
            continue;
        }
        if let Ok(client) = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, p + 1)) {
            if UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, p)).is_ok() {
                client.set_broadcast(true).unwrap();
                return (p, client);
            }
        }
    }
    panic!("no free port pair");
}

const MAC: [u8; 6] = [2, 0, 0, 0, 9, 1];

fn packet(xid: u32, options: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 236];
    p[0] = 1; // BOOTREQUEST
    p[1] = 1; // Ethernet
    p[2] = 6;
    p[4..8].copy_from_slice(&xid.to_be_bytes());
    p[10] = 0x80; // broadcast flag
    p[28..34].copy_from_slice(&MAC);
    p.extend_from_slice(&[99, 130, 83, 99]);
    p.extend_from_slice(options);
    p.push(255);
    p
}

fn option(p: &[u8], code: u8) -> Option<&[u8]> {
    let mut i = 240;
    while i < p.len() {
        match p[i] {
            0 => i += 1,
            255 => return None,
            c => {
                let len = *p.get(i + 1)? as usize;
                let v = p.get(i + 2..i + 2 + len)?;
                if c == code {
                    return Some(v);
                }
                i += 2 + len;
            }
        }
    }
    None
}

fn msg_type(p: &[u8]) -> Option<u8> {
    option(p, 53).and_then(|v| v.first().copied())
}

/// Collects the child's stderr lines; waits for one containing `needle`.
fn watch_stderr(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for(lines: &mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(l) = lines.recv_timeout(Duration::from_millis(100)) {
            let hit = l.contains(needle);
            seen.push(l);
            if hit {
                return;
            }
        }
    }
    panic!("never saw {needle:?}; log so far:\n{}", seen.join("\n"));
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not exit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn sigterm(pid: i32) {
    // SAFETY: plain kill(2).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
}

#[test]
fn dora_on_loopback_then_sigterm() {
    let lab = Lab::new("dora");
    let mut child = Command::new(TANDEM)
        .args(["-f", "-d"])
        .args(lab.args())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = watch_stderr(&mut child);
    let mut log = Vec::new();
    wait_for(&lines, "Server starting service.", &mut log);
    assert!(fs::read_to_string(&lab.pid).unwrap().trim() == child.id().to_string());
    // The missing lease file was created and that was said.
    assert!(log.iter().any(|l| l.contains("did not exist")), "{log:?}");

    let xid = 0x1234_5678;
    // DISCOVER asking for subnet mask, routers, lease time.
    lab.send(&packet(xid, &[53, 1, 1, 55, 3, 1, 3, 51]));
    let offer = lab.expect(xid, 2);
    let yiaddr = Ipv4Addr::new(offer[16], offer[17], offer[18], offer[19]);
    assert!(
        (u32::from(yiaddr) >= u32::from(Ipv4Addr::new(127, 0, 0, 100)))
            && (u32::from(yiaddr) <= u32::from(Ipv4Addr::new(127, 0, 0, 200))),
        "{yiaddr}"
    );
    let server_id = option(&offer, 54).expect("server identifier").to_vec();

    let mut opts = vec![53, 1, 3, 50, 4];
    opts.extend_from_slice(&yiaddr.octets());
    opts.extend_from_slice(&[54, 4]);
    opts.extend_from_slice(&server_id);
    lab.send(&packet(xid, &opts));
    let _ack = lab.expect(xid, 5);
    // Durable before the ACK: the lease is in the file by the time the
    // ACK arrives.
    let text = fs::read_to_string(&lab.leases).unwrap();
    assert!(text.contains(&format!("lease {yiaddr} {{")), "{text}");
    assert!(
        text.contains("hardware ethernet 02:00:00:00:09:01;"),
        "{text}"
    );

    sigterm(child.id() as i32);
    let status = wait_exit(&mut child, Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    assert!(!lab.pid.exists(), "pid file left behind");
}

/// Like dhcpd without -f/-d: the command returns once the daemon is
/// serving; the pid file names the daemon, which SIGTERM stops.
#[test]
fn detaches_like_dhcpd() {
    let lab = Lab::new("daemon");
    // Become the reaper of the orphaned daemon so it can be waited for.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let out = Command::new(TANDEM)
        .args(lab.args())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Tandem DHCP Server"), "{err}");
    let pid: i32 = fs::read_to_string(&lab.pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: kill(pid, 0) only checks existence.
    assert_eq!(unsafe { libc::kill(pid, 0) }, 0, "daemon not running");

    let xid = 0x0bad_cafe;
    lab.send(&packet(xid, &[53, 1, 1]));
    lab.expect(xid, 2);

    sigterm(pid);
    let mut status = 0;
    // SAFETY: waiting for our (adopted) child.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "status {status:#x}"
    );
    assert!(!lab.pid.exists(), "pid file left behind");
}

/// Errors found while starting reach the terminal and the exit status,
/// even when detaching.
#[test]
fn startup_errors_reach_the_terminal() {
    let lab = Lab::new("errors");
    // The port is taken (a socket without SO_REUSEADDR).
    let _holder = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, lab.port)).unwrap();
    let out = Command::new(TANDEM).args(lab.args()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("0.0.0.0:{}", lab.port)), "{err}");
    assert!(!lab.pid.exists());

    // An interface that doesn't exist.
    let mut args = lab.args();
    args.pop();
    args.push("nosuch0".into());
    let out = Command::new(TANDEM)
        .args(["-q"])
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nosuch0: not found"));
}
