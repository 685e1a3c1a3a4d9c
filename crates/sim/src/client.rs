//! A DHCP client as a small state machine (RFC 2131 §4.4, figure 5): INIT →
//! SELECTING (DISCOVER, broadcast, `secs` growing on retries) → REQUESTING →
//! BOUND → RENEWING (unicast to its server at T1) → REBINDING (broadcast at
//! T2) → INIT at expiry; INIT-REBOOT after a power cycle; DHCPRELEASE
//! sometimes. Packets are built with `tandem_wire` and replies parsed with
//! it. Like the node, the client is sans-I/O: it is given the time and the
//! packets, and returns what to send and what happened.

use std::net::Ipv4Addr;

use tandem_wire::{code, MessageType, Options, Packet, BOOTREPLY, BOOTREQUEST, FLAG_BROADCAST};

use crate::rng::Rng;
use crate::Ms;

/// RFC 2131 figure 5, plus `Off` (powered off or offline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    Off,
    /// Waiting a moment before sending the first DHCPDISCOVER.
    Init,
    Selecting,
    Requesting,
    Bound,
    Renewing,
    Rebinding,
    /// INIT-REBOOT: asking to keep the address it remembers.
    Rebooting,
}

/// A lease as the client holds it, from a DHCPACK it really received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub addr: Ipv4Addr,
    /// Option 54 of the DHCPACK.
    pub server_id: Ipv4Addr,
    /// Option 51 of the DHCPACK.
    pub lease_secs: u32,
    /// RFC 2131 §4.4.1: "the client SHOULD ... record the lease expiration
    /// time as the sum of the time at which the original request was sent
    /// and the duration of the lease". This is that send time.
    pub start: Ms,
    pub expires: Ms,
    pub t1: Ms,
    pub t2: Ms,
    /// When the DHCPACK arrived.
    pub acked_at: Ms,
}

/// A datagram the client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// To 255.255.255.255:67 from 0.0.0.0 (or from `src` when set): both
    /// servers hear it.
    Broadcast { src: Ipv4Addr, bytes: Vec<u8> },
    /// To `server`:67 from `src`:68.
    Unicast {
        server: Ipv4Addr,
        src: Ipv4Addr,
        bytes: Vec<u8>,
    },
}

/// What a received packet or a timer did to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    Nothing,
    /// An offer was taken; a DHCPREQUEST went out.
    Offered {
        addr: Ipv4Addr,
        server_id: Ipv4Addr,
    },
    /// A DHCPACK was accepted; the client now holds `binding`.
    Bound {
        binding: Binding,
        previous: Option<Binding>,
    },
    /// A DHCPNAK made the client drop its address (if it had one).
    Naked {
        dropped: Option<Ipv4Addr>,
    },
    /// The lease ran out while the client was still trying to extend it.
    Expired {
        addr: Ipv4Addr,
    },
    /// A DHCPACK that a client cannot use (RFC 2131 table 3: option 51 and
    /// 54 are MUST in a DHCPACK to a DHCPREQUEST; yiaddr must be set).
    Unusable {
        why: &'static str,
    },
}

/// One simulated DHCP client.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: usize,
    pub mac: [u8; 6],
    /// Option 61 when the client sends one (type 1 + MAC, as dhclient does).
    pub client_id: Option<Vec<u8>>,
    /// Sets the BROADCAST flag (RFC 2131 §4.1) in its requests.
    pub broadcast_flag: bool,
    pub state: ClientState,
    pub binding: Option<Binding>,
    xid: u32,
    /// Start of the current exchange, for `secs` (RFC 2131 §4.4.1).
    exchange_start: Ms,
    /// First transmission of the current DHCPREQUEST.
    request_sent: Ms,
    tries: u32,
    offer: Option<(Ipv4Addr, Ipv4Addr)>,
    wake: Option<Ms>,
}

