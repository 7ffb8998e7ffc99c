#!/usr/bin/env bash
# Scale-out path benchmarks: Debezium into Kafka, then the Kafka source of `finlake ingest`
# beside the Spark job (infra/spark/finlake_spark.py) on the same topics, in the same run.
#
#   1. A fresh native stack (infra/local/stack.sh: Kafka, Connect + Debezium, MinIO) in
#      ~/.cache/finlake/bench-stack and a private MariaDB in ~/.cache/finlake/bench-kafka-state
#      with `datagen --scale S`; the connector is registered and its initial snapshot timed,
#      then a backlog of changes (`simulate` at full speed for 20 s) is captured and timed
#      (benches/debezium_marker.rs: a signal-table marker, so everything before it is in Kafka).
#   2. Drain: the whole topics (snapshot and changes) into an empty local lake, RUNS times by
#      `finlake ingest --source kafka --until-caught-up` and SPARK_RUNS (default 1) times by the Spark job
#      (`run --available-now`, JVM start included); then once each into MinIO. Changes/s = the loop's applied
#      events (the same for both writers: the same topics) / wall time.
#      `finlake verify` of both lakes then (the topics hold everything the source has).
#   3. Freshness under `simulate --rate RATE` (running until the probes are done): commit at
#      the source to the row readable in the lake (benches/freshness.rs), SPARK_RUNS (default
#      1) times through Debezium and the Spark job's 1-second micro-batches (probing for
#      SPARK_SECONDS, default 150), then RUNS times through Debezium and the continuous Kafka
#      loop (at most PROBES probes, default 250, for at most PROBE_SECONDS, default 120: when
#      Debezium falls behind the workload each probe waits longer); `finlake verify` of the
#      loop's lake at the end.
#
# Usage: bash benches/kafka.sh [SCALE] [RUNS] [RATE]     (defaults 0.01, 3, 5000)
# BENCH_PARTS (default drain,spark,minio,spark-freshness,freshness) picks parts; the setup
# and one finlake drain always run.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-0.01} RUNS=${2:-3} RATE=${3:-5000}
CACHE=$HOME/.cache/finlake
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
# With the benches: one feature set for the whole release build (as the other bench scripts).
cargo build --locked --release --bin finlake --benches
bench_bin() {
  cargo build --locked --release --bench "$1" --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["name"]==sys.argv[1]: print(m["executable"])' "$1"
}
BIN=$CARGO_TARGET_DIR/release/finlake
FRESHNESS=$(bench_bin freshness)
MARKER=$(bench_bin debezium_marker)
SPARK_PY=${FINLAKE_SPARK_HOME:-$CACHE/spark}/venv/bin/python
[[ -x $SPARK_PY ]] || bash infra/spark/install.sh
STATE=${BENCH_KAFKA_STATE_DIR:-$CACHE/bench-kafka-state}
STACK=${BENCH_STACK_DIR:-$CACHE/bench-stack}
export FINLAKE_STATE_DIR=$STATE FINLAKE_NO_PROGRESS=1 FINLAKE_LOG=warn
export FINLAKE_MASK_KEY=bench-mask-key-0123456789abcdef FINLAKE_DEMO=1 FINLAKE_SPARK_DRIVER_MEMORY=${SPARK_MEMORY:-4g}
LAKES=$(mktemp -d "${TMPDIR:-/tmp}/finlake-kafka-bench.XXXXXX")
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  FINLAKE_STACK_DIR=$STACK bash infra/local/stack.sh down >/dev/null 2>&1 || true
  "$BIN" db stop >/dev/null 2>&1 || true
  rm -rf "$LAKES"
}
trap cleanup EXIT
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
now() { date +%s.%N; }
calc() { python3 -c "print($1)"; }

echo "== setup: fresh stack, MariaDB with scale $SCALE"
FINLAKE_STACK_DIR=$STACK bash infra/local/stack.sh down >/dev/null 2>&1 || true
rm -rf "$STACK"
FINLAKE_STACK_DIR=$STACK bash infra/local/stack.sh up >/dev/null
# shellcheck disable=SC1091
source "$STACK/stack.env"
"$BIN" db start --db-buffer-pool 2G >/dev/null
"$BIN" datagen --scale "$SCALE" --seed 42 --replace >/dev/null
SOCK=$(sed -n 's/^socket=//p' "$STATE/mysql/my.cnf")
mariadb --socket="$SOCK" -uroot finance <infra/mysql/debezium_signal.sql
APP_URL=$("$BIN" db url) CDC_URL=$("$BIN" db url --cdc)
PREFIX=bench
export FINLAKE_KAFKA_BROKERS=$KAFKA_BOOTSTRAP FINLAKE_KAFKA_TOPIC_PREFIX=$PREFIX
rows=$(for t in users cards mcc_codes transactions fraud_labels; do
  mariadb --socket="$SOCK" -uroot finance -N -e "SELECT COUNT(*) FROM $t"; done |
  python3 -c "import sys; print(sum(int(l) for l in sys.stdin))")
