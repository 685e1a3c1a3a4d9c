#!/usr/bin/env python3
"""Check perfdhcp's output: every exchange type ran and lost at most --max-drop-pct percent.

perfdhcp prints, per exchange type, a block such as
    ***Statistics for: DISCOVER-OFFER***
    sent packets: 999
    received packets: 999
    drops: 0
    drops ratio: 0 %
Exit 0 if DISCOVER-OFFER and REQUEST-ACK both sent at least --min-sent packets and their drops
ratio is within the limit; exit 1 otherwise (with the reason on stderr).
"""
import argparse
import re
import sys


def parse(text):
    stats = {}
    current = None
    for line in text.splitlines():
        m = re.search(r"\*\*\*Statistics for: ([A-Z-]+)\*\*\*", line)
        if m:
            current = stats.setdefault(m.group(1), {})
            continue
        if current is None:
            continue
        m = re.match(r"\s*(sent packets|received packets|drops|drops ratio):\s*([0-9.]+)", line)
        if m and m.group(1) not in current:
            current[m.group(1)] = float(m.group(2))
    return stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--max-drop-pct", type=float, default=1.0)
    ap.add_argument("--min-sent", type=int, default=1)
    a = ap.parse_args()
    with open(a.log, encoding="utf-8", errors="replace") as f:
        stats = parse(f.read())
    ok = True
    for ex in ("DISCOVER-OFFER", "REQUEST-ACK"):
        s = stats.get(ex)
        if not s or "sent packets" not in s or "received packets" not in s:
            print(f"perfdhcp: no statistics for {ex}", file=sys.stderr)
            ok = False
            continue
        sent, recv = s["sent packets"], s["received packets"]
        ratio = s.get("drops ratio", 100.0 * (sent - recv) / sent if sent else 100.0)
        print(f"perfdhcp {ex}: sent {sent:.0f} received {recv:.0f} drops {ratio:.3f} %")
        if sent < a.min_sent:
            print(f"perfdhcp: {ex} sent only {sent:.0f} < {a.min_sent}", file=sys.stderr)
            ok = False
        if ratio > a.max_drop_pct:
            print(f"perfdhcp: {ex} drops {ratio:.3f} % > {a.max_drop_pct} %", file=sys.stderr)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
