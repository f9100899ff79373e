#!/usr/bin/env bash
# A real single-node Apache Kafka (KRaft, broker+controller in one JVM) on 127.0.0.1,
# for development, tests and CI. No Docker, no tarball: the broker's jars come from
# Maven Central (see pom.xml beside this file), cached per version.
#
#   deploy/local-kafka/kafka.sh fetch|start|stop|restart|status|reset|topics ...|logs|env
#
# Only the line KAFKA_BOOTSTRAP_SERVERS=host:port goes to stdout (start/env), every
# other message to stderr, so  export "$(deploy/local-kafka/kafka.sh start)"  works.
# See README.md beside this file.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$HERE/pom.xml"

# The ONE pinned version lives in pom.xml (<kafka.version>).
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)"
[[ -n "$KAFKA_VERSION" ]] || { echo "kafka.sh: no <kafka.version> in $POM" >&2; exit 2; }

CACHE_ROOT="${STREAMSTATS_CACHE:-${HOME:-/tmp}/.cache/streamstats}"
KAFKA_HOME="$CACHE_ROOT/kafka-$KAFKA_VERSION"
LIBS="$KAFKA_HOME/libs"
STAMP="$KAFKA_HOME/.fetched"          # written last by fetch; holds the pom's checksum

DATA="${STREAMSTATS_KAFKA_DATA:-/tmp/streamstats-kafka}"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
HOST=127.0.0.1
LOCAL_BOOTSTRAP="$HOST:$PORT"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-180}"  # seconds; a broker with thousands of partitions loads them first
STOP_TIMEOUT=30                              # seconds before SIGKILL
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"

PIDFILE="$DATA/kafka.pid"
PROPS="$DATA/server.properties"
LOG4J="$DATA/log4j2.xml"
TOOLS_LOG4J="$DATA/tools-log4j2.xml"
LOGDIRS="$DATA/kraft"                 # Kafka's log.dirs: topic data + cluster metadata
SERVER_LOG="$DATA/server.log"         # broker log (log4j2)
CONSOLE_LOG="$DATA/console.log"       # JVM stdout/stderr (crashes, GC errors)

say() { echo "kafka.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# ---------------------------------------------------------------- checks

need_java() {
  command -v java >/dev/null 2>&1 || die "java not found: Kafka $KAFKA_VERSION needs Java 17+ (Debian: apt-get install -y openjdk-17-jre-headless)"
  local v
  v="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  v="${v%%.*}"
  if [[ -n "$v" && "$v" -lt 17 ]]; then
    die "java $v found, Kafka $KAFKA_VERSION needs Java 17+"
  fi
}

pom_sum() { sha256sum "$POM" | cut -d' ' -f1; }

is_fetched() { [[ -f "$STAMP" && -d "$LIBS" && "$(cat "$STAMP")" == "$(pom_sum)" ]]; }

# Real Kafka protocol round trip, no JVM needed (milliseconds): send an ApiVersions v0
# request (api_key 18, correlation id 7) and check that the answer echoes the
# correlation id. Usage: kafka_answers HOST PORT
kafka_answers() {
  local h="$1" p="$2" out
  out="$(timeout 3 bash -c '
      exec 3<>"/dev/tcp/$1/$2" || exit 1
      printf "\x00\x00\x00\x0f\x00\x12\x00\x00\x00\x00\x00\x07\x00\x05probe" >&3
      head -c 8 <&3 | od -An -tx1 | tr -d " \n"
    ' _ "$h" "$p" 2>/dev/null)" || return 1
  [[ "${#out}" -eq 16 && "${out:8:8}" == "00000007" ]]
}

# Ready = a Metadata v4 request (api_key 3; all Kafka 1.0 .. 4.x brokers serve it) lists at
# least one broker, i.e. this broker is registered and serves metadata. Usage: kafka_ready HOST PORT
kafka_ready() {
  local h="$1" p="$2" out
  out="$(timeout 3 bash -c '
      exec 3<>"/dev/tcp/$1/$2" || exit 1
      printf "\x00\x00\x00\x14\x00\x03\x00\x04\x00\x00\x00\x07\x00\x05probe\x00\x00\x00\x00\x00" >&3
      head -c 16 <&3 | od -An -tx1 | tr -d " \n"
    ' _ "$h" "$p" 2>/dev/null)" || return 1
  # size(4) correlation_id(4)=7 throttle_time_ms(4) brokers.length(4)>0
  [[ "${#out}" -eq 32 && "${out:8:8}" == "00000007" && "${out:24:8}" != "00000000" ]]
}

port_in_use() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

# Does any host:port of a bootstrap list (a,b,c; optional PLAINTEXT:// prefix; [v6]:port) answer?
bootstrap_answers() {
  local item hp h p
  local -a items
  IFS=',' read -r -a items <<<"$1"
  for item in "${items[@]}"; do
    hp="${item//[[:space:]]/}"; hp="${hp#*://}"
    [[ -n "$hp" ]] || continue
    p="${hp##*:}"; h="${hp%:*}"; h="${h#[}"; h="${h%]}"
    [[ -n "$h" && "$p" =~ ^[0-9]+$ ]] || continue
    kafka_answers "$h" "$p" && return 0
  done
  return 1
}

# The bootstrap servers given in the environment, unless they just name this script's broker.
external_bootstrap() {
  local b="${KAFKA_BOOTSTRAP_SERVERS:-}"
  case "$b" in
    ""|"$LOCAL_BOOTSTRAP"|"localhost:$PORT"|"PLAINTEXT://$LOCAL_BOOTSTRAP"|"PLAINTEXT://localhost:$PORT") return 1 ;;
  esac
  printf '%s\n' "$b"
}

