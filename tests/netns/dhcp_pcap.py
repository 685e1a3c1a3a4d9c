#!/usr/bin/env python3
"""DHCPv4 messages out of a classic pcap file (tcpdump -w), with no third-party modules.

    dhcp_pcap.py FILE.pcap            one JSON object per DHCP message, one per line
    dhcp_pcap.py --acks FILE.pcap     only DHCPACKs: {"time", "yiaddr", "chaddr", "client_id"}

client_id is the option 61 (hex) of the client's DHCPREQUEST with the same xid and chaddr, when
the ACK itself does not echo it.  Handles Ethernet (linktype 1) and Linux cooked (113, 276)
captures, IPv4 only, UDP ports 67/68; malformed frames are skipped.
"""
import json
import struct
import sys

MAGIC = b"\x63\x82\x53\x63"
MSG_TYPES = {1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK",
             7: "RELEASE", 8: "INFORM"}


def frames(path):
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return
        magic = hdr[:4]
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            endian = "<"
        elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            endian = ">"
        else:
            raise SystemExit(f"{path}: not a classic pcap file")
        nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        linktype = struct.unpack(endian + "I", hdr[20:24])[0]
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return  # a truncated last record (capture killed) ends the file
            sec, frac, incl, _orig = struct.unpack(endian + "IIII", rec)
            data = f.read(incl)
            if len(data) < incl:
                return
            yield sec + frac / (1e9 if nano else 1e6), linktype, data


def ip_payload(linktype, data):
    if linktype == 1:  # Ethernet, maybe with 802.1Q tags
        off, etype = 14, data[12:14]
        while etype == b"\x81\x00" and len(data) >= off + 4:
            etype, off = data[off + 2:off + 4], off + 4
    elif linktype == 113:  # Linux cooked v1
        off, etype = 16, data[14:16]
    elif linktype == 276:  # Linux cooked v2
        off, etype = 20, data[0:2]
    else:
        return None
    if etype != b"\x08\x00":
        return None
    return data[off:]


def parse_dhcp(ip):
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
        return None
    ihl = (ip[0] & 15) * 4
    udp = ip[ihl:]
    if len(udp) < 8:
        return None
    sport, dport = struct.unpack("!HH", udp[:4])
    if not ({sport, dport} & {67, 68}):
        return None
    b = udp[8:]
    if len(b) < 240 or b[236:240] != MAGIC:
        return None
    hlen = min(b[2], 16)
    msg = {
        "op": b[0], "xid": "%08x" % struct.unpack("!I", b[4:8])[0],
        "ciaddr": ".".join(map(str, b[12:16])), "yiaddr": ".".join(map(str, b[16:20])),
        "giaddr": ".".join(map(str, b[24:28])), "chaddr": ":".join("%02x" % x for x in b[28:28 + hlen]),
        "src": ".".join(map(str, ip[12:16])), "dst": ".".join(map(str, ip[16:20])),
        "sport": sport, "dport": dport, "options": {},
    }
    i, opts = 240, {}
    while i < len(b):
        code = b[i]
        if code == 255:
            break
        if code == 0:
            i += 1
            continue
        if i + 1 >= len(b):
            break
        ln = b[i + 1]
        val = b[i + 2:i + 2 + ln]
        opts[code] = opts.get(code, b"") + val  # RFC 3396: concatenate repeated options
        i += 2 + ln
    msg["type"] = MSG_TYPES.get(opts.get(53, b"\x00")[0] if opts.get(53) else 0, "BOOTP")
    for code in (50, 54):
        if code in opts and len(opts[code]) == 4:
            msg["opt%d" % code] = ".".join(map(str, opts[code]))
    if 61 in opts:
        msg["client_id"] = opts[61].hex()
    if 51 in opts and len(opts[51]) == 4:
        msg["lease_time"] = struct.unpack("!I", opts[51])[0]
    del msg["options"]
    return msg


def messages(path):
    for t, lt, data in frames(path):
        ip = ip_payload(lt, data)
        if ip is None:
            continue
        m = parse_dhcp(ip)
        if m is not None:
            m["time"] = round(t, 6)
            yield m


def main():
    args = sys.argv[1:]
    acks_only = "--acks" in args
    args = [a for a in args if a != "--acks"]
    if len(args) != 1:
        raise SystemExit(__doc__)
    client_ids = {}
    for m in messages(args[0]):
        if m["op"] == 1 and "client_id" in m:
            client_ids[(m["xid"], m["chaddr"])] = m["client_id"]
        if acks_only:
            if m["op"] == 2 and m["type"] == "ACK":
                cid = m.get("client_id") or client_ids.get((m["xid"], m["chaddr"]))
                print(json.dumps({"time": m["time"], "yiaddr": m["yiaddr"], "chaddr": m["chaddr"],
                                  "client_id": cid}))
        else:
            print(json.dumps(m))


if __name__ == "__main__":
    main()
