#!/bin/bash
# Failover: partner-down (issue 3, scenario 3).  Uses COPIES of the mission's configs with
# `mclt 30` instead of `mclt 1800` in primary.conf (the secondary learns the MCLT from the
# primary): partner-down only frees the peer's addresses MCLT after it begins, and a recovering
# peer waits out the MCLT in recover-wait, so with 1800 s this test would take an hour.
#   1. The pair reaches normal; two clients get leases.
#   2. kill -9 B: A logs "I move from normal to communications-interrupted".
#   3. A is put into partner-down the documented way (dhcpd.conf(5): stop the server, set `my state`
#      in the leases file, restart): SIGTERM A, append
#        failover peer "foo" state { my state partner-down; }
#      to A's lease file, restart A.  A logs "I move from ... to partner-down" and its lease file
#      says `my state partner-down`.
#   4. MCLT (30 s) after that restart, A serves B's share of the pool: clients with distinct MACs
#      (udhcpc -q, FILL_WORKERS namespaces in parallel, a new MAC per run) take addresses until one
#      gets an address that was `binding state backup` (B's) in A's lease file before the fill
#      (A hands out its own free addresses first); every one of them is ACKed by A; bounded by
#      FILL_MAX clients and 100 s.
#   5. B restarts on its lease file: B logs "I move from ... to recover" (then recover-wait: the MCLT
#      from its recover), both log "I move from ... to normal" within 90 s, both lease files say
#      `my state normal`, and B's lease file holds the address A took from B's share, for the MAC
#      A gave it to.
#   After every step: no address is active for two different MACs across the two lease files.
#
#   NODE_A=tandem|dhcpd NODE_B=tandem|dhcpd tests/netns/failover-partner-down.sh
#   FILL_WORKERS (default 4), FILL_MAX (default 80)
#
# Exit: 0 pass, 1 fail, 77 skipped (a node is tandem and tandem has no failover yet).
# Other scripts may source this file for scenario_partner_down (its main part runs only when executed).

FO_MCLT=30

_pd_worker() { # _pd_worker W NS DIR RUNS: udhcpc -q with a new MAC per run (a background job)
  local w=$1 ns=$2 d=$3 runs=$4 k mac line ip srv
  for k in $(seq 1 "$runs"); do
    [ -e "$PD_FILL/stop" ] && break
    mac=$(printf '02:00:00:00:%02x:%02x' $((0x20 + w)) "$k")
    if ! { ip -n "$ns" link set eth0 down && ip -n "$ns" link set eth0 address "$mac" && ip -n "$ns" link set eth0 up; }; then
      echo "$mac - - link" >>"$PD_FILL/results"
      continue
    fi
    : >"$d/events"
    if timeout 30 ip netns exec "$ns" udhcpc -f -q -n -i eth0 -s "$d/udhcpc.sh" -t 3 -T 2 -x "hostname:f$w-$k" \
      >>"$d/udhcpc.log" 2>&1; then
      line=$(grep -E '^EVENT reason=BOUND ip=[0-9.]+ ' "$d/events" | tail -n1)
      ip=$(sed -E 's/.* ip=([0-9.]+) .*/\1/' <<<"$line")
      srv=$(sed -E 's/.* server=([0-9.]*) .*/\1/' <<<"$line")
      echo "$mac $ip $srv $(date +%H:%M:%S.%3N)" >>"$PD_FILL/results"
      grep -qx "$ip" "$PD_FILL/backup" && : >"$PD_FILL/stop"
    else
      echo "$mac - - nolease" >>"$PD_FILL/results"
    fi
  done
}

# pd_fill: run the workers until one gets an address listed in $PD_FILL/backup; sets PD_MAC, PD_IP
pd_fill() {
  local workers=${FILL_WORKERS:-4} max=${FILL_MAX:-80} w pids=() t0 runs
  runs=$(((max + workers - 1) / workers))
  : >"$PD_FILL/results"
  rm -f "$PD_FILL/stop"
  for w in $(seq 1 "$workers"); do
    _client $((20 + w))   # the worker's namespace and scripts (created here, in the main shell)
    _pd_worker "$w" "$CL_NS" "$T/$CL_NAME" "$runs" &
    pids+=($!)
    PIDS+=($!)
  done
  t0=$(now_ns)
  while [ ! -e "$PD_FILL/stop" ] && [ $(($(now_ns) - t0)) -lt 100000000000 ]; do
    local any=0
    for w in "${pids[@]}"; do pid_alive "$w" && any=1; done
    [ $any = 1 ] || break
    _fo_nodes_alive
    sleep 0.5
  done
  : >"$PD_FILL/stop"
  for w in "${pids[@]}"; do wait_exit "$w" 40 || kill -KILL "$w" 2>/dev/null; { wait "$w"; } 2>/dev/null || true; done
  local n nok nother line
  n=$(wc -l <"$PD_FILL/results")
  nok=$(awk '$2 != "-"' "$PD_FILL/results" | wc -l)
  nother=$(awk -v a="$FO_ADDR_a" '$2 != "-" && $3 != a' "$PD_FILL/results" | wc -l)
  say "fill: $n clients in $(secs_since "$t0")s, $nok leased, $((n - nok)) without a lease"
  [ "$nother" = 0 ] || fail "fill: $nother leases came from a server other than A: $(awk -v a="$FO_ADDR_a" '$2 != "-" && $3 != a' "$PD_FILL/results" | head -3)"
  [ -z "$(awk '$2 != "-" {print $2}' "$PD_FILL/results" | sort | uniq -d)" ] ||
    fail "fill: the same address went to two clients: $(awk '$2 != "-" {print $2}' "$PD_FILL/results" | sort | uniq -d | head -3)"
  line=$(awk 'NR==FNR {b[$1]=1; next} $2 in b' "$PD_FILL/backup" "$PD_FILL/results" | head -n1)
  [ -n "$line" ] || fail "A in partner-down gave none of B's ($(wc -l <"$PD_FILL/backup") backup) addresses to $nok clients"
  read -r PD_MAC PD_IP _ <<<"$line"
  ok "A in partner-down, after MCLT, leased $PD_IP (B's: backup in A's lease file) to $PD_MAC, client $(grep -n "^$PD_MAC " "$PD_FILL/results" | cut -d: -f1) of the fill"
}

