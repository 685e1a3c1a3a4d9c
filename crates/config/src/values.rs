//! Values: numbers, addresses, host names, hex lists, option values by
//! ISC format, base64 secrets and dates (ISC `common/parse.c`).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::dns::{name_to_wire, Compressor};
use crate::error::ErrorKind;
use crate::lexer::Kind;
use crate::model::*;
use crate::options;
use crate::parser::{OptRef, Parser, R};

/// Part of an option value: constant bytes, or an expression (a DNS
/// lookup) evaluated when the server runs.
enum Piece {
    Const(Vec<u8>),
    Expr(Expr),
}

fn pieces_to_value(pieces: Vec<Piece>) -> Value {
    if pieces.iter().all(|p| matches!(p, Piece::Const(_))) {
        let mut out = Vec::new();
        for p in pieces {
            if let Piece::Const(b) = p {
                out.extend(b);
            }
        }
        return Value::Const(out);
    }
    let mut parts: Vec<Expr> = Vec::new();
    for p in pieces {
        match p {
            Piece::Const(b) => {
                if let Some(Expr::Const(prev)) = parts.last_mut() {
                    prev.extend(b);
                } else {
                    parts.push(Expr::Const(b));
                }
            }
            Piece::Expr(e) => parts.push(e),
        }
    }
    if parts.len() == 1 {
        if let Some(e) = parts.pop() {
            return Value::Expr(e);
        }
    }
    Value::Expr(Expr::Concat(parts))
}

