use std::net::Ipv4Addr;
use std::sync::Arc;

use tandem_engine::{Interface, Now};
use tandem_omapi::{Attributes, ObjectType, Operation};

use super::*;
use crate::ctl::client::{ClientCodec, ClientError, Connection, Reply};
use crate::log::Sinks;

const NOW: Now = Now {
    wall: 1_700_000_000,
    mono_ms: 1_000,
};
const SECRET: &str = "dGFuZGVtLW9tYXBpLWtleQ==";

fn config(extra: &str) -> Config {
    let text = format!(
        "subnet 10.0.0.0 netmask 255.255.255.0 {{ range 10.0.0.100 10.0.0.110; }}\n{extra}"
    );
    tandem_config::parse_bytes_without_includes(text.as_bytes()).unwrap()
}

fn engine() -> Engine {
    let eth0 = Interface {
        index: 2,
        name: "eth0".into(),
        addrs: vec![(Ipv4Addr::new(10, 0, 0, 10), 24)],
        mac: vec![2, 0, 0, 0, 0, 0xfe],
    };
    Engine::new(Arc::new(config("")), vec![eth0], Vec::new(), NOW).unwrap()
}

fn quiet() -> Logger {
    Logger::new(
        "test",
        Sinks {
            stderr: false,
            syslog: false,
        },
    )
}

fn key() -> Key {
    Key::from_base64("omapi_key", "hmac-md5", SECRET).unwrap()
}

