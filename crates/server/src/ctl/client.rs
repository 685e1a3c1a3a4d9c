//! An OMAPI client: the requests omshell sends, and the reading of the server's answers.
//!
//! [`ClientCodec`] is sans-I/O (bytes in, bytes out); [`Connection`] drives it over a
//! blocking TCP stream with timeouts. Like omshell (dhcpctl): the client sends its intro,
//! then, with a key, opens an `authenticator` object (`name`, `algorithm`, unsigned) whose
//! handle it then puts in every message's `authid`, signing each with HMAC-MD5. An open is
//! answered by an update message carrying the object's handle and values, or by a status;
//! update and delete are answered by a status whose `result` 0 is success.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use tandem_omapi::wire::{Decoder, Frame, Intro, Limits};
use tandem_omapi::{Attributes, IscResult, Key, Message, Op, Value};
use thiserror::Error;

/// What went wrong talking to the server.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error("can't connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("connection to the server failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server closed the connection")]
    Closed,
    #[error("the server speaks OMAPI version {0}, not 100")]
    Version(u32),
    #[error("the server sent something that is not OMAPI: {0}")]
    Protocol(String),
    #[error("the server's answer is not signed with our key")]
    BadSignature,
    /// The server refused: ISC's result and text.
    #[error("{}", refusal_text(*.result, .message.as_deref()))]
    Refused {
        result: IscResult,
        message: Option<String>,
    },
}

fn refusal_text(result: IscResult, message: Option<&str>) -> String {
    let what = result
        .text()
        .map(str::to_string)
        .unwrap_or_else(|| format!("result {:#x}", result.0));
    match message {
        Some(m) => format!("{m}: {what}"),
        None => what,
    }
}

/// An answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// An object (answer to open and refresh).
    Object { handle: u32, values: Attributes },
    /// Success (answer to update and delete).
    Done,
}

/// An answer: the id of the request it answers (`rid`), and the reply or the refusal.
pub type Answer = (u32, Result<Reply, ClientError>);

/// The client side of one OMAPI connection, without I/O.
#[derive(Debug)]
pub struct ClientCodec {
    decoder: Decoder,
    next_id: u32,
    key: Option<Key>,
    /// The authenticator's handle once the server accepted the key.
    authid: Option<u32>,
}

impl ClientCodec {
    pub fn new(key: Option<Key>) -> ClientCodec {
        ClientCodec {
            decoder: Decoder::new(Limits::default()),
            next_id: 1,
            key,
            authid: None,
        }
    }

    /// The intro each side sends first.
    pub fn intro(&self) -> Vec<u8> {
        Intro::ISC.encode().to_vec()
    }

    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// The unsigned open of the authenticator object for our key.
    pub fn authenticator_open(&mut self) -> Result<(u32, Vec<u8>), ClientError> {
        let Some(key) = &self.key else {
            return Err(ClientError::Protocol("no key to open".into()));
        };
        let m = Message {
            op: Op::Open,
            message: Attributes::new().with("type", Value::string("authenticator")),
            object: Attributes::new()
                .with("name", Value::string(key.name()))
                .with("algorithm", Value::string(key.algorithm().wire_name())),
            ..Message::default()
        };
        let id = self.take_id();
        let mut m = m;
        m.id = id;
        let bytes = m
            .encode()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok((id, bytes))
    }

    /// The server answered the authenticator open with `reply`.
    pub fn authenticated(&mut self, reply: Reply) -> Result<(), ClientError> {
        match reply {
            Reply::Object { handle, .. } if handle != 0 => {
                self.authid = Some(handle);
                Ok(())
            }
            _ => Err(ClientError::Protocol(
                "the authenticator open gave no handle".into(),
            )),
        }
    }

    fn take_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// Encodes a request (signed once authenticated); returns its id and bytes.
    pub fn request(&mut self, mut m: Message) -> Result<(u32, Vec<u8>), ClientError> {
        let id = self.take_id();
        m.id = id;
        m.rid = 0;
        let bytes = match (&self.key, self.authid) {
            (Some(key), Some(authid)) => m.encode_signed(authid, key),
            _ => m.encode(),
        }
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok((id, bytes))
    }

    /// `open` of an object of `object_type` by `values` (omshell's `open`; `create` adds the
    /// `create` and `exclusive` flags as omshell's `create` does).
    pub fn open(
        &mut self,
        object_type: &str,
        values: Attributes,
        create: bool,
    ) -> Result<(u32, Vec<u8>), ClientError> {
        let mut message = Attributes::new();
        if create {
            message.push("create", Value::boolean(true));
            message.push("exclusive", Value::boolean(true));
        }
        message.push("type", Value::string(object_type));
        self.request(Message {
            op: Op::Open,
            message,
            object: values,
            ..Message::default()
        })
    }

    /// `update` of the object behind `handle`.
    pub fn update(
        &mut self,
        handle: u32,
        values: Attributes,
    ) -> Result<(u32, Vec<u8>), ClientError> {
        self.request(Message {
            op: Op::Update,
            handle,
            object: values,
            ..Message::default()
        })
    }

