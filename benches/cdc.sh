#!/usr/bin/env bash
# CDC benchmarks: snapshot of scale S into bronze, backlog drain, freshness under the live
# workload. Release build; state in ~/.cache/finlake/bench-state (shared with load.sh).
# Baselines in the same run: the stock `mariadb` client reading the same tables (the floor
# for any snapshot), and the achieved workload rate.
#
# Usage: bash benches/cdc.sh [SCALE] [RUNS] [RATE]     (defaults 1.0, 3, 5000)
# BENCH_PARTS=drain,freshness (default snapshot,drain,freshness) skips the snapshots; the
# other parts then run on an existing lake, BENCH_LAKE (caught up first).
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-1.0} RUNS=${2:-3} RATE=${3:-5000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/finlake/target}
# With the benches: one feature set for the whole release build (dev-dependencies unify
# features), so the three bench scripts and `cargo bench` share one cached build.
cargo build --locked --release --bin finlake --benches
BIN=$CARGO_TARGET_DIR/release/finlake
STATE=${BENCH_STATE_DIR:-$HOME/.cache/finlake/bench-state}
export FINLAKE_STATE_DIR=$STATE FINLAKE_NO_PROGRESS=1 FINLAKE_LOG=warn
export FINLAKE_MASK_KEY=bench-mask-key-0123456789abcdef FINLAKE_DEMO=1 FINLAKE_SERVER_ID=6499
"$BIN" db start --db-buffer-pool 4G --db-redo-log 2G >/dev/null
SOCK=$(sed -n 's/^socket=//p' "$STATE/mysql/my.cnf")
sql() { mariadb --socket="$SOCK" -uroot finance "$@"; }
want=$(python3 -c "print(round(13305915*$SCALE))")
have=$(sql -N -e "SELECT COUNT(*) FROM transactions")
if (( have < want * 95 / 100 || have > want * 105 / 100 )); then
  echo "generating scale $SCALE ($want transactions; the server has $have)"
  "$BIN" datagen --scale "$SCALE" --seed 42 --replace >/dev/null
fi
rows=$(for t in users cards mcc_codes transactions fraud_labels; do sql -N -e "SELECT COUNT(*) FROM $t"; done | python3 -c "import sys; print(sum(int(l) for l in sys.stdin))")
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
secs_of() { sed -n 's/.* in \([0-9.]*\) s;.*/\1/p' <<<"$1"; }
events_of() { sed -n 's/^applied \([0-9]*\) events.*/\1/p' <<<"$1"; }
LAKES=$(mktemp -d "${TMPDIR:-/tmp}/finlake-cdc-bench.XXXXXX")
trap 'rm -rf "$LAKES"; kill $(jobs -p) 2>/dev/null || true' EXIT

PARTS=${BENCH_PARTS:-snapshot,drain,freshness}
part() { [[ ",$PARTS," == *",$1,"* ]]; }
if part snapshot; then
echo "== snapshot of $rows source rows into bronze"
snap=(); base=()
for i in $(seq "$RUNS"); do
  start=$(date +%s.%N)
  for t in users cards mcc_codes transactions fraud_labels; do sql -N -e "SELECT * FROM $t" >/dev/null; done
  end=$(date +%s.%N)
  b=$(python3 -c "print(round($end-$start,1))"); base+=("$b")
  lake=$LAKES/lake$i
  out=$(FINLAKE_LAKE_URI=$lake "$BIN" ingest --until-caught-up)
  s=$(secs_of "$out"); snap+=("$s")
  echo "run $i: finlake snapshot $s s ($(python3 -c "print(int($rows/$s))") rows/s); mariadb client SELECT * of the same tables $b s"
  [[ $i -lt $RUNS ]] && rm -rf "$lake"
done
echo "median snapshot: $(median "${snap[@]}") s; median mariadb client read: $(median "${base[@]}") s"
export FINLAKE_LAKE_URI=$LAKES/lake$RUNS
else
  export FINLAKE_LAKE_URI=${BENCH_LAKE:?BENCH_LAKE: the lake to run on without the snapshot part}
  echo "== catching up $FINLAKE_LAKE_URI: $("$BIN" ingest --until-caught-up)"
fi

if part drain; then
echo "== backlog drain"
drain=()
for i in $(seq "$RUNS"); do
  sim=$("$BIN" simulate --rate 20000 --duration 20s --connections 16 --label-delay 5s --seed $((100+i)) | tail -1)
  out=$("$BIN" ingest --until-caught-up)
  ev=$(events_of "$out"); s=$(secs_of "$out")
  r=$(python3 -c "print(int($ev/$s))"); drain+=("$r")
  echo "run $i: backlog from [$sim]; drained $ev changes in $s s = $r changes/s"
done
echo "median drain: $(median "${drain[@]}") changes/s"
fi

if part freshness; then
echo "== freshness at a target of $RATE ops/s"
fresh=()
for i in $(seq "$RUNS"); do
  "$BIN" ingest --max-wait 50ms >/dev/null 2>"$LAKES/ingest.log" & ing=$!
  "$BIN" simulate --rate "$RATE" --duration 70s --connections 16 --label-delay 30s --seed $((200+i)) >"$LAKES/sim.log" & simp=$!
  sleep 5  # let the workload reach its rate before probing
  FINLAKE_SOURCE_URL=$("$BIN" db url) FRESHNESS_PROBES=250 \
    cargo bench --locked --bench freshness 2>"$LAKES/fresh.err" | { grep '^freshness' || true; } | tee "$LAKES/fresh.txt"
  [[ -s $LAKES/fresh.txt ]] || { echo "freshness probe of run $i failed:"; tail -5 "$LAKES/fresh.err"; exit 1; }
  wait $simp
  kill -TERM $ing 2>/dev/null || echo "the ingest of run $i had already stopped: $(tail -3 "$LAKES/ingest.log")"
  wait $ing || true
  echo "run $i: workload $(tail -1 "$LAKES/sim.log")"
  fresh+=("$(sed -n 's/.*p50=\([0-9]*\)ms.*/\1/p' "$LAKES/fresh.txt")")
  "$BIN" ingest --until-caught-up >/dev/null || { echo "ingest --until-caught-up after run $i failed ($?)"; exit 1; }
done
echo "median freshness p50: $(median "${fresh[@]}") ms"
fi
"$BIN" verify
