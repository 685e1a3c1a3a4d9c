use std::sync::Arc;

use tandem_engine::{Interface, Now};
use tandem_lease::BindingState;
use tandem_omapi::objects::failover_state::{FailoverStateObject, Hierarchy};
use tandem_omapi::{result::text, Value};

use super::*;

const CONF: &str = "
    default-lease-time 600;
    subnet 10.0.0.0 netmask 255.255.255.0 {
        range 10.0.0.100 10.0.0.110;
    }
    host fixed1 { hardware ethernet 02:00:00:00:02:02; fixed-address 10.0.0.50; }
";
const NOW: Now = Now {
    wall: 1_700_000_000,
    mono_ms: 1_000,
};

fn lease(last: u8, mac: u8, uid: Option<Vec<u8>>) -> Lease {
    let mut l = Lease::new(Ipv4Addr::new(10, 0, 0, last), BindingState::Active);
    l.starts = NOW.wall - 10;
    l.ends = NOW.wall + 590;
    l.cltt = NOW.wall - 10;
    l.hardware = Some(Hardware {
        htype: 1,
        addr: vec![2, 0, 0, 0, 1, mac],
    });
    l.uid = uid;
    l.client_hostname = Some("c1".into());
    l.vars = vec![("note".into(), "\"hi\"".into()), ("n".into(), "%7".into())];
    l
}

fn engine() -> Engine {
    let cfg = tandem_config::parse_bytes_without_includes(CONF.as_bytes()).unwrap();
    let eth0 = Interface {
        index: 2,
        name: "eth0".into(),
        addrs: vec![(Ipv4Addr::new(10, 0, 0, 10), 24)],
        mac: vec![2, 0, 0, 0, 0, 0xfe],
    };
    let leases = vec![
        lease(100, 1, Some(vec![1, 2, 0, 0, 0, 1, 1])),
        // Two leases of one client id and hardware address: ambiguous keys.
        lease(101, 7, Some(vec![9])),
        lease(102, 7, Some(vec![9])),
    ];
    Engine::new(Arc::new(cfg), vec![eth0], leases, NOW).unwrap()
}

fn open(t: ObjectType, values: Attributes) -> Operation {
    Operation::Open {
        object_type: t,
        values,
        create: false,
        update: false,
        exclusive: false,
    }
}

fn create(t: ObjectType, values: Attributes) -> Operation {
    Operation::Open {
        object_type: t,
        values,
        create: true,
        update: false,
        exclusive: true,
    }
}

fn update(handle: u32, values: Attributes) -> Operation {
    Operation::Update {
        handle,
        object_type: None,
        values,
    }
}

fn ip(a: [u8; 4]) -> Value {
    Value::ipv4(Ipv4Addr::from(a))
}

/// The answer of an outcome, as the client would get it if the write succeeds.
fn reply(o: Outcome) -> ObjectReply {
    match o {
        Outcome::Reply(r) | Outcome::Shutdown(r) | Outcome::Persist { reply: r, .. } => r,
    }
}

fn object(o: Outcome) -> (u32, Attributes) {
    match reply(o) {
        ObjectReply::Object { handle, values } => (handle, values),
        other => panic!("not an object: {other:?}"),
    }
}

fn failure(o: Outcome) -> (IscResult, Option<String>) {
    match reply(o) {
        ObjectReply::Failed(f) => (f.result, f.message),
        other => panic!("not a failure: {other:?}"),
    }
}

