#!/bin/bash
# Sessions in Redis vs in the nodes (part of `make bench`): 3 rjk-nodes behind httpd +
# mod_rjk, a session-writing request (/session: reads and increments the counter, cookies from
# a pool of sessions spread over the nodes). Rows: no replication, --cluster delta and backup (sync),
# --session-store redis:// (one local redis-server, no persistence), the same with
# --session-cache. Requests/s and p50/p99 at CONNS connections, and the Redis commands per
# request from INFO commandstats (EVALSHA = round trips of the scripts; HGETALL outside a
# script = near-cache misses; "all" = every command Redis ran, inside scripts too).
#
# Environment: RUNS (3), SECS (5), CONNS (8), SESSIONS (64), KEEP=1 keeps the state directory.
# Medians of RUNS alternating runs. The table replaces the "Sessions in Redis" section of OUT
# (node/bench/results.md).
set -euo pipefail
RUNS=${RUNS:-3}; SECS=${SECS:-5}; CONNS=${CONNS:-8}; SESSIONS=${SESSIONS:-64}
here=$(cd "$(dirname "$0")/../.." && pwd)
M=/usr/lib/apache2/modules
for need in /usr/sbin/apache2 /usr/bin/wrk /usr/bin/curl /usr/bin/redis-server /usr/bin/redis-cli; do
  [ -e "$need" ] || { echo "missing $need: make deps" >&2; exit 1; }
done
target=${CARGO_TARGET_DIR:-$here/target}
(cd "$here" && cargo build --release -q -p rjk-node -p mod_rjk)
NODE=$target/release/rjk-node; RJK_SO=$target/release/libmod_rjk.so

S=$(mktemp -d /tmp/rjk-redis-bench.XXXX); chmod 755 "$S"
pids=()
cleanup() {
  for d in "$S"/h-*; do [ -f "$d/httpd.pid" ] && kill "$(cat "$d/httpd.pid")" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
  [ -n "${KEEP:-}" ] && echo "state kept in $S" >&2 || rm -rf "$S"
}
trap cleanup EXIT
. "$here/node/bench/lib.sh"

REDIS_PORT=$(port)
redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
  --logfile "$S/redis.log" &
pids+=($!)
wait_port $REDIS_PORT
calls() { redis-cli -p $REDIS_PORT INFO commandstats | tr -d '\r' | awk -F'[:=,]' -v c="cmdstat_$1" '$1==c {print $3}' | grep . || echo 0; }
all_calls() { redis-cli -p $REDIS_PORT INFO commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_/ && $1!="cmdstat_info" {s+=$3} END {print s+0}'; }

# start_nodes MODE: 3 rjk-nodes; MODE none|delta|redis|cache. Sets BACKEND_PIDS, WORKERS.
start_nodes() {
  local mode=$1 i repl=() ajp=() members
  for i in 1 2 3; do repl[$i]=$(port); ajp[$i]=$(port); done
  members=$(for i in 1 2 3; do printf '127.0.0.1:%s,' ${repl[$i]}; done); members=${members%,}
  BACKEND_PIDS=(); WORKERS="worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=n1,n2,n3\n"
  for i in 1 2 3; do
    local c=()
    case $mode in
      delta|backup) c=(--cluster $mode --cluster-listen 127.0.0.1:${repl[$i]} --cluster-members "$members"
                --cluster-secret bench-secret) ;;
      redis) c=(--session-store redis://127.0.0.1:$REDIS_PORT) ;;
      cache) c=(--session-store redis://127.0.0.1:$REDIS_PORT --session-cache 10000) ;;
    esac
    "$NODE" --route n$i --ajp 127.0.0.1:${ajp[$i]} --no-secret --log-level warn "${c[@]}" \
      2>> "$S/$mode-n$i.log" &
    pids+=($!); BACKEND_PIDS+=($!)
    wait_port ${ajp[$i]}
    WORKERS+="worker.n$i.type=ajp13\nworker.n$i.host=127.0.0.1\nworker.n$i.port=${ajp[$i]}\n"
  done
}



