//! OMAPI as a server receives it: arbitrary bytes from a client.
//!
//! Input layout: `[ctl, s1, s2, stream...]`, where `stream` is what the client
//! sends (intro, then messages, as in `seeds/omapi_decode/`), and
//! * `ctl` bit 0: cut the stream into 3 chunks instead of 2;
//! * `ctl` bit 1: the server requires a key (`omapi-key`), the one of the
//!   captures in `crates/omapi/tests/captured/vectors.rs`;
//! * `ctl` bits 2-3: how the application answers requests (see [`Policy`]);
//! * `s1`, `s2`: where to cut, in 255ths of the stream length.
//!
//! Checks:
//! * `decode_for_fuzz(stream)`: splitting never changes what decodes, and what
//!   decodes re-encodes to itself (asserted inside the crate);
//! * a [`Session`] fed the chunks never panics, and the application's
//!   replies are accepted once and only once;
//! * everything the session sends is well-formed OMAPI (the intro, then whole
//!   messages), and nothing is sent after `Close`;
//! * with no replies from the application (so no timing between input and
//!   replies is involved), feeding the stream in one piece or in chunks gives
//!   the same requests, the same bytes out and the same close.
#![no_main]

use std::collections::VecDeque;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use tandem_omapi::objects::{control, failover_state, group, host, lease};
use tandem_omapi::session::MAX_PENDING;
use tandem_omapi::wire::decode_stream;
use tandem_omapi::{
    decode_for_fuzz, Action, Failure, IscResult, Key, KeyRing, ObjectReply, ObjectRequest,
    ObjectType, Operation, ReplyError, Session,
};

/// How the fake application answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Policy {
    /// Every request succeeds (open/refresh get an object echoing the values).
    Succeed,
    /// Every request fails.
    Fail,
    /// Requests with an even id succeed, the others fail.
    Alternate,
    /// No request is ever answered.
    Hold,
}

/// What one session did.
#[derive(Debug, PartialEq, Eq)]
struct Transcript {
    sent: Vec<u8>,
    closed: bool,
    requests: Vec<ObjectRequest>,
}

fn ring(keyed: bool) -> KeyRing {
    if !keyed {
        return KeyRing::none();
    }
    // `key omapi_key { algorithm hmac-md5; secret "dGFuZGVtLW9tYXBpLWtleQ=="; }`
    match Key::new("omapi_key", "hmac-md5", b"tandem-omapi-key".to_vec()) {
        Ok(k) => KeyRing::required(k),
        Err(e) => panic!("the capture key is valid: {e}"),
    }
}

/// The application's parsers for what a client sends must take any values.
fn parse_values(r: &ObjectRequest) {
    let (t, values) = match &r.operation {
        Operation::Open {
            object_type,
            values,
            ..
        } => (Some(*object_type), values),
        Operation::Update {
            object_type,
            values,
            ..
        } => (*object_type, values),
        Operation::Refresh { .. } | Operation::Delete { .. } => return,
    };
    match t {
        Some(ObjectType::Lease) => {
            let _ = lease::LeaseKey::from_values(values).map(|k| k.ipv4());
            let _ = lease::LeaseChange::from_values(values);
        }
        Some(ObjectType::Host) => {
            let _ = host::HostKey::from_values(values);
            if let Ok(c) = host::HostChange::from_values(values) {
                let _ = c.check_identified();
            }
        }
        Some(ObjectType::Group) => {
            let _ = group::GroupKey::from_values(values);
            let _ = group::GroupChange::from_values(values);
        }
        Some(ObjectType::Control) => {
            let _ = control::shutdown_requested(values);
        }
        Some(ObjectType::FailoverState) => {
            let _ = failover_state::FailoverStateKey::from_values(values);
            let _ = failover_state::FailoverStateChange::from_values(values);
        }
        _ => {}
    }
}

fn answer(r: &ObjectRequest, policy: Policy, first_handle: u32) -> Option<ObjectReply> {
    let succeed = match policy {
        Policy::Hold => return None,
        Policy::Succeed => true,
        Policy::Fail => false,
        Policy::Alternate => r.id.0.is_multiple_of(2),
    };
    if !succeed {
        return Some(ObjectReply::Failed(Failure::new(
            IscResult::NOTFOUND,
            Some("no object matches specification"),
        )));
    }
    let handle = first_handle.wrapping_add(u32::try_from(r.id.0 % 1000).unwrap_or(0));
    Some(match &r.operation {
        Operation::Open { values, .. } => ObjectReply::Object {
            handle,
            values: values.clone(),
        },
        Operation::Refresh { .. } => ObjectReply::Object {
            handle,
            values: Default::default(),
        },
        Operation::Update { .. } | Operation::Delete { .. } => ObjectReply::Done,
    })
}