impl Parser {
    /// ISC's convert_num: a number in `base` (0: from the prefix `0x` or
    /// `0`), `size` bits, written big-endian. Negative values are two's
    /// complement; ISC's overflow check is kept (none for 32 bits).
    pub(crate) fn convert_num(&self, text: &str, base: u32, size: u32) -> R<Vec<u8>> {
        let bytes = text.as_bytes();
        let (negative, mut digits) = match bytes.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, bytes),
        };
        let mut base = base;
        if base == 0 {
            base = 10;
            if digits.first() == Some(&b'0') {
                if digits.get(1) == Some(&b'x') {
                    base = 16;
                    digits = &digits[2..];
                } else if digits.get(1).is_some_and(u8::is_ascii_digit) {
                    base = 8;
                    digits = &digits[1..];
                }
            }
        }
        let mut val: u32 = 0;
        for &c in digits {
            let d = if c >= b'a' {
                u32::from(c - b'a') + 10
            } else if c >= b'A' {
                u32::from(c - b'A') + 10
            } else if c >= b'0' {
                u32::from(c - b'0')
            } else {
                return Err(self.err(format!("Bogus number: {text}.")));
            };
            if d >= base {
                return Err(self.err(format!("Bogus number {text}: digit {d} not in base {base}")));
            }
            val = val.wrapping_mul(base).wrapping_add(d);
        }
        let max: u32 = match (size, negative) {
            (32, false) => u32::MAX,
            (32, true) => 1 << 31,
            (s, false) => (1u32 << s) - 1,
            (s, true) => 1u32 << (s - 1),
        };
        if val > max {
            let shown = match base {
                8 => format!("{val:o}"),
                16 => format!("{val:x}"),
                _ => val.to_string(),
            };
            let sign = if negative { "-" } else { "" };
            return Err(self.invalid(format!("{sign}{shown} exceeds max ({max}) for precision.")));
        }
        let v = if negative { val.wrapping_neg() } else { val };
        Ok(match size {
            8 => vec![v as u8],
            16 => (v as u16).to_be_bytes().to_vec(),
            _ => v.to_be_bytes().to_vec(),
        })
    }

    /// ISC's parse_numeric_aggregate: numbers separated by `sep`; exactly
    /// `max` of them, or any number when `max` is 0.
    pub(crate) fn parse_numeric_aggregate(
        &mut self,
        max: usize,
        sep: u8,
        base: u32,
        size: u32,
    ) -> R<Vec<u8>> {
        let mut out = Vec::new();
        let mut count = 0;
        loop {
            if count > 0 {
                if !self.peek()?.is_punct(sep) {
                    if max == 0 {
                        break;
                    }
                    self.next()?;
                    return Err(self.err("too few numbers."));
                }
                self.next()?;
            }
            let t = self.next()?;
            if t.kind == Kind::Eof {
                return Err(self.err("unexpected end of file"));
            }
            if !(t.kind == Kind::Number || (base == 16 && t.is_num_or_name())) {
                return Err(self.err("expecting numeric value."));
            }
            out.extend(self.convert_num(&t.text(), base, size)?);
            count += 1;
            if count == max {
                break;
            }
        }
        Ok(out)
    }

    /// Is the next thing a dotted-quad (NUMBER DOT NUMBER ...)? ISC looks
    /// that far ahead to tell addresses from all-digit host names.
    pub(crate) fn looks_like_ip(&self) -> R<bool> {
        let t = self.peek()?;
        if t.kind != Kind::Number {
            return Ok(false);
        }
        // Look at the two tokens after the first number.
        Ok(self.peek2().is_punct(b'.') && self.peek_n(2).kind == Kind::Number)
    }

    pub(crate) fn parse_ip_addr(&mut self) -> R<Ipv4Addr> {
        let v = self.parse_numeric_aggregate(4, b'.', 10, 8)?;
        let a: [u8; 4] = v.try_into().map_err(|_| self.err("too few numbers."))?;
        Ok(Ipv4Addr::from(a))
    }

    /// ISC's parse_host_name: `word(.word)*[.]`, words being identifiers or
    /// numbers. None when there is not even one word.
    pub(crate) fn parse_host_name(&mut self) -> R<Option<String>> {
        let mut s = String::new();
        loop {
            let t = self.peek()?;
            if !(t.is_identifier() || t.kind == Kind::Number) {
                break;
            }
            self.next()?;
            s.push_str(&t.text());
            if self.peek()?.is_punct(b'.') {
                self.next()?;
                s.push('.');
            } else {
                break;
            }
        }
        Ok(if s.is_empty() { None } else { Some(s) })
    }

    /// ISC's parse_cshl: hex bytes separated by colons (`01:02:0a`, `2B`).
    pub(crate) fn parse_cshl(&mut self) -> R<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let t = self.next()?;
            if !(t.kind == Kind::Number || t.is_num_or_name()) {
                return Err(self.err("expecting hexadecimal number."));
            }
            out.extend(self.convert_num(&t.text(), 16, 8)?);
            if !self.peek()?.is_punct(b':') {
                return Ok(out);
            }
            self.next()?;
        }
    }

    /// An address or a host name where an option wants `I`. A name becomes
    /// a DNS lookup; where one address is expected (not `uniform`), ISC
    /// keeps only its first 4 bytes.
    fn parse_ip_or_lookup(&mut self, uniform: bool) -> R<Piece> {
        match self.parse_host_addr()? {
            HostAddr::Ip(a) => Ok(Piece::Const(a.octets().to_vec())),
            HostAddr::Name(n) => {
                let lookup = Expr::GetdnsRecord(Box::new(Expr::Const(n.into_bytes())));
                Ok(Piece::Expr(if uniform {
                    lookup
                } else {
                    Expr::Substring {
                        expr: Box::new(lookup),
                        offset: Box::new(Expr::Number(0)),
                        len: Box::new(Expr::Number(4)),
                    }
                }))
            }
        }
    }

    /// ISC's parse_ip6_addr: adjacent hex words, numbers, dots and colons
    /// glued together and read as an IPv6 address.
    pub(crate) fn parse_ip6_addr(&mut self) -> R<Ipv6Addr> {
        let mut text = String::new();
        let mut first = true;
        loop {
            let t = self.peek()?;
            let hexword = t.is_identifier() && t.val.iter().all(u8::is_ascii_hexdigit);
            let ok = hexword || t.kind == Kind::Number || t.is_punct(b'.') || t.is_punct(b':');
            if !ok || (!first && t.space_before) {
                break;
            }
            self.next()?;
            text.push_str(&t.text());
            first = false;
            if text.len() > 45 {
                break;
            }
        }
        text.parse::<Ipv6Addr>()
            .map_err(|_| self.err("Invalid IPv6 address."))
    }

    /// `option NAME ...;` after the name: `;` alone, `= EXPR;` or a value
    /// in the option's format. None when there is no value (ISC keeps a
    /// statement that does nothing).
    pub(crate) fn parse_option_value(&mut self, def: &OptRef) -> R<Option<Value>> {
        let t = self.peek()?;
        if t.is_punct(b';') && !def.format.starts_with('Z') {
            self.next()?;
            let span = self.here();
            self.warn(
                span,
                format!(
                    "option {}: no value given; the statement does nothing",
                    def.name
                ),
            );
            return Ok(None);
        }
        let value = if t.is_punct(b'=') {
            self.next()?;
            match self.parse_data_expression()? {
                Some(e) => Value::Expr(e),
                None => return Err(self.err("expecting a data expression.")),
            }
        } else {
            self.parse_option_data(def)?
        };
        self.semi()?;
        Ok(Some(value))
    }

    /// An option statement (`option`, `supersede`, `default`, `append`,
    /// `prepend`, or a server parameter) after its name.
    pub(crate) fn parse_option_statement(
        &mut self,
        def: &OptRef,
        how: OptionHow,
    ) -> R<Option<Stmt>> {
        let Some(value) = self.parse_option_value(def)? else {
            return Ok(None);
        };
        if def.space == "server" {
            return Ok(Some(server_param(&def.name, value)));
        }
        Ok(Some(Stmt::Option {
            code: OptionCode {
                space: def.space.clone(),
                code: def.code,
            },
            how,
            value,
        }))
    }

    /// ISC's parse_option_data: read a value as the format says. `A`
    /// repeats the whole format after a comma, `a` the item before it.
    pub(crate) fn parse_option_data(&mut self, def: &OptRef) -> R<Value> {
        let fmt = def.format.as_bytes();
        let at = |i: usize| fmt.get(i).copied().unwrap_or(0);
        let mut pieces = Vec::new();
        let mut pos: Option<usize> = None;
        loop {
            let mut j = match pos {
                Some(j) if j != 0 && at(j) == b'a' => j - 1,
                Some(j) if at(j) != b'A' => j,
                _ => 0,
            };
            // An array of one item ("IA", "Sa"): host names keep all
            // their addresses.
            let uniform = at(j) != b'Z' && at(j + 1).eq_ignore_ascii_case(&b'a');
            while at(j) != 0 && at(j) != b'A' && at(j) != b'a' {
                if at(j) == b'o' {
                    j += 1;
                    continue;
                }
                if at(j + 1) == b'o' && self.peek()?.is_punct(b';') {
                    j += 1;
                    continue;
                }
                j = self.parse_option_token(fmt, j, uniform, &mut pieces)?;
                j += 1;
            }
            let c = at(j);
            if c != b'A' && c != b'a' {
                break;
            }
            if self.peek()?.is_punct(b',') {
                self.next()?;
                pos = Some(j);
                continue;
            }
            if c == b'A' || at(j + 1) == 0 {
                break;
            }
            // `a` followed by more items: go on after it.
            pos = Some(j + 1);
        }
        Ok(pieces_to_value(pieces))
    }

    /// One item of a format at `fmt[j]`; returns the index of the item's
    /// last format character.
    fn parse_option_token(
        &mut self,
        fmt: &[u8],
        mut j: usize,
        uniform: bool,
        out: &mut Vec<Piece>,
    ) -> R<usize> {
        let c = fmt.get(j).copied().unwrap_or(0);
        match c {
            b'U' => {
                let t = self.next()?;
                if !t.is_identifier() {
                    return Err(self.err("expecting identifier."));
                }
                out.push(Piece::Const(t.val.clone()));
            }
            b'E' | b'X' => {
                if c == b'E' {
                    while fmt.get(j).is_some_and(|&c| c != b'.') {
                        j += 1;
                    }
                }
                let t = self.peek()?;
                if t.kind == Kind::Number || t.is_num_or_name() {
                    out.push(Piece::Const(self.parse_cshl()?));
                } else {
                    let t = self.next()?;
                    if t.kind != Kind::Str {
                        return Err(self.err("expecting string or hexadecimal data."));
                    }
                    out.push(Piece::Const(t.val.clone()));
                }
            }
            b'D' => {
                let compress = fmt.get(j + 1) == Some(&b'c');
                if compress {
                    j += 1;
                }
                out.push(Piece::Const(self.parse_domain_list(compress)?));
            }
            b'd' => {
                let Some(name) = self.parse_host_name()? else {
                    return Err(self.err("not a valid domain name."));
                };
                let wire = name_to_wire(name.as_bytes())
                    .map_err(|_| self.invalid("Error assembling domain name: Message too long"))?;
                out.push(Piece::Const(wire));
            }
            b't' => {
                let t = self.next()?;
                if t.kind != Kind::Str && !t.is_identifier() {
                    return Err(self.err("expecting string."));
                }
                out.push(Piece::Const(t.val.clone()));
            }
            b'k' => {
                let t = self.peek()?;
                let v = if t.kind == Kind::Str {
                    self.next()?;
                    t.val.clone()
                } else {
                    match self.parse_host_name()? {
                        Some(n) => n.into_bytes(),
                        None => return Err(self.err("not a valid key name.")),
                    }
                };
                out.push(Piece::Const(v));
            }
            b'N' => {
                let start = j + 1;
                while fmt.get(j).is_some_and(|&c| c != b'.') {
                    j += 1;
                }
                let name =
                    String::from_utf8_lossy(fmt.get(start..j).unwrap_or_default()).into_owned();
                let t = self.next()?;
                if !t.is_identifier() {
                    return Err(self.err("identifier expected"));
                }
                match options::enumeration_value(&name, &t.text()) {
                    Some(v) => out.push(Piece::Const(v)),
                    None => return Err(self.invalid("unknown value")),
                }
            }
            b'I' => out.push(self.parse_ip_or_lookup(uniform)?),
            b'6' => out.push(Piece::Const(self.parse_ip6_addr()?.octets().to_vec())),
            b'T' | b'L' | b'l' | b's' | b'S' | b'b' | b'B' => {
                let t = self.next()?;
                if c == b'T' && t.is_kw("infinite") {
                    out.push(Piece::Const(vec![0xff; 4]));
                } else {
                    if !(t.kind == Kind::Number || t.is_num_or_name()) {
                        return Err(self.err("expecting number."));
                    }
                    let size = match c {
                        b's' | b'S' => 16,
                        b'b' | b'B' => 8,
                        _ => 32,
                    };
                    out.push(Piece::Const(self.convert_num(&t.text(), 0, size)?));
                }
            }
            b'f' => {
                let t = self.next()?;
                if !t.is_identifier() {
                    return Err(self.err("expecting identifier."));
                }
                let v = t.text().to_ascii_lowercase();
                let b = match v.as_str() {
                    "true" | "on" => 1,
                    "false" | "off" => 0,
                    "ignore" => 2,
                    _ => return Err(self.err("expecting boolean.")),
                };
                out.push(Piece::Const(vec![b]));
            }
            b'Z' => {
                if !self.peek()?.is_punct(b';') {
                    self.next()?;
                    return Err(self.err("semicolon expected."));
                }
                out.push(Piece::Const(Vec::new()));
            }
            _ => {
                return Err(self.err_at(
                    self.here(),
                    ErrorKind::Invalid,
                    format!("Bad format '{}' in parse_option_token.", c as char),
                ))
            }
        }
        Ok(j)
    }

    /// `"a.example", "b.example"`: names in RFC 1035 wire format, one after
    /// another, compressed (RFC 1035 4.1.4) when asked (ISC's `Dc`).
    fn parse_domain_list(&mut self, compress: bool) -> R<Vec<u8>> {
        let mut c = Compressor::default();
        let mut plain = Vec::new();
        loop {
            let t = self.next()?;
            if t.kind != Kind::Str {
                return Err(self.err("Expecting a domain string."));
            }
            if compress {
                c.push(&t.val)
                    .map_err(|_| self.invalid("Error compressing domain list: Message too long"))?;
            } else {
                let w = name_to_wire(&t.val)
                    .map_err(|_| self.invalid("Error assembling domain list: Message too long"))?;
                plain.extend(w);
            }
            if !self.peek()?.is_punct(b',') {
                break;
            }
            self.next()?;
        }
        Ok(if compress { c.buf } else { plain })
    }

    /// ISC's parse_base64: tokens glued while the next one still looks
    /// like base64 (`+` and `/` split a value into several tokens).
    pub(crate) fn parse_base64(&mut self) -> R<Vec<u8>> {
        let valid = |b: &[u8]| {
            b.iter()
                .all(|&c| c == b'=' || c == b'+' || c == b'/' || c.is_ascii_alphanumeric())
        };
        let mut text = Vec::new();
        loop {
            let t = self.next()?;
            text.extend_from_slice(&t.val);
            let n = self.peek()?;
            if n.kind == Kind::Eof || !valid(&n.val) {
                break;
            }
        }
        let mut out = Vec::new();
        let mut acc: u32 = 0;
        let mut k = 0usize;
        let mut terminated = false;
        for (i, &c) in text.iter().enumerate() {
            if terminated && c != b'=' {
                let rest = String::from_utf8_lossy(&text[i..]).into_owned();
                return Err(self.invalid(format!("stuff after base64 '=' terminator: {rest}.")));
            }
            if c == b'=' {
                terminated = true;
                k += 1;
                continue;
            }
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return Err(self.invalid(format!("invalid base64 character {c}."))),
            };
            acc = (acc << 6) + u32::from(v);
            match k % 4 {
                1 => {
                    out.push((acc >> 4) as u8);
                    acc &= 0x0f;
                }
                2 => {
                    out.push((acc >> 2) as u8);
                    acc &= 0x03;
                }
                3 => {
                    out.push(acc as u8);
                    acc = 0;
                }
                _ => {}
            }
            k += 1;
        }
        if !k.is_multiple_of(4) && acc != 0 {
            return Err(self.invalid(format!("partial base64 value left over: {acc}.")));
        }
        Ok(out)
    }

    /// ISC's parse_date_core: `W YYYY/MM/DD HH:MM:SS [TZOFF]`, `epoch N`
    /// or `never`, as seconds since the epoch (ISC's own arithmetic).
    pub(crate) fn parse_date_core(&mut self) -> R<tandem_lease::Time> {
        const MAX_TIME: u64 = 0x7fff_ffff;
        let t = self.peek()?;
        if t.is_kw("never") {
            self.next()?;
            return Ok(MAX_TIME);
        }
        if t.is_kw("epoch") {
            self.next()?;
            let n = self.next()?;
            if n.kind != Kind::Number {
                return Err(self.err("Seconds since epoch expected."));
            }
            return Ok(Self::atoi(&n).max(0) as u64);
        }
        let num = |p: &mut Self, msg: &str| -> R<i64> {
            let t = p.next()?;
            if t.kind != Kind::Number {
                return Err(p.err(msg));
            }
            Ok(Self::atoi(&t))
        };
        let punct = |p: &mut Self, c: u8, msg: &str| -> R<()> {
            if p.next()?.is_punct(c) {
                Ok(())
            } else {
                Err(p.err(msg))
            }
        };
        num(self, "numeric day of week expected.")?;
        let mut year = num(self, "numeric year expected.")?;
        if year > 1900 {
            year -= 1900;
        }
        punct(self, b'/', "expected slash separating year from month.")?;
        let mon = num(self, "numeric month expected.")? - 1;
        punct(self, b'/', "expected slash separating month from day.")?;
        let mday = num(self, "numeric day of month expected.")?;
        let hour = num(self, "numeric hour expected.")?;
        punct(self, b':', "expected colon separating hour from minute.")?;
        let min = num(self, "numeric minute expected.")?;
        punct(self, b':', "expected colon separating minute from second.")?;
        let sec = num(self, "numeric second expected.")?;
        let mut tzoff = 0;
        let t = self.peek()?;
        if t.kind == Kind::Number {
            self.next()?;
            tzoff = Self::atoi(&t);
        } else if !t.is_punct(b';') {
            self.next()?;
            return Err(self.err("Time zone offset or semicolon expected."));
        }
        if !(0..12).contains(&mon) {
            return Err(self.invalid("month out of range."));
        }
        if year >= 138 {
            return Ok(MAX_TIME);
        }
        // Days before each month of a common year.
        const MONTHS: [i64; 11] = [31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        let days = 365 * (year - 70)
            + (year - 69) / 4
            + if mon > 0 {
                MONTHS[(mon - 1) as usize]
            } else {
                0
            }
            + i64::from(mon > 1 && (year - 72) & 3 == 0)
            + mday
            - 1;
        let guess = (((days * 24 + hour) * 60 + min) * 60) + sec + tzoff;
        Ok(guess.max(0) as u64)
    }
}

