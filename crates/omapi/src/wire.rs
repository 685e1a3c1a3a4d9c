//! The OMAPI byte format: the startup intro, the message header, the two name/value lists
//! and the signature, with an incremental decoder that never panics.
//!
//! Layout (omapip/protocol.c `omapi_protocol_send_message`, checked against captures of
//! omshell and dhcpd 4.4.3-P1; all integers big-endian):
//!
//! ```text
//! intro    : u32 version (100) | u32 header size (24)        -- each side sends one first
//! message  : u32 authid | u32 authlen | u32 op | u32 handle | u32 id | u32 rid
//!            [header size - 24 bytes the receiver skips]
//!            { u16 name-len | name | u32 value-len | value }*  u16 0   -- message values
//!            { u16 name-len | name | u32 value-len | value }*  u16 0   -- object values
//!            authlen bytes of signature
//! ```
//!
//! Values carry no type on the wire: ISC writes an integer as a 4-byte value, a string or
//! data as its bytes, an object as its 4-byte handle, and a null value as length 0; the
//! receiver stores everything as "data" (which is why omshell prints a server's integers
//! as `00:00:00:02`).

use std::fmt;
use std::net::Ipv4Addr;

use thiserror::Error;

use crate::auth::Key;

/// `OMAPI_PROTOCOL_VERSION` (includes/omapip/omapip_p.h).
pub const PROTOCOL_VERSION: u32 = 100;
/// `sizeof (omapi_protocol_header_t)`: six u32 fields.
pub const HEADER_SIZE: u32 = 24;
/// Length of the intro: version and header size.
pub const INTRO_LEN: usize = 8;

/// The first eight bytes each side sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intro {
    pub version: u32,
    pub header_size: u32,
}

impl Intro {
    /// What ISC sends (and what we send): version 100, 24-byte headers.
    pub const ISC: Intro = Intro {
        version: PROTOCOL_VERSION,
        header_size: HEADER_SIZE,
    };

    pub fn encode(&self) -> [u8; INTRO_LEN] {
        let mut out = [0u8; INTRO_LEN];
        out[..4].copy_from_slice(&self.version.to_be_bytes());
        out[4..].copy_from_slice(&self.header_size.to_be_bytes());
        out
    }
}

/// Message operation (`OMAPI_OP_*`, includes/omapip/omapip_p.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// 1: look an object up (and optionally create / update it).
    Open,
    /// 2: send the object behind a handle again.
    Refresh,
    /// 3: from a client, change an object; from a server, the object's values.
    Update,
    /// 4: ISC answers "notify not implemented yet".
    Notify,
    /// 5: the result of a request.
    Status,
    /// 6: remove the object behind a handle.
    Delete,
    /// Any other number; ISC drops the connection on it.
    Unknown(u32),
}

impl Op {
    pub fn from_code(code: u32) -> Op {
        match code {
            1 => Op::Open,
            2 => Op::Refresh,
            3 => Op::Update,
            4 => Op::Notify,
            5 => Op::Status,
            6 => Op::Delete,
            other => Op::Unknown(other),
        }
    }

    pub fn code(self) -> u32 {
        match self {
            Op::Open => 1,
            Op::Refresh => 2,
            Op::Update => 3,
            Op::Notify => 4,
            Op::Status => 5,
            Op::Delete => 6,
            Op::Unknown(code) => code,
        }
    }
}

/// One value: raw bytes, as on the wire. Length 0 is ISC's null value (omshell's `unset`).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Value(Vec<u8>);

impl Value {
    /// The null value (length 0).
    pub fn null() -> Value {
        Value(Vec::new())
    }

    /// An integer: ISC's `omapi_datatype_int` goes out as 4 bytes, big-endian.
    pub fn int(v: u32) -> Value {
        Value(v.to_be_bytes().to_vec())
    }

    /// A signed integer (ISC casts `int` values to `u_int32_t` on the wire).
    pub fn signed(v: i32) -> Value {
        Value(v.to_be_bytes().to_vec())
    }

    /// A boolean: ISC's `omapi_set_boolean_value` makes an int 0 or 1.
    pub fn boolean(v: bool) -> Value {
        Value::int(u32::from(v))
    }