scenario_partner_down() { # scenario_partner_down CONFDIR (configs with mclt $FO_MCLT)
  local d=$1 m_a m_b t_pd wait_s st i
  PD_FILL=$FO_DIR/fill
  mkdir -p "$PD_FILL"
  fo_start_pair "$d"
  for i in 1 2; do
    client_once "$i"
    wait_active_both "$(client_mac "$i")" "$LEASE_IP" 10
    fo_check "after client c$i"
  done

  say "---- kill -9 B"
  m_a=$(log_mark a)
  stop_node b KILL 5
  expect_log a "failover peer $FO_PEER: I move from normal to communications-interrupted" 10 "$m_a" "A notices the death of B"
  fo_check "B killed"

  say "---- A to partner-down: stop A, 'my state partner-down' in its lease file, restart A"
  stop_node a TERM 20
  ok "A stopped by SIGTERM in ${STOP_SECS}s"
  printf 'failover peer "%s" state {\n  my state partner-down;\n}\n' "$FO_PEER" >>"$(node_leases a)"
  m_a=$(log_mark a)
  t_pd=$(now_ns)
  start_node a "$NODE_A" "$d/primary.conf"
  expect_log a "failover peer $FO_PEER: I move from [a-z-]+ to partner-down" 30 "$m_a" "A restarted in partner-down"
  for i in $(seq 50); do
    st=$(fo_py state "$(node_leases a)")
    case $st in my=partner-down*) break ;; esac
    sleep 0.1
  done
  case $st in my=partner-down*) ok "a.leases: failover state $st" ;; *) fail "a.leases: failover state '$st', want my=partner-down" ;; esac
  fo_check "A in partner-down"

  fo_py list "$(node_leases a)" backup | tr ' ' '\n' | grep . >"$PD_FILL/backup" || true
  [ -s "$PD_FILL/backup" ] || fail "a.leases lists no backup (B-owned) address before the fill: $(fo_py counts "$(node_leases a)")"
  say "a.leases before the fill: $(fo_py counts "$(node_leases a)")"
  wait_s=$(awk -v t="$t_pd" -v n="$(now_ns)" -v m="$FO_MCLT" 'BEGIN{w = m + 2 - (n - t)/1e9; printf "%d", (w > 0 ? w + 0.999 : 0)}')
  say "waiting ${wait_s}s: MCLT ($FO_MCLT s) from A's restart into partner-down, + 2 s"
  sleep "$wait_s"
  _fo_nodes_alive
  pd_fill
  wait_active a "$PD_MAC" "$PD_IP" 10
  fo_check "A took B's addresses"

  say "---- B restarts"
  m_a=$(log_mark a) m_b=$(log_mark b)
  local t0
  t0=$(now_ns)
  start_node b "$NODE_B" "$d/secondary.conf"
  expect_log b "failover peer $FO_PEER: I move from [a-z-]+ to recover( |$)" 30 "$m_b" "B recovers"
  fo_check "B in recover"
  fo_wait_normal "$m_a" "$m_b" 90
  log_since a "$m_a" "failover peer $FO_PEER: I move from partner-down to normal" ||
    fail "A reached normal, but not from partner-down: $(tail -n +"$((m_a + 1))" "$(node_log a)" | grep -E 'I move from' | tr '\n' '|')"
  ok "B's path: $(tail -n +"$((m_b + 1))" "$(node_log b)" | grep -oE 'I move from [a-z-]+ to [a-z-]+' | sed 's/I move from //' | tr '\n' ',' | sed 's/,$//'); normal $(secs_since "$t0")s after B's restart"
  local hw
  for i in $(seq 50); do
    hw=$(fo_py hw "$(node_leases b)" "$PD_IP")
    [ "$hw" = "$PD_MAC" ] && break
    sleep 0.2
  done
  [ "$hw" = "$PD_MAC" ] || fail "b.leases: $PD_IP has hardware '$hw' (binding $(fo_py binding "$(node_leases b)" "$PD_IP")), want $PD_MAC (leased by A in partner-down)"
  ok "b.leases: $PD_IP is $PD_MAC's ($(fo_py binding "$(node_leases b)" "$PD_IP")): B learned A's partner-down allocation"
  fo_check "pair normal again"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  TEST_TIMEOUT=${TEST_TIMEOUT:-220}
  . "$(dirname "$0")/fo-lib.sh"
  fo_topo_up 2
  fo_confs "$T/conf" "$FO_MCLT"
  say "configs: examples/mission with mclt $FO_MCLT (not 1800) in primary.conf"
  scenario_partner_down "$T/conf"
  pass
fi
