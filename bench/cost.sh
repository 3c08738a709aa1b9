#!/bin/bash
# Deterministic cost of one request through an httpd front end, for a noisy machine:
#   instructions per request  user-space instructions of `apache2 -X` (prefork, one process)
#                             under callgrind
#   syscalls per request      `strace -f -c` of the same process
# Each figure is the difference of two runs that serve W and W+N keep-alive requests on one
# connection (curl's URL globbing), divided by N, so start-up and shutdown cancel.
# Front ends: httpd serving the bytes from a file (the floor), mod_rjk, Debian's mod_jk,
# mod_proxy_ajp; nginx serving the file (its floor), ngx_module, and nginx proxy_pass over
# HTTP/1.1 with upstream keepalive to the node's HTTP port (nginx as one process:
# `master_process off`). All to the same rjk-node backend, for 0 B, 1 KiB and 100 KiB.
# Writes bench/cost.md (or $OUT). Environment: W (20), N (200), SIZES ("0 1024 102400"),
# FRONTS ("static mod_rjk mod_jk proxy_ajp nginx_static ngx_rjk nginx_proxy"), TARGET (the
# cargo target dir), PROFILE (release), COOKIE (sent with every request, e.g.
# `JSESSIONID=ABC.n1` for a sticky session on the node, whose route is n1).
set -euo pipefail
W=${W:-20}; N=${N:-200}
SIZES=${SIZES:-"0 1024 102400"}
FRONTS=${FRONTS:-"static mod_rjk mod_jk proxy_ajp nginx_static ngx_rjk nginx_proxy"}
PROFILE=${PROFILE:-release}
here=$(cd "$(dirname "$0")/.." && pwd)
target=${TARGET:-${CARGO_TARGET_DIR:-$here/target}}
OUT=${OUT:-$here/bench/cost.md}
M=/usr/lib/apache2/modules
for need in /usr/sbin/apache2 $M/mod_jk.so $M/mod_proxy_ajp.so $M/mod_mpm_prefork.so \
  /usr/sbin/nginx /usr/bin/valgrind /usr/bin/strace /usr/bin/curl; do
  [ -e "$need" ] || { echo "missing $need: make deps" >&2; exit 1; }
done
if [ -z "${NO_BUILD:-}" ]; then
  flag=(); [ "$PROFILE" = release ] && flag=(--release)
  (cd "$here" && make -s nginx-src && cargo build "${flag[@]}" -q -p mod_rjk -p rjk-node -p ngx_module)
fi
S=$(mktemp -d /tmp/rjk-cost.XXXX)
chmod 755 "$S"
node_pid=""
cleanup() {
  for f in "$S"/*/httpd.pid "$S"/*/nginx.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$S"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port [tries of 0.1 s]
  for _ in $(seq 1 "${2:-100}"); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done
  echo "nothing listens on $1" >&2; return 1
}

ajp=$(port); http=$(port)
"$target/$PROFILE/rjk-node" --route n1 --ajp 127.0.0.1:$ajp --http 127.0.0.1:$http --no-secret \
  --log-level error &
node_pid=$!
wait_port $ajp; wait_port $http

# nginx, one process (the cost of one request is then one process's).
nginx_conf() { # flavour dir port
  local d=$2 load="" http_block="" loc=""
  mkdir -p "$d"/{html,tmp}
  case $1 in
  nginx_static)
    for s in $SIZES; do head -c "$s" /dev/zero | tr '\0' x > "$d/html/$s"; done
    loc="location / { root $d/html; }" ;;
  ngx_rjk)
    printf 'worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=n1\nworker.n1.host=127.0.0.1\nworker.n1.port=%s\n' $ajp > "$d/workers.properties"
    load="load_module $target/$PROFILE/libngx_http_rjk_module.so;"
    http_block="rjk_workers_file $d/workers.properties;"
    loc="location / { rjk_pass lb; }" ;;
  nginx_proxy)
    http_block="upstream peers { server 127.0.0.1:$http; keepalive 16; }"
    loc="location / { proxy_pass http://peers; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_buffering off; }" ;;
  esac
  cat > "$d/nginx.conf" <<C
$load
pid $d/nginx.pid;
lock_file $d/nginx.lock;
error_log $d/error.log error;
daemon off;
master_process off;
events { worker_connections 64; }
http {
  access_log off;
  keepalive_requests 100000;
  client_body_temp_path $d/tmp/body; proxy_temp_path $d/tmp/proxy; fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi; scgi_temp_path $d/tmp/scgi;
  $http_block
  server { listen 127.0.0.1:$3; $loc }
}
C
}

conf() { # flavour dir port
  local d=$2
  mkdir -p "$d"/{logs,run,htdocs}
  cat > "$d/httpd.conf" <<C
ServerRoot $d
Listen 127.0.0.1:$3
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
MaxKeepAliveRequests 0
DocumentRoot $d/htdocs
<Directory $d/htdocs>
  Require all granted
</Directory>
C
  case $1 in
  static)
    for s in $SIZES; do head -c "$s" /dev/zero | tr '\0' x > "$d/htdocs/$s"; done ;;
  mod_rjk|mod_jk)
    local so=$M/mod_jk.so
    [ "$1" = mod_rjk ] && so=$target/$PROFILE/libmod_rjk.so
    printf 'worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=n1\nworker.n1.host=127.0.0.1\nworker.n1.port=%s\n' $ajp > "$d/workers.properties"
    printf 'LoadModule jk_module %s\nJkWorkersFile %s/workers.properties\nJkShmFile %s/run/jk.shm\nJkLogFile %s/logs/jk.log\nJkLogLevel error\nJkMount /* lb\n' \
      "$so" "$d" "$d" "$d" >> "$d/httpd.conf" ;;
  proxy_ajp)
    printf 'LoadModule proxy_module %s/mod_proxy.so\nLoadModule proxy_ajp_module %s/mod_proxy_ajp.so\nProxyPass / ajp://127.0.0.1:%s/\n' \
      $M $M $ajp >> "$d/httpd.conf" ;;
  esac
}