    /// A string: its bytes, no terminator.
    pub fn string(s: &str) -> Value {
        Value(s.as_bytes().to_vec())
    }

    /// Opaque data.
    pub fn data(bytes: impl Into<Vec<u8>>) -> Value {
        Value(bytes.into())
    }

    /// An IPv4 address: its 4 bytes.
    pub fn ipv4(addr: Ipv4Addr) -> Value {
        Value(addr.octets().to_vec())
    }

    /// A time as ISC puts it: `(u_int32_t)TIME`, 4 bytes (server/omapi.c truncates to 32 bits).
    pub fn time(t: i64) -> Value {
        // ISC's `bouncer = (u_int32_t)lease->ends`: keep the low 32 bits.
        Value::int(t as u32)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True for ISC's null value (length 0).
    pub fn is_null(&self) -> bool {
        self.0.is_empty()
    }

    /// The integer, if the value is exactly 4 bytes (ISC's `omapi_get_int_value` rule for
    /// data received off the wire).
    pub fn as_u32(&self) -> Option<u32> {
        let b: [u8; 4] = self.0.as_slice().try_into().ok()?;
        Some(u32::from_be_bytes(b))
    }

    /// The value as UTF-8 text.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The value as an IPv4 address, if it is exactly 4 bytes.
    pub fn as_ipv4(&self) -> Option<Ipv4Addr> {
        let b: [u8; 4] = self.0.as_slice().try_into().ok()?;
        Some(Ipv4Addr::from(b))
    }
}

impl fmt::Debug for Value {
    /// Printed the way omshell prints received data: text in quotes when every byte is
    /// printable, else colon-separated hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let printable = !self.0.is_empty() && self.0.iter().all(|b| (0x20..0x7f).contains(b));
        if printable {
            write!(f, "{:?}", String::from_utf8_lossy(&self.0))
        } else {
            let hex: Vec<String> = self.0.iter().map(|b| format!("{b:02x}")).collect();
            write!(f, "{}", hex.join(":"))
        }
    }
}

/// An ordered name/value list, as on the wire.
///
/// [`Attributes::push`] keeps duplicates (wire order); [`Attributes::set`] replaces, which
/// is how ISC's generic object stores what it receives; [`Attributes::get`] returns the last
/// value given for a name, which is what ISC ends up with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes(Vec<(String, Value)>);

impl Attributes {
    pub fn new() -> Attributes {
        Attributes(Vec::new())
    }

    /// Append, keeping any earlier value of the same name.
    pub fn push(&mut self, name: impl Into<String>, value: Value) {
        self.0.push((name.into(), value));
    }

    /// Builder form of [`Attributes::push`].
    pub fn with(mut self, name: impl Into<String>, value: Value) -> Attributes {
        self.push(name, value);
        self
    }

    /// Replace the value of `name` (in place), or append it.
    pub fn set(&mut self, name: impl Into<String>, value: Value) {
        let name = name.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    /// The last value given for `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(String, Value)> for Attributes {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        Attributes(iter.into_iter().collect())
    }
}

impl IntoIterator for Attributes {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// One OMAPI message. `authlen` is not stored: it is the signature's length.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// Handle of the authenticator that signed the message, 0 if none.
    pub authid: u32,
    pub op: Op,
    /// Handle of the object the message is about (0 when none).
    pub handle: u32,
    /// The sender's transaction id (ISC: `next_xid++` per connection).
    pub id: u32,
    /// The id of the message this one answers, 0 for a request.
    pub rid: u32,
    /// Values about the message itself (`type`, `create`, `result`, `message`, ...).
    pub message: Attributes,
    /// Values of the object the message carries.
    pub object: Attributes,
    /// The authenticator's signature (`authlen` bytes), empty when unsigned.
    pub signature: Vec<u8>,
}

impl Default for Op {
    fn default() -> Self {
        Op::Unknown(0)
    }
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("attribute name of {0} bytes does not fit the 16-bit length")]
    NameTooLong(usize),
    #[error("zero-length attribute name would end the list")]
    EmptyName,
    #[error("attribute value of {0} bytes does not fit the 32-bit length")]
    ValueTooLong(usize),
}

