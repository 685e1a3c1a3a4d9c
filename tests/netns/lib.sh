# shellcheck shell=bash
# Shared helpers for the namespace tests in tests/netns/*.sh.  Source it; don't run it.
#
# Every test builds its own little network out of network namespaces whose names start with a
# prefix unique to the run (tn-<pid>-<rand>-), so parallel runs and leftovers never clash.  The
# veth pairs are created directly inside the test's namespaces: the root namespace's interfaces
# are never touched.  An EXIT trap kills the processes the test started (by PID, then every PID
# still inside its namespaces) and deletes the namespaces.  Logs go to a per-test temp dir that is
# printed (tails of every log) when the test fails and removed when it passes (KEEP=1 keeps it).
#
# Environment:
#   SERVER=tandem (default) | dhcpd     which DHCP server to test
#   TANDEM=path                        tandem binary (default: <repo>/target/release/tandem)
#   DHCPD=path                         ISC dhcpd binary (default: /usr/sbin/dhcpd)
#   TEST_TIMEOUT=seconds               watchdog for the whole test (default 120)
#   KEEP=1                             keep the temp dir even on success
#   VERBOSE=1                          echo every log line to the terminal too
#   NS_PREFIX=name-                    a fixed namespace prefix instead of tn-<pid>-<rand>- (demo)
#
# Exit codes of a test: 0 pass, 1 fail, 77 skipped (e.g. a tandem-only check under SERVER=dhcpd).

set -euo pipefail

NETNS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$NETNS_DIR/../.." && pwd)
TEST_NAME=$(basename "${0%.sh}")
SERVER=${SERVER:-tandem}
TANDEM=${TANDEM:-$REPO/target/release/tandem}
DHCPD=${DHCPD:-/usr/sbin/dhcpd}
case $SERVER in
tandem) SERVER_BIN=$TANDEM ;;
dhcpd) SERVER_BIN=$DHCPD ;;
*) echo "$TEST_NAME: SERVER must be tandem or dhcpd, not '$SERVER'" >&2; exit 2 ;;
esac
SKIP=77

if [ "$(id -u)" != 0 ]; then echo "$TEST_NAME: SKIP: needs root (network namespaces)"; exit $SKIP; fi

T=$(mktemp -d "${TMPDIR:-/tmp}/tandem-$TEST_NAME.XXXXXX")
chmod 755 "$T"   # dhcpcd's privilege-separated helpers read files in here
P=${NS_PREFIX:-"tn-$$-$(printf %04x $((RANDOM)))-"}   # namespace prefix of this run
NAMESPACES=()      # created by this test, deleted by cleanup
PIDS=()            # started by this test, killed by cleanup
BR=""              # the bridge namespace (see bridge_ns)
PORTN=0
T0=$(date +%s.%N)
TEST_FAILED=1      # cleared by pass()

log() { # log MESSAGE...: timestamped, to $T/test.log (and stderr with VERBOSE=1)
  local line
  line="$(date +%H:%M:%S.%3N) $*"
  echo "$line" >>"$T/test.log"
  if [ "${VERBOSE:-0}" = 1 ]; then echo "$line" >&2; fi
}
say() { echo "$TEST_NAME: $*"; log "$*"; }
fail() { echo "$TEST_NAME: FAIL: $*" >&2; log "FAIL: $*"; exit 1; }
skip() { echo "$TEST_NAME: SKIP: $*"; log "SKIP: $*"; TEST_FAILED=0; exit $SKIP; }
pass() { TEST_FAILED=0; echo "$TEST_NAME: PASS ($SERVER, $(elapsed)s)"; exit 0; }
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }
tandem_only() { # tandem_only WHAT: skip the rest of the test unless SERVER=tandem
  if [ "$SERVER" != tandem ]; then skip "$* (tandem-only check; SERVER=$SERVER)"; fi
}

