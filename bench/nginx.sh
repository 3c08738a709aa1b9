#!/bin/bash
# One run, alternating, the same nginx binary and settings, the same two rjk-node backends:
#   static      nginx serving the file itself (the floor)
#   ngx_rjk     nginx + ngx_http_rjk_module (AJP, lb worker over both nodes)
#   proxy_http  nginx proxy_pass HTTP/1.1 with upstream keepalive to rjk-node --http
# for 0 B, 1 KiB and 100 KiB responses. Per run: requests/s (wrk, keep-alive) and the nginx
# process tree's CPU µs per request. Writes the medians to bench/nginx-results.md.
# Environment: RUNS (3), SECS (4), CONNS (16), KEEP=1 keeps the scratch directory.
set -euo pipefail
RUNS=${RUNS:-3}; SECS=${SECS:-4}; CONNS=${CONNS:-16}
here=$(cd "$(dirname "$0")/.." && pwd)
for need in /usr/sbin/nginx /usr/bin/wrk; do
  [ -e "$need" ] || { echo "missing $need: make deps" >&2; exit 1; }
done
target=${CARGO_TARGET_DIR:-$here/target}
(cd "$here" && make -s nginx-src && cargo build --release -q -p ngx_module -p rjk-node)
S=$(mktemp -d /tmp/rjk-nginx-bench.XXXX)
chmod 755 "$S"   # nginx's workers run as nobody and must read the static files
pids=()
cleanup() {
  for d in "$S"/n-*; do [ -f "$d/nginx.pid" ] && kill "$(cat "$d/nginx.pid")" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$S"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "nothing on $1" >&2; return 1; }

declare -A AJP HTTP
for n in n1 n2; do
  AJP[$n]=$(port); HTTP[$n]=$(port)
  "$target/release/rjk-node" --route $n --ajp 127.0.0.1:${AJP[$n]} --http 127.0.0.1:${HTTP[$n]} --no-secret --log-level error &
  pids+=($!)
  wait_port ${AJP[$n]}; wait_port ${HTTP[$n]}
done

declare -A PORT
FLAVOURS="static ngx_rjk proxy_http"
for flav in $FLAVOURS; do
  d="$S/n-$flav"; p=$(port); PORT[$flav]=$p; mkdir -p "$d/html" "$d/tmp"
  load=""; http=""; loc=""
  case $flav in
  static)
    head -c 0 /dev/zero > "$d/html/0"; head -c 1024 /dev/zero | tr '\0' x > "$d/html/1024"
    head -c 102400 /dev/zero | tr '\0' x > "$d/html/102400"
    loc="location / { root $d/html; }" ;;
  ngx_rjk)
    printf 'worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=n1,n2\nworker.n1.host=127.0.0.1\nworker.n1.port=%s\nworker.n2.host=127.0.0.1\nworker.n2.port=%s\n' ${AJP[n1]} ${AJP[n2]} > "$d/workers.properties"
    load="load_module $target/release/libngx_http_rjk_module.so;"
    http="rjk_workers_file $d/workers.properties;"
    loc="location / { rjk_pass lb; }" ;;
  proxy_http)
    http="upstream peers { server 127.0.0.1:${HTTP[n1]}; server 127.0.0.1:${HTTP[n2]}; keepalive 32; }"
    loc="location / { proxy_pass http://peers; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_buffering off; }" ;;
  esac
  cat > "$d/nginx.conf" <<C
$load
pid $d/nginx.pid;
lock_file $d/nginx.lock;
error_log $d/error.log error;
worker_processes 2;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000;
  client_body_temp_path $d/tmp/body; proxy_temp_path $d/tmp/proxy; fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi; scgi_temp_path $d/tmp/scgi;
  $http
  server { listen 127.0.0.1:$p; $loc }
}
C
  /usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log"
  wait_port $p
done

path() { # flavour size
  if [ $1 = static ]; then echo "/$2"; else echo "/download?bytes=$2"; fi
}
measure() { # flavour size -> "rps cpu_us"
  local d="$S/n-$1" pp t0 t1 out reqs rps
  pp=$(cat "$d/nginx.pid")
  ticks() { local t=0 s; for p in $pp $(pgrep -P $pp); do s=$(cut -d' ' -f14,15 /proc/$p/stat 2>/dev/null) && t=$((t + ${s% *} + ${s#* })); done; echo $t; }
  t0=$(ticks)
  out=$(wrk -t1 -c$CONNS -d${SECS}s "http://127.0.0.1:${PORT[$1]}$(path $1 $2)" 2>&1)
  t1=$(ticks)
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  if echo "$out" | grep -q "Non-2xx\|Socket errors"; then
    echo "$1 $2: the run had errors, refusing to report it:" >&2; echo "$out" >&2; exit 1
  fi
  echo "$rps $(( (t1-t0) * 1000000 / $(getconf CLK_TCK) / (reqs > 0 ? reqs : 1) ))"
}

declare -A R C
for size in 0 1024 102400; do
  for flav in $FLAVOURS; do wrk -t1 -c4 -d1s "http://127.0.0.1:${PORT[$flav]}$(path $flav $size)" >/dev/null 2>&1; done
  for run in $(seq 1 $RUNS); do
    order=$FLAVOURS
    [ $((run % 2)) = 0 ] && order="proxy_http ngx_rjk static"
    for flav in $order; do
      read -r rps cpu < <(measure $flav $size)
      R[$flav,$size]="${R[$flav,$size]:-} $rps"; C[$flav,$size]="${C[$flav,$size]:-} $cpu"
      echo "run $run size $size $flav: $rps req/s, $cpu µs CPU/req" >&2
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
out="$here/bench/nginx-results.md"
{
  echo "# Side-by-side: nginx front ends to the same two rjk-node backends"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, $RUNS alternating runs of ${SECS}s, wrk $CONNS connections, keep-alive, nginx with 2 worker processes; medians."
  echo "CPU = the nginx process tree's user+system time per request (the backends are not counted)."
  echo
  echo "| size | server | req/s | CPU µs/req | req/s vs proxy_http | CPU vs proxy_http |"
  echo "|---|---|---|---|---|---|"
  for size in 0 1024 102400; do
    pr=$(echo ${R[proxy_http,$size]} | median); pc=$(echo ${C[proxy_http,$size]} | median)
    for flav in $FLAVOURS; do
      r=$(echo ${R[$flav,$size]} | median); c=$(echo ${C[$flav,$size]} | median)
      echo "| $size B | $flav | $r | $c | $(awk -v a=$r -v b=$pr 'BEGIN {printf "%.2f", a/b}') | $(awk -v a=$c -v b=$pc 'BEGIN {printf "%.2f", (b>0)?a/b:0}') |"
    done
  done
} > "$out"
cat "$out"