impl Message {
    pub fn new(op: Op) -> Message {
        Message {
            op,
            ..Message::default()
        }
    }

    /// The bytes, with `authlen` = the signature's length and the signature as stored.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = self.encode_body(self.signature.len())?;
        out.extend_from_slice(&self.signature);
        Ok(out)
    }

    /// The bytes signed with `key` under `authid` (ISC: `authlen` is the key's signature
    /// size, the signature covers everything after the authid field; see [`signed_part`]).
    /// The stored `authid` and `signature` are ignored.
    pub fn encode_signed(&self, authid: u32, key: &Key) -> Result<Vec<u8>, EncodeError> {
        let mut m = self.clone();
        m.authid = authid;
        let mut out = m.encode_body(key.signature_len())?;
        let sig = key.sign(signed_part(&out));
        out.extend_from_slice(&sig);
        Ok(out)
    }

    /// Header and both value lists, with the given authlen; no signature.
    fn encode_body(&self, authlen: usize) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(64);
        let authlen = u32::try_from(authlen).map_err(|_| EncodeError::ValueTooLong(authlen))?;
        for field in [
            self.authid,
            authlen,
            self.op.code(),
            self.handle,
            self.id,
            self.rid,
        ] {
            out.extend_from_slice(&field.to_be_bytes());
        }
        for list in [&self.message, &self.object] {
            for (name, value) in list.iter() {
                put_pair(&mut out, name, value)?;
            }
            // A zero-length name ends each list.
            out.extend_from_slice(&0u16.to_be_bytes());
        }
        Ok(out)
    }
}

fn put_pair(out: &mut Vec<u8>, name: &str, value: &Value) -> Result<(), EncodeError> {
    if name.is_empty() {
        return Err(EncodeError::EmptyName);
    }
    let nlen = u16::try_from(name.len()).map_err(|_| EncodeError::NameTooLong(name.len()))?;
    let vlen = u32::try_from(value.len()).map_err(|_| EncodeError::ValueTooLong(value.len()))?;
    out.extend_from_slice(&nlen.to_be_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&vlen.to_be_bytes());
    out.extend_from_slice(value.as_bytes());
    Ok(())
}

/// The part of an encoded, 24-byte-header message (without its signature) that ISC signs:
/// everything after the 4-byte authid. ISC switches the connection's authenticator on right
/// after writing (or reading) the authid (`output-authenticator` / `input-authenticator`),
/// and reads the signature after taking the digest.
pub fn signed_part(body: &[u8]) -> &[u8] {
    body.get(4..).unwrap_or(&[])
}

/// A message as decoded, with the exact bytes its signature must cover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub message: Message,
    /// `authlen op handle id rid` and both value lists with their terminators: the bytes ISC
    /// digests on input. Header bytes beyond the 24th are skipped by ISC without digesting
    /// them (`omapi_connection_copyout (0, ...)` signs nothing), so they are not here.
    pub signed: Vec<u8>,
}

/// Bounds the decoder enforces before it buffers anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest value accepted (ISC has no bound but memory).
    pub max_value_len: u32,
    /// Most name/value pairs in one list.
    pub max_values: usize,
    /// Largest `authlen` accepted (HMAC-MD5 is 16; HMAC-SHA512 would be 64).
    pub max_signature_len: u32,
    /// Largest header size a peer may announce.
    pub max_header_size: u32,
    /// Largest message, header to signature.
    pub max_message_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_value_len: 1 << 20,
            max_values: 1024,
            max_signature_len: 1024,
            max_header_size: 1024,
            max_message_len: 4 << 20,
        }
    }
}

