//! Expression evaluation with ISC's semantics, on the PXE/iPXE patterns
//! of the corpus.

mod common;

use std::collections::HashMap;
use std::net::Ipv4Addr;

use common::parse;
use tandem_config::eval::{eval_bool, eval_data, eval_num, EvalContext};
use tandem_config::*;

#[derive(Default)]
struct Client {
    options: HashMap<(String, u32), Vec<u8>>,
    hardware: Vec<u8>,
    packet: Vec<u8>,
    known: bool,
    vars: HashMap<String, Vec<u8>>,
    leased: Option<Ipv4Addr>,
}

impl Client {
    fn with(mut self, space: &str, code: u32, v: &[u8]) -> Self {
        self.options.insert((space.into(), code), v.to_vec());
        self
    }
}

impl EvalContext for Client {
    fn option(&self, code: &OptionCode) -> Option<Vec<u8>> {
        self.options.get(&(code.space.clone(), code.code)).cloned()
    }
    fn config_option(&self, _code: &OptionCode) -> Option<Vec<u8>> {
        None
    }
    fn hardware(&self) -> Vec<u8> {
        self.hardware.clone()
    }
    fn packet(&self) -> &[u8] {
        &self.packet
    }
    fn known(&self) -> bool {
        self.known
    }
    fn leased_address(&self) -> Option<Ipv4Addr> {
        self.leased
    }
    fn host_decl_name(&self) -> Option<String> {
        None
    }
    fn variable(&self, name: &str) -> Option<Vec<u8>> {
        self.vars.get(name).cloned()
    }
    fn lease_time(&self) -> Option<u32> {
        Some(3600)
    }
}

/// The condition of the first `if` in the global scope of `text`.
fn condition(text: &str) -> Expr {
    let c = parse(text);
    c.scopes[0]
        .statements
        .iter()
        .find_map(|s| match s {
            Stmt::If { branches, .. } => Some(branches[0].0.clone()),
            _ => None,
        })
        .expect("an if statement")
}

/// The expression of the first `set` in the global scope.
fn set_expr(text: &str) -> Expr {
    let c = parse(text);
    c.scopes[0]
        .statements
        .iter()
        .find_map(|s| match s {
            Stmt::SetVar { expr, .. } => Some(expr.clone()),
            _ => None,
        })
        .expect("a set statement")
}

#[test]
fn pxeclient_class_match() {
    // accept/04 and accept/19.
    let c = parse(
        "class \"pxe\" { match if substring(option vendor-class-identifier,0,9) = \"PXEClient\"; }\n",
    );
    let m = c.classes[0].match_if.clone().expect("match if");
    let pxe = Client::default().with("dhcp", 60, b"PXEClient:Arch:00007:UNDI:003016");
    assert_eq!(eval_bool(&m, &pxe), Some(true));
    let msft = Client::default().with("dhcp", 60, b"MSFT 5.0");
    assert_eq!(eval_bool(&m, &msft), Some(false));
    // No option 60: the left side has no value, the right has: not equal.
    assert_eq!(eval_bool(&m, &Client::default()), Some(false));
    // Too short: substring clips.
    let short = Client::default().with("dhcp", 60, b"PXE");
    assert_eq!(eval_bool(&m, &short), Some(false));
}

#[test]
fn ipxe_user_class() {
    // accept/13.
    let e = condition("if exists user-class and option user-class = \"iPXE\" { }\n");
    let ipxe = Client::default().with("dhcp", 77, b"iPXE");
    assert_eq!(eval_bool(&e, &ipxe), Some(true));
    let other = Client::default().with("dhcp", 77, b"gPXE");
    assert_eq!(eval_bool(&e, &other), Some(false));
    // ISC: `false and X` has no value at all (not false).
    assert_eq!(eval_bool(&e, &Client::default()), None);
    let n = condition("if not (exists user-class and option user-class = \"iPXE\") { }\n");
    assert_eq!(eval_bool(&n, &Client::default()), None);
    assert_eq!(eval_bool(&n, &other), Some(true));
}

