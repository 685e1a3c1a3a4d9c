//! Properties: printing then parsing gives the records back; parsing never
//! panics; a file cut at any byte gives a prefix of its records and a torn tail.

use std::net::Ipv4Addr;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use tandem_lease::{
    parse, parse_bytes, print_record, quote, BindingState, FailoverState, FailoverStateRecord,
    Hardware, HostRecord, Lease, PeerStateEntry, Record, Time, INFINITE,
};

fn time() -> impl Strategy<Value = Time> {
    prop_oneof![Just(0), Just(INFINITE), 1..INFINITE]
}

fn binding_state() -> impl Strategy<Value = BindingState> {
    (1u8..=7).prop_map(|c| BindingState::from_code(c).unwrap_or(BindingState::Free))
}

fn failover_state() -> impl Strategy<Value = FailoverState> {
    prop_oneof![(0u8..=11), Just(254u8)]
        .prop_map(|c| FailoverState::from_code(c).unwrap_or(FailoverState::Unknown))
}

fn hardware() -> impl Strategy<Value = Hardware> {
    (any::<u8>(), vec(any::<u8>(), 0..=16)).prop_map(|(htype, addr)| Hardware { htype, addr })
}

fn var_value() -> impl Strategy<Value = String> {
    prop_oneof![
        vec(any::<u8>(), 0..12).prop_map(|b| quote(&b)),
        any::<i32>().prop_map(|n| format!("%{n}")),
        Just("true".to_string()),
        Just("false".to_string()),
    ]
}

/// Lease statements kept verbatim, in the order the printer places them.
fn lease_statements() -> impl Strategy<Value = Vec<String>> {
    (
        option::of(Just("billing class \"students\";".to_string())),
        option::of(Just("option agent.circuit-id \"eth0;1\";".to_string())),
        option::of(Just(
            "on expiry {\n    set foo = \"}\";\n    execute (\"/bin/x\", \"a\");\n  }".to_string(),
        )),
    )
        .prop_map(|(a, b, c)| [a, b, c].into_iter().flatten().collect())
}

fn lease() -> impl Strategy<Value = Lease> {
    (
        (any::<u32>(), time(), time(), time(), time(), time(), time()),
        (
            binding_state(),
            option::of(binding_state()),
            option::of(binding_state()),
        ),
        (
            option::of(hardware()),
            option::of(vec(any::<u8>(), 1..24)),
            option::of(any::<String>()),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            proptest::collection::btree_map("[a-z][a-z0-9-]{0,10}", var_value(), 0..3),
            lease_statements(),
        ),
    )
        .prop_map(
            |(
                (addr, starts, ends, tstp, tsfp, atsfp, cltt),
                (binding_state, next, rewind),
                (hardware, uid, client_hostname, reserved, bootp),
                (vars, statements),
            )| Lease {
                addr: Ipv4Addr::from(addr),
                starts,
                ends,
                tstp,
                tsfp,
                atsfp,
                cltt,
                binding_state,
                // Equal to the current state is written as nothing (ISC).
                next_binding_state: next.filter(|s| *s != binding_state),
                rewind_binding_state: rewind.filter(|s| *s != binding_state),
                hardware,
                uid,
                client_hostname,
                reserved,
                bootp,
                vars: vars.into_iter().collect(),
                statements,
            },
        )
}

fn peer_state() -> impl Strategy<Value = PeerStateEntry> {
    (failover_state(), 0..=INFINITE).prop_map(|(state, stos)| PeerStateEntry { state, stos })
}

fn failover() -> impl Strategy<Value = FailoverStateRecord> {
    (
        any::<String>(),
        option::of(peer_state()),
        option::of(peer_state()),
        option::of(any::<u32>()),
    )
        .prop_map(|(peer, me, partner, mclt)| FailoverStateRecord {
            peer,
            me,
            partner,
            mclt,
        })
}

fn host() -> impl Strategy<Value = HostRecord> {
    let name = prop_oneof!["[a-zA-Z0-9_.-]{1,12}", any::<String>()];
    let statements = vec(
        prop_oneof![
            Just("supersede host-name = \"printer\";".to_string()),
            Just("group \"lab\";".to_string()),
            Just("fixed-address 10.0.0.1, 10.0.0.2;".to_string()),
            Just("option domain-name-servers 10.0.0.53;".to_string()),
        ],
        0..3,
    );
    (
        name,
        any::<bool>(),
        option::of(hardware()),
        option::of(vec(any::<u8>(), 1..20)),
        option::of(any::<u32>().prop_map(Ipv4Addr::from)),
        statements,
    )
        .prop_map(
            |(name, deleted, hardware, uid, fixed_address, statements)| {
                if deleted {
                    HostRecord {
                        name,
                        deleted,
                        hardware: None,
                        uid: None,
                        fixed_address: None,
                        statements: Vec::new(),
                    }
                } else {
                    HostRecord {
                        name,
                        deleted,
                        hardware,
                        uid,
                        fixed_address,
                        statements,
                    }
                }
            },
        )
}