/// Retransmission back-off of DHCPDISCOVER and DHCPREQUEST in the
/// SELECTING/REQUESTING states (RFC 2131 §4.1: 4 s doubling to 64 s,
/// randomized by ±1 s; shortened here to 2 s doubling to 16 s).
fn backoff(tries: u32, rng: &mut Rng) -> Ms {
    let base = 2000u64 << tries.min(3);
    rng.between(base - 1000, base + 1000)
}

/// RENEWING and REBINDING retransmit after half the time left until T2
/// (resp. expiry), "down to a minimum of 60 seconds" (RFC 2131 §4.4.5); 4 s
/// here, for short simulated leases.
fn half_remaining(now: Ms, until: Ms) -> Ms {
    let half = until.saturating_sub(now) / 2;
    now + half.max(4000).min(until.saturating_sub(now).max(1))
}

impl Client {
    pub fn new(id: usize, with_client_id: bool, broadcast_flag: bool) -> Client {
        let mac = mac_of(id);
        Client {
            id,
            mac,
            client_id: with_client_id.then(|| {
                let mut v = vec![1u8];
                v.extend_from_slice(&mac);
                v
            }),
            broadcast_flag,
            state: ClientState::Off,
            binding: None,
            xid: 0,
            exchange_start: 0,
            request_sent: 0,
            tries: 0,
            offer: None,
            wake: None,
        }
    }

    /// When the client wants [`Client::wake`] called.
    pub fn next_wake(&self) -> Option<Ms> {
        self.wake
    }

    /// The lease the client holds at `now`, if any: from a DHCPACK it
    /// received, not expired and not released. A powered-off client still
    /// holds its lease until it expires (it may come back and use it).
    pub fn holding(&self, now: Ms) -> Option<&Binding> {
        self.binding.as_ref().filter(|b| now < b.expires)
    }

    pub fn is_on(&self) -> bool {
        self.state != ClientState::Off
    }

    /// Power on: INIT-REBOOT when it remembers an unexpired lease, else INIT.
    pub fn power_on(&mut self, now: Ms, rng: &mut Rng) -> Vec<Outgoing> {
        if self.state != ClientState::Off {
            return Vec::new();
        }
        if self.holding(now).is_some() {
            self.state = ClientState::Rebooting;
            self.new_exchange(now, rng);
            self.request_sent = now;
            let out = self.send_request(now);
            self.wake = Some(now + backoff(0, rng));
            out
        } else {
            self.binding = None;
            self.state = ClientState::Init;
            self.wake = Some(now + rng.between(0, 2000));
            Vec::new()
        }
    }

    /// Power off (or leave the network) without a word.
    pub fn power_off(&mut self) {
        self.state = ClientState::Off;
        self.wake = None;
        self.offer = None;
    }

    /// Give the lease back (DHCPRELEASE, unicast to the server that granted
    /// it) and go offline. The client stops using the address at once.
    pub fn release(&mut self, now: Ms, rng: &mut Rng) -> Option<(Outgoing, Ipv4Addr)> {
        let bound = matches!(
            self.state,
            ClientState::Bound | ClientState::Renewing | ClientState::Rebinding
        );
        let b = self.holding(now)?.clone();
        if !bound {
            return None;
        }
        self.xid = rng.next_u64() as u32;
        let mut opts = self.base_options(MessageType::Release);
        opts.insert(code::SERVER_ID, b.server_id.octets().to_vec());
        let bytes = self.packet(opts, b.addr, 0);
        self.binding = None;
        self.power_off();
        Some((
            Outgoing::Unicast {
                server: b.server_id,
                src: b.addr,
                bytes,
            },
            b.addr,
        ))
    }

