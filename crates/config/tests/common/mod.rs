//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let p = std::env::temp_dir().join(format!(
            "tandem-config-{tag}-{}-{nanos}-{n}",
            std::process::id()
        ));
        fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        fs::write(&p, text).expect("write temp file");
        p
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The shared dhcpd.conf corpus directory.
pub fn corpus_dir() -> PathBuf {
    if let Ok(d) = std::env::var("TANDEM_DHCPD_CONF_CORPUS") {
        return PathBuf::from(d);
    }
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/dhcpd-conf");
    assert!(
        d.join("MANIFEST.tsv").exists(),
        "corpus not found at {} (set TANDEM_DHCPD_CONF_CORPUS)",
        d.display()
    );
    d
}

/// Parse text that has no includes.
pub fn parse(text: &str) -> tandem_config::Config {
    match tandem_config::parse_str(Path::new("test.conf"), text) {
        Ok(c) => c,
        Err(e) => panic!("unexpected error:\n{}", e.render()),
    }
}

/// Parse text that must fail.
pub fn parse_err(text: &str) -> tandem_config::ConfigError {
    match tandem_config::parse_str(Path::new("test.conf"), text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}
