//! Evaluation of ISC expressions against one client's packet.
//!
//! Contract: the engine implements [`EvalContext`]; this module implements
//! `eval_bool`, `eval_data` and `eval_num` with ISC's semantics (an expression
//! whose operand is missing evaluates to `None`, which is false for boolean
//! contexts; `=` compares bytes; `substring` past the end is clipped).
//!
//! The rules follow ISC's `common/tree.c` (facts, not code):
//! * `a = b`: both values missing is *true*, one missing is false; values
//!   of different kinds (data, number, boolean) are unequal.
//! * `a and b`: `b` is evaluated only when `a` is true; `false and b` is
//!   *missing* (not false). `a or b`: missing only when both are missing.
//! * `not a` is missing when `a` is.
//! * `substring(d, off, len)`: missing if any operand is; an offset at or
//!   past the end gives the empty string; `len` is clipped.
//! * `suffix(d, len)`: the last `len` bytes (all of `d` if shorter).
//! * `concat(a, b, ...)`: missing if any part is.
//! * `pick-first-value(a, b, ...)`: the first part that is not missing
//!   (an empty value counts as present).
//! * `binary-to-ascii(base, width, sep, d)`: `d` split in `width`-bit
//!   big-endian numbers (8, 16 or 32, else missing; `d` must be a multiple
//!   of the width), each printed in `base` with lowercase digits and no
//!   leading zeros, joined by `sep`.
//! * `encode-int(n, bits)`: `n` big-endian in 1, 2 or 4 bytes (truncated).
//! * `extract-int(d, bits)`: the first 1, 2 or 4 bytes of `d` as a
//!   big-endian unsigned number; missing if `d` is shorter.
//! * `exists OPT` and `known` are never missing.
//! * Arithmetic is on unsigned 64-bit values (C's unsigned long);
//!   division or remainder by zero is missing.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::Ipv4Addr;

use crate::model::{ArithOp, Expr, OptionCode};

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
    /// `static`: the lease is a fixed-address (host) lease. (Added, with a
    /// default so existing implementations keep compiling.)
    fn is_static(&self) -> bool {
        false
    }
    /// The IPv4 addresses of a DNS name, for `Expr::GetdnsRecord` (host
    /// names in `option routers gw.example;`, `gethostbyname("x")`).
    /// (Added; the default resolves nothing, so such values are missing.)
    fn lookup_host(&self, _name: &str) -> Option<Vec<Ipv4Addr>> {
        None
    }
}

/// Any value, as ISC's binding values (used by `=` and `!=`).
#[derive(Debug, PartialEq)]
enum Val {
    Data(Vec<u8>),
    Num(i64),
    Bool(bool),
}

fn eval_any(e: &Expr, ctx: &dyn EvalContext) -> Option<Val> {
    if crate::expr::is_boolean(e) {
        eval_bool(e, ctx).map(Val::Bool)
    } else if crate::expr::is_numeric(e) {
        eval_num(e, ctx).map(Val::Num)
    } else {
        // Data expressions, and variables (the engine keeps them as data).
        eval_data(e, ctx).map(Val::Data)
    }
}

/// Evaluate a boolean expression; `None` is ISC's "no value" (treat as
/// false where a decision is needed).
pub fn eval_bool(e: &Expr, ctx: &dyn EvalContext) -> Option<bool> {
    match e {
        Expr::True => Some(true),
        Expr::False => Some(false),
        Expr::Equal(a, b) | Expr::NotEqual(a, b) => {
            let equal = match (eval_any(a, ctx), eval_any(b, ctx)) {
                (Some(x), Some(y)) => x == y,
                (None, None) => true,
                _ => false,
            };
            Some(equal == matches!(e, Expr::Equal(..)))
        }
        Expr::And(a, b) => {
            let left = eval_bool(a, ctx)?;
            if !left {
                // tree.c: the right side is not evaluated and the result
                // has no value.
                return None;
            }
            eval_bool(b, ctx)
        }
        Expr::Or(a, b) => {
            let left = eval_bool(a, ctx);
            if left == Some(true) {
                return Some(true);
            }
            let right = eval_bool(b, ctx);
            match (left, right) {
                (None, None) => None,
                (l, r) => Some(l.unwrap_or(false) || r.unwrap_or(false)),
            }
        }
        Expr::Not(a) => eval_bool(a, ctx).map(|v| !v),
        Expr::Exists(code) => Some(ctx.option(code).is_some()),
        Expr::Known => Some(ctx.known()),
        Expr::Static => Some(ctx.is_static()),
        Expr::VariableExists(name) => Some(ctx.variable(name).is_some()),
        Expr::Regex {
            expr,
            pattern,
            icase,
        } => {
            let data = eval_data(expr, ctx)?;
            // regexec sees a C string: the value ends at its first NUL.
            let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
            Some(regex_matches(pattern, *icase, &data[..end]))
        }
        _ => None,
    }
}