const KEYED: &str = "omapi-port 7911;
    key omapi_key { algorithm hmac-md5; secret \"dGFuZGVtLW9tYXBpLWtleQ==\"; }
    omapi-key omapi_key;";

#[test]
fn setup_follows_the_configuration() {
    assert!(OmapiSetup::from_config(&config("")).unwrap().is_none());
    let open = OmapiSetup::from_config(&config("omapi-port 7911;"))
        .unwrap()
        .unwrap();
    assert_eq!(open.port, 7911);
    assert!(!open.keys.is_required());
    let keyed = OmapiSetup::from_config(&config(KEYED)).unwrap().unwrap();
    assert!(keyed.keys.is_required());
    // A DDNS key with another algorithm does not stop OMAPI.
    let ddns = "omapi-port 7911; key ddns { algorithm hmac-sha256; secret \"Zm9v\"; }";
    assert!(OmapiSetup::from_config(&config(ddns)).unwrap().is_some());
    // dhcpd: an unusable omapi-key is fatal, with or without omapi-port.
    assert_eq!(
        OmapiSetup::from_config(&config("omapi-key nope;")).unwrap_err(),
        OmapiError::UnknownKey("nope".into())
    );
    let sha = "omapi-key k; key k { algorithm hmac-sha256; secret \"Zm9v\"; }";
    assert!(matches!(
        OmapiSetup::from_config(&config(sha)),
        Err(OmapiError::Key { .. })
    ));
}

/// Feeds the client's bytes to a session and answers its requests from `state` at once
/// (writes succeed); returns the server's bytes.
fn serve_bytes(
    session: &mut Session,
    state: &mut OmapiState,
    engine: &mut Engine,
    bytes: &[u8],
) -> Vec<u8> {
    let log = quiet();
    let mut out = Vec::new();
    let mut actions = session.handle(Instant::now(), bytes);
    while !actions.is_empty() {
        let mut next = Vec::new();
        for a in actions {
            match a {
                Action::Send(b) => out.extend(b),
                Action::Close => {}
                Action::Request(request) => {
                    let (tx, mut rx) = oneshot::channel();
                    let call = Call::Request {
                        peer: "127.0.0.1:1".parse().unwrap(),
                        request,
                        reply: tx,
                    };
                    if let Some(p) = state.call(engine, None, &log, NOW.wall, call) {
                        state.persisted(engine, &log, p.token, Ok(()));
                    }
                    let answer = rx.try_recv().expect("answered");
                    next.extend(session.reply(answer.id, answer.reply).unwrap());
                }
            }
        }
        actions = next;
    }
    out
}

/// One request through client codec, session and engine; the client's reading of it.
fn ask(
    client: &mut ClientCodec,
    session: &mut Session,
    state: &mut OmapiState,
    engine: &mut Engine,
    (id, bytes): (u32, Vec<u8>),
) -> Result<Reply, ClientError> {
    let out = serve_bytes(session, state, engine, &bytes);
    client.push(&out);
    loop {
        match client.next_answer()? {
            Some((rid, reply)) if rid == id => return reply,
            Some(_) => continue,
            None => panic!("no answer to {id}"),
        }
    }
}

#[test]
fn the_ctl_client_talks_to_a_keyed_session_end_to_end() {
    let setup = OmapiSetup::from_config(&config(KEYED)).unwrap().unwrap();
    let (trigger, _watch) = shutdown_channel();
    let mut state = OmapiState::new(&setup.keys, trigger);
    let mut engine = engine();
    let mut session = Session::new(setup.keys.clone());
    let mut client = ClientCodec::new(Some(key()));
    let intro = client.intro();
    client.push(&serve_bytes(&mut session, &mut state, &mut engine, &intro));
    assert!(
        client.next_answer().unwrap().is_none(),
        "only the intro so far"
    );
    let auth = client.authenticator_open().unwrap();
    let reply = ask(&mut client, &mut session, &mut state, &mut engine, auth).unwrap();
    client.authenticated(reply).unwrap();
    // A signed create; the answer is signed too (the codec checks it).
    let values = Attributes::new()
        .with("name", Value::string("h1"))
        .with("hardware-address", Value::data(vec![2, 0, 0, 0, 3, 3]))
        .with("ip-address", Value::ipv4(Ipv4Addr::new(10, 0, 0, 60)));
    let req = client.open("host", values, true).unwrap();
    let Reply::Object { handle, values } =
        ask(&mut client, &mut session, &mut state, &mut engine, req).unwrap()
    else {
        panic!("object");
    };
    assert_eq!(values.get("name"), Some(&Value::string("h1")));
    assert!(engine
        .find_host(tandem_engine::HostQuery::Name("h1"))
        .is_some());
    let req = client.delete(handle).unwrap();
    assert_eq!(
        ask(&mut client, &mut session, &mut state, &mut engine, req).unwrap(),
        Reply::Done
    );
    assert!(engine
        .find_host(tandem_engine::HostQuery::Name("h1"))
        .is_none());
    let req = client.delete(handle).unwrap();
    assert!(matches!(
        ask(&mut client, &mut session, &mut state, &mut engine, req),
        Err(ClientError::Refused {
            result: IscResult::NOTFOUND,
            ..
        })
    ));
}

#[test]
fn an_unsigned_client_is_refused_and_the_refusal_is_seen() {
    let setup = OmapiSetup::from_config(&config(KEYED)).unwrap().unwrap();
    let (trigger, _watch) = shutdown_channel();
    let mut state = OmapiState::new(&setup.keys, trigger);
    let mut engine = engine();
    let mut session = Session::new(setup.keys.clone());
    let mut client = ClientCodec::new(None);
    let mut watch = RefusalWatch::new();
    let intro = client.intro();
    let out = serve_bytes(&mut session, &mut state, &mut engine, &intro);
    assert!(watch.refusals(&out).is_empty());
    client.push(&out);
    let req = client
        .open(
            "host",
            Attributes::new()
                .with("name", Value::string("h1"))
                .with("hardware-address", Value::data(vec![2, 0, 0, 0, 3, 3])),
            true,
        )
        .unwrap();
    let out = serve_bytes(&mut session, &mut state, &mut engine, &req.1);
    assert_eq!(
        watch.refusals(&out),
        ["a message without the required signature"]
    );
    client.push(&out);
    let (_, reply) = client.next_answer().unwrap().unwrap();
    assert!(matches!(
        reply,
        Err(ClientError::Refused {
            result: IscResult::NOKEYS,
            ..
        })
    ));
    assert!(engine
        .find_host(tandem_engine::HostQuery::Name("h1"))
        .is_none());
    // With the wrong secret: a bad signature.
    let mut session = Session::new(setup.keys.clone());
    let wrong = Key::from_base64("omapi_key", "hmac-md5", "d3Jvbmctc2VjcmV0LWtleQ==").unwrap();
    let mut client = ClientCodec::new(Some(wrong));
    let mut watch = RefusalWatch::new();
    let intro = client.intro();
    let out = serve_bytes(&mut session, &mut state, &mut engine, &intro);
    watch.refusals(&out);
    client.push(&out);
    let auth = client.authenticator_open().unwrap();
    let out = serve_bytes(&mut session, &mut state, &mut engine, &auth.1);
    watch.refusals(&out);
    client.push(&out);
    let (_, reply) = client.next_answer().unwrap().unwrap();
    client.authenticated(reply.unwrap()).unwrap();
    let req = client.open("control", Attributes::new(), false).unwrap();
    let out = serve_bytes(&mut session, &mut state, &mut engine, &req.1);
    assert_eq!(
        watch.refusals(&out),
        ["a message with a bad signature or a key other than omapi-key"]
    );
}

#[test]
fn a_failed_write_is_undone_and_answered_with_an_io_error() {
    let (trigger, _watch) = shutdown_channel();
    let mut state = OmapiState::new(&KeyRing::none(), trigger);
    let mut engine = engine();
    let (tx, mut rx) = oneshot::channel();
    let call = Call::Request {
        peer: "127.0.0.1:1".parse().unwrap(),
        request: ObjectRequest {
            id: RequestId(5),
            operation: Operation::Open {
                object_type: ObjectType::Host,
                values: Attributes::new()
                    .with("name", Value::string("h1"))
                    .with("hardware-address", Value::data(vec![2, 0, 0, 0, 3, 3])),
                create: true,
                update: false,
                exclusive: true,
            },
            key: None,
        },
        reply: tx,
    };
    let p = state
        .call(&mut engine, None, &quiet(), 0, call)
        .expect("a write");
    assert!(rx.try_recv().is_err(), "no answer before the write");
    assert!(engine
        .find_host(tandem_engine::HostQuery::Name("h1"))
        .is_some());
    let err = StoreError::Io {
        op: tandem_store::IoOp::Write,
        path: "x".into(),
        source: Arc::new(std::io::Error::other("disk on fire")),
    };
    state.persisted(&mut engine, &quiet(), p.token, Err(err));
    let a = rx.try_recv().unwrap();
    assert_eq!(a.id, RequestId(5));
    assert!(matches!(a.reply, ObjectReply::Failed(f) if f.result == IscResult::IOERROR));
    assert!(engine
        .find_host(tandem_engine::HostQuery::Name("h1"))
        .is_none());
}

#[test]
fn extras_follow_the_engine_and_restore_reads_them_back() {
    let mut engine = engine();
    engine
        .add_group(tandem_engine::GroupSpec {
            name: "g".into(),
            statements: vec!["default-lease-time 60;".into()],
        })
        .unwrap();
    engine
        .add_host(tandem_engine::HostSpec {
            name: "h".into(),
            hardware: Some(tandem_lease::Hardware {
                htype: 1,
                addr: vec![2, 0, 0, 0, 3, 3],
            }),
            group: Some("g".into()),
            ..Default::default()
        })
        .unwrap();
    let mut extras = Extras {
        records: vec![
            Record::Other("server-duid \"x\";".into()),
            Record::Host(tandem_lease::HostRecord {
                name: "old".into(),
                deleted: true,
                hardware: None,
                uid: None,
                fixed_address: None,
                statements: Vec::new(),
            }),
        ],
    };
    sync_extras(&mut extras, &engine);
    let kinds: Vec<String> = extras
        .records
        .iter()
        .map(|r| match r {
            Record::Host(h) => format!("host {}", h.name),
            Record::Other(t) => t.split_whitespace().take(2).collect::<Vec<_>>().join(" "),
            _ => "?".into(),
        })
        .collect();
    // The tombstone was not the engine's, so it went; groups come before hosts.
    assert_eq!(kinds, ["server-duid \"x\";", "group \"g\"", "host h"]);
    let mut fresh = self::engine();
    restore(&mut fresh, &mut extras, &quiet());
    assert_eq!(
        fresh
            .find_host(tandem_engine::HostQuery::Name("h"))
            .and_then(|h| h.spec.group),
        Some("g".to_string())
    );
}

#[tokio::test]
async fn over_tcp_a_control_update_is_answered_then_shuts_down() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (trigger, mut watch) = shutdown_channel();
    let (calls_tx, mut calls_rx) = mpsc::channel(8);
    let keys = KeyRing::required(key());
    // The engine task.
    let mut state = OmapiState::new(&keys, trigger.clone());
    tokio::spawn(async move {
        let mut engine = engine();
        let log = quiet();
        while let Some(call) = calls_rx.recv().await {
            if let Some(p) = state.call(&mut engine, None, &log, NOW.wall, call) {
                state.persisted(&mut engine, &log, p.token, Ok(()));
            }
        }
    });
    let conn_trigger = trigger.clone();
    tokio::spawn(async move {
        let (stream, peer) = listener.accept().await.unwrap();
        connection(stream, peer, keys, &calls_tx, &conn_trigger).await;
    });
    let client = tokio::task::spawn_blocking(move || -> Result<(), ClientError> {
        let mut c = Connection::open(addr, Some(key()), Duration::from_secs(5))?;
        let (handle, values) = c.open_object("control", Attributes::new(), false)?;
        assert_eq!(values.get("state"), Some(&Value::int(0)));
        c.update(handle, Attributes::new().with("state", Value::int(2)))
    });
    let reason = tokio::time::timeout(Duration::from_secs(10), watch.requested())
        .await
        .expect("shutdown requested");
    assert_eq!(reason, CONTROL_SHUTDOWN);
    // The client got its success answer before the trigger was pulled.
    client.await.unwrap().unwrap();
}
