# Shared by the rjk-node benchmarks (cluster.sh, redis.sh): sourced after they set S (the state
# directory), M (httpd's module directory), SESSIONS and the pids array; an httpd's directory is
# $S/h-NAME, which their cleanup stops.

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 600); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "nothing on $1" >&2; return 1; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# wrk's latency text (250us, 1.20ms, 2s) in microseconds.
to_us() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); print v} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else {sub(/s/,"",v); print v*1000000}}'; }

# stop_backends: stop BACKEND_PIDS and wait until each is gone.
stop_backends() {
  local p
  for p in "${BACKEND_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${BACKEND_PIDS[@]}"; do for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
}

# start_httpd NAME SO: apache2 (event MPM) with module SO in front of $WORKERS (lb `lb` on
# /*); sets HTTPD_PORT.
start_httpd() {
  local h=$S/h-$1 so=$2; mkdir -p $h/logs $h/run; HTTPD_PORT=$(port)
  printf "$WORKERS" > $h/workers.properties
  cat > $h/httpd.conf <<C
ServerRoot $h
PidFile $h/httpd.pid
ErrorLog $h/logs/error.log
LogLevel warn
Mutex file:$h/run default
DefaultRuntimeDir $h/run
User www-data
Group www-data
ServerName localhost
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule jk_module $so
KeepAlive On
MaxKeepAliveRequests 0
StartServers 2
ThreadsPerChild 64
MaxRequestWorkers 256
Listen 127.0.0.1:$HTTPD_PORT
JkWorkersFile $h/workers.properties
JkShmFile $h/run/jk.shm
JkLogFile $h/logs/jk.log
JkLogLevel error
JkMount /* lb
C
  /usr/sbin/apache2 -d $h -f $h/httpd.conf -k start
  wait_port $HTTPD_PORT
}
stop_httpd() { local h=$S/h-$1; [ -f $h/httpd.pid ] && kill "$(cat $h/httpd.pid)" 2>/dev/null || true; sleep 0.5; }

# sessions PATH: a wrk script cycling over $SESSIONS sessions created through the front.
sessions() {
  local path=$1 f=$S/wrk-$RANDOM.lua i c
  { echo "local cookies = {"
    for i in $(seq 1 $SESSIONS); do
      c=$(curl -s -D - -o /dev/null "http://127.0.0.1:$HTTPD_PORT$path" | sed -n 's/^[Ss]et-[Cc]ookie: \(JSESSIONID=[^;]*\).*/\1/p' | tr -d '\r')
      [ -n "$c" ] || { echo "no session cookie from $path" >&2; exit 1; }
      echo "  \"$c\","
    done
    echo "}"
    echo "local i = 0"
    echo "request = function() i = i + 1; return wrk.format(\"GET\", \"$path\", { [\"Cookie\"] = cookies[(i % #cookies) + 1] }) end"
  } > $f
  echo $f
}
