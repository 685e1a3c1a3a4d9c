#!/bin/bash
# Failover: Tandem's own `failover peer` statements (README "Failover pairs"; crates/failover/src/
# peer.rs module docs), on a Tandem pair only.  Uses COPIES of the mission's configs with the
# extension lines added to both `failover peer "foo"` blocks.
#
#   hot-standby (`hot-standby;` in both blocks):
#     1. the pair reaches normal; clients c1-c4 (udhcpc -q) all get their lease from the primary
#        (10.0.0.10), the secondary logs no DHCPOFFER/DHCPACK, and both lease files hold every
#        binding;
#     2. kill -9 the primary: the secondary logs "I move from normal to communications-interrupted"
#        and a new client c5 gets its lease from the secondary (10.0.0.20);
#     3. the primary restarts on its lease file: both normal again, c5's lease is in the primary's
#        lease file, and a new client c6 is again served by the primary alone.
#   safe-partner-down (`safe-partner-down 5;` in both blocks, no hot-standby):
#     1. a fresh pair reaches normal; the link between the servers is cut with both alive (in A's
#        namespace a `unreachable 10.0.0.20/32` route, then `ss -K` of the failover connection in
#        both namespaces): A logs "I move from normal to communications-interrupted" and does NOT
#        go partner-down within 15 s (no client retries: a cut link alone never causes it);
#     2. kill -9 B; three crafted DHCPDISCOVERs (python3, distinct chaddrs) with secs = 2 (< 5)
#        reach A: still no partner-down;
#     3. three crafted DHCPDISCOVERs with secs = 10: A logs "moving to partner-down
#        (safe-partner-down)" and "I move from communications-interrupted to partner-down", and
#        its lease file says `my state partner-down`.
#   After every step: no address is active for two different MACs across the two lease files.
#
#   tests/netns/failover-extensions.sh [hot-standby|safe-partner-down|both]   (default both)
#
# Exit: 0 pass, 1 fail, 77 skipped (NODE_A or NODE_B is dhcpd: the statements are Tandem's; or
# tandem has no failover yet).

TEST_TIMEOUT=${TEST_TIMEOUT:-170}
WHICH=${1:-both}
case $WHICH in hot-standby | safe-partner-down | both) ;; *) echo "usage: $0 [hot-standby|safe-partner-down|both]" >&2; exit 2 ;; esac
. "$(dirname "$0")/fo-lib.sh"

if [ "$NODE_A" != tandem ] || [ "$NODE_B" != tandem ]; then
  skip "Tandem's failover extensions need a Tandem pair (NODE_A=$NODE_A NODE_B=$NODE_B)"
fi

SPD_SECS=5   # safe-partner-down SECONDS
PD_RE="(I move from [a-z-]+ to partner-down|moving to partner-down)"

# ext_confs DIR LINE...: fo_confs DIR, then LINEs inserted into both failover peer blocks (after
# `primary;` / `secondary;`)
ext_confs() {
  local d=$1 f l
  shift
  fo_confs "$d"
  for f in "$d/primary.conf" "$d/secondary.conf"; do
    for l in "$@"; do
      sed -i -E "s/^([[:space:]]*)(primary|secondary);/&\n\1$l/" "$f"
      grep -qF "$l" "$f" || fail "ext_confs: '$l' not inserted into $f"
    done
  done
  log "configs in $d with: $*"
}

# ---------------------------------------------------------------- crafted DISCOVERs (python3)
cat >"$T/fo_discover.py" <<'PY'
"""Broadcast DHCPDISCOVERs with a chosen `secs` (busybox udhcpc cannot set it).

    fo_discover.py SECS COUNT TAG [LISTEN]

COUNT packets from 0.0.0.0:68 to 255.255.255.255:67 on eth0 (SO_BINDTODEVICE), 0.3 s apart, chaddr
02:00:00:00:TAG:NN (NN = 1..COUNT, a client-id to match), broadcast flag set; then listens LISTEN
seconds (default 2) for OFFERs and prints one line per OFFER: "OFFER yiaddr to chaddr from server-id".
"""
import select
import socket
import struct
import sys
import time

MAGIC = b"\x63\x82\x53\x63"


def discover(xid, secs, hw):
    fixed = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, secs, 0x8000, bytes(4), bytes(4),
                        bytes(4), bytes(4), hw.ljust(16, b"\0"), b"", b"")
    opts = bytes([53, 1, 1]) + bytes([61, 7, 1]) + hw + bytes([55, 3, 1, 3, 54, 255])
    return fixed + MAGIC + opts


