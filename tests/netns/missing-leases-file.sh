#!/bin/bash
# tandem started with a -lf path that does not exist creates the file and serves; the lease it
# grants is in the new file.  Tandem-only: ISC dhcpd refuses to start without the file
# ("Can't open lease database ... check for failed database rewrite attempt!").
. "$(dirname "$0")/lib.sh"
tandem_only "a missing -lf file is created"

host_add srv 10.0.0.10/24 02:00:00:00:00:0a
host_add c1 - 02:00:00:00:01:01
cp "$REPO/examples/single.conf" "$T/server.conf"
LF=$T/var/dhcpd.leases
mkdir -p "$T/var"
[ ! -e "$LF" ] || fail "test setup: $LF exists"
server_start "${P}srv" "$T/server.conf" "$LF" "$T/server.pid"
wait_for 5 "lease file created" test -e "$LF"
ADDR=$(udhcpc_once "${P}c1" c1)
expect_in_range "client" "$ADDR" 10.0.0.100 10.0.0.200
wait_for 5 "lease $ADDR in the new lease file" grep -q "^lease $ADDR {" "$LF"
python3 "$REPO/tests/netns/isc_leases.py" dump "$LF" | grep -q "\"address\": \"$ADDR\".*\"binding_state\": \"active\"" ||
  fail "lease $ADDR is not active in $LF"
say "created $LF and leased $ADDR"
pass