# ---------------------------------------------------------------- cleanup and watchdog
_dump_logs() {
  echo "---- $TEST_NAME failed; logs in $T ----" >&2
  local f
  for f in "$T"/*.log "$T"/*/*.log "$T"/*/events "$T"/*.leases; do
    [ -f "$f" ] || continue
    echo "==== $f (last 40 lines)" >&2
    tail -n 40 "$f" >&2
  done
  echo "---- end of logs ($T kept) ----" >&2
}

_kill_pids() { # _kill_pids PID...: TERM, up to 2 s grace, then KILL
  local p alive=() i
  for p in "$@"; do kill -TERM "$p" 2>/dev/null && alive+=("$p"); done
  [ ${#alive[@]} -gt 0 ] || return 0
  for i in $(seq 20); do
    local still=()
    for p in "${alive[@]}"; do pid_alive "$p" && still+=("$p"); done
    [ ${#still[@]} -gt 0 ] || return 0
    sleep 0.1
  done
  for p in "$@"; do kill -KILL "$p" 2>/dev/null || true; done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e   # best effort from here on: every step runs
  [ -n "${_WATCHDOG:-}" ] && kill "$_WATCHDOG" 2>/dev/null
  [ "$rc" = 0 ] || [ "$rc" = "$SKIP" ] || TEST_FAILED=1
  log "cleanup (rc=$rc)"
  [ ${#PIDS[@]} -gt 0 ] && _kill_pids "${PIDS[@]}"
  local ns pids=()
  for ns in "${NAMESPACES[@]}"; do
    # ip netns pids lists only live processes whose net namespace is ns: ours, nobody else's
    while read -r p; do [ -n "$p" ] && pids+=("$p"); done < <(ip netns pids "$ns" 2>/dev/null || true)
  done
  [ ${#pids[@]} -gt 0 ] && _kill_pids "${pids[@]}"
  wait 2>/dev/null || true   # reap our children (PID 1 here does not reap orphans)
  for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  if [ "$TEST_FAILED" = 1 ]; then
    _dump_logs
  elif [ "${KEEP:-0}" = 1 ]; then
    echo "$TEST_NAME: logs kept in $T"
  else
    rm -rf "$T"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 1' INT TERM

# The watchdog: a hung test fails instead of hanging CI.  Every blocking command below has its
# own timeout too; this is the last line of defence.
(
  trap 'kill "$_s" 2>/dev/null; exit 0' TERM
  sleep "${TEST_TIMEOUT:-120}" &
  _s=$!
  wait "$_s"
  echo "$TEST_NAME: FAIL: watchdog: test exceeded ${TEST_TIMEOUT:-120}s" >&2
  kill -TERM $$ 2>/dev/null
) &
_WATCHDOG=$!

# Remove namespaces left by earlier runs of these tests whose process is gone (tn-<pid>-...).
sweep_stale_namespaces() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^tn-[0-9]+-[0-9a-f]{4}-' || true); do
    pid=${ns#tn-}; pid=${pid%%-*}
    if ! kill -0 "$pid" 2>/dev/null; then
      ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
}
sweep_stale_namespaces

# ---------------------------------------------------------------- processes and waiting
pid_alive() { # true while PID exists and is not a zombie
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

wait_for() { # wait_for SECONDS DESCRIPTION CMD...: poll CMD every 0.1 s; fail the test on timeout
  local secs=$1 desc=$2
  shift 2
  local deadline=$(($(date +%s%N) + secs * 1000000000))
  while ! "$@" >/dev/null 2>&1; do
    if [ "$(date +%s%N)" -ge "$deadline" ]; then fail "timed out after ${secs}s waiting for: $desc"; fi
    sleep 0.1
  done
  log "ok: $desc"
}

wait_exit() { # wait_exit PID SECONDS: true if PID is gone (or a zombie) within SECONDS
  local deadline=$(($(date +%s%N) + $2 * 1000000000))
  while pid_alive "$1"; do
    [ "$(date +%s%N)" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

nsx() { # nsx NS CMD...: run CMD in namespace NS
  local ns=$1
  shift
  ip netns exec "$ns" "$@"
}

BG_PID=""
bg_run() { # bg_run NS LOGFILE CMD...: start CMD in NS in the background; its PID is in BG_PID
  local ns=$1 logf=$2
  shift 2
  log "start in $ns: $*"
  ip netns exec "$ns" "$@" >>"$logf" 2>&1 &
  BG_PID=$!   # ip netns exec execs, so this is CMD's own PID
  PIDS+=("$BG_PID")
}

# ---------------------------------------------------------------- topology
ns_add() { # ns_add NAME: create namespace $P$NAME (lo up, IPv6 off); prints nothing
  local ns=$P$1
  ip netns add "$ns"
  NAMESPACES+=("$ns")
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

bridge_ns() { # bridge_ns: create the bridge namespace ${P}br with bridge br0 (no address)
  ns_add br
  BR=${P}br
  ip -n "$BR" link add br0 type bridge stp_state 0 forward_delay 0
  ip -n "$BR" link set br0 up
}

host_add() { # host_add NAME [ADDR/PLEN|-] [MAC|-] [IFNAME=eth0]: namespace $P$NAME with IFNAME on br0
  local name=$1 addr=${2:--} mac=${3:--} ifname=${4:-eth0} ns=$P$1
  [ -n "$BR" ] || bridge_ns
  ip netns list | awk '{print $1}' | grep -qx "$ns" || ns_add "$name"
  PORTN=$((PORTN + 1))
  ip link add "$ifname" netns "$ns" type veth peer name "p$PORTN" netns "$BR"
  [ "$mac" = - ] || ip -n "$ns" link set "$ifname" address "$mac"
  ip -n "$BR" link set "p$PORTN" master br0 up
  [ "$addr" = - ] || ip -n "$ns" addr add "$addr" dev "$ifname"
  ip -n "$ns" link set "$ifname" up
}

veth_link() { # veth_link NS1 IF1 ADDR1|- MAC1|- NS2 IF2 ADDR2|- MAC2|-: a direct veth pair (names without prefix)
  local n1=$P$1 i1=$2 a1=$3 m1=$4 n2=$P$5 i2=$6 a2=$7 m2=$8
  ip link add "$i1" netns "$n1" type veth peer name "$i2" netns "$n2"
  [ "$m1" = - ] || ip -n "$n1" link set "$i1" address "$m1"
  [ "$m2" = - ] || ip -n "$n2" link set "$i2" address "$m2"
  [ "$a1" = - ] || ip -n "$n1" addr add "$a1" dev "$i1"
  [ "$a2" = - ] || ip -n "$n2" addr add "$a2" dev "$i2"
  ip -n "$n1" link set "$i1" up
  ip -n "$n2" link set "$i2" up
}

# ---------------------------------------------------------------- the server under test
# server_start NS CONF LEASES PIDFILE [IFACE=eth0] [LOG=$T/server.log] [PORT=67]
# Runs `$SERVER_BIN -4 -f -d -cf CONF -lf LEASES -pf PIDFILE IFACE` (dhcpd's flags; -p PORT when
# PORT != 67) in NS and waits until it listens on UDP PORT.  SERVER_PID is its PID.
# ISC dhcpd refuses a missing lease file, so for SERVER=dhcpd an empty one is created first.
SERVER_PID=""
SERVER_LOG="$T/server.log"
server_start() {
  local ns=$1 conf=$2 leases=$3 pidf=$4 ifc=${5:-eth0} logf=${6:-$T/server.log} port=${7:-67}
  local extra=()
  [ "$port" = 67 ] || extra=(-p "$port")
  [ "$SERVER" = dhcpd ] && [ ! -e "$leases" ] && : >"$leases"
  [ -x "$SERVER_BIN" ] || fail "server binary not found: $SERVER_BIN (build it: cargo build --release)"
  SERVER_LOG=$logf
  echo "==== $(date +%H:%M:%S.%3N) start: $SERVER_BIN -4 -f -d -cf $conf -lf $leases -pf $pidf ${extra[*]} $ifc" >>"$logf"
  bg_run "$ns" "$logf" "$SERVER_BIN" -4 -f -d -cf "$conf" -lf "$leases" -pf "$pidf" "${extra[@]}" "$ifc"
  SERVER_PID=$BG_PID
  wait_listening "$ns" "$SERVER_PID" "$port" 15
}

_listening() { # _listening NS PID PORT
  pid_alive "$2" || return 2
  ip netns exec "$1" ss -Hulnp "sport = :$3" 2>/dev/null | grep -q "pid=$2,"
}
wait_listening() { # wait_listening NS PID PORT SECONDS: wait until PID has a UDP socket on PORT in NS
  local ns=$1 pid=$2 port=$3 secs=$4
  local deadline=$(($(date +%s%N) + secs * 1000000000)) rc
  while :; do
    rc=0
    _listening "$ns" "$pid" "$port" || rc=$?
    [ $rc = 0 ] && break
    [ $rc = 2 ] && fail "server (pid $pid) exited during startup (see its log)"
    [ "$(date +%s%N)" -lt "$deadline" ] || fail "server (pid $pid) not listening on UDP $port after ${secs}s"
    sleep 0.1
  done
  log "ok: server pid $pid listening on UDP $port in $ns"
}

server_stop() { # server_stop [PID=$SERVER_PID]: SIGTERM, wait up to 5 s, then SIGKILL; reaps it
  local pid=${1:-$SERVER_PID}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_exit "$pid" 5; then
    log "server $pid ignored SIGTERM for 5 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_exit "$pid" 5 || true
  fi
  { wait "$pid"; } 2>/dev/null || true
}

# A test config: copy CONF to $T and point any include of /usr/local/etc/dhcp/ at $T.
conf_copy() { # conf_copy SRC DEST
  sed "s#/usr/local/etc/dhcp/#$T/#g" "$1" >"$2"
}

# ---------------------------------------------------------------- clients
# Every client gets its own folder $T/NAME with its own scripts, lease and pid files; its hook
# scripts only print the lease and run `ip addr` inside the client's namespace: they never touch
# the host (no resolv.conf, no hostname).  Each hook appends one normalized line per event to
# $T/NAME/events:  EVENT reason=BOUND ip=10.0.0.100 mask=255.255.255.0 router=10.0.0.1 server=10.0.0.10 lease=600
client_dir() { # client_dir NAME: create $T/NAME with dhclient, udhcpc and dhcpcd scripts and configs
  local d=$T/$1
  mkdir -p "$d" "$d/dhcpcd-db"
  : >"$d/events"
  cat >"$d/dhclient.sh" <<EOF
#!/bin/sh
# dhclient-script replacement (dhclient passes only its own variables, so the path is baked in)
echo "EVENT reason=\$reason ip=\${new_ip_address:-} mask=\${new_subnet_mask:-} router=\${new_routers:-} server=\${new_dhcp_server_identifier:-} lease=\${new_dhcp_lease_time:-} old=\${old_ip_address:-}" >>"$d/events"
case "\$reason" in
BOUND|RENEW|REBIND|REBOOT) ip addr replace "\$new_ip_address/\$new_subnet_mask" dev "\$interface" ;;
EXPIRE|FAIL|RELEASE|STOP) [ -n "\${old_ip_address:-}" ] && ip addr del "\$old_ip_address/\$old_subnet_mask" dev "\$interface" 2>/dev/null ;;
esac
exit 0
EOF
  cat >"$d/udhcpc.sh" <<EOF
#!/bin/sh
# udhcpc script: \$1 = deconfig|bound|renew|nak|leasefail
R=\$(echo "\$1" | tr a-z A-Z)
echo "EVENT reason=\$R ip=\${ip:-} mask=\${subnet:-} router=\${router:-} server=\${serverid:-} lease=\${lease:-}" >>"$d/events"
case "\$1" in
deconfig) ip -4 addr flush dev "\$interface" ;;
bound|renew) ip addr replace "\$ip/\$subnet" dev "\$interface" ;;
esac
exit 0
EOF
  cat >"$d/dhcpcd.sh" <<EOF
#!/bin/sh
# dhcpcd -c script (replaces dhcpcd-run-hooks: no resolv.conf or hostname hooks); dhcpcd sets the address itself
echo "EVENT reason=\$reason ip=\${new_ip_address:-} mask=\${new_subnet_mask:-} router=\${new_routers:-} server=\${new_dhcp_server_identifier:-} lease=\${new_dhcp_lease_time:-} old=\${old_ip_address:-}" >>"$d/events"
exit 0
EOF
  chmod 755 "$d"/*.sh
  cat >"$d/dhclient.conf" <<EOF
timeout 20;
retry 5;
initial-interval 1;
request subnet-mask, routers, domain-name-servers, dhcp-lease-time, dhcp-server-identifier;
EOF
  printf '%s\n' ipv4only noipv4ll noarp \
    "option subnet_mask, routers, domain_name_servers, dhcp_lease_time" \
    "require dhcp_server_identifier" >"$d/dhcpcd.conf"
}

has_event() { # has_event NAME REASON [IP]: is there an event line with this reason (and ip)?
  grep -qE "^EVENT reason=$2 ip=${3:-[0-9.]+} " "$T/$1/events"
}
event_ip() { # event_ip NAME REASON: the ip of the last such event
  grep -E "^EVENT reason=$2 ip=[0-9.]+ " "$T/$1/events" | tail -n1 | sed -E 's/.* ip=([0-9.]+) .*/\1/'
}
wait_event() { # wait_event NAME REASON SECONDS [IP]
  wait_for "$3" "$1: $2 ${4:-}" has_event "$1" "$2" "${4:-}"
}

