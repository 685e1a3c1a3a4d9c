#!/bin/bash
# shellcheck disable=SC2034  # NODE_PID_a is read by fo-lib.sh
# OMAPI on a failover pair (issue 4): the omshell scripts of shared/docs/lab.md section 4, with
# the mission's configs as they are (omapi-port 7911, no key, mclt 1800) when A is Tandem, whose
# clean shutdown lets the restart skip recover-wait; with an ISC A, `mclt 30` so that its restart
# does not wait half an hour in recover-wait.
#  0. The pair reaches normal.  omshell opens failover-state "foo" on A (local-state and
#     partner-state 00:00:00:02); `tandem ctl failover show` (peer names from A's config) agrees.
#     A tandem whose failover-state object is not wired answers "not found": SKIP.
#  1. Shutdown script on the normal pair (`new control / open / set state = 2 / update` on A):
#     A exits within 30 s; tandem A logs "I move from normal to shutdown"; B leaves normal within
#     15 s (tandem A hands over: B goes partner-down; ISC's peer goes communications-interrupted).
#     A restarts on its lease file and the pair is normal again.
#  2. kill -9 B; A logs "I move from normal to communications-interrupted".  The partner-down
#     script on A, `set local-state = 1` as scripts written for ISC 3.0 say it (tandem reads 1 and 4
#     as partner-down; under NODE_A=dhcpd the script uses 4, since ISC 4.4 reads 1 as startup):
#     omshell shows local-state 00:00:00:03 after open and no error after update; A logs "I move
#     from communications-interrupted to partner-down"; A's lease file says `my state
#     partner-down`; `tandem ctl failover show foo` shows partner-down (4).
#
#   NODE_A=tandem|dhcpd NODE_B=tandem|dhcpd tests/netns/omapi-failover.sh
# Exit: 0 pass, 1 fail, 77 skipped (tandem without failover, or without the failover-state object).
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
# shellcheck source=fo-lib.sh
. "$(dirname "$0")/fo-lib.sh"
# shellcheck source=omapi-lib.sh
. "$(dirname "$0")/omapi-lib.sh"

fo_topo_up 2
CONF=$T/conf
if [ "$NODE_A" = tandem ]; then fo_confs "$CONF"; else fo_confs "$CONF" 30; fi
fo_start_pair "$CONF" 60   # skips when tandem has no failover link at all
wait_omapi "${P}a" "$(node_pid a)"

# ---- 0. the failover-state object
omsh "${P}a" probe <<EOF
connect
new failover-state
set name = "$FO_PEER"
open
EOF
if [ "$NODE_A" = tandem ] && grep -q "can't open object: not found" "$T/omshell-probe.log"; then
  skip "failover not wired: tandem answers failover-state \"$FO_PEER\" with not found over OMAPI"
fi
expect_no_out "$T/omshell-probe.log" "can't" "omshell opens failover-state $FO_PEER"
expect_out "$T/omshell-probe.log" "local-state = 00:00:00:02" "A's local-state is normal"
expect_out "$T/omshell-probe.log" "partner-state = 00:00:00:02" "A's partner-state is normal"
ok "omshell: failover-state $FO_PEER on A: normal/normal"
# A client's lease, looked up by address over OMAPI on the primary, shows the client's MAC
# (whichever server of the pair granted it: the binding reaches both lease tables).
client_once 1
wait_active a "$(client_mac 1)" "$LEASE_IP" 10
omsh "${P}a" lease <<EOF
connect
new lease
set ip-address = $LEASE_IP
open
EOF
expect_no_out "$T/omshell-lease.log" "can't" "omshell opens lease $LEASE_IP on A"
expect_out "$T/omshell-lease.log" "hardware-address = $(client_mac 1)" "omshell: lease $LEASE_IP has c1's hardware address"
ok "omshell: lease $LEASE_IP on A -> hardware-address $(client_mac 1)"
HAVE_CTL=0
[ -x "$TANDEM" ] && HAVE_CTL=1
if [ "$HAVE_CTL" = 1 ]; then
  ctl "${P}a" show --config "$CONF/primary.conf" failover show
  [ "$CTL_RC" = 0 ] || fail "tandem ctl failover show: status $CTL_RC"
  expect_out "$T/ctl-show.log" "^failover-state $FO_PEER\$" "ctl: the config's peer is shown"
  expect_out "$T/ctl-show.log" "local-state +normal \\(2\\)" "ctl: A is normal"
  expect_out "$T/ctl-show.log" "hierarchy +primary" "ctl: A is primary"
  ok "tandem ctl failover show: $FO_PEER normal, primary"
