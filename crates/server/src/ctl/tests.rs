use super::*;
use tandem_omapi::wire::decode_stream;

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

#[test]
fn command_lines() {
    let a = parse(&args(
        "--host 10.0.0.10 --port 7912 --json lease show 10.0.0.100",
    ))
    .unwrap();
    assert_eq!(a.host, "10.0.0.10");
    assert_eq!(a.port, Some(7912));
    assert!(a.json);
    assert_eq!(
        a.command,
        Command::LeaseShow(LeaseBy::Address(Ipv4Addr::new(10, 0, 0, 100)))
    );
    // Global options may come after the command too.
    let a = parse(&args("lease show --mac 02:00:00:00:01:01 --key k:Zm9v")).unwrap();
    assert_eq!(a.key, Some(("k".into(), "Zm9v".into())));
    assert_eq!(
        a.command,
        Command::LeaseShow(LeaseBy::Hardware {
            htype: 1,
            mac: vec![2, 0, 0, 0, 1, 1]
        })
    );
    assert_eq!(
        parse(&args("lease show --client-id 0102000000010a"))
            .unwrap()
            .command,
        Command::LeaseShow(LeaseBy::ClientId(vec![1, 2, 0, 0, 0, 1, 10]))
    );
    let a = parse(&args(
        "host add h1 --mac 02-00-00-00-03-03 --ip 10.0.0.60,10.0.1.60 --group g",
    ))
    .unwrap();
    assert_eq!(
        a.command,
        Command::HostAdd(HostArgs {
            name: "h1".into(),
            mac: Some(vec![2, 0, 0, 0, 3, 3]),
            htype: 1,
            ip: vec![Ipv4Addr::new(10, 0, 0, 60), Ipv4Addr::new(10, 0, 1, 60)],
            client_id: None,
            statements: None,
            group: Some("g".into()),
        })
    );
    for (line, cmd) in [
        ("failover show", Command::FailoverShow(None)),
        (
            "failover show foo",
            Command::FailoverShow(Some("foo".into())),
        ),
        (
            "failover partner-down foo",
            Command::FailoverPartnerDown("foo".into()),
        ),
        ("shutdown", Command::Shutdown),
        ("host remove h1", Command::HostRemove("h1".into())),
        ("host show h1", Command::HostShow("h1".into())),
        ("", Command::Help),
        ("--help", Command::Help),
    ] {
        assert_eq!(parse(&args(line)).unwrap().command, cmd, "{line}");
    }
    for bad in [
        "host add h1",
        "host add h1 --mac zz",
        "lease show 10.0.0",
        "lease show",
        "--port 70000 shutdown",
        "--key nocolon shutdown",
        "frobnicate",
        "host add h1 --mac 02:00:00:00:03:03 --frob 1",
        "--port",
    ] {
        assert!(parse(&args(bad)).is_err(), "{bad} was accepted");
    }
}

#[test]
fn hex_forms() {
    assert_eq!(parse_hex("02:00:0a"), Some(vec![2, 0, 10]));
    assert_eq!(parse_hex("2:0:a"), Some(vec![2, 0, 10]));
    assert_eq!(parse_hex("02000a"), Some(vec![2, 0, 10]));
    assert_eq!(parse_hex("02000"), None);
    assert_eq!(parse_hex(""), None);
    assert_eq!(parse_hex("020:00"), None);
    assert_eq!(parse_hex("zz"), None);
}

/// dhcpd 4.4.3's answer to `new lease; set ip-address = 10.0.0.100; open` (captured).
const ISC_LEASE_ANSWER: &str = "0000006400000018\
    0000000000000000000000030000000212ffd5366b8b45670000000573746174650000000400000002000a69\
    702d61646472657373000000040a0000640016646863702d636c69656e742d6964656e74696669657200000007\
    01020000000101000f636c69656e742d686f73746e616d6500000002633100067375626e65740000000400000003\
    0004706f6f6c0000000400000004001068617264776172652d6164647265737300000006020000000101000d6861\
    7264776172652d7479706500000004000000010004656e64730000000470e1ab2000067374617274730000000465\
    9681a00004747374700000000470e1ab2000047473667000000004000000000005617473667000000004000000\
    000004636c747400000004659681a00005666c61677300000001000000";

fn unhex(h: &str) -> Vec<u8> {
    let h: String = h.chars().filter(|c| !c.is_whitespace()).collect();
    parse_hex(&h).unwrap()
}