path() { # flavour size
  case $1 in static|nginx_static) echo "/$2" ;; *) echo "/download?bytes=$2" ;; esac
}

is_nginx() { case $1 in nginx_*|ngx_*) return 0 ;; *) return 1 ;; esac; }

stop() { # dir: the server's graceful stop (callgrind writes its output at exit)
  if [ -f "$1/nginx.pid" ]; then kill -QUIT "$(cat "$1/nginx.pid")"; else kill "$(cat "$1/httpd.pid")"; fi
}

# One run: start apache2 -X (or nginx as one process) under TOOL, serve COUNT requests on one connection, stop it.
# Prints the tool's total (instructions or syscalls).
run() { # tool flavour size count
  local tool=$1 flav=$2 size=$3 count=$4 d p out sep
  d="$S/$flav-$size-$tool-$count"; p=$(port)
  local server=(/usr/sbin/apache2 -X -d "$d" -f "$d/httpd.conf")
  if is_nginx "$flav"; then
    nginx_conf "$flav" "$d" "$p"
    server=(/usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log")
  else
    conf "$flav" "$d" "$p"
  fi
  # apache2 -X drops to www-data, which must be able to write callgrind's output at exit.
  out="$d/out"
  : > "$out"; chmod 666 "$out"
  case $tool in
  callgrind) valgrind --tool=callgrind --callgrind-out-file="$out" --trace-children=no \
      "${server[@]}" 2>"$d/valgrind.log" & ;;
  strace) strace -f -c -o "$out" "${server[@]}" & ;;
  esac
  local tracer=$!
  wait_port "$p" 600
  sep='&'; case $flav in static|nginx_static) sep='?' ;; esac
  local cookie=(); [ -n "${COOKIE:-}" ] && cookie=(-b "$COOKIE")
  curl -s "${cookie[@]}" -o /dev/null --fail "http://127.0.0.1:$p$(path "$flav" "$size")${sep}n=[1-$count]" || {
    echo "$flav $size: a request failed" >&2; stop "$d"; wait $tracer; exit 1; }
  stop "$d"
  wait $tracer || true
  case $tool in
  callgrind) awk '/^(summary|totals):/ {print $2; exit}' "$out" ;;
  strace) awk '$NF == "total" {print $(NF-2) + 0; exit}' "$out" ;;
  esac
}

per_request() { # tool flavour size
  local a b
  a=$(run "$1" "$2" "$3" "$W"); b=$(run "$1" "$2" "$3" $((W + N)))
  awk -v a="$a" -v b="$b" -v n="$N" 'BEGIN {printf "%.1f", (b - a) / n}'
}

# Allocations per request: calls to malloc/calloc/realloc in the same two callgrind runs.
mallocs() { # flavour size
  local a b
  a=$(python3 "$here/bench/malloc_calls.py" "$S/$1-$2-callgrind-$W/out")
  b=$(python3 "$here/bench/malloc_calls.py" "$S/$1-$2-callgrind-$((W + N))/out")
  awk -v a="$a" -v b="$b" -v n="$N" 'BEGIN {printf "%.1f", (b - a) / n}'
}

declare -A I C A
for size in $SIZES; do
  for flav in $FRONTS; do
    I[$flav,$size]=$(per_request callgrind "$flav" "$size")
    A[$flav,$size]=$(mallocs "$flav" "$size")
    C[$flav,$size]=$(per_request strace "$flav" "$size")
    echo "$size B $flav: ${I[$flav,$size]} instructions, ${C[$flav,$size]} syscalls, ${A[$flav,$size]} mallocs per request" >&2
  done
done

{
  echo "# Cost per request: instructions and syscalls"
  echo
  echo "$(date -u +%Y-%m-%d), \`bench/cost.sh\` ($PROFILE build): \`apache2 -X\` (prefork, one process) and"
  echo "nginx with \`master_process off\` (one process), one rjk-node backend, one keep-alive connection;"
  echo "(run of $((W + N)) requests − run of $W) / $N. httpd rows are above httpd's static floor, nginx"
  echo "rows above nginx's (nginx_proxy: proxy_pass over HTTP/1.1 with upstream keepalive)."
  echo "Instructions: callgrind, user space. Syscalls: \`strace -f -c\`. Both repeat for the same binaries"
  echo "and inputs whatever else the machine does, except that a large body's syscalls (and a few"
  echo "instructions with them) depend on how much of it each read finds already arrived. Mallocs:"
  echo "calls to malloc/calloc/realloc in the same callgrind runs (the servers' pools are not counted)."
  echo
  echo "| size | front end | instructions/req | above floor | syscalls/req | mallocs/req |"
  echo "|---|---|---|---|---|---|"
  for size in $SIZES; do
    for flav in $FRONTS; do
      floor=${I[static,$size]:-0}
      is_nginx "$flav" && floor=${I[nginx_static,$size]:-0}
      above=$(awk -v a="${I[$flav,$size]}" -v f="$floor" 'BEGIN {printf "%.1f k", (a - f) / 1000}')
      case $flav in static|nginx_static) above="(floor)" ;; esac
      k=$(awk -v a="${I[$flav,$size]}" 'BEGIN {printf "%.1f k", a / 1000}')
      echo "| $size B | $flav | $k | $above | ${C[$flav,$size]} | ${A[$flav,$size]} |"
    done
  done
} > "$OUT"
cat "$OUT"