/// Why the byte stream is not OMAPI. After one of these the decoder stays failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// ISC: `DHCP_R_VERSIONMISMATCH`, then it disconnects.
    #[error("peer speaks OMAPI version {0}, not 100")]
    VersionMismatch(u32),
    /// ISC: `DHCP_R_PROTOCOLERROR`, then it disconnects.
    #[error("peer's header size {0} is below 24")]
    HeaderTooSmall(u32),
    #[error("peer's header size {got} exceeds the limit {max}")]
    HeaderTooLarge { got: u32, max: u32 },
    #[error("value of {got} bytes exceeds the limit {max}")]
    ValueTooLong { got: u32, max: u32 },
    #[error("signature of {got} bytes exceeds the limit {max}")]
    SignatureTooLong { got: u32, max: u32 },
    #[error("more than {max} values in one list")]
    TooManyValues { max: usize },
    #[error("message exceeds {max} bytes")]
    MessageTooLong { max: usize },
    #[error("attribute name is not UTF-8")]
    NameNotUtf8,
}

/// One thing decoded off the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Intro(Intro),
    Message(Received),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    MessageValues,
    ObjectValues,
    Signature,
}

#[derive(Debug)]
struct Partial {
    message: Message,
    authlen: u32,
    phase: Phase,
    signed: Vec<u8>,
    size: usize,
}

/// Incremental decoder: push bytes as they arrive, pull frames out. Each step waits until
/// the whole element (header, one name/value pair, signature) is buffered, so a message
/// split at any byte decodes the same, and the work stays linear in the input.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    pos: usize,
    limits: Limits,
    peer: Option<Intro>,
    partial: Option<Partial>,
    failed: Option<DecodeError>,
}

