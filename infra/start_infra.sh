#!/usr/bin/env bash
# Brings up finlake's Docker Compose deployment (infra/docker-compose.yml), waits until every
# long-running service is healthy and every init job has finished, then prints the URLs and
# runs the spec's checks (finlake serve /health, the Debezium connector's state).
#
#   bash infra/start_infra.sh [--full] [--env-file FILE] [--timeout SECONDS]
#   bash infra/start_infra.sh --down [--full]      # stop (volumes are kept)
#
#   --full       also Kafka UI, the Spark job, Dremio, Superset and Airflow (profile `full`);
#                without it the core profile (fits a 16 GB laptop)
#   --env-file   the passwords (default infra/.env, copied from infra/compose.env.example)
#   --timeout    how long to wait for health (default 900 s)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
COMPOSE_FILE=$HERE/docker-compose.yml
ENV_FILE=$HERE/.env
PROFILE=()
TIMEOUT=900
DOWN=0

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
fail() {
  echo "start_infra: $*" >&2
  exit 1
}

while (($#)); do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --full) PROFILE=(--profile full) ;;
    --down) DOWN=1 ;;
    --env-file) ENV_FILE=${2:?--env-file needs a file}; shift ;;
    --timeout) TIMEOUT=${2:?--timeout needs seconds}; shift ;;
    *) usage >&2; fail "unknown argument: $1" ;;
  esac
  shift
done

command -v docker >/dev/null 2>&1 || fail "docker is not installed (this deployment needs a Docker engine with Compose v2; without one, use infra/local/stack.sh)"
docker compose version >/dev/null 2>&1 || fail "'docker compose' (Compose v2) is not available"
docker info >/dev/null 2>&1 || fail "the Docker engine does not answer (is it running, may this user use it?)"
[[ -f $ENV_FILE ]] || fail "$ENV_FILE is missing: cp infra/compose.env.example infra/.env and fill it in"
required=(MYSQL_ROOT_PASSWORD FINLAKE_CDC_PASSWORD MINIO_ROOT_PASSWORD FINLAKE_MASK_KEY FINLAKE_FLIGHT_PASSWORD)
((${#PROFILE[@]})) && required+=(SUPERSET_SECRET_KEY SUPERSET_ADMIN_PASSWORD DREMIO_PASSWORD)
for v in "${required[@]}"; do
  grep -Eq "^$v=.+" "$ENV_FILE" || fail "$v is empty in $ENV_FILE"
done

dc() { docker compose -f "$COMPOSE_FILE" --env-file "$ENV_FILE" "${PROFILE[@]}" "$@"; }

if ((DOWN)); then
  dc down
  exit 0
fi

echo "start_infra: building and starting (${PROFILE[*]:-core profile})"
dc up -d --build

echo "start_infra: waiting for health (up to ${TIMEOUT} s)"
deadline=$((SECONDS + TIMEOUT))
while :; do
  pending=()
  failed=()
  while read -r service state health code; do
    [[ -z $service ]] && continue
    case $service in
      *-init)
        if [[ $state == exited && $code == 0 ]]; then :; elif [[ $state == exited ]]; then failed+=("$service (exit $code)"); else pending+=("$service"); fi ;;
      *)
        if [[ $health == healthy ]]; then :; elif [[ $state == exited || $health == unhealthy ]]; then
          pending+=("$service ($state${health:+ $health})")
        else pending+=("$service"); fi ;;
    esac
  done < <(dc ps -a --format '{{.Service}} {{.State}} {{.Health}} {{.ExitCode}}')
  ((${#failed[@]} == 0)) || fail "init job failed: ${failed[*]}; see: docker compose -f $COMPOSE_FILE logs ${failed[0]%% *}"
  ((${#pending[@]} == 0)) && break
  ((SECONDS < deadline)) || fail "not healthy after ${TIMEOUT} s: ${pending[*]}"
  sleep 5
done

# The spec's checks.
health=$(curl -fsS http://127.0.0.1:50052/health) || fail "finlake serve /health does not answer 200"
connector=$(curl -fsS http://127.0.0.1:8083/connectors/finance-mysql/status) || fail "the connector finance-mysql is not registered"
grep -q '"state":"RUNNING"' <<<"$connector" || fail "connector finance-mysql is not RUNNING: $connector"

cat <<EOF
start_infra: every service is healthy
  finlake serve      Flight SQL grpc://127.0.0.1:50051 (user finlake, FINLAKE_FLIGHT_PASSWORD)
                     health http://127.0.0.1:50052/health -> $health
  dashboard          http://127.0.0.1:8501
  MinIO console      http://127.0.0.1:9001 (MINIO_ROOT_USER / MINIO_ROOT_PASSWORD)
  Kafka Connect      http://127.0.0.1:8083/connectors/finance-mysql/status (RUNNING)
  MySQL              127.0.0.1:3306 (database finance)
EOF
if ((${#PROFILE[@]})); then
  cat <<EOF
  Kafka UI           http://127.0.0.1:8081
  Superset           http://127.0.0.1:8088 (admin / SUPERSET_ADMIN_PASSWORD): dashboards
                     "finlake: real-time operations" and "finlake: fraud"
  Airflow            http://127.0.0.1:8080 (admin; password: docker compose exec airflow cat
                     /opt/airflow/simple_auth_manager_passwords.json.generated)
  Dremio             http://127.0.0.1:9047 (DREMIO_USER / DREMIO_PASSWORD), Flight 32010
EOF
fi