# udhcpc_once NS NAME [EXTRA...]: busybox udhcpc in the foreground, quit once bound (-q), exit 1
# if no lease (-n).  Prints the address it got.
udhcpc_once() {
  local ns=$1 name=$2
  shift 2
  [ -d "$T/$name" ] || client_dir "$name"
  : >"$T/$name/events"
  log "udhcpc -q in $ns ($name)"
  timeout 30 ip netns exec "$ns" udhcpc -f -q -n -i eth0 -s "$T/$name/udhcpc.sh" -t 5 -T 2 "$@" \
    >>"$T/$name/udhcpc.log" 2>&1 || fail "$name: udhcpc got no lease (rc $?)"
  event_ip "$name" BOUND
}

# dhclient_once NS NAME: dhclient -1 (one try, then it forks to the background once bound).
dhclient_once() {
  local ns=$1 name=$2 d=$T/$2
  [ -d "$d" ] || client_dir "$name"
  log "dhclient -1 in $ns ($name)"
  timeout 40 ip netns exec "$ns" dhclient -4 -v -1 -cf "$d/dhclient.conf" -sf "$d/dhclient.sh" \
    -lf "$d/dhclient.leases" -pf "$d/dhclient.pid" eth0 >>"$d/dhclient.log" 2>&1 || fail "$name: dhclient got no lease (rc $?)"
}

