//! The dhcpd.conf conformance corpus (shared/testdata/dhcpd-conf): every
//! file ISC 4.4.3 accepts must load, every file it rejects must fail on the
//! line ISC names (MANIFEST.tsv, column "ISC verdict").

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{corpus_dir, TempDir};

/// Copy `src/sub` to `dst/sub`, replacing @DIR@ with the copy's path.
fn copy_with_dir(src: &Path, dst: &Path, sub: &str) -> PathBuf {
    let to = dst.join(sub);
    fs::create_dir_all(&to).expect("mkdir");
    for entry in fs::read_dir(src.join(sub)).expect("read corpus dir") {
        let entry = entry.expect("dir entry");
        let bytes = fs::read(entry.path()).expect("read corpus file");
        let text = String::from_utf8_lossy(&bytes).replace("@DIR@", &to.display().to_string());
        fs::write(to.join(entry.file_name()), text).expect("write copy");
    }
    to
}

struct Entry {
    file: String,
    verdict: String,
}

fn manifest(dir: &Path) -> Vec<Entry> {
    let text = fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = header
        .iter()
        .position(|h| *h == "ISC verdict")
        .expect("ISC verdict column");
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            Entry {
                file: cols[0].to_string(),
                verdict: cols.get(col).copied().unwrap_or("").to_string(),
            }
        })
        .collect()
}

#[test]
fn accept_and_reject_like_isc() {
    let corpus = corpus_dir();
    let tmp = TempDir::new("corpus");
    copy_with_dir(&corpus, &tmp.0, "accept");
    copy_with_dir(&corpus, &tmp.0, "reject");
    let entries = manifest(&corpus);
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.file.starts_with("accept/"))
            .count(),
        34
    );
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.file.starts_with("reject/"))
            .count(),
        8
    );
    let mut failures = Vec::new();
    for e in &entries {
        let path = tmp.0.join(&e.file);
        let result = tandem_config::load(&path);
        if e.verdict == "accept" {
            if let Err(err) = result {
                failures.push(format!(
                    "{}: expected accept, got\n{}",
                    e.file,
                    err.render()
                ));
            }
            continue;
        }
        // "line N: message"
        let line: u32 = e
            .verdict
            .strip_prefix("line ")
            .and_then(|r| r.split(':').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("bad verdict {:?}", e.verdict));
        // ISC says "line 0" when it had read no token yet (reject/08 starts
        // with "//"); Tandem names the line of that first token.
        let want = if line == 0 { 1 } else { line };
        match result {
            Ok(_) => failures.push(format!("{}: expected an error on line {want}", e.file)),
            Err(err) => {
                if err.span.line != want || !err.span.file.ends_with(&e.file) {
                    failures.push(format!(
                        "{}: expected line {want} ({}), got\n{}",
                        e.file,
                        e.verdict,
                        err.render()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}
