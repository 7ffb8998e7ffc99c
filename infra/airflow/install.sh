#!/usr/bin/env bash
# Installs Apache Airflow 3.3.2 (with the standard provider) and what finlake's DAGs use (the
# ADBC Flight SQL driver, pyarrow, deltalake) into its own virtualenv, pinned by
# infra/airflow/constraints.txt (Airflow's published constraint files are not reachable from
# the package registry, so this is the set that resolved here) and cached under
# ~/.cache/finlake/venv-airflow (FINLAKE_AIRFLOW_VENV moves it). Idempotent: a second run with
# the same pins does nothing.
#
#   bash infra/airflow/install.sh [--help]
set -euo pipefail

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

HERE=$(cd "$(dirname "$0")" && pwd)
VENV=${FINLAKE_AIRFLOW_VENV:-$HOME/.cache/finlake/venv-airflow}
PINS=(apache-airflow==3.3.2 apache-airflow-providers-standard==1.21.0 adbc-driver-manager==1.13.0
  adbc-driver-flightsql==1.13.0 pyarrow==26.0.1 deltalake==1.6.6)

fail() {
  echo "airflow-install: $*" >&2
  exit 1
}

python3 -c 'import venv, ensurepip' 2>/dev/null || fail "python3-venv is missing (apt-get install python3-venv)"
stamp=$(printf '%s\n' "${PINS[@]}"; sha256sum "$HERE/constraints.txt" | cut -d' ' -f1)
if [[ -x $VENV/bin/airflow && $(cat "$VENV/.pins" 2>/dev/null) == "$stamp" ]]; then
  echo "airflow-install: ok ($VENV, up to date)"
  exit 0
fi
start=$(date +%s)
echo "airflow-install: creating $VENV (${PINS[*]})"
rm -rf "$VENV"
python3 -m venv "$VENV" || fail "python3 -m venv failed"
"$VENV/bin/pip" install -q --disable-pip-version-check "${PINS[@]}" -c "$HERE/constraints.txt" \
  || fail "pip install ${PINS[*]} failed"
"$VENV/bin/python" -c 'import airflow.sdk, airflow.providers.standard, adbc_driver_flightsql.dbapi, deltalake' \
  || fail "Airflow or the DAGs' packages do not import in $VENV"
echo "$stamp" >"$VENV/.pins"
echo "airflow-install: ok ($VENV, $(($(date +%s) - start)) s)"
