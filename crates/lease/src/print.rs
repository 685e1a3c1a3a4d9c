//! Printing records in the exact layout ISC dhcpd 4.4 writes to `dhcpd.leases`
//! (`write_lease`, `write_host`, `write_failover_state`, `new_lease_file` in
//! `server/db.c`).

use std::fmt::Write;

use crate::time::write_time;
use crate::{FailoverStateRecord, Hardware, HostRecord, Lease, PeerStateEntry, Record, Time};

/// ISC's `quotify_buf` with `"` as the enclosing character: printable ASCII
/// as-is, `"` and `\` behind a backslash, every other byte as `\ooo` octal.
pub fn quote(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    write_quoted(bytes, &mut s);
    s
}

pub(crate) fn write_quoted(bytes: &[u8], out: &mut String) {
    out.push('"');
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
    }
    out.push('"');
}

/// ISC's `print_hw_addr`: lower-case hex octets joined by colons.
pub(crate) fn write_hex(bytes: &[u8], out: &mut String) {
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{b:02x}");
    }
}

/// The hardware type names of ISC's `hardware_types` table (`common/tables.c`).
pub fn hardware_type_name(htype: u8) -> std::borrow::Cow<'static, str> {
    match htype {
        1 => "ethernet".into(),
        6 => "token-ring".into(),
        8 => "fddi".into(),
        32 => "infiniband".into(),
        n => format!("unknown-{n}").into(),
    }
}

fn write_hardware(hw: &Hardware, out: &mut String) {
    // `hardware %s %s;`: with an empty address ISC prints "hardware ethernet ;".
    let _ = write!(out, "\n  hardware {} ", hardware_type_name(hw.htype));
    write_hex(&hw.addr, out);
    out.push(';');
}

/// A name that ISC's lexer reads back as one word (`host NAME`).
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn write_time_field(key: &str, t: Time, out: &mut String) {
    // ISC writes a time field only when it is non-zero.
    if t != 0 {
        let _ = write!(out, "\n  {key} ");
        write_time(t, out);
    }
}

/// The comment header and byte-order line ISC puts at the top of a fresh file
/// (`new_lease_file`).
pub fn print_header(out: &mut String) {
    out.push_str("# The format of this file is documented in the dhcpd.leases(5) manual page.\n");
    let _ = writeln!(
        out,
        "# This lease file was written by tandem-{}\n",
        env!("CARGO_PKG_VERSION")
    );
    out.push_str("# authoring-byte-order entry is generated, DO NOT DELETE\n");
    let order = if cfg!(target_endian = "big") {
        "big-endian"
    } else {
        "little-endian"
    };
    let _ = writeln!(out, "authoring-byte-order {order};\n");
}

/// Append one record in ISC's format.
pub fn print_record(r: &Record, out: &mut String) {
    match r {
        Record::Lease(l) => print_lease(l, out),
        Record::FailoverState(f) => print_failover(f, out),
        Record::Host(h) => print_host(h, out),
        Record::Other(text) => {
            out.push_str(text);
            out.push('\n');
        }
    }
}

