#!/bin/bash
# Signals and daemonizing, as dhcpd does them:
#  1. in the foreground (-f -d): the pid file holds the server's PID; SIGTERM makes it exit within
#     2 s, and (tandem-only: ISC dhcpd 4.4 leaves it behind) the pid file is removed;
#  2. without -f/-d it detaches: the command returns 0 at once, the pid file holds the daemon's
#     PID, the daemon serves a client, and SIGTERM makes it exit within 2 s (pid file removed:
#     tandem-only).
# Works with SERVER=tandem and SERVER=dhcpd (pid-file removal is checked for tandem only).
. "$(dirname "$0")/lib.sh"

host_add srv 10.0.0.10/24 02:00:00:00:00:0a
host_add c1 - 02:00:00:00:01:01
cp "$REPO/examples/single.conf" "$T/server.conf"

pidfile_removed() { # pidfile_removed FILE WHAT
  if [ "$SERVER" = tandem ]; then
    [ ! -e "$1" ] || fail "$2: pid file $1 still there after exit"
    log "ok: $2: pid file removed"
  else
    log "$2: pid file $( [ -e "$1" ] && echo kept || echo removed) ($SERVER; not checked)"
  fi
}

# --- 1. foreground
server_start "${P}srv" "$T/server.conf" "$T/server.leases" "$T/server.pid"
wait_for 5 "pid file written" test -s "$T/server.pid"
[ "$(tr -d ' \n' <"$T/server.pid")" = "$SERVER_PID" ] || fail "pid file has '$(cat "$T/server.pid")', want $SERVER_PID"
ADDR=$(udhcpc_once "${P}c1" c1)
expect_in_range "client of the foreground server" "$ADDR" 10.0.0.100 10.0.0.200
kill -TERM "$SERVER_PID"
wait_exit "$SERVER_PID" 2 || fail "foreground server still running 2 s after SIGTERM"
rc=0; wait "$SERVER_PID" || rc=$?
say "foreground: exited within 2 s of SIGTERM (status $rc)"
pidfile_removed "$T/server.pid" foreground

# --- 2. daemon (no -f, no -d)
rm -f "$T/daemon.pid"
log "start daemon: $SERVER_BIN -4 -cf ... -lf ... -pf $T/daemon.pid eth0"
rc=0
timeout 10 ip netns exec "${P}srv" "$SERVER_BIN" -4 -cf "$T/server.conf" -lf "$T/server.leases" -pf "$T/daemon.pid" eth0 \
  >"$T/daemon-parent.log" 2>&1 </dev/null || rc=$?
[ "$rc" = 0 ] || fail "the starting process exited with $rc (want 0 once the daemon is detached)"
wait_for 5 "daemon pid file written" test -s "$T/daemon.pid"
DPID=$(tr -d ' \n' <"$T/daemon.pid")
PIDS+=("$DPID")
pid_alive "$DPID" || fail "daemon pid $DPID (from the pid file) is not running"
ip netns pids "${P}srv" | grep -qx "$DPID" || fail "daemon pid $DPID is not in the server's namespace"
PPID_OF=$(awk '{print $4}' "/proc/$DPID/stat")
[ "$PPID_OF" != "$$" ] || fail "daemon is still a child of the shell (not detached)"
wait_listening "${P}srv" "$DPID" 67 10
rm -rf "$T/c1"
ADDR2=$(udhcpc_once "${P}c1" c1)
[ "$ADDR2" = "$ADDR" ] || fail "client of the daemon got $ADDR2, want its lease $ADDR"
say "daemon: parent returned 0, daemon pid $DPID (parent $PPID_OF) served $ADDR2"
kill -TERM "$DPID"
wait_exit "$DPID" 2 || fail "daemon still running 2 s after SIGTERM"
say "daemon: exited within 2 s of SIGTERM"
pidfile_removed "$T/daemon.pid" daemon
pass
