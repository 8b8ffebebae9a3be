#!/usr/bin/env bash
# Local Apache Kafka (KRaft, one combined broker+controller node) for development and tests.
# Real Apache Kafka from Maven Central (deploy/kafka/pom.xml), run on the JVM: no Docker needed.
#
#   deploy/kafka/kafka.sh fetch    jars into the cache (once; later calls reuse it)
#   deploy/kafka/kafka.sh start    format storage if needed, start in the background, wait until ready
#   deploy/kafka/kafka.sh stop     SIGTERM, wait, SIGKILL as a last resort
#   deploy/kafka/kafka.sh status   exit 0 when running, 3 when not
#   deploy/kafka/kafka.sh clean    stop and delete $KAFKA_STATE_DIR (data, logs, pid)
#
# Environment (defaults):
#   KAFKA_HOST=127.0.0.1  KAFKA_PORT=9092  KAFKA_CONTROLLER_PORT=9093
#   KAFKA_STATE_DIR=<repo>/.local/kafka    holds data/, logs/server.log, logs/kafka.out, kafka.pid,
#                                          server.properties
#   KAFKA_CACHE_DIR=${XDG_CACHE_HOME:-$HOME/.cache}/salespulse/kafka-<version>   jars, outside the repo
#   KAFKA_HEAP_OPTS="-Xms128m -Xmx512m"  KAFKA_JVM_OPTS=<G1, sized for 2 cores>
#   KAFKA_START_TIMEOUT=90  KAFKA_STOP_TIMEOUT=30   (seconds)
#   KAFKA_SASL_SCRAM_USER, KAFKA_SASL_SCRAM_PASSWORD   both set: clients must authenticate
#                                          (SASL_PLAINTEXT listener, SCRAM-SHA-512; this user is
#                                          created at storage format and is also the inter-broker
#                                          user); unset: PLAINTEXT, no authentication
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
POM="$HERE/pom.xml"
LOG4J_CONFIG="$HERE/log4j2.yaml"
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")

KAFKA_HOST=${KAFKA_HOST:-127.0.0.1}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
KAFKA_STATE_DIR=${KAFKA_STATE_DIR:-$REPO/.local/kafka}
KAFKA_CACHE_DIR=${KAFKA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/salespulse/kafka-$KAFKA_VERSION}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}
KAFKA_JVM_OPTS=${KAFKA_JVM_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:ParallelGCThreads=2 -XX:ConcGCThreads=1 -XX:CICompilerCount=2 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
KAFKA_SASL_SCRAM_USER=${KAFKA_SASL_SCRAM_USER:-}
KAFKA_SASL_SCRAM_PASSWORD=${KAFKA_SASL_SCRAM_PASSWORD:-}

mkdir -p "$(dirname "$KAFKA_STATE_DIR")"
KAFKA_STATE_DIR=$(cd "$(dirname "$KAFKA_STATE_DIR")" && pwd)/$(basename "$KAFKA_STATE_DIR")
DATA_DIR="$KAFKA_STATE_DIR/data"
LOG_DIR="$KAFKA_STATE_DIR/logs"
PID_FILE="$KAFKA_STATE_DIR/kafka.pid"
CONFIG="$KAFKA_STATE_DIR/server.properties"
# Unique marker on the java command line: tells our broker apart from any other java process.
MARKER="-Dsalespulse.kafka.state=$KAFKA_STATE_DIR"
BOOTSTRAP="$KAFKA_HOST:$KAFKA_PORT"

say() { echo "kafka.sh: $*"; }
die() { echo "kafka.sh: error: $*" >&2; exit 1; }

# --- processes ---------------------------------------------------------------------------------

is_ours() {  # pid alive (not a zombie) and running our broker
  local pid=$1 state
  [[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/cmdline ]] || return 1
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $state != Z ]] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$MARKER"
}

running_pid() {  # prints the broker's pid; the pid file first, then a scan (pid file lost)
  local pid f
  if [[ -f $PID_FILE ]]; then
    pid=$(<"$PID_FILE")
    if is_ours "$pid"; then echo "$pid"; return 0; fi
  fi
  for f in $(grep -lsaF -- "$MARKER" /proc/[0-9]*/cmdline); do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    if is_ours "$pid"; then echo "$pid"; return 0; fi
  done
  return 1
}

