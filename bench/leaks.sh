#!/bin/bash
# Does mod_rjk keep memory per request? `apache2 -X` (prefork, one process) with mod_rjk under
# valgrind's memcheck serves ROUNDS rounds of mixed traffic — plain GETs, 100 KiB downloads,
# uploads, sticky sessions, the status page and a status POST, an unmounted path, a member
# that is down, a backend killed and restarted mid-run (reconnects) — then stops. Twice, with
# ROUNDS and 2×ROUNDS: memory definitely or indirectly lost must be the same (not growing with
# the requests), and so must the memory still reachable at exit (no cache that grows per
# request). Prints both summaries and where lost blocks were allocated. Not counted: the
# balancer's configuration copies a process keeps for every status-worker change (readers hold
# them without a lock, lb-core/src/shm/published.rs): they grow with changes, not requests,
# and are reported apart.
# Environment: ROUNDS (20), TARGET (cargo target dir), PROFILE (debug).
set -euo pipefail
ROUNDS=${ROUNDS:-20}
PROFILE=${PROFILE:-debug}
here=$(cd "$(dirname "$0")/.." && pwd)
target=${TARGET:-${CARGO_TARGET_DIR:-$here/target}}
M=/usr/lib/apache2/modules
for need in /usr/sbin/apache2 $M/mod_mpm_prefork.so /usr/bin/valgrind /usr/bin/curl; do
  [ -e "$need" ] || { echo "missing $need: make deps" >&2; exit 1; }
done
if [ -z "${NO_BUILD:-}" ]; then
  flag=(); [ "$PROFILE" = release ] && flag=(--release)
  (cd "$here" && cargo build "${flag[@]}" -q -p mod_rjk -p rjk-node)
fi
S=$(mktemp -d /tmp/rjk-leaks.XXXX)
chmod 755 "$S"
cleanup() {
  for f in "$S"/*/httpd.pid "$S"/node.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$S"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port [tries of 0.1 s]
  for _ in $(seq 1 "${2:-100}"); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done
  echo "nothing listens on $1" >&2; return 1
}
ajp=$(port); down=$(port)
start_node() {
  "$target/$PROFILE/rjk-node" --route n1 --ajp 127.0.0.1:$ajp --no-secret --log-level error \
    >/dev/null 2>&1 &
  echo $! > "$S/node.pid"
  wait_port $ajp
}
start_node

conf() { # dir port
  local d=$1
  mkdir -p "$d"/{logs,run}
  cat > "$d/workers.properties" <<W
worker.list=lb,jkstatus
worker.lb.type=lb
worker.lb.balance_workers=n1,n2
worker.lb.recover_time=1
worker.n1.host=127.0.0.1
worker.n1.port=$ajp
worker.n2.host=127.0.0.1
worker.n2.port=$down
worker.n2.lbfactor=2
worker.jkstatus.type=status
W
  cat > "$d/httpd.conf" <<C
ServerRoot $d
Listen 127.0.0.1:$2
PidFile $d/httpd.pid
ErrorLog $d/logs/error.log
LogLevel error
Mutex file:$d/run default
DefaultRuntimeDir $d/run
User www-data
Group www-data
ServerName localhost
LoadModule mpm_prefork_module $M/mod_mpm_prefork.so
LoadModule authz_core_module $M/mod_authz_core.so
KeepAlive On
LoadModule jk_module $target/$PROFILE/libmod_rjk.so
JkWorkersFile $d/workers.properties
JkShmFile $d/run/jk.shm
JkLogFile $d/logs/jk.log
JkLogLevel error
JkMount /1k lb
JkMount /download lb
JkMount /upload lb
JkMount /session lb
JkMount /jkstatus jkstatus
C
}

traffic() { # port rounds
  local p=$1 u="http://127.0.0.1:$1" i
  head -c 70000 /dev/zero > "$S/upload"
  for i in $(seq 1 "$2"); do
    curl -s -o /dev/null "$u/1k?n=[1-5]"
    curl -s -o /dev/null "$u/download?bytes=102400"
    curl -s -o /dev/null --data-binary @"$S/upload" "$u/upload"
    curl -s -o /dev/null -o /dev/null -c "$S/jar" -b "$S/jar" "$u/session" "$u/session"
    curl -s -o /dev/null "$u/nothing-mounted-here"
    curl -s "$u/jkstatus" > "$S/status.html"
    nonce=$(sed -n 's/.*name="nonce" value="\([^"]*\)".*/\1/p' "$S/status.html" | head -1)
    curl -s -o /dev/null --data "cmd=update&w=lb&sw=n1&vwf=$((1 + i % 3))&nonce=$nonce" "$u/jkstatus"
    if [ $((i % 5)) = 2 ]; then # the backend dies and comes back: pooled connections break
      kill "$(cat "$S/node.pid")"; wait "$(cat "$S/node.pid")" 2>/dev/null || true
      curl -s -o /dev/null "$u/1k"
      start_node
    fi
  done
}

run() { # rounds
  local d="$S/run-$1" p; p=$(port)
  conf "$d" "$p"
  : > "$d/memcheck.log"; chmod 666 "$d/memcheck.log"
  valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --log-file="$d/memcheck.log" /usr/sbin/apache2 -X -d "$d" -f "$d/httpd.conf" &
  local vg=$!
  wait_port "$p" 600
  traffic "$p" "$1"
  kill "$(cat "$d/httpd.pid")"
  wait $vg || true
  local lost kept reachable errors
  read -r lost kept < <(python3 - "$d/memcheck.log" <<'PY'
import re, sys
# Sum the leak records' bytes, apart those allocated for a published configuration copy.
lost = kept = 0
for rec in re.split(r"\n==\d+== \n", open(sys.argv[1]).read()):
    m = re.search(r"([\d,]+) bytes in [\d,]+ blocks are (definitely|indirectly|possibly) lost", rec)
    if not m:
        continue
    n = int(m.group(1).replace(",", ""))
    if "Published" in rec or "balancer::conf::pull" in rec or "balancer::change::" in rec:
        kept += n
    else:
        lost += n
print(lost, kept)
PY
)
  reachable=$(awk '/still reachable:/ {gsub(",", "", $4); print $4 + 0}' "$d/memcheck.log")
  errors=$(grep -c "Invalid \|uninitialised\|Conditional jump" "$d/memcheck.log" || true)
  echo "$1 rounds: $lost bytes lost, ${reachable:-?} bytes still reachable, $errors invalid accesses; $kept bytes of configuration copies kept for $1 status changes" >&2
  echo "$lost ${reachable:-0} $errors" > "$S/result-$1"
}

run "$ROUNDS"; run $((2 * ROUNDS))
read -r a ra ea < "$S/result-$ROUNDS"; read -r b rb eb < "$S/result-$((2 * ROUNDS))"
echo "after $ROUNDS rounds: $a bytes lost, $ra reachable; after $((2 * ROUNDS)): $b lost, $rb reachable"
[ "$ea" = 0 ] && [ "$eb" = 0 ] || { echo "memcheck found invalid accesses" >&2; exit 1; }
[ "$b" -le "$a" ] || { echo "memory lost grows with the requests" >&2; exit 1; }
[ "$rb" -le $((ra + 256)) ] || { echo "memory still reachable grows with the requests" >&2; exit 1; }
