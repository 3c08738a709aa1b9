#!/bin/bash
# rjk-node cluster benchmarks (part of `make bench`); the tables go to stdout and to
# node/bench/results.md. Everything runs on loopback, behind one private apache2 (event MPM).
#
#  latency   3 rjk-nodes behind httpd + mod_rjk, a session-writing request (/session, cookies
#            from a pool of sessions spread over the nodes): p50/p99 with --cluster none, delta
#            sync and delta async; "added" = minus none.
#  tomcat    session-writing throughput behind httpd + Debian mod_jk: 3 rjk-nodes (delta, sync)
#            vs 3 Tomcat 10 (SimpleTcpCluster + DeltaManager, static membership, channel send
#            options 6 = synchronous acks); requests/s and backend CPU µs per request.
#  scaling   2, 4 and 6 rjk-nodes (delta, sync) behind httpd + mod_rjk: requests/s and backend
#            CPU µs per request (all-to-all: every write goes to n-1 members).
#  backup    2, 4 and 6 rjk-nodes, --cluster delta vs --cluster backup (sync), behind httpd +
#            mod_rjk: requests/s, backend CPU µs and replication bytes per request; plus 3
#            Tomcat 10 with BackupManager behind the same front end.
#
# Environment: RUNS (3), SECS (5), CONNS (16, throughput), LAT_CONNS (4, latency), SESSIONS
# (64), PARTS ("latency tomcat scaling"), KEEP=1 keeps the state directory. Medians of RUNS
# alternating runs. OUT (node/bench/results.md) is where the tables go.
set -euo pipefail
RUNS=${RUNS:-3}; SECS=${SECS:-5}; CONNS=${CONNS:-16}; LAT_CONNS=${LAT_CONNS:-4}; SESSIONS=${SESSIONS:-64}
PARTS=${PARTS:-latency tomcat scaling backup}
part() { [[ " $PARTS " == *" $1 "* ]]; }
here=$(cd "$(dirname "$0")/../.." && pwd)
M=/usr/lib/apache2/modules
TC=/usr/share/tomcat10
for need in /usr/sbin/apache2 $M/mod_jk.so /usr/bin/wrk /usr/bin/curl; do
  [ -e "$need" ] || { echo "missing $need: make deps" >&2; exit 1; }
done
target=${CARGO_TARGET_DIR:-$here/target}
(cd "$here" && cargo build --release -q -p rjk-node -p mod_rjk)
NODE=$target/release/rjk-node; RJK_SO=$target/release/libmod_rjk.so

