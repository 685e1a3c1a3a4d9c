#!/bin/bash
# A client behind ISC's dhcrelay gets an address from the relay's subnet.
#   srv  eth0 10.0.0.10/24 --br0-- relay eth0 10.0.0.30/24 | relay eth1 10.0.1.1/24 --veth-- cl eth0
# examples/single.conf declares 10.0.1.0/24 (range .100-.200, routers 10.0.1.1).  The server's
# replies go to giaddr 10.0.1.1, which it reaches through a route via the relay.
# Works with SERVER=tandem and SERVER=dhcpd.
. "$(dirname "$0")/lib.sh"

host_add srv 10.0.0.10/24 02:00:00:00:00:0a
host_add relay 10.0.0.30/24 02:00:00:00:00:1e
ns_add cl
veth_link relay eth1 10.0.1.1/24 02:00:00:00:00:1f cl eth0 - 02:00:00:00:02:01
ip -n "${P}srv" route add 10.0.1.0/24 via 10.0.0.30
nsx "${P}relay" sysctl -qw net.ipv4.ip_forward=1

cp "$REPO/examples/single.conf" "$T/server.conf"
server_start "${P}srv" "$T/server.conf" "$T/server.leases" "$T/server.pid"

# ISC dhcrelay 4.4: -id = downstream (clients) interface, -iu = upstream (servers) interface.
bg_run "${P}relay" "$T/dhcrelay.log" dhcrelay -4 -d -pf "$T/dhcrelay.pid" -id eth1 -iu eth0 10.0.0.10
RELAY_PID=$BG_PID
wait_listening "${P}relay" "$RELAY_PID" 67 10

ADDR=$(udhcpc_once "${P}cl" cl)
expect_in_range "udhcpc behind the relay" "$ADDR" 10.0.1.100 10.0.1.200
grep -q "^EVENT reason=BOUND ip=$ADDR mask=255.255.255.0 router=10.0.1.1 server=10.0.0.10 " "$T/cl/events" ||
  fail "lease options: want mask 255.255.255.0, router 10.0.1.1, server 10.0.0.10: $(grep BOUND "$T/cl/events")"
say "udhcpc behind the relay got $ADDR"

# and ISC dhclient as a second client (another MAC) on the same remote link
ip -n "${P}cl" -4 addr flush dev eth0
ip -n "${P}cl" link set eth0 down
ip -n "${P}cl" link set eth0 address 02:00:00:00:02:02
ip -n "${P}cl" link set eth0 up
dhclient_once "${P}cl" cl2
ADDR2=$(event_ip cl2 BOUND)
expect_in_range "dhclient behind the relay" "$ADDR2" 10.0.1.100 10.0.1.200
[ "$ADDR2" != "$ADDR" ] || fail "two clients behind the relay got the same address $ADDR"
say "dhclient behind the relay got $ADDR2"
pass
