#!/bin/bash
# OMAPI (issue 4): ISC's omshell controls the server as it controls dhcpd, and `tandem ctl` does
# the same over the same port.  One server (examples/single.conf plus `omapi-port 7911;`):
#  1. No key.  A udhcpc client gets a lease; omshell (in the server's namespace) opens the `lease`
#     with that ip-address and sees the client's hardware-address; tandem ctl, from the client's
#     namespace over the network, shows the same lease by address, by MAC (--json) and by client
#     id; `tandem ctl shutdown` stops the server.
#  2. Restart with `key omapi_key {...}; omapi-key omapi_key;`.  omshell without the key cannot
#     create host h1 ("no key specified"; tandem logs the refusal) and nothing is written; with the
#     key it can (02:00:00:00:03:03 -> 10.0.0.60), the lease file then holds `host h1 { dynamic;
#     ...}`, and a udhcpc with that MAC gets 10.0.0.60.  tandem ctl finds h1 with --key, and with
#     the key read from the server's config; without a key it is refused.
#  3. SIGTERM and restart on the same lease file: omshell opens host h1 by name (ip-address
#     0a:00:00:3c) and a fresh udhcpc with h1's MAC gets 10.0.0.60 again.
#  4. The `new control / open / set state = 2 / update` script (with the key) stops the server: it
#     exits within 5 s (dhcpd: 30 s) with status 0, and (tandem-only: ISC 4.4 leaves it) its pid
#     file is gone.
# Works with SERVER=dhcpd too (the reference); the tandem ctl steps then run against ISC dhcpd.
. "$(dirname "$0")/lib.sh"
# shellcheck source=omapi-lib.sh
. "$(dirname "$0")/omapi-lib.sh"

SECRET=dGFuZGVtLW9tYXBpLWtleQ==   # "tandem-omapi-key"
H1_MAC=02:00:00:00:03:03
H1_IP=10.0.0.60

host_add srv 10.0.0.10/24 02:00:00:00:00:0a
host_add c1 - 02:00:00:00:01:01
host_add c2 - "$H1_MAC"
{ cat "$REPO/examples/single.conf"; echo "omapi-port $OMAPI_PORT;"; } >"$T/open.conf"
{
  cat "$T/open.conf"
  echo "key omapi_key { algorithm hmac-md5; secret \"$SECRET\"; }"
  echo "omapi-key omapi_key;"
} >"$T/keyed.conf"
# tandem answers, then stops at once; dhcpd stops some seconds later without answering.
STOP_SECS=5
[ "$SERVER" = dhcpd ] && STOP_SECS=30
LEASES=$T/server.leases
PIDF=$T/server.pid

start() { # start CONF
  server_start "${P}srv" "$1" "$LEASES" "$PIDF"
  wait_omapi "${P}srv" "$SERVER_PID"
}

# ---- 1. no key: lease lookups
start "$T/open.conf"
A1=$(udhcpc_once "${P}c1" c1)
expect_in_range "udhcpc c1" "$A1" 10.0.0.100 10.0.0.200
omsh "${P}srv" lease <<EOF
connect
new lease
set ip-address = $A1
open
EOF
expect_out "$T/omshell-lease.log" "hardware-address = 02:00:00:00:01:01" "omshell: lease $A1 has c1's hardware address"
expect_out "$T/omshell-lease.log" "state = 00:00:00:02" "omshell: lease $A1 is active"
say "omshell: lease $A1 -> hardware-address 02:00:00:00:01:01"

if [ -x "$TANDEM" ]; then
  CTL=(--host 10.0.0.10 --port "$OMAPI_PORT" --config /dev/null)
  ctl "${P}c1" lease-addr "${CTL[@]}" lease show "$A1"
  [ "$CTL_RC" = 0 ] || fail "tandem ctl lease show $A1: status $CTL_RC"
  expect_out "$T/ctl-lease-addr.log" "^lease $A1\$" "ctl: lease $A1 heading"
  expect_out "$T/ctl-lease-addr.log" "hardware-address +02:00:00:00:01:01" "ctl: lease by address"
  expect_out "$T/ctl-lease-addr.log" "state +active" "ctl: lease state"
  ctl "${P}c1" lease-mac "${CTL[@]}" --json lease show --mac 02:00:00:00:01:01
  expect_out "$T/ctl-lease-mac.log" "\"ip-address\": \"$A1\"" "ctl --json: lease by MAC"
  ctl "${P}c1" lease-id "${CTL[@]}" lease show --client-id 01:02:00:00:00:01:01
  expect_out "$T/ctl-lease-id.log" "^lease $A1\$" "ctl: lease by client id"
  ctl "${P}c1" lease-none "${CTL[@]}" lease show 10.0.0.250
  [ "$CTL_RC" != 0 ] || fail "ctl: a lease outside every range was found"
  expect_out "$T/ctl-lease-none.log" "not found" "ctl: no lease 10.0.0.250"
  say "tandem ctl: lease $A1 by address, MAC and client id"
  ctl "${P}srv" stop "${CTL[@]}" --timeout 3 shutdown
  [ "$CTL_RC" = 0 ] || fail "tandem ctl shutdown: status $CTL_RC"
  wait_exit "$SERVER_PID" "$STOP_SECS" || fail "server still running ${STOP_SECS}s after tandem ctl shutdown"
  say "tandem ctl shutdown: the server exited"
