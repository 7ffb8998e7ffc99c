#!/usr/bin/env bash
# finlake's native scale-out stack, without Docker: Apache Kafka (KRaft, one node), Kafka
# Connect with the Debezium MySQL and MariaDB connectors, and MinIO, all on loopback.
#
#   infra/local/stack.sh install                    fetch and build everything (cached)
#   infra/local/stack.sh up     [kafka|connect|minio]   start (idempotent; installs first)
#   infra/local/stack.sh down   [component]         stop
#   infra/local/stack.sh status [component]         health of each; exit 1 if one is down
#   infra/local/stack.sh env                        the state file (ports, URLs, keys)
#
# MariaDB is not part of this script: it is `finlake db start` (binlog configured for CDC).
#
# Downloads and builds are cached under $FINLAKE_CACHE (default ~/.cache/finlake): the Kafka
# jars and the Debezium plugins through Maven (local repository $FINLAKE_CACHE/m2), MinIO
# through `go install` at a pinned commit. Runtime state (data, logs, pids, the state file) is
# under $FINLAKE_STACK_DIR (default .finlake/stack). Ports are free loopback ports chosen on
# the first `up` and kept in $FINLAKE_STACK_DIR/stack.env, which other scripts and the tests
# read. Every start waits on a health check (port, REST endpoint), never on a fixed sleep.
set -euo pipefail

KAFKA_VERSION=4.1.1
DEBEZIUM_VERSION=3.5.0.Final
# MinIO's community edition is source-only and archived; this is its last commit (Go module
# pseudo-version; release tags are not semantic versions, so the module proxy cannot serve them).
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${FINLAKE_CACHE:-$HOME/.cache/finlake}"
STACK_DIR="${FINLAKE_STACK_DIR:-.finlake/stack}"
mkdir -p "$STACK_DIR"
STACK_DIR="$(cd "$STACK_DIR" && pwd)"
STATE="$STACK_DIR/stack.env"
KAFKA_LIBS="$CACHE/kafka/$KAFKA_VERSION/libs"
PLUGINS="$CACHE/debezium/$DEBEZIUM_VERSION/plugins"
BIN="$CACHE/bin"
MINIO_BIN="$BIN/minio-$MINIO_VERSION"
M2="$CACHE/m2"
JAVA_OPTS_BASE="${FINLAKE_STACK_JAVA_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss1m}"
START_TIMEOUT="${FINLAKE_STACK_TIMEOUT:-180}"

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------- install

# need TOOL DEBIAN_PACKAGE: installs the package with apt-get when the tool is missing and we
# are root (CI, fresh machines), else stops with the command to run.
need() {
  command -v "$1" >/dev/null 2>&1 && return
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing $2 (for $1)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
    command -v "$1" >/dev/null 2>&1 && return
  fi
  die "$1 is required: apt-get install $2"
}

mvn_q() { mvn -B -q -Dmaven.repo.local="$M2" "$@"; }

install_kafka() {
  if [[ -f "$KAFKA_LIBS/.complete" ]]; then return; fi
  need java openjdk-17-jre-headless
  need mvn maven
  log "fetching Kafka $KAFKA_VERSION jars into $KAFKA_LIBS"
  rm -rf "$KAFKA_LIBS"
  mvn_q -f "$HERE/pom.xml" -Dkafka.version="$KAFKA_VERSION" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS"
  touch "$KAFKA_LIBS/.complete"
}

install_debezium() {
  if [[ -f "$PLUGINS/.complete" ]]; then return; fi
  need mvn maven
  local dl="$CACHE/debezium/$DEBEZIUM_VERSION/dl"
  mkdir -p "$dl"
  rm -rf "$PLUGINS"
  mkdir -p "$PLUGINS"
  for c in mysql mariadb; do
    log "fetching Debezium $c connector $DEBEZIUM_VERSION"
    mvn_q dependency:copy \
      -Dartifact="io.debezium:debezium-connector-$c:$DEBEZIUM_VERSION:tar.gz:plugin" \
      -DoutputDirectory="$dl"
    # Each tarball holds one folder (debezium-connector-<c>/): one folder per connector.
    tar -xzf "$dl/debezium-connector-$c-$DEBEZIUM_VERSION-plugin.tar.gz" -C "$PLUGINS"
  done
  touch "$PLUGINS/.complete"
}

install_minio() {
  if [[ -x "$MINIO_BIN" ]]; then return; fi
  command -v go >/dev/null 2>&1 || die "Go >= 1.24 is required to build MinIO (Debian's golang-go is too old)"
  mkdir -p "$BIN"
  local gobin
  gobin="$(mktemp -d "$CACHE/gobin.XXXXXX")"
  log "building MinIO $MINIO_VERSION with go install (a few minutes, once)"
  GOBIN="$gobin" go install "$MINIO_MODULE@$MINIO_VERSION"
  mv "$gobin/minio" "$MINIO_BIN"
  rmdir "$gobin"
}