tcp_open() {  # host port
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

speaks_kafka() {  # ApiVersions v0 request; ready when the answer has our correlation id, error 0
  local reply
  reply=$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "\x00\x00\x00\x0c\x00\x12\x00\x00\x00\x00\x00\x07\x00\x02sp" >&3
    head -c 10 <&3 | od -An -tx1' _ "$KAFKA_HOST" "$KAFKA_PORT" 2>/dev/null) || return 1
  reply=${reply//[[:space:]]/}  # size(4) correlation_id(4) error_code(2), in hex
  [[ $reply == ????????000000070000 ]]
}

log_tail() {
  echo "----- last lines of $LOG_DIR/server.log -----" >&2
  tail -n 40 "$LOG_DIR/server.log" >&2 2>/dev/null || echo "(no server.log)" >&2
  if [[ -s $LOG_DIR/kafka.out ]]; then
    echo "----- last lines of $LOG_DIR/kafka.out -----" >&2
    tail -n 20 "$LOG_DIR/kafka.out" >&2
  fi
}

with_lock() {  # serialize start/stop/clean on one state dir (e.g. make up while tests run)
  mkdir -p "$KAFKA_STATE_DIR"
  exec 8>"$KAFKA_STATE_DIR/.lock"
  flock -w 120 8 || die "another kafka.sh holds $KAFKA_STATE_DIR/.lock"
}

# --- commands ----------------------------------------------------------------------------------

fetch() {
  local want stamp tmp t0
  want="$KAFKA_VERSION $(sha256sum "$POM" | cut -d' ' -f1)"
  stamp="$KAFKA_CACHE_DIR/.complete"
  [[ -f $stamp && $(<"$stamp") == "$want" ]] && return 0
  command -v java >/dev/null || die "java not found (Java 17+ is required)"
  command -v mvn >/dev/null || die "mvn not found (Maven is required to fetch Kafka once)"
  mkdir -p "$(dirname "$KAFKA_CACHE_DIR")"
  exec 9>"$KAFKA_CACHE_DIR.lock"
  flock -w 600 9 || die "timed out waiting for another fetch ($KAFKA_CACHE_DIR.lock)"
  if [[ -f $stamp && $(<"$stamp") == "$want" ]]; then exec 9>&-; return 0; fi
  say "fetching Apache Kafka $KAFKA_VERSION jars (Maven) into $KAFKA_CACHE_DIR ..."
  t0=$SECONDS
  rm -rf "$KAFKA_CACHE_DIR".tmp.*  # left by an interrupted fetch (we hold the lock)
  tmp=$(mktemp -d "$KAFKA_CACHE_DIR.tmp.XXXXXX")
  if ! mvn -q -B -f "$POM" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DoutputDirectory="$tmp" -DincludeScope=runtime >"$KAFKA_CACHE_DIR.fetch.log" 2>&1; then
    cat "$KAFKA_CACHE_DIR.fetch.log" >&2
    rm -rf "$tmp"
    die "maven could not resolve $POM (output above, also in $KAFKA_CACHE_DIR.fetch.log)"
  fi
  ls "$tmp"/kafka_2.13-"$KAFKA_VERSION".jar >/dev/null || { rm -rf "$tmp"; die "no broker jar fetched"; }
  echo "$want" >"$tmp/.complete"
  rm -rf "$KAFKA_CACHE_DIR"
  mv "$tmp" "$KAFKA_CACHE_DIR"
  exec 9>&-
  say "fetched $(ls "$KAFKA_CACHE_DIR" | wc -l) jars in $((SECONDS - t0))s"
}

sasl_scram() {  # true when KAFKA_SASL_SCRAM_USER/PASSWORD ask for authenticated clients
  if [[ -n $KAFKA_SASL_SCRAM_USER && -n $KAFKA_SASL_SCRAM_PASSWORD ]]; then return 0; fi
  if [[ -n $KAFKA_SASL_SCRAM_USER$KAFKA_SASL_SCRAM_PASSWORD ]]; then
    die "set both KAFKA_SASL_SCRAM_USER and KAFKA_SASL_SCRAM_PASSWORD, or neither"
  fi
  return 1
}

scram_format_args() {  # sets SCRAM_FORMAT_ARGS: StorageTool format arguments creating the user
  SCRAM_FORMAT_ARGS=()
  sasl_scram || return 0
  # Both values end up inside [name=...,password=...] and a JAAS string "...": keep them plain.
  [[ $KAFKA_SASL_SCRAM_USER$KAFKA_SASL_SCRAM_PASSWORD =~ ^[A-Za-z0-9._@+-]+$ ]] \
    || die "KAFKA_SASL_SCRAM_USER/PASSWORD may hold only letters, digits and ._@+-"
  SCRAM_FORMAT_ARGS=(--add-scram
    "SCRAM-SHA-512=[name=$KAFKA_SASL_SCRAM_USER,password=$KAFKA_SASL_SCRAM_PASSWORD]")
}

listener_config_lines() {  # the client listener: PLAINTEXT, or SASL_PLAINTEXT with SCRAM-SHA-512
  local client=PLAINTEXT
  if sasl_scram; then client=SASL_PLAINTEXT; fi
  cat <<EOF
listeners=$client://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=$client://$KAFKA_HOST:$KAFKA_PORT
listener.security.protocol.map=$client:$client,CONTROLLER:PLAINTEXT
inter.broker.listener.name=$client
controller.listener.names=CONTROLLER
EOF
  sasl_scram || return 0
  # Brokers talk to each other as the same SCRAM user (created at format time, so it exists before
  # the first start); the controller listener stays PLAINTEXT on loopback.
  cat <<EOF
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$KAFKA_SASL_SCRAM_USER" password="$KAFKA_SASL_SCRAM_PASSWORD";
EOF
}

node_config_lines() {  # node.id, controller.quorum.voters: what every node's config starts with
  cat <<EOF
process.roles=broker,controller
node.id=$1
controller.quorum.voters=$2
EOF
  listener_config_lines
  cat <<EOF
log.dirs=$DATA_DIR
# Topics are created explicitly (salespulse topics create).
auto.create.topics.enable=false
num.partitions=1
group.initial.rebalance.delay.ms=0
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=16777216
num.recovery.threads.per.data.dir=1
EOF
}

write_config() {
  {
    echo "# Generated by deploy/kafka/kafka.sh on every start; edit the script, not this file."
    node_config_lines 1 "1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT"
    cat <<EOF
# One node: everything replicated once.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Sized for a 2-core dev box / CI runner.
num.network.threads=2
num.io.threads=4
background.threads=4
EOF
  } >"$CONFIG"
}

new_cluster_id() {
  # A Kafka cluster id is 16 random bytes, base64url without padding (what `random-uuid` prints);
  # one starting with '-' would read as an option, so draw again.
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ $id != -* ]] && break
  done
  echo "$id"
}

