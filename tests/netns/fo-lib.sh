# shellcheck shell=bash source-path=SCRIPTDIR
# shellcheck disable=SC2034  # NODE_PID_x, NODE_KIND_x are read indirectly; BR, TEST_FAILED by lib.sh
# fo-lib.sh: helpers for the failover namespace tests (tests/netns/failover-*.sh).  Source it (after
# setting TEST_TIMEOUT); it sources lib.sh (namespaces with a unique prefix, the EXIT trap that
# kills what the test started and deletes its namespaces, the watchdog, client scripts) and adds:
#
#   topology     fo_topo_up N / fo_topo_down: server A (${P}a, eth0 10.0.0.10/24), server B (${P}b,
#                10.0.0.20/24) and clients c1..cN (${P}cI, no address, MAC 02:00:00:00:01:II) on
#                one bridge; more clients join on first use (client_ns I).
#   configs      fo_confs DIR [MCLT]: examples/mission/{primary,secondary,master}.conf copied to DIR
#                with the include path rewritten (and `mclt 1800` -> MCLT when given).
#   nodes        start_node NAME KIND CONF / stop_node NAME SIG [SECS]: NAME a or b, KIND tandem or
#                dhcpd, run in the foreground with dhcpd's flags (-4 -d -f -cf -lf -pf eth0), its
#                stderr timestamped into $FO_DIR/NAME.log; lease file $FO_DIR/NAME.leases (kept
#                across restarts).  A tandem that does not listen on the failover port skips the test.
#   logs         log_mark NAME; wait_log FILE REGEX TIMEOUT [SINCE]; expect_log NAME REGEX TIMEOUT
#                SINCE WHAT; fo_wait_normal SINCE_A SINCE_B TIMEOUT.
#   lease files  fo_py (python3, last block per address wins): state, active, binding, list,
#                counts, dups; fo_check WHAT: no address active for two MACs across both files.
#   clients      client_once I (udhcpc -q), client_start I / client_renew I (a udhcpc that stays
#                up; renew = SIGUSR1), client_dhclient I; each sets LEASE_IP and LEASE_SERVER.
#
# Environment (plus lib.sh's TANDEM, DHCPD, KEEP, VERBOSE, TEST_TIMEOUT):
#   NODE_A=tandem|dhcpd   the primary (10.0.0.10); default $SERVER, else tandem
#   NODE_B=tandem|dhcpd   the secondary (10.0.0.20); default $SERVER, else tandem
#
# Every check prints "<test>: PASS: ..." or "<test>: FAIL: ..." (then exit 1).
# Exit codes: 0 pass, 1 fail, 77 skipped ("<test>: SKIP: reason"), e.g. when NODE_x=tandem and the
# tandem binary does not speak failover yet (no TCP listener on the failover port after start).
#
# Quirks of ISC dhcpd 4.4.3 the tests live with (see shared/docs/lab.md):
# * the mission configs don't set ping-check, so dhcpd pings every address before offering it
#   (1 s per new client: nothing answers inside the namespaces);
# * dhcpd refuses a missing lease file: start_node creates an empty one for KIND=dhcpd only;
# * dhcpd exits at once on SIGTERM (ENABLE_GENTLE_SHUTDOWN is off by default in includes/site.h):
#   its peer sees the TCP close and goes to communications-interrupted, not partner-down.

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  echo "fo-lib: SKIP: a library for failover-*.sh (source it), not a test"
  exit 77
fi

NODE_A=${NODE_A:-${SERVER:-tandem}}
NODE_B=${NODE_B:-${SERVER:-tandem}}
for _k in "$NODE_A" "$NODE_B"; do
  case $_k in
  tandem | dhcpd) ;;
  *) echo "$(basename "${0%.sh}"): NODE_A and NODE_B must be tandem or dhcpd, not '$_k'" >&2; exit 2 ;;
  esac
