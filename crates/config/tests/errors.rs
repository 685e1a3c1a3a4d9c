//! Errors: file, line, column and ISC's wording.

mod common;

use std::path::Path;

use common::{parse_err, TempDir};
use tandem_config::*;

fn at(e: &ConfigError) -> (u32, u32) {
    (e.span.line, e.span.col)
}

#[test]
fn unknown_statement_points_where_isc_does() {
    // A keyword that starts no statement: ISC reports the last token it
    // read (the `;` before); the hint names what was found.
    let e = parse_err("default-lease-time 600;\nnetmask 255.255.255.0;\n");
    assert_eq!(e.message, "expecting a parameter or declaration");
    assert_eq!(at(&e), (1, 23));
    assert_eq!(e.kind, ErrorKind::Syntax);
    assert!(e
        .hint
        .as_deref()
        .unwrap_or("")
        .contains("`netmask` at line 2"));
    assert_eq!(
        e.to_string(),
        "test.conf:1:23: expecting a parameter or declaration"
    );
    let r = e.render();
    assert!(r.starts_with(
        "test.conf:1:23: expecting a parameter or declaration\ndefault-lease-time 600;\n"
    ));
    assert!(r.contains("\n                      ^\n"), "{r}");

    // After a declaration ISC says "expecting a declaration".
    let e = parse_err("subnet 10.0.0.0 netmask 255.0.0.0 { }\nnetmask 1;\n");
    assert_eq!(e.message, "expecting a declaration");
    assert_eq!(at(&e), (1, 37));

    // An unknown word is read as an expression, as ISC does.
    let e = parse_err("\nfrobnicate on;\n");
    assert_eq!(e.message, "semicolon expected.");
    assert_eq!(at(&e), (2, 12));
    assert!(e.hint.as_deref().unwrap_or("").contains("frobnicate"));
}

#[test]
fn missing_semicolon_is_reported_at_the_next_token() {
    let e = parse_err("default-lease-time 600\nmax-lease-time 7200;\n");
    assert_eq!(e.message, "semicolon expected.");
    assert_eq!(at(&e), (2, 1));
    let e =
        parse_err("subnet 10.0.0.0 netmask 255.0.0.0 {\n  option routers 10.0.0.1 10.0.0.2;\n}\n");
    assert_eq!(e.message, "semicolon expected.");
    assert_eq!(at(&e), (2, 27));
}

#[test]
fn bad_addresses() {
    let e = parse_err("option routers 10.0.0.300;\n");
    assert_eq!(e.message, "300 exceeds max (255) for precision.");
    assert_eq!(at(&e), (1, 23));
    let e = parse_err("subnet 10.0.0 netmask 255.0.0.0 { }\n");
    assert_eq!(e.message, "too few numbers.");
    assert_eq!(at(&e), (1, 15));
    let e = parse_err("subnet 10.0.0.1 netmask 255.255.255.0 { }\n");
    assert_eq!(
        e.message,
        "subnet 10.0.0.1 netmask 255.255.255.0: bad subnet number/mask combination."
    );
    let e = parse_err("subnet 10.0.0.0 netmask 255.0.255.0 { }\n");
    assert!(
        e.message.contains("netmask is not contiguous"),
        "{}",
        e.message
    );
    let e = parse_err("host h { hardware ethernet 00:11:22:XX:44:55; }\n");
    assert_eq!(e.message, "expecting numeric value.");
    assert_eq!(at(&e), (1, 37));
}

#[test]
fn undeclared_failover_peer() {
    let text = "subnet 10.0.0.0 netmask 255.255.255.0 {\n  pool {\n    failover peer \"nope\";\n    range 10.0.0.10 10.0.0.20;\n  }\n}\n";
    let e = parse_err(text);
    assert_eq!(e.message, "failover peer nope: not found");
    assert_eq!(e.kind, ErrorKind::Invalid);
    assert_eq!(at(&e), (3, 19));
    assert_eq!(e.source_line, "    failover peer \"nope\";");
}

#[test]
fn range_outside_subnet() {
    let e = parse_err("subnet 10.0.0.0 netmask 255.255.255.0 {\n  range 10.0.0.5 10.0.1.9;\n}\n");
    assert_eq!(
        e.message,
        "bad range, address 10.0.1.9 not in subnet 10.0.0.0 netmask 255.255.255.0"
    );
    assert_eq!(at(&e), (2, 18));
    // A pool in a shared network must fall in one of its subnets.
    let e = parse_err(
        "shared-network n {\n  subnet 10.0.0.0 netmask 255.255.255.0 { }\n  pool { range 10.9.0.1 10.9.0.2; }\n}\n",
    );
    assert!(
        e.message.starts_with("address range not on network n"),
        "{}",
        e.message
    );
    assert_eq!(e.span.line, 3);
}

#[test]
fn ranges_may_not_overlap() {
    let e = parse_err(
        "subnet 10.0.0.0 netmask 255.255.255.0 {\n  range 10.0.0.5 10.0.0.9;\n  pool { range 10.0.0.9 10.0.0.20; }\n}\n",
    );
    assert_eq!(e.message, "lease 10.0.0.9 is declared twice!");
    assert_eq!(e.span.line, 3);
}