fn print_lease(l: &Lease, out: &mut String) {
    let _ = write!(out, "lease {} {{", l.addr);
    write_time_field("starts", l.starts, out);
    write_time_field("ends", l.ends, out);
    write_time_field("tstp", l.tstp, out);
    write_time_field("tsfp", l.tsfp, out);
    write_time_field("atsfp", l.atsfp, out);
    write_time_field("cltt", l.cltt, out);
    let _ = write!(out, "\n  binding state {};", l.binding_state.keyword());
    // ISC writes `next` and `rewind` only when they differ from the current state.
    if let Some(next) = l.next_binding_state.filter(|s| *s != l.binding_state) {
        let _ = write!(out, "\n  next binding state {};", next.keyword());
    }
    if let Some(rewind) = l.rewind_binding_state.filter(|s| *s != l.binding_state) {
        let _ = write!(out, "\n  rewind binding state {};", rewind.keyword());
    }
    if l.reserved {
        out.push_str("\n  reserved;");
    }
    if l.bootp {
        out.push_str("\n  dynamic-bootp;");
    }
    // Verbatim statements go where write_lease puts their kind: billing
    // class before the hardware line, agent options before the host name,
    // event blocks last.
    let (billing, rest): (Vec<&String>, Vec<&String>) =
        l.statements.iter().partition(|s| statement_rank(s) == 0);
    let (options, events): (Vec<&String>, Vec<&String>) =
        rest.into_iter().partition(|s| statement_rank(s) == 1);
    for s in billing {
        out.push_str("\n  ");
        out.push_str(s);
    }
    if let Some(hw) = &l.hardware {
        write_hardware(hw, out);
    }
    if let Some(uid) = &l.uid {
        // `lease-id-format octal` (the default): quotify_buf.
        out.push_str("\n  uid ");
        write_quoted(uid, out);
        out.push(';');
    }
    for (name, value) in &l.vars {
        let _ = write!(out, "\n  set {name} = {value};");
    }
    for s in options {
        out.push_str("\n  ");
        out.push_str(s);
    }
    if let Some(name) = &l.client_hostname {
        out.push_str("\n  client-hostname ");
        write_quoted(name.as_bytes(), out);
        out.push(';');
    }
    for s in events {
        out.push_str("\n  ");
        out.push_str(s);
    }
    out.push_str("\n}\n");
}

/// Where ISC's `write_lease` puts a carried statement: billing class (0),
/// agent options (1), event blocks and the rest (2).
fn statement_rank(s: &str) -> u8 {
    if s.starts_with("billing") {
        0
    } else if s.starts_with("option") || s.starts_with("supersede") {
        1
    } else {
        2
    }
}

/// Sort carried statements into the order the printer writes them (stable).
pub(crate) fn order_statements(statements: &mut [String]) {
    statements.sort_by_key(|s| statement_rank(s));
}

fn write_peer_state(who: &str, e: &PeerStateEntry, out: &mut String) {
    let _ = write!(out, "\n  {who} state {} at ", e.state.keyword());
    write_time(e.stos, out);
}

fn print_failover(f: &FailoverStateRecord, out: &mut String) {
    // write_failover_state starts with a blank line.
    out.push_str("\nfailover peer ");
    write_quoted(f.peer.as_bytes(), out);
    out.push_str(" state {");
    if let Some(me) = &f.me {
        write_peer_state("my", me, out);
    }
    if let Some(partner) = &f.partner {
        write_peer_state("partner", partner, out);
    }
    if let Some(mclt) = f.mclt {
        let _ = write!(out, "\n  mclt {mclt};");
    }
    out.push_str("\n}\n");
}

fn print_host(h: &HostRecord, out: &mut String) {
    out.push_str("host ");
    if is_plain_name(&h.name) {
        out.push_str(&h.name);
    } else {
        write_quoted(h.name.as_bytes(), out);
    }
    // Hosts in the lease file are the ones created over OMAPI: always dynamic.
    out.push_str(" {\n  dynamic;");
    if h.deleted {
        out.push_str("\n  deleted;");
    } else {
        if let Some(hw) = &h.hardware {
            write_hardware(hw, out);
        }
        if let Some(uid) = &h.uid {
            // write_host: the raw string when printable, else hex octets.
            out.push_str("\n  uid ");
            if !uid.is_empty()
                && uid
                    .iter()
                    .all(|b| (0x20..=0x7e).contains(b) && *b != b'"' && *b != b'\\')
            {
                write_quoted(uid, out);
            } else {
                write_hex(uid, out);
            }
            out.push(';');
        }
        if let Some(a) = h.fixed_address {
            let _ = write!(out, "\n  fixed-address {a};");
        }
        for s in &h.statements {
            // write_statements at indent 8.
            out.push_str("\n        ");
            out.push_str(s);
        }
    }
    out.push_str("\n}\n");
}
