//! One OMAPI connection, server side, as a pure state machine.
//!
//! The driver feeds received bytes to [`Session::handle`] and carries out the returned
//! [`Action`]s: write bytes, close the socket, or hand an [`ObjectRequest`] to the
//! application, which answers later with [`Session::reply`]. The session does everything
//! that does not need the server's data: the intro, framing, signatures, the authenticator
//! objects, and the protocol's own errors. It follows ISC's `omapi_message_process`
//! (omapip/message.c) and `omapi_protocol_signal_handler` (omapip/protocol.c):
//!
//! * Each side sends its intro (version 100, header size 24) at once; a peer with another
//!   version or a header below 24 bytes is disconnected.
//! * Request ids: a request carries the client's `id` and `rid` 0; the answer carries
//!   `rid` = that id and the server's own `id`, which counts up by one per message sent on
//!   the connection (ISC starts it at `random()`; we start at 1 unless told otherwise).
//! * Open (op 1) with `type`: the application looks the object up by the object values;
//!   the answer is an Update message (op 3) whose `handle` is the object's handle, with no
//!   message values and the object's values. omshell keeps that handle and sends it in the
//!   `handle` field of later refresh (2), update (3) and delete (6) messages.
//! * Update and delete are answered by a Status message (op 5) with `result` (4 bytes)
//!   and, on failure, `message` (text); refresh like open.
//! * omshell's verdict: an Update answer means success; a Status answer's `result` is the
//!   verdict (0 = success, else it prints `can't open object: <isc_result_totext>`).
//! * An open whose `type` names no known object type is served as a refresh of `handle`
//!   (ISC: "If we weren't given a type, look the object up with the handle"), which for
//!   omshell's handle 0 is `not found` / "no matching handle".
//! * Signatures: see [`crate::auth`]. A request signed with authenticator `authid` is
//!   answered signed with the same key and `authid`; a request that fails verification is
//!   answered by an unsigned Status (`DHCP_R_INVALIDKEY` or `DHCP_R_KEY_UNKNOWN`) and not
//!   processed. With a required key (`omapi-key`), an unsigned message other than the open
//!   of an authenticator gets `DHCP_R_NOKEYS` "No authenticator on message".
//! * Messages with `rid` != 0 (answers to something the server never asked), status
//!   messages and unknown ops make ISC drop the connection; so do we.
//!
//! Answers leave in the order the requests came, whatever order the application replies in.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use thiserror::Error;

use crate::auth::KeyRing;
use crate::result::{text, IscResult};
use crate::wire::{
    Attributes, Decoder, EncodeError, Frame, Intro, Limits, Message, Op, Received, Value,
};

/// The object types a client can open, as ISC dhcpd registers them
/// (server/omapi.c `dhcp_db_objects_setup`, common/comapi.c).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectType {
    Lease,
    Host,
    Group,
    Control,
    FailoverState,
    Pool,
    Class,
    Subclass,
    Subnet,
    SharedNetwork,
}

impl ObjectType {
    pub const ALL: [ObjectType; 10] = [
        ObjectType::Lease,
        ObjectType::Host,
        ObjectType::Group,
        ObjectType::Control,
        ObjectType::FailoverState,
        ObjectType::Pool,
        ObjectType::Class,
        ObjectType::Subclass,
        ObjectType::Subnet,
        ObjectType::SharedNetwork,
    ];

    /// The `type` string on the wire.
    pub fn name(self) -> &'static str {
        match self {
            ObjectType::Lease => "lease",
            ObjectType::Host => "host",
            ObjectType::Group => "group",
            ObjectType::Control => "control",
            ObjectType::FailoverState => "failover-state",
            ObjectType::Pool => "pool",
            ObjectType::Class => "class",
            ObjectType::Subclass => "subclass",
            ObjectType::Subnet => "subnet",
            ObjectType::SharedNetwork => "shared-network",
        }
    }

    /// Exact, case-sensitive match (`omapi_td_strcmp`).
    pub fn from_name(name: &[u8]) -> Option<ObjectType> {
        ObjectType::ALL
            .into_iter()
            .find(|t| t.name().as_bytes() == name)
    }
}

/// Types ISC registers that have no lookup method: opening them gives
/// `ISC_R_NOTIMPLEMENTED` "unsearchable object type".
const UNSEARCHABLE: [&str; 10] = [
    "connection",
    "listener",
    "io",
    "generic",
    "protocol",
    "protocol-listener",
    "message",
    "waiter",
    "failover-link",
    "failover-listener",
];

