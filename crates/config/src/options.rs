//! ISC's built-in option spaces and option definitions (facts from ISC DHCP
//! 4.4.3 `common/tables.c` and `server/stables.c`, built with every
//! `RFCxxxx_OPTIONS` define of `includes/site.h`, without LDAP and EUI-64).
//!
//! Formats are ISC's format strings, which say how a value is written in
//! dhcpd.conf and laid out on the wire:
//!
//! | char | meaning |
//! |---|---|
//! | `I` | IPv4 address (or a host name, resolved when the server starts) |
//! | `6` | IPv6 address |
//! | `l` `L` | signed / unsigned 32-bit integer |
//! | `s` `S` | signed / unsigned 16-bit integer |
//! | `b` `B` | signed / unsigned 8-bit integer |
//! | `T` | lease time: a 32-bit integer or `infinite` |
//! | `t` | text (a string, or one unquoted word) |
//! | `X` | a string or colon-separated hex bytes |
//! | `f` | flag: `true`/`on` = 1, `false`/`off` = 0, `ignore` = 2 |
//! | `d` | one domain name (RFC 1035 wire format), unquoted |
//! | `D` | list of quoted domain names; `Dc` uses compression pointers (RFC 1035 4.1.4, RFC 3397) |
//! | `Z` | zero-length option |
//! | `Ename.` | encapsulation of option space `name` (`E.` = the `vendor-option-space`) |
//! | `Nname.` | a value of enumeration `name` |
//! | `U` | an option space name; `k` a key name |
//! | `A` | the whole format repeats (array of records) |
//! | `a` | the preceding item repeats |
//! | `o` | the preceding item is optional |

use crate::model::OptionType;

/// A built-in space: (name, code width, length width, the option that
/// encapsulates it).
pub(crate) type SpaceEntry = (&'static str, u8, u8, Option<(&'static str, u32)>);

pub(crate) const BUILTIN_SPACES: &[SpaceEntry] = &[
    ("dhcp", 1, 1, None),
    ("nwip", 1, 1, Some(("dhcp", 63))),
    ("fqdn", 1, 1, Some(("dhcp", 81))),
    ("vendor-class", 4, 1, Some(("dhcp", 124))),
    ("vendor", 4, 1, Some(("dhcp", 125))),
    ("isc", 2, 2, Some(("vendor", 2495))),
    ("dhcp6", 2, 2, None),
    ("vsio", 4, 0, Some(("dhcp6", 17))),
    ("isc6", 4, 0, Some(("vsio", 2495))),
    (
        "fqdn6-if-you-see-me-its-a-bug-bug-bug",
        0,
        0,
        Some(("dhcp6", 39)),
    ),
    ("agent", 1, 1, Some(("dhcp", 82))),
    ("server", 4, 1, None),
];

