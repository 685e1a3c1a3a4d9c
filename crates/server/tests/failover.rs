//! Two `tandem` processes as a failover pair on the loopback interface:
//! 127.0.0.1 (primary) and 127.0.0.2 (secondary) are both loopback
//! addresses on Linux, so each binds its own failover address and connects
//! from it. DHCP goes to distinct unprivileged ports (`-p`). They must reach
//! normal, and a SIGTERM must hand over cleanly (isc-failover.md §2.6):
//! the primary moves to shutdown, the secondary to partner-down, and the
//! primary exits having written `recover` in its lease file.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const TANDEM: &str = env!("CARGO_BIN_EXE_tandem");

/// The pair's settings as in docs/lab.md §2, on loopback addresses.
fn conf(primary: bool, me: (Ipv4Addr, u16), peer: (Ipv4Addr, u16)) -> String {
    let role = if primary {
        "primary;\n  mclt 1800;\n  split 128;"
    } else {
        "secondary;"
    };
    format!(
        "failover peer \"foo\" {{
  {role}
  address {}; port {};
  peer address {}; peer port {};
  max-response-delay 30; max-unacked-updates 10; load balance max seconds 3;
}}
authoritative;
default-lease-time 600;
subnet 127.0.0.0 netmask 255.0.0.0 {{
  pool {{ failover peer \"foo\"; range 127.0.0.100 127.0.0.200; }}
}}
",
        me.0, me.1, peer.0, peer.1
    )
}

fn free_tcp_port(addr: Ipv4Addr) -> u16 {
    TcpListener::bind((addr, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_udp_port() -> u16 {
    UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One server: its files, its process, its log lines.
struct Server {
    name: &'static str,
    leases: PathBuf,
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    fn start(name: &'static str, dir: &Path, conf_text: &str) -> Server {
        let conf = dir.join(format!("{name}.conf"));
        fs::write(&conf, conf_text).unwrap();
        let leases = dir.join(format!("{name}.leases"));
        let mut child = Command::new(TANDEM)
            .args(["-f", "-d", "--no-pid", "-p"])
            .arg(free_udp_port().to_string())
            .arg("-cf")
            .arg(&conf)
            .arg("-lf")
            .arg(&leases)
            .arg("lo")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Server {
            name,
            leases,
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn pull(&mut self) {
        while let Ok(l) = self.lines.try_recv() {
            self.seen.push(l);
        }
    }

    fn has(&mut self, pred: impl Fn(&str) -> bool) -> bool {
        self.pull();
        self.seen.iter().any(|l| pred(l))
    }

    fn log(&self) -> String {
        format!("--- {} ---\n{}", self.name, self.seen.join("\n"))
    }

    fn sigterm(&self) {
        let pid = i32::try_from(self.child.id()).unwrap();
        // SAFETY: plain kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    }

    fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `pred` holds for both servers' logs; panics with both logs.
fn wait_both(a: &mut Server, b: &mut Server, what: &str, pred: impl Fn(&str) -> bool + Copy) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while Instant::now() < deadline {
        if a.has(pred) && b.has(pred) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("never saw {what}\n{}\n{}", a.log(), b.log());
}

fn last_my_state(leases: &Path) -> Option<String> {
    let text = fs::read_to_string(leases).ok()?;
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("my state "))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string)
}

#[test]
fn failover_pair_on_loopback_reaches_normal_and_hands_over() {
    let dir = std::env::temp_dir().join(format!("tandem-failover-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let pa = (
        Ipv4Addr::new(127, 0, 0, 1),
        free_tcp_port(Ipv4Addr::new(127, 0, 0, 1)),
    );
    let pb = (
        Ipv4Addr::new(127, 0, 0, 2),
        free_tcp_port(Ipv4Addr::new(127, 0, 0, 2)),
    );

    let mut a = Server::start("primary", &dir, &conf(true, pa, pb));
    let mut b = Server::start("secondary", &dir, &conf(false, pb, pa));

    wait_both(&mut a, &mut b, "both in normal", |l| {
        l.starts_with("failover peer foo: I move from ") && l.ends_with(" to normal")
    });

    // Let the first pool balancing's BNDUPDs settle: a SIGTERM while
    // updates are in flight makes the primary wait out its 10 s shutdown
    // timer (tandem-failover rescinds them on leaving normal and then
    // drops their BNDACKs), which would only make this test slow.
    std::thread::sleep(Duration::from_secs(1));

    // Clean shutdown of the primary: it hands over to the secondary.
    a.sigterm();
    let status = a.wait_exit(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "primary: {status:?}\n{}\n{}",
        a.log(),
        b.log()
    );
    a.pull();
    assert!(
        a.has(|l| l == "failover peer foo: I move from normal to shutdown"),
        "{}",
        a.log()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.has(|l| l == "failover peer foo: I move from normal to partner-down") {
        assert!(Instant::now() < deadline, "{}\n{}", a.log(), b.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    // The primary's last word in its lease file: recover (ISC writes it
    // at exit, so that the restart resynchronises).
    assert_eq!(
        last_my_state(&a.leases).as_deref(),
        Some("recover"),
        "{}",
        a.log()
    );

    // The secondary, in partner-down, has nobody to hand over to.
    b.sigterm();
    let status = b.wait_exit(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "secondary: {status:?}\n{}",
        b.log()
    );
    assert_eq!(last_my_state(&b.leases).as_deref(), Some("partner-down"));
    let _ = fs::remove_dir_all(&dir);
}
