#!/usr/bin/env bash
# The whole salespulse stack on this machine, in the background: Kafka, N workers, the ingest API.
#
#   deploy/local/stack.sh up       start what is not running yet; return once everything is ready
#   deploy/local/stack.sh down     stop workers, ingest, then the local Kafka (SIGTERM, then SIGKILL)
#   deploy/local/stack.sh clean    down, then delete Kafka's data (.local/kafka) and worker state
#   deploy/local/stack.sh status   what runs, and whether it answers
#
# Environment:
#   WORKERS=1                    workers to start; worker i serves HTTP on port 6066+i
#   SALESPULSE_KAFKA_BOOTSTRAP   use this existing cluster; no local Kafka is started or stopped
#   KAFKA_PORT=9092 ...          passed on to deploy/kafka/kafka.sh for the local broker
#   KAFKA_SASL_SCRAM_USER/_PASSWORD   local broker with SASL/SCRAM (kafka.sh); the processes
#                                then log in as that user (SALESPULSE_KAFKA_SASL_* unless given).
#                                External cluster: SALESPULSE_KAFKA_SECURITY_PROTOCOL etc.
#                                (docs/OPERATIONS.md, "Kafka security")
#   INGEST_PORT=8080  STACK_READY_TIMEOUT=90 (s)  STACK_STOP_TIMEOUT=30 (s)
#
# Files, all under <repo>/.local/:
#   logs/    ingest.log, ingest.pid, worker-<i>.log, worker-<i>.pid  (previous run's log: *.log.prev;
#            *.start: the process start time that makes a pid file trustworthy)
#   state/   worker-<i>/ table state of worker i (its SALESPULSE_DATA_DIR)
#   kafka/   the local broker: data/, logs/server.log, kafka.pid (see deploy/kafka/kafka.sh)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KAFKA_SH="$REPO/deploy/kafka/kafka.sh"
SALESPULSE="$REPO/.venv/bin/salespulse"
LOGS="$REPO/.local/logs"
STATE="$REPO/.local/state"

WORKERS=${WORKERS:-1}
WORKER_BASE_PORT=6066
INGEST_PORT=${INGEST_PORT:-8080}
STACK_READY_TIMEOUT=${STACK_READY_TIMEOUT:-90}
STACK_STOP_TIMEOUT=${STACK_STOP_TIMEOUT:-30}
if [[ -n ${SALESPULSE_KAFKA_BOOTSTRAP:-} ]]; then
  EXTERNAL_KAFKA=1
else
  EXTERNAL_KAFKA=0
  SALESPULSE_KAFKA_BOOTSTRAP="127.0.0.1:${KAFKA_PORT:-9092}"
  if [[ -n ${KAFKA_SASL_SCRAM_USER:-} && -n ${KAFKA_SASL_SCRAM_PASSWORD:-} ]]; then
    export SALESPULSE_KAFKA_SECURITY_PROTOCOL=${SALESPULSE_KAFKA_SECURITY_PROTOCOL:-SASL_PLAINTEXT}
    export SALESPULSE_KAFKA_SASL_MECHANISM=${SALESPULSE_KAFKA_SASL_MECHANISM:-SCRAM-SHA-512}
    export SALESPULSE_KAFKA_SASL_USERNAME=${SALESPULSE_KAFKA_SASL_USERNAME:-$KAFKA_SASL_SCRAM_USER}
    export SALESPULSE_KAFKA_SASL_PASSWORD=${SALESPULSE_KAFKA_SASL_PASSWORD:-$KAFKA_SASL_SCRAM_PASSWORD}
  fi
fi
export SALESPULSE_KAFKA_BOOTSTRAP

say() { echo "stack: $*"; }
die() { echo "stack: error: $*" >&2; exit 1; }

[[ $WORKERS =~ ^[1-9][0-9]*$ ]] || die "WORKERS must be a positive integer, not '$WORKERS'"