/// (space, name, code, ISC format).
pub(crate) const BUILTIN_OPTIONS: &[(&str, &str, u32, &str)] = &[
    ("dhcp", "subnet-mask", 1, "I"),
    ("dhcp", "time-offset", 2, "l"),
    ("dhcp", "routers", 3, "IA"),
    ("dhcp", "time-servers", 4, "IA"),
    ("dhcp", "ien116-name-servers", 5, "IA"),
    ("dhcp", "domain-name-servers", 6, "IA"),
    ("dhcp", "log-servers", 7, "IA"),
    ("dhcp", "cookie-servers", 8, "IA"),
    ("dhcp", "lpr-servers", 9, "IA"),
    ("dhcp", "impress-servers", 10, "IA"),
    ("dhcp", "resource-location-servers", 11, "IA"),
    ("dhcp", "host-name", 12, "t"),
    ("dhcp", "boot-size", 13, "S"),
    ("dhcp", "merit-dump", 14, "t"),
    ("dhcp", "domain-name", 15, "t"),
    ("dhcp", "swap-server", 16, "I"),
    ("dhcp", "root-path", 17, "t"),
    ("dhcp", "extensions-path", 18, "t"),
    ("dhcp", "ip-forwarding", 19, "f"),
    ("dhcp", "non-local-source-routing", 20, "f"),
    ("dhcp", "policy-filter", 21, "IIA"),
    ("dhcp", "max-dgram-reassembly", 22, "S"),
    ("dhcp", "default-ip-ttl", 23, "B"),
    ("dhcp", "path-mtu-aging-timeout", 24, "L"),
    ("dhcp", "path-mtu-plateau-table", 25, "SA"),
    ("dhcp", "interface-mtu", 26, "S"),
    ("dhcp", "all-subnets-local", 27, "f"),
    ("dhcp", "broadcast-address", 28, "I"),
    ("dhcp", "perform-mask-discovery", 29, "f"),
    ("dhcp", "mask-supplier", 30, "f"),
    ("dhcp", "router-discovery", 31, "f"),
    ("dhcp", "router-solicitation-address", 32, "I"),
    ("dhcp", "static-routes", 33, "IIA"),
    ("dhcp", "trailer-encapsulation", 34, "f"),
    ("dhcp", "arp-cache-timeout", 35, "L"),
    ("dhcp", "ieee802-3-encapsulation", 36, "f"),
    ("dhcp", "default-tcp-ttl", 37, "B"),
    ("dhcp", "tcp-keepalive-interval", 38, "L"),
    ("dhcp", "tcp-keepalive-garbage", 39, "f"),
    ("dhcp", "nis-domain", 40, "t"),
    ("dhcp", "nis-servers", 41, "IA"),
    ("dhcp", "ntp-servers", 42, "IA"),
    ("dhcp", "vendor-encapsulated-options", 43, "E."),
    ("dhcp", "netbios-name-servers", 44, "IA"),
    ("dhcp", "netbios-dd-server", 45, "IA"),
    ("dhcp", "netbios-node-type", 46, "B"),
    ("dhcp", "netbios-scope", 47, "t"),
    ("dhcp", "font-servers", 48, "IA"),
    ("dhcp", "x-display-manager", 49, "IA"),
    ("dhcp", "dhcp-requested-address", 50, "I"),
    ("dhcp", "dhcp-lease-time", 51, "L"),
    ("dhcp", "dhcp-option-overload", 52, "B"),
    ("dhcp", "dhcp-message-type", 53, "B"),
    ("dhcp", "dhcp-server-identifier", 54, "I"),
    ("dhcp", "dhcp-parameter-request-list", 55, "BA"),
    ("dhcp", "dhcp-message", 56, "t"),
    ("dhcp", "dhcp-max-message-size", 57, "S"),
    ("dhcp", "dhcp-renewal-time", 58, "L"),
    ("dhcp", "dhcp-rebinding-time", 59, "L"),
    ("dhcp", "vendor-class-identifier", 60, "X"),
    ("dhcp", "dhcp-client-identifier", 61, "X"),
    ("dhcp", "nwip-domain", 62, "t"),
    ("dhcp", "nwip-suboptions", 63, "Enwip."),
    ("dhcp", "nisplus-domain", 64, "t"),
    ("dhcp", "nisplus-servers", 65, "IA"),
    ("dhcp", "tftp-server-name", 66, "t"),
    ("dhcp", "bootfile-name", 67, "t"),
    ("dhcp", "mobile-ip-home-agent", 68, "IA"),
    ("dhcp", "smtp-server", 69, "IA"),
    ("dhcp", "pop-server", 70, "IA"),
    ("dhcp", "nntp-server", 71, "IA"),
    ("dhcp", "www-server", 72, "IA"),
    ("dhcp", "finger-server", 73, "IA"),
    ("dhcp", "irc-server", 74, "IA"),
    ("dhcp", "streettalk-server", 75, "IA"),
    ("dhcp", "streettalk-directory-assistance-server", 76, "IA"),
    ("dhcp", "user-class", 77, "t"),
    ("dhcp", "slp-directory-agent", 78, "fIa"),
    ("dhcp", "slp-service-scope", 79, "fto"),
    ("dhcp", "fqdn", 81, "Efqdn."),
    ("dhcp", "relay-agent-information", 82, "Eagent."),
    ("dhcp", "nds-servers", 85, "IA"),
    ("dhcp", "nds-tree-name", 86, "t"),
    ("dhcp", "nds-context", 87, "t"),
    ("dhcp", "bcms-controller-names", 88, "D"),
    ("dhcp", "bcms-controller-address", 89, "Ia"),
    ("dhcp", "client-last-transaction-time", 91, "L"),
    ("dhcp", "associated-ip", 92, "Ia"),
    ("dhcp", "pxe-system-type", 93, "Sa"),
    ("dhcp", "pxe-interface-id", 94, "BBB"),
    ("dhcp", "pxe-client-id", 97, "BX"),
    ("dhcp", "uap-servers", 98, "t"),
    ("dhcp", "geoconf-civic", 99, "X"),
    ("dhcp", "pcode", 100, "t"),
    ("dhcp", "tcode", 101, "t"),
    ("dhcp", "v6-only-preferred", 108, "L"),
    ("dhcp", "netinfo-server-address", 112, "Ia"),
    ("dhcp", "netinfo-server-tag", 113, "t"),
    ("dhcp", "default-url", 114, "t"),
    ("dhcp", "auto-config", 116, "B"),
    ("dhcp", "name-service-search", 117, "Sa"),
    ("dhcp", "subnet-selection", 118, "I"),
    ("dhcp", "domain-search", 119, "Dc"),
    ("dhcp", "vivco", 124, "Evendor-class."),
    ("dhcp", "vivso", 125, "Evendor."),
    ("dhcp", "pana-agent", 136, "Ia"),
    ("dhcp", "v4-lost", 137, "d"),
    ("dhcp", "capwap-ac-v4", 138, "Ia"),
    ("dhcp", "sip-ua-cs-domains", 141, "Dc"),
    ("dhcp", "ipv4-address-andsf", 142, "IA"),
    ("dhcp", "rdnss-selection", 146, "BIID"),
    ("dhcp", "tftp-server-address", 150, "Ia"),
    ("dhcp", "v4-portparams", 159, "BBS"),
    ("dhcp", "v4-captive-portal", 160, "t"),
    ("dhcp", "loader-configfile", 209, "t"),
    ("dhcp", "loader-pathprefix", 210, "t"),
    ("dhcp", "loader-reboottime", 211, "L"),
    ("dhcp", "option-6rd", 212, "BB6Ia"),
    ("dhcp", "v4-access-domain", 213, "d"),
    ("nwip", "illegal-1", 1, ""),
    ("nwip", "illegal-2", 2, ""),
    ("nwip", "illegal-3", 3, ""),
    ("nwip", "illegal-4", 4, ""),
    ("nwip", "nsq-broadcast", 5, "f"),
    ("nwip", "preferred-dss", 6, "IA"),
    ("nwip", "nearest-nwip-server", 7, "IA"),
    ("nwip", "autoretries", 8, "B"),
    ("nwip", "autoretry-secs", 9, "B"),
    ("nwip", "nwip-1-1", 10, "f"),
    ("nwip", "primary-dss", 11, "I"),
    ("fqdn", "no-client-update", 1, "f"),
    ("fqdn", "server-update", 2, "f"),
    ("fqdn", "encoded", 3, "f"),
    ("fqdn", "rcode1", 4, "B"),
    ("fqdn", "rcode2", 5, "B"),
    ("fqdn", "hostname", 6, "t"),
    ("fqdn", "domainname", 7, "t"),
    ("fqdn", "fqdn", 8, "t"),
    ("vendor-class", "isc", 2495, "X"),
    ("vendor", "isc", 2495, "Eisc."),
    ("isc", "media", 1, "t"),
    ("isc", "update-assist", 2, "X"),
    ("dhcp6", "client-id", 1, "X"),
    ("dhcp6", "server-id", 2, "X"),
    ("dhcp6", "ia-na", 3, "X"),
    ("dhcp6", "ia-ta", 4, "X"),
    ("dhcp6", "ia-addr", 5, "X"),
    ("dhcp6", "oro", 6, "SA"),
    ("dhcp6", "preference", 7, "B"),
    ("dhcp6", "elapsed-time", 8, "S"),
    ("dhcp6", "relay-msg", 9, "X"),
    ("dhcp6", "unicast", 12, "6"),
    ("dhcp6", "status-code", 13, "Nstatus-codes.to"),
    ("dhcp6", "rapid-commit", 14, "Z"),
    ("dhcp6", "vendor-opts", 17, "Evsio."),
    ("dhcp6", "interface-id", 18, "X"),
    ("dhcp6", "reconf-msg", 19, "Ndhcpv6-messages."),
    ("dhcp6", "reconf-accept", 20, "Z"),
    ("dhcp6", "sip-servers-names", 21, "D"),
    ("dhcp6", "sip-servers-addresses", 22, "6A"),
    ("dhcp6", "name-servers", 23, "6A"),
    ("dhcp6", "domain-search", 24, "D"),
    ("dhcp6", "ia-pd", 25, "X"),
    ("dhcp6", "ia-prefix", 26, "X"),
    ("dhcp6", "nis-servers", 27, "6A"),
    ("dhcp6", "nisp-servers", 28, "6A"),
    ("dhcp6", "nis-domain-name", 29, "D"),
    ("dhcp6", "nisp-domain-name", 30, "D"),
    ("dhcp6", "sntp-servers", 31, "6A"),
    ("dhcp6", "info-refresh-time", 32, "T"),
    ("dhcp6", "bcms-server-d", 33, "D"),
    ("dhcp6", "bcms-server-a", 34, "6A"),
    ("dhcp6", "geoconf-civic", 36, "X"),
    ("dhcp6", "remote-id", 37, "X"),
    ("dhcp6", "subscriber-id", 38, "X"),
    (
        "dhcp6",
        "fqdn",
        39,
        "Efqdn6-if-you-see-me-its-a-bug-bug-bug.",
    ),
    ("dhcp6", "pana-agent", 40, "6A"),
    ("dhcp6", "new-posix-timezone", 41, "t"),
    ("dhcp6", "new-tzdb-timezone", 42, "t"),
    ("dhcp6", "ero", 43, "SA"),
    ("dhcp6", "lq-query", 44, "X"),
    ("dhcp6", "client-data", 45, "X"),
    ("dhcp6", "clt-time", 46, "L"),
    ("dhcp6", "lq-relay-data", 47, "6X"),
    ("dhcp6", "lq-client-link", 48, "6A"),
    ("dhcp6", "v6-lost", 51, "d"),
    ("dhcp6", "capwap-ac-v6", 52, "6a"),
    ("dhcp6", "relay-id", 53, "X"),
    ("dhcp6", "v6-access-domain", 57, "d"),
    ("dhcp6", "sip-ua-cs-list", 58, "D"),
    ("dhcp6", "bootfile-url", 59, "t"),
    ("dhcp6", "bootfile-param", 60, "X"),
    ("dhcp6", "client-arch-type", 61, "SA"),
    ("dhcp6", "nii", 62, "BBB"),
    ("dhcp6", "aftr-name", 64, "d"),
    ("dhcp6", "erp-local-domain-name", 65, "d"),
    ("dhcp6", "rdnss-selection", 74, "6BD"),
    ("dhcp6", "client-linklayer-addr", 79, "X"),
    ("dhcp6", "link-address", 80, "6"),
    ("dhcp6", "solmax-rt", 82, "L"),
    ("dhcp6", "inf-max-rt", 83, "L"),
    ("dhcp6", "dhcpv4-msg", 87, "X"),
    ("dhcp6", "dhcp4-o-dhcp6-server", 88, "6A"),
    ("dhcp6", "v6-captive-portal", 103, "t"),
    ("dhcp6", "relay-source-port", 135, "S"),
    ("dhcp6", "ipv6-address-andsf", 143, "6A"),
    ("vsio", "isc", 2495, "Eisc6."),
    ("isc6", "media", 1, "t"),
    ("isc6", "update-assist", 2, "X"),
    ("isc6", "4o6-interface", 60000, "t"),
    ("isc6", "4o6-source-address", 60001, "6"),
    ("agent", "circuit-id", 1, "X"),
    ("agent", "remote-id", 2, "X"),
    ("agent", "agent-id", 3, "I"),
    ("agent", "DOCSIS-device-class", 4, "L"),
    ("agent", "link-selection", 5, "I"),
    ("agent", "relay-port", 19, "Z"),
    ("server", "default-lease-time", 1, "T"),
    ("server", "max-lease-time", 2, "T"),
    ("server", "min-lease-time", 3, "T"),
    ("server", "dynamic-bootp-lease-cutoff", 4, "T"),
    ("server", "dynamic-bootp-lease-length", 5, "L"),
    ("server", "boot-unknown-clients", 6, "f"),
    ("server", "dynamic-bootp", 7, "f"),
    ("server", "allow-bootp", 8, "f"),
    ("server", "allow-booting", 9, "f"),
    ("server", "one-lease-per-client", 10, "f"),
    ("server", "get-lease-hostnames", 11, "f"),
    ("server", "use-host-decl-names", 12, "f"),
    ("server", "use-lease-addr-for-default-route", 13, "f"),
    ("server", "min-secs", 14, "B"),
    ("server", "filename", 15, "t"),
    ("server", "server-name", 16, "t"),
    ("server", "next-server", 17, "I"),
    ("server", "authoritative", 18, "f"),
    ("server", "vendor-option-space", 19, "U"),
    ("server", "always-reply-rfc1048", 20, "f"),
    ("server", "site-option-space", 21, "X"),
    ("server", "always-broadcast", 22, "f"),
    ("server", "ddns-domainname", 23, "t"),
    ("server", "ddns-hostname", 24, "t"),
    ("server", "ddns-rev-domainname", 25, "t"),
    ("server", "lease-file-name", 26, "t"),
    ("server", "pid-file-name", 27, "t"),
    ("server", "duplicates", 28, "f"),
    ("server", "declines", 29, "f"),
    ("server", "ddns-updates", 30, "f"),
    ("server", "omapi-port", 31, "S"),
    ("server", "local-port", 32, "S"),
    ("server", "limited-broadcast-address", 33, "I"),
    ("server", "remote-port", 34, "S"),
    ("server", "local-address", 35, "I"),
    ("server", "omapi-key", 36, "k"),
    ("server", "stash-agent-options", 37, "f"),
    ("server", "ddns-ttl", 38, "T"),
    ("server", "ddns-update-style", 39, "Nddns-styles."),
    ("server", "client-updates", 40, "f"),
    ("server", "update-optimization", 41, "f"),
    ("server", "ping-check", 42, "f"),
    ("server", "update-static-leases", 43, "f"),
    ("server", "log-facility", 44, "Nsyslog-facilities."),
    ("server", "do-forward-updates", 45, "f"),
    ("server", "ping-timeout", 46, "T"),
    ("server", "infinite-is-reserved", 47, "f"),
    ("server", "update-conflict-detection", 48, "f"),
    ("server", "leasequery", 49, "f"),
    ("server", "adaptive-lease-time-threshold", 50, "B"),
    ("server", "do-reverse-updates", 51, "f"),
    ("server", "fqdn-reply", 52, "f"),
    ("server", "preferred-lifetime", 53, "T"),
    ("server", "dhcpv6-lease-file-name", 54, "t"),
    ("server", "dhcpv6-pid-file-name", 55, "t"),
    ("server", "limit-addrs-per-ia", 56, "L"),
    ("server", "limit-prefs-per-ia", 57, "L"),
    ("server", "delayed-ack", 58, "S"),
    ("server", "max-ack-delay", 59, "L"),
    ("server", "dhcp-cache-threshold", 78, "B"),
    ("server", "dont-use-fsync", 79, "f"),
    ("server", "ddns-local-address4", 80, "I"),
    ("server", "ddns-local-address6", 81, "6"),
    ("server", "ignore-client-uids", 82, "f"),
    ("server", "log-threshold-low", 83, "B"),
    ("server", "log-threshold-high", 84, "B"),
    ("server", "echo-client-id", 85, "f"),
    ("server", "server-id-check", 86, "f"),
    ("server", "prefix-length-mode", 87, "Nprefix_length_modes."),
    ("server", "dhcpv6-set-tee-times", 88, "f"),
    ("server", "abandon-lease-time", 89, "T"),
    ("server", "check-secs-byte-order", 92, "f"),
    ("server", "ddns-dual-stack-mixed-mode", 93, "f"),
    ("server", "ddns-guard-id-must-match", 94, "f"),
    ("server", "ddns-other-guard-is-dynamic", 95, "f"),
    ("server", "release-on-roam", 96, "f"),
    ("server", "local-address6", 97, "6"),
    ("server", "bind-local-address6", 98, "f"),
    ("server", "ping-cltt-secs", 99, "T"),
    ("server", "ping-timeout-ms", 100, "T"),
];

