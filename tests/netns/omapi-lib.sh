# shellcheck shell=bash
# omapi-lib.sh: helpers for the OMAPI namespace tests (tests/netns/omapi*.sh).  Source it after
# lib.sh (or fo-lib.sh).
#
#   omsh NS NAME          run ISC's omshell in NS with the script on stdin (20 s timeout); its
#                         output goes to $T/omshell-NAME.log (and stderr with VERBOSE=1);
#                         OMSH_RC = its status
#   ctl NS NAME ARGS...   run `$TANDEM ctl ARGS` in NS (20 s timeout); output in $T/ctl-NAME.log
#                         (and stderr with VERBOSE=1); CTL_RC = its status
#   wait_omapi NS PID [PORT=7911] [SECS=10]: wait until PID listens on TCP PORT in NS
#   expect_out FILE REGEX WHAT / expect_no_out FILE REGEX WHAT: grep -E a tool's output, or fail
#
# omshell quirks: it needs `close` (or a new connection) before `new` of another object; it prints
# every value the server sent as hex or a quoted string (`hardware-address = 02:00:00:00:01:01`,
# `local-state = 00:00:00:03`); a refusal is `can't open object: <ISC result text>`.

OMSHELL=${OMSHELL:-/usr/bin/omshell}
OMAPI_PORT=7911

OMSH_RC=0
omsh() { # omsh NS NAME < script
  local ns=$1 out=$T/omshell-$2.log
  [ -x "$OMSHELL" ] || skip "no omshell at $OMSHELL (package isc-dhcp-server)"
  log "omshell in $ns ($2)"
  OMSH_RC=0
  timeout 20 ip netns exec "$ns" "$OMSHELL" >"$out" 2>&1 || OMSH_RC=$?
  [ "$OMSH_RC" != 124 ] || fail "omshell ($2) hung for 20 s"
  if [ "${VERBOSE:-0}" = 1 ]; then cat "$out" >&2; fi
}

CTL_RC=0
ctl() { # ctl NS NAME ARGS...
  local ns=$1 out=$T/ctl-$2.log
  shift 2
  log "tandem ctl $* in $ns"
  CTL_RC=0
  timeout 20 ip netns exec "$ns" "$TANDEM" ctl "$@" >"$out" 2>&1 || CTL_RC=$?
  [ "$CTL_RC" != 124 ] || fail "tandem ctl $* hung for 20 s"
  if [ "${VERBOSE:-0}" = 1 ]; then cat "$out" >&2; fi
}

wait_omapi() { # wait_omapi NS PID [PORT] [SECS]
  local ns=$1 pid=$2 port=${3:-$OMAPI_PORT} secs=${4:-10} _
  for _ in $(seq $((secs * 10))); do
    ip netns exec "$ns" ss -Htlnp "sport = :$port" 2>/dev/null | grep -q "pid=$pid," && {
      log "ok: pid $pid listens on TCP $port (OMAPI)"
      return 0
    }
    pid_alive "$pid" || fail "server (pid $pid) exited before listening for OMAPI"
    sleep 0.1
  done
  fail "server (pid $pid) does not listen on TCP $port (omapi-port) after ${secs}s"
}

expect_out() { # expect_out FILE REGEX WHAT
  grep -Eq -- "$2" "$1" || fail "$3: no /$2/ in $(basename "$1"): $(tr '\n' '|' <"$1")"
  log "ok: $3"
}
expect_no_out() { # expect_no_out FILE REGEX WHAT
  ! grep -Eq -- "$2" "$1" || fail "$3: /$2/ in $(basename "$1"): $(grep -E -- "$2" "$1" | head -n3 | tr '\n' '|')"
  log "ok: $3"
}