# --- processes -------------------------------------------------------------------------------
# Each component runs in its own session (setsid): its pid is also its process group id, so `down`
# signals the whole group. A pid file is trusted only while the process keeps the start time
# recorded beside it (<name>.start): workers rewrite their command line, so it can't be matched.

proc_field() {  # pid index -> field of /proc/<pid>/stat after "(comm)": 0 state, 19 start time
  local stat fields
  { stat=$(<"/proc/$1/stat"); } 2>/dev/null || return 1
  read -r -a fields <<<"${stat##*) }"
  echo "${fields[$2]}"
}

alive() {  # name pid -> the process we started is still there (and not a zombie)
  local name=$1 pid=$2
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/stat && -f $LOGS/$name.start ]] || return 1
  [[ $(proc_field "$pid" 0) != Z ]] || return 1
  [[ $(proc_field "$pid" 19) == "$(<"$LOGS/$name.start")" ]]
}

pid_of() {  # name -> pid of the running component, or fail (stale pid files are removed)
  local f="$LOGS/$1.pid" pid
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  if alive "$1" "$pid"; then echo "$pid"; return 0; fi
  rm -f "$f" "$LOGS/$1.start"
  return 1
}

port_taken() { timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null; }

http_ok() {  # url -> 0 when GET answers 200
  python3 - "$1" <<'EOF' 2>/dev/null
import sys, urllib.request
try:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    sys.exit(0 if opener.open(sys.argv[1], timeout=2).status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
}

launch() {  # name port [VAR=value ...] -- args...
  local name=$1 port=$2 pid; shift 2
  local envs=()
  while [[ $1 != -- ]]; do envs+=("$1"); shift; done
  shift
  if pid=$(pid_of "$name"); then
    say "$name already running (pid $pid)"
    return 0
  fi
  port_taken "$port" && die "port $port (for $name) is taken by another process"
  [[ -f $LOGS/$name.log ]] && mv -f "$LOGS/$name.log" "$LOGS/$name.log.prev"
  rm -f "$LOGS/$name.pid" "$LOGS/$name.start"
  # exec: the background subshell becomes setsid, then the component itself: one process, in its
  # own session (Ctrl-C in this terminal does not reach it), holding none of our pipes.
  (cd "$REPO" && exec setsid bash -c 'echo $$ >"$1.tmp" && mv "$1.tmp" "$1" && shift && exec "$@"' \
      _ "$LOGS/$name.pid" env "${envs[@]}" "$SALESPULSE" "$@") </dev/null >"$LOGS/$name.log" 2>&1 &
  for _ in $(seq 50); do [[ -s $LOGS/$name.pid ]] && break; sleep 0.1; done
  [[ -s $LOGS/$name.pid ]] || die "$name did not start (see $LOGS/$name.log)"
  pid=$(<"$LOGS/$name.pid")
  proc_field "$pid" 19 >"$LOGS/$name.start" || die "$name exited at once (see $LOGS/$name.log)"
  say "$name started (pid $pid, log $LOGS/$name.log)"
}

stop_one() {  # name
  local name=$1 pid
  pid_of "$name" >/dev/null || return 0
  pid=$(<"$LOGS/$name.pid")
  say "stopping $name (pid $pid)"
  # The whole group gets the signal; we wait for the component itself (a reaped-late zombie
  # would keep the group "alive" for kill -0).
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq $((STACK_STOP_TIMEOUT * 10))); do alive "$name" "$pid" || break; sleep 0.1; done
  if alive "$name" "$pid"; then
    say "$name still running after ${STACK_STOP_TIMEOUT}s, sending SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 50); do alive "$name" "$pid" || break; sleep 0.1; done
    alive "$name" "$pid" && die "could not stop $name (pid $pid)"
  fi
  rm -f "$LOGS/$name.pid" "$LOGS/$name.start"
}

components() {  # names with a pid file: workers first, then ingest
  local f
  for f in "$LOGS"/worker-*.pid; do [[ -e $f ]] && basename "$f" .pid; done
  [[ -e $LOGS/ingest.pid ]] && echo ingest
  return 0
}

# --- commands ----------------------------------------------------------------------------------

