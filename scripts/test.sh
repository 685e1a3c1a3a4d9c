#!/bin/bash
# Run every test (the README's test command; CI runs it through .ci/run):
#   deps         scripts/install-deps.sh (Debian packages, cargo-fuzz if fuzz/ exists)
#   fmt          cargo fmt --all -- --check
#   clippy       cargo clippy --workspace --all-targets -- -D warnings
#   test         cargo test --workspace --release --no-fail-fast   (each Rust test counts)
#   build        cargo build --release --workspace  (the tandem binary)
#   conformance  `tandem -t` on shared/testdata/dhcpd-conf: accept/ must pass, reject/ must fail
#                naming ISC's error line (each file counts; skipped if shared/ is absent)
#   netns        every tests/netns/*.sh scenario (not *lib.sh) against real clients in network
#                namespaces; each bounded by its own watchdog + 30 s
#   fuzz         each cargo-fuzz target in fuzz/ for FUZZ_SECS (default 20) seconds
# The last line is "N passed, N failed"; the exit status is non-zero if anything failed.
#
# usage: scripts/test.sh [--quick] [--only NAME]... [--skip NAME]...
#   --quick       skip the netns scenarios
#   --only NAME   run only NAME: a step above, a netns scenario (clients, crash, ...) or a fuzz
#                 target; repeatable, or comma-separated
#   --skip NAME   skip NAME (same names); repeatable
# Environment: SERVER=dhcpd runs conformance and netns against ISC dhcpd instead of tandem
# (to check the tests themselves); FUZZ_SECS; CARGO_TARGET_DIR is honoured.
# Tests are run with release builds: `cargo test --release` and `cargo build --release` share
# their compiled dependencies, which is faster on 2 cores than a debug and a release build.
set -uo pipefail

REPO=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel 2>/dev/null) ||
  REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 2
SHARED=${SHARED:-$(cd "$REPO/.." && pwd)/shared}
CORPUS=$SHARED/testdata/dhcpd-conf
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
export TANDEM=${TANDEM:-$TARGET_DIR/release/tandem}
export SERVER=${SERVER:-tandem}
FUZZ_SECS=${FUZZ_SECS:-20}

ONLY=() SKIPS=()
while [ $# -gt 0 ]; do
  case $1 in
  --quick) SKIPS+=(netns) ;;
  --only) [ $# -ge 2 ] || { echo "--only needs a NAME" >&2; exit 2; }; IFS=, read -ra x <<<"$2"; ONLY+=("${x[@]}"); shift ;;
  --only=*) IFS=, read -ra x <<<"${1#--only=}"; ONLY+=("${x[@]}") ;;
  --skip) [ $# -ge 2 ] || { echo "--skip needs a NAME" >&2; exit 2; }; IFS=, read -ra x <<<"$2"; SKIPS+=("${x[@]}"); shift ;;
  --skip=*) IFS=, read -ra x <<<"${1#--skip=}"; SKIPS+=("${x[@]}") ;;
  -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/tandem-test.XXXXXX")
PASSED=0 FAILED=0 SKIPPED=0
FAILURES=()
START=$(date +%s)