#[test]
fn option_arch_hex_compare() {
    // accept/04: option arch code 93 = unsigned integer 16; arch = 00:07.
    let e = condition(
        "option arch code 93 = unsigned integer 16;\nif option arch = 00:07 { filename \"efi\"; } elsif option arch = 00:09 { } else { }\n",
    );
    assert_eq!(
        e,
        Expr::Equal(
            Box::new(Expr::OptionValue(OptionCode {
                space: "dhcp".into(),
                code: 93
            })),
            Box::new(Expr::Const(vec![0, 7]))
        )
    );
    assert_eq!(
        eval_bool(&e, &Client::default().with("dhcp", 93, &[0, 7])),
        Some(true)
    );
    assert_eq!(
        eval_bool(&e, &Client::default().with("dhcp", 93, &[0, 9])),
        Some(false)
    );
    // elsif is a second branch.
    let c = parse("option arch code 93 = unsigned integer 16;\nif option arch = 00:07 { } elsif option arch = 00:09 { } else { }\n");
    match &c.scopes[0].statements[0] {
        Stmt::If { branches, .. } => assert_eq!(branches.len(), 2),
        s => panic!("{s:?}"),
    }
}

#[test]
fn binary_to_ascii_of_hardware() {
    // accept/10, accept/12, accept/16.
    let e = set_expr("set mac = binary-to-ascii(16, 8, \":\", substring(hardware, 1, 6));\n");
    let client = Client {
        hardware: vec![1, 0x00, 0x0c, 0x29, 0x0e, 0x74, 0x1d],
        ..Client::default()
    };
    assert_eq!(eval_data(&e, &client), Some(b"0:c:29:e:74:1d".to_vec()));
    let ip = set_expr("set ip = binary-to-ascii(10, 8, \".\", leased-address);\n");
    let client = Client {
        leased: Some(Ipv4Addr::new(192, 168, 59, 250)),
        ..Client::default()
    };
    assert_eq!(eval_data(&ip, &client), Some(b"192.168.59.250".to_vec()));
    assert_eq!(eval_data(&ip, &Client::default()), None);
}

#[test]
fn pick_first_value_and_concat() {
    // accept/07: match pick-first-value (option dhcp-client-identifier, hardware);
    let c = parse(
        "class \"c\" { match pick-first-value (option dhcp-client-identifier, hardware); }\n",
    );
    let m = c.classes[0].match_value.clone().expect("match");
    let with_id = Client {
        hardware: vec![1, 2, 3],
        ..Client::default()
    }
    .with("dhcp", 61, &[1, 0xaa]);
    assert_eq!(eval_data(&m, &with_id), Some(vec![1, 0xaa]));
    let without = Client {
        hardware: vec![1, 2, 3],
        ..Client::default()
    };
    assert_eq!(eval_data(&m, &without), Some(vec![1, 2, 3]));
    // accept/10: pick-first-value(option fqdn.hostname, option host-name).
    let p = set_expr("set n = pick-first-value(option fqdn.hostname, option host-name);\n");
    assert_eq!(eval_data(&p, &Client::default()), None);
    assert_eq!(
        eval_data(&p, &Client::default().with("dhcp", 12, b"h1")),
        Some(b"h1".to_vec())
    );
    // accept/08: concat(option dhcp-parameter-request-list, 2B)
    let cat = set_expr("set x = concat(option dhcp-parameter-request-list, 2B);\n");
    assert_eq!(
        eval_data(&cat, &Client::default().with("dhcp", 55, &[1, 3, 6])),
        Some(vec![1, 3, 6, 0x2b])
    );
    assert_eq!(eval_data(&cat, &Client::default()), None);
}

