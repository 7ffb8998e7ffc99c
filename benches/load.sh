#!/usr/bin/env bash
# Scale-1.0 bulk-load benchmark: `finlake datagen --scale 1.0` into a private MariaDB,
# three runs, median reported. Baseline in the same run: the stock `mariadb` client loading
# the very same rows (dumped from the server after our run) with LOAD DATA LOCAL INFILE,
# the fastest way the server offers to ingest them.
#
# Usage: bash benches/load.sh [SCALE] [RUNS]     (defaults 1.0 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-1.0}
RUNS=${2:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/finlake/target}
PROFILE=${BENCH_PROFILE:-release}
# With the benches: the feature set the other bench scripts build (one cached build).
cargo build --locked --profile "$PROFILE" --bin finlake --benches
BIN=$CARGO_TARGET_DIR/$PROFILE/finlake
STATE=${BENCH_STATE_DIR:-$HOME/.cache/finlake/bench-state}
export FINLAKE_STATE_DIR=$STATE FINLAKE_NO_PROGRESS=1 FINLAKE_LOG=warn
"$BIN" db start --db-buffer-pool 4G --db-redo-log 2G >/dev/null
SOCK=$(sed -n 's/^socket=//p' "$STATE/mysql/my.cnf")
sql() { mariadb --socket="$SOCK" -uroot --local-infile=1 finance "$@"; }

rates=()
for i in $(seq "$RUNS"); do
  out=$("$BIN" datagen --scale "$SCALE" --seed 42 --replace)
  rate=$(sed -n 's/.*(\([0-9]*\) rows\/s).*/\1/p' <<<"$out")
  rows=$(sed -n 's/^loaded \([0-9]*\) rows.*/\1/p' <<<"$out")
  echo "finlake datagen run $i: $rows rows, $rate rows/s"
  rates+=("$rate")
done

# Baseline: dump the loaded rows to TSV, empty the tables, load them with the stock client.
DUMP=$(mktemp -d "${TMPDIR:-/tmp}/finlake-bench.XXXXXX")
chmod 777 "$DUMP"
trap 'rm -rf "$DUMP"' EXIT
for t in users cards mcc_codes transactions fraud_labels; do
  sql -e "SELECT * FROM $t INTO OUTFILE '$DUMP/$t.tsv'"
done
base=()
for i in $(seq "$RUNS"); do
  sql -e "SET foreign_key_checks=0; TRUNCATE fraud_labels; TRUNCATE transactions; TRUNCATE mcc_codes; TRUNCATE cards; TRUNCATE users;"
  start=$(date +%s.%N)
  sql -e "SET SESSION foreign_key_checks=0, unique_checks=0; START TRANSACTION;
    LOAD DATA LOCAL INFILE '$DUMP/users.tsv' INTO TABLE users;
    LOAD DATA LOCAL INFILE '$DUMP/cards.tsv' INTO TABLE cards;
    LOAD DATA LOCAL INFILE '$DUMP/mcc_codes.tsv' INTO TABLE mcc_codes;
    LOAD DATA LOCAL INFILE '$DUMP/transactions.tsv' INTO TABLE transactions;
    LOAD DATA LOCAL INFILE '$DUMP/fraud_labels.tsv' INTO TABLE fraud_labels; COMMIT;"
  end=$(date +%s.%N)
  total=$(cat "$DUMP"/*.tsv | wc -l)
  r=$(python3 -c "print(int($total/($end-$start)))")
  echo "baseline mariadb LOAD DATA run $i: $total rows, $r rows/s"
  base+=("$r")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "median finlake datagen: $(median "${rates[@]}") rows/s; median baseline: $(median "${base[@]}") rows/s"
# Leave the generated data in place, loaded by finlake.
"$BIN" datagen --scale "$SCALE" --seed 42 --replace >/dev/null
