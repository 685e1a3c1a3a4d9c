//! OMAPI, ISC's object management protocol: what `omshell` and other dhcpctl clients speak
//! to dhcpd on `omapi-port` (usually 7911).
//!
//! Sans-I/O, in three layers:
//! * [`wire`]: the intro, the message format and an incremental decoder (never panics,
//!   bounded by [`wire::Limits`]);
//! * [`auth`]: `key` declarations and HMAC-MD5 signatures, byte-compatible with ISC;
//! * [`session`]: one server-side connection as a state machine that turns bytes into
//!   [`ObjectRequest`]s for the application and the application's [`ObjectReply`]s into
//!   bytes.
//!
//! [`objects`] encodes dhcpd's objects (`failover-state`, `control`, `lease`, `host`,
//! `group`) the way dhcpd 4.4 does, and parses what clients send for them, so omshell
//! prints the same against Tandem as against dhcpd.
//!
//! Facts come from ISC DHCP 4.4's source (omapip/, dhcpctl/, server/omapi.c,
//! server/failover.c) and from captures of omshell against dhcpd 4.4.3-P1, which the
//! tests replay.

pub mod auth;
pub mod objects;
pub mod result;
pub mod session;
pub mod wire;

pub use auth::{Key, KeyError, KeyRing};
pub use result::IscResult;
pub use session::{
    Action, Failure, ObjectReply, ObjectRequest, ObjectType, Operation, ReplyError, RequestId,
    Session,
};
pub use wire::{decode_for_fuzz, Attributes, DecodeError, Message, Op, Value};
