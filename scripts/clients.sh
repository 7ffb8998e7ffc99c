#!/usr/bin/env bash
# Installs the Flight SQL clients the integration tests drive, pinned and cached under
# ~/.cache/finlake (override with FINLAKE_CLIENTS_DIR). Idempotent: a second run with the same
# pins does nothing. Run by `make test` before `cargo test`; safe to run by hand.
#
#   tools/bin/flight_sql_client        arrow-rs' CLI (arrow-flight, the version in Cargo.lock)
#   venv-clients/                      Python: adbc-driver-flightsql (DB-API), flightsql-dbapi
#                                      (Superset's `datafusion+flightsql://` dialect, SQLAlchemy<2)
#   jars/flight-sql-jdbc-driver-*.jar  the Arrow Flight SQL JDBC driver (with javac, Java 17)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${FINLAKE_CLIENTS_DIR:-$HOME/.cache/finlake}

# Pins.
ARROW_FLIGHT_VERSION=$(awk '/^name = "arrow-flight"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$ROOT/Cargo.lock")
JDBC_VERSION=18.3.0
PY_PINS=(
  adbc-driver-manager==1.13.0
  adbc-driver-flightsql==1.13.0
  flightsql-dbapi==0.2.2
  sqlalchemy==1.4.54
  pyarrow==26.0.1
  protobuf==7.36.2
  pandas==2.3.3
)

fail() {
  echo "clients: $*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
  local pkgs=("$@")
  if [[ $(id -u) -eq 0 ]]; then SUDO=(); elif have sudo && sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    fail "missing ${pkgs[*]}; install them: sudo apt-get install -y ${pkgs[*]}"
  fi
  echo "clients: installing ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
}

need=()
have javac || need+=(openjdk-17-jdk-headless)
have mvn || need+=(maven)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
((${#need[@]} == 0)) || apt_install "${need[@]}"

# 1. arrow-rs flight_sql_client.
[[ -n $ARROW_FLIGHT_VERSION ]] || fail "arrow-flight not found in Cargo.lock"
tools=$CACHE/tools
if [[ ! -x $tools/bin/flight_sql_client || $(cat "$tools/.arrow-flight-version" 2>/dev/null) != "$ARROW_FLIGHT_VERSION" ]]; then
  echo "clients: building flight_sql_client $ARROW_FLIGHT_VERSION (a few minutes, once)"
  cargo install arrow-flight --version "$ARROW_FLIGHT_VERSION" --locked \
    --features cli,flight-sql,tls-ring --root "$tools" -j 2 --quiet \
    || fail "cargo install arrow-flight $ARROW_FLIGHT_VERSION failed"
  echo "$ARROW_FLIGHT_VERSION" >"$tools/.arrow-flight-version"
fi

# 2. Python clients in their own virtualenv.
venv=$CACHE/venv-clients
stamp=$(printf '%s\n' "${PY_PINS[@]}")
if [[ ! -x $venv/bin/python || $(cat "$venv/.pins" 2>/dev/null) != "$stamp" ]]; then
  echo "clients: creating $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" || fail "python3 -m venv failed"
  "$venv/bin/pip" install -q --disable-pip-version-check "${PY_PINS[@]}" || fail "pip install failed"
  echo "$stamp" >"$venv/.pins"
fi
"$venv/bin/python" -c 'import adbc_driver_flightsql.dbapi, flightsql.sqlalchemy, sqlalchemy' \
  || fail "the Python clients in $venv do not import; delete it and run again"

# 3. The JDBC driver (one shaded jar) and a Java compiler for the test program.
jars=$CACHE/jars
jar=$jars/flight-sql-jdbc-driver-$JDBC_VERSION.jar
if [[ ! -s $jar ]]; then
  echo "clients: fetching flight-sql-jdbc-driver $JDBC_VERSION"
  mkdir -p "$jars"
  mvn -q -B dependency:copy -Dartifact="org.apache.arrow:flight-sql-jdbc-driver:$JDBC_VERSION" \
    -DoutputDirectory="$jars" -Dmaven.repo.local="$CACHE/m2" \
    || fail "mvn dependency:copy of org.apache.arrow:flight-sql-jdbc-driver:$JDBC_VERSION failed"
fi
javac -version >/dev/null 2>&1 || fail "javac does not run"

echo "clients: ok (flight_sql_client $ARROW_FLIGHT_VERSION, JDBC $JDBC_VERSION, ${PY_PINS[*]})"