def options(data):
    out, i = {}, 240
    while i + 1 < len(data) and data[i] != 255:
        if data[i] == 0:
            i += 1
            continue
        out[data[i]] = data[i + 2:i + 2 + data[i + 1]]
        i += 2 + data[i + 1]
    return out


def main(argv):
    if len(argv) < 4:
        raise SystemExit(__doc__)
    secs, count, tag = int(argv[1]), int(argv[2]), int(argv[3], 0)
    listen = float(argv[4]) if len(argv) > 4 else 2.0
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")
    s.bind(("0.0.0.0", 68))
    xids = {}
    for n in range(1, count + 1):
        hw = bytes([2, 0, 0, 0, tag, n])
        xid = (tag << 16) | (secs << 8) | n
        xids[xid] = hw
        s.sendto(discover(xid, secs, hw), ("255.255.255.255", 67))
        print(f"sent DHCPDISCOVER secs={secs} chaddr={hw.hex(':')} xid={xid:#x}", flush=True)
        time.sleep(0.3)
    end = time.monotonic() + listen
    while (left := end - time.monotonic()) > 0:
        r, _, _ = select.select([s], [], [], left)
        if not r:
            break
        data = s.recv(2048)
        if len(data) < 240 or data[0] != 2 or data[236:240] != MAGIC:
            continue
        xid = struct.unpack("!I", data[4:8])[0]
        o = options(data)
        if xid in xids and o.get(53) == b"\x02":
            sid = socket.inet_ntoa(o[54]) if len(o.get(54, b"")) == 4 else "?"
            print(f"OFFER {socket.inet_ntoa(data[16:20])} to {xids[xid].hex(':')} from {sid}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
PY

# send_discovers I SECS COUNT TAG: fo_discover.py in client I's namespace; DISC_OUT = its output
send_discovers() {
  client_ns "$1"
  log "fo_discover.py secs=$2 count=$3 tag=$4 in $CL_NS"
  DISC_OUT=$(timeout 20 ip netns exec "$CL_NS" python3 "$T/fo_discover.py" "$2" "$3" "$4" 2) ||
    fail "fo_discover.py in $CL_NS failed: $DISC_OUT"
  log "fo_discover.py: $(tr '\n' ';' <<<"$DISC_OUT")"
  ok "c$1 sent $3 DHCPDISCOVERs with secs=$2 ($(grep -c '^OFFER' <<<"$DISC_OUT" || true) OFFERs back)"
}

# no_log NAME REGEX SECS SINCE WHAT: NAME's log shows no REGEX after SINCE for SECS seconds
no_log() {
  if wait_log "$(node_log "$1")" "$2" "$3" "$4"; then
    fail "$5: $1.log: ${WAIT_LOG_LINE#* } (after ${WAIT_LOG_SECS}s)"
  fi
  ok "$5: no /$2/ in $1.log for $3 s"
}

# ---------------------------------------------------------------- hot-standby
scenario_hot_standby() {
  local d=$T/conf-hs i m_a m_b t0 ip5 mac5
  say "---- hot-standby"
  ext_confs "$d" "hot-standby;"
  fo_start_pair "$d"

  m_b=$(log_mark b)
  for i in 1 2 3 4; do
    client_once "$i"
    [ "$LEASE_SERVER" = "$FO_ADDR_a" ] || fail "c$i: lease from $LEASE_SERVER, want the primary $FO_ADDR_a (hot-standby)"
    wait_active_both "$(client_mac "$i")" "$LEASE_IP" 10
    fo_check "hot-standby: c$i served by the primary"
  done
  if log_since b "$m_b" "DHCP(OFFER|ACK) on"; then
    fail "hot-standby: the secondary answered a client while normal: $(tail -n +"$((m_b + 1))" "$(node_log b)" | grep -E -m1 "DHCP(OFFER|ACK) on")"
  fi
  ok "hot-standby: c1-c4 served by the primary alone; no DHCPOFFER/DHCPACK in b.log"

  m_b=$(log_mark b)
  stop_node a KILL 5
  expect_log b "failover peer $FO_PEER: I move from normal to communications-interrupted" 10 "$m_b" \
    "hot-standby: the secondary notices the death of the primary"
  fo_check "hot-standby: primary killed"
  client_once 5
  [ "$LEASE_SERVER" = "$FO_ADDR_b" ] || fail "c5: lease from $LEASE_SERVER, want the secondary $FO_ADDR_b (primary dead)"
  ip5=$LEASE_IP mac5=$(client_mac 5)
  wait_active b "$mac5" "$ip5" 10
  fo_check "hot-standby: c5 served by the secondary alone"

  m_a=$(log_mark a) m_b=$(log_mark b)
  t0=$(now_ns)
  start_node a tandem "$d/primary.conf"
  fo_wait_normal "$m_a" "$m_b" 40
  ok "hot-standby: primary restarted, pair normal again $(secs_since "$t0")s after the restart"
  wait_active a "$mac5" "$ip5" 15
  fo_check "hot-standby: primary recovered"

  m_b=$(log_mark b)
  client_once 6
  [ "$LEASE_SERVER" = "$FO_ADDR_a" ] || fail "c6: lease from $LEASE_SERVER, want the primary $FO_ADDR_a (normal again)"
  wait_active_both "$(client_mac 6)" "$LEASE_IP" 10
  if log_since b "$m_b" "DHCP(OFFER|ACK) on"; then
    fail "hot-standby: the secondary answered c6 after the return to normal"
  fi
  ok "hot-standby: back in normal, c6 served by the primary alone"
  fo_check "hot-standby: c6"
}

# ---------------------------------------------------------------- safe-partner-down
scenario_safe_partner_down() {
  local d=$T/conf-spd m_a m_b st i
  say "---- safe-partner-down $SPD_SECS"
  ext_confs "$d" "safe-partner-down $SPD_SECS;"
  fo_start_pair "$d"
  client_once 1
  wait_active_both "$(client_mac 1)" "$LEASE_IP" 10
  fo_check "safe-partner-down: c1"

  # Cut the link, both servers alive: A can no longer reach B (nor answer B's SYNs), and the
  # established failover connection is aborted on both sides (ss -K sends a reset).
  m_a=$(log_mark a) m_b=$(log_mark b)
  ip -n "${P}a" route add unreachable "$FO_ADDR_b/32"
  for i in a b; do
    ip netns exec "$P$i" ss -K -tn "sport = :$FO_PORT or dport = :$FO_PORT" >>"$T/test.log" 2>&1 ||
      skip "ss -K (socket destroy) does not work here"
  done
  log "link cut: unreachable $FO_ADDR_b/32 in ${P}a, failover connections destroyed"
  expect_log a "failover peer $FO_PEER: I move from normal to communications-interrupted" 10 "$m_a" \
    "safe-partner-down: A sees the link cut"
  expect_log b "failover peer $FO_PEER: I move from normal to communications-interrupted" 10 "$m_b" \
    "safe-partner-down: B (alive) sees the link cut"
  no_log a "$PD_RE" 15 "$m_a" "safe-partner-down: a cut link alone"
  no_log b "$PD_RE" 0 "$m_b" "safe-partner-down: a cut link alone (B)"
  st=$(fo_py state "$(node_leases a)")
  case $st in my=communications-interrupted*) ok "a.leases: failover state $st" ;; *) fail "a.leases: failover state '$st', want my=communications-interrupted" ;; esac
  fo_check "safe-partner-down: link cut"

  # B really gone; clients retry.  secs below the threshold are no evidence.
  stop_node b KILL 5
  send_discovers 2 2 3 0x31
  no_log a "$PD_RE" 3 "$m_a" "safe-partner-down: 3 clients with secs=2 < $SPD_SECS"
  send_discovers 3 10 3 0x32
  expect_log a "failover peer $FO_PEER: .*moving to partner-down \(safe-partner-down\)" 10 "$m_a" \
    "safe-partner-down: 3 clients with secs=10 >= $SPD_SECS"
  expect_log a "failover peer $FO_PEER: I move from communications-interrupted to partner-down" 5 "$m_a" \
    "safe-partner-down: A moves to partner-down"
  for i in $(seq 50); do
    st=$(fo_py state "$(node_leases a)")
    case $st in my=partner-down*) break ;; esac
    sleep 0.1
  done
  case $st in my=partner-down*) ok "a.leases: failover state $st" ;; *) fail "a.leases: failover state '$st', want my=partner-down" ;; esac
  client_once 4
  [ "$LEASE_SERVER" = "$FO_ADDR_a" ] || fail "c4: lease from $LEASE_SERVER, want A"
  fo_check "safe-partner-down: A partner-down"
}

fo_topo_up 4
case $WHICH in
hot-standby) scenario_hot_standby ;;
safe-partner-down) scenario_safe_partner_down ;;
both)
  scenario_hot_standby
  fo_new_run spd
  fo_topo_up 4
  scenario_safe_partner_down
  ;;
esac
pass