fi
server_stop "$SERVER_PID"

# ---- 2. with a key: host create refused without it, done with it
start "$T/keyed.conf"
omsh "${P}srv" nokey <<EOF
connect
new host
set name = "h1"
set hardware-address = $H1_MAC
set hardware-type = 1
set ip-address = $H1_IP
create
EOF
expect_out "$T/omshell-nokey.log" "can't open object: no key specified" "omshell without the key is refused"
sleep 0.3
! grep -q "host h1" "$LEASES" || fail "a refused create wrote host h1 to the lease file"
if [ "$SERVER" = tandem ]; then
  expect_out "$SERVER_LOG" "OMAPI: refused a message without the required signature" "tandem logs the refusal"
fi
say "omshell without the key: refused, nothing written"

omsh "${P}srv" create <<EOF
key omapi_key $SECRET
connect
new host
set name = "h1"
set hardware-address = $H1_MAC
set hardware-type = 1
set ip-address = $H1_IP
create
EOF
expect_no_out "$T/omshell-create.log" "can't" "omshell with the key creates h1"
wait_for 5 "host h1 in the lease file" grep -q "^host h1 {" "$LEASES"
grep -A6 "^host h1 {" "$LEASES" | grep -q "fixed-address $H1_IP;" || fail "lease file: host h1 without fixed-address $H1_IP"
grep -A6 "^host h1 {" "$LEASES" | grep -q "hardware ethernet $H1_MAC;" || fail "lease file: host h1 without its hardware address"
A2=$(udhcpc_once "${P}c2" c2)
[ "$A2" = "$H1_IP" ] || fail "h1's client ($H1_MAC) got $A2, want $H1_IP"
say "omshell with the key created h1; its client got $A2"

if [ -x "$TANDEM" ]; then
  ctl "${P}c1" host-key --host 10.0.0.10 --port "$OMAPI_PORT" --config /dev/null --key "omapi_key:$SECRET" host show h1
  [ "$CTL_RC" = 0 ] || fail "tandem ctl --key host show h1: status $CTL_RC"
  expect_out "$T/ctl-host-key.log" "ip-address +$H1_IP" "ctl --key: host h1"
  ctl "${P}srv" host-conf --config "$T/keyed.conf" --json host show h1
  expect_out "$T/ctl-host-conf.log" "\"ip-address\": \\[\"$H1_IP\"\\]" "ctl: host h1 with the key from the config"
  expect_out "$T/ctl-host-conf.log" "\"hardware-address\": \"$H1_MAC\"" "ctl: h1's MAC"
  ctl "${P}srv" host-nokey --port "$OMAPI_PORT" --config /dev/null host show h1
  [ "$CTL_RC" != 0 ] || fail "tandem ctl without a key was answered by a keyed server"
  expect_out "$T/ctl-host-nokey.log" "no key specified" "ctl without the key is refused"
  say "tandem ctl: host h1 with --key and with the config's key; refused without"
fi

# ---- 3. the host survives a restart
server_stop "$SERVER_PID"
start "$T/keyed.conf"
omsh "${P}srv" reopen <<EOF
key omapi_key $SECRET
connect
new host
set name = "h1"
open
EOF
expect_no_out "$T/omshell-reopen.log" "can't" "omshell opens h1 after the restart"
expect_out "$T/omshell-reopen.log" "ip-address = 0a:00:00:3c" "h1 keeps fixed-address $H1_IP"
expect_out "$T/omshell-reopen.log" "hardware-address = $H1_MAC" "h1 keeps its hardware address"
rm -rf "$T/c2"
A3=$(udhcpc_once "${P}c2" c2)
[ "$A3" = "$H1_IP" ] || fail "after the restart h1's client got $A3, want $H1_IP"
say "after a restart h1 is still there; its client got $A3"

# ---- 4. control state = 2 stops the server
omsh "${P}srv" control <<EOF
key omapi_key $SECRET
connect
new control
open
set state = 2
update
EOF
expect_out "$T/omshell-control.log" "state = 00:00:00:00" "omshell opens the control object"
wait_exit "$SERVER_PID" "$STOP_SECS" || fail "server still running ${STOP_SECS}s after control state = 2"
rc=0; wait "$SERVER_PID" 2>/dev/null || rc=$?
[ "$rc" = 0 ] || fail "server exited with status $rc after control state = 2"
if [ "$SERVER" = tandem ]; then
  [ ! -e "$PIDF" ] || fail "pid file $PIDF still there after the control shutdown"
  expect_out "$SERVER_LOG" "OMAPI: shutdown requested by 127.0.0.1" "tandem logs who asked"
fi
say "control state = 2: the server exited (status $rc)"
pass