done
# lib.sh wants SERVER; it only picks lib's own server_start binary, which these tests don't use.
if [ "$NODE_A" = "$NODE_B" ]; then SERVER=$NODE_A; else SERVER=tandem; fi
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FO_PEER=foo          # failover peer "foo" (examples/mission)
FO_PORT=520          # its port / peer port
FO_ADDR_a=10.0.0.10  # primary
FO_ADDR_b=10.0.0.20  # secondary
FO_RANGE_LO=10.0.0.100
FO_RANGE_HI=10.0.0.200
FO_DIR=$T            # node files (NAME.log, NAME.leases, NAME.pid); fo_new_run moves it
NODE_PID_a="" NODE_PID_b=""
NODE_KIND_a="" NODE_KIND_b=""
LEASE_IP="" LEASE_SERVER=""
declare -A CLIENT_PID=() CLIENT_SRV=()   # client_start: udhcpc's PID, the server-id it bound to

pass() { TEST_FAILED=0; echo "$TEST_NAME: PASS (A=$NODE_A B=$NODE_B, $(elapsed)s)"; exit 0; }
ok() { echo "$TEST_NAME: PASS: $*"; log "PASS: $*"; }
now_ns() { date +%s%N; }
secs_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN{printf "%.1f", (b-a)/1e9}'; }

# ---------------------------------------------------------------- topology
client_mac() { printf '02:00:00:00:01:%02x' "$1"; }
client_ns() { # client_ns I: CL_NS = the namespace of client I, created (MAC client_mac I) on first use
  CL_NS=${P}c$1
  if ! ip netns list | awk '{print $1}' | grep -qx "$CL_NS"; then host_add "c$1" - "$(client_mac "$1")"; fi
}
fo_topo_up() { # fo_topo_up NCLIENTS
  host_add a "$FO_ADDR_a/24" 02:00:00:00:00:0a
  host_add b "$FO_ADDR_b/24" 02:00:00:00:00:14
  local i
  for i in $(seq 1 "${1:-3}"); do host_add "c$i" - "$(client_mac "$i")"; done
  log "topology up: ${P}{br,a,b,c1..c${1:-3}}"
}
fo_topo_down() { # fo_topo_down: kill everything inside our namespaces and delete them
  local ns p pids=()
  for ns in "${NAMESPACES[@]}"; do
    while read -r p; do [ -n "$p" ] && pids+=("$p"); done < <(ip netns pids "$ns" 2>/dev/null || true)
  done
  [ ${#pids[@]} -gt 0 ] && _kill_pids "${pids[@]}"
  for p in "${pids[@]}"; do { wait "$p"; } 2>/dev/null || true; done
  for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  NAMESPACES=() BR="" NODE_PID_a="" NODE_PID_b=""
  CLIENT_PID=() CLIENT_SRV=()
  log "topology down"
}
fo_new_run() { # fo_new_run NAME: a fresh topology and a fresh folder $T/NAME for node files
  local d=$T/$1 n=1
  fo_topo_down
  while [ -e "$d" ]; do n=$((n + 1)) && d=$T/$1.$n; done
  FO_DIR=$d
  mkdir -p "$FO_DIR"
}

# ---------------------------------------------------------------- configs
fo_confs() { # fo_confs DIR [MCLT]: the mission's configs in DIR, include path rewritten
  local d=$1 mclt=${2:-}
  mkdir -p "$d"
  cp "$REPO"/examples/mission/{primary,secondary,master}.conf "$d"/
  sed -i "s#/usr/local/etc/dhcp/#$d/#" "$d/primary.conf" "$d/secondary.conf"
  grep -q "include \"$d/master.conf\"" "$d/primary.conf" || fail "fo_confs: include path not rewritten"
  if [ -n "$mclt" ]; then
    sed -i -E "s/mclt[[:space:]]+1800;/mclt $mclt;/" "$d/primary.conf"
    grep -qE "mclt $mclt;" "$d/primary.conf" || fail "fo_confs: mclt not rewritten"
  fi
}
fo_check_conf() { # fo_check_conf KIND CONF: KIND's -t accepts CONF
  local bin
  bin=$(node_bin "$1")
  "$bin" -t -cf "$2" >>"$T/conf-check.log" 2>&1 || fail "$1 -t rejects $2 (see conf-check.log)"
}

# ---------------------------------------------------------------- nodes
node_bin() { case $1 in tandem) echo "$TANDEM" ;; dhcpd) echo "$DHCPD" ;; esac; }
node_log() { echo "$FO_DIR/$1.log"; }
node_leases() { echo "$FO_DIR/$1.leases"; }
node_pid() { local v=NODE_PID_$1; echo "${!v}"; }
node_kind() { local v=NODE_KIND_$1; echo "${!v}"; }
node_addr() { local v=FO_ADDR_$1; echo "${!v}"; }
peer_of() { if [ "$1" = a ]; then echo b; else echo a; fi; }
role_of() { if [ "$1" = a ]; then echo primary; else echo secondary; fi; }