fi

# ---- 1. the shutdown script on a normal pair
m_a=$(log_mark a) m_b=$(log_mark b)
pid_a=$(node_pid a)
NODE_PID_a=""   # its exit is expected from here on
omsh "${P}a" control <<EOF
connect
new control
open
set state = 2
update
EOF
expect_out "$T/omshell-control.log" "state = 00:00:00:00" "omshell opens the control object"
wait_exit "$pid_a" 30 || fail "A (pid $pid_a) still running 30 s after control state = 2"
{ wait "$pid_a"; } 2>/dev/null || true
ok "A exited after control state = 2"
if [ "$NODE_A" = tandem ]; then
  expect_log a "failover peer $FO_PEER: I move from normal to shutdown" 1 "$m_a" "A hands over (shutdown)"
  [ ! -e "$FO_DIR/a.pid" ] || fail "A's pid file is still there after the control shutdown"
fi
if [ "$NODE_A" = tandem ]; then
  # Tandem hands over: its partner (Tandem or ISC) goes partner-down.
  expect_log b "failover peer $FO_PEER: I move from normal to partner-down" 15 "$m_b" "B takes over (partner-down)"
else
  expect_log b "failover peer $FO_PEER: (I move from normal to (partner-down|communications-interrupted)|peer moves from normal to shutdown)" 15 "$m_b" "B sees A leave"
fi
fo_check "after A's control shutdown"
m_a=$(log_mark a) m_b=$(log_mark b)
start_node a "$NODE_A" "$CONF/primary.conf"
# The issue: "after a restart both are normal within a minute" (MCLT is 1800 s for a Tandem A).
fo_wait_normal "$m_a" "$m_b" 60
wait_omapi "${P}a" "$(node_pid a)"

# ---- 2. partner-down with the ISC 3.0 number after kill -9 of B
m_a=$(log_mark a)
stop_node b KILL 5
expect_log a "failover peer $FO_PEER: I move from normal to communications-interrupted" 30 "$m_a" "A notices B is gone"
PD=1
[ "$NODE_A" = dhcpd ] && PD=4
m_a=$(log_mark a)
omsh "${P}a" partner-down <<EOF
connect
new failover-state
set name = "$FO_PEER"
open
set local-state = $PD
update
EOF
expect_out "$T/omshell-partner-down.log" "local-state = 00:00:00:03" "omshell: A is communications-interrupted before the update"
expect_no_out "$T/omshell-partner-down.log" "can't" "omshell: open and update of failover-state succeed"
expect_log a "failover peer $FO_PEER: I move from communications-interrupted to partner-down" 10 "$m_a" "local-state = $PD moves A to partner-down"
for i in $(seq 50); do
  st=$(fo_py state "$(node_leases a)")
  case $st in my=partner-down*) break ;; esac
  sleep 0.1
done
case $st in my=partner-down*) ok "a.leases: $st" ;; *) fail "a.leases: failover state '$st', want my=partner-down" ;; esac
if [ "$HAVE_CTL" = 1 ]; then
  ctl "${P}a" after --port "$OMAPI_PORT" --config /dev/null failover show "$FO_PEER"
  expect_out "$T/ctl-after.log" "local-state +partner-down \\(4\\)" "ctl: A is partner-down"
  ok "tandem ctl failover show $FO_PEER: partner-down"
fi
fo_check "after partner-down"
pass
