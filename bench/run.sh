#!/bin/bash
# Benchmark Tandem beside ISC dhcpd 4.4 and Kea 2.2 (kea-dhcp4), in one run on this machine, with
# perfdhcp, and report ratios (lab.md section 5 is the recipe; bench/README.md explains the output).
#
#   Topology: namespaces tb-<pid>-br (bridge), -s (server, eth0 10.0.0.10/24), -r (relay/load
#   generator, 10.0.0.30/24), -c (direct client, 10.0.0.41/24); created here, deleted on exit.
#   Fairness: server pinned to CPU 1 (taskset -c 1), perfdhcp to CPU 0; a fresh server and an
#   empty lease file (on disk, not tmpfs) for every measurement; subnet 10.0.0.0/16 with a
#   65 279-address pool; -R 60000 clients; dhcpd with ping-check false; Kea memfile persist true.
#   Tandem and dhcpd are started the same way, from the same dhcpd.conf:
#     PROG -4 -f -q -cf CONF -lf LEASES -pf PID eth0
#   A server that fails to start, or never answers, is skipped and reported as such.
#
#   Full mode (default, ~8 min): for each mode (relay, direct), a baseline step at --base-rate
#   (100/s) for every server in turn, then per server a search for the highest rate with drops
#   under 1%: a ramp of short steps (4 s) doubling the rate from the baseline while they pass
#   (halving it if the baseline failed) brackets the capacity, then at most --refine-steps (4)
#   steps of --step-secs (10 s) narrow the bracket geometrically. Only the 10 s steps count.
#   --quick (~2 min): fixed rates (--rates, default "100 4000"), 8 s each, no search.
#
# usage: bench/run.sh [--quick] [--servers tandem,dhcpd,kea] [--modes relay,direct]
#                     [--rates "R1 R2 .."] [--step-secs N] [--refine-steps N] [--base-rate R]
#                     [--out DIR] [--keep] [--no-install]
#   --rates      fixed rates instead of the search (also in full mode)
#   --out DIR    where <date>.md and <date>.json go (default bench/results)
#   --keep       keep the scratch directory (configs, lease files, perfdhcp and server output)
#   --no-install don't apt-get missing packages (kea-dhcp4-server, kea-admin, isc-dhcp-server)
# Environment: TANDEM (default <repo>/target/release/tandem).
# Needs root (network namespaces). Exit status: 0 if the run completed (whatever the servers
# did), 1 if no server could be measured, 2 on a usage or setup error.
set -uo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH/.." && pwd)
TANDEM=${TANDEM:-$REPO/target/release/tandem}

QUICK=0 SERVERS=tandem,dhcpd,kea MODES=relay,direct RATES="" STEP_SECS="" REFINE_STEPS=4
BASE_RATE=100 OUT=$BENCH/results KEEP=0 INSTALL=1
# the ramp: short steps, at most RAMP_MAX of them, up to RAMP_TOP per second
RAMP_SECS=4 RAMP_MAX=8 RAMP_TOP=40000
# pass criterion of a step: drops under this (percent, DISCOVER-OFFER and REQUEST-ACK each) ...
MAX_DROP_PCT=1
# ... and perfdhcp reached this share of the target rate (below it with no drops, at 1000/s or
# more: the load generator, not the server, is the limit; at low rates a short run just rounds)
MIN_RATE_SHARE=0.95
CLIENTS=60000

die() { echo "bench: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
  --quick) QUICK=1 ;;
  --servers) SERVERS=${2:?}; shift ;;
  --modes) MODES=${2:?}; shift ;;
  --rates) RATES=${2:?}; shift ;;
  --step-secs) STEP_SECS=${2:?}; shift ;;
  --refine-steps) REFINE_STEPS=${2:?}; shift ;;
  --base-rate) BASE_RATE=${2:?}; shift ;;
  --out) OUT=${2:?}; shift ;;
  --keep) KEEP=1 ;;
  --no-install) INSTALL=0 ;;
  -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done
if [ "$QUICK" = 1 ]; then
  RATES=${RATES:-"$BASE_RATE 4000"}
  STEP_SECS=${STEP_SECS:-8}
else
  STEP_SECS=${STEP_SECS:-10}
fi
IFS=, read -ra SERVER_LIST <<<"$SERVERS"
IFS=, read -ra MODE_LIST <<<"$MODES"
for s in "${SERVER_LIST[@]}"; do case $s in tandem | dhcpd | kea) ;; *) die "unknown server $s" ;; esac; done
for m in "${MODE_LIST[@]}"; do case $m in relay | direct) ;; *) die "unknown mode $m" ;; esac; done
for n in $RATES $STEP_SECS $REFINE_STEPS $BASE_RATE; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || die "not a positive integer: $n"
done
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"