thread_local! {
    static REGEX_CACHE: RefCell<HashMap<(String, bool), Option<regex::bytes::Regex>>> =
        RefCell::new(HashMap::new());
}

/// POSIX extended regular expression match (ISC uses regcomp with
/// REG_EXTENDED). A pattern that does not compile matches nothing.
fn regex_matches(pattern: &str, icase: bool, text: &[u8]) -> bool {
    REGEX_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() > 256 {
            cache.clear();
        }
        cache
            .entry((pattern.to_string(), icase))
            .or_insert_with(|| compile_regex(pattern, icase))
            .as_ref()
            .is_some_and(|re| re.is_match(text))
    })
}

pub(crate) fn compile_regex(pattern: &str, icase: bool) -> Option<regex::bytes::Regex> {
    regex::bytes::RegexBuilder::new(pattern)
        .case_insensitive(icase)
        .unicode(false)
        .size_limit(1 << 20)
        .build()
        .ok()
}

/// Evaluate a data expression.
pub fn eval_data(e: &Expr, ctx: &dyn EvalContext) -> Option<Vec<u8>> {
    match e {
        Expr::Const(v) => Some(v.clone()),
        Expr::OptionValue(code) => ctx.option(code),
        Expr::ConfigOption(code) => ctx.config_option(code),
        Expr::Hardware => Some(ctx.hardware()),
        Expr::PacketBytes { offset, len } => {
            let off = eval_num(offset, ctx)? as u64;
            let len = eval_num(len, ctx)? as u64;
            let p = ctx.packet();
            if off >= p.len() as u64 {
                return None;
            }
            let start = off as usize;
            let n = len.min((p.len() - start) as u64) as usize;
            p.get(start..start + n).map(<[u8]>::to_vec)
        }
        Expr::Substring { expr, offset, len } => {
            let data = eval_data(expr, ctx);
            let off = eval_num(offset, ctx);
            let len = eval_num(len, ctx);
            let (data, off, len) = (data?, off? as u64, len? as u64);
            if off >= data.len() as u64 {
                return Some(Vec::new());
            }
            let rest = &data[off as usize..];
            let n = len.min(rest.len() as u64) as usize;
            Some(rest[..n].to_vec())
        }
        Expr::Suffix { expr, len } => {
            let data = eval_data(expr, ctx);
            let len = eval_num(len, ctx);
            let (data, len) = (data?, len? as u64);
            if (data.len() as u64) > len {
                Some(data[data.len() - len as usize..].to_vec())
            } else {
                Some(data)
            }
        }
        Expr::Lcase(a) => eval_data(a, ctx).map(|v| v.to_ascii_lowercase()),
        Expr::Ucase(a) => eval_data(a, ctx).map(|v| v.to_ascii_uppercase()),
        Expr::Concat(parts) => {
            let mut out = Vec::new();
            let mut all = true;
            for p in parts {
                match eval_data(p, ctx) {
                    Some(v) => out.extend(v),
                    None => all = false,
                }
            }
            all.then_some(out)
        }
        Expr::PickFirstValue(parts) => parts.iter().find_map(|p| eval_data(p, ctx)),
        Expr::BinaryToAscii {
            base,
            width,
            separator,
            expr,
        } => {
            let base = eval_num(base, ctx);
            let width = eval_num(width, ctx);
            let sep = eval_data(separator, ctx);
            let data = eval_data(expr, ctx);
            binary_to_ascii(base? as u64, width? as u64, &sep?, &data?)
        }
        Expr::EncodeInt { expr, bits } => {
            let n = eval_num(expr, ctx)? as u64;
            Some(match bits {
                8 => vec![n as u8],
                16 => (n as u16).to_be_bytes().to_vec(),
                _ => (n as u32).to_be_bytes().to_vec(),
            })
        }
        Expr::Reverse { width, expr } => {
            let width = eval_num(width, ctx);
            let data = eval_data(expr, ctx);
            let (w, data) = (width? as u64, data?);
            if w == 0 || !(data.len() as u64).is_multiple_of(w) {
                return None;
            }
            let w = w as usize;
            Some(data.chunks(w).rev().flatten().copied().collect())
        }
        Expr::LeasedAddress => ctx.leased_address().map(|a| a.octets().to_vec()),
        Expr::HostDeclName => ctx.host_decl_name().map(String::into_bytes),
        Expr::Filename => bootp_field(ctx.packet(), 108, 128),
        Expr::ServerName => bootp_field(ctx.packet(), 44, 64),
        Expr::Variable(name) => ctx.variable(name),
        Expr::GetdnsRecord(name) => {
            let name = eval_data(name, ctx)?;
            let addrs = ctx.lookup_host(&String::from_utf8_lossy(&name))?;
            if addrs.is_empty() {
                return None;
            }
            Some(addrs.iter().flat_map(|a| a.octets()).collect())
        }
        _ => None,
    }
}

