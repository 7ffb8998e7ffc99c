#!/usr/bin/env bash
# The operations tests' runner: pytest, selenium, requests and the ADBC Flight SQL driver in
# their own virtualenv (~/.cache/finlake/venv-ops, pinned, idempotent), plus Debian's
# chromium and chromium-driver for the screenshots. Superset and Airflow have venvs of their
# own (infra/superset/install.sh, infra/airflow/install.sh).
#
#   bash tests/ops/install.sh [--help]
set -euo pipefail
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
VENV=${FINLAKE_OPS_VENV:-$HOME/.cache/finlake/venv-ops}
PINS=(
  pytest==9.2.0
  selenium==4.51.0
  requests==2.34.2
  pyyaml==6.0.4
  adbc-driver-manager==1.13.0
  adbc-driver-flightsql==1.13.0
  pyarrow==26.0.1
)
fail() {
  echo "ops-install: $*" >&2
  exit 1
}
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if ((${#need[@]})); then
  if [[ $(id -u) -eq 0 ]]; then SUDO=(); elif sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    fail "missing ${need[*]}; install them: sudo apt-get install -y ${need[*]}"
  fi
  echo "ops-install: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
stamp=$(printf '%s\n' "${PINS[@]}")
if [[ ! -x $VENV/bin/pytest || $(cat "$VENV/.pins" 2>/dev/null) != "$stamp" ]]; then
  echo "ops-install: creating $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || fail "python3 -m venv failed"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${PINS[@]}" || fail "pip install failed"
  echo "$stamp" >"$VENV/.pins"
fi
"$VENV/bin/python" -c 'import pytest, selenium, requests, yaml, adbc_driver_flightsql.dbapi' \
  || fail "the test runner's packages do not import in $VENV; delete it and run again"
echo "ops-install: ok ($VENV)"