fn other() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("authoring-byte-order little-endian;".to_string()),
        vec(any::<u8>(), 1..14).prop_map(|b| format!("server-duid {};", quote(&b))),
        Just("class \"x\" {\n  dynamic;\n  lease limit 4;\n}".to_string()),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    prop_oneof![
        4 => lease().prop_map(Record::Lease),
        1 => failover().prop_map(Record::FailoverState),
        1 => host().prop_map(Record::Host),
        1 => other().prop_map(Record::Other),
    ]
}

fn printed(records: &[Record]) -> (String, Vec<usize>) {
    let mut s = String::new();
    let mut ends = Vec::new();
    for r in records {
        print_record(r, &mut s);
        ends.push(s.len());
    }
    (s, ends)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn print_then_parse_gives_the_record(r in record()) {
        let mut text = String::new();
        print_record(&r, &mut text);
        let out = parse(&text);
        prop_assert_eq!(&out.warnings, &vec![], "text:\n{}", text);
        prop_assert_eq!(out.torn_tail, None);
        prop_assert_eq!(out.records, vec![r]);
    }

    #[test]
    fn many_records_round_trip(rs in vec(record(), 0..8)) {
        let (text, _) = printed(&rs);
        let out = parse(&text);
        prop_assert!(out.warnings.is_empty());
        prop_assert_eq!(out.records, rs);
    }

    #[test]
    fn a_cut_file_gives_a_prefix_and_a_torn_tail(rs in vec(record(), 1..5), cut in any::<prop::sample::Index>()) {
        let (text, ends) = printed(&rs);
        let k = cut.index(text.len() + 1);
        let bytes = &text.as_bytes()[..k];
        let out = parse_bytes(bytes);
        prop_assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        // Every record whose text (less the final newline) fits is kept.
        let complete = ends.iter().filter(|&&e| e - 1 <= k).count();
        prop_assert_eq!(&out.records[..], &rs[..complete]);
        if let Some(t) = out.torn_tail {
            prop_assert_eq!(t.offset + t.len, k);
            // What is left before the tail parses cleanly to the same records.
            let again = parse_bytes(&bytes[..t.offset]);
            prop_assert_eq!(again.torn_tail, None);
            prop_assert_eq!(again.records, out.records);
        }
    }

    #[test]
    fn parse_never_panics_on_bytes(b in vec(any::<u8>(), 0..400)) {
        let _ = parse_bytes(&b);
    }

    #[test]
    fn parse_never_panics_on_lease_like_text(
        parts in vec(prop::sample::select(vec![
            "lease", "10.0.0.1", "{", "}", ";", "\"", "starts", "ends", "never", "epoch", "3", "2026/11/22", "01:29:05", "binding", "state", "active", "hardware", "ethernet", "02:00:00:00:01:01", "uid", "\"\\001\\x", "set", "=", "failover", "peer", "my", "at", "mclt", "host", "deleted", "\n", " ", "#", "on", "99999999999999999999", "-1", "unknown-999", "fixed-address",
        ]), 0..60)
    ) {
        let text: String = parts.concat();
        let out = parse(&text);
        // Whatever was read prints and reads back the same.
        let mut again = String::new();
        for r in &out.records {
            print_record(r, &mut again);
        }
        let back = parse(&again);
        prop_assert_eq!(back.records, out.records);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Dates with any numbers in them are read or refused, never a panic,
    /// and what is read is at most INFINITE.
    #[test]
    fn any_date_numbers_are_handled(
        w in any::<i64>(), y in any::<i64>(), mo in any::<i64>(), d in any::<i64>(),
        h in any::<i64>(), mi in any::<i64>(), s in any::<i64>(), tz in option::of(any::<i64>()),
        small in any::<bool>(),
    ) {
        let (y, mo, d, h, mi, s) = if small {
            (y.rem_euclid(200) + 1900, mo.rem_euclid(14), d.rem_euclid(33), h.rem_euclid(25), mi.rem_euclid(61), s.rem_euclid(62))
        } else {
            (y, mo, d, h, mi, s)
        };
        let tz = tz.map(|t| format!(" {t}")).unwrap_or_default();
        let text = format!("lease 10.0.0.1 {{\n  ends {w} {y}/{mo}/{d} {h}:{mi}:{s}{tz};\n  binding state free;\n}}\n");
        let out = parse(&text);
        for r in &out.records {
            if let Record::Lease(l) = r {
                prop_assert!(l.ends <= INFINITE);
            }
        }
        prop_assert_eq!(out.records.len() + out.warnings.len(), 1);
    }
}
