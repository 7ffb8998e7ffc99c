#!/usr/bin/env bash
# `make demo`: the product tour. A private MariaDB, synthetic data (generated once, reused on
# later runs), `finlake serve` (the CDC loop, reflections, fraud features and Flight SQL), a
# live workload (`finlake simulate`) and the dashboard, left running until Ctrl-C (or SIGTERM),
# which stops everything. With DEMO_FOR=60s it stops by itself after that long, lets the lake
# catch up with the source and runs `finlake verify` (exit 1 when the lake differs).
#
# Variables: FINLAKE (the binary), SCALE (0.01), RATE (200 operations/s), DEMO_FOR (empty: until
# stopped), FINLAKE_STATE_DIR (.finlake; logs go to $FINLAKE_STATE_DIR/demo/), FINLAKE_LAKE_URI
# (./lakehouse), FLIGHT_ADDR (127.0.0.1:50051), HTTP_ADDR (127.0.0.1:50052), DASHBOARD_PORT
# (8501; a busy port moves to a free one), FINLAKE_FLIGHT_PASSWORD (default: a password made
# once per state directory, kept in $FINLAKE_STATE_DIR/demo/flight-password), FINLAKE_MASK_KEY.
set -euo pipefail
case ${1:-} in -h | --help)
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
  ;;
esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FINLAKE=${FINLAKE:-${FINLAKE_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/finlake/target}/debug/finlake}}
[[ -x $FINLAKE ]] || {
  echo "demo: no finlake binary at $FINLAKE (run \`make demo\`, or set FINLAKE)" >&2
  exit 2
}
SCALE=${SCALE:-0.01} RATE=${RATE:-200} DEMO_FOR=${DEMO_FOR:-}
export FINLAKE_STATE_DIR=${FINLAKE_STATE_DIR:-.finlake}
export FINLAKE_LAKE_URI=${FINLAKE_LAKE_URI:-./lakehouse}
# The demo's lake masks card numbers with a key of its own (set FINLAKE_MASK_KEY to choose).
export FINLAKE_MASK_KEY=${FINLAKE_MASK_KEY:-demo-only-mask-key-$(hostname)-finlake}
# A demo-looking key is refused elsewhere; this lake is a throwaway demo one.
export FINLAKE_DEMO=1
export FINLAKE_NO_PROGRESS=1
VENV=${FINLAKE_DASHBOARD_VENV:-$HOME/.cache/finlake/venv-dashboard}
LOGS=$FINLAKE_STATE_DIR/demo
mkdir -p "$LOGS"

seconds() { # 60s, 2m, 1h, 90 -> seconds
  local v=$1
  case $v in
    *ms) echo 1 ;; *s) echo "${v%s}" ;; *m) echo $((${v%m} * 60)) ;; *h) echo $((${v%h} * 3600)) ;;
    *[!0-9]* | '') echo "demo: DEMO_FOR=$v is not a duration like 60s, 5m or 1h" >&2; exit 2 ;;
    *) echo "$v" ;;
  esac
}
[[ -z $DEMO_FOR ]] || DEMO_SECS=$(seconds "$DEMO_FOR")
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
addr_or_free() { # ADDR: itself when its port is free, else the same host on port 0 (any free port)
  local host=${1%:*} port=${1##*:}
  if [[ $port == 0 ]] || port_free "$port"; then echo "$1"; else echo "$host:0"; fi
}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }

PIDS=()
SERVE_PID=
stop_all() {
  local sig=${1:-TERM}
  for pid in "${PIDS[@]}"; do kill -"$sig" "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
stop_serve() {
  if [[ -n $SERVE_PID ]]; then
    kill -TERM "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
    SERVE_PID=
  fi
}
cleanup() {
  trap '' INT TERM
  step "stopping: dashboard, workload, finlake serve, MariaDB"
  stop_all TERM
  stop_serve
  "$FINLAKE" db stop >/dev/null 2>&1 || true
  say "stopped; logs in $LOGS/. Run again to resume: the data and the lake are kept."
}
interrupted() {
  cleanup
  trap - EXIT
  exit 130
}
trap interrupted INT TERM
trap cleanup EXIT

step "dashboard venv (pinned, cached under ~/.cache/finlake)"
FINLAKE_DASHBOARD_NO_BROWSER=1 bash "$ROOT/infra/streamlit/install.sh"

step "finlake db start   (private MariaDB under $FINLAKE_STATE_DIR)"
"$FINLAKE" db start | sed 's/^/   /'

# awk reads to the end: exiting early would break the pipe under `db status` (pipefail).
rows=$("$FINLAKE" db status 2>/dev/null | awk '$1 == "transactions" && !seen { print $2; seen = 1 }')
resnapshot=()
if [[ ${rows:-0} =~ ^[0-9]+$ && ${rows:-0} -gt 0 ]]; then
  step "data: the source already holds $rows transactions (reused; delete $FINLAKE_STATE_DIR for new data)"
else
  step "finlake datagen --scale $SCALE --replace"
  "$FINLAKE" datagen --scale "$SCALE" --replace 2>&1 | tail -n 3 | sed 's/^/   /'
  # A lake left from other data would not match the new source: rebuild it from a snapshot.
  [[ ! -d $FINLAKE_LAKE_URI/bronze ]] || resnapshot=(--resnapshot)
fi

PWFILE=$LOGS/flight-password
if [[ -z ${FINLAKE_FLIGHT_PASSWORD:-} ]]; then
  [[ -s $PWFILE ]] || (umask 077 && openssl rand -hex 12 >"$PWFILE")
  FINLAKE_FLIGHT_PASSWORD=$(cat "$PWFILE")
fi
export FINLAKE_FLIGHT_PASSWORD FINLAKE_FLIGHT_USER=${FINLAKE_FLIGHT_USER:-finlake}

step "finlake serve   (CDC loop + reflections + fraud features + Flight SQL; log: $LOGS/serve.log)"
FLIGHT_ADDR=$(addr_or_free "${FLIGHT_ADDR:-127.0.0.1:50051}")
HTTP_ADDR=$(addr_or_free "${HTTP_ADDR:-127.0.0.1:50052}")
"$FINLAKE" serve --flight-addr "$FLIGHT_ADDR" --http-addr "$HTTP_ADDR" --status-interval 2s "${resnapshot[@]}" \
  >"$LOGS/serve.log" 2>&1 &
SERVE_PID=$!
flight= http=
for _ in $(seq 1 600); do
  kill -0 "$SERVE_PID" 2>/dev/null || {
    echo "demo: finlake serve exited; the end of $LOGS/serve.log:" >&2
    tail -n 20 "$LOGS/serve.log" >&2
    exit 1
  }
  flight=$(sed -n '/^flight sql listening on /{s///p;q}' "$LOGS/serve.log")
  http=$(sed -n '/^http listening on /{s///p;q}' "$LOGS/serve.log")
  if [[ -n $http ]] && curl -fsS -m 2 "http://$http/health" >/dev/null 2>&1; then break; fi
  sleep 0.5
done
[[ -n $flight && -n $http ]] || {
  echo "demo: finlake serve did not answer on /health; see $LOGS/serve.log" >&2
  exit 1
}
say "Flight SQL on $flight, health and metrics on http://$http"
export FINLAKE_FLIGHT_URI=grpc://$flight FINLAKE_HTTP_URL=http://$http

step "finlake simulate --rate $RATE --label-delay 10s   (the bank's applications; log: $LOGS/simulate.log)"
"$FINLAKE" simulate --rate "$RATE" --label-delay 10s >"$LOGS/simulate.log" 2>&1 &
SIM_PID=$!
PIDS+=("$SIM_PID")

step "dashboard   (Streamlit; log: $LOGS/dashboard.log)"
DASHBOARD_PORT=${DASHBOARD_PORT:-8501}
while ! port_free "$DASHBOARD_PORT"; do DASHBOARD_PORT=$((DASHBOARD_PORT + 1)); done
(cd "$ROOT/infra/streamlit" && exec "$VENV/bin/streamlit" run app.py --server.port "$DASHBOARD_PORT" \
  --server.address 127.0.0.1 --server.headless true --browser.gatherUsageStats false) \
  >"$LOGS/dashboard.log" 2>&1 &
PIDS+=($!)
DASH_URL=http://127.0.0.1:$DASHBOARD_PORT
for _ in $(seq 1 120); do
  [[ $(curl -fsS -m 2 "$DASH_URL/_stcore/health" 2>/dev/null) == ok ]] && break
  sleep 0.5
done
[[ $(curl -fsS -m 2 "$DASH_URL/_stcore/health" 2>/dev/null) == ok ]] || {
  echo "demo: the dashboard did not start; see $LOGS/dashboard.log" >&2
  exit 1
}

fhost=${flight%:*} fport=${flight##*:}
cat <<EOF

$(printf '\033[1m')finlake is running$(printf '\033[0m')
  Dashboard        $DASH_URL
  Flight SQL       $flight   user $FINLAKE_FLIGHT_USER   password $FINLAKE_FLIGHT_PASSWORD
  Health, metrics  http://$http/health   http://$http/metrics
  Logs             $LOGS/{serve,simulate,dashboard}.log

  flight_sql_client --host $fhost --port $fport --username $FINLAKE_FLIGHT_USER --password $FINLAKE_FLIGHT_PASSWORD \\
    statement-query "select count(*) from bronze.transactions"
  JDBC      jdbc:arrow-flight-sql://$flight/?useEncryption=false&user=$FINLAKE_FLIGHT_USER&password=$FINLAKE_FLIGHT_PASSWORD
  ADBC      adbc_driver_flightsql.dbapi.connect("grpc://$flight", db_kwargs={"username": "$FINLAKE_FLIGHT_USER", "password": "$FINLAKE_FLIGHT_PASSWORD"})
  Superset  datafusion+flightsql://$FINLAKE_FLIGHT_USER:$FINLAKE_FLIGHT_PASSWORD@$flight?insecure=true
  (flight_sql_client: \`bash scripts/clients.sh\` installs it under ~/.cache/finlake/tools/bin)

EOF
if [[ -n $DEMO_FOR ]]; then say "running for $DEMO_FOR, then verify"; else say "Ctrl-C stops everything"; fi

"$VENV/bin/python" "$ROOT/infra/streamlit/summary.py" --every 5 &
SUMMARY_PID=$!
PIDS+=("$SUMMARY_PID")

if [[ -z $DEMO_FOR ]]; then
  while kill -0 "$SERVE_PID" 2>/dev/null && kill -0 "$SIM_PID" 2>/dev/null; do sleep 1; done
  echo "demo: a component stopped by itself; the end of its log:" >&2
  tail -n 20 "$LOGS/serve.log" "$LOGS/simulate.log" >&2
  exit 1
fi

end=$((SECONDS + DEMO_SECS))
while ((SECONDS < end)); do
  kill -0 "$SERVE_PID" 2>/dev/null || {
    echo "demo: finlake serve exited early; see $LOGS/serve.log" >&2
    exit 1
  }
  sleep 1
done
step "$DEMO_FOR are up: stopping the workload, the dashboard and the server"
kill -TERM "$SIM_PID" 2>/dev/null || true
wait "$SIM_PID" 2>/dev/null || true
tail -n 3 "$LOGS/simulate.log" | sed 's/^/   /'
stop_all TERM
stop_serve
step "finlake ingest --until-caught-up, finlake verify"
"$FINLAKE" ingest --until-caught-up >"$LOGS/catch-up.log" 2>&1 || {
  echo "demo: the catch-up failed; see $LOGS/catch-up.log" >&2
  exit 1
}
set +e
"$FINLAKE" verify 2>&1 | sed 's/^/   /'
rc=${PIPESTATUS[0]}
set -e
if ((rc == 0)); then say "verify: the lake equals the source"; else say "verify: the lake differs from the source (exit $rc)"; fi
exit "$rc"