_fo_stamp() { # stdin -> "HH:MM:SS.mmm line"
  local l t
  while IFS= read -r l || [ -n "$l" ]; do
    t=$EPOCHREALTIME
    printf '%(%H:%M:%S)T.%s %s\n' "${t%[.,]*}" "${t: -6:3}" "$l"
  done
}

_tcp_listening() { # _tcp_listening NS PID PORT
  ip netns exec "$1" ss -Htlnp "sport = :$3" 2>/dev/null | grep -q "pid=$2,"
}

start_node() { # start_node NAME KIND CONF: start server NAME (a|b) of KIND in ${P}NAME
  local name=$1 kind=$2 conf=$3 ns=$P$1 bin pid lf logf pidf i
  bin=$(node_bin "$kind")
  lf=$(node_leases "$name") logf=$(node_log "$name") pidf=$FO_DIR/$name.pid
  if [ ! -x "$bin" ]; then
    [ "$kind" = tandem ] && skip "no tandem binary at $bin (cargo build --release -p tandem-server)"
    fail "no $kind binary at $bin"
  fi
  [ "$kind" = dhcpd ] && [ ! -e "$lf" ] && : >"$lf"   # ISC refuses a missing lease file
  echo "==== $(date +%H:%M:%S.%3N) start $kind: $bin -4 -d -f -cf $conf -lf $lf -pf $pidf eth0" >>"$logf"
  log "start node $name ($kind) in $ns: $bin -4 -d -f -cf $conf -lf $lf -pf $pidf eth0"
  ip netns exec "$ns" "$bin" -4 -d -f -cf "$conf" -lf "$lf" -pf "$pidf" eth0 \
    > >(_fo_stamp >>"$logf" 2>/dev/null) 2>&1 &
  pid=$!   # ip netns exec execs: this is the server's own PID
  PIDS+=("$pid")
  eval "NODE_PID_$name=$pid NODE_KIND_$name=$kind"
  wait_listening "$ns" "$pid" 67 15
  for i in $(seq 50); do
    _tcp_listening "$ns" "$pid" "$FO_PORT" && break
    pid_alive "$pid" || fail "node $name ($kind) exited during startup (see $name.log)"
    if [ "$i" = 50 ]; then
      [ "$kind" = tandem ] && skip "tandem ($bin) does not listen on failover TCP port $FO_PORT: no failover support yet"
      fail "node $name ($kind) does not listen on TCP $FO_PORT 5 s after UDP 67"
    fi
    sleep 0.1
  done
  log "ok: node $name ($kind) pid $pid up (UDP 67, TCP $FO_PORT)"
}

stop_node() { # stop_node NAME SIG [SECS=20]: signal node NAME, wait for its exit, reap it; sets STOP_SECS
  local name=$1 sig=$2 secs=${3:-20} pid t0
  pid=$(node_pid "$name")
  [ -n "$pid" ] || fail "stop_node $name: not running"
  t0=$(now_ns)
  log "kill -$sig node $name (pid $pid)"
  eval "NODE_PID_$name="   # from here on its exit is expected
  kill "-$sig" "$pid" 2>/dev/null || true
  wait_exit "$pid" "$secs" || fail "node $name (pid $pid) still running ${secs}s after SIG$sig"
  { wait "$pid"; } 2>/dev/null || true
  STOP_SECS=$(secs_since "$t0")
  echo "==== $(date +%H:%M:%S.%3N) exited after SIG$sig (${STOP_SECS}s)" >>"$(node_log "$name")"
}