#[test]
fn equality_rules() {
    // Both sides missing compare equal in ISC.
    let e = condition("if option host-name = option domain-name { }\n");
    assert_eq!(eval_bool(&e, &Client::default()), Some(true));
    let ne = condition("if option host-name != \"x\" { }\n");
    assert_eq!(eval_bool(&ne, &Client::default()), Some(true));
    assert_eq!(
        eval_bool(&ne, &Client::default().with("dhcp", 12, b"x")),
        Some(false)
    );
    // or: one side missing is enough.
    let or = condition("if option host-name = \"a\" or known { }\n");
    assert_eq!(
        eval_bool(
            &or,
            &Client {
                known: true,
                ..Client::default()
            }
        ),
        Some(true)
    );
    // DHCPD_INTERFACE="eth0" (accept/14) is an unset variable: no value.
    let c = parse("DHCPD_INTERFACE=\"eth0\" ;\n");
    match &c.scopes[0].statements[0] {
        Stmt::Eval(e) => assert_eq!(eval_bool(e, &Client::default()), Some(false)),
        s => panic!("{s:?}"),
    }
}

#[test]
fn numbers_and_isc_precedence() {
    // ISC binds `+` tighter than `*`: 1 + 2 * 3 is (1 + 2) * 3 = 9.
    let e = condition("if encode-int(1 + 2 * 3, 8) = 09 { }\n");
    assert_eq!(eval_bool(&e, &Client::default()), Some(true));
    let e = set_expr("set t = encode-int(lease-time, 32);\n");
    assert_eq!(
        eval_data(&e, &Client::default()),
        Some(3600u32.to_be_bytes().to_vec())
    );
    let c = Client::default().with("dhcp", 57, &[0x05, 0xdc]);
    let x = condition("if extract-int(option dhcp-max-message-size, 16) = 1500 { }\n");
    assert_eq!(eval_bool(&x, &c), Some(true));
    let short = Client::default().with("dhcp", 57, &[0x05]);
    assert_eq!(eval_bool(&x, &short), Some(false));
    // `=` binds tighter than `/` in ISC, so this needs parentheses...
    let e = common::parse_err("if extract-int(option dhcp-max-message-size, 16) / 0 = 1 { }\n");
    assert_eq!(e.message, "illegal expression relating different types");
    // ...and division by zero has no value.
    // (`if (` takes the parenthesis as its own, as ISC does; `match if`
    // does not.)
    let cfg = parse(
        "class \"d\" { match if (extract-int(option dhcp-max-message-size, 16) / 0) = 1; }\n",
    );
    let div = cfg.classes[0].match_if.clone().expect("match if");
    match div {
        Expr::Equal(l, _) => assert_eq!(eval_num(&l, &c), None),
        e => panic!("{e:?}"),
    }
}

#[test]
fn string_functions() {
    let c = Client::default().with("dhcp", 60, b"PXEClient:Arch:00007");
    let e = set_expr("set s = suffix(option vendor-class-identifier, 5);\n");
    assert_eq!(eval_data(&e, &c), Some(b"00007".to_vec()));
    let e = set_expr("set s = ucase(substring(option vendor-class-identifier, 0, 3));\n");
    assert_eq!(eval_data(&e, &c), Some(b"PXE".to_vec()));
    let e = set_expr("set s = lcase(substring(option vendor-class-identifier, 100, 3));\n");
    assert_eq!(eval_data(&e, &c), Some(Vec::new()));
    let e = set_expr("set s = reverse(2, 01:02:03:04);\n");
    assert_eq!(eval_data(&e, &c), Some(vec![3, 4, 1, 2]));
    let e = condition("if option vendor-class-identifier ~~ \"^pxeclient\" { }\n");
    assert_eq!(eval_bool(&e, &c), Some(true));
    let e = condition("if option vendor-class-identifier ~= \"^pxeclient\" { }\n");
    assert_eq!(eval_bool(&e, &c), Some(false));
    let e = condition("if defined(foo) and known { }\n");
    let mut v = Client {
        known: true,
        ..Client::default()
    };
    assert_eq!(eval_bool(&e, &v), None);
    v.vars.insert("foo".into(), b"1".to_vec());
    assert_eq!(eval_bool(&e, &v), Some(true));
    let e = condition("if packet(0, 1) = 01 { }\n");
    let p = Client {
        packet: vec![1, 1, 6, 0],
        ..Client::default()
    };
    assert_eq!(eval_bool(&e, &p), Some(true));
}
