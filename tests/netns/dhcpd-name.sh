#!/bin/bash
# Drop-in by name: the server binary symlinked as `dhcpd` in a temp dir, run with dhcpd's flags
# (-t config test, then -4 -f -d -cf -lf -pf eth0), serves a client.
# Works with SERVER=tandem and SERVER=dhcpd (then the symlink points at ISC dhcpd itself).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/bin"
ln -s "$(readlink -f "$SERVER_BIN")" "$T/bin/dhcpd"
SERVER_BIN=$T/bin/dhcpd
cp "$REPO/examples/single.conf" "$T/server.conf"
timeout 10 "$SERVER_BIN" -t -cf "$T/server.conf" >"$T/check.log" 2>&1 || fail "dhcpd -t -cf rejects examples/single.conf"
printf 'default-lease-time six-hundred;\n' >"$T/bad.conf"
timeout 10 "$SERVER_BIN" -t -cf "$T/bad.conf" >>"$T/check.log" 2>&1 && fail "dhcpd -t -cf accepts a broken config"
say "dhcpd -t: accepts examples/single.conf, rejects a broken config"

host_add srv 10.0.0.10/24 02:00:00:00:00:0a
host_add c1 - 02:00:00:00:01:01
server_start "${P}srv" "$T/server.conf" "$T/server.leases" "$T/server.pid"
ADDR=$(udhcpc_once "${P}c1" c1)
expect_in_range "client" "$ADDR" 10.0.0.100 10.0.0.200
say "served by $(readlink "$SERVER_BIN") as 'dhcpd': $ADDR"
pass