    /// `refresh` of the object behind `handle`.
    pub fn refresh(&mut self, handle: u32) -> Result<(u32, Vec<u8>), ClientError> {
        self.request(Message {
            op: Op::Refresh,
            handle,
            ..Message::default()
        })
    }

    /// `remove` of the object behind `handle`.
    pub fn delete(&mut self, handle: u32) -> Result<(u32, Vec<u8>), ClientError> {
        self.request(Message {
            op: Op::Delete,
            handle,
            ..Message::default()
        })
    }

    /// Bytes from the server.
    pub fn push(&mut self, bytes: &[u8]) {
        self.decoder.push(bytes);
    }

    /// The next answer, `None` until one is complete: `(rid, reply)`, the reply being the
    /// refusal for a status with a non-zero result.
    pub fn next_answer(&mut self) -> Result<Option<Answer>, ClientError> {
        loop {
            let frame = self
                .decoder
                .next_frame()
                .map_err(|e| ClientError::Protocol(e.to_string()))?;
            let r = match frame {
                None => return Ok(None),
                Some(Frame::Intro(i)) => {
                    if i.version != Intro::ISC.version {
                        return Err(ClientError::Version(i.version));
                    }
                    continue;
                }
                Some(Frame::Message(r)) => r,
            };
            let m = &r.message;
            // A signed answer must verify; a refusal of our signature comes unsigned.
            if m.authid != 0 {
                let ok = self.key.as_ref().is_some_and(|k| {
                    Some(m.authid) == self.authid && k.verify(&r.signed, &m.signature)
                });
                if !ok {
                    return Err(ClientError::BadSignature);
                }
            }
            let reply = match m.op {
                Op::Update => Ok(Reply::Object {
                    handle: m.handle,
                    values: m.object.clone(),
                }),
                Op::Status => {
                    let result = m
                        .message
                        .get("result")
                        .and_then(Value::as_u32)
                        .map_or(IscResult::UNEXPECTED, IscResult);
                    if result.is_success() {
                        Ok(Reply::Done)
                    } else {
                        Err(ClientError::Refused {
                            result,
                            message: m
                                .message
                                .get("message")
                                .and_then(|v| v.as_str())
                                .map(str::to_string),
                        })
                    }
                }
                other => {
                    return Err(ClientError::Protocol(format!(
                        "unexpected message op {}",
                        other.code()
                    )))
                }
            };
            return Ok(Some((m.rid, reply)));
        }
    }
}

/// A blocking connection to an OMAPI server.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    codec: ClientCodec,
}

impl Connection {
    /// Connects, exchanges intros and, with a key, opens the authenticator.
    pub fn open(
        addr: SocketAddr,
        key: Option<Key>,
        timeout: Duration,
    ) -> Result<Connection, ClientError> {
        let stream = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|source| ClientError::Connect { addr, source })?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let _ = stream.set_nodelay(true);
        let mut c = Connection {
            stream,
            codec: ClientCodec::new(key),
        };
        let intro = c.codec.intro();
        c.stream.write_all(&intro)?;
        if c.codec.has_key() {
            let (id, bytes) = c.codec.authenticator_open()?;
            let reply = c.exchange(id, bytes)?;
            c.codec.authenticated(reply)?;
        }
        Ok(c)
    }

    fn exchange(&mut self, id: u32, bytes: Vec<u8>) -> Result<Reply, ClientError> {
        self.stream.write_all(&bytes)?;
        let mut buf = [0u8; 8192];
        loop {
            while let Some((rid, reply)) = self.codec.next_answer()? {
                if rid == id {
                    return reply;
                }
            }
            let n = self.stream.read(&mut buf)?;
            if n == 0 {
                return Err(ClientError::Closed);
            }
            self.codec.push(buf.get(..n).unwrap_or_default());
        }
    }

    pub fn open_object(
        &mut self,
        object_type: &str,
        values: Attributes,
        create: bool,
    ) -> Result<(u32, Attributes), ClientError> {
        let (id, bytes) = self.codec.open(object_type, values, create)?;
        match self.exchange(id, bytes)? {
            Reply::Object { handle, values } => Ok((handle, values)),
            Reply::Done => Err(ClientError::Protocol(
                "open answered without an object".into(),
            )),
        }
    }

    pub fn update(&mut self, handle: u32, values: Attributes) -> Result<(), ClientError> {
        let (id, bytes) = self.codec.update(handle, values)?;
        self.exchange(id, bytes).map(|_| ())
    }

    pub fn refresh(&mut self, handle: u32) -> Result<Attributes, ClientError> {
        let (id, bytes) = self.codec.refresh(handle)?;
        match self.exchange(id, bytes)? {
            Reply::Object { values, .. } => Ok(values),
            Reply::Done => Err(ClientError::Protocol(
                "refresh answered without an object".into(),
            )),
        }
    }

    pub fn delete(&mut self, handle: u32) -> Result<(), ClientError> {
        let (id, bytes) = self.codec.delete(handle)?;
        self.exchange(id, bytes).map(|_| ())
    }
}
