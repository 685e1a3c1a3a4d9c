#!/bin/bash
# Failover: a node dies (issue 3, scenario 2), with the mission's configs as they are (mclt 1800).
#   The pair reaches normal and clients c1-c4 (busybox udhcpc, kept running) hold leases, made by
#   both servers.  Then, for VICTIM = secondary, then primary (or only the one named):
#   * kill -9 VICTIM: the survivor logs "failover peer foo: I move from normal to
#     communications-interrupted" within 10 s (the TCP connection closes at once);
#   * the survivor serves a NEW client (udhcpc -q; ACK from the survivor; active in its lease file);
#   * the survivor RENEWs the running clients (SIGUSR1 to udhcpc): the clients it leased itself by
#     unicast RENEW, those of the dead node by broadcast REBIND (udhcpc's fallback after 3
#     unanswered unicasts) - both must be ACKed by the survivor with the same address;
#   * VICTIM restarts on its own lease file: both log "I move from ... to normal" again within 40 s,
#     both lease files say `my state normal`, and the lease the survivor made alone is now active
#     in VICTIM's lease file too.
#   After every step: no address is active for two different MACs across the two lease files.
#
#   NODE_A=tandem|dhcpd NODE_B=tandem|dhcpd tests/netns/failover-kill.sh [secondary|primary|both]
#   (default both: the secondary first, then the primary)
#
# Exit: 0 pass, 1 fail, 77 skipped (a node is tandem and tandem has no failover yet).
# Other scripts source this file for kill_setup, kill_clients, scenario_kill (its main part runs
# only when executed).

# kill_setup CONFDIR: start the pair (normal), then kill_clients 1
kill_setup() {
  KILL_CONF=$1
  fo_start_pair "$1"
  kill_clients 1
}

# kill_clients FIRST: clients FIRST..FIRST+3 run udhcpc (more, up to FIRST+5, until each server has
# leased at least one of them); KILL_CLIENTS lists them, NEXT_CLIENT is the next free index.
kill_clients() {
  local first=$1 i by_a=0 by_b=0
  KILL_CLIENTS=()
  for i in $(seq "$first" $((first + 5))); do
    if [ "$i" -gt $((first + 3)) ] && [ $by_a -gt 0 ] && [ $by_b -gt 0 ]; then break; fi
    client_start "$i"
    KILL_CLIENTS+=("$i")
    case $LEASE_SERVER in "$FO_ADDR_a") by_a=$((by_a + 1)) ;; "$FO_ADDR_b") by_b=$((by_b + 1)) ;; esac
    wait_active_both "$(client_mac "$i")" "$LEASE_IP" 10
    fo_check "after client c$i"
  done
  if [ $by_a = 0 ] || [ $by_b = 0 ]; then fail "c$first..c$i were not leased by both servers (A: $by_a, B: $by_b)"; fi
  NEXT_CLIENT=$((first + ${#KILL_CLIENTS[@]}))
  ok "running clients ${KILL_CLIENTS[*]}: $by_a leased by A, $by_b by B"
}

# scenario_kill a|b: kill -9 that node, check the survivor, restart it with the configs in
# $KILL_CONF (needs kill_setup, or a running pair + KILL_CONF + kill_clients)
scenario_kill() {
  local v=$1 s t0 m_s kind conf new i mac_new ip_new
  s=$(peer_of "$v")
  kind=$(node_kind "$v")
  if [ "$v" = a ]; then conf=$KILL_CONF/primary.conf; else conf=$KILL_CONF/secondary.conf; fi
  say "---- kill -9 $(role_of "$v") ($v, $kind); survivor $s ($(node_kind "$s"))"
  m_s=$(log_mark "$s")
  stop_node "$v" KILL 5
  expect_log "$s" "failover peer $FO_PEER: I move from normal to communications-interrupted" 10 "$m_s" \
    "$s notices the death of $v"
  fo_check "$v killed"

  # a new client: only the survivor can answer
  new=$NEXT_CLIENT
  NEXT_CLIENT=$((NEXT_CLIENT + 1))
  client_once "$new"
  [ "$LEASE_SERVER" = "$(node_addr "$s")" ] || fail "c$new: lease from $LEASE_SERVER, want the survivor $(node_addr "$s")"
  mac_new=$(client_mac "$new") ip_new=$LEASE_IP
  wait_active "$s" "$mac_new" "$ip_new" 10
  fo_check "new client c$new served by $s alone"

  # renewals of the running clients, all at once (REBIND ones take ~7 s)
  for i in "${KILL_CLIENTS[@]}"; do client_renew_send "$i"; done
  local own=0 peers=0
  for i in "${KILL_CLIENTS[@]}"; do
    client_renew_wait "$i" 30
    [ "$LEASE_SERVER" = "$(node_addr "$s")" ] || fail "c$i: renewal ACKed by $LEASE_SERVER, want the survivor $(node_addr "$s")"
    # udhcpc sends its unicast RENEW to the server-id of its first OFFER, whoever ACKed it since
    if [ "${CLIENT_SRV[$i]}" = "$(node_addr "$s")" ]; then own=$((own + 1)); else peers=$((peers + 1)); fi
    wait_active "$s" "$(client_mac "$i")" "$LEASE_IP" 10
  done
  ok "$s (alone) renewed $own clients by unicast RENEW to itself and $peers whose RENEW went to $v (REBIND)"
  fo_check "renewals by $s alone"

  # restart the victim on its lease file
  local m_a m_b
  m_a=$(log_mark a) m_b=$(log_mark b)
  t0=$(now_ns)
  start_node "$v" "$kind" "$conf"
  fo_wait_normal "$m_a" "$m_b" 40
  ok "$v restarted: pair normal again $(secs_since "$t0")s after the restart"
  wait_active "$v" "$mac_new" "$ip_new" 15
  fo_check "$v recovered"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  TEST_TIMEOUT=${TEST_TIMEOUT:-170}
  WHICH=${1:-both}
  case $WHICH in primary | secondary | both) ;; *) echo "usage: $0 [primary|secondary|both]" >&2; exit 2 ;; esac
  . "$(dirname "$0")/fo-lib.sh"
  fo_topo_up 4
  fo_confs "$T/conf"
  kill_setup "$T/conf"
  case $WHICH in
  secondary) scenario_kill b ;;
  primary) scenario_kill a ;;
  both) scenario_kill b; scenario_kill a ;;
  esac
  pass
fi
