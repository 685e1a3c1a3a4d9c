#!/bin/bash
# Failover pair (issue 3, scenario 1), with the mission's configs as they are
# (examples/mission/{primary,secondary,master}.conf: peer "foo", port 520, mclt 1800, split 128,
# load balance max seconds 3):
#   both servers start on empty lease files and both log "failover peer foo: I move from ... to
#   normal" (and one of them "Both servers normal"), and both lease files say `my state normal`;
#   then clients get leases (udhcpc, udhcpc, dhclient, and more until each server has made at
#   least one binding) and every lease shows up as `binding state active` for the client's MAC in
#   BOTH lease files within 10 s.  After every step: no address is active for two different MACs
#   across the two lease files.
#
#   NODE_A=tandem|dhcpd NODE_B=tandem|dhcpd tests/netns/failover-pair.sh     (default: $SERVER or tandem)
#   e.g. NODE_A=dhcpd NODE_B=dhcpd KEEP=1 tests/netns/failover-pair.sh      (ISC's pair: the reference)
#
# Exit: 0 pass, 1 fail, 77 skipped (a node is tandem and tandem has no failover yet).
# Other scripts source this file for scenario_pair (its main part runs only when executed).

# scenario_pair CONFDIR: start the pair, lease clients 1-3 (more, up to 8, until both servers have
# made a binding); sets PAIR_BY_A / PAIR_BY_B: "I:MAC:IP" of a binding made by each server.
scenario_pair() {
  local d=$1 i mac
  PAIR_BY_A="" PAIR_BY_B=""
  fo_start_pair "$d"
  for i in 1 2 3 4 5 6 7 8; do
    if [ "$i" -gt 3 ] && [ -n "$PAIR_BY_A" ] && [ -n "$PAIR_BY_B" ]; then break; fi
    mac=$(client_mac "$i")
    if [ "$i" = 3 ]; then client_dhclient "$i"; else client_once "$i"; fi
    wait_active_both "$mac" "$LEASE_IP" 10
    case $LEASE_SERVER in
    "$FO_ADDR_a") [ -n "$PAIR_BY_A" ] || PAIR_BY_A="$i:$mac:$LEASE_IP" ;;
    "$FO_ADDR_b") [ -n "$PAIR_BY_B" ] || PAIR_BY_B="$i:$mac:$LEASE_IP" ;;
    *) fail "c$i: lease from unexpected server '$LEASE_SERVER'" ;;
    esac
    fo_check "after client c$i"
  done
  [ -n "$PAIR_BY_A" ] || fail "no client was served by A (primary) among c1..c8"
  [ -n "$PAIR_BY_B" ] || fail "no client was served by B (secondary) among c1..c8"
  ok "bindings made by A (c${PAIR_BY_A%%:*} ${PAIR_BY_A##*:}) and by B (c${PAIR_BY_B%%:*} ${PAIR_BY_B##*:}) are active in both lease files"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  TEST_TIMEOUT=${TEST_TIMEOUT:-150}
  . "$(dirname "$0")/fo-lib.sh"
  fo_topo_up 3
  fo_confs "$T/conf"
  scenario_pair "$T/conf"
  pass
fi
