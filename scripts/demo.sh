#!/usr/bin/env bash
# `make demo`: a private MariaDB, synthetic data, the CDC loop and a live workload, and the
# lake following the source. Variables: FINLAKE (binary), SCALE, RATE, DURATION.
set -euo pipefail
FINLAKE=${FINLAKE:?path to the finlake binary}
SCALE=${SCALE:-0.01} RATE=${RATE:-200} DURATION=${DURATION:-30s}
# The demo's lake masks card numbers with a key of its own (set FINLAKE_MASK_KEY to choose).
export FINLAKE_MASK_KEY=${FINLAKE_MASK_KEY:-demo-only-mask-key-$(hostname)-finlake}

step() { printf '\n== %s\n' "$*"; }
step "finlake db start"
"$FINLAKE" db start
step "finlake datagen --scale $SCALE --replace"
"$FINLAKE" datagen --scale "$SCALE" --replace
step "finlake ingest --until-caught-up   (snapshot into ./lakehouse/bronze)"
"$FINLAKE" ingest --until-caught-up
step "finlake ingest (continuous) + finlake simulate --rate $RATE --duration $DURATION"
"$FINLAKE" ingest --status-interval 2s &
ingest=$!
trap 'kill $ingest 2>/dev/null || true' EXIT
"$FINLAKE" simulate --rate "$RATE" --duration "$DURATION" --label-delay 10s &
sim=$!
while kill -0 $sim 2>/dev/null; do
  sleep 5
  kill -0 $sim 2>/dev/null && "$FINLAKE" status || true
done
wait $sim
step "finlake ingest: stop (SIGTERM), catch up, verify"
kill -TERM $ingest; wait $ingest || true
trap - EXIT
"$FINLAKE" ingest --until-caught-up
"$FINLAKE" status
"$FINLAKE" verify