fn run(chunks: &[&[u8]], keyed: bool, policy: Policy) -> Transcript {
    let now = Instant::now();
    let keys = ring(keyed);
    let first_handle = keys.reserved_handles() + 1;
    let mut s = Session::new(keys).initial_xid(0x6b8b_4567);
    let mut t = Transcript {
        sent: Vec::new(),
        closed: false,
        requests: Vec::new(),
    };
    let mut waiting: VecDeque<ObjectRequest> = VecDeque::new();
    let take = |actions: Vec<Action>, t: &mut Transcript, waiting: &mut VecDeque<_>| {
        for a in actions {
            match a {
                Action::Send(b) => {
                    assert!(!t.closed, "Send after Close");
                    t.sent.extend_from_slice(&b);
                }
                Action::Close => {
                    assert!(!t.closed, "Close twice");
                    t.closed = true;
                }
                Action::Request(r) => {
                    assert!(!t.closed, "Request after Close");
                    parse_values(&r);
                    t.requests.push(r.clone());
                    waiting.push_back(r);
                }
            }
        }
    };
    let actions = s.start();
    take(actions, &mut t, &mut waiting);
    for chunk in chunks {
        let actions = s.handle(now, chunk);
        take(actions, &mut t, &mut waiting);
        while let Some(r) = waiting.front().cloned() {
            let Some(reply) = answer(&r, policy, first_handle) else {
                break;
            };
            waiting.pop_front();
            let actions = match s.reply(r.id, reply) {
                Ok(a) => a,
                // The echoed values may be too large to send back: then the
                // application fails the request instead.
                Err(ReplyError::Encode(_)) => {
                    match s.reply(
                        r.id,
                        ObjectReply::Failed(Failure::new(IscResult::NOMEMORY, None)),
                    ) {
                        Ok(a) => a,
                        Err(e) => panic!("failure reply to {:?} refused: {e}", r.id),
                    }
                }
                // Once closed, nothing is waiting any more.
                Err(ReplyError::UnknownRequest(_)) if s.is_closed() => Vec::new(),
                Err(e) => panic!("reply to {:?} refused: {e}", r.id),
            };
            take(actions, &mut t, &mut waiting);
            // A request is answered once.
            assert!(
                matches!(
                    s.reply(r.id, ObjectReply::Done),
                    Err(ReplyError::UnknownRequest(_))
                ),
                "request {:?} answered twice",
                r.id
            );
        }
        assert_eq!(s.is_closed(), t.closed);
        if !t.closed {
            assert_eq!(s.pending_requests(), waiting.len());
        }
        assert_eq!(
            s.wants_input(),
            !t.closed && s.pending_requests() < MAX_PENDING
        );
    }
    t
}

/// Cut points in 255ths of the stream, sorted.
fn cuts(len: usize, s1: u8, s2: u8, three: bool) -> Vec<usize> {
    let at = |s: u8| len * usize::from(s) / 255;
    let mut v = if three {
        vec![at(s1), at(s2)]
    } else {
        vec![at(s1)]
    };
    v.sort_unstable();
    v
}

fn split<'a>(stream: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut chunks = Vec::new();
    let mut from = 0;
    for &c in cuts {
        chunks.push(stream.get(from..c).unwrap_or_default());
        from = c;
    }
    chunks.push(stream.get(from..).unwrap_or_default());
    chunks
}

fuzz_target!(|data: &[u8]| {
    let Some((&[ctl, s1, s2], stream)) = data.split_first_chunk::<3>() else {
        decode_for_fuzz(data);
        return;
    };
    decode_for_fuzz(stream);

    let three = ctl & 1 != 0;
    let keyed = ctl & 2 != 0;
    let policy = match (ctl >> 2) & 3 {
        0 => Policy::Succeed,
        1 => Policy::Fail,
        2 => Policy::Alternate,
        _ => Policy::Hold,
    };
    let chunks = split(stream, &cuts(stream.len(), s1, s2, three));

    let t = run(&chunks, keyed, policy);
    // What the server sends is its intro, then whole messages.
    match decode_stream(&t.sent) {
        Ok((_, _, 0)) => {}
        other => panic!("the session sent bytes that are not OMAPI: {other:?}"),
    }

    // Without replies, how the input was cut must not matter.
    let held = if policy == Policy::Hold {
        t
    } else {
        run(&chunks, keyed, Policy::Hold)
    };
    let whole = run(&[stream], keyed, Policy::Hold);
    assert_eq!(held, whole, "the session depends on how its input is cut");
});