# The Compose file check (infra/compose/check.py) parses YAML with PyYAML.
install_pyyaml() {
  python3 -c 'import yaml' 2>/dev/null && return
  log "installing PyYAML for python3"
  python3 -m pip install --quiet 'PyYAML==6.0.3'
}

install_all() {
  install_pyyaml
  install_kafka
  install_debezium
  install_minio
}

# ---------------------------------------------------------------------------- state

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

load_state() {
  if [[ -f "$STATE" ]]; then
    # shellcheck disable=SC1090
    source "$STATE"
  fi
}

write_state() {
  load_state
  if [[ -z "${KAFKA_PORT:-}" ]]; then
    KAFKA_PORT=$(free_port); CONTROLLER_PORT=$(free_port); CONNECT_PORT=$(free_port)
    MINIO_PORT=$(free_port); MINIO_CONSOLE_PORT=$(free_port)
    MINIO_ACCESS_KEY=finlake
    MINIO_SECRET_KEY="finlake-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    MINIO_BUCKET=finlake
  fi
  cat > "$STATE" <<EOF
# finlake native stack (infra/local/stack.sh); sourced by scripts and read by the tests.
KAFKA_PORT=$KAFKA_PORT
CONTROLLER_PORT=$CONTROLLER_PORT
CONNECT_PORT=$CONNECT_PORT
MINIO_PORT=$MINIO_PORT
MINIO_CONSOLE_PORT=$MINIO_CONSOLE_PORT
MINIO_ACCESS_KEY=$MINIO_ACCESS_KEY
MINIO_SECRET_KEY=$MINIO_SECRET_KEY
MINIO_BUCKET=$MINIO_BUCKET
KAFKA_BOOTSTRAP=127.0.0.1:$KAFKA_PORT
CONNECT_URL=http://127.0.0.1:$CONNECT_PORT
S3_ENDPOINT=http://127.0.0.1:$MINIO_PORT
STACK_DIR=$STACK_DIR
EOF
  load_state
}

pid_of() { local f="$STACK_DIR/$1/pid"; [[ -f "$f" ]] && cat "$f"; }