# pid of the broker this script started (pid file, else a process running our server.properties)
broker_pid() {
  local pid="" f
  if [[ -f "$PIDFILE" ]]; then
    pid="$(tr -dc '0-9' <"$PIDFILE")"
    if [[ -n "$pid" ]] && is_our_broker "$pid"; then echo "$pid"; return 0; fi
  fi
  for f in /proc/[0-9]*/cmdline; do
    pid="${f#/proc/}"; pid="${pid%/cmdline}"
    if is_our_broker "$pid"; then echo "$pid"; return 0; fi
  done
  return 1
}

is_our_broker() {
  local cmd
  cmd="$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline")" || return 1
  [[ "$cmd" == *" kafka.Kafka $PROPS"* ]]
}

with_lock() { # serialise start/stop/reset between concurrent callers (e.g. parallel CI jobs)
  mkdir -p "$DATA"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$DATA/.kafka.sh.lock"
    flock -w 120 9 || die "another kafka.sh holds $DATA/.kafka.sh.lock for over 120 s"
  fi
  "$@"
}

# ---------------------------------------------------------------- fetch

cmd_fetch() {
  if is_fetched; then
    say "Kafka $KAFKA_VERSION already fetched: $LIBS"
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found: fetch needs Maven 3.6+ (Debian: apt-get install -y maven)"
  need_java
  say "fetching Kafka $KAFKA_VERSION and its runtime dependencies from Maven Central into $LIBS ..."
  mkdir -p "$KAFKA_HOME"
  local tmp
  tmp="$(mktemp -d "$KAFKA_HOME/.libs.XXXXXX")"
  # shellcheck disable=SC2086
  if ! mvn -B -q -Dstyle.color=never -f "$POM" ${STREAMSTATS_MVN_ARGS:-} \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" >"$tmp.log" 2>&1; then
    cat "$tmp.log" >&2
    rm -rf "$tmp" "$tmp.log"
    die "mvn could not fetch Kafka $KAFKA_VERSION (see above). Check that Maven Central is reachable (mvn dependency:get -Dartifact=org.apache.kafka:kafka_2.13:$KAFKA_VERSION)."
  fi
  rm -f "$tmp.log"
  [[ -n "$(compgen -G "$tmp/kafka_2.13-$KAFKA_VERSION.jar")" ]] || { rm -rf "$tmp"; die "mvn ran but kafka_2.13-$KAFKA_VERSION.jar is missing"; }
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  pom_sum >"$STAMP"
  say "fetched $(ls "$LIBS" | wc -l) jars ($(du -sh "$LIBS" | cut -f1)) into $LIBS"
}