marker() { FINLAKE_SOURCE_URL=$APP_URL "$MARKER"; }
msgs_of() { sed -n 's/.*topics hold \([0-9]*\) messages/\1/p' <<<"$1"; }

start=$(now)
FINLAKE_SOURCE_URL=$CDC_URL FINLAKE_CONNECT_URL=$CONNECT_URL FINLAKE_DEBEZIUM_SERVER_ID=6590 \
  python3 infra/connect/register.py --name bench-finance --no-signal-ddl >/dev/null
m=$(marker); end=$(now)
snap_msgs=$(msgs_of "$m") snap_s=$(calc "round($end-$start,1)")
echo "debezium initial snapshot: $rows rows, $snap_msgs messages in $snap_s s ($(calc "int($snap_msgs/$snap_s)") messages/s, from registration)"
sim=$("$BIN" simulate --rate 20000 --duration 20s --connections 16 --label-delay 5s --seed 101 | tail -1)
start=$(now); m=$(marker); end=$(now)
all_msgs=$(msgs_of "$m")
echo "backlog: [$sim]; debezium had it in Kafka $(calc "round($end-$start,1)") s after the workload ended; topics hold $all_msgs messages"

echo "== drain of the topics into an empty lake"
kafka_drain() { # lake group -> "events secs"
  local out
  out=$(FINLAKE_LAKE_URI=$1 FINLAKE_KAFKA_GROUP=$2 "$BIN" ingest --source kafka --until-caught-up "${@:3}")
  sed -n 's/^applied \([0-9]*\) events.* in \([0-9.]*\) s$/\1 \2/p' <<<"$out"
}
spark_drain() { # lake log -> "messages secs-in-micro-batches wall-secs"
  local start end
  start=$(now)
  FINLAKE_SOURCE_URL=$CDC_URL FINLAKE_LAKE_URI=$1 "$SPARK_PY" infra/spark/finlake_spark.py run --available-now \
    "${@:3}" >"$2" 2>&1 || { echo "the Spark job failed:"; tail -20 "$2"; exit 1; }
  end=$(now)
  echo "$(sed -n 's/^finlake-spark: applied \([0-9]*\) messages.*(\([0-9.]*\) s in them)/\1 \2/p' "$2" | tail -1) $(calc "round($end-$start,1)")"
}
PARTS=${BENCH_PARTS:-drain,spark,minio,spark-freshness,freshness}
part() { [[ ",$PARTS," == *",$1,"* ]]; }
# Without the drain part one drain still runs: the freshness runs need a caught-up lake.
DRAIN_RUNS=$RUNS
part drain || DRAIN_RUNS=1
rust=() spark=()
for i in $(seq "$DRAIN_RUNS"); do
  read -r ev s < <(kafka_drain "$LAKES/rust$i" "bench-drain-$i")
  r=$(calc "int($ev/$s)"); rust+=("$r")
  echo "run $i: finlake ingest --source kafka: $ev changes in $s s = $r changes/s"
  [[ $i -lt $DRAIN_RUNS ]] && rm -rf "$LAKES/rust$i"
done
EVENTS=$ev
echo "median drain: finlake $(median "${rust[@]}") changes/s"
echo "verify:"; FINLAKE_LAKE_URI=$LAKES/rust$DRAIN_RUNS "$BIN" verify
if part spark; then
for i in $(seq "${SPARK_RUNS:-1}"); do
  read -r msgs busy s < <(spark_drain "$LAKES/spark$i" "$LAKES/spark-drain-$i.log")
  r=$(calc "int($EVENTS/$s)"); spark+=("$r")
  echo "run $i: Spark job (local[2], $FINLAKE_SPARK_DRIVER_MEMORY driver): $msgs messages in $s s = $r changes/s ($busy s in micro-batches = $(calc "int($EVENTS/$busy)") changes/s; the rest is JVM and session start)"
  [[ $i -lt ${SPARK_RUNS:-1} ]] && rm -rf "$LAKES/spark$i"
