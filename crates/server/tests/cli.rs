//! The binary's command line, run for real: `-t` on good and bad
//! configurations, `-T`, help, version, refused flags, and the same
//! behaviour when installed as `dhcpd`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TANDEM: &str = env!("CARGO_BIN_EXE_tandem");

const GOOD: &str = "\
subnet 10.0.0.0 netmask 255.255.255.0 {
  range 10.0.0.100 10.0.0.200;
  option routers 10.0.0.1;
}
";

/// The lab's primary of a failover pair (docs/lab.md §2).
const FAILOVER: &str = r#"
authoritative;
ddns-update-style none;
omapi-port 7911;
default-lease-time 600;
max-lease-time 7200;
min-lease-time 10;
failover peer "foo" {
  primary;
  address 10.0.0.10;
  port 647;
  peer address 10.0.0.20;
  peer port 647;
  max-response-delay 30;
  max-unacked-updates 10;
  load balance max seconds 3;
  mclt 1800;
  split 128;
}
subnet 10.0.0.0 netmask 255.255.255.0 {
  pool {
    failover peer "foo";
    range 10.0.0.100 10.0.0.200;
    deny dynamic bootp clients;
  }
}
"#;

/// Line 3 lacks its semicolon.
const BAD: &str = "\
subnet 10.0.0.0 netmask 255.255.255.0 {
  range 10.0.0.100 10.0.0.200;
  option routers 10.0.0.1
}
";

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("tandem-cli-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn run(bin: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .env_remove("PATH_DHCPD_CONF")
        .env_remove("PATH_DHCPD_DB")
        .env_remove("PATH_DHCPD_PID")
        .env_remove("DHCPD_PORT")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_good_config_exits_0() {
    let d = TempDir::new("good");
    let conf = d.file("good.conf", GOOD);
    let o = run(Path::new(TANDEM), &["-t", "-cf", conf.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("Tandem DHCP Server"), "banner: {err}");
    assert!(
        err.contains(&format!("Config file: {}", conf.display())),
        "{err}"
    );
    // -t writes no pid file and touches no lease file.
    assert!(!d.0.join("dhcpd.pid").exists());

    // -q: no banner, nothing to say.
    let o = run(
        Path::new(TANDEM),
        &["-t", "-q", "-cf", conf.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o), "");
}

#[test]
fn check_failover_config_exits_0() {
    let d = TempDir::new("failover");
    let conf = d.file("a.conf", FAILOVER);
    let o = run(Path::new(TANDEM), &["-t", "-cf", conf.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn check_bad_config_exits_1_with_file_line_column() {
    let d = TempDir::new("bad");
    let conf = d.file("bad.conf", BAD);
    let o = run(
        Path::new(TANDEM),
        &["-t", "-q", "-cf", conf.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    // The error points into the file: FILE:LINE:COLUMN (the missing ';'
    // is noticed at line 3 or at the '}' of line 4).
    let prefix = format!("{}:", conf.display());
    let located = err
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("{err}"));
    let mut parts = located[prefix.len()..].splitn(3, ':');
    let line: u32 = parts.next().unwrap().parse().unwrap();
    let col: u32 = parts.next().unwrap().parse().unwrap();
    assert!((3..=4).contains(&line) && col >= 1, "{located}");
    assert!(
        err.contains("Configuration file errors encountered -- exiting"),
        "{err}"
    );
}

#[test]
fn check_missing_config_exits_1() {
    let d = TempDir::new("missing");
    let o = run(
        Path::new(TANDEM),
        &["-t", "-cf", d.0.join("nope.conf").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn check_lease_file() {
    let d = TempDir::new("leases");
    let conf = d.file("good.conf", GOOD);
    let leases = d.file(
        "dhcpd.leases",
        "lease 10.0.0.100 {\n  starts 4 2026/11/19 10:00:00;\n  ends 4 2026/11/19 10:10:00;\n  \
         binding state active;\n  hardware ethernet 02:00:00:00:01:01;\n}\n",
    );
    let o = run(
        Path::new(TANDEM),
        &[
            "-T",
            "-cf",
            conf.to_str().unwrap(),
            "-lf",
            leases.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bad = d.file(
        "bad.leases",
        "lease 10.0.0.100 {\n  starts banana;\n}\nlease 10.0.0.101 {\n}\n",
    );
    let o = run(
        Path::new(TANDEM),
        &[
            "-T",
            "-cf",
            conf.to_str().unwrap(),
            "-lf",
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

#[test]
fn help_version_and_refusals() {
    let o = run(Path::new(TANDEM), &["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("-cf FILE") && out.contains("--no-pid"),
        "{out}"
    );

    let o = run(Path::new(TANDEM), &["--version"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).starts_with("tandem-"), "{}", stderr(&o));

    for args in [
        &["-6"][..],
        &["-x"],
        &["-cf"],
        &["-user", "nobody"],
        &["-s", "10.0.0.1"],
    ] {
        let o = run(Path::new(TANDEM), args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains("Usage:"), "{args:?}: {}", stderr(&o));
    }
}

/// Installed or symlinked as `dhcpd`, the binary behaves the same.
#[test]
fn works_as_dhcpd() {
    let d = TempDir::new("argv0");
    let link = d.0.join("dhcpd");
    std::os::unix::fs::symlink(TANDEM, &link).unwrap();
    let good = d.file("good.conf", GOOD);
    let bad = d.file("bad.conf", BAD);
    let o = run(&link, &["-t", "-cf", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&link, &["-t", "-cf", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let o = run(&link, &["--help"]);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("Usage: dhcpd "));
}

/// PATH_DHCPD_CONF names the configuration when -cf is absent.
#[test]
fn config_from_environment() {
    let d = TempDir::new("env");
    let bad = d.file("bad.conf", BAD);
    let good = d.file("good.conf", GOOD);
    let o = Command::new(TANDEM)
        .args(["-t", "-q"])
        .env("PATH_DHCPD_CONF", &bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    // -cf wins over the environment.
    let o = Command::new(TANDEM)
        .args(["-t", "-q", "-cf", good.to_str().unwrap()])
        .env("PATH_DHCPD_CONF", &bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}
