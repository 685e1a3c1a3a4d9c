#!/usr/bin/env python3
"""Ask a DHCP server, as a relay agent, to confirm leases: for each client (chaddr, client-id and
the address of its last ACK) send an INIT-REBOOT DHCPREQUEST (option 50 = address, no server
identifier, ciaddr 0, giaddr = --giaddr) from --giaddr:67 to --server:67 and expect a DHCPACK
for that same address.

    dhcp_probe.py --server 10.0.0.10 --giaddr 10.0.0.30 ACKS.jsonl

ACKS.jsonl holds lines {"yiaddr", "chaddr", "client_id"} (dhcp_pcap.py --acks).  Keeps --window
requests in flight, retransmits after 1 s, 3 tries each.  Exit 0 if every address was ACKed back.
"""
import argparse
import json
import os
import select
import socket
import struct
import sys
import time

MAGIC = b"\x63\x82\x53\x63"


def request(xid, giaddr, chaddr, addr, client_id):
    hw = bytes.fromhex(chaddr.replace(":", ""))
    pkt = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, len(hw), 1, xid, 0, 0, bytes(4), bytes(4),
                      bytes(4), socket.inet_aton(giaddr), hw.ljust(16, b"\0"), b"", b"")
    opts = bytes([53, 1, 3]) + bytes([50, 4]) + socket.inet_aton(addr)
    if client_id:
        cid = bytes.fromhex(client_id)
        opts += bytes([61, len(cid)]) + cid
    opts += bytes([55, 4, 1, 3, 51, 54, 255])
    return pkt + MAGIC + opts


def reply(data):
    if len(data) < 240 or data[0] != 2 or data[236:240] != MAGIC:
        return None
    xid = struct.unpack("!I", data[4:8])[0]
    yiaddr = socket.inet_ntoa(data[16:20])
    i, mtype = 240, 0
    while i + 1 < len(data) and data[i] != 255:
        if data[i] == 0:
            i += 1
            continue
        if data[i] == 53 and data[i + 1] >= 1 and i + 2 < len(data):
            mtype = data[i + 2]
        i += 2 + data[i + 1]
    return xid, yiaddr, mtype


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("acks")
    ap.add_argument("--server", required=True)
    ap.add_argument("--giaddr", required=True)
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--deadline", type=float, default=60.0)
    a = ap.parse_args()
    todo = {}
    with open(a.acks) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                todo[r["chaddr"]] = r  # each client's last ACK
    queue = list(todo.values())
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.giaddr, 67))
    base = struct.unpack("!I", os.urandom(4))[0] & 0x7FFF0000
    pending, ok, bad = {}, 0, []
    n, end = 0, time.monotonic() + a.deadline
    while (queue or pending) and time.monotonic() < end:
        while queue and len(pending) < a.window:
            r = queue.pop()
            n += 1
            xid = base + n
            pending[xid] = [r, 0, 0.0]
        now = time.monotonic()
        for xid, p in list(pending.items()):
            r, tries, sent = p
            if now - sent >= 1.0:
                if tries == 3:
                    bad.append(f"{r['yiaddr']} ({r['chaddr']}): no reply after 3 tries")
                    del pending[xid]
                    continue
                s.sendto(request(xid, a.giaddr, r["chaddr"], r["yiaddr"], r.get("client_id")), (a.server, 67))
                p[1], p[2] = tries + 1, now
        if select.select([s], [], [], 0.05)[0]:
            data = s.recv(4096)
            rep = reply(data)
            if rep and rep[0] in pending:
                r = pending.pop(rep[0])[0]
                if rep[2] == 5 and rep[1] == r["yiaddr"]:
                    ok += 1
                else:
                    kind = {5: "ACK", 6: "NAK"}.get(rep[2], f"type {rep[2]}")
                    bad.append(f"{r['yiaddr']} ({r['chaddr']}): {kind} yiaddr {rep[1]}")
    for p in pending.values():
        bad.append(f"{p[0]['yiaddr']} ({p[0]['chaddr']}): no reply before the deadline")
    bad += [f"{r['yiaddr']}: not tried before the deadline" for r in queue]
    print(f"dhcp_probe: {len(todo)} clients asked for their lease back: {ok} ACKed, {len(bad)} not")
    for b in bad[:50]:
        print("  " + b, file=sys.stderr)
    return 0 if ok and not bad else 1


if __name__ == "__main__":
    sys.exit(main())
