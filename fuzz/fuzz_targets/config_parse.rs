//! Parses arbitrary bytes as dhcpd.conf, without reading includes.
//!
//! Checks:
//! * no panic, no I/O error (nothing is read from disk), and errors and
//!   warnings point at a line of the input and render;
//! * the model is consistent, so that its users may index it: every scope
//!   and cross-reference index is in range, and every scope's parent chain
//!   ends at the global scope without a cycle;
//! * parsing is deterministic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_config::{
    parse_bytes_without_includes, parse_for_fuzz, Config, ConfigError, ErrorKind, ScopeKind, Span,
};

fn check_span(span: &Span, lines: usize, what: &str) {
    let line = usize::try_from(span.line).unwrap_or(usize::MAX);
    assert!(
        (1..=lines).contains(&line),
        "{what} on line {} of {lines} (col {})",
        span.line,
        span.col
    );
}

fn check_model(cfg: &Config, lines: usize) {
    let scopes = cfg.scopes.len();
    assert!(scopes > 0, "no global scope");
    assert_eq!(cfg.scopes[0].kind, ScopeKind::Global);
    assert_eq!(cfg.scopes[0].parent, None, "the global scope has a parent");
    for (id, s) in cfg.scopes.iter().enumerate() {
        // The parent chain reaches the global scope in fewer than `scopes` steps.
        let mut cur = id;
        let mut steps = 0;
        while let Some(p) = cfg.scopes.get(cur).and_then(|s| s.parent) {
            assert!(p < scopes, "scope {cur} has parent {p} of {scopes}");
            steps += 1;
            assert!(steps < scopes, "scope {id}: parent chain has a cycle");
            cur = p;
        }
        assert_eq!(cur, 0, "scope {id} does not descend from the global scope");
        let ok = match s.kind {
            ScopeKind::Global => id == 0,
            ScopeKind::Group => true,
            ScopeKind::SharedNetwork(i) => i < cfg.shared_networks.len(),
            ScopeKind::Subnet(i) => i < cfg.subnets.len(),
            ScopeKind::Pool(i) => i < cfg.pools.len(),
            ScopeKind::Host(i) => i < cfg.hosts.len(),
            ScopeKind::Class(i) | ScopeKind::Subclass(i) => i < cfg.classes.len(),
        };
        assert!(ok, "scope {id} has kind {:?}", s.kind);
    }
    let nets = cfg.shared_networks.len();
    for n in &cfg.shared_networks {
        assert!(n.scope < scopes);
        assert!(n.subnets.iter().all(|&i| i < cfg.subnets.len()), "{n:?}");
        assert!(n.pools.iter().all(|&i| i < cfg.pools.len()), "{n:?}");
    }
    for s in &cfg.subnets {
        assert!(s.scope < scopes && s.shared_network < nets, "{s:?}");
        assert!(s.prefix_len <= 32, "{s:?}");
        check_span(&s.span, lines, "subnet");
    }
    for p in &cfg.pools {
        assert!(p.scope < scopes && p.shared_network < nets, "{p:?}");
        assert!(p.subnet.is_none_or(|i| i < cfg.subnets.len()), "{p:?}");
    }
    for h in &cfg.hosts {
        assert!(h.scope < scopes, "{h:?}");
    }
    for c in &cfg.classes {
        assert!(c.scope < scopes, "{c:?}");
        assert!(c.subclasses.iter().all(|(_, s)| *s < scopes), "{c:?}");
    }
    for w in &cfg.warnings {
        check_span(&w.span, lines, &format!("warning {:?}", w.message));
    }
}

fn check_error(e: &ConfigError, lines: usize) {
    assert_ne!(e.kind, ErrorKind::Io, "I/O without includes: {e}");
    check_span(&e.span, lines, &format!("error {e}"));
    let _ = e.render();
}

fuzz_target!(|data: &[u8]| {
    let result = match std::str::from_utf8(data) {
        Ok(text) => parse_for_fuzz(text),
        Err(_) => parse_bytes_without_includes(data),
    };
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    match &result {
        Ok(cfg) => check_model(cfg, lines),
        Err(e) => check_error(e, lines),
    }
    let again = parse_bytes_without_includes(data);
    assert_eq!(
        format!("{result:?}"),
        format!("{again:?}"),
        "parsing twice differs"
    );
});