/// The BOOTP `file` (offset 108, 128 bytes) or `sname` (offset 44, 64
/// bytes) field up to its NUL; missing when empty (RFC 2131 section 2).
fn bootp_field(packet: &[u8], off: usize, len: usize) -> Option<Vec<u8>> {
    let field = packet.get(off..off + len)?;
    if field.first().copied().unwrap_or(0) == 0 {
        return None;
    }
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    Some(field[..end].to_vec())
}

/// ISC's binary-to-ascii (with omapip's converted_length rules).
fn binary_to_ascii(base: u64, width: u64, sep: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    if !matches!(width, 8 | 16 | 32) {
        return None;
    }
    let w = (width / 8) as usize;
    if !data.len().is_multiple_of(w) || base < 2 {
        return None;
    }
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::new();
    for (i, chunk) in data.chunks(w).enumerate() {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        // Bases above 16 print nothing for the number (converted_length 0).
        if base > 16 {
            continue;
        }
        let mut n = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let mut digits = Vec::new();
        loop {
            digits.push(DIGITS[(n % base) as usize]);
            n /= base;
            if n == 0 {
                break;
            }
        }
        out.extend(digits.iter().rev());
    }
    Some(out)
}

/// Evaluate a numeric expression.
pub fn eval_num(e: &Expr, ctx: &dyn EvalContext) -> Option<i64> {
    match e {
        Expr::Number(n) => Some(*n),
        Expr::ExtractInt { expr, bits } => {
            let d = eval_data(expr, ctx)?;
            match bits {
                8 => d.first().map(|&b| i64::from(b)),
                16 => d
                    .get(..2)
                    .map(|b| i64::from(u16::from_be_bytes([b[0], b[1]]))),
                _ => d
                    .get(..4)
                    .map(|b| i64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))),
            }
        }
        Expr::LeaseTime => ctx.lease_time().map(i64::from),
        Expr::Arith { op, lhs, rhs } => {
            let l = eval_num(lhs, ctx);
            let r = eval_num(rhs, ctx);
            let (l, r) = (l? as u64, r? as u64);
            let v = match op {
                ArithOp::Add => l.wrapping_add(r),
                ArithOp::Sub => l.wrapping_sub(r),
                ArithOp::Mul => l.wrapping_mul(r),
                ArithOp::Div => l.checked_div(r)?,
                ArithOp::Rem => l.checked_rem(r)?,
                ArithOp::BitAnd => l & r,
                ArithOp::BitOr => l | r,
                ArithOp::BitXor => l ^ r,
            };
            Some(v as i64)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_to_ascii_rules() {
        assert_eq!(
            binary_to_ascii(16, 8, b":", &[0, 0x0c, 0x29, 0x0e, 0x74, 0x1d]),
            Some(b"0:c:29:e:74:1d".to_vec())
        );
        assert_eq!(
            binary_to_ascii(10, 8, b".", &[10, 0, 0, 5]),
            Some(b"10.0.0.5".to_vec())
        );
        assert_eq!(
            binary_to_ascii(10, 16, b",", &[1, 0, 0, 2]),
            Some(b"256,2".to_vec())
        );
        assert_eq!(binary_to_ascii(16, 16, b",", &[1, 0, 0]), None);
        assert_eq!(binary_to_ascii(16, 7, b",", &[1]), None);
        assert_eq!(
            binary_to_ascii(8, 8, b"", &[8, 64]),
            Some(b"10100".to_vec())
        );
    }

    #[test]
    fn bootp_fields() {
        let mut p = vec![0u8; 300];
        p[108..111].copy_from_slice(b"abc");
        assert_eq!(bootp_field(&p, 108, 128), Some(b"abc".to_vec()));
        assert_eq!(bootp_field(&p, 44, 64), None);
        assert_eq!(bootp_field(&p[..100], 108, 128), None);
    }
}