# ---------------------------------------------------------------- packages
# package -> a file it installs
declare -A PKG_FILE=(
  [isc-dhcp-server]=/usr/sbin/dhcpd
  [kea-dhcp4-server]=/usr/sbin/kea-dhcp4
  [kea-admin]=/usr/sbin/perfdhcp
  [iproute2]=/bin/ip
  [util-linux]=/usr/bin/taskset
  [procps]=/bin/ps
)
install_missing() {
  local pkg missing=() own_policy=0 rc=0
  for pkg in "${!PKG_FILE[@]}"; do [ -e "${PKG_FILE[$pkg]}" ] || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$INSTALL" = 1 ] || die "missing ${missing[*]} (and --no-install given)"
  echo "bench: installing ${missing[*]}"
  # The packaged services must not start on the host (they would serve its interfaces).
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# bench/run.sh: no service starts during package installs\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  { DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null; } || rc=$?
  [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || die "apt-get failed ($rc)"
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    for unit in isc-dhcp-server isc-dhcp-server6 kea-dhcp4-server kea-dhcp6-server kea-ctrl-agent kea-dhcp-ddns-server; do
      systemctl disable --now "$unit" >/dev/null 2>&1 || true
    done
  fi
  for pkg in "${missing[@]}"; do [ -e "${PKG_FILE[$pkg]}" ] || die "$pkg installed but ${PKG_FILE[$pkg]} is missing"; done
}
install_missing

# ---------------------------------------------------------------- scratch, namespaces, cleanup
WORK=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/tandem-bench.XXXXXX") || die "mktemp failed"
P=tb-$$
NS_BR=$P-br NS_S=$P-s NS_R=$P-r NS_C=$P-c
SRV_PID="" PERF_PID=""
CREATED_NS=()

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local ns pid
  trap - EXIT INT TERM
  for pid in $PERF_PID $SRV_PID; do
    kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  for ns in "${CREATED_NS[@]}"; do
    # anything still running inside our own namespaces is ours: kill it by PID
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  wait 2>/dev/null
  if [ "$KEEP" = 1 ]; then echo "bench: scratch kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

netns_up() {
  local ns x
  for ns in "$NS_BR" "$NS_S" "$NS_R" "$NS_C"; do
    ip netns add "$ns" || return 1
    CREATED_NS+=("$ns")
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null
    ip -n "$ns" link set lo up || return 1
  done
  ip -n "$NS_BR" link add br0 type bridge stp_state 0 forward_delay 0 || return 1
  ip -n "$NS_BR" link set br0 up || return 1
  # veth pairs created directly in the two namespaces: the root namespace is never touched
  for x in s r c; do
    ip link add eth0 netns "$P-$x" type veth peer name "p$x" netns "$NS_BR" || return 1
    ip -n "$NS_BR" link set "p$x" master br0 up || return 1
    ip netns exec "$P-$x" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1 >/dev/null
  done
  ip -n "$NS_S" link set eth0 address 02:00:00:00:00:0a || return 1
  ip -n "$NS_S" addr add 10.0.0.10/24 dev eth0 || return 1
  ip -n "$NS_R" addr add 10.0.0.30/24 dev eth0 || return 1
  # perfdhcp -l eth0 needs an IPv4 address on the interface (lab.md section 5)
  ip -n "$NS_C" addr add 10.0.0.41/24 dev eth0 || return 1
  for x in s r c; do ip -n "$P-$x" link set eth0 up || return 1; done
}
netns_up || die "could not set up the namespaces"

# A copy of the Tandem binary, so that a rebuild during the run cannot mix two versions.
TANDEM_RUN=$TANDEM
ver_tandem="tandem: not found at $TANDEM"
if [ -x "$TANDEM" ] && [ -f "$TANDEM" ]; then
  ver_tandem="$("$TANDEM" --version 2>&1 | head -n1) ($TANDEM, built $(date -r "$TANDEM" '+%Y-%m-%d %H:%M'), repository HEAD $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'))"
  cp "$TANDEM" "$WORK/tandem" && TANDEM_RUN=$WORK/tandem
fi

# ---------------------------------------------------------------- server configs
# One dhcpd.conf for dhcpd and Tandem (Tandem reads dhcpd.conf as it is).
cat >"$WORK/dhcpd.conf" <<'EOF'
# bench/run.sh: the same file is given to ISC dhcpd and to Tandem
authoritative;
ddns-update-style none;
# the default (true) delays every OFFER of a new address by 1 s
ping-check false;
default-lease-time 3600;
max-lease-time 7200;
subnet 10.0.0.0 netmask 255.255.0.0 {
  range 10.0.1.0 10.0.255.254;
}
EOF

kea_conf() { # RUNDIR
  cat <<EOF
{ "Dhcp4": {
    "interfaces-config": { "interfaces": [ "eth0" ], "dhcp-socket-type": "raw" },
    "lease-database": { "type": "memfile", "persist": true, "name": "$1/kea-leases4.csv", "lfc-interval": 3600 },
    "valid-lifetime": 3600,
    "max-valid-lifetime": 7200,
    "subnet4": [ { "id": 1, "subnet": "10.0.0.0/16", "pools": [ { "pool": "10.0.1.0 - 10.0.255.254" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "output_options": [ { "output": "stdout" } ], "severity": "WARN" } ]
} }
EOF
}

# ---------------------------------------------------------------- server lifecycle
RUN_N=0 RUNDIR="" SRV_ERR=""
declare -A NOSOCK=()
# start_server SERVER: a fresh instance with an empty lease file, pinned to CPU 1; sets SRV_PID,
# or returns 1 with SRV_ERR set.
start_server() {
  local srv=$1 i
  RUN_N=$((RUN_N + 1))
  RUNDIR=$WORK/run$RUN_N-$srv
  mkdir -p "$RUNDIR"
  SRV_ERR=""
  case $srv in
  dhcpd | tandem)
    local prog=/usr/sbin/dhcpd
    [ "$srv" = tandem ] && prog=$TANDEM_RUN
    if [ ! -x "$prog" ]; then SRV_ERR="$prog: not found or not executable"; return 1; fi
    # the lease file must exist (dhcpd exits otherwise)
    : >"$RUNDIR/leases"
    # no -d: per-packet logging would cost CPU (lab.md section 5)
    ip netns exec "$NS_S" taskset -c 1 "$prog" -4 -f -q -cf "$WORK/dhcpd.conf" -lf "$RUNDIR/leases" \
      -pf "$RUNDIR/pid" eth0 </dev/null >"$RUNDIR/server.log" 2>&1 &
    SRV_PID=$!
    ;;
  kea)
    kea_conf "$RUNDIR" >"$RUNDIR/kea-dhcp4.json"
    KEA_PIDFILE_DIR=$RUNDIR KEA_LOCKFILE_DIR=$RUNDIR ip netns exec "$NS_S" taskset -c 1 \
      kea-dhcp4 -c "$RUNDIR/kea-dhcp4.json" </dev/null >"$RUNDIR/server.log" 2>&1 &
    SRV_PID=$!
    ;;
  esac
  # Ready when the process holds a socket on port 67; give up after 10 s. A server that is
  # alive but shows no such socket after 5 s (1 s once that was seen) is given the benefit of
  # the doubt: the exchanges then tell whether it answers.
  local patience=50
  [ -n "${NOSOCK[$srv]:-}" ] && patience=10
  for ((i = 0; i < 100; i++)); do
    if ! alive "$SRV_PID"; then
      wait "$SRV_PID" 2>/dev/null
      SRV_ERR="exited during startup (status $?): $(tail -n 3 "$RUNDIR/server.log" | tr '\n' ' ')"
      SRV_PID=""
      return 1
    fi
    if ip netns exec "$NS_S" ss -H -uanp 'sport = :67' 2>/dev/null | grep -q "pid=$SRV_PID,"; then
      sleep 0.3
      return 0
    fi
    if [ $i -ge $patience ]; then
      NOSOCK[$srv]=1
      return 0
    fi
    sleep 0.1
  done
  SRV_ERR="not ready after 10 s"
  stop_server
  return 1
}

# alive PID: running, and not a zombie waiting to be reaped
alive() {
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $st != Z* ]]
}