S=$(mktemp -d /tmp/rjk-cluster-bench.XXXX); chmod 755 "$S"
pids=()
cleanup() {
  for d in "$S"/h-*; do [ -f "$d/httpd.pid" ] && kill "$(cat "$d/httpd.pid")" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
  [ -n "${KEEP:-}" ] && echo "state kept in $S" >&2 || rm -rf "$S"
}
trap cleanup EXIT
. "$here/node/bench/lib.sh"
ticks() { local t=0 s p; for p in "$@"; do s=$(cut -d' ' -f14,15 /proc/$p/stat); t=$(( t + ${s% *} + ${s#* } )); done; echo $t; }
hz=$(getconf CLK_TCK)
declare -A BACKEND_HTTP

# --- backends -----------------------------------------------------------------------------
# start_nodes NAME N MODE: N rjk-nodes (routes n1..nN); MODE none|sync|async (delta) or
# backup (--cluster backup, sync). Sets BACKEND_PIDS, METRICS_PORTS and WORKERS
# (workers.properties lines for an lb `lb`).
start_nodes() {
  local name=$1 n=$2 mode=$3 i repl=() ajp=() met=() members
  BACKEND_HTTP=()
  for i in $(seq 1 $n); do repl[$i]=$(port); ajp[$i]=$(port); met[$i]=$(port); BACKEND_HTTP[n$i]=$(port); done
  METRICS_PORTS=()
  members=$(for i in $(seq 1 $n); do printf '127.0.0.1:%s,' ${repl[$i]}; done); members=${members%,}
  BACKEND_PIDS=(); WORKERS="worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=$(seq -s, -f 'n%g' 1 $n)\n"
  for i in $(seq 1 $n); do
    local c=()
    local cmode=delta rmode=$mode
    [ "$mode" = backup ] && cmode=backup rmode=sync
    [ "$mode" != none ] && c=(--cluster $cmode --cluster-listen 127.0.0.1:${repl[$i]} --cluster-members "$members"
                              --cluster-secret bench-secret --replication "$rmode" --metrics 127.0.0.1:${met[$i]}) \
                        && METRICS_PORTS+=(${met[$i]})
    "$NODE" --route n$i --ajp 127.0.0.1:${ajp[$i]} --http 127.0.0.1:${BACKEND_HTTP[n$i]} --no-secret \
      --log-level warn "${c[@]}" 2>> "$S/$name-n$i.log" &
    pids+=($!); BACKEND_PIDS+=($!)
    wait_port ${ajp[$i]}
    WORKERS+="worker.n$i.type=ajp13\nworker.n$i.host=127.0.0.1\nworker.n$i.port=${ajp[$i]}\n"
  done
}

# start_tomcats N: N Tomcat 10 with SimpleTcpCluster + $MANAGER (DeltaManager by default;
# static members, sync acks).
start_tomcats() {
  local manager=${MANAGER:-DeltaManager}
  local n=$1 i j repl=() ajp=() sd=() members=""
  BACKEND_HTTP=()
  for i in $(seq 1 $n); do repl[$i]=$(port); ajp[$i]=$(port); sd[$i]=$(port); BACKEND_HTTP[tc$i]=$(port); done
  for j in $(seq 1 $n); do
    members+="<Member className=\"org.apache.catalina.tribes.membership.StaticMember\" host=\"127.0.0.1\" port=\"${repl[$j]}\" uniqueId=\"{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,$j}\"/>"
  done
  BACKEND_PIDS=(); WORKERS="worker.list=lb\nworker.lb.type=lb\nworker.lb.balance_workers=$(seq -s, -f 'tc%g' 1 $n)\n"
  for i in $(seq 1 $n); do
    local b=$S/tc$i
    mkdir -p $b/conf $b/logs $b/temp $b/work $b/webapps/ROOT/WEB-INF
    cp /etc/tomcat10/web.xml /etc/tomcat10/context.xml /etc/tomcat10/catalina.properties $b/conf/
    printf 'handlers = java.util.logging.ConsoleHandler\n.level = WARNING\n' > $b/conf/logging.properties
    cat > $b/conf/server.xml <<X
<Server port="${sd[$i]}" shutdown="SHUTDOWN"><Service name="Catalina">
  <Connector port="${ajp[$i]}" address="127.0.0.1" protocol="AJP/1.3" secretRequired="false" maxThreads="200"/>
  <Connector port="${BACKEND_HTTP[tc$i]}" address="127.0.0.1" protocol="HTTP/1.1"/>
  <Engine name="Catalina" defaultHost="localhost" jvmRoute="tc$i">
    <Cluster className="org.apache.catalina.ha.tcp.SimpleTcpCluster" channelSendOptions="6">
      <Manager className="org.apache.catalina.ha.session.$manager" expireSessionsOnShutdown="false"/>
      <Channel className="org.apache.catalina.tribes.group.GroupChannel">
        <Membership className="org.apache.catalina.tribes.membership.StaticMembershipService">$members</Membership>
        <Receiver className="org.apache.catalina.tribes.transport.nio.NioReceiver" address="127.0.0.1" port="${repl[$i]}" autoBind="0" maxThreads="6"/>
        <Sender className="org.apache.catalina.tribes.transport.ReplicationTransmitter">
          <Transport className="org.apache.catalina.tribes.transport.nio.PooledParallelSender"/>
        </Sender>
        <Interceptor className="org.apache.catalina.tribes.group.interceptors.TcpFailureDetector"/>
      </Channel>
      <Valve className="org.apache.catalina.ha.tcp.ReplicationValve" filter=""/>
      <Valve className="org.apache.catalina.ha.session.JvmRouteBinderValve"/>
      <ClusterListener className="org.apache.catalina.ha.session.ClusterSessionListener"/>
    </Cluster>
    <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false"/>
  </Engine></Service></Server>
X
    cat > $b/webapps/ROOT/WEB-INF/web.xml <<'W'
<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0"><distributable/></web-app>
W
    cat > $b/webapps/ROOT/session.jsp <<'J'
<%@ page contentType="application/json" trimDirectiveWhitespaces="true" %><%
Integer c = (Integer) session.getAttribute("counter"); c = (c == null) ? 1 : c + 1;
session.setAttribute("counter", c);
out.print("{\"id\":\"" + session.getId() + "\",\"counter\":" + c + "}");
%>
J
    CATALINA_BASE=$b CATALINA_HOME=$TC JAVA_OPTS="-Xms256m -Xmx256m -XX:+UseSerialGC" \
      "$TC/bin/catalina.sh" run > "$b/logs/out.log" 2>&1 &
    pids+=($!); BACKEND_PIDS+=($!)
    WORKERS+="worker.tc$i.type=ajp13\nworker.tc$i.host=127.0.0.1\nworker.tc$i.port=${ajp[$i]}\n"
  done
  for i in $(seq 1 $n); do wait_port ${ajp[$i]}; done
}




# Bytes the rjk-nodes sent each other so far (rjk_cluster_bytes_sent_total, all nodes).
repl_bytes() {
  local t=0 p v
  for p in "${METRICS_PORTS[@]}"; do
    v=$(curl -s "http://127.0.0.1:$p/metrics" | awk '$1=="rjk_cluster_bytes_sent_total" {print $2}')
    t=$(( t + ${v:-0} ))
  done
  echo $t
}


# bench SCRIPT CONNS -> "rps cpu_us_per_req p50_us p99_us"
bench() {
  local script=$1 conns=$2 t0 t1 out reqs
  t0=$(ticks "${BACKEND_PIDS[@]}")
  out=$(wrk -t1 -c$conns -d${SECS}s --latency -s "$script" "http://127.0.0.1:$HTTPD_PORT/" 2>&1)
  t1=$(ticks "${BACKEND_PIDS[@]}")
  if echo "$out" | grep -q -E 'Non-2xx|Socket errors'; then echo "errors: $out" >&2; exit 1; fi
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  echo $reqs > $S/reqs
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(( (t1 - t0) * 1000000 / hz / reqs )) \
$(echo "$out" | awk '$1=="50%" {print $2}' | to_us) $(echo "$out" | awk '$1=="99%" {print $2}' | to_us)"
}

out=${OUT:-$here/node/bench/results.md}
{
  echo "# rjk-node cluster benchmarks"
  echo
  echo "\`node/bench/cluster.sh\` ($(date -u +%Y-%m-%d), $(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg) at start;"
  echo "medians of $RUNS runs of ${SECS}s; loopback; httpd event MPM). Numbers are machine-dependent: compare"
  echo "rows of one table, not runs on different machines."
  echo
} > $out

# --- latency: none / sync / async behind mod_rjk --------------------------------------------
declare -A P50 P99 RPS CPU
part latency && for i in $(seq 1 $RUNS); do
  for mode in none sync async; do
    start_nodes lat 3 $mode; start_httpd lat-$mode "$RJK_SO"
    script=$(sessions /session)
    bench "$script" $LAT_CONNS > /dev/null  # warm-up
    read -r r c p50 p99 < <(bench "$script" $LAT_CONNS)
    P50[$mode]+="$p50 "; P99[$mode]+="$p99 "
    printf 'latency run %d %-5s p50 %8s us p99 %8s us (%s req/s)\n' $i $mode $p50 $p99 $r >&2
    stop_httpd lat-$mode; stop_backends
  done
done
part latency && {
  echo "## Added latency of a session-writing request (3 nodes, httpd + mod_rjk, $LAT_CONNS connections)"
  echo
  echo "| replication | p50 µs | p99 µs | added p50 µs | added p99 µs |"
  echo "|---|---|---|---|---|"
  b50=$(echo ${P50[none]} | median); b99=$(echo ${P99[none]} | median)
  for mode in none sync async; do
    m50=$(echo ${P50[$mode]} | median); m99=$(echo ${P99[$mode]} | median)
    echo "| $mode | $m50 | $m99 | $(awk "BEGIN{print $m50-$b50}") | $(awk "BEGIN{print $m99-$b99}") |"
  done
  echo
} >> $out

# --- throughput vs Tomcat DeltaManager behind mod_jk ----------------------------------------
# The session must live on: create it through the front, then ask another member directly
# (its HTTP port) with the same cookie; DeltaManager / delta replication must have it.
check_replicated() {
  local path=$1 c route other body
  c=$(curl -s -D - -o /dev/null "http://127.0.0.1:$HTTPD_PORT$path" | sed -n 's/^[Ss]et-[Cc]ookie: JSESSIONID=\([^;]*\).*/\1/p' | tr -d '\r')
  route=${c#*.}
  for other in "${!BACKEND_HTTP[@]}"; do [ "$other" != "$route" ] && [ "${other:0:1}" = "${route:0:1}" ] && break; done
  body=$(curl -s -H "Cookie: JSESSIONID=$c" "http://127.0.0.1:${BACKEND_HTTP[$other]}$path")
  echo "$body" | grep -q '"counter":2' || { echo "no replication from $route to $other: $body" >&2; exit 1; }
  echo "replication checked: session made on $route continues on $other" >&2
}

if part tomcat && [ -x $TC/bin/catalina.sh ]; then
  for i in $(seq 1 $RUNS); do
    for be in rjk tomcat; do
      if [ $be = rjk ]; then start_nodes tp 3 sync; path=/session; else start_tomcats 3; path=/session.jsp; fi
      start_httpd tp-$be $M/mod_jk.so
      check_replicated $path
      script=$(sessions $path)
      # Tomcat needs its JIT warm: a longer warm-up for both.
      SECS=$((SECS * 2)) bench "$script" $CONNS > /dev/null
      read -r r c p50 p99 < <(bench "$script" $CONNS)
      RPS[$be]+="$r "; CPU[$be]+="$c "
      printf 'throughput run %d %-6s %10s req/s %6s us CPU/req\n' $i $be $r $c >&2
      stop_httpd tp-$be; stop_backends
    done
  done
  {
    echo "## Session-writing throughput, 3 nodes behind httpd + Debian mod_jk ($CONNS connections)"
    echo
    echo "| backend | req/s | backend CPU µs/req |"
    echo "|---|---|---|"
    echo "| 3 rjk-node, delta, sync | $(echo ${RPS[rjk]} | median) | $(echo ${CPU[rjk]} | median) |"
    echo "| 3 Tomcat 10, DeltaManager, sync acks | $(echo ${RPS[tomcat]} | median) | $(echo ${CPU[tomcat]} | median) |"
    echo
  } >> $out
fi

# --- scaling: 2, 4, 6 nodes ---------------------------------------------------------------
declare -A SRPS SCPU
part scaling && for i in $(seq 1 $RUNS); do
  for n in 2 4 6; do
    start_nodes sc$n $n sync; start_httpd sc-$n "$RJK_SO"
    script=$(sessions /session)
    bench "$script" $CONNS > /dev/null
    read -r r c p50 p99 < <(bench "$script" $CONNS)
    SRPS[$n]+="$r "; SCPU[$n]+="$c "
    printf 'scaling run %d %d nodes %10s req/s %6s us CPU/req\n' $i $n $r $c >&2
    stop_httpd sc-$n; stop_backends
  done
done
part scaling && {
  echo "## All-to-all cost with the cluster size (delta, sync, httpd + mod_rjk, $CONNS connections)"
  echo
  echo "| nodes | req/s | backend CPU µs/req (all nodes) |"
  echo "|---|---|---|"
  for n in 2 4 6; do echo "| $n | $(echo ${SRPS[$n]} | median) | $(echo ${SCPU[$n]} | median) |"; done
  echo
} >> $out
# --- backup vs delta: 2, 4, 6 nodes -------------------------------------------------------
declare -A BRPS BCPU BBYTES
part backup && for i in $(seq 1 $RUNS); do
  for n in 2 4 6; do
    for mode in sync backup; do
      start_nodes bk$n$mode $n $mode; start_httpd bk-$n-$mode "$RJK_SO"
      script=$(sessions /session)
      bench "$script" $CONNS > /dev/null
      b0=$(repl_bytes)
      read -r r c p50 p99 < <(bench "$script" $CONNS)
      b1=$(repl_bytes)
      bpr=$(( (b1 - b0) / $(cat $S/reqs) ))
      BRPS[$n$mode]+="$r "; BCPU[$n$mode]+="$c "; BBYTES[$n$mode]+="$bpr "
      printf 'backup run %d %d nodes %-6s %10s req/s %6s us CPU/req %6s B/req\n' $i $n $mode $r $c $bpr >&2
      stop_httpd bk-$n-$mode; stop_backends
    done
  done
  if [ -x $TC/bin/catalina.sh ]; then
    MANAGER=BackupManager start_tomcats 3; start_httpd bk-tc "$RJK_SO"
    script=$(sessions /session.jsp)
    SECS=$((SECS * 2)) bench "$script" $CONNS > /dev/null
    read -r r c p50 p99 < <(bench "$script" $CONNS)
    BRPS[tc]+="$r "; BCPU[tc]+="$c "
    printf 'backup run %d 3 Tomcat BackupManager %10s req/s %6s us CPU/req\n' $i $r $c >&2
    stop_httpd bk-tc; stop_backends
  fi
done
part backup && {
  echo "## delta vs backup with the cluster size (sync, httpd + mod_rjk, $CONNS connections)"
  echo
  echo "| nodes | mode | req/s | backend CPU µs/req (all nodes) | replication bytes/req |"
  echo "|---|---|---|---|---|"
  for n in 2 4 6; do for mode in sync backup; do
    label=$([ $mode = sync ] && echo delta || echo backup)
    echo "| $n | $label | $(echo ${BRPS[$n$mode]} | median) | $(echo ${BCPU[$n$mode]} | median) | $(echo ${BBYTES[$n$mode]} | median) |"
  done; done
  [ -n "${BRPS[tc]:-}" ] && echo "| 3 | Tomcat 10 BackupManager | $(echo ${BRPS[tc]} | median) | $(echo ${BCPU[tc]} | median) | — |"
  echo
} >> $out
cat $out