#[test]
fn an_isc_lease_answer_renders_as_text_and_json() {
    let (_, msgs, left) = decode_stream(&unhex(ISC_LEASE_ANSWER)).unwrap();
    assert_eq!(left, 0);
    let values = msgs[0].message.object.clone();
    let o = Object::new("lease", values);
    let text = o.to_text();
    assert!(text.starts_with("lease 10.0.0.100\n"), "{text}");
    for want in [
        "state             active",
        "dhcp-client-identifier  01:02:00:00:00:01:01",
        "hardware-address  02:00:00:00:01:01",
        "client-hostname   c1",
        "ends              2030/01/05 10:00:00 UTC",
    ] {
        let squeezed = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            squeezed(&text).contains(&squeezed(want)),
            "{want:?} not in\n{text}"
        );
    }
    let json = o.to_json();
    for want in [
        "\"type\": \"lease\"",
        "\"state\": \"active\"",
        "\"ip-address\": \"10.0.0.100\"",
        "\"hardware-type\": 1",
        "\"ends\": 1893837600",
        "\"flags\": 0",
        "\"client-hostname\": \"c1\"",
    ] {
        assert!(json.contains(want), "{want} not in {json}");
    }
    assert!(json.starts_with('{') && json.ends_with('}'));
}

#[test]
fn failover_values_and_json_escapes() {
    let v = Attributes::new()
        .with("name", Value::string("fo\"o"))
        .with("partner-address", Value::ipv4(Ipv4Addr::new(10, 0, 0, 11)))
        // ISC 4.4's pointer bytes: shown as hex, not as an address.
        .with(
            "local-address",
            Value::data(vec![0xc0, 0x4c, 0x3f, 7, 0xb9, 0x55, 0, 0, 1]),
        )
        .with("local-state", Value::int(4))
        .with("partner-state", Value::int(77))
        .with("hierarchy", Value::int(1))
        .with("skew", Value::signed(-2));
    let o = Object::new("failover-state", v);
    let text = o.to_text();
    assert!(text.contains("partner-down (4)"), "{text}");
    assert!(text.contains("secondary"));
    assert!(text.contains("c0:4c:3f:07:b9:55:00:00:01"));
    let json = o.to_json();
    assert!(json.contains("\"name\": \"fo\\\"o\""), "{json}");
    assert!(json.contains("\"local-state\": \"partner-down\""));
    assert!(json.contains("\"partner-state\": 77"));
    assert!(json.contains("\"partner-address\": \"10.0.0.11\""));
    assert!(json.contains("\"skew\": -2"));
    assert_eq!(render::json_string("a\nb\u{1}"), "\"a\\nb\\u0001\"");
    let many = Output::Many(vec![o.clone(), o]).to_json();
    assert!(many.starts_with('[') && many.trim_end().ends_with(']'));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every hex form `tandem ctl` prints or takes reads back to the same bytes.
        #[test]
        fn hex_round_trips(bytes in proptest::collection::vec(any::<u8>(), 1..24)) {
            let colons: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
            prop_assert_eq!(parse_hex(&colons.join(":")), Some(bytes.clone()));
            prop_assert_eq!(parse_hex(&colons.join("-")), Some(bytes.clone()));
            prop_assert_eq!(parse_hex(&colons.concat()), Some(bytes));
        }

        /// Whatever a server sends, rendering never panics and the JSON is one object whose
        /// strings are closed (an even number of unescaped quotes).
        #[test]
        fn any_values_render(values in proptest::collection::vec(
            ("[a-z-]{1,12}", proptest::collection::vec(any::<u8>(), 0..12)), 0..8))
        {
            let attrs: Attributes = values.into_iter().map(|(n, v)| (n, Value::data(v))).collect();
            for t in ["lease", "host", "failover-state", "control", "group"] {
                let o = Object::new(t, attrs.clone());
                let _ = o.to_text();
                let json = o.to_json();
                prop_assert!(json.starts_with('{') && json.ends_with('}'), "not an object: {}", json);
                let mut quotes = 0;
                let mut escaped = false;
                for c in json.chars() {
                    match (escaped, c) {
                        (true, _) => escaped = false,
                        (false, '\\') => escaped = true,
                        (false, '"') => quotes += 1,
                        _ => {}
                    }
                    prop_assert!(c >= ' ', "raw control character in {}", json);
                }
                prop_assert_eq!(quotes % 2, 0);
            }
        }
    }
}