done
echo "median drain: Spark job $(median "${spark[@]}") changes/s"
echo "verify:"; FINLAKE_LAKE_URI=$LAKES/spark${SPARK_RUNS:-1} "$BIN" verify
fi
if part minio; then
S3=(--s3-endpoint "$S3_ENDPOINT" --s3-access-key-id "$MINIO_ACCESS_KEY" --s3-secret-access-key "$MINIO_SECRET_KEY" --s3-allow-http)
read -r ev s < <(kafka_drain "s3://$MINIO_BUCKET/rust" bench-drain-s3 "${S3[@]}")
echo "into MinIO: finlake $ev changes in $s s = $(calc "int($ev/$s)") changes/s"
part spark && read -r msgs busy s < <(FINLAKE_S3_ENDPOINT=$S3_ENDPOINT FINLAKE_S3_ACCESS_KEY_ID=$MINIO_ACCESS_KEY \
  FINLAKE_S3_SECRET_ACCESS_KEY=$MINIO_SECRET_KEY spark_drain "s3a://$MINIO_BUCKET/spark" "$LAKES/spark-drain-s3.log")
part spark && echo "into MinIO: Spark job $msgs messages in $s s = $(calc "int($EVENTS/$s)") changes/s ($busy s in micro-batches)"
fi

echo "== freshness at a target of $RATE ops/s (source commit -> row readable in the lake)"
freshness() { # name lake seed probes seconds -> appends p50 to the array named by $1
  local -n out=$1
  # One probe first: the writer is up and reading (the Spark job's start takes a while).
  FINLAKE_SOURCE_URL=$APP_URL FINLAKE_LAKE_URI=$2 FRESHNESS_PROBES=1 FRESHNESS_TIMEOUT_S=300 \
    "$FRESHNESS" >/dev/null 2>"$LAKES/fresh.err" || { echo "warm-up probe failed:"; tail -5 "$LAKES/fresh.err"; exit 1; }
  # The workload runs until the probes are done (SIGTERM: it stops and reports its rate).
  "$BIN" simulate --rate "$RATE" --duration 1h --connections 16 --label-delay 30s --seed "$3" >"$LAKES/sim.log" &
  local simp=$!
  sleep 5 # let the workload reach its rate before probing
  FINLAKE_SOURCE_URL=$APP_URL FINLAKE_LAKE_URI=$2 FRESHNESS_PROBES=$4 FRESHNESS_DURATION_S=$5 \
    FRESHNESS_TIMEOUT_S=900 "$FRESHNESS" 2>"$LAKES/fresh.err" | tee "$LAKES/fresh.txt"
  kill -TERM $simp; wait $simp || true
  [[ -s $LAKES/fresh.txt ]] || { echo "freshness probe failed:"; tail -5 "$LAKES/fresh.err"; exit 1; }
  echo "  workload $(tail -1 "$LAKES/sim.log")"
  out+=("$(sed -n 's/.*p50=\([0-9]*\)ms.*/\1/p' "$LAKES/fresh.txt")")
}
stop() { kill -TERM "$1" 2>/dev/null || echo "$2 had already stopped"; wait "$1" || true; }
RLAKE=$LAKES/rust$DRAIN_RUNS SLAKE=$LAKES/spark${SPARK_RUNS:-1}
rf=() sf=()
# The Spark job first, while its lake is caught up (it drains a backlog far slower than the loop).
part spark-freshness && part spark && for i in $(seq "${SPARK_RUNS:-1}"); do
  FINLAKE_SOURCE_URL=$CDC_URL FINLAKE_LAKE_URI=$SLAKE "$SPARK_PY" infra/spark/finlake_spark.py run \
    --interval "1 second" >"$LAKES/spark-fresh-$i.log" 2>&1 &
  sp=$!
  echo -n "run $i: Spark job, 1-second micro-batches: "
  freshness sf "$SLAKE" $((300 + i)) 100000 "${SPARK_SECONDS:-150}"
  stop $sp "the Spark job"
done
part freshness && for i in $(seq "$RUNS"); do
  FINLAKE_LAKE_URI=$RLAKE FINLAKE_KAFKA_GROUP=bench-fresh "$BIN" ingest --source kafka --max-wait 50ms \
    >/dev/null 2>"$LAKES/ingest.log" &
  ing=$!
  echo -n "run $i: finlake ingest --source kafka: "
  freshness rf "$RLAKE" $((200 + i)) "${PROBES:-250}" "${PROBE_SECONDS:-120}"
  stop $ing "the Kafka loop"
done
echo "median freshness p50: finlake $(median "${rf[@]}") ms; Spark job $(median "${sf[@]}") ms"

echo "== verify the finlake lake after the freshness runs"
marker >/dev/null
FINLAKE_LAKE_URI=$RLAKE FINLAKE_KAFKA_GROUP=bench-fresh "$BIN" ingest --source kafka --until-caught-up >/dev/null
FINLAKE_LAKE_URI=$RLAKE "$BIN" verify
