#!/usr/bin/env python3
"""Read an ISC dhcpd.leases file (as written by ISC dhcpd 4.4 or tandem) and check it against a
list of DHCPACKs.

    isc_leases.py dump LEASES                  the final state of each address, as JSON lines
    isc_leases.py check LEASES ACKS.jsonl      every ACKed address (last ACK per address) must be
                                               'binding state active' with the ACK's hardware address,
                                               and no address may have been ACKed to two clients

The file is a sequence of statements; `lease A.B.C.D { ... }` blocks are appended as leases change,
so the last block for an address wins (ISC's own rule when it reads the file back).  Everything
else (failover state, host, server-duid, authoring-byte-order, comments) is parsed and ignored.
A torn last block (a crash in the middle of a write) is reported and ignored.
"""
import json
import sys


class Torn(Exception):
    pass


def tokens(text):
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c in "{};":
            yield c
            i += 1
        elif c == '"':
            j, out = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    out.append(text[j:j + 2])
                    j += 2
                else:
                    out.append(text[j])
                    j += 1
            if j >= n:
                raise Torn("unterminated string")
            yield '"' + "".join(out) + '"'
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '{};"#':
                j += 1
            yield text[i:j]
            i = j


def statements(toks, nested=False):
    """Yield (words, body) where body is a list of statements for `words { ... }`, else None."""
    words = []
    for t in toks:
        if t == ";":
            if words:
                yield words, None
            words = []
        elif t == "{":
            yield words, list(statements(toks, True))
            words = []
        elif t == "}":
            if not nested:
                raise Torn("unbalanced }")
            return
        else:
            words.append(t)
    if nested or words:
        raise Torn("file ends inside a statement")


def read_leases(path):
    with open(path, encoding="latin-1") as f:
        text = f.read()
    leases, warnings = {}, []
    gen = statements(tokens(text))
    while True:
        try:
            words, body = next(gen)
        except StopIteration:
            break
        except Torn as e:
            warnings.append(f"torn tail ignored: {e}")
            break
        if len(words) == 2 and words[0] == "lease" and body is not None:
            rec = {"address": words[1]}
            for w, _b in body:
                if w[:2] == ["binding", "state"] and len(w) >= 3:
                    rec["binding_state"] = w[2]
                elif w[:2] == ["hardware", "ethernet"] and len(w) >= 3:
                    rec["hardware"] = w[2].lower()
                elif w[0] in ("starts", "ends", "tstp", "tsfp", "atsfp", "cltt") and len(w) >= 2:
                    rec[w[0]] = " ".join(w[1:])
                elif w[0] == "uid" and len(w) >= 2:
                    rec["uid"] = w[1]
                elif w[0] == "client-hostname" and len(w) >= 2:
                    rec["client_hostname"] = w[1]
            leases[words[1]] = rec  # the last block for an address wins
    return leases, warnings


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("dump", "check"):
        raise SystemExit(__doc__)
    leases, warnings = read_leases(sys.argv[2])
    for w in warnings:
        print(f"isc_leases: {sys.argv[2]}: {w}", file=sys.stderr)
    if sys.argv[1] == "dump":
        for rec in leases.values():
            print(json.dumps(rec))
        return 0
    acked, holders = {}, {}
    with open(sys.argv[3]) as f:
        for line in f:
            if line.strip():
                a = json.loads(line)
                acked[a["yiaddr"]] = a  # last ACK per address
                holders.setdefault(a["yiaddr"], []).append(a["chaddr"].lower())
    bad = []
    # No client releases and every lease outlives the test: an address ACKed to a second client
    # means the first client's lease was lost (e.g. forgotten across a crash) and given away.
    for addr, chs in sorted(holders.items()):
        distinct = list(dict.fromkeys(chs))
        if len(distinct) > 1:
            bad.append(f"{addr}: ACKed to {distinct[0]} and later to {', '.join(distinct[1:])}")
    for addr, a in sorted(acked.items()):
        rec = leases.get(addr)
        if rec is None:
            bad.append(f"{addr}: ACKed to {a['chaddr']} but absent from the lease file")
        elif rec.get("binding_state") != "active":
            bad.append(f"{addr}: ACKed to {a['chaddr']} but binding state {rec.get('binding_state')}")
        elif rec.get("hardware") != a["chaddr"].lower():
            bad.append(f"{addr}: ACKed to {a['chaddr']} but leased to {rec.get('hardware')}")
    print(f"isc_leases: {len(acked)} ACKed addresses checked against {len(leases)} leases in the file: "
          f"{len(acked) - len(bad)} ok, {len(bad)} bad")
    for b in bad[:50]:
        print("  " + b, file=sys.stderr)
    return 1 if bad or not acked else 0


if __name__ == "__main__":
    sys.exit(main())