# bench SCRIPT -> "rps p50_us p99_us evalsha_per_req hgetall_per_req all_per_req"
bench() {
  local script=$1 out reqs e0 h0 a0 e1 h1 a1
  e0=$(calls evalsha); h0=$(calls hgetall); a0=$(all_calls)
  out=$(wrk -t1 -c$CONNS -d${SECS}s --latency -s "$script" "http://127.0.0.1:$HTTPD_PORT/" 2>&1)
  e1=$(calls evalsha); h1=$(calls hgetall); a1=$(all_calls)
  if echo "$out" | grep -q -E 'Non-2xx|Socket errors'; then echo "errors: $out" >&2; exit 1; fi
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') \
$(echo "$out" | awk '$1=="50%" {print $2}' | to_us) $(echo "$out" | awk '$1=="99%" {print $2}' | to_us) \
$(awk "BEGIN{printf \"%.2f\", ($e1-$e0)/$reqs}") $(awk "BEGIN{printf \"%.2f\", ($h1-$h0)/$reqs}") \
$(awk "BEGIN{printf \"%.2f\", ($a1-$a0)/$reqs}")"
}

MODES="none delta backup redis cache"
declare -A RPS P50 P99 EV HG ALL
for i in $(seq 1 $RUNS); do
  for mode in $MODES; do
    start_nodes $mode; start_httpd $mode "$RJK_SO"
    script=$(sessions /session)
    bench "$script" > /dev/null  # warm-up
    read -r r p50 p99 ev hg all < <(bench "$script")
    RPS[$mode]+="$r "; P50[$mode]+="$p50 "; P99[$mode]+="$p99 "
    EV[$mode]+="$ev "; HG[$mode]+="$hg "; ALL[$mode]+="$all "
    printf 'run %d %-6s %9s req/s p50 %7s us p99 %7s us, per request: %s EVALSHA %s HGETALL %s all\n' \
      $i $mode $r $p50 $p99 $ev $hg $all >&2
    stop_httpd $mode; stop_backends
  done
done

name() { case $1 in none) echo "no replication";; delta) echo "--cluster delta (sync)";;
  backup) echo "--cluster backup (sync)";;
  redis) echo "--session-store redis://";; cache) echo "redis:// + --session-cache";; esac; }
section=$S/section.md
{
  echo "## Sessions in Redis (node/bench/redis.sh)"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg) at the end;"
  echo "3 rjk-nodes behind httpd + mod_rjk (sticky), /session with $SESSIONS sessions, $CONNS"
  echo "connections, medians of $RUNS alternating runs of ${SECS}s; one local redis-server 7.0 without"
  echo "persistence. Per request: EVALSHA = script round trips, HGETALL = all HGETALLs Redis ran"
  echo "(inside the LOAD script without the near cache, misses with it), all = every command Redis"
  echo "ran, inside scripts too."
  echo
  echo "| sessions | req/s | p50 µs | p99 µs | EVALSHA/req | HGETALL/req | all commands/req |"
  echo "|---|---|---|---|---|---|---|"
  for mode in $MODES; do
    echo "| $(name $mode) | $(echo ${RPS[$mode]} | median) | $(echo ${P50[$mode]} | median) | $(echo ${P99[$mode]} | median) | $(echo ${EV[$mode]} | median) | $(echo ${HG[$mode]} | median) | $(echo ${ALL[$mode]} | median) |"
  done
  echo
} > $section
cat $section
out=${OUT:-$here/node/bench/results.md}
# Replace the section if it is there (up to the next "## "), else append it.
python3 - "$out" "$section" <<'P'
import sys, re
out, sec = sys.argv[1], open(sys.argv[2]).read()
try:
    text = open(out).read()
except FileNotFoundError:
    text = ""
head = "## Sessions in Redis"
if head in text:
    a = text.index(head)
    b = text.find("\n## ", a + 1)
    text = text[:a] + sec + (text[b + 1:] if b >= 0 else "")
else:
    text = text.rstrip("\n") + "\n\n" + sec
open(out, "w").write(text)
P
