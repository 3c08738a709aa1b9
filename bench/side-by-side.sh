#!/bin/bash
# One run, alternating, the same two rjk-node backends for every front end:
#   static        httpd serving the file itself (httpd's floor)
#   mod_rjk       this project in httpd
#   mod_jk        Debian's libapache2-mod-jk
#   proxy_ajp     mod_proxy_ajp + mod_proxy_balancer
#   proxy_http    mod_proxy_http + mod_proxy_balancer (to rjk-node --http)
#   nginx_static  nginx serving the file itself (nginx's floor)
#   ngx_rjk       this project in nginx (ngx_http_rjk_module, an lb worker over both nodes)
#   nginx_proxy   nginx proxy_pass HTTP/1.1 with upstream keepalive (to rjk-node --http)
# for 0 B, 1 KiB and 100 KiB responses. httpd: one apache2 binary, mpm_event, 2 x 32 threads;
# nginx: 2 worker processes. Per run: requests/s (wrk, keep-alive) and the server's process
# tree's CPU µs per request. Prints medians with their spread (min-max over the runs) and
# ratios against mod_jk, in one table, to bench/results.md (or $OUT).
# Environment: RUNS (3), SECS (5), CONNS (16), FLAVOURS (all of the above), OUT, KEEP=1 keeps
# the scratch directory.
set -euo pipefail
RUNS=${RUNS:-3}; SECS=${SECS:-5}; CONNS=${CONNS:-16}
FLAVOURS=${FLAVOURS:-"static mod_rjk mod_jk proxy_ajp proxy_http nginx_static ngx_rjk nginx_proxy"}
here=$(cd "$(dirname "$0")/.." && pwd)
M=/usr/lib/apache2/modules
for need in /usr/sbin/apache2 $M/mod_jk.so $M/mod_proxy_ajp.so /usr/sbin/nginx /usr/bin/wrk; do
  [ -e "$need" ] || { echo "missing $need: make deps" >&2; exit 1; }
done
target=${CARGO_TARGET_DIR:-$here/target}
[ -n "${NO_BUILD:-}" ] || (cd "$here" && make -s nginx-src && cargo build --release -q -p mod_rjk -p ngx_module -p rjk-node)
S=$(mktemp -d /tmp/rjk-bench.XXXX)
chmod 755 "$S"   # httpd's children (www-data) and nginx's workers (nobody) read the static files
pids=()
cleanup() {
  for f in "$S"/*/httpd.pid "$S"/*/nginx.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$S"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "nothing on $1" >&2; return 1; }

# Two backends, AJP and HTTP.
declare -A AJP HTTP
for n in n1 n2; do
  AJP[$n]=$(port); HTTP[$n]=$(port)
  "$target/release/rjk-node" --route $n --ajp 127.0.0.1:${AJP[$n]} --http 127.0.0.1:${HTTP[$n]} --no-secret --log-level error &
  pids+=($!)
  wait_port ${AJP[$n]}; wait_port ${HTTP[$n]}
done

base() { # dir port
  mkdir -p "$1"/{logs,run,htdocs}
  cat > "$1/httpd.conf" <<C
ServerRoot $1
Listen 127.0.0.1:$2
PidFile $1/httpd.pid
ErrorLog $1/logs/error.log
LogLevel error
Mutex file:$1/run default
DefaultRuntimeDir $1/run
User www-data
Group www-data
ServerName localhost
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authz_core_module $M/mod_authz_core.so
StartServers 2
ThreadsPerChild 32
MaxRequestWorkers 64
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot $1/htdocs
<Directory $1/htdocs>
  Require all granted
</Directory>
C
}
jk_workers() { printf 'worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=n1,n2\nworker.n1.host=127.0.0.1\nworker.n1.port=%s\nworker.n2.host=127.0.0.1\nworker.n2.port=%s\n' ${AJP[n1]} ${AJP[n2]}; }

nginx_conf() { # flavour dir port
  local load="" http="" loc=""
  mkdir -p "$2/html" "$2/tmp"
  case $1 in
  nginx_static)
    head -c 0 /dev/zero > "$2/html/0"; head -c 1024 /dev/zero | tr '\0' x > "$2/html/1024"
    head -c 102400 /dev/zero | tr '\0' x > "$2/html/102400"
    loc="location / { root $2/html; }" ;;
  ngx_rjk)
    jk_workers > "$2/workers.properties"
    load="load_module $target/release/libngx_http_rjk_module.so;"
    http="rjk_workers_file $2/workers.properties;"
    loc="location / { rjk_pass lb; }" ;;
  nginx_proxy)
    http="upstream peers { server 127.0.0.1:${HTTP[n1]}; server 127.0.0.1:${HTTP[n2]}; keepalive 32; }"
    loc="location / { proxy_pass http://peers; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_buffering off; }" ;;
  esac
  cat > "$2/nginx.conf" <<C
$load
pid $2/nginx.pid;
lock_file $2/nginx.lock;
error_log $2/error.log error;
worker_processes 2;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000;
  client_body_temp_path $2/tmp/body; proxy_temp_path $2/tmp/proxy; fastcgi_temp_path $2/tmp/fastcgi;
  uwsgi_temp_path $2/tmp/uwsgi; scgi_temp_path $2/tmp/scgi;
  $http
  server { listen 127.0.0.1:$3; $loc }
}
C
}

is_nginx() { case $1 in nginx_*|ngx_*) return 0 ;; *) return 1 ;; esac; }

