#!/bin/bash
# Build every fuzz target listed in Cargo.toml ([[bin]] names), then run each
# for SECONDS (default 20), starting from seeds/<target>/ (new inputs go to
# corpus/<target>/). Prints one line per target; exits non-zero if the build
# fails or any target crashes, times out or runs out of memory.
#
# usage: fuzz/run-all.sh [SECONDS]
# Environment: CARGO_TARGET_DIR is honoured; FUZZ_LOGS names the folder for
# the full libFuzzer logs (default: a new temporary folder).
set -uo pipefail

SECS=${1:-20}
case $SECS in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
cd "$(dirname "${BASH_SOURCE[0]}")" || exit 2
export RUSTC_BOOTSTRAP=1 # cargo-fuzz passes nightly-only flags
LOGS=${FUZZ_LOGS:-$(mktemp -d -t tandem-fuzz.XXXXXX)}
mkdir -p "$LOGS"

# The [[bin]] names, in file order.
mapfile -t TARGETS < <(awk '
  /^\[\[bin\]\]/ { bin = 1; next }
  /^\[/          { bin = 0 }
  bin && /^name *=/ { gsub(/^name *= *"|".*$/, ""); print }' Cargo.toml)
if [ ${#TARGETS[@]} -eq 0 ]; then
  echo "no [[bin]] targets in $(pwd)/Cargo.toml" >&2
  exit 2
fi

if ! cargo fuzz build >"$LOGS/build.log" 2>&1; then
  tail -n 30 "$LOGS/build.log"
  echo "FAIL  build (log: $LOGS/build.log)"
  exit 1
fi

failed=0
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t"
  dirs=("corpus/$t")
  [ -d "seeds/$t" ] && dirs+=("seeds/$t")
  log=$LOGS/$t.log
  t0=$(date +%s)
  # -timeout: one input taking 25 s is a hang, reported as a failure.
  timeout -k 10 $((SECS + 600)) cargo fuzz run "$t" "${dirs[@]}" -- \
    -max_total_time="$SECS" -timeout=25 >"$log" 2>&1
  rc=$?
  took=$(($(date +%s) - t0))
  # libFuzzer's last line: "Done N runs in S second(s)".
  runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  if [ "$rc" = 0 ]; then
    printf 'ok    %-16s %4ss  %s runs, %s\n' "$t" "$took" "${runs:-?}" "${cov:-cov: ?}"
  else
    failed=1
    # The panic and its message (the line after), else libFuzzer's error.
    what=$(grep -m1 -A1 'panicked at' "$log" | paste -sd ' ' -)
    [ -n "$what" ] || what=$(grep -m1 -E 'ERROR: |error(\[E[0-9]+\])?:' "$log")
    art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    printf 'FAIL  %-16s %4ss  exit %s: %s%s (log: %s)\n' "$t" "$took" "$rc" "${what:-?}" \
      "${art:+; input: $art}" "$log"
  fi
done
exit $failed