    /// The timer set by the client fired (`now >= next_wake()`).
    pub fn wake(&mut self, now: Ms, rng: &mut Rng) -> (Vec<Outgoing>, ClientEvent) {
        match self.wake {
            Some(t) if t <= now => {}
            _ => return (Vec::new(), ClientEvent::Nothing),
        }
        self.wake = None;
        // RFC 2131 §4.4.5: at expiry the client stops using the address and
        // returns to INIT.
        if let Some(b) = &self.binding {
            if now >= b.expires
                && matches!(
                    self.state,
                    ClientState::Bound | ClientState::Renewing | ClientState::Rebinding
                )
            {
                let addr = b.addr;
                self.binding = None;
                let out = self.start_discover(now, rng);
                return (out, ClientEvent::Expired { addr });
            }
        }
        match self.state {
            ClientState::Off => (Vec::new(), ClientEvent::Nothing),
            ClientState::Init => (self.start_discover(now, rng), ClientEvent::Nothing),
            ClientState::Selecting => {
                self.tries += 1;
                let out = self.send_discover(now);
                self.wake = Some(now + backoff(self.tries, rng));
                (out, ClientEvent::Nothing)
            }
            ClientState::Requesting => {
                self.tries += 1;
                if self.tries > 3 {
                    // No DHCPACK or DHCPNAK: start over (RFC 2131 §4.4.1).
                    return (self.start_discover(now, rng), ClientEvent::Nothing);
                }
                let out = self.send_request(now);
                self.wake = Some(now + backoff(self.tries, rng));
                (out, ClientEvent::Nothing)
            }
            ClientState::Rebooting => {
                self.tries += 1;
                if self.tries > 2 {
                    // RFC 2131 §3.2: without an answer the client may keep
                    // using the address until the lease expires.
                    return match self.binding.clone() {
                        Some(b) if now < b.expires => {
                            self.state = ClientState::Bound;
                            self.wake = Some(b.t1.max(now));
                            (Vec::new(), ClientEvent::Nothing)
                        }
                        _ => {
                            self.binding = None;
                            (self.start_discover(now, rng), ClientEvent::Nothing)
                        }
                    };
                }
                let out = self.send_request(now);
                self.wake = Some(now + backoff(self.tries, rng));
                (out, ClientEvent::Nothing)
            }
            ClientState::Bound => {
                let Some(b) = self.binding.clone() else {
                    return (self.start_discover(now, rng), ClientEvent::Nothing);
                };
                if now >= b.t2 {
                    self.state = ClientState::Rebinding;
                } else {
                    self.state = ClientState::Renewing;
                }
                self.new_exchange(now, rng);
                self.request_sent = now;
                let out = self.send_request(now);
                self.rearm_extend(now, &b);
                (out, ClientEvent::Nothing)
            }
            ClientState::Renewing | ClientState::Rebinding => {
                let Some(b) = self.binding.clone() else {
                    return (self.start_discover(now, rng), ClientEvent::Nothing);
                };
                if self.state == ClientState::Renewing && now >= b.t2 {
                    // T2: broadcast to any server, with a new transaction.
                    self.state = ClientState::Rebinding;
                    self.new_exchange(now, rng);
                    self.request_sent = now;
                }
                let out = self.send_request(now);
                self.rearm_extend(now, &b);
                (out, ClientEvent::Nothing)
            }
        }
    }