# ---------------------------------------------------------------- config files

write_configs() {
  mkdir -p "$DATA" "$LOGDIRS"
  cat >"$PROPS" <<EOF
# Written by deploy/local-kafka/kafka.sh on every start; edits here are lost.
# Single-node KRaft: this JVM is both broker and (the only) controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$LOGDIRS

# one node: every internal topic has one replica (and few partitions: faster first use)
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1

num.partitions=1
auto.create.topics.enable=true
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
# after a crash (kill -9) the controller fences the dead incarnation only when its session
# expires: 4 s here instead of 9 s, so a restart after a crash is ready sooner
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000
EOF
  if [[ -n "${KAFKA_EXTRA_PROPERTIES:-}" ]]; then
    printf '\n# from KAFKA_EXTRA_PROPERTIES\n%s\n' "$KAFKA_EXTRA_PROPERTIES" >>"$PROPS"
  fi

  cat >"$LOG4J" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by deploy/local-kafka/kafka.sh: broker logs go to server.log, not the console. -->
<Configuration status="WARN">
  <Appenders>
    <RollingFile name="server" fileName="${sys:kafka.logs.dir}/server.log"
                 filePattern="${sys:kafka.logs.dir}/server.log.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <Policies><SizeBasedTriggeringPolicy size="20 MB"/></Policies>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="server"/></Root>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Logger name="org.apache.kafka.clients" level="WARN"/>
  </Loggers>
</Configuration>
EOF

  write_tool_configs
}

write_tool_configs() {
  mkdir -p "$DATA"
  cat >"$TOOLS_LOG4J" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <Console name="stderr" target="SYSTEM_ERR"><PatternLayout pattern="%p %m (%c)%n"/></Console>
  </Appenders>
  <Loggers>
    <Root level="ERROR"><AppenderRef ref="stderr"/></Root>
  </Loggers>
</Configuration>
EOF
}

# java for short-lived tools: small heap, fast start-up
tool_java() {
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
       -Dlog4j2.configurationFile="$TOOLS_LOG4J" -cp "$LIBS/*" "$@"
}

# what StorageTool random-uuid prints: 16 random bytes, URL-safe base64 without padding
# (Kafka avoids ids that start with '-', so do we)
new_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* ]] && { echo "$id"; return; }
  done
}

format_storage() {
  if [[ -f "$LOGDIRS/meta.properties" ]]; then
    return 0
  fi
  local cid out
  cid="$(new_cluster_id)"
  say "formatting storage in $LOGDIRS (cluster id $cid)"
  if ! out="$(tool_java kafka.tools.StorageTool format -t "$cid" -c "$PROPS" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "formatting $LOGDIRS failed (see above; a bad KAFKA_EXTRA_PROPERTIES line? a damaged $DATA? then: $0 reset)"
  fi
}

# ---------------------------------------------------------------- start / stop

print_bootstrap() { echo "KAFKA_BOOTSTRAP_SERVERS=$1"; }

fail_start() {
  say "$1"
  if [[ -s "$SERVER_LOG" ]]; then
    say "---- last lines of $SERVER_LOG ----"
    tail -n 40 "$SERVER_LOG" >&2
  fi
  if [[ -s "$CONSOLE_LOG" ]]; then
    say "---- last lines of $CONSOLE_LOG ----"
    tail -n 20 "$CONSOLE_LOG" >&2
  fi
  say "next: read $SERVER_LOG; check that nothing else uses ports $PORT/$CONTROLLER_PORT (ss -ltnp);"
  say "      if the data is damaged, '$0 reset' wipes $DATA and starts afresh;"
  say "      another port: KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093 $0 start"
  exit 1
}

