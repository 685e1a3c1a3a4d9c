//! Reading `dhcpd.leases`.
//!
//! The file is a sequence of top-level statements, each ending with `;` or
//! with the `}` that closes its block. We split it into statements first and
//! parse each one on its own, so that:
//!
//! * a statement cut off at the end of the file (the torn last record of a
//!   crash in the middle of a write) is dropped and reported in
//!   [`ParseOutcome::torn_tail`] instead of being fatal;
//! * a malformed statement in the middle of the file is reported as a warning
//!   with its line and skipped, and every other record is kept. ISC stops
//!   trusting the file at the first parse warning ("possibly corrupt lease
//!   file") and keeps what it could read; since our records are independent
//!   (the last one for an address wins), skipping one damaged record loses
//!   only that record, while refusing to start would take the whole server
//!   down for one bad line;
//! * a record left open in the middle of the file (no closing brace) does not
//!   swallow the records after it: a top-level keyword (`lease`, `host`,
//!   `failover`, ...) at the start of a line always begins a new statement, as
//!   every writer puts them in column 0 and indents what is inside a block.

use std::net::Ipv4Addr;

use thiserror::Error;

use crate::lex::{Lexer, Tok, Token};
use crate::time::{days_from_civil, days_in_month};
use crate::{
    BindingState, FailoverState, FailoverStateRecord, Hardware, HostRecord, Lease, PeerStateEntry,
    Record, Time, INFINITE,
};

/// Everything read from a lease file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParseOutcome {
    /// The records, in file order.
    pub records: Vec<Record>,
    /// Problems found, in file order.
    pub warnings: Vec<ParseWarning>,
    /// An incomplete last statement that was dropped.
    pub torn_tail: Option<TornTail>,
}

/// The incomplete statement at the end of a file: `len` bytes from byte
/// `offset` (starting on `line`) that do not form a complete statement.
/// Truncating the file to `offset` leaves it parseable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    pub line: usize,
    pub offset: usize,
    pub len: usize,
}

/// A problem found while reading the file. Never fatal.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {kind}")]
pub struct ParseWarning {
    /// 1-based line where the problem is.
    pub line: usize,
    pub kind: WarningKind,
}