stop_server() {
  local i
  [ -n "$SRV_PID" ] || return 0
  kill -TERM "$SRV_PID" 2>/dev/null
  for ((i = 0; i < 30; i++)); do
    alive "$SRV_PID" || break
    sleep 0.1
  done
  kill -KILL "$SRV_PID" 2>/dev/null
  wait "$SRV_PID" 2>/dev/null
  SRV_PID=""
}

# utime+stime of PID in clock ticks (threads included; fields 14 and 15 of /proc/PID/stat,
# counted after the ")" that ends the command name)
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# nanoseconds the threads of PID spent runnable but waiting for a CPU (second field of
# /proc/PID/task/*/schedstat): how much other work on the machine held the process back
sched_wait_ns() { cat "/proc/$1/task/"*/schedstat 2>/dev/null | awk '{ w += $2 } END { printf "%.0f\n", w }'; }
peak_rss_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
CLK_TCK=$(getconf CLK_TCK)

# ---------------------------------------------------------------- one measurement
# Records go to $WORK/runs.tsv, one line per perfdhcp run:
REC_FIELDS="server mode kind target secs rate do_sent do_recv do_drop_pct do_avg_ms ra_sent ra_recv ra_drop_pct ra_avg_ms cpu_pct cpu_us_per_dora srv_wait_pct gen_wait_pct rss_mb verdict perf_rc"
: >"$WORK/runs.tsv"

# parse_perfdhcp FILE: prints "rate do_sent do_recv do_drop do_avg ra_sent ra_recv ra_drop ra_avg",
# "-" for what is missing. perfdhcp prints per exchange a block headed
# "***Statistics for: DISCOVER-OFFER***" (then REQUEST-ACK) with "sent packets: N",
# "received packets: N", "drops ratio: X %", "avg delay: X ms", and before them
# "Rate: X 4-way exchanges/second, expected rate: Y".
parse_perfdhcp() {
  awk '
    function num(s) { gsub(/[^0-9.eE+-]/, "", s); return s }
    /^Rate:/ { rate = num($2) }
    /Statistics for: DISCOVER-OFFER/ { sec = "do" }
    /Statistics for: REQUEST-ACK/ { sec = "ra" }
    sec != "" && /^sent packets:/ { v[sec, "sent"] = num($3) }
    sec != "" && /^received packets:/ { v[sec, "recv"] = num($3) }
    sec != "" && /^drops ratio:/ { v[sec, "drop"] = num($3) }
    sec != "" && /^avg delay:/ { v[sec, "avg"] = num($3) }
    function g(k) { return (k in v && v[k] != "") ? v[k] : "-" }
    END {
      printf "%s %s %s %s %s %s %s %s %s\n", (rate == "" ? "-" : rate),
        g("do" SUBSEP "sent"), g("do" SUBSEP "recv"), g("do" SUBSEP "drop"), g("do" SUBSEP "avg"),
        g("ra" SUBSEP "sent"), g("ra" SUBSEP "recv"), g("ra" SUBSEP "drop"), g("ra" SUBSEP "avg")
    }' "$1"
}