up() {
  local i name port t0=$SECONDS deadline pid pending failed
  [[ -x $SALESPULSE ]] || die "$SALESPULSE not found: run 'make install' first"
  mkdir -p "$LOGS" "$STATE"
  if ((EXTERNAL_KAFKA)); then
    say "using the existing Kafka cluster at $SALESPULSE_KAFKA_BOOTSTRAP"
  else
    "$KAFKA_SH" start
  fi
  say "creating topics on $SALESPULSE_KAFKA_BOOTSTRAP"
  (cd "$REPO" && "$SALESPULSE" topics create) || die "'salespulse topics create' failed"

  declare -A url=()
  for ((i = 0; i < WORKERS; i++)); do
    port=$((WORKER_BASE_PORT + i))
    launch "worker-$i" "$port" "SALESPULSE_DATA_DIR=$STATE/worker-$i" -- worker --web-port "$port"
    url[worker-$i]="http://127.0.0.1:$port/readyz"
  done
  launch ingest "$INGEST_PORT" -- ingest --port "$INGEST_PORT"
  url[ingest]="http://127.0.0.1:$INGEST_PORT/readyz"

  say "waiting for ${!url[*]} to be ready (up to ${STACK_READY_TIMEOUT}s)"
  deadline=$((SECONDS + STACK_READY_TIMEOUT))
  while :; do
    pending=()
    for name in "${!url[@]}"; do
      if ! pid_of "$name" >/dev/null; then
        echo "----- last lines of $LOGS/$name.log -----" >&2
        tail -n 40 "$LOGS/$name.log" >&2 || true
        die "$name exited during startup (log: $LOGS/$name.log); stop the rest with: make down"
      fi
      http_ok "${url[$name]}" || pending+=("$name")
    done
    ((${#pending[@]} == 0)) && break
    if ((SECONDS >= deadline)); then
      for failed in "${pending[@]}"; do
        echo "----- $failed not ready (${url[$failed]}); last lines of $LOGS/$failed.log -----" >&2
        tail -n 40 "$LOGS/$failed.log" >&2 || true
      done
      die "not ready after ${STACK_READY_TIMEOUT}s: ${pending[*]} (left running for inspection; stop with: make down)"
    fi
    sleep 0.5
  done
  say "ready in $((SECONDS - t0))s: Kafka $SALESPULSE_KAFKA_BOOTSTRAP, ingest http://127.0.0.1:$INGEST_PORT," \
    "workers on ports $WORKER_BASE_PORT..$((WORKER_BASE_PORT + WORKERS - 1)); logs in $LOGS"
}

down() {
  local name
  for name in $(components); do stop_one "$name"; done
  if ((EXTERNAL_KAFKA)); then
    say "leaving the external Kafka at $SALESPULSE_KAFKA_BOOTSTRAP alone"
  else
    "$KAFKA_SH" stop
  fi
  say "down"
}

clean() {
  down
  ((EXTERNAL_KAFKA)) || "$KAFKA_SH" clean
  rm -rf "$STATE"
  say "deleted $STATE"
}

status() {
  local name pid port
  if ((EXTERNAL_KAFKA)); then
    say "kafka: external cluster $SALESPULSE_KAFKA_BOOTSTRAP"
  else
    "$KAFKA_SH" status || true
  fi
  for name in $(components); do
    if ! pid=$(pid_of "$name"); then say "$name: stopped (stale pid file removed)"; continue; fi
    if [[ $name == ingest ]]; then port=$INGEST_PORT; else port=$((WORKER_BASE_PORT + ${name#worker-})); fi
    if http_ok "http://127.0.0.1:$port/readyz"; then
      say "$name: ready, pid $pid, http://127.0.0.1:$port"
    else
      say "$name: running but not ready, pid $pid, http://127.0.0.1:$port (log $LOGS/$name.log)"
    fi
  done
  [[ -n $(components) ]] || say "no workers or ingest running"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  clean) clean ;;
  status) status ;;
  *) sed -n '2,24s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