impl ParseWarning {
    /// Whether information from the file was dropped (a record or a statement
    /// inside one), as opposed to a remark about something that was read.
    pub fn loses_data(&self) -> bool {
        matches!(
            self.kind,
            WarningKind::SkippedRecord { .. } | WarningKind::IgnoredStatement { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WarningKind {
    /// A whole top-level record could not be read and was skipped.
    #[error("skipped {keyword:?} record: {error}")]
    SkippedRecord { keyword: String, error: SyntaxError },
    /// A statement inside a record was not understood and was dropped; the
    /// rest of the record was kept.
    #[error("ignored {keyword:?} statement: {error}")]
    IgnoredStatement { keyword: String, error: SyntaxError },
    /// The same field twice in one record (ISC: "Too many ... parameters");
    /// the last one counts.
    #[error("{field} given more than once; the last one counts")]
    Duplicate { field: &'static str },
    /// A lease with no `binding state` (files older than ISC 3.0). Assumed
    /// active when it has an end time (expiry processing then ends it if
    /// that time has passed), free otherwise.
    #[error("lease {addr} has no binding state; assumed {assumed}")]
    MissingBindingState {
        addr: Ipv4Addr,
        assumed: &'static str,
    },
}

/// Why a statement could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SyntaxError {
    #[error("expected {what}, found {found:?}")]
    Expected { what: &'static str, found: String },
    #[error("expected {what}, found the end of the statement")]
    MissingToken { what: &'static str },
    #[error("the block is not closed before the next record begins")]
    Unclosed,
    #[error("a string is not closed before the end of the line")]
    UnterminatedString,
    #[error("bad number {0:?}")]
    BadNumber(String),
    #[error("bad IPv4 address {0:?}")]
    BadAddress(String),
    #[error("bad date: {0}")]
    BadDate(&'static str),
    #[error("bad hardware address: {0}")]
    BadHardware(&'static str),
    #[error("unknown binding state {0:?}")]
    UnknownBindingState(String),
    #[error("unknown failover state {0:?}")]
    UnknownFailoverState(String),
    #[error("unknown statement {0:?}")]
    UnknownStatement(String),
    #[error("zero-length client identifier")]
    EmptyUid,
}

/// Top-level keywords kept verbatim as [`Record::Other`]: written by ISC
/// (`server-duid` and `ia-*` for DHCPv6, dynamic classes and groups, the
/// byte-order line) but not interpreted by a DHCPv4 lease store.
const OTHER_KEYWORDS: &[&str] = &[
    "authoring-byte-order",
    "server-duid",
    "db-time-format",
    "class",
    "subclass",
    "group",
    "ia-na",
    "ia-ta",
    "ia-pd",
];

/// Keywords that, in column 0, always begin a new top-level statement.
fn starts_record(t: &Token<'_>) -> bool {
    t.col0
        && t.word().is_some_and(|w| {
            matches!(w, b"lease" | b"host" | b"failover")
                || OTHER_KEYWORDS.iter().any(|k| k.as_bytes() == w)
        })
}

/// Parse a lease file. Never fails and never panics: problems become
/// warnings, an incomplete last statement becomes the torn tail.
pub fn parse(text: &str) -> ParseOutcome {
    parse_bytes(text.as_bytes())
}

/// [`parse`] over raw bytes (the file need not be UTF-8).
pub fn parse_bytes(src: &[u8]) -> ParseOutcome {
    let mut out = ParseOutcome::default();
    let mut cur: Vec<Token<'_>> = Vec::new();
    let mut depth = 0usize;
    let mut bad_string = false;
    for tok in Lexer::new(src) {
        if !cur.is_empty() && starts_record(&tok) {
            // The previous statement was never finished.
            if let Some(first) = cur.first() {
                out.warnings.push(ParseWarning {
                    line: first.line,
                    kind: WarningKind::SkippedRecord {
                        keyword: word_text(first),
                        error: SyntaxError::Unclosed,
                    },
                });
            }
            cur.clear();
            depth = 0;
            bad_string = false;
        }
        let complete = match tok.tok {
            Tok::Unterminated { at_eof: true } => {
                // Only the end of the file can follow: this is a torn tail.
                cur.push(tok);
                break;
            }
            Tok::Unterminated { at_eof: false } => {
                bad_string = true;
                false
            }
            Tok::Punct(b'{') => {
                depth += 1;
                false
            }
            Tok::Punct(b'}') => {
                depth = depth.saturating_sub(1);
                depth == 0
            }
            Tok::Punct(b';') => depth == 0,
            _ => false,
        };
        cur.push(tok);
        if complete {
            statement(src, &cur, bad_string, &mut out);
            cur.clear();
            bad_string = false;
        }
    }
    if let Some(first) = cur.first() {
        out.torn_tail = Some(TornTail {
            line: first.line,
            offset: first.start,
            len: src.len().saturating_sub(first.start),
        });
    }
    out
}

fn word_text(t: &Token<'_>) -> String {
    match &t.tok {
        Tok::Word(w) => String::from_utf8_lossy(w).into_owned(),
        Tok::Str(s) => String::from_utf8_lossy(s).into_owned(),
        Tok::Punct(c) => char::from(*c).to_string(),
        Tok::Unterminated { .. } => "\"".to_string(),
    }
}

fn raw_text(src: &[u8], toks: &[Token<'_>]) -> String {
    match (toks.first(), toks.last()) {
        (Some(a), Some(b)) => {
            String::from_utf8_lossy(src.get(a.start..b.end).unwrap_or_default()).into_owned()
        }
        _ => String::new(),
    }
}

/// One complete top-level statement.
fn statement(src: &[u8], toks: &[Token<'_>], bad_string: bool, out: &mut ParseOutcome) {
    let Some(first) = toks.first() else { return };
    let line = first.line;
    let keyword = word_text(first);
    let mut warnings = Vec::new();
    let result = if bad_string {
        Err(SyntaxError::UnterminatedString)
    } else {
        match first.word() {
            Some(b"lease") => parse_lease(src, toks, &mut warnings).map(Record::Lease),
            Some(b"failover") => parse_failover(toks).map(Record::FailoverState),
            Some(b"host") => parse_host(src, toks, &mut warnings).map(Record::Host),
            Some(w) if OTHER_KEYWORDS.iter().any(|k| k.as_bytes() == w) => {
                Ok(Record::Other(raw_text(src, toks)))
            }
            _ => Err(SyntaxError::UnknownStatement(keyword.clone())),
        }
    };
    match result {
        Ok(r) => {
            out.records.push(r);
            out.warnings.extend(warnings);
        }
        Err(error) => out.warnings.push(ParseWarning {
            line,
            kind: WarningKind::SkippedRecord { keyword, error },
        }),
    }
}

/// A cursor over the tokens of one statement.
struct Cur<'t, 'a> {
    toks: &'t [Token<'a>],
    i: usize,
}

fn describe(t: &Token<'_>) -> String {
    match &t.tok {
        Tok::Str(_) => "a string".to_string(),
        _ => word_text(t),
    }
}

impl<'t, 'a> Cur<'t, 'a> {
    fn new(toks: &'t [Token<'a>]) -> Self {
        Cur { toks, i: 0 }
    }

    fn peek(&self) -> Option<&'t Token<'a>> {
        self.toks.get(self.i)
    }

    fn next(&mut self) -> Option<&'t Token<'a>> {
        let t = self.toks.get(self.i);
        if t.is_some() {
            self.i += 1;
        }
        t
    }

    fn token(&mut self, what: &'static str) -> Result<&'t Token<'a>, SyntaxError> {
        self.next().ok_or(SyntaxError::MissingToken { what })
    }

    fn word(&mut self, what: &'static str) -> Result<&'a [u8], SyntaxError> {
        let t = self.token(what)?;
        match t.tok {
            Tok::Word(w) => Ok(w),
            _ => Err(SyntaxError::Expected {
                what,
                found: describe(t),
            }),
        }
    }

    fn keyword(&mut self, kw: &'static str) -> Result<(), SyntaxError> {
        let t = self.token(kw)?;
        if t.is_word(kw) {
            Ok(())
        } else {
            Err(SyntaxError::Expected {
                what: kw,
                found: describe(t),
            })
        }
    }

    fn punct(&mut self, c: u8, what: &'static str) -> Result<(), SyntaxError> {
        let t = self.token(what)?;
        if t.is_punct(c) {
            Ok(())
        } else {
            Err(SyntaxError::Expected {
                what,
                found: describe(t),
            })
        }
    }

    /// The final `;` of a statement, and nothing after it.
    fn semi(&mut self) -> Result<(), SyntaxError> {
        self.punct(b';', "\";\"")?;
        self.end()
    }

    fn end(&mut self) -> Result<(), SyntaxError> {
        match self.next() {
            None => Ok(()),
            Some(t) => Err(SyntaxError::Expected {
                what: "the end of the statement",
                found: describe(t),
            }),
        }
    }

    fn number<T: std::str::FromStr>(&mut self, what: &'static str) -> Result<T, SyntaxError> {
        let w = self.word(what)?;
        parse_num(w)
    }
}

fn parse_num<T: std::str::FromStr>(w: &[u8]) -> Result<T, SyntaxError> {
    std::str::from_utf8(w)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| SyntaxError::BadNumber(String::from_utf8_lossy(w).into_owned()))
}

/// A dotted-quad address as ISC's `parse_numeric_aggregate(DOT, 10, 8)` reads it.
fn parse_addr(w: &[u8]) -> Result<Ipv4Addr, SyntaxError> {
    let bad = || SyntaxError::BadAddress(String::from_utf8_lossy(w).into_owned());
    let mut octets = [0u8; 4];
    let mut parts = w.split(|b| *b == b'.');
    for o in &mut octets {
        let p = parts.next().ok_or_else(bad)?;
        if p.is_empty() || p.len() > 3 || !p.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        *o = parse_num(p).map_err(|_| bad())?;
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(Ipv4Addr::from(octets))
}

/// A date and the `;` after it (`parse_date`, `common/parse.c`):
/// `never`, `epoch N`, or `W YYYY/MM/DD HH:MM:SS [tzoff]`. The day of the
/// week is ignored, as ISC does. Times from 2038-01-19 03:14:07 on become
/// [`INFINITE`].
fn parse_date(c: &mut Cur<'_, '_>) -> Result<Time, SyntaxError> {
    let first = c.word("a date")?;
    let t = match first {
        b"never" => INFINITE,
        b"epoch" => c.number::<u64>("seconds since the epoch")?.min(INFINITE),
        weekday => {
            parse_num::<u32>(weekday)?;
            let mut year: i64 = c.number("year")?;
            // ISC: "if (year > 1900) year -= 1900", i.e. both 2026 and 126 mean 2026.
            if year <= 1900 {
                year += 1900;
            }
            c.punct(b'/', "\"/\"")?;
            let month: u32 = c.number("month")?;
            c.punct(b'/', "\"/\"")?;
            let day: u32 = c.number("day")?;
            let hour: u32 = c.number("hour")?;
            c.punct(b':', "\":\"")?;
            let minute: u32 = c.number("minute")?;
            c.punct(b':', "\":\"")?;
            let second: u32 = c.number("second")?;
            // Optional time zone offset in seconds.
            let tzoff: i64 = match c.peek() {
                Some(t) if t.word().is_some() => c.number("time zone offset")?,
                _ => 0,
            };
            if !(1..=12).contains(&month) {
                return Err(SyntaxError::BadDate("month out of range"));
            }
            if hour > 23 || minute > 59 || second > 60 {
                return Err(SyntaxError::BadDate("time of day out of range"));
            }
            if year > 2038 {
                // Past INFINITE anyway. ISC returns its max time from 2038
                // on; we compute January 2038 exactly, which keeps every time
                // we print readable back as itself.
                INFINITE
            } else {
                if year < 1970 {
                    return Err(SyntaxError::BadDate("before 1970"));
                }
                if day < 1 || day > days_in_month(year, month) {
                    return Err(SyntaxError::BadDate("day out of range"));
                }
                let secs = days_from_civil(year, month, day) * 86_400
                    + i64::from(hour * 3600 + minute * 60 + second);
                let secs = secs.saturating_add(tzoff);
                let secs = u64::try_from(secs).map_err(|_| SyntaxError::BadDate("before 1970"))?;
                secs.min(INFINITE)
            }
        }
    };
    c.semi()?;
    Ok(t)
}

/// Colon-separated hex octets (`parse_numeric_aggregate(':', 16, 8)`), up to
/// the final `;`.
fn parse_hex_list(c: &mut Cur<'_, '_>) -> Result<Vec<u8>, SyntaxError> {
    let mut out = Vec::new();
    loop {
        let t = c.token("hex octets")?;
        if t.is_punct(b';') && out.is_empty() {
            break;
        }
        let w = match t.tok {
            Tok::Word(w) if !w.is_empty() && w.len() <= 2 => w,
            _ => {
                return Err(SyntaxError::Expected {
                    what: "a hex octet",
                    found: describe(t),
                })
            }
        };
        let s = std::str::from_utf8(w).map_err(|_| SyntaxError::BadNumber(describe(t)))?;
        out.push(u8::from_str_radix(s, 16).map_err(|_| SyntaxError::BadNumber(describe(t)))?);
        let sep = c.token("\";\"")?;
        if sep.is_punct(b';') {
            break;
        }
        if !sep.is_punct(b':') {
            return Err(SyntaxError::Expected {
                what: "\":\" or \";\"",
                found: describe(sep),
            });
        }
    }
    c.end()?;
    Ok(out)
}

/// Longest hardware address ISC stores (`HARDWARE_ADDR_LEN`).
const MAX_HWADDR: usize = 16;

/// `hardware TYPE [OCTETS];` (`parse_hardware_param`).
fn parse_hardware(c: &mut Cur<'_, '_>) -> Result<Hardware, SyntaxError> {
    let kind = c.word("a hardware type")?;
    let htype = match kind {
        b"ethernet" => 1,
        b"token-ring" => 6,
        b"fddi" => 8,
        b"infiniband" => 32,
        other => match other.strip_prefix(b"unknown-") {
            Some(n) => parse_num::<u8>(n)?,
            None => return Err(SyntaxError::BadHardware("unknown hardware type")),
        },
    };
    let addr = parse_hex_list(c)?;
    if addr.len() > MAX_HWADDR {
        return Err(SyntaxError::BadHardware("longer than 16 octets"));
    }
    Ok(Hardware { htype, addr })
}

/// `uid "string";` or `uid 01:02:..;` (the latter with `lease-id-format hex`).
fn parse_uid(c: &mut Cur<'_, '_>) -> Result<Vec<u8>, SyntaxError> {
    let uid = match c.peek().map(|t| &t.tok) {
        Some(Tok::Str(s)) => {
            c.next();
            c.semi()?;
            s.clone()
        }
        _ => parse_hex_list(c)?,
    };
    if uid.is_empty() {
        return Err(SyntaxError::EmptyUid);
    }
    Ok(uid)
}

fn binding_state(w: &[u8]) -> Result<(BindingState, Option<&'static str>), SyntaxError> {
    let s = std::str::from_utf8(w).unwrap_or("");
    if let Some(b) = BindingState::from_keyword(s) {
        return Ok((b, None));
    }
    // ISC keeps these two for older files: active, with a flag.
    match s {
        "reserved" => Ok((BindingState::Active, Some("reserved"))),
        "bootp" => Ok((BindingState::Active, Some("bootp"))),
        _ => Err(SyntaxError::UnknownBindingState(
            String::from_utf8_lossy(w).into_owned(),
        )),
    }
}

/// Split the inside of a block into its statements, each ending with `;` or
/// with the `}` of a nested block. `toks` is a complete, balanced statement
/// `HEAD... { BODY }`; `open` is the index of its `{`.
fn block_items<'t, 'a>(
    toks: &'t [Token<'a>],
    open: usize,
) -> Result<Vec<&'t [Token<'a>]>, SyntaxError> {
    let body = match toks.len().checked_sub(1) {
        Some(close) if close > open && toks.get(close).is_some_and(|t| t.is_punct(b'}')) => {
            toks.get(open + 1..close).unwrap_or_default()
        }
        _ => return Err(SyntaxError::MissingToken { what: "\"}\"" }),
    };
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    for (i, t) in body.iter().enumerate() {
        let done = match t.tok {
            Tok::Punct(b'{') => {
                depth += 1;
                false
            }
            Tok::Punct(b'}') => {
                depth = depth.saturating_sub(1);
                depth == 0
            }
            Tok::Punct(b';') => depth == 0,
            _ => false,
        };
        if done {
            items.push(body.get(start..=i).unwrap_or_default());
            start = i + 1;
        }
    }
    if start < body.len() {
        return Err(SyntaxError::MissingToken { what: "\";\"" });
    }
    Ok(items)
}

/// Parse `HEAD {` and return the index of the `{`.
fn expect_open(c: &mut Cur<'_, '_>) -> Result<usize, SyntaxError> {
    c.punct(b'{', "\"{\"")?;
    Ok(c.i - 1)
}

// Bits for duplicate detection (ISC's `seenmask`).
const SEEN_STARTS: u32 = 1;
const SEEN_ENDS: u32 = 2;
const SEEN_TSTP: u32 = 4;
const SEEN_TSFP: u32 = 8;
const SEEN_ATSFP: u32 = 16;
const SEEN_CLTT: u32 = 32;
const SEEN_BINDING: u32 = 64;
const SEEN_NEXT: u32 = 128;
const SEEN_REWIND: u32 = 256;
const SEEN_HW: u32 = 512;
const SEEN_UID: u32 = 1024;
const SEEN_HOSTNAME: u32 = 2048;

/// `lease A.B.C.D { ... }` (`parse_lease_declaration`, `server/confpars.c`).
fn parse_lease(
    src: &[u8],
    toks: &[Token<'_>],
    warnings: &mut Vec<ParseWarning>,
) -> Result<Lease, SyntaxError> {
    let mut c = Cur::new(toks);
    c.keyword("lease")?;
    let addr = parse_addr(c.word("an IPv4 address")?)?;
    let open = expect_open(&mut c)?;
    let mut l = Lease::new(addr, BindingState::Free);
    let mut seen = 0u32;
    for item in block_items(toks, open)? {
        let Some(head) = item.first() else { continue };
        let line = head.line;
        let mut c = Cur::new(item);
        let kw = c.word("a lease statement")?;
        let mut mark = |bit: u32, field: &'static str, warnings: &mut Vec<ParseWarning>| {
            if seen & bit != 0 {
                warnings.push(ParseWarning {
                    line,
                    kind: WarningKind::Duplicate { field },
                });
            }
            seen |= bit;
        };
        match kw {
            b"starts" | b"ends" | b"tstp" | b"tsfp" | b"atsfp" | b"cltt" => {
                let (name, bit, field): (&'static str, u32, fn(&mut Lease) -> &mut Time) = match kw
                {
                    b"starts" => ("starts", SEEN_STARTS, |l| &mut l.starts),
                    b"ends" => ("ends", SEEN_ENDS, |l| &mut l.ends),
                    b"tstp" => ("tstp", SEEN_TSTP, |l| &mut l.tstp),
                    b"tsfp" => ("tsfp", SEEN_TSFP, |l| &mut l.tsfp),
                    b"atsfp" => ("atsfp", SEEN_ATSFP, |l| &mut l.atsfp),
                    _ => ("cltt", SEEN_CLTT, |l| &mut l.cltt),
                };
                *field(&mut l) = parse_date(&mut c)?;
                mark(bit, name, warnings);
            }
            b"binding" | b"next" | b"rewind" => {
                if kw != b"binding" {
                    c.keyword("binding")?;
                }
                c.keyword("state")?;
                let (state, flag) = binding_state(c.word("a binding state")?)?;
                c.semi()?;
                match flag {
                    Some("reserved") => l.reserved = true,
                    Some(_) => l.bootp = true,
                    None => {}
                }
                match kw {
                    b"binding" => {
                        l.binding_state = state;
                        mark(SEEN_BINDING, "binding state", warnings);
                    }
                    b"next" => {
                        l.next_binding_state = Some(state);
                        mark(SEEN_NEXT, "next binding state", warnings);
                    }
                    _ => {
                        l.rewind_binding_state = Some(state);
                        mark(SEEN_REWIND, "rewind binding state", warnings);
                    }
                }
            }
            // Older files: `abandoned;` for `binding state abandoned;`.
            b"abandoned" => {
                c.semi()?;
                l.binding_state = BindingState::Abandoned;
                l.next_binding_state = Some(BindingState::Abandoned);
                mark(SEEN_BINDING, "binding state", warnings);
            }
            b"reserved" => {
                c.semi()?;
                l.reserved = true;
            }
            b"dynamic-bootp" => {
                c.semi()?;
                l.bootp = true;
            }
            b"hardware" => match parse_hardware(&mut c) {
                Ok(hw) => {
                    l.hardware = Some(hw);
                    mark(SEEN_HW, "hardware", warnings);
                }
                // ISC warns and keeps the lease without the address.
                Err(error @ SyntaxError::BadHardware(_)) => warnings.push(ParseWarning {
                    line,
                    kind: WarningKind::IgnoredStatement {
                        keyword: "hardware".into(),
                        error,
                    },
                }),
                Err(e) => return Err(e),
            },
            b"uid" => match parse_uid(&mut c) {
                Ok(uid) => {
                    l.uid = Some(uid);
                    mark(SEEN_UID, "uid", warnings);
                }
                Err(SyntaxError::EmptyUid)
                    if item.get(1).is_some_and(|t| matches!(t.tok, Tok::Str(_))) =>
                {
                    // ISC takes `uid "";` silently as no identifier.
                    l.uid = None;
                }
                Err(error @ SyntaxError::EmptyUid) => warnings.push(ParseWarning {
                    line,
                    kind: WarningKind::IgnoredStatement {
                        keyword: "uid".into(),
                        error,
                    },
                }),
                Err(e) => return Err(e),
            },
            b"client-hostname" => {
                let t = c.token("a host name")?;
                let name = match &t.tok {
                    Tok::Str(s) => String::from_utf8_lossy(s).into_owned(),
                    Tok::Word(w) => String::from_utf8_lossy(w).into_owned(),
                    _ => {
                        return Err(SyntaxError::Expected {
                            what: "a host name",
                            found: describe(t),
                        })
                    }
                };
                c.semi()?;
                l.client_hostname = Some(name);
                mark(SEEN_HOSTNAME, "client-hostname", warnings);
            }
            b"set" => {
                let name = String::from_utf8_lossy(c.word("a variable name")?).into_owned();
                c.punct(b'=', "\"=\"")?;
                let value = set_value(src, item, c.i)?;
                set_var(&mut l.vars, name, value);
            }
            // Older files: `ddns-fwd-name "x";` without `set` and `=`.
            b"ddns-fwd-name" | b"ddns-rev-name" => {
                let name = String::from_utf8_lossy(kw).into_owned();
                let value = set_value(src, item, c.i)?;
                set_var(&mut l.vars, name, value);
            }
            // Carried verbatim: event statements, relay agent options, billing.
            b"on" | b"option" | b"supersede" | b"billing" | b"class" => {
                l.statements.push(raw_text(src, item));
            }
            _ => warnings.push(ParseWarning {
                line,
                kind: WarningKind::IgnoredStatement {
                    keyword: String::from_utf8_lossy(kw).into_owned(),
                    error: SyntaxError::UnknownStatement(raw_text(src, item)),
                },
            }),
        }
    }
    if seen & SEEN_BINDING == 0 {
        // ISC makes one up from `ends` and the clock; without a clock we
        // assume active when the lease has an end time.
        let (state, assumed) = if l.ends != 0 {
            (BindingState::Active, "active")
        } else {
            (BindingState::Free, "free")
        };
        l.binding_state = state;
        warnings.push(ParseWarning {
            line: toks.first().map_or(0, |t| t.line),
            kind: WarningKind::MissingBindingState { addr, assumed },
        });
    }
    // `next`/`rewind` equal to the current state mean "none" (ISC omits them).
    if l.next_binding_state == Some(l.binding_state) {
        l.next_binding_state = None;
    }
    if l.rewind_binding_state == Some(l.binding_state) {
        l.rewind_binding_state = None;
    }
    // Keep the carried statements in the order the printer writes them
    // (ISC's write_lease order), so parse(print(r)) == r.
    crate::print::order_statements(&mut l.statements);
    Ok(l)
}

/// The value of `set NAME = VALUE;`: the source text between `=` and `;`.
fn set_value(src: &[u8], item: &[Token<'_>], from: usize) -> Result<String, SyntaxError> {
    let value = match item.len().checked_sub(1) {
        Some(semi) if semi > from && item.get(semi).is_some_and(|t| t.is_punct(b';')) => {
            item.get(from..semi).unwrap_or_default()
        }
        _ => return Err(SyntaxError::MissingToken { what: "a value" }),
    };
    Ok(raw_text(src, value))
}

/// ISC keeps one binding per name: a second `set` replaces the first.
fn set_var(vars: &mut Vec<(String, String)>, name: String, value: String) {
    match vars.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = value,
        None => vars.push((name, value)),
    }
}

/// `failover peer "NAME" state { my state X at DATE; partner state Y at DATE; mclt N; }`
/// (`parse_failover_state_declaration`, `server/confpars.c`).
fn parse_failover(toks: &[Token<'_>]) -> Result<FailoverStateRecord, SyntaxError> {
    let mut c = Cur::new(toks);
    c.keyword("failover")?;
    c.keyword("peer")?;
    let t = c.token("a peer name")?;
    let peer = match &t.tok {
        Tok::Str(s) => String::from_utf8_lossy(s).into_owned(),
        Tok::Word(w) => String::from_utf8_lossy(w).into_owned(),
        _ => {
            return Err(SyntaxError::Expected {
                what: "a peer name",
                found: describe(t),
            })
        }
    };
    c.keyword("state")?;
    let open = expect_open(&mut c)?;
    let mut rec = FailoverStateRecord {
        peer,
        me: None,
        partner: None,
        mclt: None,
    };
    for item in block_items(toks, open)? {
        let mut c = Cur::new(item);
        match c.word("\"my\", \"partner\" or \"mclt\"")? {
            who @ (b"my" | b"partner") => {
                c.keyword("state")?;
                let w = c.word("a failover state")?;
                let state = FailoverState::from_keyword(std::str::from_utf8(w).unwrap_or(""))
                    .ok_or_else(|| {
                        SyntaxError::UnknownFailoverState(String::from_utf8_lossy(w).into_owned())
                    })?;
                // `at DATE` is optional; without it ISC uses the current time.
                // We have no clock here: 0 stands for "now" (see PeerStateEntry).
                let stos = if c.peek().is_some_and(|t| t.is_punct(b';')) {
                    c.semi()?;
                    0
                } else {
                    c.keyword("at")?;
                    parse_date(&mut c)?
                };
                let entry = Some(PeerStateEntry { state, stos });
                if who == b"my" {
                    rec.me = entry;
                } else {
                    rec.partner = entry;
                }
            }
            b"mclt" => {
                rec.mclt = Some(c.number("a number")?);
                c.semi()?;
            }
            other => {
                return Err(SyntaxError::UnknownStatement(
                    String::from_utf8_lossy(other).into_owned(),
                ))
            }
        }
    }
    Ok(rec)
}

/// `host NAME { dynamic; [deleted;] hardware ..; uid ..; fixed-address ..; ... }`
/// (`parse_host_declaration`, `server/confpars.c`).
fn parse_host(
    src: &[u8],
    toks: &[Token<'_>],
    warnings: &mut Vec<ParseWarning>,
) -> Result<HostRecord, SyntaxError> {
    let mut c = Cur::new(toks);
    c.keyword("host")?;
    let t = c.token("a host name")?;
    let name = match &t.tok {
        Tok::Word(w) => String::from_utf8_lossy(w).into_owned(),
        Tok::Str(s) => String::from_utf8_lossy(s).into_owned(),
        _ => {
            return Err(SyntaxError::Expected {
                what: "a host name",
                found: describe(t),
            })
        }
    };
    let open = expect_open(&mut c)?;
    let mut h = HostRecord {
        name,
        deleted: false,
        hardware: None,
        uid: None,
        fixed_address: None,
        statements: Vec::new(),
    };
    for item in block_items(toks, open)? {
        let Some(head) = item.first() else { continue };
        let line = head.line;
        let mut c = Cur::new(item);
        match head.word() {
            Some(b"dynamic") => {
                c.next();
                c.semi()?;
            }
            Some(b"deleted") => {
                c.next();
                c.semi()?;
                h.deleted = true;
            }
            Some(b"hardware") => {
                c.next();
                h.hardware = Some(parse_hardware(&mut c)?);
            }
            Some(b"uid") => {
                c.next();
                match parse_uid(&mut c) {
                    Ok(uid) => h.uid = Some(uid),
                    Err(error @ SyntaxError::EmptyUid) => warnings.push(ParseWarning {
                        line,
                        kind: WarningKind::IgnoredStatement {
                            keyword: "uid".into(),
                            error,
                        },
                    }),
                    Err(e) => return Err(e),
                }
            }
            // One address is modelled; a list (or a name) is kept as text.
            Some(b"fixed-address")
                if item.len() == 3
                    && item
                        .get(1)
                        .and_then(|t| t.word())
                        .is_some_and(|w| parse_addr(w).is_ok()) =>
            {
                c.next();
                h.fixed_address = Some(parse_addr(c.word("an address")?)?);
                c.semi()?;
            }
            _ => h.statements.push(raw_text(src, item)),
        }
    }
    if h.deleted {
        // A deletion carries only the name.
        h.hardware = None;
        h.uid = None;
        h.fixed_address = None;
        h.statements.clear();
    }
    Ok(h)
}