#[test]
fn lease_lookups_follow_isc_rules() {
    let mut e = engine();
    let mut d = Dispatcher::new(1);
    let o = d.handle(
        &mut e,
        None,
        &open(
            ObjectType::Lease,
            Attributes::new().with("ip-address", ip([10, 0, 0, 100])),
        ),
        NOW.wall,
    );
    let (h, v) = object(o);
    assert_eq!(h, 2, "handles start above the key handles");
    assert_eq!(v.get("state"), Some(&Value::int(2)));
    assert_eq!(
        v.get("hardware-address"),
        Some(&Value::data(vec![2, 0, 0, 0, 1, 1]))
    );
    assert_eq!(v.get("client-hostname"), Some(&Value::string("c1")));
    assert_eq!(v.get("ends"), Some(&Value::int((NOW.wall + 590) as u32)));
    assert_eq!(v.get("flags"), Some(&Value::data(vec![0])));
    assert_eq!(v.get("note"), Some(&Value::string("hi")));
    assert_eq!(v.get("n"), Some(&Value::int(7)));
    // The same lease by hardware address and by client id gets the same handle.
    let by_hw = Attributes::new()
        .with("hardware-address", Value::data(vec![2, 0, 0, 0, 1, 1]))
        .with("hardware-type", Value::int(1));
    assert_eq!(
        object(d.handle(&mut e, None, &open(ObjectType::Lease, by_hw), 0)).0,
        2
    );
    let by_id = Attributes::new().with(
        "dhcp-client-identifier",
        Value::data(vec![1, 2, 0, 0, 0, 1, 1]),
    );
    assert_eq!(
        object(d.handle(&mut e, None, &open(ObjectType::Lease, by_id), 0)).0,
        2
    );
    for (values, want) in [
        // A free address of a range is a lease too; one outside every range is not.
        (
            Attributes::new().with("ip-address", ip([10, 0, 0, 250])),
            IscResult::NOTFOUND,
        ),
        (
            Attributes::new().with("dhcp-client-identifier", Value::data(vec![9])),
            IscResult::MULTIPLE,
        ),
        (
            Attributes::new()
                .with("ip-address", ip([10, 0, 0, 100]))
                .with("hardware-address", Value::data(vec![2, 0, 0, 0, 1, 7])),
            IscResult::MULTIPLE,
        ),
        (
            Attributes::new()
                .with("ip-address", ip([10, 0, 0, 100]))
                .with("dhcp-client-identifier", Value::data(vec![8])),
            IscResult::NOTFOUND,
        ),
        (Attributes::new(), IscResult::NOTFOUND),
    ] {
        let (r, _) = failure(d.handle(&mut e, None, &open(ObjectType::Lease, values.clone()), 0));
        assert_eq!(r, want, "{values:?}");
    }
    let free = open(
        ObjectType::Lease,
        Attributes::new().with("ip-address", ip([10, 0, 0, 105])),
    );
    assert_eq!(
        object(d.handle(&mut e, None, &free, 0)).1.get("state"),
        Some(&Value::int(1))
    );
    // Lease changes are not implemented; a handle nobody was given is unknown.
    let (r, m) = failure(d.handle(
        &mut e,
        None,
        &update(2, Attributes::new().with("ends", Value::int(5))),
        0,
    ));
    assert_eq!(
        (r, m.as_deref()),
        (IscResult::NOTIMPLEMENTED, Some(text::CANT_UPDATE))
    );
    let (r, _) = failure(d.handle(
        &mut e,
        None,
        &update(2, Attributes::new().with("ip-address", Value::int(5))),
        0,
    ));
    assert_eq!(r, IscResult::NOPERM);
    assert_eq!(
        failure(d.handle(&mut e, None, &update(77, Attributes::new()), 0)).0,
        IscResult::NOTFOUND
    );
    let del = Operation::Delete {
        handle: 2,
        object_type: None,
    };
    assert_eq!(
        failure(d.handle(&mut e, None, &del, 0)).0,
        IscResult::NOTIMPLEMENTED
    );
}

fn h1() -> Attributes {
    Attributes::new()
        .with("name", Value::string("h1"))
        .with("hardware-address", Value::data(vec![2, 0, 0, 0, 3, 3]))
        .with("hardware-type", Value::int(1))
        .with("ip-address", ip([10, 0, 0, 60]))
}