/// A server-space option (ISC's "config option") as a statement: known
/// parameters as `Param`, allow/deny settings as `AccessControl`, DDNS
/// ones as `Ddns`, the rest as `Param::Other`. Numbers become 4 bytes.
pub(crate) fn server_param(name: &str, value: Value) -> Stmt {
    // The static name from the table (Param::Other wants &'static str).
    let static_name = options::BUILTIN_OPTIONS
        .iter()
        .find(|(s, n, _, _)| *s == "server" && n.eq_ignore_ascii_case(name))
        .map(|(_, n, _, f)| (*n, *f));
    let (name, format) = static_name.unwrap_or(("unknown", "X"));
    // Numeric formats are widened to u32 as the model says.
    let value = match value {
        Value::Const(v) if matches!(format, "S" | "B") => {
            let mut n: u32 = 0;
            for b in &v {
                n = (n << 8) | u32::from(*b);
            }
            Value::Const(n.to_be_bytes().to_vec())
        }
        v => v,
    };
    let access = match name {
        "boot-unknown-clients" => Some(AccessFlag::UnknownClients),
        "allow-bootp" => Some(AccessFlag::Bootp),
        "allow-booting" => Some(AccessFlag::Booting),
        "dynamic-bootp" => Some(AccessFlag::DynamicBootp),
        "duplicates" => Some(AccessFlag::Duplicates),
        "declines" => Some(AccessFlag::Declines),
        "client-updates" => Some(AccessFlag::ClientUpdates),
        "leasequery" => Some(AccessFlag::Leasequery),
        _ => None,
    };
    if let (Some(what), Value::Const(v)) = (access, &value) {
        let allow = match v.first() {
            Some(1) => Some(AllowMode::Allow),
            Some(0) => Some(AllowMode::Deny),
            Some(2) => Some(AllowMode::Ignore),
            _ => None,
        };
        if let Some(allow) = allow {
            return Stmt::AccessControl { what, allow };
        }
    }
    let param = match name {
        "default-lease-time" => Param::DefaultLeaseTime,
        "max-lease-time" => Param::MaxLeaseTime,
        "min-lease-time" => Param::MinLeaseTime,
        "next-server" => Param::NextServer,
        "filename" => Param::Filename,
        "server-name" => Param::ServerName,
        "get-lease-hostnames" => Param::GetLeaseHostnames,
        "use-host-decl-names" => Param::UseHostDeclNames,
        "one-lease-per-client" => Param::OneLeasePerClient,
        "ping-check" => Param::PingCheck,
        "ping-timeout" => Param::PingTimeout,
        "always-broadcast" => Param::AlwaysBroadcast,
        "always-reply-rfc1048" => Param::AlwaysReplyRfc1048,
        "boot-unknown-clients" => Param::BootUnknownClients,
        "dynamic-bootp-lease-length" => Param::DynamicBootpLeaseLength,
        "dynamic-bootp-lease-cutoff" => Param::DynamicBootpLeaseCutoff,
        "min-secs" => Param::MinSecs,
        "stash-agent-options" => Param::StashAgentOptions,
        "update-conflict-detection" => Param::UpdateConflictDetection,
        "abandon-lease-time" => Param::AbandonLeaseTime,
        "dhcp-cache-threshold" => Param::DhcpCacheThreshold,
        "local-address" => Param::LocalAddress,
        "authoritative" => Param::Authoritative,
        "vendor-option-space" => Param::VendorOptionSpace,
        "site-option-space" => Param::SiteOptionSpace,
        n if n.starts_with("ddns-")
            || matches!(
                n,
                "update-static-leases"
                    | "update-optimization"
                    | "do-forward-updates"
                    | "do-reverse-updates"
                    | "client-updates"
                    | "fqdn-reply"
            ) =>
        {
            return Stmt::Ddns {
                name: n.to_string(),
                value: Some(value),
            }
        }
        n => Param::Other(n),
    };
    Stmt::Param { param, value }
}
