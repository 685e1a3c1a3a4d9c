#!/bin/bash
# Failover against ISC dhcpd 4.4 (issue 3, scenario 4): the mixed pairs, with the mission's configs
# as they are.  For each combination A:B (default "tandem:dhcpd dhcpd:tandem", i.e. tandem as
# primary with an ISC secondary, then ISC primary with a tandem secondary), on a fresh topology:
#   * scenario_pair (failover-pair.sh): both log "I move from ... to normal" (ISC's log says so for
#     the ISC side) and both lease files say `my state normal`; clients are leased until each
#     server has made a binding, and each binding is `binding state active` for its MAC in the
#     OTHER server's lease file too;
#   * kill_clients + scenario_kill (failover-kill.sh) for the secondary, then the primary: kill -9,
#     the survivor goes communications-interrupted, serves a new client and renews the running
#     ones alone, and the restarted node brings the pair back to normal (both logs, both lease
#     files), and it learns the survivor's new lease.
#   After every step: no address is active for two different MACs across the two lease files.
#
#   tests/netns/failover-isc.sh [A:B ...]      e.g. failover-isc.sh tandem:dhcpd
#   (or NODE_A=.. NODE_B=.. failover-isc.sh: that one combination)
#   (failover-isc.sh dhcpd:dhcpd runs the same steps on ISC's own pair: a check of the test itself)
#
# Exit: 0 pass, 1 fail, 77 skipped (tandem has no failover yet: it does not listen on TCP 520).
TEST_TIMEOUT=${TEST_TIMEOUT:-330}
COMBOS=("$@")
if [ ${#COMBOS[@]} = 0 ] && [ -n "${NODE_A:-}" ] && [ -n "${NODE_B:-}" ]; then COMBOS=("$NODE_A:$NODE_B"); fi
[ ${#COMBOS[@]} -gt 0 ] || COMBOS=(tandem:dhcpd dhcpd:tandem)
for c in "${COMBOS[@]}"; do
  case $c in tandem:dhcpd | dhcpd:tandem | tandem:tandem | dhcpd:dhcpd) ;; *) echo "usage: $0 [A:B ...] with A, B = tandem|dhcpd" >&2; exit 2 ;; esac
done
NODE_A=${COMBOS[0]%:*} NODE_B=${COMBOS[0]#*:}
H=$(dirname "$0")
. "$H/fo-lib.sh"
. "$H/failover-pair.sh"   # scenario_pair
. "$H/failover-kill.sh"   # kill_clients, scenario_kill

DONE=()
for c in "${COMBOS[@]}"; do
  NODE_A=${c%:*} NODE_B=${c#*:}
  say "======== A (primary) = $NODE_A, B (secondary) = $NODE_B"
  t0=$(now_ns)
  fo_new_run "A-$NODE_A.B-$NODE_B"
  fo_topo_up 4
  fo_confs "$FO_DIR/conf"
  KILL_CONF=$FO_DIR/conf
  scenario_pair "$FO_DIR/conf"
  kill_clients 11
  scenario_kill b
  scenario_kill a
  ok "A=$NODE_A B=$NODE_B: normal, bindings both ways, restart of either side ($(secs_since "$t0")s)"
  DONE+=("A=$NODE_A B=$NODE_B")
done
TEST_FAILED=0   # read by lib.sh's cleanup
echo "$TEST_NAME: PASS (${DONE[*]}; $(elapsed)s)"
exit 0