cmd_start() {
  local ext
  if ext="$(external_bootstrap)"; then
    if bootstrap_answers "$ext"; then
      say "using KAFKA_BOOTSTRAP_SERVERS from the environment: $ext"
      print_bootstrap "$ext"
      return 0
    fi
    die "KAFKA_BOOTSTRAP_SERVERS=$ext is set but no Kafka answers there. Start that broker, or unset KAFKA_BOOTSTRAP_SERVERS to get a local one."
  fi
  with_lock start_local
}

start_local() {
  local pid
  if kafka_answers "$HOST" "$PORT"; then
    if ! pid="$(broker_pid)"; then
      say "a Kafka broker already answers on $LOCAL_BOOTSTRAP (not started by this script); reusing it"
      print_bootstrap "$LOCAL_BOOTSTRAP"
      return 0
    fi
    if kafka_ready "$HOST" "$PORT"; then
      say "Kafka already running (pid $pid, data $DATA)"
      print_bootstrap "$LOCAL_BOOTSTRAP"
      return 0
    fi
  fi

  cmd_fetch
  need_java

  if pid="$(broker_pid)"; then
    say "broker pid $pid is running but does not answer yet; waiting for it"
  else
    if port_in_use "$HOST" "$PORT"; then
      die "port $PORT on $HOST is taken by something that is not Kafka; free it or set KAFKA_PORT"
    fi
    if port_in_use "$HOST" "$CONTROLLER_PORT"; then
      die "port $CONTROLLER_PORT on $HOST (KRaft controller) is taken; free it or set KAFKA_CONTROLLER_PORT"
    fi
    write_configs
    format_storage
    rm -f "$PIDFILE"
    say "starting Kafka $KAFKA_VERSION on $LOCAL_BOOTSTRAP (data $DATA, log $SERVER_LOG)"
    # setsid: own session, so the broker survives the shell/job that started it.
    # The inner bash writes its own pid and then becomes java (exec), so the pid file is java's.
    # shellcheck disable=SC2086
    nohup setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PIDFILE" \
      java $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
        ${KAFKA_JVM_OPTS:-} \
        -Dkafka.logs.dir="$DATA" -Dlog4j2.configurationFile="$LOG4J" \
        -cp "$LIBS/*" kafka.Kafka "$PROPS" \
      >"$CONSOLE_LOG" 2>&1 </dev/null 9>&- &
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do [[ -s "$PIDFILE" ]] && break; sleep 0.1; done
    pid="$(tr -dc '0-9' <"$PIDFILE" 2>/dev/null || true)"
    [[ -n "$pid" ]] || fail_start "the broker process did not start"
  fi

  # wait until a Metadata request lists the broker (bash + /dev/tcp: no JVM per poll)
  local deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PIDFILE"
      fail_start "the broker (pid $pid) exited during start-up"
    fi
    if kafka_ready "$HOST" "$PORT"; then
      say "Kafka $KAFKA_VERSION is up (pid $pid)"
      print_bootstrap "$LOCAL_BOOTSTRAP"
      return 0
    fi
    sleep 0.2
  done
  fail_start "Kafka did not answer on $LOCAL_BOOTSTRAP within ${START_TIMEOUT}s (pid $pid is left running; '$0 stop' ends it)"
}

cmd_stop() { with_lock stop_local; }

stop_local() {
  local pid
  if ! pid="$(broker_pid)"; then
    rm -f "$PIDFILE"
    if kafka_answers "$HOST" "$PORT"; then
      say "no broker started by this script (data $DATA) runs; the one on $LOCAL_BOOTSTRAP was started elsewhere and is left alone"
    else
      say "Kafka is not running"
    fi
    return 0
  fi
  say "stopping Kafka (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    say "still running after ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$PIDFILE"
  say "stopped"
}

