#!/bin/bash
# rjk-node vs Tomcat 10 behind one httpd + Debian mod_jk on loopback (what `make bench` runs).
#
# One apache2 (event MPM) loads Debian's mod_jk once and listens on two ports: one mounts
# everything on an rjk-node worker, the other on a Tomcat worker. wrk drives, alternating
# backends run by run, two workloads:
#   1k       a 1 KiB response                 (rjk-node /1k, Tomcat a static /1k)
#   session  a request that writes a session  (rjk-node /session, Tomcat /session.jsp;
#            every request carries the cookie of one session and increments its counter)
# For each run: requests/s and the backend's CPU time per request (its /proc utime+stime
# over the run divided by the requests wrk completed). Prints the medians.
#
# Environment: RUNS (5), SECS (5 per run), CONNS (16), RJK_NODE (binary; default: built with
# `cargo build --release -p rjk-node`), KEEP=1 keeps the state directory.
set -euo pipefail

RUNS=${RUNS:-5}; SECS=${SECS:-5}; CONNS=${CONNS:-16}
M=/usr/lib/apache2/modules
TC=/usr/share/tomcat10
for need in /usr/sbin/apache2 $M/mod_jk.so $TC/bin/catalina.sh /usr/bin/wrk /usr/bin/curl; do
  [ -e "$need" ] || { echo "missing $need: install apache2 libapache2-mod-jk tomcat10 wrk curl" >&2; exit 1; }
done
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${RJK_NODE:-}" ]; then
  (cd "$here/../.." && cargo build --release -q -p rjk-node)
  RJK_NODE=${CARGO_TARGET_DIR:-$here/../../target}/release/rjk-node
fi

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 300); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.2; done; echo "nothing listens on $1" >&2; return 1; }

dir=$(mktemp -d /tmp/rjk-bench.XXXXXX); chmod 0777 "$dir"
pids=()
cleanup() {
  [ -f "$dir/httpd/httpd.pid" ] && kill "$(cat "$dir/httpd/httpd.pid")" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
  [ "${KEEP:-0}" = 1 ] && echo "state kept in $dir" || rm -rf "$dir"
}
trap cleanup EXIT

node_ajp=$(port); tc_ajp=$(port); tc_http=$(port); tc_sd=$(port); h_node=$(port); h_tc=$(port)

# rjk-node
"$RJK_NODE" --route n1 --ajp 127.0.0.1:$node_ajp --no-secret --log-level warn 2> "$dir/node.log" &
node_pid=$!; pids+=("$node_pid")

# Tomcat 10, private CATALINA_BASE
b=$dir/tomcat; mkdir -p $b/conf $b/logs $b/temp $b/work $b/webapps/ROOT
cp /etc/tomcat10/web.xml /etc/tomcat10/context.xml /etc/tomcat10/catalina.properties $b/conf/
printf 'handlers = java.util.logging.ConsoleHandler\n.level = WARNING\n' > $b/conf/logging.properties
cat > $b/conf/server.xml <<X
<Server port="$tc_sd" shutdown="SHUTDOWN"><Service name="Catalina">
  <Connector port="$tc_http" address="127.0.0.1" protocol="HTTP/1.1"/>
  <Connector port="$tc_ajp" address="127.0.0.1" protocol="AJP/1.3" secretRequired="false" maxThreads="200"/>
  <Engine name="Catalina" defaultHost="localhost" jvmRoute="tc1">
    <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false"/>
  </Engine></Service></Server>
X
head -c 1024 /dev/zero | tr '\0' x > $b/webapps/ROOT/1k
cat > $b/webapps/ROOT/session.jsp <<'J'
<%@ page contentType="application/json" trimDirectiveWhitespaces="true" %><%
Integer c = (Integer) session.getAttribute("counter"); c = (c == null) ? 1 : c + 1;
session.setAttribute("counter", c);
out.print("{\"route\":\"tc1\",\"id\":\"" + session.getId() + "\",\"counter\":" + c + "}");
%>
J
CATALINA_BASE=$b CATALINA_HOME=$TC JAVA_OPTS="-Xms256m -Xmx256m -XX:+UseSerialGC" \
  "$TC/bin/catalina.sh" run > "$dir/tomcat.log" 2>&1 &
tc_pid=$!; pids+=("$tc_pid")

