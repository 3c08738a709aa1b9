#!/bin/sh
# Run every cargo-fuzz target for FUZZ_SECONDS each (default 60), one after the other at low
# priority, starting from the committed seeds (fuzz/seeds/T) and the working corpus
# (fuzz/corpus/T, not committed). Prints each target's executions; exits non-zero on a crash,
# whose input libFuzzer leaves in fuzz/artifacts/T/ (turn it into a regression test).
# FUZZ_RUNS=N stops each target after N executions instead (FUZZ_SECONDS is then only the
# upper bound); FUZZ_MAX_LEN (default 4096) bounds an input; FUZZ_SANITIZER=none trades
# AddressSanitizer (little to find in safe Rust parsers) for about three times the executions.
set -eu
cd "$(dirname "$0")"
secs=${FUZZ_SECONDS:-60}
runs_limit=${FUZZ_RUNS:--1}
max_len=${FUZZ_MAX_LEN:-4096}
sanitizer=${FUZZ_SANITIZER:-address}
targets=${FUZZ_TARGETS:-$(ls fuzz_targets | sed 's/\.rs$//')}
summary=""
failed=""
# Ctrl-C ends the running target (libFuzzer prints its stats) and then the run, with a summary.
trap 'stopped=1' INT TERM
for t in $targets; do
  mkdir -p "corpus/$t" "seeds/$t"
  log="artifacts/$t.log"
  mkdir -p artifacts
  t0=$(date +%s)
  rc=0
  nice -n "${FUZZ_NICE:-19}" cargo +nightly fuzz run -O -s "$sanitizer" "$t" "corpus/$t" "seeds/$t" -- \
       -max_total_time="$secs" -runs="$runs_limit" -max_len="$max_len" -print_final_stats=1 >"$log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    state=ok
  elif grep -q 'Test unit written to' "$log"; then
    # libFuzzer saved the input that failed: a crash, a panic, a leak or a timeout.
    state=CRASH
    failed="$failed $t"
  elif [ "$rc" -eq 130 ] || [ "$rc" -eq 143 ]; then
    # Stopped by Ctrl-C or a TERM: no finding; the remaining targets are not run.
    state=interrupted
    stopped=1
  else
    state="failed to run (exit $rc, see $log)"
    failed="$failed $t"
  fi
  took=$(($(date +%s) - t0))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  line=$(printf '%-26s %12s executions in %ss (%s)  %s' "$t" "${runs:-?}" "$took" "$sanitizer" "$state")
  summary="$summary$line\n"
  echo "$line"
  [ -z "${stopped:-}" ] || break
done
printf '\nfuzz summary\n%b' "$summary"
if [ -n "$failed" ]; then
  echo "crashed or failed:$failed (inputs in fuzz/artifacts/, logs in fuzz/artifacts/*.log)" >&2
  exit 1
fi
[ -z "${stopped:-}" ] || exit 130