    /// A datagram arrived for this client's MAC.
    pub fn receive(
        &mut self,
        now: Ms,
        pkt: &Packet,
        rng: &mut Rng,
    ) -> (Vec<Outgoing>, ClientEvent) {
        let nothing = (Vec::new(), ClientEvent::Nothing);
        if pkt.op != BOOTREPLY || pkt.xid != self.xid || pkt.hw_addr() != self.mac {
            return nothing;
        }
        let Some(msg) = pkt.message_type() else {
            return nothing;
        };
        match (msg, self.state) {
            (MessageType::Offer, ClientState::Selecting) => {
                let Some(server_id) = pkt.server_id() else {
                    return (
                        Vec::new(),
                        ClientEvent::Unusable {
                            why: "DHCPOFFER without server identifier",
                        },
                    );
                };
                if pkt.yiaddr.is_unspecified() {
                    return (
                        Vec::new(),
                        ClientEvent::Unusable {
                            why: "DHCPOFFER without yiaddr",
                        },
                    );
                }
                self.offer = Some((pkt.yiaddr, server_id));
                self.state = ClientState::Requesting;
                self.tries = 0;
                self.request_sent = now;
                let out = self.send_request(now);
                self.wake = Some(now + backoff(0, rng));
                (
                    out,
                    ClientEvent::Offered {
                        addr: pkt.yiaddr,
                        server_id,
                    },
                )
            }
            (
                MessageType::Ack,
                ClientState::Requesting
                | ClientState::Renewing
                | ClientState::Rebinding
                | ClientState::Rebooting,
            ) => {
                let lease = pkt
                    .options
                    .get(code::LEASE_TIME)
                    .and_then(|v| <[u8; 4]>::try_from(v).ok())
                    .map(u32::from_be_bytes);
                let Some(lease_secs) = lease else {
                    return (
                        Vec::new(),
                        ClientEvent::Unusable {
                            why: "DHCPACK without lease time (option 51)",
                        },
                    );
                };
                let Some(server_id) = pkt.server_id() else {
                    return (
                        Vec::new(),
                        ClientEvent::Unusable {
                            why: "DHCPACK without server identifier (option 54)",
                        },
                    );
                };
                if pkt.yiaddr.is_unspecified() {
                    return (
                        Vec::new(),
                        ClientEvent::Unusable {
                            why: "DHCPACK without yiaddr",
                        },
                    );
                }
                let secs_opt = |c: u8| {
                    pkt.options
                        .get(c)
                        .and_then(|v| <[u8; 4]>::try_from(v).ok())
                        .map(u32::from_be_bytes)
                };
                let start = self.request_sent;
                let ms = |s: u32| start + u64::from(s) * 1000;
                let t1 = secs_opt(code::RENEWAL_TIME).unwrap_or(lease_secs / 2);
                let t2 = secs_opt(code::REBINDING_TIME).unwrap_or(lease_secs / 8 * 7);
                let binding = Binding {
                    addr: pkt.yiaddr,
                    server_id,
                    lease_secs,
                    start,
                    expires: ms(lease_secs),
                    t1: ms(t1.min(lease_secs)),
                    t2: ms(t2.min(lease_secs)),
                    acked_at: now,
                };
                let previous = self.binding.replace(binding.clone());
                self.state = ClientState::Bound;
                self.offer = None;
                self.wake = Some(binding.t1.max(now + 1));
                (Vec::new(), ClientEvent::Bound { binding, previous })
            }
            (
                MessageType::Nak,
                ClientState::Requesting
                | ClientState::Renewing
                | ClientState::Rebinding
                | ClientState::Rebooting,
            ) => {
                let dropped = self.binding.take().map(|b| b.addr);
                self.state = ClientState::Init;
                self.offer = None;
                self.wake = Some(now + rng.between(500, 3000));
                (Vec::new(), ClientEvent::Naked { dropped })
            }
            _ => nothing,
        }
    }

    fn rearm_extend(&mut self, now: Ms, b: &Binding) {
        let until = if self.state == ClientState::Renewing {
            b.t2
        } else {
            b.expires
        };
        self.wake = Some(half_remaining(now, until));
    }

    fn new_exchange(&mut self, now: Ms, rng: &mut Rng) {
        self.xid = rng.next_u64() as u32;
        self.exchange_start = now;
        self.tries = 0;
    }

    fn start_discover(&mut self, now: Ms, rng: &mut Rng) -> Vec<Outgoing> {
        self.state = ClientState::Selecting;
        self.offer = None;
        self.new_exchange(now, rng);
        let out = self.send_discover(now);
        self.wake = Some(now + backoff(0, rng));
        out
    }