in_list() { local n=$1 x; shift; for x in "$@"; do [ "$x" = "$n" ] && return 0; done; return 1; }
# wanted STEP [ITEM]: should this step (or this item of it) run?
wanted() {
  local step=$1 item=${2:-}
  in_list "$step" "${SKIPS[@]}" && return 1
  [ -n "$item" ] && in_list "$item" "${SKIPS[@]}" && return 1
  [ ${#ONLY[@]} -eq 0 ] && return 0
  in_list "$step" "${ONLY[@]}" && return 0
  [ -n "$item" ] && in_list "$item" "${ONLY[@]}" && return 0
  return 1
}
# is any item of this step wanted by --only? (then the step runs, filtered per item)
step_has_only_items() {
  local step=$1 name
  shift
  [ ${#ONLY[@]} -eq 0 ] && return 1
  for name in "$@"; do in_list "$name" "${ONLY[@]}" && return 0; done
  return 1
}

banner() { printf '\n==> %s\n' "$*"; }
ok() { PASSED=$((PASSED + ${2:-1})); printf 'PASS %s\n' "$1"; }
ko() { FAILED=$((FAILED + ${2:-1})); FAILURES+=("$1"); printf 'FAIL %s\n' "$1"; }
skipped() { SKIPPED=$((SKIPPED + 1)); printf 'SKIP %s\n' "$1"; }

# run_step NAME CMD...: one pass/fail for the whole command, output into the CI log and $LOGDIR
run_step() {
  local name=$1 t0 rc=0
  shift
  banner "$name: $*"
  t0=$(date +%s)
  "$@" 2>&1 | tee "$LOGDIR/$name.log" || rc=$?
  if [ "$rc" = 0 ]; then ok "$name ($(($(date +%s) - t0))s)"; else ko "$name (exit $rc)"; fi
  return "$rc"
}

ensure_binary() { # the server binary the conformance and netns steps need
  [ "$SERVER" = tandem ] || return 0
  [ -x "$TANDEM" ] && return 0
  banner "building the tandem binary for the tests"
  cargo build --release -p tandem-server 2>&1 | tail -n 20 || true
  [ -x "$TANDEM" ]
}

# ------------------------------------------------------------------ deps, fmt, clippy
wanted deps && run_step deps "$REPO/scripts/install-deps.sh"
wanted fmt && run_step fmt cargo fmt --all -- --check
wanted clippy && run_step clippy cargo clippy --workspace --all-targets -- -D warnings

# ------------------------------------------------------------------ cargo test
if wanted test; then
  banner "test: cargo test --workspace --release --no-fail-fast"
  t0=$(date +%s) rc=0
  cargo test --workspace --release --no-fail-fast 2>&1 | tee "$LOGDIR/test.log" || rc=$?
  read -r p f < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
                       END { print p + 0, f + 0 }' "$LOGDIR/test.log")
  PASSED=$((PASSED + p))
  if [ "$f" -gt 0 ]; then
    FAILED=$((FAILED + f)); FAILURES+=("test: $f Rust test(s) failed")
  elif [ "$rc" != 0 ]; then
    FAILED=$((FAILED + 1)); FAILURES+=("test: cargo test exited $rc (build failure?)")
  fi
  echo "test: Rust tests: $p ok / $f failing; cargo exit $rc ($(($(date +%s) - t0))s)"
fi

# ------------------------------------------------------------------ release build
wanted build && run_step build cargo build --release --workspace

# ------------------------------------------------------------------ conformance corpus
conformance() {
  local bin dir work kind f base want out rc n=0
  if [ "$SERVER" = dhcpd ]; then bin=${DHCPD:-/usr/sbin/dhcpd}; else bin=$TANDEM; fi
  work=$LOGDIR/corpus
  for kind in accept reject; do
    dir=$CORPUS/$kind
    [ -d "$dir" ] || continue
    mkdir -p "$work/$kind"
    # the include paths are written @DIR@/...: point them at this copy of the folder
    for f in "$dir"/*; do sed "s#@DIR@#$work/$kind#g" "$f" >"$work/$kind/$(basename "$f")"; done
    for f in "$work/$kind"/*.conf; do
      base=$(basename "$f")
      n=$((n + 1))
      rc=0
      out=$(timeout 20 "$bin" -t -cf "$f" 2>&1) || rc=$?
      echo "$out" >"$LOGDIR/corpus-$kind-$base.log"
      if [ "$kind" = accept ]; then
        if [ "$rc" = 0 ]; then ok "conformance accept/$base"; else
          ko "conformance accept/$base (exit $rc: $(grep -iE 'line|error' <<<"$out" | head -n1))"; fi
      else
        # ISC's verdict: "line N: message"; the error must name that line
        want=$(awk -F'\t' -v f="reject/$base" '$1 == f { print $6 }' "$CORPUS/MANIFEST.tsv" | sed -nE 's/^line ([0-9]+):.*/\1/p')
        [ "$want" = 0 ] && want='[01]'   # ISC says "line 0" for an error on the first line
        if [ "$rc" = 0 ] || [ "$rc" = 124 ]; then
          ko "conformance reject/$base (accepted: exit $rc)"
        elif [ -n "$want" ] && ! grep -qE "(line[ :]*$want([^0-9]|$)|:$want(:|[^0-9]|$))" <<<"$out"; then
          ko "conformance reject/$base (rejected, but the error does not name line $want: $(grep -iE 'line|error' <<<"$out" | head -n1))"
        else
          ok "conformance reject/$base"
        fi
      fi
    done
  done
  [ "$n" -gt 0 ] || { ko "conformance: no .conf files under $CORPUS"; }
}
if wanted conformance; then
  banner "conformance: $SERVER -t on $CORPUS"
  if [ ! -d "$CORPUS/accept" ]; then
    echo "conformance: SKIPPED: $CORPUS not found (shared/ is expected beside the repository)"
    skipped conformance
  elif ! ensure_binary; then
    ko "conformance: no tandem binary at $TANDEM"
  else
    conformance
  fi
fi

# ------------------------------------------------------------------ network namespace scenarios
NETNS_TESTS=()
for f in "$REPO"/tests/netns/*.sh; do
  case $(basename "$f") in *lib.sh) ;; *) NETNS_TESTS+=("$(basename "$f" .sh)") ;; esac   # lib.sh, fo-lib.sh: helpers
done
if wanted netns || step_has_only_items netns "${NETNS_TESTS[@]}"; then
  banner "netns: ${NETNS_TESTS[*]} (SERVER=$SERVER)"
  if [ "$(id -u)" != 0 ]; then
    echo "netns: SKIPPED: needs root"; skipped netns
  elif ! ensure_binary; then
    ko "netns: no tandem binary at $TANDEM"
  else
    for t in "${NETNS_TESTS[@]}"; do
      wanted netns "$t" || continue
      # the scenario's own watchdog (TEST_TIMEOUT:-N in the script, else lib.sh's 120 s) + 30 s
      limit=$(grep -oE 'TEST_TIMEOUT:-[0-9]+' "$REPO/tests/netns/$t.sh" | head -n1 | grep -oE '[0-9]+' || echo 120)
      limit=$((limit + 30))
      t0=$(date +%s) rc=0
      timeout -k 10 "$limit" bash "$REPO/tests/netns/$t.sh" </dev/null 2>&1 | tee "$LOGDIR/netns-$t.log" || rc=$?
      case $rc in
      0) ok "netns/$t ($(($(date +%s) - t0))s)" ;;
      77) skipped "netns/$t" ;;
      124) ko "netns/$t (timed out after ${limit}s)" ;;
      *) ko "netns/$t (exit $rc)" ;;
      esac
    done
  fi
fi

# ------------------------------------------------------------------ fuzz
FUZZ_TARGETS=()
if [ -f "$REPO/fuzz/Cargo.toml" ]; then
  for f in "$REPO"/fuzz/fuzz_targets/*.rs; do [ -e "$f" ] && FUZZ_TARGETS+=("$(basename "$f" .rs)"); done
fi
if [ ${#FUZZ_TARGETS[@]} -gt 0 ] && { wanted fuzz || step_has_only_items fuzz "${FUZZ_TARGETS[@]}"; }; then
  banner "fuzz: ${FUZZ_TARGETS[*]} (${FUZZ_SECS}s each)"
  for t in "${FUZZ_TARGETS[@]}"; do
    wanted fuzz "$t" || continue
    corpus=(fuzz/corpus/$t)
    mkdir -p "fuzz/corpus/$t"
    [ -d "fuzz/seeds/$t" ] && corpus+=("fuzz/seeds/$t")   # new inputs go to the first folder only
    t0=$(date +%s) rc=0
    RUSTC_BOOTSTRAP=1 timeout -k 10 $((FUZZ_SECS + 600)) cargo fuzz run "$t" "${corpus[@]}" -- \
      -max_total_time="$FUZZ_SECS" >"$LOGDIR/fuzz-$t.log" 2>&1 || rc=$?
    grep -E '^(Done|#[0-9]+ +DONE)|SUMMARY|panicked|ERROR' "$LOGDIR/fuzz-$t.log" | tail -n 5
    if [ "$rc" = 0 ]; then ok "fuzz/$t ($(($(date +%s) - t0))s)"; else
      tail -n 30 "$LOGDIR/fuzz-$t.log"; ko "fuzz/$t (exit $rc; artifacts in fuzz/artifacts/$t)"; fi
  done
fi

# ------------------------------------------------------------------ summary
banner "summary ($(($(date +%s) - START))s$([ "$FAILED" = 0 ] || echo "; logs in $LOGDIR"))"
for f in "${FAILURES[@]}"; do echo "  failed: $f"; done
[ "$SKIPPED" -gt 0 ] && echo "skipped: $SKIPPED"
[ "$FAILED" = 0 ] && rm -rf "$LOGDIR"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ] && [ "$PASSED" -gt 0 ]