#[test]
fn hosts_are_created_updated_and_removed_with_their_records() {
    let mut e = engine();
    let mut d = Dispatcher::new(0);
    let o = d.handle(&mut e, None, &create(ObjectType::Host, h1()), NOW.wall);
    let Outcome::Persist {
        records,
        reply: ObjectReply::Object { handle, values },
        ..
    } = o
    else {
        panic!("a create persists first: {o:?}");
    };
    assert_eq!(
        values.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        ["ip-address", "name", "hardware-address", "hardware-type"]
    );
    let [Record::Host(r)] = records.as_slice() else {
        panic!("{records:?}")
    };
    assert_eq!(r.fixed_address, Some(Ipv4Addr::new(10, 0, 0, 60)));
    // Exclusive create of an existing host; plain open finds it by each key.
    assert_eq!(
        failure(d.handle(&mut e, None, &create(ObjectType::Host, h1()), 0)).0,
        IscResult::EXISTS
    );
    for key in [
        Attributes::new().with("name", Value::string("h1")),
        Attributes::new().with("hardware-address", Value::data(vec![2, 0, 0, 0, 3, 3])),
        Attributes::new().with("handle", Value::int(handle)),
    ] {
        assert_eq!(
            object(d.handle(&mut e, None, &open(ObjectType::Host, key), 0)).0,
            handle
        );
    }
    // Keys that disagree.
    let conflict = Attributes::new()
        .with("name", Value::string("fixed1"))
        .with("hardware-address", Value::data(vec![2, 0, 0, 0, 3, 3]));
    assert_eq!(
        failure(d.handle(&mut e, None, &open(ObjectType::Host, conflict), 0)).0,
        IscResult::KEYCONFLICT
    );
    // ip-address finds the lease, then the host of its hardware address: none here.
    let by_lease = Attributes::new().with("ip-address", ip([10, 0, 0, 100]));
    assert_eq!(
        failure(d.handle(&mut e, None, &open(ObjectType::Host, by_lease), 0)).0,
        IscResult::NOTFOUND
    );
    // Update: a new fixed address, persisted; changing the identity is refused.
    let o = d.handle(
        &mut e,
        None,
        &update(
            handle,
            Attributes::new().with("ip-address", ip([10, 0, 0, 61])),
        ),
        0,
    );
    assert!(
        matches!(
            o,
            Outcome::Persist {
                reply: ObjectReply::Done,
                ..
            }
        ),
        "{o:?}"
    );
    let again = d.handle(
        &mut e,
        None,
        &open(
            ObjectType::Host,
            Attributes::new().with("name", Value::string("h1")),
        ),
        0,
    );
    assert_eq!(object(again).1.get("ip-address"), Some(&ip([10, 0, 0, 61])));
    let (r, _) = failure(d.handle(
        &mut e,
        None,
        &update(
            handle,
            Attributes::new().with("hardware-address", Value::data(vec![2, 0, 0, 0, 3, 4])),
        ),
        0,
    ));
    assert_eq!(r, IscResult::EXISTS);
    // The unchanged update writes nothing.
    assert!(matches!(
        d.handle(
            &mut e,
            None,
            &update(handle, Attributes::new().with("name", Value::string("h1"))),
            0
        ),
        Outcome::Reply(ObjectReply::Done)
    ));
    // Remove: a tombstone; the handle then finds nothing.
    let del = Operation::Delete {
        handle,
        object_type: None,
    };
    let Outcome::Persist { records, .. } = d.handle(&mut e, None, &del, 0) else {
        panic!("remove persists");
    };
    assert!(matches!(records.as_slice(), [Record::Host(r)] if r.deleted));
    let refresh = Operation::Refresh {
        handle,
        object_type: None,
    };
    assert_eq!(
        failure(d.handle(&mut e, None, &refresh, 0)).0,
        IscResult::NOTFOUND
    );
}

#[test]
fn host_refusals_and_undo() {
    let mut e = engine();
    let mut d = Dispatcher::new(0);
    let anonymous = Attributes::new().with("ip-address", ip([10, 0, 0, 60]));
    assert_eq!(
        failure(d.handle(&mut e, None, &create(ObjectType::Host, anonymous), 0)),
        (IscResult::INVALIDARG, Some(text::CANT_UPDATE.to_string()))
    );
    let bad = h1().with(
        "statements",
        Value::string("} subnet 1.0.0.0 netmask 255.0.0.0 {"),
    );
    assert_eq!(
        failure(d.handle(&mut e, None, &create(ObjectType::Host, bad), 0)).0,
        IscResult::BADPARSE
    );
    let ungrouped = h1().with("group", Value::string("nope"));
    assert_eq!(
        failure(d.handle(&mut e, None, &create(ObjectType::Host, ungrouped), 0)).0,
        IscResult::NOTFOUND
    );
    // An unnamed host gets ISC's generated name.
    let unnamed = Attributes::new().with("dhcp-client-identifier", Value::data(vec![1, 2, 3]));
    let (_, v) = object(d.handle(&mut e, None, &create(ObjectType::Host, unnamed), 0x10));
    assert_eq!(v.get("name"), Some(&Value::string("nh0000001000000001")));
    // A failed write puts things back.
    let Outcome::Persist { undo, .. } = d.handle(&mut e, None, &create(ObjectType::Host, h1()), 0)
    else {
        panic!("persist");
    };
    d.undo(&mut e, undo);
    let find = open(
        ObjectType::Host,
        Attributes::new().with("name", Value::string("h1")),
    );
    assert_eq!(
        failure(d.handle(&mut e, None, &find, 0)).0,
        IscResult::NOTFOUND
    );
}