    fn secs(&self, now: Ms) -> u16 {
        u16::try_from(now.saturating_sub(self.exchange_start) / 1000).unwrap_or(u16::MAX)
    }

    fn base_options(&self, msg: MessageType) -> Options {
        let mut o = Options::default();
        o.insert(code::MESSAGE_TYPE, vec![msg as u8]);
        if let Some(id) = &self.client_id {
            o.insert(code::CLIENT_ID, id.clone());
        }
        o
    }

    fn packet(&self, mut options: Options, ciaddr: Ipv4Addr, secs: u16) -> Vec<u8> {
        if !options.contains(code::PARAMETER_REQUEST_LIST) {
            options.insert(
                code::PARAMETER_REQUEST_LIST,
                vec![
                    code::SUBNET_MASK,
                    code::ROUTERS,
                    code::DOMAIN_NAME_SERVERS,
                    code::LEASE_TIME,
                    code::SERVER_ID,
                    code::RENEWAL_TIME,
                    code::REBINDING_TIME,
                ],
            );
        }
        let mut chaddr = [0u8; 16];
        chaddr[..6].copy_from_slice(&self.mac);
        Packet {
            op: BOOTREQUEST,
            htype: 1,
            hlen: 6,
            hops: 0,
            xid: self.xid,
            secs,
            flags: if self.broadcast_flag {
                FLAG_BROADCAST
            } else {
                0
            },
            ciaddr,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            siaddr: Ipv4Addr::UNSPECIFIED,
            giaddr: Ipv4Addr::UNSPECIFIED,
            chaddr,
            sname: Vec::new(),
            file: Vec::new(),
            has_cookie: true,
            options,
        }
        .encode()
    }

    fn send_discover(&self, now: Ms) -> Vec<Outgoing> {
        let opts = self.base_options(MessageType::Discover);
        vec![Outgoing::Broadcast {
            src: Ipv4Addr::UNSPECIFIED,
            bytes: self.packet(opts, Ipv4Addr::UNSPECIFIED, self.secs(now)),
        }]
    }

    /// The DHCPREQUEST of the current state (RFC 2131 §4.3.2 table 4).
    fn send_request(&self, now: Ms) -> Vec<Outgoing> {
        let mut opts = self.base_options(MessageType::Request);
        let secs = self.secs(now);
        match self.state {
            ClientState::Requesting => {
                let Some((addr, server_id)) = self.offer else {
                    return Vec::new();
                };
                // SELECTING: 'server identifier' MUST, 'requested IP' MUST, ciaddr 0.
                opts.insert(code::REQUESTED_ADDRESS, addr.octets().to_vec());
                opts.insert(code::SERVER_ID, server_id.octets().to_vec());
                vec![Outgoing::Broadcast {
                    src: Ipv4Addr::UNSPECIFIED,
                    bytes: self.packet(opts, Ipv4Addr::UNSPECIFIED, secs),
                }]
            }
            ClientState::Rebooting => {
                // INIT-REBOOT: no server identifier, 'requested IP' MUST, ciaddr 0.
                let Some(b) = &self.binding else {
                    return Vec::new();
                };
                opts.insert(code::REQUESTED_ADDRESS, b.addr.octets().to_vec());
                vec![Outgoing::Broadcast {
                    src: Ipv4Addr::UNSPECIFIED,
                    bytes: self.packet(opts, Ipv4Addr::UNSPECIFIED, secs),
                }]
            }
            ClientState::Renewing => {
                // RENEWING: unicast to the server, ciaddr set, no 50/54.
                let Some(b) = &self.binding else {
                    return Vec::new();
                };
                vec![Outgoing::Unicast {
                    server: b.server_id,
                    src: b.addr,
                    bytes: self.packet(opts, b.addr, secs),
                }]
            }
            ClientState::Rebinding => {
                // REBINDING: broadcast, ciaddr set, no 50/54.
                let Some(b) = &self.binding else {
                    return Vec::new();
                };
                vec![Outgoing::Broadcast {
                    src: b.addr,
                    bytes: self.packet(opts, b.addr, secs),
                }]
            }
            _ => Vec::new(),
        }
    }
}