in_range() { # in_range IP LOW HIGH (dotted quads)
  python3 - "$1" "$2" "$3" <<'EOF'
import ipaddress, sys
a, lo, hi = (int(ipaddress.IPv4Address(x)) for x in sys.argv[1:4])
sys.exit(0 if lo <= a <= hi else 1)
EOF
}
expect_in_range() { # expect_in_range WHAT IP LOW HIGH
  [ -n "$2" ] || fail "$1: no address"
  in_range "$2" "$3" "$4" || fail "$1: address $2 not in $3-$4"
  log "ok: $1 got $2 (in $3-$4)"
}

# dhcpcd keeps state in /run/dhcpcd and /var/lib/dhcpcd, which every namespace shares, so each
# client runs in a private mount namespace (ip netns exec makes one) with a tmpfs /run and its own
# /var/lib/dhcpcd.  dhcpcd_start NS NAME [ARGS...]: dhcpcd -B (stays in the foreground) in the
# background; DHCPCD_PID is its PID; dhcpcd_ctl NAME ARGS... runs `dhcpcd ARGS` in its namespaces.
DHCPCD_PID=""
dhcpcd_start() {
  local ns=$1 name=$2 d=$T/$2
  shift 2
  [ -d "$d" ] || client_dir "$name"
  [ -d /var/lib/dhcpcd ] || mkdir -p /var/lib/dhcpcd
  bg_run "$ns" "$d/dhcpcd.log" sh -c 'mount -t tmpfs none /run && mount --bind "$1" /var/lib/dhcpcd && shift && exec "$@"' \
    sh "$d/dhcpcd-db" dhcpcd -4 -B -t 20 -f "$d/dhcpcd.conf" -c "$d/dhcpcd.sh" "$@" eth0
  DHCPCD_PID=$BG_PID
  eval "DHCPCD_PID_$(echo "$name" | tr -c 'a-zA-Z0-9\n' _)=$BG_PID"
}
dhcpcd_ctl() { # dhcpcd_ctl NAME ARGS...: e.g. dhcpcd_ctl c3 -k eth0 (release and stop)
  local name=$1 var
  shift
  var="DHCPCD_PID_$(echo "$name" | tr -c 'a-zA-Z0-9\n' _)"
  log "dhcpcd $* ($name, pid ${!var})"
  timeout 20 nsenter -t "${!var}" -m -n dhcpcd "$@" >>"$T/$name/dhcpcd.log" 2>&1
}