#[test]
fn groups_carry_statements_for_hosts() {
    let mut e = engine();
    let mut d = Dispatcher::new(0);
    let g = Attributes::new()
        .with("name", Value::string("g1"))
        .with("statements", Value::string("default-lease-time 300;"));
    let Outcome::Persist { records, reply, .. } =
        d.handle(&mut e, None, &create(ObjectType::Group, g), 0)
    else {
        panic!("persist");
    };
    assert!(matches!(records.as_slice(), [Record::Other(t)] if t.starts_with("group \"g1\"")));
    let ObjectReply::Object { handle, values } = reply else {
        panic!("object")
    };
    assert_eq!(values, Attributes::new().with("name", Value::string("g1")));
    let no_statements = Attributes::new().with("name", Value::string("g2"));
    assert_eq!(
        failure(d.handle(&mut e, None, &create(ObjectType::Group, no_statements), 0)).0,
        IscResult::INVALIDARG
    );
    let joined = h1().with("group", Value::string("g1"));
    assert!(matches!(
        d.handle(&mut e, None, &create(ObjectType::Host, joined), 0),
        Outcome::Persist { .. }
    ));
    let restate = update(
        handle,
        Attributes::new().with("statements", Value::string("x;")),
    );
    assert_eq!(
        failure(d.handle(&mut e, None, &restate, 0)).0,
        IscResult::EXISTS
    );
    let del = Operation::Delete {
        handle,
        object_type: None,
    };
    assert!(matches!(
        d.handle(&mut e, None, &del, 0),
        Outcome::Persist {
            reply: ObjectReply::Done,
            ..
        }
    ));
}

#[test]
fn control_shuts_down_and_cannot_be_made_or_removed() {
    let mut e = engine();
    let mut d = Dispatcher::new(0);
    let (handle, v) = object(d.handle(
        &mut e,
        None,
        &open(ObjectType::Control, Attributes::new()),
        0,
    ));
    assert_eq!(v, Attributes::new().with("state", Value::int(0)));
    assert!(matches!(
        d.handle(
            &mut e,
            None,
            &update(handle, Attributes::new().with("state", Value::int(2))),
            0
        ),
        Outcome::Shutdown(ObjectReply::Done)
    ));
    assert_eq!(
        failure(d.handle(
            &mut e,
            None,
            &update(handle, Attributes::new().with("state", Value::int(3))),
            0
        ))
        .0,
        IscResult::INVALIDARG
    );
    // An open that sets the state at once shuts down too, answering with the object.
    let open_update = Operation::Open {
        object_type: ObjectType::Control,
        values: Attributes::new().with("state", Value::int(2)),
        create: false,
        update: true,
        exclusive: false,
    };
    assert!(matches!(
        d.handle(&mut e, None, &open_update, 0),
        Outcome::Shutdown(ObjectReply::Object { .. })
    ));
    assert_eq!(
        failure(d.handle(
            &mut e,
            None,
            &create(ObjectType::Control, Attributes::new()),
            0
        ))
        .0,
        IscResult::EXISTS
    );
    let del = Operation::Delete {
        handle,
        object_type: None,
    };
    assert_eq!(
        failure(d.handle(&mut e, None, &del, 0)).0,
        IscResult::NOPERM
    );
    assert_eq!(
        failure(d.handle(
            &mut e,
            None,
            &open(ObjectType::Subnet, Attributes::new()),
            0
        ))
        .0,
        IscResult::NOTIMPLEMENTED
    );
}