/// Requests handed to the application and not yet answered, at most; beyond it the session
/// leaves further input buffered until a reply comes (ISC handles one message at a time).
pub const MAX_PENDING: usize = 64;

/// Bytes a client may have buffered beyond the requests in progress before the session
/// gives up on it.
const MAX_BUFFERED: usize = 8 << 20;

/// Names a request so its answer can find its way back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// What the client asks of the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Look up an object of `object_type` by the keys in `values` (each type has its own:
    /// see [`crate::objects`]). `create`: make it when not found (ISC: `EXISTS` when found
    /// and `exclusive`). `create` or `update`: then set `values` on it. omshell's `open`
    /// sends no flag; its `create` sends `create` and `exclusive`.
    Open {
        object_type: ObjectType,
        values: Attributes,
        create: bool,
        update: bool,
        exclusive: bool,
    },
    /// Send the object behind `handle` again. `object_type` is known when this connection
    /// got the handle from an open.
    Refresh {
        handle: u32,
        object_type: Option<ObjectType>,
    },
    /// Set `values` on the object behind `handle` (omshell sends only the values changed
    /// since the last answer).
    Update {
        handle: u32,
        object_type: Option<ObjectType>,
        values: Attributes,
    },
    /// Remove the object behind `handle`.
    Delete {
        handle: u32,
        object_type: Option<ObjectType>,
    },
}

/// A request handed to the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRequest {
    pub id: RequestId,
    pub operation: Operation,
    /// The key that signed the request, if any (its name).
    pub key: Option<String>,
}

/// A failed request: the ISC result and the text ISC would put beside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub result: IscResult,
    pub message: Option<String>,
}

impl Failure {
    pub fn new(result: IscResult, message: Option<&str>) -> Failure {
        Failure {
            result,
            message: message.map(str::to_string),
        }
    }

    /// Open: nothing matches and `create` was not asked (`ISC_R_NOTFOUND`).
    pub fn no_match() -> Failure {
        Failure::new(IscResult::NOTFOUND, Some(text::NO_MATCH))
    }

    /// Open: the lookup failed for another reason (`NOKEYS` is not one: with no key
    /// given, ISC goes on as "not found").
    pub fn lookup_failed(result: IscResult) -> Failure {
        Failure::new(result, Some(text::LOOKUP_FAILED))
    }

    /// Open with `create` + `exclusive` of an existing object (`ISC_R_EXISTS`).
    pub fn exists() -> Failure {
        Failure::new(IscResult::EXISTS, Some(text::EXISTS))
    }

    /// Open with `create`: the object could not be made.
    pub fn cant_create(result: IscResult) -> Failure {
        Failure::new(result, Some(text::CANT_CREATE))
    }

    /// Open with `create`/`update`, or update: setting the values failed.
    pub fn cant_update(result: IscResult) -> Failure {
        Failure::new(result, Some(text::CANT_UPDATE))
    }

    /// Refresh / update / delete of an unknown handle (`ISC_R_NOTFOUND`).
    pub fn no_handle() -> Failure {
        Failure::new(IscResult::NOTFOUND, Some(text::NO_HANDLE))
    }

    /// Delete failed: ISC sends the remove method's result with no text.
    pub fn remove_failed(result: IscResult) -> Failure {
        Failure::new(result, None)
    }
}

/// The application's answer to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectReply {
    /// For open and refresh: the object's handle (non-zero, above the key handles) and its
    /// values in the order ISC writes them (see [`crate::objects`]).
    Object { handle: u32, values: Attributes },
    /// For update and delete: it worked (`result` 0).
    Done,
    /// Any request: it failed.
    Failed(Failure),
}

/// What the driver must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes to the connection.
    Send(Vec<u8>),
    /// Close the connection (after writing what was sent before).
    Close,
    /// Ask the application; answer with [`Session::reply`].
    Request(ObjectRequest),
}

/// A reply the session cannot send.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReplyError {
    #[error("no request {0:?} is waiting (answered already, or the connection closed)")]
    UnknownRequest(RequestId),
    #[error("an object answers open/refresh; done answers update/delete")]
    WrongKind,
    #[error("handle {0} is 0 or belongs to a key")]
    ReservedHandle(u32),
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PendingKind {
    Object(Option<ObjectType>),
    Status,
}