# httpd + mod_jk: one server, one port per backend
h=$dir/httpd; mkdir -p $h/logs $h/run
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
LoadModule jk_module $M/mod_jk.so
KeepAlive On
MaxKeepAliveRequests 0
StartServers 2
ThreadsPerChild 64
MaxRequestWorkers 256
Listen 127.0.0.1:$h_node
Listen 127.0.0.1:$h_tc
JkShmFile $h/run/jk.shm
JkLogFile $h/logs/mod_jk.log
JkLogLevel error
JkWorkerProperty worker.list=node,tomcat
JkWorkerProperty worker.node.type=ajp13
JkWorkerProperty worker.node.host=127.0.0.1
JkWorkerProperty worker.node.port=$node_ajp
JkWorkerProperty worker.tomcat.type=ajp13
JkWorkerProperty worker.tomcat.host=127.0.0.1
JkWorkerProperty worker.tomcat.port=$tc_ajp
<VirtualHost 127.0.0.1:$h_node>
  JkMount /* node
</VirtualHost>
<VirtualHost 127.0.0.1:$h_tc>
  JkMount /* tomcat
</VirtualHost>
C
wait_port $node_ajp; wait_port $tc_ajp
/usr/sbin/apache2 -d $h -f $h/httpd.conf -k start
wait_port $h_node; wait_port $h_tc

url() { # backend workload
  local p path
  if [ "$1" = node ]; then p=$h_node; else p=$h_tc; fi
  case "$2:$1" in 1k:*) path=/1k;; session:node) path=/session;; session:tomcat) path=/session.jsp;; esac
  echo "http://127.0.0.1:$p$path"
}
cookie_for() { # one session per backend, shared by every wrk connection
  curl -s -D - -o /dev/null "$(url $1 session)" | sed -n 's/^[Ss]et-[Cc]ookie: \(JSESSIONID=[^;]*\).*/\1/p' | tr -d '\r'
}
pid_of() { if [ "$1" = node ]; then echo $node_pid; else echo $tc_pid; fi; }
ticks() { local s; s=$(cut -d' ' -f14,15 /proc/$1/stat); echo $(( ${s% *} + ${s#* } )); }
hz=$(getconf CLK_TCK)

declare -A cookie
for be in node tomcat; do
  cookie[$be]=$(cookie_for $be)
  [ -n "${cookie[$be]}" ] || { echo "no session cookie from $be" >&2; exit 1; }
done

run() { # backend workload seconds -> "rps cpu_us_per_req"
  local be=$1 wl=$2 secs=$3 pid t0 t1 out reqs rps hdr=()
  pid=$(pid_of $be)
  [ "$wl" = session ] && hdr=(-H "Cookie: ${cookie[$be]}")
  t0=$(ticks $pid)
  out=$(wrk -t1 -c$CONNS -d${secs}s "${hdr[@]}" "$(url $be $wl)" 2>&1)
  t1=$(ticks $pid)
  if echo "$out" | grep -q -E 'Non-2xx|Socket errors'; then echo "$be $wl: errors: $out" >&2; exit 1; fi
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  echo "$rps $(( (t1 - t0) * 1000000 / hz / reqs ))"
}

echo "warming up (JIT, pools, JSP compilation)..." >&2
for be in node tomcat; do for wl in 1k session; do run $be $wl 3 > /dev/null; done; done

declare -A rps cpu
for i in $(seq 1 "$RUNS"); do
  for wl in 1k session; do
    # Alternate which backend goes first, so drift in the machine's load hits both alike.
    if [ $((i % 2)) = 1 ]; then order="node tomcat"; else order="tomcat node"; fi
    for be in $order; do
      read -r r c < <(run $be $wl "$SECS")
      rps[$be,$wl]+="$r "; cpu[$be,$wl]+="$c "
      printf 'run %d %-7s %-8s %10s req/s %6s us CPU/req\n' "$i" "$wl" "$be" "$r" "$c" >&2
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "rjk-node vs Tomcat 10 behind httpd + mod_jk (medians of $RUNS alternating runs, ${SECS}s, $CONNS connections)"
printf '%-9s %-8s %12s %16s\n' workload backend "req/s" "backend us/req"
for wl in 1k session; do
  for be in node tomcat; do
    printf '%-9s %-8s %12s %16s\n' $wl $be "$(echo ${rps[$be,$wl]} | median)" "$(echo ${cpu[$be,$wl]} | median)"
  done
done