declare -A PORT
for flav in $FLAVOURS; do
  d="$S/$flav"; p=$(port); PORT[$flav]=$p
  if is_nginx $flav; then
    nginx_conf $flav "$d" $p
    /usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log"
    wait_port $p
    continue
  fi
  base "$d" $p
  case $flav in
  static)
    head -c 0 /dev/zero > "$d/htdocs/0"; head -c 1024 /dev/zero | tr '\0' x > "$d/htdocs/1024"
    head -c 102400 /dev/zero | tr '\0' x > "$d/htdocs/102400" ;;
  mod_rjk|mod_jk)
    so=$M/mod_jk.so; [ $flav = mod_rjk ] && so=$target/release/libmod_rjk.so
    jk_workers > "$d/workers.properties"
    printf 'LoadModule jk_module %s\nJkWorkersFile %s/workers.properties\nJkShmFile %s/run/jk.shm\nJkLogFile %s/logs/jk.log\nJkLogLevel error\nJkMount /* lb\n' $so "$d" "$d" "$d" >> "$d/httpd.conf" ;;
  proxy_ajp|proxy_http)
    scheme=${flav#proxy_}
    printf 'LoadModule proxy_module %s/mod_proxy.so\nLoadModule %s_module %s/mod_%s.so\nLoadModule proxy_balancer_module %s/mod_proxy_balancer.so\nLoadModule slotmem_shm_module %s/mod_slotmem_shm.so\nLoadModule lbmethod_byrequests_module %s/mod_lbmethod_byrequests.so\n<Proxy balancer://peers>\n' $M $flav $M $flav $M $M $M >> "$d/httpd.conf"
    for n in n1 n2; do
      if [ $scheme = ajp ]; then bp=${AJP[$n]}; else bp=${HTTP[$n]}; fi
      printf '  BalancerMember %s://127.0.0.1:%s route=%s\n' $scheme $bp $n >> "$d/httpd.conf"
    done
    printf '</Proxy>\nProxyPass / balancer://peers/\n' >> "$d/httpd.conf" ;;
  esac
  /usr/sbin/apache2 -d "$d" -f "$d/httpd.conf" -k start
  wait_port $p
done

path() { # flavour size
  case $1 in static|nginx_static) echo "/$2" ;; *) echo "/download?bytes=$2" ;; esac
}
measure() { # flavour size -> "rps cpu_us"
  local d="$S/$1" pp t0 t1 out reqs rps
  pp=$(cat "$d/httpd.pid" 2>/dev/null || cat "$d/nginx.pid")
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
reversed=$(echo $FLAVOURS | tr ' ' '\n' | tac | tr '\n' ' ')
for size in 0 1024 102400; do
  for flav in $FLAVOURS; do wrk -t1 -c4 -d1s "http://127.0.0.1:${PORT[$flav]}$(path $flav $size)" >/dev/null 2>&1; done
  for run in $(seq 1 $RUNS); do
    # Alternate the order each run so drift in the machine's load hits everyone alike.
    order=$FLAVOURS
    [ $((run % 2)) = 0 ] && order=$reversed
    for flav in $order; do
      read -r rps cpu < <(measure $flav $size)
      R[$flav,$size]="${R[$flav,$size]:-} $rps"; C[$flav,$size]="${C[$flav,$size]:-} $cpu"
      echo "run $run size $size $flav: $rps req/s, $cpu µs CPU/req" >&2
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
spread() { tr ' ' '\n' | grep -v '^$' | sort -g | awk 'NR==1 {lo=$1} {hi=$1} END {print lo "–" hi}'; }
has() { case " $FLAVOURS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
out=${OUT:-$here/bench/results.md}
{
  echo "# Side-by-side: httpd and nginx front ends to the same two rjk-node backends"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) cores, $RUNS alternating runs of ${SECS}s, wrk $CONNS connections, keep-alive;"
  echo "httpd mpm_event 2 x 32 threads, nginx 2 worker processes. Medians, with the spread (min–max) over the runs."
  echo "CPU = the server's process tree's user+system time per request (the backends are not counted)."
  echo "\"Above floor\" subtracts the same server serving the same bytes from a file (static / nginx_static)."
  echo
  echo "| size | server | front end | req/s | req/s spread | CPU µs/req | CPU spread | req/s vs mod_jk | CPU above floor vs mod_jk |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for size in 0 1024 102400; do
    jr=-; jc=-; hfloor=-
    if has mod_jk; then jr=$(echo ${R[mod_jk,$size]} | median); jc=$(echo ${C[mod_jk,$size]} | median); fi
    if has static; then hfloor=$(echo ${C[static,$size]} | median); fi
    nfloor=-; has nginx_static && nfloor=$(echo ${C[nginx_static,$size]} | median)
    for flav in $FLAVOURS; do
      r=$(echo ${R[$flav,$size]} | median); c=$(echo ${C[$flav,$size]} | median)
      server=httpd; floor=$hfloor
      if is_nginx $flav; then server=nginx; floor=$nfloor; fi
      ratio=$(awk -v a=$r -v b=$jr 'BEGIN {if (b == "-") print "-"; else printf "%.2f", a/b}')
      above=$(awk -v a=$c -v b=$jc -v f=$floor 'BEGIN {if (b == "-" || f == "-") {print "-"; exit} d=b-f; if (d<=0) print "-"; else printf "%.2f", (a-f)/d}')
      case $flav in static|nginx_static) above="(floor)" ;; esac
      echo "| $size B | $server | $flav | $r | $(echo ${R[$flav,$size]} | spread) | $c | $(echo ${C[$flav,$size]} | spread) | $ratio | $above |"
    done
  done
} > "$out"
cat "$out"