#[derive(Debug)]
struct Pending {
    /// The client's id, which the answer carries as `rid`.
    rid: u32,
    /// The authenticator handle that signed the request (0 if none).
    authid: u32,
    kind: PendingKind,
}

/// One outgoing message in request order; `None` until the application answers.
#[derive(Debug)]
struct Slot {
    request: Option<RequestId>,
    bytes: Option<Vec<u8>>,
}

/// Server side of one OMAPI connection.
#[derive(Debug)]
pub struct Session {
    keys: KeyRing,
    decoder: Decoder,
    intro_sent: bool,
    closed: bool,
    next_xid: u32,
    next_request: u64,
    /// Authenticator handles this client has opened.
    opened_auths: Vec<u32>,
    /// Types of the handles this connection was given.
    handle_types: HashMap<u32, ObjectType>,
    pending: HashMap<RequestId, Pending>,
    outbox: VecDeque<Slot>,
    last_activity: Option<Instant>,
}

impl Session {
    pub fn new(keys: KeyRing) -> Session {
        Session::with_limits(keys, Limits::default())
    }

    pub fn with_limits(keys: KeyRing, limits: Limits) -> Session {
        Session {
            keys,
            decoder: Decoder::new(limits),
            intro_sent: false,
            closed: false,
            next_xid: 1,
            next_request: 0,
            opened_auths: Vec::new(),
            handle_types: HashMap::new(),
            pending: HashMap::new(),
            outbox: VecDeque::new(),
            last_activity: None,
        }
    }

    /// Start the server's transaction ids at `xid` (ISC uses `random()`).
    pub fn initial_xid(mut self, xid: u32) -> Session {
        self.next_xid = xid;
        self
    }

    /// Call once the connection is accepted: sends the server's intro, as ISC does at once.
    pub fn start(&mut self) -> Vec<Action> {
        let mut actions = Vec::new();
        self.ensure_intro(&mut actions);
        actions
    }

    /// Bytes arrived. (The intro goes out first if [`Session::start`] was not called.)
    pub fn handle(&mut self, now: Instant, bytes: &[u8]) -> Vec<Action> {
        let mut actions = Vec::new();
        self.last_activity = Some(now);
        if self.closed {
            return actions;
        }
        self.ensure_intro(&mut actions);
        self.decoder.push(bytes);
        self.pump(&mut actions);
        actions
    }

    /// Process buffered input while the application keeps up, then send what is ready.
    fn pump(&mut self, actions: &mut Vec<Action>) {
        while !self.closed && self.pending.len() < MAX_PENDING {
            match self.decoder.next_frame() {
                Ok(None) => break,
                Ok(Some(Frame::Intro(_))) => {}
                Ok(Some(Frame::Message(r))) => self.process(r, actions),
                Err(_) => self.close(actions),
            }
        }
        // A client that keeps sending while we wait for the application: too much.
        if !self.closed && self.decoder.buffered() > MAX_BUFFERED {
            self.close(actions);
        }
        if !self.closed {
            self.flush(actions);
        }
    }

    /// The application's answer to request `id`.
    pub fn reply(&mut self, id: RequestId, reply: ObjectReply) -> Result<Vec<Action>, ReplyError> {
        let pending = self
            .pending
            .get(&id)
            .ok_or(ReplyError::UnknownRequest(id))?;
        let mut m = match (pending.kind, reply) {
            (PendingKind::Object(t), ObjectReply::Object { handle, values }) => {
                if handle == 0 || handle <= self.keys.reserved_handles() {
                    return Err(ReplyError::ReservedHandle(handle));
                }
                if let Some(t) = t {
                    self.handle_types.insert(handle, t);
                }
                update_message(handle, values)
            }
            (PendingKind::Status, ObjectReply::Done) => {
                status_message(&Failure::new(IscResult::SUCCESS, None))
            }
            (_, ObjectReply::Failed(f)) => status_message(&f),
            _ => return Err(ReplyError::WrongKind),
        };
        m.rid = pending.rid;
        let authid = pending.authid;
        let bytes = self.encode(m, authid)?;
        self.pending.remove(&id);
        if let Some(slot) = self.outbox.iter_mut().find(|s| s.request == Some(id)) {
            slot.bytes = Some(bytes);
        }
        let mut actions = Vec::new();
        // Input held back while the application was busy is processed now.
        self.pump(&mut actions);
        Ok(actions)
    }