/// An enumeration: (name, width in bytes, values).
pub(crate) type Enumeration = (&'static str, u8, &'static [(&'static str, u32)]);

/// ISC's enumerations.
pub(crate) const ENUMERATIONS: &[Enumeration] = &[
    (
        "ddns-styles",
        1,
        &[("none", 0), ("ad-hoc", 1), ("interim", 2), ("standard", 3)],
    ),
    (
        "syslog-facilities",
        1,
        &[
            ("kern", 0),
            ("user", 8),
            ("mail", 16),
            ("daemon", 24),
            ("auth", 32),
            ("syslog", 40),
            ("lpr", 48),
            ("news", 56),
            ("uucp", 64),
            ("cron", 72),
            ("authpriv", 80),
            ("ftp", 88),
            ("local0", 128),
            ("local1", 136),
            ("local2", 144),
            ("local3", 152),
            ("local4", 160),
            ("local5", 168),
            ("local6", 176),
            ("local7", 184),
        ],
    ),
    (
        "prefix_length_modes",
        1,
        &[
            ("ignore", 0),
            ("prefer", 1),
            ("exact", 2),
            ("minimum", 3),
            ("maximum", 4),
        ],
    ),
    (
        "status-codes",
        2,
        &[
            ("success", 0),
            ("UnspecFail", 1),
            ("NoAddrsAvail", 2),
            ("NoBinding", 3),
            ("NotOnLink", 4),
            ("UseMulticast", 5),
            ("NoPrefixAvail", 6),
            ("UnknownQueryType", 7),
            ("MalformedQuery", 8),
            ("NotConfigured", 9),
            ("NotAllowed", 10),
            ("QueryTerminated", 11),
        ],
    ),
    (
        "dhcpv6-messages",
        1,
        &[
            ("SOLICIT", 1),
            ("ADVERTISE", 2),
            ("REQUEST", 3),
            ("CONFIRM", 4),
            ("RENEW", 5),
            ("REBIND", 6),
            ("REPLY", 7),
            ("RELEASE", 8),
            ("DECLINE", 9),
            ("RECONFIGURE", 10),
            ("INFORMATION-REQUEST", 11),
            ("RELAY-FORW", 12),
            ("RELAY-REPL", 13),
            ("LEASEQUERY", 14),
            ("LEASEQUERY-REPLY", 15),
            ("LEASEQUERY-DONE", 16),
            ("LEASEQUERY-DATA", 17),
            ("RECONFIGURE-REQUEST", 18),
            ("RECONFIGURE-REPLY", 19),
            ("DHCPV4-QUERY", 20),
            ("DHCPV4-RESPONSE", 21),
        ],
    ),
];

/// Look up enumeration `name`'s value `value` (case-sensitive, as ISC):
/// the encoded bytes (big-endian, the enumeration's width).
pub(crate) fn enumeration_value(name: &str, value: &str) -> Option<Vec<u8>> {
    let (_, width, values) = ENUMERATIONS.iter().find(|(n, _, _)| *n == name)?;
    let (_, v) = values.iter().find(|(n, _)| *n == value)?;
    let bytes = v.to_be_bytes();
    Some(bytes[4 - usize::from(*width)..].to_vec())
}

/// Translate an ISC format string into the model's [`OptionType`].
pub(crate) fn format_to_type(format: &str) -> OptionType {
    let f = format.as_bytes();
    let mut items: Vec<OptionType> = Vec::new();
    let mut whole_array = false;
    let mut i = 0;
    while let Some(&c) = f.get(i) {
        i += 1;
        let item = match c {
            b'I' => OptionType::IpAddress,
            b'6' => OptionType::Ipv6Address,
            b'l' => OptionType::Int32,
            b'L' | b'T' => OptionType::Uint32,
            b's' => OptionType::Int16,
            b'S' => OptionType::Uint16,
            b'b' => OptionType::Int8,
            b'B' => OptionType::Uint8,
            b't' | b'U' | b'k' => OptionType::Text,
            b'X' => OptionType::String,
            b'f' | b'F' => OptionType::Boolean,
            b'd' => OptionType::DomainName,
            b'D' => {
                let compressed = f.get(i) == Some(&b'c');
                if compressed {
                    i += 1;
                }
                OptionType::DomainList { compressed }
            }
            b'Z' => OptionType::Zerolen,
            b'E' | b'N' => {
                let start = i;
                while f.get(i).is_some_and(|&c| c != b'.') {
                    i += 1;
                }
                let name =
                    String::from_utf8_lossy(f.get(start..i).unwrap_or_default()).into_owned();
                i += 1; // the '.'
                if c == b'N' {
                    OptionType::Enumeration(name)
                } else if name.is_empty() {
                    OptionType::VendorEncapsulate
                } else {
                    OptionType::Encapsulate(name)
                }
            }
            b'a' => {
                if let Some(last) = items.pop() {
                    items.push(OptionType::Array(Box::new(last)));
                }
                continue;
            }
            b'o' => {
                if let Some(last) = items.pop() {
                    items.push(OptionType::Optional(Box::new(last)));
                }
                continue;
            }
            b'A' => {
                whole_array = true;
                continue;
            }
            // 'e' only marks an encapsulation later in the format.
            _ => continue,
        };
        items.push(item);
    }
    let inner = if items.len() == 1 {
        items.pop().unwrap_or(OptionType::String)
    } else {
        OptionType::Record(items)
    };
    if whole_array {
        OptionType::Array(Box::new(inner))
    } else {
        inner
    }
}

/// The name of the space a format encapsulates (`E` item), if any;
/// `Some("")` means the `vendor-option-space`.
pub(crate) fn encapsulated_space(format: &str) -> Option<&str> {
    let start = format.find('E')? + 1;
    let rest = format.get(start..)?;
    let end = rest.find('.')?;
    rest.get(..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_translate() {
        assert_eq!(format_to_type("I"), OptionType::IpAddress);
        assert_eq!(
            format_to_type("IA"),
            OptionType::Array(Box::new(OptionType::IpAddress))
        );
        assert_eq!(
            format_to_type("IIA"),
            OptionType::Array(Box::new(OptionType::Record(vec![
                OptionType::IpAddress,
                OptionType::IpAddress
            ])))
        );
        assert_eq!(
            format_to_type("fIa"),
            OptionType::Record(vec![
                OptionType::Boolean,
                OptionType::Array(Box::new(OptionType::IpAddress))
            ])
        );
        assert_eq!(
            format_to_type("Dc"),
            OptionType::DomainList { compressed: true }
        );
        assert_eq!(
            format_to_type("Eagent."),
            OptionType::Encapsulate("agent".into())
        );
        assert_eq!(format_to_type("E."), OptionType::VendorEncapsulate);
        assert_eq!(
            format_to_type("Sa"),
            OptionType::Array(Box::new(OptionType::Uint16))
        );
    }

    #[test]
    fn tables_have_unique_codes_per_space() {
        let mut seen = std::collections::HashSet::new();
        for (space, name, code, _) in BUILTIN_OPTIONS {
            assert!(seen.insert((*space, *code)), "{space}.{name} code {code}");
            assert!(BUILTIN_SPACES.iter().any(|(s, ..)| s == space));
        }
    }

    #[test]
    fn enumerations() {
        assert_eq!(
            enumeration_value("syslog-facilities", "local7"),
            Some(vec![184])
        );
        assert_eq!(enumeration_value("ddns-styles", "interim"), Some(vec![2]));
        assert_eq!(
            enumeration_value("status-codes", "NoBinding"),
            Some(vec![0, 3])
        );
        assert_eq!(enumeration_value("ddns-styles", "Interim"), None);
    }
}