impl Decoder {
    /// A decoder that expects the peer's intro first.
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            buf: Vec::new(),
            pos: 0,
            limits,
            peer: None,
            partial: None,
            failed: None,
        }
    }

    /// A decoder for messages only, the intro having been `intro`.
    pub fn after_intro(limits: Limits, intro: Intro) -> Decoder {
        let mut d = Decoder::new(limits);
        d.peer = Some(intro);
        d
    }

    /// The peer's intro, once decoded.
    pub fn peer_intro(&self) -> Option<Intro> {
        self.peer
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Bytes received and not yet consumed.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when no partial message or unconsumed bytes remain.
    pub fn is_idle(&self) -> bool {
        self.partial.is_none() && self.buffered() == 0
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let r = self.step();
        if let Err(e) = &r {
            self.failed = Some(e.clone());
            self.buf = Vec::new();
            self.pos = 0;
            self.partial = None;
        } else {
            self.compact();
        }
        r
    }

    fn compact(&mut self) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }

    fn avail(&self) -> &[u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    fn step(&mut self) -> Result<Option<Frame>, DecodeError> {
        let intro = match self.peer {
            Some(i) => i,
            None => {
                let Some(version) = be32(self.avail(), 0) else {
                    return Ok(None);
                };
                let Some(header_size) = be32(self.avail(), 4) else {
                    return Ok(None);
                };
                // protocol.c: "We currently only support the current protocol version."
                if version != PROTOCOL_VERSION {
                    return Err(DecodeError::VersionMismatch(version));
                }
                if header_size < HEADER_SIZE {
                    return Err(DecodeError::HeaderTooSmall(header_size));
                }
                if header_size > self.limits.max_header_size {
                    return Err(DecodeError::HeaderTooLarge {
                        got: header_size,
                        max: self.limits.max_header_size,
                    });
                }
                self.pos += INTRO_LEN;
                let intro = Intro {
                    version,
                    header_size,
                };
                self.peer = Some(intro);
                return Ok(Some(Frame::Intro(intro)));
            }
        };
        loop {
            let Some(mut partial) = self.partial.take() else {
                // Header: wait for all `header_size` bytes, then skip what follows the 24th.
                let hsize = intro.header_size as usize;
                let avail = self.avail();
                if avail.len() < hsize {
                    return Ok(None);
                }
                let f = |i: usize| be32(avail, i * 4).unwrap_or(0);
                let authlen = f(1);
                if authlen > self.limits.max_signature_len {
                    return Err(DecodeError::SignatureTooLong {
                        got: authlen,
                        max: self.limits.max_signature_len,
                    });
                }
                let message = Message {
                    authid: f(0),
                    op: Op::from_code(f(2)),
                    handle: f(3),
                    id: f(4),
                    rid: f(5),
                    ..Message::default()
                };
                let signed = avail.get(4..HEADER_SIZE as usize).unwrap_or(&[]).to_vec();
                self.pos += hsize;
                self.partial = Some(Partial {
                    message,
                    authlen,
                    phase: Phase::MessageValues,
                    signed,
                    size: hsize,
                });
                continue;
            };
            let consumed = match partial.phase {
                Phase::MessageValues | Phase::ObjectValues => {
                    match self.take_pair(&mut partial)? {
                        Some(n) => n,
                        None => {
                            self.partial = Some(partial);
                            return Ok(None);
                        }
                    }
                }
                Phase::Signature => {
                    let n = partial.authlen as usize;
                    let Some(sig) = self.avail().get(..n) else {
                        self.partial = Some(partial);
                        return Ok(None);
                    };
                    partial.message.signature = sig.to_vec();
                    self.pos += n;
                    return Ok(Some(Frame::Message(Received {
                        message: partial.message,
                        signed: partial.signed,
                    })));
                }
            };
            partial.size += consumed;
            if partial.size > self.limits.max_message_len {
                return Err(DecodeError::MessageTooLong {
                    max: self.limits.max_message_len,
                });
            }
            if partial.phase == Phase::Signature && partial.authlen == 0 {
                // "If the authenticator length is zero, there's no signature to read in."
                return Ok(Some(Frame::Message(Received {
                    message: partial.message,
                    signed: partial.signed,
                })));
            }
            self.partial = Some(partial);
        }
    }

    /// One name/value pair or a list terminator; `Ok(None)` if not all buffered yet.
    /// Returns how many bytes it consumed.
    fn take_pair(&mut self, partial: &mut Partial) -> Result<Option<usize>, DecodeError> {
        let avail = self.avail();
        let Some(nlen) = be16(avail, 0) else {
            return Ok(None);
        };
        if nlen == 0 {
            // "A zero-length name means that we're done reading name+value pairs."
            partial.signed.extend_from_slice(&[0, 0]);
            partial.phase = match partial.phase {
                Phase::MessageValues => Phase::ObjectValues,
                _ => Phase::Signature,
            };
            self.pos += 2;
            return Ok(Some(2));
        }
        let nlen = usize::from(nlen);
        let Some(vlen) = be32(avail, 2 + nlen) else {
            return Ok(None);
        };
        // Bound the value before waiting for it, so a peer cannot make us buffer 4 GiB.
        if vlen > self.limits.max_value_len {
            return Err(DecodeError::ValueTooLong {
                got: vlen,
                max: self.limits.max_value_len,
            });
        }
        let total = 2 + nlen + 4 + vlen as usize;
        let Some(pair) = avail.get(..total) else {
            return Ok(None);
        };
        let list = match partial.phase {
            Phase::MessageValues => &mut partial.message.message,
            _ => &mut partial.message.object,
        };
        if list.len() >= self.limits.max_values {
            return Err(DecodeError::TooManyValues {
                max: self.limits.max_values,
            });
        }
        let name = pair.get(2..2 + nlen).unwrap_or(&[]);
        let name = std::str::from_utf8(name).map_err(|_| DecodeError::NameNotUtf8)?;
        let value = pair.get(2 + nlen + 4..).unwrap_or(&[]);
        list.push(name, Value::data(value));
        partial.signed.extend_from_slice(pair);
        self.pos += total;
        Ok(Some(total))
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(s))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(u16::from_be_bytes(s))
}

/// Decode a whole captured stream (intro then messages) in one go.
pub fn decode_stream(bytes: &[u8]) -> Result<(Intro, Vec<Received>, usize), DecodeError> {
    let mut d = Decoder::new(Limits::default());
    d.push(bytes);
    let mut intro = None;
    let mut messages = Vec::new();
    while let Some(frame) = d.next_frame()? {
        match frame {
            Frame::Intro(i) => intro = Some(i),
            Frame::Message(m) => messages.push(m),
        }
    }
    let leftover = d.buffered();
    match intro {
        Some(i) => Ok((i, messages, leftover)),
        None => Err(DecodeError::VersionMismatch(be32(bytes, 0).unwrap_or(0))),
    }
}