format_storage() {
  [[ -f $DATA_DIR/meta.properties ]] && return 0
  local cluster_id
  cluster_id=$(new_cluster_id)
  scram_format_args
  say "formatting KRaft storage in $DATA_DIR (cluster id $cluster_id)"
  mkdir -p "$DATA_DIR"
  java -Xmx256m -cp "$KAFKA_CACHE_DIR/*" kafka.tools.StorageTool format -t "$cluster_id" \
      -c "$CONFIG" --ignore-formatted "${SCRAM_FORMAT_ARGS[@]}" >"$LOG_DIR/format.log" 2>&1 8>&- \
    || { cat "$LOG_DIR/format.log" >&2; die "storage format failed"; }
}

wait_ready() {  # pid t0
  local pid=$1 t0=$2 deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while :; do
    if ! is_ours "$pid"; then
      log_tail
      die "broker (pid $pid) exited during startup"
    fi
    if grep -qF "Kafka Server started" "$LOG_DIR/server.log" 2>/dev/null && speaks_kafka; then
      say "ready on $BOOTSTRAP (pid $pid, $((SECONDS - t0))s, logs in $LOG_DIR)"
      return 0
    fi
    if ((SECONDS >= deadline)); then
      log_tail
      die "broker (pid $pid) not ready on $BOOTSTRAP after ${KAFKA_START_TIMEOUT}s; still running, stop it with: $0 stop"
    fi
    sleep 0.3
  done
}

