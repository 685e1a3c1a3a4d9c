//! Option values lowered to their wire bytes, and option definitions.

mod common;

use common::{parse, parse_err};
use tandem_config::*;

/// The value of the first option statement (any space) in the global scope
/// with this code.
fn value(c: &Config, space: &str, code: u32) -> Value {
    c.scopes[0]
        .statements
        .iter()
        .find_map(|s| match s {
            Stmt::Option {
                code: oc, value, ..
            } if oc.space == space && oc.code == code => Some(value.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no option {space}.{code}"))
}

fn bytes(c: &Config, space: &str, code: u32) -> Vec<u8> {
    match value(c, space, code) {
        Value::Const(b) => b,
        Value::Expr(e) => panic!("expression {e:?}"),
    }
}

#[test]
fn domain_search_is_compressed() {
    // RFC 3397 section 2's example.
    let c = parse("option domain-search \"eng.apple.com.\", \"marketing.apple.com.\";\n");
    let mut want = b"\x03eng\x05apple\x03com\x00".to_vec();
    want.extend_from_slice(b"\x09marketing\xc0\x04");
    assert_eq!(bytes(&c, "dhcp", 119), want);
    // A user-defined uncompressed list, and one compressed list.
    let c = parse(
        "option my-list code 200 = domain-list;\noption my-list \"a.example\", \"b.example\";\n\
         option my-clist code 201 = domain-list compressed;\noption my-clist \"a.example\", \"b.example\";\n",
    );
    assert_eq!(
        bytes(&c, "dhcp", 200),
        b"\x01a\x07example\x00\x01b\x07example\x00".to_vec()
    );
    assert_eq!(
        bytes(&c, "dhcp", 201),
        b"\x01a\x07example\x00\x01b\xc0\x02".to_vec()
    );
    let e = parse_err("option domain-search \"a..b\";\n");
    assert_eq!(e.message, "Error compressing domain list: Message too long");
}

#[test]
fn classless_static_routes_as_array_of_integer_8() {
    let c = parse(
        "option rfc3442-classless-static-routes code 121 = array of integer 8;\n\
         option rfc3442-classless-static-routes 24, 192, 168, 1, 10, 0, 0, 1, 0, 10, 0, 0, 254;\n",
    );
    assert_eq!(
        bytes(&c, "dhcp", 121),
        vec![24, 192, 168, 1, 10, 0, 0, 1, 0, 10, 0, 0, 254]
    );
    let d = c.option_by_code("dhcp", 121).expect("definition");
    assert_eq!(d.name, "rfc3442-classless-static-routes");
    assert_eq!(d.ty, OptionType::Array(Box::new(OptionType::Int8)));
    // ISC writes `a` (not `A`) for an array that is not of records.
    assert_eq!(d.format, "ba");
    // 256 does not fit in 8 bits (ISC's message).
    let e = parse_err("option rfc3442-classless-static-routes code 121 = array of integer 8;\noption rfc3442-classless-static-routes 256;\n");
    assert_eq!(e.message, "256 exceeds max (255) for precision.");
}

#[test]
fn text_escapes_and_hex_data() {
    let c = parse(concat!(
        "option domain-name \"a\\x86\\001\\n\\\\q\\\"z\";\n",
        "option vendor-encapsulated-options 01:02:0a:ff;\n",
        "option dhcp-client-identifier 1:2:a;\n",
        "option host-name \"\";\n",
        "option nis-domain unquoted;\n",
    ));
    assert_eq!(bytes(&c, "dhcp", 15), b"a\x86\x01\n\\q\"z".to_vec());
    assert_eq!(bytes(&c, "dhcp", 43), vec![1, 2, 0x0a, 0xff]);
    assert_eq!(bytes(&c, "dhcp", 61), vec![1, 2, 0x0a]);
    assert_eq!(bytes(&c, "dhcp", 12), Vec::<u8>::new());
    assert_eq!(bytes(&c, "dhcp", 40), b"unquoted".to_vec());
    // The corpus's `filename "boot\\x86\\wdsnbp.com"`.
    let c = parse("filename \"boot\\\\x86\\\\wdsnbp.com\";\n");
    assert_eq!(
        c.scopes[0].statements[0],
        Stmt::Param {
            param: Param::Filename,
            value: Value::Const(b"boot\\x86\\wdsnbp.com".to_vec())
        }
    );
}

#[test]
fn numbers_flags_records_and_arrays() {
    let c = parse(concat!(
        "option time-offset -18000;\n",
        "option ip-forwarding off;\n",
        "option default-ip-ttl 0x40;\n",
        "option interface-mtu 010;\n",
        "option static-routes 10.0.0.0 10.0.0.1, 10.1.0.0 10.0.0.2;\n",
        "option pxe-system-type 0, 7, 9;\n",
        "option slp-directory-agent true 10.0.0.1, 10.0.0.2;\n",
        "option space PXE;\n",
        "option PXE.menu-prompt code 10 = { unsigned integer 8, text };\n",
        "option PXE.menu-prompt 5 \"hello\";\n",
        "option PXE.items code 12 = array of { unsigned integer 16, ip-address };\n",
        "option PXE.items 1 10.0.0.1, 2 10.0.0.2;\n",
        "option fqdn.no-client-update on;\n",
        "option agent.link-selection 10.1.2.3;\n",
        "option unknown-250 01:02;\n",
    ));
    assert_eq!(bytes(&c, "dhcp", 2), (-18000i32).to_be_bytes().to_vec());
    assert_eq!(bytes(&c, "dhcp", 19), vec![0]);
    assert_eq!(bytes(&c, "dhcp", 23), vec![0x40]);
    // A leading 0 means octal, as in C.
    assert_eq!(bytes(&c, "dhcp", 26), vec![0, 8]);
    assert_eq!(
        bytes(&c, "dhcp", 33),
        vec![10, 0, 0, 0, 10, 0, 0, 1, 10, 1, 0, 0, 10, 0, 0, 2]
    );
    assert_eq!(bytes(&c, "dhcp", 93), vec![0, 0, 0, 7, 0, 9]);
    assert_eq!(bytes(&c, "dhcp", 78), vec![1, 10, 0, 0, 1, 10, 0, 0, 2]);
    assert_eq!(bytes(&c, "PXE", 10), b"\x05hello".to_vec());
    assert_eq!(
        bytes(&c, "PXE", 12),
        vec![0, 1, 10, 0, 0, 1, 0, 2, 10, 0, 0, 2]
    );
    assert_eq!(bytes(&c, "fqdn", 1), vec![1]);
    assert_eq!(bytes(&c, "agent", 5), vec![10, 1, 2, 3]);
    assert_eq!(bytes(&c, "dhcp", 250), vec![1, 2]);
}

#[test]
fn host_names_become_lookups_and_expressions_stay_expressions() {
    let c = parse(
        "option ntp-servers ntp.example.com, 10.0.0.1;\noption subnet-mask mask.example;\n\
         option domain-name = concat(\"a\", \".b\");\n",
    );
    let lookup = |n: &str| Expr::GetdnsRecord(Box::new(Expr::Const(n.as_bytes().to_vec())));
    assert_eq!(
        value(&c, "dhcp", 42),
        Value::Expr(Expr::Concat(vec![
            lookup("ntp.example.com"),
            Expr::Const(vec![10, 0, 0, 1])
        ]))
    );
    // One address expected: ISC keeps the first 4 bytes of the lookup.
    assert_eq!(
        value(&c, "dhcp", 1),
        Value::Expr(Expr::Substring {
            expr: Box::new(lookup("mask.example")),
            offset: Box::new(Expr::Number(0)),
            len: Box::new(Expr::Number(4)),
        })
    );
    assert_eq!(
        value(&c, "dhcp", 15),
        Value::Expr(Expr::Concat(vec![
            Expr::Const(b"a".to_vec()),
            Expr::Const(b".b".to_vec())
        ]))
    );
}

#[test]
fn option_statement_kinds() {
    let c = parse(
        "default domain-name \"d\";\nsupersede host-name \"s\";\nappend domain-name-servers 1.2.3.4;\n\
         prepend routers 5.6.7.8;\noption log-servers 1.1.1.1;\n",
    );
    let hows: Vec<OptionHow> = c.scopes[0]
        .statements
        .iter()
        .filter_map(|s| match s {
            Stmt::Option { how, .. } => Some(*how),
            _ => None,
        })
        .collect();
    assert_eq!(
        hows,
        vec![
            OptionHow::Default,
            OptionHow::Supersede,
            OptionHow::Append,
            OptionHow::Prepend,
            OptionHow::Set
        ]
    );
}

#[test]
fn definitions_spaces_and_lookups() {
    let c = parse(concat!(
        "option space ZTP code width 2 length width 2;\n",
        "option ZTP.image code 4 = text;\n",
        "option ZTP.image code 0 = text;\n",
        "option ZTP-enc code 43 = encapsulate ZTP;\n",
        "option pxegrub code 150 = text;\n",
        "option space foo;\n",
        "option foo.flag code 1 = boolean;\n",
        "option foo.zl code 2 = zerolen;\n",
        "option foo.v6 code 3 = ip6-address;\n",
        "option foo.si code 4 = signed integer 16;\n",
        "option foo.dn code 5 = domain-name;\n",
        "option foo.zl;\n",
        "option foo.v6 2001:db8::1;\n",
        "option foo.dn www.example.com;\n",
    ));
    let ztp = c.option_space("ztp").expect("space");
    assert_eq!((ztp.code_width, ztp.length_width), (2, 2));
    assert_eq!(
        ztp.encapsulated_by,
        Some(OptionCode {
            space: "dhcp".into(),
            code: 43
        })
    );
    // The redefinition took the name; code 4 is gone, as in ISC.
    assert_eq!(c.option_by_name("ZTP", "image").map(|d| d.code), Some(0));
    assert!(c.option_by_code("ZTP", 4).is_none());
    assert_eq!(
        c.option_by_code("dhcp", 43).map(|d| d.ty.clone()),
        Some(OptionType::Encapsulate("ZTP".into()))
    );
    // Code 150 now means pxegrub; ISC keeps the old name resolving.
    assert_eq!(
        c.option_by_code("dhcp", 150).map(|d| d.name.as_str()),
        Some("pxegrub")
    );
    assert_eq!(
        c.option_by_name("dhcp", "tftp-server-address")
            .map(|d| d.code),
        Some(150)
    );
    // Built-ins, case-insensitively.
    assert_eq!(c.option_by_name("DHCP", "Routers").map(|d| d.code), Some(3));
    assert_eq!(
        c.option_by_name("dhcp", "domain-search")
            .map(|d| d.ty.clone()),
        Some(OptionType::DomainList { compressed: true })
    );
    assert_eq!(
        c.option_by_name("agent", "link-selection").map(|d| d.code),
        Some(5)
    );
    assert_eq!(
        c.option_by_name("dhcp", "relay-agent-information")
            .map(|d| d.code),
        Some(82)
    );
    assert_eq!(
        c.option_by_name("dhcp", "user-class").map(|d| d.code),
        Some(77)
    );
    assert_eq!(
        c.option_by_name("dhcp", "pxe-system-type").map(|d| d.code),
        Some(93)
    );
    assert_eq!(c.option_by_name("dhcp", "fqdn").map(|d| d.code), Some(81));
    assert_eq!(
        c.option_by_name("dhcp", "subnet-selection").map(|d| d.code),
        Some(118)
    );
    assert_eq!(
        c.option_by_name("dhcp", "default-url").map(|d| d.code),
        Some(114)
    );
    assert_eq!(
        c.option_by_name("dhcp", "auto-config").map(|d| d.code),
        Some(116)
    );
    assert_eq!(bytes(&c, "foo", 2), Vec::<u8>::new());
    let mut v6 = vec![0x20, 0x01, 0x0d, 0xb8];
    v6.extend([0; 11]);
    v6.push(1);
    assert_eq!(bytes(&c, "foo", 3), v6);
    assert_eq!(
        bytes(&c, "foo", 5),
        b"\x03www\x07example\x03com\x00".to_vec()
    );
    let d = c.option_by_name("foo", "si").expect("si");
    assert_eq!((d.ty.clone(), d.format.as_str()), (OptionType::Int16, "s"));

    let e = parse_err("option foo code 5 = array of text;\n");
    assert_eq!(e.message, "arrays of text strings not yet supported.");
    let e = parse_err("option foo code 5 = { text, ip-address };\n");
    assert_eq!(e.message, "text must be at end of record.");
    let e = parse_err("option foo code 5 = encapsulate nowhere;\n");
    assert_eq!(e.message, "unknown option space nowhere");
    let e = parse_err("option foo code 5 = integer 12;\n");
    assert_eq!(e.message, "12 bit precision is not supported.");
}

#[test]
fn parameters_and_global_settings() {
    let c = parse(concat!(
        "default-lease-time -1;\n",
        "max-lease-time infinite;\n",
        "min-secs 5;\n",
        "one-lease-per-client true;\n",
        "allow bootp;\n",
        "deny unknown-clients;\n",
        "boot-unknown-clients ignore;\n",
        "next-server 10.0.0.1;\n",
        "server-identifier 10.0.0.2;\n",
        "vendor-option-space PXE;\n",
        "log-facility local7;\n",
        "lease-file-name \"/var/db/dhcpd.leases\";\n",
        "pid-file-name \"/run/dhcpd.pid\";\n",
        "local-port 6767;\n",
        "omapi-port 7911;\n",
        "omapi-key omkey;\n",
        "key omkey { algorithm hmac-md5; secret \"c2VjcmV0\"; }\n",
        "not authoritative;\n",
        "adaptive-lease-time-threshold 50;\n",
    ));
    let s = &c.scopes[0].statements;
    let param = |p: Param| {
        s.iter().find_map(|st| match st {
            Stmt::Param {
                param,
                value: Value::Const(v),
            } if *param == p => Some(v.clone()),
            _ => None,
        })
    };
    assert_eq!(param(Param::DefaultLeaseTime), Some(vec![0xff; 4]));
    assert_eq!(param(Param::MaxLeaseTime), Some(vec![0xff; 4]));
    assert_eq!(param(Param::MinSecs), Some(vec![0, 0, 0, 5]));
    assert_eq!(param(Param::OneLeasePerClient), Some(vec![1]));
    assert_eq!(param(Param::NextServer), Some(vec![10, 0, 0, 1]));
    assert_eq!(param(Param::ServerIdentifier), Some(vec![10, 0, 0, 2]));
    assert_eq!(param(Param::VendorOptionSpace), Some(b"PXE".to_vec()));
    assert_eq!(param(Param::Authoritative), Some(vec![0]));
    assert_eq!(
        param(Param::Other("adaptive-lease-time-threshold")),
        Some(vec![0, 0, 0, 50])
    );
    assert!(s.contains(&Stmt::AccessControl {
        what: AccessFlag::Bootp,
        allow: AllowMode::Allow
    }));
    assert!(s.contains(&Stmt::AccessControl {
        what: AccessFlag::UnknownClients,
        allow: AllowMode::Deny
    }));
    assert!(s.contains(&Stmt::AccessControl {
        what: AccessFlag::UnknownClients,
        allow: AllowMode::Ignore
    }));
    assert_eq!(c.log_facility.as_deref(), Some("local7"));
    assert_eq!(
        c.lease_file_name.as_deref(),
        Some(std::path::Path::new("/var/db/dhcpd.leases"))
    );
    assert_eq!(
        c.pid_file_name.as_deref(),
        Some(std::path::Path::new("/run/dhcpd.pid"))
    );
    assert_eq!(c.local_port, Some(6767));
    assert_eq!(c.omapi_port, Some(7911));
    assert_eq!(c.omapi_key.as_deref(), Some("omkey"));
    assert_eq!(c.keys[0].secret, b"secret".to_vec());
    assert_eq!(c.keys[0].algorithm, "hmac-md5");
    assert!(c
        .warnings
        .iter()
        .any(|w| w.message.contains("adaptive-lease-time-threshold")));
    assert!(!c.scopes[0].authoritative);
}

#[test]
fn key_secrets_in_base64() {
    // Unquoted base64 split by '+' and '/' into several tokens.
    let c = parse("key k { algorithm hmac-md5; secret ab+/cd==; };\n");
    assert_eq!(c.keys[0].secret, vec![0x69, 0xbf, 0xbf, 0x71]);
    let e = parse_err("key k {\n  secret abc_def;\n}\n");
    assert_eq!(e.message, "invalid base64 character 95.");
    assert_eq!(e.span.line, 2);
    let e = parse_err("key k { secret ab==cd; }\n");
    assert!(
        e.message.starts_with("stuff after base64 '=' terminator"),
        "{}",
        e.message
    );
}
