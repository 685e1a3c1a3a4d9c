//! Human-readable and JSON output of the objects a server sent.
//!
//! OMAPI values carry no types: each attribute is read by its name, with the encodings ISC
//! uses (4-byte integers and times, 4-byte addresses, hardware addresses as bytes, states by
//! number). An attribute Tandem does not know is shown as text when printable, else as hex.

use std::fmt::Write;
use std::net::Ipv4Addr;

use tandem_lease::time::UtcTime;
use tandem_lease::{BindingState, INFINITE};
use tandem_omapi::objects::failover_state::PeerState;
use tandem_omapi::{Attributes, Value};

/// One object as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub object_type: &'static str,
    pub values: Attributes,
}

impl Object {
    pub fn new(object_type: &'static str, values: Attributes) -> Object {
        Object {
            object_type,
            values,
        }
    }
}

/// What a command prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    One(Object),
    Many(Vec<Object>),
    Message(String),
}

/// How an attribute is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    Signed,
    Time,
    /// An address, or a list of them (4 bytes each).
    Addresses,
    Hex,
    BindingState,
    PeerState,
    Hierarchy,
    /// A handle of another object (0: none).
    Handle,
    Flags,
}

fn kind(object_type: &str, name: &str) -> Option<Kind> {
    Some(match (object_type, name) {
        (_, "name" | "client-hostname" | "algorithm" | "statements") => Kind::Text,
        (_, "ip-address" | "partner-address" | "local-address") => Kind::Addresses,
        (_, "hardware-address" | "dhcp-client-identifier" | "load-balance-hba") => Kind::Hex,
        (_, "hardware-type" | "partner-port" | "local-port" | "max-outstanding-updates")
        | (_, "mclt" | "load-balance-max-secs" | "max-response-delay" | "cur-unacked-updates") => {
            Kind::Int
        }
        (_, "skew") => Kind::Signed,
        (_, "ends" | "starts" | "tstp" | "tsfp" | "atsfp" | "cltt")
        | (_, "partner-stos" | "local-stos" | "last-packet-sent" | "last-timestamp-received") => {
            Kind::Time
        }
        ("lease", "state") => Kind::BindingState,
        ("control", "state") => Kind::Int,
        (_, "partner-state" | "local-state") => Kind::PeerState,
        (_, "hierarchy") => Kind::Hierarchy,
        (_, "host" | "subnet" | "pool" | "billing-class") => Kind::Handle,
        (_, "flags") => Kind::Flags,
        _ => return None,
    })
}

/// A rendered value: for text output and for JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shown {
    Str(String),
    Num(i64),
    List(Vec<String>),
    /// Shown as text, but a number in JSON (times, states).
    Both {
        text: String,
        json: String,
    },
}

fn hex(b: &[u8]) -> String {
    let parts: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    parts.join(":")
}

fn printable(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(|c| (0x20..0x7f).contains(c))
}

fn time_text(t: u32) -> String {
    if t == 0 {
        return "0 (never set)".into();
    }
    if u64::from(t) >= INFINITE {
        return "never".into();
    }
    let u = UtcTime::from_time(u64::from(t));
    format!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02} UTC",
        u.year, u.month, u.day, u.hour, u.minute, u.second
    )
}

fn binding_name(code: u32) -> Option<&'static str> {
    let code = u8::try_from(code).ok()?;
    BindingState::from_code(code).map(BindingState::keyword)
}