_fo_nodes_alive() { # fail at once if a node that should run has died
  local n pid
  for n in a b; do
    pid=$(node_pid "$n")
    [ -z "$pid" ] || pid_alive "$pid" || fail "node $n ($(node_kind "$n"), pid $pid) exited unexpectedly (see $n.log)"
  done
}

# ---------------------------------------------------------------- logs
log_mark() { # log_mark NAME: the current line count of NAME's log
  local f
  f=$(node_log "$1")
  if [ -f "$f" ]; then wc -l <"$f" | tr -d ' '; else echo 0; fi
}

WAIT_LOG_LINE="" WAIT_LOG_SECS=""
wait_log() { # wait_log FILE REGEX TIMEOUT [SINCE=0]: true once a line after line SINCE matches (ERE)
  local f=$1 re=$2 secs=$3 since=${4:-0} t0 line
  t0=$(now_ns)
  while :; do
    line=$(tail -n +"$((since + 1))" "$f" 2>/dev/null | grep -E -m1 -- "$re" || true)
    if [ -n "$line" ]; then
      WAIT_LOG_LINE=$line WAIT_LOG_SECS=$(secs_since "$t0")
      log "ok (${WAIT_LOG_SECS}s): $(basename "$f"): $line"
      return 0
    fi
    _fo_nodes_alive
    [ $(($(now_ns) - t0)) -lt $((secs * 1000000000)) ] || return 1
    sleep 0.2
  done
}
expect_log() { # expect_log NAME REGEX TIMEOUT SINCE WHAT: wait_log on NAME's log, PASS or FAIL
  wait_log "$(node_log "$1")" "$2" "$3" "$4" ||
    fail "$5: no /$2/ in $1.log ($(node_kind "$1")) within $3 s"
  ok "$5 (${WAIT_LOG_SECS}s): $1: ${WAIT_LOG_LINE#* }"
}
log_since() { # log_since NAME SINCE REGEX: is there a matching line after line SINCE? (no wait)
  tail -n +"$(($2 + 1))" "$(node_log "$1")" 2>/dev/null | grep -Eq -- "$3"
}

# fo_wait_normal SINCE_A SINCE_B TIMEOUT: both nodes log "failover peer foo: I move from X to normal"
# and "failover peer foo: Both servers normal" (ISC's words, which tandem must log too; each ISC
# node logs both on every return to normal) after their marks, and both lease files then say
# `my state normal`.
fo_wait_normal() {
  local sa=$1 sb=$2 secs=$3 n st i
  expect_log a "failover peer $FO_PEER: I move from [a-z-]+ to normal" "$secs" "$sa" "A reaches normal"
  expect_log b "failover peer $FO_PEER: I move from [a-z-]+ to normal" "$secs" "$sb" "B reaches normal"
  expect_log a "failover peer $FO_PEER: Both servers normal" 5 "$sa" "A sees both normal"
  expect_log b "failover peer $FO_PEER: Both servers normal" 5 "$sb" "B sees both normal"
  for n in a b; do
    for i in $(seq 50); do
      st=$(fo_py state "$(node_leases "$n")")
      case $st in my=normal*) break ;; esac
      sleep 0.1
    done
    case $st in my=normal*) ok "$n.leases: failover state $st" ;; *) fail "$n.leases: failover state '$st', want my=normal" ;; esac
  done
}

# fo_start_pair CONFDIR [TIMEOUT=40]: start A (primary.conf) and B (secondary.conf), wait for normal
fo_start_pair() {
  local d=$1 secs=${2:-40} t0
  fo_check_conf "$NODE_A" "$d/primary.conf"
  fo_check_conf "$NODE_B" "$d/secondary.conf"
  t0=$(now_ns)
  start_node a "$NODE_A" "$d/primary.conf"
  start_node b "$NODE_B" "$d/secondary.conf"
  fo_wait_normal 0 0 "$secs"
  ok "pair A=$NODE_A B=$NODE_B normal $(secs_since "$t0")s after start"
  fo_check "pair normal"
}

