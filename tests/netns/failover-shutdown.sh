#!/bin/bash
# Failover: clean shutdown by SIGTERM (issue 3, scenario 5; the omshell `control state = 2` path is
# not covered here), with the mission's configs as they are (mclt 1800).
#   The pair reaches normal and a client gets a lease.  Then, for VICTIM = secondary, then primary
#   (or only the one named), SIGTERM VICTIM (it must exit within 30 s), and:
#   * VICTIM is tandem: it hands over cleanly, as ISC's own clean shutdown does (dhcpd(8) "THE
#     CONTROL OBJECT"; shared/docs/isc-failover.md 2.6): VICTIM logs "failover peer foo: I move from
#     normal to shutdown", and its peer logs "I move from normal to partner-down" within 15 s;
#   * VICTIM is dhcpd: dhcpd 4.4.3 exits at once on SIGTERM (ENABLE_GENTLE_SHUTDOWN is off by
#     default in includes/site.h), so its peer only sees the TCP close: it must leave normal within 15 s, for
#     communications-interrupted (what lab.md observed) or partner-down; which one is reported;
#   * the survivor serves a new client meanwhile (udhcpc -q, ACK from the survivor);
#   * VICTIM restarts on its lease file and both are normal again within 30 s of the restart (no
#     MCLT wait although MCLT is 1800 s: neither node logs recover-wait), both lease files say
#     `my state normal`, and the survivor's new lease is active in VICTIM's lease file.
#   After every step: no address is active for two different MACs across the two lease files.
#
#   NODE_A=tandem|dhcpd NODE_B=tandem|dhcpd tests/netns/failover-shutdown.sh [secondary|primary|both]
#   (default both: the secondary first, then the primary)
#
# Exit: 0 pass, 1 fail, 77 skipped (a node is tandem and tandem has no failover yet).
# Other scripts may source this file for scenario_shutdown (its main part runs only when executed).

# scenario_shutdown a|b CONFDIR: SIGTERM that node of a running pair, check, restart it.
# NEXT_CLIENT is the next unused client index.
scenario_shutdown() {
  local v=$1 d=$2 s kind conf m_s m_v m_a m_b t0 new ip_new mac_new how
  s=$(peer_of "$v")
  kind=$(node_kind "$v")
  if [ "$v" = a ]; then conf=$d/primary.conf; else conf=$d/secondary.conf; fi
  say "---- SIGTERM $(role_of "$v") ($v, $kind); peer $s ($(node_kind "$s"))"
  m_s=$(log_mark "$s") m_v=$(log_mark "$v")
  t0=$(now_ns)
  stop_node "$v" TERM 30
  ok "$v ($kind) exited ${STOP_SECS}s after SIGTERM"
  if [ "$kind" = tandem ]; then
    log_since "$v" "$m_v" "failover peer $FO_PEER: I move from normal to shutdown" ||
      fail "$v (tandem) did not log 'failover peer $FO_PEER: I move from normal to shutdown' before exiting"
    ok "$v logged: failover peer $FO_PEER: I move from normal to shutdown"
    expect_log "$s" "failover peer $FO_PEER: I move from normal to partner-down" 15 "$m_s" \
      "the peer of a cleanly stopped tandem takes over"
    how=partner-down
  else
    expect_log "$s" "failover peer $FO_PEER: I move from normal to (communications-interrupted|partner-down)" 15 "$m_s" \
      "the peer of a stopped dhcpd leaves normal"
    how=$(sed -E 's/.* to ([a-z-]+)$/\1/' <<<"$WAIT_LOG_LINE")
    say "note: $s went to $how after SIGTERM of dhcpd (ISC exits at once; lab.md saw communications-interrupted)"
  fi
  say "$v's lease file after its exit: $(fo_py state "$(node_leases "$v")")"
  fo_check "$v stopped"

  new=$NEXT_CLIENT
  NEXT_CLIENT=$((NEXT_CLIENT + 1))
  client_once "$new"
  [ "$LEASE_SERVER" = "$(node_addr "$s")" ] || fail "c$new: lease from $LEASE_SERVER, want the survivor $(node_addr "$s")"
  mac_new=$(client_mac "$new") ip_new=$LEASE_IP
  wait_active "$s" "$mac_new" "$ip_new" 10
  fo_check "c$new served by $s ($how)"

  m_a=$(log_mark a) m_b=$(log_mark b)
  t0=$(now_ns)
  start_node "$v" "$kind" "$conf"
  fo_wait_normal "$m_a" "$m_b" 30
  ok "$v restarted: pair normal again $(secs_since "$t0")s after the restart (MCLT is 1800 s)"
  if log_since a "$m_a" "I move from [a-z-]+ to recover-wait" || log_since b "$m_b" "I move from [a-z-]+ to recover-wait"; then
    fail "a node went through recover-wait after the clean shutdown"
  fi
  say "$v's path: $(tail -n +"$(($([ "$v" = a ] && echo "$m_a" || echo "$m_b") + 1))" "$(node_log "$v")" | grep -oE 'I move from [a-z-]+ to [a-z-]+' | sed 's/I move from //' | tr '\n' ',' | sed 's/,$//')"
  wait_active "$v" "$mac_new" "$ip_new" 15
  fo_check "$v back"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  TEST_TIMEOUT=${TEST_TIMEOUT:-170}
  WHICH=${1:-both}
  case $WHICH in primary | secondary | both) ;; *) echo "usage: $0 [primary|secondary|both]" >&2; exit 2 ;; esac
  . "$(dirname "$0")/fo-lib.sh"
  fo_topo_up 3
  fo_confs "$T/conf"
  fo_start_pair "$T/conf"
  client_once 1
  wait_active_both "$(client_mac 1)" "$LEASE_IP" 10
  fo_check "after client c1"
  NEXT_CLIENT=2
  case $WHICH in
  secondary) scenario_shutdown b "$T/conf" ;;
  primary) scenario_shutdown a "$T/conf" ;;
  both) scenario_shutdown b "$T/conf"; scenario_shutdown a "$T/conf" ;;
  esac
  pass
fi