#[test]
fn failover_validation() {
    let e = parse_err("failover peer \"a\" { primary; split 128; peer address 10.0.0.2; }\n");
    assert_eq!(e.message, "primary failover server must have mclt.");
    assert_eq!(at(&e), (1, 64));
    let e = parse_err("failover peer \"a\" { primary; mclt 10; peer address 10.0.0.2; }\n");
    assert_eq!(e.message, "primary failover server must have hba or split.");
    let e = parse_err("failover peer \"a\" { secondary; address 10.0.0.1; }\n");
    assert_eq!(e.message, "peer address may not be omitted");
    let e = parse_err("failover peer \"a\" { secondary; split 128; peer address 10.0.0.2; }\n");
    assert_eq!(e.message, "secondary may not define load balance settings.");
    let e =
        parse_err("failover peer \"a\" { primary; mclt 10; split 300; peer address 1.2.3.4; }\n");
    assert_eq!(e.message, "split must be between 0 and 256, inclusive");
    let e = parse_err("failover peer \"a\" { frobnicate; }\n");
    assert_eq!(e.message, "invalid statement in peer declaration");
    // ISC accepts mclt on a secondary and ignores it.
    let c = common::parse(
        "failover peer \"a\" { secondary; mclt 60; peer address 10.0.0.2; }\n\
         subnet 10.0.0.0 netmask 255.0.0.0 { pool { failover peer \"a\"; range 10.0.0.5 10.0.0.6; } }\n",
    );
    assert_eq!(c.failover_peers[0].mclt, None);
    assert!(c.warnings.iter().any(|w| w.message.contains("mclt")));
    let e = parse_err(
        "failover peer \"a\" { secondary; peer address 10.0.0.2; }\n\
         subnet 10.0.0.0 netmask 255.0.0.0 {\n pool { failover peer \"a\"; range dynamic-bootp 10.0.0.5 10.0.0.6; }\n}\n",
    );
    assert!(
        e.message.starts_with("dynamic-bootp flag is not permitted"),
        "{}",
        e.message
    );
    assert_eq!(e.span.line, 3);
    let e = parse_err("subnet 10.0.0.0 netmask 255.0.0.0 { failover peer \"a\"; }\n");
    assert!(e.message.starts_with("failover peers may only be defined"));
}

#[test]
fn other_semantic_errors() {
    let e = parse_err("option foo 1;\n");
    assert_eq!(e.message, "unknown option dhcp.foo");
    let e = parse_err("if exists foo { }\n");
    assert_eq!(e.message, "no option named foo in space dhcp");
    let e = parse_err(
        "subnet 10.0.0.0 netmask 255.0.0.0 { pool { allow members of \"x\"; range 10.0.0.1; } }\n",
    );
    assert_eq!(e.message, "no such class: x");
    let e = parse_err("subnet 10.0.0.0 netmask 255.0.0.0 { pool { } }\n");
    assert_eq!(e.message, "Pool declaration with no address range.");
    let e = parse_err("shared-network x { }\n");
    assert_eq!(e.message, "empty shared-network decl");
    let e = parse_err("host a { } host a { }\n");
    assert_eq!(e.message, "host a: already exists");
    let e = parse_err("subnet 10.0.0.0 netmask 255.0.0.0 { option space x; }\n");
    assert_eq!(e.message, "option space definitions may not be scoped.");
    let e = parse_err("zone example.com. { key nokey; }\n");
    assert_eq!(e.message, "unknown key nokey");
    let e = parse_err("subnet6 2001:db8::/64 { }\n");
    assert_eq!(e.kind, ErrorKind::Unsupported);
    let e = parse_err("option domain-name \"abc\n");
    assert_eq!(e.message, "eof in string constant");
    let e = parse_err("if option host-name = \"a\" and 1 { }\n");
    assert_eq!(e.message, "illegal expression relating different types");
}

#[test]
fn includes_and_files() {
    let dir = TempDir::new("errors");
    let inc = dir.write(
        "inc.conf",
        "# comment\nsubnet 10.0.0.0 netmask 255.0.0.0 {\n  range 10.0.0.1;\n  bogus thing;\n}\n",
    );
    let main = dir.write(
        "main.conf",
        &format!("default-lease-time 60;\ninclude \"{}\";\n", inc.display()),
    );
    let e = load(&main).unwrap_err();
    assert_eq!(e.span.file, inc);
    assert_eq!(at(&e), (4, 9));
    assert_eq!(e.source_line, "  bogus thing;");

    let missing = dir.path().join("missing.conf");
    let main = dir.write(
        "main2.conf",
        &format!("include \"{}\";\n", missing.display()),
    );
    let e = load(&main).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
    assert_eq!(e.span.file, main);
    assert_eq!(at(&e), (1, 9));
    assert!(e.message.starts_with("Can't open "), "{}", e.message);

    let e = load(Path::new("/nonexistent/dhcpd.conf")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);

    // An include loop ends in an error, not a stack overflow.
    let looped = dir.path().join("loop.conf");
    std::fs::write(&looped, format!("include \"{}\";\n", looped.display())).unwrap();
    let e = load(&looped).unwrap_err();
    assert!(e.message.contains("nested"), "{}", e.message);

    // Includes inside a block take that block's scope.
    let body = dir.write(
        "body.conf",
        "range 10.5.0.10 10.5.0.20;\noption routers 10.5.0.1;\n",
    );
    let main = dir.write(
        "main3.conf",
        &format!(
            "subnet 10.5.0.0 netmask 255.255.255.0 {{\n include \"{}\";\n}}\n",
            body.display()
        ),
    );
    let c = load(&main).unwrap();
    assert_eq!(c.pools[0].ranges.len(), 1);
    assert_eq!(c.scopes[c.subnets[0].scope].statements.len(), 1);
}