# ---------------------------------------------------------------- lease files (python3)
cat >"$T/fo_leases.py" <<'PY'
"""Failover test helper over ISC dhcpd.leases files (the last block per address wins).

  state FILE [PEER]      my=STATE partner=STATE of the last `failover peer PEER state` block
  active FILE MAC        addresses whose lease is active (and not past `ends`) for MAC
  binding FILE ADDR      the binding state of ADDR (or none)
  hw FILE ADDR           the hardware address of ADDR's lease (or none)
  list FILE STATE        addresses in binding state STATE
  counts FILE            how many leases in each binding state
  dups WHAT FILE...      fail (exit 1) if an address is active for two different MACs across FILEs
"""
import datetime
import os
import sys

sys.path.insert(0, os.environ["FO_NETNS_DIR"])
from isc_leases import Torn, read_leases, statements, tokens  # noqa: E402  (tests/netns/isc_leases.py)

NOW = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def ends(rec):
    """The lease's `ends` as a naive UTC datetime; None if absent or unreadable."""
    parts = rec.get("ends", "").split()
    try:
        if parts[0] == "never":
            return datetime.datetime.max
        if parts[0] == "epoch":
            return datetime.datetime.utcfromtimestamp(int(parts[1]))
        return datetime.datetime.strptime(parts[1] + " " + parts[2], "%Y/%m/%d %H:%M:%S")
    except (IndexError, ValueError):
        return None


def live_active(rec):
    # An active lease whose `ends` has passed is expired, even if its server has not written that
    # down yet; the two servers expire leases independently.
    if rec.get("binding_state") != "active":
        return False
    e = ends(rec)
    return e is None or e >= NOW


def leases(path):
    if not os.path.exists(path):
        return {}
    recs, warnings = read_leases(path)
    for w in warnings:
        print(f"fo_leases: {path}: {w}", file=sys.stderr)
    return recs


def fo_state(path, peer):
    try:
        with open(path, encoding="latin-1") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    last = None
    try:
        for words, body in statements(tokens(text)):
            if (body is not None and len(words) == 4 and words[:2] == ["failover", "peer"]
                    and words[2].strip('"') == peer and words[3] == "state"):
                st = {}
                for w, _b in body:
                    if w[:2] in (["my", "state"], ["partner", "state"]) and len(w) >= 3:
                        st[w[0]] = w[2]
                last = st
    except Torn:
        pass
    return last


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "state" and len(argv) >= 3:
        st = fo_state(argv[2], argv[3] if len(argv) > 3 else "foo")
        print("none" if st is None else f"my={st.get('my', '-')} partner={st.get('partner', '-')}")
    elif cmd == "active" and len(argv) == 4:
        mac = argv[3].lower()
        print(" ".join(a for a, r in leases(argv[2]).items() if live_active(r) and r.get("hardware") == mac))
    elif cmd == "binding" and len(argv) == 4:
        print(leases(argv[2]).get(argv[3], {}).get("binding_state", "none"))
    elif cmd == "hw" and len(argv) == 4:
        print(leases(argv[2]).get(argv[3], {}).get("hardware", "none"))
    elif cmd == "list" and len(argv) == 4:
        print(" ".join(a for a, r in leases(argv[2]).items() if r.get("binding_state") == argv[3]))
    elif cmd == "counts" and len(argv) == 3:
        c = {}
        for r in leases(argv[2]).values():
            s = r.get("binding_state", "?")
            c[s] = c.get(s, 0) + 1
        print(" ".join(f"{k}={v}" for k, v in sorted(c.items())) or "empty")
    elif cmd == "dups" and len(argv) >= 4:
        holders, per_file = {}, []
        for path in argv[3:]:
            recs = leases(path)
            n = 0
            for addr, r in recs.items():
                if live_active(r):
                    n += 1
                    holders.setdefault(addr, {}).setdefault(r.get("hardware", "?"), []).append(os.path.basename(path))
            per_file.append(f"{os.path.basename(path)}: {n} active")
        bad = []
        for a, h in sorted(holders.items()):
            if len(h) > 1:
                who = ", ".join("%s (%s)" % (m, "+".join(fs)) for m, fs in h.items())
                bad.append(f"{a} active for {who}")
        macs = {}
        for a, h in holders.items():
            for m in h:
                macs.setdefault(m, set()).add(a)
        multi = [f"{m}: {' '.join(sorted(a))}" for m, a in sorted(macs.items()) if len(a) > 1]
        print(f"{argv[2]}: {'; '.join(per_file)}; {len(holders)} addresses active, {len(bad)} held by two MACs"
              + (f"; note: MACs with two active addresses: {', '.join(multi)}" if multi else ""))
        for b in bad:
            print("  DUPLICATE " + b)
        return 1 if bad else 0
    else:
        raise SystemExit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
