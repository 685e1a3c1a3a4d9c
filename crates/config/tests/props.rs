//! The lexer and parser never panic, whatever the input: arbitrary bytes,
//! streams of dhcpd.conf words, and corpus files with random edits.

mod common;

use proptest::prelude::*;
use tandem_config::parse_bytes_without_includes;

/// Words and punctuation that reach deep into the grammar.
const VOCAB: &[&str] = &[
    "subnet",
    "netmask",
    "shared-network",
    "pool",
    "range",
    "dynamic-bootp",
    "host",
    "hardware",
    "ethernet",
    "fixed-address",
    "group",
    "class",
    "subclass",
    "match",
    "if",
    "elsif",
    "else",
    "spawn",
    "with",
    "lease",
    "limit",
    "option",
    "space",
    "code",
    "=",
    "array",
    "of",
    "unsigned",
    "integer",
    "8",
    "16",
    "32",
    "text",
    "string",
    "ip-address",
    "domain-list",
    "compressed",
    "encapsulate",
    "{",
    "}",
    ";",
    ",",
    ".",
    ":",
    "(",
    ")",
    "!",
    "~",
    "+",
    "-",
    "*",
    "/",
    "%",
    "&",
    "|",
    "^",
    "and",
    "or",
    "not",
    "exists",
    "substring",
    "suffix",
    "concat",
    "pick-first-value",
    "binary-to-ascii",
    "encode-int",
    "extract-int",
    "hardware",
    "leased-address",
    "allow",
    "deny",
    "ignore",
    "members",
    "\"x\"",
    "\"\"",
    "failover",
    "peer",
    "primary",
    "secondary",
    "mclt",
    "split",
    "hba",
    "address",
    "port",
    "load",
    "balance",
    "max",
    "seconds",
    "state",
    "my",
    "partner",
    "at",
    "normal",
    "key",
    "algorithm",
    "secret",
    "zone",
    "on",
    "commit",
    "set",
    "unset",
    "log",
    "execute",
    "switch",
    "case",
    "default",
    "break",
    "10.0.0.1",
    "10.0.0.0",
    "255.255.255.0",
    "0",
    "1",
    "256",
    "-1",
    "00:07",
    "ff",
    "routers",
    "domain-search",
    "domain-name-servers",
    "vendor-option-space",
    "authoritative",
    "not",
    "include",
    "\"/nonexistent\"",
    "known",
    "unknown-clients",
    "clients",
    "all",
    "dynamic",
    "bootp",
    "after",
    "4",
    "2024/01/01",
    "12:00:00",
    "epoch",
    "never",
    "interface",
    "eth0",
    "regex",
    "~~",
    "~=",
    "#comment\n",
    "\n",
    "uid",
    "host-identifier",
    "agent.circuit-id",
    "fqdn.fqdn",
    "ZTP",
    "ZTP.x",
    "arch",
    "93",
    "option arch code 93 = unsigned integer 16;",
];

fn soup() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(VOCAB), 0..60).prop_map(|words| {
        let mut out = Vec::new();
        for w in words {
            out.extend_from_slice(w.as_bytes());
            out.push(b' ');
        }
        out
    })
}

fn corpus_texts() -> Vec<Vec<u8>> {
    let dir = common::corpus_dir();
    let mut out = Vec::new();
    for sub in ["accept", "reject"] {
        let mut entries: Vec<_> = std::fs::read_dir(dir.join(sub))
            .expect("corpus dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            out.push(std::fs::read(p).expect("corpus file"));
        }
    }
    out
}

#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, &'static str),
    Replace(usize, u8),
    Truncate(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<usize>(), 1usize..20).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), prop::sample::select(VOCAB)).prop_map(|(a, w)| Edit::Insert(a, w)),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Edit::Replace(a, b)),
        any::<usize>().prop_map(Edit::Truncate),
    ];
    prop::collection::vec(edit, 1..6)
}

fn apply(mut text: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = text.len().max(1);
        match e {
            Edit::Delete(at, n) => {
                let at = at % len;
                let end = (at + n).min(text.len());
                if at < end {
                    text.drain(at..end);
                }
            }
            Edit::Insert(at, w) => {
                let at = at % (text.len() + 1);
                text.splice(at..at, w.bytes());
            }
            Edit::Replace(at, b) => {
                if !text.is_empty() {
                    let at = at % text.len();
                    text[at] = *b;
                }
            }
            Edit::Truncate(at) => text.truncate(at % len),
        }
    }
    text
}

/// Parse; errors and warnings must point at a line of the input.
fn check_spans(text: &[u8]) -> Result<(), TestCaseError> {
    let lines = text.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
    match parse_bytes_without_includes(text) {
        Ok(c) => {
            for w in &c.warnings {
                prop_assert!((1..=lines).contains(&w.span.line), "{:?}", w);
            }
        }
        Err(e) => {
            prop_assert!((1..=lines).contains(&e.span.line), "{}", e);
            prop_assert!(e.kind != tandem_config::ErrorKind::Io);
            let _ = e.render();
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check_spans(&bytes)?;
    }

    #[test]
    fn word_soup_never_panics(text in soup()) {
        check_spans(&text)?;
    }

    #[test]
    fn mutated_corpus_never_panics(pick in any::<usize>(), e in edits()) {
        thread_local! {
            static TEXTS: Vec<Vec<u8>> = corpus_texts();
        }
        let text = TEXTS.with(|t| t[pick % t.len()].clone());
        let mutated = apply(text, &e);
        check_spans(&mutated)?;
    }
}