/// A relationship named "foo" that records the states it was asked for.
#[derive(Default)]
struct FakeFailover {
    asked: Vec<PeerState>,
}

impl FailoverView for FakeFailover {
    fn state(&self, name: &[u8]) -> Option<FailoverStateObject> {
        (name == b"foo").then(|| FailoverStateObject {
            name: "foo".into(),
            partner_address: Ipv4Addr::new(10, 0, 0, 11),
            partner_port: 647,
            local_address: Ipv4Addr::new(10, 0, 0, 10),
            local_port: 647,
            max_outstanding_updates: 10,
            mclt: 1800,
            load_balance_max_secs: 3,
            load_balance_hba: None,
            partner_state: PeerState::Normal,
            local_state: self.asked.last().copied().unwrap_or(PeerState::Normal),
            partner_stos: 0,
            local_stos: 0,
            hierarchy: Hierarchy::Primary,
            last_packet_sent: 0,
            last_timestamp_received: 0,
            skew: 0,
            max_response_delay: 30,
            cur_unacked_updates: 0,
        })
    }

    fn set_local_state(&mut self, _name: &str, state: PeerState) -> Result<(), IscResult> {
        if state == PeerState::Paused {
            return Err(IscResult::NOTIMPLEMENTED);
        }
        self.asked.push(state);
        Ok(())
    }
}

#[test]
fn failover_state_is_not_found_until_wired_then_takes_one_and_four_as_partner_down() {
    let mut e = engine();
    let mut d = Dispatcher::new(0);
    let foo = || {
        open(
            ObjectType::FailoverState,
            Attributes::new().with("name", Value::string("foo")),
        )
    };
    assert_eq!(
        failure(d.handle(&mut e, None, &foo(), 0)),
        (IscResult::NOTFOUND, Some(text::NO_MATCH.to_string()))
    );
    let mut f = FakeFailover::default();
    let (handle, v) = object(d.handle(&mut e, Some(&mut f), &foo(), 0));
    assert_eq!(v.get("local-state"), Some(&Value::int(2)));
    let nope = open(
        ObjectType::FailoverState,
        Attributes::new().with("name", Value::string("bar")),
    );
    assert_eq!(
        failure(d.handle(&mut e, Some(&mut f), &nope, 0)).0,
        IscResult::NOTFOUND
    );
    for code in [1, 4] {
        let o = d.handle(
            &mut e,
            Some(&mut f),
            &update(
                handle,
                Attributes::new().with("local-state", Value::int(code)),
            ),
            0,
        );
        assert!(matches!(o, Outcome::Reply(ObjectReply::Done)), "{o:?}");
    }
    assert_eq!(f.asked, [PeerState::PartnerDown, PeerState::PartnerDown]);
    let refresh = Operation::Refresh {
        handle,
        object_type: None,
    };
    assert_eq!(
        object(d.handle(&mut e, Some(&mut f), &refresh, 0))
            .1
            .get("local-state"),
        Some(&Value::int(4))
    );
    // The view's refusal, and ISC's own checks on the value.
    assert_eq!(
        failure(d.handle(
            &mut e,
            Some(&mut f),
            &update(handle, Attributes::new().with("local-state", Value::int(7))),
            0
        ))
        .0,
        IscResult::NOTIMPLEMENTED
    );
    assert_eq!(
        failure(d.handle(
            &mut e,
            Some(&mut f),
            &update(
                handle,
                Attributes::new().with("local-state", Value::int(99))
            ),
            0
        ))
        .0,
        IscResult::INVALIDARG
    );
    assert_eq!(requested_local_state(PeerState::Normal), PeerState::Normal);
}

#[test]
fn scope_values_read_back_as_isc_holds_them() {
    assert_eq!(scope_value("true"), ScopeValue::Boolean(true));
    assert_eq!(scope_value("%-3"), ScopeValue::Numeric(-3));
    assert_eq!(
        scope_value("\"a\\\"b\\001\""),
        ScopeValue::Data(b"a\"b\x01".to_vec())
    );
    assert_eq!(scope_value("01:ff"), ScopeValue::Data(vec![1, 0xff]));
    assert_eq!(scope_value("\"x\\"), ScopeValue::Data(b"\"x\\".to_vec()));
}