PY
fo_py() { FO_NETNS_DIR=$NETNS_DIR python3 "$T/fo_leases.py" "$@"; }

fo_check() { # fo_check WHAT: no address active for two different MACs across A's and B's lease files
  local out rc=0
  out=$(fo_py dups "$1" "$(node_leases a)" "$(node_leases b)" 2>>"$T/test.log") || rc=$?   # warnings (torn tail: a write in progress) to test.log
  log "dups: $out"
  [ $rc = 0 ] || fail "duplicate address: $out"
  ok "no duplicate: ${out}"
}

# wait_active NAME MAC IP SECS: NAME's lease file has IP active for MAC (polls)
wait_active() {
  local n=$1 mac=$2 ip=$3 secs=$4 t0
  t0=$(now_ns)
  while :; do
    case " $(fo_py active "$(node_leases "$n")" "$mac") " in *" $ip "*) break ;; esac
    [ $(($(now_ns) - t0)) -lt $((secs * 1000000000)) ] ||
      fail "$n.leases: $ip not active for $mac after ${secs}s (binding state: $(fo_py binding "$(node_leases "$n")" "$ip"))"
    sleep 0.2
  done
  ok "$n.leases: $ip binding state active for $mac ($(secs_since "$t0")s)"
}
wait_active_both() { wait_active a "$1" "$2" "$3"; wait_active b "$1" "$2" "$3"; }

