//! Options of other option spaces carried inside a DHCP option: `option
//! space NAME; option X code N = encapsulate NAME;`, `vendor-option-space`
//! (option 43, RFC 2132 §8.4) and `site-option-space` (ISC: the space's
//! options are sent as DHCP options of the same codes).

use tandem_config::{Config, OptionSpace, Param};

use crate::scope::OptionState;

/// RFC 2132 §8.4 vendor specific information.
const VENDOR_ENCAPSULATED_OPTIONS: u8 = 43;

/// ISC's built-in spaces whose encapsulation Tandem does not build (FQDN,
/// the enterprise-numbered vendor spaces, relay agent information, DHCPv6).
const NOT_ENCAPSULATED: &[&str] = &[
    "dhcp",
    "fqdn",
    "vendor-class",
    "vendor",
    "isc",
    "dhcp6",
    "vsio",
    "isc6",
    "agent",
    "server",
];

fn param_text(st: &OptionState, p: Param) -> Option<String> {
    st.param(p)
        .map(|v| String::from_utf8_lossy(v).trim_matches('"').to_owned())
}

/// Folds the options of other spaces set for this reply into the DHCP
/// options that carry them. A configured value of the carrying option comes
/// first, then the encapsulated options (ISC `store_options`).
pub(crate) fn apply_option_spaces(config: &Config, st: &mut OptionState) {
    if let Some(site) = param_text(st, Param::SiteOptionSpace) {
        let subs: Vec<(u8, Vec<u8>)> = st
            .other
            .iter()
            .filter(|(c, _)| c.space.eq_ignore_ascii_case(&site))
            .filter_map(|(c, v)| Some((u8::try_from(c.code).ok()?, v.clone())))
            .collect();
        for (c, v) in subs {
            if st.get(c).is_none() {
                st.set(c, v);
            }
        }
    }
    let vendor = param_text(st, Param::VendorOptionSpace);
    for space in &config.option_spaces {
        if NOT_ENCAPSULATED
            .iter()
            .any(|n| n.eq_ignore_ascii_case(&space.name))
        {
            continue;
        }
        let carrier = match &space.encapsulated_by {
            Some(oc) if oc.space == "dhcp" => u8::try_from(oc.code).ok(),
            _ => None,
        }
        .or_else(|| {
            vendor
                .as_deref()
                .filter(|v| v.eq_ignore_ascii_case(&space.name))
                .map(|_| VENDOR_ENCAPSULATED_OPTIONS)
        });
        let Some(code) = carrier else {
            continue;
        };
        let sub = encode_space(space, st);
        if sub.is_empty() {
            continue;
        }
        let mut value = st.get(code).map(<[u8]>::to_vec).unwrap_or_default();
        value.extend_from_slice(&sub);
        st.set(code, value);
    }
}

/// The space's options as code/length/value items with the space's widths.
/// An item whose value does not fit the length field is left out.
fn encode_space(space: &OptionSpace, st: &OptionState) -> Vec<u8> {
    let mut out = Vec::new();
    for (c, v) in &st.other {
        if !c.space.eq_ignore_ascii_case(&space.name) {
            continue;
        }
        let max_len = match space.length_width {
            0 => usize::MAX,
            1 => usize::from(u8::MAX),
            _ => usize::from(u16::MAX),
        };
        if v.len() > max_len {
            continue;
        }
        let code = c.code.to_be_bytes();
        let cw = usize::from(space.code_width.clamp(1, 4));
        out.extend_from_slice(code.get(4 - cw..).unwrap_or(&code));
        match space.length_width {
            0 => {}
            1 => out.push(u8::try_from(v.len()).unwrap_or(u8::MAX)),
            _ => out.extend_from_slice(&u16::try_from(v.len()).unwrap_or(u16::MAX).to_be_bytes()),
        }
        out.extend_from_slice(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_config::OptionCode;

    fn space(name: &str, enc: Option<u32>) -> OptionSpace {
        OptionSpace {
            name: name.into(),
            code_width: 1,
            length_width: 1,
            encapsulated_by: enc.map(|code| OptionCode {
                space: "dhcp".into(),
                code,
            }),
        }
    }

    fn other(st: &mut OptionState, space: &str, code: u32, v: &[u8]) {
        st.other.push((
            OptionCode {
                space: space.into(),
                code,
            },
            v.to_vec(),
        ));
    }

    #[test]
    fn encapsulate_into_declared_carrier_after_own_value() {
        let mut cfg = Config::default();
        cfg.option_spaces.push(space("ZTP", Some(43)));
        cfg.option_spaces.push(space("agent", Some(82)));
        let mut st = OptionState::default();
        other(&mut st, "ZTP", 1, b"cfg");
        other(&mut st, "ZTP", 3, b"ftp");
        other(&mut st, "agent", 1, b"x");
        st.set(43, vec![0xaa]);
        apply_option_spaces(&cfg, &mut st);
        assert_eq!(
            st.get(43),
            Some(&[0xaa, 1, 3, b'c', b'f', b'g', 3, 3, b'f', b't', b'p'][..])
        );
        assert_eq!(st.get(82), None);
    }

    #[test]
    fn vendor_and_site_option_spaces() {
        let mut cfg = Config::default();
        cfg.option_spaces.push(space("PXE", None));
        cfg.option_spaces.push(OptionSpace {
            code_width: 2,
            length_width: 2,
            ..space("wide", Some(200))
        });
        let mut st = OptionState::default();
        st.params.insert(Param::VendorOptionSpace, b"PXE".to_vec());
        st.params
            .insert(Param::SiteOptionSpace, b"pxelinux".to_vec());
        other(&mut st, "PXE", 6, &[8]);
        other(&mut st, "pxelinux", 208, &[0xf1, 0, 0x74, 0x7e]);
        other(&mut st, "wide", 0x102, b"ab");
        apply_option_spaces(&cfg, &mut st);
        assert_eq!(st.get(43), Some(&[6, 1, 8][..]));
        assert_eq!(st.get(208), Some(&[0xf1, 0, 0x74, 0x7e][..]));
        assert_eq!(st.get(200), Some(&[1, 2, 0, 2, b'a', b'b'][..]));
    }
}