/// The MAC address of client `id`: locally administered 02:00:00:00:hi:lo.
pub fn mac_of(id: usize) -> [u8; 6] {
    let id = id as u16;
    let [hi, lo] = id.to_be_bytes();
    [0x02, 0, 0, 0, hi, lo]
}

/// Client index from a MAC built by [`mac_of`].
pub fn id_of(mac: &[u8]) -> Option<usize> {
    match mac {
        [0x02, 0, 0, 0, hi, lo] => Some(usize::from(u16::from_be_bytes([*hi, *lo]))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(req: &[u8], msg: MessageType, yiaddr: Ipv4Addr, lease: Option<u32>) -> Packet {
        let req = Packet::decode(req).expect("client packets decode");
        let mut r = req.new_reply(msg);
        r.yiaddr = yiaddr;
        r.options.insert(
            code::SERVER_ID,
            Ipv4Addr::new(10, 0, 0, 10).octets().to_vec(),
        );
        if let Some(l) = lease {
            r.options.insert(code::LEASE_TIME, l.to_be_bytes().to_vec());
        }
        r
    }

    fn bytes(o: &Outgoing) -> &[u8] {
        match o {
            Outgoing::Broadcast { bytes, .. } | Outgoing::Unicast { bytes, .. } => bytes,
        }
    }

    #[test]
    fn dora_then_renew_then_rebind_then_expire() {
        let mut rng = Rng::new(3);
        let mut c = Client::new(5, true, false);
        assert!(c.power_on(0, &mut rng).is_empty());
        let t = c.next_wake().unwrap();
        let (out, _) = c.wake(t, &mut rng);
        assert_eq!(c.state, ClientState::Selecting);
        let discover = Packet::decode(bytes(&out[0])).unwrap();
        assert_eq!(discover.message_type(), Some(MessageType::Discover));
        assert_eq!(discover.client_id(), Some(&[1, 2, 0, 0, 0, 0, 5][..]));
        // A retry carries a larger secs.
        let t2 = c.next_wake().unwrap();
        let (out2, _) = c.wake(t2 + 1500, &mut rng);
        let again = Packet::decode(bytes(&out2[0])).unwrap();
        assert!(
            again.secs >= 1 && again.xid == discover.xid,
            "{}",
            again.secs
        );
        let addr = Ipv4Addr::new(10, 0, 0, 100);
        let now = t2 + 2000;
        let (out, ev) = c.receive(
            now,
            &reply(bytes(&out2[0]), MessageType::Offer, addr, Some(60)),
            &mut rng,
        );
        assert!(matches!(ev, ClientEvent::Offered { .. }));
        let request = Packet::decode(bytes(&out[0])).unwrap();
        assert_eq!(request.requested_address(), Some(addr));
        assert_eq!(request.server_id(), Some(Ipv4Addr::new(10, 0, 0, 10)));
        let (_, ev) = c.receive(
            now + 50,
            &reply(bytes(&out[0]), MessageType::Ack, addr, Some(60)),
            &mut rng,
        );
        let ClientEvent::Bound { binding, .. } = ev else {
            panic!("{ev:?}")
        };
        assert_eq!(binding.start, now, "lease counted from the request");
        assert_eq!(binding.expires, now + 60_000);
        assert_eq!(c.holding(now + 59_999).map(|b| b.addr), Some(addr));
        assert!(c.holding(now + 60_000).is_none());
        // T1: unicast renewal with ciaddr.
        let (out, _) = c.wake(binding.t1, &mut rng);
        assert_eq!(c.state, ClientState::Renewing);
        match &out[0] {
            Outgoing::Unicast { server, src, .. } => {
                assert_eq!(*server, Ipv4Addr::new(10, 0, 0, 10));
                assert_eq!(*src, addr);
            }
            o => panic!("{o:?}"),
        }
        // No answer until T2: broadcast.
        let mut now = binding.t1;
        while c.state == ClientState::Renewing {
            now = c.next_wake().unwrap();
            c.wake(now, &mut rng);
        }
        assert_eq!(c.state, ClientState::Rebinding);
        assert!(now >= binding.t2);
        loop {
            now = c.next_wake().unwrap();
            let (_, ev) = c.wake(now, &mut rng);
            if let ClientEvent::Expired { addr: a } = ev {
                assert_eq!(a, addr);
                break;
            }
        }
        assert_eq!(now, binding.expires);
        assert_eq!(c.state, ClientState::Selecting);
        assert!(c.binding.is_none());
    }

    #[test]
    fn nak_drops_the_address_and_foreign_replies_are_ignored() {
        let mut rng = Rng::new(4);
        let mut c = Client::new(1, false, true);
        c.power_on(0, &mut rng);
        let (out, _) = c.wake(c.next_wake().unwrap(), &mut rng);
        let d = bytes(&out[0]).to_vec();
        let addr = Ipv4Addr::new(10, 0, 0, 101);
        let mut other = reply(&d, MessageType::Offer, addr, None);
        other.xid ^= 1;
        assert_eq!(c.receive(10, &other, &mut rng).1, ClientEvent::Nothing);
        let (out, _) = c.receive(10, &reply(&d, MessageType::Offer, addr, None), &mut rng);
        // An ACK without option 51 is unusable.
        let (_, ev) = c.receive(
            20,
            &reply(bytes(&out[0]), MessageType::Ack, addr, None),
            &mut rng,
        );
        assert!(matches!(ev, ClientEvent::Unusable { .. }));
        let (_, ev) = c.receive(
            30,
            &reply(
                bytes(&out[0]),
                MessageType::Nak,
                Ipv4Addr::UNSPECIFIED,
                None,
            ),
            &mut rng,
        );
        assert_eq!(ev, ClientEvent::Naked { dropped: None });
        assert_eq!(c.state, ClientState::Init);
    }

    #[test]
    fn reboot_asks_for_the_remembered_address_and_release_gives_it_back() {
        let mut rng = Rng::new(5);
        let mut c = Client::new(2, false, false);
        c.power_on(0, &mut rng);
        let (out, _) = c.wake(c.next_wake().unwrap(), &mut rng);
        let addr = Ipv4Addr::new(10, 0, 0, 102);
        let (out, _) = c.receive(
            10,
            &reply(bytes(&out[0]), MessageType::Offer, addr, None),
            &mut rng,
        );
        c.receive(
            20,
            &reply(bytes(&out[0]), MessageType::Ack, addr, Some(300)),
            &mut rng,
        );
        c.power_off();
        assert!(
            c.holding(1000).is_some(),
            "an offline client still holds its lease"
        );
        let out = c.power_on(5000, &mut rng);
        assert_eq!(c.state, ClientState::Rebooting);
        let p = Packet::decode(bytes(&out[0])).unwrap();
        assert_eq!(p.requested_address(), Some(addr));
        assert_eq!(p.server_id(), None);
        // Nobody answers: it keeps its lease.
        while c.state == ClientState::Rebooting {
            let t = c.next_wake().unwrap();
            c.wake(t, &mut rng);
        }
        assert_eq!(c.state, ClientState::Bound);
        let (rel, a) = c.release(20_000, &mut rng).unwrap();
        assert_eq!(a, addr);
        let Outgoing::Unicast { bytes, .. } = rel else {
            panic!()
        };
        let p = Packet::decode(&bytes).unwrap();
        assert_eq!(p.message_type(), Some(MessageType::Release));
        assert_eq!(p.ciaddr, addr);
        assert!(c.holding(20_000).is_none());
        assert_eq!(id_of(&mac_of(258)), Some(258));
    }
}
