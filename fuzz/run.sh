#!/bin/sh
# Run every cargo-fuzz target for FUZZ_SECONDS each (default 60), one after the other at low
# priority, starting from the committed seeds (fuzz/seeds/T) and the working corpus
# (fuzz/corpus/T, not committed). Prints each target's executions; exits non-zero on a crash,
# whose input libFuzzer leaves in fuzz/artifacts/T/ (turn it into a regression test).
set -eu
cd "$(dirname "$0")"
secs=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-$(ls fuzz_targets | sed 's/\.rs$//')}
summary=""
failed=""
for t in $targets; do
  mkdir -p "corpus/$t" "seeds/$t"
  log="artifacts/$t.log"
  mkdir -p artifacts
  if nice -n 19 cargo +nightly fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
       -max_total_time="$secs" -max_len=4096 -print_final_stats=1 >"$log" 2>&1; then
    state=ok
  else
    state=CRASH
    failed="$failed $t"
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  summary="$summary$(printf '%-26s %12s executions in %ss  %s' "$t" "${runs:-?}" "$secs" "$state")\n"
  printf '%-26s %12s executions in %ss  %s\n' "$t" "${runs:-?}" "$secs" "$state"
done
printf '\nfuzz summary\n%b' "$summary"
if [ -n "$failed" ]; then
  echo "crashed:$failed (inputs in fuzz/artifacts/, logs in fuzz/artifacts/*.log)" >&2
  exit 1
fi