running() {
  local pid
  pid=$(pid_of "$1") || return 1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for NAME CHECK...: polls CHECK until it succeeds, the process dies or the timeout.
wait_for() {
  local name=$1; shift
  local deadline=$((SECONDS + START_TIMEOUT))
  until "$@"; do
    if ! running "$name"; then
      tail -n 40 "$STACK_DIR/$name/$name.log" >&2 || true
      die "$name exited during start (log: $STACK_DIR/$name/$name.log)"
    fi
    if ((SECONDS > deadline)); then
      tail -n 40 "$STACK_DIR/$name/$name.log" >&2 || true
      die "$name not healthy after ${START_TIMEOUT}s (log: $STACK_DIR/$name/$name.log)"
    fi
    sleep 0.2
  done
}

# spawn NAME CMD...: runs CMD in the background (own session), log and pid under the state dir.
spawn() {
  local name=$1; shift
  mkdir -p "$STACK_DIR/$name"
  setsid "$@" >>"$STACK_DIR/$name/$name.log" 2>&1 < /dev/null &
  echo $! > "$STACK_DIR/$name/pid"
}

log4j_config() {
  local dir=$1
  cat > "$dir/log4j2.properties" <<'EOF'
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
EOF
}

# ---------------------------------------------------------------------------- kafka

kafka_healthy() { port_open "$KAFKA_PORT"; }

start_kafka() {
  if running kafka && kafka_healthy; then return; fi
  install_kafka
  local dir="$STACK_DIR/kafka"
  mkdir -p "$dir/data"
  log4j_config "$dir"
  cat > "$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.quorum.bootstrap.servers=127.0.0.1:$CONTROLLER_PORT
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=-1
log.segment.bytes=268435456
EOF
  local cp="$KAFKA_LIBS/*"
  local java_opts="$JAVA_OPTS_BASE -Xmx768m -Dlog4j2.configurationFile=$dir/log4j2.properties"
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    local id
    # shellcheck disable=SC2086
    id=$(java $java_opts -cp "$cp" kafka.tools.StorageTool random-uuid | tail -n 1)
    log "formatting KRaft storage (cluster $id)"
    # shellcheck disable=SC2086
    java $java_opts -cp "$cp" kafka.tools.StorageTool format --cluster-id "$id" --standalone \
      --config "$dir/server.properties" >>"$dir/kafka.log" 2>&1
  fi
  log "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT"
  # shellcheck disable=SC2086
  spawn kafka java $java_opts -cp "$cp" kafka.Kafka "$dir/server.properties"
  wait_for kafka kafka_healthy
}

# ---------------------------------------------------------------------------- connect

connect_healthy() {
  curl -fsS "http://127.0.0.1:$CONNECT_PORT/connector-plugins" 2>/dev/null \
    | grep -q 'io.debezium.connector.mariadb.MariaDbConnector'
}

start_connect() {
  if running connect && connect_healthy; then return; fi
  install_kafka
  install_debezium
  running kafka && kafka_healthy || start_kafka
  local dir="$STACK_DIR/connect"
  mkdir -p "$dir"
  log4j_config "$dir"
  cat > "$dir/connect-distributed.properties" <<EOF
bootstrap.servers=127.0.0.1:$KAFKA_PORT
group.id=finlake-connect
listeners=http://127.0.0.1:$CONNECT_PORT
rest.advertised.host.name=127.0.0.1
rest.advertised.port=$CONNECT_PORT
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
config.storage.topic=_finlake-connect-configs
offset.storage.topic=_finlake-connect-offsets
status.storage.topic=_finlake-connect-status
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
offset.storage.partitions=1
status.storage.partitions=1
offset.flush.interval.ms=1000
plugin.path=$PLUGINS
plugin.discovery=only_scan
EOF
  log "starting Kafka Connect on 127.0.0.1:$CONNECT_PORT (Debezium $DEBEZIUM_VERSION)"
  local java_opts="$JAVA_OPTS_BASE -Xmx1g -Dlog4j2.configurationFile=$dir/log4j2.properties"
  # shellcheck disable=SC2086
  spawn connect java $java_opts -cp "$KAFKA_LIBS/*" \
    org.apache.kafka.connect.cli.ConnectDistributed "$dir/connect-distributed.properties"
  wait_for connect connect_healthy
}

# ---------------------------------------------------------------------------- minio

minio_healthy() { curl -fsS "http://127.0.0.1:$MINIO_PORT/minio/health/live" >/dev/null 2>&1; }

# s3 METHOD PATH: a signed request to MinIO (curl's own SigV4 signing).
s3() {
  curl -sS -o /dev/null -w '%{http_code}' -X "$1" \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$MINIO_ACCESS_KEY:$MINIO_SECRET_KEY" \
    "http://127.0.0.1:$MINIO_PORT$2"
}

start_minio() {
  if running minio && minio_healthy; then return; fi
  install_minio
  local dir="$STACK_DIR/minio"
  mkdir -p "$dir/data"
  log "starting MinIO on 127.0.0.1:$MINIO_PORT"
  MINIO_ROOT_USER="$MINIO_ACCESS_KEY" MINIO_ROOT_PASSWORD="$MINIO_SECRET_KEY" \
    MINIO_BROWSER=off MINIO_UPDATE=off \
    spawn minio "$MINIO_BIN" server --quiet --address "127.0.0.1:$MINIO_PORT" \
    --console-address "127.0.0.1:$MINIO_CONSOLE_PORT" "$dir/data"
  wait_for minio minio_healthy
  local code
  code=$(s3 HEAD "/$MINIO_BUCKET")
  if [[ "$code" != 200 ]]; then
    code=$(s3 PUT "/$MINIO_BUCKET")
    [[ "$code" == 200 ]] || die "creating bucket $MINIO_BUCKET: HTTP $code"
    log "bucket $MINIO_BUCKET created"
  fi
}

# ---------------------------------------------------------------------------- commands

stop_one() {
  local name=$1 pid
  pid=$(pid_of "$name") || return 0
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 60))
    while kill -0 "$pid" 2>/dev/null; do
      if ((SECONDS > deadline)); then kill -KILL "$pid" 2>/dev/null || true; fi
      sleep 0.2
    done
  fi
  rm -f "$STACK_DIR/$name/pid"
}

status_one() {
  local name=$1 healthy
  case $name in
    kafka) healthy=kafka_healthy ;;
    connect) healthy=connect_healthy ;;
    minio) healthy=minio_healthy ;;
  esac
  if running "$name" && $healthy; then
    printf '%-8s up    pid %s\n' "$name" "$(pid_of "$name")"
  else
    printf '%-8s down\n' "$name"
    return 1
  fi
}

components() {
  case "${1:-all}" in
    all) echo "kafka connect minio" ;;
    kafka | connect | minio) echo "$1" ;;
    *) die "unknown component $1 (kafka, connect, minio)" ;;
  esac
}

main() {
  local cmd=${1:-}
  shift || true
  case $cmd in
    install) install_all ;;
    up)
      write_state
      for c in $(components "${1:-all}"); do "start_$c"; done
      cat "$STATE"
      ;;
    down)
      load_state
      local cs
      cs=$(components "${1:-all}")
      # Stop in reverse dependency order.
      for c in minio connect kafka; do
        if [[ " $cs " == *" $c "* ]]; then stop_one "$c"; fi
      done
      ;;
    status)
      load_state
      [[ -f "$STATE" ]] || { echo "stack not started ($STATE missing)"; exit 1; }
      local rc=0
      for c in $(components "${1:-all}"); do status_one "$c" || rc=1; done
      exit $rc
      ;;
    env) cat "$STATE" ;;
    *)
      sed -n '2,12p' "$0"
      exit 2
      ;;
  esac
}

main "$@"