    /// True once the session decided to close; it then ignores input.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Requests handed out and not yet answered.
    pub fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// False while [`MAX_PENDING`] requests wait for the application (or once closed): the
    /// driver should stop reading the socket until a [`Session::reply`]; the input already
    /// received is kept and processed then.
    pub fn wants_input(&self) -> bool {
        !self.closed && self.pending.len() < MAX_PENDING
    }

    /// When bytes last arrived (for the driver's idle policy; OMAPI itself has no timer).
    pub fn last_activity(&self) -> Option<Instant> {
        self.last_activity
    }

    fn ensure_intro(&mut self, actions: &mut Vec<Action>) {
        if !self.intro_sent {
            self.intro_sent = true;
            actions.push(Action::Send(Intro::ISC.encode().to_vec()));
        }
    }

    fn close(&mut self, actions: &mut Vec<Action>) {
        self.flush(actions);
        self.closed = true;
        self.pending.clear();
        self.outbox.clear();
        actions.push(Action::Close);
    }

    fn flush(&mut self, actions: &mut Vec<Action>) {
        while self.outbox.front().is_some_and(|s| s.bytes.is_some()) {
            if let Some(Slot { bytes: Some(b), .. }) = self.outbox.pop_front() {
                actions.push(Action::Send(b));
            }
        }
    }

