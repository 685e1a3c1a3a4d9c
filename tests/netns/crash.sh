#!/bin/bash
# Crash safety: under a stream of new clients (perfdhcp, relay mode, RATE/s), the server is
# killed with SIGKILL mid-run and restarted on the same lease file.  Every address whose DHCPACK
# perfdhcp received (captured with tcpdump in perfdhcp's namespace) must still be leased
# ('binding state active', same hardware address) in the restarted server's lease file, the
# restarted server must answer new clients and ACK every one of those leases back to its client
# (an INIT-REBOOT DHCPREQUEST per lease, sent as a relay), and ISC's own reader (`dhcpd -t -T`)
# must read the lease file without complaint.  "Durable before the ACK."
# Works with SERVER=tandem and SERVER=dhcpd.  RATE (default 50), SECS (default 14), KILL_AFTER (5).
TEST_TIMEOUT=${TEST_TIMEOUT:-170}
. "$(dirname "$0")/lib.sh"
RATE=${RATE:-50} SECS=${SECS:-14} KILL_AFTER=${KILL_AFTER:-5}
H=$REPO/tests/netns

host_add srv 10.0.0.10/16 02:00:00:00:00:0a
host_add perf 10.0.0.30/16 02:00:00:00:00:1e
cat >"$T/server.conf" <<CONF
authoritative;
ddns-update-style none;
ping-check false;
default-lease-time 3600;
max-lease-time 7200;
subnet 10.0.0.0 netmask 255.255.0.0 {
    range 10.0.1.0 10.0.8.255;      # 2048 addresses: more than RATE*SECS clients
    option routers 10.0.0.1;
}
CONF
server_start "${P}srv" "$T/server.conf" "$T/server.leases" "$T/server.pid"

# Capture every DHCP packet perfdhcp sends and receives.
bg_run "${P}perf" "$T/tcpdump.log" tcpdump -i eth0 -n -U -s 0 -w "$T/perf.pcap" udp port 67
TCPDUMP_PID=$BG_PID
wait_for 10 "tcpdump listening" grep -q 'listening on' "$T/tcpdump.log"

bg_run "${P}perf" "$T/perfdhcp.log" perfdhcp -4 -r "$RATE" -R 100000 -p "$SECS" -l 10.0.0.30 10.0.0.10
PERF_PID=$BG_PID
sleep "$KILL_AFTER"
pid_alive "$PERF_PID" || fail "perfdhcp ended before the crash"
kill -KILL "$SERVER_PID"
CRASH_AT=$(date +%s.%N)
{ wait "$SERVER_PID"; } 2>/dev/null || true
FIRST_PID=$SERVER_PID
say "killed the server (pid $FIRST_PID) with SIGKILL after ${KILL_AFTER}s; restarting on the same lease file"
sleep 0.5
server_start "${P}srv" "$T/server.conf" "$T/server.leases" "$T/server.pid" eth0 "$T/server-restarted.log"
RESTART_AT=$(date +%s.%N)
say "restarted (pid $SERVER_PID) in $(awk -v a="$CRASH_AT" -v b="$RESTART_AT" 'BEGIN{printf "%.2f", b-a}')s"

for _ in $(seq $((SECS * 10 + 300))); do pid_alive "$PERF_PID" || break; sleep 0.1; done
pid_alive "$PERF_PID" && fail "perfdhcp did not finish"
wait "$PERF_PID" 2>/dev/null || true
sleep 1   # the last ACKs
kill -INT "$TCPDUMP_PID"
wait_exit "$TCPDUMP_PID" 5 || fail "tcpdump did not stop"
wait "$TCPDUMP_PID" 2>/dev/null || true

python3 "$H/dhcp_pcap.py" --acks "$T/perf.pcap" >"$T/acks.jsonl"
BEFORE=$(awk -v t="$CRASH_AT" -F'"time": ' '{split($2,a,","); if (a[1] < t) n++} END{print n+0}' "$T/acks.jsonl")
AFTER=$(awk -v t="$RESTART_AT" -F'"time": ' '{split($2,a,","); if (a[1] > t) n++} END{print n+0}' "$T/acks.jsonl")
say "perfdhcp received $(wc -l <"$T/acks.jsonl") DHCPACKs: $BEFORE before the crash, $AFTER after the restart"
[ "$BEFORE" -ge $((RATE * KILL_AFTER / 2)) ] || fail "only $BEFORE ACKs before the crash"
[ "$AFTER" -ge $((RATE * (SECS - KILL_AFTER) / 3)) ] || fail "the restarted server ACKed only $AFTER new exchanges"

# 1. the lease file (as the restarted server keeps it) holds every ACKed lease
cp "$T/server.leases" "$T/after-restart.leases"
python3 "$H/isc_leases.py" check "$T/after-restart.leases" "$T/acks.jsonl" 2>&1 | tee -a "$T/test.log" |
  sed "s/^/$TEST_NAME: /" || true
python3 "$H/isc_leases.py" check "$T/after-restart.leases" "$T/acks.jsonl" >/dev/null 2>&1 ||
  fail "ACKed leases lost or changed across the crash"

# 2. the restarted server's log says it read the file back: ISC logs "Wrote N leases to leases
# file." after reading and rewriting it at startup.  Required for dhcpd; for tandem checked when
# present (it does not print that line yet), and a panic or "corrupt" fails the test.
N=$(grep -oE '^Wrote [0-9]+ leases to leases file' "$T/server-restarted.log" | tail -n1 | grep -oE '[0-9]+' || true)
if [ -n "$N" ]; then
  [ "$N" -ge "$BEFORE" ] || fail "the restarted server wrote $N leases < $BEFORE ACKed before the crash"
  say "the restarted server logged: Wrote $N leases to leases file"
elif [ "$SERVER" = dhcpd ]; then
  fail "dhcpd did not log its lease count after the restart"
else
  say "note: the restarted server logs no 'Wrote N leases to leases file.' line (ISC does)"
fi
grep -qiE 'panic|corrupt' "$T/server-restarted.log" && fail "the restarted server logged a panic or corruption"

# 3. ISC's own reader accepts the file (dhcpd -T parses it, writes a temp copy and removes it)
mkdir -p "$T/isc-read"
cp "$T/after-restart.leases" "$T/isc-read/dhcpd.leases"
timeout 30 "$DHCPD" -t -T -cf "$T/server.conf" -lf "$T/isc-read/dhcpd.leases" >"$T/isc-read.log" 2>&1 ||
  fail "dhcpd -t -T failed on the lease file"
grep -qiE 'corrupt|expecting|unexpected' "$T/isc-read.log" && fail "ISC dhcpd -T complains about the lease file"
N=$(grep -oE '^Wrote [0-9]+ leases' "$T/isc-read.log" | grep -oE '[0-9]+' || echo 0)
[ "$N" -ge "$(wc -l <"$T/acks.jsonl")" ] || fail "ISC dhcpd -T read only $N leases"
say "ISC dhcpd -T read the lease file: $N leases"

# 4. the restarted server ACKs every one of those leases back to its client
timeout 90 ip netns exec "${P}perf" python3 "$H/dhcp_probe.py" --server 10.0.0.10 --giaddr 10.0.0.30 "$T/acks.jsonl" \
  >"$T/probe.log" 2>&1 || { cat "$T/probe.log" >&2; fail "the restarted server did not ACK every lease back"; }
say "$(head -n1 "$T/probe.log")"
pass