fn show(object_type: &str, name: &str, v: &Value) -> Shown {
    let b = v.as_bytes();
    let fallback = || {
        if printable(b) {
            Shown::Str(String::from_utf8_lossy(b).into_owned())
        } else {
            Shown::Str(hex(b))
        }
    };
    let Some(k) = kind(object_type, name) else {
        return fallback();
    };
    match (k, v.as_u32()) {
        (Kind::Text, _) => Shown::Str(String::from_utf8_lossy(b).into_owned()),
        (Kind::Hex, _) => Shown::Str(hex(b)),
        (Kind::Addresses, _) if !b.is_empty() && b.chunks_exact(4).remainder().is_empty() => {
            Shown::List(
                b.chunks_exact(4)
                    .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]).to_string())
                    .collect(),
            )
        }
        (Kind::Int | Kind::Handle, Some(n)) => Shown::Num(i64::from(n)),
        (Kind::Signed, Some(n)) => Shown::Num(i64::from(n as i32)),
        (Kind::Time, Some(t)) => Shown::Both {
            text: time_text(t),
            json: t.to_string(),
        },
        (Kind::BindingState, Some(s)) => match binding_name(s) {
            Some(n) => Shown::Both {
                text: n.to_string(),
                json: json_string(n),
            },
            None => Shown::Num(i64::from(s)),
        },
        (Kind::PeerState, Some(s)) => match PeerState::from_code(s) {
            Some(p) => Shown::Both {
                text: format!("{} ({s})", p.name()),
                json: json_string(p.name()),
            },
            None => Shown::Num(i64::from(s)),
        },
        (Kind::Hierarchy, Some(h)) => {
            let role = match h {
                0 => "primary",
                1 => "secondary",
                _ => return Shown::Num(i64::from(h)),
            };
            Shown::Both {
                text: role.into(),
                json: json_string(role),
            }
        }
        (Kind::Flags, _) => match b {
            [f] => Shown::Num(i64::from(*f)),
            _ => fallback(),
        },
        _ => fallback(),
    }
}

/// A JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Object {
    /// The heading: `lease 10.0.0.100`, `host h1`, `failover-state "foo"`.
    fn title(&self) -> String {
        let get = |n| self.values.get(n).map(|v| show(self.object_type, n, v));
        let label = match self.object_type {
            "lease" => get("ip-address"),
            "host" | "group" | "failover-state" => get("name"),
            _ => None,
        };
        match label {
            Some(Shown::Str(s)) => format!("{} {s}", self.object_type),
            Some(Shown::List(l)) => format!("{} {}", self.object_type, l.join(", ")),
            _ => self.object_type.to_string(),
        }
    }

    pub fn to_text(&self) -> String {
        let mut out = self.title();
        out.push('\n');
        let width = self.values.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        for (name, v) in self.values.iter() {
            // Tandem has no subnet or pool objects: their handles are 0.
            if kind(self.object_type, name) == Some(Kind::Handle) && v.as_u32() == Some(0) {
                continue;
            }
            let text = match show(self.object_type, name, v) {
                Shown::Str(s) => s,
                Shown::Num(n) => n.to_string(),
                Shown::List(l) => l.join(", "),
                Shown::Both { text, .. } => text,
            };
            let _ = writeln!(out, "  {name:width$}  {text}");
        }
        out
    }

    pub fn to_json(&self) -> String {
        let mut out = format!("{{\"type\": {}", json_string(self.object_type));
        for (name, v) in self.values.iter() {
            let value = match show(self.object_type, name, v) {
                Shown::Str(s) => json_string(&s),
                Shown::Num(n) => n.to_string(),
                Shown::List(l) if name == "ip-address" && self.object_type == "lease" => {
                    l.first().map_or("null".into(), |a| json_string(a))
                }
                Shown::List(l) if l.len() == 1 && name != "ip-address" => {
                    l.first().map_or("null".into(), |a| json_string(a))
                }
                Shown::List(l) => {
                    let items: Vec<String> = l.iter().map(|a| json_string(a)).collect();
                    format!("[{}]", items.join(", "))
                }
                Shown::Both { json, .. } => json,
            };
            let _ = write!(out, ", {}: {value}", json_string(name));
        }
        out.push('}');
        out
    }
}

impl Output {
    pub fn to_text(&self) -> String {
        match self {
            Output::One(o) => o.to_text(),
            Output::Many(objects) => {
                let texts: Vec<String> = objects.iter().map(Object::to_text).collect();
                texts.join("\n")
            }
            Output::Message(m) => format!("{m}\n"),
        }
    }

    pub fn to_json(&self) -> String {
        match self {
            Output::One(o) => format!("{}\n", o.to_json()),
            Output::Many(objects) => {
                let items: Vec<String> = objects.iter().map(Object::to_json).collect();
                format!("[{}]\n", items.join(",\n "))
            }
            Output::Message(m) => format!("{{\"message\": {}}}\n", json_string(m)),
        }
    }
}
