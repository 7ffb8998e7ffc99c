#!/usr/bin/env bash
# Installs what the dashboard and its tests need, pinned and idempotent:
#   ~/.cache/finlake/venv-dashboard   the pins of infra/streamlit/requirements.txt (Streamlit,
#                                     ADBC Flight SQL, pyarrow, pandas, pytest, selenium, PyMySQL)
#   chromium, chromium-driver         Debian's packages, for the browser tests (apt-get, as root)
# A second run with the same pins does nothing. FINLAKE_DASHBOARD_VENV moves the venv;
# FINLAKE_DASHBOARD_NO_BROWSER=1 skips the browser packages (running the dashboard needs none).
set -euo pipefail
case ${1:-} in -h | --help)
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
  ;;
esac

HERE=$(cd "$(dirname "$0")" && pwd)
VENV=${FINLAKE_DASHBOARD_VENV:-$HOME/.cache/finlake/venv-dashboard}
REQ=$HERE/requirements.txt

fail() {
  echo "dashboard install: $*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

need=()
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [[ ${FINLAKE_DASHBOARD_NO_BROWSER:-0} != 1 ]]; then
  have chromium || need+=(chromium)
  have chromedriver || need+=(chromium-driver)
fi
if ((${#need[@]})); then
  if [[ $(id -u) -eq 0 ]]; then SUDO=(); elif have sudo && sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    fail "missing ${need[*]}; install them: sudo apt-get install -y ${need[*]}"
  fi
  echo "dashboard install: apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || fail "apt-get install ${need[*]} failed"
fi

stamp=$(grep -v '^#' "$REQ")
if [[ ! -x $VENV/bin/python || $(cat "$VENV/.pins" 2>/dev/null) != "$stamp" ]]; then
  echo "dashboard install: creating $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV" || fail "python3 -m venv failed"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ" || fail "pip install -r $REQ failed"
  echo "$stamp" >"$VENV/.pins"
fi
"$VENV/bin/python" -c 'import streamlit, adbc_driver_flightsql.dbapi, selenium, pymysql, pytest' \
  || fail "the packages in $VENV do not import; delete it and run again"
echo "dashboard install: ok ($VENV: $(echo $stamp | tr '\n' ' '))"