VERDICT="" DO_RECV=""
# measure SERVER MODE KIND RATE SECS: fresh server, one perfdhcp run, one record. Sets VERDICT
# to pass | fail (drops) | genlimit (no drops but perfdhcp fell short of the rate) | crashed
# (the server died during the run) | error (perfdhcp failed) | nostart. Returns 1 if the server
# could not be started.
measure() {
  local srv=$1 mode=$2 kind=$3 rate=$4 secs=$5 c0 c1 w0 w1 g1=0 t0 t1 rc rss out
  VERDICT="" DO_RECV=""
  if ! start_server "$srv"; then
    VERDICT=nostart
    return 1
  fi
  out=$RUNDIR/perfdhcp.out
  c0=$(cpu_ticks "$SRV_PID")
  w0=$(sched_wait_ns "$SRV_PID")
  t0=$(date +%s%N)
  # perfdhcp exits 3 whenever any exchange was lost: that is a result, not a failure
  if [ "$mode" = relay ]; then
    # unicast to the server from 10.0.0.30:67: perfdhcp acts as a relay (giaddr 10.0.0.30)
    taskset -c 0 ip netns exec "$NS_R" perfdhcp -4 -r "$rate" -R "$CLIENTS" -p "$secs" -l 10.0.0.30 10.0.0.10 \
      </dev/null >"$out" 2>&1 &
  else
    taskset -c 0 ip netns exec "$NS_C" perfdhcp -4 -r "$rate" -R "$CLIENTS" -p "$secs" -l eth0 -B \
      </dev/null >"$out" 2>&1 &
  fi
  PERF_PID=$!
  # perfdhcp's own wait for a CPU, sampled until it exits (its counters vanish with it)
  while alive "$PERF_PID"; do
    g1=$(sched_wait_ns "$PERF_PID")
    sleep 0.25
  done
  wait "$PERF_PID"
  rc=$?
  PERF_PID=""
  t1=$(date +%s%N)
  c1=$(cpu_ticks "$SRV_PID")
  w1=$(sched_wait_ns "$SRV_PID")
  rss=$(peak_rss_kb "$SRV_PID")
  local alive=1
  alive "$SRV_PID" || { alive=0; c1=$c0; w1=$w0; }
  stop_server
  local p
  read -r -a p <<<"$(parse_perfdhcp "$out")"
  local cpu_pct cpu_us srv_wait gen_wait
  # runnable-but-waiting time as a share of the run: other work held the process back
  srv_wait=$(awk -v w=$((w1 - w0)) -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", 100 * w / ns }')
  gen_wait=$(awk -v w="$g1" -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", 100 * w / ns }')
  cpu_pct=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f", 100 * d / hz / (ns / 1e9) }')
  # CPU per completed DORA (REQUEST-ACK received = completed exchanges)
  cpu_us=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v n="${p[6]}" 'BEGIN { if (n + 0 > 0) printf "%.0f", 1e6 * d / hz / n; else print "-" }')
  DO_RECV=${p[2]}
  if [ "${p[0]}" = - ] || [ "${p[3]}" = - ] || { [ "$rc" != 0 ] && [ "$rc" != 3 ]; }; then
    VERDICT=error
  elif [ "$alive" = 0 ]; then
    VERDICT=crashed
  else
    VERDICT=$(awk -v r="${p[0]}" -v t="$rate" -v d1="${p[3]}" -v d2="${p[7]}" -v md="$MAX_DROP_PCT" -v ms="$MIN_RATE_SHARE" '
      BEGIN { if (d2 == "-") d2 = 100
              if (d1 + 0 >= md || d2 + 0 >= md) print "fail"
              else if (r + 0 < ms * t && t >= 1000) print "genlimit"
              else print "pass" }')
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$srv" "$mode" "$kind" "$rate" "$secs" \
    "${p[0]}" "${p[1]}" "${p[2]}" "${p[3]}" "${p[4]}" "${p[5]}" "${p[6]}" "${p[7]}" "${p[8]}" \
    "$cpu_pct" "$cpu_us" "$srv_wait" "$gen_wait" "$(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }')" "$VERDICT" "$rc" >>"$WORK/runs.tsv"
  printf '  %-6s %-6s %-8s %6s/s %3ss -> %9s DORA/s  drops DO %s%% RA %s%%  avg %s/%s ms  CPU %s%%  waited %s%%/%s%%  %s\n' \
    "$srv" "$mode" "$kind" "$rate" "$secs" "${p[0]}" "${p[3]}" "${p[7]}" "${p[4]}" "${p[8]}" "$cpu_pct" "$srv_wait" "$gen_wait" "$VERDICT"
  [ "$VERDICT" = error ] && echo "    perfdhcp rc=$rc: $(tail -n 2 "$out" | tr '\n' ' ')"
  [ "$VERDICT" = crashed ] && echo "    server died during the run: $(tail -n 3 "$RUNDIR/server.log" | tr '\n' ' ')"
  return 0
}

# round_rate RATE: round to 2 significant digits (at least 10)
round_rate() { awk -v r="$1" 'BEGIN { if (r < 10) r = 10; e = 10 ^ (int(log(r) / log(10)) - 1); if (e < 1) e = 1; printf "%d", int(r / e + 0.5) * e }'; }

# ---------------------------------------------------------------- the run
: >"$WORK/skipped.tsv" # server mode reason
: >"$WORK/notes.tsv"   # server mode note
skip() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$WORK/skipped.tsv"; echo "  SKIPPED $1 $2: $3"; }
note() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$WORK/notes.tsv"; echo "  note: $1 $2: $3"; }

declare -A DEAD=() MUTE=() BEST=() FAIL=()
# run_one SERVER MODE KIND RATE SECS: measure, unless the server failed to start earlier or this
# server+mode got no answer at all before. Returns 1 when nothing was measured.
run_one() {
  local srv=$1 mode=$2
  [ -n "${DEAD[$srv]:-}" ] || [ -n "${MUTE[$srv,$mode]:-}" ] && return 1
  if ! measure "$@"; then
    DEAD[$srv]=1
    skip "$srv" "*" "failed to start: $SRV_ERR"
    return 1
  fi
  if [ "${DO_RECV:-0}" = 0 ] || [ "$DO_RECV" = - ]; then
    MUTE[$srv,$mode]=1
    skip "$srv" "$mode" "no answer at all at $4/s ($VERDICT)"
    return 1
  fi
  case $VERDICT in crashed | error) MUTE[$srv,$mode]=1 ;; esac
  return 0
}

# search SERVER MODE (full mode, after the baseline, whose verdict is in BEST/FAIL).
#   B: the highest rate that passed a full step (the baseline counts); F: the lowest rate that
#   failed (ramp or full step); T: ramp passes above B, not yet confirmed by a full step.
search() {
  local srv=$1 mode=$2 B=${BEST[$1,$2]:-} F=${FAIL[$1,$2]:-} r n=0 gl="" mid_failed=""
  local -a T=()
  # ramp: double from a passing baseline until a failure, or halve from a failing one until a pass
  if [ -n "$B" ]; then
    r=$((B * 2))
    while [ $n -lt $RAMP_MAX ] && [ "$r" -le $RAMP_TOP ]; do
      run_one "$srv" "$mode" ramp "$r" $RAMP_SECS || return 0
      n=$((n + 1))
      case $VERDICT in
      pass) T+=("$r") ;;
      genlimit) T+=("$r"); gl=$r; break ;;
      fail) F=$r; break ;;
      *) return 0 ;;
      esac
      r=$((r * 2))
    done
  else
    r=$((F / 2))
    while [ $n -lt $RAMP_MAX ] && [ "$r" -ge 10 ]; do
      run_one "$srv" "$mode" ramp "$r" $RAMP_SECS || return 0
      n=$((n + 1))
      case $VERDICT in
      pass | genlimit) T+=("$r"); break ;;
      fail) F=$r ;;
      *) return 0 ;;
      esac
      r=$((r / 2))
    done
  fi
  # Refine with full steps. With an unconfirmed ramp rate t: try the geometric midpoint of t
  # and F; if that fails, confirm t itself; if t fails too, go on from the next ramp rate down.
  # With none left: bisect geometrically between B and F, down to a 12% bracket.
  n=0
  while [ $n -lt "$REFINE_STEPS" ]; do
    local t="" mid=""
    [ ${#T[@]} -gt 0 ] && t=${T[-1]}
    if [ -n "$t" ] && { [ -n "$mid_failed" ] || [ -z "$F" ] || awk -v t="$t" -v f="$F" 'BEGIN { exit !(f / t < 1.12) }'; }; then
      r=$t
    elif [ -n "$t" ]; then
      r=$(round_rate "$(awk -v t="$t" -v f="$F" 'BEGIN { print sqrt(t * f) }')")
      mid=1
    elif [ -n "$B" ] && [ -n "$F" ] && awk -v b="$B" -v f="$F" 'BEGIN { exit !(f / b >= 1.12) }'; then
      r=$(round_rate "$(awk -v b="$B" -v f="$F" 'BEGIN { print sqrt(b * f) }')")
    else
      break
    fi
    run_one "$srv" "$mode" step "$r" "$STEP_SECS" || return 0
    n=$((n + 1))
    case $VERDICT in
    pass | genlimit)
      B=$r mid_failed=""
      # ramp rates at or under a confirmed one need no confirming (T is ascending)
      while [ ${#T[@]} -gt 0 ] && [ "${T[0]}" -le "$r" ]; do T=("${T[@]:1}"); done
      [ "$VERDICT" = genlimit ] && { gl=$r; break; }
      ;;
    fail)
      F=$r mid_failed=$mid
      while [ ${#T[@]} -gt 0 ] && [ "${T[-1]}" -ge "$r" ]; do unset 'T[-1]'; done
      ;;
    *) return 0 ;;
    esac
  done
  [ -n "$gl" ] && note "$srv" "$mode" "perfdhcp could not send $gl/s: the capacity is at least what it reached"
  return 0
}

START=$(date +%s)
DATE_TAG=$(date +%Y-%m-%d_%H%M%S)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: $([ "$QUICK" = 1 ] && echo quick || echo full) run; namespaces $P-*; scratch $WORK; load average $LOAD_START"
echo "bench: servers ${SERVER_LIST[*]}; modes ${MODE_LIST[*]}; $([ -n "$RATES" ] && echo "fixed rates $RATES" || echo "baseline $BASE_RATE/s, then a ramp of ${RAMP_SECS}s steps and at most $REFINE_STEPS refining steps"), ${STEP_SECS}s each"
# Servers are interleaved at each rate (fixed rates) or for the baseline, so that a change in the
# machine's background load hits them alike.
for mode in "${MODE_LIST[@]}"; do
  if [ -n "$RATES" ]; then
    for r in $RATES; do
      echo "== $mode $r/s"
      for srv in "${SERVER_LIST[@]}"; do run_one "$srv" "$mode" fixed "$r" "$STEP_SECS"; done
    done
    continue
  fi
  echo "== $mode baseline $BASE_RATE/s"
  for srv in "${SERVER_LIST[@]}"; do
    run_one "$srv" "$mode" baseline "$BASE_RATE" "$STEP_SECS" || continue
    case $VERDICT in pass | genlimit) BEST[$srv,$mode]=$BASE_RATE ;; fail) FAIL[$srv,$mode]=$BASE_RATE ;; esac
  done
  for srv in "${SERVER_LIST[@]}"; do
    [ -n "${DEAD[$srv]:-}" ] || [ -n "${MUTE[$srv,$mode]:-}" ] && continue
    echo "== $mode search $srv"
    search "$srv" "$mode"
  done
