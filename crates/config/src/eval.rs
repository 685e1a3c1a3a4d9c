//! Evaluation of ISC expressions against one client's packet.
//!
//! Contract: the engine implements [`EvalContext`]; this module implements
//! `eval_bool`, `eval_data` and `eval_num` with ISC's semantics (an expression
//! whose operand is missing evaluates to `None`, which is false for boolean
//! contexts; `=` compares bytes; `substring` past the end is clipped).

use std::net::Ipv4Addr;

use crate::model::OptionCode;

/// What an expression can see of the client and the server.
pub trait EvalContext {
    /// A client option by space and code (space "dhcp" for the packet's
    /// options; "agent" for option 82 sub-options).
    fn option(&self, code: &OptionCode) -> Option<Vec<u8>>;
    /// An option as configured for the reply so far (`config-option`).
    fn config_option(&self, code: &OptionCode) -> Option<Vec<u8>>;
    /// `hardware`: htype byte followed by chaddr[..hlen].
    fn hardware(&self) -> Vec<u8>;
    /// The raw packet bytes (`packet(off, len)`).
    fn packet(&self) -> &[u8];
    /// `known`: the client matched a host declaration.
    fn known(&self) -> bool;
    fn leased_address(&self) -> Option<Ipv4Addr>;
    fn host_decl_name(&self) -> Option<String>;
    fn variable(&self, name: &str) -> Option<Vec<u8>>;
    fn lease_time(&self) -> Option<u32>;
}