cmd_status() {
  local ext pid
  if ext="$(external_bootstrap)"; then
    if bootstrap_answers "$ext"; then say "Kafka answers at $ext (from KAFKA_BOOTSTRAP_SERVERS)"; return 0; fi
    say "Kafka does NOT answer at $ext (from KAFKA_BOOTSTRAP_SERVERS)"; return 3
  fi
  if kafka_answers "$HOST" "$PORT"; then
    if pid="$(broker_pid)"; then
      say "Kafka answers on $LOCAL_BOOTSTRAP (pid $pid, data $DATA)"
    else
      say "Kafka answers on $LOCAL_BOOTSTRAP (not started by this script)"
    fi
    return 0
  fi
  if pid="$(broker_pid)"; then
    say "Kafka process $pid runs but does not answer on $LOCAL_BOOTSTRAP (starting, stopping or stuck; see $SERVER_LOG)"
  else
    say "Kafka is not running on $LOCAL_BOOTSTRAP"
  fi
  return 3
}

cmd_reset() {
  with_lock stop_local
  case "$DATA" in
    ""|"/"|"${HOME:-/}"|"${HOME:-/}/") die "refusing to delete '$DATA'" ;;
  esac
  rm -rf "$DATA"
  say "deleted $DATA"
}

cmd_topics() {
  is_fetched || cmd_fetch
  [[ -f "$TOOLS_LOG4J" ]] || write_tool_configs
  local a bs
  bs="$(external_bootstrap || echo "$LOCAL_BOOTSTRAP")"
  local -a args=(--bootstrap-server "$bs")
  for a in "$@"; do
    [[ "$a" == "--bootstrap-server" || "$a" == --bootstrap-server=* ]] && args=()
  done
  # fail at once instead of the admin client's 60 s time-out
  if [[ ${#args[@]} -gt 0 ]] && ! bootstrap_answers "$bs"; then
    die "no Kafka answers at $bs; run: $0 start"
  fi
  exec java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$TOOLS_LOG4J" \
    -cp "$LIBS/*" org.apache.kafka.tools.TopicCommand "${args[@]}" "$@"
}

# run any Kafka main class with the broker's class path, e.g.
#   kafka.sh run org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server 127.0.0.1:9092 --list
cmd_run() {
  [[ $# -ge 1 ]] || die "usage: $0 run MAIN_CLASS [ARGS...]"
  is_fetched || cmd_fetch
  [[ -f "$TOOLS_LOG4J" ]] || write_tool_configs
  exec java -Xmx256m -Dlog4j2.configurationFile="$TOOLS_LOG4J" -cp "$LIBS/*" "$@"
}

usage() {
  cat >&2 <<EOF
usage: $0 COMMAND
  fetch          download Kafka $KAFKA_VERSION jars into $LIBS (once)
  start          ensure a broker answers; prints KAFKA_BOOTSTRAP_SERVERS=... on stdout
  stop           stop the broker this script started (data kept)
  restart        stop, then start
  status         exit 0 if Kafka answers, 3 if not
  reset          stop and delete the data folder $DATA
  topics ARGS    kafka-topics (TopicCommand), --bootstrap-server added, e.g.
                 $0 topics --create --topic t --partitions 3
  run CLASS ARGS any Kafka main class on the broker's class path
  logs           follow the broker log
  env            print KAFKA_BOOTSTRAP_SERVERS=... (no checks)
environment: KAFKA_BOOTSTRAP_SERVERS, KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
  STREAMSTATS_CACHE (~/.cache/streamstats), STREAMSTATS_KAFKA_DATA (/tmp/streamstats-kafka),
  KAFKA_HEAP_OPTS, KAFKA_JVM_OPTS, KAFKA_EXTRA_PROPERTIES, KAFKA_START_TIMEOUT (180)
EOF
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    status) cmd_status ;;
    reset) cmd_reset ;;
    topics) cmd_topics "$@" ;;
    run) cmd_run "$@" ;;
    logs) exec tail -n 50 -F "$SERVER_LOG" ;;
    env) print_bootstrap "$(external_bootstrap || echo "$LOCAL_BOOTSTRAP")" ;;
    -h|--help|help) usage ;;
    *) usage; exit 2 ;;
  esac
}

main "$@"
