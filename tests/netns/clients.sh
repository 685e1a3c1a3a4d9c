#!/bin/bash
# Real clients against the server: ISC dhclient, busybox udhcpc and dhcpcd each get an address in
# the range, renew it, release it, and get the same address back; a host reservation
# (examples/single.conf: 02:00:00:00:01:05 -> 10.0.0.50) gets its fixed address.
# Works with SERVER=tandem and SERVER=dhcpd (no tandem-only checks).
. "$(dirname "$0")/lib.sh"

host_add srv 10.0.0.10/24 02:00:00:00:00:0a
host_add c1 - 02:00:00:00:01:01   # dhclient
host_add c2 - 02:00:00:00:01:02   # udhcpc
host_add c3 - 02:00:00:00:01:03   # dhcpcd
host_add c5 - 02:00:00:00:01:05   # reserved host (c4 joins later)
cp "$REPO/examples/single.conf" "$T/server.conf"
server_start "${P}srv" "$T/server.conf" "$T/server.leases" "$T/server.pid"

for c in c1 c2 c3 c5; do client_dir "$c"; done
# Short leases so that the daemons' own T1 renewals (unicast DHCPREQUEST) happen within seconds.
echo 'send dhcp-lease-time 20;' >>"$T/c1/dhclient.conf"
echo 'leasetime 20' >>"$T/c3/dhcpcd.conf"

# --- get a lease
dhclient_once "${P}c1" c1
bg_run "${P}c2" "$T/c2/udhcpc.log" udhcpc -f -i eth0 -s "$T/c2/udhcpc.sh" -p "$T/c2/udhcpc.pid" -t 5 -T 2
UDHCPC_PID=$BG_PID
dhcpcd_start "${P}c3" c3
RESERVED=$(udhcpc_once "${P}c5" c5)
[ "$RESERVED" = 10.0.0.50 ] || fail "reserved host 02:00:00:00:01:05 got $RESERVED, want 10.0.0.50"
say "reservation: 02:00:00:00:01:05 -> $RESERVED"
wait_event c1 BOUND 20
wait_event c2 BOUND 20
wait_event c3 BOUND 20
A1=$(event_ip c1 BOUND) A2=$(event_ip c2 BOUND) A3=$(event_ip c3 BOUND)
expect_in_range "dhclient" "$A1" 10.0.0.100 10.0.0.200
expect_in_range "udhcpc" "$A2" 10.0.0.100 10.0.0.200
expect_in_range "dhcpcd" "$A3" 10.0.0.100 10.0.0.200
[ "$A1" != "$A2" ] && [ "$A1" != "$A3" ] && [ "$A2" != "$A3" ] || fail "clients share an address: $A1 $A2 $A3"
say "bound: dhclient $A1, udhcpc $A2, dhcpcd $A3"

# --- renew: udhcpc on SIGUSR1; dhclient and dhcpcd by themselves at T1 (lease 20 s -> T1 10 s)
kill -USR1 "$UDHCPC_PID"
wait_event c2 RENEW 10 "$A2"
wait_event c1 RENEW 25 "$A1"
wait_event c3 RENEW 25 "$A3"
say "renewed: dhclient, udhcpc, dhcpcd kept their addresses"

# --- release
timeout 20 ip netns exec "${P}c1" dhclient -4 -v -r -cf "$T/c1/dhclient.conf" -sf "$T/c1/dhclient.sh" \
  -lf "$T/c1/dhclient.leases" -pf "$T/c1/dhclient.pid" eth0 >>"$T/c1/dhclient.log" 2>&1 || fail "dhclient -r failed"
grep -q "DHCPRELEASE of $A1" "$T/c1/dhclient.log" || fail "dhclient sent no DHCPRELEASE"
kill -USR2 "$UDHCPC_PID"
wait_for 10 "udhcpc released" grep -q 'entering released state' "$T/c2/udhcpc.log"
kill -TERM "$UDHCPC_PID"; wait_exit "$UDHCPC_PID" 5 || fail "udhcpc did not exit"
dhcpcd_ctl c3 -4 -k eth0 || fail "dhcpcd -k failed"
wait_exit "$DHCPCD_PID" 10 || fail "dhcpcd did not exit after -k"
grep -q "releasing lease of $A3" "$T/c3/dhcpcd.log" || fail "dhcpcd did not release $A3"
say "released: $A1 $A2 $A3"
sleep 0.5   # let the server commit the releases

# --- a new client meanwhile gets a never-used address, not one of the released ones (ISC keeps
# released addresses for their last client while never-used ones remain)
host_add c4 - 02:00:00:00:01:04
A4=$(udhcpc_once "${P}c4" c4)
expect_in_range "udhcpc (new client)" "$A4" 10.0.0.100 10.0.0.200
case " $A1 $A2 $A3 " in *" $A4 "*) fail "a new client got released address $A4 while never-used ones remain" ;; esac
say "new client got $A4"

# --- a released client gets its old address back (fresh client state: a DHCPDISCOVER with no
# requested address, so the server must remember the client)
mv "$T/c1/dhclient.leases" "$T/c1/dhclient.leases.1"
rm -f "$T/c3/dhcpcd-db/"*.lease   # (dhcpcd drops it on release anyway)
: >"$T/c1/events"; : >"$T/c3/events"
dhclient_once "${P}c1" c1
B1=$(event_ip c1 BOUND)
B2=$(udhcpc_once "${P}c2" c2)
dhcpcd_start "${P}c3" c3 -1
wait_exit "$DHCPCD_PID" 30 || fail "dhcpcd -1 did not finish"
B3=$(event_ip c3 BOUND)
[ "$B1" = "$A1" ] || fail "dhclient: after release got '$B1', want its old $A1"
[ "$B2" = "$A2" ] || fail "udhcpc: after release got '$B2', want its old $A2"
[ "$B3" = "$A3" ] || fail "dhcpcd: after release got '$B3', want its old $A3"
say "after release each client got its old address back: $B1 $B2 $B3"
pass
