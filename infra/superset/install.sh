#!/usr/bin/env bash
# Installs Apache Superset 6.1.0 with finlake's Flight SQL dialect (flightsql-dbapi 0.2.2,
# SQLAlchemy < 2) into its own virtualenv, pinned by infra/superset/constraints.txt and cached
# under ~/.cache/finlake/venv-superset (FINLAKE_SUPERSET_VENV moves it). Idempotent: a second
# run with the same pins does nothing. Besides the two packages: rich (Superset 6.1.0's CLI
# imports it) and cachetools (the dashboard importer imports it), which its wheel does not
# declare; the constraints hold Flask-Caching at 2.3.1 (2.5 breaks Superset's metastore cache).
#
#   bash infra/superset/install.sh [--help]
set -euo pipefail

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

HERE=$(cd "$(dirname "$0")" && pwd)
VENV=${FINLAKE_SUPERSET_VENV:-$HOME/.cache/finlake/venv-superset}
PINS=(apache-superset==6.1.0 flightsql-dbapi==0.2.2 rich==15.0.0 cachetools==6.2.1)

fail() {
  echo "superset-install: $*" >&2
  exit 1
}

python3 -c 'import venv, ensurepip' 2>/dev/null || fail "python3-venv is missing (apt-get install python3-venv)"
stamp=$(printf '%s\n' "${PINS[@]}"; sha256sum "$HERE/constraints.txt" | cut -d' ' -f1)
if [[ -x $VENV/bin/superset && $(cat "$VENV/.pins" 2>/dev/null) == "$stamp" ]]; then
  echo "superset-install: ok ($VENV, up to date)"
  exit 0
fi
start=$(date +%s)
echo "superset-install: creating $VENV (${PINS[*]})"
rm -rf "$VENV"
python3 -m venv "$VENV" || fail "python3 -m venv failed"
"$VENV/bin/pip" install -q --disable-pip-version-check "${PINS[@]}" -c "$HERE/constraints.txt" \
  || fail "pip install ${PINS[*]} failed"
"$VENV/bin/python" -c 'import superset, flightsql.sqlalchemy, sqlalchemy; assert sqlalchemy.__version__ < "2"' \
  || fail "superset or the Flight SQL dialect does not import in $VENV"
echo "$stamp" >"$VENV/.pins"
echo "superset-install: ok ($VENV, $(($(date +%s) - start)) s)"
