#!/bin/bash
# perfdhcp (Kea 2.2) in relay mode against the server: a functional check that the DORA exchanges
# complete (drops <= MAX_DROP_PCT, default 1%), not a speed assertion.  perfdhcp exits 3 whenever
# any exchange was lost, so its "drops ratio" lines are parsed instead of its exit code.
#   RATE (default 100/s), SECS (default 10), MAX_DROP_PCT (default 1)
# Works with SERVER=tandem and SERVER=dhcpd.
. "$(dirname "$0")/lib.sh"
RATE=${RATE:-100} SECS=${SECS:-10} MAX_DROP_PCT=${MAX_DROP_PCT:-1}

host_add srv 10.0.0.10/16 02:00:00:00:00:0a
host_add perf 10.0.0.30/16 02:00:00:00:00:1e
cat >"$T/server.conf" <<CONF
authoritative;
ddns-update-style none;
ping-check false;
default-lease-time 600;
max-lease-time 7200;
subnet 10.0.0.0 netmask 255.255.0.0 {
    range 10.0.1.0 10.0.8.255;      # 2048 addresses: more than RATE*SECS clients
    option routers 10.0.0.1;
}
CONF
server_start "${P}srv" "$T/server.conf" "$T/server.leases" "$T/server.pid"

# A unicast server address makes perfdhcp act as a relay: giaddr = -l address, sent from port 67.
say "perfdhcp -r $RATE -p $SECS (relay mode)"
rc=0
timeout $((SECS + 30)) ip netns exec "${P}perf" perfdhcp -4 -r "$RATE" -R 100000 -p "$SECS" -l 10.0.0.30 10.0.0.10 \
  >"$T/perfdhcp.log" 2>&1 || rc=$?
log "perfdhcp rc=$rc"
[ "$rc" = 124 ] && fail "perfdhcp did not finish within $((SECS + 30))s"
python3 "$REPO/tests/netns/perfdhcp_stats.py" --max-drop-pct "$MAX_DROP_PCT" --min-sent $((RATE * SECS / 2)) "$T/perfdhcp.log" ||
  fail "perfdhcp exchanges did not complete (see perfdhcp.log)"
LEASED=$(grep -c '^lease ' "$T/server.leases" || true)
say "server lease file has $LEASED lease records"
[ "$LEASED" -ge $((RATE * SECS / 2)) ] || fail "lease file has only $LEASED lease records"
pass
