#!/usr/bin/env bash
# Installs what the Spark job (infra/spark/finlake_spark.py) needs, pinned and cached under
# ~/.cache/finlake/spark (FINLAKE_SPARK_HOME moves it); idempotent, `make test` runs it:
#   venv/   python venv with pyspark, delta-spark and pymysql at the pins below (an existing
#           venv is reused when its pins match, else rebuilt)
#   jars/   the Kafka source, Delta and S3A jars of infra/spark/pom.xml (Maven, through
#           ~/.cache/finlake/m2), less those pyspark already ships in pyspark/jars
# Needs python3 >= 3.10, Java 17 and Maven (both installed with apt-get when missing).
set -euo pipefail

PYSPARK_VERSION=4.2.0
DELTA_SPARK_VERSION=4.4.1
PYMYSQL_VERSION=1.1.1
HADOOP_VERSION=3.5.0   # must equal the Hadoop in pyspark/jars (checked below) and the pom's

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${FINLAKE_CACHE:-$HOME/.cache/finlake}"
HOME_DIR="${FINLAKE_SPARK_HOME:-$CACHE/spark}"
VENV="$HOME_DIR/venv"
JARS="$HOME_DIR/jars"
M2="$CACHE/m2"
PYTHON="${PYTHON:-python3}"
log() { echo "spark-install: $*" >&2; }

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  log "installing $2 with apt-get"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2") >/dev/null
}
need java openjdk-17-jre-headless
need mvn maven

mkdir -p "$HOME_DIR"
pins="pyspark==$PYSPARK_VERSION delta-spark==$DELTA_SPARK_VERSION pymysql==$PYMYSQL_VERSION"
stamp="$VENV/.finlake-pins"
venv_ok() {
  [ -x "$VENV/bin/python" ] || return 1
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pins" ] && return 0
  # A venv made by hand: adopt it when the pins are what it has.
  local have
  have="$("$VENV/bin/python" -m pip list --format=freeze 2>/dev/null | tr 'A-Z_' 'a-z-')" || return 1
  for p in $pins; do
    grep -qx "$(echo "$p" | tr 'A-Z_' 'a-z-')" <<<"$have" || return 1
  done
  echo "$pins" >"$stamp"
}
if ! venv_ok; then
  if [ -x "$VENV/bin/python" ]; then
    log "venv at $VENV lacks the pins: installing them ($pins)"
  else
    log "creating $VENV ($pins)"
    "$PYTHON" -m venv "$VENV"
  fi
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check $pins >"$HOME_DIR/pip.log" 2>&1 \
    || { cat "$HOME_DIR/pip.log" >&2; exit 1; }
  echo "$pins" >"$stamp"
fi

PYSPARK_JARS="$("$VENV/bin/python" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')"
if [ ! -f "$PYSPARK_JARS/hadoop-client-api-$HADOOP_VERSION.jar" ]; then
  log "pyspark's Hadoop is not $HADOOP_VERSION: $(ls "$PYSPARK_JARS" | grep hadoop-client-api)"
  exit 1
fi

jstamp="$JARS/.finlake-pom-$(sha256sum "$HERE/pom.xml" | cut -c1-16)"
if [ ! -f "$jstamp" ]; then
  log "fetching jars of $HERE/pom.xml"
  stage="$HOME_DIR/jars.stage"
  rm -rf "$stage"
  mvn -B -q -Dmaven.repo.local="$M2" -f "$HERE/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$stage" >"$HOME_DIR/mvn.log" 2>&1 \
    || { cat "$HOME_DIR/mvn.log" >&2; exit 1; }
  # Keep only what pyspark does not ship (Spark, Hadoop client, Scala, Jackson, Parquet,
  # logging come from pyspark/jars at its own versions).
  base() { sed -E 's/-[0-9][^/]*\.jar$//'; }
  shipped="$(ls "$PYSPARK_JARS" | base | sort -u)"
  rm -rf "$JARS.new" && mkdir -p "$JARS.new"
  for j in "$stage"/*.jar; do
    name="$(basename "$j" | base)"
    grep -qx "$name" <<<"$shipped" || cp "$j" "$JARS.new/"
  done
  rm -rf "$JARS" "$stage" && mv "$JARS.new" "$JARS"
  touch "$jstamp"
fi
log "ready: $VENV ($pins), $(ls "$JARS"/*.jar | wc -l) jars in $JARS"