done
ELAPSED=$(($(date +%s) - START))

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- versions
ver_dhcpd=$(/usr/sbin/dhcpd --version 2>&1 | head -n1)
ver_kea="kea-dhcp4 $(kea-dhcp4 -v 2>&1 | head -n1)"
ver_perfdhcp="perfdhcp $(perfdhcp -v 2>&1 | head -n1 | sed 's/^VERSION: *//')"

# ---------------------------------------------------------------- report
mkdir -p "$OUT" || die "cannot create $OUT"
SUFFIX=$([ "$QUICK" = 1 ] && echo -quick)
MD=$OUT/$DATE_TAG$SUFFIX.md
JSON=$OUT/$DATE_TAG$SUFFIX.json

# report FORMAT (text | md | json): everything from runs.tsv, skipped.tsv and notes.tsv.
# Per server and mode, the headline row is, in a search, the highest passing rate (baseline
# included), and with fixed rates the highest fixed rate (passing or not: the throughput under
# that offered load). "lower bound" marks a headline row with no failing rate above it. The base
# row is the one at --base-rate: CPU per DORA and delays are compared there, at equal load.
report() {
  awk -F'\t' -v fmt="$1" -v quick="$QUICK" -v base="$BASE_RATE" -v rates="$RATES" -v fields="$REC_FIELDS" \
    -v date="$DATE_TAG" -v host="$(uname -n), Linux $(uname -r), $(nproc) CPUs" -v elapsed="$ELAPSED" \
    -v load0="$LOAD_START" -v load1="$LOAD_END" -v maxdrop="$MAX_DROP_PCT" -v step_secs="$STEP_SECS" \
    -v v_dhcpd="$ver_dhcpd" -v v_kea="$ver_kea" -v v_perf="$ver_perfdhcp" -v v_tandem="$ver_tandem" \
    -v servers="${SERVER_LIST[*]}" -v modes="${MODE_LIST[*]}" -v clients="$CLIENTS" '
  BEGIN { nf = split(fields, F, " "); nsv = split(servers, SV, " "); nmo = split(modes, MO, " ") }
  FILENAME ~ /runs\.tsv$/ { n++; for (i = 1; i <= nf; i++) R[n, F[i]] = $i; next }
  FILENAME ~ /skipped\.tsv$/ { if ($2 == "*") gone[$1] = $3; else gone2[$1, $2] = $3; nsk++; SK[nsk] = label($1) " " ($2 == "*" ? "(all modes)" : $2) ": " $3; next }
  FILENAME ~ /notes\.tsv$/ { nno++; NO[nno] = label($1) " " $2 ": " $3; next }

  function label(s) { return s == "dhcpd" ? "ISC dhcpd" : (s == "kea" ? "Kea" : (s == "tandem" ? "Tandem" : s)) }
  function js(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); gsub(/[\t\r\n]/, " ", s); return "\"" s "\"" }
  function jn(s) { return (s == "-" || s == "") ? "null" : s + 0 }
  function val(i, f) { return i ? R[i, f] : "-" }
  # a ratio string (">= 1.23 (note)", "n/a (note)") as a JSON object {value, bound, note}
  function jratio(r,    b, v, note, k) {
    note = ""; k = index(r, "(")
    if (k) { note = substr(r, k + 1); sub(/\)$/, "", note); r = substr(r, 1, k - 1) }
    b = ""; if (r ~ /^(>=|<=) /) { b = substr(r, 1, 2); r = substr(r, 4) }
    v = r; gsub(/ /, "", v)
    return "{\"value\": " (v ~ /^[0-9.]+$/ ? v + 0 : "null") ", \"bound\": " (b != "" ? js(b) : "null") ", \"note\": " (note != "" ? js(note) : "null") "}"
  }
  function why(s, m) { return gone[s] != "" ? gone[s] : gone2[s, m] }
  function headline(s, m,    i, h, anyfail) {
    h = 0
    for (i = 1; i <= n; i++) {
      if (R[i, "server"] != s || R[i, "mode"] != m || R[i, "kind"] == "ramp") continue
      if (rates != "") { if (!h || R[i, "target"] + 0 >= R[h, "target"] + 0) h = i; continue }
      if ((R[i, "verdict"] == "pass" || R[i, "verdict"] == "genlimit") && (!h || R[i, "target"] + 0 > R[h, "target"] + 0)) h = i
    }
    anyfail = 0
    for (i = 1; i <= n; i++)
      if (h && R[i, "server"] == s && R[i, "mode"] == m && R[i, "verdict"] != "pass" && R[i, "verdict"] != "genlimit" && R[i, "target"] + 0 > R[h, "target"] + 0) anyfail = 1
    LB[s, m] = (h && R[h, "verdict"] != "fail" && !anyfail)
    return h
  }
  function baserow(s, m,    i) {
    for (i = 1; i <= n; i++)
      if (R[i, "server"] == s && R[i, "mode"] == m && R[i, "target"] == base && R[i, "kind"] != "ramp") return i
    return 0
  }
  # a / b, where a lower bound on the numerator makes the ratio a lower bound, and on the
  # denominator an upper bound
  function ratio(a, alb, b, blb) {
    if (a == "-" || b == "-" || a == "" || b == "" || b + 0 == 0) return "n/a"
    if (alb && blb) return "n/a (both lower bounds)"
    return (alb ? ">= " : (blb ? "<= " : "")) sprintf("%.2f", a / b)
  }
  function row(cells, md,    k, c, out) {
    k = split(cells, c, "\t"); out = ""
    for (i2 = 1; i2 <= k; i2++) out = out (md ? "| " c[i2] " " : sprintf(W[i2], c[i2]))
    return out (md ? "|" : "")
  }
  END {
    hl = rates != "" ? "at the top fixed rate" : "max sustainable rate (drops < " maxdrop "%)"
    for (mi = 1; mi <= nmo; mi++) for (si = 1; si <= nsv; si++) { s = SV[si]; m = MO[mi]; H[s, m] = headline(s, m); B[s, m] = baserow(s, m) }
    # ratio pairs: Tandem against each reference server, and Kea/ISC dhcpd for calibration
    np = 0
    for (mi = 1; mi <= nmo; mi++) for (pi = 1; pi <= 3; pi++) {
      a = pi < 3 ? "tandem" : "kea"; b = pi == 2 ? "kea" : "dhcpd"; m = MO[mi]
      if (index(" " servers " ", " " a " ") == 0 || index(" " servers " ", " " b " ") == 0) continue
      np++; PA[np] = a; PB[np] = b; PM[np] = m
      if (why(a, m) != "" || why(b, m) != "") { PT[np] = PC[np] = PD[np] = "n/a (" label(why(a, m) != "" ? a : b) " skipped)"; continue }
      PT[np] = ratio(val(H[a, m], "rate"), LB[a, m], val(H[b, m], "rate"), LB[b, m])
      PC[np] = ratio(val(B[b, m], "cpu_us_per_dora"), 0, val(B[a, m], "cpu_us_per_dora"), 0)
      PD[np] = ratio(val(B[b, m], "ra_avg_ms"), 0, val(B[a, m], "ra_avg_ms"), 0)
      # at the base rate both should pass; say so when one did not (its delay is then queueing)
      bf = ""
      if (B[a, m] && R[B[a, m], "verdict"] == "fail") bf = label(a)
      if (B[b, m] && R[B[b, m], "verdict"] == "fail") bf = bf (bf != "" ? ", " : "") label(b)
      if (bf != "") { PC[np] = PC[np] " (" bf " failed at " base "/s)"; PD[np] = PD[np] " (" bf " failed at " base "/s)" }
    }
    maxoth = 0
    maxgen = 0
    for (i = 1; i <= n; i++) {
      if (R[i, "srv_wait_pct"] + 0 > maxoth) maxoth = R[i, "srv_wait_pct"] + 0
      if (R[i, "gen_wait_pct"] + 0 > maxgen) maxgen = R[i, "gen_wait_pct"] + 0
    }
    warn = (maxoth > 10 || maxgen > 10) ? sprintf("other work on the machine held the server back for up to %.0f%% and perfdhcp for up to %.0f%% of a run (time runnable but waiting for a CPU; load average %s at the start, %s at the end): the numbers are noisier than usual.", maxoth, maxgen, load0, load1) : ""

    if (fmt == "json") {
      printf "{\n  \"date\": %s,\n  \"kind\": %s,\n  \"host\": %s,\n  \"elapsed_s\": %d,\n", js(date), js(quick ? "quick" : (rates != "" ? "fixed" : "full")), js(host), elapsed
      printf "  \"load_average\": {\"start\": %s, \"end\": %s},\n", js(load0), js(load1)
      printf "  \"versions\": {\"dhcpd\": %s, \"kea\": %s, \"perfdhcp\": %s, \"tandem\": %s},\n", js(v_dhcpd), js(v_kea), js(v_perf), js(v_tandem)
      printf "  \"settings\": {\"step_secs\": %d, \"base_rate\": %d, \"fixed_rates\": %s, \"max_drop_pct\": %s, \"clients\": %d, \"subnet\": \"10.0.0.0/16\", \"pool\": \"10.0.1.0-10.0.255.254\", \"server_cpu\": 1, \"perfdhcp_cpu\": 0},\n", step_secs, base, (rates == "" ? "null" : js(rates)), maxdrop, clients
      printf "  \"runs\": [\n"
      for (i = 1; i <= n; i++) {
        printf "    {"
        for (j = 1; j <= nf; j++) printf "%s%s: %s", (j > 1 ? ", " : ""), js(F[j]), (F[j] ~ /^(server|mode|kind|verdict)$/ ? js(R[i, F[j]]) : jn(R[i, F[j]]))
        printf "}%s\n", (i < n ? "," : "")
      }
      printf "  ],\n  \"summary\": [\n"; k = 0
      for (mi = 1; mi <= nmo; mi++) for (si = 1; si <= nsv; si++) {
        s = SV[si]; m = MO[mi]; h = H[s, m]; b = B[s, m]
        printf "%s    {\"server\": %s, \"mode\": %s, \"headline\": %s, \"target\": %s, \"dora_per_s\": %s, \"lower_bound\": %s, \"do_drop_pct\": %s, \"ra_drop_pct\": %s, \"do_avg_ms\": %s, \"ra_avg_ms\": %s, \"cpu_pct\": %s, \"base_cpu_us_per_dora\": %s, \"base_ra_avg_ms\": %s, \"skipped\": %s}", (k++ ? ",\n" : ""),
          js(s), js(m), js(hl), jn(val(h, "target")), jn(val(h, "rate")), (LB[s, m] ? "true" : "false"), jn(val(h, "do_drop_pct")), jn(val(h, "ra_drop_pct")),
          jn(val(h, "do_avg_ms")), jn(val(h, "ra_avg_ms")), jn(val(h, "cpu_pct")), jn(val(b, "cpu_us_per_dora")), jn(val(b, "ra_avg_ms")), (why(s, m) != "" ? js(why(s, m)) : "null")
      }
      printf "\n  ],\n  \"ratios\": [\n"
      for (i = 1; i <= np; i++)
        printf "    {\"pair\": %s, \"mode\": %s, \"dora_per_s\": %s, \"cpu_efficiency_at_base\": %s, \"speed_ra_delay_at_base\": %s}%s\n", js(PA[i] "/" PB[i]), js(PM[i]), jratio(PT[i]), jratio(PC[i]), jratio(PD[i]), (i < np ? "," : "")
      printf "  ],\n  \"skipped\": ["
      for (i = 1; i <= nsk; i++) printf "%s%s", (i > 1 ? ", " : ""), js(SK[i])
      printf "],\n  \"notes\": ["
      for (i = 1; i <= nno; i++) printf "%s%s", (i > 1 ? ", " : ""), js(NO[i])
      printf "],\n  \"warning\": %s\n}\n", (warn != "" ? js(warn) : "null")
      exit
    }

    md = fmt == "md"
    if (md) {
      printf "# Tandem vs ISC dhcpd vs Kea, %s (%s run)\n\n", date, (quick ? "quick" : (rates != "" ? "fixed-rate" : "full"))
      printf "- host: %s; load average %s at the start, %s at the end; %d s\n", host, load0, load1, elapsed
      printf "- %s; %s; %s\n- Tandem: %s\n", v_dhcpd, v_kea, v_perf, v_tandem
      printf "- perfdhcp -R %d, %s s per step; server on CPU 1, perfdhcp on CPU 0; fresh server and lease file per run\n", clients, step_secs
      if (warn != "") printf "- **warning**: %s\n", warn
    }
    # ratios first: they are the result
    if (md) printf "\n## Ratios (same run)\n\nDORA/s: %s. CPU efficiency: the other server CPU per DORA / the first one, at %d/s. Speed: the other REQUEST-ACK avg delay / the first one, at %d/s. Above 1 favours the first server.\n\n", hl, base, base
    else printf "\nRatios, same run (DORA/s: %s; CPU efficiency and speed: the other server CPU per DORA and\nREQUEST-ACK delay at %d/s divided by the first one; above 1 favours the first server):\n", hl, base
    split("%-18s \t%-7s \t%-26s \t%-26s \t%s", W, "\t")
    print row("pair\tmode\tDORA/s\tCPU efficiency at " base "/s\tspeed at " base "/s", md)
    if (md) print "|---|---|---:|---:|---:|"
    for (i = 1; i <= np; i++) print row(label(PA[i]) " / " label(PB[i]) "\t" PM[i] "\t" PT[i] "\t" PC[i] "\t" PD[i], md)

    if (md) printf "\n## Summary: %s\n\n", hl; else printf "\nSummary, %s (and the %d/s baseline):\n", hl, base
    split("%-10s \t%-7s \t%7s \t%12s \t%16s \t%18s \t%6s \t%12s \t%s", W, "\t")
    print row("server\tmode\ttarget/s\tDORA/s\tdrops DO/RA %\tavg delay DO/RA ms\tCPU %\tCPU us/DORA at " base "/s\tRA avg ms at " base "/s", md)
    if (md) print "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    for (mi = 1; mi <= nmo; mi++) for (si = 1; si <= nsv; si++) {
      s = SV[si]; m = MO[mi]; h = H[s, m]; b = B[s, m]
      if (why(s, m) != "" && !h) { print row(label(s) "\t" m "\t-\tskipped: " why(s, m), md); continue }
      if (!h) { print row(label(s) "\t" m "\t-\tno rate passed\t\t\t\t" val(b, "cpu_us_per_dora") "\t" val(b, "ra_avg_ms"), md); continue }
      print row(label(s) "\t" m "\t" R[h, "target"] "\t" (LB[s, m] ? ">= " : "") R[h, "rate"] "\t" R[h, "do_drop_pct"] "/" R[h, "ra_drop_pct"] "\t" R[h, "do_avg_ms"] "/" R[h, "ra_avg_ms"] "\t" R[h, "cpu_pct"] "\t" val(b, "cpu_us_per_dora") "\t" val(b, "ra_avg_ms"), md)
    }

    if (md) printf "\n## All runs\n\n"; else printf "\nAll runs (srv/gen wait %%: share of the run the server/perfdhcp was runnable but waiting for a CPU):\n"
    split("%-7s \t%-6s \t%-8s \t%7s \t%4s \t%10s \t%8s \t%8s \t%9s \t%9s \t%6s \t%7s \t%9s \t%9s \t%6s \t%s", W, "\t")
    print row("server\tmode\tkind\ttarget/s\tsecs\tDORA/s\tDO drop%\tRA drop%\tDO avg ms\tRA avg ms\tCPU %\tus/DORA\tsrv wait%\tgen wait%\tRSS MB\tverdict", md)
    if (md) print "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    for (i = 1; i <= n; i++)
      print row(R[i, "server"] "\t" R[i, "mode"] "\t" R[i, "kind"] "\t" R[i, "target"] "\t" R[i, "secs"] "\t" R[i, "rate"] "\t" R[i, "do_drop_pct"] "\t" R[i, "ra_drop_pct"] "\t" R[i, "do_avg_ms"] "\t" R[i, "ra_avg_ms"] "\t" R[i, "cpu_pct"] "\t" R[i, "cpu_us_per_dora"] "\t" R[i, "srv_wait_pct"] "\t" R[i, "gen_wait_pct"] "\t" R[i, "rss_mb"] "\t" R[i, "verdict"], md)

    if (nsk || nno || warn != "") printf (md ? "\n## Skipped, notes, warnings\n\n" : "\nSkipped, notes, warnings:\n")
    for (i = 1; i <= nsk; i++) printf "%sSKIPPED %s\n", (md ? "- " : "  "), SK[i]
    for (i = 1; i <= nno; i++) printf "%s%s\n", (md ? "- " : "  "), NO[i]
    if (warn != "") printf "%sWARNING: %s\n", (md ? "- " : "  "), warn
  }' "$WORK/runs.tsv" "$WORK/skipped.tsv" "$WORK/notes.tsv"
}

CAVEATS="Caveats: a shared 2-vCPU VM; compare the ratios within one run (a repeat of the same run differs
by 10-20%). Durability differs: ISC dhcpd fsyncs its lease file on every commit; Tandem fdatasyncs
its lease file before it answers (commits may be grouped); Kea's memfile (persist true) appends
each lease to its CSV file but does not fsync it, which favours Kea. dhcpd's CPU per DORA grows
with the pool size (65 279 addresses here). Drops at the end of a run include packets still in
flight. perfdhcp may itself be the limit at high rates (verdict genlimit)."

{
  report text
  echo
  echo "$CAVEATS"
} | tee "$WORK/report.txt"
{
  report md
  echo
  echo "## Caveats"
  echo
  echo "${CAVEATS#Caveats: }"
  echo
  echo "Made by bench/run.sh (lab.md section 5); the same data as JSON: $(basename "$JSON")."
} >"$MD"
report json >"$JSON"
echo
echo "bench: wrote $MD and $JSON ($ELAPSED s)"
[ -s "$WORK/runs.tsv" ] || exit 1
exit 0