/// Fuzzing entry point: decodes `bytes` as a stream split at a data-chosen point, checks it
/// decodes the same byte by byte, and that every decoded message re-encodes to bytes that
/// decode back to it. Panics only if one of those invariants breaks.
pub fn decode_for_fuzz(bytes: &[u8]) {
    let split = bytes
        .first()
        .map_or(0, |b| usize::from(*b) % (bytes.len() + 1));
    let whole = drain_all(&[&bytes[..split], &bytes[split..]]);
    let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
    let trickled = drain_all(&chunks);
    assert_eq!(
        whole, trickled,
        "decoding depends on how the input is split"
    );
    for frame in whole.0 {
        if let Frame::Message(r) = frame {
            let Ok(bytes) = r.message.encode() else {
                continue;
            };
            let mut d = Decoder::after_intro(Limits::default(), Intro::ISC);
            d.push(&bytes);
            match d.next_frame() {
                Ok(Some(Frame::Message(back))) => {
                    assert_eq!(back.message, r.message, "re-encoded message differs")
                }
                other => panic!("re-encoded message does not decode: {other:?}"),
            }
        }
    }
}

type Drained = (Vec<Frame>, Option<DecodeError>);

fn drain_all(chunks: &[&[u8]]) -> Drained {
    let mut d = Decoder::new(Limits::default());
    let mut frames = Vec::new();
    for chunk in chunks {
        d.push(chunk);
        loop {
            match d.next_frame() {
                Ok(Some(f)) => frames.push(f),
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Message {
        Message {
            authid: 0,
            op: Op::Open,
            handle: 0,
            id: 0x6b8b_4567,
            rid: 0,
            message: Attributes::new().with("type", Value::string("failover-state")),
            object: Attributes::new().with("name", Value::string("foo")),
            signature: Vec::new(),
        }
    }

    #[test]
    fn encodes_omshells_open() {
        // Captured from omshell (`new failover-state`, `set name = "foo"`, `open`).
        let expected = "000000000000000000000001000000006b8b456700000000\
                        0004747970650000000e6661696c6f7665722d7374617465\
                        0000\
                        00046e616d6500000003666f6f\
                        0000";
        assert_eq!(hex(&sample().encode().unwrap()), expected);
    }

    #[test]
    fn intro_bytes() {
        assert_eq!(Intro::ISC.encode(), [0, 0, 0, 100, 0, 0, 0, 24]);
    }

    #[test]
    fn rejects_bad_intro() {
        let mut d = Decoder::new(Limits::default());
        d.push(&[0, 0, 0, 99, 0, 0, 0, 24]);
        assert_eq!(d.next_frame(), Err(DecodeError::VersionMismatch(99)));
        // Stays failed.
        d.push(&[0; 8]);
        assert_eq!(d.next_frame(), Err(DecodeError::VersionMismatch(99)));
        let mut d = Decoder::new(Limits::default());
        d.push(&[0, 0, 0, 100, 0, 0, 0, 20]);
        assert_eq!(d.next_frame(), Err(DecodeError::HeaderTooSmall(20)));
    }

    #[test]
    fn larger_header_is_skipped_and_not_signed() {
        let body = sample().encode().unwrap();
        let mut stream = Intro {
            version: 100,
            header_size: 28,
        }
        .encode()
        .to_vec();
        stream.extend_from_slice(&body[..24]);
        stream.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        stream.extend_from_slice(&body[24..]);
        let (intro, msgs, left) = decode_stream(&stream).unwrap();
        assert_eq!(intro.header_size, 28);
        assert_eq!(left, 0);
        assert_eq!(msgs[0].message, sample());
        assert_eq!(msgs[0].signed, body[4..]);
    }

    #[test]
    fn oversized_value_is_refused_before_buffering() {
        let mut d = Decoder::after_intro(
            Limits {
                max_value_len: 16,
                ..Limits::default()
            },
            Intro::ISC,
        );
        let mut m = sample();
        m.object.push("big", Value::data(vec![7u8; 17]));
        let bytes = m.encode().unwrap();
        // Only up to the big value's length field.
        let cut = bytes.len() - 2 - 17;
        d.push(&bytes[..cut]);
        assert_eq!(
            d.next_frame(),
            Err(DecodeError::ValueTooLong { got: 17, max: 16 })
        );
    }

    #[test]
    fn too_many_values() {
        let mut d = Decoder::after_intro(
            Limits {
                max_values: 1,
                ..Limits::default()
            },
            Intro::ISC,
        );
        let mut m = sample();
        m.object.push("second", Value::int(1));
        d.push(&m.encode().unwrap());
        assert_eq!(d.next_frame(), Err(DecodeError::TooManyValues { max: 1 }));
    }

    #[test]
    fn values_accessors() {
        assert_eq!(Value::int(4).as_u32(), Some(4));
        assert_eq!(Value::data(vec![0, 0, 4]).as_u32(), None);
        assert_eq!(
            Value::ipv4(Ipv4Addr::new(10, 0, 0, 100)).as_bytes(),
            &[10, 0, 0, 100]
        );
        assert_eq!(format!("{:?}", Value::int(2)), "00:00:00:02");
        assert_eq!(format!("{:?}", Value::string("foo")), "\"foo\"");
        assert!(Value::null().is_null());
        assert_eq!(Value::time(-1).as_u32(), Some(u32::MAX));
    }

    #[test]
    fn attributes_set_and_get() {
        let mut a = Attributes::new();
        a.push("x", Value::int(1));
        a.push("x", Value::int(2));
        assert_eq!(a.get("x"), Some(&Value::int(2)));
        a.set("x", Value::int(3));
        assert_eq!(a.len(), 2);
        assert_eq!(a.iter().next().map(|(_, v)| v.clone()), Some(Value::int(3)));
        assert!(!a.contains("y"));
    }

    #[test]
    fn encode_refuses_unencodable_names() {
        let mut m = sample();
        m.object.push("", Value::int(1));
        assert_eq!(m.encode(), Err(EncodeError::EmptyName));
        let mut m = sample();
        m.object.push("n".repeat(70_000), Value::int(1));
        assert_eq!(m.encode(), Err(EncodeError::NameTooLong(70_000)));
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn arb_attrs() -> impl Strategy<Value = Attributes> {
        proptest::collection::vec(
            (
                "[a-z-]{1,12}",
                proptest::collection::vec(any::<u8>(), 0..20),
            ),
            0..5,
        )
        .prop_map(|v| v.into_iter().map(|(n, b)| (n, Value::data(b))).collect())
    }

    fn arb_message() -> impl Strategy<Value = Message> {
        (
            any::<u32>(),
            1u32..8,
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            arb_attrs(),
            arb_attrs(),
            proptest::collection::vec(any::<u8>(), 0..20),
        )
            .prop_map(
                |(authid, op, handle, id, rid, message, object, signature)| Message {
                    authid,
                    op: Op::from_code(op),
                    handle,
                    id,
                    rid,
                    message,
                    object,
                    signature,
                },
            )
    }

    proptest! {
        #[test]
        fn round_trip_any_split(msgs in proptest::collection::vec(arb_message(), 1..4),
                                split in any::<prop::sample::Index>()) {
            let mut stream = Intro::ISC.encode().to_vec();
            for m in &msgs {
                stream.extend_from_slice(&m.encode().unwrap());
            }
            let at = split.index(stream.len() + 1);
            let mut d = Decoder::new(Limits::default());
            let mut got = Vec::new();
            for part in [&stream[..at], &stream[at..]] {
                d.push(part);
                while let Some(f) = d.next_frame().unwrap() {
                    if let Frame::Message(r) = f {
                        // What is signed is exactly the encoding minus authid and signature.
                        let enc = r.message.encode().unwrap();
                        prop_assert_eq!(&r.signed[..], &enc[4..enc.len() - r.message.signature.len()]);
                        got.push(r.message);
                    }
                }
            }
            prop_assert_eq!(got, msgs);
            prop_assert!(d.is_idle());
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            decode_for_fuzz(&bytes);
        }

        #[test]
        fn never_panics_after_valid_intro(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut b = Intro::ISC.encode().to_vec();
            b.extend_from_slice(&bytes);
            decode_for_fuzz(&b);
        }
    }
}
