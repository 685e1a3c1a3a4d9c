#!/bin/bash
# Tandem in 30 seconds, entirely inside network namespaces (nothing on the host changes):
# builds the release binary, creates a server and 3 clients on a bridge, starts tandem with
# examples/single.conf, gets leases with ISC dhclient, busybox udhcpc and dhcpcd, prints the
# leases as the clients see them and the server's lease file, then tears everything down.
#
# usage: sudo scripts/demo.sh [--keep]     --keep leaves it all running and says how to stop it
#        sudo scripts/demo.sh --stop       stops a demo left running by --keep
# SERVER=dhcpd runs the same demo with ISC dhcpd (for comparison).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=tdemo-
KEEP_RUNNING=0

stop_demo() {
  local ns found=0
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX" || true); do
    found=1
    ip netns pids "$ns" | xargs -r kill 2>/dev/null || true
  done
  sleep 0.5
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PREFIX" || true); do
    ip netns pids "$ns" | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "$ns"
  done
  rm -rf "${TMPDIR:-/tmp}"/tandem-demo.*
  [ "$found" = 1 ] && echo "demo stopped" || echo "no demo running"
}

case ${1:-} in
--keep) KEEP_RUNNING=1 ;;
--stop) stop_demo; exit 0 ;;
"") ;;
*) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces): sudo $0 $*" >&2; exit 1; }
if ip netns list | grep -q "^$PREFIX"; then
  echo "demo: a demo is already running (namespaces $PREFIX*); stop it with: $0 --stop" >&2
  exit 1
fi

if [ "${SERVER:-tandem}" = tandem ]; then
  echo "demo: cargo build --release -p tandem-server"
  (cd "$REPO" && cargo build --release -q -p tandem-server)
fi
"$REPO/scripts/install-deps.sh" >/dev/null

NS_PREFIX=$PREFIX TEST_TIMEOUT=${TEST_TIMEOUT:-300}
export NS_PREFIX TEST_TIMEOUT
. "$REPO/tests/netns/lib.sh"
TEST_NAME=demo

host_add srv 10.0.0.10/24 02:00:00:00:00:0a
host_add c1 - 02:00:00:00:01:01
host_add c2 - 02:00:00:00:01:02
host_add c3 - 02:00:00:00:01:03
cp "$REPO/examples/single.conf" "$T/dhcpd.conf"
LEASES=$T/dhcpd.leases
say "server: $SERVER_BIN -4 -f -d -cf $T/dhcpd.conf -lf $LEASES -pf $T/dhcpd.pid eth0  (namespace ${P}srv, 10.0.0.10)"
server_start "${P}srv" "$T/dhcpd.conf" "$LEASES" "$T/dhcpd.pid"

for c in c1 c2 c3; do client_dir "$c"; done
dhclient_once "${P}c1" c1
bg_run "${P}c2" "$T/c2/udhcpc.log" udhcpc -f -i eth0 -s "$T/c2/udhcpc.sh" -p "$T/c2/udhcpc.pid" -t 5 -T 2
dhcpcd_start "${P}c3" c3
wait_event c1 BOUND 20
wait_event c2 BOUND 20
wait_event c3 BOUND 20

echo
echo "== the clients' view"
for c in c1:dhclient c2:udhcpc c3:dhcpcd; do
  n=${c%%:*} client=${c#*:}
  ev=$(grep '^EVENT reason=BOUND' "$T/$n/events" | tail -n1 | sed 's/^EVENT //')
  printf '%-10s %-9s %s\n' "${P}$n" "$client" "$ev"
  printf '%-20s %s\n' "" "$(ip -n "${P}$n" -4 -br addr show eth0)"
done
sleep 0.5
echo
echo "== the server's lease file ($LEASES)"
cat "$LEASES"
echo

if [ "$KEEP_RUNNING" = 1 ]; then
  trap - EXIT INT TERM
  kill "$_WATCHDOG" 2>/dev/null || true
  echo "== left running (--keep):"
  echo "   server log:     $SERVER_LOG"
  echo "   lease file:     $LEASES"
  echo "   a shell inside: ip netns exec ${P}c1 bash"
  echo "   another client: ip netns exec ${P}c1 udhcpc -f -q -i eth0 -s $T/c1/udhcpc.sh"
  echo "   stop it all:    $0 --stop"
  exit 0
fi
TEST_FAILED=0
echo "demo: done; tearing down"
