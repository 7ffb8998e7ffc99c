#!/usr/bin/env bash
# Flight SQL and dashboard benchmarks at scale S (default 1.0), with DuckDB as the baseline in
# the same run. Release build; the source data is the one benches/load.sh and benches/cdc.sh
# use (~/.cache/finlake/bench-state, generated when missing); the lake is
# ~/.cache/finlake/bench-lake (snapshotted when missing, caught up otherwise).
#
#   1. `finlake ingest --until-caught-up`, then `finlake maintain --reflections` (compaction,
#      checkpoints, reflections built or refreshed);
#   2. `finlake serve --no-ingest --flight-cache-bytes 0` (no result cache: every query runs)
#      and benches/flight.rs: small queries, a full scan of bronze.transactions, and the
#      dashboard queries with reflections on and off (`finlake-reflections` header);
#   3. DuckDB (pinned, in ~/.cache/finlake/venv-bench) over the same Delta tables:
#      the small queries and the same scan (benches/duckdb_baseline.py).
#
# Usage: bash benches/flight.sh [SCALE] [ITERS]     (defaults 1.0 and 200)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-1.0} ITERS=${2:-200}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/finlake/target}
# With the benches: one feature set for the whole release build (dev-dependencies unify
# features), so the three bench scripts and `cargo bench` share one cached build.
cargo build --locked --release --bin finlake --benches

BIN=$CARGO_TARGET_DIR/release/finlake
CACHE=$HOME/.cache/finlake
STATE=${BENCH_STATE_DIR:-$CACHE/bench-state}
LAKE=${BENCH_LAKE:-$CACHE/bench-lake}
export FINLAKE_STATE_DIR=$STATE FINLAKE_NO_PROGRESS=1 FINLAKE_LOG=warn FINLAKE_LAKE_URI=$LAKE
export FINLAKE_MASK_KEY=bench-mask-key-0123456789abcdef FINLAKE_DEMO=1 FINLAKE_SERVER_ID=6498
export FINLAKE_FLIGHT_PASSWORD=bench-flight-password

VENV=$CACHE/venv-bench
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import duckdb, deltalake, pyarrow' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet duckdb==1.4.2 deltalake==1.2.1 pyarrow==26.0.1
fi

"$BIN" db start --db-buffer-pool 4G --db-redo-log 2G >/dev/null
SOCK=$(sed -n 's/^socket=//p' "$STATE/mysql/my.cnf")
want=$(python3 -c "print(round(13305915*$SCALE))")
have=$(mariadb --socket="$SOCK" -uroot finance -N -e "SELECT COUNT(*) FROM transactions")
if (( have < want * 95 / 100 || have > want * 105 / 100 )); then
  echo "generating scale $SCALE ($want transactions; the server has $have)"
  "$BIN" datagen --scale "$SCALE" --seed 42 --replace >/dev/null
  rm -rf "$LAKE"
fi
echo "== lake: $("$BIN" ingest --until-caught-up)"
"$BIN" maintain --reflections --no-vacuum | grep -E '^reflection|transactions '

OUT=$(mktemp -d "${TMPDIR:-/tmp}/finlake-flight-bench.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT
"$BIN" serve --no-ingest --flight-cache-bytes 0 --flight-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 \
  >"$OUT/serve.out" 2>"$OUT/serve.err" &
for _ in $(seq 600); do
  grep -q '^flight sql listening on' "$OUT/serve.out" && break
  kill -0 $! 2>/dev/null || { cat "$OUT/serve.err"; exit 1; }
  sleep 0.1
done
ADDR=$(sed -n 's/^flight sql listening on //p' "$OUT/serve.out")
echo "== finlake over Flight SQL ($ADDR; result cache off)"
FLIGHT_ADDR=$ADDR BENCH_ITERS=$ITERS cargo bench --locked --bench flight 2>/dev/null | grep -E '^(small|scan|dashboard)'
kill -TERM %1; wait %1 || true
echo "== DuckDB over the same Delta tables (in process)"
"$VENV/bin/python" benches/duckdb_baseline.py "$LAKE" "$ITERS"