    fn encode(&mut self, mut m: Message, authid: u32) -> Result<Vec<u8>, EncodeError> {
        m.id = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1);
        match self.keys.by_handle(authid).filter(|_| authid != 0) {
            Some(key) => m.encode_signed(authid, key),
            None => m.encode(),
        }
    }

    /// Queue a message the session answers by itself.
    fn answer(&mut self, mut m: Message, rid: u32, authid: u32) {
        m.rid = rid;
        // Our own messages hold nothing unencodable; an error would only drop this answer.
        if let Ok(bytes) = self.encode(m, authid) {
            self.outbox.push_back(Slot {
                request: None,
                bytes: Some(bytes),
            });
        }
    }

    fn fail(&mut self, rid: u32, authid: u32, result: IscResult, message: Option<&str>) {
        self.answer(status_message(&Failure::new(result, message)), rid, authid);
    }

    fn request(&mut self, rid: u32, authid: u32, operation: Operation, actions: &mut Vec<Action>) {
        let id = RequestId(self.next_request);
        self.next_request += 1;
        let kind = match &operation {
            Operation::Open { object_type, .. } => PendingKind::Object(Some(*object_type)),
            Operation::Refresh { object_type, .. } => PendingKind::Object(*object_type),
            Operation::Update { .. } | Operation::Delete { .. } => PendingKind::Status,
        };
        self.pending.insert(id, Pending { rid, authid, kind });
        self.outbox.push_back(Slot {
            request: Some(id),
            bytes: None,
        });
        let key = self
            .keys
            .by_handle(authid)
            .filter(|_| authid != 0)
            .map(|k| k.name().to_string());
        // Whatever is ready before this request goes out before it is handed over.
        self.flush(actions);
        actions.push(Action::Request(ObjectRequest { id, operation, key }));
    }

    fn process(&mut self, r: Received, actions: &mut Vec<Action>) {
        let m = r.message;
        // 1. Authenticate (protocol.c: look the authid up, digest, compare).
        let mut authid = 0;
        if m.authid != 0 {
            let verdict = if !self.opened_auths.contains(&m.authid) {
                IscResult::KEY_UNKNOWN
            } else {
                match self.keys.by_handle(m.authid) {
                    // Deliberately stricter than ISC, which skips the check when authlen is
                    // 0: a message naming an authenticator must carry its signature.
                    Some(key) if key.verify(&r.signed, &m.signature) => IscResult::SUCCESS,
                    Some(_) => IscResult::INVALIDKEY,
                    None => IscResult::KEY_UNKNOWN,
                }
            };
            if !verdict.is_success() {
                // ISC answers a failed check unsigned and does not process the message.
                self.fail(m.id, 0, verdict, None);
                return;
            }
            authid = m.authid;
        }
        // 2. An answer to a message we never sent: ISC returns ISC_R_NOTFOUND from
        //    omapi_message_process, and a failing process disconnects.
        if m.rid != 0 {
            self.close(actions);
            return;
        }
        // 3. "All messages must have an authenticator, with the exception of messages that
        //    are opening a new authenticator."
        if self.keys.is_required() && authid == 0 && m.op != Op::Open {
            self.fail(m.id, 0, IscResult::NOKEYS, Some(text::NO_AUTHENTICATOR));
            return;
        }
        match m.op {
            Op::Open => self.open(m, authid, actions),
            Op::Refresh => self.by_handle(&m, authid, HandleOp::Refresh, actions),
            Op::Update => self.by_handle(&m, authid, HandleOp::Update, actions),
            Op::Delete => self.by_handle(&m, authid, HandleOp::Delete, actions),
            Op::Notify => self.fail(m.id, authid, IscResult::NOTIMPLEMENTED, Some(text::NOTIFY)),
            // A status nobody asked for (ISC_R_UNEXPECTED) or an unknown op
            // (ISC_R_NOTIMPLEMENTED): ISC drops the connection.
            Op::Status | Op::Unknown(_) => self.close(actions),
        }
    }

    fn open(&mut self, m: Message, authid: u32, actions: &mut Vec<Action>) {
        enum Kind {
            Authenticator,
            Object(ObjectType),
            Unsearchable,
            Untyped,
        }
        let kind = match m.message.get("type").map(Value::as_bytes) {
            Some(b"authenticator") => Kind::Authenticator,
            Some(t) => match ObjectType::from_name(t) {
                Some(o) => Kind::Object(o),
                None if UNSEARCHABLE.iter().any(|u| u.as_bytes() == t) => Kind::Unsearchable,
                None => Kind::Untyped,
            },
            None => Kind::Untyped,
        };
        // "If this object had no authenticator, the requested object must be an
        //  authenticator object."
        if self.keys.is_required() && authid == 0 && !matches!(kind, Kind::Authenticator) {
            self.fail(m.id, 0, IscResult::NOKEYS, Some(text::NO_AUTHENTICATOR));
            return;
        }
        let mut flags = [false; 3];
        for (flag, name) in flags.iter_mut().zip(["create", "update", "exclusive"]) {
            match m.message.get(name).filter(|v| !v.is_null()) {
                None => {}
                // omapi_get_int_value: data must be exactly 4 bytes.
                Some(v) => match v.as_u32() {
                    Some(x) => *flag = x != 0,
                    None => {
                        let msg = format!("invalid {name} flag value");
                        self.fail(m.id, authid, IscResult::INVALIDARG, Some(&msg));
                        return;
                    }
                },
            }
        }
        let [create, update, exclusive] = flags;
        match kind {
            Kind::Untyped if create => self.fail(
                m.id,
                authid,
                IscResult::INVALIDARG,
                Some(text::TYPE_REQUIRED),
            ),
            Kind::Untyped => self.by_handle(&m, authid, HandleOp::Refresh, actions),
            Kind::Unsearchable => self.fail(
                m.id,
                authid,
                IscResult::NOTIMPLEMENTED,
                Some(text::UNSEARCHABLE),
            ),
            Kind::Authenticator => self.open_authenticator(&m, authid, create, update, exclusive),
            Kind::Object(object_type) => self.request(
                m.id,
                authid,
                Operation::Open {
                    object_type,
                    values: m.object,
                    create,
                    update,
                    exclusive,
                },
                actions,
            ),
        }
    }

    /// omapip/auth.c `omapi_auth_key_lookup`, then message.c's authenticator branch.
    fn open_authenticator(
        &mut self,
        m: &Message,
        authid: u32,
        create: bool,
        update: bool,
        exclusive: bool,
    ) {
        let found = match (m.object.get("name"), m.object.get("algorithm")) {
            (Some(n), Some(a)) => self.keys.lookup(n.as_bytes(), a.as_bytes()),
            _ => None,
        };
        let Some(handle) = found else {
            if create {
                // The authenticator type has no create method.
                self.fail(
                    m.id,
                    authid,
                    IscResult::NOTIMPLEMENTED,
                    Some(text::CANT_CREATE),
                );
            } else {
                self.fail(m.id, authid, IscResult::NOTFOUND, Some(text::NO_MATCH));
            }
            return;
        };
        if create && exclusive {
            self.fail(m.id, authid, IscResult::EXISTS, Some(text::EXISTS));
            return;
        }
        if create || update {
            // ISC sends this text with result SUCCESS (its status variable still holds the
            // lookup's); we send NOPERM so that clients do not take it for success.
            self.fail(m.id, authid, IscResult::NOPERM, Some(text::CANT_UPDATE));
            return;
        }
        // dhcpd's verify_auth: only the omapi-key may be selected.
        if !self.keys.may_use(handle) {
            self.fail(
                m.id,
                authid,
                IscResult::INVALIDKEY,
                Some(text::CANT_SELECT_AUTH),
            );
            return;
        }
        if !self.opened_auths.contains(&handle) {
            self.opened_auths.push(handle);
        }
        let reply = self.authenticator_message(handle);
        self.answer(reply, m.id, authid);
    }

    /// The authenticator object as ISC sends it: `name` and `algorithm`, never the secret.
    fn authenticator_message(&self, handle: u32) -> Message {
        let mut values = Attributes::new();
        if let Some(key) = self.keys.by_handle(handle) {
            values.push("name", Value::string(key.name()));
            values.push("algorithm", Value::string(key.algorithm().wire_name()));
        }
        update_message(handle, values)
    }

    fn by_handle(&mut self, m: &Message, authid: u32, op: HandleOp, actions: &mut Vec<Action>) {
        let handle = m.handle;
        if handle != 0 && handle <= self.keys.reserved_handles() {
            // A key's handle: only the authenticators opened here are visible.
            if !self.opened_auths.contains(&handle) {
                self.fail(m.id, authid, IscResult::NOTFOUND, Some(text::NO_HANDLE));
                return;
            }
            match op {
                HandleOp::Refresh => {
                    let reply = self.authenticator_message(handle);
                    self.answer(reply, m.id, authid);
                }
                // ISC: "cannot update authenticator" (with a success result; see above).
                HandleOp::Update => self.fail(
                    m.id,
                    authid,
                    IscResult::NOPERM,
                    Some(text::CANT_UPDATE_AUTH),
                ),
                HandleOp::Delete => self.fail(
                    m.id,
                    authid,
                    IscResult::NOTIMPLEMENTED,
                    Some(text::NO_REMOVE),
                ),
            }
            return;
        }
        if handle == 0 {
            // omapi_handle_lookup never finds handle 0.
            self.fail(m.id, authid, IscResult::NOTFOUND, Some(text::NO_HANDLE));
            return;
        }
        let object_type = self.handle_types.get(&handle).copied();
        let operation = match op {
            HandleOp::Refresh => Operation::Refresh {
                handle,
                object_type,
            },
            HandleOp::Update => Operation::Update {
                handle,
                object_type,
                values: m.object.clone(),
            },
            HandleOp::Delete => Operation::Delete {
                handle,
                object_type,
            },
        };
        self.request(m.id, authid, operation, actions);
    }
}

