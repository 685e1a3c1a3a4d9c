//! dhcpd.conf: lexer, parser with spans, lowering into the typed model of
//! [`model`], and evaluation of ISC expressions.

pub mod eval;
pub mod model;

pub use model::*;