launch_jvm() {  # start the broker of $CONFIG in the background; its pid lands in $PID_FILE
  # Fresh log per run: readiness is read from it.
  for f in server.log kafka.out; do
    if [[ -f $LOG_DIR/$f ]]; then mv -f "$LOG_DIR/$f" "$LOG_DIR/$f.prev"; fi
  done
  # New session (setsid): Ctrl-C in the calling terminal does not reach the broker.
  # The lock fds (8, 9) are closed for it, or the broker would hold the lock for its lifetime.
  # No log4j shutdown hook: Kafka logs its own shutdown, which would otherwise go to stderr.
  # shellcheck disable=SC2086  # the *_OPTS are word lists
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PID_FILE" \
    java $KAFKA_HEAP_OPTS $KAFKA_JVM_OPTS "$MARKER" \
    -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.logs.dir="$LOG_DIR" \
    -Dlog4j2.shutdownHookEnabled=false \
    -cp "$KAFKA_CACHE_DIR/*" kafka.Kafka "$CONFIG" \
    </dev/null >"$LOG_DIR/kafka.out" 2>&1 8>&- 9>&- &
  for _ in $(seq 50); do [[ -s $PID_FILE ]] && return 0; sleep 0.1; done
  return 1
}

start() {
  local pid t0=$SECONDS
  fetch
  with_lock
  if pid=$(running_pid); then
    echo "$pid" >"$PID_FILE"
    say "already running (pid $pid)"
    wait_ready "$pid" "$t0"
    return 0
  fi
  rm -f "$PID_FILE"
  tcp_open "$KAFKA_HOST" "$KAFKA_PORT" \
    && die "$BOOTSTRAP is already taken by another process (not this state dir: $KAFKA_STATE_DIR)"
  tcp_open "$KAFKA_HOST" "$KAFKA_CONTROLLER_PORT" \
    && die "$KAFKA_HOST:$KAFKA_CONTROLLER_PORT (controller) is already taken by another process"
  mkdir -p "$DATA_DIR" "$LOG_DIR"
  write_config
  format_storage
  say "starting Apache Kafka $KAFKA_VERSION on $BOOTSTRAP (controller :$KAFKA_CONTROLLER_PORT)$(
    if sasl_scram; then echo ", clients SASL_PLAINTEXT SCRAM-SHA-512"; fi)"
  launch_jvm || die "the broker did not start"
  pid=$(<"$PID_FILE")
  wait_ready "$pid" "$t0"
}

stop() {
  local pid
  with_lock
  if ! pid=$(running_pid); then
    rm -f "$PID_FILE"
    say "not running ($KAFKA_STATE_DIR)"
    return 0
  fi
  say "stopping broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq $((KAFKA_STOP_TIMEOUT * 10))); do is_ours "$pid" || break; sleep 0.1; done
  if is_ours "$pid"; then
    say "still running after ${KAFKA_STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 50); do is_ours "$pid" || break; sleep 0.1; done
    is_ours "$pid" && die "could not stop pid $pid"
  fi
  rm -f "$PID_FILE"
  say "stopped"
}

status() {
  local pid
  if pid=$(running_pid); then
    if speaks_kafka; then
      say "running: pid $pid, bootstrap $BOOTSTRAP, state $KAFKA_STATE_DIR"
    else
      say "starting or unhealthy: pid $pid, $BOOTSTRAP does not answer yet (logs in $LOG_DIR)"
    fi
    return 0
  fi
  say "stopped ($KAFKA_STATE_DIR)"
  return 3
}

clean() {
  stop
  case $KAFKA_STATE_DIR in
    "" | / | "$HOME" | "$REPO") die "refusing to delete KAFKA_STATE_DIR=$KAFKA_STATE_DIR" ;;
  esac
  rm -rf "$KAFKA_STATE_DIR"
  say "deleted $KAFKA_STATE_DIR"
}

# Sourced (deploy/kafka/cluster.sh does, once per node): define the settings and functions only.
if [[ ${BASH_SOURCE[0]} != "$0" ]]; then return 0; fi

case ${1:-} in
  fetch) fetch; say "jars in $KAFKA_CACHE_DIR" ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  clean) clean ;;
  *) sed -n '2,21s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