#[derive(Clone, Copy, Debug)]
enum HandleOp {
    Refresh,
    Update,
    Delete,
}

/// The server's answer carrying an object (protocol.c `omapi_protocol_send_update`: op 3,
/// `handle` = the object's, no message values since `rid` and `handle` go into the header).
fn update_message(handle: u32, values: Attributes) -> Message {
    Message {
        op: Op::Update,
        handle,
        object: values,
        ..Message::default()
    }
}

/// protocol.c `omapi_protocol_send_status`: op 5, handle 0, message values `result`
/// (4-byte integer) then `message` (text) when there is one.
fn status_message(f: &Failure) -> Message {
    let mut values = Attributes::new().with("result", Value::int(f.result.0));
    if let Some(text) = &f.message {
        values.push("message", Value::string(text));
    }
    Message {
        op: Op::Status,
        message: values,
        ..Message::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Key;
    use crate::wire::decode_stream;

    fn now() -> Instant {
        Instant::now()
    }

    /// Client bytes: intro and the given messages.
    fn client(msgs: &[Message]) -> Vec<u8> {
        let mut b = Intro::ISC.encode().to_vec();
        for m in msgs {
            b.extend_from_slice(&m.encode().unwrap());
        }
        b
    }

    fn sent(actions: &[Action]) -> Vec<u8> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Send(b) => Some(b.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    fn replies(bytes: &[u8]) -> Vec<Message> {
        let (_, msgs, left) = decode_stream(bytes).unwrap();
        assert_eq!(left, 0);
        msgs.into_iter().map(|r| r.message).collect()
    }

    fn requests(actions: &[Action]) -> Vec<ObjectRequest> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Request(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    fn open(id: u32, t: &str, object: Attributes) -> Message {
        Message {
            op: Op::Open,
            id,
            message: Attributes::new().with("type", Value::string(t)),
            object,
            ..Message::default()
        }
    }

    #[test]
    fn intro_goes_first_even_without_start() {
        let mut s = Session::new(KeyRing::none());
        let a = s.handle(now(), &[]);
        assert_eq!(a, vec![Action::Send(vec![0, 0, 0, 100, 0, 0, 0, 24])]);
        assert!(s.start().is_empty());
    }

    #[test]
    fn answers_leave_in_request_order() {
        let mut s = Session::new(KeyRing::none()).initial_xid(10);
        let mut all = s.start();
        let refresh = Message {
            op: Op::Refresh,
            handle: 0,
            id: 3,
            ..Message::default()
        };
        let a = s.handle(
            now(),
            &client(&[
                open(1, "lease", Attributes::new()),
                open(2, "host", Attributes::new()),
                refresh,
            ]),
        );
        let reqs = requests(&a);
        assert_eq!(reqs.len(), 2);
        // The refresh of handle 0 is answered by the session but waits its turn.
        assert_eq!(sent(&a), Vec::<u8>::new());
        all.extend(a);
        all.extend(
            s.reply(reqs[1].id, ObjectReply::Failed(Failure::no_match()))
                .unwrap(),
        );
        assert_eq!(sent(&all).len(), 8);
        all.extend(
            s.reply(
                reqs[0].id,
                ObjectReply::Object {
                    handle: 7,
                    values: Attributes::new().with("state", Value::int(2)),
                },
            )
            .unwrap(),
        );
        let msgs = replies(&sent(&all));
        assert_eq!(
            msgs.iter().map(|m| (m.op, m.rid, m.id)).collect::<Vec<_>>(),
            vec![
                (Op::Update, 1, 12),
                (Op::Status, 2, 11),
                (Op::Status, 3, 10)
            ]
        );
        assert_eq!(msgs[0].handle, 7);
        assert_eq!(msgs[1].message.get("result"), Some(&Value::int(23)));
        assert_eq!(
            s.reply(reqs[0].id, ObjectReply::Done),
            Err(ReplyError::UnknownRequest(reqs[0].id))
        );
    }

    #[test]
    fn handle_learned_types_and_update_status() {
        let mut s = Session::new(KeyRing::none());
        let a = s.handle(
            now(),
            &client(&[open(
                1,
                "failover-state",
                Attributes::new().with("name", Value::string("foo")),
            )]),
        );
        let r = &requests(&a)[0];
        s.reply(
            r.id,
            ObjectReply::Object {
                handle: 5,
                values: Attributes::new(),
            },
        )
        .unwrap();
        let upd = Message {
            op: Op::Update,
            handle: 5,
            id: 2,
            object: Attributes::new().with("local-state", Value::int(4)),
            ..Message::default()
        };
        let a = s.handle(now(), &upd.encode().unwrap());
        let r = &requests(&a)[0];
        assert_eq!(
            r.operation,
            Operation::Update {
                handle: 5,
                object_type: Some(ObjectType::FailoverState),
                values: Attributes::new().with("local-state", Value::int(4)),
            }
        );
        assert_eq!(
            s.reply(
                r.id,
                ObjectReply::Object {
                    handle: 5,
                    values: Attributes::new()
                }
            ),
            Err(ReplyError::WrongKind)
        );
        let a = s.reply(r.id, ObjectReply::Done).unwrap();
        let b = sent(&a);
        let mut d = Decoder::after_intro(Limits::default(), Intro::ISC);
        d.push(&b);
        let Ok(Some(Frame::Message(m))) = d.next_frame() else {
            panic!("no status");
        };
        assert_eq!(m.message.op, Op::Status);
        assert_eq!(m.message.rid, 2);
        assert_eq!(
            m.message.message,
            Attributes::new().with("result", Value::int(0))
        );
    }

    #[test]
    fn a_busy_application_holds_input_back() {
        let mut s = Session::new(KeyRing::none());
        let opens: Vec<Message> = (1..=MAX_PENDING as u32 + 6)
            .map(|id| open(id, "lease", Attributes::new()))
            .collect();
        let a = s.handle(now(), &client(&opens));
        let reqs = requests(&a);
        assert_eq!(reqs.len(), MAX_PENDING);
        assert!(!s.wants_input());
        let a = s
            .reply(reqs[0].id, ObjectReply::Failed(Failure::no_match()))
            .unwrap();
        // One answer out, one more request in.
        assert_eq!(requests(&a).len(), 1);
        assert_eq!(
            replies(&[&Intro::ISC.encode()[..], &sent(&a)].concat()).len(),
            1
        );
        assert_eq!(s.pending_requests(), MAX_PENDING);
    }

    #[test]
    fn protocol_errors_close() {
        for bad in [
            // Wrong version.
            vec![0, 0, 0, 99, 0, 0, 0, 24],
            // An answer (rid != 0) to nothing.
            client(&[Message {
                op: Op::Update,
                rid: 9,
                id: 1,
                ..Message::default()
            }]),
            client(&[Message::new(Op::Status)]),
            client(&[Message::new(Op::Unknown(77))]),
        ] {
            let mut s = Session::new(KeyRing::none());
            let a = s.handle(now(), &bad);
            assert_eq!(a.last(), Some(&Action::Close), "{bad:?}");
            assert!(s.is_closed());
            assert!(s.handle(now(), &bad).is_empty());
        }
    }

    #[test]
    fn untyped_and_unsearchable_opens() {
        let mut s = Session::new(KeyRing::none());
        let mut create = open(2, "frobnicator", Attributes::new());
        create.message.push("create", Value::boolean(true));
        let mut badflag = open(4, "lease", Attributes::new());
        badflag.message.push("update", Value::data(vec![1]));
        let a = s.handle(
            now(),
            &client(&[
                open(1, "frobnicator", Attributes::new()),
                create,
                open(3, "failover-link", Attributes::new()),
                badflag,
                Message {
                    op: Op::Notify,
                    id: 5,
                    ..Message::default()
                },
            ]),
        );
        assert!(requests(&a).is_empty());
        let got: Vec<(u32, Option<Value>, Option<Value>)> = replies(&sent(&a))
            .into_iter()
            .map(|m| {
                (
                    m.rid,
                    m.message.get("result").cloned(),
                    m.message.get("message").cloned(),
                )
            })
            .collect();
        let want =
            |rid, r: IscResult, t: &str| (rid, Some(Value::int(r.0)), Some(Value::string(t)));
        assert_eq!(
            got,
            vec![
                want(1, IscResult::NOTFOUND, text::NO_HANDLE),
                want(2, IscResult::INVALIDARG, text::TYPE_REQUIRED),
                want(3, IscResult::NOTIMPLEMENTED, text::UNSEARCHABLE),
                want(4, IscResult::INVALIDARG, "invalid update flag value"),
                want(5, IscResult::NOTIMPLEMENTED, text::NOTIFY),
            ]
        );
    }

    #[test]
    fn create_flags_reach_the_application() {
        let mut s = Session::new(KeyRing::none());
        let mut m = open(
            1,
            "host",
            Attributes::new().with("name", Value::string("h1")),
        );
        m.message.push("create", Value::boolean(true));
        m.message.push("exclusive", Value::boolean(true));
        let a = s.handle(now(), &client(&[m]));
        assert_eq!(
            requests(&a)[0].operation,
            Operation::Open {
                object_type: ObjectType::Host,
                values: Attributes::new().with("name", Value::string("h1")),
                create: true,
                update: false,
                exclusive: true,
            }
        );
    }

    #[test]
    fn reserved_handles_are_refused() {
        let key = Key::from_base64("k", "hmac-md5", "Zm9vYmFy").unwrap();
        let mut s = Session::new(KeyRing::new(vec![key], None).unwrap());
        let a = s.handle(now(), &client(&[open(1, "lease", Attributes::new())]));
        let r = &requests(&a)[0];
        for h in [0, 1] {
            assert_eq!(
                s.reply(
                    r.id,
                    ObjectReply::Object {
                        handle: h,
                        values: Attributes::new()
                    }
                ),
                Err(ReplyError::ReservedHandle(h))
            );
        }
        // A key handle nobody opened on this connection is unknown.
        let a = s.handle(
            now(),
            &Message {
                op: Op::Refresh,
                handle: 1,
                id: 2,
                ..Message::default()
            }
            .encode()
            .unwrap(),
        );
        assert!(requests(&a).is_empty());
    }
}