# ---------------------------------------------------------------- clients
# Client I lives in ${P}cI with MAC client_mac I; its files are in $FO_DIR/cI (lib.sh's client_dir:
# hook scripts that only log events and set the address inside the client's namespace).
_client() { # _client I: CL_NS and CL_NAME (its folder under $T) of client I
  CL_NAME=${FO_DIR#"$T"}
  CL_NAME=${CL_NAME#/}
  CL_NAME=${CL_NAME:+$CL_NAME/}c$1
  client_ns "$1"
  [ -d "$T/$CL_NAME" ] || client_dir "$CL_NAME"
}
_last_event() { # _last_event NAME REASON: sets LEASE_IP and LEASE_SERVER from its last such event
  local line
  line=$(grep -E "^EVENT reason=$2 ip=[0-9.]+ " "$T/$1/events" | tail -n1 || true)
  LEASE_IP=$(sed -E 's/.* ip=([0-9.]+) .*/\1/' <<<"$line")
  LEASE_SERVER=$(sed -E 's/.* server=([0-9.]*) .*/\1/' <<<"$line")
}
_count_events() { grep -cE "^EVENT reason=$2 ip=[0-9.]+ " "$T/$1/events" || true; }

client_once() { # client_once I: busybox udhcpc -q (quit once bound); LEASE_IP, LEASE_SERVER
  _client "$1"
  local t0 rc=0
  t0=$(now_ns)
  : >"$T/$CL_NAME/events"
  log "udhcpc -q in $CL_NS (c$1, $(client_mac "$1"))"
  timeout 40 ip netns exec "$CL_NS" udhcpc -f -q -n -i eth0 -s "$T/$CL_NAME/udhcpc.sh" -t 5 -T 2 -x "hostname:c$1" \
    >>"$T/$CL_NAME/udhcpc.log" 2>&1 || rc=$?
  [ $rc = 0 ] || fail "c$1 ($(client_mac "$1")): udhcpc got no lease (rc $rc)"
  _last_event "$CL_NAME" BOUND
  expect_in_range "c$1" "$LEASE_IP" "$FO_RANGE_LO" "$FO_RANGE_HI"
  ok "c$1 ($(client_mac "$1"), udhcpc) got $LEASE_IP from $LEASE_SERVER ($(secs_since "$t0")s)"
}

client_start() { # client_start I: busybox udhcpc that stays up (renew with client_renew I)
  _client "$1"
  local t0
  t0=$(now_ns)
  : >"$T/$CL_NAME/events"
  bg_run "$CL_NS" "$T/$CL_NAME/udhcpc.log" udhcpc -f -i eth0 -s "$T/$CL_NAME/udhcpc.sh" -t 5 -T 2 -x "hostname:c$1"
  CLIENT_PID[$1]=$BG_PID
  wait_event "$CL_NAME" BOUND 40
  _last_event "$CL_NAME" BOUND
  CLIENT_SRV[$1]=$LEASE_SERVER
  expect_in_range "c$1" "$LEASE_IP" "$FO_RANGE_LO" "$FO_RANGE_HI"
  ok "c$1 ($(client_mac "$1"), udhcpc, stays up) got $LEASE_IP from $LEASE_SERVER ($(secs_since "$t0")s)"
}

# client_renew I [SECS=30]: SIGUSR1 to client I's udhcpc: a unicast RENEW to the server that gave
# the lease; if that server is down, udhcpc goes on to a broadcast REBIND after 3 x -T (2 s).
# Passes if client I gets an ACK for the same address; LEASE_IP, LEASE_SERVER (of the ACK).
# client_renew_send I then client_renew_wait I SECS do the same for several clients at once.
declare -A _RENEW_N0=() _RENEW_IP0=() _RENEW_T0=()
client_renew_send() {
  _client "$1"
  local pid=${CLIENT_PID[$1]:-}
  [ -n "$pid" ] || fail "client_renew c$1: no running udhcpc"
  _last_event "$CL_NAME" "(BOUND|RENEW)"
  _RENEW_IP0[$1]=$LEASE_IP
  _RENEW_N0[$1]=$(_count_events "$CL_NAME" RENEW)
  _RENEW_T0[$1]=$(now_ns)
  log "kill -USR1 udhcpc of c$1 (pid $pid, holds $LEASE_IP)"
  kill -USR1 "$pid"
}
client_renew_wait() {
  _client "$1"
  local pid=${CLIENT_PID[$1]} secs=${2:-30}
  while [ "$(_count_events "$CL_NAME" RENEW)" -le "${_RENEW_N0[$1]}" ]; do
    pid_alive "$pid" || fail "c$1: udhcpc exited during renew"
    [ $(($(now_ns) - _RENEW_T0[$1])) -lt $((secs * 1000000000)) ] || fail "c$1: no renewal within ${secs}s (see $CL_NAME/udhcpc.log)"
    sleep 0.2
  done
  _last_event "$CL_NAME" RENEW
  [ "$LEASE_IP" = "${_RENEW_IP0[$1]}" ] || fail "c$1: renewed to $LEASE_IP, had ${_RENEW_IP0[$1]}"
  ok "c$1 renewed $LEASE_IP, ACK from $LEASE_SERVER ($(secs_since "${_RENEW_T0[$1]}")s after SIGUSR1)"
}
client_renew() { client_renew_send "$1"; client_renew_wait "$1" "${2:-30}"; }

client_dhclient() { # client_dhclient I: ISC dhclient -1 (no client-id, unlike udhcpc); LEASE_IP, LEASE_SERVER
  _client "$1"
  local t0
  t0=$(now_ns)
  : >"$T/$CL_NAME/events"
  dhclient_once "$CL_NS" "$CL_NAME"
  _last_event "$CL_NAME" "(BOUND|REBOOT)"
  expect_in_range "c$1" "$LEASE_IP" "$FO_RANGE_LO" "$FO_RANGE_HI"
  ok "c$1 ($(client_mac "$1"), dhclient) got $LEASE_IP from $LEASE_SERVER ($(secs_since "$t0")s)"
}
